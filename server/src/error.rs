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
    retry_after: Option<u64>,
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
            retry_after: None,
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

    /// The seconds a 429 tells the client to wait in `Retry-After`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// `unauthenticated`: no credential, or one that does not hold.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unauthenticated, message)
    }

    /// `forbidden`: a known caller that may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    /// From any coded error of the workspace.
    ///
    /// The client gets the code and the error's `Display`, which every
    /// error of the workspace keeps in stable words (an `internal` one
    /// becomes just "internal error"). What a dependency said (the error's
    /// `source()` chain, such as a database driver's [`shiyun_core::Detail`])
    /// is logged here, inside the request's span, whose `request_id` field
    /// the log line carries (tracing-actix-web's root span).
    pub fn from_coded(err: &(impl CodedError + ?Sized)) -> Self {
        let code = err.code();
        let detail = source_chain(err);
        if code == ErrorCode::Internal {
            tracing::error!(code = %code, error = %err, detail, "internal error");
            return ApiError::new(code, "internal error");
        }
        if code == ErrorCode::Unavailable {
            tracing::warn!(code = %code, error = %err, detail, "dependency unavailable");
        } else if let Some(detail) = &detail {
            tracing::warn!(code = %code, error = %err, detail, "request failed in a dependency");
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
        // The request is well-formed but its key was spent on another payload.
        ErrorCode::IdempotencyConflict => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
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
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status_code() == StatusCode::UNAUTHORIZED {
            // RFC 9110: a 401 names the scheme that would be accepted.
            response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
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

impl From<shiyun_accounts::AccountError> for ApiError {
    fn from(err: shiyun_accounts::AccountError) -> Self {
        use shiyun_accounts::AccountError;
        match &err {
            AccountError::RateLimited {
                retry_after_seconds,
            } => ApiError::from_coded(&err).with_retry_after((*retry_after_seconds).max(1)),
            AccountError::Unauthenticated { reason } => {
                // The client hears one answer; the log keeps why.
                tracing::info!(reason, "credential refused");
                ApiError::from_coded(&err)
            }
            _ => ApiError::from_coded(&err),
        }
    }
}

impl From<shiyun_billing::BillingError> for ApiError {
    fn from(err: shiyun_billing::BillingError) -> Self {
        ApiError::from_coded(&err)
    }
}

impl From<shiyun_deploy::engine::DeployError> for ApiError {
    fn from(err: shiyun_deploy::engine::DeployError) -> Self {
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

/// The error's sources, outermost first, joined by `: `; `None` without any.
fn source_chain(err: &(impl std::error::Error + ?Sized)) -> Option<String> {
    let mut source = err.source();
    let mut chain = Vec::new();
    while let Some(error) = source {
        chain.push(error.to_string());
        source = error.source();
    }
    (!chain.is_empty()).then(|| chain.join(": "))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::test as actix_test;
    use actix_web::{App, get};
    use shiyun_core::store::StoreError;
    use tracing_actix_web::TracingLogger;

    use super::*;

    const DRIVER_TEXT: &str =
        "FATAL: password authentication failed for user \"shiyun\" at db-7.internal";

    #[get("/fails")]
    async fn fails() -> ApiResult<HttpResponse> {
        Err(StoreError::unavailable("no database connection", DRIVER_TEXT).into())
    }

    /// Log lines written while a test runs.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn driver_text_is_logged_with_the_request_id_never_answered() {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let app =
            actix_test::init_service(App::new().wrap(TracingLogger::default()).service(fails))
                .await;
        let response = actix_test::call_service(
            &app,
            actix_test::TestRequest::get().uri("/fails").to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = actix_test::read_body_json(response).await;
        assert_eq!(body["error"]["code"], "unavailable");
        assert_eq!(
            body["error"]["message"],
            "store unavailable: no database connection"
        );
        assert!(!body.to_string().contains("db-7"), "{body}");

        let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let line = logs
            .lines()
            .find(|line| line.contains("dependency unavailable"))
            .unwrap_or_else(|| panic!("no log line for the failure in:\n{logs}"));
        assert!(line.contains("db-7.internal"), "{line}");
        assert!(line.contains("request_id="), "{line}");
    }

    #[test]
    fn each_code_has_its_status() {
        assert_eq!(
            status_of(ErrorCode::IdempotencyConflict),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(ErrorCode::InsufficientBalance),
            StatusCode::PAYMENT_REQUIRED
        );
        let api = ApiError::from(StoreError::IdempotencyConflict { key: "k-1".into() });
        assert_eq!(api.code(), ErrorCode::IdempotencyConflict);
        assert_eq!(api.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn internal_errors_answer_nothing_of_their_text() {
        let api = ApiError::from(StoreError::Internal(DRIVER_TEXT.into()));
        assert_eq!(api.to_string(), "internal: internal error");
    }
}
