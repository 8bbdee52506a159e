//! China Telecom Cloud (天翼云) connector.
//!
//! Live sync (EOP-signed): `GET /v4/region/list-regions` once (the pools,
//! with their opaque `regionID` and readable `regionCode`), then per region
//! and VM flavor a one-month new-order quote, `POST /v4/new-order/query-price`
//! (`resourceType=VM`). Flavors come from `settings.services`, else
//! [`DEFAULT_FLAVORS`]; `settings.regions` filters the pools by code or id.
//! A page is one region's next [`FLAVORS_PER_PAGE`] flavors; its token is
//! `{"region_idx":r,"item_idx":i}` (regions sorted by code, so indexes stay
//! valid when a failed run resumes).

pub mod transformers;

use std::sync::{Arc, Mutex};

use chrono::Utc;
use secrecy::SecretString;
use shiyun_core::listing::Vendor;

use crate::http::{BuildRequest, VendorClient, VendorResponse, Verdict};
use crate::paging::{RegionItems, walk_region_items};
use crate::settings::VendorSettings;
use crate::signing::ctyun::{EopParams, new_request_id, sign_request};
use crate::{ConnectorError, FetchedPage, ImportContext};

use transformers::{Quote, RegionEntry};

const VENDOR: Vendor = Vendor::Ctyun;
const ECS_ENDPOINT: &str = "https://ctecs-global.ctapi.ctyun.cn";
/// Flavors quoted when the settings name none.
pub const DEFAULT_FLAVORS: &[&str] = &["s7.large.2", "s7.xlarge.2", "s7.2xlarge.2"];
/// Flavors quoted per page.
pub const FLAVORS_PER_PAGE: usize = 2;

/// Normalises one saved CTyun response (see [`transformers`]).
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    transformers::import(body, ctx)
}

/// Live CTyun connector.
#[derive(Debug)]
pub struct CtyunConnector {
    client: VendorClient,
    base_url: String,
    access_key: String,
    secret_key: SecretString,
    regions: Vec<String>,
    flavors: Arc<Vec<String>>,
    pools: Mutex<Option<Arc<Vec<RegionEntry>>>>,
}

/// A `statusCode` other than 800 fails at once.
fn classify(_vendor: Vendor, response: &VendorResponse) -> Option<Verdict> {
    transformers::body_error(&response.body).map(Verdict::Fail)
}

impl CtyunConnector {
    /// A connector using `settings` (`access_key_id` is the AK, `secret_access_key` the SK).
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        let (access_key, secret_key) =
            settings.credentials(VENDOR, "set access_key_id (AK) and secret_access_key (SK)")?;
        Ok(CtyunConnector {
            client: client.with_classifier(Arc::new(classify)),
            base_url: settings.endpoint_or(ECS_ENDPOINT, VENDOR)?,
            access_key,
            secret_key,
            // Empty means every pool: the regions filter the pool list.
            regions: settings.regions.clone(),
            flavors: Arc::new(settings.services_or(DEFAULT_FLAVORS)),
            pools: Mutex::new(None),
        })
    }

    /// One EOP-signed call, signed again (new request id and date) per attempt.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, ConnectorError> {
        let url = format!("{}{path}", self.base_url.trim_end_matches('/'));
        let response = self
            .client
            .execute(|http| {
                let mut builder = http.request(method.clone(), &url);
                if let Some(body) = &body {
                    builder = builder
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone());
                }
                let mut request = builder.build_request()?;
                let request_id = new_request_id();
                let params = EopParams {
                    access_key: &self.access_key,
                    secret_key: &self.secret_key,
                    time: Utc::now(),
                    request_id: &request_id,
                };
                sign_request(&mut request, &params)?;
                Ok(request)
            })
            .await?;
        if let Some(error) = transformers::body_error(&response.body) {
            return Err(error);
        }
        Ok(response.body)
    }

    async fn pools(&self) -> Result<Arc<Vec<RegionEntry>>, ConnectorError> {
        if let Some(pools) = self.pools.lock().ok().and_then(|p| p.clone()) {
            return Ok(pools);
        }
        let body = self
            .call(reqwest::Method::GET, "/v4/region/list-regions", None)
            .await?;
        let mut pools: Vec<RegionEntry> = transformers::parse_regions(&body)?
            .into_iter()
            .filter(|p| p.region_code.is_some())
            .filter(|p| {
                self.regions.is_empty()
                    || self
                        .regions
                        .iter()
                        .any(|r| Some(r) == p.region_code.as_ref() || *r == p.region_id)
            })
            .collect();
        pools.sort_by(|a, b| a.region_code.cmp(&b.region_code));
        let pools = Arc::new(pools);
        if let Ok(mut cache) = self.pools.lock() {
            *cache = Some(pools.clone());
        }
        Ok(pools)
    }
}

#[async_trait::async_trait]
impl crate::Connector for CtyunConnector {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        let pools = self.pools().await?;
        walk_region_items(self, VENDOR, token, &pools, FLAVORS_PER_PAGE).await
    }
}

#[async_trait::async_trait]
impl RegionItems for CtyunConnector {
    type Region = RegionEntry;
    type Item = String;

    async fn items_of(&self, _pool: &RegionEntry) -> Result<Arc<Vec<String>>, ConnectorError> {
        Ok(Arc::clone(&self.flavors))
    }

    /// Adds the monthly price of one flavor in one resource pool.
    async fn price(
        &self,
        pool: &RegionEntry,
        flavor: &String,
        page: &mut FetchedPage,
    ) -> Result<(), ConnectorError> {
        let region_code = pool.region_code.clone().unwrap_or_default();
        let body = serde_json::json!({
            "regionID": pool.region_id,
            "resourceType": "VM",
            "count": 1,
            "onDemand": false,
            "cycleType": "MONTH",
            "cycleCount": 1,
            "flavorName": flavor,
        })
        .to_string()
        .into_bytes();
        let answer = self
            .call(
                reqwest::Method::POST,
                "/v4/new-order/query-price",
                Some(body),
            )
            .await?;
        let quote = Quote {
            region_code,
            cycle_type: "month".into(),
            cycle_count: Some(1),
            flavor_name: Some(flavor.clone()),
            disk_type: None,
        };
        page.absorb(transformers::price_page(&answer, &quote, Utc::now())?);
        Ok(())
    }
}
