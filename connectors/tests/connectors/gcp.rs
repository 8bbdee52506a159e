//! GCP: the real Cloud Billing Catalog samples, a live sync against a local
//! server answering `skus.list` pages, and bad SKUs.

use rust_decimal_macros::dec;
use secrecy::SecretString;
use serde_json::{Value, json};
use shiyun_connectors::gcp;
use shiyun_connectors::{ConnectorError, VendorSettings};
use shiyun_core::listing::{BillingMode, PriceUnit, Vendor};
use shiyun_core::money::Currency;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    WithFaults, assert_credentials_rejected, assert_kept_unknown_region,
    assert_names_vendor_and_city, assert_texts_clean, clean_page, connector_error, ctx, ctx_with,
    drain_all, find_listing, live_connector, mount_answer, rejection_reason, settings_for,
    vendor_fixture,
};

#[test]
fn a100_sample_is_exact_per_region() {
    let page = clean_page(gcp::import(
        &vendor_fixture("gcp", "compute-skus-a2-a100-americas.json"),
        &ctx(),
    ));
    assert_eq!(page.listings.len(), 9, "3 skus × 3 service regions");
    let find = |sku: &str| find_listing(&page.listings, sku);

    let gpu = find("039F-D0DA-4055@us-central1");
    assert_eq!(gpu.vendor(), Vendor::Gcp);
    assert_eq!(gpu.category().as_str(), "compute.gpu");
    assert_eq!(gpu.service(), "compute-engine");
    assert_eq!(gpu.region().code, "us-central1");
    assert_eq!(gpu.region().geography.to_string(), "us/council-bluffs");
    assert_eq!(gpu.specs().gpu_count, Some(1));
    assert_eq!(gpu.specs().gpu_model.as_deref(), Some("NVIDIA A100"));
    assert_eq!(
        gpu.name().en.as_deref(),
        Some("Google Cloud Compute Engine GPU NVIDIA A100 · Council Bluffs, Iowa, North America")
    );
    assert_names_vendor_and_city(gpu, "康瑟尔布拉夫斯", "Council Bluffs");
    assert_texts_clean(&page.listings);
    assert!(gpu.name().zh.as_deref().unwrap().contains("GPU"));
    let p = &gpu.prices()[0];
    assert_eq!(
        (p.billing_mode(), p.unit(), p.component()),
        (BillingMode::OnDemand, PriceUnit::Hour, Some("gpu"))
    );
    assert_eq!(
        p.amount().amount(),
        dec!(2.933908),
        "units 2 + nanos 933908000"
    );
    assert_eq!(p.amount().currency(), Currency::USD);
    assert_eq!(
        find("039F-D0DA-4055@us-east1")
            .region()
            .geography
            .to_string(),
        "us/moncks-corner"
    );
    assert_eq!(
        find("039F-D0DA-4055@us-west1")
            .region()
            .geography
            .to_string(),
        "us/the-dalles"
    );

    let ram = find("2390-DCAF-DA38@us-east1");
    assert_eq!(ram.category().as_str(), "compute.vm");
    let p = &ram.prices()[0];
    assert_eq!(
        (p.unit(), p.component()),
        (PriceUnit::GbHour, Some("memory"))
    );
    assert_eq!(p.amount().amount(), dec!(0.004237));

    let cpu = find("2922-40C5-B19F@us-west1");
    assert_eq!(cpu.specs().vcpu, Some(1));
    assert_eq!(cpu.prices()[0].unit(), PriceUnit::Hour);
    assert_eq!(cpu.prices()[0].amount().amount(), dec!(0.031611));
    assert_eq!(cpu.provenance().vendor_api, "gcp.cloudbilling.skus");

    // `--param region=` narrows the regions.
    let page = gcp::import(
        &vendor_fixture("gcp", "compute-skus-a2-a100-americas.json"),
        &ctx_with(&[("region", "us-east1")]),
    )
    .unwrap();
    assert_eq!(page.listings.len(), 3);
}

#[test]
fn api_key_invalid_is_credentials_rejected() {
    let err =
        gcp::import(&vendor_fixture("gcp", "error-api-key-invalid.json"), &ctx()).unwrap_err();
    assert!(
        matches!(&err, ConnectorError::CredentialsRejected { message, .. } if message.contains("API_KEY_INVALID")),
        "{err}"
    );
}

fn sku(id: &str, units: Value, nanos: Value, currency: &str) -> Value {
    json!({
        "name": format!("services/6F81-5844-456A/skus/{id}"), "skuId": id,
        "description": "N2 Instance Core running in Frankfurt",
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute", "resourceGroup": "CPU", "usageType": "Preemptible"},
        "serviceRegions": ["europe-west3"],
        "pricingInfo": [{"summary": "", "pricingExpression": {"usageUnit": "h", "displayQuantity": 1, "tieredRates": [
            {"startUsageAmount": 0, "unitPrice": {"currencyCode": currency, "units": units, "nanos": nanos}}],
            "usageUnitDescription": "hour", "baseUnit": "s", "baseUnitDescription": "second", "baseUnitConversionFactor": 3600},
            "currencyConversionRate": 1, "effectiveTime": "2026-01-01T00:00:00Z"}],
        "serviceProviderName": "Google",
        "geoTaxonomy": {"type": "REGIONAL", "regions": ["europe-west3"]}
    })
}

#[test]
fn tiers_commitments_and_global_skus_normalise() {
    let mut egress = sku("EGRESS", json!("0"), json!(120000000), "USD");
    egress["category"] = json!({"serviceDisplayName": "Compute Engine", "resourceFamily": "Network", "resourceGroup": "PremiumInternetEgress", "usageType": "OnDemand"});
    egress["serviceRegions"] = json!(["global"]);
    egress["geoTaxonomy"] = json!({"type": "GLOBAL"});
    egress["pricingInfo"][0]["pricingExpression"]["usageUnit"] = json!("GiBy");
    egress["pricingInfo"][0]["pricingExpression"]["tieredRates"] = json!([
        {"startUsageAmount": 0, "unitPrice": {"currencyCode": "USD", "units": "0", "nanos": 0}},
        {"startUsageAmount": 1, "unitPrice": {"currencyCode": "USD", "units": "0", "nanos": 120000000}},
        {"startUsageAmount": 10240, "unitPrice": {"currencyCode": "USD", "units": "0", "nanos": 110000000}}
    ]);
    let mut commit = sku("CUD", json!("0"), json!(19872000), "USD");
    commit["category"]["usageType"] = json!("Commit3Yr");
    let body = json!({"skus": [sku("SPOT", json!("0"), json!(7621000), "USD"), egress, commit], "nextPageToken": ""});
    let page = clean_page(gcp::import(body.to_string().as_bytes(), &ctx()));
    let find = |sku: &str| find_listing(&page.listings, sku);
    let spot = find("SPOT@europe-west3");
    assert_eq!(spot.prices()[0].billing_mode(), BillingMode::Spot);
    assert_eq!(spot.prices()[0].amount().amount(), dec!(0.007621));
    assert_eq!(spot.region().geography.to_string(), "de/frankfurt");
    let egress = find("EGRESS@global");
    assert_eq!(egress.category().as_str(), "network.bandwidth");
    assert_eq!(egress.region().geography.country, "global");
    let tiers = &egress.prices()[0].tiers();
    assert_eq!(egress.prices()[0].unit(), PriceUnit::Gb);
    assert_eq!(tiers.len(), 3);
    assert_eq!(
        (tiers[1].from(), tiers[1].to(), tiers[1].amount().amount()),
        (dec!(1), Some(dec!(10240)), dec!(0.12))
    );
    assert_eq!((tiers[2].from(), tiers[2].to()), (dec!(10240), None));
    assert_eq!(
        find("CUD@europe-west3").prices()[0].billing_mode(),
        BillingMode::Reserved { term_months: 36 }
    );
}

#[test]
fn bad_skus_are_rejected_and_the_rest_goes_on() {
    let mut no_id = sku("X", json!("0"), json!(1), "USD");
    no_id.as_object_mut().unwrap().remove("skuId");
    let mut mars = sku("MARS", json!("0"), json!(1), "USD");
    mars["serviceRegions"] = json!(["mars-north1"]);
    let body = json!({"skus": [
        sku("NAN", json!("abc"), json!(0), "USD"),
        sku("XYZ", json!("1"), json!(0), "XYZ"),
        no_id,
        sku("FRACTION", json!("0"), json!(1.5), "USD"),
        mars,
        sku("GOOD", json!("1"), json!(500000000), "USD")
    ]});
    let page = gcp::import(body.to_string().as_bytes(), &ctx()).unwrap();
    assert_eq!(page.listings.len(), 2);
    assert_kept_unknown_region(&page, "mars-north1");
    let good = find_listing(&page.listings, "GOOD@europe-west3");
    assert_eq!(good.prices()[0].amount().amount(), dec!(1.5));
    let reason = |key: &str| rejection_reason(&page.rejections, key);
    assert!(reason("NAN").contains("not a number"));
    assert!(reason("XYZ").contains("unknown currency `XYZ`"));
    assert!(reason("skus[2]").contains("missing skuId"));
    assert!(reason("FRACTION").contains("not an integer"));
    assert_eq!(page.rejections.len(), 4);

    let text = body.to_string();
    assert!(matches!(
        gcp::import(&text.as_bytes()[..text.len() / 2], &ctx()),
        Err(ConnectorError::Malformed { .. })
    ));
}

fn live_settings(uri: &str) -> VendorSettings {
    let mut settings = settings_for(uri);
    settings.secret_access_key = Some(SecretString::from("test-api-key"));
    settings
}

#[tokio::test]
async fn live_sync_pages_with_the_api_key_through_throttling() {
    let server = MockServer::start().await;
    let responder = WithFaults::new(&[(1, 429), (2, 500)], |request: &Request| {
        let token = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "pageToken")
            .map(|(_, v)| v.into_owned());
        let (skus, next) = match token.as_deref() {
            None => (
                vec![
                    sku("S1", json!("0"), json!(1000), "USD"),
                    sku("S2", json!("0"), json!(2000), "USD"),
                ],
                "p2",
            ),
            Some("p2") => (vec![sku("S3", json!("0"), json!(3000), "USD")], "p3"),
            Some("p3") => (vec![sku("S4", json!("0"), json!(4000), "USD")], ""),
            other => panic!("unexpected token {other:?}"),
        };
        ResponseTemplate::new(200).set_body_json(json!({"skus": skus, "nextPageToken": next}))
    });
    Mock::given(method("GET"))
        .and(path("/v1/services/6F81-5844-456A/skus"))
        .and(query_param("key", "test-api-key"))
        .respond_with(responder)
        .mount(&server)
        .await;
    let settings = live_settings(&server.uri());
    let connector = live_connector(Vendor::Gcp, &settings);
    let drained = drain_all(connector.as_ref()).await;
    assert_eq!(drained.pages.len(), 3);
    assert_eq!(
        drained.skus(),
        [
            "S1@europe-west3",
            "S2@europe-west3",
            "S3@europe-west3",
            "S4@europe-west3"
        ]
    );
    assert_eq!(
        drained.pages[2].listings[0].prices()[0].amount().amount(),
        dec!(0.000004)
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 5, "3 pages + one 429 + one 500");
    assert!(requests.iter().all(|r| {
        r.url
            .query_pairs()
            .any(|(k, v)| k == "key" && v == "test-api-key")
    }));
    let resumed = connector
        .fetch_page(drained.pages[1].next_token.as_deref())
        .await
        .unwrap();
    assert_eq!(resumed.listings[0].vendor_sku(), "S4@europe-west3");
}

#[tokio::test]
async fn live_invalid_key_and_missing_key_are_reported() {
    let server = MockServer::start().await;
    mount_answer(
        &server,
        Mock::given(method("GET")),
        ResponseTemplate::new(400)
            .set_body_bytes(vendor_fixture("gcp", "error-api-key-invalid.json")),
    )
    .await;
    let err = live_connector(Vendor::Gcp, &live_settings(&server.uri()))
        .fetch_page(None)
        .await
        .unwrap_err();
    assert_credentials_rejected(&err);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not retried"
    );

    assert!(matches!(
        connector_error(Vendor::Gcp, &settings_for(&server.uri())),
        ConnectorError::MissingCredentials { .. }
    ));
}
