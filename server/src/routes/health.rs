//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use shiyun_core::error::ErrorCode;

use crate::error::{ApiError, ApiResult};

/// Probe answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeStatus {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = ProbeStatus)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(ProbeStatus { status: "ok" })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = ProbeStatus),
    (status = 503, description = "database unreachable", body = crate::error::ErrorEnvelope),
))]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let health = state.health.clone();
    let ping = web::block(move || health.ping());
    // A probe must answer in time even while the pool waits for a database
    // that is gone.
    match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(result) => result??,
        Err(_) => {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "database did not answer within {}s",
                    READY_TIMEOUT.as_secs()
                ),
            ));
        }
    }
    Ok(HttpResponse::Ok().json(ProbeStatus { status: "ready" }))
}

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
