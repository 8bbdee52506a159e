//! Tencent Cloud JSON → [`Listing`].
//!
//! Handled responses (all wrapped in `{"Response": {…, "RequestId"}}`):
//! - CVM `DescribeZoneInstanceConfigInfos`: the instance-type catalog of a
//!   region, one `InstanceTypeQuotaSet[]` record per type, zone and charge
//!   type, each with its `Price`;
//! - CVM `InquiryPriceRunInstances`: the quote of one instance type
//!   (`Price.InstancePrice`, `Price.BandwidthPrice`); type, zone and charge
//!   type come from the request parameters;
//! - CBS `InquiryPriceCreateDisks`: the quote of one disk (`DiskPrice`),
//!   with the high-precision `*High` strings preferred over the floats.
//!
//! Each price keeps the list price (`UnitPrice`, `OriginalPrice`,
//! `OriginalPriceOneYear`, …) as its amount and the discounted price for
//! the platform's account (`UnitPriceDiscount`, `DiscountPrice`, …) as its
//! cost; the provenance names the fields read (`InstancePrice.OriginalPrice`).
//! A zero field is unset, as Tencent writes it.
//!
//! `vendor_sku` is `<type>@<zone>/<charge type>` (`S2.SMALL1@ap-guangzhou-6/postpaid_by_hour`),
//! with the prepaid period for quotes (`/prepaid_1m`) and the size for disks
//! (`CLOUD_PREMIUM.100GB@ap-guangzhou/postpaid_by_hour`): one listing per
//! raw record, stable across syncs.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use shiyun_core::listing::{
    Architecture, BillingMode, Listing, PriceComponent, PriceSource, PriceTier, PriceUnit,
    Provenance, Region, Specs, Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::RecordRejection;

use crate::decimal::ExactDecimal;
use crate::normalise::{Draft, Subject, family_letters, parse_category, region_or_code, unglue};
use crate::{ConnectorError, FetchedPage, ImportContext};

const VENDOR: Vendor = Vendor::Tencent;

/// The hour bands of Tencent's postpaid tiered prices: the first 96 hours,
/// 96 to 360 hours, and beyond.
const SECOND_STEP_FROM_HOURS: i64 = 96;
const THIRD_STEP_FROM_HOURS: i64 = 360;

/// Code prefixes that name a country, for regions newer than the table
/// (mainland codes name their city: `ap-wuhan`).
const COUNTRY_PREFIXES: &[(&str, &str)] = &[("na-", "us")];

/// The region of a Tencent region or zone code (`ap-guangzhou-6` → `ap-guangzhou`),
/// from the one region table in [`shiyun_core::geography`]; a code it does
/// not know keeps its code.
pub fn region_of(code: &str) -> Result<Region, String> {
    region_or_code(VENDOR, code, COUNTRY_PREFIXES)
}

/// Tencent's `Response` envelope, with every payload it may carry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResponseBody {
    error: Option<ApiError>,
    instance_type_quota_set: Option<Vec<Box<RawValue>>>,
    price: Option<Box<RawValue>>,
    disk_price: Option<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: ResponseBody,
}

/// `Response.Error`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError {
    code: String,
    #[serde(default)]
    message: String,
}

/// Tencent's `ItemPrice` (CVM) and `Price` (CBS): every field may be absent
/// or `null`; `*High` fields are high-precision strings.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ItemPrice {
    unit_price: Option<ExactDecimal>,
    unit_price_high: Option<ExactDecimal>,
    unit_price_discount: Option<ExactDecimal>,
    unit_price_discount_high: Option<ExactDecimal>,
    unit_price_second_step: Option<ExactDecimal>,
    unit_price_discount_second_step: Option<ExactDecimal>,
    unit_price_third_step: Option<ExactDecimal>,
    unit_price_discount_third_step: Option<ExactDecimal>,
    original_price: Option<ExactDecimal>,
    original_price_high: Option<ExactDecimal>,
    discount_price: Option<ExactDecimal>,
    discount_price_high: Option<ExactDecimal>,
    original_price_one_year: Option<ExactDecimal>,
    discount_price_one_year: Option<ExactDecimal>,
    original_price_three_year: Option<ExactDecimal>,
    discount_price_three_year: Option<ExactDecimal>,
    original_price_five_year: Option<ExactDecimal>,
    discount_price_five_year: Option<ExactDecimal>,
    charge_unit: Option<String>,
}

/// One `InstanceTypeQuotaSet[]` record of `DescribeZoneInstanceConfigInfos`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InstanceTypeQuota {
    zone: String,
    instance_type: String,
    instance_charge_type: String,
    #[serde(default)]
    instance_family: Option<String>,
    #[serde(default)]
    type_name: Option<String>,
    #[serde(default)]
    cpu: Option<u32>,
    #[serde(default)]
    memory: Option<ExactDecimal>,
    #[serde(default)]
    gpu: Option<ExactDecimal>,
    #[serde(default)]
    gpu_count: Option<ExactDecimal>,
    #[serde(default)]
    cpu_type: Option<String>,
    /// Gbit/s.
    #[serde(default)]
    instance_bandwidth: Option<ExactDecimal>,
    #[serde(default)]
    status: Option<String>,
    price: ItemPrice,
}

/// `Response.Price` of `InquiryPriceRunInstances`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RunInstancesPrice {
    instance_price: Option<ItemPrice>,
    bandwidth_price: Option<ItemPrice>,
}

/// What a page of Tencent JSON turned into.
#[derive(Debug, Default)]
struct Out {
    listings: Vec<Listing>,
    rejections: Vec<RecordRejection>,
}

impl Out {
    fn reject(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.rejections.push(RecordRejection {
            vendor_key: key.into(),
            reason: reason.into(),
        });
    }

    fn into_page(self) -> FetchedPage {
        FetchedPage {
            listings: self.listings,
            rejections: self.rejections,
            next_token: None,
            ..FetchedPage::default()
        }
    }
}

fn malformed(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: VENDOR,
        message: message.into(),
    }
}

/// Maps Tencent's `Response.Error` to a connector error: `AuthFailure.*`
/// means the credentials were refused.
fn api_error(error: ApiError) -> ConnectorError {
    let refused = error.code.starts_with("AuthFailure");
    ConnectorError::from_vendor(VENDOR, error.code, error.message, refused)
}

fn parse_envelope(body: &[u8]) -> Result<ResponseBody, ConnectorError> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a tencent `Response` envelope: {e}")))?;
    let response = envelope.response;
    if let Some(error) = response.error {
        return Err(api_error(error));
    }
    Ok(response)
}

/// The `Response.Error.Code` of a body, if it is Tencent's error envelope.
pub fn error_code(body: &[u8]) -> Option<String> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    envelope.response.error.map(|e| e.code)
}

/// Checks a live response body for Tencent's error envelope.
pub fn check_error(body: &[u8]) -> Result<(), ConnectorError> {
    parse_envelope(body).map(|_| ())
}

/// Normalises a saved Tencent response, detecting the API by its payload.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let response = parse_envelope(body)?;
    let mut out = Out::default();
    if let Some(records) = response.instance_type_quota_set {
        for raw in &records {
            instance_quota(raw, ctx, &mut out);
        }
    } else if let Some(price) = response.price {
        run_instances_quote(&price, ctx, &mut out)?;
    } else if let Some(price) = response.disk_price {
        disk_quote(&price, ctx, &mut out)?;
    } else {
        return Err(malformed(
            "unknown tencent response: expected InstanceTypeQuotaSet, Price or DiskPrice",
        ));
    }
    Ok(out.into_page())
}

/// Normalises one `DescribeZoneInstanceConfigInfos` page (the live flow).
pub fn import_zone_configs(
    body: &[u8],
    ctx: &ImportContext,
) -> Result<FetchedPage, ConnectorError> {
    let response = parse_envelope(body)?;
    let records = response.instance_type_quota_set.ok_or_else(|| {
        malformed("DescribeZoneInstanceConfigInfos answer has no InstanceTypeQuotaSet")
    })?;
    let mut out = Out::default();
    for raw in &records {
        instance_quota(raw, ctx, &mut out);
    }
    Ok(out.into_page())
}

/// The key of a record that failed to parse, read leniently for the report.
fn probe_key(raw: &RawValue, fields: &[&str]) -> String {
    let value: serde_json::Value = serde_json::from_str(raw.get()).unwrap_or_default();
    let part = |f: &str| {
        value
            .get(f)
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned()
    };
    let parts: Vec<String> = fields.iter().map(|f| part(f)).collect();
    parts.join("@")
}

fn parse_record<T: DeserializeOwned>(raw: &RawValue) -> Result<T, String> {
    serde_json::from_str(raw.get()).map_err(|e| format!("unreadable record: {e}"))
}

fn positive(value: Option<ExactDecimal>) -> Option<Decimal> {
    value.map(|d| d.0).filter(|d| *d > Decimal::ZERO)
}

/// An amount and the `ItemPrice` field it was read from.
type Field = (Decimal, &'static str);

/// A positive value of the field `name`; zero means unset.
fn field(value: Option<ExactDecimal>, name: &'static str) -> Option<Field> {
    positive(value).map(|d| (d, name))
}

/// The high-precision string when given, else the float field.
fn pick(
    high: Option<ExactDecimal>,
    high_name: &'static str,
    float: Option<ExactDecimal>,
    float_name: &'static str,
) -> Option<Field> {
    field(high, high_name).or_else(|| field(float, float_name))
}

/// One price as Tencent quotes it: the list price (`UnitPrice`,
/// `OriginalPrice`) and the discounted price for the platform's account
/// (`UnitPriceDiscount`, `DiscountPrice`), the platform's cost. A quote with
/// only the discounted price shows it as the list price, without a cost.
#[derive(Debug, Clone, Copy)]
struct Quoted {
    list: Field,
    cost: Option<Field>,
}

fn quoted(list: Option<Field>, discounted: Option<Field>) -> Option<Quoted> {
    match (list, discounted) {
        (Some(list), cost) => Some(Quoted { list, cost }),
        (None, Some(only)) => Some(Quoted {
            list: only,
            cost: None,
        }),
        (None, None) => None,
    }
}

fn cny(amount: Decimal) -> Money {
    Money::new(amount, Currency::CNY)
}

/// A price read from an `ItemPrice`, with the fields it came from (within
/// the raw offer, so prefixed by the `ItemPrice`'s own path).
struct ReadPrice {
    price: PriceComponent,
    list_fields: String,
    cost_fields: Option<String>,
}

impl ReadPrice {
    /// A flat price from one quote.
    fn flat(
        mode: BillingMode,
        unit: PriceUnit,
        quote: Quoted,
        prefix: &str,
    ) -> Result<Self, String> {
        let mut price =
            PriceComponent::flat(mode, unit, cny(quote.list.0)).map_err(|e| e.to_string())?;
        if let Some((cost, _)) = quote.cost {
            price = price.with_cost(cny(cost)).map_err(|e| e.to_string())?;
        }
        Ok(ReadPrice {
            price,
            list_fields: format!("{prefix}{}", quote.list.1),
            cost_fields: quote.cost.map(|(_, name)| format!("{prefix}{name}")),
        })
    }

    /// The same price for a part of the resource (`instance`, `bandwidth`).
    fn for_component(self, part: &str) -> Result<Self, String> {
        Ok(ReadPrice {
            price: self.price.for_component(part).map_err(|e| e.to_string())?,
            ..self
        })
    }

    /// The price and where it came from.
    fn into_parts(self) -> (PriceComponent, PriceSource) {
        let source = PriceSource::of(&self.price, self.list_fields, self.cost_fields.as_deref());
        (self.price, source)
    }
}

/// Prices and their sources, into a listing's prices and its provenance.
fn with_sources(
    read: Vec<ReadPrice>,
    mut provenance: Provenance,
) -> (Vec<PriceComponent>, Provenance) {
    let mut prices = Vec::with_capacity(read.len());
    for r in read {
        let (price, source) = r.into_parts();
        prices.push(price);
        provenance = provenance.with_price_source(source);
    }
    (prices, provenance)
}

/// Billing mode and unit of a prepaid term of `months`.
fn prepaid_mode(months: u16) -> (BillingMode, PriceUnit) {
    match months {
        1 => (BillingMode::Monthly, PriceUnit::Month),
        12 => (BillingMode::Yearly, PriceUnit::Year),
        n => (BillingMode::Reserved { term_months: n }, PriceUnit::Term),
    }
}

fn charge_unit(unit: Option<&str>) -> Result<PriceUnit, String> {
    match unit.unwrap_or("HOUR") {
        "HOUR" => Ok(PriceUnit::Hour),
        "GB" => Ok(PriceUnit::Gb),
        "MONTH" => Ok(PriceUnit::Month),
        "DAY" => Ok(PriceUnit::Day),
        other => Err(format!("unknown charge unit `{other}`")),
    }
}

/// The postpaid unit price, tiered by Tencent's hour bands when it gives
/// them. The bands keep their costs only when every band has one.
fn postpaid_component(price: &ItemPrice, prefix: &str) -> Result<Option<ReadPrice>, String> {
    let first = quoted(
        pick(
            price.unit_price_high,
            "UnitPriceHigh",
            price.unit_price,
            "UnitPrice",
        ),
        pick(
            price.unit_price_discount_high,
            "UnitPriceDiscountHigh",
            price.unit_price_discount,
            "UnitPriceDiscount",
        ),
    );
    let Some(first) = first else {
        return Ok(None);
    };
    let unit = charge_unit(price.charge_unit.as_deref())?;
    let second = quoted(
        field(price.unit_price_second_step, "UnitPriceSecondStep"),
        field(
            price.unit_price_discount_second_step,
            "UnitPriceDiscountSecondStep",
        ),
    );
    let third = quoted(
        field(price.unit_price_third_step, "UnitPriceThirdStep"),
        field(
            price.unit_price_discount_third_step,
            "UnitPriceDiscountThirdStep",
        ),
    );
    let (PriceUnit::Hour, Some(second)) = (unit, second) else {
        return ReadPrice::flat(BillingMode::OnDemand, unit, first, prefix).map(Some);
    };
    let mut bands = vec![
        (Decimal::ZERO, first),
        (Decimal::from(SECOND_STEP_FROM_HOURS), second),
    ];
    if let Some(third) = third {
        bands.push((Decimal::from(THIRD_STEP_FROM_HOURS), third));
    }
    let costed = bands.iter().all(|(_, q)| q.cost.is_some());
    let ends = bands
        .iter()
        .skip(1)
        .map(|(from, _)| Some(*from))
        .chain(std::iter::once(None));
    let tiers = bands
        .iter()
        .zip(ends)
        .map(|((from, quote), to)| {
            let tier = PriceTier::new(*from, to, cny(quote.list.0));
            match quote.cost.filter(|_| costed) {
                Some((cost, _)) => tier.and_then(|t| t.with_cost(cny(cost))),
                None => tier,
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let price =
        PriceComponent::tiered(BillingMode::OnDemand, unit, tiers).map_err(|e| e.to_string())?;
    let names = |pick: &dyn Fn(&Quoted) -> Option<&'static str>| {
        bands
            .iter()
            .map(|(_, q)| pick(q).map(|name| format!("{prefix}{name}")))
            .collect::<Option<Vec<_>>>()
            .map(|names| names.join(", "))
    };
    Ok(Some(ReadPrice {
        price,
        list_fields: names(&|q| Some(q.list.1)).unwrap_or_default(),
        cost_fields: names(&|q| q.cost.map(|c| c.1)).filter(|_| costed),
    }))
}

/// Every price an `ItemPrice` carries (`prefix` is its path within the raw
/// offer): the postpaid unit price, the prepaid price of `prepaid_months`
/// (the catalog quotes one month) and the 1-, 3- and 5-year prepaid
/// prices, each with its list price and, where quoted, the platform's cost.
fn item_components(
    price: &ItemPrice,
    prepaid_months: u16,
    prefix: &str,
) -> Result<Vec<ReadPrice>, String> {
    let mut components: Vec<ReadPrice> = Vec::new();
    if let Some(c) = postpaid_component(price, prefix)? {
        components.push(c);
    }
    let prepaid = quoted(
        pick(
            price.original_price_high,
            "OriginalPriceHigh",
            price.original_price,
            "OriginalPrice",
        ),
        pick(
            price.discount_price_high,
            "DiscountPriceHigh",
            price.discount_price,
            "DiscountPrice",
        ),
    );
    let term = |list, list_name, discounted, discounted_name| {
        quoted(field(list, list_name), field(discounted, discounted_name))
    };
    let terms = [
        (prepaid, prepaid_months),
        (
            term(
                price.original_price_one_year,
                "OriginalPriceOneYear",
                price.discount_price_one_year,
                "DiscountPriceOneYear",
            ),
            12,
        ),
        (
            term(
                price.original_price_three_year,
                "OriginalPriceThreeYear",
                price.discount_price_three_year,
                "DiscountPriceThreeYear",
            ),
            36,
        ),
        (
            term(
                price.original_price_five_year,
                "OriginalPriceFiveYear",
                price.discount_price_five_year,
                "DiscountPriceFiveYear",
            ),
            60,
        ),
    ];
    for (quote, months) in terms {
        let Some(quote) = quote else { continue };
        let (mode, unit) = prepaid_mode(months);
        // A quote for a 12-month period and the 1-year field are the same offer.
        if components.iter().any(|c| c.price.billing_mode() == mode) {
            continue;
        }
        components.push(ReadPrice::flat(mode, unit, quote, prefix)?);
    }
    Ok(components)
}

/// Chinese and English names of a CVM instance family prefix.
fn family_names(family: &str) -> (&'static str, &'static str) {
    match family_letters(family) {
        "S" | "SA" | "SR" | "SN" => ("标准型", "Standard"),
        "M" | "MA" => ("内存型", "Memory Optimized"),
        "C" | "CN" => ("计算型", "Compute Optimized"),
        "GN" | "GI" | "GT" | "GNV" | "PNV" => ("GPU 计算型", "GPU Compute"),
        "I" | "IT" => ("高 IO 型", "High IO"),
        "D" => ("大数据型", "Big Data"),
        "BMS" | "BMD" | "BMG" | "BMI" | "BMM" => ("黑石物理服务器", "Bare Metal"),
        "FX" | "X" => ("超高性能型", "Extreme"),
        "TS" | "TM" => ("大内存型", "Large Memory"),
        "FX4" => ("超高主频型", "High Frequency"),
        _ => ("云服务器", "Cloud Virtual Machine"),
    }
}

/// Specs read from a CVM type name (`S5.16XLARGE256`: 64 vCPU, 256 GiB):
/// `SMALL` 1, `MEDIUM` 2, `LARGE` 4, `nXLARGE` 4n vCPU; the trailing number is GiB.
fn specs_from_type_name(instance_type: &str) -> Specs {
    let mut specs = Specs::default();
    let Some((_, size)) = instance_type.split_once('.') else {
        return specs;
    };
    let digits_end = size
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(size.len());
    let (multiplier, rest) = size.split_at(digits_end);
    let mem_start = rest
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (word, memory) = rest.split_at(mem_start);
    let vcpu = match word {
        "SMALL" => Some(1),
        "MEDIUM" => Some(2),
        "LARGE" => Some(4),
        "XLARGE" => multiplier
            .parse::<u32>()
            .ok()
            .or(Some(1))
            .and_then(|n| n.checked_mul(4)),
        _ => None,
    };
    if let Some(vcpu) = vcpu {
        specs.vcpu = Some(vcpu);
        specs.memory_gib = memory.parse::<Decimal>().ok();
    }
    specs
}

fn architecture(cpu_type: Option<&str>, family: &str) -> Option<Architecture> {
    let cpu = cpu_type.unwrap_or_default().to_ascii_lowercase();
    if family.starts_with("SR")
        || ["ampere", "kunpeng", "yitian", "arm"]
            .iter()
            .any(|k| cpu.contains(k))
    {
        Some(Architecture::Arm64)
    } else if ["intel", "amd", "hygon", "xeon", "epyc"]
        .iter()
        .any(|k| cpu.contains(k))
    {
        Some(Architecture::X86_64)
    } else {
        None
    }
}

fn instance_quota(raw: &RawValue, ctx: &ImportContext, out: &mut Out) {
    let quota: InstanceTypeQuota = match parse_record(raw) {
        Ok(q) => q,
        Err(reason) => {
            out.reject(probe_key(raw, &["InstanceType", "Zone"]), reason);
            return;
        }
    };
    let key = format!("{}@{}", quota.instance_type, quota.zone);
    match quota_listing(&quota, raw, ctx) {
        Ok(listing) => out.listings.push(listing),
        Err(reason) => out.reject(key, reason),
    }
}

fn quota_listing(
    q: &InstanceTypeQuota,
    raw: &RawValue,
    ctx: &ImportContext,
) -> Result<Listing, String> {
    if q.instance_type.trim().is_empty() {
        return Err("missing instance type".into());
    }
    let region = region_of(&q.zone)?;
    let family = q.instance_family.clone().unwrap_or_else(|| {
        q.instance_type
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    let (zh_family, en_family) = family_names(&family);
    let gpus = q
        .gpu_count
        .or(q.gpu)
        .map(|d| d.0)
        .filter(|d| *d > Decimal::ZERO)
        .and_then(|d| d.ceil().to_u32());
    let specs = Specs {
        vcpu: q.cpu,
        memory_gib: q.memory.map(|d| d.0),
        gpu_count: gpus,
        bandwidth_mbps: q
            .instance_bandwidth
            .map(|g| {
                g.0.checked_mul(Decimal::from(1000))
                    .ok_or_else(|| format!("instance bandwidth {} Gbit/s is too large", g.0))
            })
            .transpose()?,
        architecture: architecture(q.cpu_type.as_deref(), &family),
        ..Specs::default()
    };
    let category = if gpus.is_some() {
        "compute.gpu"
    } else {
        "compute.vm"
    };
    // The vendor's own family name (`标准型S5`) where it gives one.
    let (family_zh, family_en) = match q.type_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() && !name.is_ascii() => {
            (unglue(name), format!("{en_family} {family}"))
        }
        Some(name) if !name.is_empty() => (format!("{zh_family} {family}"), name.to_owned()),
        _ => (
            format!("{zh_family} {family}"),
            format!("{en_family} {family}"),
        ),
    };
    let provenance = Provenance::from_raw(
        "tencent.cvm.DescribeZoneInstanceConfigInfos",
        raw.get().as_bytes(),
        ctx.fetched_at,
    );
    let charge_type = q.instance_charge_type.to_ascii_lowercase();
    let (prices, provenance) = with_sources(item_components(&q.price, 1, "Price.")?, provenance);
    let mut builder = Draft {
        category: parse_category(category)?,
        service: "cvm",
        region,
        specs,
        prices,
    }
    .builder(
        VENDOR,
        format!("{}@{}/{charge_type}", q.instance_type, q.zone),
        provenance,
        Subject::Instance {
            instance_type: &q.instance_type,
            family_zh: &family_zh,
            family_en: &family_en,
        },
    )
    .tag(format!("charge_type:{charge_type}"));
    if let Some(status) = &q.status {
        builder = builder.tag(format!("status:{}", status.to_ascii_lowercase()));
    }
    builder.build().map_err(|e| e.to_string())
}

/// The prepaid period in months of a quote (`InstanceChargePrepaid.Period`).
fn period_months(ctx: &ImportContext) -> Result<u16, ConnectorError> {
    match [
        "InstanceChargePrepaid.Period",
        "DiskChargePrepaid.Period",
        "Period",
    ]
    .iter()
    .find_map(|k| ctx.param(k))
    {
        None => Ok(1),
        Some(text) => text
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| malformed(format!("--param Period=`{text}` is not a number of months"))),
    }
}

fn run_instances_quote(
    price: &RawValue,
    ctx: &ImportContext,
    out: &mut Out,
) -> Result<(), ConnectorError> {
    const API: &str = "InquiryPriceRunInstances";
    let instance_type = ctx.require(VENDOR, API, "InstanceType")?;
    let zone = ctx.require_any(VENDOR, API, &["Placement.Zone", "Zone"])?;
    let charge_type = ctx
        .require(VENDOR, API, "InstanceChargeType")?
        .to_ascii_uppercase();
    let months = period_months(ctx)?;
    let billing = if charge_type == "PREPAID" {
        format!("prepaid_{months}m")
    } else {
        charge_type.to_ascii_lowercase()
    };
    let key = format!("{instance_type}@{zone}");
    let sku = format!("{key}/{billing}");
    let quote: RunInstancesPrice = match parse_record(price) {
        Ok(q) => q,
        Err(reason) => {
            out.reject(key, reason);
            return Ok(());
        }
    };
    match run_instances_listing(&quote, price, ctx, instance_type, zone, &sku, months) {
        Ok(listing) => out.listings.push(listing),
        Err(reason) => out.reject(key, reason),
    }
    Ok(())
}

fn run_instances_listing(
    quote: &RunInstancesPrice,
    raw: &RawValue,
    ctx: &ImportContext,
    instance_type: &str,
    zone: &str,
    sku: &str,
    months: u16,
) -> Result<Listing, String> {
    let region = region_of(zone)?;
    let family = instance_type.split('.').next().unwrap_or_default();
    let (zh_family, en_family) = family_names(family);
    let provenance = Provenance::from_raw(
        "tencent.cvm.InquiryPriceRunInstances",
        raw.get().as_bytes(),
        ctx.fetched_at,
    );
    let instance = quote
        .instance_price
        .as_ref()
        .ok_or("quote has no InstancePrice")?;
    let mut read = Vec::new();
    for (part, prefix, price) in [
        ("instance", "InstancePrice.", Some(instance)),
        (
            "bandwidth",
            "BandwidthPrice.",
            quote.bandwidth_price.as_ref(),
        ),
    ] {
        for component in item_components_of(price, months, prefix)? {
            read.push(component.for_component(part)?);
        }
    }
    let (prices, provenance) = with_sources(read, provenance);
    Draft {
        category: parse_category("compute.vm")?,
        service: "cvm",
        region,
        specs: specs_from_type_name(instance_type),
        prices,
    }
    .build(
        VENDOR,
        sku,
        provenance,
        Subject::Instance {
            instance_type,
            family_zh: &format!("{zh_family} {family}"),
            family_en: &format!("{en_family} {family}"),
        },
    )
}

/// The components of an optional item price (none without one).
fn item_components_of(
    price: Option<&ItemPrice>,
    prepaid_months: u16,
    prefix: &str,
) -> Result<Vec<ReadPrice>, String> {
    price.map_or(Ok(Vec::new()), |p| {
        item_components(p, prepaid_months, prefix)
    })
}

/// Chinese and English names of a CBS disk type.
fn disk_names(disk_type: &str) -> (&'static str, &'static str) {
    match disk_type {
        "CLOUD_BASIC" => ("普通云硬盘", "Basic Cloud Disk"),
        "CLOUD_PREMIUM" => ("高性能云硬盘", "Premium Cloud Disk"),
        "CLOUD_SSD" => ("SSD 云硬盘", "SSD Cloud Disk"),
        "CLOUD_HSSD" => ("增强型 SSD 云硬盘", "Enhanced SSD Cloud Disk"),
        "CLOUD_TSSD" => ("极速型 SSD 云硬盘", "Tremendous SSD Cloud Disk"),
        "CLOUD_BSSD" => ("通用型 SSD 云硬盘", "Balanced SSD Cloud Disk"),
        _ => ("云硬盘", "Cloud Block Storage"),
    }
}

fn disk_quote(price: &RawValue, ctx: &ImportContext, out: &mut Out) -> Result<(), ConnectorError> {
    const API: &str = "InquiryPriceCreateDisks";
    let disk_type = ctx.require(VENDOR, API, "DiskType")?;
    let size = ctx.require(VENDOR, API, "DiskSize")?;
    let size: Decimal = size
        .trim()
        .parse()
        .map_err(|_| malformed(format!("--param DiskSize=`{size}` is not a number of GB")))?;
    let place = ctx.require_any(VENDOR, API, &["Placement.Zone", "Zone", "Region"])?;
    let charge_type = ctx
        .require(VENDOR, API, "DiskChargeType")?
        .to_ascii_uppercase();
    let months = period_months(ctx)?;
    let billing = if charge_type == "PREPAID" {
        format!("prepaid_{months}m")
    } else {
        charge_type.to_ascii_lowercase()
    };
    let key = format!("{disk_type}.{size}GB@{place}");
    let parsed: Result<ItemPrice, String> = parse_record(price);
    let result = parsed.and_then(|p| {
        let (zh, en) = disk_names(disk_type);
        let provenance = Provenance::from_raw(
            "tencent.cbs.InquiryPriceCreateDisks",
            price.get().as_bytes(),
            ctx.fetched_at,
        );
        // The raw offer is `DiskPrice` itself: its fields have no prefix.
        let (prices, provenance) = with_sources(item_components(&p, months, "")?, provenance);
        Draft {
            category: parse_category("storage.block")?,
            service: "cbs",
            region: region_of(place)?,
            specs: Specs {
                storage_gib: Some(size),
                ..Specs::default()
            },
            prices,
        }
        .build(
            VENDOR,
            format!("{key}/{billing}"),
            provenance,
            Subject::Product {
                zh: &format!("{zh} {size} GB"),
                en: &format!("{en} {size} GB"),
            },
        )
    });
    match result {
        Ok(listing) => out.listings.push(listing),
        Err(reason) => out.reject(key, reason),
    }
    Ok(())
}
