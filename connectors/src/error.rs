//! What a connector can fail with.
//!
//! Each family of failure has its own variant, so that its [`ErrorCode`]
//! says who can act on it: the caller's input (`invalid_argument`), the
//! state of a run (`conflict`), the vendor or an output that went away
//! (`unavailable`, `unauthenticated`), or our own code (`internal`).

use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::listing::Vendor;
use shiyun_core::store::{StoreError, SyncRunId};

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
    /// The settings are wrong (a bad endpoint, a bad cron expression, a
    /// zero rate limit).
    #[error("bad connector settings: {0}")]
    Config(String),
    /// A saved response needs a request parameter that was not given
    /// (its answer does not repeat what it was asked).
    #[error("{vendor} {api} answers do not repeat their request: pass --param {key}=…")]
    MissingParameter {
        /// The vendor.
        vendor: Vendor,
        /// The vendor API whose answer it is.
        api: String,
        /// The parameter to pass.
        key: String,
    },
    /// A request parameter given with a saved response is not usable.
    #[error("{vendor} --param {key}: {message}")]
    InvalidParameter {
        /// The vendor.
        vendor: Vendor,
        /// The parameter.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A page token (a failed run's resume point) is not one this
    /// connector wrote.
    #[error("`{token}` is not a page token of {vendor}: {message}")]
    PageToken {
        /// The vendor.
        vendor: Vendor,
        /// The token.
        token: String,
        /// What is wrong with it.
        message: String,
    },
    /// A run asked to be resumed as a sync of one vendor is of another.
    #[error("sync run {run} is of {run_vendor}, not {vendor}")]
    OtherVendorRun {
        /// The run.
        run: SyncRunId,
        /// The run's vendor.
        run_vendor: Vendor,
        /// The vendor being synced.
        vendor: Vendor,
    },
    /// The run exists but its state does not allow resuming it.
    #[error("sync run {run} {reason}")]
    NotResumable {
        /// The run.
        run: SyncRunId,
        /// Why, lowercase (`is an import; import the files again instead`).
        reason: String,
    },
    /// A resume was asked for, but the vendor's last sync did not fail.
    #[error("{vendor} has no failed run to resume (its last sync did not fail)")]
    NothingToResume {
        /// The vendor.
        vendor: Vendor,
    },
    /// Another sync of the vendor holds its job lock (here or on another
    /// instance).
    #[error("a sync of {vendor} is running elsewhere; try again when it ends")]
    SyncBusy {
        /// The vendor.
        vendor: Vendor,
    },
    /// An input file could not be opened or read.
    #[error("cannot read {label}: {source}")]
    Input {
        /// The file, as the user named it.
        label: String,
        /// Why.
        source: std::io::Error,
    },
    /// The output could not be written (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
    /// A request could not be built or signed: our own code or a vendor
    /// link we cannot follow, never the caller's input.
    #[error("cannot build the request: {0}")]
    Request(String),
    /// A task or channel of this process ended before its work was done;
    /// the text says which, and why when known (`the store task ended
    /// early: task 7 panicked`).
    #[error("{0}")]
    Interrupted(String),
    /// Storing the results failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConnectorError {
    /// A vendor's error code and message: refused credentials when
    /// `credentials_refused` (one of the vendor's auth codes), else a
    /// [`ConnectorError::Vendor`] error.
    pub fn from_vendor(
        vendor: Vendor,
        code: impl Into<String>,
        message: impl Into<String>,
        credentials_refused: bool,
    ) -> Self {
        let (code, message) = (code.into(), message.into());
        if credentials_refused {
            ConnectorError::CredentialsRejected {
                vendor,
                message: format!("{code}: {message}"),
            }
        } else {
            ConnectorError::Vendor {
                vendor,
                code,
                message,
            }
        }
    }
}

impl CodedError for ConnectorError {
    fn code(&self) -> ErrorCode {
        match self {
            ConnectorError::CredentialsRejected { .. } => ErrorCode::Unauthenticated,
            ConnectorError::MissingCredentials { .. }
            | ConnectorError::Config(_)
            | ConnectorError::Malformed { .. }
            | ConnectorError::MissingParameter { .. }
            | ConnectorError::InvalidParameter { .. }
            | ConnectorError::PageToken { .. }
            | ConnectorError::OtherVendorRun { .. }
            | ConnectorError::Input { .. } => ErrorCode::InvalidArgument,
            ConnectorError::NotResumable { .. }
            | ConnectorError::NothingToResume { .. }
            | ConnectorError::SyncBusy { .. } => ErrorCode::Conflict,
            // A closed output is the reader gone away, not bad input.
            ConnectorError::Http { .. }
            | ConnectorError::Vendor { .. }
            | ConnectorError::Transport { .. }
            | ConnectorError::Output(_) => ErrorCode::Unavailable,
            ConnectorError::Request(_) | ConnectorError::Interrupted(_) => ErrorCode::Internal,
            ConnectorError::Store(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interruption_is_told_in_the_callers_words_once() {
        let error = ConnectorError::Interrupted("the import stopped taking pages".into());
        assert_eq!(error.to_string(), "the import stopped taking pages");
        let error =
            ConnectorError::Interrupted("the store task ended early: task 7 panicked".into());
        assert_eq!(
            error.to_string().matches("ended early").count(),
            1,
            "{error}"
        );
    }
}
