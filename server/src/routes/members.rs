//! An enterprise's staff: list, give a template, remove, hand on the
//! administrator role. Every call acts on the caller's current enterprise.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_core::tenancy::{AccountId, Member, TemplateId};
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::ValidJson;

/// An enterprise's members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    /// The members.
    pub members: Vec<Member>,
}

/// The members of the caller's enterprise.
#[utoipa::path(get, path = "/v1/members", tag = "members",
    responses((status = 200, body = MemberList)))]
pub async fn list_members(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let members = blocking(move || users.list_members(&caller.0)).await?;
    Ok(HttpResponse::Ok().json(MemberList { members }))
}

/// Body of `PUT /v1/members/{account}/template`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SetTemplateRequest {
    /// A built-in template (`tpl_viewer`) or one of the enterprise's own.
    pub template: TemplateId,
}

/// Gives a member another permission template.
#[utoipa::path(put, path = "/v1/members/{account}/template", tag = "members",
    params(("account" = AccountId, Path, description = "the member's account id")),
    request_body = SetTemplateRequest,
    responses(
        (status = 200, body = Member),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such member or template here", body = ErrorEnvelope),
        (status = 409, description = "the administrator keeps the owner template", body = ErrorEnvelope),
    ))]
pub async fn set_member_template(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
    ValidJson(body): ValidJson<SetTemplateRequest>,
) -> ApiResult<HttpResponse> {
    let account = AccountId::parse(&path)?;
    let users = state.users.clone();
    let member =
        blocking(move || users.set_member_template(&caller.0, &account, &body.template, &client.0))
            .await?;
    Ok(HttpResponse::Ok().json(member))
}

/// Removes a member; the keys it created are revoked.
#[utoipa::path(delete, path = "/v1/members/{account}", tag = "members",
    params(("account" = AccountId, Path, description = "the member's account id")),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such member here", body = ErrorEnvelope),
        (status = 409, description = "the administrator cannot be removed", body = ErrorEnvelope),
    ))]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let account = AccountId::parse(&path)?;
    let users = state.users.clone();
    blocking(move || users.remove_member(&caller.0, &account, &client.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `POST /v1/members/transfer-admin`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct TransferAdminRequest {
    /// The member who becomes the administrator.
    pub to: AccountId,
}

/// Hands the administrator role to another member; the caller (who must be
/// the administrator) keeps the `admin` template. Of two transfers at once,
/// one fails: an enterprise always has exactly one administrator.
#[utoipa::path(post, path = "/v1/members/transfer-admin", tag = "members",
    request_body = TransferAdminRequest,
    responses(
        (status = 204, description = "transferred"),
        (status = 400, description = "bad id, or the caller's own", body = ErrorEnvelope),
        (status = 403, description = "the caller is not the administrator", body = ErrorEnvelope),
        (status = 404, description = "no such member here", body = ErrorEnvelope),
        (status = 409, description = "the caller is no longer the administrator (a transfer ran first)", body = ErrorEnvelope),
    ))]
pub async fn transfer_admin(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<TransferAdminRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    blocking(move || users.transfer_admin(&caller.0, &body.to, &client.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}
