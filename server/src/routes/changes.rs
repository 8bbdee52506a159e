//! The catalog change feed, for indexes and caches on other instances.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_core::store::ChangeEvent;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::AppState;
use crate::error::{ApiResult, ErrorEnvelope};
use crate::validation::ValidQuery;

/// Query of `GET /v1/changes`.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListChangesParams {
    /// Return events with a sequence number above this (default 0).
    #[validate(range(min = 0))]
    #[param(minimum = 0, default = 0)]
    pub after: Option<i64>,
    /// At most this many events (default 100).
    #[validate(range(min = 1, max = 1000))]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<u32>,
}

/// A page of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    /// Events in sequence order.
    pub events: Vec<ChangeEvent>,
    /// Pass as `after` to continue; the last event's sequence number, or the request's `after`.
    pub next_after: u64,
}

/// Reads the change feed from a sequence number on.
#[utoipa::path(get, path = "/v1/changes", tag = "listings", params(ListChangesParams), responses(
    (status = 200, body = ChangePage),
    (status = 400, description = "bad `after` or `limit`", body = ErrorEnvelope),
    (status = 503, description = "database unavailable", body = ErrorEnvelope),
))]
pub async fn list_changes(
    state: web::Data<AppState>,
    ValidQuery(params): ValidQuery<ListChangesParams>,
) -> ApiResult<HttpResponse> {
    // Validated as at least 0, so the conversion cannot fail.
    let after = params.after.map_or(0, i64::unsigned_abs);
    let limit = params.limit.unwrap_or(100);
    let feed = state.changes.clone();
    let events = web::block(move || feed.read_changes(after, limit)).await??;
    let next_after = events.last().map_or(after, |e| e.seq);
    Ok(HttpResponse::Ok().json(ChangePage { events, next_after }))
}
