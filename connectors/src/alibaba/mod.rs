//! Alibaba Cloud (阿里云) connector.
//!
//! Live sync, per configured region (RPC API signed with HMAC-SHA1, V2):
//! `DescribeInstanceTypes` once (cached per run), then for each instance type
//! `DescribePrice` on demand (`PriceUnit=Hour`) and monthly (`PriceUnit=Month`).
//! A page is one region's next [`TYPES_PER_PAGE`] types; its token is
//! `{"region_idx":r,"item_idx":i}` so a failed run resumes at the type that
//! failed. `settings.services` restricts the families (`ecs.g6`, `ecs.c7`).
//! A type the region does not sell (a `DescribePrice` error code) is a
//! rejection, not a failed run.

pub mod transformers;

use std::sync::Arc;

use chrono::Utc;
use secrecy::SecretString;
use shiyun_core::listing::Vendor;

use crate::http::{BuildRequest, VendorClient, VendorResponse, Verdict};
use crate::paging::{RegionCache, RegionItems, walk_region_items};
use crate::settings::VendorSettings;
use crate::signing::alibaba::{RpcV2Params, rpc_v2_sign_request};
use crate::signing::new_nonce;
use crate::{ConnectorError, FetchedPage, ImportContext};

use transformers::{InstanceTypeSpec, PriceQuery, Resource};

const VENDOR: Vendor = Vendor::Alibaba;
const ECS_ENDPOINT: &str = "https://ecs.aliyuncs.com";
const ECS_VERSION: &str = "2014-05-26";
/// Regions synced when the settings name none.
const DEFAULT_REGIONS: &[&str] = &["cn-hangzhou", "cn-shanghai", "cn-beijing"];
/// Instance types priced per page (two `DescribePrice` calls each).
pub const TYPES_PER_PAGE: usize = 5;
/// The quotes taken per type: on demand and one month.
const QUOTES: &[(&str, u16)] = &[("Hour", 1), ("Month", 1)];

/// Normalises one saved Alibaba response (see [`transformers`]).
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    transformers::import(body, ctx)
}

/// Live Alibaba connector.
#[derive(Debug)]
pub struct AlibabaConnector {
    client: VendorClient,
    base_url: String,
    access_key_id: String,
    access_key_secret: SecretString,
    regions: Vec<String>,
    families: Vec<String>,
    /// Instance types per region, fetched once per connector.
    types: RegionCache<Vec<InstanceTypeSpec>>,
}

/// Throttling is retried; other error codes in a body fail at once.
fn classify(_vendor: Vendor, response: &VendorResponse) -> Option<Verdict> {
    match transformers::error_code(&response.body) {
        Some(code) if code.starts_with("Throttling") || code == "ServiceUnavailable" => {
            Some(Verdict::Retry)
        }
        Some(_) => transformers::check_error(&response.body)
            .err()
            .map(Verdict::Fail),
        None => None,
    }
}

impl AlibabaConnector {
    /// A connector using `settings` (`access_key_id`/`secret_access_key` are
    /// the AccessKey pair).
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        let (access_key_id, access_key_secret) = settings.credentials(
            VENDOR,
            "set access_key_id and secret_access_key (an AccessKey pair)",
        )?;
        Ok(AlibabaConnector {
            client: client.with_classifier(Arc::new(classify)),
            base_url: settings.endpoint_or(ECS_ENDPOINT, VENDOR)?,
            access_key_id,
            access_key_secret,
            regions: settings.regions_or(DEFAULT_REGIONS),
            families: settings.services.clone(),
            types: RegionCache::default(),
        })
    }

    /// One signed RPC GET call; signed again for every attempt (new nonce and timestamp).
    async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<Vec<u8>, ConnectorError> {
        let url = format!("{}/", self.base_url.trim_end_matches('/'));
        let response = self
            .client
            .execute(|http| {
                let mut request = http.get(&url).query(params).build_request()?;
                let nonce = new_nonce();
                let signing = RpcV2Params {
                    access_key_id: &self.access_key_id,
                    access_key_secret: &self.access_key_secret,
                    action,
                    version: ECS_VERSION,
                    timestamp: Utc::now(),
                    nonce: &nonce,
                };
                rpc_v2_sign_request(&mut request, &signing)?;
                Ok(request)
            })
            .await?;
        transformers::check_error(&response.body)?;
        Ok(response.body)
    }

    async fn instance_types(
        &self,
        region: &str,
    ) -> Result<Arc<Vec<InstanceTypeSpec>>, ConnectorError> {
        self.types
            .get_or_load(region, || async {
                let body = self
                    .call(
                        "DescribeInstanceTypes",
                        &[("RegionId".to_owned(), region.to_owned())],
                    )
                    .await?;
                let (mut specs, _unreadable) = transformers::parse_instance_types(&body)?;
                if !self.families.is_empty() {
                    specs.retain(|s| {
                        s.instance_type_family
                            .as_deref()
                            .is_some_and(|f| self.families.iter().any(|wanted| wanted == f))
                    });
                }
                // A stable order keeps item indexes valid across a resumed run.
                specs.sort_by(|a, b| a.instance_type_id.cmp(&b.instance_type_id));
                Ok(specs)
            })
            .await
    }
}

#[async_trait::async_trait]
impl crate::Connector for AlibabaConnector {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        walk_region_items(self, VENDOR, token, &self.regions, TYPES_PER_PAGE).await
    }
}

#[async_trait::async_trait]
impl RegionItems for AlibabaConnector {
    type Region = String;
    type Item = InstanceTypeSpec;

    async fn items_of(
        &self,
        region: &String,
    ) -> Result<Arc<Vec<InstanceTypeSpec>>, ConnectorError> {
        self.instance_types(region).await
    }

    /// Adds the on-demand and monthly quotes of one instance type.
    async fn price(
        &self,
        region: &String,
        spec: &InstanceTypeSpec,
        page: &mut FetchedPage,
    ) -> Result<(), ConnectorError> {
        for (unit, period) in QUOTES {
            let query = PriceQuery {
                region_id: region.to_owned(),
                resource: Resource::Instance(spec.instance_type_id.clone()),
                price_unit: (*unit).to_owned(),
                period: *period,
                amount: 1,
            };
            let params = vec![
                ("RegionId".to_owned(), region.to_owned()),
                ("ResourceType".to_owned(), "instance".to_owned()),
                ("InstanceType".to_owned(), spec.instance_type_id.clone()),
                ("PriceUnit".to_owned(), (*unit).to_owned()),
                ("Period".to_owned(), period.to_string()),
            ];
            match self.call("DescribePrice", &params).await {
                Ok(body) => {
                    match transformers::parse_price(&body, &query, Some(spec), Utc::now())? {
                        Ok(listing) => page.listings.push(listing),
                        Err(rejection) => page.rejections.push(rejection),
                    }
                }
                // The region does not sell this type, or not this way: report it and go on.
                Err(ConnectorError::Vendor { code, message, .. }) => page.reject(
                    query.key(),
                    format!("describe price {unit}: {code}: {message}"),
                ),
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }
}
