//! The listing catalog: list with filters and a cursor, one listing with its
//! price history, and batch upserts for partners pushing their own catalog.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use shiyun_core::error::ErrorCode;
use shiyun_core::listing::{Category, Listing, ListingData, ListingId, ListingStatus, Vendor};
use shiyun_core::store::{ListingFilter, ListingQuery, PricePoint, UpsertReport};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};

/// Default page size.
const DEFAULT_LIMIT: u32 = 50;
/// Most listings one batch may carry.
pub const MAX_BATCH: usize = 1000;

/// Query of `GET /v1/listings`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListListingsParams {
    /// Vendor id (`aws`, `alibaba`, …).
    pub vendor: Option<String>,
    /// Category (`compute.vm`, …).
    pub category: Option<String>,
    /// Vendor region code (`cn-hangzhou`).
    pub region: Option<String>,
    /// `active` (default) or `retired`, or `any`.
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingPage {
    /// The listings, ordered by id.
    pub items: Vec<Listing>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One listing with its price history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingDetail {
    /// The listing.
    pub listing: Listing,
    /// Prices over time, oldest first.
    pub price_history: Vec<PricePoint>,
}

/// Body of `POST /v1/listings/batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertListingsRequest {
    /// Listings to insert or update (at most 1000).
    pub listings: Vec<ListingData>,
}

fn parse_filter(params: &ListListingsParams) -> ApiResult<ListingFilter> {
    let vendor = params.vendor.as_deref().map(Vendor::parse).transpose()?;
    let category = params
        .category
        .as_deref()
        .map(Category::parse)
        .transpose()?;
    let status = match params.status.as_deref() {
        None | Some("active") => Some(ListingStatus::Active),
        Some("retired") => Some(ListingStatus::Retired),
        Some("any") => None,
        Some(other) => {
            return Err(ApiError::invalid(
                "status",
                format!("`{other}` is not one of active, retired, any"),
            ));
        }
    };
    let region = match params.region.as_deref() {
        Some(r) if r.is_empty() || r.len() > 64 => {
            return Err(ApiError::invalid("region", "must be 1 to 64 characters"));
        }
        other => other.map(str::to_owned),
    };
    Ok(ListingFilter {
        vendor,
        category,
        region,
        status,
    })
}

/// Lists listings, filtered, one page at a time.
#[utoipa::path(get, path = "/v1/listings", tag = "listings", params(ListListingsParams), responses(
    (status = 200, body = ListingPage),
    (status = 400, description = "bad filter, limit or cursor", body = ErrorEnvelope),
))]
#[get("/v1/listings")]
pub async fn list_listings(
    state: web::Data<AppState>,
    params: web::Query<ListListingsParams>,
) -> ApiResult<HttpResponse> {
    let filter = parse_filter(&params)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > ListingQuery::MAX_LIMIT {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {}", ListingQuery::MAX_LIMIT),
        ));
    }
    let after = params
        .cursor
        .as_deref()
        .map(|c| {
            ListingId::parse(c)
                .map_err(|_| ApiError::invalid("cursor", "is not a cursor from this API"))
        })
        .transpose()?;
    let query = ListingQuery {
        filter,
        after,
        limit,
    };
    let store = state.listings.clone();
    let page = web::block(move || store.list_listings(&query)).await??;
    Ok(HttpResponse::Ok().json(ListingPage {
        items: page.items,
        next_cursor: page.next_after.map(String::from),
    }))
}

/// One listing, with its price history.
#[utoipa::path(get, path = "/v1/listings/{id}", tag = "listings",
    params(("id" = String, Path, description = "listing id")),
    responses(
        (status = 200, body = ListingDetail),
        (status = 400, description = "not a listing id", body = ErrorEnvelope),
        (status = 404, description = "no such listing", body = ErrorEnvelope),
    ))]
#[get("/v1/listings/{id}")]
pub async fn get_listing(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = ListingId::parse(&path)?;
    let store = state.listings.clone();
    let wanted = id.clone();
    let (listing, history) = web::block(move || {
        let listing = store.get_listing(&wanted)?;
        let history = match &listing {
            Some(_) => store.price_history(&wanted)?,
            None => Vec::new(),
        };
        Ok::<_, shiyun_core::store::StoreError>((listing, history))
    })
    .await??;
    let listing = listing
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("listing `{id}` not found")))?;
    Ok(HttpResponse::Ok().json(ListingDetail {
        listing,
        price_history: history,
    }))
}

fn authorize_catalog_write(state: &AppState, req: &HttpRequest) -> ApiResult<()> {
    let Some(token) = state.settings.admin_token.as_ref() else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "catalog writes are disabled on this server (no admin_token set)",
        ));
    };
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(given) if constant_time_eq(given.as_bytes(), token.expose_secret().as_bytes()) => {
            Ok(())
        }
        _ => Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "a valid bearer token is required",
        )),
    }
}

/// Compares without an early exit, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Inserts or updates listings; the store diffs them (idempotent: the same
/// batch twice changes nothing the second time).
#[utoipa::path(post, path = "/v1/listings/batch", tag = "listings",
    request_body = UpsertListingsRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = UpsertReport),
        (status = 400, description = "malformed or invalid listings", body = ErrorEnvelope),
        (status = 401, description = "missing or wrong token", body = ErrorEnvelope),
        (status = 403, description = "writes disabled", body = ErrorEnvelope),
        (status = 413, description = "body too large", body = ErrorEnvelope),
    ))]
#[post("/v1/listings/batch")]
pub async fn upsert_listings(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<UpsertListingsRequest>,
) -> ApiResult<HttpResponse> {
    authorize_catalog_write(&state, &req)?;
    let request = body.into_inner();
    if request.listings.is_empty() || request.listings.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "listings",
            format!("must hold 1 to {MAX_BATCH} listings"),
        ));
    }
    let listings = request
        .listings
        .into_iter()
        .enumerate()
        .map(|(i, data)| Listing::try_from(data).map_err(|e| e.within(&format!("listings[{i}]"))))
        .collect::<Result<Vec<_>, _>>()?;
    let store = state.listings.clone();
    let report = web::block(move || store.upsert_listings(&listings, Utc::now())).await??;
    Ok(HttpResponse::Ok().json(report))
}
