//! CTyun: the real order-price sample through `import`, a live sync against
//! a local server speaking the EOP-signed OpenAPI, and bad vendor data.

use std::collections::BTreeMap;

use rust_decimal_macros::dec;
use serde_json::json;
use shiyun_connectors::ctyun::import;
use shiyun_connectors::{ConnectorError, VendorSettings};
use shiyun_core::listing::{BillingMode, PriceSource, PriceUnit, Vendor};
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    assert_all_signed, assert_amount, assert_credentials_rejected, assert_kept_unknown_region,
    assert_malformed, assert_missing_parameter, assert_money, assert_names_vendor_and_city,
    assert_texts_clean, clean_page, ctx_with, drain_all, keyed_settings, live_connector,
    mount_answer, mount_fault_once, vendor_fixture,
};

const SAMPLE: &str = "order-query-new-price-n100-ecs-ebs-eip-cfw.json";

#[test]
fn order_price_sample_gives_one_listing_per_item() {
    let body = vendor_fixture("ctyun", SAMPLE);
    let err = import(&body, &ctx_with(&[])).unwrap_err();
    assert_missing_parameter(&err, "regionCode");

    let params = [
        ("regionCode", "cn-neimeng-8"),
        ("cycleType", "month"),
        ("flavorName", "s7.large.2"),
        ("diskType", "SATA"),
    ];
    let page = clean_page(import(&body, &ctx_with(&params)));
    let by_sku: BTreeMap<&str, _> = page.listings.iter().map(|l| (l.vendor_sku(), l)).collect();
    assert_eq!(
        by_sku.keys().copied().collect::<Vec<_>>(),
        [
            "CFWVERSION@cn-neimeng-8/month_2",
            "EBS.SATA.40GB@cn-neimeng-8/month_2",
            "NETWORK.2Mbps@cn-neimeng-8/month_2",
            "VM.s7.large.2@cn-neimeng-8/month_2",
        ]
    );
    let vm = by_sku["VM.s7.large.2@cn-neimeng-8/month_2"];
    assert_eq!(vm.vendor(), Vendor::Ctyun);
    assert_eq!(vm.category().as_str(), "compute.vm");
    assert_eq!(vm.service(), "ovms");
    assert_eq!(
        vm.name().zh.as_deref(),
        Some("天翼云 通用型 s7 s7.large.2 2核4G · 内蒙8（呼和浩特）")
    );
    assert_names_vendor_and_city(vm, "呼和浩特", "Hohhot");
    assert_texts_clean(&page.listings);
    assert_eq!(vm.region().geography.to_string(), "cn/hohhot");
    // The sample quotes two monthly cycles: the price is for the whole term.
    let p = &vm.prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::Reserved { term_months: 2 });
    assert_eq!(p.unit(), PriceUnit::Term);
    // `totalPrice` is the list price, `finalPrice` the platform's cost
    // (equal in the sample, which has no account discount).
    assert_money(p.amount(), "313.24", "CNY");
    assert_money(p.cost().unwrap(), "313.24", "CNY");
    assert_eq!(
        vm.provenance().price_sources,
        [PriceSource {
            component: None,
            billing_mode: BillingMode::Reserved { term_months: 2 },
            list_price: "totalPrice".into(),
            cost: Some("finalPrice".into()),
        }]
    );

    let ebs = by_sku["EBS.SATA.40GB@cn-neimeng-8/month_2"];
    assert_eq!(ebs.category().as_str(), "storage.block");
    assert!(
        ebs.name().zh.as_deref().unwrap().contains("云硬盘 40 GB"),
        "{:?}",
        ebs.name()
    );
    assert_eq!(ebs.specs().storage_gib, Some(dec!(40)));
    assert_eq!(ebs.prices()[0].amount().amount().to_string(), "24.0");

    let eip = by_sku["NETWORK.2Mbps@cn-neimeng-8/month_2"];
    assert_eq!(eip.category().as_str(), "network.ip");
    assert_eq!(eip.specs().bandwidth_mbps, Some(dec!(2)));
    assert_eq!(eip.prices()[0].amount().amount(), dec!(40));
    assert_money(eip.prices()[0].cost().unwrap(), "40", "CNY");

    let cfw = by_sku["CFWVERSION@cn-neimeng-8/month_2"];
    assert_eq!(cfw.category().as_str(), "security.firewall");
    assert_eq!(cfw.service(), "cfw");
    assert!(
        cfw.name()
            .zh
            .as_deref()
            .unwrap()
            .contains("云防火墙(原生版)"),
        "{:?}",
        cfw.name()
    );
    assert_eq!(cfw.prices()[0].amount().amount().to_string(), "2600.0");
    assert_eq!(cfw.provenance().vendor_api, "ctyun.order.queryNewPrice");

    // Without flavorName the VM item is rejected, the others still import.
    let page = import(&body, &ctx_with(&params[..2])).unwrap();
    assert_eq!(page.listings.len(), 3);
    assert_eq!(page.rejections[0].vendor_key, "VM@cn-neimeng-8");
    assert!(page.rejections[0].reason.contains("flavorName"));
}

#[test]
fn bad_items_are_rejected_and_bad_pages_refused() {
    let body = json!({"statusCode": 800, "returnObj": {"isSucceed": true, "subOrderPrices": [
        {"serviceTag": "OVMS", "cycleCount": 1, "orderItemPrices": [
            {"itemId": "a", "resourceType": "VM", "ctyunName": "弹性云主机", "instanceCnt": "1.0", "totalPrice": 202.0, "finalPrice": 180.5},
            {"itemId": "b", "resourceType": "EBS", "ctyunName": "云硬盘", "instanceCnt": "40.0", "totalPrice": "n/a", "finalPrice": "n/a"},
            {"itemId": "c", "ctyunName": "无类型", "finalPrice": 1},
            {"itemId": "d", "resourceType": "WHATEVER", "ctyunName": "?", "finalPrice": 1}
        ]}
    ]}});
    let params = [
        ("regionCode", "cn-huadong1"),
        ("cycleType", "3"),
        ("flavorName", "c7.large.2"),
    ];
    let page = import(body.to_string().as_bytes(), &ctx_with(&params)).unwrap();
    assert_eq!(page.listings.len(), 1);
    let vm = &page.listings[0];
    assert_eq!(vm.vendor_sku(), "VM.c7.large.2@cn-huadong1/month");
    assert_eq!(vm.prices()[0].billing_mode(), BillingMode::Monthly);
    // The list price and the discounted price for the platform's account.
    assert_eq!(vm.prices()[0].amount().amount().to_string(), "202.0");
    assert_eq!(vm.prices()[0].cost().unwrap().amount().to_string(), "180.5");
    assert_eq!(vm.region().geography.to_string(), "cn/nanjing");
    let keys: Vec<&str> = page
        .rejections
        .iter()
        .map(|r| r.vendor_key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "EBS@cn-huadong1",
            "OVMS[2]@cn-huadong1",
            "WHATEVER@cn-huadong1"
        ]
    );
    assert!(
        page.rejections[0].reason.contains("not a number"),
        "{:?}",
        page.rejections
    );

    let mars = import(
        body.to_string().as_bytes(),
        &ctx_with(&[
            ("regionCode", "mars-1"),
            ("cycleType", "month"),
            ("flavorName", "x"),
        ]),
    )
    .unwrap();
    assert_kept_unknown_region(&mars, "mars-1");

    let sample = vendor_fixture("ctyun", SAMPLE);
    let err = import(&sample[..sample.len() - 30], &ctx_with(&params)).unwrap_err();
    assert_malformed(&err);

    let failed = json!({"statusCode": 900, "errorCode": "Order.Price.Invalid", "message": "bad", "description": "询价失败"});
    let err = import(failed.to_string().as_bytes(), &ctx_with(&params)).unwrap_err();
    assert!(
        matches!(err, ConnectorError::Vendor { ref code, .. } if code == "Order.Price.Invalid"),
        "{err}"
    );
    let auth = json!({"statusCode": 900, "errorCode": "Openapi.Signature.Invalid", "message": "signature mismatch"});
    let err = import(auth.to_string().as_bytes(), &ctx_with(&params)).unwrap_err();
    assert_credentials_rejected(&err);

    let regions = json!({"statusCode": 800, "returnObj": {"regionList": [{"regionID": "x", "regionCode": "cn-huadong1"}]}});
    let page = import(regions.to_string().as_bytes(), &ctx_with(&[])).unwrap();
    assert!(page.listings.is_empty() && page.rejections.is_empty());
}

fn quote_response(request: &Request) -> ResponseTemplate {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let flavor = body["flavorName"].as_str().unwrap_or_default();
    let price = match flavor {
        "s7.large.2" => "202.5",
        _ => "405.0",
    };
    let text = format!(
        r#"{{"statusCode":800,"returnObj":{{"isSucceed":true,"totalPrice":{price},"finalPrice":{price},"subOrderPrices":[{{"serviceTag":"OVMS","cycleCount":1,"totalPrice":{price},"finalPrice":{price},"orderItemPrices":[{{"itemId":"i","resourceType":"VM","ctyunName":"弹性云主机","instanceCnt":"1.0","totalPrice":{price},"finalPrice":{price}}}]}}]}}}}"#
    );
    ResponseTemplate::new(200).set_body_raw(text, "application/json")
}

#[tokio::test]
async fn live_sync_quotes_flavors_per_region_with_retries() {
    let server = MockServer::start().await;
    let regions = || Mock::given(method("GET")).and(path("/v4/region/list-regions"));
    let quote = || Mock::given(method("POST")).and(path("/v4/new-order/query-price"));
    mount_fault_once(&server, regions(), 500).await;
    mount_answer(
        &server,
        regions(),
        ResponseTemplate::new(200).set_body_json(json!({"statusCode": 800, "returnObj": {"regionList": [
            {"regionID": "bb9fdb42056f11eda1610242ac110002", "regionCode": "cn-huadong1", "regionName": "华东1"},
            {"regionID": "100054c0416811e9a6690242ac110002", "regionCode": "cn-baoding-1", "regionName": "保定"},
            {"regionID": "ffff", "regionName": "no code"}
        ]}})),
    )
    .await;
    mount_fault_once(&server, quote(), 429).await;
    mount_answer(
        &server,
        quote()
            .and(header_exists("Eop-Authorization"))
            .and(header_exists("eop-date"))
            .and(header_exists("ctyun-eop-request-id")),
        quote_response,
    )
    .await;
    let settings = VendorSettings {
        services: vec![
            "s7.large.2".into(),
            "s7.xlarge.2".into(),
            "s7.2xlarge.2".into(),
        ],
        ..keyed_settings(&server.uri(), "ak", "sk")
    };
    let drained = drain_all(live_connector(Vendor::Ctyun, &settings).as_ref()).await;
    assert!(drained.rejections.is_empty(), "{:?}", drained.rejections);
    // Two pools × (2 + 1 flavors per page).
    assert_eq!(drained.pages.len(), 4);
    assert_eq!(drained.listings.len(), 6);
    let l = drained.listing("VM.s7.large.2@cn-baoding-1/month");
    assert_amount(l.prices()[0].amount(), "202.5");
    assert_eq!(l.region().geography.to_string(), "cn/baoding");

    let requests = server.received_requests().await.unwrap();
    // list-regions twice (a 500 first), six quotes plus one 429.
    assert_eq!(requests.len(), 9);
    assert_all_signed(
        &requests,
        "eop-authorization",
        "ak Headers=ctyun-eop-request-id;eop-date Signature=",
        &[],
    );
}

#[test]
fn counted_items_are_priced_per_instance_and_sized_items_keep_their_size() {
    let body = json!({"statusCode": 800, "returnObj": {"isSucceed": true, "subOrderPrices": [
        {"serviceTag": "OVMS", "cycleCount": 1, "orderItemPrices": [
            {"resourceType": "VM", "ctyunName": "弹性云主机", "instanceCnt": "3.0", "totalPrice": 606, "finalPrice": 541.5},
            {"resourceType": "EBS", "ctyunName": "云硬盘", "instanceCnt": "40.0", "finalPrice": 24.0}
        ]},
        {"serviceTag": "CFW", "cycleCount": 1, "orderItemPrices": [
            {"resourceType": "CFWVERSION", "ctyunName": "云防火墙", "instanceCnt": "2.0", "finalPrice": "5200.0"}
        ]}
    ]}});
    let params = [
        ("regionCode", "cn-huadong1"),
        ("cycleType", "month"),
        ("flavorName", "c7.large.2"),
    ];
    let page = clean_page(import(body.to_string().as_bytes(), &ctx_with(&params)));
    let by_sku: BTreeMap<&str, _> = page.listings.iter().map(|l| (l.vendor_sku(), l)).collect();
    // 606 for 3 VMs is 202 each, and their final price 541.5 is 180.5
    // each; 5200 for 2 firewalls is 2600 each.
    let vm = by_sku["VM.c7.large.2@cn-huadong1/month"];
    assert_eq!(vm.prices()[0].amount().amount(), dec!(202));
    assert_eq!(vm.prices()[0].cost().unwrap().amount(), dec!(180.5));
    let cfw = by_sku["CFWVERSION@cn-huadong1/month"];
    assert_eq!(cfw.prices()[0].amount().amount(), dec!(2600));
    // With only `finalPrice`, it is the list price and there is no cost.
    assert_eq!(cfw.prices()[0].cost(), None);
    let named = &cfw.provenance().price_sources[0];
    assert_eq!(
        (named.list_price.as_str(), named.cost.as_deref()),
        ("finalPrice", None)
    );
    // 40 GB is the disk's size, not a count of disks.
    let ebs = by_sku["EBS.disk.40GB@cn-huadong1/month"];
    assert_eq!(ebs.prices()[0].amount().amount(), dec!(24));

    for (cnt, price, why) in [
        ("0.0", "10", "not a positive whole number"),
        ("-2", "10", "not a positive whole number"),
        ("1.5", "10", "not a positive whole number"),
        ("3", "100", "does not divide exactly"),
    ] {
        let body = json!({"statusCode": 800, "returnObj": {"subOrderPrices": [
            {"serviceTag": "OVMS", "cycleCount": 1, "orderItemPrices": [
                {"resourceType": "VM", "instanceCnt": cnt, "finalPrice": price}
            ]}
        ]}});
        let page = import(body.to_string().as_bytes(), &ctx_with(&params)).unwrap();
        assert!(page.listings.is_empty(), "instanceCnt {cnt}");
        assert_eq!(page.rejections[0].vendor_key, "VM.c7.large.2@cn-huadong1");
        assert!(
            page.rejections[0].reason.contains(why),
            "instanceCnt {cnt}: {:?}",
            page.rejections
        );
    }
}
