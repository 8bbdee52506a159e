//! IBM Cloud Global Catalog JSON (plans and their pricing) and its
//! translation into listings.
//!
//! One listing per plan and deployment region, keyed
//! `<plan_id>@<deployment_region>`, with one price component per metric
//! (named by `metric_id`). Amounts are taken for one country (`USA` unless
//! told otherwise), in that amount's currency. `charge_unit_quantity` is a
//! pack: the price is divided by it exactly (COS Class B calls, 0.01045 per
//! 10,000 → 0.000001045 per call). `quantity_tier` is read as the upper
//! bound of its tier (in charge units, as IBM gives it); a single tier is a
//! flat price.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use shiyun_core::listing::{
    BillingMode, Category, Listing, ListingBuilder, PriceComponent, PriceTier, PriceUnit,
    Provenance, Region, Specs, Vendor,
};
use shiyun_core::money::{Currency, Money};

use crate::decimal::decimal_from_json_text;
use crate::normalise::{Draft, Subject, region_or_code, unglue};

/// `vendor_api` of listings read from a plan's pricing.
pub const PRICING_API: &str = "ibm.globalcatalog.pricing";
/// `vendor_api` of listings read from a plan list.
pub const PLANS_API: &str = "ibm.globalcatalog.plans";
/// The country whose amounts are used unless another is asked for.
pub const DEFAULT_COUNTRY: &str = "USA";

/// A page of `GET /api/v1/{service_id}/plan`.
#[derive(Debug, Deserialize)]
pub struct PlanPage {
    /// Offset of this page.
    #[serde(default)]
    pub offset: u64,
    /// Page size asked for.
    #[serde(default)]
    pub limit: u64,
    /// Entries on this page.
    #[serde(default)]
    pub count: u64,
    /// Entries in all pages.
    #[serde(default)]
    pub resource_count: u64,
    /// The plans, kept raw so each can fail alone.
    #[serde(default)]
    pub resources: Vec<Box<RawValue>>,
}

/// A catalog plan.
#[derive(Debug, Deserialize)]
pub struct Plan {
    /// Plan id.
    #[serde(default)]
    pub id: Option<String>,
    /// Plan name (`power-virtual-server-group`).
    #[serde(default)]
    pub name: Option<String>,
    /// Whether it is offered.
    #[serde(default = "yes")]
    pub active: bool,
    /// Whether it is switched off.
    #[serde(default)]
    pub disabled: bool,
    /// Parent service id.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Display texts by language (`en`, `zh-cn`).
    #[serde(default)]
    pub overview_ui: std::collections::BTreeMap<String, OverviewUi>,
    /// Metadata; `pricing` is the part read here.
    #[serde(default)]
    pub metadata: Option<PlanMetadata>,
}

fn yes() -> bool {
    true
}

/// Display texts of one language.
#[derive(Debug, Deserialize)]
pub struct OverviewUi {
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// Plan metadata.
#[derive(Debug, Deserialize)]
pub struct PlanMetadata {
    /// Pricing summary.
    #[serde(default)]
    pub pricing: Option<PlanPricingMeta>,
}

/// `metadata.pricing`.
#[derive(Debug, Deserialize)]
pub struct PlanPricingMeta {
    /// `Paid`, `free`, `subscription`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Embedded metrics (older entries carry them; newer ones say `null`).
    #[serde(default)]
    pub metrics: Option<Vec<Metric>>,
    /// The pricing URL.
    #[serde(default)]
    pub url: Option<String>,
}

impl Plan {
    /// True for plans that cost nothing.
    pub fn is_free(&self) -> bool {
        self.pricing_kind()
            .is_some_and(|k| k.eq_ignore_ascii_case("free") || k.eq_ignore_ascii_case("lite"))
    }

    /// `metadata.pricing.type`.
    pub fn pricing_kind(&self) -> Option<&str> {
        self.metadata.as_ref()?.pricing.as_ref()?.kind.as_deref()
    }

    fn ui(&self, langs: &[&str]) -> Option<&OverviewUi> {
        langs.iter().find_map(|l| self.overview_ui.get(*l))
    }
}

/// `GET /api/v1/{plan_id}:global/pricing?deployment_region=…`.
#[derive(Debug, Deserialize)]
pub struct PlanPricing {
    /// `<plan_id>:global`.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// `global`.
    #[serde(default)]
    pub deployment_location: Option<String>,
    /// `eu-de`.
    #[serde(default)]
    pub deployment_region: Option<String>,
    /// `paygo`, `subscription`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// One entry per metered part.
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

/// One metric of a plan.
#[derive(Debug, Deserialize)]
pub struct Metric {
    /// Part number.
    #[serde(default)]
    pub part_ref: Option<String>,
    /// Metric id (`COSVLTBCALL`).
    #[serde(default)]
    pub metric_id: Option<String>,
    /// `Granular Tier`, `Step Tier`, `Block Tier`, …
    #[serde(default)]
    pub tier_model: Option<String>,
    /// `Vault Class B calls`.
    #[serde(default)]
    pub resource_display_name: Option<String>,
    /// `VAULT_CLASS_B_CALLS`.
    #[serde(default)]
    pub charge_unit_name: Option<String>,
    /// `API_CALLS`.
    #[serde(default)]
    pub charge_unit: Option<String>,
    /// Units one price buys (10000).
    #[serde(default)]
    pub charge_unit_quantity: Option<Box<RawValue>>,
    /// Amounts by country.
    #[serde(default)]
    pub amounts: Vec<Amount>,
}

/// The prices of one country.
#[derive(Debug, Deserialize)]
pub struct Amount {
    /// ISO 3166 alpha-3 (`USA`, `DEU`).
    #[serde(default)]
    pub country: Option<String>,
    /// ISO 4217.
    #[serde(default)]
    pub currency: Option<String>,
    /// Tiers.
    #[serde(default)]
    pub prices: Vec<TierPrice>,
}

/// One tier.
#[derive(Debug, Deserialize)]
pub struct TierPrice {
    /// Upper bound of the tier.
    #[serde(default)]
    pub quantity_tier: Option<Box<RawValue>>,
    /// Price per `charge_unit_quantity`.
    #[serde(default)]
    pub price: Option<Box<RawValue>>,
}

/// What a plan's pricing alone does not say: which service and product it is.
#[derive(Debug, Clone)]
pub struct PlanInfo {
    /// Catalog service name (`cloud-object-storage`).
    pub service: String,
    /// Category.
    pub category: Category,
    /// English product name (the service's and the plan's), for the listing text.
    pub name_en: String,
    /// Chinese product name, for the listing text.
    pub name_zh: String,
}

/// Known catalog services: `(name, service id, category, English, Chinese)`.
pub const SERVICES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "cloud-object-storage",
        "dff97f5c-bc5e-4455-b470-411c3edbe49c",
        "storage.object",
        "Cloud Object Storage",
        "对象存储",
    ),
    (
        "power-iaas",
        "abd259f0-9990-11e8-acc8-b9f54a8f1661",
        "compute.vm",
        "Power Virtual Server",
        "Power 虚拟服务器",
    ),
    (
        "is.instance",
        "is.instance",
        "compute.vm",
        "Virtual Server for VPC",
        "VPC 虚拟服务器",
    ),
    (
        "is.volume",
        "is.volume",
        "storage.block",
        "Block Storage for VPC",
        "VPC 块存储",
    ),
    (
        "is.floating-ip",
        "is.floating-ip",
        "network.ip",
        "Floating IP for VPC",
        "VPC 浮动 IP",
    ),
    (
        "databases-for-postgresql",
        "databases-for-postgresql",
        "database.relational",
        "Databases for PostgreSQL",
        "PostgreSQL 数据库",
    ),
    (
        "databases-for-mysql",
        "databases-for-mysql",
        "database.relational",
        "Databases for MySQL",
        "MySQL 数据库",
    ),
    (
        "databases-for-redis",
        "databases-for-redis",
        "database.cache",
        "Databases for Redis",
        "Redis 数据库",
    ),
    (
        "databases-for-mongodb",
        "databases-for-mongodb",
        "database.nosql",
        "Databases for MongoDB",
        "MongoDB 数据库",
    ),
    (
        "cloudantnosqldb",
        "cloudantnosqldb",
        "database.nosql",
        "Cloudant",
        "Cloudant 数据库",
    ),
    (
        "messagehub",
        "messagehub",
        "middleware.queue",
        "Event Streams",
        "事件流",
    ),
    (
        "messages-for-rabbitmq",
        "messages-for-rabbitmq",
        "middleware.queue",
        "Messages for RabbitMQ",
        "RabbitMQ 消息队列",
    ),
];

/// A known service by name or id.
pub fn known_service(
    name_or_id: &str,
) -> Option<&'static (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    SERVICES
        .iter()
        .find(|s| s.0 == name_or_id || s.1 == name_or_id)
}

/// The region of an IBM deployment region, from the one region table; a
/// code that it does not list is placed by country from its prefix.
pub fn region_of(code: &str) -> Result<Region, String> {
    region_or_code(Vendor::Ibm, code, COUNTRY_PREFIXES)
}

/// Code prefixes that are ISO countries (`us-…`, `jp-…`; `eu-` is not).
const COUNTRY_PREFIXES: &[(&str, &str)] = &[
    ("us-", "us"),
    ("jp-", "jp"),
    ("ca-", "ca"),
    ("br-", "br"),
    ("au-", "au"),
    ("in-", "in"),
    ("kr-", "kr"),
    ("de-", "de"),
    ("gb-", "gb"),
    ("es-", "es"),
    ("fr-", "fr"),
];

fn unit_of(metric: &Metric) -> PriceUnit {
    let text = format!(
        "{} {}",
        metric.charge_unit.as_deref().unwrap_or_default(),
        metric.charge_unit_name.as_deref().unwrap_or_default()
    )
    .to_ascii_uppercase();
    let has = |w: &str| text.contains(w);
    if (has("GIGABYTE") || has("GB")) && has("MONTH") {
        PriceUnit::GbMonth
    } else if (has("GIGABYTE") || has("GB")) && has("HOUR") {
        PriceUnit::GbHour
    } else if has("HOUR") {
        PriceUnit::Hour
    } else if has("CALL") || has("REQUEST") || has("TRANSACTION") {
        PriceUnit::Request
    } else if has("GIGABYTE") || has("_GB") || has("GB_") {
        PriceUnit::Gb
    } else if has("MONTH") {
        PriceUnit::Month
    } else {
        // IBM meters many things (instances, items, licences): one of them.
        PriceUnit::Unit
    }
}

fn decimal(raw: &RawValue, what: &str) -> Result<Decimal, String> {
    decimal_from_json_text(raw.get()).map_err(|e| format!("{what} is not a number: {e}"))
}

/// The price component of one metric, for `country`.
pub fn metric_component(
    metric: &Metric,
    country: &str,
    mode: BillingMode,
) -> Result<PriceComponent, String> {
    let id = metric
        .metric_id
        .as_deref()
        .or(metric.part_ref.as_deref())
        .filter(|s| !s.is_empty())
        .ok_or("metric without metric_id")?;
    let amount = metric
        .amounts
        .iter()
        .find(|a| a.country.as_deref() == Some(country))
        .ok_or_else(|| format!("metric {id} has no amount for country {country}"))?;
    let code = amount.currency.as_deref().unwrap_or_default();
    let currency = Currency::parse(code).map_err(|_| format!("unknown currency `{code}`"))?;
    let pack = match &metric.charge_unit_quantity {
        Some(raw) => decimal(raw, "charge_unit_quantity")?,
        None => Decimal::ONE,
    };
    if pack <= Decimal::ZERO {
        return Err(format!("metric {id} has charge_unit_quantity {pack}"));
    }
    let mut bands: Vec<(Option<Decimal>, Money)> = Vec::with_capacity(amount.prices.len());
    for price in &amount.prices {
        let value = decimal(price.price.as_deref().ok_or("tier without price")?, "price")?;
        let value = if pack == Decimal::ONE {
            value
        } else {
            value.checked_div(pack).ok_or("price overflow")?.normalize()
        };
        let upper = price
            .quantity_tier
            .as_deref()
            .map(|q| decimal(q, "quantity_tier"))
            .transpose()?;
        bands.push((upper, Money::new(value, currency)));
    }
    bands.sort_by_key(|b| b.0);
    let unit = unit_of(metric);
    let component =
        match bands.as_slice() {
            [] => return Err(format!("metric {id} has no prices")),
            [(_, money)] => PriceComponent::flat(mode, unit, *money),
            _ => {
                let mut from = Decimal::ZERO;
                let last = bands.len() - 1;
                let mut tiers = Vec::with_capacity(bands.len());
                for (i, (upper, money)) in bands.iter().enumerate() {
                    let to = if i == last { None } else { *upper };
                    tiers.push(PriceTier::new(from, to, *money).map_err(|e| {
                        format!("metric {id}: {}", e.within(&format!("tiers[{i}]")))
                    })?);
                    from = to.unwrap_or(from);
                }
                PriceComponent::tiered(mode, unit, tiers)
            }
        }
        .and_then(|component| component.for_component(id))
        .map_err(|e| format!("metric {id}: {e}"))?;
    Ok(component)
}

/// The listing of one plan's pricing in one deployment region.
pub fn normalise_pricing(
    pricing: &PlanPricing,
    info: &PlanInfo,
    country: &str,
    raw: &[u8],
    fetched_at: DateTime<Utc>,
) -> Result<Listing, String> {
    let deployment = pricing
        .deployment_id
        .as_deref()
        .filter(|d| !d.is_empty())
        .ok_or("missing deployment_id")?;
    let plan_id = deployment.split(':').next().unwrap_or(deployment);
    let region_code = pricing
        .deployment_region
        .as_deref()
        .or(pricing.deployment_location.as_deref())
        .filter(|r| !r.is_empty())
        .unwrap_or("global");
    let mode = match pricing.kind.as_deref() {
        Some(k) if k.eq_ignore_ascii_case("subscription") => BillingMode::Monthly,
        _ => BillingMode::OnDemand,
    };
    let prices = pricing
        .metrics
        .iter()
        .map(|metric| metric_component(metric, country, mode))
        .collect::<Result<Vec<_>, _>>()?;
    plan_builder(
        plan_id,
        region_code,
        info,
        prices,
        PRICING_API,
        raw,
        fetched_at,
    )?
    .build()
    .map_err(|e| e.to_string())
}

fn plan_builder(
    plan_id: &str,
    region_code: &str,
    info: &PlanInfo,
    prices: Vec<PriceComponent>,
    api: &str,
    raw: &[u8],
    fetched_at: DateTime<Utc>,
) -> Result<ListingBuilder, String> {
    let provenance = Provenance::from_raw(api, raw, fetched_at);
    // `databases-for-postgresql` is PostgreSQL; IBM's pricing names no version.
    let engine = info
        .service
        .strip_prefix("databases-for-")
        .map(str::to_owned);
    Ok(Draft {
        category: info.category.clone(),
        service: &info.service,
        region: region_of(region_code)?,
        specs: Specs {
            engine,
            ..Specs::default()
        },
        prices,
    }
    .builder(
        Vendor::Ibm,
        format!("{plan_id}@{region_code}"),
        provenance,
        Subject::Product {
            zh: &info.name_zh,
            en: &info.name_en,
        },
    ))
}

/// What a plan record says about itself, for its listings.
pub fn plan_info(
    plan: &Plan,
    service: &str,
    category: &Category,
    service_en: &str,
    service_zh: &str,
) -> PlanInfo {
    let en = plan.ui(&["en", "en-us"]);
    let zh = plan.ui(&["zh-cn", "zh", "zh_CN", "zh-CN"]);
    let display = en
        .and_then(|u| u.display_name.clone())
        .or_else(|| plan.name.clone())
        .unwrap_or_else(|| "plan".into());
    PlanInfo {
        service: service.to_owned(),
        category: category.clone(),
        name_en: format!("{service_en} {display}"),
        name_zh: zh
            .and_then(|u| u.display_name.as_deref())
            .map_or_else(|| format!("{service_zh} {display}"), unglue),
    }
}

/// The listing of a plan in a plan list: a free plan (no prices, tagged
/// `free`) or a plan whose metrics are embedded. Other paid plans are not
/// priced by the list and are an error naming the call that prices them.
pub fn normalise_listed_plan(
    plan: &Plan,
    info: &PlanInfo,
    country: &str,
    raw: &[u8],
    fetched_at: DateTime<Utc>,
) -> Result<Listing, String> {
    let id = plan
        .id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or("plan without id")?;
    if plan.is_free() {
        return plan_builder(id, "global", info, Vec::new(), PLANS_API, raw, fetched_at)?
            .tag("free")
            .build()
            .map_err(|e| e.to_string());
    }
    let metrics = plan
        .metadata
        .as_ref()
        .and_then(|m| m.pricing.as_ref())
        .and_then(|p| p.metrics.as_ref())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            format!("paid plan without prices in the plan list: import GET /api/v1/{id}:global/pricing?deployment_region=<region>")
        })?;
    let prices = metrics
        .iter()
        .map(|metric| metric_component(metric, country, BillingMode::OnDemand))
        .collect::<Result<Vec<_>, _>>()?;
    plan_builder(id, "global", info, prices, PLANS_API, raw, fetched_at)?
        .build()
        .map_err(|e| e.to_string())
}
