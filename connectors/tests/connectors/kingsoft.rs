//! Kingsoft: the real trade samples through `import`, the documented KEC
//! spot price format, a live sync against a local server (SigV4), and bad
//! vendor data.

use rust_decimal_macros::dec;
use serde_json::json;
use shiyun_connectors::kingsoft::import;
use shiyun_connectors::{ConnectorError, VendorSettings};
use shiyun_core::listing::{BillingMode, PriceUnit, Vendor};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use crate::common::{
    assert_all_signed, assert_amount, assert_credentials_rejected, assert_identity,
    assert_kept_unknown_region, assert_malformed, assert_money, assert_names_vendor_and_city,
    assert_texts_clean, clean_page, connector_error, ctx_with, drain_all, keyed_settings,
    live_connector, mount_answer, mount_fault_once, query_map, vendor_fixture,
};

#[test]
fn trade_describe_instances_sample_is_accepted_without_listings() {
    let body = vendor_fixture("kingsoft", "trade-describeinstances.json");
    let page = import(&body, &ctx_with(&[])).unwrap();
    assert!(page.listings.is_empty());
    assert!(page.rejections.is_empty());
}

#[test]
fn trade_error_sample_is_a_vendor_error() {
    let body = vendor_fixture("kingsoft", "trade-error-serviceinnererror.json");
    let err = import(&body, &ctx_with(&[])).unwrap_err();
    match err {
        ConnectorError::Vendor { code, message, .. } => {
            assert_eq!(code, "ServiceInnerError");
            assert_eq!(message, "服务内部异常");
        }
        other => panic!("{other}"),
    }
    for code in ["SignatureDoesNotMatch", "InvalidAccessKey"] {
        let body = json!({"RequestId": "r", "Error": {"Code": code, "Message": "no"}});
        let err = import(body.to_string().as_bytes(), &ctx_with(&[])).unwrap_err();
        assert_credentials_rejected(&err);
    }
}

fn spot_body(instance_type: &str, zone: &str, prices: serde_json::Value) -> String {
    json!({"RequestId": "KEC-1", "InstanceType": instance_type, "AvailabilityZone": zone, "SpotPrices": prices}).to_string()
}

#[test]
fn spot_price_history_gives_spot_and_on_demand_listings_from_the_latest_entry() {
    // The field table of docs.ksyun.com document 3961 (no real sample exists).
    let body = spot_body(
        "N3.2B",
        "cn-beijing-6a",
        json!([
            {"SpotPrice": 0.0401, "OriginPrice": 0.1965, "Timestamp": "2023-09-17 16:00:00"},
            {"SpotPrice": 0.0393, "OriginPrice": 0.1965, "Timestamp": "2023-09-17 18:00:00"},
            {"SpotPrice": 0.0410, "OriginPrice": 0.1965, "Timestamp": "2023-09-17 17:00:00"}
        ]),
    );
    let page = clean_page(import(body.as_bytes(), &ctx_with(&[])));
    assert_eq!(page.listings.len(), 2);
    let spot = &page.listings[0];
    assert_identity(
        spot,
        Vendor::Kingsoft,
        "N3.2B@cn-beijing-6a/spot",
        "compute.vm",
        "kec",
        "cn-beijing-6a",
        "cn/beijing",
    );
    assert_eq!(
        spot.name().zh.as_deref(),
        Some("金山云 通用型 N3 N3.2B · 华北1（北京）")
    );
    assert_names_vendor_and_city(spot, "北京", "Beijing");
    assert_texts_clean(&page.listings);
    assert!(spot.description().zh.as_deref().unwrap().contains("竞价"));
    assert_eq!(spot.prices()[0].billing_mode(), BillingMode::Spot);
    assert_eq!(spot.prices()[0].unit(), PriceUnit::Hour);
    assert_money(spot.prices()[0].amount(), "0.0393", "CNY");
    let on_demand = &page.listings[1];
    assert_eq!(on_demand.vendor_sku(), "N3.2B@cn-beijing-6a/on_demand");
    assert_eq!(on_demand.prices()[0].billing_mode(), BillingMode::OnDemand);
    assert_eq!(on_demand.prices()[0].amount().amount(), dec!(0.1965));
}

#[test]
fn bad_records_are_rejected() {
    let body = spot_body(
        "C6.4B",
        "cn-shanghai-2a",
        json!([
            {"SpotPrice": "cheap", "OriginPrice": 0.5, "Timestamp": "2023-09-17 19:00:00"},
            {"SpotPrice": 0.1, "OriginPrice": 0.5, "Timestamp": "2023-09-17 16:00:00"}
        ]),
    );
    let page = import(body.as_bytes(), &ctx_with(&[])).unwrap();
    assert_eq!(page.listings.len(), 2, "the readable entry still prices it");
    assert_eq!(page.rejections[0].vendor_key, "C6.4B@cn-shanghai-2a");
    assert!(page.rejections[0].reason.contains("not a number"));

    let no_type = spot_body(
        "",
        "cn-shanghai-2a",
        json!([{"SpotPrice": 0.1, "Timestamp": "t"}]),
    );
    let page = import(no_type.as_bytes(), &ctx_with(&[])).unwrap();
    assert!(page.listings.is_empty());
    assert!(page.rejections[0].reason.contains("missing InstanceType"));

    let mars = spot_body(
        "C6.4B",
        "mars-1a",
        json!([{"SpotPrice": 0.1, "Timestamp": "t"}]),
    );
    let page = import(mars.as_bytes(), &ctx_with(&[])).unwrap();
    assert_kept_unknown_region(&page, "mars-1a");

    let configs = json!({"RequestId": "r", "InstanceTypeConfigSet": [
        {"InstanceType": "N3.2B", "InstanceFamily": "N3", "CPU": 2, "Memory": 4, "AvailabilityZoneSet": [{"AvailabilityZone": "cn-beijing-6a"}, {"AvailabilityZone": "cn-beijing-6b"}]},
        {"InstanceFamily": "N3", "CPU": 2},
        {"InstanceType": "P3I.14B1", "InstanceFamily": "P3I", "CPU": 14, "Memory": 120, "GPU": 1, "AvailabilityZoneSet": [{"AvailabilityZone": "cn-beijing-6c"}]}
    ]});
    let page = import(configs.to_string().as_bytes(), &ctx_with(&[])).unwrap();
    let skus: Vec<&str> = page.listings.iter().map(|l| l.vendor_sku()).collect();
    assert_eq!(
        skus,
        [
            "N3.2B@cn-beijing-6a",
            "N3.2B@cn-beijing-6b",
            "P3I.14B1@cn-beijing-6c"
        ]
    );
    assert_eq!(page.listings[0].specs().memory_gib, Some(dec!(4)));
    assert!(page.listings[0].prices().is_empty());
    assert_eq!(page.listings[2].category().as_str(), "compute.gpu");
    assert_eq!(page.rejections[0].vendor_key, "InstanceTypeConfigSet[1]");

    let sample = vendor_fixture("kingsoft", "trade-describeinstances.json");
    let err = import(&sample[..sample.len() / 2], &ctx_with(&[])).unwrap_err();
    assert_malformed(&err);
}

fn spot_response(request: &Request) -> ResponseTemplate {
    let query = query_map(request);
    let instance_type = query.get("InstanceType").cloned().unwrap_or_default();
    let zone = query.get("AvailabilityZone").cloned().unwrap_or_default();
    if instance_type == "X6.NOSPOT" {
        return ResponseTemplate::new(400)
            .set_body_json(json!({"RequestId": "r", "Error": {"Code": "InvalidParameterValue", "Message": "no spot"}}));
    }
    let body = format!(
        r#"{{"RequestId":"r","InstanceType":"{instance_type}","AvailabilityZone":"{zone}","SpotPrices":[{{"SpotPrice":0.0393,"OriginPrice":0.1965,"Timestamp":"2023-09-17 16:00:00"}}]}}"#
    );
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

/// A GET of the KEC API `action`.
fn action(action: &str) -> MockBuilder {
    Mock::given(method("GET")).and(query_param("Action", action))
}

#[tokio::test]
async fn live_sync_prices_types_per_zone_across_pages_with_retries() {
    let server = MockServer::start().await;
    mount_fault_once(&server, action("DescribeSpotPriceHistory"), 429).await;
    mount_fault_once(&server, action("DescribeInstanceTypeConfigs"), 503).await;
    mount_answer(&server, action("DescribeInstanceTypeConfigs").and(query_param("Version", "2016-03-04")),
        ResponseTemplate::new(200).set_body_json(json!({"RequestId": "r", "InstanceTypeConfigSet": [
            {"InstanceType": "N3.2B", "InstanceFamily": "N3", "CPU": 2, "Memory": 4, "AvailabilityZoneSet": [
                {"AvailabilityZone": "cn-beijing-6a"}, {"AvailabilityZone": "cn-beijing-6b"}, {"AvailabilityZone": "cn-beijing-6c"}]},
            {"InstanceType": "C6.4B", "InstanceFamily": "C6", "CPU": 4, "Memory": 8, "AvailabilityZoneSet": [
                {"AvailabilityZone": "cn-beijing-6a"}, {"AvailabilityZone": "cn-beijing-6b"}]},
            {"InstanceType": "X6.NOSPOT", "InstanceFamily": "X6", "CPU": 4, "Memory": 32, "AvailabilityZoneSet": [
                {"AvailabilityZone": "cn-beijing-6a"}]}
        ]})),
    )
    .await;
    mount_answer(&server, action("DescribeSpotPriceHistory"), spot_response).await;
    let settings = VendorSettings {
        regions: vec!["cn-beijing-6".into()],
        ..keyed_settings(&server.uri(), "AKLTtest", "secret")
    };
    let drained = drain_all(live_connector(Vendor::Kingsoft, &settings).as_ref()).await;
    // 6 (type, zone) pairs at 4 per page.
    assert_eq!(drained.pages.len(), 2);
    // 5 priced pairs × (spot + on demand); X6.NOSPOT is reported.
    assert_eq!(drained.listings.len(), 10);
    let rejections = &drained.rejections;
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!(rejections[0].vendor_key, "X6.NOSPOT@cn-beijing-6a");
    let l = drained.listing("C6.4B@cn-beijing-6b/spot");
    assert_eq!(l.specs().vcpu, Some(4), "specs come from the catalog");
    assert_eq!(
        l.name().zh.as_deref(),
        Some("金山云 计算优化型 C6 C6.4B 4核8G · 华北1（北京）")
    );
    assert_amount(l.prices()[0].amount(), "0.0393");

    let requests = server.received_requests().await.unwrap();
    // catalog (503 then 200) + 6 spot calls + one 429.
    assert_eq!(requests.len(), 9);
    assert_all_signed(
        &requests,
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKLTtest/",
        &["/cn-beijing-6/kec/aws4_request"],
    );
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("x-amz-date").is_some())
    );
}

#[tokio::test]
async fn three_regions_make_three_pages_and_missing_keys_fail() {
    let server = MockServer::start().await;
    mount_answer(&server, action("DescribeInstanceTypeConfigs"),
        ResponseTemplate::new(200).set_body_json(json!({"RequestId": "r", "InstanceTypeConfigSet": [
            {"InstanceType": "S6.2A", "InstanceFamily": "S6", "CPU": 2, "Memory": 2, "AvailabilityZoneSet": [
                {"AvailabilityZone": "cn-beijing-6a"}, {"AvailabilityZone": "cn-shanghai-2a"}, {"AvailabilityZone": "cn-guangzhou-1a"}]}
        ]})),
    )
    .await;
    mount_answer(&server, action("DescribeSpotPriceHistory"), spot_response).await;
    let settings = VendorSettings {
        services: vec!["S6".into()],
        ..keyed_settings(&server.uri(), "AKLTtest", "secret")
    };
    let connector = live_connector(Vendor::Kingsoft, &settings);
    let first = connector.fetch_page(None).await.unwrap();
    assert_eq!(
        first.next_token.as_deref(),
        Some(r#"{"region_idx":1,"item_idx":0}"#)
    );
    let second = connector
        .fetch_page(first.next_token.as_deref())
        .await
        .unwrap();
    let third = connector
        .fetch_page(second.next_token.as_deref())
        .await
        .unwrap();
    assert!(third.next_token.is_none());
    assert_eq!(
        first.listings.len() + second.listings.len() + third.listings.len(),
        18
    );

    assert!(matches!(
        connector_error(Vendor::Kingsoft, &VendorSettings::default()),
        ConnectorError::MissingCredentials { .. }
    ));
}
