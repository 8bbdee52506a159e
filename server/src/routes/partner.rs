//! Partner catalogs: an enterprise registers its own vendor id (`p-<slug>`)
//! and publishes listings under it. The server assigns each listing's id,
//! vendor and provenance; an enterprise changes only its own listings.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use shiyun_core::error::ErrorCode;
use shiyun_core::listing::{ListingId, PartnerListingInput, VendorRef};
use shiyun_core::store::{ListingFilter, ListingQuery, PartnerVendor, UpsertReport};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::routes::listings::{ListingPage, StatusFilter, listing_page, status_kept};
use crate::validation::{ValidJson, ValidQuery, no_control_characters};

/// Body of `PUT /v1/partner/vendor`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PartnerVendorRequest {
    /// The vendor id's slug: the id is `p-<slug>`, fixed once registered.
    #[validate(length(min = 2, max = 32))]
    #[schema(
        min_length = 2,
        max_length = 32,
        pattern = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
        example = "acme"
    )]
    pub slug: String,
    /// Display name in Chinese.
    #[validate(length(min = 1, max = 128), custom(function = no_control_characters))]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "极客云"
    )]
    pub name_zh: String,
    /// Display name in English.
    #[validate(length(min = 1, max = 128), custom(function = no_control_characters))]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "Acme Cloud"
    )]
    pub name_en: String,
}

/// Registers the enterprise's partner vendor, or renames it. The id never
/// changes once registered.
#[utoipa::path(put, path = "/v1/partner/vendor", tag = "partner",
    request_body = PartnerVendorRequest,
    responses(
        (status = 200, body = PartnerVendor),
        (status = 400, description = "bad slug or names", body = ErrorEnvelope),
        (status = 409, description = "the enterprise has another vendor id, or the id is taken", body = ErrorEnvelope),
    ))]
pub async fn put_partner_vendor(
    state: web::Data<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<PartnerVendorRequest>,
) -> ApiResult<HttpResponse> {
    let partners = state.partners.clone();
    let vendor = web::block(move || {
        partners.register_vendor(&caller.0, &body.slug, body.name_zh, body.name_en)
    })
    .await??;
    Ok(HttpResponse::Ok().json(vendor))
}

/// The enterprise's partner vendor.
#[utoipa::path(get, path = "/v1/partner/vendor", tag = "partner",
    responses(
        (status = 200, body = PartnerVendor),
        (status = 404, description = "none registered yet", body = ErrorEnvelope),
    ))]
pub async fn get_partner_vendor(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let partners = state.partners.clone();
    let vendor = web::block(move || partners.vendor(&caller.0))
        .await??
        .ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, "this enterprise has no partner vendor")
        })?;
    Ok(HttpResponse::Ok().json(vendor))
}

/// Body of `POST /v1/partner/listings`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PublishListingsRequest {
    /// The offers; each one's id, vendor and provenance are assigned.
    #[validate(length(min = 1, max = 1000))]
    #[schema(min_items = 1, max_items = 1000)]
    pub listings: Vec<PartnerListingInput>,
}

/// Publishes or updates listings under the enterprise's partner vendor.
/// The same batch twice changes nothing the second time.
#[utoipa::path(post, path = "/v1/partner/listings", tag = "partner",
    request_body = PublishListingsRequest,
    responses(
        (status = 200, body = UpsertReport),
        (status = 400, description = "malformed or invalid listings", body = ErrorEnvelope),
        (status = 409, description = "no partner vendor registered yet", body = ErrorEnvelope),
        (status = 413, description = "body too large", body = ErrorEnvelope),
    ))]
pub async fn publish_partner_listings(
    state: web::Data<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<PublishListingsRequest>,
) -> ApiResult<HttpResponse> {
    let partners = state.partners.clone();
    let report = web::block(move || partners.publish(&caller.0, body.listings)).await??;
    Ok(HttpResponse::Ok().json(report))
}

/// Query of `GET /v1/partner/listings`.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PartnerListingsParams {
    /// `active` (default), `retired`, or `any`.
    #[param(value_type = Option<StatusFilter>)]
    pub status: Option<String>,
    /// Page size (default 50).
    #[validate(range(min = 1, max = ListingQuery::MAX_LIMIT))]
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<ListingId>)]
    pub cursor: Option<String>,
}

/// The enterprise's own listings, one page at a time.
#[utoipa::path(get, path = "/v1/partner/listings", tag = "partner",
    params(PartnerListingsParams),
    responses(
        (status = 200, body = ListingPage),
        (status = 400, description = "bad status, limit or cursor", body = ErrorEnvelope),
        (status = 409, description = "no partner vendor registered yet", body = ErrorEnvelope),
    ))]
pub async fn list_partner_listings(
    state: web::Data<AppState>,
    caller: Caller,
    ValidQuery(params): ValidQuery<PartnerListingsParams>,
) -> ApiResult<HttpResponse> {
    let partners = state.partners.clone();
    let vendor = web::block(move || partners.own_vendor(&caller.0)).await??;
    let filter = ListingFilter {
        vendor: Some(VendorRef::from(vendor.id)),
        status: status_kept(params.status.as_deref())?,
        ..ListingFilter::default()
    };
    listing_page(&state, filter, params.cursor.as_deref(), params.limit).await
}

/// Retires one of the enterprise's listings (kept, never deleted). Another
/// vendor's listing answers 404.
#[utoipa::path(delete, path = "/v1/partner/listings/{listing}", tag = "partner",
    params(("listing" = ListingId, Path, description = "listing id")),
    responses(
        (status = 204, description = "retired"),
        (status = 400, description = "not a listing id", body = ErrorEnvelope),
        (status = 404, description = "no such listing of this enterprise", body = ErrorEnvelope),
    ))]
pub async fn retire_partner_listing(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = ListingId::parse(&path)?;
    let partners = state.partners.clone();
    web::block(move || partners.retire(&caller.0, &id)).await??;
    Ok(HttpResponse::NoContent().finish())
}
