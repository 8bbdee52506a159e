//! Kingsoft Cloud (金山云) JSON → [`Listing`].
//!
//! Handled responses:
//! - KEC `DescribeSpotPriceHistory` (2016-03-04): `{RequestId, InstanceType,
//!   AvailabilityZone, SpotPrices[{SpotPrice, OriginPrice, Timestamp}]}`.
//!   This is the one KEC price query we found documented (docs.ksyun.com
//!   document 3961); no real sample of it exists, so its shape is written
//!   from the field table there. The latest entry gives two listings:
//!   `<type>@<zone>/spot` (`SpotPrice`) and `<type>@<zone>/on_demand`
//!   (`OriginPrice`, the pay-as-you-go hourly price), in CNY per hour.
//! - KEC `DescribeInstanceTypeConfigs`: the catalog, one spec listing per
//!   type and zone (`<type>@<zone>`), no price.
//! - trade `DescribeInstances` (2020-01-14): the account's instances, not a
//!   price list: accepted, no listings.
//! - the error envelope `{RequestId, Error{Code, Message}}`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use shiyun_core::listing::{
    BillingMode, Listing, PriceComponent, PriceUnit, Provenance, Region, Specs, Vendor,
};
use shiyun_core::money::Currency;
use shiyun_core::store::RecordRejection;

use crate::decimal::ExactDecimal;
use crate::normalise::{
    Draft, Subject, family_letters, flat_price, parse_category, region_or_code,
};
use crate::{ConnectorError, FetchedPage, ImportContext};

const VENDOR: Vendor = Vendor::Kingsoft;

/// Code prefixes that name a country, for regions newer than the table.
const COUNTRY_PREFIXES: &[(&str, &str)] = &[("cn-", "cn")];

/// The region of a Kingsoft region or zone code (`cn-beijing-6a` → `cn-beijing-6`),
/// from the one region table in [`shiyun_core::geography`]; a code it does
/// not know keeps its code.
pub fn region_of(code: &str) -> Result<Region, String> {
    region_or_code(VENDOR, code, COUNTRY_PREFIXES)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Body {
    error: Option<ApiError>,
    instance_type: Option<String>,
    availability_zone: Option<String>,
    spot_prices: Option<Vec<Box<RawValue>>>,
    instance_type_config_set: Option<Vec<Box<RawValue>>>,
    /// trade `DescribeInstances`.
    #[serde(rename = "data")]
    data: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SpotPrice {
    spot_price: Option<ExactDecimal>,
    origin_price: Option<ExactDecimal>,
    #[serde(default)]
    timestamp: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AvailabilityZoneEntry {
    availability_zone: String,
}

/// One `InstanceTypeConfigSet[]` entry of `DescribeInstanceTypeConfigs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceTypeConfig {
    /// `N3.2B`.
    pub instance_type: String,
    #[serde(default)]
    instance_family: Option<String>,
    #[serde(default)]
    instance_family_name: Option<String>,
    #[serde(default, rename = "CPU")]
    cpu: Option<u32>,
    /// GiB.
    #[serde(default)]
    memory: Option<ExactDecimal>,
    #[serde(default, rename = "GPU")]
    gpu: Option<u32>,
    #[serde(default)]
    availability_zone_set: Vec<AvailabilityZoneEntry>,
}

impl InstanceTypeConfig {
    /// The zones that sell this type.
    pub fn zones(&self) -> Vec<String> {
        self.availability_zone_set
            .iter()
            .map(|z| z.availability_zone.clone())
            .collect()
    }

    fn specs(&self) -> Specs {
        Specs {
            vcpu: self.cpu,
            memory_gib: self.memory.map(|m| m.0),
            gpu_count: self.gpu.filter(|n| *n > 0),
            ..Specs::default()
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
    matches!(
        code,
        "SignatureDoesNotMatch"
            | "InvalidAccessKey"
            | "InvalidAccessKeyId"
            | "InvalidClientTokenId"
            | "MissingAuthenticationToken"
            | "IncompleteSignature"
    ) || code.starts_with("AuthFailure")
}

fn api_error(error: ApiError) -> ConnectorError {
    let refused = is_auth_code(&error.code);
    ConnectorError::from_vendor(VENDOR, error.code, error.message, refused)
}

/// The `Error.Code` of a body, if it is the error envelope.
pub fn error_code(body: &[u8]) -> Option<String> {
    let body: Body = serde_json::from_slice(body).ok()?;
    body.error.map(|e| e.code)
}

fn parse_body(body: &[u8]) -> Result<Body, ConnectorError> {
    let mut parsed: Body = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a kingsoft response: {e}")))?;
    if let Some(error) = parsed.error.take() {
        return Err(api_error(error));
    }
    Ok(parsed)
}

/// Checks a live body for the error envelope.
pub fn check_error(body: &[u8]) -> Result<(), ConnectorError> {
    parse_body(body).map(|_| ())
}

/// Normalises a saved Kingsoft response, detecting the API by its payload.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let parsed = parse_body(body)?;
    if parsed.spot_prices.is_some() {
        return spot_page_of(parsed, None, ctx.fetched_at);
    }
    if let Some(configs) = parsed.instance_type_config_set {
        let mut page = FetchedPage::default();
        for (i, raw) in configs.iter().enumerate() {
            let config: InstanceTypeConfig = match serde_json::from_str(raw.get()) {
                Ok(c) => c,
                Err(e) => {
                    page.reject(
                        format!("InstanceTypeConfigSet[{i}]"),
                        format!("unreadable record: {e}"),
                    );
                    continue;
                }
            };
            for zone in config.zones() {
                let result = region_of(&zone).and_then(|region| {
                    listing(
                        &config,
                        format!("{}@{zone}", config.instance_type),
                        region,
                        Vec::new(),
                        Provenance::from_raw(
                            "kingsoft.kec.DescribeInstanceTypeConfigs",
                            raw.get().as_bytes(),
                            ctx.fetched_at,
                        ),
                    )
                });
                page.push_result(format!("{}@{zone}", config.instance_type), result);
            }
        }
        return Ok(page);
    }
    if parsed.data.is_some() {
        // trade DescribeInstances lists the account's instances, not prices.
        return Ok(FetchedPage::default());
    }
    Err(malformed(
        "unknown kingsoft response: expected SpotPrices, InstanceTypeConfigSet or data",
    ))
}

/// Reads a live `DescribeInstanceTypeConfigs` answer.
pub fn parse_type_configs(
    body: &[u8],
) -> Result<(Vec<InstanceTypeConfig>, Vec<RecordRejection>), ConnectorError> {
    let parsed = parse_body(body)?;
    let raws = parsed.instance_type_config_set.ok_or_else(|| {
        malformed("DescribeInstanceTypeConfigs answer has no InstanceTypeConfigSet")
    })?;
    let mut configs = Vec::new();
    let mut rejections = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        match serde_json::from_str::<InstanceTypeConfig>(raw.get()) {
            Ok(c) => configs.push(c),
            Err(e) => rejections.push(RecordRejection {
                vendor_key: format!("InstanceTypeConfigSet[{i}]"),
                reason: format!("unreadable record: {e}"),
            }),
        }
    }
    Ok((configs, rejections))
}

/// Normalises a live `DescribeSpotPriceHistory` answer, with the catalog's specs.
pub fn spot_page(
    body: &[u8],
    config: Option<&InstanceTypeConfig>,
    fetched_at: DateTime<Utc>,
) -> Result<FetchedPage, ConnectorError> {
    let parsed = parse_body(body)?;
    spot_page_of(parsed, config, fetched_at)
}

/// Chinese and English names of a KEC family (`N3` of `N3.2B`).
fn family_names(family: &str) -> (&'static str, &'static str) {
    match family_letters(family) {
        "N" => ("通用型", "General Purpose"),
        "S" => ("标准型", "Standard"),
        "C" => ("计算优化型", "Compute Optimized"),
        "X" => ("内存优化型", "Memory Optimized"),
        "I" | "IO" => ("IO 优化型", "IO Optimized"),
        "E" => ("经济型", "Economy"),
        "P" | "GN" => ("GPU 计算型", "GPU Compute"),
        _ => ("云服务器", "Kingsoft Cloud Elastic Compute"),
    }
}

/// The listing of `config`'s type in `region`, with its prices (none for
/// a catalog entry). The family's Chinese name is the vendor's where it
/// gives one.
fn listing(
    config: &InstanceTypeConfig,
    sku: String,
    region: Region,
    prices: Vec<PriceComponent>,
    provenance: Provenance,
) -> Result<Listing, String> {
    let instance_type = config.instance_type.as_str();
    let family = config.instance_family.clone().unwrap_or_else(|| {
        instance_type
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    let (zh, en) = family_names(&family);
    let family_zh = config
        .instance_family_name
        .clone()
        .filter(|n| !n.is_ascii() && !n.trim().is_empty())
        .unwrap_or_else(|| format!("{zh} {family}"));
    let specs = config.specs();
    let category = if specs.gpu_count.is_some() {
        "compute.gpu"
    } else {
        "compute.vm"
    };
    Draft {
        category: parse_category(category)?,
        service: "kec",
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
            family_zh: &family_zh,
            family_en: &format!("{en} {family}"),
        },
    )
}

fn spot_page_of(
    parsed: Body,
    config: Option<&InstanceTypeConfig>,
    fetched_at: DateTime<Utc>,
) -> Result<FetchedPage, ConnectorError> {
    let raws = parsed.spot_prices.unwrap_or_default();
    let mut page = FetchedPage::default();
    let instance_type = parsed.instance_type.unwrap_or_default();
    let zone = parsed.availability_zone.unwrap_or_default();
    let key = format!("{instance_type}@{zone}");
    if instance_type.trim().is_empty() || zone.trim().is_empty() {
        page.reject(key, "missing InstanceType or AvailabilityZone");
        return Ok(page);
    }
    // The latest entry is the current price; timestamps sort as text.
    let mut latest: Option<(SpotPrice, &RawValue)> = None;
    for raw in &raws {
        match serde_json::from_str::<SpotPrice>(raw.get()) {
            Ok(entry) => {
                if latest
                    .as_ref()
                    .is_none_or(|(l, _)| entry.timestamp > l.timestamp)
                {
                    latest = Some((entry, raw.as_ref()));
                }
            }
            Err(e) => page.reject(key.clone(), format!("unreadable spot price: {e}")),
        }
    }
    let Some((entry, raw)) = latest else {
        return Ok(page);
    };
    let region = match region_of(&zone) {
        Ok(region) => region,
        Err(reason) => {
            page.reject(key, reason);
            return Ok(page);
        }
    };
    let empty = InstanceTypeConfig {
        instance_type: instance_type.clone(),
        instance_family: None,
        instance_family_name: None,
        cpu: None,
        memory: None,
        gpu: None,
        availability_zone_set: Vec::new(),
    };
    let config = config.unwrap_or(&empty);
    let offers = [
        ("spot", BillingMode::Spot, entry.spot_price),
        ("on_demand", BillingMode::OnDemand, entry.origin_price),
    ];
    for (suffix, mode, amount) in offers {
        let Some(amount) = amount.map(|a| a.0) else {
            continue;
        };
        let result = price(mode, amount).and_then(|p| {
            listing(
                config,
                format!("{key}/{suffix}"),
                region.clone(),
                vec![p],
                Provenance::from_raw(
                    "kingsoft.kec.DescribeSpotPriceHistory",
                    raw.get().as_bytes(),
                    fetched_at,
                ),
            )
        });
        page.push_result(key.clone(), result);
    }
    Ok(page)
}

fn price(mode: BillingMode, amount: Decimal) -> Result<PriceComponent, String> {
    flat_price(mode, PriceUnit::Hour, amount, Currency::CNY)
}
