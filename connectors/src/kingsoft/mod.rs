//! Kingsoft Cloud (金山云) connector.
//!
//! Live sync, per configured region (KEC API 2016-03-04, AWS SigV4 with
//! service `kec` and the region): `DescribeInstanceTypeConfigs` once (cached),
//! then `DescribeSpotPriceHistory` for each type and zone it is sold in. That
//! call is the KEC price query we found documented; no real sample of its
//! answer exists (see [`transformers`]). A page is one region's next
//! [`ITEMS_PER_PAGE`] (type, zone) pairs; its token is
//! `{"region_idx":r,"item_idx":i}`. `settings.services` restricts families
//! (`N3`, `C6`).

pub mod transformers;

use std::sync::Arc;

use chrono::Utc;
use shiyun_core::listing::Vendor;

use crate::http::{BuildRequest, VendorClient, VendorResponse, Verdict};
use crate::paging::{RegionCache, RegionItems, walk_region_items};
use crate::settings::VendorSettings;
use crate::signing::aws_sigv4::{AwsCredentials, SigV4Params, sign_request};
use crate::{ConnectorError, FetchedPage, ImportContext};

use transformers::InstanceTypeConfig;

const VENDOR: Vendor = Vendor::Kingsoft;
const KEC_VERSION: &str = "2016-03-04";
/// Regions synced when the settings name none.
const DEFAULT_REGIONS: &[&str] = &["cn-beijing-6", "cn-shanghai-2", "cn-guangzhou-1"];
/// (type, zone) pairs priced per page.
pub const ITEMS_PER_PAGE: usize = 4;

/// Normalises one saved Kingsoft response (see [`transformers`]).
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    transformers::import(body, ctx)
}

/// A region's catalog: each (type, zone) pair to price, with the type's specs.
type Catalog = Vec<(Arc<InstanceTypeConfig>, String)>;

/// Live Kingsoft connector.
#[derive(Debug)]
pub struct KingsoftConnector {
    client: VendorClient,
    endpoint: Option<String>,
    credentials: AwsCredentials,
    regions: Vec<String>,
    families: Vec<String>,
    catalogs: RegionCache<Catalog>,
}

/// Throttling is retried; other error codes in a body fail at once.
fn classify(_vendor: Vendor, response: &VendorResponse) -> Option<Verdict> {
    match transformers::error_code(&response.body) {
        Some(code) if code.contains("Throttl") || code.contains("LimitExceeded") => {
            Some(Verdict::Retry)
        }
        Some(_) => transformers::check_error(&response.body)
            .err()
            .map(Verdict::Fail),
        None => None,
    }
}

impl KingsoftConnector {
    /// A connector using `settings` (`access_key_id`/`secret_access_key` are the AK/SK).
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        let (id, secret) =
            settings.credentials(VENDOR, "set access_key_id and secret_access_key (AK/SK)")?;
        Ok(KingsoftConnector {
            client: client.with_classifier(Arc::new(classify)),
            endpoint: settings.endpoint_override(VENDOR)?,
            credentials: AwsCredentials::new(id, secret),
            regions: settings.regions_or(DEFAULT_REGIONS),
            families: settings.services.clone(),
            catalogs: RegionCache::default(),
        })
    }

    /// One SigV4-signed KEC GET call, signed again per attempt.
    async fn call(
        &self,
        region: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<u8>, ConnectorError> {
        let base = self
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://kec.{region}.api.ksyun.com"));
        let url = format!("{}/", base.trim_end_matches('/'));
        let mut query: Vec<(&str, &str)> = vec![("Action", action), ("Version", KEC_VERSION)];
        query.extend_from_slice(params);
        let response = self
            .client
            .execute(|http| {
                let mut request = http.get(&url).query(&query).build_request()?;
                sign_request(
                    &mut request,
                    &SigV4Params::new(&self.credentials, region, "kec", Utc::now()),
                )?;
                Ok(request)
            })
            .await?;
        transformers::check_error(&response.body)?;
        Ok(response.body)
    }

    async fn catalog(&self, region: &str) -> Result<Arc<Catalog>, ConnectorError> {
        self.catalogs
            .get_or_load(region, || async {
                let body = self
                    .call(region, "DescribeInstanceTypeConfigs", &[])
                    .await?;
                let (configs, _unreadable) = transformers::parse_type_configs(&body)?;
                let mut pairs = Vec::new();
                for config in configs {
                    let family = config
                        .instance_type
                        .split('.')
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    if !self.families.is_empty() && !self.families.contains(&family) {
                        continue;
                    }
                    let config = Arc::new(config);
                    for zone in config.zones() {
                        pairs.push((config.clone(), zone));
                    }
                }
                // A stable order keeps item indexes valid across a resumed run.
                pairs.sort_by(|a, b| (&a.0.instance_type, &a.1).cmp(&(&b.0.instance_type, &b.1)));
                Ok(pairs)
            })
            .await
    }
}

#[async_trait::async_trait]
impl crate::Connector for KingsoftConnector {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        walk_region_items(self, VENDOR, token, &self.regions, ITEMS_PER_PAGE).await
    }
}

#[async_trait::async_trait]
impl RegionItems for KingsoftConnector {
    type Region = String;
    type Item = (Arc<InstanceTypeConfig>, String);

    async fn items_of(&self, region: &String) -> Result<Arc<Catalog>, ConnectorError> {
        self.catalog(region).await
    }

    /// Adds the spot prices of one type in one zone.
    async fn price(
        &self,
        region: &String,
        (config, zone): &(Arc<InstanceTypeConfig>, String),
        page: &mut FetchedPage,
    ) -> Result<(), ConnectorError> {
        let params = [
            ("InstanceType", config.instance_type.as_str()),
            ("AvailabilityZone", zone.as_str()),
        ];
        match self.call(region, "DescribeSpotPriceHistory", &params).await {
            Ok(body) => {
                page.absorb(transformers::spot_page(&body, Some(config), Utc::now())?);
            }
            // Not sold as spot there, or a bad parameter: report it and go on.
            Err(ConnectorError::Vendor { code, message, .. }) => page.reject(
                format!("{}@{zone}", config.instance_type),
                format!("describe spot price history: {code}: {message}"),
            ),
            Err(other) => return Err(other),
        }
        Ok(())
    }
}
