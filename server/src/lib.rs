//! Shiyun server: the actix-web API over the Shiyun library crates, typed
//! settings, and the `shiyun` command line (serve, migrate, demo, catalog).
//!
//! The key design decision: this crate owns wiring and no business rule.
//! Handlers extract, validate, call one store or library function and map the
//! result; every error becomes the one JSON envelope through
//! [`error::ApiError`], the only place where error codes meet HTTP statuses.
//! Query and body shapes are checked by `validator` through the extractors of
//! [`validation`], beside the OpenAPI attributes that document the same bounds.
//! Who may call what is declared once, in [`routes::table`]: the application
//! registers its routes from it and puts every non-public one behind
//! [`auth::gate`], which authenticates the bearer and checks the route's
//! access before the handler runs; the OpenAPI document takes each
//! operation's security from the same table.

pub mod app;
pub mod auth;
pub mod billing;
pub mod cli;
pub mod deploy;
pub mod error;
pub mod payments;
pub mod routes;
pub mod search;
pub mod settings;
pub mod telemetry;
pub mod validation;

pub use app::{AppState, Application};
pub use settings::Settings;
