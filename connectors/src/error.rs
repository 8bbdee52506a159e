//! What a connector can fail with.

use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::listing::Vendor;
use shiyun_core::store::StoreError;

/// A connector failure. A bad record is not an error (it is a
/// `RecordRejection`); these end a page or a run.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The vendor refused the credentials (HTTP 401/403, or its error code for it).
    #[error("{vendor} rejected the credentials: {message}")]
    CredentialsRejected {
        /// The vendor.
        vendor: Vendor,
        /// The vendor's message.
        message: String,
    },
    /// Credentials are needed but none are configured.
    #[error("{vendor} needs credentials: {message}")]
    MissingCredentials {
        /// The vendor.
        vendor: Vendor,
        /// Which settings to fill.
        message: String,
    },
    /// The vendor answered with an error after retries.
    #[error("{vendor} answered HTTP {status}: {message}")]
    Http {
        /// The vendor.
        vendor: Vendor,
        /// HTTP status.
        status: u16,
        /// Body excerpt or vendor message.
        message: String,
    },
    /// The vendor's error envelope (`Error.Code`, `RetCode`, `statusCode 900`).
    #[error("{vendor} error {code}: {message}")]
    Vendor {
        /// The vendor.
        vendor: Vendor,
        /// The vendor's error code.
        code: String,
        /// The vendor's message.
        message: String,
    },
    /// The network failed, timed out, or retries ran out.
    #[error("{vendor} unreachable: {message}")]
    Transport {
        /// The vendor.
        vendor: Vendor,
        /// What failed.
        message: String,
    },
    /// A whole page could not be read (truncated, not JSON, unknown shape).
    #[error("{vendor} page unreadable: {message}")]
    Malformed {
        /// The vendor.
        vendor: Vendor,
        /// What is wrong.
        message: String,
    },
    /// The settings are wrong (a bad endpoint, a bad cron expression).
    #[error("bad connector settings: {0}")]
    Config(String),
    /// Storing the results failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CodedError for ConnectorError {
    fn code(&self) -> ErrorCode {
        match self {
            ConnectorError::CredentialsRejected { .. } => ErrorCode::Unauthenticated,
            ConnectorError::MissingCredentials { .. } | ConnectorError::Config(_) => {
                ErrorCode::InvalidArgument
            }
            ConnectorError::Malformed { .. } => ErrorCode::InvalidArgument,
            ConnectorError::Http { .. }
            | ConnectorError::Vendor { .. }
            | ConnectorError::Transport { .. } => ErrorCode::Unavailable,
            ConnectorError::Store(e) => e.code(),
        }
    }
}
