//! End-to-end tests through real HTTP on a random local port, each on SQLite
//! and on PostgreSQL (a fresh schema per test).

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first surprise"
)]

mod helpers;

mod billing;
mod deploy;
mod errors;
mod flows;
mod isolation;
mod limits;
mod listings;
mod market;
mod openapi;
mod payments;
mod scopes;
mod search;
mod tokens;
mod wallets;
