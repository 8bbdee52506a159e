//! Alibaba: the real ECS samples through `import`, a live sync against a
//! local server speaking the ECS RPC API, and bad vendor data.

use rust_decimal_macros::dec;
use serde_json::json;
use shiyun_connectors::alibaba::import;
use shiyun_connectors::{ConnectorError, VendorSettings};
use shiyun_core::listing::{BillingMode, PriceSource, PriceUnit, Vendor};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    assert_amount, assert_credentials_rejected, assert_identity, assert_kept_unknown_region,
    assert_malformed, assert_malformed_naming, assert_missing_parameter, assert_money,
    assert_names_vendor_and_city, assert_texts_clean, clean_page, connector_error, ctx_with,
    drain_all, keyed_settings, live_connector, mount_answer, mount_fault_once, query_map,
    vendor_fixture,
};

#[test]
fn describe_price_sample_keeps_the_list_price_and_the_trade_price_as_cost() {
    let body = vendor_fixture(
        "alibaba",
        "ecs-describeprice-instance-g6-large-cn-hangzhou.json",
    );
    let err = import(&body, &ctx_with(&[])).unwrap_err();
    assert_missing_parameter(&err, "RegionId");

    let params = [
        ("RegionId", "cn-hangzhou"),
        ("InstanceType", "ecs.g6.large"),
        ("PriceUnit", "Year"),
        ("Period", "1"),
    ];
    let page = clean_page(import(&body, &ctx_with(&params)));
    assert_eq!(page.listings.len(), 1);
    let l = &page.listings[0];
    assert_identity(
        l,
        Vendor::Alibaba,
        "ecs.g6.large@cn-hangzhou/year",
        "compute.vm",
        "ecs",
        "cn-hangzhou",
        "cn/hangzhou",
    );
    assert_eq!(
        l.name().zh.as_deref(),
        Some("阿里云 通用型 g6 ecs.g6.large · 华东1（杭州）")
    );
    assert_eq!(
        l.name().en.as_deref(),
        Some("Alibaba Cloud General Purpose g6 ecs.g6.large · China East 1 (Hangzhou)")
    );
    assert_names_vendor_and_city(l, "杭州", "Hangzhou");
    assert!(l.description().zh.as_deref().unwrap().contains("包年"));
    assert_texts_clean(&page.listings);
    assert_eq!(l.prices().len(), 1);
    let p = &l.prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::Yearly);
    assert_eq!(p.unit(), PriceUnit::Year);
    // `OriginalPrice` is what the storefront shows; `TradePrice` is what the
    // platform's account pays (`DiscountPrice` is their difference).
    assert_money(p.amount(), "4368", "CNY");
    assert_money(p.cost().unwrap(), "3712.8", "CNY");
    assert_eq!(l.provenance().vendor_api, "alibaba.ecs.DescribePrice");
    assert_eq!(
        l.provenance().price_sources,
        [PriceSource {
            component: None,
            billing_mode: BillingMode::Yearly,
            list_price: "Price.OriginalPrice".into(),
            cost: Some("Price.TradePrice".into()),
        }]
    );

    // The default quote is on demand, per hour.
    let hourly = import(&body, &ctx_with(&params[..2])).unwrap();
    let l = &hourly.listings[0];
    assert_eq!(l.vendor_sku(), "ecs.g6.large@cn-hangzhou/hour");
    assert_eq!(l.prices()[0].billing_mode(), BillingMode::OnDemand);
    assert_eq!(l.prices()[0].unit(), PriceUnit::Hour);
}

#[test]
fn describe_instance_types_sample_gives_spec_listings_in_the_given_region() {
    let body = vendor_fixture("alibaba", "ecs-describeinstancetypes.json");
    let err = import(&body, &ctx_with(&[])).unwrap_err();
    assert!(err.to_string().contains("RegionId"), "{err}");

    let page = clean_page(import(&body, &ctx_with(&[("RegionId", "cn-shanghai")])));
    let l = &page.listings[0];
    assert_eq!(l.vendor_sku(), "ecs.g6.large@cn-shanghai");
    assert_eq!(l.region().geography.to_string(), "cn/shanghai");
    assert_eq!(
        l.name().zh.as_deref(),
        Some("阿里云 通用型 g6 ecs.g6.large 2核8G · 华东2（上海）")
    );
    assert_names_vendor_and_city(l, "上海", "Shanghai");
    assert_texts_clean(&page.listings);
    assert_eq!(l.specs().vcpu, Some(2));
    assert_eq!(l.specs().memory_gib, Some(dec!(8)));
    assert_eq!(l.specs().bandwidth_mbps, Some(dec!(1000)));
    assert_eq!(l.specs().gpu_count, None);
    assert!(l.prices().is_empty());
}

#[test]
fn describe_regions_sample_is_accepted_without_listings() {
    let body = vendor_fixture("alibaba", "ecs-describeregions.json");
    let page = import(&body, &ctx_with(&[])).unwrap();
    assert!(page.listings.is_empty());
    assert!(page.rejections.is_empty());
}

#[test]
fn bad_data_is_rejected_or_refused() {
    let params = [
        ("RegionId", "cn-hangzhou"),
        ("InstanceType", "ecs.c7.large"),
    ];
    let not_number =
        json!({"RequestId": "r", "PriceInfo": {"Price": {"Currency": "CNY", "TradePrice": "abc"}}});
    let page = import(not_number.to_string().as_bytes(), &ctx_with(&params)).unwrap();
    assert!(page.listings.is_empty());
    assert_eq!(page.rejections[0].vendor_key, "ecs.c7.large@cn-hangzhou");
    assert!(
        page.rejections[0].reason.contains("not a number"),
        "{:?}",
        page.rejections
    );

    let currency =
        json!({"RequestId": "r", "PriceInfo": {"Price": {"Currency": "XYZ", "TradePrice": 1.5}}});
    let page = import(currency.to_string().as_bytes(), &ctx_with(&params)).unwrap();
    assert!(
        page.rejections[0].reason.contains("unknown currency"),
        "{:?}",
        page.rejections
    );

    let region = import(
        currency.to_string().replace("XYZ", "CNY").as_bytes(),
        &ctx_with(&[
            ("RegionId", "moon-base-1"),
            ("InstanceType", "ecs.c7.large"),
        ]),
    )
    .unwrap();
    // A region the table does not know is kept under its code, and noted.
    assert_kept_unknown_region(&region, "moon-base-1");
    assert_eq!(region.listings[0].region().geography.country, "global");

    let types = json!({"RequestId": "r", "InstanceTypes": {"InstanceType": [
        {"InstanceTypeId": "ecs.c7.large", "CpuCoreCount": 2, "MemorySize": 4},
        {"CpuCoreCount": 2, "MemorySize": 4},
        {"InstanceTypeId": "ecs.r7.large", "CpuCoreCount": 2, "MemorySize": "lots"},
        {"InstanceTypeId": "ecs.gn7i-c8g1.2xlarge", "CpuCoreCount": 8, "MemorySize": 30, "GPUAmount": 1, "GPUSpec": "NVIDIA A10", "CpuArchitecture": "X86"}
    ]}});
    let page = import(
        types.to_string().as_bytes(),
        &ctx_with(&[("RegionId", "cn-beijing")]),
    )
    .unwrap();
    let skus: Vec<&str> = page.listings.iter().map(|l| l.vendor_sku()).collect();
    assert_eq!(
        skus,
        [
            "ecs.c7.large@cn-beijing",
            "ecs.gn7i-c8g1.2xlarge@cn-beijing"
        ]
    );
    assert_eq!(page.listings[1].category().as_str(), "compute.gpu");
    assert_eq!(
        page.listings[1].specs().gpu_model.as_deref(),
        Some("NVIDIA A10")
    );
    let keys: Vec<&str> = page
        .rejections
        .iter()
        .map(|r| r.vendor_key.as_str())
        .collect();
    assert_eq!(keys, ["InstanceType[1]", "ecs.r7.large"]);

    let body = vendor_fixture(
        "alibaba",
        "ecs-describeprice-instance-g6-large-cn-hangzhou.json",
    );
    let err = import(&body[..40], &ctx_with(&params)).unwrap_err();
    assert_malformed(&err);

    let auth = json!({"RequestId": "r", "HostId": "ecs.aliyuncs.com", "Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."});
    let err = import(auth.to_string().as_bytes(), &ctx_with(&params)).unwrap_err();
    assert_credentials_rejected(&err);
    let sig = auth
        .to_string()
        .replace("InvalidAccessKeyId.NotFound", "SignatureDoesNotMatch");
    assert!(matches!(
        import(sig.as_bytes(), &ctx_with(&params)).unwrap_err(),
        ConnectorError::CredentialsRejected { .. }
    ));
    let other = auth
        .to_string()
        .replace("InvalidAccessKeyId.NotFound", "InvalidParameter");
    assert!(matches!(
        import(other.as_bytes(), &ctx_with(&params)).unwrap_err(),
        ConnectorError::Vendor { .. }
    ));
}

fn type_entry(id: &str) -> serde_json::Value {
    json!({"InstanceTypeId": id, "InstanceTypeFamily": "ecs.g7", "CpuCoreCount": 4, "MemorySize": 16, "InstanceBandwidthRx": 2048000, "GPUAmount": 0, "GPUSpec": ""})
}

/// Prices like the real API: a number per unit, derived from the request.
fn price_response(request: &Request) -> ResponseTemplate {
    let query = query_map(request);
    let instance_type = query.get("InstanceType").cloned().unwrap_or_default();
    if instance_type == "ecs.g7.unsold" {
        return ResponseTemplate::new(400).set_body_json(json!({
            "RequestId": "r", "Code": "InvalidInstanceType.ValueNotSupported", "Message": "not sold here"
        }));
    }
    let price = if query.get("PriceUnit").map(String::as_str) == Some("Month") {
        "412.5"
    } else {
        "0.573"
    };
    let body = format!(
        r#"{{"RequestId":"r","PriceInfo":{{"Price":{{"Currency":"CNY","OriginalPrice":{price},"DiscountPrice":0,"TradePrice":{price}}},"Rules":{{"Rule":[]}}}}}}"#
    );
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

#[tokio::test]
async fn live_sync_prices_every_type_across_pages_with_retries() {
    let server = MockServer::start().await;
    let action = |action: &str| Mock::given(method("GET")).and(query_param("Action", action));
    let catalog =
        |region: &str| action("DescribeInstanceTypes").and(query_param("RegionId", region));
    // The first price call is throttled; cn-beijing's catalog fails once with a 500.
    mount_fault_once(&server, action("DescribePrice"), 429).await;
    mount_fault_once(&server, catalog("cn-beijing"), 500).await;
    let hangzhou: Vec<serde_json::Value> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|s| type_entry(&format!("ecs.g7.{s}")))
        .collect();
    mount_answer(
        &server,
        catalog("cn-hangzhou"),
        ResponseTemplate::new(200)
            .set_body_json(json!({"RequestId": "r", "InstanceTypes": {"InstanceType": hangzhou}})),
    )
    .await;
    mount_answer(
        &server,
        catalog("cn-beijing"),
        ResponseTemplate::new(200).set_body_json(
            json!({"RequestId": "r", "InstanceTypes": {"InstanceType": [
                type_entry("ecs.g7.large"), type_entry("ecs.g7.unsold")
            ]}}),
        ),
    )
    .await;
    mount_answer(&server, action("DescribePrice"), price_response).await;

    let settings = VendorSettings {
        regions: vec!["cn-hangzhou".into(), "cn-beijing".into()],
        ..keyed_settings(&server.uri(), "LTAItest", "secret")
    };
    let drained = drain_all(live_connector(Vendor::Alibaba, &settings).as_ref()).await;
    assert_eq!(
        drained.tokens,
        [
            r#"{"region_idx":0,"item_idx":5}"#,
            r#"{"region_idx":1,"item_idx":0}"#
        ]
    );
    // 7 sold types × (hour + month).
    assert_eq!(drained.listings.len(), 14);
    let rejections = &drained.rejections;
    assert_eq!(rejections.len(), 2, "{rejections:?}");
    assert!(
        rejections
            .iter()
            .all(|r| r.vendor_key == "ecs.g7.unsold@cn-beijing")
    );
    assert!(
        rejections[0]
            .reason
            .contains("InvalidInstanceType.ValueNotSupported")
    );
    let monthly = drained.listing("ecs.g7.f@cn-hangzhou/month");
    assert_eq!(monthly.prices()[0].billing_mode(), BillingMode::Monthly);
    assert_amount(monthly.prices()[0].amount(), "412.5");
    assert_eq!(monthly.specs().vcpu, Some(4), "specs come from the catalog");
    assert_eq!(monthly.specs().bandwidth_mbps, Some(dec!(2000)));
    let hourly = drained.listing("ecs.g7.large@cn-beijing/hour");
    assert_amount(hourly.prices()[0].amount(), "0.573");
    assert_eq!(hourly.region().geography.to_string(), "cn/beijing");

    let requests = server.received_requests().await.unwrap();
    for request in &requests {
        let query = query_map(request);
        assert_eq!(
            query.get("AccessKeyId").map(String::as_str),
            Some("LTAItest")
        );
        assert_eq!(
            query.get("SignatureMethod").map(String::as_str),
            Some("HMAC-SHA1")
        );
        assert_eq!(query.get("Version").map(String::as_str), Some("2014-05-26"));
        assert!(query.get("Signature").is_some_and(|s| !s.is_empty()));
        assert!(query.contains_key("SignatureNonce") && query.contains_key("Timestamp"));
    }
    // 2 catalogs + 1 retried 500 + 16 quotes + 1 retried 429.
    assert_eq!(requests.len(), 20);
}

#[tokio::test]
async fn missing_credentials_and_rejected_keys_fail() {
    let err = connector_error(Vendor::Alibaba, &VendorSettings::default());
    assert!(
        matches!(err, ConnectorError::MissingCredentials { .. }),
        "{err}"
    );

    let server = MockServer::start().await;
    mount_answer(
        &server,
        Mock::given(method("GET")),
        ResponseTemplate::new(404).set_body_json(
            json!({"RequestId": "r", "Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}),
        ),
    )
    .await;
    let settings = keyed_settings(&server.uri(), "LTAItest", "secret");
    let err = live_connector(Vendor::Alibaba, &settings)
        .fetch_page(None)
        .await
        .unwrap_err();
    assert_credentials_rejected(&err);
}

#[test]
fn a_quote_with_one_of_the_two_prices_has_no_cost() {
    let params = [
        ("RegionId", "cn-hangzhou"),
        ("InstanceType", "ecs.c7.large"),
        ("PriceUnit", "Month"),
    ];
    let quote = |price: serde_json::Value| {
        let body = json!({"RequestId": "r", "PriceInfo": {"Price": price}}).to_string();
        clean_page(import(body.as_bytes(), &ctx_with(&params)))
            .listings
            .remove(0)
    };
    // Only the trade price: it is the price shown, and the platform's cost is unknown.
    let l = quote(json!({"Currency": "CNY", "TradePrice": 541.5}));
    assert_money(l.prices()[0].amount(), "541.5", "CNY");
    assert_eq!(l.prices()[0].cost(), None);
    let source = &l.provenance().price_sources[0];
    assert_eq!(
        (source.list_price.as_str(), source.cost.as_deref()),
        ("Price.TradePrice", None)
    );
    // Only the list price.
    let l = quote(json!({"Currency": "CNY", "OriginalPrice": 900, "DiscountPrice": 0}));
    assert_money(l.prices()[0].amount(), "900", "CNY");
    assert_eq!(l.prices()[0].cost(), None);
    let source = &l.provenance().price_sources[0];
    assert_eq!(
        (source.list_price.as_str(), source.cost.as_deref()),
        ("Price.OriginalPrice", None)
    );
    // Neither: a rejection naming both.
    let body =
        json!({"RequestId": "r", "PriceInfo": {"Price": {"Currency": "CNY", "DiscountPrice": 1}}});
    let page = import(body.to_string().as_bytes(), &ctx_with(&params)).unwrap();
    assert!(page.listings.is_empty());
    assert!(
        page.rejections[0].reason.contains("OriginalPrice"),
        "{:?}",
        page.rejections
    );
}

#[test]
fn quotes_for_several_instances_are_divided_by_amount() {
    let body = json!({"RequestId": "r", "PriceInfo": {"Price": {
        "Currency": "CNY", "OriginalPrice": 900, "TradePrice": 541.5
    }}});
    let body = body.to_string();
    let base = [
        ("RegionId", "cn-hangzhou"),
        ("InstanceType", "ecs.c7.large"),
        ("PriceUnit", "Month"),
    ];
    let with_amount = |amount: &'static str| {
        let mut params = base.to_vec();
        params.push(("Amount", amount));
        ctx_with(&params)
    };
    // DescribePrice prices `Amount` instances together: 900 for 3 is 300
    // each, and the trade price 541.5 for 3 is 180.5 each.
    let page = clean_page(import(body.as_bytes(), &with_amount("3")));
    let p = &page.listings[0].prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::Monthly);
    assert_eq!(p.amount().amount(), dec!(300));
    assert_eq!(p.cost().unwrap().amount(), dec!(180.5));
    let page = clean_page(import(body.as_bytes(), &with_amount("1")));
    assert_eq!(page.listings[0].prices()[0].amount().amount(), dec!(900));
    assert_eq!(
        page.listings[0].prices()[0].cost().unwrap().amount(),
        dec!(541.5)
    );

    // 900 / 7 has no exact decimal: a rejection, not a rounded price; so
    // has 541.5 / 9, although 900 / 9 has.
    for (amount, said) in [("7", "Amount 7"), ("9", "541.5")] {
        let page = import(body.as_bytes(), &with_amount(amount)).unwrap();
        assert!(page.listings.is_empty());
        assert!(
            page.rejections[0].reason.contains(said),
            "{:?}",
            page.rejections
        );
    }
    for bad in ["0", "-1", "two"] {
        let err = import(body.as_bytes(), &with_amount(bad)).unwrap_err();
        assert_malformed_naming(&err, "Amount");
    }
}
