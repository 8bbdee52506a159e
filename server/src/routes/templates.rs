//! Permission templates: the built-in ones and the enterprise's own.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_accounts::TemplateSpec;
use shiyun_core::tenancy::{DataScope, Permission, Template, TemplateId};
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::{ValidJson, no_control_characters};

/// Templates an enterprise can give.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    /// The built-in templates, then the enterprise's own.
    pub templates: Vec<Template>,
}

/// The built-in templates and the caller's enterprise's own.
#[utoipa::path(get, path = "/v1/templates", tag = "templates",
    responses((status = 200, body = TemplateList)))]
pub async fn list_templates(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let templates = blocking(move || users.list_templates(&caller.0)).await?;
    Ok(HttpResponse::Ok().json(TemplateList { templates }))
}

/// Body of `POST /v1/templates` and `PUT /v1/templates/{template}`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// Name, unique within the enterprise.
    #[validate(length(min = 1, max = 64), custom(function = no_control_characters))]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "billing-bot"
    )]
    pub name: String,
    /// Feature permissions (`catalog:write`, …).
    #[validate(length(max = 64))]
    #[schema(max_items = 64)]
    pub permissions: Vec<Permission>,
    /// Which rows members with it see: `all`, `projects` or `own`.
    pub data_scope: DataScope,
}

impl TemplateRequest {
    fn into_spec(self) -> TemplateSpec {
        TemplateSpec {
            name: self.name,
            permissions: self.permissions.into_iter().collect::<BTreeSet<_>>(),
            data_scope: self.data_scope,
        }
    }
}

/// Creates one of the enterprise's own templates.
#[utoipa::path(post, path = "/v1/templates", tag = "templates",
    request_body = TemplateRequest,
    responses(
        (status = 201, body = Template),
        (status = 400, description = "bad name or unknown permission", body = ErrorEnvelope),
        (status = 403, description = "the template grants more than the caller holds", body = ErrorEnvelope),
        (status = 409, description = "the enterprise has a template of that name", body = ErrorEnvelope),
    ))]
pub async fn create_template(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<TemplateRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let template =
        blocking(move || users.create_template(&caller.0, body.into_spec(), &client.0)).await?;
    Ok(HttpResponse::Created().json(template))
}

/// Replaces one of the enterprise's own templates (built-in ones are fixed).
#[utoipa::path(put, path = "/v1/templates/{template}", tag = "templates",
    params(("template" = TemplateId, Path, description = "template id")),
    request_body = TemplateRequest,
    responses(
        (status = 200, body = Template),
        (status = 400, description = "bad id, name or permission", body = ErrorEnvelope),
        (status = 403, description = "a built-in template, or one granting more than the caller holds", body = ErrorEnvelope),
        (status = 404, description = "no such template of the enterprise's own", body = ErrorEnvelope),
        (status = 409, description = "the name is taken", body = ErrorEnvelope),
    ))]
pub async fn update_template(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
    ValidJson(body): ValidJson<TemplateRequest>,
) -> ApiResult<HttpResponse> {
    let id = TemplateId::parse(&path)?;
    let users = state.users.clone();
    let template =
        blocking(move || users.update_template(&caller.0, &id, body.into_spec(), &client.0))
            .await?;
    Ok(HttpResponse::Ok().json(template))
}

/// Deletes one of the enterprise's own templates that no member or key uses.
#[utoipa::path(delete, path = "/v1/templates/{template}", tag = "templates",
    params(("template" = TemplateId, Path, description = "template id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 403, description = "a built-in template", body = ErrorEnvelope),
        (status = 404, description = "no such template of the enterprise's own", body = ErrorEnvelope),
        (status = 409, description = "members or keys use it", body = ErrorEnvelope),
    ))]
pub async fn delete_template(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = TemplateId::parse(&path)?;
    let users = state.users.clone();
    blocking(move || users.delete_template(&caller.0, &id, &client.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}
