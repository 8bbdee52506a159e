//! Crash tests of billing through the real `shiyun` binary, on SQLite and
//! on PostgreSQL: a `kill -9` of the server between acknowledging usage and
//! the bill run loses nothing, and a `kill -9` during a bill run followed
//! by a rerun issues each invoice exactly once, numbered without a gap.
//!
//! The binary is the one built beside this test
//! (`cargo build -p shiyun-server --bin shiyun`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

mod helpers;

mod acknowledged;
mod bill_run;
