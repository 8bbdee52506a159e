//! Google Cloud: the Cloud Billing Catalog API
//! (`GET https://cloudbilling.googleapis.com/v1/services/{service}/skus`).
//!
//! Live sync pages through the SKUs of each configured service
//! (`settings.services`, default Compute Engine `6F81-5844-456A`) with
//! `pageToken`/`nextPageToken`, authenticating with the API key in
//! `settings.secret_access_key` (sent as `key`). `settings.regions`, when
//! set, keeps only listings in those regions. The page token is a small
//! JSON object naming the service and Google's page token.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use shiyun_core::listing::Vendor;

use crate::http::{BuildRequest, VendorClient, VendorResponse, Verdict};
use crate::paging::{encode_token, resume_at};
use crate::settings::VendorSettings;
use crate::signing::token::apply_api_key_query;
use crate::{ConnectorError, FetchedPage, ImportContext};

pub mod transformers;

use transformers::{GoogleErrorBody, SkuPage, normalise_page};

/// The public Catalog API endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://cloudbilling.googleapis.com";
/// Compute Engine's service id.
pub const COMPUTE_ENGINE: &str = "6F81-5844-456A";
/// SKUs per page (the API's maximum).
pub const PAGE_SIZE: u32 = 5000;

fn malformed(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: Vendor::Gcp,
        message: message.into(),
    }
}

fn error_of(body: &GoogleErrorBody) -> ConnectorError {
    ConnectorError::from_vendor(
        Vendor::Gcp,
        body.error.reason(),
        body.error.message.clone().unwrap_or_default(),
        body.error.is_credentials_error(),
    )
}

#[derive(Deserialize)]
struct Probe {
    skus: Option<serde::de::IgnoredAny>,
    error: Option<serde::de::IgnoredAny>,
    #[serde(rename = "skuId")]
    sku_id: Option<serde::de::IgnoredAny>,
}

/// Normalises a saved Catalog response: a `skus.list` page, a single SKU,
/// or the error envelope (`API_KEY_INVALID` is
/// [`ConnectorError::CredentialsRejected`]). `--param region=<code>` (comma
/// separated) keeps only those regions; nothing else is needed.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let probe: Probe = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a Cloud Billing Catalog response: {e}")))?;
    let only: Vec<String> = ctx
        .param("region")
        .map(|r| {
            r.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if probe.error.is_some() {
        let error: GoogleErrorBody =
            serde_json::from_slice(body).map_err(|e| malformed(format!("error envelope: {e}")))?;
        return Err(error_of(&error));
    }
    let page: SkuPage = if probe.skus.is_some() {
        serde_json::from_slice(body).map_err(|e| malformed(format!("skus page: {e}")))?
    } else if probe.sku_id.is_some() {
        let raw: Box<RawValue> =
            serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
        SkuPage {
            skus: vec![raw],
            next_page_token: None,
        }
    } else {
        return Err(malformed("neither a skus page nor a sku"));
    };
    let normalised = normalise_page(&page, &only, ctx.fetched_at);
    Ok(FetchedPage {
        listings: normalised.listings,
        rejections: normalised.rejections,
        next_token: None,
        ..FetchedPage::default()
    })
}

/// Google reports refused keys as 400 with `API_KEY_INVALID`, and quota as
/// `RESOURCE_EXHAUSTED`: read the body before the status rules do.
fn classify(_vendor: Vendor, response: &VendorResponse) -> Option<Verdict> {
    if response.status < 400 {
        return None;
    }
    let body = serde_json::from_slice::<GoogleErrorBody>(&response.body).ok()?;
    if body.error.is_throttling() {
        return Some(Verdict::Retry);
    }
    if response.status >= 500 || response.status == 429 {
        return None;
    }
    Some(Verdict::Fail(error_of(&body)))
}

/// Where a sync is: the service and Google's page token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PageToken {
    service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
}

/// Live GCP connector over the Cloud Billing Catalog API.
#[derive(Debug)]
pub struct GcpConnector {
    client: VendorClient,
    endpoint: String,
    api_key: secrecy::SecretString,
    services: Vec<String>,
    regions: Vec<String>,
}

impl GcpConnector {
    /// A connector using `settings`; the API key is `secret_access_key`.
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        let api_key = settings.secret(
            Vendor::Gcp,
            "set secret_access_key to a Google API key with the Cloud Billing API enabled",
        )?;
        Ok(GcpConnector {
            client: client.with_classifier(Arc::new(classify)),
            endpoint: settings.endpoint_or(DEFAULT_ENDPOINT, Vendor::Gcp)?,
            api_key,
            services: settings.services_or(&[COMPUTE_ENGINE]),
            regions: settings.regions.clone(),
        })
    }
}

#[async_trait::async_trait]
impl crate::Connector for GcpConnector {
    fn vendor(&self) -> Vendor {
        Vendor::Gcp
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        let first = || {
            self.services.first().map(|service| PageToken {
                service: service.clone(),
                page: None,
            })
        };
        let Some(at) = resume_at(Vendor::Gcp, token, first)? else {
            return Ok(FetchedPage::default());
        };
        let mut url = url::Url::parse(&format!(
            "{}/v1/services/{}/skus",
            self.endpoint, at.service
        ))
        .map_err(|e| ConnectorError::Request(format!("gcp url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("pageSize", &PAGE_SIZE.to_string());
        if let Some(page) = &at.page {
            url.query_pairs_mut().append_pair("pageToken", page);
        }
        let response = self
            .client
            .execute(|http| {
                let mut request = http.get(url.clone()).build_request()?;
                apply_api_key_query(&mut request, "key", &self.api_key);
                Ok(request)
            })
            .await?;
        let page: SkuPage = serde_json::from_slice(&response.body)
            .map_err(|e| malformed(format!("skus page: {e}")))?;
        let next = match page.next_page_token.as_deref().filter(|t| !t.is_empty()) {
            Some(next) => Some(PageToken {
                service: at.service.clone(),
                page: Some(next.to_owned()),
            }),
            None => self
                .services
                .iter()
                .position(|s| *s == at.service)
                .and_then(|i| self.services.get(i + 1))
                .map(|service| PageToken {
                    service: service.clone(),
                    page: None,
                }),
        };
        let next_token = encode_token(next)?;
        let normalised = normalise_page(&page, &self.regions, chrono::Utc::now());
        Ok(FetchedPage {
            listings: normalised.listings,
            rejections: normalised.rejections,
            next_token,
            ..FetchedPage::default()
        })
    }
}
