//! The catalog change feed, for indexes and caches on other instances.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use shiyun_core::store::ChangeEvent;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};

/// Query of `GET /v1/changes`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListChangesParams {
    /// Return events with a sequence number above this (default 0).
    pub after: Option<u64>,
    /// At most this many events, 1 to 1000 (default 100).
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
    (status = 400, body = ErrorEnvelope),
))]
#[get("/v1/changes")]
pub async fn list_changes(
    state: web::Data<AppState>,
    params: web::Query<ListChangesParams>,
) -> ApiResult<HttpResponse> {
    let after = params.after.unwrap_or(0);
    let limit = params.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let feed = state.changes.clone();
    let events = web::block(move || feed.read_changes(after, limit)).await??;
    let next_after = events.last().map_or(after, |e| e.seq);
    Ok(HttpResponse::Ok().json(ChangePage { events, next_after }))
}
