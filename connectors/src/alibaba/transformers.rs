//! Alibaba Cloud ECS JSON → [`Listing`].
//!
//! Handled responses (ECS RPC API, version 2014-05-26):
//! - `DescribePrice`: one quote (`PriceInfo.Price`). The body does not say
//!   what was priced, so the request parameters are needed: `RegionId`,
//!   `InstanceType` (or `ResourceType=disk` with `DataDisk.1.Category` and
//!   `DataDisk.1.Size`), `PriceUnit` (`Hour` by default) and `Period`
//!   (1 by default). `OriginalPrice` is the list price, the listing's
//!   amount; `TradePrice` (after the account's discounts) is the platform's
//!   cost. Without `OriginalPrice`, `TradePrice` is the list price and there
//!   is no cost. (`DiscountPrice` is the difference of the two, not a
//!   price.) Both are for `Amount` instances (1 by default), so each is
//!   divided exactly by `Amount`. The provenance names the fields read.
//! - `DescribeInstanceTypes`: the catalog. With `RegionId` it yields one
//!   listing per type with specs and no price; without it the page is
//!   refused, since a listing needs a region.
//! - `DescribeRegions`: accepted, no listings (the region table is here).
//!
//! `vendor_sku` is `<type>@<region>/<billing>` for quotes
//! (`ecs.g6.large@cn-hangzhou/hour`, `…/month`, `…/year`, `…/month_3`) and
//! `<type>@<region>` for catalog entries, so each is one raw record.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use shiyun_core::listing::{
    Architecture, BillingMode, Listing, PriceComponent, PriceSource, PriceUnit, Provenance, Region,
    Specs, Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::RecordRejection;

use chrono::{DateTime, Utc};

use crate::decimal::ExactDecimal;
use crate::normalise::{
    Draft, Period, Subject, exact_div, family_letters, flat_price, parse_category, region_or_code,
    subscription,
};
use crate::{ConnectorError, FetchedPage, ImportContext};

const VENDOR: Vendor = Vendor::Alibaba;

/// Code prefixes that name a country, for regions newer than the table.
const COUNTRY_PREFIXES: &[(&str, &str)] = &[("cn-", "cn"), ("us-", "us")];

/// The region of an Alibaba region or zone code (`cn-hangzhou-h` → `cn-hangzhou`),
/// from the one region table in [`shiyun_core::geography`]; a code it does
/// not know keeps its code.
pub fn region_of(code: &str) -> Result<Region, String> {
    region_or_code(VENDOR, code, COUNTRY_PREFIXES)
}

/// Every payload an ECS answer may carry, plus the error envelope's fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Body {
    code: Option<String>,
    message: Option<String>,
    price_info: Option<Box<RawValue>>,
    instance_types: Option<InstanceTypes>,
    regions: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InstanceTypes {
    #[serde(default)]
    instance_type: Vec<Box<RawValue>>,
}

/// The fields of the list price and of the platform's price, as the
/// provenance names them within the raw `PriceInfo`.
const ORIGINAL_PRICE: &str = "Price.OriginalPrice";
const TRADE_PRICE: &str = "Price.TradePrice";

/// `PriceInfo` of `DescribePrice`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PriceInfo {
    price: QuotedPrice,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QuotedPrice {
    currency: Option<String>,
    trade_price: Option<ExactDecimal>,
    original_price: Option<ExactDecimal>,
}

/// One `InstanceTypes.InstanceType[]` entry of `DescribeInstanceTypes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceTypeSpec {
    /// `ecs.g6.large`.
    pub instance_type_id: String,
    /// `ecs.g6`.
    #[serde(default)]
    pub instance_type_family: Option<String>,
    /// vCPUs.
    #[serde(default)]
    pub cpu_core_count: Option<u32>,
    /// GiB.
    #[serde(default)]
    memory_size: Option<ExactDecimal>,
    #[serde(default, rename = "GPUAmount")]
    gpu_amount: Option<u32>,
    #[serde(default, rename = "GPUSpec")]
    gpu_spec: Option<String>,
    /// Kbit/s.
    #[serde(default)]
    instance_bandwidth_rx: Option<ExactDecimal>,
    #[serde(default)]
    cpu_architecture: Option<String>,
    /// GiB of local disks.
    #[serde(default)]
    local_storage_capacity: Option<ExactDecimal>,
}

impl InstanceTypeSpec {
    fn specs(&self) -> Specs {
        let architecture = match self
            .cpu_architecture
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("ARM") => Some(Architecture::Arm64),
            Some("X86") => Some(Architecture::X86_64),
            _ => None,
        };
        Specs {
            vcpu: self.cpu_core_count,
            memory_gib: self.memory_size.map(|d| d.0),
            gpu_count: self.gpu_amount.filter(|n| *n > 0),
            gpu_model: self.gpu_spec.clone().filter(|s| !s.trim().is_empty()),
            storage_gib: self
                .local_storage_capacity
                .map(|d| d.0)
                .filter(|d| *d > Decimal::ZERO),
            // Alibaba counts 1024 Kbit/s to the Mbit/s.
            bandwidth_mbps: self
                .instance_bandwidth_rx
                .and_then(|k| k.0.checked_div(Decimal::from(1024)))
                .map(|d| d.normalize()),
            architecture,
            os: None,
            ..Specs::default()
        }
    }
}

/// What a price was asked for: the `DescribePrice` request parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceQuery {
    /// `RegionId`.
    pub region_id: String,
    /// The resource priced.
    pub resource: Resource,
    /// `PriceUnit`: `Hour`, `Month` or `Year`.
    pub price_unit: String,
    /// `Period` in units of `price_unit`.
    pub period: u16,
    /// `Amount`: how many instances the quote is for (the price is their total).
    pub amount: u32,
}

/// The resource a `DescribePrice` call priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `ResourceType=instance` with `InstanceType`.
    Instance(String),
    /// `ResourceType=disk` with `DataDisk.1.Category` and `DataDisk.1.Size` (GiB).
    Disk {
        /// `cloud_essd`, `cloud_ssd`, …
        category: String,
        /// GiB.
        size: u32,
    },
}

impl PriceQuery {
    /// Reads the request parameters of a saved `DescribePrice` answer.
    pub fn from_params(ctx: &ImportContext) -> Result<Self, ConnectorError> {
        let need = |key: &str| ctx.require(VENDOR, "DescribePrice", key);
        let region_id = need("RegionId")?.to_owned();
        let resource = match ctx.param("ResourceType").unwrap_or("instance") {
            "instance" => Resource::Instance(need("InstanceType")?.to_owned()),
            "disk" => {
                let size = need("DataDisk.1.Size")?;
                Resource::Disk {
                    category: need("DataDisk.1.Category")?.to_owned(),
                    size: size.trim().parse().map_err(|_| {
                        malformed(format!(
                            "--param DataDisk.1.Size=`{size}` is not a number of GiB"
                        ))
                    })?,
                }
            }
            other => {
                return Err(malformed(format!(
                    "ResourceType `{other}` is not supported"
                )));
            }
        };
        let price_unit = ctx.param("PriceUnit").unwrap_or("Hour").to_owned();
        let period = match ctx.param("Period") {
            None => 1,
            Some(p) => p
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    malformed(format!("--param Period=`{p}` is not a positive number"))
                })?,
        };
        let amount = match ctx.param("Amount") {
            None => 1,
            Some(a) => a
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    malformed(format!("--param Amount=`{a}` is not a positive number"))
                })?,
        };
        Ok(PriceQuery {
            region_id,
            resource,
            price_unit,
            period,
            amount,
        })
    }

    /// The key of the priced offer without its billing (`ecs.g6.large@cn-hangzhou`).
    pub fn key(&self) -> String {
        match &self.resource {
            Resource::Instance(t) => format!("{t}@{}", self.region_id),
            Resource::Disk { category, size } => {
                format!("disk.{category}.{size}GiB@{}", self.region_id)
            }
        }
    }

    /// Billing mode, unit and SKU suffix of the quote.
    fn billing(&self) -> Result<(BillingMode, PriceUnit, String), String> {
        let n = self.period;
        match (self.price_unit.as_str(), n) {
            ("Hour", 1) => Ok((BillingMode::OnDemand, PriceUnit::Hour, "hour".into())),
            ("Month", n) => subscription(Period::Month, n),
            ("Year", n) => subscription(Period::Year, n),
            (unit, n) => Err(format!(
                "price unit `{unit}` with period {n} is not supported"
            )),
        }
    }
}

fn malformed(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: VENDOR,
        message: message.into(),
    }
}

fn is_auth_code(code: &str) -> bool {
    code.starts_with("InvalidAccessKeyId")
        || code.starts_with("InvalidSecurityToken")
        || matches!(
            code,
            "SignatureDoesNotMatch" | "IncompleteSignature" | "InvalidAccessKeySecret"
        )
}

/// Alibaba's error envelope `{RequestId, HostId, Code, Message}` as an error.
fn api_error(code: String, message: String) -> ConnectorError {
    let refused = is_auth_code(&code);
    ConnectorError::from_vendor(VENDOR, code, message, refused)
}

/// The error code of an error envelope, if `body` is one.
pub fn error_code(body: &[u8]) -> Option<String> {
    let body: Body = serde_json::from_slice(body).ok()?;
    if body.price_info.is_some() || body.instance_types.is_some() || body.regions.is_some() {
        return None;
    }
    body.code
}

fn parse_body(body: &[u8]) -> Result<Body, ConnectorError> {
    let parsed: Body = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not an alibaba ecs response: {e}")))?;
    let has_payload =
        parsed.price_info.is_some() || parsed.instance_types.is_some() || parsed.regions.is_some();
    if !has_payload && let Some(code) = parsed.code.clone() {
        return Err(api_error(code, parsed.message.clone().unwrap_or_default()));
    }
    Ok(parsed)
}

/// Checks a live body for the error envelope.
pub fn check_error(body: &[u8]) -> Result<(), ConnectorError> {
    parse_body(body).map(|_| ())
}

/// Normalises a saved ECS response, detecting the API by its payload.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let parsed = parse_body(body)?;
    let mut page = FetchedPage::default();
    if let Some(price_info) = parsed.price_info {
        let query = PriceQuery::from_params(ctx)?;
        page.push_result(
            query.key(),
            price_listing(&price_info, &query, None, ctx.fetched_at),
        );
    } else if let Some(types) = parsed.instance_types {
        let region_id = ctx.require(VENDOR, "DescribeInstanceTypes", "RegionId")?;
        let (specs, rejections) = instance_types(&types.instance_type);
        page.rejections = rejections;
        for (spec, raw) in specs {
            page.push_result(
                format!("{}@{region_id}", spec.instance_type_id),
                catalog_listing(&spec, raw, region_id, ctx.fetched_at),
            );
        }
    } else if parsed.regions.is_none() {
        return Err(malformed(
            "unknown alibaba response: expected PriceInfo, InstanceTypes or Regions",
        ));
    }
    Ok(page)
}

fn instance_types(
    raws: &[Box<RawValue>],
) -> (Vec<(InstanceTypeSpec, &RawValue)>, Vec<RecordRejection>) {
    let mut specs = Vec::new();
    let mut rejections = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        match serde_json::from_str::<InstanceTypeSpec>(raw.get()) {
            Ok(spec) if !spec.instance_type_id.trim().is_empty() => {
                specs.push((spec, raw.as_ref()))
            }
            Ok(_) => rejections.push(RecordRejection {
                vendor_key: format!("InstanceType[{i}]"),
                reason: "missing InstanceTypeId".into(),
            }),
            Err(e) => {
                let value: serde_json::Value = serde_json::from_str(raw.get()).unwrap_or_default();
                let key = value
                    .get("InstanceTypeId")
                    .and_then(|v| v.as_str())
                    .map_or_else(|| format!("InstanceType[{i}]"), str::to_owned);
                rejections.push(RecordRejection {
                    vendor_key: key,
                    reason: format!("unreadable record: {e}"),
                });
            }
        }
    }
    (specs, rejections)
}

/// Reads a live `DescribeInstanceTypes` answer: the specs, and the entries
/// that could not be read.
pub fn parse_instance_types(
    body: &[u8],
) -> Result<(Vec<InstanceTypeSpec>, Vec<RecordRejection>), ConnectorError> {
    let parsed = parse_body(body)?;
    let types = parsed
        .instance_types
        .ok_or_else(|| malformed("DescribeInstanceTypes answer has no InstanceTypes"))?;
    let (specs, rejections) = instance_types(&types.instance_type);
    Ok((specs.into_iter().map(|(s, _)| s).collect(), rejections))
}

/// Chinese and English names of an ECS family (`g6` of `ecs.g6.large`).
fn family_names(family: &str) -> (&'static str, &'static str) {
    match family_letters(family) {
        "g" => ("通用型", "General Purpose"),
        "c" => ("计算型", "Compute Optimized"),
        "r" => ("内存型", "Memory Optimized"),
        "re" => ("高内存型", "High Memory"),
        "u" => ("通用算力型", "Universal"),
        "t" => ("突发性能型", "Burstable"),
        "e" => ("经济型", "Economy"),
        "hfc" | "hfg" | "hfr" => ("高主频型", "High Clock Speed"),
        "gn" | "vgn" | "sgn" | "gni" => ("GPU 计算型", "GPU Compute"),
        "i" => ("本地 SSD 型", "Local SSD"),
        "d" => ("大数据型", "Big Data"),
        "ebmg" | "ebmc" | "ebmr" | "ebmgn" | "ebmhfg" => ("弹性裸金属服务器", "ECS Bare Metal"),
        "f" => ("FPGA 计算型", "FPGA Compute"),
        _ => ("云服务器 ECS", "Elastic Compute Service"),
    }
}

fn category_of(instance_type: &str, gpus: Option<u32>) -> &'static str {
    let family = instance_type.split('.').nth(1).unwrap_or_default();
    if family.starts_with("ebm") && !family.starts_with("ebmgn") {
        "compute.bare_metal"
    } else if gpus.is_some_and(|n| n > 0) || family.contains("gn") {
        "compute.gpu"
    } else {
        "compute.vm"
    }
}

/// The listing of an instance type in a region, with its prices (none for
/// a catalog entry).
fn instance_listing(
    instance_type: &str,
    sku: String,
    region: Region,
    specs: Specs,
    prices: Vec<PriceComponent>,
    provenance: Provenance,
) -> Result<Listing, String> {
    let family = instance_type.split('.').nth(1).unwrap_or(instance_type);
    let (zh, en) = family_names(family);
    Draft {
        category: parse_category(category_of(instance_type, specs.gpu_count))?,
        service: "ecs",
        region,
        specs,
        prices,
    }
    .build(
        VENDOR,
        sku,
        provenance,
        Subject::Instance {
            instance_type,
            family_zh: &format!("{zh} {family}"),
            family_en: &format!("{en} {family}"),
        },
    )
}

fn catalog_listing(
    spec: &InstanceTypeSpec,
    raw: &RawValue,
    region_id: &str,
    fetched_at: DateTime<Utc>,
) -> Result<Listing, String> {
    let region = region_of(region_id)?;
    let sku = format!("{}@{region_id}", spec.instance_type_id);
    let provenance = Provenance::from_raw(
        "alibaba.ecs.DescribeInstanceTypes",
        raw.get().as_bytes(),
        fetched_at,
    );
    instance_listing(
        &spec.instance_type_id,
        sku,
        region,
        spec.specs(),
        Vec::new(),
        provenance,
    )
}

/// Chinese and English names of an ECS disk category.
fn disk_names(category: &str) -> (&'static str, &'static str) {
    match category {
        "cloud" => ("普通云盘", "Basic Disk"),
        "cloud_efficiency" => ("高效云盘", "Ultra Disk"),
        "cloud_ssd" => ("SSD 云盘", "Standard SSD"),
        "cloud_essd" => ("ESSD 云盘", "Enhanced SSD"),
        "cloud_auto" => ("ESSD AutoPL 云盘", "ESSD AutoPL Disk"),
        "cloud_essd_entry" => ("ESSD Entry 云盘", "ESSD Entry Disk"),
        _ => ("云盘", "Cloud Disk"),
    }
}

/// The listing of one `DescribePrice` answer (`price_info` is its raw
/// `PriceInfo`), with the catalog's specs when the live flow has them.
pub fn price_listing(
    price_info: &RawValue,
    query: &PriceQuery,
    spec: Option<&InstanceTypeSpec>,
    fetched_at: DateTime<Utc>,
) -> Result<Listing, String> {
    let info: PriceInfo =
        serde_json::from_str(price_info.get()).map_err(|e| format!("unreadable price: {e}"))?;
    let currency_code = info
        .price
        .currency
        .as_deref()
        .ok_or("price has no currency")?;
    let currency = Currency::parse(currency_code).map_err(|e| e.to_string())?;
    let (list, cost) = match (info.price.original_price, info.price.trade_price) {
        (Some(list), trade) => ((list.0, ORIGINAL_PRICE), trade.map(|t| (t.0, TRADE_PRICE))),
        (None, Some(trade)) => ((trade.0, TRADE_PRICE), None),
        (None, None) => return Err("price has neither OriginalPrice nor TradePrice".into()),
    };
    // DescribePrice prices `Amount` instances together.
    let amount = per_instance(list.0, query.amount)?;
    let region = region_of(&query.region_id)?;
    let (mode, unit, suffix) = query.billing()?;
    let sku = format!("{}/{suffix}", query.key());
    let mut price = flat_price(mode, unit, amount, currency)?;
    if let Some((trade, _)) = cost {
        let cost = Money::new(per_instance(trade, query.amount)?, currency);
        price = price.with_cost(cost).map_err(|e| e.to_string())?;
    }
    let source = PriceSource::of(&price, list.1, cost.map(|(_, field)| field));
    let provenance = Provenance::from_raw(
        "alibaba.ecs.DescribePrice",
        price_info.get().as_bytes(),
        fetched_at,
    )
    .with_price_source(source);
    let prices = vec![price];
    match &query.resource {
        Resource::Instance(instance_type) => {
            let specs = spec.map(InstanceTypeSpec::specs).unwrap_or_default();
            instance_listing(instance_type, sku, region, specs, prices, provenance)
        }
        Resource::Disk { category, size } => {
            let (zh, en) = disk_names(category);
            let specs = Specs {
                storage_gib: Some(Decimal::from(*size)),
                ..Specs::default()
            };
            Draft {
                category: parse_category("storage.block")?,
                service: "ecs",
                region,
                specs,
                prices,
            }
            .build(
                VENDOR,
                sku,
                provenance,
                Subject::Product {
                    zh: &format!("{zh} {size} GiB"),
                    en: &format!("{en} {size} GiB"),
                },
            )
        }
    }
}

/// The price of one of `count` instances quoted together at `total`.
fn per_instance(total: Decimal, count: u32) -> Result<Decimal, String> {
    if count == 0 {
        return Err("Amount 0 prices nothing".into());
    }
    exact_div(total, u64::from(count))
        .ok_or_else(|| format!("price {total} does not divide exactly by Amount {count}"))
}

/// Reads a live `DescribePrice` answer into a listing or a rejection.
pub fn parse_price(
    body: &[u8],
    query: &PriceQuery,
    spec: Option<&InstanceTypeSpec>,
    fetched_at: DateTime<Utc>,
) -> Result<Result<Listing, RecordRejection>, ConnectorError> {
    let parsed = parse_body(body)?;
    let price_info = parsed
        .price_info
        .ok_or_else(|| malformed("DescribePrice answer has no PriceInfo"))?;
    Ok(
        price_listing(&price_info, query, spec, fetched_at).map_err(|reason| RecordRejection {
            vendor_key: query.key(),
            reason,
        }),
    )
}
