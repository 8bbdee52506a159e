//! Marketplace money on top of the billing engine: cost-plus margin rules,
//! orders with a locked price snapshot, customers' own resources, prepaid
//! usage paid from the wallet as it arrives, service-fee contracts waived
//! until the account is stable, and the gross-margin report.
//!
//! Every order, own resource and contract becomes ordinary billing: a meter
//! and a plan of its own (named by its id) and a subscription, so the bill
//! run, invoices, exports and the audit chain treat them like any other.
//! An order's plan carries the vendor's cost per unit ([`Resale`]), so each
//! of its invoice lines shows cost, margin and sale price.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shiyun_core::ValidationError;
use shiyun_core::billing::market::{
    AccountStanding, ContractId, ContractInterval, MarginRule, MarginRuleId, MarginScope,
    MarginTarget, MarketStore, Markup, Order, OrderId, OwnResource, OwnResourceId, PaymentMode,
    PriceSnapshot, ProvisioningState, ServiceContract,
};
use shiyun_core::billing::wallet::{NewDebit, WalletStore, WalletTransactionId};
use shiyun_core::billing::{
    Aggregation, CustomerInput, InvoiceFilter, InvoiceStatus, Meter, PageAfter, SubscriptionId,
};
use shiyun_core::error::ErrorCode;
use shiyun_core::fx::FxTable;
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{Outcome, StoreError};

use crate::engine::{Billing, SubscribeRequest};
use crate::error::BillingError;
use crate::events::{self, EventError, EventResult, EventStatus, IngestReport, UsageEventInput};
use crate::plan::{BillingTime, Charge, ChargeModel, Interval, PayIn, Plan, Resale};

/// Places kept in unit prices and wallet amounts (the store's millionths).
pub const PRICE_PLACES: u32 = 6;

/// The event property an order's or own resource's meter sums.
pub const QUANTITY_PROPERTY: &str = "quantity";

/// Marketplace settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketSettings {
    /// The currency customers buy in when an order names none.
    pub currency: Currency,
    /// The smallest margin any sale carries, as a percentage of the
    /// converted cost (`0`: resale at cost is allowed).
    pub min_margin_percent: Decimal,
}

impl Default for MarketSettings {
    fn default() -> Self {
        MarketSettings {
            currency: Currency::CNY,
            min_margin_percent: Decimal::ZERO,
        }
    }
}

/// The margin rule that applies: among active rules whose scope matches,
/// the most specific ([`MarginScope::specificity`]); between equally
/// specific ones, the newest, then the greatest id.
pub fn choose_rule<'a>(rules: &'a [MarginRule], target: &MarginTarget) -> Option<&'a MarginRule> {
    rules
        .iter()
        .filter(|r| r.active && r.scope.matches(target))
        .max_by(|a, b| {
            (a.scope.specificity(), a.created_at, &a.id).cmp(&(
                b.scope.specificity(),
                b.created_at,
                &b.id,
            ))
        })
}

/// What the platform pays for one unit of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitCost {
    /// The priced unit (`hour`).
    pub unit: String,
    /// The vendor's cost (the platform's own price) per unit.
    pub cost: Money,
    /// The vendor's list price per unit, when known.
    pub list: Option<Money>,
}

fn overflow() -> BillingError {
    BillingError::Invalid(ValidationError::new("price", "is too large to compute"))
}

/// Prices one unit: the cost converted into `currency` with `fx` (the
/// exact rate, locked into the snapshot), marked up by `rule`, never below
/// the minimum margin, and rounded up (never down) to 6 places.
pub fn quote(
    cost: &UnitCost,
    currency: Currency,
    fx: &FxTable,
    rule: Option<&MarginRule>,
    min_margin_percent: Decimal,
) -> Result<PriceSnapshot, BillingError> {
    if cost.cost.is_negative() {
        return Err(ValidationError::new("cost", "must not be negative").into());
    }
    let (rate, as_of) = if cost.cost.currency() == currency {
        (None, None)
    } else {
        let applied = fx.rate(cost.cost.currency(), currency).ok_or_else(|| {
            ValidationError::new(
                "currency",
                format!(
                    "no exchange rate from {} to {}",
                    cost.cost.currency().code(),
                    currency.code()
                ),
            )
        })?;
        (Some(applied.rate), fx.as_of())
    };
    let convert = |amount: Decimal| -> Result<Decimal, BillingError> {
        match rate {
            Some(r) => amount.checked_mul(r).ok_or_else(overflow),
            None => Ok(amount),
        }
    };
    let converted = convert(cost.cost.amount())?;
    let hundred = Decimal::ONE_HUNDRED;
    let markup = match rule.map(|r| &r.markup) {
        None => Decimal::ZERO,
        Some(Markup::Percent { percent }) => converted
            .checked_mul(*percent)
            .and_then(|m| m.checked_div(hundred))
            .ok_or_else(overflow)?,
        Some(Markup::FixedPerUnit { amount }) if amount.currency() == currency => amount.amount(),
        Some(Markup::FixedPerUnit { amount }) if amount.currency() == cost.cost.currency() => {
            convert(amount.amount())?
        }
        Some(Markup::FixedPerUnit { amount }) => {
            return Err(ValidationError::new(
                "margin_rule",
                format!(
                    "the rule's fixed margin is in {}, neither the sale nor the cost currency",
                    amount.currency().code()
                ),
            )
            .into());
        }
    };
    let floor = converted
        .checked_mul(min_margin_percent)
        .and_then(|m| m.checked_div(hundred))
        .ok_or_else(overflow)?;
    let exact = converted
        .checked_add(markup.max(floor))
        .ok_or_else(overflow)?;
    let sale = exact.round_dp_with_strategy(PRICE_PLACES, RoundingStrategy::AwayFromZero);
    Ok(PriceSnapshot {
        unit: cost.unit.clone(),
        cost: cost.cost,
        list: cost.list,
        fx_rate: rate,
        fx_as_of: as_of,
        cost_converted: Money::new(converted, currency),
        margin_rule: rule.map(|r| r.id.clone()),
        margin: Money::new(sale - converted, currency),
        sale: Money::new(sale, currency),
    })
}

/// A listing as an order needs it (the server reads it from the catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderListing {
    /// The listing's id.
    pub id: String,
    /// Its vendor.
    pub vendor: String,
    /// Its category.
    pub category: String,
    /// Its name.
    pub title: String,
    /// Its region.
    pub region: Option<String>,
    /// What a unit costs the platform.
    pub cost: UnitCost,
}

/// An order as the buyer asks for it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The listing to buy.
    pub listing: String,
    /// How many (instances, GB), a decimal string; at most 6 places.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(with = "crate::plan::dec_str")]
    pub quantity: Decimal,
    /// `postpaid` (invoiced after each month) or `prepaid` (paid from the
    /// wallet as usage arrives).
    pub payment_mode: PaymentMode,
    /// Prepaid only: the term in months (1–60); none runs until cancelled.
    #[serde(default)]
    pub term_months: Option<u32>,
    /// The currency to buy in (the marketplace's default when absent).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub currency: Option<Currency>,
    /// The caller's idempotency key (1–200 bytes): the same key again
    /// answers the order placed first.
    pub idempotency_key: String,
}

/// A customer's own resource as registered.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnResourceRequest {
    /// The vendor it was bought from.
    pub vendor: String,
    /// The vendor's id of the resource.
    pub vendor_resource_id: String,
    /// Its region code.
    #[serde(default)]
    pub region: Option<String>,
    /// The catalog listing it matches, if any.
    #[serde(default)]
    pub listing: Option<String>,
    /// A name for people (the vendor's id when absent).
    #[serde(default)]
    pub name: Option<String>,
}

/// A service-fee contract as an operator enters it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractRequest {
    /// The customer (external id).
    pub customer: String,
    /// `monthly` or `yearly`.
    pub interval: ContractInterval,
    /// The fee per period.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub amount: Money,
    /// First day (customer's timezone).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub starts_on: NaiveDate,
    /// Charged at the start of each period (the default) or at its end.
    #[serde(default = "yes")]
    pub in_advance: bool,
    /// Free until the account is marked stable.
    #[serde(default)]
    pub waived_until_stable: bool,
}

fn yes() -> bool {
    true
}

/// Something the caller should act on after usage was paid from a wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WalletSignal {
    /// A debit took the balance below the low-balance threshold.
    LowBalance {
        /// The customer.
        customer: String,
        /// The balance after the debit.
        balance: Money,
        /// The threshold crossed.
        threshold: Money,
    },
    /// A threshold automatic top-up is due for this amount.
    AutoTopUp {
        /// The customer.
        customer: String,
        /// How much to add.
        amount: Money,
        /// Idempotency key for the payment (one per crossing debit).
        key: String,
    },
    /// An order was suspended: its wallet reached the floor.
    Suspended {
        /// The order.
        order: OrderId,
    },
}

/// What reporting usage did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageOutcome {
    /// One result per event, as the billing engine answers.
    pub report: IngestReport,
    /// What to act on: notices, automatic top-ups, suspensions.
    pub signals: Vec<WalletSignal>,
}

/// One row of the gross-margin report.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarginRow {
    /// Vendor.
    pub vendor: String,
    /// Category.
    pub category: String,
    /// Currency of the amounts.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    /// Invoice lines summed.
    pub lines: u64,
    /// Units sold.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub quantity: Decimal,
    /// What the vendor charges for them.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub cost: Decimal,
    /// Sale minus cost.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub margin: Decimal,
    /// What customers were invoiced.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub sale: Decimal,
    /// margin ÷ sale × 100, to 2 places (none when nothing was sold).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub margin_percent: Option<Decimal>,
}

/// The marketplace's money rules over one billing issuer.
#[derive(Clone)]
pub struct Market {
    billing: Billing,
    store: Arc<dyn MarketStore>,
    wallets: Arc<dyn WalletStore>,
    settings: MarketSettings,
}

impl std::fmt::Debug for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Market")
            .field("billing", &self.billing)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// An id of `kind` derived from what makes a request unique, so a retry
/// after a crash finds the meter, plan and subscription it made before.
fn derived(parts: &[&str]) -> [u8; 16] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes
}

fn check_text(value: &str, field: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            format!("must be 1-{max} bytes of printable text"),
        ));
    }
    Ok(())
}

fn check_places(value: Decimal, field: &str) -> Result<(), ValidationError> {
    if value.normalize().scale() > PRICE_PLACES {
        return Err(ValidationError::new(
            field,
            "has more than 6 decimal places",
        ));
    }
    Ok(())
}

fn not_found(entity: &'static str, id: impl ToString) -> BillingError {
    BillingError::NotFound {
        entity,
        id: id.to_string(),
    }
}

impl Market {
    /// The marketplace over `billing`'s issuer.
    pub fn new(
        billing: Billing,
        store: Arc<dyn MarketStore>,
        wallets: Arc<dyn WalletStore>,
        settings: MarketSettings,
    ) -> Self {
        Market {
            billing,
            store,
            wallets,
            settings,
        }
    }

    /// The billing engine underneath.
    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    /// The settings.
    pub fn settings(&self) -> &MarketSettings {
        &self.settings
    }

    /// Adds a margin rule.
    pub fn add_margin_rule(
        &self,
        id: MarginRuleId,
        scope: MarginScope,
        markup: Markup,
        now: DateTime<Utc>,
    ) -> Result<MarginRule, BillingError> {
        for (value, field) in [
            (&scope.vendor, "scope.vendor"),
            (&scope.category, "scope.category"),
            (&scope.listing, "scope.listing"),
            (&scope.customer, "scope.customer"),
        ] {
            if let Some(value) = value {
                check_text(value, field, 200)?;
            }
        }
        match &markup {
            Markup::Percent { percent } => {
                if *percent < Decimal::ZERO || *percent > Decimal::from(1000) {
                    return Err(ValidationError::new("markup.percent", "must be 0-1000").into());
                }
                check_places(*percent, "markup.percent")?;
            }
            Markup::FixedPerUnit { amount } => {
                if amount.is_negative() {
                    return Err(
                        ValidationError::new("markup.amount", "must not be negative").into(),
                    );
                }
                check_places(amount.amount(), "markup.amount.amount")?;
            }
        }
        let rule = MarginRule {
            id,
            scope,
            markup,
            active: true,
            created_at: now,
        };
        Ok(self.store.create_margin_rule(self.billing.id()?, &rule)?)
    }

    /// Every margin rule, oldest first.
    pub fn margin_rules(&self) -> Result<Vec<MarginRule>, BillingError> {
        Ok(self.store.margin_rules(self.billing.id()?)?)
    }

    /// Retires a rule: later orders no longer use it.
    pub fn retire_margin_rule(
        &self,
        id: &MarginRuleId,
        now: DateTime<Utc>,
    ) -> Result<MarginRule, BillingError> {
        Ok(self.store.retire_margin_rule(self.billing.id()?, id, now)?)
    }

    /// The price `customer` would pay for one unit of `listing` now.
    pub fn quote(
        &self,
        customer: &str,
        listing: &OrderListing,
        currency: Option<Currency>,
        fx: &FxTable,
    ) -> Result<PriceSnapshot, BillingError> {
        let rules = self.margin_rules()?;
        let target = MarginTarget {
            vendor: listing.vendor.clone(),
            category: listing.category.clone(),
            listing: listing.id.clone(),
            customer: customer.to_owned(),
        };
        quote(
            &listing.cost,
            currency.unwrap_or(self.settings.currency),
            fx,
            choose_rule(&rules, &target),
            self.settings.min_margin_percent,
        )
    }

    fn ensure_customer(
        &self,
        customer: &str,
        timezone: &str,
        now: DateTime<Utc>,
    ) -> Result<Tz, BillingError> {
        let stored = match self
            .billing
            .store()
            .get_customer(self.billing.id()?, customer)?
        {
            Some(stored) => stored,
            None => self.billing.put_customer(
                &CustomerInput {
                    external_id: customer.to_owned(),
                    name: customer.to_owned(),
                    timezone: timezone.to_owned(),
                    tax_rate: Decimal::ZERO,
                },
                now,
            )?,
        };
        stored
            .timezone
            .parse::<Tz>()
            .map_err(|_| ValidationError::new("timezone", "is not an IANA timezone").into())
    }

    /// Places an order for `customer` (created in `timezone` if new): the
    /// price is quoted and locked, the order gets its own meter, plan and
    /// subscription from today. The same idempotency key again answers the
    /// order placed first, whatever the body.
    pub fn place_order(
        &self,
        customer: &str,
        timezone: &str,
        request: &OrderRequest,
        listing: &OrderListing,
        fx: &FxTable,
        now: DateTime<Utc>,
    ) -> Result<Outcome<Order>, BillingError> {
        check_text(&request.idempotency_key, "idempotency_key", 200)?;
        let issuer = self.billing.id()?.clone();
        let id = OrderId::from_random(derived(&[
            issuer.as_str(),
            customer,
            &request.idempotency_key,
        ]));
        if let Some(existing) = self.store.get_order(&issuer, &id)? {
            return Ok(Outcome::Replayed(existing));
        }
        if request.quantity <= Decimal::ZERO {
            return Err(ValidationError::new("quantity", "must be positive").into());
        }
        check_places(request.quantity, "quantity")?;
        match (request.payment_mode, request.term_months) {
            (PaymentMode::Postpaid, Some(_)) => {
                return Err(
                    ValidationError::new("term_months", "applies to prepaid orders only").into(),
                );
            }
            (PaymentMode::Prepaid, Some(term)) if !(1..=60).contains(&term) => {
                return Err(ValidationError::new("term_months", "must be 1-60").into());
            }
            _ => {}
        }
        let price = self.quote(customer, listing, request.currency, fx)?;
        let tz = self.ensure_customer(customer, timezone, now)?;
        let code = id.as_str().to_owned();
        let _meter = self.billing.define_meter(&Meter {
            code: code.clone(),
            name: format!("{} ({})", listing.title, price.unit),
            aggregation: Aggregation::Sum,
            property: Some(QUANTITY_PROPERTY.to_owned()),
        })?;
        let plan = Plan {
            code: code.clone(),
            name: listing.title.clone(),
            currency: price.sale.currency(),
            interval: Interval::Monthly,
            billing_time: BillingTime::Calendar,
            pay_in: PayIn::Arrears,
            recurring_fee: None,
            minimum_commitment: None,
            charges: vec![Charge {
                meter: code.clone(),
                name: Some(format!("{} per {}", listing.title, price.unit)),
                model: ChargeModel::Standard {
                    unit_price: price.sale.amount(),
                },
                resale: Some(Resale {
                    vendor: listing.vendor.clone(),
                    category: listing.category.clone(),
                    unit_cost: price.cost_converted.amount(),
                }),
            }],
        };
        let _plan = self.billing.define_plan(&plan, now)?;
        let today = now.with_timezone(&tz).date_naive();
        let subscription_id = SubscriptionId::from_random(derived(&[id.as_str(), "subscription"]));
        let _subscription = self.billing.subscribe(
            &SubscribeRequest {
                id: Some(subscription_id.clone()),
                customer: customer.to_owned(),
                plan: code.clone(),
                starts_on: today,
                coupons: Vec::new(),
            },
            now,
        )?;
        if let (PaymentMode::Prepaid, Some(term)) = (request.payment_mode, request.term_months)
            && let Some(last) = today
                .checked_add_months(Months::new(term))
                .and_then(|d| d.pred_opt())
        {
            self.billing.cancel(&subscription_id, Some(last))?;
        }
        let order = Order {
            id,
            customer: customer.to_owned(),
            key: request.idempotency_key.clone(),
            listing: listing.id.clone(),
            vendor: listing.vendor.clone(),
            category: listing.category.clone(),
            title: listing.title.clone(),
            region: listing.region.clone(),
            quantity: request.quantity,
            payment_mode: request.payment_mode,
            term_months: request.term_months,
            price,
            meter: code.clone(),
            plan: code,
            subscription: subscription_id,
            provisioning: ProvisioningState::Pending,
            suspended: false,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        Ok(self.store.create_order(&issuer, &order)?)
    }

    /// One order.
    pub fn order(&self, id: &OrderId) -> Result<Order, BillingError> {
        self.store
            .get_order(self.billing.id()?, id)?
            .ok_or_else(|| not_found("order", id))
    }

    /// A customer's orders (every customer's when `None`), newest first.
    pub fn orders(&self, customer: Option<&str>) -> Result<Vec<Order>, BillingError> {
        Ok(self.store.list_orders(self.billing.id()?, customer)?)
    }

    /// Moves an order's provisioning state (`pending` → `active`, `failed`
    /// or `cancelled`; `active` → `cancelled`). Failing or cancelling ends
    /// its subscription at the end of today (customer's time).
    pub fn set_provisioning(
        &self,
        id: &OrderId,
        next: ProvisioningState,
        now: DateTime<Utc>,
    ) -> Result<Order, BillingError> {
        let mut order = self.order(id)?;
        if order.provisioning == next {
            return Ok(order);
        }
        if !order.provisioning.can_move_to(next) {
            return Err(BillingError::Conflict(format!(
                "an order cannot move from `{}` to `{}`",
                order.provisioning.as_str(),
                next.as_str()
            )));
        }
        if matches!(
            next,
            ProvisioningState::Failed | ProvisioningState::Cancelled
        ) {
            let tz = self.ensure_customer(&order.customer, "UTC", now)?;
            self.billing.cancel(
                &order.subscription,
                Some(now.with_timezone(&tz).date_naive()),
            )?;
        }
        order.provisioning = next;
        order.updated_at = now;
        Ok(self.store.update_order(self.billing.id()?, &order)?)
    }

    /// Registers a resource the customer bought elsewhere: it gets a meter
    /// of its own (usage is recorded and visible), never a resale price.
    pub fn register_resource(
        &self,
        customer: &str,
        timezone: &str,
        request: &OwnResourceRequest,
        now: DateTime<Utc>,
    ) -> Result<Outcome<OwnResource>, BillingError> {
        check_text(&request.vendor, "vendor", 64)?;
        check_text(&request.vendor_resource_id, "vendor_resource_id", 256)?;
        if let Some(region) = &request.region {
            check_text(region, "region", 64)?;
        }
        if let Some(listing) = &request.listing {
            check_text(listing, "listing", 200)?;
        }
        if let Some(name) = &request.name {
            check_text(name, "name", 200)?;
        }
        let issuer = self.billing.id()?.clone();
        self.ensure_customer(customer, timezone, now)?;
        let id = OwnResourceId::from_random(derived(&[
            issuer.as_str(),
            customer,
            &request.vendor,
            &request.vendor_resource_id,
        ]));
        let name = request
            .name
            .clone()
            .unwrap_or_else(|| request.vendor_resource_id.clone());
        let _meter = self.billing.define_meter(&Meter {
            code: id.as_str().to_owned(),
            name: format!("{name} (own {})", request.vendor),
            aggregation: Aggregation::Sum,
            property: Some(QUANTITY_PROPERTY.to_owned()),
        })?;
        let resource = OwnResource {
            meter: id.as_str().to_owned(),
            id,
            customer: customer.to_owned(),
            vendor: request.vendor.clone(),
            vendor_resource_id: request.vendor_resource_id.clone(),
            region: request.region.clone(),
            listing: request.listing.clone(),
            name,
            created_at: now,
        };
        Ok(self.store.create_own_resource(&issuer, &resource)?)
    }

    /// A customer's own resources.
    pub fn own_resources(&self, customer: &str) -> Result<Vec<OwnResource>, BillingError> {
        Ok(self.store.own_resources(self.billing.id()?, customer)?)
    }

    /// Enters a service-fee contract. Unless it is waived until stable (and
    /// the account is not stable yet), charging starts on its start date.
    pub fn create_contract(
        &self,
        id: ContractId,
        request: &ContractRequest,
        now: DateTime<Utc>,
    ) -> Result<ServiceContract, BillingError> {
        if request.amount.is_negative() || request.amount.is_zero() {
            return Err(ValidationError::new("amount.amount", "must be positive").into());
        }
        check_places(request.amount.amount(), "amount.amount")?;
        let customer = self
            .billing
            .store()
            .get_customer(self.billing.id()?, &request.customer)?
            .ok_or_else(|| not_found("customer", &request.customer))?;
        let code = id.as_str().to_owned();
        let plan = Plan {
            code: code.clone(),
            name: match request.interval {
                ContractInterval::Monthly => "Service fee (monthly)".to_owned(),
                ContractInterval::Yearly => "Service fee (yearly)".to_owned(),
            },
            currency: request.amount.currency(),
            interval: match request.interval {
                ContractInterval::Monthly => Interval::Monthly,
                ContractInterval::Yearly => Interval::Yearly,
            },
            billing_time: BillingTime::Anniversary,
            pay_in: if request.in_advance {
                PayIn::Advance
            } else {
                PayIn::Arrears
            },
            recurring_fee: Some(request.amount.amount()),
            minimum_commitment: None,
            charges: Vec::new(),
        };
        let _plan = self.billing.define_plan(&plan, now)?;
        let contract = ServiceContract {
            id,
            customer: customer.external_id.clone(),
            interval: request.interval,
            amount: request.amount,
            starts_on: request.starts_on,
            in_advance: request.in_advance,
            waived_until_stable: request.waived_until_stable,
            plan: code,
            subscription: None,
            charging_from: None,
            created_at: now,
        };
        let contract = self.store.create_contract(self.billing.id()?, &contract)?;
        let standing = self
            .store
            .standing(self.billing.id()?, &customer.external_id)?;
        let tz: Tz = customer
            .timezone
            .parse()
            .map_err(|_| ValidationError::new("timezone", "is not an IANA timezone"))?;
        match (contract.waived_until_stable, standing.stable_since) {
            (false, _) => self.start_charging(&contract, contract.starts_on, now),
            (true, Some(stable)) => {
                let from = first_charged_day(&contract, stable.with_timezone(&tz).date_naive());
                self.start_charging(&contract, from, now)
            }
            (true, None) => Ok(contract),
        }
    }

    fn start_charging(
        &self,
        contract: &ServiceContract,
        from: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<ServiceContract, BillingError> {
        let subscription =
            SubscriptionId::from_random(derived(&[contract.id.as_str(), "subscription"]));
        let _subscription = self.billing.subscribe(
            &SubscribeRequest {
                id: Some(subscription.clone()),
                customer: contract.customer.clone(),
                plan: contract.plan.clone(),
                starts_on: from,
                coupons: Vec::new(),
            },
            now,
        )?;
        Ok(self.store.start_contract_charging(
            self.billing.id()?,
            &contract.id,
            &subscription,
            from,
        )?)
    }

    /// A customer's contracts (every customer's when `None`).
    pub fn contracts(&self, customer: Option<&str>) -> Result<Vec<ServiceContract>, BillingError> {
        Ok(self.store.contracts(self.billing.id()?, customer)?)
    }

    /// Where an account stands.
    pub fn standing(&self, customer: &str) -> Result<AccountStanding, BillingError> {
        Ok(self.store.standing(self.billing.id()?, customer)?)
    }

    /// Marks the customer's applications migrated and stable (the first
    /// mark holds): every contract waived until then charges from its next
    /// period after today.
    pub fn mark_stable(
        &self,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<(AccountStanding, Vec<ServiceContract>), BillingError> {
        let stored = self
            .billing
            .store()
            .get_customer(self.billing.id()?, customer)?
            .ok_or_else(|| not_found("customer", customer))?;
        let tz: Tz = stored
            .timezone
            .parse()
            .map_err(|_| ValidationError::new("timezone", "is not an IANA timezone"))?;
        let mut standing = self.standing(customer)?;
        let stable = *standing.stable_since.get_or_insert(now);
        self.store.put_standing(self.billing.id()?, &standing)?;
        let day = stable.with_timezone(&tz).date_naive();
        let mut started = Vec::new();
        for contract in self.contracts(Some(customer))? {
            if contract.subscription.is_none() {
                let from = first_charged_day(&contract, day);
                started.push(self.start_charging(&contract, from, now)?);
            }
        }
        Ok((standing, started))
    }

    /// Marks the account overdue (dunning gave up) or clears it.
    pub fn set_overdue(
        &self,
        customer: &str,
        overdue_since: Option<DateTime<Utc>>,
    ) -> Result<AccountStanding, BillingError> {
        let mut standing = self.standing(customer)?;
        standing.overdue_since = overdue_since;
        self.store.put_standing(self.billing.id()?, &standing)?;
        Ok(standing)
    }

    /// Reports usage a tenant sends about itself. Events on a prepaid
    /// order's meter are paid from the wallet first, each debited under
    /// its own idempotency key at quantity × sale price (rounded half up
    /// to 6 places): an event whose debit would cross the wallet's floor is
    /// refused (`insufficient_balance`) and not recorded, and its order is
    /// suspended; a suspended order's usage is refused until a top-up
    /// resumes it. Everything else is [`Billing::ingest_own`].
    pub fn report_usage(
        &self,
        batch: &[Value],
        customer: &str,
        timezone: &str,
        now: DateTime<Utc>,
    ) -> Result<UsageOutcome, BillingError> {
        let issuer = self.billing.id()?.clone();
        let late_window =
            chrono::Duration::days(i64::from(self.billing.issuer()?.late_window_days));
        let meters = self.billing.meters()?;
        let mut orders: HashMap<String, Option<Order>> = HashMap::new();
        let mut refused: BTreeMap<usize, EventError> = BTreeMap::new();
        let mut signals = Vec::new();
        for (index, raw) in batch.iter().enumerate() {
            let Some(meter) = raw.get("meter").and_then(Value::as_str) else {
                continue;
            };
            if !meter.starts_with(OrderId::PREFIX) {
                continue;
            }
            if !orders.contains_key(meter) {
                orders.insert(meter.to_owned(), self.store.order_by_meter(&issuer, meter)?);
            }
            let Some(Some(order)) = orders.get(meter).cloned() else {
                continue;
            };
            if order.payment_mode != PaymentMode::Prepaid || order.customer != customer {
                continue;
            }
            // Malformed events are left to the engine, which names the field.
            let Ok(input) = serde_json::from_value::<UsageEventInput>(raw.clone()) else {
                continue;
            };
            let Ok(event) = events::check_event(&input, &meters, late_window, now) else {
                continue;
            };
            let quantity = event.value.unwrap_or(Decimal::ZERO);
            let amount = quantity
                .checked_mul(order.price.sale.amount())
                .ok_or_else(overflow)?
                .round_dp_with_strategy(PRICE_PLACES, RoundingStrategy::MidpointAwayFromZero);
            if amount <= Decimal::ZERO {
                continue;
            }
            if order.suspended {
                refused.insert(index, suspended_error(&order));
                continue;
            }
            let debit = NewDebit {
                transaction: WalletTransactionId::from_random(derived(&[
                    issuer.as_str(),
                    "usage",
                    &event.idempotency_key,
                ])),
                customer: customer.to_owned(),
                amount: Money::new(amount, order.price.sale.currency()),
                key: format!("usage:{}", event.idempotency_key),
                subscription: Some(order.subscription.clone()),
                description: format!("{} × {}", quantity, order.title),
                at: now,
            };
            match self.wallets.debit_wallet(&issuer, &debit) {
                Ok(Outcome::Applied(debited)) => {
                    signals.extend(self.after_debit(customer, &debit, &debited)?);
                }
                Ok(Outcome::Replayed(_)) => {}
                // The engine answers the reused key as a conflict.
                Err(StoreError::IdempotencyConflict { .. }) => {}
                Err(StoreError::InsufficientBalance { .. }) => {
                    let mut suspended = order.clone();
                    suspended.suspended = true;
                    suspended.updated_at = now;
                    let stored = self.store.update_order(&issuer, &suspended)?;
                    signals.push(WalletSignal::Suspended {
                        order: stored.id.clone(),
                    });
                    refused.insert(index, suspended_error(&stored));
                    orders.insert(meter.to_owned(), Some(stored));
                }
                Err(other) => return Err(other.into()),
            }
        }
        let kept: Vec<Value> = batch
            .iter()
            .enumerate()
            .filter(|(i, _)| !refused.contains_key(i))
            .map(|(_, e)| e.clone())
            .collect();
        let mut ingested = if kept.is_empty() {
            Vec::new().into_iter()
        } else {
            self.billing
                .ingest_own(&kept, customer, timezone, now)?
                .results
                .into_iter()
        };
        let mut report = IngestReport::default();
        for (index, raw) in batch.iter().enumerate() {
            let result = match refused.remove(&index) {
                Some(error) => Some(EventResult {
                    index,
                    idempotency_key: raw
                        .get("idempotency_key")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    status: EventStatus::Rejected,
                    error: Some(error),
                }),
                None => ingested.next().map(|r| EventResult { index, ..r }),
            };
            report.extend(result);
        }
        Ok(UsageOutcome { report, signals })
    }

    fn after_debit(
        &self,
        customer: &str,
        debit: &NewDebit,
        debited: &shiyun_core::billing::wallet::Debited,
    ) -> Result<Vec<WalletSignal>, BillingError> {
        let mut signals = Vec::new();
        let currency = debit.amount.currency();
        let Some(wallet) = self
            .wallets
            .get_wallet(self.billing.id()?, customer, currency)?
        else {
            return Ok(signals);
        };
        let before = debited.balance_before.amount();
        let after = debited.balance_after.amount();
        if let Some(threshold) = wallet.settings.low_balance_threshold
            && before >= threshold
            && after < threshold
        {
            signals.push(WalletSignal::LowBalance {
                customer: customer.to_owned(),
                balance: debited.balance_after,
                threshold: Money::new(threshold, currency),
            });
        }
        if let Some(auto) = &wallet.settings.auto_top_up
            && let shiyun_core::billing::wallet::AutoTopUpTrigger::Threshold { below } =
                &auto.trigger
            && before >= *below
            && after < *below
        {
            let amount = auto.amount_for(after);
            if amount > Decimal::ZERO {
                signals.push(WalletSignal::AutoTopUp {
                    customer: customer.to_owned(),
                    amount: Money::new(amount, currency),
                    key: format!("auto-top-up:{}", debited.transaction),
                });
            }
        }
        Ok(signals)
    }

    /// Resumes the customer's orders suspended for want of funds whose
    /// wallet now holds more than its floor (call after a top-up).
    pub fn resume_funded(
        &self,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Order>, BillingError> {
        let issuer = self.billing.id()?.clone();
        let mut resumed = Vec::new();
        for order in self.orders(Some(customer))? {
            if !order.suspended {
                continue;
            }
            let currency = order.price.sale.currency();
            let funded = self
                .wallets
                .get_wallet(&issuer, customer, currency)?
                .is_some_and(|w| w.balance.amount() > w.settings.floor);
            if funded {
                let mut next = order.clone();
                next.suspended = false;
                next.updated_at = now;
                resumed.push(self.store.update_order(&issuer, &next)?);
            }
        }
        Ok(resumed)
    }

    /// Gross margin by vendor and category over the resale lines of issued
    /// (finalised or paid) invoices whose period ends in `[from, to)`.
    pub fn margin_report(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<MarginRow>, BillingError> {
        let issuer = self.billing.id()?.clone();
        let mut rows: BTreeMap<(String, String, String), MarginRow> = BTreeMap::new();
        for status in [InvoiceStatus::Finalized, InvoiceStatus::Paid] {
            let filter = InvoiceFilter {
                customer: None,
                status: Some(status),
                from,
                to,
            };
            let mut page = PageAfter {
                after: None,
                limit: 500,
            };
            loop {
                let invoices = self
                    .billing
                    .store()
                    .list_invoices(&issuer, &filter, &page)?;
                let Some(last) = invoices.last() else {
                    break;
                };
                page.after = Some(last.id.as_str().to_owned());
                for invoice in &invoices {
                    for line in &invoice.lines {
                        let Some(resale) = line.detail.get("resale") else {
                            continue;
                        };
                        let text = |name: &str| {
                            resale
                                .get(name)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let number = |name: &str| -> Result<Decimal, BillingError> {
                            shiyun_core::money::parse_decimal(&text(name)).map_err(|_| {
                                BillingError::Conflict(format!(
                                    "invoice {} line {} has no readable `{name}`",
                                    invoice.id, line.position
                                ))
                            })
                        };
                        let key = (
                            text("vendor"),
                            text("category"),
                            invoice.currency.code().to_owned(),
                        );
                        let row = rows.entry(key).or_insert_with(|| MarginRow {
                            vendor: text("vendor"),
                            category: text("category"),
                            currency: invoice.currency,
                            lines: 0,
                            quantity: Decimal::ZERO,
                            cost: Decimal::ZERO,
                            margin: Decimal::ZERO,
                            sale: Decimal::ZERO,
                            margin_percent: None,
                        });
                        row.lines += 1;
                        row.quantity += line.quantity;
                        row.cost += number("cost")?;
                        row.margin += number("margin")?;
                        row.sale += line.amount;
                    }
                }
                if invoices.len() < 500 {
                    break;
                }
            }
        }
        Ok(rows
            .into_values()
            .map(|mut row| {
                if !row.sale.is_zero() {
                    row.margin_percent = Some(
                        (row.margin * Decimal::ONE_HUNDRED / row.sale)
                            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
                    );
                }
                row
            })
            .collect())
    }
}

fn suspended_error(order: &Order) -> EventError {
    EventError {
        code: ErrorCode::InsufficientBalance,
        field: Some("meter".into()),
        message: format!(
            "order `{}` is suspended: its wallet has reached its floor; top it up to resume",
            order.id
        ),
    }
}

/// The first day a waived contract charges once the account is stable on
/// `stable_day`: its start if that is later, else the first period start
/// after that day.
pub fn first_charged_day(contract: &ServiceContract, stable_day: NaiveDate) -> NaiveDate {
    if stable_day < contract.starts_on {
        return contract.starts_on;
    }
    let months = match contract.interval {
        ContractInterval::Monthly => 1,
        ContractInterval::Yearly => 12,
    };
    let mut k = 1u32;
    loop {
        let Some(start) = add_months_clamped(contract.starts_on, months * k) else {
            return stable_day;
        };
        if start > stable_day {
            return start;
        }
        k += 1;
    }
}

/// `day` plus `months`, on the same day of month or the month's last day.
fn add_months_clamped(day: NaiveDate, months: u32) -> Option<NaiveDate> {
    let shifted = day.checked_add_months(Months::new(months))?;
    debug_assert!(shifted.day() <= day.day());
    Some(shifted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn rule(id: u8, scope: MarginScope, percent: Decimal) -> MarginRule {
        MarginRule {
            id: MarginRuleId::from_random([id; 16]),
            scope,
            markup: Markup::Percent { percent },
            active: true,
            created_at: DateTime::from_timestamp(1_800_000_000 + i64::from(id), 0)
                .unwrap_or_default(),
        }
    }

    fn target() -> MarginTarget {
        MarginTarget {
            vendor: "alibaba".into(),
            category: "compute".into(),
            listing: "alibaba:ecs.g7.large".into(),
            customer: "acc_1".into(),
        }
    }

    fn cost(amount: Decimal, currency: Currency) -> UnitCost {
        UnitCost {
            unit: "hour".into(),
            cost: Money::new(amount, currency),
            list: None,
        }
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let vendor = rule(
            1,
            MarginScope {
                vendor: Some("alibaba".into()),
                ..MarginScope::default()
            },
            dec!(10),
        );
        let listing = rule(
            2,
            MarginScope {
                listing: Some("alibaba:ecs.g7.large".into()),
                ..MarginScope::default()
            },
            dec!(5),
        );
        let other = rule(
            3,
            MarginScope {
                customer: Some("acc_2".into()),
                ..MarginScope::default()
            },
            dec!(1),
        );
        let rules = vec![vendor.clone(), listing.clone(), other];
        assert_eq!(choose_rule(&rules, &target()), Some(&listing));
        assert_eq!(choose_rule(&rules[..1], &target()), Some(&vendor));
        assert_eq!(choose_rule(&rules[2..], &target()), None);
    }

    #[test]
    fn sale_is_cost_converted_plus_margin_rounded_up() {
        let fx = FxTable::new(
            vec![shiyun_core::fx::FxRate {
                from: Currency::USD,
                to: Currency::CNY,
                rate: dec!(7.1234),
            }],
            None,
        )
        .unwrap_or_else(|_| FxTable::default());
        let r = rule(1, MarginScope::default(), dec!(12.5));
        let snapshot = quote(
            &cost(dec!(0.0333), Currency::USD),
            Currency::CNY,
            &fx,
            Some(&r),
            dec!(2),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(snapshot.fx_rate, Some(dec!(7.1234)));
        assert_eq!(snapshot.cost_converted.amount(), dec!(0.23720922));
        // 0.23720922 × 1.125 = 0.2668603725 → up to 0.266861
        assert_eq!(snapshot.sale.amount(), dec!(0.266861));
        assert_eq!(
            snapshot.cost_converted.amount() + snapshot.margin.amount(),
            snapshot.sale.amount()
        );
        let none = quote(
            &cost(dec!(1), Currency::EUR),
            Currency::CNY,
            &fx,
            None,
            Decimal::ZERO,
        );
        assert!(none.is_err());
    }

    #[test]
    fn the_floor_holds_without_a_rule() {
        let snapshot = quote(
            &cost(dec!(3), Currency::CNY),
            Currency::CNY,
            &FxTable::default(),
            None,
            dec!(5),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(snapshot.sale.amount(), dec!(3.15));
        assert_eq!(snapshot.margin_rule, None);
    }

    #[test]
    fn waived_contracts_charge_from_the_next_period_after_stable() {
        let contract = ServiceContract {
            id: ContractId::from_random([1; 16]),
            customer: "acc_1".into(),
            interval: ContractInterval::Monthly,
            amount: Money::new(dec!(100), Currency::CNY),
            starts_on: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap_or_default(),
            in_advance: true,
            waived_until_stable: true,
            plan: "ctr_x".into(),
            subscription: None,
            charging_from: None,
            created_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
        };
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default();
        assert_eq!(first_charged_day(&contract, day(1, 1)), day(1, 31));
        assert_eq!(first_charged_day(&contract, day(1, 31)), day(2, 28));
        assert_eq!(first_charged_day(&contract, day(3, 15)), day(3, 31));
        let yearly = ServiceContract {
            interval: ContractInterval::Yearly,
            ..contract
        };
        assert_eq!(
            first_charged_day(&yearly, day(6, 1)),
            NaiveDate::from_ymd_opt(2027, 1, 31).unwrap_or_default()
        );
    }
}
