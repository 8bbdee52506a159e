//! Azure: the Retail Prices API (`GET https://prices.azure.com/api/retail/prices`),
//! unauthenticated.
//!
//! Live sync queries each configured service × region pair
//! (`settings.services`, Azure `serviceName`s, default `Virtual Machines`
//! and `Storage`; `settings.regions`, ARM region names, default `eastus`
//! and `westeurope`) with an OData `$filter`, and follows `NextPageLink`
//! (its host rewritten to `settings.endpoint` when that is set). The page
//! token is a small JSON object naming the service, region and the next
//! link, so a failed run resumes at the request that failed.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use shiyun_core::listing::Vendor;

use crate::http::{BuildRequest, VendorClient};
use crate::paging::{encode_token, resume_at};
use crate::settings::VendorSettings;
use crate::{ConnectorError, FetchedPage, ImportContext};

pub mod regions;
pub mod transformers;

use transformers::{RetailPage, normalise_items};

/// The public Retail Prices endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://prices.azure.com";
/// Path of the Retail Prices API.
pub const PRICES_PATH: &str = "/api/retail/prices";
/// API version requested (it adds savings-plan prices).
pub const API_VERSION: &str = "2023-01-01-preview";
/// Services synced when `settings.services` is empty.
pub const DEFAULT_SERVICES: &[&str] = &["Virtual Machines", "Storage"];
/// Regions synced when `settings.regions` is empty.
pub const DEFAULT_REGIONS: &[&str] = &["eastus", "westeurope"];

fn malformed(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: Vendor::Azure,
        message: message.into(),
    }
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(alias = "code", default)]
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(alias = "message", default)]
    #[serde(rename = "Message")]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "Items")]
    items: Option<IgnoredAny>,
    #[serde(rename = "meterId")]
    meter_id: Option<IgnoredAny>,
    #[serde(rename = "retailPrice")]
    retail_price: Option<IgnoredAny>,
    #[serde(rename = "Error", alias = "error")]
    error: Option<ErrorDetail>,
}

/// Normalises a saved Retail Prices response: a page envelope (`Items`), a
/// single item object, or a JSON array of items. No `--param` is needed:
/// items carry their region, currency and unit.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let whole: &RawValue = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a Retail Prices response: {e}")))?;
    if whole.get().trim_start().starts_with('[') {
        let items: Vec<&RawValue> =
            serde_json::from_str(whole.get()).map_err(|e| malformed(e.to_string()))?;
        return Ok(page_of(&items, ctx, None));
    }
    let probe: Probe =
        serde_json::from_str(whole.get()).map_err(|e| malformed(format!("unknown shape: {e}")))?;
    if let Some(error) = probe.error {
        return Err(ConnectorError::Vendor {
            vendor: Vendor::Azure,
            code: error.code.unwrap_or_else(|| "unknown".into()),
            message: error.message.unwrap_or_default(),
        });
    }
    if probe.items.is_some() {
        let page: RetailPage = serde_json::from_str(whole.get())
            .map_err(|e| malformed(format!("Retail Prices page: {e}")))?;
        let items: Vec<&RawValue> = page.items.iter().map(|b| &**b).collect();
        return Ok(page_of(&items, ctx, None));
    }
    if probe.meter_id.is_some() || probe.retail_price.is_some() {
        return Ok(page_of(&[whole], ctx, None));
    }
    Err(malformed(
        "neither a Retail Prices page (Items) nor an item (meterId, retailPrice)",
    ))
}

fn page_of(items: &[&RawValue], ctx: &ImportContext, next_token: Option<String>) -> FetchedPage {
    let normalised = normalise_items(items, ctx.fetched_at);
    FetchedPage {
        listings: normalised.listings,
        rejections: normalised.rejections,
        next_token,
        ..FetchedPage::default()
    }
}

/// Where a sync is: the service and region queried and the next link.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageToken {
    service: String,
    region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// Items of a meter whose tiers may go on over the next page, held back
    /// so its tiers are merged into one listing instead of two that overwrite
    /// each other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    carry: Vec<Box<RawValue>>,
}

/// Live Azure connector over the Retail Prices API.
#[derive(Debug)]
pub struct AzureConnector {
    client: VendorClient,
    endpoint: url::Url,
    overridden: bool,
    services: Vec<String>,
    regions: Vec<String>,
}

impl AzureConnector {
    /// A connector using `settings` (no credentials: the API is public).
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        Ok(AzureConnector {
            client,
            endpoint: settings.endpoint_url_or(DEFAULT_ENDPOINT, Vendor::Azure)?,
            overridden: settings.endpoint.is_some(),
            services: settings.services_or(DEFAULT_SERVICES),
            regions: settings.regions_or(DEFAULT_REGIONS),
        })
    }

    fn pairs(&self) -> Vec<(&String, &String)> {
        self.services
            .iter()
            .flat_map(|s| self.regions.iter().map(move |r| (s, r)))
            .collect()
    }

    fn position_after(&self, at: &PageToken) -> Option<PageToken> {
        let pairs = self.pairs();
        let index = pairs
            .iter()
            .position(|(s, r)| **s == at.service && **r == at.region)?;
        pairs.get(index + 1).map(|(s, r)| PageToken {
            service: (*s).clone(),
            region: (*r).clone(),
            next: None,
            carry: Vec::new(),
        })
    }

    /// The URL of a position: the first page's query, or the next link
    /// moved onto the configured endpoint.
    fn url_of(&self, at: &PageToken) -> Result<url::Url, ConnectorError> {
        if let Some(next) = &at.next {
            let mut url = url::Url::parse(next)
                .map_err(|e| malformed(format!("NextPageLink `{next}`: {e}")))?;
            if self.overridden {
                let bad = |_| {
                    ConnectorError::Request("cannot move NextPageLink onto the endpoint".into())
                };
                url.set_scheme(self.endpoint.scheme()).map_err(bad)?;
                url.set_host(self.endpoint.host_str())
                    .map_err(|e| ConnectorError::Request(e.to_string()))?;
                url.set_port(self.endpoint.port()).map_err(bad)?;
            }
            return Ok(url);
        }
        let quote = |s: &str| s.replace('\'', "''");
        let filter = format!(
            "serviceName eq '{}' and armRegionName eq '{}'",
            quote(&at.service),
            quote(&at.region)
        );
        let mut url = self
            .endpoint
            .join(PRICES_PATH)
            .map_err(|e| ConnectorError::Request(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION)
            .append_pair("$filter", &filter);
        Ok(url)
    }
}

#[async_trait::async_trait]
impl crate::Connector for AzureConnector {
    fn vendor(&self) -> Vendor {
        Vendor::Azure
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        let first = || {
            self.pairs().first().map(|(s, r)| PageToken {
                service: (*s).clone(),
                region: (*r).clone(),
                next: None,
                carry: Vec::new(),
            })
        };
        let Some(at) = resume_at(Vendor::Azure, token, first)? else {
            return Ok(FetchedPage::default());
        };
        let url = self.url_of(&at)?;
        let response = self
            .client
            .execute(|http| http.get(url.clone()).build_request())
            .await?;
        let page: RetailPage = serde_json::from_slice(&response.body)
            .map_err(|e| malformed(format!("Retail Prices page: {e}")))?;
        let items: Vec<&RawValue> = at
            .carry
            .iter()
            .chain(page.items.iter())
            .map(|b| &**b)
            .collect();
        let link = page.next_page_link.as_deref().filter(|l| !l.is_empty());
        let held = match link {
            Some(_) => transformers::trailing_meter_len(&items),
            None => 0,
        };
        let (ready, later) = items.split_at(items.len() - held);
        let carry: Vec<Box<RawValue>> = later.iter().map(|raw| (*raw).to_owned()).collect();
        let normalised = normalise_items(ready, chrono::Utc::now());
        let next = match link {
            Some(link) => Some(PageToken {
                service: at.service.clone(),
                region: at.region.clone(),
                next: Some(link.to_owned()),
                carry,
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
