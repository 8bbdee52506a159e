//! What a user-centre call can fail with.

use shiyun_core::error::{CodedError, ErrorCode, ValidationError};
use shiyun_core::store::StoreError;

/// A user-centre failure. Messages never tell whether an account exists.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Bad input (`invalid_argument`, with the field).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Wrong login or password, or a locked identifier: one answer for all
    /// (`unauthenticated`).
    #[error("the login or password is wrong")]
    BadCredentials,
    /// A missing, malformed, expired, revoked or foreign token or key
    /// (`unauthenticated`). The reason is for logs only.
    #[error("the token is missing, expired or revoked")]
    Unauthenticated {
        /// Why, for the log.
        reason: &'static str,
    },
    /// Known caller, not allowed (`forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts (`rate_limited`).
    #[error("too many attempts; retry in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_seconds: u64,
    },
    /// A state rule (`conflict`).
    #[error("{0}")]
    Conflict(String),
    /// A name or id the caller chose is taken (`conflict`, with the field).
    #[error("{message}")]
    Taken {
        /// The field the caller chose it in.
        field: &'static str,
        /// What is taken.
        message: String,
    },
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CodedError for AccountError {
    fn code(&self) -> ErrorCode {
        match self {
            AccountError::Invalid(e) => e.code(),
            AccountError::BadCredentials | AccountError::Unauthenticated { .. } => {
                ErrorCode::Unauthenticated
            }
            AccountError::Forbidden(_) => ErrorCode::Forbidden,
            AccountError::RateLimited { .. } => ErrorCode::RateLimited,
            AccountError::Conflict(_) | AccountError::Taken { .. } => ErrorCode::Conflict,
            AccountError::Store(e) => e.code(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AccountError::Invalid(e) => Some(e.field_name()),
            AccountError::Taken { field, .. } => Some(field),
            AccountError::Store(e) => e.field(),
            _ => None,
        }
    }
}
