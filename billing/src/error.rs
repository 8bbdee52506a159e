//! Billing's error type.

use shiyun_core::ValidationError;
use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::money::MoneyError;
use shiyun_core::store::StoreError;

/// Everything a billing call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// Bad input: a plan, an event, a period.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Money arithmetic failed (overflow, mixed currencies).
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A named thing (plan, customer, meter, invoice) does not exist for this issuer.
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// Kind of thing.
        entity: &'static str,
        /// Its id or code.
        id: String,
    },
    /// The request conflicts with the current state (an invoice that is not a draft).
    #[error("{0}")]
    Conflict(String),
}

impl CodedError for BillingError {
    fn code(&self) -> ErrorCode {
        match self {
            BillingError::Invalid(e) => e.code(),
            BillingError::Money(e) => e.code(),
            BillingError::Store(e) => e.code(),
            BillingError::NotFound { .. } => ErrorCode::NotFound,
            BillingError::Conflict(_) => ErrorCode::Conflict,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            BillingError::Invalid(e) => Some(e.field_name()),
            BillingError::Money(e) => e.field(),
            _ => None,
        }
    }
}
