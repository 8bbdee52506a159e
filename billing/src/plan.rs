//! The JSON plan format: a recurring fee, a minimum commitment and usage
//! charges in one of six charge models.
//!
//! Decimals travel as JSON strings (`"0.05"`), never as JSON numbers, so no
//! binary float ever touches a price. Every object refuses unknown fields.
//! [`Plan::parse`] deserialises and then [`Plan::validate`]s, reporting the
//! field at fault as a path (`charges[1].tiers[0].up_to`).

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_core::ValidationError;
use shiyun_core::billing::check_code;
use shiyun_core::money::Currency;

/// Serde helpers: a [`Decimal`] as a JSON string, strictly (numbers refused).
pub mod dec_str {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the decimal as a string, keeping its scale (`"0.50"`).
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    /// Reads a decimal from a JSON string, exactly.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(deserializer)?;
        shiyun_core::money::parse_decimal(&text)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a decimal string")))
    }
}

/// Serde helpers: an optional [`Decimal`] as a JSON string or `null`.
pub mod dec_str_opt {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `null` or the decimal as a string.
    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_str(&d.to_string()),
            None => serializer.serialize_none(),
        }
    }

    /// Reads `null` or a decimal string.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => shiyun_core::money::parse_decimal(&text)
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a decimal string"))),
        }
    }
}

/// How long one billing period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Seven days; calendar weeks start on Monday.
    Weekly,
    /// One month.
    Monthly,
    /// Three months; calendar quarters start in January, April, July, October.
    Quarterly,
    /// Twelve months.
    Yearly,
}

impl Interval {
    /// The JSON text.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Weekly => "weekly",
            Interval::Monthly => "monthly",
            Interval::Quarterly => "quarterly",
            Interval::Yearly => "yearly",
        }
    }

    /// Length in months (`None` for weekly).
    pub fn months(self) -> Option<u32> {
        match self {
            Interval::Weekly => None,
            Interval::Monthly => Some(1),
            Interval::Quarterly => Some(3),
            Interval::Yearly => Some(12),
        }
    }
}

/// Where period boundaries fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingTime {
    /// On calendar boundaries; the first period is partial.
    Calendar,
    /// On the subscription's anniversary (its start date plus whole intervals).
    Anniversary,
}

/// When the recurring fee is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayIn {
    /// At the start of the period it covers.
    Advance,
    /// At the end of the period it covers.
    Arrears,
}

/// One tier of a graduated or volume price, bounded in units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Inclusive upper bound in units; `null` for the last tier (which has no bound).
    #[serde(with = "dec_str_opt")]
    pub up_to: Option<Decimal>,
    /// Price of one unit in this tier.
    #[serde(with = "dec_str")]
    pub unit_price: Decimal,
    /// Charged once when usage reaches into this tier (see the charge model).
    #[serde(with = "dec_str", default)]
    pub flat_fee: Decimal,
}

/// One tier of a graduated percentage price, bounded in amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentTier {
    /// Inclusive upper bound in amount; `null` for the last tier.
    #[serde(with = "dec_str_opt")]
    pub up_to: Option<Decimal>,
    /// A percentage: `"2.9"` is 2.9 % of the slice of amount in this tier.
    #[serde(with = "dec_str")]
    pub rate: Decimal,
    /// Charged once when the amount reaches into this tier (the first tier's always).
    #[serde(with = "dec_str", default)]
    pub flat_fee: Decimal,
}

/// How a charge turns a meter's usage into an amount. The JSON tag is `model`.
///
/// Rating semantics are documented on [`crate::charge::rate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChargeModel {
    /// Quantity × unit price.
    Standard {
        /// Price of one unit.
        #[serde(with = "dec_str")]
        unit_price: Decimal,
    },
    /// Units fill the tiers in order, each at its tier's price.
    Graduated {
        /// Tiers by increasing `up_to`; the last has `up_to: null`.
        tiers: Vec<Tier>,
    },
    /// Every unit at the price of the tier the total falls in.
    Volume {
        /// Tiers by increasing `up_to`; the last has `up_to: null`.
        tiers: Vec<Tier>,
    },
    /// Whole packages of units; a started package is billed in full.
    Package {
        /// Units in one package (> 0).
        #[serde(with = "dec_str")]
        package_size: Decimal,
        /// Price of one package.
        #[serde(with = "dec_str")]
        package_price: Decimal,
        /// Units free before the first package.
        #[serde(with = "dec_str", default)]
        free_units: Decimal,
    },
    /// A percentage of each event's transaction amount, plus a fixed fee per event.
    Percentage {
        /// A PERCENTAGE, as Lago and Stripe write it: `"2.9"` is 2.9 %.
        #[serde(with = "dec_str")]
        rate: Decimal,
        /// Added to each charged event's fee.
        #[serde(with = "dec_str", default)]
        fixed_fee: Decimal,
        /// The first this-many events are free.
        #[serde(default)]
        free_events: u64,
        /// This much of the remaining events' amount is free.
        #[serde(with = "dec_str", default)]
        free_amount: Decimal,
        /// Smallest fee of one charged event.
        #[serde(with = "dec_str_opt", default)]
        min: Option<Decimal>,
        /// Largest fee of one charged event.
        #[serde(with = "dec_str_opt", default)]
        max: Option<Decimal>,
    },
    /// The summed amount fills amount tiers, each at its own percentage.
    GraduatedPercentage {
        /// Tiers by increasing `up_to`; the last has `up_to: null`.
        tiers: Vec<PercentTier>,
    },
}

impl ChargeModel {
    /// The JSON tag (`graduated_percentage`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ChargeModel::Standard { .. } => "standard",
            ChargeModel::Graduated { .. } => "graduated",
            ChargeModel::Volume { .. } => "volume",
            ChargeModel::Package { .. } => "package",
            ChargeModel::Percentage { .. } => "percentage",
            ChargeModel::GraduatedPercentage { .. } => "graduated_percentage",
        }
    }

    /// Checks prices and tiers; field paths are relative to the charge.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            ChargeModel::Standard { unit_price } => non_negative(*unit_price, "unit_price"),
            ChargeModel::Graduated { tiers } | ChargeModel::Volume { tiers } => {
                let bounds: Vec<_> = tiers.iter().map(|t| t.up_to).collect();
                check_bounds(&bounds)?;
                for (i, t) in tiers.iter().enumerate() {
                    let at = format!("tiers[{i}]");
                    non_negative(t.unit_price, "unit_price").map_err(|e| e.within(&at))?;
                    non_negative(t.flat_fee, "flat_fee").map_err(|e| e.within(&at))?;
                }
                Ok(())
            }
            ChargeModel::Package {
                package_size,
                package_price,
                free_units,
            } => {
                if *package_size <= Decimal::ZERO {
                    return Err(ValidationError::new("package_size", "must be above zero"));
                }
                non_negative(*package_price, "package_price")?;
                non_negative(*free_units, "free_units")
            }
            ChargeModel::Percentage {
                rate,
                fixed_fee,
                free_events: _,
                free_amount,
                min,
                max,
            } => {
                non_negative(*rate, "rate")?;
                non_negative(*fixed_fee, "fixed_fee")?;
                non_negative(*free_amount, "free_amount")?;
                if let Some(min) = min {
                    non_negative(*min, "min")?;
                }
                if let Some(max) = max {
                    non_negative(*max, "max")?;
                }
                if let (Some(min), Some(max)) = (min, max)
                    && min > max
                {
                    return Err(ValidationError::new("min", "must not exceed max"));
                }
                Ok(())
            }
            ChargeModel::GraduatedPercentage { tiers } => {
                let bounds: Vec<_> = tiers.iter().map(|t| t.up_to).collect();
                check_bounds(&bounds)?;
                for (i, t) in tiers.iter().enumerate() {
                    let at = format!("tiers[{i}]");
                    non_negative(t.rate, "rate").map_err(|e| e.within(&at))?;
                    non_negative(t.flat_fee, "flat_fee").map_err(|e| e.within(&at))?;
                }
                Ok(())
            }
        }
    }
}

fn non_negative(value: Decimal, field: &str) -> Result<(), ValidationError> {
    if value.is_sign_negative() && !value.is_zero() {
        Err(ValidationError::new(field, "must not be negative"))
    } else {
        Ok(())
    }
}

/// Tiers: at least one; bounds above zero and strictly increasing; only the
/// last is `null`, and it must be (usage above every bound must have a price).
fn check_bounds(bounds: &[Option<Decimal>]) -> Result<(), ValidationError> {
    if bounds.is_empty() {
        return Err(ValidationError::new("tiers", "must have at least one tier"));
    }
    let last = bounds.len() - 1;
    let mut previous = Decimal::ZERO;
    for (i, bound) in bounds.iter().enumerate() {
        let at = format!("tiers[{i}]");
        match bound {
            None if i != last => {
                return Err(
                    ValidationError::new("up_to", "only the last tier may be unbounded")
                        .within(&at),
                );
            }
            None => {}
            Some(_) if i == last => {
                return Err(ValidationError::new(
                    "up_to",
                    "the last tier must be unbounded (null)",
                )
                .within(&at));
            }
            Some(b) => {
                if *b <= previous {
                    return Err(ValidationError::new(
                        "up_to",
                        "must be above zero and above the previous tier's",
                    )
                    .within(&at));
                }
                previous = *b;
            }
        }
    }
    Ok(())
}

/// One usage charge: a meter and how its usage is priced.
///
/// In JSON the model's fields sit beside `meter` and `name`
/// (`{"meter":"api_calls","model":"standard","unit_price":"0.01"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    /// The meter's code.
    pub meter: String,
    /// Display name on the invoice line (the meter's code if absent).
    pub name: Option<String>,
    /// The price.
    #[serde(flatten)]
    pub model: ChargeModel,
    /// For a resold resource: the vendor's cost, so invoice lines show cost
    /// and margin beside the sale price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resale: Option<Resale>,
}

/// What a resold resource costs the platform, per unit of its meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resale {
    /// The vendor (`alibaba`).
    pub vendor: String,
    /// The listing's category (`compute`).
    pub category: String,
    /// The vendor's cost per unit, in the plan's currency (FX applied when ordered).
    #[serde(with = "dec_str")]
    pub unit_cost: Decimal,
}

// `deny_unknown_fields` does not combine with `flatten`, so the charge takes
// its own two fields out of the object and hands the rest to the model, whose
// variants refuse anything unknown.
impl<'de> Deserialize<'de> for Charge {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let meter = match object.remove("meter") {
            Some(serde_json::Value::String(m)) => m,
            Some(_) => return Err(D::Error::custom("`meter` must be a string")),
            None => return Err(D::Error::missing_field("meter")),
        };
        let name = match object.remove("name") {
            Some(serde_json::Value::String(n)) => Some(n),
            Some(serde_json::Value::Null) | None => None,
            Some(_) => return Err(D::Error::custom("`name` must be a string or null")),
        };
        let resale = match object.remove("resale") {
            Some(serde_json::Value::Null) | None => None,
            Some(value) => Some(
                Resale::deserialize(value).map_err(|e| D::Error::custom(format!("resale: {e}")))?,
            ),
        };
        let model = ChargeModel::deserialize(serde_json::Value::Object(object))
            .map_err(|e| D::Error::custom(e.to_string()))?;
        Ok(Charge {
            meter,
            name,
            model,
            resale,
        })
    }
}

/// A plan: what a subscription pays, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Its code, unique per issuer (`check_code` rules).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Currency of every price in it.
    pub currency: Currency,
    /// Period length.
    pub interval: Interval,
    /// Where periods start.
    pub billing_time: BillingTime,
    /// When the recurring fee is billed.
    pub pay_in: PayIn,
    /// The fee per full period, if any.
    #[serde(with = "dec_str_opt", default)]
    pub recurring_fee: Option<Decimal>,
    /// Smallest total of fee and usage per full period, if any.
    #[serde(with = "dec_str_opt", default)]
    pub minimum_commitment: Option<Decimal>,
    /// Usage charges, at most one per meter.
    #[serde(default)]
    pub charges: Vec<Charge>,
}

impl Plan {
    /// Parses the plan JSON and validates it. Errors in one charge carry its
    /// path (`charges[1]`); other JSON errors are reported on `plan`.
    pub fn parse(json: &str) -> Result<Plan, ValidationError> {
        // Charges are parsed one by one so a bad one is named by its index.
        let mut value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| ValidationError::new("plan", format!("not valid JSON: {e}")))?;
        let mut charges = Vec::new();
        if let Some(object) = value.as_object_mut()
            && let Some(serde_json::Value::Array(items)) = object.remove("charges")
        {
            for (i, item) in items.into_iter().enumerate() {
                let charge: Charge = serde_json::from_value(item)
                    .map_err(|e| ValidationError::new(format!("charges[{i}]"), e.to_string()))?;
                charges.push(charge);
            }
            object.insert("charges".to_owned(), serde_json::Value::Array(Vec::new()));
        }
        let mut plan: Plan = serde_json::from_value(value)
            .map_err(|e| ValidationError::new("plan", e.to_string()))?;
        plan.charges = charges;
        plan.validate()?;
        Ok(plan)
    }

    /// Checks codes, names, prices and tiers, and that no meter is charged twice.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_code(&self.code, "code")?;
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err(ValidationError::new("name", "must be 1-200 characters"));
        }
        if let Some(fee) = self.recurring_fee {
            non_negative(fee, "recurring_fee")?;
        }
        if let Some(min) = self.minimum_commitment {
            non_negative(min, "minimum_commitment")?;
        }
        let mut meters = BTreeSet::new();
        for (i, charge) in self.charges.iter().enumerate() {
            let at = format!("charges[{i}]");
            check_code(&charge.meter, "meter").map_err(|e| e.within(&at))?;
            if !meters.insert(charge.meter.as_str()) {
                return Err(ValidationError::new(
                    "meter",
                    format!("meter `{}` is charged twice", charge.meter),
                )
                .within(&at));
            }
            if let Some(name) = &charge.name
                && (name.trim().is_empty() || name.chars().count() > 200)
            {
                return Err(ValidationError::new("name", "must be 1-200 characters").within(&at));
            }
            charge.model.validate().map_err(|e| e.within(&at))?;
        }
        Ok(())
    }

    /// The canonical JSON (what the store keeps).
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and decimals cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The charge on `meter`, if the plan has one.
    pub fn charge(&self, meter: &str) -> Option<&Charge> {
        self.charges.iter().find(|c| c.meter == meter)
    }
}
