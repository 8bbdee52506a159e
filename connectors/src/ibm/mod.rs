//! IBM Cloud: the Global Catalog (`https://globalcatalog.cloud.ibm.com`),
//! public for reads.
//!
//! Live sync pages through each configured service's plans
//! (`GET /api/v1/{service_id}/plan?_offset=&_limit=`), and for each plan and
//! deployment region fetches `GET /api/v1/{plan_id}:global/pricing?deployment_region=`.
//! `settings.services` entries are a known service name or id
//! (`cloud-object-storage`, `power-iaas`, see [`transformers::SERVICES`]),
//! or `name=id=category` for others; default: Cloud Object Storage.
//! `settings.regions` holds deployment regions (default `us-south`) and,
//! optionally, one ISO 3166 alpha-3 country (`DEU`) whose amounts to use
//! (default `USA`). The page token is a small JSON object naming the service
//! and the plan offset.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use shiyun_core::listing::{Category, Vendor};
use shiyun_core::store::RecordRejection;

use crate::http::{BuildRequest, VendorClient};
use crate::paging::{encode_token, resume_at};
use crate::settings::{VendorSettings, or_defaults};
use crate::{ConnectorError, FetchedPage, ImportContext};

pub mod transformers;

use transformers::{
    DEFAULT_COUNTRY, Plan, PlanInfo, PlanPage, PlanPricing, known_service, normalise_listed_plan,
    normalise_pricing, plan_info,
};

/// The public Global Catalog endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://globalcatalog.cloud.ibm.com";
/// Plans per page.
pub const PAGE_LIMIT: u32 = 25;
/// Deployment regions synced when `settings.regions` names none.
pub const DEFAULT_REGIONS: &[&str] = &["us-south"];
/// Services synced when `settings.services` is empty.
pub const DEFAULT_SERVICES: &[&str] = &["cloud-object-storage"];

fn malformed(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: Vendor::Ibm,
        message: message.into(),
    }
}

/// A service to sync or import under: its name, catalog id, category and display names.
#[derive(Debug, Clone)]
struct ServiceRef {
    name: String,
    id: String,
    category: Category,
    name_en: String,
    name_zh: String,
}

impl ServiceRef {
    /// `cloud-object-storage`, a known id, or `name=id=category`.
    fn parse(entry: &str) -> Result<Self, String> {
        let parts: Vec<&str> = entry.split('=').map(str::trim).collect();
        let known = known_service(parts[0]);
        let (name, id, category, en, zh) = match (parts.as_slice(), known) {
            ([_], Some(k)) | ([_, _], Some(k)) => (
                k.0.to_owned(),
                parts.get(1).map_or(k.1, |id| *id).to_owned(),
                k.2,
                k.3.to_owned(),
                k.4.to_owned(),
            ),
            ([name, id, category], _) => (
                (*name).to_owned(),
                (*id).to_owned(),
                *category,
                (*name).to_owned(),
                (*name).to_owned(),
            ),
            _ => {
                return Err(format!(
                    "unknown ibm service `{entry}`: give a known service name or `name=id=category`"
                ));
            }
        };
        Ok(ServiceRef {
            name,
            id,
            category: Category::parse(category).map_err(|e| e.to_string())?,
            name_en: en,
            name_zh: zh,
        })
    }
}

#[derive(Deserialize)]
struct Probe {
    resources: Option<IgnoredAny>,
    metrics: Option<IgnoredAny>,
    deployment_id: Option<IgnoredAny>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default, alias = "error")]
    message: Option<serde_json::Value>,
}

/// The service an import is for: `--param service=` (a known name, or
/// `name=id=category`), with `--param category=` overriding the category;
/// else the plans' parent service when it is a known one.
fn import_service(
    ctx: &ImportContext,
    parent_id: Option<&str>,
) -> Result<ServiceRef, ConnectorError> {
    let entry = ctx.param("service").or(parent_id).unwrap_or_default();
    let category = ctx.param("category");
    let bad_param = |key: &str, message: String| ConnectorError::InvalidParameter {
        vendor: Vendor::Ibm,
        key: key.to_owned(),
        message,
    };
    let mut service = match (ServiceRef::parse(entry), category) {
        (Ok(service), _) => service,
        (Err(_), Some(category)) => {
            let name = if entry.is_empty() {
                "ibm-service"
            } else {
                entry
            };
            ServiceRef::parse(&format!("{name}={name}={category}"))
                .map_err(|e| bad_param("category", e))?
        }
        (Err(_), None) => {
            let given = if entry.is_empty() {
                "no service given".to_owned()
            } else {
                format!("`{entry}` is not a known catalog service")
            };
            return Err(bad_param(
                "service",
                format!(
                    "{given}: pass --param service=<name, e.g. cloud-object-storage> \
                     or --param category=storage.object"
                ),
            ));
        }
    };
    if let Some(category) = category {
        service.category =
            Category::parse(category).map_err(|e| bad_param("category", e.to_string()))?;
    }
    Ok(service)
}

/// Normalises a saved Global Catalog response:
///
/// - a plan's pricing (`metrics`): one listing for its deployment region.
///   Needs `--param service=<name>` (or `category=`) since pricing does not
///   name its service; `--param plan_name=` sets the display name;
///   `--param country=DEU` picks that country's amounts (default `USA`).
/// - a plan list (`resources`): free plans become priceless listings tagged
///   `free`, plans with embedded metrics are priced, and other paid plans are
///   rejected with the pricing call to import instead. The service comes from
///   `--param service=` or the plans' known parent.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let probe: Probe = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a Global Catalog response: {e}")))?;
    let country = ctx.param("country").unwrap_or(DEFAULT_COUNTRY);
    if probe.metrics.is_some() || probe.deployment_id.is_some() {
        let pricing: PlanPricing =
            serde_json::from_slice(body).map_err(|e| malformed(format!("pricing: {e}")))?;
        let service = import_service(ctx, None)?;
        let plan_id = pricing
            .deployment_id
            .as_deref()
            .and_then(|d| d.split(':').next())
            .unwrap_or("plan");
        let plan_name = ctx
            .param("plan_name")
            .map_or_else(|| format!("plan {plan_id}"), str::to_owned);
        let info = PlanInfo {
            service: service.name.clone(),
            category: service.category.clone(),
            name_en: format!("{} {plan_name}", service.name_en),
            name_zh: format!("{} {plan_name}", service.name_zh),
        };
        let mut page = FetchedPage::default();
        match normalise_pricing(&pricing, &info, country, body, ctx.fetched_at) {
            Ok(listing) => page.listings.push(listing),
            Err(reason) => {
                let region = pricing.deployment_region.as_deref().unwrap_or("global");
                page.rejections.push(RecordRejection {
                    vendor_key: format!("{plan_id}@{region}"),
                    reason,
                });
            }
        }
        return Ok(page);
    }
    if probe.resources.is_some() {
        let list: PlanPage =
            serde_json::from_slice(body).map_err(|e| malformed(format!("plan list: {e}")))?;
        let mut page = FetchedPage::default();
        let mut service: Option<ServiceRef> = None;
        for (i, raw) in list.resources.iter().enumerate() {
            let plan = match serde_json::from_str::<Plan>(raw.get()) {
                Ok(plan) => plan,
                Err(e) => {
                    page.reject(format!("resources[{i}]"), format!("unreadable plan: {e}"));
                    continue;
                }
            };
            let key = plan.id.clone().unwrap_or_else(|| format!("resources[{i}]"));
            if service.is_none() {
                service = Some(import_service(ctx, plan.parent_id.as_deref())?);
            }
            let Some(service) = &service else { continue };
            let info = plan_info(
                &plan,
                &service.name,
                &service.category,
                &service.name_en,
                &service.name_zh,
            );
            page.push_result(
                format!("{key}@global"),
                normalise_listed_plan(&plan, &info, country, raw.get().as_bytes(), ctx.fetched_at),
            );
        }
        return Ok(page);
    }
    if probe.message.is_some() {
        return Err(ConnectorError::Vendor {
            vendor: Vendor::Ibm,
            code: probe
                .code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "error".into()),
            message: probe.message.map(|m| m.to_string()).unwrap_or_default(),
        });
    }
    Err(malformed(
        "neither a plan list (resources) nor a plan's pricing (metrics)",
    ))
}

/// Where a sync is: the service and the offset of its next plan page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PageToken {
    service: String,
    offset: u64,
}

/// Live IBM connector over the Global Catalog.
#[derive(Debug)]
pub struct IbmConnector {
    client: VendorClient,
    endpoint: String,
    services: Vec<ServiceRef>,
    regions: Vec<String>,
    country: String,
}

impl IbmConnector {
    /// A connector using `settings` (no credentials: catalog reads are public).
    pub fn new(settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        let endpoint = settings.endpoint_or(DEFAULT_ENDPOINT, Vendor::Ibm)?;
        let services = settings
            .services_or(DEFAULT_SERVICES)
            .iter()
            .map(|e| ServiceRef::parse(e).map_err(ConnectorError::Config))
            .collect::<Result<Vec<_>, _>>()?;
        // A three-letter upper-case entry is the country of the amounts.
        let is_country = |r: &String| r.len() == 3 && r.bytes().all(|b| b.is_ascii_uppercase());
        let country = settings
            .regions
            .iter()
            .find(|r| is_country(r))
            .cloned()
            .unwrap_or_else(|| DEFAULT_COUNTRY.to_owned());
        let regions: Vec<String> = settings
            .regions
            .iter()
            .filter(|r| !is_country(r))
            .cloned()
            .collect();
        let regions = or_defaults(&regions, DEFAULT_REGIONS);
        Ok(IbmConnector {
            client,
            endpoint,
            services,
            regions,
            country,
        })
    }

    async fn get(&self, url: url::Url) -> Result<Vec<u8>, ConnectorError> {
        let response = self
            .client
            .execute(|http| {
                http.get(url.clone())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .build_request()
            })
            .await?;
        Ok(response.body)
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<url::Url, ConnectorError> {
        let mut url = url::Url::parse(&format!("{}{path}", self.endpoint))
            .map_err(|e| ConnectorError::Request(format!("ibm url: {e}")))?;
        for (k, v) in query {
            url.query_pairs_mut().append_pair(k, v);
        }
        Ok(url)
    }

    /// The listings of one plan: one per deployment region.
    async fn plan_listings(
        &self,
        service: &ServiceRef,
        plan: &Plan,
        raw: &str,
        page: &mut FetchedPage,
    ) -> Result<(), ConnectorError> {
        let Some(id) = plan.id.as_deref().filter(|s| !s.is_empty()) else {
            page.reject(
                plan.name.clone().unwrap_or_else(|| "plan".into()),
                "plan without id",
            );
            return Ok(());
        };
        let info = plan_info(
            plan,
            &service.name,
            &service.category,
            &service.name_en,
            &service.name_zh,
        );
        for region in &self.regions {
            let key = format!("{id}@{region}");
            let result = if plan.is_free() {
                let pricing = PlanPricing {
                    deployment_id: Some(format!("{id}:global")),
                    deployment_location: Some("global".into()),
                    deployment_region: Some(region.clone()),
                    kind: Some("free".into()),
                    metrics: Vec::new(),
                };
                normalise_pricing(
                    &pricing,
                    &info,
                    &self.country,
                    raw.as_bytes(),
                    chrono::Utc::now(),
                )
                .and_then(|l| {
                    let mut data = l.into_data();
                    data.tags.insert("free".into());
                    shiyun_core::listing::Listing::try_from(data).map_err(|e| e.to_string())
                })
            } else {
                let url = self.url(
                    &format!("/api/v1/{id}:global/pricing"),
                    &[("deployment_region", region.clone())],
                )?;
                match self.get(url).await {
                    Ok(body) => serde_json::from_slice::<PlanPricing>(&body)
                        .map_err(|e| format!("unreadable pricing: {e}"))
                        .and_then(|pricing| {
                            let mut record = raw.as_bytes().to_vec();
                            record.extend_from_slice(&body);
                            normalise_pricing(
                                &pricing,
                                &info,
                                &self.country,
                                &record,
                                chrono::Utc::now(),
                            )
                        }),
                    // A plan not priced in a region is that plan's problem, not the run's.
                    Err(ConnectorError::Http { status: 404, .. }) => {
                        Err(format!("no pricing in region {region}"))
                    }
                    Err(e) => return Err(e),
                }
            };
            page.push_result(key, result);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::Connector for IbmConnector {
    fn vendor(&self) -> Vendor {
        Vendor::Ibm
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        let first = || {
            self.services.first().map(|s| PageToken {
                service: s.name.clone(),
                offset: 0,
            })
        };
        let Some(at) = resume_at(Vendor::Ibm, token, first)? else {
            return Ok(FetchedPage::default());
        };
        let index = self
            .services
            .iter()
            .position(|s| s.name == at.service)
            .ok_or_else(|| ConnectorError::PageToken {
                vendor: Vendor::Ibm,
                token: token.unwrap_or_default().to_owned(),
                message: format!("it names unknown service `{}`", at.service),
            })?;
        let service = &self.services[index];
        let url = self.url(
            &format!("/api/v1/{}/plan", service.id),
            &[
                ("_offset", at.offset.to_string()),
                ("_limit", PAGE_LIMIT.to_string()),
            ],
        )?;
        let body = self.get(url).await?;
        let list: PlanPage =
            serde_json::from_slice(&body).map_err(|e| malformed(format!("plan list: {e}")))?;
        let mut page = FetchedPage::default();
        for (i, raw) in list.resources.iter().enumerate() {
            match serde_json::from_str::<Plan>(raw.get()) {
                Ok(plan) if !plan.active || plan.disabled => {}
                Ok(plan) => {
                    self.plan_listings(service, &plan, raw.get(), &mut page)
                        .await?
                }
                Err(e) => page.reject(
                    format!("{}:resources[{}]", service.name, at.offset + i as u64),
                    format!("unreadable plan: {e}"),
                ),
            }
        }
        let read = list.resources.len() as u64;
        let next_offset = at.offset + read;
        let next = if read > 0 && next_offset < list.resource_count {
            Some(PageToken {
                service: service.name.clone(),
                offset: next_offset,
            })
        } else {
            self.services.get(index + 1).map(|s| PageToken {
                service: s.name.clone(),
                offset: 0,
            })
        };
        page.next_token = encode_token(next)?;
        Ok(page)
    }
}
