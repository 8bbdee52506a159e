//! The append-only audit log: an enterprise's for its auditors, the
//! platform's for operators.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_accounts::UserCentre;
use shiyun_accounts::service::AccountResult;
use shiyun_core::tenancy::{AuditEvent, Principal};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::ValidQuery;

/// Query of the audit routes.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAuditParams {
    /// Events after this sequence number (default 0).
    #[validate(range(min = 0))]
    #[param(minimum = 0, default = 0)]
    pub after: Option<i64>,
    /// At most this many events (default 100).
    #[validate(range(min = 1, max = 500))]
    #[param(minimum = 1, maximum = 500, default = 100)]
    pub limit: Option<u32>,
}

impl ListAuditParams {
    fn window(&self) -> (u64, u32) {
        // Validated as at least 0, so the conversion cannot fail.
        (
            self.after.map_or(0, i64::unsigned_abs),
            self.limit.unwrap_or(100),
        )
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Events, oldest first.
    pub events: Vec<AuditEvent>,
    /// Pass as `after` to continue.
    pub next_after: u64,
}

/// Answers the page `read` gives for the query's window.
async fn audit_page<F>(
    state: web::Data<AppState>,
    caller: Caller,
    params: ListAuditParams,
    read: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce(&UserCentre, &Principal, u64, u32) -> AccountResult<Vec<AuditEvent>> + Send + 'static,
{
    let (after, limit) = params.window();
    let users = state.users.clone();
    let events = blocking(move || read(&users, &caller.0, after, limit)).await?;
    let next_after = events.last().map_or(after, |e| e.seq);
    Ok(HttpResponse::Ok().json(AuditPage { events, next_after }))
}

/// The audit log of the caller's enterprise: log-ins, membership, template
/// and key changes.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    params(ListAuditParams),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "bad `after` or `limit`", body = ErrorEnvelope),
    ))]
pub async fn list_audit(
    state: web::Data<AppState>,
    caller: Caller,
    ValidQuery(params): ValidQuery<ListAuditParams>,
) -> ApiResult<HttpResponse> {
    audit_page(state, caller, params, UserCentre::list_audit).await
}

/// The platform's own audit events (operator work, log-ins to no tenant).
#[utoipa::path(get, path = "/v1/audit/platform", tag = "audit",
    params(ListAuditParams),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "bad `after` or `limit`", body = ErrorEnvelope),
    ))]
pub async fn list_platform_audit(
    state: web::Data<AppState>,
    caller: Caller,
    ValidQuery(params): ValidQuery<ListAuditParams>,
) -> ApiResult<HttpResponse> {
    audit_page(state, caller, params, UserCentre::list_platform_audit).await
}
