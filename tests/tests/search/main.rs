//! Search over a real store, on SQLite and on PostgreSQL (a fresh database
//! per test): the index following the listing change feed (by steps, by
//! its thread, across a restart) and the settings it reads from the store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

mod helpers;

mod follow;
mod restart;
mod settings;
