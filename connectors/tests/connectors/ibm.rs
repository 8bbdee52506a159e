//! IBM: the real Global Catalog samples, a live sync against a local server
//! answering plan pages and plan pricing, and bad records.

use rust_decimal_macros::dec;
use serde_json::{Value, json};
use shiyun_connectors::ConnectorError;
use shiyun_connectors::ibm;
use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::listing::{BillingMode, PriceUnit, Vendor};
use shiyun_core::money::Currency;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    WithFaults, assert_names_vendor_and_city, assert_texts_clean, clean_page, ctx, ctx_with,
    drain_all, find_listing, live_connector, mount_answer, query_map, rejection_reason,
    settings_for, vendor_fixture,
};

#[test]
fn cos_pricing_sample_is_exact() {
    let body = vendor_fixture(
        "ibm",
        "globalcatalog-pricing-cos-standard-global-eu-de.json",
    );
    let page = clean_page(ibm::import(
        &body,
        &ctx_with(&[
            ("service", "cloud-object-storage"),
            ("plan_name", "Standard"),
        ]),
    ));
    assert_eq!(page.listings.len(), 1);
    let l = &page.listings[0];
    assert_eq!(l.vendor(), Vendor::Ibm);
    assert_eq!(l.vendor_sku(), "744bfc56-d12c-4866-88d5-dac9139e0e5d@eu-de");
    assert_eq!(l.category().as_str(), "storage.object");
    assert_eq!(l.service(), "cloud-object-storage");
    assert_eq!(
        l.name().en.as_deref(),
        Some("IBM Cloud Cloud Object Storage Standard · Frankfurt (eu-de)")
    );
    assert!(
        l.name()
            .zh
            .as_deref()
            .unwrap()
            .contains("对象存储 Standard")
    );
    assert_names_vendor_and_city(l, "法兰克福", "Frankfurt");
    assert_texts_clean(&page.listings);
    assert_eq!(l.region().code, "eu-de");
    assert_eq!(l.region().geography.to_string(), "de/frankfurt");
    assert_eq!(l.prices().len(), 1);
    let p = &l.prices()[0];
    assert_eq!(p.component(), Some("COSVLTBCALL"));
    assert_eq!(
        (p.billing_mode(), p.unit()),
        (BillingMode::OnDemand, PriceUnit::Request)
    );
    assert_eq!(
        p.amount().amount(),
        dec!(0.000001045),
        "0.01045 per 10,000 calls"
    );
    assert_eq!(p.amount().currency(), Currency::USD);
    assert_eq!(l.provenance().vendor_api, "ibm.globalcatalog.pricing");

    // The pricing does not name its service: import says what to pass.
    let err = ibm::import(&body, &ctx()).unwrap_err();
    assert!(
        matches!(&err, ConnectorError::InvalidParameter { key, .. } if key == "service"),
        "{err}"
    );
    assert!(err.to_string().contains("--param service="), "{err}");
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    // Another country's amounts are asked for but absent: the record is rejected.
    let page = ibm::import(
        &body,
        &ctx_with(&[("service", "cloud-object-storage"), ("country", "DEU")]),
    )
    .unwrap();
    assert_eq!(
        page.rejections[0].vendor_key,
        "744bfc56-d12c-4866-88d5-dac9139e0e5d@eu-de"
    );
    assert!(page.rejections[0].reason.contains("DEU"));
    // A category can stand in for an unknown service.
    let page = ibm::import(
        &body,
        &ctx_with(&[("service", "my-svc"), ("category", "storage.object")]),
    )
    .unwrap();
    assert_eq!(page.listings[0].service(), "my-svc");
}

#[test]
fn plan_list_sample_prices_free_plans_and_points_paid_ones_to_their_pricing() {
    let page = ibm::import(
        &vendor_fixture("ibm", "globalcatalog-plans-power-virtual-server.json"),
        &ctx(),
    )
    .unwrap();
    assert_eq!(page.listings.len(), 1);
    let free = &page.listings[0];
    assert_eq!(
        free.vendor_sku(),
        "1112d6a9-71d6-4968-956b-eb3edbf0225b@global"
    );
    assert_eq!(free.category().as_str(), "compute.vm");
    assert_eq!(free.service(), "power-iaas");
    assert_eq!(
        free.name().en.as_deref(),
        Some("IBM Cloud Power Virtual Server Power Virtual Server Private Cloud Group · Global")
    );
    assert_texts_clean(&page.listings);
    assert_eq!(free.region().geography.country, "global");
    assert!(free.tags().contains("free"));
    assert!(free.prices().is_empty());
    assert_eq!(page.rejections.len(), 1);
    assert_eq!(
        page.rejections[0].vendor_key,
        "f165dd34-3a40-423b-9d95-e90a23f724dd@global"
    );
    assert!(
        page.rejections[0]
            .reason
            .contains("/api/v1/f165dd34-3a40-423b-9d95-e90a23f724dd:global/pricing")
    );
}

fn plan(id: &str, name: &str, kind: &str) -> Value {
    json!({
        "id": id, "name": name, "kind": "plan", "active": true, "disabled": false,
        "parent_id": "dff97f5c-bc5e-4455-b470-411c3edbe49c",
        "overview_ui": {"en": {"display_name": name, "description": format!("{name} plan")}},
        "metadata": {"pricing": {"type": kind, "origin": "pricing_catalog", "metrics": null, "url": format!("https://globalcatalog.cloud.ibm.com/api/v1/{id}/pricing")}}
    })
}

fn pricing(id: &str, region: &str, price: Value, currency: &str) -> Value {
    json!({
        "deployment_id": format!("{id}:global"), "deployment_location": "global", "deployment_region": region,
        "origin": "pricing_catalog", "type": "paygo", "i18n": {}, "starting_price": {},
        "metrics": [
            {"part_ref": "", "metric_id": "STORAGE", "tier_model": "Step Tier", "resource_display_name": "Storage",
             "charge_unit_name": "STANDARD_STORAGE", "charge_unit": "GIGABYTE_MONTHS", "charge_unit_quantity": 1,
             "amounts": [{"country": "USA", "currency": currency, "prices": [
                {"quantity_tier": 499999, "price": price}, {"quantity_tier": 999999999, "price": 0.021}]}]},
            {"part_ref": "", "metric_id": "CLASSA", "tier_model": "Granular Tier", "charge_unit_name": "CLASS_A_CALLS",
             "charge_unit": "API_CALLS", "charge_unit_quantity": 1000,
             "amounts": [{"country": "USA", "currency": currency, "prices": [{"quantity_tier": 1, "price": 0.005}]}]}
        ]
    })
}

#[tokio::test]
async fn live_sync_pages_plans_and_fetches_pricing_through_throttling() {
    let server = MockServer::start().await;
    let plans = [
        plan("p1", "Standard", "Paid"),
        plan("p2", "Smart Tier", "Paid"),
        plan("p3", "Lite", "free"),
        plan("p4", "Vault", "Paid"),
        plan("p5", "Archive", "Paid"),
    ];
    let responder = WithFaults::new(&[(0, 429), (3, 500)], move |request: &Request| {
        let q = query_map(request);
        let path = request.url.path();
        if path.ends_with("/plan") {
            let offset: usize = q["_offset"].parse().unwrap();
            let slice: Vec<Value> = plans.iter().skip(offset).take(2).cloned().collect();
            return ResponseTemplate::new(200).set_body_json(json!({
                "offset": offset, "limit": 2, "count": slice.len(), "resource_count": plans.len(), "resources": slice
            }));
        }
        let id = path
            .trim_start_matches("/api/v1/")
            .trim_end_matches(":global/pricing");
        assert_eq!(q["deployment_region"], "eu-de");
        if id == "p5" {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "not found"}));
        }
        ResponseTemplate::new(200).set_body_json(pricing(id, "eu-de", json!(0.022), "USD"))
    });
    Mock::given(method("GET"))
        .and(path_regex("^/api/v1/"))
        .respond_with(responder)
        .mount(&server)
        .await;
    let mut settings = settings_for(&server.uri());
    settings.services = vec!["cloud-object-storage".into()];
    settings.regions = vec!["eu-de".into()];
    let connector = live_connector(Vendor::Ibm, &settings);
    let drained = drain_all(connector.as_ref()).await;
    assert_eq!(drained.pages.len(), 3);
    assert_eq!(
        drained.skus(),
        ["p1@eu-de", "p2@eu-de", "p3@eu-de", "p4@eu-de"]
    );
    assert_eq!(drained.rejections.len(), 1);
    assert_eq!(drained.rejections[0].vendor_key, "p5@eu-de");

    let p1 = &drained.pages[0].listings[0];
    assert_eq!(
        p1.name().en.as_deref(),
        Some("IBM Cloud Cloud Object Storage Standard · Frankfurt (eu-de)")
    );
    let storage = p1
        .prices()
        .iter()
        .find(|p| p.component() == Some("STORAGE"))
        .unwrap();
    assert_eq!(storage.unit(), PriceUnit::GbMonth);
    assert_eq!(storage.tiers().len(), 2);
    assert_eq!(
        (
            storage.tiers()[0].from(),
            storage.tiers()[0].to(),
            storage.tiers()[0].amount().amount()
        ),
        (dec!(0), Some(dec!(499999)), dec!(0.022))
    );
    assert_eq!(
        (
            storage.tiers()[1].from(),
            storage.tiers()[1].to(),
            storage.tiers()[1].amount().amount()
        ),
        (dec!(499999), None, dec!(0.021))
    );
    let calls = p1
        .prices()
        .iter()
        .find(|p| p.component() == Some("CLASSA"))
        .unwrap();
    assert_eq!(
        (calls.unit(), calls.amount().amount()),
        (PriceUnit::Request, dec!(0.000005))
    );
    let lite = find_listing(&drained.pages[1].listings, "p3@eu-de");
    assert!(lite.tags().contains("free") && lite.prices().is_empty());

    let requests = server.received_requests().await.unwrap();
    // 3 plan pages + pricing for p1, p2, p4, p5 + one 429 + one 500.
    assert_eq!(requests.len(), 9);
    let resumed = connector
        .fetch_page(drained.pages[1].next_token.as_deref())
        .await
        .unwrap();
    assert_eq!(resumed.rejections[0].vendor_key, "p5@eu-de");
}

#[tokio::test]
async fn bad_plans_and_prices_are_rejected_and_the_rest_goes_on() {
    let server = MockServer::start().await;
    let mut no_id = plan("x", "NoId", "Paid");
    no_id.as_object_mut().unwrap().remove("id");
    let plans = vec![
        plan("nan", "Nan", "Paid"),
        plan("xyz", "Xyz", "Paid"),
        no_id,
        plan("good", "Good", "Paid"),
    ];
    mount_answer(
        &server,
        Mock::given(method("GET")).and(path_regex("^/api/v1/")),
        move |request: &Request| {
            let path = request.url.path();
            if path.ends_with("/plan") {
                return ResponseTemplate::new(200).set_body_json(json!({
                    "offset": 0, "limit": 25, "count": plans.len(), "resource_count": plans.len(), "resources": plans
                }));
            }
            let id = path.trim_start_matches("/api/v1/").trim_end_matches(":global/pricing");
            let body = match id {
                "nan" => pricing(id, "us-south", json!("abc"), "USD"),
                "xyz" => pricing(id, "us-south", json!(0.022), "XYZ"),
                _ => pricing(id, "us-south", json!(0.022), "USD"),
            };
            ResponseTemplate::new(200).set_body_json(body)
        },
    )
    .await;
    let page = live_connector(Vendor::Ibm, &settings_for(&server.uri()))
        .fetch_page(None)
        .await
        .unwrap();
    assert_eq!(page.listings.len(), 1);
    assert_eq!(page.listings[0].vendor_sku(), "good@us-south");
    assert_eq!(page.listings[0].region().geography.to_string(), "us/dallas");
    let reason = |key: &str| rejection_reason(&page.rejections, key);
    assert!(reason("nan@us-south").contains("not a number"));
    assert!(reason("xyz@us-south").contains("unknown currency `XYZ`"));
    assert!(reason("NoId").contains("plan without id"));
    assert_eq!(page.rejections.len(), 3);
    assert!(page.next_token.is_none());

    let body = vendor_fixture("ibm", "globalcatalog-plans-power-virtual-server.json");
    assert!(matches!(
        ibm::import(&body[..body.len() / 3], &ctx()),
        Err(ConnectorError::Malformed { .. })
    ));
}
