//! Catalog search: the query, the synonym groups in force, and a rebuild
//! of the index from the store.

use std::time::Instant;

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use shiyun_core::money::Currency;
use shiyun_core::search::{SynonymGroup, SynonymSet};
use shiyun_search::{Filters, Range, SearchRequest, SearchResponse, SortOrder};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::routes::params;
use crate::validation::ValidJson;

/// Default page size of a search.
const DEFAULT_LIMIT: u32 = 20;

/// Query of `GET /v1/search`. Lists are comma-separated; within a list any
/// value matches, and the parameters combine.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Free text in any mix of Chinese and English, up to 256 characters.
    /// Specs, places and billing words in it (`4核8G 上海 按量`) become
    /// filters, shown back as `understood` chips, unless `understand=false`.
    #[param(max_length = 256)]
    pub q: Option<String>,
    /// Vendor ids (`aws,alibaba,p-acme`).
    #[param(schema_with = params::vendor_list)]
    pub vendor: Option<String>,
    /// Categories (`compute.vm`), or whole families (`database.*`).
    #[param(schema_with = params::category_list)]
    pub category: Option<String>,
    /// Vendor services (`ec2,ecs`).
    #[param(schema_with = params::text_list)]
    pub service: Option<String>,
    /// Region codes of any vendor (`cn-shanghai,ap-shanghai`).
    #[param(schema_with = params::text_list)]
    pub region: Option<String>,
    /// Countries (`cn,us`).
    #[param(schema_with = params::text_list)]
    pub country: Option<String>,
    /// City ids (`shanghai,beijing`).
    #[param(schema_with = params::text_list)]
    pub city: Option<String>,
    /// Billing modes a listing must have a price in (`on_demand,monthly`).
    #[param(schema_with = params::billing_mode_list)]
    pub billing_mode: Option<String>,
    /// CPU architectures (`x86_64,arm64`).
    #[param(schema_with = params::architecture_list)]
    pub architecture: Option<String>,
    /// Operating systems (`linux,windows`).
    #[param(schema_with = params::text_list)]
    pub os: Option<String>,
    /// GPU models, matched by word (`a100` finds `NVIDIA A100`).
    #[param(schema_with = params::text_list)]
    pub gpu_model: Option<String>,
    /// Fewest vCPUs (a fraction rounds up).
    #[param(schema_with = params::decimal)]
    pub vcpu_min: Option<String>,
    /// Most vCPUs (a fraction rounds down).
    #[param(schema_with = params::decimal)]
    pub vcpu_max: Option<String>,
    /// Least memory, GiB.
    #[param(schema_with = params::decimal)]
    pub memory_min: Option<String>,
    /// Most memory, GiB.
    #[param(schema_with = params::decimal)]
    pub memory_max: Option<String>,
    /// Fewest GPUs.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 4294967295_u64)]
    pub gpu_min: Option<String>,
    /// Most GPUs.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 4294967295_u64)]
    pub gpu_max: Option<String>,
    /// Lowest price, in `currency`, of the `price_mode` price (or each
    /// listing's headline price). Above `price_max`, nothing matches.
    #[param(schema_with = params::decimal)]
    pub price_min: Option<String>,
    /// Highest price, in `currency`.
    #[param(schema_with = params::decimal)]
    pub price_max: Option<String>,
    /// Currency of price filters, price sorting, the histogram and each
    /// hit's converted price (default: the server's `default_currency`).
    #[param(value_type = Option<Currency>)]
    pub currency: Option<String>,
    /// The billing mode whose price is matched, sorted and shown; by
    /// default each listing's headline price (on demand, else monthly,
    /// else yearly, …).
    #[param(schema_with = params::price_mode)]
    pub price_mode: Option<String>,
    /// Fields to count values of (`vendor,category,region`).
    #[param(schema_with = params::facet_list)]
    pub facets: Option<String>,
    /// Count matches per price band (in `currency`).
    #[param(value_type = Option<bool>, default = false)]
    pub histogram: Option<String>,
    /// Result order (default `relevance`).
    #[param(value_type = Option<SortOrder>)]
    pub sort: Option<String>,
    /// `next_cursor` of the previous page (same query).
    #[param(schema_with = params::cursor)]
    pub cursor: Option<String>,
    /// Hits per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// Turn specs and places in `q` into filters (default true).
    #[param(value_type = Option<bool>, default = true)]
    pub understand: Option<String>,
}

/// vCPU bounds from decimals: a fraction rounds inward; a range that no
/// integer fits (a maximum below zero) matches nothing.
fn vcpu_range(
    min: Option<rust_decimal::Decimal>,
    max: Option<rust_decimal::Decimal>,
) -> Range<u32> {
    use rust_decimal::prelude::ToPrimitive;
    let clamp = |v: rust_decimal::Decimal| {
        v.to_u64()
            .map_or(u32::MAX, |v| u32::try_from(v).unwrap_or(u32::MAX))
    };
    let min = min
        .map(|v| v.ceil())
        .and_then(|v| (v > rust_decimal::Decimal::ZERO).then(|| clamp(v)));
    match max.map(|v| v.floor()) {
        Some(v) if v < rust_decimal::Decimal::ZERO => NOTHING_U32,
        Some(v) => Range {
            min,
            max: Some(clamp(v)),
        },
        None => Range { min, max: None },
    }
}

/// A vCPU range no listing is in.
const NOTHING_U32: Range<u32> = Range {
    min: Some(1),
    max: Some(0),
};

impl SearchParams {
    /// The index request these parameters ask for.
    pub fn to_request(&self, default_currency: Currency) -> ApiResult<SearchRequest> {
        let q = self.q.clone().unwrap_or_default();
        if q.chars().count() > SearchRequest::MAX_TEXT_CHARS {
            return Err(ApiError::invalid(
                "q",
                format!(
                    "must be at most {} characters",
                    SearchRequest::MAX_TEXT_CHARS
                ),
            ));
        }
        let d = |field: &str, text: &Option<String>| params::decimal_value(field, text.as_deref());
        let (vcpu_min, vcpu_max) = (
            d("vcpu_min", &self.vcpu_min)?,
            d("vcpu_max", &self.vcpu_max)?,
        );
        let memory_gib = Range {
            min: d("memory_min", &self.memory_min)?,
            max: d("memory_max", &self.memory_max)?,
        };
        let gpu_count = Range {
            min: params::integer("gpu_min", self.gpu_min.as_deref(), 0, u32::MAX)?,
            max: params::integer("gpu_max", self.gpu_max.as_deref(), 0, u32::MAX)?,
        };
        let mut price = Range {
            min: d("price_min", &self.price_min)?,
            max: d("price_max", &self.price_max)?,
        };
        let mut vcpu = vcpu_range(vcpu_min, vcpu_max);
        if let (Some(min), Some(max)) = (price.min, price.max)
            && min > max
        {
            // An empty price band is a filter that keeps nothing, like any
            // other empty range (the index itself refuses it).
            price.max = None;
            vcpu = NOTHING_U32;
        }
        let filters = Filters {
            vendors: params::vendors("vendor", self.vendor.as_deref())?,
            categories: params::categories("category", self.category.as_deref())?,
            services: params::texts("service", self.service.as_deref(), false)?,
            regions: params::texts("region", self.region.as_deref(), false)?,
            countries: params::texts("country", self.country.as_deref(), true)?,
            cities: params::texts("city", self.city.as_deref(), true)?,
            billing_modes: params::billing_modes("billing_mode", self.billing_mode.as_deref())?,
            architectures: params::architectures("architecture", self.architecture.as_deref())?,
            os: params::texts("os", self.os.as_deref(), false)?,
            gpu_models: params::texts("gpu_model", self.gpu_model.as_deref(), false)?,
            vcpu,
            memory_gib,
            gpu_count,
            price,
        };
        let sort = params::sort("sort", self.sort.as_deref())?;
        let cursor = params::cursor_value("cursor", self.cursor.as_deref())?
            .map(|position| format!("{}.{position}", sort.as_str()));
        Ok(SearchRequest {
            text: q,
            filters,
            facets: params::facets("facets", self.facets.as_deref())?,
            histogram: params::boolean("histogram", self.histogram.as_deref())?.unwrap_or(false),
            sort,
            currency: Some(params::currency(
                "currency",
                self.currency.as_deref(),
                default_currency,
            )?),
            billing_mode: params::price_mode_value("price_mode", self.price_mode.as_deref())?,
            understand: params::boolean("understand", self.understand.as_deref())?.unwrap_or(true),
            cursor,
            limit: params::integer("limit", self.limit.as_deref(), 1, SearchRequest::MAX_LIMIT)?
                .unwrap_or(DEFAULT_LIMIT),
        })
    }
}

/// The index's cursor (`<order>.<key>.<tie-break>`) as the API gives it:
/// the position alone, which `cursor` puts back under the requested order.
pub fn api_cursor(index_cursor: &str) -> String {
    index_cursor
        .split_once('.')
        .map_or(index_cursor, |(_, position)| position)
        .to_owned()
}

/// Runs a search on a blocking thread.
pub(crate) async fn run_search(
    state: &AppState,
    request: SearchRequest,
) -> ApiResult<SearchResponse> {
    let index = state.search_index.clone();
    let mut response = web::block(move || index.search(&request))
        .await?
        .map_err(|e| ApiError::from_coded(&e))?;
    response.next_cursor = response.next_cursor.as_deref().map(api_cursor);
    Ok(response)
}

/// Searches the catalog: free text with typo tolerance, synonyms and
/// understood specs, exact filters, facet counts, a price histogram, and
/// prices converted to one currency at the exchange rates in force.
#[utoipa::path(get, path = "/v1/search", tag = "search", params(SearchParams), responses(
    (status = 200, body = SearchResponse),
    (status = 400, description = "a bad parameter, named in `field`", body = ErrorEnvelope),
))]
pub async fn search_listings(
    state: web::Data<AppState>,
    query: web::Query<SearchParams>,
) -> ApiResult<HttpResponse> {
    let request = query.to_request(state.settings.search.default_currency)?;
    let response = run_search(&state, request).await?;
    Ok(HttpResponse::Ok().json(response))
}

/// The synonym groups in force on this instance: the built-in ones
/// (version 0) until an operator saves some.
#[utoipa::path(get, path = "/v1/search/synonyms", tag = "search", responses(
    (status = 200, body = SynonymSet),
))]
pub async fn get_synonyms(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.search_index.synonyms())
}

/// Body of `PUT /v1/search/synonyms`.
///
/// Each group's terms are trimmed and lowercased; a group needs two
/// distinct terms after that.
#[derive(Debug, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct PutSynonymsRequest {
    /// Every group in force after the edit (the set is replaced whole).
    #[schema(schema_with = synonym_groups)]
    #[validate(length(max = 1000))]
    pub groups: Vec<SynonymGroup>,
    /// The `version` this edit was made from; when another edit saved
    /// first, the answer is 409. Left out, the edit replaces any version.
    #[schema(value_type = Option<u64>, minimum = 0)]
    #[serde(default, deserialize_with = "whole_number")]
    pub expected_version: Option<u64>,
}

/// A JSON integer, which JSON Schema lets be written `3.0`; one past
/// `u64::MAX` is kept as `u64::MAX`, a version never reached (so 409).
fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(whole) = number.as_u64() {
        return Ok(Some(whole));
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && f >= 0.0 => {
            // Integral and not negative: below 2^64 it converts exactly.
            Ok(Some(if f < 18_446_744_073_709_551_616.0 {
                f as u64
            } else {
                u64::MAX
            }))
        }
        _ => Err(D::Error::custom(format!(
            "expected_version must be a whole number of at least 0, not {number}"
        ))),
    }
}

/// A term: 1 to 32 characters, no control characters, no blanks at either end.
const SYNONYM_TERM: &str =
    r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$";

fn synonym_groups() -> RefOr<Schema> {
    let term = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(SynonymGroup::MAX_TERM_CHARS))
        .pattern(Some(SYNONYM_TERM));
    let group = ArrayBuilder::new()
        .items(term)
        .min_items(Some(2))
        .max_items(Some(SynonymGroup::MAX_TERMS))
        .unique_items(true)
        .description(Some(
            "terms that mean the same (`[\"ecs\", \"ec2\", \"云服务器\"]`), distinct once lowercased",
        ));
    ArrayBuilder::new()
        .items(group)
        .max_items(Some(SynonymSet::MAX_GROUPS))
        .into()
}

/// Replaces the synonym groups: saved in the store, in force on this
/// instance at once and on the others within a second.
#[utoipa::path(put, path = "/v1/search/synonyms", tag = "search",
    request_body = PutSynonymsRequest,
    responses(
        (status = 200, description = "the groups saved, with their new version", body = SynonymSet),
        (status = 400, description = "a malformed group", body = ErrorEnvelope),
        (status = 409, description = "another edit saved first: read the groups again", body = ErrorEnvelope),
        (status = 503, description = "database unavailable", body = ErrorEnvelope),
    ))]
pub async fn put_synonyms(
    state: web::Data<AppState>,
    _operator: Caller,
    ValidJson(request): ValidJson<PutSynonymsRequest>,
) -> ApiResult<HttpResponse> {
    let store = state.search_store.clone();
    let saved = web::block(move || {
        store.put_synonyms(&request.groups, request.expected_version, Utc::now())
    })
    .await??;
    state.search_index.set_synonyms(saved.clone());
    Ok(HttpResponse::Ok().json(saved))
}

/// What a rebuild did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildAnswer {
    /// Listings indexed.
    pub listings: u64,
    /// The change-feed sequence the new index has applied.
    pub seq: u64,
    /// How long it took, in milliseconds.
    pub took_ms: u64,
}

/// Rebuilds the index from the store and swaps it in; searches keep being
/// answered by the old one until then.
#[utoipa::path(post, path = "/v1/search/rebuild", tag = "search", responses(
    (status = 200, body = RebuildAnswer),
    (status = 503, description = "database unavailable", body = ErrorEnvelope),
))]
pub async fn rebuild_index(
    state: web::Data<AppState>,
    _operator: Caller,
) -> ApiResult<HttpResponse> {
    let (index, listings, feed) = (
        state.search_index.clone(),
        state.listings.clone(),
        state.changes.clone(),
    );
    let started = Instant::now();
    let report = web::block(move || index.rebuild(listings.as_ref(), feed.as_ref()))
        .await?
        .map_err(|e| ApiError::from_coded(&e))?;
    tracing::info!(
        listings = report.listings,
        seq = report.seq,
        "search index rebuilt"
    );
    Ok(HttpResponse::Ok().json(RebuildAnswer {
        listings: report.listings,
        seq: report.seq,
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }))
}
