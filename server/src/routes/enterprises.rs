//! Enterprises as an individual sees them: create one, find one to apply
//! to, apply, leave.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_core::tenancy::{Application, Enterprise, EnterpriseId};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::{ValidJson, ValidQuery, no_control_characters};

/// Body of `POST /v1/enterprises`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateEnterpriseRequest {
    /// Name, unique across the marketplace (case-insensitively).
    #[validate(length(min = 1, max = 100), custom(function = no_control_characters))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "拾云科技"
    )]
    pub name: String,
}

/// Creates an enterprise; the caller becomes its administrator.
#[utoipa::path(post, path = "/v1/enterprises", tag = "enterprises",
    request_body = CreateEnterpriseRequest,
    responses(
        (status = 201, body = Enterprise),
        (status = 400, description = "bad name", body = ErrorEnvelope),
        (status = 409, description = "the name is taken", body = ErrorEnvelope),
    ))]
pub async fn create_enterprise(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<CreateEnterpriseRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let enterprise =
        blocking(move || users.create_enterprise(&caller.0, &body.name, &client.0)).await?;
    Ok(HttpResponse::Created().json(enterprise))
}

/// Query of `GET /v1/enterprises`.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindEnterprisesParams {
    /// Text the name contains (case-insensitive); empty lists the first ones.
    #[validate(length(max = 100), custom(function = no_control_characters))]
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub q: Option<String>,
}

/// Enterprises found by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseList {
    /// The enterprises.
    pub enterprises: Vec<Enterprise>,
}

/// The enterprise directory: find one by name to apply to.
#[utoipa::path(get, path = "/v1/enterprises", tag = "enterprises",
    params(FindEnterprisesParams),
    responses(
        (status = 200, body = EnterpriseList),
        (status = 400, description = "bad query", body = ErrorEnvelope),
    ))]
pub async fn find_enterprises(
    state: web::Data<AppState>,
    caller: Caller,
    ValidQuery(params): ValidQuery<FindEnterprisesParams>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let text = params.q.unwrap_or_default();
    let enterprises = blocking(move || users.find_enterprises(&caller.0, &text)).await?;
    Ok(HttpResponse::Ok().json(EnterpriseList { enterprises }))
}

/// Body of `POST /v1/enterprises/{enterprise}/applications`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// A word to the administrators.
    #[validate(length(max = 1000))]
    #[schema(max_length = 1000)]
    pub message: String,
}

/// Applies to join an enterprise; its administrators approve or reject.
#[utoipa::path(post, path = "/v1/enterprises/{enterprise}/applications", tag = "enterprises",
    params(("enterprise" = EnterpriseId, Path, description = "enterprise id")),
    request_body = ApplyRequest,
    responses(
        (status = 201, body = Application),
        (status = 400, description = "bad id or message", body = ErrorEnvelope),
        (status = 404, description = "no such enterprise", body = ErrorEnvelope),
        (status = 409, description = "already a member, or an application is pending", body = ErrorEnvelope),
    ))]
pub async fn apply(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
    ValidJson(body): ValidJson<ApplyRequest>,
) -> ApiResult<HttpResponse> {
    let enterprise = EnterpriseId::parse(&path)?;
    let users = state.users.clone();
    let application =
        blocking(move || users.apply(&caller.0, &enterprise, &body.message, &client.0)).await?;
    Ok(HttpResponse::Created().json(application))
}

/// Leaves an enterprise. The administrator must hand the role on first.
#[utoipa::path(post, path = "/v1/enterprises/{enterprise}/leave", tag = "enterprises",
    params(("enterprise" = EnterpriseId, Path, description = "enterprise id")),
    responses(
        (status = 204, description = "left"),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "not a member there", body = ErrorEnvelope),
        (status = 409, description = "the administrator cannot leave", body = ErrorEnvelope),
    ))]
pub async fn leave(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let enterprise = EnterpriseId::parse(&path)?;
    let users = state.users.clone();
    blocking(move || users.leave(&caller.0, &enterprise, &client.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}
