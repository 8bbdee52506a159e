//! UCloud (优刻得) connector.
//!
//! Live sync prices UHost configurations with `GetUHostInstancePrice` (no
//! `ChargeType`, so one call answers hourly, monthly and yearly prices),
//! per configured region. Configurations come from `settings.services` as
//! `MachineType:CPU:MemoryMB` (`N:2:4096`), else [`DEFAULT_CONFIGS`]. A page
//! is one region's next [`CONFIGS_PER_PAGE`] configurations; its token is
//! `{"region_idx":r,"item_idx":i}`. Requests are GETs signed with UCloud's
//! SHA-1 parameter signature, recomputed for every attempt.

pub mod transformers;

use std::sync::Arc;

use chrono::Utc;
use secrecy::SecretString;
use shiyun_core::listing::Vendor;

use crate::http::{BuildRequest, VendorClient, VendorResponse, Verdict};
use crate::paging::{RegionItems, walk_region_items};
use crate::settings::VendorSettings;
use crate::signing::ucloud::signed_parameters;
use crate::{ConnectorError, FetchedPage, ImportContext};

use transformers::Offer;

const VENDOR: Vendor = Vendor::Ucloud;
const API_ENDPOINT: &str = "https://api.ucloud.cn";
/// Regions synced when the settings name none.
const DEFAULT_REGIONS: &[&str] = &["cn-bj2", "cn-sh2", "cn-gd"];
/// UHost configurations priced when the settings name none: (machine type, vCPU, MB).
pub const DEFAULT_CONFIGS: &[(&str, u32, u32)] = &[
    ("N", 1, 2048),
    ("N", 2, 4096),
    ("N", 4, 8192),
    ("N", 8, 16384),
];
/// Configurations priced per page.
pub const CONFIGS_PER_PAGE: usize = 2;

/// Normalises one saved UCloud response (see [`transformers`]).
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    transformers::import(body, ctx)
}

/// Live UCloud connector.
#[derive(Debug)]
pub struct UcloudConnector {
    client: VendorClient,
    base_url: String,
    public_key: String,
    private_key: SecretString,
    regions: Vec<String>,
    configs: Arc<Vec<UhostConfig>>,
}

/// A UHost configuration to price: (machine type, vCPU, memory MB).
type UhostConfig = (String, u32, u32);

/// A non-zero `RetCode` in a body fails at once (171/172 as refused credentials).
fn classify(_vendor: Vendor, response: &VendorResponse) -> Option<Verdict> {
    transformers::body_error(&response.body).map(Verdict::Fail)
}

fn parse_config(text: &str) -> Result<UhostConfig, ConnectorError> {
    let bad = || {
        ConnectorError::Config(format!(
            "ucloud service `{text}` is not MachineType:CPU:MemoryMB"
        ))
    };
    let mut parts = text.split(':');
    let (Some(machine), Some(cpu), Some(memory), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok((
        machine.to_owned(),
        cpu.parse().map_err(|_| bad())?,
        memory.parse().map_err(|_| bad())?,
    ))
}

impl UcloudConnector {
    /// A connector using `settings` (`access_key_id` is the PublicKey,
    /// `secret_access_key` the PrivateKey).
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        let (public_key, private_key) = settings.credentials(
            VENDOR,
            "set access_key_id (PublicKey) and secret_access_key (PrivateKey)",
        )?;
        let configs = if settings.services.is_empty() {
            DEFAULT_CONFIGS
                .iter()
                .map(|(m, c, mem)| ((*m).to_owned(), *c, *mem))
                .collect()
        } else {
            settings
                .services
                .iter()
                .map(|s| parse_config(s))
                .collect::<Result<_, _>>()?
        };
        Ok(UcloudConnector {
            client: client.with_classifier(Arc::new(classify)),
            base_url: settings.endpoint_or(API_ENDPOINT, VENDOR)?,
            public_key,
            private_key,
            regions: settings.regions_or(DEFAULT_REGIONS),
            configs: Arc::new(configs),
        })
    }

    async fn price_config(
        &self,
        region: &str,
        config: &UhostConfig,
    ) -> Result<FetchedPage, ConnectorError> {
        let (machine, cpu, memory) = config;
        let params = vec![
            ("Action".to_owned(), "GetUHostInstancePrice".to_owned()),
            ("Region".to_owned(), region.to_owned()),
            ("MachineType".to_owned(), machine.clone()),
            ("CPU".to_owned(), cpu.to_string()),
            ("Memory".to_owned(), memory.to_string()),
            ("Count".to_owned(), "1".to_owned()),
        ];
        let url = format!("{}/", self.base_url.trim_end_matches('/'));
        let response = self
            .client
            .execute(|http| {
                let signed = signed_parameters(&params, &self.public_key, &self.private_key);
                http.get(&url).query(&signed).build_request()
            })
            .await?;
        let offer = Offer::uhost(region, machine, *cpu, *memory, None);
        transformers::uhost_page(&response.body, &offer, Utc::now())
    }
}

#[async_trait::async_trait]
impl crate::Connector for UcloudConnector {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        walk_region_items(self, VENDOR, token, &self.regions, CONFIGS_PER_PAGE).await
    }
}

#[async_trait::async_trait]
impl RegionItems for UcloudConnector {
    type Region = String;
    type Item = UhostConfig;

    async fn items_of(&self, _region: &String) -> Result<Arc<Vec<UhostConfig>>, ConnectorError> {
        Ok(Arc::clone(&self.configs))
    }

    async fn price(
        &self,
        region: &String,
        config: &UhostConfig,
        page: &mut FetchedPage,
    ) -> Result<(), ConnectorError> {
        page.absorb(self.price_config(region, config).await?);
        Ok(())
    }
}
