//! Stable error codes and the validation error raised by constructors.
//!
//! Every error type in the workspace reports one [`ErrorCode`]; only the server
//! maps codes to HTTP statuses and the JSON envelope.

use serde::{Deserialize, Serialize};

/// The stable, transport-free error codes of the whole product.
///
/// The string form (`invalid_argument`, …) is part of the public API.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The caller sent a value that breaks a rule.
    InvalidArgument,
    /// The named thing does not exist (for this tenant).
    NotFound,
    /// The request conflicts with the current state (a duplicate, a stale version).
    Conflict,
    /// The caller is known but may not do this.
    Forbidden,
    /// The caller is not known.
    Unauthenticated,
    /// A wallet would go below its allowed floor.
    InsufficientBalance,
    /// An idempotency key was used before with a different request: the
    /// caller must not reuse a key for another payload.
    IdempotencyConflict,
    /// Too many attempts (log-ins, resets) from this caller or for this
    /// account; retry after the time the response states.
    RateLimited,
    /// A dependency (database, vendor API) cannot be reached now; retrying may help.
    Unavailable,
    /// A bug or an unexpected state; details are logged, not returned.
    Internal,
}

impl ErrorCode {
    /// The code as it appears in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InsufficientBalance => "insufficient_balance",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every error type of the workspace so the server can map any
/// of them to the one JSON envelope without knowing the crate it came from.
pub trait CodedError: std::error::Error {
    /// The stable code.
    fn code(&self) -> ErrorCode;
    /// The input field at fault, where there is one (dotted path, e.g. `prices[0].amount`).
    fn field(&self) -> Option<&str> {
        None
    }
}

/// What a dependency (a database driver, a connection pool) said about a
/// failure, in its own words. It may name tables, columns, values or hosts,
/// so it is never part of a client-facing message: an error keeps it as its
/// `source()`, which logs and the CLI print and the HTTP envelope does not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Detail(String);

impl Detail {
    /// The dependency's text.
    pub fn new(text: impl Into<String>) -> Self {
        Detail(text.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value broke a domain rule. Raised by constructors and parsers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    field: String,
    message: String,
}

impl ValidationError {
    /// A rule broken by `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field at fault.
    pub fn field_name(&self) -> &str {
        &self.field
    }

    /// What is wrong with it, lowercase and without the field name.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error reported under a parent path, e.g. `prices[2]` + `amount`.
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            message: self.message,
        }
    }
}

impl CodedError for ValidationError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }
    fn field(&self) -> Option<&str> {
        Some(&self.field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_stable_strings() {
        for code in [
            ErrorCode::InvalidArgument,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::Forbidden,
            ErrorCode::Unauthenticated,
            ErrorCode::InsufficientBalance,
            ErrorCode::IdempotencyConflict,
            ErrorCode::RateLimited,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn within_prefixes_the_field_path() {
        let err = ValidationError::new("amount", "must not be negative").within("prices[1]");
        assert_eq!(err.field_name(), "prices[1].amount");
        assert_eq!(err.to_string(), "prices[1].amount: must not be negative");
    }
}
