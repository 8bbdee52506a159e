//! AWS: the Price List Query API (`GetProducts`) live, and saved
//! `GetProducts` responses or Bulk API offer files on import.
//!
//! Live sync walks every configured service × region pair
//! (`settings.services`, default `AmazonEC2` and `AmazonS3`;
//! `settings.regions`, default `us-east-1`), filtering `GetProducts` on
//! `regionCode`, 100 products per request, following `NextToken`. The page
//! token is a small JSON object naming the service, region and AWS
//! `NextToken`, so a failed run resumes at the exact request that failed.
//! Requests are SigV4-signed (service `pricing`, region `us-east-1`) afresh
//! for every attempt.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use shiyun_core::listing::Vendor;

use crate::http::{BuildRequest, VendorClient, VendorResponse, Verdict};
use crate::paging::{encode_token, resume_at};
use crate::settings::VendorSettings;
use crate::signing::aws_sigv4::{self, AwsCredentials, SigV4Params};
use crate::{ConnectorError, FetchedPage, ImportContext};

pub mod offer_file;
pub mod regions;
pub mod transformers;

use transformers::{AwsErrorBody, GetProductsResponse, normalise_get_products};

/// The public Price List Query API endpoint (it only lives in a few regions).
pub const DEFAULT_ENDPOINT: &str = "https://api.pricing.us-east-1.amazonaws.com";
/// SigV4 signing name of the Price List API.
pub const SIGNING_SERVICE: &str = "pricing";
/// SigV4 region of the Price List API endpoint.
pub const SIGNING_REGION: &str = "us-east-1";
/// `X-Amz-Target` of `GetProducts`.
pub const GET_PRODUCTS_TARGET: &str = "AWSPriceListService.GetProducts";
/// Services synced when `settings.services` is empty.
pub const DEFAULT_SERVICES: &[&str] = &["AmazonEC2", "AmazonS3"];
/// Regions synced when `settings.regions` is empty.
pub const DEFAULT_REGIONS: &[&str] = &["us-east-1"];
/// Products per `GetProducts` request (the API's maximum).
pub const MAX_RESULTS: u32 = 100;

fn malformed(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: Vendor::Aws,
        message: message.into(),
    }
}

/// Just enough of a body to tell which API returned it.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "PriceList")]
    price_list: Option<serde::de::IgnoredAny>,
    #[serde(rename = "Services")]
    services: Option<serde::de::IgnoredAny>,
    products: Option<serde::de::IgnoredAny>,
    #[serde(rename = "__type")]
    error_type: Option<serde::de::IgnoredAny>,
}

/// Normalises a saved AWS response: a `GetProducts` page, a Bulk API offer
/// file (read with the streaming parser, gathered into one page), or an
/// error envelope (`__type`), which is returned as the error it is.
/// No `--param` is needed: every document carries its SKU and region.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let probe: Probe = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not an AWS Price List response: {e}")))?;
    if probe.error_type.is_some() {
        return Err(error_from_body(200, body));
    }
    if probe.price_list.is_some() {
        let response: GetProductsResponse = serde_json::from_slice(body)
            .map_err(|e| malformed(format!("GetProducts response: {e}")))?;
        let normalised = normalise_get_products(&response, ctx.fetched_at);
        return Ok(FetchedPage {
            listings: normalised.listings,
            rejections: normalised.rejections,
            next_token: None,
            ..FetchedPage::default()
        });
    }
    if probe.products.is_some() {
        let mut all = FetchedPage::default();
        offer_file::stream_offer_file(body, ctx, |page| {
            all.absorb(page);
            Ok(())
        })?;
        return Ok(all);
    }
    if probe.services.is_some() {
        return Err(malformed(
            "a DescribeServices response lists services, not prices: import GetProducts responses or offer files",
        ));
    }
    Err(malformed(
        "neither a GetProducts response (PriceList) nor an offer file (products, terms)",
    ))
}

/// The error a non-success response (or an error envelope) stands for.
fn error_from_body(status: u16, body: &[u8]) -> ConnectorError {
    match serde_json::from_slice::<AwsErrorBody>(body) {
        Ok(error) => {
            let refused = error.is_credentials_error();
            let code = error.code().to_owned();
            ConnectorError::from_vendor(
                Vendor::Aws,
                code,
                error.message.unwrap_or_default(),
                refused,
            )
        }
        Err(_) if status == 401 || status == 403 => ConnectorError::CredentialsRejected {
            vendor: Vendor::Aws,
            message: format!("HTTP {status}"),
        },
        Err(_) => ConnectorError::Http {
            vendor: Vendor::Aws,
            status,
            message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        },
    }
}

/// Reads AWS's JSON 1.1 error bodies: throttling is retried, refused
/// credentials (a 400 `UnrecognizedClientException`, not a 401) and other
/// coded errors fail at once with what they are.
fn classify(_vendor: Vendor, response: &VendorResponse) -> Option<Verdict> {
    if response.status < 400 {
        return None;
    }
    let error = serde_json::from_slice::<AwsErrorBody>(&response.body).ok()?;
    if matches!(
        error.code(),
        "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded"
    ) {
        return Some(Verdict::Retry);
    }
    if response.status >= 500 || response.status == 429 {
        return None;
    }
    Some(Verdict::Fail(error_from_body(
        response.status,
        &response.body,
    )))
}

/// Where a sync is: the service and region being paged and AWS's `NextToken`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PageToken {
    service: String,
    region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Live AWS connector over the Price List Query API.
#[derive(Debug)]
pub struct AwsConnector {
    client: VendorClient,
    endpoint: String,
    credentials: AwsCredentials,
    services: Vec<String>,
    regions: Vec<String>,
}

impl AwsConnector {
    /// A connector using `settings`; AWS needs an access key id and secret.
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        let (key_id, secret) = settings.credentials(
            Vendor::Aws,
            "set access_key_id and secret_access_key (the Price List API is SigV4-signed)",
        )?;
        Ok(AwsConnector {
            client: client.with_classifier(Arc::new(classify)),
            endpoint: settings.endpoint_or(DEFAULT_ENDPOINT, Vendor::Aws)?,
            credentials: AwsCredentials::new(key_id, secret),
            services: settings.services_or(DEFAULT_SERVICES),
            regions: settings.regions_or(DEFAULT_REGIONS),
        })
    }

    fn first_position(&self) -> Option<PageToken> {
        Some(PageToken {
            service: self.services.first()?.clone(),
            region: self.regions.first()?.clone(),
            next: None,
        })
    }

    /// The service × region pair after `at`, if any.
    fn position_after(&self, at: &PageToken) -> Option<PageToken> {
        let pairs: Vec<(&String, &String)> = self
            .services
            .iter()
            .flat_map(|s| self.regions.iter().map(move |r| (s, r)))
            .collect();
        let index = pairs
            .iter()
            .position(|(s, r)| **s == at.service && **r == at.region)?;
        pairs.get(index + 1).map(|(s, r)| PageToken {
            service: (*s).clone(),
            region: (*r).clone(),
            next: None,
        })
    }

    async fn get_products(&self, at: &PageToken) -> Result<VendorResponse, ConnectorError> {
        let mut request = serde_json::json!({
            "ServiceCode": at.service,
            "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": at.region}],
            "FormatVersion": "aws_v1",
            "MaxResults": MAX_RESULTS,
        });
        if let Some(next) = &at.next {
            request["NextToken"] = serde_json::Value::String(next.clone());
        }
        let body =
            serde_json::to_vec(&request).map_err(|e| ConnectorError::Request(e.to_string()))?;
        let url = format!("{}/", self.endpoint);
        self.client
            .execute(|http| {
                let mut request = http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/x-amz-json-1.1")
                    .header("X-Amz-Target", GET_PRODUCTS_TARGET)
                    .body(body.clone())
                    .build_request()?;
                // Signed per attempt: the signature covers X-Amz-Date.
                let params = SigV4Params::new(
                    &self.credentials,
                    SIGNING_REGION,
                    SIGNING_SERVICE,
                    Utc::now(),
                );
                aws_sigv4::sign_request(&mut request, &params)?;
                Ok(request)
            })
            .await
    }
}

#[async_trait::async_trait]
impl crate::Connector for AwsConnector {
    fn vendor(&self) -> Vendor {
        Vendor::Aws
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        let Some(at) = resume_at::<PageToken>(Vendor::Aws, token, || self.first_position())? else {
            return Ok(FetchedPage::default());
        };
        let response = self.get_products(&at).await?;
        if !(200..300).contains(&response.status) {
            return Err(error_from_body(response.status, &response.body));
        }
        let page: GetProductsResponse = serde_json::from_slice(&response.body)
            .map_err(|e| malformed(format!("GetProducts response: {e}")))?;
        let normalised = normalise_get_products(&page, Utc::now());
        let next = match page.next_token.filter(|t| !t.is_empty()) {
            Some(next) => Some(PageToken {
                next: Some(next),
                ..at
            }),
            None => self.position_after(&at),
        };
        let next_token = encode_token(next)?;
        Ok(FetchedPage {
            listings: normalised.listings,
            rejections: normalised.rejections,
            next_token,
            ..FetchedPage::default()
        })
    }
}
