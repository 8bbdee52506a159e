//! UCloud JSON → [`Listing`].
//!
//! Handled responses (`{"Action": "<Api>Response", "RetCode": 0, …}`):
//! - `GetUHostInstancePrice`: `PriceSet[]`, `Price` in yuan (元);
//! - `DescribeUDBInstancePrice`: `DataSet[]`, `Price` in fen (分, 1/100 yuan);
//! - `DescribeURedisPrice`: `DataSet[]`, `Price` in li (厘, 1/1000 yuan).
//!
//! None repeats what was priced, so the request parameters are needed:
//! `Region` always; UHost `CPU` and `Memory` (MB), optionally `MachineType`
//! (default `N`), `GPU` and `GpuType`; UDB `MemoryLimit` (MB) and `DiskSpace`
//! (GB), optionally `DBTypeId` and `InstanceMode`; URedis `Size` (GB);
//! `Quantity` (periods) for all, and `Count` (instances, default 1). Quantity 0
//! (a part month, until the month ends) and a `Count` other than 1 are
//! rejected: neither is the price of one instance for one period, and UCloud
//! does not document that `Price` covers all `Count` instances. Each price entry (one per `ChargeType`) is a
//! listing: `vendor_sku` is `uhost.N.2c4g@cn-bj2/dynamic`,
//! `udb.mysql-8.0.1024m.20g@cn-bj2/month`, `uredis.1g@cn-bj2/month`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use shiyun_core::listing::{BillingMode, Listing, PriceUnit, Provenance, Region, Specs, Vendor};
use shiyun_core::money::Currency;

use crate::decimal::ExactDecimal;
use crate::normalise::{
    Draft, Period, Subject, flat_price, parse_category, region_or_code, subscription,
};
use crate::{ConnectorError, FetchedPage, ImportContext};

const VENDOR: Vendor = Vendor::Ucloud;

/// Code prefixes that name a country, for regions newer than the table.
const COUNTRY_PREFIXES: &[(&str, &str)] = &[("cn-", "cn"), ("us-", "us")];

/// The region of a UCloud region or zone code (`cn-bj2-02` → `cn-bj2`),
/// from the one region table in [`shiyun_core::geography`]; a code it does
/// not know keeps its code.
pub fn region_of(code: &str) -> Result<Region, String> {
    region_or_code(VENDOR, code, COUNTRY_PREFIXES)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    action: Option<String>,
    ret_code: i64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    price_set: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    data_set: Option<Vec<Box<RawValue>>>,
}

/// One price entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PriceEntry {
    charge_type: String,
    price: ExactDecimal,
}

/// The product a UCloud price API prices, with the unit its `Price` is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// UHost: `GetUHostInstancePrice`, yuan.
    Uhost,
    /// UDB: `DescribeUDBInstancePrice`, fen.
    Udb,
    /// URedis: `DescribeURedisPrice`, li.
    Uredis,
}

impl Product {
    fn from_action(action: &str) -> Option<Self> {
        match action {
            "GetUHostInstancePriceResponse" => Some(Product::Uhost),
            "DescribeUDBInstancePriceResponse" => Some(Product::Udb),
            "DescribeURedisPriceResponse" => Some(Product::Uredis),
            _ => None,
        }
    }

    /// Decimal places between the API's `Price` unit and yuan.
    fn minor_digits(self) -> u32 {
        match self {
            Product::Uhost => 0,
            Product::Udb => 2,
            Product::Uredis => 3,
        }
    }

    fn api(self) -> &'static str {
        match self {
            Product::Uhost => "ucloud.uhost.GetUHostInstancePrice",
            Product::Udb => "ucloud.udb.DescribeUDBInstancePrice",
            Product::Uredis => "ucloud.umem.DescribeURedisPrice",
        }
    }
}

fn malformed(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: VENDOR,
        message: message.into(),
    }
}

/// `RetCode` 171 (bad signature) and 172 (unknown public key) are refused credentials.
fn api_error(ret_code: i64, message: String) -> ConnectorError {
    let refused = matches!(ret_code, 171 | 172);
    ConnectorError::from_vendor(VENDOR, ret_code.to_string(), message, refused)
}

fn parse_envelope(body: &[u8]) -> Result<Envelope, ConnectorError> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a ucloud response: {e}")))?;
    if envelope.ret_code != 0 {
        return Err(api_error(
            envelope.ret_code,
            envelope.message.clone().unwrap_or_default(),
        ));
    }
    Ok(envelope)
}

/// The error of a body with a non-zero `RetCode`, if it is one.
pub fn body_error(body: &[u8]) -> Option<ConnectorError> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    (envelope.ret_code != 0)
        .then(|| api_error(envelope.ret_code, envelope.message.unwrap_or_default()))
}

/// What was priced: the offer key and its listing's fixed parts.
#[derive(Debug, Clone)]
pub struct Offer {
    product: Product,
    region: String,
    key: String,
    /// The family's names for UHost (UCloud names no instance types, only
    /// machine types), the product's otherwise.
    names_zh: String,
    names_en: String,
    specs: Specs,
    quantity: u16,
    /// `Count`: instances the answer priced.
    count: u32,
}

impl Offer {
    /// The key of the offer without its billing (`uhost.N.2c4g@cn-bj2`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A UHost configuration: `machine_type` (`N`, `O`, `G`), vCPUs and memory in MB.
    pub fn uhost(
        region: &str,
        machine_type: &str,
        cpu: u32,
        memory_mb: u32,
        gpu: Option<(u32, String)>,
    ) -> Self {
        let memory_gib = mb_to_gib(Decimal::from(memory_mb));
        let mut key = format!("uhost.{machine_type}.{cpu}c{memory_gib}g");
        let mut specs = Specs {
            vcpu: Some(cpu),
            memory_gib: Some(memory_gib),
            ..Specs::default()
        };
        if let Some((count, model)) = gpu.filter(|(n, _)| *n > 0) {
            key.push_str(&format!(".{count}x{model}"));
            specs.gpu_count = Some(count);
            specs.gpu_model = Some(model);
        }
        let (zh, en) = machine_type_names(machine_type);
        Offer {
            product: Product::Uhost,
            region: region.to_owned(),
            key: format!("{key}@{region}"),
            names_zh: format!("{zh} {machine_type}"),
            names_en: format!("{en} {machine_type}"),
            specs,
            quantity: 1,
            count: 1,
        }
    }

    fn with_quantity(mut self, quantity: u16) -> Self {
        self.quantity = quantity;
        self
    }

    fn from_params(product: Product, ctx: &ImportContext) -> Result<Self, ConnectorError> {
        let api = product.api();
        let need = |key: &str| ctx.require(VENDOR, api, key);
        let number = |key: &str| -> Result<u32, ConnectorError> {
            let text = need(key)?;
            text.trim()
                .parse()
                .map_err(|_| malformed(format!("--param {key}=`{text}` is not a whole number")))
        };
        let region = need("Region")?.to_owned();
        let quantity = match ctx.param("Quantity") {
            None => 1,
            Some(q) => q
                .trim()
                .parse::<u16>()
                .map_err(|_| malformed(format!("--param Quantity=`{q}` is not a whole number")))?,
        };
        let count = match ctx.param("Count") {
            None => 1,
            Some(c) => c
                .trim()
                .parse::<u32>()
                .map_err(|_| malformed(format!("--param Count=`{c}` is not a whole number")))?,
        };
        let offer = match product {
            Product::Uhost => {
                let gpu = match (ctx.param("GPU"), ctx.param("GpuType")) {
                    (Some(n), Some(model)) => Some((
                        n.trim().parse().map_err(|_| {
                            malformed(format!("--param GPU=`{n}` is not a whole number"))
                        })?,
                        model.to_owned(),
                    )),
                    _ => None,
                };
                let machine_type = ctx.param("MachineType").unwrap_or("N");
                Offer::uhost(
                    &region,
                    machine_type,
                    number("CPU")?,
                    number("Memory")?,
                    gpu,
                )
            }
            Product::Udb => {
                let memory_mb = number("MemoryLimit")?;
                let disk_gb = number("DiskSpace")?;
                let db_type = ctx.param("DBTypeId").unwrap_or("mysql");
                let ha = ctx
                    .param("InstanceMode")
                    .is_some_and(|m| m.eq_ignore_ascii_case("HA"));
                let (engine, version, engine_name) = engine_of(db_type);
                // UDB memory tiers are decimal: `MemoryLimit` 1000 is the
                // tier UCloud sells as 1G (2000 as 2G, …), unlike UHost's
                // binary `Memory` (4096 is 4 GiB).
                let memory_gib = Decimal::from(memory_mb)
                    .checked_div(Decimal::from(1000))
                    .unwrap_or_default()
                    .normalize();
                let mode_suffix = if ha { ".ha" } else { "" };
                let (mode_zh, mode_en) = if ha {
                    (" 高可用版", " HA")
                } else {
                    ("", "")
                };
                Offer {
                    product,
                    key: format!("udb.{db_type}.{memory_mb}m.{disk_gb}g{mode_suffix}@{region}"),
                    names_zh: format!("云数据库 UDB {engine_name}{mode_zh} {disk_gb} GB 磁盘"),
                    names_en: format!("UDB {engine_name}{mode_en} {disk_gb} GB disk"),
                    specs: Specs {
                        memory_gib: Some(memory_gib),
                        storage_gib: Some(Decimal::from(disk_gb)),
                        engine: Some(engine),
                        engine_version: version,
                        ..Specs::default()
                    },
                    region,
                    quantity,
                    count,
                }
            }
            Product::Uredis => {
                let size = number("Size")?;
                Offer {
                    product,
                    key: format!("uredis.{size}g@{region}"),
                    names_zh: "云内存 Redis".to_owned(),
                    names_en: "URedis (UCloud Redis)".to_owned(),
                    specs: Specs {
                        memory_gib: Some(Decimal::from(size)),
                        engine: Some("redis".to_owned()),
                        ..Specs::default()
                    },
                    region,
                    quantity,
                    count,
                }
            }
        };
        Ok(Offer { count, ..offer }.with_quantity(quantity))
    }

    fn category(&self) -> &'static str {
        match self.product {
            Product::Uhost if self.specs.gpu_count.is_some() => "compute.gpu",
            Product::Uhost => "compute.vm",
            Product::Udb => "database.relational",
            Product::Uredis => "database.cache",
        }
    }

    fn service(&self) -> &'static str {
        match self.product {
            Product::Uhost => "uhost",
            Product::Udb => "udb",
            Product::Uredis => "uredis",
        }
    }
}

fn mb_to_gib(mb: Decimal) -> Decimal {
    mb.checked_div(Decimal::from(1024))
        .unwrap_or(mb)
        .normalize()
}

/// The engine key, its version and its shown name of a `DBTypeId`
/// (`mysql-5.7` → `mysql`, `5.7`, `MySQL 5.7`).
fn engine_of(db_type: &str) -> (String, Option<String>, String) {
    let (engine, version) = db_type.split_once('-').unwrap_or((db_type, ""));
    let name = match engine {
        "mysql" => "MySQL",
        "percona" => "Percona",
        "postgresql" => "PostgreSQL",
        "mongodb" => "MongoDB",
        "sqlserver" => "SQL Server",
        other => other,
    };
    let version = Some(version.to_owned()).filter(|v| !v.is_empty());
    let shown = match &version {
        Some(v) => format!("{name} {v}"),
        None => name.to_owned(),
    };
    (engine.to_owned(), version, shown)
}

/// Chinese and English names of a UHost machine type (`N`, `O`, `G`).
fn machine_type_names(machine_type: &str) -> (&'static str, &'static str) {
    match machine_type {
        "N" => ("通用型", "General Purpose"),
        "O" => ("快杰型", "Outstanding"),
        "OS" => ("快杰 S 型", "Outstanding S"),
        "C" => ("高主频型", "High Frequency"),
        "G" => ("GPU 型", "GPU"),
        _ => ("云主机 UHost", "UHost"),
    }
}

/// Billing mode, unit and SKU suffix of a `ChargeType` bought for `quantity` periods.
fn billing(charge_type: &str, quantity: u16) -> Result<(BillingMode, PriceUnit, String), String> {
    match (charge_type, quantity) {
        ("Dynamic", _) => Ok((BillingMode::OnDemand, PriceUnit::Hour, "dynamic".into())),
        // Quantity 0 buys only until the end of the current month: a part-month
        // price, neither a monthly nor a yearly one.
        ("Month" | "Year", 0) => Err(format!(
            "Quantity 0 prices the part of the month left ({charge_type}), not a whole period"
        )),
        ("Month", n) => subscription(Period::Month, n),
        ("Year", n) => subscription(Period::Year, n),
        (other, _) => Err(format!("unknown charge type `{other}`")),
    }
}

/// Normalises the price entries of one answer about `offer`.
fn entries(
    raws: &[Box<RawValue>],
    offer: &Offer,
    fetched_at: DateTime<Utc>,
    page: &mut FetchedPage,
) {
    for raw in raws {
        page.push_result(offer.key.clone(), entry_listing(raw, offer, fetched_at));
    }
}

fn entry_listing(
    raw: &RawValue,
    offer: &Offer,
    fetched_at: DateTime<Utc>,
) -> Result<Listing, String> {
    let entry: PriceEntry =
        serde_json::from_str(raw.get()).map_err(|e| format!("unreadable price entry: {e}"))?;
    let region = region_of(&offer.region)?;
    let (mode, unit, suffix) = billing(&entry.charge_type, offer.quantity)?;
    if offer.count != 1 {
        // UCloud documents `Count` as the number bought but not whether
        // `Price` is for one or for all of them: no unit price can be derived.
        return Err(format!(
            "priced for Count={} instances; only Count=1 gives a unit price",
            offer.count
        ));
    }
    // Scale the minor unit exactly: 1360 fen → 13.60 yuan.
    let mut yuan = entry.price.0;
    let scale = yuan.scale() + offer.product.minor_digits();
    if scale > 28 {
        return Err("price has too many decimals".into());
    }
    yuan.set_scale(scale).map_err(|e| e.to_string())?;
    let price = flat_price(mode, unit, yuan, Currency::CNY)?;
    let provenance = Provenance::from_raw(offer.product.api(), raw.get().as_bytes(), fetched_at);
    let (zh, en) = (offer.names_zh.as_str(), offer.names_en.as_str());
    let subject = match offer.product {
        Product::Uhost => Subject::Instance {
            instance_type: "UHost",
            family_zh: zh,
            family_en: en,
        },
        Product::Udb | Product::Uredis => Subject::Product { zh, en },
    };
    Draft {
        category: parse_category(offer.category())?,
        service: offer.service(),
        region,
        specs: offer.specs.clone(),
        prices: vec![price],
    }
    .build(
        VENDOR,
        format!("{}/{suffix}", offer.key),
        provenance,
        subject,
    )
}

/// Normalises a saved UCloud price answer, detecting the API by `Action`.
pub fn import(body: &[u8], ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    let envelope = parse_envelope(body)?;
    let action = envelope.action.clone().unwrap_or_default();
    let product = Product::from_action(&action)
        .ok_or_else(|| malformed(format!("unknown ucloud response action `{action}`")))?;
    let offer = Offer::from_params(product, ctx)?;
    let raws = match product {
        Product::Uhost => envelope.price_set,
        Product::Udb | Product::Uredis => envelope.data_set,
    }
    .ok_or_else(|| malformed(format!("{action} has no price list")))?;
    let mut page = FetchedPage::default();
    entries(&raws, &offer, ctx.fetched_at, &mut page);
    Ok(page)
}

/// Normalises a live `GetUHostInstancePrice` answer about `offer`.
pub fn uhost_page(
    body: &[u8],
    offer: &Offer,
    fetched_at: DateTime<Utc>,
) -> Result<FetchedPage, ConnectorError> {
    let envelope = parse_envelope(body)?;
    let raws = envelope
        .price_set
        .ok_or_else(|| malformed("GetUHostInstancePrice answer has no PriceSet"))?;
    let mut page = FetchedPage::default();
    entries(&raws, offer, fetched_at, &mut page);
    Ok(page)
}
