//! Shiyun payments: collecting invoices and wallet top-ups through a
//! payment provider, and what follows from the provider's answers.
//!
//! [`PaymentProvider`] is the provider's interface in the platform's types;
//! [`ManualProvider`] (bank transfers recorded by finance) and
//! [`StripeProvider`] (Stripe through `async-stripe`, with Stripe
//! idempotency keys on every write) implement it. [`Payments`] holds the
//! rules: it starts payments, applies Stripe's webhook events exactly once
//! ([`webhook`] checks their signatures), retries failed invoice payments
//! on the [`DunningPolicy`] and marks the account overdue after the last,
//! and refunds through credit notes.
//!
//! The key design decision: the provider is transport only, and the state
//! (attempts, their dunning, the events processed) lives in the store
//! behind [`shiyun_core::billing::payments::PaymentStore`]. The effects on
//! other stores (an invoice paid, a wallet credited) are idempotent by the
//! provider's payment id, so a webhook applies them first and records
//! itself after; a redelivery finds it recorded. The trade-off is one
//! store transaction per event and an event id table that grows with
//! every delivery.

pub mod dunning;
pub mod error;
pub mod manual;
pub mod provider;
pub mod service;
pub mod stripe;
pub mod webhook;

pub use self::stripe::{StripeProvider, StripeSettings, StripeWebhook};
pub use dunning::DunningPolicy;
pub use error::PaymentError;
pub use manual::ManualProvider;
pub use provider::{PaymentProvider, ProviderPayment, ProviderStatus};
pub use service::{
    DunningReport, Payments, RefundInput, RefundOutcome, StartedPayment, WebhookOutcome,
};
