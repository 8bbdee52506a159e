//! Shiyun billing: meters and usage events, plans with six charge models,
//! subscriptions, rating, invoices, bill runs, previews, finance exports and
//! the billing audit chain.
//!
//! The rules live here; storage comes through
//! [`shiyun_core::billing::BillingStore`], which `shiyun-schema` implements
//! on SQLite and PostgreSQL. A partner cloud embeds this crate as its own
//! issuer without the server: see `tests/examples/embed_billing.rs`.
//!
//! Rating runs at full precision and rounds once per invoice line with
//! [`shiyun_core::Money::round`]. Every policy choice is listed in the
//! README's "Billing policies" section, each with the test that states it.

pub mod audit;
pub mod charge;
pub mod compose;
pub mod engine;
pub mod error;
pub mod events;
pub mod export;
pub mod journal;
pub mod market;
pub mod period;
pub mod plan;
pub mod preview;
pub mod proration;
pub mod wallet;

pub use engine::{BillRunReport, Billing, IdSource, SubscribeRequest};
pub use error::BillingError;
