//! Listings made by hand for the search crate's integration tests.

#![allow(dead_code, reason = "each test target uses some of the helpers")]

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use shiyun_core::fx::{FxRate, FxTable};
use shiyun_core::geography;
use shiyun_core::listing::{
    BillingMode, Category, Listing, ListingBuilder, PriceComponent, PriceUnit, Provenance, Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_search::{CatalogIndex, IndexOptions, SearchRequest, SearchResponse};

/// A listing of `vendor` in `region` (a code of the vendor's region
/// table), with whatever `build` adds to it.
pub fn listing(
    vendor: Vendor,
    sku: &str,
    category: &str,
    region: &str,
    build: impl FnOnce(ListingBuilder) -> ListingBuilder,
) -> Listing {
    let fetched_at = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let provenance = Provenance::from_raw("test.search", sku.as_bytes(), fetched_at);
    let region = geography::region_of(vendor, region)
        .unwrap_or_else(|| panic!("{region} is not a region of {vendor}"));
    let builder = Listing::builder(vendor, sku, provenance)
        .category(Category::parse(category).unwrap())
        .service("svc")
        .region(region);
    build(builder).build().unwrap()
}

/// A flat price.
pub fn price(mode: BillingMode, amount: Decimal, currency: Currency) -> PriceComponent {
    let unit = match mode {
        BillingMode::OnDemand | BillingMode::Spot => PriceUnit::Hour,
        BillingMode::Monthly => PriceUnit::Month,
        _ => PriceUnit::Year,
    };
    PriceComponent::flat(mode, unit, Money::new(amount, currency)).unwrap()
}

/// An in-memory index of `listings`, at feed sequence 1.
pub fn index_of(listings: &[Listing]) -> CatalogIndex {
    let index = CatalogIndex::open(IndexOptions::default()).unwrap();
    index
        .rebuild_with(1, listings.iter().cloned(), None)
        .unwrap();
    index
}

/// One dollar is 7.1 yuan.
pub fn usd_cny(rate: Decimal) -> FxTable {
    FxTable::new(
        vec![FxRate {
            from: Currency::USD,
            to: Currency::CNY,
            rate,
        }],
        None,
    )
    .unwrap()
}

/// A text search without query understanding (it is tested on its own).
pub fn text(query: &str) -> SearchRequest {
    let mut request = SearchRequest::text(query);
    request.understand = false;
    request.limit = SearchRequest::MAX_LIMIT;
    request
}

/// The SKUs of a response's hits, in order.
pub fn skus(response: &SearchResponse) -> Vec<String> {
    response.hits.iter().map(|h| h.vendor_sku.clone()).collect()
}
