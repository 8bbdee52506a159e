//! Projects inside the caller's enterprise. Lists and reads follow the
//! caller's data scope: `projects` members see only their own projects.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_core::tenancy::{AccountId, Project, ProjectId};
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::{ValidJson, no_control_characters};

/// Projects the caller sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    /// The projects.
    pub projects: Vec<Project>,
}

/// The projects the caller's data scope sees.
#[utoipa::path(get, path = "/v1/projects", tag = "projects",
    responses((status = 200, body = ProjectList)))]
pub async fn list_projects(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let projects = blocking(move || users.list_projects(&caller.0)).await?;
    Ok(HttpResponse::Ok().json(ProjectList { projects }))
}

/// Body of `POST /v1/projects`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// Name, unique within the enterprise.
    #[validate(length(min = 1, max = 64), custom(function = no_control_characters))]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "storefront"
    )]
    pub name: String,
}

/// Creates a project; the caller becomes its first member.
#[utoipa::path(post, path = "/v1/projects", tag = "projects",
    request_body = CreateProjectRequest,
    responses(
        (status = 201, body = Project),
        (status = 400, description = "bad name", body = ErrorEnvelope),
        (status = 409, description = "the enterprise has a project of that name", body = ErrorEnvelope),
    ))]
pub async fn create_project(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<CreateProjectRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let project = blocking(move || users.create_project(&caller.0, &body.name, &client.0)).await?;
    Ok(HttpResponse::Created().json(project))
}

/// One project, if the caller's scope sees it.
#[utoipa::path(get, path = "/v1/projects/{project}", tag = "projects",
    params(("project" = ProjectId, Path, description = "project id")),
    responses(
        (status = 200, body = Project),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such project in scope", body = ErrorEnvelope),
    ))]
pub async fn get_project(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = ProjectId::parse(&path)?;
    let users = state.users.clone();
    let project = blocking(move || users.get_project(&caller.0, &id)).await?;
    Ok(HttpResponse::Ok().json(project))
}

/// Puts the member on the project (`member`) or takes them off.
async fn set_project_member(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<(String, String)>,
    member: bool,
) -> ApiResult<HttpResponse> {
    let (project, account) = (ProjectId::parse(&path.0)?, AccountId::parse(&path.1)?);
    let users = state.users.clone();
    let project = blocking(move || {
        users.set_project_member(&caller.0, &project, &account, member, &client.0)
    })
    .await?;
    Ok(HttpResponse::Ok().json(project))
}

/// Adds a member of the enterprise to a project.
#[utoipa::path(put, path = "/v1/projects/{project}/members/{account}", tag = "projects",
    params(
        ("project" = ProjectId, Path, description = "project id"),
        ("account" = AccountId, Path, description = "the member's account id"),
    ),
    responses(
        (status = 200, body = Project),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such project or member here", body = ErrorEnvelope),
    ))]
pub async fn add_project_member(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    set_project_member(state, caller, client, path, true).await
}

/// Takes a member off a project.
#[utoipa::path(delete, path = "/v1/projects/{project}/members/{account}", tag = "projects",
    params(
        ("project" = ProjectId, Path, description = "project id"),
        ("account" = AccountId, Path, description = "the member's account id"),
    ),
    responses(
        (status = 200, body = Project),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such project or member here", body = ErrorEnvelope),
    ))]
pub async fn remove_project_member(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    set_project_member(state, caller, client, path, false).await
}
