//! The [`PaymentProvider`] trait: what the payments service asks of a
//! provider, in the platform's own types. A provider is transport only:
//! the service decides when to call it and keeps the state.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;
use shiyun_core::Money;
use shiyun_core::billing::payments::PaymentPurpose;

use crate::PaymentError;

/// A billing customer, as a provider's customer record needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRef {
    /// The issuer's own id for it (the tenant id).
    pub external_id: String,
    /// Display name.
    pub name: String,
}

/// A payment to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// The idempotency key (the attempt's key): the same key again gives
    /// the same provider payment.
    pub key: String,
    /// The provider's customer id.
    pub customer: String,
    /// What to collect.
    pub amount: Money,
    /// What it pays for.
    pub purpose: PaymentPurpose,
    /// A line the customer sees (statement, receipt).
    pub description: String,
    /// Kept with the provider's payment, for people reading its dashboard.
    pub metadata: BTreeMap<String, String>,
}

/// Where a provider's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderStatus {
    /// The customer must act: give or confirm a payment method, authenticate.
    RequiresAction,
    /// The provider is settling it.
    Processing,
    /// Paid.
    Succeeded,
    /// The charge was declined.
    Failed,
    /// Cancelled: it will never be paid.
    Canceled,
}

/// A provider's payment, as the provider answered.
#[derive(Clone)]
pub struct ProviderPayment {
    /// The provider's id of it (a PaymentIntent `pi_…`).
    pub reference: String,
    /// Where it stands.
    pub status: ProviderStatus,
    /// What the customer's browser confirms it with (Stripe.js); secret.
    pub client_secret: Option<SecretString>,
    /// The payment method charged (or that failed), when known.
    pub payment_method: Option<String>,
    /// Why it failed (a decline code), when it did.
    pub failure: Option<String>,
}

impl fmt::Debug for ProviderPayment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderPayment")
            .field("reference", &self.reference)
            .field("status", &self.status)
            .field("payment_method", &self.payment_method)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The idempotency key: the credit note's id.
    pub key: String,
    /// The provider's payment refunded.
    pub payment: String,
    /// How much (at most what was paid).
    pub amount: Money,
    /// Why (the credit note's reason).
    pub reason: String,
}

/// A provider's refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// The provider's id of it (`re_…`).
    pub reference: String,
    /// The provider's status (`succeeded`, `pending`, …).
    pub status: String,
    /// How much.
    pub amount: Money,
}

/// A payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync + fmt::Debug {
    /// The provider's name as stored (`stripe`, `manual`).
    fn name(&self) -> &'static str;

    /// Creates the customer at the provider and answers its id there. The
    /// service records the id and calls this once per customer; the call
    /// is idempotent by the customer's external id besides.
    async fn ensure_customer(&self, customer: &CustomerRef) -> Result<String, PaymentError>;

    /// Starts a payment (idempotent by `request.key`).
    async fn start_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<ProviderPayment, PaymentError>;

    /// The payment as it stands now (its client secret again, for a
    /// customer who comes back to pay).
    async fn payment(&self, reference: &str) -> Result<ProviderPayment, PaymentError>;

    /// Charges a failed payment again, off-session, with `payment_method`
    /// (idempotent by `key`, one per retry). A decline is a payment with
    /// status [`ProviderStatus::Failed`], not an error.
    async fn retry_payment(
        &self,
        reference: &str,
        payment_method: Option<&str>,
        key: &str,
    ) -> Result<ProviderPayment, PaymentError>;

    /// Refunds (part of) a paid payment (idempotent by `request.key`).
    async fn refund(&self, request: &RefundRequest) -> Result<ProviderRefund, PaymentError>;
}
