//! Recommendation: cheaper equivalents of a listing at other vendors,
//! listings like it, and the most viewed listings.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use shiyun_core::listing::ListingId;
use shiyun_core::money::Currency;
use shiyun_search::{Equivalents, EquivalentsRequest, Hit, SearchRequest};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::routes::params;

/// Default number of recommendations.
const DEFAULT_LIMIT: u32 = 10;

/// Query of `GET /v1/listings/{id}/equivalents`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EquivalentsParams {
    /// The viewer's currency: prices and savings are converted to it
    /// (default: the server's `default_currency`).
    #[param(value_type = Option<Currency>)]
    pub currency: Option<String>,
    /// At most this many (default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 10)]
    pub limit: Option<String>,
    /// How far memory may differ, in percent (default 25).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100, default = 25)]
    pub memory_tolerance_percent: Option<String>,
}

/// Query of `GET /v1/listings/{id}/similar` and `GET /v1/recommendations/popular`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecommendParams {
    /// At most this many (default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 10)]
    pub limit: Option<String>,
    /// Currency each hit's price is converted to (default: the server's
    /// `default_currency`).
    #[param(value_type = Option<Currency>)]
    pub currency: Option<String>,
}

impl RecommendParams {
    fn limit(&self) -> ApiResult<u32> {
        Ok(
            params::integer("limit", self.limit.as_deref(), 1, SearchRequest::MAX_LIMIT)?
                .unwrap_or(DEFAULT_LIMIT),
        )
    }

    fn currency(&self, state: &AppState) -> ApiResult<Currency> {
        params::currency(
            "currency",
            self.currency.as_deref(),
            state.settings.search.default_currency,
        )
    }
}

/// Cheaper listings of other vendors with the same vCPUs and
/// architecture, memory within the tolerance, in the same country and
/// billing mode: cheapest first, each with its exact saving.
#[utoipa::path(get, path = "/v1/listings/{id}/equivalents", tag = "search",
    params(("id" = ListingId, Path, description = "listing id"), EquivalentsParams),
    responses(
        (status = 200, body = Equivalents),
        (status = 400, description = "a bad parameter, or no exchange rate from the listing's currency", body = ErrorEnvelope),
        (status = 404, description = "no such listing in the index", body = ErrorEnvelope),
    ))]
pub async fn list_equivalents(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<EquivalentsParams>,
) -> ApiResult<HttpResponse> {
    let id = ListingId::parse(&path)?;
    let request = EquivalentsRequest {
        currency: params::currency(
            "currency",
            query.currency.as_deref(),
            state.settings.search.default_currency,
        )?,
        memory_tolerance_percent: params::integer(
            "memory_tolerance_percent",
            query.memory_tolerance_percent.as_deref(),
            0,
            100,
        )?
        .unwrap_or(25),
        limit: params::integer("limit", query.limit.as_deref(), 1, SearchRequest::MAX_LIMIT)?
            .unwrap_or(DEFAULT_LIMIT),
    };
    let index = state.search_index.clone();
    let answer = web::block(move || index.equivalents(&id, &request))
        .await?
        .map_err(|e| ApiError::from_coded(&e))?;
    Ok(HttpResponse::Ok().json(answer))
}

/// Listings like this one.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarListings {
    /// Best match first; the listing itself is never among them.
    pub items: Vec<Hit>,
}

/// Listings like this one (the words of its name, the same category
/// family), best match first.
#[utoipa::path(get, path = "/v1/listings/{id}/similar", tag = "search",
    params(("id" = ListingId, Path, description = "listing id"), RecommendParams),
    responses(
        (status = 200, body = SimilarListings),
        (status = 400, description = "a bad parameter", body = ErrorEnvelope),
        (status = 404, description = "no such listing in the index", body = ErrorEnvelope),
    ))]
pub async fn list_similar(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<RecommendParams>,
) -> ApiResult<HttpResponse> {
    let id = ListingId::parse(&path)?;
    let (limit, currency) = (query.limit()?, query.currency(&state)?);
    let index = state.search_index.clone();
    let items = web::block(move || index.similar(&id, limit, Some(currency)))
        .await?
        .map_err(|e| ApiError::from_coded(&e))?;
    Ok(HttpResponse::Ok().json(SimilarListings { items }))
}

/// A popular listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct PopularListing {
    /// The listing.
    pub listing: Hit,
    /// Views counted.
    pub views: u64,
}

/// The most viewed listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct PopularListings {
    /// Most views first.
    pub items: Vec<PopularListing>,
}

/// The most viewed active listings, most views first. Views are counted
/// in batches, so a view shows here within seconds.
#[utoipa::path(get, path = "/v1/recommendations/popular", tag = "search",
    params(RecommendParams),
    responses(
        (status = 200, body = PopularListings),
        (status = 400, description = "a bad parameter", body = ErrorEnvelope),
        (status = 503, description = "database unavailable", body = ErrorEnvelope),
    ))]
pub async fn list_popular(
    state: web::Data<AppState>,
    query: web::Query<RecommendParams>,
) -> ApiResult<HttpResponse> {
    let (limit, currency) = (query.limit()?, query.currency(&state)?);
    let store = state.search_store.clone();
    let counted = web::block(move || store.popular(limit)).await??;
    let index = state.search_index.clone();
    let found = web::block(move || index.popular(&counted, Some(currency)))
        .await?
        .map_err(|e| ApiError::from_coded(&e))?;
    let items = found
        .into_iter()
        .map(|(listing, views)| PopularListing { listing, views })
        .collect();
    Ok(HttpResponse::Ok().json(PopularListings { items }))
}
