//! AWS Price List JSON and its translation into listings.
//!
//! The Price List Query API (`GetProducts`) and the Bulk API offer files use
//! one product/terms shape. A product (`sku`, `productFamily`, `attributes`)
//! is priced by terms: `OnDemand` and `Reserved`, each keyed by
//! `<sku>.<offerTermCode>`, each with `priceDimensions` keyed by rate code.
//!
//! One **term** becomes one listing, and its `vendor_sku` is AWS's own term
//! key `<sku>.<offerTermCode>` (`WQGC34PB2AWS8R4U.JRTCKXETXF`): on-demand and
//! every reserved purchase option (1yr/3yr × no/partial/all upfront ×
//! standard/convertible) are distinct offers a customer orders, and the key
//! is stable across syncs. It also lets the offer-file parser emit a listing
//! as soon as a term is read, without holding terms back.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use shiyun_core::listing::{
    Architecture, BillingMode, Category, Listing, ListingData, ListingId, ListingStatus,
    LocalizedText, PriceComponent, PriceComponentData, PriceTier, PriceUnit, Provenance, Region,
    Specs, Vendor,
};
use shiyun_core::money::{Currency, Money, parse_decimal};
use shiyun_core::store::RecordRejection;

use super::regions::{region_from_code, region_from_location};
use crate::decimal::decimal_from_json_text;
use crate::normalise::{Subject, listing_text, parse_category};

/// `vendor_api` of listings read from `GetProducts`.
pub const GET_PRODUCTS_API: &str = "aws.pricing.GetProducts";
/// `vendor_api` of listings read from a Bulk API offer file.
pub const OFFER_FILE_API: &str = "aws.pricing.offer_file";

/// A `GetProducts` response.
#[derive(Debug, Deserialize)]
pub struct GetProductsResponse {
    /// `aws_v1`.
    #[serde(rename = "FormatVersion", default)]
    pub format_version: Option<String>,
    /// Opaque token of the next page.
    #[serde(rename = "NextToken", default)]
    pub next_token: Option<String>,
    /// Price List documents, each a JSON document encoded as a string (a
    /// decoded object is accepted too, as some tools save it that way).
    #[serde(rename = "PriceList", default)]
    pub price_list: Vec<Box<RawValue>>,
}

/// One decoded `PriceList` document: a product and all its terms.
#[derive(Debug, Deserialize)]
pub struct PriceListItem<'a> {
    /// The product.
    pub product: Product,
    /// Its terms.
    #[serde(default, borrow)]
    pub terms: ItemTerms<'a>,
}

/// The terms of one `PriceList` document, keyed by `<sku>.<offerTermCode>`.
#[derive(Debug, Default, Deserialize)]
pub struct ItemTerms<'a> {
    /// On-demand terms.
    #[serde(rename = "OnDemand", default, borrow)]
    pub on_demand: BTreeMap<Cow<'a, str>, Term<'a>>,
    /// Reserved terms.
    #[serde(rename = "Reserved", default, borrow)]
    pub reserved: BTreeMap<Cow<'a, str>, Term<'a>>,
}

/// A product: what is sold, where.
#[derive(Debug, Deserialize)]
pub struct Product {
    /// The SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// `Compute Instance`, `Storage`, …
    #[serde(rename = "productFamily", default)]
    pub product_family: Option<String>,
    /// Attributes (`instanceType`, `vcpu`, `memory`, `regionCode`, `location`, …).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// One term: how a product is paid for. Borrows from the JSON text (terms
/// are most of an offer file, so they are read without copying strings).
#[derive(Debug, Deserialize)]
pub struct Term<'a> {
    /// The offer term code (`JRTCKXETXF` on demand; reserved codes differ per option).
    #[serde(rename = "offerTermCode", default, borrow)]
    pub offer_term_code: Option<Cow<'a, str>>,
    /// The SKU the term prices.
    #[serde(default, borrow)]
    pub sku: Option<Cow<'a, str>>,
    /// Prices, keyed by rate code.
    #[serde(rename = "priceDimensions", default, borrow)]
    pub price_dimensions: BTreeMap<Cow<'a, str>, PriceDimension<'a>>,
    /// `LeaseContractLength`, `PurchaseOption`, `OfferingClass` of reserved terms.
    #[serde(rename = "termAttributes", default, borrow)]
    pub term_attributes: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

/// One price of a term, for usage in `[beginRange, endRange)`.
#[derive(Debug, Deserialize)]
pub struct PriceDimension<'a> {
    /// `Hrs`, `GB-Mo`, `Quantity`, …
    #[serde(default, borrow)]
    pub unit: Cow<'a, str>,
    /// Lower bound of the tier (a decimal string).
    #[serde(rename = "beginRange", default, borrow)]
    pub begin_range: Option<Cow<'a, str>>,
    /// Upper bound of the tier, `Inf` when unbounded.
    #[serde(rename = "endRange", default, borrow)]
    pub end_range: Option<Cow<'a, str>>,
    /// Human description.
    #[serde(default, borrow)]
    pub description: Option<Cow<'a, str>>,
    /// Price per unit by currency code, as decimal strings.
    #[serde(rename = "pricePerUnit", default, borrow)]
    pub price_per_unit: BTreeMap<Cow<'a, str>, &'a RawValue>,
}

/// Which kind of term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    /// `terms.OnDemand`.
    OnDemand,
    /// `terms.Reserved`.
    Reserved,
}

impl TermKind {
    /// The kind of a `terms` key (`OnDemand`, `Reserved`); other kinds
    /// (savings plans live in their own files) are not read.
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "OnDemand" => Some(TermKind::OnDemand),
            "Reserved" => Some(TermKind::Reserved),
            _ => None,
        }
    }
}

/// What every listing of one product shares: the product normalised once,
/// without its SKU. Many products share one (they differ only in attributes
/// that are not normalised), so the offer-file parser keeps one copy of each
/// and a pointer per SKU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductTemplate {
    category: Category,
    service: &'static str,
    names: Names,
    region: Region,
    specs: Specs,
}

/// What a product is, for its text: an instance with its family's names,
/// or a product with its names. A reserved term's words go after them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Names {
    Instance {
        instance_type: String,
        family_zh: String,
        family_en: String,
    },
    Product {
        zh: String,
        en: String,
    },
}

impl Names {
    fn product(zh: String, en: String) -> Self {
        Names::Product { zh, en }
    }

    /// The listing's text with `suffix` (zh, en) after the family's or product's names.
    fn text(
        &self,
        template: &ProductTemplate,
        billing: &[BillingMode],
        (suffix_zh, suffix_en): (&str, &str),
    ) -> (LocalizedText, LocalizedText) {
        let (zh, en) = match self {
            Names::Instance {
                family_zh,
                family_en,
                ..
            }
            | Names::Product {
                zh: family_zh,
                en: family_en,
            } => (
                format!("{family_zh}{suffix_zh}"),
                format!("{family_en}{suffix_en}"),
            ),
        };
        let subject = match self {
            Names::Instance { instance_type, .. } => Subject::Instance {
                instance_type,
                family_zh: &zh,
                family_en: &en,
            },
            Names::Product { .. } => Subject::Product { zh: &zh, en: &en },
        };
        let text = listing_text(
            Vendor::Aws,
            &template.category,
            &template.region,
            &template.specs,
            billing,
            subject,
        );
        (text.name, text.description)
    }
}

/// Chinese name of a Price List `instanceFamily` (`General purpose`).
fn instance_family_zh(family: &str) -> &'static str {
    match family {
        "General purpose" => "通用型",
        "Compute optimized" => "计算优化型",
        "Memory optimized" => "内存优化型",
        "Storage optimized" => "存储优化型",
        "GPU instance" => "GPU 实例",
        "Accelerated computing" => "加速计算型",
        "FPGA Instances" => "FPGA 实例",
        "Machine Learning ASIC Instances" => "机器学习 ASIC 实例",
        "Micro instances" => "微型实例",
        _ => "EC2 实例",
    }
}

impl ProductTemplate {
    /// Normalises a product into its SKU and template, or says why it cannot be.
    pub fn from_product(product: &Product) -> Result<(String, Self), String> {
        let sku = product
            .sku
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or("missing product sku")?
            .to_owned();
        let attrs = &product.attributes;
        let attr = |key: &str| {
            attrs
                .get(key)
                .map(String::as_str)
                .filter(|v| !v.is_empty() && *v != "NA")
        };
        let family = product.product_family.as_deref().unwrap_or_default();
        let service_code = attr("servicecode").unwrap_or_default();
        let region = product_region(attrs)?;
        let mut specs = Specs::default();
        let (category, service, names) = match (service_code, family) {
            ("AmazonEC2", "Compute Instance" | "Compute Instance (bare metal)") => {
                let instance_type =
                    attr("instanceType").ok_or("compute instance without instanceType")?;
                specs = instance_specs(attrs, instance_type);
                let category = if family.contains("bare metal") {
                    "compute.bare_metal"
                } else if specs.gpu_count.is_some_and(|n| n > 0) {
                    "compute.gpu"
                } else {
                    "compute.vm"
                };
                // What sets SKUs of one type apart besides the OS.
                let mut qualifiers: Vec<(String, String)> = Vec::new();
                if let Some(sw) = attr("preInstalledSw") {
                    qualifiers.push((format!("预装 {sw}"), format!("with {sw}")));
                }
                if let Some(tenancy) = attr("tenancy").filter(|t| *t != "Shared") {
                    qualifiers.push((format!("{tenancy} 租用"), format!("{tenancy} tenancy")));
                }
                if let Some(license) = attr("licenseModel").filter(|l| l.starts_with("Bring")) {
                    qualifiers.push(("自带许可".to_owned(), license.to_owned()));
                }
                if let Some(status) = attr("capacitystatus").filter(|s| *s != "Used") {
                    qualifiers.push((format!("容量 {status}"), status.to_owned()));
                }
                let series = instance_type.split('.').next().unwrap_or(instance_type);
                let aws_family = attr("instanceFamily").unwrap_or("EC2 instance");
                let mut family_zh = format!("{} {series}", instance_family_zh(aws_family));
                let mut family_en = format!("{aws_family} {series}");
                if !qualifiers.is_empty() {
                    let (zh, en): (Vec<String>, Vec<String>) = qualifiers.into_iter().unzip();
                    family_zh.push_str(&format!("（{}）", zh.join("，")));
                    family_en.push_str(&format!(" ({})", en.join(", ")));
                }
                let names = Names::Instance {
                    instance_type: instance_type.to_owned(),
                    family_zh,
                    family_en,
                };
                (category, "ec2", names)
            }
            (
                "AmazonEC2",
                "Storage" | "System Operation" | "Storage Snapshot" | "Provisioned Throughput",
            ) => {
                let volume = attr("volumeApiName")
                    .or(attr("volumeType"))
                    .or(attr("usagetype"))
                    .unwrap_or("volume");
                let (en, zh) = match family {
                    "Storage" => (
                        format!("EBS {volume} volume storage"),
                        format!("EBS 块存储 {volume} 容量"),
                    ),
                    "System Operation" => (
                        format!("EBS {volume} IOPS"),
                        format!("EBS 块存储 {volume} IOPS"),
                    ),
                    "Provisioned Throughput" => (
                        format!("EBS {volume} throughput"),
                        format!("EBS 块存储 {volume} 吞吐量"),
                    ),
                    _ => ("EBS snapshot storage".to_owned(), "EBS 快照存储".to_owned()),
                };
                ("storage.block", "ebs", Names::product(zh, en))
            }
            ("AmazonS3", "Storage" | "API Request") => {
                let class = attr("volumeType")
                    .or(attr("storageClass"))
                    .unwrap_or("Standard");
                let (en, zh) = if family == "Storage" {
                    (
                        format!("S3 {class} storage"),
                        format!("S3 对象存储 {class} 容量"),
                    )
                } else {
                    let group = attr("groupDescription")
                        .or(attr("group"))
                        .unwrap_or("requests");
                    (
                        format!("S3 {class} requests: {group}"),
                        format!("S3 对象存储 {class} 请求"),
                    )
                };
                ("storage.object", "s3", Names::product(zh, en))
            }
            (_, "Data Transfer") => {
                let from = attr("fromLocation").unwrap_or("?");
                let to = attr("toLocation").unwrap_or("?");
                let service = if service_code == "AmazonS3" {
                    "s3"
                } else {
                    "ec2"
                };
                (
                    "network.bandwidth",
                    service,
                    Names::product(
                        format!("数据传输 {from} → {to}"),
                        format!("Data transfer from {from} to {to}"),
                    ),
                )
            }
            ("AmazonEC2", "IP Address") => {
                let group = attr("groupDescription")
                    .or(attr("group"))
                    .unwrap_or("Elastic IP address");
                (
                    "network.ip",
                    "ec2",
                    Names::product("弹性 IP 地址".to_owned(), group.to_owned()),
                )
            }
            (code, family) => {
                return Err(format!("unsupported product family `{family}` of `{code}`"));
            }
        };
        let template = ProductTemplate {
            category: parse_category(category)?,
            service,
            names,
            region,
            specs,
        };
        Ok((sku, template))
    }

    /// The listing of one term of this product, with the provenance of the
    /// record it came from. `texts` is this template's own [`TermTexts`]
    /// (one per template, kept as long as the template).
    ///
    /// Built as [`ListingData`] and validated once with `Listing::try_from`:
    /// the offer-file parser calls this for every term, and the builder's
    /// by-value steps cost more than the rest of the normalisation.
    pub fn listing(
        &self,
        texts: &mut TermTexts,
        sku: &str,
        kind: TermKind,
        term_key: &str,
        term: &Term<'_>,
        provenance: Provenance,
    ) -> Result<Listing, String> {
        let code = match term.offer_term_code.as_deref().filter(|c| !c.is_empty()) {
            Some(code) => code,
            None => term_key
                .rsplit_once('.')
                .map(|(_, code)| code)
                .ok_or("term without offerTermCode")?,
        };
        let mut vendor_sku = String::with_capacity(sku.len() + 1 + code.len());
        vendor_sku.push_str(sku);
        vendor_sku.push('.');
        vendor_sku.push_str(code);
        let reserved = match kind {
            TermKind::OnDemand => None,
            TermKind::Reserved => {
                let ta = &term.term_attributes;
                let length = ta
                    .get("LeaseContractLength")
                    .map(|v| v.as_ref())
                    .unwrap_or_default();
                let years: u16 = length
                    .trim_end_matches("yr")
                    .trim()
                    .parse()
                    .map_err(|_| format!("unknown reserved term length `{length}`"))?;
                let option = ta
                    .get("PurchaseOption")
                    .map(|v| v.as_ref())
                    .unwrap_or("No Upfront");
                let class = ta
                    .get("OfferingClass")
                    .map(|v| v.as_ref())
                    .unwrap_or("standard");
                Some(ReservedWords {
                    years,
                    class,
                    option,
                })
            }
        };
        let mode = match &reserved {
            None => BillingMode::OnDemand,
            Some(words) => BillingMode::Reserved {
                term_months: words
                    .years
                    .checked_mul(12)
                    .ok_or_else(|| format!("reserved term of {} years is too long", words.years))?,
            },
        };
        let prices = price_components(kind, mode, term)?;
        let worded = texts.worded(self, mode, reserved);
        let data = ListingData {
            id: ListingId::derive(Vendor::Aws, &vendor_sku),
            vendor: Vendor::Aws.into(),
            vendor_sku,
            category: self.category.clone(),
            service: self.service.to_owned(),
            name: worded.name.clone(),
            description: worded.description.clone(),
            region: self.region.clone(),
            specs: self.specs.clone(),
            prices: prices.into_iter().map(PriceComponentData::from).collect(),
            tags: worded.tags.clone(),
            status: ListingStatus::Active,
            provenance,
        };
        Listing::try_from(data).map_err(|e| e.to_string())
    }
}

/// What sets a reserved term's text apart from its product's on-demand one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReservedWords<'a> {
    years: u16,
    /// `standard`, `convertible`.
    class: &'a str,
    /// `No Upfront`, `Partial Upfront`, `All Upfront`.
    option: &'a str,
}

/// The name, description and tags of one [`ProductTemplate`]'s terms, each
/// worded the first time a term of its kind is met. A product's terms
/// differ only in their billing words (on demand and twelve reserved
/// options of an instance) and an offer file has many products of one
/// template, so wording each term anew was most of the normalisation.
#[derive(Debug, Default)]
pub struct TermTexts {
    worded: Vec<WordedTerm>,
}

#[derive(Debug)]
struct WordedTerm {
    /// `None` on demand; else the reserved term's years, class and option.
    reserved: Option<(u16, Box<str>, Box<str>)>,
    name: LocalizedText,
    description: LocalizedText,
    tags: BTreeSet<String>,
}

/// Kinds of term one template keeps worded; the rare template with more
/// (a malformed file) has the rest worded anew each time.
const WORDED_TERMS_KEPT: usize = 32;

impl TermTexts {
    /// The text of `template`'s term of `mode` with `reserved`'s words.
    fn worded(
        &mut self,
        template: &ProductTemplate,
        mode: BillingMode,
        reserved: Option<ReservedWords<'_>>,
    ) -> &WordedTerm {
        let same = |w: &WordedTerm| match (&w.reserved, reserved) {
            (None, None) => true,
            (Some((years, class, option)), Some(r)) => {
                *years == r.years && **class == *r.class && **option == *r.option
            }
            _ => false,
        };
        if let Some(at) = self.worded.iter().position(same) {
            return &self.worded[at];
        }
        let worded = word_term(template, mode, reserved);
        if self.worded.len() >= WORDED_TERMS_KEPT {
            self.worded.clear();
        }
        self.worded.push(worded);
        &self.worded[self.worded.len() - 1]
    }
}

/// Words one term of `template`: a reserved term's length, class and
/// purchase option go after the family's or product's names.
fn word_term(
    template: &ProductTemplate,
    mode: BillingMode,
    reserved: Option<ReservedWords<'_>>,
) -> WordedTerm {
    let Some(words) = reserved else {
        let (name, description) = template.names.text(template, &[mode], ("", ""));
        return WordedTerm {
            reserved: None,
            name,
            description,
            tags: BTreeSet::new(),
        };
    };
    let ReservedWords {
        years,
        class,
        option,
    } = words;
    let option_zh = match option {
        "All Upfront" => "全部预付",
        "Partial Upfront" => "部分预付",
        _ => "无预付",
    };
    let class_zh = if class == "convertible" {
        "可转换"
    } else {
        "标准"
    };
    let (name, description) = template.names.text(
        template,
        &[mode],
        (
            &format!("（预留 {years} 年，{class_zh}，{option_zh}）"),
            &format!(" (reserved {years} year, {class}, {option})"),
        ),
    );
    WordedTerm {
        reserved: Some((years, class.into(), option.into())),
        name,
        description,
        tags: BTreeSet::from([
            format!("purchase_option:{}", slug(option)),
            format!("offering_class:{}", slug(class)),
        ]),
    }
}

/// Provenance of a record given as parts (the product's hash and a term's
/// raw text): the SHA-256 of their concatenation, as `Provenance::from_raw`
/// would compute it, without copying them together.
pub fn provenance_of_parts(
    vendor_api: &str,
    parts: &[&[u8]],
    fetched_at: DateTime<Utc>,
) -> Provenance {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    // Lower-case hex, as `hex::encode` writes it, into one allocation.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = hasher.finalize();
    let mut raw_hash = String::with_capacity(digest.len() * 2);
    for byte in digest {
        raw_hash.push(char::from(DIGITS[usize::from(byte >> 4)]));
        raw_hash.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    Provenance {
        fetched_at,
        vendor_api: vendor_api.to_owned(),
        raw_hash,
        price_sources: Vec::new(),
    }
}

fn slug(text: &str) -> String {
    text.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

/// The region of a product: `regionCode` when present, else the `location`
/// name (`Canada (Central)`); data transfer is placed at its source.
fn product_region(attrs: &BTreeMap<String, String>) -> Result<Region, String> {
    let get = |key: &str| attrs.get(key).map(String::as_str).filter(|v| !v.is_empty());
    if let Some(code) = get("regionCode").or(get("fromRegionCode")) {
        return region_from_code(code);
    }
    match get("location").or(get("fromLocation")) {
        Some(location) => region_from_location(location),
        None => Err("product has no regionCode or location".into()),
    }
}

/// Leading number of an attribute such as `8 GiB`, `1,952 GiB`, `16`.
fn leading_decimal(text: &str) -> Option<Decimal> {
    let number: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    parse_decimal(&number).ok()
}

/// GPU model by instance family (the part of the type before the dot):
/// the Price List gives the count, not the model.
const GPU_MODELS: &[(&str, &str)] = &[
    ("p6e-gb200", "NVIDIA GB200"),
    ("p6-b200", "NVIDIA B200"),
    ("p5", "NVIDIA H100"),
    ("p5e", "NVIDIA H200"),
    ("p5en", "NVIDIA H200"),
    ("p4d", "NVIDIA A100"),
    ("p4de", "NVIDIA A100 80GB"),
    ("p3", "NVIDIA V100"),
    ("p3dn", "NVIDIA V100"),
    ("p2", "NVIDIA K80"),
    ("g6", "NVIDIA L4"),
    ("gr6", "NVIDIA L4"),
    ("g6e", "NVIDIA L40S"),
    ("g5", "NVIDIA A10G"),
    ("g5g", "NVIDIA T4G"),
    ("g4dn", "NVIDIA T4"),
    ("g4ad", "AMD Radeon Pro V520"),
    ("g3", "NVIDIA M60"),
    ("g3s", "NVIDIA M60"),
];

fn instance_specs(attrs: &BTreeMap<String, String>, instance_type: &str) -> Specs {
    let attr = |key: &str| {
        attrs
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && *v != "NA")
    };
    let gpu_count = attr("gpu").and_then(|g| g.trim().parse::<u32>().ok());
    let family = instance_type.split('.').next().unwrap_or_default();
    let gpu_model = gpu_count
        .filter(|n| *n > 0)
        .and_then(|_| GPU_MODELS.iter().find(|(f, _)| *f == family))
        .map(|(_, model)| (*model).to_owned());
    let processor = attr("physicalProcessor").unwrap_or_default();
    let architecture = if processor.contains("Graviton") || processor.contains("Apple") {
        Some(Architecture::Arm64)
    } else if attr("processorArchitecture").is_some_and(|a| a.contains("64-bit")) {
        Some(Architecture::X86_64)
    } else {
        None
    };
    // `2 x 1900 NVMe SSD`; `EBS only` has no included storage.
    let storage_gib = attr("storage").and_then(|s| {
        let (count, rest) = s.split_once(" x ")?;
        let count = parse_decimal(count.trim()).ok()?;
        count.checked_mul(leading_decimal(rest)?)
    });
    // `25 Gigabit`; `Up to 10 Gigabit` is a burst, not a rate, so it is left out.
    let bandwidth_mbps = attr("networkPerformance")
        .filter(|n| !n.starts_with("Up to"))
        .and_then(|n| {
            let value = leading_decimal(n)?;
            if n.contains("Gigabit") {
                value.checked_mul(Decimal::from(1000))
            } else if n.contains("Megabit") {
                Some(value)
            } else {
                None
            }
        });
    let os = attr("operatingSystem").map(|os| match os {
        "Red Hat Enterprise Linux" | "RHEL" => "rhel".to_owned(),
        other => other.to_ascii_lowercase().replace(' ', "_"),
    });
    Specs {
        vcpu: attr("vcpu").and_then(|v| v.trim().parse().ok()),
        memory_gib: attr("memory").and_then(leading_decimal),
        gpu_count,
        gpu_model,
        storage_gib,
        bandwidth_mbps,
        architecture,
        os,
        ..Specs::default()
    }
}

fn price_unit(unit: &str, kind: TermKind) -> Result<PriceUnit, String> {
    Ok(match unit {
        "Hrs" | "Hours" | "hours" | "Hrs." => PriceUnit::Hour,
        "GB-Mo" | "GB-month" | "GB-Month" => PriceUnit::GbMonth,
        "GB" => PriceUnit::Gb,
        "GB-Hours" => PriceUnit::GbHour,
        "IOPS-Mo" => PriceUnit::IopsMonth,
        "Requests" | "Request" | "API Requests" => PriceUnit::Request,
        // A reserved upfront fee is paid once for the whole term.
        "Quantity" if kind == TermKind::Reserved => PriceUnit::Term,
        "Quantity" => PriceUnit::Unit,
        other => return Err(format!("unknown price unit `{other}`")),
    })
}

/// The amount of a dimension: its only currency, or USD when it has several.
fn dimension_price(dim: &PriceDimension<'_>) -> Result<Money, String> {
    let (code, raw) = if dim.price_per_unit.len() == 1 {
        dim.price_per_unit.iter().next()
    } else {
        dim.price_per_unit.get_key_value("USD")
    }
    .ok_or("price dimension has no pricePerUnit")?;
    let currency = Currency::parse(code).map_err(|_| format!("unknown currency `{code}`"))?;
    let amount =
        decimal_from_json_text(raw.get()).map_err(|e| format!("price is not a number: {e}"))?;
    Ok(Money::new(amount, currency))
}

fn range_bound(text: Option<&str>) -> Result<Option<Decimal>, String> {
    match text.map(str::trim) {
        None | Some("") | Some("Inf") => Ok(None),
        Some(t) => parse_decimal(t)
            .map(Some)
            .map_err(|_| format!("range `{t}` is not a number")),
    }
}

/// The price components of a term: its dimensions grouped by unit, each
/// group flat or tiered by `beginRange`/`endRange`.
fn price_components(
    kind: TermKind,
    mode: BillingMode,
    term: &Term<'_>,
) -> Result<Vec<PriceComponent>, String> {
    if term.price_dimensions.is_empty() {
        return Err("term has no price dimensions".into());
    }
    let mut by_unit: BTreeMap<&str, Vec<&PriceDimension<'_>>> = BTreeMap::new();
    for dim in term.price_dimensions.values() {
        by_unit.entry(dim.unit.as_ref()).or_default().push(dim);
    }
    let several = by_unit.len() > 1;
    let mut out = Vec::with_capacity(by_unit.len());
    for (unit_text, dims) in by_unit {
        let unit = price_unit(unit_text, kind)?;
        let mut bands = Vec::with_capacity(dims.len());
        for dim in dims {
            let from = range_bound(dim.begin_range.as_deref())?.unwrap_or(Decimal::ZERO);
            let to = range_bound(dim.end_range.as_deref())?;
            bands.push((from, to, dimension_price(dim)?));
        }
        bands.sort_by_key(|(from, ..)| *from);
        let component = match bands.as_slice() {
            [(from, None, amount)] if from.is_zero() => PriceComponent::flat(mode, unit, *amount),
            _ => bands
                .iter()
                .enumerate()
                .map(|(i, (from, to, amount))| {
                    PriceTier::new(*from, *to, *amount)
                        .map_err(|e| e.within(&format!("tiers[{i}]")))
                })
                .collect::<Result<Vec<_>, _>>()
                .and_then(|tiers| PriceComponent::tiered(mode, unit, tiers)),
        }
        .map_err(|e| e.to_string())?;
        let name = match (kind, unit) {
            (TermKind::Reserved, PriceUnit::Term) => Some("upfront".to_owned()),
            (TermKind::Reserved, _) => Some("recurring".to_owned()),
            (TermKind::OnDemand, _) if several => Some(slug(unit_text)),
            _ => None,
        };
        out.push(match name {
            Some(name) => component.for_component(name).map_err(|e| e.to_string())?,
            None => component,
        });
    }
    Ok(out)
}

/// Listings and rejections of one normalised unit of input.
#[derive(Debug, Default)]
pub struct Normalised {
    /// The listings.
    pub listings: Vec<Listing>,
    /// The records that could not be normalised.
    pub rejections: Vec<RecordRejection>,
}

impl Normalised {
    fn reject(&mut self, vendor_key: impl Into<String>, reason: impl Into<String>) {
        self.rejections.push(RecordRejection {
            vendor_key: vendor_key.into(),
            reason: reason.into(),
        });
    }
}

/// Normalises the `PriceList` of a `GetProducts` response: every term of
/// every document becomes a listing or a rejection.
pub fn normalise_get_products(
    response: &GetProductsResponse,
    fetched_at: DateTime<Utc>,
) -> Normalised {
    let mut out = Normalised::default();
    for (i, raw) in response.price_list.iter().enumerate() {
        let position = format!("PriceList[{i}]");
        // The documents are JSON encoded as strings: decode the string, then the document.
        let text = if raw.get().trim_start().starts_with('"') {
            match serde_json::from_str::<String>(raw.get()) {
                Ok(text) => text,
                Err(e) => {
                    out.reject(position, format!("unreadable price list string: {e}"));
                    continue;
                }
            }
        } else {
            raw.get().to_owned()
        };
        let item = match serde_json::from_str::<PriceListItem>(&text) {
            Ok(item) => item,
            Err(e) => {
                let key = sku_of_unreadable(&text).unwrap_or(position);
                out.reject(key, format!("unreadable price list document: {e}"));
                continue;
            }
        };
        let (sku, template) = match ProductTemplate::from_product(&item.product) {
            Ok(t) => t,
            Err(reason) => {
                let key = item
                    .product
                    .sku
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or(position);
                out.reject(key, reason);
                continue;
            }
        };
        if item.terms.on_demand.is_empty() && item.terms.reserved.is_empty() {
            out.reject(sku, "product has no terms");
            continue;
        }
        let terms = item
            .terms
            .on_demand
            .iter()
            .map(|t| (TermKind::OnDemand, t))
            .chain(item.terms.reserved.iter().map(|t| (TermKind::Reserved, t)));
        // Every term's listing traces back to the whole document.
        let provenance = Provenance::from_raw(GET_PRODUCTS_API, text.as_bytes(), fetched_at);
        let mut texts = TermTexts::default();
        for (kind, (key, term)) in terms {
            match template.listing(&mut texts, &sku, kind, key, term, provenance.clone()) {
                Ok(listing) => out.listings.push(listing),
                Err(reason) => out.reject(key.to_string(), reason),
            }
        }
    }
    out
}

/// The `product.sku` of a document that did not deserialise, for the rejection key.
fn sku_of_unreadable(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value["product"]["sku"].as_str().map(str::to_owned)
}

/// The AWS JSON 1.1 error envelope (`__type`, `message`).
#[derive(Debug, Deserialize)]
pub struct AwsErrorBody {
    /// `com.amazon.coral.service#UnrecognizedClientException` or a bare name.
    #[serde(rename = "__type")]
    pub error_type: String,
    /// Message (either case).
    #[serde(default, alias = "Message")]
    pub message: Option<String>,
}

impl AwsErrorBody {
    /// The error name without its namespace.
    pub fn code(&self) -> &str {
        self.error_type
            .rsplit('#')
            .next()
            .unwrap_or(&self.error_type)
    }

    /// True for the codes that mean the credentials were refused.
    pub fn is_credentials_error(&self) -> bool {
        matches!(
            self.code(),
            "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "AccessDeniedException"
                | "ExpiredTokenException"
                | "IncompleteSignature"
                | "MissingAuthenticationToken"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn product(instance_type: &str, family: &str, gpu: &str) -> Product {
        let attributes = [
            ("servicecode", "AmazonEC2"),
            ("regionCode", "us-east-1"),
            ("instanceType", instance_type),
            ("instanceFamily", "Accelerated computing"),
            ("vcpu", "192"),
            ("memory", "2,048 GiB"),
            ("gpu", gpu),
            ("operatingSystem", "Linux"),
            ("tenancy", "Shared"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Product {
            sku: Some("SKU123".into()),
            product_family: Some(family.into()),
            attributes,
        }
    }

    fn term(json: &str) -> Term<'_> {
        serde_json::from_str(json).unwrap()
    }

    const ON_DEMAND: &str = r#"{"offerTermCode":"JRTCKXETXF","priceDimensions":{"SKU123.JRTCKXETXF.6YS6EN2CT7":{"unit":"Hrs","beginRange":"0","endRange":"Inf","pricePerUnit":{"USD":"1.5"}}},"termAttributes":{}}"#;

    fn reserved(years: u16, class: &str, option: &str) -> String {
        format!(
            r#"{{"offerTermCode":"CODE{years}{class}{}","priceDimensions":{{"d":{{"unit":"Hrs","pricePerUnit":{{"USD":"0.9"}}}}}},"termAttributes":{{"LeaseContractLength":"{years}yr","OfferingClass":"{class}","PurchaseOption":"{option}"}}}}"#,
            option.len()
        )
    }

    fn provenance() -> Provenance {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Provenance::from_raw(OFFER_FILE_API, b"{}", at)
    }

    /// The template's on-demand listing, worded afresh.
    fn on_demand_listing(template: &ProductTemplate) -> Listing {
        template
            .listing(
                &mut TermTexts::default(),
                "SKU123",
                TermKind::OnDemand,
                "SKU123.JRTCKXETXF",
                &term(ON_DEMAND),
                provenance(),
            )
            .unwrap()
    }

    #[test]
    fn current_gpu_families_name_their_gpu() {
        for (instance_type, model) in [
            ("p5en.48xlarge", "NVIDIA H200"),
            ("p6-b200.48xlarge", "NVIDIA B200"),
            ("p6e-gb200.36xlarge", "NVIDIA GB200"),
            ("gr6.4xlarge", "NVIDIA L4"),
            ("p5.48xlarge", "NVIDIA H100"),
            ("g6e.xlarge", "NVIDIA L40S"),
        ] {
            let (_, template) =
                ProductTemplate::from_product(&product(instance_type, "Compute Instance", "8"))
                    .unwrap();
            assert_eq!(
                template.specs.gpu_model.as_deref(),
                Some(model),
                "{instance_type}"
            );
            assert_eq!(template.category.as_str(), "compute.gpu");
            let listing = on_demand_listing(&template);
            let name = listing.name().en.as_deref().unwrap();
            assert!(name.contains(&format!("8 × {model}")), "{name}");
        }
    }

    #[test]
    fn bare_metal_instances_say_bare_metal_server() {
        let (_, template) = ProductTemplate::from_product(&product(
            "m5.metal",
            "Compute Instance (bare metal)",
            "0",
        ))
        .unwrap();
        assert_eq!(template.category.as_str(), "compute.bare_metal");
        let listing = on_demand_listing(&template);
        let zh = listing.description().zh.as_deref().unwrap();
        let en = listing.description().en.as_deref().unwrap();
        assert!(
            zh.contains("裸金属服务器") && !zh.contains("云主机"),
            "{zh}"
        );
        assert!(
            en.contains("bare metal server") && !en.contains("virtual machine"),
            "{en}"
        );
    }

    #[test]
    fn reused_term_texts_equal_texts_worded_anew() {
        let (_, template) =
            ProductTemplate::from_product(&product("p5en.48xlarge", "Compute Instance", "8"))
                .unwrap();
        let mut shared = TermTexts::default();
        let mut terms = vec![(TermKind::OnDemand, ON_DEMAND.to_owned())];
        for years in [1, 3] {
            for class in ["standard", "convertible"] {
                for option in ["No Upfront", "Partial Upfront", "All Upfront"] {
                    terms.push((TermKind::Reserved, reserved(years, class, option)));
                }
            }
        }
        let mut names = BTreeSet::new();
        // Twice over, so the second round reads every text from `shared`.
        for (kind, json) in terms.iter().chain(&terms) {
            let term = term(json);
            let key = format!("SKU123.{}", term.offer_term_code.as_deref().unwrap());
            let reused = template
                .listing(&mut shared, "SKU123", *kind, &key, &term, provenance())
                .unwrap();
            let fresh = template
                .listing(
                    &mut TermTexts::default(),
                    "SKU123",
                    *kind,
                    &key,
                    &term,
                    provenance(),
                )
                .unwrap();
            assert_eq!(reused, fresh);
            names.insert(reused.name().clone().en.unwrap());
        }
        assert_eq!(names.len(), 13, "each kind of term has its own name");
        assert!(
            names
                .iter()
                .any(|n| n.contains("reserved 3 year, convertible, All Upfront"))
        );
        assert!(shared.worded.len() == 13);
    }

    #[test]
    fn provenance_of_parts_is_the_hash_of_the_parts_together() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let parts: [&[u8]; 2] = [b"product hash", b"{\"term\":1}"];
        assert_eq!(
            provenance_of_parts(OFFER_FILE_API, &parts, at),
            Provenance::from_raw(OFFER_FILE_API, &parts.concat(), at)
        );
    }
}
