//! AWS: the real Price List samples, a live sync against a local server
//! speaking the Price List Query API, bad records, and offer-file streaming.

use rust_decimal_macros::dec;
use secrecy::SecretString;
use serde_json::json;
use shiyun_connectors::aws;
use shiyun_connectors::aws::offer_file::{stream_offer_file, stream_offer_file_with_batch};
use shiyun_connectors::{ConnectorError, FetchedPage, VendorSettings};
use shiyun_core::listing::{Architecture, BillingMode, Listing, PriceUnit, Vendor};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    WithFaults, assert_all_signed, assert_credentials_rejected, assert_identity,
    assert_kept_unknown_region, assert_money, assert_names_vendor_and_city, assert_texts_clean,
    clean_page, connector_error, ctx, drain_all, find_listing, live_connector, mount_answer,
    settings_for, vendor_fixture,
};

#[test]
fn get_products_sample_is_exact() {
    let page = clean_page(aws::import(
        &vendor_fixture("aws", "pricing-getproducts-ec2-ebs-piops-ca-central-1.json"),
        &ctx(),
    ));
    assert_eq!(page.listings.len(), 1);
    let l = &page.listings[0];
    assert_identity(
        l,
        Vendor::Aws,
        "WQGC34PB2AWS8R4U.JRTCKXETXF",
        "storage.block",
        "ebs",
        "ca-central-1",
        "ca/montreal",
    );
    assert_eq!(
        l.name().en.as_deref(),
        Some(
            "Amazon Web Services EBS Provisioned IOPS volume storage · Canada (Central, Montreal)"
        )
    );
    assert!(l.name().zh.as_deref().unwrap().contains("块存储"));
    assert_names_vendor_and_city(l, "蒙特利尔", "Montreal");
    assert_texts_clean(&page.listings);
    assert_eq!(l.prices().len(), 1);
    let p = &l.prices()[0];
    assert_eq!(p.billing_mode(), BillingMode::OnDemand);
    assert_eq!(p.unit(), PriceUnit::GbMonth);
    assert_eq!(p.amount().amount(), dec!(0.138));
    assert_money(p.amount(), "0.1380000000", "USD");
    assert!(p.tiers().is_empty());
    assert_eq!(l.provenance().vendor_api, "aws.pricing.GetProducts");
    assert_eq!(l.provenance().fetched_at, ctx().fetched_at);
    assert_eq!(l.provenance().raw_hash.len(), 64);
}

#[test]
fn describe_services_is_recognised_but_has_no_prices() {
    let err = aws::import(
        &vendor_fixture("aws", "pricing-describeservices-ec2.json"),
        &ctx(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Malformed { message, .. } if message.contains("DescribeServices")),
        "{err}"
    );
}

/// One `PriceList` document (as the API sends it: a JSON string) of an EC2 instance.
fn ec2_doc(sku: &str, instance_type: &str, region: &str, hourly: &str, reserved: bool) -> String {
    let mut terms = json!({
        "OnDemand": {
            format!("{sku}.JRTCKXETXF"): {
                "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-01-01T00:00:00Z", "termAttributes": {},
                "priceDimensions": {
                    format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                        "unit": "Hrs", "beginRange": "0", "endRange": "Inf", "appliesTo": [],
                        "description": format!("${hourly} per On Demand Linux {instance_type} Instance Hour"),
                        "rateCode": format!("{sku}.JRTCKXETXF.6YS6EN2CT7"),
                        "pricePerUnit": {"USD": hourly}
                    }
                }
            }
        }
    });
    if reserved {
        terms["Reserved"] = json!({
            format!("{sku}.38NPMPTW36"): {
                "offerTermCode": "38NPMPTW36", "sku": sku, "effectiveDate": "2026-01-01T00:00:00Z",
                "termAttributes": {"LeaseContractLength": "3yr", "OfferingClass": "standard", "PurchaseOption": "Partial Upfront"},
                "priceDimensions": {
                    format!("{sku}.38NPMPTW36.2TG2D8R56U"): {
                        "unit": "Quantity", "description": "Upfront Fee", "appliesTo": [],
                        "rateCode": format!("{sku}.38NPMPTW36.2TG2D8R56U"), "pricePerUnit": {"USD": "1069"}
                    },
                    format!("{sku}.38NPMPTW36.6YS6EN2CT7"): {
                        "unit": "Hrs", "beginRange": "0", "endRange": "Inf", "appliesTo": [],
                        "description": "Linux/UNIX (Amazon VPC), m5.large reserved instance applied",
                        "rateCode": format!("{sku}.38NPMPTW36.6YS6EN2CT7"), "pricePerUnit": {"USD": "0.0410000000"}
                    }
                }
            }
        });
    }
    let gpu = if instance_type.starts_with("p4d") {
        "8"
    } else {
        "0"
    };
    json!({
        "product": {
            "productFamily": "Compute Instance",
            "sku": sku,
            "attributes": {
                "servicecode": "AmazonEC2", "regionCode": region, "location": "US East (N. Virginia)", "locationType": "AWS Region",
                "instanceType": instance_type, "vcpu": "2", "memory": "8 GiB", "gpu": gpu, "storage": "EBS only",
                "networkPerformance": "Up to 10 Gigabit", "physicalProcessor": "Intel Xeon Platinum 8175",
                "processorArchitecture": "64-bit", "operatingSystem": "Linux", "tenancy": "Shared",
                "preInstalledSw": "NA", "licenseModel": "No License required", "capacitystatus": "Used",
                "usagetype": format!("BoxUsage:{instance_type}")
            }
        },
        "serviceCode": "AmazonEC2",
        "terms": terms,
        "version": "20260101000000",
        "publicationDate": "2026-01-01T00:00:00Z"
    })
    .to_string()
}

#[test]
fn instances_reserved_terms_and_tiers_normalise() {
    let s3 = json!({
        "product": {"productFamily": "Storage", "sku": "WP9ANXZGBYYSGJEA", "attributes": {
            "servicecode": "AmazonS3", "location": "EU (Frankfurt)", "volumeType": "Standard", "storageClass": "General Purpose"}},
        "terms": {"OnDemand": {"WP9ANXZGBYYSGJEA.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "termAttributes": {}, "priceDimensions": {
            "a": {"unit": "GB-Mo", "beginRange": "51200", "endRange": "512000", "pricePerUnit": {"USD": "0.0235000000"}},
            "b": {"unit": "GB-Mo", "beginRange": "0", "endRange": "51200", "pricePerUnit": {"USD": "0.0245000000"}},
            "c": {"unit": "GB-Mo", "beginRange": "512000", "endRange": "Inf", "pricePerUnit": {"USD": "0.0225000000"}}
        }}}}
    })
    .to_string();
    let body = json!({
        "FormatVersion": "aws_v1",
        "PriceList": [ec2_doc("SKUM5LARGE", "m5.large", "us-east-1", "0.0960000000", true), ec2_doc("SKUP4D", "p4d.24xlarge", "us-east-1", "32.7726000000", false), s3],
    });
    let page = clean_page(aws::import(body.to_string().as_bytes(), &ctx()));
    assert_eq!(page.listings.len(), 4);

    let od = find_listing(&page.listings, "SKUM5LARGE.JRTCKXETXF");
    assert_eq!(od.category().as_str(), "compute.vm");
    assert_eq!(od.service(), "ec2");
    assert_eq!(od.region().geography.to_string(), "us/ashburn");
    assert_eq!(od.specs().vcpu, Some(2));
    assert_eq!(od.specs().memory_gib, Some(dec!(8)));
    assert_eq!(od.specs().architecture, Some(Architecture::X86_64));
    assert_eq!(od.specs().os.as_deref(), Some("linux"));
    assert_eq!(od.specs().bandwidth_mbps, None, "`Up to` is a burst");
    assert_eq!(od.prices()[0].unit(), PriceUnit::Hour);
    assert_eq!(od.prices()[0].amount().amount(), dec!(0.096));

    let ri = find_listing(&page.listings, "SKUM5LARGE.38NPMPTW36");
    assert_eq!(ri.prices().len(), 2);
    let upfront = ri
        .prices()
        .iter()
        .find(|p| p.unit() == PriceUnit::Term)
        .unwrap();
    assert_eq!(
        upfront.billing_mode(),
        BillingMode::Reserved { term_months: 36 }
    );
    assert_eq!(upfront.component(), Some("upfront"));
    assert_eq!(upfront.amount().amount(), dec!(1069));
    let hourly = ri
        .prices()
        .iter()
        .find(|p| p.unit() == PriceUnit::Hour)
        .unwrap();
    assert_eq!(
        hourly.billing_mode(),
        BillingMode::Reserved { term_months: 36 }
    );
    assert_eq!(hourly.amount().amount(), dec!(0.041));
    assert!(ri.tags().contains("purchase_option:partial_upfront"));

    let gpu = find_listing(&page.listings, "SKUP4D.JRTCKXETXF");
    assert_eq!(gpu.category().as_str(), "compute.gpu");
    assert_eq!(gpu.specs().gpu_count, Some(8));
    assert_eq!(gpu.specs().gpu_model.as_deref(), Some("NVIDIA A100"));

    let s3 = find_listing(&page.listings, "WP9ANXZGBYYSGJEA.JRTCKXETXF");
    assert_eq!(s3.category().as_str(), "storage.object");
    assert_eq!(s3.region().geography.to_string(), "de/frankfurt");
    let tiers = &s3.prices()[0].tiers();
    assert_eq!(tiers.len(), 3);
    assert_eq!(
        (tiers[0].from(), tiers[0].to(), tiers[0].amount().amount()),
        (dec!(0), Some(dec!(51200)), dec!(0.0245))
    );
    assert_eq!(
        (tiers[2].from(), tiers[2].to(), tiers[2].amount().amount()),
        (dec!(512000), None, dec!(0.0225))
    );
    assert_eq!(s3.prices()[0].unit(), PriceUnit::GbMonth);
}

#[test]
fn bad_records_are_rejected_and_the_rest_goes_on() {
    let not_a_number = ec2_doc("SKUNAN", "m5.large", "us-east-1", "abc", false);
    let unknown_currency =
        ec2_doc("SKUXYZ", "m5.large", "us-east-1", "0.1", false).replace("\"USD\"", "\"XYZ\"");
    let mut no_sku: serde_json::Value =
        serde_json::from_str(&ec2_doc("SKUNONE", "m5.large", "us-east-1", "0.1", false)).unwrap();
    no_sku["product"].as_object_mut().unwrap().remove("sku");
    let unknown_region = ec2_doc("SKUMARS", "m5.large", "mars-north-1", "0.1", false);
    let body = json!({
        "PriceList": [not_a_number, unknown_currency, no_sku.to_string(), unknown_region, ec2_doc("SKUGOOD", "m5.large", "us-east-1", "0.0960000000", false)]
    });
    let page = aws::import(body.to_string().as_bytes(), &ctx()).unwrap();
    assert_eq!(page.listings.len(), 2);
    assert_kept_unknown_region(&page, "mars-north-1");
    assert_eq!(page.listings[1].vendor_sku(), "SKUGOOD.JRTCKXETXF");
    let reasons: Vec<(&str, &str)> = page
        .rejections
        .iter()
        .map(|r| (r.vendor_key.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].0 == "SKUNAN.JRTCKXETXF" && reasons[0].1.contains("not a number"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == "SKUXYZ.JRTCKXETXF" && reasons[1].1.contains("unknown currency `XYZ`"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].0 == "PriceList[2]" && reasons[2].1.contains("missing product sku"),
        "{reasons:?}"
    );
}

#[test]
fn unreadable_pages_and_error_envelopes_fail_the_page() {
    let fixture = vendor_fixture("aws", "pricing-getproducts-ec2-ebs-piops-ca-central-1.json");
    let truncated = &fixture[..fixture.len() / 2];
    assert!(matches!(
        aws::import(truncated, &ctx()),
        Err(ConnectorError::Malformed { .. })
    ));
    let denied = br#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#;
    assert!(matches!(
        aws::import(denied, &ctx()),
        Err(ConnectorError::CredentialsRejected { .. })
    ));
    let throttled = br#"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#;
    assert!(
        matches!(aws::import(throttled, &ctx()), Err(ConnectorError::Vendor { code, .. }) if code == "ThrottlingException")
    );
}

#[test]
fn missing_credentials_are_reported() {
    assert!(matches!(
        connector_error(Vendor::Aws, &VendorSettings::default()),
        ConnectorError::MissingCredentials { .. }
    ));
}

#[tokio::test]
async fn live_sync_pages_through_throttling_and_errors_signed() {
    let server = MockServer::start().await;
    // Pages: (AmazonEC2, us-east-1) p1 -> t2 -> t3, then (AmazonEC2, eu-central-1) p1.
    let responder = WithFaults::new(&[(0, 429), (2, 500)], |request: &Request| {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["ServiceCode"], "AmazonEC2");
        assert_eq!(body["Filters"][0]["Field"], "regionCode");
        let region = body["Filters"][0]["Value"].as_str().unwrap().to_owned();
        let (docs, next) = match (region.as_str(), body["NextToken"].as_str()) {
            ("us-east-1", None) => (
                vec![ec2_doc("SKU1", "m5.large", "us-east-1", "0.096", true)],
                Some("t2"),
            ),
            ("us-east-1", Some("t2")) => (
                vec![ec2_doc("SKU2", "m5.xlarge", "us-east-1", "0.192", false)],
                Some("t3"),
            ),
            ("us-east-1", Some("t3")) => (
                vec![ec2_doc("SKU3", "c5.large", "us-east-1", "0.085", false)],
                None,
            ),
            ("eu-central-1", None) => (
                vec![ec2_doc("SKU4", "m5.large", "eu-central-1", "0.115", false)],
                None,
            ),
            other => panic!("unexpected request {other:?}"),
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"FormatVersion": "aws_v1", "PriceList": docs, "NextToken": next}))
    });
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("x-amz-target", "AWSPriceListService.GetProducts"))
        .and(header("content-type", "application/x-amz-json-1.1"))
        .respond_with(responder)
        .mount(&server)
        .await;
    let mut settings = settings_for(&server.uri());
    settings.access_key_id = Some("AKIDEXAMPLE".into());
    settings.secret_access_key = Some(SecretString::from(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    ));
    settings.services = vec!["AmazonEC2".into()];
    settings.regions = vec!["us-east-1".into(), "eu-central-1".into()];
    let connector = live_connector(Vendor::Aws, &settings);
    let drained = drain_all(connector.as_ref()).await;
    assert_eq!(drained.pages.len(), 4);
    assert_eq!(
        drained.skus(),
        [
            "SKU1.JRTCKXETXF",
            "SKU1.38NPMPTW36",
            "SKU2.JRTCKXETXF",
            "SKU3.JRTCKXETXF",
            "SKU4.JRTCKXETXF"
        ]
    );
    let frankfurt = &drained.pages[3].listings[0];
    assert_eq!(frankfurt.region().geography.to_string(), "de/frankfurt");
    assert_eq!(frankfurt.prices()[0].amount().amount(), dec!(0.115));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 6, "4 pages + one 429 + one 500");
    assert_all_signed(
        &requests,
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/",
        &[
            "/us-east-1/pricing/aws4_request",
            "SignedHeaders=",
            "x-amz-target",
        ],
    );
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("x-amz-date").is_some())
    );

    // Refused credentials come back as a 400 with a coded body.
    let denied = MockServer::start().await;
    mount_answer(
        &denied,
        Mock::given(method("POST")),
        ResponseTemplate::new(400).set_body_json(json!({
            "__type": "com.amazon.coral.service#UnrecognizedClientException",
            "message": "The security token included in the request is invalid."
        })),
    )
    .await;
    settings.endpoint = Some(denied.uri());
    let err = live_connector(Vendor::Aws, &settings)
        .fetch_page(None)
        .await
        .unwrap_err();
    assert_credentials_rejected(&err);

    // A run that failed on a page resumes from that page's token.
    let resumed = connector
        .fetch_page(drained.pages[1].next_token.as_deref())
        .await
        .unwrap();
    assert_eq!(resumed.listings[0].vendor_sku(), "SKU3.JRTCKXETXF");
}

/// A reader that returns at most 3 bytes per call.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(3).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn listings_in_order(pages: &[FetchedPage]) -> Vec<Listing> {
    pages.iter().flat_map(|p| p.listings.clone()).collect()
}

fn offer_file() -> String {
    json!({
        "formatVersion": "v1.0",
        "disclaimer": "This pricing list is for informational purposes only.",
        "offerCode": "AmazonEC2",
        "version": "20260101000000",
        "publicationDate": "2026-01-01T00:00:00Z",
        "products": {
            "SKUA": {"sku": "SKUA", "productFamily": "Compute Instance", "attributes": {"servicecode": "AmazonEC2", "regionCode": "ap-northeast-1", "instanceType": "m6g.large", "vcpu": "2", "memory": "8 GiB", "physicalProcessor": "AWS Graviton2 Processor", "operatingSystem": "Linux", "tenancy": "Shared", "capacitystatus": "Used", "networkPerformance": "10 Gigabit"}},
            "SKUB": {"sku": "SKUB", "productFamily": "Storage", "attributes": {"servicecode": "AmazonEC2", "regionCode": "ap-northeast-1", "volumeApiName": "gp3", "volumeType": "General Purpose", "note\\u0021": "a \"quoted\" {brace} [bracket]"}},
            "SKUC": {"sku": "SKUC", "productFamily": "Fee", "attributes": {"servicecode": "AmazonEC2", "regionCode": "ap-northeast-1"}}
        },
        "terms": {
            "OnDemand": {
                "SKUA": {"SKUA.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": "SKUA", "termAttributes": {}, "priceDimensions": {"SKUA.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": "0.0990000000"}}}}},
                "SKUB": {"SKUB.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": "SKUB", "termAttributes": {}, "priceDimensions": {"SKUB.JRTCKXETXF.6YS6EN2CT7": {"unit": "GB-Mo", "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": "0.0960000000"}}}}},
                "SKUC": {"SKUC.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": "SKUC", "termAttributes": {}, "priceDimensions": {}}},
                "SKUZ": {"SKUZ.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": "SKUZ", "termAttributes": {}, "priceDimensions": {}}}
            },
            "Reserved": {
                "SKUA": {"SKUA.4NA7Y494T4": {"offerTermCode": "4NA7Y494T4", "sku": "SKUA", "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "convertible", "PurchaseOption": "All Upfront"}, "priceDimensions": {
                    "SKUA.4NA7Y494T4.2TG2D8R56U": {"unit": "Quantity", "pricePerUnit": {"USD": "555"}},
                    "SKUA.4NA7Y494T4.6YS6EN2CT7": {"unit": "Hrs", "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": "0.0000000000"}}}}}
            },
            "savingsPlan": []
        }
    })
    .to_string()
}

#[test]
fn offer_files_stream_in_batches() {
    let text = offer_file();
    let mut pages = Vec::new();
    let summary = stream_offer_file_with_batch(text.as_bytes(), &ctx(), 2, |page| {
        pages.push(page);
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.offer_code.as_deref(), Some("AmazonEC2"));
    assert_eq!(
        (summary.products, summary.listings, summary.rejections),
        (3, 3, 2)
    );
    assert!(
        pages
            .iter()
            .all(|p| p.listings.len() + p.rejections.len() <= 2)
    );
    let listings: Vec<Listing> = pages.iter().flat_map(|p| p.listings.clone()).collect();
    let rejections: Vec<_> = pages.iter().flat_map(|p| p.rejections.clone()).collect();
    let arm = find_listing(&listings, "SKUA.JRTCKXETXF");
    assert_eq!(arm.specs().architecture, Some(Architecture::Arm64));
    assert_eq!(arm.specs().bandwidth_mbps, Some(dec!(10000)));
    assert_eq!(arm.region().geography.to_string(), "jp/tokyo");
    assert_eq!(arm.provenance().vendor_api, "aws.pricing.offer_file");
    let ri = find_listing(&listings, "SKUA.4NA7Y494T4");
    assert!(
        ri.prices()
            .iter()
            .all(|p| p.billing_mode() == BillingMode::Reserved { term_months: 12 })
    );
    assert_eq!(
        ri.prices()
            .iter()
            .find(|p| p.unit() == PriceUnit::Term)
            .unwrap()
            .amount()
            .amount(),
        dec!(555)
    );
    let gp3 = find_listing(&listings, "SKUB.JRTCKXETXF");
    assert_eq!(gp3.category().as_str(), "storage.block");
    assert_eq!(gp3.prices()[0].amount().amount(), dec!(0.096));
    assert!(
        rejections
            .iter()
            .any(|r| r.vendor_key == "SKUC" && r.reason.contains("Fee"))
    );
    assert!(
        rejections
            .iter()
            .any(|r| r.vendor_key == "SKUZ.JRTCKXETXF"
                && r.reason.contains("not among the products"))
    );

    // A source that hands out a few bytes at a time cuts records out the same way.
    let trickled = stream_offer_file_with_batch(Trickle(text.as_bytes()), &ctx(), 1000, |page| {
        assert_eq!(page.listings.len(), 3);
        assert_eq!(page.listings, listings_in_order(&pages));
        Ok(())
    })
    .unwrap();
    assert_eq!(trickled, summary);

    // Import reads offer files too; a truncated one is malformed; a callback error stops the stream.
    let page = aws::import(text.as_bytes(), &ctx()).unwrap();
    assert_eq!(page.listings.len(), 3);
    assert!(matches!(
        aws::import(&text.as_bytes()[..text.len() - 40], &ctx()),
        Err(ConnectorError::Malformed { .. })
    ));
    let stopped = stream_offer_file(text.as_bytes(), &ctx(), |_| {
        Err(ConnectorError::Interrupted("full".into()))
    });
    assert!(matches!(stopped, Err(ConnectorError::Interrupted(m)) if m == "full"));
}

#[test]
fn reserved_terms_too_long_for_months_are_rejected() {
    let doc = ec2_doc("SKULONG", "m5.large", "us-east-1", "0.0960000000", true)
        .replace(r#""3yr""#, r#""5462yr""#);
    assert!(doc.contains("5462yr"));
    let body = json!({"PriceList": [doc]});
    let page = aws::import(body.to_string().as_bytes(), &ctx()).unwrap();
    // The on-demand term still imports; the reserved one cannot be in months.
    assert_eq!(page.listings.len(), 1, "{:?}", page.rejections);
    assert_eq!(page.listings[0].vendor_sku(), "SKULONG.JRTCKXETXF");
    assert_eq!(page.rejections.len(), 1);
    assert!(
        page.rejections[0].reason.contains("too long"),
        "{:?}",
        page.rejections
    );
}
