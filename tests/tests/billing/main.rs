//! The billing engine over a real store, on SQLite and on PostgreSQL (a
//! fresh database per test): ingest exactly once, the bill cycle, late
//! usage, order-independence, exports and the audit chain.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

mod helpers;

mod cycle;
mod exports;
mod ingest;
mod late;
mod market;
mod order;
mod wallet;
