//! The one JSON error envelope, `{"error": {"code", "message", "field"}}`,
//! and the one place where error codes become HTTP statuses.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use shiyun_core::error::{CodedError, ErrorCode};
use utoipa::ToSchema;

/// The body of every failed request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code.
    pub code: ErrorCode,
    /// Human-readable, lowercase.
    pub message: String,
    /// The input field at fault, when there is one.
    pub field: Option<String>,
}

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    field: Option<String>,
    status: Option<StatusCode>,
    allow: Option<String>,
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
            status: None,
            allow: None,
        }
    }

    /// `invalid_argument` on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidArgument, message).with_field(field)
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Overrides the status the code maps to (413, 404 for routes, 405).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The methods a 405 names in its `Allow` header.
    pub fn with_allow(mut self, methods: impl Into<String>) -> Self {
        self.allow = Some(methods.into());
        self
    }

    /// From any coded error of the workspace. Internal details are logged, not returned.
    pub fn from_coded(err: &(impl CodedError + ?Sized)) -> Self {
        let code = err.code();
        if code == ErrorCode::Internal {
            tracing::error!(error = %err, "internal error");
            return ApiError::new(code, "internal error");
        }
        if code == ErrorCode::Unavailable {
            tracing::warn!(error = %err, "dependency unavailable");
        }
        let mut api = ApiError::new(code, err.to_string());
        api.field = err.field().map(str::to_owned);
        api
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

/// HTTP status of each code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientBalance => StatusCode::PAYMENT_REQUIRED,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status.unwrap_or_else(|| status_of(self.code))
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(allow) = &self.allow {
            response.insert_header((actix_web::http::header::ALLOW, allow.as_str()));
        }
        response.json(ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
            },
        })
    }
}

impl From<shiyun_core::store::StoreError> for ApiError {
    fn from(err: shiyun_core::store::StoreError) -> Self {
        ApiError::from_coded(&err)
    }
}

impl From<shiyun_core::ValidationError> for ApiError {
    fn from(err: shiyun_core::ValidationError) -> Self {
        ApiError::invalid(err.field_name(), err.message())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::new(ErrorCode::Unavailable, "server is shutting down")
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
