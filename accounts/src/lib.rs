//! Shiyun's user centre: the rules of accounts, passwords, sessions and
//! tokens, enterprises and their staff, projects, permission templates, API
//! keys and the audit log. Storage is reached through `shiyun-core`'s
//! [`shiyun_core::tenancy::UserCentreStore`]; mail goes through a
//! [`mail::Notifier`]. Calls are synchronous (the store is): an async caller
//! runs them on a blocking thread.

pub mod clock;
pub mod config;
pub mod error;
pub mod limits;
pub mod mail;
mod notices;
pub mod partners;
pub mod password;
pub mod service;
pub mod tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::AccountsConfig;
pub use error::AccountError;
pub use mail::{LettreNotifier, MailSettings};
pub use partners::PartnerCatalog;
pub use service::{
    CallContext, CreatedKey, INVITATION_RETENTION, Me, NewApiKey, TemplateSpec, TokenPair,
    UserCentre,
};
