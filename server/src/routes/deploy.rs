//! The deployment platform: clusters (operators register and grant them),
//! projects placed on a cluster, applications with immutable releases,
//! scale, rollback, stop/start/restart/delete, status, logs, builds and
//! the running cost. The rules are `shiyun_deploy::engine`'s; these
//! handlers extract, check the project is the caller's, call and answer.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use shiyun_core::deploy::{AppId, BuildId, ClusterId, ClusterKind};
use shiyun_core::tenancy::{Principal, ProjectId, Tenant};
use shiyun_deploy::cluster::LogOptions;
use shiyun_deploy::engine::{
    Actor, AppView, BuildView, ClusterView, NewCluster, PlacementView, ReleaseView, ScaleRequest,
    SpecChange, StatusView,
};
use shiyun_deploy::model::{AppSpec, ProjectQuota};
use shiyun_deploy::render::BuildSource;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::{ValidJson, ValidQuery};

fn actor(principal: &Principal) -> Actor {
    Actor {
        scope: principal.scope(),
        account: principal.account.clone(),
    }
}

/// The project must be one the caller sees.
async fn visible_project(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> ApiResult<ProjectId> {
    let id = ProjectId::parse(id)?;
    let (users, caller, project) = (state.users.clone(), principal.clone(), id.clone());
    blocking(move || users.get_project(&caller, &project)).await?;
    Ok(id)
}

/// `?wait=true`: answer once the rollout has ended.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Wait for the rollout to succeed or fail before answering (default false).
    pub wait: Option<bool>,
}

// ---------------------------------------------------------------- clusters

/// Body of `POST /v1/clusters`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RegisterClusterRequest {
    /// Unique name (a DNS label).
    #[validate(length(min = 1, max = 63))]
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = "^[a-z]([-a-z0-9]*[a-z0-9])?$",
        example = "shanghai-1"
    )]
    pub name: String,
    /// `kubernetes` (default) or `simulated` (the in-process API server).
    pub kind: Option<ClusterKind>,
    /// The API server's URL (`https://10.0.0.1:6443`); ignored when simulated.
    #[validate(length(max = 512))]
    #[schema(max_length = 512)]
    pub api_url: Option<String>,
    /// `kubeconfig` or `token` (default).
    #[validate(length(min = 1, max = 16))]
    #[schema(
        min_length = 1,
        max_length = 16,
        pattern = "^(kubeconfig|token)$",
        example = "token"
    )]
    pub credential_kind: Option<String>,
    /// The kubeconfig's text or the bearer token: sealed, never returned.
    #[validate(length(max = 262144))]
    #[schema(max_length = 262144)]
    pub credential: Option<String>,
}

/// Clusters.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterList {
    /// The clusters.
    pub clusters: Vec<ClusterView>,
}

/// Registers a cluster (operators). The credential is sealed with the
/// settings' key and never returned or logged.
#[utoipa::path(post, path = "/v1/clusters", tag = "deploy", request_body = RegisterClusterRequest,
    responses(
        (status = 201, body = ClusterView),
        (status = 400, description = "bad name, URL or credential", body = ErrorEnvelope),
        (status = 409, description = "the name is taken", body = ErrorEnvelope),
    ))]
pub async fn register_cluster(
    state: web::Data<AppState>,
    ValidJson(body): ValidJson<RegisterClusterRequest>,
) -> ApiResult<HttpResponse> {
    let kind = body.kind.unwrap_or(ClusterKind::Kubernetes);
    let (api_url, credential) = match kind {
        ClusterKind::Simulated => (
            body.api_url
                .unwrap_or_else(|| "http://simulated".to_owned()),
            body.credential.unwrap_or_default(),
        ),
        ClusterKind::Kubernetes => (
            body.api_url
                .ok_or_else(|| ApiError::invalid("api_url", "is required"))?,
            body.credential
                .ok_or_else(|| ApiError::invalid("credential", "is required"))?,
        ),
    };
    let view = state
        .deploy
        .register_cluster(
            NewCluster {
                name: body.name,
                kind,
                api_url,
                credential_kind: body.credential_kind.unwrap_or_else(|| "token".to_owned()),
                credential,
            },
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The clusters the caller may deploy to (operators: every cluster, with grants).
#[utoipa::path(get, path = "/v1/clusters", tag = "deploy",
    responses((status = 200, body = ClusterList)))]
pub async fn list_clusters(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let clusters = if caller.0.operator {
        state.deploy.list_clusters().await?
    } else {
        state.deploy.clusters_of(&caller.0.tenant).await?
    };
    Ok(HttpResponse::Ok().json(ClusterList { clusters }))
}

async fn set_grant(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    granted: bool,
) -> ApiResult<HttpResponse> {
    let cluster = ClusterId::parse(&path.0)?;
    let tenant = Tenant::parse(&path.1).map_err(|e| ApiError::invalid("tenant", e.message()))?;
    let view = state.deploy.grant(&cluster, &tenant, granted).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Lets a tenant (`acc_…` or `ent_…`) deploy to a cluster (operators).
#[utoipa::path(put, path = "/v1/clusters/{cluster}/grants/{tenant}", tag = "deploy",
    params(("cluster" = ClusterId, Path, description = "cluster id"),
           ("tenant" = String, Path, description = "tenant id (`acc_…` or `ent_…`)", pattern = "^(acc|ent)_[0-9a-z]{1,40}$")),
    responses(
        (status = 200, body = ClusterView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such cluster", body = ErrorEnvelope),
    ))]
pub async fn grant_cluster(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    set_grant(state, path, true).await
}

/// Withdraws a tenant's use of a cluster (operators).
#[utoipa::path(delete, path = "/v1/clusters/{cluster}/grants/{tenant}", tag = "deploy",
    params(("cluster" = ClusterId, Path, description = "cluster id"),
           ("tenant" = String, Path, description = "tenant id (`acc_…` or `ent_…`)", pattern = "^(acc|ent)_[0-9a-z]{1,40}$")),
    responses(
        (status = 200, body = ClusterView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such cluster", body = ErrorEnvelope),
    ))]
pub async fn revoke_cluster(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    set_grant(state, path, false).await
}

// -------------------------------------------------------------- placements

/// Body of `PUT /v1/projects/{project}/placement`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PlacementRequest {
    /// A cluster granted to the caller's tenant.
    #[schema(value_type = String)]
    pub cluster: String,
    /// Quota and default container requests (defaults: 8 vCPU, 16 GiB, 50 pods).
    pub quota: Option<ProjectQuota>,
}

/// Places the project on a cluster (or changes its quota): it becomes a
/// namespace with a quota, default limits and a policy refusing traffic
/// from other tenants.
#[utoipa::path(put, path = "/v1/projects/{project}/placement", tag = "deploy",
    request_body = PlacementRequest,
    params(("project" = ProjectId, Path, description = "project id")),
    responses(
        (status = 200, body = PlacementView),
        (status = 400, description = "bad id or quota", body = ErrorEnvelope),
        (status = 403, description = "the cluster is not granted", body = ErrorEnvelope),
        (status = 404, description = "no such project or cluster", body = ErrorEnvelope),
        (status = 409, description = "placed on another cluster", body = ErrorEnvelope),
    ))]
pub async fn place_project(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidJson(body): ValidJson<PlacementRequest>,
) -> ApiResult<HttpResponse> {
    let project = visible_project(&state, &caller.0, &path).await?;
    let cluster = ClusterId::parse(&body.cluster)?;
    let view = state
        .deploy
        .place_project(
            &actor(&caller.0),
            &project,
            &cluster,
            body.quota.unwrap_or_default(),
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Where the project runs.
#[utoipa::path(get, path = "/v1/projects/{project}/placement", tag = "deploy",
    params(("project" = ProjectId, Path, description = "project id")),
    responses(
        (status = 200, body = PlacementView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such project, or not placed", body = ErrorEnvelope),
    ))]
pub async fn get_placement(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = visible_project(&state, &caller.0, &path).await?;
    let view = state.deploy.placement(&actor(&caller.0), &project).await?;
    Ok(HttpResponse::Ok().json(view))
}

// ------------------------------------------------------------ applications

/// Body of `POST /v1/projects/{project}/apps`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    /// Name, unique in the project (a DNS label, at most 40).
    #[validate(length(min = 1, max = 40))]
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = "^[a-z]([-a-z0-9]*[a-z0-9])?$",
        example = "web"
    )]
    pub name: String,
    /// What its first release runs.
    pub spec: AppSpec,
}

/// An application with the release just made.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppCreated {
    /// The application.
    pub app: AppView,
    /// Its first release.
    pub release: ReleaseView,
}

/// Applications.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppList {
    /// The applications.
    pub apps: Vec<AppView>,
}

/// Creates an application from an image and rolls out release 1.
#[utoipa::path(post, path = "/v1/projects/{project}/apps", tag = "deploy",
    request_body = CreateAppRequest,
    params(("project" = ProjectId, Path, description = "project id"), WaitQuery),
    responses(
        (status = 201, body = AppCreated),
        (status = 400, description = "bad name or spec", body = ErrorEnvelope),
        (status = 404, description = "no such project", body = ErrorEnvelope),
        (status = 409, description = "name taken, or the project is not placed", body = ErrorEnvelope),
        (status = 503, description = "the cluster refused or is unreachable", body = ErrorEnvelope),
    ))]
pub async fn create_app(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidQuery(query): ValidQuery<WaitQuery>,
    ValidJson(body): ValidJson<CreateAppRequest>,
) -> ApiResult<HttpResponse> {
    let project = visible_project(&state, &caller.0, &path).await?;
    let (app, release) = state
        .deploy
        .create_app(
            &actor(&caller.0),
            &project,
            &body.name,
            body.spec,
            query.wait.unwrap_or(false),
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Created().json(AppCreated { app, release }))
}

/// The project's applications the caller sees.
#[utoipa::path(get, path = "/v1/projects/{project}/apps", tag = "deploy",
    params(("project" = ProjectId, Path, description = "project id")),
    responses(
        (status = 200, body = AppList),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such project", body = ErrorEnvelope),
    ))]
pub async fn list_project_apps(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = visible_project(&state, &caller.0, &path).await?;
    let apps = state.deploy.list(&actor(&caller.0), Some(&project)).await?;
    Ok(HttpResponse::Ok().json(AppList { apps }))
}

/// Every application the caller sees.
#[utoipa::path(get, path = "/v1/apps", tag = "deploy",
    responses((status = 200, body = AppList)))]
pub async fn list_apps(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let apps = state.deploy.list(&actor(&caller.0), None).await?;
    Ok(HttpResponse::Ok().json(AppList { apps }))
}

fn app_id(path: &str) -> ApiResult<AppId> {
    Ok(AppId::parse(path)?)
}

/// One application: spec (secret values hidden), release, address, URLs.
#[utoipa::path(get, path = "/v1/apps/{app}", tag = "deploy",
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 200, body = AppView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
    ))]
pub async fn get_app(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = state.deploy.get(&actor(&caller.0), &app_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Result of a delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Cluster objects deleted.
    pub objects: usize,
}

/// Deletes everything the application owns in the cluster.
#[utoipa::path(delete, path = "/v1/apps/{app}", tag = "deploy",
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 200, body = Deleted),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
    ))]
pub async fn delete_app(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let objects = state
        .deploy
        .delete(&actor(&caller.0), &app_id(&path)?, Utc::now())
        .await?;
    Ok(HttpResponse::Ok().json(Deleted { objects }))
}

/// Deploys a new spec as a new release (the rollout is watched to its deadline).
#[utoipa::path(post, path = "/v1/apps/{app}/releases", tag = "deploy", request_body = AppSpec,
    params(("app" = AppId, Path, description = "application id"), WaitQuery),
    responses(
        (status = 201, body = ReleaseView),
        (status = 400, description = "bad spec", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
        (status = 503, description = "the cluster refused or is unreachable", body = ErrorEnvelope),
    ))]
pub async fn deploy_release(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidQuery(query): ValidQuery<WaitQuery>,
    body: web::Json<AppSpec>,
) -> ApiResult<HttpResponse> {
    let release = state
        .deploy
        .deploy(
            &actor(&caller.0),
            &app_id(&path)?,
            body.into_inner(),
            query.wait.unwrap_or(false),
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Created().json(release))
}

/// Releases.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseList {
    /// Newest first.
    pub releases: Vec<ReleaseView>,
}

/// The release history, newest first.
#[utoipa::path(get, path = "/v1/apps/{app}/releases", tag = "deploy",
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 200, body = ReleaseList),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
    ))]
pub async fn list_releases(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let releases = state
        .deploy
        .releases(&actor(&caller.0), &app_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(ReleaseList { releases }))
}

/// One release.
#[utoipa::path(get, path = "/v1/apps/{app}/releases/{version}", tag = "deploy",
    params(("app" = AppId, Path, description = "application id"),
           ("version" = u32, Path, description = "release number", minimum = 1)),
    responses(
        (status = 200, body = ReleaseView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such release", body = ErrorEnvelope),
    ))]
pub async fn get_release(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, u32)>,
) -> ApiResult<HttpResponse> {
    let release = state
        .deploy
        .release_of(&actor(&caller.0), &app_id(&path.0)?, path.1)
        .await?;
    Ok(HttpResponse::Ok().json(release))
}

/// Query of the release comparison.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompareQuery {
    /// The earlier release (default: the one before `to`; 0 is nothing).
    pub from: Option<u32>,
    /// The later release (default: the current one).
    #[validate(range(min = 1))]
    #[param(minimum = 1)]
    pub to: Option<u32>,
}

/// What changed between two releases.
#[derive(Debug, Serialize, ToSchema)]
pub struct Comparison {
    /// The earlier release.
    pub from: u32,
    /// The later release.
    pub to: u32,
    /// Changed spec fields.
    pub changes: Vec<SpecChange>,
}

/// Compares two releases' specs field by field (by default the current
/// release with the one before it).
#[utoipa::path(get, path = "/v1/apps/{app}/compare", tag = "deploy",
    params(("app" = AppId, Path, description = "application id"), CompareQuery),
    responses(
        (status = 200, body = Comparison),
        (status = 400, description = "bad id or versions", body = ErrorEnvelope),
        (status = 404, description = "no such release", body = ErrorEnvelope),
        (status = 409, description = "the application has no release yet", body = ErrorEnvelope),
    ))]
pub async fn compare_releases(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidQuery(query): ValidQuery<CompareQuery>,
) -> ApiResult<HttpResponse> {
    let (from, to, changes) = state
        .deploy
        .compare(&actor(&caller.0), &app_id(&path)?, query.from, query.to)
        .await?;
    Ok(HttpResponse::Ok().json(Comparison { from, to, changes }))
}

/// Body of `POST /v1/apps/{app}/rollback`.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The release to copy (default: the newest earlier one that ran).
    #[validate(range(min = 1))]
    #[schema(minimum = 1)]
    pub to: Option<u32>,
}

/// Rolls back in one call: a new release copying an earlier one.
#[utoipa::path(post, path = "/v1/apps/{app}/rollback", tag = "deploy",
    request_body = RollbackRequest,
    params(("app" = AppId, Path, description = "application id"), WaitQuery),
    responses(
        (status = 201, body = ReleaseView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application or release", body = ErrorEnvelope),
        (status = 409, description = "nothing to roll back to", body = ErrorEnvelope),
    ))]
pub async fn rollback_app(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidQuery(query): ValidQuery<WaitQuery>,
    ValidJson(body): ValidJson<RollbackRequest>,
) -> ApiResult<HttpResponse> {
    let release = state
        .deploy
        .rollback(
            &actor(&caller.0),
            &app_id(&path)?,
            body.to,
            query.wait.unwrap_or(false),
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Created().json(release))
}

/// Scales by hand: `replicas` for a fixed-scale application, `min` and
/// `max` (or `replicas` for both) for an autoscaled one.
#[utoipa::path(post, path = "/v1/apps/{app}/scale", tag = "deploy", request_body = ScaleRequest,
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 200, body = AppView),
        (status = 400, description = "bad scale", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
        (status = 409, description = "the application is stopped", body = ErrorEnvelope),
    ))]
pub async fn scale_app(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ScaleRequest>,
) -> ApiResult<HttpResponse> {
    let view = state
        .deploy
        .scale(
            &actor(&caller.0),
            &app_id(&path)?,
            body.into_inner(),
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Stops: replicas to 0, objects kept.
#[utoipa::path(post, path = "/v1/apps/{app}/stop", tag = "deploy",
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 200, body = AppView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
    ))]
pub async fn stop_app(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = state
        .deploy
        .stop(&actor(&caller.0), &app_id(&path)?, Utc::now())
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Starts a stopped application.
#[utoipa::path(post, path = "/v1/apps/{app}/start", tag = "deploy",
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 200, body = AppView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
    ))]
pub async fn start_app(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = state
        .deploy
        .start(&actor(&caller.0), &app_id(&path)?, Utc::now())
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Restarts every pod, rolling.
#[utoipa::path(post, path = "/v1/apps/{app}/restart", tag = "deploy",
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 200, body = AppView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
        (status = 409, description = "the application is stopped", body = ErrorEnvelope),
    ))]
pub async fn restart_app(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = state
        .deploy
        .restart(&actor(&caller.0), &app_id(&path)?, Utc::now())
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Live status (replicas, pods, events) from the cluster's watch-fed cache.
#[utoipa::path(get, path = "/v1/apps/{app}/status", tag = "deploy",
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 200, body = StatusView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
    ))]
pub async fn app_status(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = state
        .deploy
        .status(&actor(&caller.0), &app_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Query of the log stream.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// The pod (default: the application's first).
    #[validate(length(min = 1, max = 253))]
    #[param(min_length = 1, max_length = 253)]
    pub pod: Option<String>,
    /// Lines from the end (1-10000).
    #[validate(range(min = 1, max = 10000))]
    #[param(minimum = 1, maximum = 10000)]
    pub tail: Option<i64>,
    /// Keep streaming new lines.
    pub follow: Option<bool>,
    /// The previous container's log.
    pub previous: Option<bool>,
}

/// Streams a pod's log as plain text.
#[utoipa::path(get, path = "/v1/apps/{app}/logs", tag = "deploy",
    params(("app" = AppId, Path, description = "application id"), LogQuery),
    responses(
        (status = 200, description = "the log, streamed", content_type = "text/plain", body = String),
        (status = 400, description = "bad id or query", body = ErrorEnvelope),
        (status = 404, description = "no such application or pod", body = ErrorEnvelope),
        (status = 409, description = "the application has no pods", body = ErrorEnvelope),
    ))]
pub async fn app_logs(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidQuery(query): ValidQuery<LogQuery>,
) -> ApiResult<HttpResponse> {
    let options = LogOptions {
        container: None,
        tail_lines: query.tail,
        follow: query.follow.unwrap_or(false),
        previous: query.previous.unwrap_or(false),
    };
    let stream = state
        .deploy
        .logs(
            &actor(&caller.0),
            &app_id(&path)?,
            query.pod.as_deref(),
            &options,
        )
        .await?;
    Ok(log_response(stream))
}

fn log_response(stream: shiyun_deploy::cluster::LogStream) -> HttpResponse {
    let body = stream.map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string())));
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .streaming(body)
}

// ------------------------------------------------------------------ builds

/// Starts a build from a repository: a Job runs the builder image and
/// pushes to the platform's registry.
#[utoipa::path(post, path = "/v1/apps/{app}/builds", tag = "deploy", request_body = BuildSource,
    params(("app" = AppId, Path, description = "application id")),
    responses(
        (status = 201, body = BuildView),
        (status = 400, description = "bad source", body = ErrorEnvelope),
        (status = 404, description = "no such application", body = ErrorEnvelope),
        (status = 409, description = "builds are not configured", body = ErrorEnvelope),
    ))]
pub async fn start_build(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<BuildSource>,
) -> ApiResult<HttpResponse> {
    let view = state
        .deploy
        .start_build(
            &actor(&caller.0),
            &app_id(&path)?,
            body.into_inner(),
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Created().json(view))
}

fn build_path(path: &(String, String)) -> ApiResult<(AppId, BuildId)> {
    Ok((AppId::parse(&path.0)?, BuildId::parse(&path.1)?))
}

/// A build and its state.
#[utoipa::path(get, path = "/v1/apps/{app}/builds/{build}", tag = "deploy",
    params(("app" = AppId, Path, description = "application id"),
           ("build" = BuildId, Path, description = "build id")),
    responses(
        (status = 200, body = BuildView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such build", body = ErrorEnvelope),
    ))]
pub async fn get_build(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (app, build) = build_path(&path)?;
    let view = state.deploy.build(&actor(&caller.0), &app, &build).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Query of the build log.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BuildLogQuery {
    /// Keep streaming until the build ends.
    pub follow: Option<bool>,
}

/// Streams a build's log.
#[utoipa::path(get, path = "/v1/apps/{app}/builds/{build}/logs", tag = "deploy",
    params(("app" = AppId, Path, description = "application id"),
           ("build" = BuildId, Path, description = "build id"), BuildLogQuery),
    responses(
        (status = 200, description = "the log, streamed", content_type = "text/plain", body = String),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such build", body = ErrorEnvelope),
        (status = 409, description = "the build has no pod yet", body = ErrorEnvelope),
    ))]
pub async fn build_logs(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    ValidQuery(query): ValidQuery<BuildLogQuery>,
) -> ApiResult<HttpResponse> {
    let (app, build) = build_path(&path)?;
    let stream = state
        .deploy
        .build_logs(
            &actor(&caller.0),
            &app,
            &build,
            query.follow.unwrap_or(false),
        )
        .await?;
    Ok(log_response(stream))
}

/// Deploys a successful build's image as a new release.
#[utoipa::path(post, path = "/v1/apps/{app}/builds/{build}/deploy", tag = "deploy",
    params(("app" = AppId, Path, description = "application id"),
           ("build" = BuildId, Path, description = "build id"), WaitQuery),
    responses(
        (status = 201, body = ReleaseView),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such build", body = ErrorEnvelope),
        (status = 409, description = "the build has not succeeded", body = ErrorEnvelope),
    ))]
pub async fn deploy_build(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    ValidQuery(query): ValidQuery<WaitQuery>,
) -> ApiResult<HttpResponse> {
    let (app, build) = build_path(&path)?;
    let release = state
        .deploy
        .deploy_build(
            &actor(&caller.0),
            &app,
            &build,
            query.wait.unwrap_or(false),
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Created().json(release))
}

// -------------------------------------------------------------------- cost

/// The caller's running cost: this month's invoice preview of the
/// deployment usage plan, from the usage metered so far.
#[utoipa::path(get, path = "/v1/deployments/cost", tag = "deploy",
    responses((status = 200, body = crate::deploy::CostPreview)))]
pub async fn running_cost(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let (billing, settings) = (state.billing.clone(), state.settings.clone());
    let customer = caller.0.tenant.as_str().to_owned();
    let preview =
        web::block(move || crate::deploy::cost_preview(&billing, &settings, &customer, Utc::now()))
            .await??;
    Ok(HttpResponse::Ok().json(preview))
}
