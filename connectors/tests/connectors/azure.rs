//! Azure: the real Retail Prices items, a live sync against a local server
//! answering Retail Prices pages, and bad items.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use shiyun_connectors::ConnectorError;
use shiyun_connectors::azure;
use shiyun_core::listing::{BillingMode, PriceUnit, Vendor};
use shiyun_core::money::Currency;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    WithFaults, assert_identity, assert_kept_unknown_region, assert_names_vendor_and_city,
    assert_texts_clean, clean_page, ctx, drain_all, find_listing, live_connector, rejection_reason,
    settings_for, vendor_fixture,
};

#[test]
fn devtest_spot_sample_is_exact() {
    let page = clean_page(azure::import(
        &vendor_fixture(
            "azure",
            "retail-prices-item-devtest-f16s-spot-westeurope-usd.json",
        ),
        &ctx(),
    ));
    assert_eq!(page.listings.len(), 1);
    let l = &page.listings[0];
    assert_identity(
        l,
        Vendor::Azure,
        "DZH318Z0BQPS/00TG:000a794b-bdb0-58be-a0cd-0c3a0f222923:DevTestConsumption",
        "compute.vm",
        "virtual-machines",
        "westeurope",
        "nl/amsterdam",
    );
    assert_eq!(l.specs().vcpu, Some(16));
    assert_eq!(l.specs().os.as_deref(), Some("windows"));
    assert!(l.tags().contains("devtest"));
    assert_eq!(
        l.name().en.as_deref(),
        Some(
            "Microsoft Azure FS Series (spot) (Dev/Test) Standard_F16s 16 vCPU Windows Server · West Europe (Netherlands, Amsterdam)"
        )
    );
    assert!(l.name().zh.as_deref().unwrap().contains("Standard_F16s"));
    assert_names_vendor_and_city(l, "阿姆斯特丹", "Amsterdam");
    assert_texts_clean(&page.listings);
    let p = &l.prices()[0];
    assert_eq!(l.prices().len(), 1);
    assert_eq!(p.billing_mode(), BillingMode::Spot);
    assert_eq!(p.unit(), PriceUnit::Hour);
    assert_eq!(p.amount().amount(), dec!(0.176346));
    assert_eq!(p.amount().currency(), Currency::USD);
    assert!(p.tiers().is_empty());
    assert_eq!(l.provenance().vendor_api, "azure.retail.prices");
}

#[test]
fn reservation_sample_is_a_term_total() {
    let page = clean_page(azure::import(
        &vendor_fixture(
            "azure",
            "retail-prices-item-reservation-e64v4-southcentralus-usd.json",
        ),
        &ctx(),
    ));
    let l = &page.listings[0];
    assert_eq!(
        l.vendor_sku(),
        "DZH318Z0D1L7/018J:0016083a-928f-56fd-8eeb-39287dcf676d:Reservation:1y"
    );
    assert_eq!(l.region().geography.to_string(), "us/san-antonio");
    assert_eq!(l.specs().vcpu, Some(64));
    assert_eq!(l.specs().os.as_deref(), Some("linux"));
    let p = &l.prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::Reserved { term_months: 12 });
    assert_eq!(p.unit(), PriceUnit::Term);
    assert_eq!(p.amount().amount(), dec!(25007));
    assert_eq!(p.amount().currency(), Currency::USD);
}

fn item(sku: &str, meter: &str, price: Value) -> Value {
    json!({
        "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price, "unitPrice": price,
        "armRegionName": "eastus", "location": "US East", "effectiveStartDate": "2024-01-01T00:00:00Z",
        "meterId": meter, "meterName": "D2s v5", "productId": "DZH318Z0BPZ5", "skuId": sku,
        "productName": "Virtual Machines Dsv5 Series", "skuName": "D2s v5", "serviceName": "Virtual Machines",
        "serviceId": "DZH313Z7MMC8", "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption",
        "isPrimaryMeterRegion": true, "armSkuName": "Standard_D2s_v5",
        "savingsPlan": [{"unitPrice": 0.0658, "retailPrice": 0.0658, "term": "1 Year"}, {"unitPrice": 0.0452, "retailPrice": 0.0452, "term": "3 Years"}]
    })
}

fn envelope(items: Vec<Value>, next: Option<String>) -> Value {
    json!({"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail", "Count": items.len(), "Items": items, "NextPageLink": next})
}

#[test]
fn tier_bounds_of_packed_units_are_in_single_units() {
    let mut first = item("DZH318Z0BNVX/004A", "m-txn", json!(0.05));
    let mut second = item("DZH318Z0BNVX/004A", "m-txn", json!(0.04));
    for (t, min) in [(&mut first, json!(0.0)), (&mut second, json!(100.0))] {
        t["tierMinimumUnits"] = min;
        t["serviceName"] = json!("Storage");
        t["productName"] = json!("Queue Storage");
        t["skuName"] = json!("Standard LRS");
        t["unitOfMeasure"] = json!("10K");
        t["savingsPlan"] = json!([]);
    }
    let body = envelope(vec![second, first], None);
    let page = clean_page(azure::import(body.to_string().as_bytes(), &ctx()));
    let txn = find_listing(&page.listings, "DZH318Z0BNVX/004A:m-txn:Consumption");
    let p = &txn.prices()[0];
    assert_eq!(p.unit(), PriceUnit::Request);
    // 100 packs of 10K requests is a million requests, at 0.04 per 10K.
    assert_eq!(
        (
            p.tiers()[1].from(),
            p.tiers()[1].to(),
            p.tiers()[1].amount().amount()
        ),
        (dec!(1000000), None, dec!(0.000004))
    );
    assert_eq!(p.tiers()[0].to(), Some(dec!(1000000)));
}

#[test]
fn tiers_packs_and_savings_plans_normalise() {
    let mut tier0 = item("DZH318Z0BNVX/003P", "m-blob", json!(0.0208));
    let mut tier1 = item("DZH318Z0BNVX/003P", "m-blob", json!(0.02));
    for (t, min) in [(&mut tier0, json!(0.0)), (&mut tier1, json!(51200.0))] {
        t["tierMinimumUnits"] = min;
        t["serviceName"] = json!("Storage");
        t["productName"] = json!("Blob Storage");
        t["skuName"] = json!("Hot LRS");
        t["unitOfMeasure"] = json!("1 GB/Month");
        t["savingsPlan"] = json!([]);
    }
    let mut ops = item("DZH318Z0BNVX/003Q", "m-ops", json!(0.065));
    ops["serviceName"] = json!("Storage");
    ops["productName"] = json!("Blob Storage");
    ops["skuName"] = json!("Hot LRS");
    ops["unitOfMeasure"] = json!("10K");
    ops["savingsPlan"] = json!([]);
    let body = envelope(
        vec![
            tier1,
            item("DZH318Z0BPZ5/00QK", "m-vm", json!(0.096)),
            tier0,
            ops,
        ],
        None,
    );
    let page = clean_page(azure::import(body.to_string().as_bytes(), &ctx()));
    assert_eq!(page.listings.len(), 3);

    let blob = find_listing(&page.listings, "DZH318Z0BNVX/003P:m-blob:Consumption");
    assert_eq!(blob.category().as_str(), "storage.object");
    let p = &blob.prices()[0];
    assert_eq!(p.unit(), PriceUnit::GbMonth);
    assert_eq!(p.tiers().len(), 2);
    assert_eq!(
        (
            p.tiers()[0].from(),
            p.tiers()[0].to(),
            p.tiers()[0].amount().amount()
        ),
        (dec!(0), Some(dec!(51200)), dec!(0.0208))
    );
    assert_eq!(
        (
            p.tiers()[1].from(),
            p.tiers()[1].to(),
            p.tiers()[1].amount().amount()
        ),
        (dec!(51200), None, dec!(0.02))
    );

    let ops = find_listing(&page.listings, "DZH318Z0BNVX/003Q:m-ops:Consumption");
    assert_eq!(ops.prices()[0].unit(), PriceUnit::Request);
    assert_eq!(
        ops.prices()[0].amount().amount(),
        dec!(0.0000065),
        "0.065 per 10K is 0.0000065 per request"
    );

    let vm = find_listing(&page.listings, "DZH318Z0BPZ5/00QK:m-vm:Consumption");
    assert_eq!(vm.prices().len(), 3);
    assert_eq!(vm.prices()[0].billing_mode(), BillingMode::OnDemand);
    assert_eq!(vm.prices()[0].amount().amount(), dec!(0.096));
    let sp3 = vm
        .prices()
        .iter()
        .find(|p| p.billing_mode() == BillingMode::Reserved { term_months: 36 })
        .unwrap();
    assert_eq!(
        (sp3.unit(), sp3.amount().amount(), sp3.component()),
        (PriceUnit::Hour, dec!(0.0452), Some("savings_plan"))
    );
}

#[test]
fn bad_items_are_rejected_and_the_rest_goes_on() {
    let not_a_number = item("S/1", "m-nan", json!("abc"));
    let mut unknown_currency = item("S/2", "m-xyz", json!(0.1));
    unknown_currency["currencyCode"] = json!("XYZ");
    let mut no_sku = item("S/3", "m-nosku", json!(0.1));
    no_sku.as_object_mut().unwrap().remove("skuId");
    let mut unknown_region = item("S/4", "m-mars", json!(0.1));
    unknown_region["armRegionName"] = json!("marsnorth");
    let body = envelope(
        vec![
            not_a_number,
            unknown_currency,
            no_sku,
            unknown_region,
            item("S/5", "m-good", json!(0.2)),
        ],
        None,
    );
    let page = azure::import(body.to_string().as_bytes(), &ctx()).unwrap();
    assert_eq!(page.listings.len(), 2);
    assert_kept_unknown_region(&page, "marsnorth");
    assert_eq!(page.listings[1].vendor_sku(), "S/5:m-good:Consumption");
    let find = |key: &str| rejection_reason(&page.rejections, key);
    assert!(find("S/1:m-nan:Consumption").contains("not a number"));
    assert!(find("S/2:m-xyz:Consumption").contains("unknown currency `XYZ`"));
    assert!(find("m-nosku").contains("missing skuId"));
    assert_eq!(page.rejections.len(), 3);
}

#[test]
fn unreadable_pages_fail() {
    let body = envelope(vec![item("S/5", "m-good", json!(0.2))], None).to_string();
    assert!(matches!(
        azure::import(&body.as_bytes()[..body.len() - 30], &ctx()),
        Err(ConnectorError::Malformed { .. })
    ));
    let err = azure::import(
        br#"{"Error":{"Code":"InvalidFilter","Message":"bad $filter"}}"#,
        &ctx(),
    )
    .unwrap_err();
    assert!(matches!(err, ConnectorError::Vendor { code, .. } if code == "InvalidFilter"));
    assert!(matches!(
        azure::import(br#"{"hello": 1}"#, &ctx()),
        Err(ConnectorError::Malformed { .. })
    ));
}

#[tokio::test]
async fn live_sync_follows_next_page_links_through_throttling() {
    let server = MockServer::start().await;
    let responder = WithFaults::new(&[(0, 429), (2, 500)], |request: &Request| {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("api-version").as_deref(), Some("2023-01-01-preview"));
        let filter = get("$filter").unwrap();
        let skip = get("$skip");
        let region = if filter.contains("'westeurope'") {
            "westeurope"
        } else {
            "eastus"
        };
        assert!(
            filter.starts_with("serviceName eq 'Virtual Machines' and armRegionName eq "),
            "{filter}"
        );
        let link = |n: u32| {
            Some(format!(
                "https://prices.azure.com/api/retail/prices?api-version=2023-01-01-preview&$filter={}&$skip={n}",
                filter.replace(' ', "%20")
            ))
        };
        let one = |sku: &str| {
            let mut i = item(sku, &format!("meter-{sku}"), json!(0.5));
            i["armRegionName"] = json!(region);
            i
        };
        let body = match (region, skip.as_deref()) {
            ("eastus", None) => envelope(vec![one("A/1"), one("A/2")], link(2)),
            ("eastus", Some("2")) => envelope(vec![one("A/3")], link(3)),
            ("eastus", Some("3")) => envelope(vec![one("A/4")], None),
            ("westeurope", None) => envelope(vec![one("B/1")], None),
            other => panic!("unexpected {other:?}"),
        };
        ResponseTemplate::new(200).set_body_json(body)
    });
    Mock::given(method("GET"))
        .and(path("/api/retail/prices"))
        .respond_with(responder)
        .mount(&server)
        .await;
    let mut settings = settings_for(&server.uri());
    settings.services = vec!["Virtual Machines".into()];
    settings.regions = vec!["eastus".into(), "westeurope".into()];
    let connector = live_connector(Vendor::Azure, &settings);
    let drained = drain_all(connector.as_ref()).await;
    assert_eq!(drained.pages.len(), 4);
    assert_eq!(
        drained.skus(),
        [
            "A/1:meter-A/1:Consumption",
            "A/2:meter-A/2:Consumption",
            "A/3:meter-A/3:Consumption",
            "A/4:meter-A/4:Consumption",
            "B/1:meter-B/1:Consumption"
        ]
    );
    assert_eq!(
        drained.pages[3].listings[0].region().geography.to_string(),
        "nl/amsterdam"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 6, "4 pages + one 429 + one 500");
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("authorization").is_none()),
        "the API is unauthenticated"
    );
    // Resume from a saved token.
    let resumed = connector
        .fetch_page(drained.pages[1].next_token.as_deref())
        .await
        .unwrap();
    // A/3 ended page two, so it was held back in the token in case its
    // tiers went on; the resumed page brings it with A/4.
    let skus: Vec<&str> = resumed.listings.iter().map(|l| l.vendor_sku()).collect();
    assert_eq!(
        skus,
        ["A/3:meter-A/3:Consumption", "A/4:meter-A/4:Consumption"]
    );
}

#[tokio::test]
async fn tiers_split_across_pages_become_one_listing() {
    let server = MockServer::start().await;
    let tier = |min: f64, price: f64| {
        let mut t = item("C/1", "meter-egress", json!(price));
        t["tierMinimumUnits"] = json!(min);
        t["unitOfMeasure"] = json!("1 GB");
        t
    };
    let link = "https://prices.azure.com/api/retail/prices?$skip=2".to_owned();
    Mock::given(method("GET"))
        .and(query_param_is_missing("$skip"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(
            vec![
                item("D/1", "meter-vm", json!(0.2)),
                tier(0.0, 0.087),
                tier(10240.0, 0.083),
            ],
            Some(link),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("$skip", "2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(envelope(vec![tier(51200.0, 0.07)], None)),
        )
        .mount(&server)
        .await;
    let mut settings = settings_for(&server.uri());
    settings.services = vec!["Virtual Machines".into()];
    settings.regions = vec!["westeurope".into()];
    let connector = live_connector(Vendor::Azure, &settings);
    let drained = drain_all(connector.as_ref()).await;
    assert_eq!(
        drained.skus(),
        ["D/1:meter-vm:Consumption", "C/1:meter-egress:Consumption"]
    );
    let egress = find_listing(&drained.listings, "C/1:meter-egress:Consumption");
    let froms: Vec<Decimal> = egress.prices()[0]
        .tiers()
        .iter()
        .map(|t| t.from())
        .collect();
    assert_eq!(
        froms,
        [dec!(0), dec!(10240), dec!(51200)],
        "all three tiers in one listing"
    );
}

#[test]
fn overflowing_packs_terms_and_tier_bounds_are_rejected() {
    let mut huge_pack = item("SKU/HUGE", "m-huge", json!(0.1));
    huge_pack["unitOfMeasure"] = json!("79228162514264337593543950335K");
    let mut huge_tb = item("SKU/HUGETB", "m-hugetb", json!(0.1));
    huge_tb["unitOfMeasure"] = json!("79228162514264337593543950335 TB");
    let mut long_term = item("SKU/TERM", "m-term", json!(1000));
    long_term["type"] = json!("Reservation");
    long_term["reservationTerm"] = json!("5462 Years");
    let mut long_plan = item("SKU/PLAN", "m-plan", json!(0.1));
    long_plan["savingsPlan"] =
        json!([{"unitPrice": 0.05, "retailPrice": 0.05, "term": "5462 Years"}]);
    let mut huge_tier = item("SKU/TIER", "m-tier", json!(0.1));
    huge_tier["unitOfMeasure"] = json!("10K");
    huge_tier["tierMinimumUnits"] = json!("79228162514264337593543950335");
    let body = envelope(
        vec![
            huge_pack,
            huge_tb,
            long_term,
            long_plan,
            huge_tier,
            item("SKU/GOOD", "m-good", json!(0.096)),
        ],
        None,
    );
    let page = azure::import(body.to_string().as_bytes(), &ctx()).unwrap();
    assert_eq!(page.listings.len(), 1, "{:?}", page.rejections);
    assert_eq!(page.listings[0].vendor_sku(), "SKU/GOOD:m-good:Consumption");
    let reasons: Vec<&str> = page.rejections.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert_eq!(
        reasons.iter().filter(|r| r.contains("too large")).count(),
        2,
        "{reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| r.contains("too long")).count(),
        2,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("tier bound overflow")),
        "{reasons:?}"
    );
}
