//! Azure Retail Prices JSON and its translation into listings.
//!
//! Each item is one meter of one SKU under one price type. The listing key
//! (`vendor_sku`) is `<skuId>:<meterId>:<type>` plus `:<n>y` for
//! reservations, because a Consumption, a DevTestConsumption and each
//! reservation term of the same meter share `skuId` and `meterId`. Items
//! with the same key on one page are the tiers of one price
//! (`tierMinimumUnits`) and become one tiered listing.
//!
//! Units: `unitOfMeasure` is a pack (`1 Hour`, `1 GB/Month`, `10K`,
//! `100 Hours`); the price is divided by the pack size exactly, so every
//! amount is per single unit (`10K` at 0.004 → 0.0000004 per request).
//! `tierMinimumUnits` counts packs and is scaled the same way. A reservation's
//! `retailPrice` is the total for the term although the unit says `1 Hour`:
//! it becomes `Reserved { term_months }` per `Term`, undivided.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use shiyun_core::listing::{
    BillingMode, Listing, PriceComponent, PriceUnit, Provenance, Specs, Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::RecordRejection;

use super::regions::region_of;
use crate::decimal::{ExactDecimal, decimal_from_json_text};
use crate::normalise::{Draft, Subject, unglue};
use crate::normalise::{parse_category, price_from_tier_starts};

/// `vendor_api` of listings read from the Retail Prices API.
pub const RETAIL_PRICES_API: &str = "azure.retail.prices";

/// One page of the Retail Prices API.
#[derive(Debug, Deserialize)]
pub struct RetailPage {
    /// Currency of the page (`USD`).
    #[serde(rename = "BillingCurrency", default)]
    pub billing_currency: Option<String>,
    /// The items, kept raw so each can fail alone.
    #[serde(rename = "Items", default)]
    pub items: Vec<Box<RawValue>>,
    /// URL of the next page, `null` on the last.
    #[serde(rename = "NextPageLink", default)]
    pub next_page_link: Option<String>,
    /// Items on this page.
    #[serde(rename = "Count", default)]
    pub count: Option<u64>,
}

/// A savings-plan price of an item (API version 2023-01-01-preview).
#[derive(Debug, Deserialize)]
pub struct SavingsPlanPrice {
    /// Retail price per unit under the plan.
    #[serde(rename = "retailPrice")]
    pub retail_price: Box<RawValue>,
    /// `1 Year` or `3 Years`.
    pub term: String,
}

/// One item of the Retail Prices API.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetailItem {
    /// ISO 4217 code.
    #[serde(default)]
    pub currency_code: Option<String>,
    /// Lower bound of this tier (`0.0`).
    #[serde(default)]
    pub tier_minimum_units: Option<ExactDecimal>,
    /// `1 Year`, `3 Years` for reservations.
    #[serde(default)]
    pub reservation_term: Option<String>,
    /// Retail price per `unitOfMeasure` (or per term for reservations); kept raw so a bad value is a rejection.
    #[serde(default)]
    pub retail_price: Option<Box<RawValue>>,
    /// ARM region name (`westeurope`), empty for global meters.
    #[serde(default)]
    pub arm_region_name: Option<String>,
    /// Display location (`EU West`, `Global`, `Zone 1`).
    #[serde(default)]
    pub location: Option<String>,
    /// Meter id.
    #[serde(default)]
    pub meter_id: Option<String>,
    /// Meter name (`F16s Spot`).
    #[serde(default)]
    pub meter_name: Option<String>,
    /// Product name (`Virtual Machines FS Series Windows`).
    #[serde(default)]
    pub product_name: Option<String>,
    /// SKU id (`DZH318Z0BQPS/00TG`).
    #[serde(default)]
    pub sku_id: Option<String>,
    /// SKU name (`F16s Spot`).
    #[serde(default)]
    pub sku_name: Option<String>,
    /// Service name (`Virtual Machines`).
    #[serde(default)]
    pub service_name: Option<String>,
    /// Service family (`Compute`).
    #[serde(default)]
    pub service_family: Option<String>,
    /// Pack and unit (`1 Hour`, `1 GB/Month`, `10K`).
    #[serde(default)]
    pub unit_of_measure: Option<String>,
    /// `Consumption`, `DevTestConsumption`, `Reservation`.
    #[serde(rename = "type", default)]
    pub price_type: Option<String>,
    /// ARM SKU name (`Standard_F16s`).
    #[serde(default)]
    pub arm_sku_name: Option<String>,
    /// Savings-plan prices.
    #[serde(default)]
    pub savings_plan: Vec<SavingsPlanPrice>,
}

fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl RetailItem {
    /// The listing key, or why there is none.
    pub fn vendor_sku(&self) -> Result<String, String> {
        let sku = text(&self.sku_id).ok_or("missing skuId")?;
        let meter = text(&self.meter_id).ok_or("missing meterId")?;
        let kind = text(&self.price_type).ok_or("missing type")?;
        Ok(match self.term_months()? {
            Some(months) => format!("{sku}:{meter}:{kind}:{}y", months / 12),
            None => format!("{sku}:{meter}:{kind}"),
        })
    }

    fn term_months(&self) -> Result<Option<u16>, String> {
        match text(&self.reservation_term) {
            None => Ok(None),
            Some(term) => term_months(term).map(Some),
        }
    }
}

/// `1 Year` → 12, `3 Years` → 36, `5 Years` → 60.
fn term_months(term: &str) -> Result<u16, String> {
    let years = term
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u16>().ok())
        .filter(|n| *n > 0 && term.to_ascii_lowercase().contains("year"))
        .ok_or_else(|| format!("unknown term `{term}`"))?;
    years
        .checked_mul(12)
        .ok_or_else(|| format!("term `{term}` is too long"))
}

/// Splits `unitOfMeasure` into its pack size and unit.
pub fn unit_of_measure(text: &str) -> Result<(Decimal, PriceUnit), String> {
    let text = text.trim();
    let digits: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut rest = &text[digits.len()..];
    let too_large = || format!("unit of measure `{text}` is too large");
    let mut pack = if digits.is_empty() {
        Decimal::ONE
    } else {
        shiyun_core::money::parse_decimal(&digits)
            .map_err(|_| format!("unknown unit of measure `{text}`"))?
    };
    // `10K`, `1M`: thousands and millions.
    if let Some(r) = rest.strip_prefix('K') {
        pack = pack
            .checked_mul(Decimal::from(1_000))
            .ok_or_else(too_large)?;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('M') {
        pack = pack
            .checked_mul(Decimal::from(1_000_000))
            .ok_or_else(too_large)?;
        rest = r;
    }
    let unit = match rest
        .trim()
        .trim_start_matches('/')
        .to_ascii_lowercase()
        .as_str()
    {
        "hour" | "hours" => PriceUnit::Hour,
        "day" | "days" => PriceUnit::Day,
        "month" | "months" => PriceUnit::Month,
        "year" | "years" => PriceUnit::Year,
        "gb/month" | "gib/month" | "gb/mo" | "gb month" => PriceUnit::GbMonth,
        "gb/hour" | "gib/hour" => PriceUnit::GbHour,
        "gb" | "gib" => PriceUnit::Gb,
        "tb" => {
            pack = pack
                .checked_mul(Decimal::from(1_000))
                .ok_or_else(too_large)?;
            PriceUnit::Gb
        }
        "" | "transactions" | "requests" | "operations" | "calls" => PriceUnit::Request,
        "iops/month" => PriceUnit::IopsMonth,
        "mbps/month" => PriceUnit::MbpsMonth,
        "mbps/hour" => PriceUnit::MbpsHour,
        _ => return Err(format!("unknown unit of measure `{text}`")),
    };
    if pack.is_zero() {
        return Err(format!("unknown unit of measure `{text}`"));
    }
    Ok((pack, unit))
}

/// Category of an item by service and product.
fn category_of(item: &RetailItem) -> Result<&'static str, String> {
    let service = text(&item.service_name).unwrap_or_default();
    let product = text(&item.product_name).unwrap_or_default();
    let arm_sku = text(&item.arm_sku_name).unwrap_or_default();
    Ok(match service {
        "Virtual Machines" if arm_sku.starts_with("Standard_N") => "compute.gpu",
        "Virtual Machines" => "compute.vm",
        "Storage" if product.contains("Disk") => "storage.block",
        "Storage" if product.contains("Files") => "storage.file",
        "Storage" => "storage.object",
        "Bandwidth" => "network.bandwidth",
        "Virtual Network" if product.contains("IP Address") => "network.ip",
        "IP Addresses" => "network.ip",
        "SQL Database"
        | "SQL Managed Instance"
        | "Azure Database for MySQL"
        | "Azure Database for PostgreSQL"
        | "Azure Database for MariaDB" => "database.relational",
        "Redis Cache" | "Azure Cache for Redis" => "database.cache",
        "Azure Cosmos DB" => "database.nosql",
        "Azure Firewall" => "security.firewall",
        "Load Balancer" | "Application Gateway" => "network.load_balancer",
        "Content Delivery Network" => "network.cdn",
        "Azure DDOS Protection" => "security.ddos",
        "Service Bus" | "Event Hubs" => "middleware.queue",
        other => return Err(format!("unsupported service `{other}`")),
    })
}

fn category_zh(category: &str) -> &'static str {
    match category {
        "compute.vm" => "虚拟机",
        "compute.gpu" => "GPU 虚拟机",
        "storage.block" => "托管磁盘",
        "storage.file" => "文件存储",
        "storage.object" => "对象存储",
        "network.bandwidth" => "带宽",
        "network.ip" => "公网 IP 地址",
        "database.relational" => "关系型数据库",
        "database.cache" => "Redis 缓存",
        "database.nosql" => "Cosmos DB 数据库",
        "security.firewall" => "防火墙",
        "network.load_balancer" => "负载均衡",
        "network.cdn" => "内容分发网络",
        "security.ddos" => "DDoS 防护",
        _ => "消息队列",
    }
}

/// vCPUs from an ARM size name: the number after the family letters
/// (`Standard_F16s` → 16); a constrained size's active count wins
/// (`Standard_E64-16s_v4` → 16).
fn vcpus_of(arm_sku: &str) -> Option<u32> {
    let size = arm_sku.strip_prefix("Standard_")?;
    let after_family = size.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let first: String = after_family
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let constrained = after_family[first.len()..].strip_prefix('-').map(|r| {
        r.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    });
    constrained
        .filter(|c| !c.is_empty())
        .unwrap_or(first)
        .parse()
        .ok()
}

fn price_of(raw: &RawValue) -> Result<Decimal, String> {
    decimal_from_json_text(raw.get()).map_err(|e| format!("price is not a number: {e}"))
}

/// Normalises one group of items sharing a listing key (one item, or the
/// tiers of one meter), with their raw texts.
pub fn normalise_group(
    vendor_sku: &str,
    items: &[(&RetailItem, &RawValue)],
    fetched_at: DateTime<Utc>,
) -> Result<Listing, String> {
    let (first, _) = items.first().ok_or("empty group")?;
    let code = text(&first.currency_code).ok_or("missing currencyCode")?;
    let currency = Currency::parse(code).map_err(|_| format!("unknown currency `{code}`"))?;
    let category = category_of(first)?;
    let region = region_of(
        first.arm_region_name.as_deref().unwrap_or_default(),
        first.location.as_deref().unwrap_or_default(),
    )?;
    let uom = text(&first.unit_of_measure).ok_or("missing unitOfMeasure")?;
    let (pack, unit) = unit_of_measure(uom)?;
    let kind = text(&first.price_type).ok_or("missing type")?;
    let sku_name = text(&first.sku_name)
        .or(text(&first.meter_name))
        .unwrap_or(vendor_sku);
    let is_spot = [&first.sku_name, &first.meter_name]
        .iter()
        .filter_map(|t| text(t))
        .any(|t| t.contains("Spot") || t.contains("Low Priority"));
    let (mode, unit, divisor, suffix_en, suffix_zh) = match (kind, first.term_months()?) {
        ("Reservation", Some(months)) => (
            BillingMode::Reserved {
                term_months: months,
            },
            // The retail price is the total for the term.
            PriceUnit::Term,
            Decimal::ONE,
            format!(" (reserved {} year)", months / 12),
            format!("（预留 {} 年）", months / 12),
        ),
        ("Reservation", None) => return Err("reservation without reservationTerm".into()),
        ("Consumption" | "DevTestConsumption", _) => {
            let (mode, en, zh) = if is_spot {
                (BillingMode::Spot, " (spot)", "（竞价）")
            } else {
                (BillingMode::OnDemand, "", "")
            };
            let (en, zh) = if kind == "DevTestConsumption" {
                (format!("{en} (Dev/Test)"), format!("{zh}（开发测试）"))
            } else {
                (en.to_owned(), zh.to_owned())
            };
            (mode, unit, pack, en, zh)
        }
        (other, _) => return Err(format!("unknown price type `{other}`")),
    };
    let per_unit = |raw: &RawValue| -> Result<Money, String> {
        let amount = price_of(raw)?;
        if divisor == Decimal::ONE {
            return Ok(Money::new(amount, currency));
        }
        let amount = amount.checked_div(divisor).ok_or("price overflow")?;
        Ok(Money::new(amount.normalize(), currency))
    };

    let mut tiers = Vec::with_capacity(items.len());
    for (item, _) in items {
        let raw = item.retail_price.as_deref().ok_or("missing retailPrice")?;
        if text(&item.currency_code) != Some(code) {
            return Err("tiers in different currencies".into());
        }
        // Tier bounds count packs; the price is per single unit now, so
        // the bounds must be too.
        let from = item
            .tier_minimum_units
            .map(|t| t.0.checked_mul(divisor).ok_or("tier bound overflow"))
            .transpose()?
            .unwrap_or_default()
            .normalize();
        tiers.push((from, per_unit(raw)?));
    }
    let price = price_from_tier_starts(mode, unit, tiers)?;

    let product = text(&first.product_name).unwrap_or_default();
    let arm_sku = text(&first.arm_sku_name);
    let mut specs = Specs::default();
    if category.starts_with("compute.") {
        specs.vcpu = arm_sku.and_then(vcpus_of);
        specs.os = Some(
            if product.contains("Windows") {
                "windows"
            } else {
                "linux"
            }
            .to_owned(),
        );
    }
    let service = text(&first.service_name).unwrap_or("azure");
    let mut raw_all = Vec::new();
    for (_, raw) in items {
        raw_all.extend_from_slice(raw.get().as_bytes());
    }
    let provenance = Provenance::from_raw(RETAIL_PRICES_API, &raw_all, fetched_at);
    let mut prices = vec![price];
    if mode == BillingMode::OnDemand {
        for plan in &first.savings_plan {
            let months = term_months(&plan.term)?;
            let component = PriceComponent::flat(
                BillingMode::Reserved {
                    term_months: months,
                },
                unit,
                per_unit(&plan.retail_price)?,
            )
            .and_then(|price| price.for_component("savings_plan"))
            .map_err(|e| e.to_string())?;
            prices.push(component);
        }
    }
    // The suffix keeps spot, reserved and Dev/Test offers of one size apart by name.
    let (series_zh, series_en) = series_names(product);
    let (family_zh, family_en) = (
        format!("{series_zh}{suffix_zh}"),
        format!("{series_en}{suffix_en}"),
    );
    let (product_zh, product_en) = (
        format!("{} {sku_name}{suffix_zh}", category_zh(category)),
        format!("{product} {sku_name}{suffix_en}"),
    );
    let subject = match arm_sku.filter(|_| category.starts_with("compute.")) {
        Some(instance_type) => Subject::Instance {
            instance_type,
            family_zh: &family_zh,
            family_en: &family_en,
        },
        None => Subject::Product {
            zh: &product_zh,
            en: &product_en,
        },
    };
    let service = service.to_ascii_lowercase().replace(' ', "-");
    let mut builder = Draft {
        category: parse_category(category)?,
        service: &service,
        region,
        specs,
        prices,
    }
    .builder(Vendor::Azure, vendor_sku, provenance, subject);
    if kind == "DevTestConsumption" {
        builder = builder.tag("devtest");
    }
    if let Some(family) = text(&first.service_family) {
        builder = builder.tag(format!("service_family:{}", family.to_ascii_lowercase()));
    }
    builder.build().map_err(|e| e.to_string())
}

/// The VM series of a product name, in both languages
/// (`Virtual Machines FS Series Windows` → `FS 系列`, `FS Series`).
fn series_names(product: &str) -> (String, String) {
    let series = product
        .strip_prefix("Virtual Machines ")
        .unwrap_or(product)
        .trim_end_matches(" Windows")
        .trim_end_matches(" Linux")
        .trim();
    if series.is_empty() {
        return ("虚拟机".to_owned(), "Virtual Machines".to_owned());
    }
    (
        unglue(&series.replace(" Series", " 系列")),
        series.to_owned(),
    )
}

/// Listings and rejections of a list of raw items.
#[derive(Debug, Default)]
pub struct Normalised {
    /// The listings.
    pub listings: Vec<Listing>,
    /// The items that could not be normalised.
    pub rejections: Vec<RecordRejection>,
}

/// Normalises raw items: each is read alone (a bad one is a rejection),
/// How many items at the end of a page belong to the page's last meter (its
/// tiers may go on over the next page); 0 when the last item is unreadable.
pub fn trailing_meter_len(raws: &[&RawValue]) -> usize {
    let key_of = |raw: &RawValue| {
        serde_json::from_str::<RetailItem>(raw.get())
            .ok()
            .and_then(|item| item.vendor_sku().ok())
    };
    let Some(last) = raws.last().and_then(|raw| key_of(raw)) else {
        return 0;
    };
    raws.iter()
        .rev()
        .take_while(|raw| key_of(raw).as_deref() == Some(last.as_str()))
        .count()
}

/// then items with the same key are merged into tiers.
pub fn normalise_items(raws: &[&RawValue], fetched_at: DateTime<Utc>) -> Normalised {
    let mut out = Normalised::default();
    let mut parsed: Vec<(String, RetailItem, &RawValue)> = Vec::with_capacity(raws.len());
    for (i, raw) in raws.iter().enumerate() {
        let item = match serde_json::from_str::<RetailItem>(raw.get()) {
            Ok(item) => item,
            Err(e) => {
                let key = meter_of_unreadable(raw.get()).unwrap_or_else(|| format!("Items[{i}]"));
                out.rejections.push(RecordRejection {
                    vendor_key: key,
                    reason: format!("unreadable item: {e}"),
                });
                continue;
            }
        };
        match item.vendor_sku() {
            Ok(key) => parsed.push((key, item, raw)),
            Err(reason) => {
                let key = text(&item.meter_id)
                    .or(text(&item.sku_id))
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("Items[{i}]"));
                out.rejections.push(RecordRejection {
                    vendor_key: key,
                    reason,
                });
            }
        }
    }
    // Group by key in first-seen order.
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, Vec<(&RetailItem, &RawValue)>> = HashMap::new();
    for (key, item, raw) in &parsed {
        let group = groups.entry(key.as_str()).or_default();
        if group.is_empty() {
            order.push(key.as_str());
        }
        group.push((item, *raw));
    }
    for key in order {
        let items = groups.get(key).map(Vec::as_slice).unwrap_or_default();
        match normalise_group(key, items, fetched_at) {
            Ok(listing) => out.listings.push(listing),
            Err(reason) => out.rejections.push(RecordRejection {
                vendor_key: key.to_owned(),
                reason,
            }),
        }
    }
    out
}

fn meter_of_unreadable(raw: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    value["meterId"].as_str().map(str::to_owned)
}
