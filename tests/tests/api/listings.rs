//! Listing routes: filters, cursor pagination, detail with price history,
//! idempotent batch upserts and the change feed.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, on_both_backends};

async fn collect_pages(app: &TestApp, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/listings?{query}&limit=7&cursor={c}"),
            None => format!("/v1/listings?{query}&limit=7"),
        };
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "{body}");
        let page = body["items"].as_array().unwrap().clone();
        assert!(page.len() <= 7);
        items.extend(page);
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    items
}

on_both_backends! {
    async fn probes_answer(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(app.get("/healthz").await, (200, json!({"status": "ok"})));
        assert_eq!(app.get("/readyz").await, (200, json!({"status": "ready"})));
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert!(response.headers().contains_key("x-request-id"));
        let (status, vendors) = app.get("/v1/vendors").await;
        assert_eq!(status, 200);
        assert_eq!(vendors.as_array().unwrap().len(), 9);
    }

    async fn partner_vendors_are_listed_beside_the_built_in_ones(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (name, slug, zh, en) in [("Zeta Co", "zeta", "泽塔云", "Zeta Cloud"), ("Acme Co", "acme", "顶点云", "Acme")] {
            let mut boss = app.sign_up(&format!("{slug}-boss@example.com")).await;
            app.found_enterprise(&mut boss, name).await;
            app.expect(200, "PUT", "/v1/partner/vendor", Some(&boss.access),
                Some(json!({"slug": slug, "name_zh": zh, "name_en": en})))
                .await;
        }
        let (status, vendors) = app.get("/v1/vendors").await;
        assert_eq!(status, 200, "{vendors}");
        let vendors = vendors.as_array().unwrap();
        assert_eq!(vendors.len(), 11, "{vendors:?}");
        assert!(vendors[..9].iter().all(|v| v["partner"] == false));
        assert_eq!(vendors[0]["id"], "aws");
        // Partners follow, by id; the enterprise behind each stays private.
        assert_eq!(vendors[9], json!({"id": "p-acme", "name_zh": "顶点云", "name_en": "Acme", "partner": true}));
        assert_eq!(vendors[10], json!({"id": "p-zeta", "name_zh": "泽塔云", "name_en": "Zeta Cloud", "partner": true}));
        // Every id listed filters the storefront.
        for vendor in vendors {
            let (status, page) = app.get(&format!("/v1/listings?vendor={}", vendor["id"].as_str().unwrap())).await;
            assert_eq!(status, 200, "{vendor}: {page}");
        }
    }

    async fn filters_and_cursor_pagination_cover_every_listing_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let seeded = app.seed_demo(270);
        let alibaba = collect_pages(&app, "vendor=alibaba").await;
        let expected = seeded.iter().filter(|l| l.vendor().id() == "alibaba").count();
        assert_eq!(alibaba.len(), expected);
        let ids: HashSet<&str> = alibaba.iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), expected, "no listing repeats across pages");
        for listing in &alibaba {
            assert_eq!(listing["vendor"], "alibaba");
            let zh = listing["name"]["zh"].as_str().unwrap();
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "Chinese name: {zh}");
            // CNY in mainland China, USD elsewhere (Hong Kong, Singapore, …).
            let mainland = listing["region"]["geography"]["country"] == "cn";
            assert_eq!(listing["prices"][0]["amount"]["currency"], if mainland { "CNY" } else { "USD" });
        }

        let gpus = collect_pages(&app, "category=compute.gpu").await;
        assert!(!gpus.is_empty());
        assert!(gpus.iter().all(|l| l["category"] == "compute.gpu" && l["specs"]["gpu_count"].as_u64().unwrap() >= 1));

        let hangzhou = collect_pages(&app, "vendor=alibaba&region=cn-hangzhou").await;
        assert!(!hangzhou.is_empty());
        assert!(hangzhou.iter().all(|l| l["region"]["code"] == "cn-hangzhou" && l["region"]["geography"]["city"] == "hangzhou"));

        let everything = collect_pages(&app, "status=any").await;
        assert_eq!(everything.len(), seeded.len());
    }

    async fn detail_shows_price_history_and_batches_are_idempotent(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let operator = app.operator().await;
        let listing = shiyun_core::demo::DemoCatalog::new(5, 1).next().unwrap();
        let mut doc = serde_json::to_value(&listing).unwrap();
        let post = |body: Value| {
            app.client
                .post(app.url("/v1/listings/batch"))
                .bearer_auth(&operator.access)
                .json(&body)
                .send()
        };
        let first: Value = post(json!({"listings": [doc.clone()]})).await.unwrap().json().await.unwrap();
        assert_eq!(first, json!({"new": 1, "changed": 0, "unchanged": 0, "retired": 0}));
        let again: Value = post(json!({"listings": [doc.clone()]})).await.unwrap().json().await.unwrap();
        assert_eq!(again, json!({"new": 0, "changed": 0, "unchanged": 1, "retired": 0}));

        doc["prices"][0]["amount"]["amount"] = json!("123.4567");
        let repriced: Value = post(json!({"listings": [doc.clone()]})).await.unwrap().json().await.unwrap();
        assert_eq!(repriced["changed"], 1);

        let id = listing.id().as_str();
        let (status, detail) = app.get(&format!("/v1/listings/{id}")).await;
        assert_eq!(status, 200, "{detail}");
        assert_eq!(detail["listing"]["prices"][0]["amount"]["amount"], "123.4567");
        let history = detail["price_history"].as_array().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0]["prices"][0]["amount"]["amount"], listing.prices()[0].amount().amount().to_string());
        assert_eq!(history[1]["prices"][0]["amount"]["amount"], "123.4567");

        let (status, feed) = app.call("GET", "/v1/changes?after=0&limit=10", Some(&operator.access), None).await;
        assert_eq!(status, 200);
        let kinds: Vec<&str> = feed["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["created", "updated"]);
        let last = feed["next_after"].as_u64().unwrap();
        let (_, tail) = app.call("GET", &format!("/v1/changes?after={last}"), Some(&operator.access), None).await;
        assert!(tail["events"].as_array().unwrap().is_empty());
    }
}

on_both_backends! {
    async fn partner_listings_are_found_by_their_vendor_id(backend: Backend) {
        use shiyun_core::listing::{PartnerListingInput, PartnerVendorId};
        use shiyun_core::store::ListingStore;

        let app = TestApp::spawn(backend).await;
        app.seed_demo(40);
        let acme = PartnerVendorId::from_slug("acme").unwrap();
        let partner: Vec<_> = ["vm-1", "vm-2"]
            .into_iter()
            .map(|sku| {
                let input: PartnerListingInput = serde_json::from_value(json!({
                    "vendor_sku": sku,
                    "category": "compute.vm",
                    "service": "vm",
                    "name": {"zh": format!("顶点云主机 {sku}")},
                    "region": {"code": "sh-1", "country": "cn", "city": "shanghai"},
                    "prices": [{"billing_mode": "monthly", "unit": "month",
                                "amount": {"amount": "99.00", "currency": "CNY"}}]
                }))
                .unwrap();
                input.into_listing(&acme, chrono::Utc::now()).unwrap()
            })
            .collect();
        app.db.database().upsert_listings(&partner, chrono::Utc::now()).unwrap();

        let found = collect_pages(&app, "vendor=p-acme").await;
        let mut ids: Vec<&str> = found.iter().map(|l| l["id"].as_str().unwrap()).collect();
        ids.sort();
        let mut expected: Vec<&str> = partner.iter().map(|l| l.id().as_str()).collect();
        expected.sort();
        assert_eq!(ids, expected);
        assert!(found.iter().all(|l| l["vendor"] == "p-acme" && l["provenance"]["vendor_api"] == "partner.listings"));
        assert!(collect_pages(&app, "vendor=p-nobody").await.is_empty());

        let (status, detail) = app.get(&format!("/v1/listings/{}", expected[0])).await;
        assert_eq!(status, 200, "{detail}");
        assert_eq!(detail["listing"]["region"]["name"]["zh"], "上海");

        let (status, error) = app.get("/v1/listings?vendor=p-A").await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["field"], "vendor");
    }
}

on_both_backends! {
    async fn the_platforms_cost_never_reaches_a_caller(backend: Backend) {
        use std::time::{Duration, Instant};

        use chrono::TimeZone;
        use rust_decimal_macros::dec;
        use shiyun_core::listing::{
            BillingMode, Category, Listing, PriceComponent, PriceSource, PriceUnit, Provenance, Vendor,
        };
        use shiyun_core::money::{Currency, Money};
        use shiyun_core::store::ListingStore;

        let app = TestApp::spawn(backend).await;
        let operator = app.operator().await;
        // A yearly quote: list price 4368, the platform's trade price 3712.8.
        let cny = |amount| Money::new(amount, Currency::CNY);
        let price = PriceComponent::flat(BillingMode::Yearly, PriceUnit::Year, cny(dec!(4368)))
            .unwrap()
            .with_cost(cny(dec!(3712.8)))
            .unwrap();
        let source = PriceSource::of(&price, "Price.OriginalPrice", Some("Price.TradePrice"));
        let fetched_at = chrono::Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
        let listing = Listing::builder(
            Vendor::Alibaba,
            "ecs.g6.large@cn-hangzhou/year",
            Provenance::from_raw("alibaba.ecs.DescribePrice", b"{}", fetched_at).with_price_source(source),
        )
        .category(Category::parse("compute.vm").unwrap())
        .service("ecs")
        .name_en("Marginal g6 large")
        .name_zh("通用型 g6 大型")
        .region(shiyun_core::geography::region_of(Vendor::Alibaba, "cn-hangzhou").unwrap())
        .price(price)
        .build()
        .unwrap();
        let id = listing.id().as_str().to_owned();

        // The operators' batch takes a cost; a change of the cost alone is a change.
        let mut doc = serde_json::to_value(&listing).unwrap();
        let batch = |doc: &Value| json!({"listings": [doc]});
        let (status, report) = app.call("POST", "/v1/listings/batch", Some(&operator.access), Some(&batch(&doc))).await;
        assert_eq!((status, report["new"].clone()), (200, json!(1)), "{report}");
        doc["prices"][0]["cost"]["amount"] = json!("3600.1");
        let (status, report) = app.call("POST", "/v1/listings/batch", Some(&operator.access), Some(&batch(&doc))).await;
        assert_eq!((status, report["changed"].clone()), (200, json!(1)), "{report}");
        // The store keeps it, for orders.
        let stored = app.db.database().get_listing(listing.id()).unwrap().unwrap();
        assert_eq!(stored.prices()[0].cost(), Some(cny(dec!(3600.1))));
        assert_eq!(stored.prices()[0].amount(), cny(dec!(4368)));

        let never_the_cost = |what: &str, body: &Value| {
            let text = body.to_string();
            for secret in ["3712.8", "3600.1", "\"cost\"", "TradePrice"] {
                assert!(!text.contains(secret), "{what} shows {secret}: {text}");
            }
        };
        let (status, page) = app.get("/v1/listings?vendor=alibaba").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["items"][0]["prices"][0]["amount"]["amount"], "4368");
        never_the_cost("the listing page", &page);

        let (status, detail) = app.get(&format!("/v1/listings/{id}")).await;
        assert_eq!(status, 200, "{detail}");
        assert_eq!(detail["listing"]["prices"][0]["amount"]["amount"], "4368");
        assert_eq!(
            detail["listing"]["provenance"]["price_sources"],
            json!([{"billing_mode": "yearly", "list_price": "Price.OriginalPrice"}])
        );
        assert_eq!(detail["price_history"].as_array().unwrap().len(), 2, "{detail}");
        never_the_cost("the listing detail", &detail);

        // The search index follows the store.
        let deadline = Instant::now() + Duration::from_secs(60);
        let found = loop {
            let (status, body) = app.get("/v1/search?q=marginal&currency=CNY&price_mode=yearly").await;
            assert_eq!(status, 200, "{body}");
            if body["total"] == 1 {
                break body;
            }
            assert!(Instant::now() < deadline, "never indexed: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(found["hits"][0]["price"]["amount"], "4368");
        never_the_cost("a search", &found);
        // The cost is not a price a filter can find.
        let (_, by_cost) = app.get("/v1/search?currency=CNY&price_mode=yearly&price_min=3500&price_max=3800").await;
        assert_eq!(by_cost["total"], 0, "{by_cost}");
        for path in [
            format!("/v1/listings/{id}/similar?currency=CNY"),
            format!("/v1/listings/{id}/equivalents?currency=CNY"),
            "/v1/recommendations/popular?currency=CNY".to_owned(),
        ] {
            let (status, body) = app.get(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
            never_the_cost(&path, &body);
        }
    }
}
