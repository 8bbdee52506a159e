//! Invitations by email: an enterprise invites, the invited person accepts.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_core::tenancy::{Invitation, InvitationId, Member, TemplateId};
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::{Caller, Client};
use crate::error::{ApiResult, ErrorEnvelope};
use crate::routes::blocking;
use crate::validation::{ValidJson, no_control_characters};

/// Body of `POST /v1/invitations`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// The address to invite; the token goes there by email.
    #[validate(length(min = 3, max = 254), custom(function = no_control_characters))]
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "han.meimei@example.com"
    )]
    pub email: String,
    /// The template the new member will get.
    pub template: TemplateId,
}

/// Invites an email address to the caller's enterprise; the invitation expires.
#[utoipa::path(post, path = "/v1/invitations", tag = "members",
    request_body = InviteRequest,
    responses(
        (status = 201, body = Invitation),
        (status = 400, description = "not an email address", body = ErrorEnvelope),
        (status = 404, description = "no such template here", body = ErrorEnvelope),
    ))]
pub async fn create_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<InviteRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let invitation =
        blocking(move || users.invite(&caller.0, &body.email, body.template, &client.0)).await?;
    Ok(HttpResponse::Created().json(invitation))
}

/// An enterprise's invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    /// Newest first.
    pub invitations: Vec<Invitation>,
}

/// The caller's enterprise's invitations.
#[utoipa::path(get, path = "/v1/invitations", tag = "members",
    responses((status = 200, body = InvitationList)))]
pub async fn list_invitations(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let invitations = blocking(move || users.list_invitations(&caller.0)).await?;
    Ok(HttpResponse::Ok().json(InvitationList { invitations }))
}

/// Withdraws a pending invitation.
#[utoipa::path(delete, path = "/v1/invitations/{invitation}", tag = "members",
    params(("invitation" = InvitationId, Path, description = "invitation id")),
    responses(
        (status = 204, description = "withdrawn"),
        (status = 400, description = "bad id", body = ErrorEnvelope),
        (status = 404, description = "no such invitation here", body = ErrorEnvelope),
        (status = 409, description = "the invitation is no longer pending", body = ErrorEnvelope),
    ))]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = InvitationId::parse(&path)?;
    let users = state.users.clone();
    blocking(move || users.revoke_invitation(&caller.0, &id, &client.0)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `POST /v1/invitations/accept`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The invitation token (`syi_…`) from the email.
    #[validate(length(min = 1, max = 512))]
    #[schema(min_length = 1, max_length = 512)]
    pub token: String,
}

/// Accepts an invitation sent to the caller's confirmed email address.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "members",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, body = Member),
        (status = 400, description = "malformed body", body = ErrorEnvelope),
        (status = 403, description = "the caller's email address is not confirmed yet", body = ErrorEnvelope),
        (status = 404, description = "no pending, unexpired invitation with that token for this account", body = ErrorEnvelope),
    ))]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    client: Client,
    ValidJson(body): ValidJson<AcceptInvitationRequest>,
) -> ApiResult<HttpResponse> {
    let users = state.users.clone();
    let member =
        blocking(move || users.accept_invitation(&caller.0, &body.token, &client.0)).await?;
    Ok(HttpResponse::Ok().json(member))
}
