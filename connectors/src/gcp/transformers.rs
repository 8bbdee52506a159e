//! Cloud Billing Catalog JSON and its translation into listings.
//!
//! A SKU covers several regions (`serviceRegions`) at one price. It becomes
//! **one listing per covered region**, keyed `<skuId>@<region>`, because
//! customers search and buy by region; a SKU whose only region is `global`
//! (or whose `geoTaxonomy` is `GLOBAL`) becomes one `global` listing.
//! Multi-region codes (`us`, `europe`, `asia`) map to their country when
//! there is one (`us`), else to `global`.
//!
//! Money is `unitPrice{currencyCode, units, nanos}` = units + nanos / 10⁹,
//! computed exactly; `usageUnit` (`h`, `GiBy.h`, `GiBy.mo`) gives the unit;
//! `tieredRates[].startUsageAmount` gives the tiers.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use shiyun_core::listing::{BillingMode, Listing, PriceUnit, Provenance, Region, Specs, Vendor};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::RecordRejection;

use crate::decimal::decimal_from_json_text;
use crate::normalise::{
    Draft, Subject, parse_category, price_from_tier_starts, region_or_code, unglue,
};

/// `vendor_api` of listings read from the Catalog API.
pub const CATALOG_API: &str = "gcp.cloudbilling.skus";

/// A page of `services.skus.list`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuPage {
    /// The SKUs, kept raw so each can fail alone.
    #[serde(default)]
    pub skus: Vec<Box<RawValue>>,
    /// Token of the next page; empty or absent on the last.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// One SKU.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    /// The SKU id (`039F-D0DA-4055`).
    #[serde(default)]
    pub sku_id: Option<String>,
    /// Description (`Nvidia Tesla A100 GPU running in Americas`).
    #[serde(default)]
    pub description: Option<String>,
    /// Category.
    #[serde(default)]
    pub category: Option<SkuCategory>,
    /// Regions the SKU is offered in.
    #[serde(default)]
    pub service_regions: Vec<String>,
    /// Prices (the current one, or a history when asked for a time range).
    #[serde(default)]
    pub pricing_info: Vec<PricingInfo>,
    /// Geographic classification.
    #[serde(default)]
    pub geo_taxonomy: Option<GeoTaxonomy>,
}

/// A SKU's category.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuCategory {
    /// `Compute Engine`.
    #[serde(default)]
    pub service_display_name: Option<String>,
    /// `Compute`, `Storage`, `Network`, `License`.
    #[serde(default)]
    pub resource_family: Option<String>,
    /// `GPU`, `CPU`, `RAM`, `SSD`, …
    #[serde(default)]
    pub resource_group: Option<String>,
    /// `OnDemand`, `Preemptible`, `Commit1Yr`, `Commit3Yr`.
    #[serde(default)]
    pub usage_type: Option<String>,
}

/// One price of a SKU, valid from `effectiveTime`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingInfo {
    /// The price.
    #[serde(default)]
    pub pricing_expression: Option<PricingExpression>,
    /// When it took effect (RFC 3339).
    #[serde(default)]
    pub effective_time: Option<String>,
}

/// Unit and tiered rates.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingExpression {
    /// `h`, `GiBy.h`, `GiBy.mo`, …
    #[serde(default)]
    pub usage_unit: Option<String>,
    /// Tiers, ascending by `startUsageAmount`.
    #[serde(default)]
    pub tiered_rates: Vec<TieredRate>,
}

/// One tier.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TieredRate {
    /// Usage from which this rate applies, in `usageUnit`.
    #[serde(default)]
    pub start_usage_amount: Option<Box<RawValue>>,
    /// The rate.
    #[serde(default)]
    pub unit_price: Option<GoogleMoney>,
}

/// `google.type.Money`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleMoney {
    /// ISO 4217 code.
    #[serde(default)]
    pub currency_code: Option<String>,
    /// Whole units (an int64, sent as a string).
    #[serde(default)]
    pub units: Option<Box<RawValue>>,
    /// Billionths (an int32).
    #[serde(default)]
    pub nanos: Option<Box<RawValue>>,
}

/// `geoTaxonomy`.
#[derive(Debug, Deserialize)]
pub struct GeoTaxonomy {
    /// `GLOBAL`, `REGIONAL`, `MULTI_REGIONAL`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Regions.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// The exact amount of a `google.type.Money`: units + nanos / 10⁹.
pub fn money_of(money: &GoogleMoney) -> Result<Money, String> {
    let code = money.currency_code.as_deref().unwrap_or_default();
    let currency = Currency::parse(code).map_err(|_| format!("unknown currency `{code}`"))?;
    let integer = |raw: &Option<Box<RawValue>>, field: &str| -> Result<i64, String> {
        let Some(raw) = raw else { return Ok(0) };
        let value = decimal_from_json_text(raw.get())
            .map_err(|e| format!("price {field} is not a number: {e}"))?;
        if !value.fract().is_zero() {
            return Err(format!("price {field} `{value}` is not an integer"));
        }
        i64::try_from(value).map_err(|_| format!("price {field} `{value}` is out of range"))
    };
    let units = integer(&money.units, "units")?;
    let nanos = integer(&money.nanos, "nanos")?;
    if nanos.abs() >= 1_000_000_000 {
        return Err(format!("price nanos `{nanos}` is out of range"));
    }
    let amount = Decimal::from(units)
        .checked_add(Decimal::new(nanos, 9))
        .ok_or("price overflow")?;
    Ok(Money::new(amount, currency))
}

/// Region prefixes that name a country, for regions newer than the table.
const COUNTRY_PREFIXES: &[(&str, &str)] = &[
    ("us-", "us"),
    ("northamerica-northeast", "ca"),
    ("australia-", "au"),
];

/// The region of a GCP region code, from the one region table; a code that
/// it does not list is placed by country from its prefix.
pub fn region_of(code: &str) -> Result<Region, String> {
    region_or_code(Vendor::Gcp, code, COUNTRY_PREFIXES)
}

/// The regions a SKU is listed in.
fn regions_of(sku: &Sku) -> Vec<String> {
    let geo = sku.geo_taxonomy.as_ref();
    if geo.and_then(|g| g.kind.as_deref()) == Some("GLOBAL") {
        return vec!["global".into()];
    }
    if !sku.service_regions.is_empty() {
        return sku.service_regions.clone();
    }
    match geo {
        Some(g) if !g.regions.is_empty() => g.regions.clone(),
        _ => vec!["global".into()],
    }
}

fn price_unit(unit: &str) -> Result<PriceUnit, String> {
    Ok(match unit {
        "h" => PriceUnit::Hour,
        "d" => PriceUnit::Day,
        "mo" => PriceUnit::Month,
        "GiBy.h" => PriceUnit::GbHour,
        "GiBy.mo" => PriceUnit::GbMonth,
        "GiBy.d" => return Err("unsupported usage unit `GiBy.d`".into()),
        "GiBy" => PriceUnit::Gb,
        "count" => PriceUnit::Request,
        other => return Err(format!("unknown usage unit `{other}`")),
    })
}

/// `Nvidia Tesla A100 GPU running in Americas` → `NVIDIA A100`.
fn gpu_model(description: &str) -> Option<String> {
    let head = description.split(" running in ").next()?.trim();
    let head = head.strip_suffix(" GPU").unwrap_or(head);
    let model = head.replace("Nvidia", "NVIDIA").replace("Tesla ", "");
    (!model.is_empty()).then_some(model)
}

/// What a SKU's category makes of it: taxonomy category, the priced part, Chinese label.
fn classify(
    category: &SkuCategory,
) -> Result<(&'static str, Option<&'static str>, &'static str), String> {
    let family = category.resource_family.as_deref().unwrap_or_default();
    let group = category.resource_group.as_deref().unwrap_or_default();
    let service = category.service_display_name.as_deref().unwrap_or_default();
    Ok(match (family, group) {
        ("Compute", "GPU") => ("compute.gpu", Some("gpu"), "GPU"),
        ("Compute", "CPU") => ("compute.vm", Some("vcpu"), "vCPU"),
        ("Compute", "RAM") => ("compute.vm", Some("memory"), "内存"),
        ("Compute", _) => ("compute.vm", None, "虚拟机"),
        ("Storage", _) if service == "Cloud Storage" || group.ends_with("Storage") => {
            ("storage.object", None, "对象存储")
        }
        ("Storage", _) => ("storage.block", None, "块存储"),
        ("Network", g) if g.contains("Ip") || g.contains("IP") => {
            ("network.ip", None, "外部 IP 地址")
        }
        ("Network", _) => ("network.bandwidth", None, "网络流量"),
        (family, _) => return Err(format!("unsupported resource family `{family}`")),
    })
}

fn usage_mode(usage: &str) -> Result<(BillingMode, &'static str, &'static str), String> {
    Ok(match usage {
        "OnDemand" => (BillingMode::OnDemand, "", "（按需）"),
        "Preemptible" => (BillingMode::Spot, " (preemptible)", "（抢占式）"),
        "Commit1Yr" => (
            BillingMode::Reserved { term_months: 12 },
            " (1-year commitment)",
            "（1 年承诺）",
        ),
        "Commit3Yr" => (
            BillingMode::Reserved { term_months: 36 },
            " (3-year commitment)",
            "（3 年承诺）",
        ),
        other => return Err(format!("unknown usage type `{other}`")),
    })
}

/// Listings of one SKU: one per covered region (those in `only_regions`
/// when given).
pub fn normalise_sku(
    sku: &Sku,
    raw: &[u8],
    only_regions: &[String],
    fetched_at: DateTime<Utc>,
) -> Result<Vec<Listing>, String> {
    let sku_id = sku
        .sku_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or("missing skuId")?;
    let category = sku.category.as_ref().ok_or("missing category")?;
    let (category_name, component, label_zh) = classify(category)?;
    let (mode, suffix_en, suffix_zh) =
        usage_mode(category.usage_type.as_deref().unwrap_or("OnDemand"))?;
    // The latest price wins when the API returns a history.
    let info = sku
        .pricing_info
        .iter()
        .max_by(|a, b| a.effective_time.cmp(&b.effective_time))
        .ok_or("no pricingInfo")?;
    let expression = info
        .pricing_expression
        .as_ref()
        .ok_or("no pricingExpression")?;
    let unit = price_unit(expression.usage_unit.as_deref().unwrap_or_default())?;
    let mut tiers = Vec::with_capacity(expression.tiered_rates.len());
    for rate in &expression.tiered_rates {
        let from = match &rate.start_usage_amount {
            Some(raw) => {
                decimal_from_json_text(raw.get()).map_err(|e| format!("startUsageAmount: {e}"))?
            }
            None => Decimal::ZERO,
        };
        let amount = money_of(rate.unit_price.as_ref().ok_or("tier without unitPrice")?)?;
        tiers.push((from, amount));
    }
    if tiers.is_empty() {
        return Err("no tieredRates".into());
    }
    let price = price_from_tier_starts(mode, unit, tiers)?;
    let price = match component {
        Some(c) => price.for_component(c).map_err(|e| e.to_string())?,
        None => price,
    };
    let description = sku
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(sku_id);
    let mut specs = Specs::default();
    let head = description
        .split(" running in ")
        .next()
        .unwrap_or(description)
        .trim();
    let service = category
        .service_display_name
        .as_deref()
        .unwrap_or("Compute Engine");
    // The machine series a core or memory SKU is for (`N2 Instance Core`).
    let series = head
        .split_whitespace()
        .next()
        .filter(|w| w.len() <= 4 && w.bytes().any(|b| b.is_ascii_digit()))
        .unwrap_or_default();
    let mut product_zh = if service == "Compute Engine" {
        format!("计算引擎 {series} {label_zh}")
    } else {
        format!("{service} {label_zh}")
    };
    let mut product_en = format!("{service} {head}");
    match component {
        Some("gpu") => {
            specs.gpu_count = Some(1);
            specs.gpu_model = gpu_model(description);
            // One GPU's price: the model goes in the name.
            if let Some(model) = &specs.gpu_model {
                product_zh = format!("计算引擎 GPU {model}");
                product_en = format!("{service} GPU {model}");
            }
        }
        Some("vcpu") => specs.vcpu = Some(1),
        _ => {}
    }
    let product_zh = format!("{}{suffix_zh}", unglue(&product_zh));
    let product_en = format!("{product_en}{suffix_en}");
    let category = parse_category(category_name)?;
    let provenance = Provenance::from_raw(CATALOG_API, raw, fetched_at);
    let service = service.to_ascii_lowercase().replace(' ', "-");
    let mut out = Vec::new();
    for code in regions_of(sku) {
        if !only_regions.is_empty() && !only_regions.contains(&code) {
            continue;
        }
        let listing = Draft {
            category: category.clone(),
            service: &service,
            region: region_of(&code)?,
            specs: specs.clone(),
            prices: vec![price.clone()],
        }
        .builder(
            Vendor::Gcp,
            format!("{sku_id}@{code}"),
            provenance.clone(),
            Subject::Product {
                zh: &product_zh,
                en: &product_en,
            },
        )
        .tag(format!("usage_type:{}", category_usage(sku)))
        .build()
        .map_err(|e| e.to_string())?;
        out.push(listing);
    }
    Ok(out)
}

fn category_usage(sku: &Sku) -> String {
    sku.category
        .as_ref()
        .and_then(|c| c.usage_type.as_deref())
        .unwrap_or("OnDemand")
        .to_ascii_lowercase()
}

/// Listings and rejections of a page.
#[derive(Debug, Default)]
pub struct Normalised {
    /// The listings.
    pub listings: Vec<Listing>,
    /// The SKUs that could not be normalised.
    pub rejections: Vec<RecordRejection>,
}

/// Normalises the SKUs of a page; each bad SKU is a rejection keyed by its id.
pub fn normalise_page(
    page: &SkuPage,
    only_regions: &[String],
    fetched_at: DateTime<Utc>,
) -> Normalised {
    let mut out = Normalised::default();
    for (i, raw) in page.skus.iter().enumerate() {
        let result = serde_json::from_str::<Sku>(raw.get())
            .map_err(|e| format!("unreadable sku: {e}"))
            .and_then(|sku| normalise_sku(&sku, raw.get().as_bytes(), only_regions, fetched_at));
        match result {
            Ok(listings) => out.listings.extend(listings),
            Err(reason) => {
                let key = serde_json::from_str::<serde_json::Value>(raw.get())
                    .ok()
                    .and_then(|v| v["skuId"].as_str().map(str::to_owned))
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| format!("skus[{i}]"));
                out.rejections.push(RecordRejection {
                    vendor_key: key,
                    reason,
                });
            }
        }
    }
    out
}

/// The Google API error envelope.
#[derive(Debug, Deserialize)]
pub struct GoogleErrorBody {
    /// The error.
    pub error: GoogleError,
}

/// `error{code, message, status, details}`.
#[derive(Debug, Deserialize)]
pub struct GoogleError {
    /// HTTP status.
    #[serde(default)]
    pub code: Option<u16>,
    /// Message.
    #[serde(default)]
    pub message: Option<String>,
    /// `INVALID_ARGUMENT`, `PERMISSION_DENIED`, …
    #[serde(default)]
    pub status: Option<String>,
    /// `google.rpc.ErrorInfo` and others.
    #[serde(default)]
    pub details: Vec<GoogleErrorDetail>,
}

/// One detail of an error.
#[derive(Debug, Deserialize)]
pub struct GoogleErrorDetail {
    /// `API_KEY_INVALID`, …
    #[serde(default)]
    pub reason: Option<String>,
}

impl GoogleError {
    /// The most specific code: the detail reason, else the status.
    pub fn reason(&self) -> String {
        self.details
            .iter()
            .find_map(|d| d.reason.clone())
            .or_else(|| self.status.clone())
            .unwrap_or_else(|| self.code.map(|c| c.to_string()).unwrap_or_default())
    }

    /// True when the error means the API key or credentials were refused.
    pub fn is_credentials_error(&self) -> bool {
        let reason = self.reason();
        matches!(
            reason.as_str(),
            "API_KEY_INVALID"
                | "API_KEY_EXPIRED"
                | "API_KEY_SERVICE_BLOCKED"
                | "UNAUTHENTICATED"
                | "PERMISSION_DENIED"
        ) || matches!(
            self.status.as_deref(),
            Some("UNAUTHENTICATED" | "PERMISSION_DENIED")
        )
    }

    /// True when the error asks to slow down.
    pub fn is_throttling(&self) -> bool {
        self.status.as_deref() == Some("RESOURCE_EXHAUSTED")
            || self.reason() == "RATE_LIMIT_EXCEEDED"
    }
}
