//! Listings made by hand, an index over a test database, and the macro
//! that runs a test on both backends.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use shiyun_core::geography;
use shiyun_core::listing::{
    BillingMode, Category, Listing, PriceComponent, PriceUnit, Provenance, Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{ChangeFeed, ListingStore};
use shiyun_schema::testing::TestDatabase;
use shiyun_search::{CatalogIndex, IndexOptions, Range, SearchRequest, SearchResponse};

/// A listing named after `word` (a word no other listing has), priced
/// `amount` an hour in `currency`.
pub fn offer(sku: &str, word: &str, amount: Decimal, currency: Currency) -> Listing {
    let fetched_at = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let provenance = Provenance::from_raw("test.search", sku.as_bytes(), fetched_at);
    Listing::builder(Vendor::Alibaba, sku, provenance)
        .category(Category::parse("compute.vm").unwrap())
        .service("ecs")
        .name_zh(format!("通用型云服务器 {word}"))
        .name_en(format!("General purpose instance {word}"))
        .region(geography::region_of(Vendor::Alibaba, "cn-shanghai").unwrap())
        .price(
            PriceComponent::flat(
                BillingMode::OnDemand,
                PriceUnit::Hour,
                Money::new(amount, currency),
            )
            .unwrap(),
        )
        .build()
        .unwrap()
}

/// Stores `listings` (one transaction, so one feed entry each).
pub fn upsert(db: &TestDatabase, listings: &[Listing]) {
    db.database().upsert_listings(listings, Utc::now()).unwrap();
}

/// Retires a listing in the store.
pub fn retire(db: &TestDatabase, listing: &Listing) {
    assert!(
        db.database()
            .retire_listing(listing.id(), Utc::now())
            .unwrap()
    );
}

/// The feed's latest sequence.
pub fn latest(db: &TestDatabase) -> u64 {
    db.database().latest_seq().unwrap()
}

/// An empty index in memory.
pub fn memory_index() -> CatalogIndex {
    CatalogIndex::open(IndexOptions {
        rebuild_threads: 1,
        rebuild_memory_bytes: 15 << 20,
        writer_memory_bytes: 15 << 20,
        ..IndexOptions::default()
    })
    .unwrap()
}

/// An index kept in `dir`.
pub fn dir_index(dir: &std::path::Path) -> CatalogIndex {
    CatalogIndex::open(IndexOptions {
        dir: Some(dir.to_owned()),
        rebuild_threads: 1,
        rebuild_memory_bytes: 15 << 20,
        writer_memory_bytes: 15 << 20,
        ..IndexOptions::default()
    })
    .unwrap()
}

/// A text search without query understanding.
pub fn words(query: &str) -> SearchRequest {
    let mut request = SearchRequest::text(query);
    request.understand = false;
    request.limit = SearchRequest::MAX_LIMIT;
    request
}

/// Everything priced exactly `amount` in `currency`.
pub fn priced_at(amount: Decimal, currency: Currency) -> SearchRequest {
    let mut request = words("");
    request.currency = Some(currency);
    request.filters.price = Range::exactly(amount);
    request
}

/// The SKUs a search finds, sorted.
pub fn found(index: &CatalogIndex, request: &SearchRequest) -> Vec<String> {
    let response: SearchResponse = index.search(request).unwrap();
    assert_eq!(response.total, response.hits.len() as u64);
    let mut skus: Vec<String> = response.hits.into_iter().map(|h| h.vendor_sku).collect();
    skus.sort();
    skus
}

/// Polls `done` until it holds, failing after a generous deadline (the
/// follower polls every few milliseconds; a loaded machine may lag).
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs each test on SQLite and on PostgreSQL, each on a fresh database.
macro_rules! on_both_backends {
    ($(fn $name:ident($db:ident: &TestDatabase) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                use shiyun_schema::testing::TestDatabase;

                fn run($db: &TestDatabase) $body

                #[test]
                fn sqlite() {
                    run(&TestDatabase::sqlite())
                }

                #[test]
                fn postgres() {
                    run(&TestDatabase::postgres())
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
