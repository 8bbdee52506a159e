//! Reports of catalog syncs and imports.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_core::listing::Vendor;
use shiyun_core::store::SyncRun;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::AppState;
use crate::error::{ApiResult, ErrorEnvelope};
use crate::validation::ValidQuery;

/// Query of `GET /v1/sync-runs`.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListSyncRunsParams {
    /// Only this vendor.
    #[param(value_type = Option<Vendor>)]
    pub vendor: Option<String>,
    /// At most this many runs (default 20).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200, default = 20)]
    pub limit: Option<u32>,
}

/// Recent runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunList {
    /// Most recent first.
    pub runs: Vec<SyncRun>,
}

/// Lists recent catalog sync and import runs.
#[utoipa::path(get, path = "/v1/sync-runs", tag = "catalog", params(ListSyncRunsParams), responses(
    (status = 200, body = SyncRunList),
    (status = 400, description = "bad vendor or limit", body = ErrorEnvelope),
    (status = 503, description = "database unavailable", body = ErrorEnvelope),
))]
pub async fn list_sync_runs(
    state: web::Data<AppState>,
    ValidQuery(params): ValidQuery<ListSyncRunsParams>,
) -> ApiResult<HttpResponse> {
    let vendor = params.vendor.as_deref().map(Vendor::parse).transpose()?;
    let limit = params.limit.unwrap_or(20);
    let store = state.sync_runs.clone();
    let runs = web::block(move || store.recent_sync_runs(vendor, limit)).await??;
    Ok(HttpResponse::Ok().json(SyncRunList { runs }))
}
