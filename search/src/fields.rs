//! The index schema and how a listing becomes a document.
//!
//! Text: names and descriptions in both languages (jieba words for
//! Chinese, stemmed words for English), every Chinese character of them
//! (for recall inside words), and every Latin word unstemmed (for typos and
//! prefixes). Exact fields (indexed and fast): vendor, category and its
//! family, service, region, country, city, billing modes, architecture, OS,
//! GPU model; vCPU, memory and storage (thousandths of a GiB), GPU count;
//! each billing mode's price as an integer of 10⁻¹⁰ currency units with the
//! currency beside it. A stored [`Summary`] carries what a hit shows.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use shiyun_core::listing::{
    Architecture, BillingMode, Listing, ListingId, LocalizedText, PriceUnit, Specs, VendorRef,
};
use shiyun_core::money::Currency;
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, IndexRecordOption, NumericOptions, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions,
};

use crate::tokenizer;

/// Prices are indexed as integers of this many decimal places.
pub const PRICE_SCALE: u32 = 10;
/// Memory and storage are indexed in thousandths of a GiB.
pub const GIB_SCALE: u32 = 3;

/// The billing modes that have a price field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceSlot {
    /// On demand.
    OnDemand,
    /// Monthly.
    Monthly,
    /// Yearly.
    Yearly,
    /// Spot.
    Spot,
    /// Reserved one year.
    Reserved12,
    /// Reserved three years.
    Reserved36,
}

impl PriceSlot {
    /// Every slot, in headline preference order.
    pub const ALL: [PriceSlot; 6] = [
        PriceSlot::OnDemand,
        PriceSlot::Monthly,
        PriceSlot::Yearly,
        PriceSlot::Spot,
        PriceSlot::Reserved12,
        PriceSlot::Reserved36,
    ];

    /// The slot of a billing mode, if it has one.
    pub fn of(mode: BillingMode) -> Option<PriceSlot> {
        Some(match mode {
            BillingMode::OnDemand => PriceSlot::OnDemand,
            BillingMode::Monthly => PriceSlot::Monthly,
            BillingMode::Yearly => PriceSlot::Yearly,
            BillingMode::Spot => PriceSlot::Spot,
            BillingMode::Reserved { term_months: 12 } => PriceSlot::Reserved12,
            BillingMode::Reserved { term_months: 36 } => PriceSlot::Reserved36,
            BillingMode::Reserved { .. } => return None,
        })
    }

    fn field_name(self) -> &'static str {
        match self {
            PriceSlot::OnDemand => "price_on_demand",
            PriceSlot::Monthly => "price_monthly",
            PriceSlot::Yearly => "price_yearly",
            PriceSlot::Spot => "price_spot",
            PriceSlot::Reserved12 => "price_reserved_12m",
            PriceSlot::Reserved36 => "price_reserved_36m",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The index's fields.
#[derive(Debug, Clone)]
pub struct Fields {
    /// Listing id (raw, stored).
    pub id: Field,
    /// A number derived from the id: the tie-break of every order.
    pub id_key: Field,
    /// Chinese name, jieba words.
    pub name_zh: Field,
    /// Chinese description and region names, jieba words.
    pub body_zh: Field,
    /// English name, stemmed.
    pub name_en: Field,
    /// English description, region, service, SKU, stemmed.
    pub body_en: Field,
    /// Every Chinese character of every text.
    pub cjk: Field,
    /// Every pair of neighbouring Chinese characters of every text.
    pub cjk2: Field,
    /// Every Latin word, unstemmed.
    pub words: Field,
    /// Vendor id.
    pub vendor: Field,
    /// Category.
    pub category: Field,
    /// Category family (`compute`).
    pub family: Field,
    /// Service.
    pub service: Field,
    /// Region code.
    pub region: Field,
    /// Country.
    pub country: Field,
    /// City id.
    pub city: Field,
    /// Billing modes priced (text forms).
    pub billing_mode: Field,
    /// Architecture.
    pub architecture: Field,
    /// OS.
    pub os: Field,
    /// GPU model as given.
    pub gpu_model: Field,
    /// GPU model words, lowercase (`nvidia`, `a100`).
    pub gpu_words: Field,
    /// Currency of the prices.
    pub currency: Field,
    /// vCPUs.
    pub vcpu: Field,
    /// Memory, thousandths of a GiB.
    pub memory: Field,
    /// Storage, thousandths of a GiB.
    pub storage: Field,
    /// GPU count.
    pub gpu_count: Field,
    /// Price per slot.
    pub prices: [Field; 6],
    /// The headline price (first slot priced).
    pub headline: Field,
    /// The stored summary (JSON).
    pub summary: Field,
}

impl Fields {
    /// Builds the schema and its fields.
    pub fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        let text = |tokenizer: &str| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(tokenizer)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
        };
        let exact = STRING | FAST;
        let number = NumericOptions::default().set_indexed().set_fast();
        let prices = PriceSlot::ALL.map(|slot| b.add_i64_field(slot.field_name(), number.clone()));
        let fields = Fields {
            id: b.add_text_field("id", STRING | STORED),
            id_key: b.add_u64_field("id_key", FAST),
            name_zh: b.add_text_field("name_zh", text(tokenizer::CHINESE)),
            body_zh: b.add_text_field("body_zh", text(tokenizer::CHINESE)),
            name_en: b.add_text_field("name_en", text(tokenizer::ENGLISH)),
            body_en: b.add_text_field("body_en", text(tokenizer::ENGLISH)),
            cjk: b.add_text_field("cjk", text(tokenizer::CJK_CHARS)),
            cjk2: b.add_text_field("cjk2", text(tokenizer::CJK_BIGRAMS)),
            words: b.add_text_field("words", text(tokenizer::WORDS)),
            vendor: b.add_text_field("vendor", exact.clone()),
            category: b.add_text_field("category", exact.clone()),
            family: b.add_text_field("family", exact.clone()),
            service: b.add_text_field("service", exact.clone()),
            region: b.add_text_field("region", exact.clone()),
            country: b.add_text_field("country", exact.clone()),
            city: b.add_text_field("city", exact.clone()),
            billing_mode: b.add_text_field("billing_mode", exact.clone()),
            architecture: b.add_text_field("architecture", exact.clone()),
            os: b.add_text_field("os", exact.clone()),
            gpu_model: b.add_text_field("gpu_model", exact.clone()),
            gpu_words: b.add_text_field("gpu_words", STRING),
            currency: b.add_text_field("currency", exact),
            vcpu: b.add_u64_field("vcpu", number.clone()),
            memory: b.add_u64_field("memory", number.clone()),
            storage: b.add_u64_field("storage", number.clone()),
            gpu_count: b.add_u64_field("gpu_count", number.clone()),
            prices,
            headline: b.add_i64_field("price_headline", number),
            summary: b.add_text_field("summary", STORED),
        };
        (b.build(), fields)
    }

    /// The price field of `slot`.
    pub fn price(&self, slot: PriceSlot) -> Field {
        self.prices[slot.index()]
    }
}

/// The name of a price field (for fast-field reads).
pub fn price_field_name(slot: Option<PriceSlot>) -> &'static str {
    slot.map_or("price_headline", PriceSlot::field_name)
}

/// An amount as an integer of 10⁻¹⁰ units, rounded half away from zero
/// past the tenth place; `None` when it does not fit.
pub fn scaled_price(amount: Decimal) -> Option<i64> {
    let scaled = amount.checked_mul(Decimal::from(10_000_000_000_i64))?;
    scaled.round().to_i64()
}

/// A quantity in GiB as thousandths.
pub fn scaled_gib(gib: Decimal) -> Option<u64> {
    gib.checked_mul(Decimal::from(1000))?.round().to_u64()
}

/// The number derived from a listing id for tie-breaks: its first 16 hex
/// digits when it has them, else a hash of the text.
pub fn id_key(id: &ListingId) -> u64 {
    let text = id.as_str();
    let hex: String = text
        .rsplit(['_', '-', ':'])
        .next()
        .unwrap_or(text)
        .chars()
        .take(16)
        .collect();
    if hex.len() == 16
        && let Ok(value) = u64::from_str_radix(&hex, 16)
    {
        return value;
    }
    // FNV-1a: stable across runs and builds, unlike the std hasher.
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One price as a hit shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryPrice {
    /// The billing mode.
    pub billing_mode: BillingMode,
    /// What the amount buys.
    pub unit: PriceUnit,
    /// The amount (the first tier's for a tiered price).
    pub amount: Decimal,
    /// The currency.
    pub currency: Currency,
}

/// What the index stores of a listing: enough for a hit and its highlights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The id.
    pub id: ListingId,
    /// The vendor.
    pub vendor: VendorRef,
    /// The SKU.
    pub vendor_sku: String,
    /// Category.
    pub category: String,
    /// Service.
    pub service: String,
    /// Name.
    pub name: LocalizedText,
    /// Description.
    pub description: LocalizedText,
    /// Region code.
    pub region: String,
    /// Region names.
    pub region_name: LocalizedText,
    /// City.
    pub city: Option<String>,
    /// Country.
    pub country: String,
    /// Specs.
    pub specs: Specs,
    /// The first price of each billing mode, in the listing's order.
    pub prices: Vec<SummaryPrice>,
}

impl Summary {
    /// The price of `mode`, or the headline price when `mode` is `None`.
    pub fn price(&self, mode: Option<BillingMode>) -> Option<&SummaryPrice> {
        match mode {
            Some(mode) => self.prices.iter().find(|p| p.billing_mode == mode),
            None => PriceSlot::ALL.iter().find_map(|slot| {
                self.prices
                    .iter()
                    .find(|p| PriceSlot::of(p.billing_mode) == Some(*slot))
            }),
        }
        .or_else(|| {
            if mode.is_none() {
                self.prices.first()
            } else {
                None
            }
        })
    }
}

fn architecture_text(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
        Architecture::Power => "power",
    }
}

/// What buyers call each kind of offer, in both languages: indexed with
/// the name (so `云服务器` ranks virtual machines first, whatever their
/// display name says), never shown.
fn category_words(category: &str) -> (&'static str, &'static str) {
    match category {
        "compute.vm" => ("云服务器 虚拟机 实例", "virtual machine vm instance server"),
        "compute.gpu" => ("GPU 云服务器 GPU 实例 显卡", "gpu instance server"),
        "compute.bare_metal" => ("裸金属 服务器", "bare metal server"),
        "database.relational" => ("云数据库 关系型数据库", "relational database"),
        "database.cache" => ("缓存 数据库", "cache in-memory database"),
        "database.nosql" => ("NoSQL 数据库 文档数据库", "nosql document database"),
        "storage.object" => ("对象存储", "object storage"),
        "storage.block" => ("云硬盘 块存储 云盘", "block storage disk volume"),
        "storage.file" => ("文件存储", "file storage"),
        "network.bandwidth" => ("带宽 流量", "bandwidth traffic"),
        "network.cdn" => ("内容分发 CDN", "cdn content delivery"),
        "network.load_balancer" => ("负载均衡", "load balancer"),
        "network.ip" => ("弹性公网 IP", "elastic ip address"),
        "security.ddos" => ("DDoS 高防", "ddos protection"),
        "security.firewall" => ("防火墙", "firewall"),
        "middleware.queue" => ("消息队列", "message queue"),
        _ => ("", ""),
    }
}

fn push_text(target: &mut String, text: &str) {
    if !text.is_empty() {
        if !target.is_empty() {
            target.push('\n');
        }
        target.push_str(text);
    }
}

/// The document of a listing, and its summary.
pub fn document(fields: &Fields, listing: &Listing) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    let summary = summary_of(listing);
    let region = listing.region();
    let specs = listing.specs();
    doc.add_text(fields.id, listing.id().as_str());
    doc.add_u64(fields.id_key, id_key(listing.id()));

    let name = listing.name();
    let description = listing.description();
    let mut zh_body = String::new();
    let mut en_body = String::new();
    if let Some(text) = &description.zh {
        push_text(&mut zh_body, text);
    }
    if let Some(text) = &description.en {
        push_text(&mut en_body, text);
    }
    // Region names and aliases are matched as words too (a place the
    // understanding did not take as a filter still finds its listings).
    push_text(&mut zh_body, &region.search_text());
    for text in [
        listing.service(),
        listing.vendor_sku(),
        listing.category().as_str(),
    ] {
        push_text(&mut en_body, text);
    }
    for tag in listing.tags() {
        push_text(&mut en_body, tag);
    }
    let (kind_zh, kind_en) = category_words(listing.category().as_str());
    doc.add_text(fields.name_zh, kind_zh);
    doc.add_text(fields.cjk, kind_zh);
    doc.add_text(fields.cjk2, kind_zh);
    doc.add_text(fields.name_en, kind_en);
    doc.add_text(fields.words, kind_en);
    if let Some(text) = &name.zh {
        doc.add_text(fields.name_zh, text);
        doc.add_text(fields.cjk, text);
        doc.add_text(fields.cjk2, text);
        doc.add_text(fields.words, text);
    }
    if let Some(text) = &name.en {
        doc.add_text(fields.name_en, text);
        doc.add_text(fields.words, text);
    }
    doc.add_text(fields.body_zh, &zh_body);
    doc.add_text(fields.cjk, &zh_body);
    doc.add_text(fields.cjk2, &zh_body);
    doc.add_text(fields.body_en, &en_body);
    doc.add_text(fields.words, &zh_body);
    doc.add_text(fields.words, &en_body);

    doc.add_text(fields.vendor, listing.vendor().id());
    doc.add_text(fields.category, listing.category().as_str());
    doc.add_text(fields.family, listing.category().family());
    doc.add_text(fields.service, listing.service());
    doc.add_text(fields.region, &region.code);
    doc.add_text(fields.country, &region.geography.country);
    if let Some(city) = &region.geography.city {
        doc.add_text(fields.city, city);
    }
    if let Some(arch) = specs.architecture {
        doc.add_text(fields.architecture, architecture_text(arch));
    }
    if let Some(os) = &specs.os {
        doc.add_text(fields.os, os.to_lowercase());
    }
    if let Some(model) = &specs.gpu_model {
        doc.add_text(fields.gpu_model, model);
        for word in model.split(|c: char| !c.is_alphanumeric()) {
            if !word.is_empty() {
                doc.add_text(fields.gpu_words, word.to_lowercase());
            }
        }
    }
    if let Some(vcpu) = specs.vcpu {
        doc.add_u64(fields.vcpu, u64::from(vcpu));
    }
    if let Some(memory) = specs.memory_gib.and_then(scaled_gib) {
        doc.add_u64(fields.memory, memory);
    }
    if let Some(storage) = specs.storage_gib.and_then(scaled_gib) {
        doc.add_u64(fields.storage, storage);
    }
    if let Some(count) = specs.gpu_count {
        doc.add_u64(fields.gpu_count, u64::from(count));
    }

    let mut modes_seen: Vec<BillingMode> = Vec::new();
    for price in &summary.prices {
        if !modes_seen.contains(&price.billing_mode) {
            modes_seen.push(price.billing_mode);
            doc.add_text(fields.billing_mode, price.billing_mode.as_text());
        }
        if let (Some(slot), Some(scaled)) = (
            PriceSlot::of(price.billing_mode),
            scaled_price(price.amount),
        ) {
            doc.add_i64(fields.price(slot), scaled);
        }
    }
    if let Some(headline) = summary.price(None)
        && let Some(scaled) = scaled_price(headline.amount)
    {
        doc.add_i64(fields.headline, scaled);
    }
    // A listing's prices share one currency in practice; the first one's
    // is the listing's.
    if let Some(first) = summary.prices.first() {
        doc.add_text(fields.currency, first.currency.code());
    }
    if let Ok(json) = serde_json::to_string(&summary) {
        doc.add_text(fields.summary, json);
    }
    doc
}

/// The summary of a listing: the first price of each billing mode, in the
/// listing's currency (prices in another currency are left out).
pub fn summary_of(listing: &Listing) -> Summary {
    let region = listing.region();
    let mut prices: Vec<SummaryPrice> = Vec::new();
    let currency = listing.prices().first().map(|p| p.amount().currency());
    for price in listing.prices() {
        let amount = price
            .tiers()
            .first()
            .map_or(price.amount(), |tier| tier.amount());
        if Some(amount.currency()) != currency
            || prices
                .iter()
                .any(|p| p.billing_mode == price.billing_mode())
        {
            continue;
        }
        // The list price only: the platform's cost is neither indexed
        // nor stored, so no hit can show it.
        prices.push(SummaryPrice {
            billing_mode: price.billing_mode(),
            unit: price.unit(),
            amount: amount.amount(),
            currency: amount.currency(),
        });
    }
    Summary {
        id: listing.id().clone(),
        vendor: listing.vendor().clone(),
        vendor_sku: listing.vendor_sku().to_owned(),
        category: listing.category().as_str().to_owned(),
        service: listing.service().to_owned(),
        name: listing.name().clone(),
        description: listing.description().clone(),
        region: region.code.clone(),
        region_name: region.name.clone(),
        city: region.geography.city.clone(),
        country: region.geography.country.clone(),
        specs: listing.specs().clone(),
        prices,
    }
}

/// The id field as a term.
pub fn id_term(fields: &Fields, id: &ListingId) -> tantivy::Term {
    tantivy::Term::from_field_text(fields.id, id.as_str())
}
