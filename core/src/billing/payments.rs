//! Collecting money through a payment provider: which provider customer
//! each billing customer is, the payment attempts (of an invoice, or of a
//! wallet top-up) with their dunning state, the provider's webhook events
//! already processed, and refunds.
//!
//! The rules (when to retry, when an account is overdue) live in
//! `shiyun-payments`; the store keeps the state and makes two things
//! atomic: an attempt changes only from the version it was read at
//! (compare-and-set), and a webhook event is recorded once together with
//! the attempt change it caused.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CreditNoteId, InvoiceId, IssuerId};
use crate::error::ValidationError;
use crate::money::Money;
use crate::store::{Outcome, StoreResult};
use crate::tenancy::ids::prefixed_id;

prefixed_id!(
    /// One payment attempt: an invoice or a top-up sent to a provider.
    PaymentAttemptId, "pa", "attempt_id", "^pa_[0-9a-z]{1,40}$"
);

/// What an attempt pays for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentPurpose {
    /// A finalised invoice, paid in full.
    Invoice {
        /// The invoice.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        invoice: InvoiceId,
    },
    /// Money into the customer's wallet of the attempt's currency.
    TopUp,
}

impl PaymentPurpose {
    /// The stored text of the kind (`invoice`, `top_up`).
    pub fn kind(&self) -> &'static str {
        match self {
            PaymentPurpose::Invoice { .. } => "invoice",
            PaymentPurpose::TopUp => "top_up",
        }
    }

    /// The invoice paid, if it is one.
    pub fn invoice(&self) -> Option<&InvoiceId> {
        match self {
            PaymentPurpose::Invoice { invoice } => Some(invoice),
            PaymentPurpose::TopUp => None,
        }
    }
}

/// Where an attempt stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Sent; the customer or the provider has not settled it yet.
    Pending,
    /// Failed; the next retry is at `next_retry_at`.
    RetryScheduled,
    /// Paid: the invoice is paid or the wallet credited.
    Succeeded,
    /// The last retry failed: the account is overdue. The customer may
    /// still pay it themselves.
    Failed,
}

impl AttemptStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Pending => "pending",
            AttemptStatus::RetryScheduled => "retry_scheduled",
            AttemptStatus::Succeeded => "succeeded",
            AttemptStatus::Failed => "failed",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        [
            AttemptStatus::Pending,
            AttemptStatus::RetryScheduled,
            AttemptStatus::Succeeded,
            AttemptStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| ValidationError::new("status", format!("unknown attempt status `{text}`")))
    }
}

impl fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payment attempt and its dunning state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAttempt {
    /// Its id.
    pub id: PaymentAttemptId,
    /// The customer's external id.
    pub customer: String,
    /// What it pays for.
    pub purpose: PaymentPurpose,
    /// Unique per issuer: one attempt per invoice (`invoice:{id}`), one per
    /// top-up request (`top_up:{customer}:{key}`). Also the provider's
    /// idempotency key for creating it.
    pub key: String,
    /// Amount and currency.
    pub amount: Money,
    /// The provider (`stripe`, `manual`).
    pub provider: String,
    /// The provider's id of the payment (a PaymentIntent `pi_…`); unique
    /// per issuer and provider.
    pub provider_reference: String,
    /// Where it stands.
    pub status: AttemptStatus,
    /// Retries made so far (dunning).
    pub retries: u32,
    /// The payment method a retry charges (the one that last failed).
    pub payment_method: Option<String>,
    /// When it first failed.
    pub first_failed_at: Option<DateTime<Utc>>,
    /// When the next retry is due (`RetryScheduled` only).
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Grows by one with every change; updates name the version they read.
    pub version: i64,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// A provider's webhook event, as recorded once processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The provider (`stripe`).
    pub provider: String,
    /// The provider's event id (`evt_…`): unique per issuer and provider.
    pub id: String,
    /// The event type (`payment_intent.succeeded`).
    pub kind: String,
    /// The id of the object it is about (`pi_…`).
    pub object: String,
    /// When it was processed.
    pub received_at: DateTime<Utc>,
}

/// A refund of (part of) a paid attempt, made for a credit note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefund {
    /// The credit note it pays out: one refund per credit note.
    pub credit_note: CreditNoteId,
    /// The attempt refunded.
    pub attempt: PaymentAttemptId,
    /// The provider.
    pub provider: String,
    /// The provider's id of the refund (`re_…`).
    pub provider_reference: String,
    /// Amount and currency.
    pub amount: Money,
    /// The provider's status (`succeeded`, `pending`, …).
    pub status: String,
    /// When made.
    pub created_at: DateTime<Utc>,
}

/// Payment storage, scoped by issuer on every call.
pub trait PaymentStore: Send + Sync {
    /// Records the provider's customer id of a billing customer (who must
    /// exist: `StoreError::NotFound`). One already recorded stands and is
    /// answered as [`Outcome::Replayed`].
    fn put_provider_customer(
        &self,
        issuer: &IssuerId,
        customer: &str,
        provider: &str,
        provider_customer: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Outcome<String>>;

    /// The provider's customer id of a billing customer.
    fn provider_customer(
        &self,
        issuer: &IssuerId,
        customer: &str,
        provider: &str,
    ) -> StoreResult<Option<String>>;

    /// Stores a new attempt (the customer must exist). An attempt with the
    /// same key already stored stands and is answered as
    /// [`Outcome::Replayed`]; another key with the same provider reference
    /// is `StoreError::Conflict`.
    fn create_attempt(
        &self,
        issuer: &IssuerId,
        attempt: &PaymentAttempt,
    ) -> StoreResult<Outcome<PaymentAttempt>>;

    /// One attempt.
    fn get_attempt(
        &self,
        issuer: &IssuerId,
        id: &PaymentAttemptId,
    ) -> StoreResult<Option<PaymentAttempt>>;

    /// The attempt of a key.
    fn attempt_by_key(&self, issuer: &IssuerId, key: &str) -> StoreResult<Option<PaymentAttempt>>;

    /// The attempt of a provider's payment.
    fn attempt_by_reference(
        &self,
        issuer: &IssuerId,
        provider: &str,
        reference: &str,
    ) -> StoreResult<Option<PaymentAttempt>>;

    /// A customer's attempts, oldest first.
    fn attempts_of_customer(
        &self,
        issuer: &IssuerId,
        customer: &str,
    ) -> StoreResult<Vec<PaymentAttempt>>;

    /// Replaces status, retries, payment method and the dunning times if
    /// the stored version is `attempt.version`; the version then grows by
    /// one. Else `StoreError::Conflict`.
    fn update_attempt(
        &self,
        issuer: &IssuerId,
        attempt: &PaymentAttempt,
    ) -> StoreResult<PaymentAttempt>;

    /// Attempts whose retry is due at `now` (`RetryScheduled`, next retry
    /// at or before it), by next retry then id; at most `limit` (1-10,000).
    fn due_retries(
        &self,
        issuer: &IssuerId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PaymentAttempt>>;

    /// Whether the event was recorded.
    fn event_processed(&self, issuer: &IssuerId, provider: &str, id: &str) -> StoreResult<bool>;

    /// In one transaction: records the event and, when it is new and
    /// `change` is given, applies the change as
    /// [`PaymentStore::update_attempt`] does (a stale version rolls both
    /// back: `StoreError::Conflict`). An event recorded before is
    /// [`Outcome::Replayed`] and changes nothing.
    fn record_event(
        &self,
        issuer: &IssuerId,
        event: &WebhookEvent,
        change: Option<&PaymentAttempt>,
    ) -> StoreResult<Outcome<Option<PaymentAttempt>>>;

    /// Records a refund. One for the same credit note already recorded
    /// stands and is answered as [`Outcome::Replayed`].
    fn record_refund(
        &self,
        issuer: &IssuerId,
        refund: &PaymentRefund,
    ) -> StoreResult<Outcome<PaymentRefund>>;

    /// The refunds of an attempt, oldest first.
    fn refunds_of_attempt(
        &self,
        issuer: &IssuerId,
        attempt: &PaymentAttemptId,
    ) -> StoreResult<Vec<PaymentRefund>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_their_stored_text() {
        for status in [
            AttemptStatus::Pending,
            AttemptStatus::RetryScheduled,
            AttemptStatus::Succeeded,
            AttemptStatus::Failed,
        ] {
            assert_eq!(AttemptStatus::parse(status.as_str()).unwrap(), status);
        }
        assert!(AttemptStatus::parse("paid").is_err());
        assert!(PaymentAttemptId::parse("pa_0a1b").is_ok());
        assert!(PaymentAttemptId::parse("pi_0a1b").is_err());
    }
}
