//! UCloud: the real UHost and UDB price samples through `import` (yuan and
//! fen), a live sync against a local server, and bad vendor data.

use rust_decimal_macros::dec;
use secrecy::SecretString;
use serde_json::json;
use shiyun_connectors::ucloud::import;
use shiyun_connectors::{ConnectorError, VendorSettings};
use shiyun_core::listing::{BillingMode, PriceUnit, Vendor};
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
fn uhost_price_sample_is_in_yuan_per_hour() {
    let body = vendor_fixture("ucloud", "uhost-getuhostinstanceprice-cn-bj2.json");
    let err = import(&body, &ctx_with(&[])).unwrap_err();
    assert_missing_parameter(&err, "Region");

    let params = [
        ("Region", "cn-bj2"),
        ("CPU", "2"),
        ("Memory", "4096"),
        ("MachineType", "N"),
    ];
    let page = clean_page(import(&body, &ctx_with(&params)));
    let l = &page.listings[0];
    assert_identity(
        l,
        Vendor::Ucloud,
        "uhost.N.2c4g@cn-bj2/dynamic",
        "compute.vm",
        "uhost",
        "cn-bj2",
        "cn/beijing",
    );
    assert_eq!(
        l.name().zh.as_deref(),
        Some("优刻得 通用型 N UHost 2核4G · 华北一（北京）")
    );
    assert_names_vendor_and_city(l, "北京", "Beijing");
    assert_texts_clean(&page.listings);
    assert_eq!(l.specs().vcpu, Some(2));
    assert_eq!(l.specs().memory_gib, Some(dec!(4)));
    let p = &l.prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::OnDemand);
    assert_eq!(p.unit(), PriceUnit::Hour);
    assert_money(p.amount(), "0.42", "CNY");
    assert_eq!(
        l.provenance().vendor_api,
        "ucloud.uhost.GetUHostInstancePrice"
    );
}

#[test]
fn udb_price_sample_is_in_fen() {
    let body = vendor_fixture("ucloud", "udb-describeudbinstanceprice.json");
    let params = [
        ("Region", "cn-bj2"),
        ("Zone", "cn-bj2-02"),
        ("DBTypeId", "mysql-8.0"),
        ("MemoryLimit", "1000"),
        ("DiskSpace", "20"),
    ];
    let page = clean_page(import(&body, &ctx_with(&params)));
    let l = &page.listings[0];
    assert_eq!(l.vendor_sku(), "udb.mysql-8.0.1000m.20g@cn-bj2/month");
    assert_eq!(l.category().as_str(), "database.relational");
    assert_eq!(l.service(), "udb");
    assert!(
        l.name()
            .zh
            .as_deref()
            .unwrap()
            .starts_with("优刻得 云数据库 UDB MySQL 8.0"),
        "{:?}",
        l.name()
    );
    assert!(
        l.description()
            .en
            .as_deref()
            .unwrap()
            .contains("MySQL 8.0 database")
    );
    assert_eq!(l.specs().engine.as_deref(), Some("mysql"));
    assert_eq!(l.specs().engine_version.as_deref(), Some("8.0"));
    assert_texts_clean(&page.listings);
    assert_eq!(l.specs().storage_gib, Some(dec!(20)));
    // The 1000 MB tier is sold as 1G, and named so.
    assert_eq!(l.specs().memory_gib, Some(dec!(1)));
    assert!(
        !l.name().zh.as_deref().unwrap().contains("0.97"),
        "{:?}",
        l.name()
    );
    let p = &l.prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::Monthly);
    assert_eq!(p.unit(), PriceUnit::Month);
    // 1360 fen = 13.60 yuan, exactly.
    assert_money(p.amount(), "13.60", "CNY");

    let missing = import(&body, &ctx_with(&params[..3])).unwrap_err();
    assert!(missing.to_string().contains("MemoryLimit"), "{missing}");
}

#[test]
fn uredis_prices_are_in_li_and_bad_entries_are_rejected() {
    let body = json!({
        "Action": "DescribeURedisPriceResponse", "RetCode": 0,
        "DataSet": [
            {"ChargeType": "Month", "Price": 41000},
            {"ChargeType": "Dynamic", "Price": 57},
            {"ChargeType": "Year", "Price": "cheap"},
            {"ChargeType": "Trial", "Price": 0},
            {"Price": 10}
        ]
    });
    let page = import(
        body.to_string().as_bytes(),
        &ctx_with(&[("Region", "hk"), ("Size", "1")]),
    )
    .unwrap();
    let prices: Vec<(String, String)> = page
        .listings
        .iter()
        .map(|l| {
            (
                l.vendor_sku().to_owned(),
                l.prices()[0].amount().amount().to_string(),
            )
        })
        .collect();
    assert_eq!(
        prices,
        [
            ("uredis.1g@hk/month".to_owned(), "41.000".to_owned()),
            ("uredis.1g@hk/dynamic".to_owned(), "0.057".to_owned())
        ]
    );
    assert_eq!(page.listings[0].category().as_str(), "database.cache");
    assert_eq!(
        page.listings[0].region().geography.to_string(),
        "hk/hong-kong"
    );
    assert_eq!(page.rejections.len(), 3, "{:?}", page.rejections);
    assert!(
        page.rejections
            .iter()
            .all(|r| r.vendor_key == "uredis.1g@hk")
    );
    assert!(
        page.rejections[0].reason.contains("not a number"),
        "{:?}",
        page.rejections
    );
    assert!(
        page.rejections[1].reason.contains("unknown charge type"),
        "{:?}",
        page.rejections
    );
    assert!(
        page.rejections[2].reason.contains("ChargeType"),
        "{:?}",
        page.rejections
    );

    let region = import(
        body.to_string().as_bytes(),
        &ctx_with(&[("Region", "mars-1"), ("Size", "1")]),
    )
    .unwrap();
    assert_kept_unknown_region(&region, "mars-1");
}

#[test]
fn error_envelopes_and_truncated_pages_fail() {
    let params = [("Region", "cn-bj2"), ("CPU", "2"), ("Memory", "4096")];
    for (code, credentials) in [(171, true), (172, true), (230, false)] {
        let body =
            json!({"Action": "GetUHostInstancePriceResponse", "RetCode": code, "Message": "nope"});
        let err = import(body.to_string().as_bytes(), &ctx_with(&params)).unwrap_err();
        assert_eq!(
            matches!(err, ConnectorError::CredentialsRejected { .. }),
            credentials,
            "{err}"
        );
        assert_eq!(
            !credentials,
            matches!(err, ConnectorError::Vendor { .. }),
            "{err}"
        );
    }
    let body = vendor_fixture("ucloud", "uhost-getuhostinstanceprice-cn-bj2.json");
    let err = import(&body[..body.len() - 10], &ctx_with(&params)).unwrap_err();
    assert_malformed(&err);
}

/// Hourly, monthly and yearly prices derived from the requested CPU count.
fn price_response(request: &Request) -> ResponseTemplate {
    let query = query_map(request);
    let cpu: u32 = query.get("CPU").and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = format!(
        r#"{{"Action":"GetUHostInstancePriceResponse","RetCode":0,"PriceSet":[{{"ChargeType":"Dynamic","Price":0.{cpu:02}}},{{"ChargeType":"Month","Price":{m}.5}},{{"ChargeType":"Year","Price":{y}}}]}}"#,
        m = cpu * 100,
        y = cpu * 1000
    );
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

#[tokio::test]
async fn live_sync_prices_configs_across_pages_with_retries() {
    let server = MockServer::start().await;
    let region = |region: &str| Mock::given(method("GET")).and(query_param("Region", region));
    mount_fault_once(&server, region("cn-sh2"), 429).await;
    mount_fault_once(&server, region("cn-gd"), 500).await;
    mount_answer(
        &server,
        Mock::given(method("GET")).and(query_param("Action", "GetUHostInstancePrice")),
        price_response,
    )
    .await;
    let settings = VendorSettings {
        regions: vec!["cn-bj2".into(), "cn-sh2".into(), "cn-gd".into()],
        services: vec!["N:2:4096".into(), "O:4:8192".into()],
        ..keyed_settings(&server.uri(), "pubkey", "privkey")
    };
    let drained = drain_all(live_connector(Vendor::Ucloud, &settings).as_ref()).await;
    assert!(drained.rejections.is_empty(), "{:?}", drained.rejections);
    assert_eq!(drained.pages.len(), 3);
    // 3 regions × 2 configs × 3 charge types.
    assert_eq!(drained.listings.len(), 18);
    let monthly = drained.listing("uhost.O.4c8g@cn-gd/month");
    assert_amount(monthly.prices()[0].amount(), "400.5");
    assert_eq!(monthly.region().geography.to_string(), "cn/guangzhou");
    let yearly = drained.listing("uhost.N.2c4g@cn-sh2/year");
    assert_eq!(yearly.prices()[0].billing_mode(), BillingMode::Yearly);
    assert_eq!(yearly.prices()[0].amount().amount(), dec!(2000));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 8, "6 prices + one 429 + one 500");
    for request in &requests {
        let query = query_map(request);
        assert_eq!(query.get("PublicKey").map(String::as_str), Some("pubkey"));
        let signature = query.get("Signature").unwrap();
        assert_eq!(signature.len(), 40, "hex sha-1");
        // The signature is UCloud's: sorted name+value pairs, then the private key.
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "Signature")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        let expected =
            shiyun_connectors::signing::ucloud::sign(&pairs, &SecretString::from("privkey"));
        assert_eq!(&expected.signature, signature);
    }
}

#[tokio::test]
async fn rejected_keys_fail_the_page() {
    let server = MockServer::start().await;
    mount_answer(
        &server,
        Mock::given(method("GET")),
        ResponseTemplate::new(200).set_body_json(
            json!({"Action": "GetUHostInstancePriceResponse", "RetCode": 172, "Message": "public key not exist"}),
        ),
    )
    .await;
    let settings = keyed_settings(&server.uri(), "pubkey", "privkey");
    let err = live_connector(Vendor::Ucloud, &settings)
        .fetch_page(None)
        .await
        .unwrap_err();
    assert_credentials_rejected(&err);
    assert!(matches!(
        connector_error(Vendor::Ucloud, &VendorSettings::default()),
        ConnectorError::MissingCredentials { .. }
    ));
}

#[test]
fn part_month_quantity_and_multi_instance_counts_are_rejected() {
    let body = json!({
        "Action": "DescribeURedisPriceResponse", "RetCode": 0,
        "DataSet": [
            {"ChargeType": "Month", "Price": 41000},
            {"ChargeType": "Year", "Price": 410000},
            {"ChargeType": "Dynamic", "Price": 57}
        ]
    });
    let body = body.to_string();
    // Quantity 0 is "until the end of this month": not a monthly or yearly price.
    let page = import(
        body.as_bytes(),
        &ctx_with(&[("Region", "hk"), ("Size", "1"), ("Quantity", "0")]),
    )
    .unwrap();
    let skus: Vec<&str> = page.listings.iter().map(|l| l.vendor_sku()).collect();
    assert_eq!(skus, ["uredis.1g@hk/dynamic"]);
    assert_eq!(page.rejections.len(), 2, "{:?}", page.rejections);
    assert!(
        page.rejections
            .iter()
            .all(|r| r.reason.contains("Quantity 0")),
        "{:?}",
        page.rejections
    );

    // Quantity 1 (or absent) is the monthly and yearly price.
    let page = clean_page(import(
        body.as_bytes(),
        &ctx_with(&[("Region", "hk"), ("Size", "1"), ("Quantity", "1")]),
    ));
    assert_eq!(page.listings.len(), 3);
    assert_eq!(
        page.listings[0].prices()[0].billing_mode(),
        BillingMode::Monthly
    );
    assert_eq!(
        page.listings[1].prices()[0].billing_mode(),
        BillingMode::Yearly
    );

    // A price for several instances is not a unit price.
    let page = import(
        body.as_bytes(),
        &ctx_with(&[("Region", "hk"), ("Size", "1"), ("Count", "2")]),
    )
    .unwrap();
    assert!(page.listings.is_empty(), "{:?}", page.listings);
    assert_eq!(page.rejections.len(), 3);
    assert!(
        page.rejections[0].reason.contains("Count=2"),
        "{:?}",
        page.rejections
    );
    let page = clean_page(import(
        body.as_bytes(),
        &ctx_with(&[("Region", "hk"), ("Size", "1"), ("Count", "1")]),
    ));
    assert_eq!(page.listings.len(), 3);
    let err = import(
        body.as_bytes(),
        &ctx_with(&[("Region", "hk"), ("Size", "1"), ("Count", "two")]),
    )
    .unwrap_err();
    assert_malformed_naming(&err, "Count");
}
