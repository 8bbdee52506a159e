//! API keys: machine credentials for one enterprise and one template. The
//! secret is answered once, at creation; only its hash is kept.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shiyun_accounts::{CreatedKey, NewApiKey};
use shiyun_core::tenancy::{ApiKey, ApiKeyId, ProjectId, TemplateId};
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::{ValidJson, no_control_characters};

/// Keys the caller sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// The keys (never their secrets).
    pub keys: Vec<ApiKey>,
}

/// The keys of the caller's enterprise that its data scope sees.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys",
    responses((status = 200, body = ApiKeyList)))]
pub async fn list_api_keys(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let keys = blocking(move || users.list_api_keys(&caller.0)).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList { keys }))
}

/// Body of `POST /v1/api-keys`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label.
    #[validate(length(min = 1, max = 64), custom(function = no_control_characters))]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "partner-sync"
    )]
    pub name: String,
    /// The template the key acts with.
    pub template: TemplateId,
    /// The project it belongs to, if any.
    pub project: Option<ProjectId>,
    /// When it stops working (RFC 3339); never, if absent.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a key for the caller's enterprise. The answer holds the secret
/// (`sy_key_…`), shown this once; use it as a bearer token.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys",
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, body = CreatedKey),
        (status = 400, description = "bad name, the owner template, or an expiry in the past", body = ErrorEnvelope),
        (status = 403, description = "the template grants more than the caller holds", body = ErrorEnvelope),
        (status = 404, description = "no such template or project here", body = ErrorEnvelope),
    ))]
pub async fn create_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<CreateApiKeyRequest>,
) -> ApiResult<HttpResponse> {
    let new = NewApiKey {
        name: body.name,
        template: body.template,
        project: body.project,
        expires_at: body.expires_at,
    };
    let users = state.users.clone();
    let created = blocking(move || users.create_api_key(&caller.0, new, &client.0)).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revokes a key: it stops working at once.
#[utoipa::path(delete, path = "/v1/api-keys/{key}", tag = "api-keys",
    params(("key" = ApiKeyId, Path, description = "key id")),
    responses(
        (status = 200, body = ApiKey, description = "the revoked key"),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such key in scope", body = ErrorEnvelope),
    ))]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = ApiKeyId::parse(&path)?;
    let users = state.users.clone();
    let key = blocking(move || users.revoke_api_key(&caller.0, &id, &client.0)).await?;
    Ok(HttpResponse::Ok().json(key))
}
