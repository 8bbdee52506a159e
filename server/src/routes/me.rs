//! The caller's own account: who am I, switching identity, the password,
//! confirming an email or phone ("security binding"), own applications.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_accounts::{Me, TokenPair};
use shiyun_core::tenancy::{Account, Application, Channel, Identity};
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::auth::Accepted;
use crate::routes::blocking;
use crate::validation::{ValidJson, no_control_characters};

/// The caller: account, current identity, its permissions and data scope,
/// and the enterprises it can switch to.
#[utoipa::path(get, path = "/v1/me", tag = "me",
    responses((status = 200, body = Me)))]
pub async fn get_me(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let me = blocking(move || users.me(&caller.0)).await?;
    Ok(HttpResponse::Ok().json(me))
}

/// Body of `POST /v1/me/identity`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SwitchIdentityRequest {
    /// `{"kind": "personal"}` or `{"kind": "enterprise", "enterprise": "ent_…"}`.
    pub identity: Identity,
}

/// Switches the session to another identity (personal, or an enterprise the
/// account belongs to) and answers new tokens acting as it. Tokens of the
/// old identity stop working.
#[utoipa::path(post, path = "/v1/me/identity", tag = "me",
    request_body = SwitchIdentityRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, description = "malformed identity", body = ErrorEnvelope),
        (status = 403, description = "not a member of that enterprise", body = ErrorEnvelope),
    ))]
pub async fn switch_identity(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<SwitchIdentityRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let tokens =
        blocking(move || users.switch_identity(&caller.0, body.identity, &client.0)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Body of `POST /v1/me/password`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password now.
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub current_password: String,
    /// The new one: 10 to 128 characters, not a common one, not the login.
    #[validate(length(min = 10, max = 128))]
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// Changes the password; the account's other sessions end.
#[utoipa::path(post, path = "/v1/me/password", tag = "me",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "password changed"),
        (status = 400, description = "a password the policy refuses", body = ErrorEnvelope),
        (status = 401, description = "the current password is wrong", body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    blocking(move || {
        users.change_password(
            &caller.0,
            &body.current_password,
            &body.new_password,
            &client.0,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `POST /v1/me/bindings`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct StartBindingRequest {
    /// `email` or `phone`.
    pub channel: Channel,
    /// The address or number to confirm.
    #[validate(length(min = 3, max = 254), custom(function = no_control_characters))]
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub target: String,
}

/// Sends a six-digit code to an email address or phone number to confirm
/// it as the account's own.
#[utoipa::path(post, path = "/v1/me/bindings", tag = "me",
    request_body = StartBindingRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 400, description = "not an email address or phone number", body = ErrorEnvelope),
        (status = 429, description = "too many attempts; see `Retry-After`", body = ErrorEnvelope),
    ))]
pub async fn start_binding(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<StartBindingRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    blocking(move || users.start_binding(&caller.0, body.channel, &body.target, &client.0)).await?;
    Ok(Accepted::response())
}

/// Body of `POST /v1/me/bindings/confirm`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBindingRequest {
    /// `email` or `phone`.
    pub channel: Channel,
    /// The code that was sent.
    #[validate(length(min = 1, max = 32), custom(function = no_control_characters))]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "123456"
    )]
    pub code: String,
}

/// Confirms a code: its address or number becomes the account's confirmed one.
#[utoipa::path(post, path = "/v1/me/bindings/confirm", tag = "me",
    request_body = ConfirmBindingRequest,
    responses(
        (status = 200, body = Account),
        (status = 400, description = "wrong, used or expired code", body = ErrorEnvelope),
        (status = 409, description = "another account has that address", body = ErrorEnvelope),
    ))]
pub async fn confirm_binding(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<ConfirmBindingRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let account =
        blocking(move || users.confirm_binding(&caller.0, body.channel, &body.code, &client.0))
            .await?;
    Ok(HttpResponse::Ok().json(account))
}

/// Applications to join enterprises.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationList {
    /// Newest first.
    pub applications: Vec<Application>,
}

/// The caller's own applications to join enterprises.
#[utoipa::path(get, path = "/v1/me/applications", tag = "me",
    responses((status = 200, body = ApplicationList)))]
pub async fn list_my_applications(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let applications = blocking(move || users.my_applications(&caller.0)).await?;
    Ok(HttpResponse::Ok().json(ApplicationList { applications }))
}
