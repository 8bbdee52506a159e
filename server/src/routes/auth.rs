//! Registration, log-in, token refresh, log-out and password recovery.
//!
//! These answers never tell whether an account exists: registering a taken
//! login and asking a reset for an unknown one answer 202 like any other,
//! and a wrong password, an unknown login and a locked one answer the same 401.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_accounts::TokenPair;
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::{ValidJson, no_control_characters};

/// The answer of a request taken for later processing (mail goes out in the background).
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: &'static str,
}

impl Accepted {
    pub(crate) fn response() -> HttpResponse {
        HttpResponse::Accepted().json(Accepted { status: "accepted" })
    }
}

/// Body of `POST /v1/auth/register`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// An email address or a phone number (`+8613800138000`).
    #[validate(length(min = 3, max = 254), custom(function = no_control_characters))]
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "li.lei@example.com"
    )]
    pub login: String,
    /// The password: 10 to 128 characters, not a common one, not the login.
    #[validate(length(min = 10, max = 128))]
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// Name shown to others.
    #[validate(length(min = 1, max = 64), custom(function = no_control_characters))]
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub display_name: Option<String>,
}

/// Registers an account. The answer is 202 whether or not the login is
/// taken; a confirmation code (or, for a taken login, a notice) goes to it.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 202, body = Accepted, description = "a message is on its way to the login"),
        (status = 400, description = "malformed login, or a password the policy refuses", body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn register(
    state: web::Data<AppState>,
    client: Client,
    ValidJson(body): ValidJson<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    blocking(move || {
        users.register(
            &body.login,
            &body.password,
            body.display_name.as_deref(),
            &client.0,
        )
    })
    .await?;
    Ok(Accepted::response())
}

/// Body of `POST /v1/auth/login`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address or phone number.
    #[validate(length(min = 1, max = 254))]
    #[schema(min_length = 1, max_length = 254)]
    pub login: String,
    /// Password.
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

/// Logs in as the personal identity; answers an access and a refresh token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "malformed body", body = ErrorEnvelope),
        (status = 401, description = "wrong login or password, or locked out (one answer for all)", body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn login(
    state: web::Data<AppState>,
    client: Client,
    ValidJson(body): ValidJson<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let tokens = blocking(move || users.login(&body.login, &body.password, &client.0)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Body of `POST /v1/auth/refresh`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token (`syr_…`) from the last log-in or refresh.
    #[validate(length(min = 1, max = 512))]
    #[schema(min_length = 1, max_length = 512)]
    pub refresh_token: String,
}

/// Trades a refresh token for new tokens. A token works once: presenting
/// a used one again ends its whole session.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "malformed body", body = ErrorEnvelope),
        (status = 401, description = "unknown, used, expired or revoked refresh token", body = ErrorEnvelope),
    ))]
pub async fn refresh(
    state: web::Data<AppState>,
    client: Client,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let tokens = blocking(move || users.refresh(&body.refresh_token, &client.0)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Ends the caller's session: its access and refresh tokens stop working.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "logged out")))]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    blocking(move || users.logout(&caller.0, &client.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `POST /v1/auth/password-reset`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// Email address or phone number of the account.
    #[validate(length(min = 1, max = 254))]
    #[schema(min_length = 1, max_length = 254)]
    pub login: String,
}

/// Sends a single-use reset token to the account's email, if there is one;
/// answers 202 either way.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 400, description = "malformed login", body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    client: Client,
    ValidJson(body): ValidJson<PasswordResetRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    blocking(move || users.request_password_reset(&body.login, &client.0)).await?;
    Ok(Accepted::response())
}

/// Body of `POST /v1/auth/password-reset/confirm`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// The reset token (`syp_…`) from the email.
    #[validate(length(min = 1, max = 512))]
    #[schema(min_length = 1, max_length = 512)]
    pub token: String,
    /// The new password: 10 to 128 characters, not a common one, not the login.
    #[validate(length(min = 10, max = 128))]
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// Sets a new password with a reset token; every session of the account ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "password changed"),
        (status = 400, description = "malformed body, or a password the policy refuses", body = ErrorEnvelope),
        (status = 401, description = "unknown, used or expired reset token", body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn reset_password(
    state: web::Data<AppState>,
    client: Client,
    ValidJson(body): ValidJson<PasswordResetConfirm>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    blocking(move || users.reset_password(&body.token, &body.new_password, &client.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}
