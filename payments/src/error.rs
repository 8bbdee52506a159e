//! The payments error type.

use shiyun_billing::BillingError;
use shiyun_core::ValidationError;
use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::store::StoreError;

use crate::webhook::SignatureError;

/// Everything a payments call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Bad input: an amount, a key, a setting.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A webhook whose signature does not hold (bad, stale, malformed).
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The billing engine refused or failed.
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A named thing does not exist (for this customer).
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// Kind of thing.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// The request conflicts with the current state (a paid invoice).
    #[error("{0}")]
    Conflict(String),
    /// The same idempotency key was used with another request.
    #[error("idempotency key `{key}` was already used with a different request")]
    IdempotencyConflict {
        /// The key.
        key: String,
    },
    /// The provider refused the request (a bad parameter, an unknown id):
    /// repeating it will not help.
    #[error("{provider} refused the request: {message}")]
    ProviderRefused {
        /// The provider.
        provider: &'static str,
        /// What it said, in its words (never a secret).
        message: String,
    },
    /// The provider could not be reached or failed; repeating may help.
    #[error("{provider} is unavailable: {message}")]
    ProviderUnavailable {
        /// The provider.
        provider: &'static str,
        /// What failed.
        message: String,
    },
    /// A part this server was built without (wallets, the Stripe webhook
    /// on a manual-only server).
    #[error("{0}")]
    NotConfigured(&'static str),
}

impl CodedError for PaymentError {
    fn code(&self) -> ErrorCode {
        match self {
            PaymentError::Invalid(e) => e.code(),
            PaymentError::Signature(_) => ErrorCode::InvalidArgument,
            PaymentError::Billing(e) => e.code(),
            PaymentError::Store(e) => e.code(),
            PaymentError::NotFound { .. } => ErrorCode::NotFound,
            PaymentError::Conflict(_) | PaymentError::ProviderRefused { .. } => ErrorCode::Conflict,
            PaymentError::IdempotencyConflict { .. } => ErrorCode::IdempotencyConflict,
            PaymentError::ProviderUnavailable { .. } | PaymentError::NotConfigured(_) => {
                ErrorCode::Unavailable
            }
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            PaymentError::Invalid(e) => Some(e.field_name()),
            PaymentError::Signature(_) => Some("stripe-signature"),
            PaymentError::Billing(e) => e.field(),
            PaymentError::Store(e) => e.field(),
            _ => None,
        }
    }
}
