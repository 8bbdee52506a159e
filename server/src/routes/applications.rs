//! Applications to join the caller's enterprise, and their decisions.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shiyun_core::tenancy::{Application, ApplicationId, RequestStatus, TemplateId};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::routes::me::ApplicationList;
use crate::validation::{OptionalJson, ValidQuery};

/// Query of `GET /v1/applications`.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApplicationsParams {
    /// Only applications in this state.
    #[param(value_type = Option<RequestStatus>)]
    pub status: Option<String>,
}

/// Applications to join the caller's enterprise, newest first.
#[utoipa::path(get, path = "/v1/applications", tag = "members",
    params(ListApplicationsParams),
    responses(
        (status = 200, body = ApplicationList),
        (status = 400, description = "bad status", body = ErrorEnvelope),
    ))]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: Caller,
    ValidQuery(params): ValidQuery<ListApplicationsParams>,
) -> ApiResult<HttpResponse> {
    let status = params
        .status
        .as_deref()
        .map(RequestStatus::parse)
        .transpose()?;
    let users = state.users.clone();
    let applications = blocking(move || users.list_applications(&caller.0, status)).await?;
    Ok(HttpResponse::Ok().json(ApplicationList { applications }))
}

/// Body of `POST /v1/applications/{application}/approve` (optional).
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// The template the new member gets (default `tpl_viewer`).
    pub template: Option<TemplateId>,
}

/// Approves a pending application: the applicant becomes a member.
#[utoipa::path(post, path = "/v1/applications/{application}/approve", tag = "members",
    params(("application" = ApplicationId, Path, description = "application id")),
    request_body(content = Option<ApproveRequest>, description = "optional; `{}` or no body gives the viewer template"),
    responses(
        (status = 200, body = Application),
        (status = 400, description = "bad id or body", body = ErrorEnvelope),
        (status = 404, description = "no such application or template here", body = ErrorEnvelope),
        (status = 409, description = "already decided", body = ErrorEnvelope),
    ))]
pub async fn approve_application(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
    OptionalJson(body): OptionalJson<ApproveRequest>,
) -> ApiResult<HttpResponse> {
    let id = ApplicationId::parse(&path)?;
    let template = body.unwrap_or_default().template;
    let users = state.users.clone();
    let application =
        blocking(move || users.decide_application(&caller.0, &id, true, template, &client.0))
            .await?;
    Ok(HttpResponse::Ok().json(application))
}

/// Rejects a pending application.
#[utoipa::path(post, path = "/v1/applications/{application}/reject", tag = "members",
    params(("application" = ApplicationId, Path, description = "application id")),
    responses(
        (status = 200, body = Application),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application here", body = ErrorEnvelope),
        (status = 409, description = "already decided", body = ErrorEnvelope),
    ))]
pub async fn reject_application(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = ApplicationId::parse(&path)?;
    let users = state.users.clone();
    let application =
        blocking(move || users.decide_application(&caller.0, &id, false, None, &client.0)).await?;
    Ok(HttpResponse::Ok().json(application))
}
