//! What a search call can fail with.

use shiyun_core::error::{CodedError, ErrorCode, ValidationError};
use shiyun_core::store::StoreError;

/// A search failure.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The request broke a rule (the field is named).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The store failed while the index read from it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listing asked about is not in the index.
    #[error("listing `{0}` not found")]
    NotFound(String),
    /// The index itself failed (disk, corrupt files).
    #[error("search index failure: {0}")]
    Index(String),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Index(e.to_string())
    }
}

impl From<std::io::Error> for SearchError {
    fn from(e: std::io::Error) -> Self {
        SearchError::Index(e.to_string())
    }
}

impl CodedError for SearchError {
    fn code(&self) -> ErrorCode {
        match self {
            SearchError::Invalid(_) => ErrorCode::InvalidArgument,
            SearchError::Store(e) => e.code(),
            SearchError::NotFound(_) => ErrorCode::NotFound,
            SearchError::Index(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            SearchError::Invalid(e) => Some(e.field_name()),
            SearchError::Store(e) => e.field(),
            _ => None,
        }
    }
}

/// Result of a search call.
pub type SearchResult<T> = Result<T, SearchError>;
