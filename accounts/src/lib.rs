//! Shiyun's user centre: the rules of accounts, passwords, sessions and
//! tokens, enterprises and their staff, projects, permission templates, API
//! keys and the audit log. Storage is reached through `shiyun-core`'s
//! [`shiyun_core::tenancy::UserCentreStore`]; mail goes through a
//! [`mail::Notifier`]. Calls are synchronous (the store is): an async caller
//! runs them on a blocking thread.

pub mod config;
pub mod error;
pub mod mail;
pub mod service;

pub use config::AccountsConfig;
pub use error::AccountError;
pub use service::{CallContext, CreatedKey, Me, NewApiKey, TemplateSpec, TokenPair, UserCentre};
