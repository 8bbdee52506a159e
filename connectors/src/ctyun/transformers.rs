//! China Telecom Cloud (天翼云) JSON → [`Listing`].
//!
//! Handled responses (`{"statusCode": 800, "returnObj": …}`; 900 is a failure):
//! - the order price quotes (查询新购订单价格, ECS `query-price` and the
//!   like): `returnObj.subOrderPrices[].orderItemPrices[]`, one listing per
//!   order item (VM, EBS, NETWORK, CFWVERSION, …). `totalPrice` (before
//!   discounts) is the list price, the listing's amount, and `finalPrice`
//!   (after the account's discounts) the platform's cost; without
//!   `totalPrice`, `finalPrice` is the list price and there is no cost. Each
//!   is for `instanceCnt` units and the whole term of `cycleCount` cycles.
//!   VM and CFWVERSION prices are divided exactly by `instanceCnt` (a whole
//!   number of instances); EBS and NETWORK items keep it in their key (GB,
//!   Mbit/s) and their price. The provenance names the fields read. The answer does not say where or how it was bought,
//!   so the request parameters are needed: `regionCode` (the region's code
//!   from `list-regions`, e.g. `cn-huadong1`, because `regionID` is an opaque
//!   id), `cycleType` (`month`, `year`, `on_demand`, or the numeric 3/5 of
//!   the N100 APIs), and `flavorName` for VM items (`diskType` optionally
//!   names EBS items).
//! - `list-regions`: accepted, no listings (the live flow reads it).
//!
//! `vendor_sku` is `<item>@<regionCode>/<billing>`, e.g.
//! `VM.s7.large.2@cn-huadong1/month_2`, `EBS.SATA.40GB@…`, `NETWORK.2Mbps@…`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use shiyun_core::listing::{
    BillingMode, Listing, PriceSource, PriceUnit, Provenance, Region, Specs, Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::RecordRejection;

use crate::decimal::ExactDecimal;
use crate::normalise::{
    Draft, Subject, exact_div, family_letters, flat_price, parse_category, region_or_code, unglue,
};
use crate::{ConnectorError, FetchedPage, ImportContext};
use rust_decimal::prelude::ToPrimitive;

const VENDOR: Vendor = Vendor::Ctyun;

/// Code prefixes that name a country, for regions newer than the table.
const COUNTRY_PREFIXES: &[(&str, &str)] = &[("cn-", "cn")];

/// The region of a CTyun region code (`cn-huadong1`, `cn-neimeng-8`,
/// `cn-anshun-t1`), from the one region table in [`shiyun_core::geography`];
/// a code it does not know keeps its code.
pub fn region_of(code: &str) -> Result<Region, String> {
    region_or_code(VENDOR, code, COUNTRY_PREFIXES)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status_code: i64,
    #[serde(default)]
    return_obj: Option<ReturnObj>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReturnObj {
    #[serde(default)]
    sub_order_prices: Option<Vec<SubOrder>>,
    #[serde(default)]
    region_list: Option<Vec<RegionEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubOrder {
    #[serde(default)]
    service_tag: Option<String>,
    /// A number or a numeric string, depending on the API.
    #[serde(default)]
    cycle_count: Option<ExactDecimal>,
    #[serde(default)]
    order_item_prices: Vec<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderItem {
    resource_type: String,
    #[serde(default)]
    ctyun_name: Option<String>,
    #[serde(default)]
    instance_cnt: Option<ExactDecimal>,
    #[serde(default)]
    total_price: Option<ExactDecimal>,
    #[serde(default)]
    final_price: Option<ExactDecimal>,
}

/// One resource pool of `list-regions`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionEntry {
    /// The opaque id the order APIs take.
    #[serde(rename = "regionID")]
    pub region_id: String,
    /// `cn-huadong1`.
    #[serde(default)]
    pub region_code: Option<String>,
    /// `华东1`.
    #[serde(default)]
    pub region_name: Option<String>,
}

/// What a quote was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The region's code (`cn-huadong1`).
    pub region_code: String,
    /// `month`, `year` or `on_demand`.
    pub cycle_type: String,
    /// Cycles bought; the answer's own `cycleCount` wins when present.
    pub cycle_count: Option<u16>,
    /// The VM flavor (`s7.large.2`).
    pub flavor_name: Option<String>,
    /// The EBS disk type (`SATA`, `SAS`, `SSD`).
    pub disk_type: Option<String>,
}

fn malformed(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: VENDOR,
        message: message.into(),
    }
}

/// Normalises the numeric cycle types of the N100 APIs (3 month, 5 year).
fn cycle_type_name(text: &str) -> Option<&'static str> {
    match text.trim().to_ascii_lowercase().as_str() {
        "month" | "3" => Some("month"),
        "year" | "5" => Some("year"),
        "on_demand" | "ondemand" => Some("on_demand"),
        _ => None,
    }
}

impl Quote {
    fn from_params(ctx: &ImportContext) -> Result<Self, ConnectorError> {
        let need = |key: &str| ctx.require(VENDOR, "new-order/query-price", key);
        let region_code = need("regionCode")?.to_owned();
        let cycle_text = need("cycleType")?;
        let cycle_type = cycle_type_name(cycle_text)
            .ok_or_else(|| {
                malformed(format!(
                    "--param cycleType=`{cycle_text}` is not month, year or on_demand"
                ))
            })?
            .to_owned();
        let cycle_count = match ctx.param("cycleCount").or_else(|| ctx.param("cycleCnt")) {
            None => None,
            Some(c) => Some(c.trim().parse::<u16>().map_err(|_| {
                malformed(format!("--param cycleCount=`{c}` is not a whole number"))
            })?),
        };
        Ok(Quote {
            region_code,
            cycle_type,
            cycle_count,
            flavor_name: ctx.param("flavorName").map(str::to_owned),
            disk_type: ctx.param("diskType").map(str::to_owned),
        })
    }

    fn billing(
        &self,
        answered_count: Option<Decimal>,
    ) -> Result<(BillingMode, PriceUnit, String), String> {
        if self.cycle_type == "on_demand" {
            return Ok((BillingMode::OnDemand, PriceUnit::Hour, "on_demand".into()));
        }
        let count = match answered_count {
            Some(d) => u16::try_from(d.normalize().mantissa())
                .ok()
                .filter(|_| d.fract().is_zero()),
            None => self.cycle_count.or(Some(1)),
        }
        .filter(|n| *n > 0)
        .ok_or("cycle count is not a positive whole number")?;
        let per_cycle: u16 = if self.cycle_type == "year" { 12 } else { 1 };
        let months = count.checked_mul(per_cycle).ok_or("term too long")?;
        Ok(match (self.cycle_type.as_str(), count) {
            ("month", 1) => (BillingMode::Monthly, PriceUnit::Month, "month".into()),
            ("year", 1) => (BillingMode::Yearly, PriceUnit::Year, "year".into()),
            (cycle, n) => (
                BillingMode::Reserved {
                    term_months: months,
                },
                PriceUnit::Term,
                format!("{cycle}_{n}"),
            ),
        })
    }
}

fn is_auth_code(code: &str) -> bool {
    let lower = code.to_ascii_lowercase();
    ["signature", "auth", "accesskey", "credential"]
        .iter()
        .any(|k| lower.contains(k))
        || lower.ends_with(".401")
        || lower.ends_with(".403")
}

fn parse_envelope(body: &[u8]) -> Result<Envelope, ConnectorError> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a ctyun response: {e}")))?;
    if envelope.status_code != 800 {
        return Err(envelope_error(&envelope));
    }
    Ok(envelope)
}

fn envelope_error(envelope: &Envelope) -> ConnectorError {
    let code = envelope
        .error_code
        .clone()
        .or_else(|| envelope.error.clone())
        .unwrap_or_else(|| envelope.status_code.to_string());
    let message = envelope
        .description
        .clone()
        .or_else(|| envelope.message.clone())
        .unwrap_or_default();
    let refused = is_auth_code(&code);
    ConnectorError::from_vendor(VENDOR, code, message, refused)
}

/// The error of a body whose `statusCode` is not 800, if it is one.
pub fn body_error(body: &[u8]) -> Option<ConnectorError> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    (envelope.status_code != 800).then(|| envelope_error(&envelope))
}

/// Reads a live `list-regions` answer.
pub fn parse_regions(body: &[u8]) -> Result<Vec<RegionEntry>, ConnectorError> {
    parse_envelope(body)?
        .return_obj
        .and_then(|r| r.region_list)
        .ok_or_else(|| malformed("list-regions answer has no regionList"))
}

/// Normalises a saved CTyun response.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let envelope = parse_envelope(body)?;
    let obj = envelope
        .return_obj
        .ok_or_else(|| malformed("ctyun answer has no returnObj"))?;
    if obj.region_list.is_some() {
        return Ok(FetchedPage::default());
    }
    let sub_orders = obj
        .sub_order_prices
        .ok_or_else(|| malformed("unknown ctyun answer: expected subOrderPrices or regionList"))?;
    let quote = Quote::from_params(ctx)?;
    Ok(quote_page(&sub_orders, &quote, ctx.fetched_at))
}

/// Normalises a live price answer about `quote`.
pub fn price_page(
    body: &[u8],
    quote: &Quote,
    fetched_at: DateTime<Utc>,
) -> Result<FetchedPage, ConnectorError> {
    let envelope = parse_envelope(body)?;
    let sub_orders = envelope
        .return_obj
        .and_then(|o| o.sub_order_prices)
        .ok_or_else(|| malformed("price answer has no subOrderPrices"))?;
    Ok(quote_page(&sub_orders, quote, fetched_at))
}

fn quote_page(sub_orders: &[SubOrder], quote: &Quote, fetched_at: DateTime<Utc>) -> FetchedPage {
    let mut page = FetchedPage::default();
    for sub in sub_orders {
        for (i, raw) in sub.order_item_prices.iter().enumerate() {
            let item: OrderItem = match serde_json::from_str(raw.get()) {
                Ok(item) => item,
                Err(e) => {
                    let value: serde_json::Value =
                        serde_json::from_str(raw.get()).unwrap_or_default();
                    let key = value
                        .get("resourceType")
                        .and_then(|v| v.as_str())
                        .map_or_else(
                            || format!("{}[{i}]", sub.service_tag.as_deref().unwrap_or("order")),
                            str::to_owned,
                        );
                    page.reject(
                        format!("{key}@{}", quote.region_code),
                        format!("unreadable order item: {e}"),
                    );
                    continue;
                }
            };
            let result = item_key(&item, quote).and_then(|(key, names, category, specs)| {
                item_listing(
                    &item, raw, sub, quote, &key, names, category, specs, fetched_at,
                )
                .map_err(|reason| (key, reason))
            });
            match result {
                Ok(listing) => page.listings.push(listing),
                Err((key, reason)) => page.rejections.push(RecordRejection {
                    vendor_key: format!("{key}@{}", quote.region_code),
                    reason,
                }),
            }
        }
    }
    page
}

/// What an order item is, for its text: a VM flavor with its family's
/// names, or a product with its names.
struct Names {
    flavor: Option<String>,
    zh: String,
    en: String,
}

impl Names {
    fn product(zh: String, en: impl Into<String>) -> Self {
        Names {
            flavor: None,
            zh,
            en: en.into(),
        }
    }

    fn subject(&self) -> Subject<'_> {
        match &self.flavor {
            Some(flavor) => Subject::Instance {
                instance_type: flavor,
                family_zh: &self.zh,
                family_en: &self.en,
            },
            None => Subject::Product {
                zh: &self.zh,
                en: &self.en,
            },
        }
    }
}

/// Chinese and English names of an ECS flavor family (`s7` of `s7.large.2`).
fn family_names(family: &str) -> (&'static str, &'static str) {
    match family_letters(family) {
        "s" => ("通用型", "General Purpose"),
        "c" => ("计算增强型", "Compute Optimized"),
        "m" => ("内存优化型", "Memory Optimized"),
        "hs" | "hc" | "hm" => ("高主频型", "High Frequency"),
        "p" | "pi" | "g" | "gn" => ("GPU 加速型", "GPU Accelerated"),
        "t" => ("通用入门型", "General Entry"),
        _ => ("弹性云主机", "Elastic Cloud Server"),
    }
}

/// vCPU and memory of a flavor named by size and memory ratio
/// (`s7.large.2`: `large` is 2 vCPU, 2 GiB per vCPU); nothing when the name
/// does not follow that rule.
fn flavor_specs(flavor: &str) -> Specs {
    let mut parts = flavor.split('.');
    let (Some(_), Some(size), Some(ratio), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Specs::default();
    };
    let vcpu = match size {
        "medium" => Some(1),
        "large" => Some(2),
        "xlarge" => Some(4),
        other => other
            .strip_suffix("xlarge")
            .and_then(|n| n.parse::<u32>().ok())
            .and_then(|n| n.checked_mul(4)),
    };
    match (vcpu, ratio.parse::<u32>()) {
        (Some(vcpu), Ok(ratio)) => Specs {
            vcpu: Some(vcpu),
            memory_gib: Some(Decimal::from(u64::from(vcpu) * u64::from(ratio))),
            ..Specs::default()
        },
        _ => Specs::default(),
    }
}

/// The item's key, names, category and specs, by resource type.
fn item_key(
    item: &OrderItem,
    quote: &Quote,
) -> Result<(String, Names, &'static str, Specs), (String, String)> {
    let resource = item.resource_type.trim();
    if resource.is_empty() {
        return Err(("?".into(), "missing resourceType".into()));
    }
    let count = item.instance_cnt.map(|c| c.0.normalize());
    let zh_name = unglue(item.ctyun_name.as_deref().unwrap_or(resource));
    Ok(match resource {
        "VM" => {
            let flavor = quote.flavor_name.clone().ok_or_else(|| {
                (
                    "VM".to_owned(),
                    "missing request parameter flavorName for a VM item".to_owned(),
                )
            })?;
            let family = flavor.split('.').next().unwrap_or_default();
            let (zh, en) = family_names(family);
            (
                format!("VM.{flavor}"),
                Names {
                    zh: format!("{zh} {family}"),
                    en: format!("{en} {family}"),
                    flavor: Some(flavor.clone()),
                },
                "compute.vm",
                flavor_specs(&flavor),
            )
        }
        "EBS" => {
            let size =
                count.ok_or_else(|| ("EBS".to_owned(), "missing instanceCnt (GB)".to_owned()))?;
            let disk = quote.disk_type.clone().unwrap_or_else(|| "disk".into());
            (
                format!("EBS.{disk}.{size}GB"),
                Names::product(
                    format!("{zh_name} {size} GB"),
                    format!("Elastic Block Storage {size} GB"),
                ),
                "storage.block",
                Specs {
                    storage_gib: Some(size),
                    ..Specs::default()
                },
            )
        }
        "NETWORK" => {
            let mbps = count.ok_or_else(|| {
                (
                    "NETWORK".to_owned(),
                    "missing instanceCnt (Mbit/s)".to_owned(),
                )
            })?;
            (
                format!("NETWORK.{mbps}Mbps"),
                Names::product(
                    format!("{zh_name} {mbps} Mbit/s"),
                    format!("Elastic IP {mbps} Mbit/s"),
                ),
                "network.ip",
                Specs {
                    bandwidth_mbps: Some(mbps),
                    ..Specs::default()
                },
            )
        }
        "CFWVERSION" => (
            "CFWVERSION".to_owned(),
            Names::product(zh_name, "Cloud Firewall (Native)"),
            "security.firewall",
            Specs::default(),
        ),
        other => return Err((other.to_owned(), format!("unknown resource type `{other}`"))),
    })
}

/// The price of one of `instance_cnt` instances priced together at `total`:
/// an exact division, or why there is none.
fn per_instance(total: Decimal, instance_cnt: Option<Decimal>) -> Result<Decimal, String> {
    let count = instance_cnt.ok_or("missing instanceCnt")?;
    if count <= Decimal::ZERO || !count.fract().is_zero() {
        return Err(format!(
            "instanceCnt {count} is not a positive whole number"
        ));
    }
    count
        .to_u64()
        .and_then(|n| exact_div(total, n))
        .ok_or_else(|| format!("price {total} does not divide exactly by instanceCnt {count}"))
}

#[expect(clippy::too_many_arguments, reason = "one item's parts, read once")]
fn item_listing(
    item: &OrderItem,
    raw: &RawValue,
    sub: &SubOrder,
    quote: &Quote,
    key: &str,
    names: Names,
    category: &str,
    specs: Specs,
    fetched_at: DateTime<Utc>,
) -> Result<Listing, String> {
    let region = region_of(&quote.region_code)?;
    let (list, cost) = match (item.total_price, item.final_price) {
        (Some(total), last) => ((total.0, "totalPrice"), last.map(|f| (f.0, "finalPrice"))),
        (None, Some(last)) => ((last.0, "finalPrice"), None),
        (None, None) => return Err("order item has neither totalPrice nor finalPrice".into()),
    };
    let one = |amount: Decimal| match item.resource_type.trim() {
        // Counted instances: the listing is one of them.
        "VM" | "CFWVERSION" => per_instance(amount, item.instance_cnt.map(|c| c.0)),
        // Sized items (EBS GB, NETWORK Mbit/s) carry their size in the key.
        _ => Ok(amount),
    };
    let (mode, unit, suffix) = quote.billing(sub.cycle_count.map(|c| c.0))?;
    let mut price = flat_price(mode, unit, one(list.0)?, Currency::CNY)?;
    if let Some((last, _)) = cost {
        let cost = Money::new(one(last)?, Currency::CNY);
        price = price.with_cost(cost).map_err(|e| e.to_string())?;
    }
    let source = PriceSource::of(&price, list.1, cost.map(|(_, field)| field));
    let service = sub
        .service_tag
        .clone()
        .unwrap_or_else(|| "order".into())
        .to_ascii_lowercase();
    let provenance = Provenance::from_raw(
        "ctyun.order.queryNewPrice",
        raw.get().as_bytes(),
        fetched_at,
    )
    .with_price_source(source);
    Draft {
        category: parse_category(category)?,
        service: &service,
        region,
        specs,
        prices: vec![price],
    }
    .build(
        VENDOR,
        format!("{key}@{}/{suffix}", quote.region_code),
        provenance,
        names.subject(),
    )
}
