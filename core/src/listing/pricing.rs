//! What an offer costs: [`PriceComponent`]s of a [`BillingMode`] and a
//! [`PriceUnit`], flat or in [`PriceTier`]s.
//!
//! A price's `amount` is the list price, the one the storefront shows. Where
//! the vendor also quotes the price for the platform's own account (a trade
//! or discounted price), it is kept beside it as the price's `cost`, in the
//! same currency and per the same unit. The cost is the platform's business:
//! [`PriceComponent::without_cost`] and `Listing::without_costs` give the
//! storefront's view, and the OpenAPI schema does not describe it.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::LocalizedText;
use crate::error::ValidationError;
use crate::money::Money;

/// How a price is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BillingMode {
    /// Pay as you go (按量付费).
    OnDemand,
    /// Monthly subscription (包月).
    Monthly,
    /// Yearly subscription (包年).
    Yearly,
    /// A reserved or committed term of this many months.
    Reserved {
        /// Term length in months (12, 36, …).
        term_months: u16,
    },
    /// Spot or preemptible capacity.
    Spot,
}

impl BillingMode {
    /// The text form: `on_demand`, `monthly`, `yearly`, `spot`, `reserved_12m`.
    pub fn as_text(&self) -> String {
        match self {
            BillingMode::OnDemand => "on_demand".into(),
            BillingMode::Monthly => "monthly".into(),
            BillingMode::Yearly => "yearly".into(),
            BillingMode::Spot => "spot".into(),
            BillingMode::Reserved { term_months } => format!("reserved_{term_months}m"),
        }
    }

    /// The label shown for a price of this mode, in both languages, with
    /// the words buyers search for (按量, 包年包月, 竞价, reserved): the
    /// default label of every [`PriceComponent`].
    pub fn label(&self) -> LocalizedText {
        let (zh, en) = match self {
            BillingMode::OnDemand => ("按量付费".to_owned(), "on demand".to_owned()),
            BillingMode::Monthly => (
                "包年包月（包月）".to_owned(),
                "monthly subscription".to_owned(),
            ),
            BillingMode::Yearly => (
                "包年包月（包年）".to_owned(),
                "yearly subscription".to_owned(),
            ),
            BillingMode::Spot => ("竞价实例".to_owned(), "spot".to_owned()),
            BillingMode::Reserved { term_months } if term_months % 12 == 0 => (
                format!("预留实例 {} 年", term_months / 12),
                format!("reserved {} year", term_months / 12)
                    + if *term_months == 12 { "" } else { "s" },
            ),
            BillingMode::Reserved { term_months } => (
                format!("预留实例 {term_months} 个月"),
                format!("reserved {term_months} months"),
            ),
        };
        LocalizedText {
            en: Some(en),
            zh: Some(zh),
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let mode = match text {
            "on_demand" => BillingMode::OnDemand,
            "monthly" => BillingMode::Monthly,
            "yearly" => BillingMode::Yearly,
            "spot" => BillingMode::Spot,
            other => {
                let months = other
                    .strip_prefix("reserved_")
                    .and_then(|rest| rest.strip_suffix('m'))
                    .and_then(|n| n.parse::<u16>().ok())
                    .filter(|n| *n > 0);
                match months {
                    Some(term_months) => BillingMode::Reserved { term_months },
                    None => {
                        return Err(ValidationError::new(
                            "billing_mode",
                            format!("unknown billing mode `{text}`"),
                        ));
                    }
                }
            }
        };
        Ok(mode)
    }
}

impl fmt::Display for BillingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

impl Serialize for BillingMode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_text())
    }
}

impl<'de> Deserialize<'de> for BillingMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BillingMode::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What one price amount buys.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceUnit {
    /// One hour of the resource.
    Hour,
    /// One day.
    Day,
    /// One month.
    Month,
    /// One year.
    Year,
    /// The whole term of a reservation (paid once for the term).
    Term,
    /// One GB stored for an hour.
    GbHour,
    /// One GB stored for a month.
    GbMonth,
    /// One GB transferred or processed.
    Gb,
    /// One request or API call.
    Request,
    /// One provisioned IOPS for a month.
    IopsMonth,
    /// One Mbit/s of bandwidth for an hour.
    MbpsHour,
    /// One Mbit/s of bandwidth for a month.
    MbpsMonth,
    /// One unit of a one-off quantity (a licence, a fee).
    Unit,
}

// Made by `PriceTier::new` or read from JSON, both of which validate. The
// doc comment below is the OpenAPI description.
/// One band of a tiered price: `amount` per unit for usage in `[from, to)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PriceTierData")]
pub struct PriceTier {
    /// Lower bound of usage, inclusive.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    from: Decimal,
    /// Upper bound of usage, exclusive; `None` is unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>))]
    to: Option<Decimal>,
    /// Price per unit in this band.
    amount: Money,
    // Kept out of the public schema: callers never see a cost.
    /// The platform's cost per unit in this band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    cost: Option<Money>,
}

/// The plain shape of a [`PriceTier`], as JSON carries it; `PriceTier::try_from`
/// validates it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTierData {
    /// Lower bound of usage, inclusive.
    pub from: Decimal,
    /// Upper bound of usage, exclusive; `None` is unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Decimal>,
    /// Price per unit in this band.
    pub amount: Money,
    /// The platform's cost per unit in this band, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Money>,
}

impl PriceTier {
    /// A band from `from` (inclusive) to `to` (exclusive, `None` unbounded)
    /// at `amount` per unit: bounds and amount not negative, `to` above `from`.
    pub fn new(from: Decimal, to: Option<Decimal>, amount: Money) -> Result<Self, ValidationError> {
        if amount.is_negative() {
            return Err(ValidationError::new("amount", "must not be negative"));
        }
        if from.is_sign_negative() && !from.is_zero() {
            return Err(ValidationError::new("from", "must not be negative"));
        }
        if let Some(to) = to
            && to <= from
        {
            return Err(ValidationError::new("to", "must be above `from`"));
        }
        Ok(PriceTier {
            from,
            to,
            amount,
            cost: None,
        })
    }

    /// The same band with the platform's cost per unit: not negative, in
    /// the amount's currency.
    pub fn with_cost(mut self, cost: Money) -> Result<Self, ValidationError> {
        check_cost(cost, self.amount)?;
        self.cost = Some(cost);
        Ok(self)
    }

    /// Lower bound of usage, inclusive.
    pub fn from(&self) -> Decimal {
        self.from
    }
    /// Upper bound of usage, exclusive; `None` is unbounded.
    pub fn to(&self) -> Option<Decimal> {
        self.to
    }
    /// Price per unit in this band.
    pub fn amount(&self) -> Money {
        self.amount
    }
    /// The platform's cost per unit in this band, where known.
    pub fn cost(&self) -> Option<Money> {
        self.cost
    }
}

impl TryFrom<PriceTierData> for PriceTier {
    type Error = ValidationError;
    fn try_from(data: PriceTierData) -> Result<Self, Self::Error> {
        let tier = PriceTier::new(data.from, data.to, data.amount)?;
        match data.cost {
            Some(cost) => tier.with_cost(cost),
            None => Ok(tier),
        }
    }
}

impl From<PriceTier> for PriceTierData {
    fn from(tier: PriceTier) -> Self {
        PriceTierData {
            from: tier.from,
            to: tier.to,
            amount: tier.amount,
            cost: tier.cost,
        }
    }
}

/// A cost beside `amount`: not negative, in its currency.
fn check_cost(cost: Money, amount: Money) -> Result<(), ValidationError> {
    if cost.is_negative() {
        return Err(ValidationError::new("cost", "must not be negative"));
    }
    if cost.currency() != amount.currency() {
        return Err(ValidationError::new(
            "cost",
            "must be in the currency of the amount",
        ));
    }
    Ok(())
}

// Made by `PriceComponent::flat`, `PriceComponent::tiered` or read from
// JSON, all of which validate. The doc comment below is the OpenAPI
// description.
/// One price of a listing: a billing mode, a unit and an amount, with tiers
/// when the price depends on volume.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PriceComponentData")]
pub struct PriceComponent {
    /// Which part of the resource is priced (`instance`, `bandwidth`, `system_disk`); `None` for the whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    component: Option<String>,
    /// How it is paid.
    billing_mode: BillingMode,
    /// What one amount buys.
    unit: PriceUnit,
    /// The price per unit (the first tier's when tiered).
    amount: Money,
    // The list price is `amount`; this is what the platform pays. Kept out
    // of the public schema: callers never see a cost.
    /// The platform's cost per unit (the first tier's when tiered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    cost: Option<Money>,
    /// Volume tiers, ascending and contiguous; empty for a flat price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tiers: Vec<PriceTier>,
    // Read it with `PriceComponent::label`, which falls back on the billing
    // mode's label. The doc comment below is the OpenAPI description.
    /// The label shown for the price, where it is not its billing mode's
    /// (按量付费 / on demand, 包年包月 / subscription, 竞价 / spot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<LocalizedText>,
}

/// The plain shape of a [`PriceComponent`], as JSON and [`ListingData`]
/// carry it; `PriceComponent::try_from` validates it.
///
/// [`ListingData`]: super::ListingData
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceComponentData {
    /// Which part of the resource is priced; `None` for the whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// How it is paid.
    pub billing_mode: BillingMode,
    /// What one amount buys.
    pub unit: PriceUnit,
    /// The list price per unit (the first tier's when tiered).
    pub amount: Money,
    /// The platform's cost per unit (the first tier's when tiered), in the
    /// amount's currency, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Money>,
    /// Volume tiers; empty for a flat price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<PriceTierData>,
    /// The label shown for the price, where it is not its billing mode's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LocalizedText>,
}

impl PriceComponent {
    /// A flat price.
    pub fn flat(
        billing_mode: BillingMode,
        unit: PriceUnit,
        amount: Money,
    ) -> Result<Self, ValidationError> {
        PriceComponent::checked(None, billing_mode, unit, amount, None, Vec::new())
    }

    /// A tiered price; the component amount and cost are the first tier's.
    pub fn tiered(
        billing_mode: BillingMode,
        unit: PriceUnit,
        tiers: Vec<PriceTier>,
    ) -> Result<Self, ValidationError> {
        let first = tiers.first().ok_or_else(|| {
            ValidationError::new("tiers", "a tiered price needs at least one tier")
        })?;
        let (amount, cost) = (first.amount, first.cost);
        PriceComponent::checked(None, billing_mode, unit, amount, cost, tiers)
    }

    /// The same flat price with the platform's cost per unit: not negative,
    /// in the amount's currency. A tiered price takes its costs from its
    /// tiers ([`PriceTier::with_cost`]).
    pub fn with_cost(mut self, cost: Money) -> Result<Self, ValidationError> {
        if !self.tiers.is_empty() {
            return Err(ValidationError::new(
                "cost",
                "a tiered price takes its cost from its tiers",
            ));
        }
        check_cost(cost, self.amount)?;
        self.cost = Some(cost);
        Ok(self)
    }

    /// The same price as the storefront shows it: without the platform's
    /// cost, in the price and in its tiers.
    pub fn without_cost(mut self) -> Self {
        self.cost = None;
        for tier in &mut self.tiers {
            tier.cost = None;
        }
        self
    }

    /// The same price, naming the part of the resource it is for (1 to 64
    /// characters).
    pub fn for_component(self, component: impl Into<String>) -> Result<Self, ValidationError> {
        let mut price = PriceComponent::checked(
            Some(component.into()),
            self.billing_mode,
            self.unit,
            self.amount,
            self.cost,
            self.tiers,
        )?;
        price.label = self.label;
        Ok(price)
    }

    /// The same price under its own display label (each text 1 to 128
    /// characters), in place of its billing mode's.
    pub fn with_label(mut self, label: LocalizedText) -> Result<Self, ValidationError> {
        check_label(&label)?;
        self.label = Some(label);
        Ok(self)
    }

    /// The label shown for the price: its own, else its billing mode's
    /// ([`BillingMode::label`]) followed by the component where there is one.
    pub fn label(&self) -> LocalizedText {
        if let Some(label) = &self.label {
            return label.clone();
        }
        let mut label = self.billing_mode.label();
        if let Some(component) = &self.component {
            for text in [&mut label.en, &mut label.zh].into_iter().flatten() {
                text.push_str(" · ");
                text.push_str(component);
            }
        }
        label
    }

    /// Which part of the resource is priced; `None` for the whole.
    pub fn component(&self) -> Option<&str> {
        self.component.as_deref()
    }
    /// How it is paid.
    pub fn billing_mode(&self) -> BillingMode {
        self.billing_mode
    }
    /// What one amount buys.
    pub fn unit(&self) -> PriceUnit {
        self.unit
    }
    /// The list price per unit (the first tier's when tiered): what the
    /// storefront shows.
    pub fn amount(&self) -> Money {
        self.amount
    }
    /// The platform's cost per unit (the first tier's when tiered), where
    /// the vendor quoted one; never shown on the storefront.
    pub fn cost(&self) -> Option<Money> {
        self.cost
    }
    /// Volume tiers, ascending and contiguous; empty for a flat price.
    pub fn tiers(&self) -> &[PriceTier] {
        &self.tiers
    }

    /// The one place where a component's rules are checked; each tier has
    /// already checked its own.
    fn checked(
        component: Option<String>,
        billing_mode: BillingMode,
        unit: PriceUnit,
        amount: Money,
        cost: Option<Money>,
        tiers: Vec<PriceTier>,
    ) -> Result<Self, ValidationError> {
        if amount.is_negative() {
            return Err(ValidationError::new("amount", "must not be negative"));
        }
        if let Some(cost) = cost {
            check_cost(cost, amount)?;
        }
        if let Some(first) = tiers.first() {
            if first.amount != amount {
                return Err(ValidationError::new(
                    "amount",
                    "must be the first tier's amount",
                ));
            }
            if first.cost != cost {
                return Err(ValidationError::new(
                    "cost",
                    "must be the first tier's cost",
                ));
            }
        }
        let mut expected_from: Option<Decimal> = None;
        for (i, tier) in tiers.iter().enumerate() {
            let at = |e: ValidationError| e.within(&format!("tiers[{i}]"));
            if tier.amount.currency() != amount.currency() {
                return Err(at(ValidationError::new(
                    "amount",
                    "tier currency differs from the price's",
                )));
            }
            // A band without a cost beside bands with one would leave the
            // cost of some usage unknown.
            if tier.cost.is_some() != cost.is_some() {
                return Err(at(ValidationError::new(
                    "cost",
                    "every tier has a cost or none has",
                )));
            }
            if let Some(expected) = expected_from
                && tier.from < expected
            {
                return Err(at(ValidationError::new("from", "tiers overlap")));
            }
            if i + 1 < tiers.len() && tier.to.is_none() {
                return Err(at(ValidationError::new(
                    "to",
                    "only the last tier may be unbounded",
                )));
            }
            expected_from = tier.to;
        }
        if let Some(c) = &component
            && (c.is_empty() || c.len() > 64)
        {
            return Err(ValidationError::new(
                "component",
                "must be 1 to 64 characters",
            ));
        }
        Ok(PriceComponent {
            component,
            billing_mode,
            unit,
            amount,
            cost,
            tiers,
            label: None,
        })
    }
}

/// Which fields of the vendor's raw offer one of a listing's prices was read
/// from, named in the listing's provenance. The price is the listing's one
/// of this component and billing mode.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSource {
    /// The price's component; absent for the whole resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The price's billing mode.
    pub billing_mode: BillingMode,
    /// The field of the list price (the price's `amount`) within the raw
    /// offer, `Price.OriginalPrice`; a tiered price's fields are joined by
    /// `, `, first tier first. Not blank, at most 128 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub list_price: String,
    // Kept out of the public schema, like the cost itself.
    /// The field of the platform's cost, `Price.TradePrice`, where the
    /// price has a cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub cost: Option<String>,
}

impl PriceSource {
    /// The source of `price`: its list price read from `list_price`, and its
    /// cost, if it has one, from `cost`.
    pub fn of(price: &PriceComponent, list_price: impl Into<String>, cost: Option<&str>) -> Self {
        PriceSource {
            component: price.component.clone(),
            billing_mode: price.billing_mode,
            list_price: list_price.into(),
            cost: cost.filter(|_| price.cost.is_some()).map(str::to_owned),
        }
    }

    fn names(&self, price: &PriceComponent) -> bool {
        self.billing_mode == price.billing_mode && self.component == price.component
    }
}

/// Checks the price sources of a provenance against the listing's prices:
/// each names one price, once, with text field names, and names a cost's
/// field only where the price has a cost. Fields are named within
/// `price_sources[i]`.
pub(super) fn check_price_sources(
    sources: &[PriceSource],
    prices: &[PriceComponent],
) -> Result<(), ValidationError> {
    for (i, source) in sources.iter().enumerate() {
        let at = |e: ValidationError| e.within(&format!("price_sources[{i}]"));
        let here = || format!("price_sources[{i}]");
        let price = prices
            .iter()
            .find(|p| source.names(p))
            .ok_or_else(|| ValidationError::new(here(), "names no price of the listing"))?;
        if sources[..i]
            .iter()
            .any(|s| s.billing_mode == source.billing_mode && s.component == source.component)
        {
            return Err(ValidationError::new(here(), "names a price named before"));
        }
        super::check_text("list_price", &source.list_price, 128).map_err(at)?;
        if let Some(cost) = &source.cost {
            super::check_text("cost", cost, 128).map_err(at)?;
            if price.cost.is_none() {
                return Err(at(ValidationError::new(
                    "cost",
                    "names the field of a cost the price does not have",
                )));
            }
        }
    }
    Ok(())
}

fn check_label(label: &LocalizedText) -> Result<(), ValidationError> {
    if label.is_empty() {
        return Err(ValidationError::new(
            "label",
            "needs an English or a Chinese text",
        ));
    }
    for text in [&label.en, &label.zh].into_iter().flatten() {
        if text.trim().is_empty() || text.chars().count() > 128 {
            return Err(ValidationError::new("label", "must be 1 to 128 characters"));
        }
    }
    Ok(())
}

impl TryFrom<PriceComponentData> for PriceComponent {
    type Error = ValidationError;
    fn try_from(data: PriceComponentData) -> Result<Self, Self::Error> {
        let tiers = data
            .tiers
            .into_iter()
            .enumerate()
            .map(|(i, tier)| {
                PriceTier::try_from(tier).map_err(|e| e.within(&format!("tiers[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let price = PriceComponent::checked(
            data.component,
            data.billing_mode,
            data.unit,
            data.amount,
            data.cost,
            tiers,
        )?;
        match data.label {
            Some(label) => price.with_label(label),
            None => Ok(price),
        }
    }
}

impl From<PriceComponent> for PriceComponentData {
    fn from(price: PriceComponent) -> Self {
        PriceComponentData {
            component: price.component,
            billing_mode: price.billing_mode,
            unit: price.unit,
            amount: price.amount,
            cost: price.cost,
            tiers: price.tiers.into_iter().map(PriceTierData::from).collect(),
            label: price.label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn usd(amount: Decimal) -> Money {
        Money::new(amount, Currency::USD)
    }

    fn tier(from: Decimal, to: Option<Decimal>, amount: Money) -> PriceTier {
        PriceTier::new(from, to, amount).unwrap()
    }

    #[test]
    fn tiers_must_ascend_without_overlap_in_one_currency() {
        let ok = PriceComponent::tiered(
            BillingMode::OnDemand,
            PriceUnit::GbMonth,
            vec![
                tier(dec!(0), Some(dec!(50)), usd(dec!(0.023))),
                tier(dec!(50), None, usd(dec!(0.022))),
            ],
        )
        .unwrap();
        assert_eq!(ok.amount(), usd(dec!(0.023)));
        assert_eq!(ok.tiers()[1].from(), dec!(50));
        assert_eq!(ok.tiers()[1].to(), None);
        let unbounded_middle = PriceComponent::tiered(
            BillingMode::OnDemand,
            PriceUnit::GbMonth,
            vec![
                tier(dec!(0), None, usd(dec!(0.023))),
                tier(dec!(50), None, usd(dec!(0.022))),
            ],
        );
        assert!(unbounded_middle.is_err());
        let mixed = PriceComponent::tiered(
            BillingMode::OnDemand,
            PriceUnit::GbMonth,
            vec![
                tier(dec!(0), Some(dec!(5)), usd(dec!(1))),
                tier(dec!(5), None, Money::new(dec!(1), Currency::CNY)),
            ],
        );
        assert_eq!(mixed.unwrap_err().field_name(), "tiers[1].amount");
        assert!(PriceComponent::tiered(BillingMode::OnDemand, PriceUnit::Gb, vec![]).is_err());
    }

    #[test]
    fn a_tier_checks_its_own_bounds_and_amount() {
        assert_eq!(
            PriceTier::new(dec!(-1), None, usd(dec!(1)))
                .unwrap_err()
                .field_name(),
            "from"
        );
        assert_eq!(
            PriceTier::new(dec!(5), Some(dec!(5)), usd(dec!(1)))
                .unwrap_err()
                .field_name(),
            "to"
        );
        assert_eq!(
            PriceTier::new(dec!(0), None, usd(dec!(-1)))
                .unwrap_err()
                .field_name(),
            "amount"
        );
    }

    #[test]
    fn a_component_name_is_checked_when_given() {
        let flat =
            PriceComponent::flat(BillingMode::Spot, PriceUnit::Hour, usd(dec!(0.1))).unwrap();
        assert_eq!(flat.component(), None);
        let named = flat.clone().for_component("instance").unwrap();
        assert_eq!(named.component(), Some("instance"));
        assert_eq!(named.billing_mode(), BillingMode::Spot);
        assert_eq!(named.unit(), PriceUnit::Hour);
        assert_eq!(
            flat.for_component("").unwrap_err().field_name(),
            "component"
        );
    }

    #[test]
    fn json_that_breaks_a_rule_does_not_deserialise() {
        let valid = json!({
            "billing_mode": "on_demand",
            "unit": "gb_month",
            "amount": {"amount": "0.023", "currency": "USD"},
            "tiers": [
                {"from": "0", "to": "50", "amount": {"amount": "0.023", "currency": "USD"}},
                {"from": "50", "amount": {"amount": "0.022", "currency": "USD"}}
            ]
        });
        let price: PriceComponent = serde_json::from_value(valid.clone()).unwrap();
        assert_eq!(serde_json::to_value(&price).unwrap(), valid);

        let broken = |path: &[&str], value: serde_json::Value| {
            let mut json = valid.clone();
            let mut at = &mut json;
            for key in path {
                at = match key.parse::<usize>() {
                    Ok(i) => &mut at[i],
                    Err(_) => &mut at[*key],
                };
            }
            *at = value;
            serde_json::from_value::<PriceComponent>(json)
                .unwrap_err()
                .to_string()
        };
        let negative = broken(&["amount", "amount"], json!("-0.023"));
        assert!(negative.contains("amount"), "{negative}");
        let not_first = broken(&["amount", "amount"], json!("0.5"));
        assert!(not_first.contains("first tier"), "{not_first}");
        let overlap = broken(&["tiers", "1", "from"], json!("10"));
        assert!(overlap.contains("tiers[1].from"), "{overlap}");
        let inverted = broken(&["tiers", "0", "to"], json!("0"));
        assert!(inverted.contains("tiers[0].to"), "{inverted}");
        let currency = broken(&["tiers", "1", "amount", "currency"], json!("CNY"));
        assert!(currency.contains("tiers[1].amount"), "{currency}");
        let empty_name = broken(&["component"], json!(""));
        assert!(empty_name.contains("component"), "{empty_name}");

        let bad_tier = serde_json::from_value::<PriceTier>(
            json!({"from": "-1", "amount": {"amount": "1", "currency": "USD"}}),
        );
        assert!(bad_tier.is_err());
    }

    #[test]
    fn a_cost_sits_beside_the_list_price_in_its_currency() {
        let flat = PriceComponent::flat(BillingMode::Yearly, PriceUnit::Year, usd(dec!(4368)))
            .unwrap()
            .for_component("instance")
            .unwrap();
        assert_eq!(flat.cost(), None);
        let costed = flat.clone().with_cost(usd(dec!(3712.8))).unwrap();
        assert_eq!(
            costed.amount(),
            usd(dec!(4368)),
            "the amount stays the list price"
        );
        assert_eq!(costed.cost(), Some(usd(dec!(3712.8))));
        assert_eq!(costed.component(), Some("instance"));
        // A cost above the list price is a loss, not an error.
        assert!(flat.clone().with_cost(usd(dec!(5000))).is_ok());
        let negative = flat.clone().with_cost(usd(dec!(-1))).unwrap_err();
        assert_eq!(negative.field_name(), "cost");
        let other = flat
            .clone()
            .with_cost(Money::new(dec!(1), Currency::CNY))
            .unwrap_err();
        assert_eq!(other.field_name(), "cost");
        assert!(other.message().contains("currency"), "{other}");
        assert_eq!(costed.clone().without_cost(), flat);
    }

    #[test]
    fn a_tiered_price_takes_its_costs_from_every_tier_or_none() {
        let costed = |from, to, amount, cost| tier(from, to, usd(amount)).with_cost(usd(cost));
        let both = PriceComponent::tiered(
            BillingMode::OnDemand,
            PriceUnit::Hour,
            vec![
                costed(dec!(0), Some(dec!(96)), dec!(0.8), dec!(0.52)).unwrap(),
                costed(dec!(96), None, dec!(0.7), dec!(0.45)).unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(both.cost(), Some(usd(dec!(0.52))), "the first tier's");
        assert_eq!(both.tiers()[1].cost(), Some(usd(dec!(0.45))));
        let stripped = both.clone().without_cost();
        assert!(stripped.cost().is_none() && stripped.tiers().iter().all(|t| t.cost().is_none()));

        let partial = PriceComponent::tiered(
            BillingMode::OnDemand,
            PriceUnit::Hour,
            vec![
                costed(dec!(0), Some(dec!(96)), dec!(0.8), dec!(0.52)).unwrap(),
                tier(dec!(96), None, usd(dec!(0.7))),
            ],
        );
        assert_eq!(partial.unwrap_err().field_name(), "tiers[1].cost");
        let whole = both.clone().with_cost(usd(dec!(0.5))).unwrap_err();
        assert!(whole.message().contains("tiers"), "{whole}");
        assert_eq!(
            costed(dec!(0), None, dec!(1), dec!(-1))
                .unwrap_err()
                .field_name(),
            "cost"
        );
        assert!(
            tier(dec!(0), None, usd(dec!(1)))
                .with_cost(Money::new(dec!(1), Currency::CNY))
                .is_err()
        );
    }

    #[test]
    fn a_cost_round_trips_through_json_and_old_json_reads_without_one() {
        let old = json!({
            "billing_mode": "monthly",
            "unit": "month",
            "amount": {"amount": "8884.5", "currency": "CNY"}
        });
        let price: PriceComponent = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(price.cost(), None);
        assert_eq!(serde_json::to_value(&price).unwrap(), old, "no `cost` key");

        let mut with_cost = old.clone();
        with_cost["cost"] = json!({"amount": "1804.9", "currency": "CNY"});
        let price: PriceComponent = serde_json::from_value(with_cost.clone()).unwrap();
        assert_eq!(price.cost().unwrap().amount(), dec!(1804.9));
        assert_eq!(serde_json::to_value(&price).unwrap(), with_cost);
        let data = PriceComponentData::from(price.clone());
        assert_eq!(PriceComponent::try_from(data).unwrap(), price);

        let mut bad = with_cost.clone();
        bad["cost"]["currency"] = json!("USD");
        let err = serde_json::from_value::<PriceComponent>(bad).unwrap_err();
        assert!(err.to_string().contains("cost"), "{err}");
        let mut bad = with_cost;
        bad["cost"]["amount"] = json!("-1");
        assert!(serde_json::from_value::<PriceComponent>(bad).is_err());

        let tiered = json!({
            "billing_mode": "on_demand",
            "unit": "hour",
            "amount": {"amount": "0.8", "currency": "CNY"},
            "cost": {"amount": "0.5", "currency": "CNY"},
            "tiers": [
                {"from": "0", "to": "96", "amount": {"amount": "0.8", "currency": "CNY"},
                 "cost": {"amount": "0.52", "currency": "CNY"}},
                {"from": "96", "amount": {"amount": "0.7", "currency": "CNY"},
                 "cost": {"amount": "0.45", "currency": "CNY"}}
            ]
        });
        let err = serde_json::from_value::<PriceComponent>(tiered.clone()).unwrap_err();
        assert!(err.to_string().contains("first tier's cost"), "{err}");
        let mut fixed = tiered;
        fixed["cost"]["amount"] = json!("0.52");
        let price: PriceComponent = serde_json::from_value(fixed.clone()).unwrap();
        assert_eq!(serde_json::to_value(&price).unwrap(), fixed);
    }

    #[test]
    fn a_price_source_takes_the_price_it_names_and_its_cost_field_only_with_a_cost() {
        let list = PriceComponent::flat(BillingMode::Monthly, PriceUnit::Month, usd(dec!(10)))
            .unwrap()
            .for_component("instance")
            .unwrap();
        let source = PriceSource::of(&list, "InstancePrice.OriginalPrice", Some("x"));
        assert_eq!(source.component.as_deref(), Some("instance"));
        assert_eq!(source.billing_mode, BillingMode::Monthly);
        assert_eq!(source.cost, None, "no cost, no cost field");
        let costed = list.with_cost(usd(dec!(8))).unwrap();
        let source = PriceSource::of(
            &costed,
            "InstancePrice.OriginalPrice",
            Some("InstancePrice.DiscountPrice"),
        );
        assert_eq!(source.cost.as_deref(), Some("InstancePrice.DiscountPrice"));
        let prices = std::slice::from_ref(&costed);
        assert!(check_price_sources(std::slice::from_ref(&source), prices).is_ok());
        let twice = check_price_sources(&[source.clone(), source.clone()], prices);
        assert_eq!(twice.unwrap_err().field_name(), "price_sources[1]");
        let stranger = PriceSource {
            billing_mode: BillingMode::Yearly,
            ..source.clone()
        };
        let err = check_price_sources(&[stranger], prices).unwrap_err();
        assert_eq!(err.field_name(), "price_sources[0]");
        let blank = PriceSource {
            list_price: " ".into(),
            ..source.clone()
        };
        let err = check_price_sources(&[blank], prices).unwrap_err();
        assert_eq!(err.field_name(), "price_sources[0].list_price");
        let err = check_price_sources(&[source], &[costed.without_cost()]).unwrap_err();
        assert_eq!(err.field_name(), "price_sources[0].cost");
    }

    #[test]
    fn every_billing_mode_has_a_bilingual_label_used_by_default() {
        let words = [
            (BillingMode::OnDemand, "按量", "on demand"),
            (BillingMode::Monthly, "包年包月", "subscription"),
            (BillingMode::Yearly, "包年", "subscription"),
            (BillingMode::Spot, "竞价", "spot"),
            (
                BillingMode::Reserved { term_months: 12 },
                "预留",
                "reserved 1 year",
            ),
            (
                BillingMode::Reserved { term_months: 36 },
                "3 年",
                "reserved 3 years",
            ),
            (
                BillingMode::Reserved { term_months: 6 },
                "6 个月",
                "reserved 6 months",
            ),
        ];
        for (mode, zh, en) in words {
            let label = mode.label();
            assert!(label.zh.as_deref().unwrap().contains(zh), "{mode}");
            assert!(label.en.as_deref().unwrap().contains(en), "{mode}");
            let price = PriceComponent::flat(mode, PriceUnit::Hour, usd(dec!(1))).unwrap();
            assert_eq!(price.label(), label);
        }
        let disk = PriceComponent::flat(BillingMode::OnDemand, PriceUnit::GbMonth, usd(dec!(1)))
            .unwrap()
            .for_component("system_disk")
            .unwrap();
        assert_eq!(disk.label().en.as_deref(), Some("on demand · system_disk"));
        let own = LocalizedText {
            en: Some("Savings Plan 1 year".into()),
            zh: Some("节省计划 1 年".into()),
        };
        let labelled = disk.with_label(own.clone()).unwrap();
        assert_eq!(labelled.label(), own);
        // The label survives JSON, and an empty one is rejected.
        let json = serde_json::to_value(&labelled).unwrap();
        assert_eq!(
            serde_json::from_value::<PriceComponent>(json.clone()).unwrap(),
            labelled
        );
        let mut bad = json;
        bad["label"] = json!({"en": " "});
        assert!(serde_json::from_value::<PriceComponent>(bad).is_err());
    }

    #[test]
    fn billing_modes_have_a_stable_text_form() {
        for mode in [
            BillingMode::OnDemand,
            BillingMode::Monthly,
            BillingMode::Yearly,
            BillingMode::Spot,
            BillingMode::Reserved { term_months: 36 },
        ] {
            assert_eq!(BillingMode::parse(&mode.as_text()).unwrap(), mode);
        }
        assert_eq!(
            BillingMode::Reserved { term_months: 12 }.as_text(),
            "reserved_12m"
        );
        assert!(BillingMode::parse("reserved_0m").is_err());
        assert!(BillingMode::parse("weekly").is_err());
    }
}
