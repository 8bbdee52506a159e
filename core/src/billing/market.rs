//! Marketplace money: margin rules, orders of listings with their price
//! snapshot, customers' own (bring-your-own) resources, service-fee
//! contracts and the account states billing follows (stable, overdue).

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{IssuerId, SubscriptionId};
use crate::error::ValidationError;
use crate::money::Money;
use crate::store::{Outcome, StoreResult};
use crate::tenancy::ids::prefixed_id;

prefixed_id!(
    /// A margin rule.
    MarginRuleId, "mr", "margin_rule_id", "^mr_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// An order of a listing.
    OrderId, "ord", "order_id", "^ord_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A resource the customer bought elsewhere and brings to the platform.
    OwnResourceId, "byo", "resource_id", "^byo_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A service-fee contract.
    ContractId, "ctr", "contract_id", "^ctr_[0-9a-z]{1,40}$"
);

/// What a margin rule applies to: every field given must match; none given
/// applies to everything.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MarginScope {
    /// A vendor id (`alibaba`).
    pub vendor: Option<String>,
    /// A listing category (`compute`).
    pub category: Option<String>,
    /// One listing id.
    pub listing: Option<String>,
    /// One customer (external id).
    pub customer: Option<String>,
}

impl MarginScope {
    /// How specific the scope is: a customer outweighs a listing, which
    /// outweighs a category, which outweighs a vendor (each is a bit, so
    /// any combination ranks strictly).
    pub fn specificity(&self) -> u8 {
        u8::from(self.vendor.is_some())
            | (u8::from(self.category.is_some()) << 1)
            | (u8::from(self.listing.is_some()) << 2)
            | (u8::from(self.customer.is_some()) << 3)
    }

    /// Whether the rule applies to this purchase.
    pub fn matches(&self, target: &MarginTarget) -> bool {
        fn ok(rule: &Option<String>, value: &str) -> bool {
            rule.as_deref().is_none_or(|r| r == value)
        }
        ok(&self.vendor, &target.vendor)
            && ok(&self.category, &target.category)
            && ok(&self.listing, &target.listing)
            && ok(&self.customer, &target.customer)
    }
}

/// The purchase a margin rule is chosen for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarginTarget {
    /// The listing's vendor.
    pub vendor: String,
    /// The listing's category.
    pub category: String,
    /// The listing.
    pub listing: String,
    /// The buying customer.
    pub customer: String,
}

/// How a rule marks cost up.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Markup {
    /// A percentage of the unit cost (`12.5` is 12.5 %), 0–1000.
    Percent {
        /// The percentage (decimal string).
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        percent: Decimal,
    },
    /// A fixed amount per unit, in the sale currency.
    FixedPerUnit {
        /// The amount and currency.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        amount: Money,
    },
}

/// A cost-plus margin rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarginRule {
    /// Its id.
    pub id: MarginRuleId,
    /// What it applies to.
    pub scope: MarginScope,
    /// The markup.
    pub markup: Markup,
    /// Active or retired (retired rules are kept for the orders that used them).
    pub active: bool,
    /// When created (newer wins between equally specific rules).
    pub created_at: DateTime<Utc>,
}

/// How an order is paid.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMode {
    /// On demand, invoiced after each period.
    Postpaid,
    /// Paid from the wallet as usage arrives.
    Prepaid,
}

impl PaymentMode {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMode::Postpaid => "postpaid",
            PaymentMode::Prepaid => "prepaid",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text {
            "postpaid" => Ok(PaymentMode::Postpaid),
            "prepaid" => Ok(PaymentMode::Prepaid),
            _ => Err(ValidationError::new(
                "payment_mode",
                "must be `postpaid` or `prepaid`",
            )),
        }
    }
}

/// Provisioning at the vendor (done outside the platform; operators move it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningState {
    /// Ordered, not yet running.
    Pending,
    /// Running at the vendor.
    Active,
    /// The vendor could not provision it.
    Failed,
    /// Given up or ended.
    Cancelled,
}

impl ProvisioningState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisioningState::Pending => "pending",
            ProvisioningState::Active => "active",
            ProvisioningState::Failed => "failed",
            ProvisioningState::Cancelled => "cancelled",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        [
            ProvisioningState::Pending,
            ProvisioningState::Active,
            ProvisioningState::Failed,
            ProvisioningState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| {
            ValidationError::new(
                "state",
                "must be `pending`, `active`, `failed` or `cancelled`",
            )
        })
    }

    /// Whether an operator may move an order from `self` to `next`.
    pub fn can_move_to(self, next: ProvisioningState) -> bool {
        use ProvisioningState::*;
        matches!(
            (self, next),
            (Pending, Active) | (Pending, Failed) | (Pending, Cancelled) | (Active, Cancelled)
        )
    }
}

/// The price an order was bought at, fixed when it was placed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSnapshot {
    /// The priced unit (`hour`, `gb_month`, …), as the listing names it.
    pub unit: String,
    /// The vendor's cost per unit, in the vendor's currency.
    pub cost: Money,
    /// The vendor's list price per unit, when the listing has one.
    pub list: Option<Money>,
    /// The FX rate used (units of the sale currency per unit of the cost
    /// currency, exact decimal string), when they differ.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub fx_rate: Option<Decimal>,
    /// When the FX table used was published.
    pub fx_as_of: Option<DateTime<Utc>>,
    /// Cost per unit in the sale currency (cost × rate, exact).
    pub cost_converted: Money,
    /// The rule applied (none: the floor alone).
    pub margin_rule: Option<MarginRuleId>,
    /// The margin per unit.
    pub margin: Money,
    /// The sale price per unit: cost_converted + margin, rounded up to
    /// 6 places, never below cost_converted + the minimum margin.
    pub sale: Money,
}

/// An order of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: OrderId,
    /// The buying customer (the tenant's external id).
    pub customer: String,
    /// The caller's idempotency key (unique per customer).
    pub key: String,
    /// The listing bought.
    pub listing: String,
    /// The listing's vendor.
    pub vendor: String,
    /// The listing's category.
    pub category: String,
    /// The listing's name at order time.
    pub title: String,
    /// The listing's region, if any.
    pub region: Option<String>,
    /// How many (instances, GB…): usage is per unit of the listing's price.
    pub quantity: Decimal,
    /// Postpaid or prepaid.
    pub payment_mode: PaymentMode,
    /// For prepaid orders: the term in months (none: until cancelled).
    pub term_months: Option<u32>,
    /// The price snapshot.
    pub price: PriceSnapshot,
    /// The meter its usage is reported on (one per order).
    pub meter: String,
    /// The plan it is billed with (one per order).
    pub plan: String,
    /// The billing subscription.
    pub subscription: SubscriptionId,
    /// Provisioning at the vendor.
    pub provisioning: ProvisioningState,
    /// Suspended because its wallet reached the floor.
    pub suspended: bool,
    /// Grows with every change.
    pub version: i64,
    /// When placed.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// A resource the customer bought elsewhere: managed and metered, never resold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnResource {
    /// Its id.
    pub id: OwnResourceId,
    /// The owning customer.
    pub customer: String,
    /// The vendor it was bought from (`aws`, or any partner's name).
    pub vendor: String,
    /// The vendor's own id of the resource (`i-0abc…`); unique per customer and vendor.
    pub vendor_resource_id: String,
    /// Its region code, if any.
    pub region: Option<String>,
    /// The catalog listing it matches, if any.
    pub listing: Option<String>,
    /// A name for people.
    pub name: String,
    /// The meter its usage is reported on (one per resource).
    pub meter: String,
    /// When registered.
    pub created_at: DateTime<Utc>,
}

/// How often a contract charges.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractInterval {
    /// Every month from the start date.
    Monthly,
    /// Every year from the start date.
    Yearly,
}

/// A service-fee contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceContract {
    /// Its id.
    pub id: ContractId,
    /// The customer.
    pub customer: String,
    /// Monthly or yearly.
    pub interval: ContractInterval,
    /// The fee per period.
    pub amount: Money,
    /// First day of the contract (customer's timezone).
    pub starts_on: NaiveDate,
    /// Charged in advance (the default) or in arrears.
    pub in_advance: bool,
    /// Free until the account is marked stable.
    pub waived_until_stable: bool,
    /// The plan it is billed with.
    pub plan: String,
    /// The billing subscription, once charging has started.
    pub subscription: Option<SubscriptionId>,
    /// First day charged (none: not yet).
    pub charging_from: Option<NaiveDate>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// Where an account stands for the marketplace.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStanding {
    /// The customer.
    pub customer: String,
    /// When the customer's applications were marked migrated and stable.
    pub stable_since: Option<DateTime<Utc>>,
    /// When the last dunning retry failed (an overdue account).
    pub overdue_since: Option<DateTime<Utc>>,
}

/// Marketplace storage.
pub trait MarketStore: Send + Sync {
    /// Stores a margin rule.
    fn create_margin_rule(&self, issuer: &IssuerId, rule: &MarginRule) -> StoreResult<MarginRule>;

    /// Retires a rule (kept for the orders that name it).
    fn retire_margin_rule(
        &self,
        issuer: &IssuerId,
        rule: &MarginRuleId,
        at: DateTime<Utc>,
    ) -> StoreResult<MarginRule>;

    /// Every rule (active and retired), oldest first.
    fn margin_rules(&self, issuer: &IssuerId) -> StoreResult<Vec<MarginRule>>;

    /// Stores an order. The same customer and key again is
    /// [`Outcome::Replayed`] with the stored order (whatever the body).
    fn create_order(&self, issuer: &IssuerId, order: &Order) -> StoreResult<Outcome<Order>>;

    /// One order.
    fn get_order(&self, issuer: &IssuerId, order: &OrderId) -> StoreResult<Option<Order>>;

    /// The order billed on this meter, if any.
    fn order_by_meter(&self, issuer: &IssuerId, meter: &str) -> StoreResult<Option<Order>>;

    /// A customer's orders (every customer's when `None`), newest first.
    fn list_orders(&self, issuer: &IssuerId, customer: Option<&str>) -> StoreResult<Vec<Order>>;

    /// Replaces provisioning and suspension if the stored version is
    /// `order.version` (which then grows by one); else `StoreError::Conflict`.
    fn update_order(&self, issuer: &IssuerId, order: &Order) -> StoreResult<Order>;

    /// Registers an own resource. The same customer, vendor and vendor
    /// resource id again is [`Outcome::Replayed`].
    fn create_own_resource(
        &self,
        issuer: &IssuerId,
        resource: &OwnResource,
    ) -> StoreResult<Outcome<OwnResource>>;

    /// A customer's own resources, oldest first.
    fn own_resources(&self, issuer: &IssuerId, customer: &str) -> StoreResult<Vec<OwnResource>>;

    /// Stores a contract.
    fn create_contract(
        &self,
        issuer: &IssuerId,
        contract: &ServiceContract,
    ) -> StoreResult<ServiceContract>;

    /// A customer's contracts (every customer's when `None`), oldest first.
    fn contracts(
        &self,
        issuer: &IssuerId,
        customer: Option<&str>,
    ) -> StoreResult<Vec<ServiceContract>>;

    /// Records that a contract's charging started with this subscription.
    fn start_contract_charging(
        &self,
        issuer: &IssuerId,
        contract: &ContractId,
        subscription: &SubscriptionId,
        from: NaiveDate,
    ) -> StoreResult<ServiceContract>;

    /// The account's standing (a blank one if never set).
    fn standing(&self, issuer: &IssuerId, customer: &str) -> StoreResult<AccountStanding>;

    /// Stores the account's standing.
    fn put_standing(&self, issuer: &IssuerId, standing: &AccountStanding) -> StoreResult<()>;
}
