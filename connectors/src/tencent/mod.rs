//! Tencent Cloud (腾讯云) connector.
//!
//! Live sync calls CVM `DescribeZoneInstanceConfigInfos` (API 3.0, TC3-HMAC-SHA256,
//! version 2017-03-12) once per region: its answer already carries each
//! instance type's `Price` in every zone and charge type, so one call is one
//! page. The page token is `{"region_idx":n}`, the index into the configured
//! regions, so a failed run resumes at the region that failed.
//!
//! Saved responses of `DescribeZoneInstanceConfigInfos`, `InquiryPriceRunInstances`
//! and CBS `InquiryPriceCreateDisks` are imported by [`import`]; see
//! [`transformers`] for the `--param` keys the quotes need.

pub mod transformers;

use std::sync::Arc;

use chrono::Utc;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use shiyun_core::listing::Vendor;

use crate::http::{BuildRequest, VendorClient, VendorResponse, Verdict};
use crate::paging::{decode_token, encode_token};
use crate::settings::VendorSettings;
use crate::signing::tencent_tc3::{Tc3Call, Tc3Params, sign_request};
use crate::{ConnectorError, FetchedPage, ImportContext};

const VENDOR: Vendor = Vendor::Tencent;
const CVM_HOST: &str = "https://cvm.tencentcloudapi.com";
const CVM_VERSION: &str = "2017-03-12";
/// Regions synced when the settings name none.
const DEFAULT_REGIONS: &[&str] = &["ap-guangzhou", "ap-shanghai", "ap-beijing"];

/// Normalises one saved Tencent response (see [`transformers`]).
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    transformers::import(body, ctx)
}

/// Where a sync stands: the index of the next region to fetch.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PageToken {
    region_idx: usize,
}

/// Live Tencent connector.
#[derive(Debug)]
pub struct TencentConnector {
    client: VendorClient,
    base_url: String,
    secret_id: String,
    secret_key: SecretString,
    regions: Vec<String>,
    families: Vec<String>,
}

impl TencentConnector {
    /// A connector using `settings`: `access_key_id` is the SecretId,
    /// `secret_access_key` the SecretKey, `services` optional instance
    /// families (`S5`, `SA2`) to restrict the catalog to.
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        let (secret_id, secret_key) = settings.credentials(
            VENDOR,
            "set access_key_id (SecretId) and secret_access_key (SecretKey)",
        )?;
        Ok(TencentConnector {
            client: client.with_classifier(Arc::new(classify)),
            base_url: settings.endpoint_or(CVM_HOST, VENDOR)?,
            secret_id,
            secret_key,
            regions: settings.regions_or(DEFAULT_REGIONS),
            families: settings.services.clone(),
        })
    }

    fn request_body(&self) -> Vec<u8> {
        let body = if self.families.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::json!({"Filters": [{"Name": "instance-family", "Values": self.families}]})
        };
        body.to_string().into_bytes()
    }
}

/// Reads Tencent's error envelope before the status rules: throttling is
/// retried, other error codes fail at once (`AuthFailure.*` as rejected
/// credentials).
fn classify(_vendor: Vendor, response: &VendorResponse) -> Option<Verdict> {
    match transformers::error_code(&response.body) {
        Some(code) if code.starts_with("RequestLimitExceeded") => Some(Verdict::Retry),
        Some(_) => transformers::check_error(&response.body)
            .err()
            .map(Verdict::Fail),
        None => None,
    }
}

/// Maps an HTTP failure: Tencent answers errors with 200 and an envelope,
/// so anything else is the gateway's.
fn check_status(response: &VendorResponse) -> Result<(), ConnectorError> {
    if (200..300).contains(&response.status) {
        return transformers::check_error(&response.body);
    }
    // The body may still be Tencent's error envelope.
    transformers::check_error(&response.body)?;
    let message: String = String::from_utf8_lossy(&response.body)
        .chars()
        .take(200)
        .collect();
    if matches!(response.status, 401 | 403) {
        return Err(ConnectorError::CredentialsRejected {
            vendor: VENDOR,
            message,
        });
    }
    Err(ConnectorError::Http {
        vendor: VENDOR,
        status: response.status,
        message,
    })
}

#[async_trait::async_trait]
impl crate::Connector for TencentConnector {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        // One call is a whole region, so the token has no item index.
        let position: PageToken =
            token.map_or(Ok(PageToken::default()), |t| decode_token(VENDOR, t))?;
        let Some(region) = self.regions.get(position.region_idx) else {
            return Ok(FetchedPage::default());
        };
        let body = self.request_body();
        let url = format!("{}/", self.base_url.trim_end_matches('/'));
        let response = self
            .client
            .execute(|http| {
                let mut request = http
                    .post(&url)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/json; charset=utf-8",
                    )
                    .body(body.clone())
                    .build_request()?;
                // Signed per attempt: the signature covers the timestamp.
                let params = Tc3Params {
                    secret_id: &self.secret_id,
                    secret_key: &self.secret_key,
                    service: "cvm",
                    timestamp: Utc::now().timestamp(),
                };
                let call = Tc3Call {
                    action: "DescribeZoneInstanceConfigInfos",
                    version: CVM_VERSION,
                    region: Some(region),
                    language: Some("zh-CN"),
                };
                sign_request(&mut request, &params, &call)?;
                Ok(request)
            })
            .await?;
        check_status(&response)?;
        let ctx = ImportContext::at(Utc::now());
        let mut page = transformers::import_zone_configs(&response.body, &ctx)?;
        let next = position.region_idx + 1;
        page.next_token =
            encode_token((next < self.regions.len()).then_some(PageToken { region_idx: next }))?;
        Ok(page)
    }
}
