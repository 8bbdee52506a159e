//! The listing catalog: list with filters and a cursor, one listing with its
//! price history, and batch upserts for partners pushing their own catalog.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use shiyun_core::error::ErrorCode;
use shiyun_core::listing::{
    Category, Listing, ListingData, ListingId, ListingStatus, PriceComponent, VendorRef,
};
use shiyun_core::store::{ListingFilter, ListingQuery, PricePoint, UpsertReport};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::validation::{ValidJson, ValidQuery, no_control_characters};

/// Default page size.
const DEFAULT_LIMIT: u32 = 50;

/// Query of `GET /v1/listings`.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListListingsParams {
    /// Vendor id: a built-in vendor (`aws`, `alibaba`, …) or a partner
    /// vendor (`p-acme`).
    #[param(value_type = Option<VendorRef>)]
    pub vendor: Option<String>,
    /// Category (`compute.vm`, …).
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    /// Vendor region code (`cn-hangzhou`).
    #[validate(length(min = 1, max = 64), custom(function = no_control_characters))]
    #[param(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub region: Option<String>,
    /// `active` (default) or `retired`, or `any`.
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

/// Which listings a status filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// On sale (the default).
    Active,
    /// No longer offered.
    Retired,
    /// Both.
    Any,
}

impl StatusFilter {
    const ALL: [StatusFilter; 3] = [
        StatusFilter::Active,
        StatusFilter::Retired,
        StatusFilter::Any,
    ];

    fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Active => "active",
            StatusFilter::Retired => "retired",
            StatusFilter::Any => "any",
        }
    }

    fn parse(text: &str) -> ApiResult<Self> {
        StatusFilter::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!("`{text}` is not one of active, retired, any"),
                )
            })
    }

    fn keeps(self) -> Option<ListingStatus> {
        match self {
            StatusFilter::Active => Some(ListingStatus::Active),
            StatusFilter::Retired => Some(ListingStatus::Retired),
            StatusFilter::Any => None,
        }
    }
}

// Its listings are `Listing::without_costs`, like every listing a caller sees.
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
///
/// Rules that JSON Schema cannot state are checked too, and answered with
/// 400: `id` is derived from `vendor` and `vendor_sku`; text fields are not
/// blank and hold no control characters; price tiers ascend contiguously in
/// the price's currency, and only the last may be unbounded.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpsertListingsRequest {
    /// Listings to insert or update.
    #[validate(length(min = 1, max = 1000))]
    #[schema(min_items = 1, max_items = 1000)]
    pub listings: Vec<ListingData>,
}

fn parse_filter(params: &ListListingsParams) -> ApiResult<ListingFilter> {
    let vendor = params.vendor.as_deref().map(VendorRef::parse).transpose()?;
    let category = params
        .category
        .as_deref()
        .map(Category::parse)
        .transpose()?;
    Ok(ListingFilter {
        vendor,
        category,
        region: params.region.clone(),
        status: status_kept(params.status.as_deref())?,
    })
}

/// What a `status` query keeps; `active` when absent.
pub(crate) fn status_kept(status: Option<&str>) -> ApiResult<Option<ListingStatus>> {
    let status = status
        .map(StatusFilter::parse)
        .transpose()?
        .unwrap_or(StatusFilter::Active);
    Ok(status.keeps())
}

/// One page of the listings `filter` keeps, after `cursor` (a listing id
/// from the previous page's `next_cursor`).
pub(crate) async fn listing_page(
    state: &AppState,
    filter: ListingFilter,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> ApiResult<HttpResponse> {
    let after = cursor
        .map(|c| {
            ListingId::parse(c)
                .map_err(|_| ApiError::invalid("cursor", "is not a cursor from this API"))
        })
        .transpose()?;
    let query = ListingQuery {
        filter,
        after,
        limit: limit.unwrap_or(DEFAULT_LIMIT),
    };
    let store = state.listings.clone();
    let page = web::block(move || store.list_listings(&query)).await??;
    Ok(HttpResponse::Ok().json(ListingPage {
        // The platform's costs stay in the store: callers see list prices.
        items: page.items.into_iter().map(Listing::without_costs).collect(),
        next_cursor: page.next_after.map(String::from),
    }))
}

/// Lists listings, filtered, one page at a time.
#[utoipa::path(get, path = "/v1/listings", tag = "listings", params(ListListingsParams), responses(
    (status = 200, body = ListingPage),
    (status = 400, description = "bad filter, limit or cursor", body = ErrorEnvelope),
    (status = 503, description = "database unavailable", body = ErrorEnvelope),
))]
pub async fn list_listings(
    state: web::Data<AppState>,
    ValidQuery(params): ValidQuery<ListListingsParams>,
) -> ApiResult<HttpResponse> {
    let filter = parse_filter(&params)?;
    listing_page(&state, filter, params.cursor.as_deref(), params.limit).await
}

/// One listing, with its price history.
#[utoipa::path(get, path = "/v1/listings/{id}", tag = "listings",
    params(("id" = ListingId, Path, description = "listing id")),
    responses(
        (status = 200, body = ListingDetail),
        (status = 400, description = "not a listing id", body = ErrorEnvelope),
        (status = 404, description = "no such listing", body = ErrorEnvelope),
        (status = 503, description = "database unavailable", body = ErrorEnvelope),
    ))]
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
    // Popularity: counted in memory, written in batches.
    state.views.count(&id);
    // The platform's costs stay in the store: callers see list prices.
    let price_history = history
        .into_iter()
        .map(|point| PricePoint {
            prices: point
                .prices
                .into_iter()
                .map(PriceComponent::without_cost)
                .collect(),
            ..point
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListingDetail {
        listing: listing.without_costs(),
        price_history,
    }))
}

/// Inserts or updates listings of the built-in vendors (operators only);
/// the store diffs them (idempotent: the same batch twice changes nothing
/// the second time). Partner listings are published by their enterprises
/// through `POST /v1/partner/listings`, so partner vendor ids are refused.
#[utoipa::path(post, path = "/v1/listings/batch", tag = "listings",
    request_body = UpsertListingsRequest,
    responses(
        (status = 200, body = UpsertReport),
        (status = 400, description = "malformed or invalid listings, or a partner vendor's", body = ErrorEnvelope),
        (status = 413, description = "body too large", body = ErrorEnvelope),
        (status = 415, description = "body is not `application/json`", body = ErrorEnvelope),
        (status = 503, description = "database unavailable", body = ErrorEnvelope),
    ))]
pub async fn upsert_listings(
    state: web::Data<AppState>,
    _operator: Caller,
    ValidJson(request): ValidJson<UpsertListingsRequest>,
) -> ApiResult<HttpResponse> {
    let listings = request
        .listings
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            if data.vendor.is_partner() {
                return Err(ApiError::invalid(
                    format!("listings[{i}].vendor"),
                    "partner listings are published by their enterprise through /v1/partner/listings",
                ));
            }
            Listing::try_from(data).map_err(|e| e.within(&format!("listings[{i}]")).into())
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let store = state.listings.clone();
    let report = web::block(move || store.upsert_listings(&listings, Utc::now())).await??;
    Ok(HttpResponse::Ok().json(report))
}
