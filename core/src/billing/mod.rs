//! Billing's records and its store contract.
//!
//! The rules (rating, periods, proration, bill runs) live in `shiyun-billing`;
//! this module holds what both that crate and the store must agree on: ids,
//! the stored shapes, and [`BillingStore`], whose every call takes the
//! [`IssuerId`] so one issuer never sees another's data.
//!
//! Amounts and quantities cross the store as [`Decimal`]; the store keeps
//! them as [`scaled`] integers, refusing what does not fit.

pub mod market;
pub mod payments;
pub mod scaled;
mod store;
pub mod wallet;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::money::{Currency, Money};
use crate::tenancy::ids::prefixed_id;

pub use store::*;

prefixed_id!(
    /// A billing issuer: who bills customers and numbers invoices.
    IssuerId, "iss", "issuer", "^iss_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A customer of one issuer.
    CustomerId, "cus", "customer_id", "^cus_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A subscription of a customer to a plan.
    SubscriptionId, "sub", "subscription_id", "^sub_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// An invoice (draft or issued).
    InvoiceId, "in", "invoice_id", "^in_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A credit note: a correction of a finalised invoice.
    CreditNoteId, "cn", "credit_note_id", "^cn_[0-9a-z]{1,40}$"
);

impl IssuerId {
    /// The marketplace itself, the default issuer.
    pub fn marketplace() -> Self {
        IssuerId("iss_marketplace".to_owned())
    }
}

/// Checks a code (meter, plan): 1–64 of `a-z 0-9 _ - .`, starting with a letter or digit.
pub fn check_code(code: &str, field: &str) -> Result<(), ValidationError> {
    let ok = (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b))
        && code
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be 1-64 of a-z, 0-9, `_`, `-`, `.`, starting with a letter or digit",
        ))
    }
}

/// An issuer and its invoicing settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    /// Its id.
    pub id: IssuerId,
    /// Its name, printed on invoices.
    pub name: String,
    /// Prefix of its invoice numbers (`SY` gives `SY-000001`).
    pub invoice_prefix: String,
    /// How long an invoice stays a draft after its period ends, in hours.
    pub grace_period_hours: u32,
    /// How late a usage event may arrive, in days after its timestamp.
    pub late_window_days: u32,
}

/// A customer of an issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The store's id.
    pub id: CustomerId,
    /// The issuer's own id for it (for the marketplace, the tenant id
    /// `acc_…`/`ent_…`); unique per issuer.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// IANA timezone name (`Asia/Shanghai`); periods start at local midnight.
    pub timezone: String,
    /// Tax rate as a fraction (`0.06` for 6 %).
    pub tax_rate: Decimal,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A customer to create or update (keyed by its external id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInput {
    /// The issuer's own id for it.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// IANA timezone name.
    pub timezone: String,
    /// Tax rate as a fraction.
    pub tax_rate: Decimal,
}

/// How a meter turns events into one quantity per period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Number of events.
    Count,
    /// Sum of the property.
    Sum,
    /// Largest value of the property.
    Max,
    /// Number of distinct values of the property.
    UniqueCount,
    /// The value of the last event (by timestamp) in the period.
    Latest,
    /// A gauge integrated over time: each value holds until the next event,
    /// summed as value × seconds (GB-seconds).
    WeightedSum,
}

impl Aggregation {
    /// The stored and JSON text.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Count => "count",
            Aggregation::Sum => "sum",
            Aggregation::Max => "max",
            Aggregation::UniqueCount => "unique_count",
            Aggregation::Latest => "latest",
            Aggregation::WeightedSum => "weighted_sum",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        [
            Aggregation::Count,
            Aggregation::Sum,
            Aggregation::Max,
            Aggregation::UniqueCount,
            Aggregation::Latest,
            Aggregation::WeightedSum,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
        .ok_or_else(|| ValidationError::new("aggregation", format!("unknown aggregation `{text}`")))
    }

    /// Whether events must carry the meter's property (all but `count`).
    pub fn reads_property(self) -> bool {
        self != Aggregation::Count
    }
}

/// A meter: what usage events of one code measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meter {
    /// Its code, unique per issuer; events name it.
    pub code: String,
    /// Display name.
    pub name: String,
    /// How events add up.
    pub aggregation: Aggregation,
    /// The event property read (absent for `count`).
    pub property: Option<String>,
}

/// A usage event checked against its meter, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsageEvent {
    /// Unique per issuer; the first accepted event with a key wins.
    pub idempotency_key: String,
    /// The customer's external id.
    pub customer: String,
    /// The meter's code.
    pub meter: String,
    /// When the usage happened.
    pub timestamp: DateTime<Utc>,
    /// The meter's property as a number (`None` for `count` and `unique_count`).
    pub value: Option<Decimal>,
    /// The meter's property as text, for `unique_count`.
    pub distinct_value: Option<String>,
    /// The event's properties as JSON text, kept for exports.
    pub properties: String,
    /// SHA-256 (hex) of the canonical payload: the same key with another
    /// hash is a conflict.
    pub payload_hash: String,
}

/// What became of one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestOutcome {
    /// Stored now.
    Accepted,
    /// Stored before with the same payload; not counted again.
    Duplicate,
    /// The key was used before with another payload; the first one stands.
    Conflict,
    /// The customer is not one of the issuer's.
    UnknownCustomer,
}

/// One stored usage event, as exports read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUsageEvent {
    /// Its idempotency key.
    pub idempotency_key: String,
    /// The customer's external id.
    pub customer: String,
    /// The meter's code.
    pub meter: String,
    /// When the usage happened.
    pub timestamp: DateTime<Utc>,
    /// The numeric value read, if any.
    pub value: Option<Decimal>,
    /// The properties as JSON text.
    pub properties: String,
    /// When it was accepted.
    pub received_at: DateTime<Utc>,
    /// The ingest batch it came in (the watermark unit).
    pub batch: i64,
}

/// Which events an aggregate covers: timestamps in `[from, to)`, accepted
/// in batches `(after_batch, up_to_batch]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageWindow {
    /// Inclusive start of event time.
    pub from: DateTime<Utc>,
    /// Exclusive end of event time.
    pub to: DateTime<Utc>,
    /// Only batches after this one (0: from the first).
    pub after_batch: i64,
    /// Only batches up to this one (a watermark).
    pub up_to_batch: i64,
    /// One customer (external id), or every customer.
    pub customer: Option<String>,
}

/// One customer's events of one meter in a [`UsageWindow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageAggregate {
    /// The customer's external id.
    pub customer: String,
    /// The meter's code.
    pub meter: String,
    /// Number of events.
    pub count: u64,
    /// Sum of values.
    pub sum: Decimal,
    /// Largest value (`None` without values).
    pub max: Option<Decimal>,
    /// Number of distinct values.
    pub distinct: u64,
    /// The value of the last event by timestamp (ties: later batch, then key).
    pub latest: Option<Decimal>,
}

/// One (timestamp, value) point of a gauge, ordered by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePoint {
    /// When.
    pub timestamp: DateTime<Utc>,
    /// The gauge value from then on.
    pub value: Decimal,
}

/// A plan as the store keeps it: the billing crate's JSON, immutable once
/// created (new prices are a new code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPlan {
    /// Its code, unique per issuer.
    pub code: String,
    /// Its currency.
    pub currency: Currency,
    /// The plan JSON, as the billing crate wrote it.
    pub body: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One stretch of a subscription on one plan, from a local date on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPhase {
    /// The plan's code.
    pub plan: String,
    /// First day (in the customer's timezone) on this plan.
    pub starts_on: NaiveDate,
}

/// A subscription's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Billed at every period end.
    Active,
    /// Ended: billed up to its end date, then no more.
    Cancelled,
}

/// A customer's subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// The customer's external id.
    pub customer: String,
    /// The plans in force, in order of `starts_on`; the first starts the subscription.
    pub phases: Vec<PlanPhase>,
    /// Last day in force (cancellation), if any.
    pub ends_on: Option<NaiveDate>,
    /// State.
    pub status: SubscriptionStatus,
    /// Coupons, as the billing crate's JSON.
    pub coupons: String,
    /// Start of the next period to invoice (UTC instant).
    pub next_period_start: DateTime<Utc>,
    /// End of the next period to invoice; the bill run closes it once past.
    pub next_period_end: DateTime<Utc>,
    /// Grows by one with every change; updates name the version they read.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An invoice's state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// May still change until its grace period ends.
    Draft,
    /// Numbered and never changed again.
    Finalized,
    /// Paid in full.
    Paid,
    /// Cancelled after finalisation (a credit note carries the correction).
    Voided,
}

impl InvoiceStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Finalized => "finalized",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Voided => "voided",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        [
            InvoiceStatus::Draft,
            InvoiceStatus::Finalized,
            InvoiceStatus::Paid,
            InvoiceStatus::Voided,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| ValidationError::new("status", format!("unknown invoice status `{text}`")))
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of an invoice: already rounded to the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// Position on the invoice, from 0.
    pub position: u32,
    /// What kind of charge (`recurring_fee`, `usage`, `minimum_commitment`,
    /// `adjustment`).
    pub kind: String,
    /// Human text.
    pub description: String,
    /// The meter, for usage and adjustment lines.
    pub meter: Option<String>,
    /// The plan the line was rated with.
    pub plan: Option<String>,
    /// Quantity rated (units of the meter, or days for a prorated fee).
    pub quantity: Decimal,
    /// Amount, rounded once to the minor unit.
    pub amount: Decimal,
    /// Start of the stretch the line covers.
    pub period_start: DateTime<Utc>,
    /// End of the stretch the line covers.
    pub period_end: DateTime<Utc>,
    /// For an adjustment: the invoice and line position it corrects.
    pub adjusts: Option<LineRef>,
    /// How the amount came about (tiers applied, proration), as JSON.
    pub detail: serde_json::Value,
}

/// A reference to one line of one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRef {
    /// The invoice.
    pub invoice: InvoiceId,
    /// The line's position on it.
    pub position: u32,
}

/// An invoice's amounts, each rounded to the minor unit:
/// `total = subtotal − discount + tax − credit_notes − prepaid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTotals {
    /// Sum of the lines.
    pub subtotal: Money,
    /// Coupons.
    pub discount: Money,
    /// Tax on `subtotal − discount`.
    pub tax: Money,
    /// Open credit-note balance applied.
    pub credit_notes: Money,
    /// Prepaid credit applied.
    pub prepaid: Money,
    /// What the customer owes.
    pub total: Money,
}

/// An invoice with its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Its id.
    pub id: InvoiceId,
    /// The issuer.
    pub issuer: IssuerId,
    /// The customer's external id.
    pub customer: String,
    /// The subscription it bills.
    pub subscription: Option<SubscriptionId>,
    /// Gapless per issuer, set at finalisation (`SY-000042`).
    pub number: Option<String>,
    /// State.
    pub status: InvoiceStatus,
    /// Currency of every amount.
    pub currency: Currency,
    /// Start of the billed period.
    pub period_start: DateTime<Utc>,
    /// End of the billed period.
    pub period_end: DateTime<Utc>,
    /// The usage watermark (last ingest batch) the lines were rated up to.
    pub usage_batch: i64,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// The amounts.
    pub totals: InvoiceTotals,
    /// When created (as a draft).
    pub created_at: DateTime<Utc>,
    /// When finalised.
    pub finalized_at: Option<DateTime<Utc>>,
    /// When paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// When voided.
    pub voided_at: Option<DateTime<Utc>>,
}

/// A draft to store, closing one period of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvoice {
    /// Its id (drawn by the caller).
    pub id: InvoiceId,
    /// The customer's external id.
    pub customer: String,
    /// The subscription; the store moves its next period on atomically.
    pub subscription: SubscriptionId,
    /// The subscription version the draft was computed from.
    pub subscription_version: i64,
    /// The currency.
    pub currency: Currency,
    /// The billed period.
    pub period_start: DateTime<Utc>,
    /// End of the billed period.
    pub period_end: DateTime<Utc>,
    /// The subscription's next period after this one (`None` when it ended).
    pub next_period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The usage watermark.
    pub usage_batch: i64,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// Subtotal, discount and tax; balances are applied at finalisation.
    pub subtotal: Decimal,
    /// Coupons.
    pub discount: Decimal,
    /// Tax.
    pub tax: Decimal,
    /// When.
    pub at: DateTime<Utc>,
}

/// A draft's content recomputed at finalisation (late usage within the
/// grace period, a changed plan), replacing what the draft held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalContent {
    /// The usage watermark.
    pub usage_batch: i64,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// Sum of the lines.
    pub subtotal: Decimal,
    /// Coupons.
    pub discount: Decimal,
    /// Tax.
    pub tax: Decimal,
}

/// A credit note: corrects a finalised invoice; its amount is a balance the
/// customer's next invoices use up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditNote {
    /// Its id.
    pub id: CreditNoteId,
    /// The invoice corrected.
    pub invoice: InvoiceId,
    /// The customer's external id.
    pub customer: String,
    /// Amount credited.
    pub amount: Money,
    /// Not yet applied to a later invoice.
    pub remaining: Money,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A payment recorded against an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Provider's reference (bank transfer number); unique per issuer.
    pub reference: String,
    /// Amount paid; must equal the invoice total.
    pub amount: Money,
    /// When.
    pub at: DateTime<Utc>,
}

/// One entry of the billing audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the issuer's chain, from 1.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// What happened (`invoice.drafted`, `invoice.finalized`, …).
    pub action: String,
    /// The id acted on.
    pub subject: String,
    /// Details as canonical JSON text.
    pub payload: String,
    /// The previous entry's hash (64 zeros for the first).
    pub prev_hash: String,
    /// This entry's hash: [`audit_hash`] of the fields above.
    pub hash: String,
}

/// The hash chaining audit entries: SHA-256 over the previous hash and the
/// entry's fields, each length-prefixed so no two field lists collide.
pub fn audit_hash(
    prev_hash: &str,
    seq: i64,
    at: DateTime<Utc>,
    action: &str,
    subject: &str,
    payload: &str,
) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let at = at.timestamp_micros().to_string();
    let seq = seq.to_string();
    for part in [prev_hash, &seq, &at, action, subject, payload] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The hash before the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An amount of `due` paid from open balances, oldest first: how much each
/// balance gives (never more than it holds, never more than is still due).
/// The store calls this inside the finalising transaction.
pub fn draw_down(due: Decimal, balances: &[Decimal]) -> Vec<Decimal> {
    let mut left = due.max(Decimal::ZERO);
    balances
        .iter()
        .map(|balance| {
            let take = left.min((*balance).max(Decimal::ZERO));
            left -= take;
            take
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn draw_down_takes_oldest_first_and_never_more_than_due() {
        assert_eq!(
            draw_down(dec!(10), &[dec!(4), dec!(4), dec!(4)]),
            vec![dec!(4), dec!(4), dec!(2)]
        );
        assert_eq!(draw_down(dec!(0), &[dec!(4)]), vec![dec!(0)]);
        assert_eq!(draw_down(dec!(-5), &[dec!(4)]), vec![dec!(0)]);
    }

    #[test]
    fn audit_hash_depends_on_every_field() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let base = audit_hash(GENESIS_HASH, 1, at, "a", "b", "{}");
        assert_ne!(base, audit_hash(GENESIS_HASH, 2, at, "a", "b", "{}"));
        assert_ne!(base, audit_hash(GENESIS_HASH, 1, at, "ab", "", "{}"));
        assert_ne!(base, audit_hash(GENESIS_HASH, 1, at, "a", "b", "{ }"));
        assert_eq!(base.len(), 64);
    }

    #[test]
    fn codes_are_checked() {
        assert!(check_code("api_calls", "code").is_ok());
        assert!(check_code("gb.hours-1", "code").is_ok());
        assert!(check_code("", "code").is_err());
        assert!(check_code("_x", "code").is_err());
        assert!(check_code("Upper", "code").is_err());
    }
}
