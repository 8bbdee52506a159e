//! Catalog search through HTTP: text with typos and synonyms, filters and
//! facets against counts made from the listings themselves, price order
//! and price filters in a converted currency, cursor paging, understood
//! specs, recommendation, popularity from views, and the operator's
//! synonyms, exchange rates and rebuild. The index follows the store, so
//! every test waits for it by polling, never by sleeping a fixed time.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use shiyun_core::demo::DemoCatalog;
use shiyun_core::listing::{Listing, ListingStatus};
use shiyun_core::store::ListingStore;

use crate::helpers::{TestApp, on_both_backends};

/// Demo listings every test seeds (seed 42).
const CATALOG: u64 = 3_000;

/// Seeds `n` demo listings into the store and waits until the index holds
/// every active one.
async fn seeded(app: &TestApp, n: u64) -> Vec<Listing> {
    let listings: Vec<Listing> = DemoCatalog::new(42, n).collect();
    for chunk in listings.chunks(1_000) {
        app.db
            .database()
            .upsert_listings(chunk, chrono::Utc::now())
            .unwrap();
    }
    let active = listings
        .iter()
        .filter(|l| l.status() == ListingStatus::Active)
        .count() as u64;
    let total = wait_for(app, "/v1/search?limit=1", |body| body["total"] == active).await;
    assert_eq!(total["total"], active);
    listings
}

/// Polls `path` until `done` holds for its answer (at most 60 seconds).
async fn wait_for(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never answered as awaited: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn search(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/search?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn hits(body: &Value) -> &Vec<Value> {
    body["hits"].as_array().unwrap()
}

/// Every page of a search, following `next_cursor`.
async fn all_pages(app: &TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_owned(),
        };
        let body = search(app, &path).await;
        out.extend(hits(&body).iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap()).unwrap()
}

fn converted(hit: &Value) -> Decimal {
    decimal(&hit["price"]["converted"]["amount"])
}

/// Facet counts of an answer: field → value → count.
fn facet_counts(body: &Value, field: &str) -> BTreeMap<String, u64> {
    body["facets"][field]
        .as_array()
        .unwrap_or_else(|| panic!("no `{field}` facet in {}", body["facets"]))
        .iter()
        .map(|f| {
            (
                f["value"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn count_by<'a>(
    listings: impl Iterator<Item = &'a Listing>,
    key: impl Fn(&Listing) -> Option<String>,
) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for listing in listings {
        if let Some(value) = key(listing) {
            *counts.entry(value).or_default() += 1;
        }
    }
    counts
}

/// The text of a hit a buyer reads: names and SKU, lowercased.
fn hit_text(hit: &Value) -> String {
    format!(
        "{} {} {} {}",
        hit["name"]["zh"].as_str().unwrap_or_default(),
        hit["name"]["en"].as_str().unwrap_or_default(),
        hit["vendor_sku"].as_str().unwrap_or_default(),
        hit["specs"]["engine"].as_str().unwrap_or_default(),
    )
    .to_lowercase()
}

on_both_backends! {
    async fn text_filters_facets_prices_and_pages(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let listings = seeded(&app, CATALOG).await;
        let active: Vec<&Listing> = listings.iter().filter(|l| l.status() == ListingStatus::Active).collect();

        // Words, and the same words mistyped.
        for (query, word) in [("mysql", "mysql"), ("msyql", "mysql"), ("windows", "windows"), ("windwos", "windows")] {
            let body = search(&app, &format!("q={query}&limit=10")).await;
            assert!(body["total"].as_u64().unwrap() > 0, "{query}: {body}");
            for hit in hits(&body) {
                let found = hit_text(hit).contains(word) || hit["specs"]["os"] == word;
                assert!(found, "{query} found {}", hit_text(hit));
            }
        }
        let windows = active.iter().filter(|l| l.specs().os.as_deref() == Some("windows")).count() as u64;
        let body = search(&app, "q=windwos&os=windows&limit=1").await;
        assert_eq!(body["total"], windows, "every Windows listing says so in its SKU");

        // Filters and facets against counts made from the listings.
        let query = "vendor=alibaba,aws&category=compute.vm,database.*&facets=vendor,category,os,region,billing_mode&limit=5";
        let body = search(&app, query).await;
        let kept: Vec<&&Listing> = active
            .iter()
            .filter(|l| ["alibaba", "aws"].contains(&l.vendor().id()))
            .filter(|l| l.category().as_str() == "compute.vm" || l.category().family() == "database")
            .collect();
        assert!(kept.len() > 50, "the filter keeps a fair share: {}", kept.len());
        assert_eq!(body["total"], kept.len() as u64);
        assert_eq!(facet_counts(&body, "vendor"), count_by(kept.iter().map(|l| **l), |l| Some(l.vendor().id().to_owned())));
        assert_eq!(facet_counts(&body, "category"), count_by(kept.iter().map(|l| **l), |l| Some(l.category().as_str().to_owned())));
        assert_eq!(facet_counts(&body, "os"), count_by(kept.iter().map(|l| **l), |l| l.specs().os.clone()));
        assert_eq!(facet_counts(&body, "region"), count_by(kept.iter().map(|l| **l), |l| Some(l.region().code.clone())));
        let mut modes: BTreeMap<String, u64> = BTreeMap::new();
        for listing in &kept {
            let currency = listing.prices()[0].amount().currency();
            let mut seen = HashSet::new();
            for price in listing.prices().iter().filter(|p| p.amount().currency() == currency) {
                if seen.insert(price.billing_mode()) {
                    *modes.entry(price.billing_mode().as_text()).or_default() += 1;
                }
            }
        }
        assert_eq!(facet_counts(&body, "billing_mode"), modes);
        // Facet values come by count, largest first.
        let counts: Vec<u64> = body["facets"]["region"].as_array().unwrap().iter().map(|f| f["count"].as_u64().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");

        // Cheapest first in CNY, every page, no listing twice.
        let priced = "category=compute.vm&price_mode=on_demand&currency=CNY&sort=price_asc&histogram=true&limit=100";
        let first = search(&app, priced).await;
        let vms = active.iter().filter(|l| l.category().as_str() == "compute.vm" && l.prices().iter().any(|p| p.billing_mode().as_text() == "on_demand")).count();
        assert_eq!(first["total"], vms as u64);
        let bands: u64 = first["histogram"]["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
        assert_eq!(bands, vms as u64, "every match is in one price band");
        assert_eq!(first["histogram"]["currency"], "CNY");
        let cheapest = all_pages(&app, priced).await;
        assert_eq!(cheapest.len(), vms);
        let ids: HashSet<&str> = cheapest.iter().map(|h| h["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), vms, "no listing repeats across pages");
        let prices: Vec<Decimal> = cheapest.iter().map(converted).collect();
        assert!(prices.windows(2).all(|w| w[0] <= w[1]), "price_asc is non-decreasing");
        assert!(cheapest.iter().all(|h| h["price"]["billing_mode"] == "on_demand"));
        // Converted exactly: USD prices at the settings' 7.1.
        let usd = cheapest.iter().find(|h| h["price"]["currency"] == "USD").unwrap_or_else(|| panic!("no USD listing"));
        assert_eq!(converted(usd), decimal(&usd["price"]["amount"]) * Decimal::new(71, 1));
        assert!(first["fx_rates"].as_array().unwrap().iter().any(|r| r["from"] == "USD" && r["to"] == "CNY" && r["rate"] == "7.1"));

        // A price ceiling keeps exactly those at or below it.
        let ceiling = prices[prices.len() / 2];
        let below = prices.iter().filter(|p| **p <= ceiling).count();
        let capped = all_pages(&app, &format!("{priced}&price_max={ceiling}")).await;
        assert_eq!(capped.len(), below);
        assert!(capped.iter().all(|h| converted(h) <= ceiling));
        let band = search(&app, &format!("{priced}&price_min={ceiling}&price_max={ceiling}")).await;
        assert_eq!(band["total"], prices.iter().filter(|p| **p == ceiling).count() as u64);

        // Dearest first, and by relevance, pages still cover every hit once.
        let dearest = all_pages(&app, "category=compute.vm&price_mode=on_demand&sort=price_desc&limit=100").await;
        let prices: Vec<Decimal> = dearest.iter().map(converted).collect();
        assert!(prices.windows(2).all(|w| w[0] >= w[1]), "price_desc is non-increasing");
        let relevant = all_pages(&app, "q=ecs&limit=37").await;
        let total = search(&app, "q=ecs&limit=1").await["total"].as_u64().unwrap();
        assert!(total > 37, "several pages: {total}");
        let ids: HashSet<&str> = relevant.iter().map(|h| h["id"].as_str().unwrap()).collect();
        assert_eq!((relevant.len() as u64, ids.len() as u64), (total, total));

        // Empty ranges keep nothing; they are not errors.
        for empty in ["price_min=10&price_max=1", "vcpu_min=5&vcpu_max=3", "vcpu_max=-1", "memory_min=9&memory_max=8"] {
            let body = search(&app, &format!("{empty}&facets=vendor")).await;
            assert_eq!(body["total"], 0, "{empty}");
        }
    }

    async fn bad_parameters_are_named(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let long = "a".repeat(257);
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=ten", "limit"),
            ("sort=cheapest", "sort"),
            ("facets=vendor,colour", "facets"),
            ("currency=XYZ", "currency"),
            ("price_mode=weekly", "price_mode"),
            ("price_mode=reserved_24m", "price_mode"),
            ("billing_mode=weekly", "billing_mode"),
            ("price_min=1e3", "price_min"),
            ("memory_max=eight", "memory_max"),
            ("vcpu_min=1.2.3", "vcpu_min"),
            ("gpu_min=-1", "gpu_min"),
            (&format!("q={long}"), "q"),
            ("cursor=nonsense", "cursor"),
            ("histogram=yes", "histogram"),
            ("understand=maybe", "understand"),
            ("vendor=oracle", "vendor"),
            ("category=weather.vm", "category"),
            ("architecture=sparc", "architecture"),
            ("region=a%00b", "region"),
            ("colour=red", "colour"),
        ] {
            let (status, body) = app.get(&format!("/v1/search?{query}")).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(body["error"]["code"], "invalid_argument", "{query}");
            assert_eq!(body["error"]["field"], field, "{query}: {body}");
        }
        let missing = "alibaba_00000000000000000000";
        for path in [format!("/v1/listings/{missing}/equivalents"), format!("/v1/listings/{missing}/similar")] {
            let (status, body) = app.get(&path).await;
            assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")), "{path}: {body}");
        }
        for (path, field) in [
            ("/v1/listings/nope/similar", "id"),
            (&format!("/v1/listings/{missing}/equivalents?memory_tolerance_percent=101") as &str, "memory_tolerance_percent"),
            ("/v1/recommendations/popular?limit=0", "limit"),
            ("/v1/recommendations/popular?currency=cny", "currency"),
        ] {
            let (status, body) = app.get(path).await;
            assert_eq!((status, &body["error"]["field"]), (400, &json!(field)), "{path}: {body}");
        }
    }

    async fn recommendations_and_popularity(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let listings = seeded(&app, CATALOG).await;

        // Cheaper equivalents: other vendors, the same vCPUs, really cheaper.
        let dear = search(&app, "category=compute.vm&country=cn&price_mode=on_demand&sort=price_desc&limit=40").await;
        let mut checked = 0;
        for base in hits(&dear) {
            let id = base["id"].as_str().unwrap();
            let body = app.expect(200, "GET", &format!("/v1/listings/{id}/equivalents?currency=CNY&limit=5"), None, None).await;
            let base_price = converted(&body["listing"]);
            for equivalent in body["equivalents"].as_array().unwrap() {
                let hit = &equivalent["hit"];
                assert_ne!(hit["vendor"], base["vendor"], "{equivalent}");
                assert_eq!(hit["specs"]["vcpu"], base["specs"]["vcpu"], "{equivalent}");
                assert_eq!(hit["country"], "cn");
                let price = converted(hit);
                assert!(price < base_price, "{equivalent}");
                assert_eq!(decimal(&equivalent["saving"]["amount"]), base_price - price);
                checked += 1;
            }
        }
        assert!(checked > 0, "some dear VM has a cheaper equivalent");

        // Similar: never the listing itself, the same category family.
        let base = hits(&dear)[0].clone();
        let id = base["id"].as_str().unwrap();
        let similar = app.expect(200, "GET", &format!("/v1/listings/{id}/similar?limit=20"), None, None).await;
        let items = similar["items"].as_array().unwrap();
        assert!(!items.is_empty());
        assert!(items.iter().all(|h| h["id"] != base["id"] && h["category"].as_str().unwrap().starts_with("compute.")));

        // Views become popularity once flushed.
        let (a, b) = (listings[10].id().as_str(), listings[20].id().as_str());
        for id in [a, a, a, b] {
            app.expect(200, "GET", &format!("/v1/listings/{id}"), None, None).await;
        }
        let (views, store) = (app.state.views.clone(), app.state.search_store.clone());
        // The background flush may have written some first; either way all are written now.
        let written = tokio::task::spawn_blocking(move || views.flush(store.as_ref())).await.unwrap().unwrap();
        assert!(written <= 4);
        assert_eq!(app.state.views.pending(), 0);
        let popular = app.expect(200, "GET", "/v1/recommendations/popular?limit=5&currency=USD", None, None).await;
        let top: Vec<(&str, u64)> = popular["items"].as_array().unwrap().iter()
            .map(|p| (p["listing"]["id"].as_str().unwrap(), p["views"].as_u64().unwrap()))
            .collect();
        assert_eq!(top, [(a, 3), (b, 1)]);
        assert_eq!(popular["items"][0]["listing"]["price"]["converted"]["currency"], "USD");
    }

    async fn operators_edit_synonyms_rates_and_rebuild_and_changes_show_up(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let listings = seeded(&app, 1_000).await;
        let operator = app.operator().await;
        let person = app.sign_up("buyer@example.com").await;

        // Synonyms: the built-in set, then an operator's, in force at once.
        let defaults = app.expect(200, "GET", "/v1/search/synonyms", None, None).await;
        assert_eq!(defaults["version"], 0);
        assert!(defaults["groups"].as_array().unwrap().len() > 5);
        assert!(search(&app, "q=redis").await["total"].as_u64().unwrap() > 0);
        assert_eq!(search(&app, "q=kvstore").await["total"], 0);
        let body = json!({"groups": [["kvstore", "Redis"]], "expected_version": 0});
        let refused = app.expect(403, "PUT", "/v1/search/synonyms", Some(&person.access), Some(body.clone())).await;
        assert_eq!(refused["error"]["code"], "forbidden");
        app.expect(401, "PUT", "/v1/search/synonyms", None, Some(body.clone())).await;
        let saved = app.expect(200, "PUT", "/v1/search/synonyms", Some(&operator.access), Some(body.clone())).await;
        assert_eq!(saved["version"], 1);
        assert_eq!(saved["groups"], json!([["kvstore", "redis"]]));
        let found = search(&app, "q=kvstore&limit=20").await;
        assert!(found["total"].as_u64().unwrap() > 0, "{found}");
        assert!(hits(&found).iter().all(|h| hit_text(h).contains("redis")), "{found}");
        let stale = app.expect(409, "PUT", "/v1/search/synonyms", Some(&operator.access), Some(body)).await;
        assert_eq!(stale["error"]["code"], "conflict");
        assert_eq!(app.expect(200, "GET", "/v1/search/synonyms", None, None).await["version"], 1);
        // JSON Schema's integers include `1.0`; a negative one is refused.
        let again = json!({"groups": [["kvstore", "redis"]], "expected_version": 1.0});
        assert_eq!(app.expect(200, "PUT", "/v1/search/synonyms", Some(&operator.access), Some(again)).await["version"], 2);
        let negative = json!({"groups": [["kvstore", "redis"]], "expected_version": -1});
        app.expect(400, "PUT", "/v1/search/synonyms", Some(&operator.access), Some(negative)).await;
        for bad in [json!({"groups": [["solo"]]}), json!({"groups": [["a", "A"]]}), json!({"groups": [["a", "b"]], "extra": 1})] {
            app.expect(400, "PUT", "/v1/search/synonyms", Some(&operator.access), Some(bad)).await;
        }

        // Exchange rates: the settings' table, then an operator's.
        let rates = app.expect(200, "GET", "/v1/fx-rates", None, None).await;
        assert!(rates["version"].is_null());
        assert_eq!(rates["rates"].as_array().unwrap().len(), 4);
        let table = json!({"rates": [{"from": "USD", "to": "CNY", "rate": "8"}], "as_of": "2025-01-02T03:04:05Z"});
        app.expect(403, "PUT", "/v1/fx-rates", Some(&person.access), Some(table.clone())).await;
        let saved = app.expect(200, "PUT", "/v1/fx-rates", Some(&operator.access), Some(table)).await;
        assert_eq!((saved["version"].as_u64(), saved["rates"][0]["rate"].as_str()), (Some(1), Some("8")));
        assert_eq!(app.expect(200, "GET", "/v1/fx-rates", None, None).await["version"], 1);
        let usd = search(&app, "price_mode=on_demand&currency=CNY&sort=price_asc&country=us&limit=3").await;
        for hit in hits(&usd) {
            assert_eq!(converted(hit), decimal(&hit["price"]["amount"]) * Decimal::from(8), "{hit}");
        }
        for (bad, field) in [
            (json!({"rates": [{"from": "USD", "to": "CNY", "rate": "0"}]}), "rates[0].rate"),
            (json!({"rates": [{"from": "CNY", "to": "USD", "rate": "0.14"}, {"from": "USD", "to": "USD", "rate": "1"}]}), "rates[1].to"),
            (json!({"rates": [{"from": "USD", "to": "CNY", "rate": "7"}, {"from": "USD", "to": "CNY", "rate": "7.1"}]}), "rates"),
        ] {
            let answer = app.expect(400, "PUT", "/v1/fx-rates", Some(&operator.access), Some(bad)).await;
            assert_eq!(answer["error"]["field"], field, "{answer}");
        }

        // A rebuild, by operators only.
        app.expect(403, "POST", "/v1/search/rebuild", Some(&person.access), None).await;
        let report = app.expect(200, "POST", "/v1/search/rebuild", Some(&operator.access), None).await;
        let active = listings.iter().filter(|l| l.status() == ListingStatus::Active).count();
        assert_eq!(report["listings"], active as u64);
        assert_eq!(search(&app, "limit=1").await["total"], active as u64);

        // A listing written through the API is found soon after.
        let mut fresh = serde_json::to_value(DemoCatalog::new(77, 1).next().unwrap()).unwrap();
        fresh["name"]["en"] = json!("Quokkaberry appliance");
        app.expect(200, "POST", "/v1/listings/batch", Some(&operator.access), Some(json!({"listings": [fresh]}))).await;
        let found = wait_for(&app, "/v1/search?q=quokkaberry", |b| b["total"] == 1).await;
        assert_eq!(hits(&found)[0]["name"]["en"], "Quokkaberry appliance");
    }

    async fn specs_and_places_in_the_text_become_filters(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let listings = seeded(&app, CATALOG).await;
        let expected: Vec<&Listing> = listings
            .iter()
            .filter(|l| l.status() == ListingStatus::Active)
            .filter(|l| l.specs().vcpu == Some(4) && l.specs().memory_gib == Some(Decimal::from(8)))
            .filter(|l| l.region().geography.city.as_deref() == Some("shanghai"))
            .collect();
        let body = search(&app, "q=4%E6%A0%B88G%20%E4%B8%8A%E6%B5%B7&facets=vendor,category&limit=100").await;
        let chips: Vec<&str> = body["understood"]["chips"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
        assert_eq!(chips, ["vcpu", "memory_gib", "city"], "{}", body["understood"]);
        assert_eq!(body["understood"]["chips"][2]["value"], "shanghai");
        assert_eq!(body["total"], expected.len() as u64);
        assert!(!hits(&body).is_empty());
        for hit in hits(&body) {
            assert_eq!(hit["specs"]["vcpu"], 4, "{hit}");
            assert_eq!(decimal(&hit["specs"]["memory_gib"]), Decimal::from(8), "{hit}");
            assert_eq!(hit["city"], "shanghai", "{hit}");
        }
        let vendors = facet_counts(&body, "vendor");
        assert!(vendors.len() >= 2, "{vendors:?}");
        assert_eq!(vendors, count_by(expected.iter().copied(), |l| Some(l.vendor().id().to_owned())));
        // Understanding off: the same words are only text.
        let literal = search(&app, "q=4%E6%A0%B88G%20%E4%B8%8A%E6%B5%B7&understand=false&limit=1").await;
        assert!(literal["understood"]["chips"].as_array().unwrap().is_empty());
    }
}
