//! Tencent: the real samples through `import`, a live sync against a local
//! server speaking Tencent's API 3.0, and bad vendor data.

use rust_decimal_macros::dec;
use serde_json::json;
use shiyun_connectors::tencent::import;
use shiyun_connectors::{ConnectorError, VendorSettings};
use shiyun_core::listing::{Architecture, BillingMode, PriceSource, PriceUnit, Vendor};
use wiremock::matchers::{header, header_exists, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{
    assert_all_signed, assert_credentials_rejected, assert_identity, assert_kept_unknown_region,
    assert_malformed, assert_missing_parameter, assert_money, assert_names_vendor_and_city,
    assert_texts_clean, clean_page, connector_error, ctx_with, drain_all, keyed_settings,
    live_connector, mount_answer, mount_fault_once, vendor_fixture,
};

fn source(component: Option<&str>, mode: BillingMode, list: &str, cost: &str) -> PriceSource {
    PriceSource {
        component: component.map(str::to_owned),
        billing_mode: mode,
        list_price: list.into(),
        cost: Some(cost.into()),
    }
}

#[test]
fn zone_instance_config_infos_sample_imports_with_exact_prices() {
    let body = vendor_fixture(
        "tencent",
        "cvm-describezoneinstanceconfiginfos-ap-guangzhou-6.json",
    );
    let page = clean_page(import(&body, &ctx_with(&[])));
    assert_eq!(page.listings.len(), 1);
    let l = &page.listings[0];
    assert_identity(
        l,
        Vendor::Tencent,
        "S2.SMALL1@ap-guangzhou-6/postpaid_by_hour",
        "compute.vm",
        "cvm",
        "ap-guangzhou-6",
        "cn/guangzhou",
    );
    assert_eq!(
        l.name().zh.as_deref(),
        Some("腾讯云 标准型 S2 S2.SMALL1 1核1G · 华南地区（广州）")
    );
    assert_names_vendor_and_city(l, "广州", "Guangzhou");
    assert_texts_clean(&page.listings);
    let specs = l.specs();
    assert_eq!(specs.vcpu, Some(1));
    assert_eq!(specs.memory_gib, Some(dec!(1)));
    assert_eq!(specs.bandwidth_mbps, Some(dec!(1500)));
    assert_eq!(specs.architecture, Some(Architecture::X86_64));
    assert_eq!(specs.gpu_count, None);
    // The sample's hourly fields are 0 (unset); its one-month and one-year
    // prepaid prices are set, each as a list price and a discounted one.
    let prices = l.prices();
    assert_eq!(prices.len(), 2, "{prices:?}");
    assert_eq!(prices[0].billing_mode(), BillingMode::Monthly);
    assert_eq!(prices[0].unit(), PriceUnit::Month);
    assert_money(prices[0].amount(), "59", "CNY");
    assert_money(prices[0].cost().unwrap(), "59", "CNY");
    assert_eq!(prices[1].billing_mode(), BillingMode::Yearly);
    assert_eq!(prices[1].unit(), PriceUnit::Year);
    assert_money(prices[1].amount(), "708", "CNY");
    assert_money(prices[1].cost().unwrap(), "587.64", "CNY");
    assert_eq!(
        l.provenance().price_sources,
        [
            source(
                None,
                BillingMode::Monthly,
                "Price.OriginalPrice",
                "Price.DiscountPrice"
            ),
            source(
                None,
                BillingMode::Yearly,
                "Price.OriginalPriceOneYear",
                "Price.DiscountPriceOneYear"
            ),
        ]
    );
    assert_eq!(
        l.provenance().vendor_api,
        "tencent.cvm.DescribeZoneInstanceConfigInfos"
    );
    assert_eq!(l.provenance().raw_hash.len(), 64);
}

#[test]
fn inquiry_price_run_instances_sample_needs_and_uses_the_request_params() {
    let body = vendor_fixture(
        "tencent",
        "cvm-inquirypricerruninstances-prepaid-s5-16xlarge256.json",
    );
    let err = import(&body, &ctx_with(&[])).unwrap_err();
    assert_missing_parameter(&err, "InstanceType");

    let params = [
        ("InstanceType", "S5.16XLARGE256"),
        ("Placement.Zone", "ap-shanghai-2"),
        ("InstanceChargeType", "PREPAID"),
        ("InstanceChargePrepaid.Period", "1"),
    ];
    let page = clean_page(import(&body, &ctx_with(&params)));
    let l = &page.listings[0];
    assert_eq!(l.vendor_sku(), "S5.16XLARGE256@ap-shanghai-2/prepaid_1m");
    assert_eq!(l.region().geography.to_string(), "cn/shanghai");
    assert_eq!(
        l.name().zh.as_deref(),
        Some("腾讯云 标准型 S5 S5.16XLARGE256 64核256G · 华东地区（上海）")
    );
    assert_names_vendor_and_city(l, "上海", "Shanghai");
    assert_texts_clean(&page.listings);
    assert_eq!(l.specs().vcpu, Some(64));
    assert_eq!(l.specs().memory_gib, Some(dec!(256)));
    let instance = l
        .prices()
        .iter()
        .find(|p| p.component() == Some("instance"))
        .unwrap();
    assert_eq!(instance.billing_mode(), BillingMode::Monthly);
    assert_money(instance.amount(), "8884.5", "CNY");
    assert_money(instance.cost().unwrap(), "1804.9", "CNY");
    let bandwidth = l
        .prices()
        .iter()
        .find(|p| p.component() == Some("bandwidth"))
        .unwrap();
    assert_eq!(bandwidth.billing_mode(), BillingMode::OnDemand);
    assert_eq!(bandwidth.unit(), PriceUnit::Hour);
    assert_money(bandwidth.amount(), "0.8", "CNY");
    assert_money(bandwidth.cost().unwrap(), "0.52", "CNY");
    assert_eq!(l.prices().len(), 2);
    assert_eq!(
        l.provenance().price_sources,
        [
            source(
                Some("instance"),
                BillingMode::Monthly,
                "InstancePrice.OriginalPrice",
                "InstancePrice.DiscountPrice"
            ),
            source(
                Some("bandwidth"),
                BillingMode::OnDemand,
                "BandwidthPrice.UnitPrice",
                "BandwidthPrice.UnitPriceDiscount"
            ),
        ]
    );
}

#[test]
fn cbs_inquiry_price_prefers_the_high_precision_strings() {
    let body = vendor_fixture(
        "tencent",
        "cbs-inquirypricecreatedisks-postpaid-by-hour.json",
    );
    let params = [
        ("DiskType", "CLOUD_PREMIUM"),
        ("DiskSize", "100"),
        ("Region", "ap-guangzhou"),
        ("DiskChargeType", "POSTPAID_BY_HOUR"),
    ];
    let page = clean_page(import(&body, &ctx_with(&params)));
    let l = &page.listings[0];
    assert_eq!(
        l.vendor_sku(),
        "CLOUD_PREMIUM.100GB@ap-guangzhou/postpaid_by_hour"
    );
    assert_eq!(l.category().as_str(), "storage.block");
    assert_eq!(l.service(), "cbs");
    assert_eq!(
        l.name().zh.as_deref(),
        Some("腾讯云 高性能云硬盘 100 GB · 华南地区（广州）")
    );
    assert_eq!(l.specs().storage_gib, Some(dec!(100)));
    assert_eq!(l.prices().len(), 1);
    let p = &l.prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::OnDemand);
    assert_eq!(p.unit(), PriceUnit::Hour);
    assert_money(p.amount(), "0.042", "CNY");
    assert_money(p.cost().unwrap(), "0.042", "CNY");
    // The raw offer is `DiskPrice`: its fields are named as they are.
    assert_eq!(
        l.provenance().price_sources,
        [source(
            None,
            BillingMode::OnDemand,
            "UnitPriceHigh",
            "UnitPriceDiscountHigh"
        )]
    );

    let missing = import(&body, &ctx_with(&[("DiskType", "CLOUD_PREMIUM")])).unwrap_err();
    assert!(missing.to_string().contains("DiskSize"), "{missing}");
}

fn quota(instance_type: &str, zone: &str, unit_price: serde_json::Value) -> serde_json::Value {
    json!({
        "Zone": zone, "InstanceType": instance_type, "InstanceChargeType": "POSTPAID_BY_HOUR",
        "InstanceFamily": "SA2", "TypeName": "标准型SA2", "Cpu": 2, "Memory": 4, "Gpu": 0, "GpuCount": 0,
        "CpuType": "AMD EPYC ROME", "InstanceBandwidth": 1.5, "Status": "SELL",
        "Price": {
            "UnitPrice": unit_price, "UnitPriceDiscount": unit_price, "ChargeUnit": "HOUR",
            "UnitPriceSecondStep": 0.11, "UnitPriceDiscountSecondStep": 0.11,
            "UnitPriceThirdStep": 0.09, "UnitPriceDiscountThirdStep": 0.09,
            "DiscountPrice": 0, "OriginalPrice": 0
        }
    })
}

fn envelope(records: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"Response": {"InstanceTypeQuotaSet": records, "RequestId": "req"}})
}

#[test]
fn bad_records_are_rejected_and_the_rest_goes_on() {
    let body = envelope(vec![
        quota("SA2.MEDIUM4", "ap-guangzhou-3", json!(0.12)),
        quota("SA2.LARGE8", "ap-guangzhou-3", json!("abc")),
        quota("", "ap-guangzhou-3", json!(0.2)),
        quota("SA2.SMALL1", "xx-mars-1", json!(0.05)),
        json!({"Zone": "ap-guangzhou-3", "InstanceChargeType": "POSTPAID_BY_HOUR", "Price": {}}),
    ]);
    let page = import(body.to_string().as_bytes(), &ctx_with(&[])).unwrap();
    assert_eq!(page.listings.len(), 2);
    assert_kept_unknown_region(&page, "xx-mars-1");
    let l = &page.listings[0];
    assert_eq!(
        l.vendor_sku(),
        "SA2.MEDIUM4@ap-guangzhou-3/postpaid_by_hour"
    );
    // Tiered by hour bands: first 96 h, 96–360 h, beyond.
    let p = &l.prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::OnDemand);
    assert_eq!(p.amount().amount(), dec!(0.12));
    assert_eq!(p.tiers().len(), 3);
    assert_eq!(p.tiers()[1].from(), dec!(96));
    assert_eq!(p.tiers()[1].amount().amount(), dec!(0.11));
    assert_eq!(p.tiers()[2].from(), dec!(360));
    assert_eq!(p.tiers()[2].to(), None);
    assert_eq!(p.tiers()[2].amount().amount(), dec!(0.09));
    assert_eq!(p.tiers()[2].cost().unwrap().amount(), dec!(0.09));
    assert_eq!(p.cost().unwrap().amount(), dec!(0.12));
    assert_eq!(l.specs().architecture, Some(Architecture::X86_64));
    assert_eq!(
        l.provenance().price_sources,
        [source(
            None,
            BillingMode::OnDemand,
            "Price.UnitPrice, Price.UnitPriceSecondStep, Price.UnitPriceThirdStep",
            "Price.UnitPriceDiscount, Price.UnitPriceDiscountSecondStep, Price.UnitPriceDiscountThirdStep"
        )]
    );

    let keys: Vec<&str> = page
        .rejections
        .iter()
        .map(|r| r.vendor_key.as_str())
        .collect();
    assert_eq!(keys.len(), 3, "{:?}", page.rejections);
    assert!(keys.contains(&"SA2.LARGE8@ap-guangzhou-3"));
    assert!(keys.contains(&"?@ap-guangzhou-3"));
    let not_number = page
        .rejections
        .iter()
        .find(|r| r.vendor_key == "SA2.LARGE8@ap-guangzhou-3")
        .unwrap();
    assert!(
        not_number.reason.contains("not a number"),
        "{}",
        not_number.reason
    );
}

#[test]
fn a_price_without_its_discounted_twin_has_no_cost() {
    let record = |price: serde_json::Value| {
        let mut q = quota("SA2.MEDIUM4", "ap-guangzhou-3", json!(0));
        q["Price"] = price;
        let body = envelope(vec![q]);
        clean_page(import(body.to_string().as_bytes(), &ctx_with(&[])))
            .listings
            .remove(0)
    };
    // Only the discounted price: shown as the price, without a cost.
    let l = record(json!({"UnitPriceDiscount": 0.12, "ChargeUnit": "HOUR", "OriginalPrice": null}));
    let p = &l.prices()[0];
    assert_money(p.amount(), "0.12", "CNY");
    assert_eq!(p.cost(), None);
    let named = &l.provenance().price_sources[0];
    assert_eq!(
        (named.list_price.as_str(), named.cost.as_deref()),
        ("Price.UnitPriceDiscount", None)
    );
    // Only the list price (the discounted one is 0, which Tencent writes for unset).
    let l = record(json!({"OriginalPrice": 59, "DiscountPrice": 0}));
    assert_eq!(l.prices()[0].billing_mode(), BillingMode::Monthly);
    assert_money(l.prices()[0].amount(), "59", "CNY");
    assert_eq!(l.prices()[0].cost(), None);
    assert_eq!(l.provenance().price_sources[0].cost, None);
    // Hour bands whose second band has no discounted price: no band has a cost.
    let l = record(json!({
        "UnitPrice": 0.12, "UnitPriceDiscount": 0.1, "ChargeUnit": "HOUR",
        "UnitPriceSecondStep": 0.11, "UnitPriceDiscountSecondStep": 0
    }));
    let p = &l.prices()[0];
    assert_eq!(p.tiers().len(), 2);
    assert_money(p.amount(), "0.12", "CNY");
    assert!(p.cost().is_none() && p.tiers().iter().all(|t| t.cost().is_none()));
    let named = &l.provenance().price_sources[0];
    assert_eq!(
        named.list_price,
        "Price.UnitPrice, Price.UnitPriceSecondStep"
    );
    assert_eq!(named.cost, None);
}

#[test]
fn truncated_pages_and_error_envelopes_fail_the_page() {
    let body = vendor_fixture(
        "tencent",
        "cvm-describezoneinstanceconfiginfos-ap-guangzhou-6.json",
    );
    let err = import(&body[..body.len() / 2], &ctx_with(&[])).unwrap_err();
    assert_malformed(&err);

    let auth = json!({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}, "RequestId": "r"}});
    let err = import(auth.to_string().as_bytes(), &ctx_with(&[])).unwrap_err();
    assert_credentials_rejected(&err);

    let other = json!({"Response": {"Error": {"Code": "InvalidParameter", "Message": "no"}, "RequestId": "r"}});
    let err = import(other.to_string().as_bytes(), &ctx_with(&[])).unwrap_err();
    assert!(
        matches!(err, ConnectorError::Vendor { ref code, .. } if code == "InvalidParameter"),
        "{err}"
    );
}

fn settings(endpoint: &str, regions: &[&str]) -> VendorSettings {
    VendorSettings {
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        max_retries: Some(3),
        ..keyed_settings(endpoint, "AKIDtest", "secret")
    }
}

#[tokio::test]
async fn live_sync_pages_through_regions_with_retries() {
    let server = MockServer::start().await;
    let regions = ["ap-guangzhou", "ap-shanghai", "ap-singapore"];
    let in_region = |region: &str| Mock::given(method("POST")).and(header("X-TC-Region", region));
    // ap-guangzhou is throttled once, ap-shanghai fails once with a 500.
    mount_fault_once(&server, in_region("ap-guangzhou"), 429).await;
    mount_fault_once(&server, in_region("ap-shanghai"), 500).await;
    for region in regions {
        let records = vec![
            quota("SA2.MEDIUM4", &format!("{region}-1"), json!(0.12)),
            quota("SA2.LARGE8", &format!("{region}-2"), json!(0.24)),
        ];
        mount_answer(
            &server,
            in_region(region)
                .and(header("X-TC-Action", "DescribeZoneInstanceConfigInfos"))
                .and(header("X-TC-Version", "2017-03-12"))
                .and(header_exists("X-TC-Timestamp"))
                .and(header_exists("Authorization")),
            ResponseTemplate::new(200).set_body_json(envelope(records)),
        )
        .await;
    }
    let settings = settings(&server.uri(), &regions);
    let drained = drain_all(live_connector(Vendor::Tencent, &settings).as_ref()).await;
    assert!(drained.rejections.is_empty(), "{:?}", drained.rejections);
    assert_eq!(drained.pages.len(), 3);
    assert_eq!(drained.listings.len(), 6);
    assert!(
        drained
            .skus()
            .contains(&"SA2.LARGE8@ap-singapore-2/postpaid_by_hour")
    );
    let sg = drained
        .listings
        .iter()
        .find(|l| l.region().code == "ap-singapore-1")
        .unwrap();
    assert_eq!(sg.region().geography.to_string(), "sg/singapore");

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 5, "3 pages + one 429 + one 500");
    assert_all_signed(
        &requests,
        "authorization",
        "TC3-HMAC-SHA256 Credential=AKIDtest/",
        &["/cvm/tc3_request"],
    );
}

#[tokio::test]
async fn live_sync_resumes_from_a_token_and_maps_auth_failures() {
    let server = MockServer::start().await;
    mount_answer(
        &server,
        Mock::given(method("POST")).and(header("X-TC-Region", "ap-shanghai")),
        ResponseTemplate::new(200).set_body_json(
            json!({"Response": {"Error": {"Code": "AuthFailure.SecretIdNotFound", "Message": "no such id"}, "RequestId": "r"}}),
        ),
    )
    .await;
    let settings = settings(&server.uri(), &["ap-guangzhou", "ap-shanghai"]);
    let connector = live_connector(Vendor::Tencent, &settings);
    let err = connector
        .fetch_page(Some(r#"{"region_idx":1}"#))
        .await
        .unwrap_err();
    assert_credentials_rejected(&err);
    // Past the last region there is nothing left.
    let done = connector
        .fetch_page(Some(r#"{"region_idx":2}"#))
        .await
        .unwrap();
    assert!(done.listings.is_empty() && done.next_token.is_none());

    let err = connector_error(Vendor::Tencent, &VendorSettings::default());
    assert!(
        matches!(err, ConnectorError::MissingCredentials { .. }),
        "{err}"
    );
}

#[test]
fn overflowing_bandwidth_and_type_sizes_do_not_panic() {
    let mut huge = quota("SA2.MEDIUM4", "ap-guangzhou-3", json!(0.12));
    huge["InstanceBandwidth"] = json!("79228162514264337593543950335");
    let body = envelope(vec![
        huge,
        quota("SA2.LARGE8", "ap-guangzhou-3", json!(0.2)),
    ]);
    let page = import(body.to_string().as_bytes(), &ctx_with(&[])).unwrap();
    assert_eq!(page.listings.len(), 1);
    assert_eq!(page.rejections.len(), 1);
    assert_eq!(page.rejections[0].vendor_key, "SA2.MEDIUM4@ap-guangzhou-3");
    assert!(
        page.rejections[0].reason.contains("too large"),
        "{:?}",
        page.rejections
    );

    // 2000000000 × 4 vCPUs does not fit: no vCPU count rather than a wrapped one.
    let body = vendor_fixture(
        "tencent",
        "cvm-inquirypricerruninstances-prepaid-s5-16xlarge256.json",
    );
    let params = [
        ("InstanceType", "S5.2000000000XLARGE256"),
        ("Placement.Zone", "ap-shanghai-2"),
        ("InstanceChargeType", "PREPAID"),
        ("InstanceChargePrepaid.Period", "1"),
    ];
    let page = clean_page(import(&body, &ctx_with(&params)));
    assert_eq!(page.listings[0].specs().vcpu, None);
}
