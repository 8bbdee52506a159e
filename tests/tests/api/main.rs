//! End-to-end tests through real HTTP on a random local port, each on SQLite
//! and on PostgreSQL (a fresh schema per test).

mod helpers;

mod errors;
mod listings;
mod openapi;
