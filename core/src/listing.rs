//! The unified listing model: one cloud offer from any vendor, with its specs,
//! prices and provenance.
//!
//! [`ListingData`] is the plain, public shape (what JSON and the store carry);
//! [`Listing`] is the same data after validation and can only be obtained
//! through [`Listing::builder`] or `Listing::try_from(ListingData)`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ValidationError;
use crate::money::Money;

/// The cloud vendors Shiyun connects to. The lowercase ids are used everywhere
/// (URLs, settings, ids, the change feed).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Amazon Web Services.
    Aws,
    /// Microsoft Azure.
    Azure,
    /// Google Cloud.
    Gcp,
    /// Alibaba Cloud (阿里云).
    Alibaba,
    /// Tencent Cloud (腾讯云).
    Tencent,
    /// IBM Cloud.
    Ibm,
    /// China Telecom Cloud (天翼云).
    Ctyun,
    /// Kingsoft Cloud (金山云).
    Kingsoft,
    /// UCloud (优刻得).
    Ucloud,
}

impl Vendor {
    /// Every vendor, in a stable order.
    pub const ALL: [Vendor; 9] = [
        Vendor::Aws,
        Vendor::Azure,
        Vendor::Gcp,
        Vendor::Alibaba,
        Vendor::Tencent,
        Vendor::Ibm,
        Vendor::Ctyun,
        Vendor::Kingsoft,
        Vendor::Ucloud,
    ];

    /// The stable lowercase id (`aws`, `alibaba`, …).
    pub fn id(self) -> &'static str {
        match self {
            Vendor::Aws => "aws",
            Vendor::Azure => "azure",
            Vendor::Gcp => "gcp",
            Vendor::Alibaba => "alibaba",
            Vendor::Tencent => "tencent",
            Vendor::Ibm => "ibm",
            Vendor::Ctyun => "ctyun",
            Vendor::Kingsoft => "kingsoft",
            Vendor::Ucloud => "ucloud",
        }
    }

    /// Display name in English.
    pub fn name_en(self) -> &'static str {
        match self {
            Vendor::Aws => "Amazon Web Services",
            Vendor::Azure => "Microsoft Azure",
            Vendor::Gcp => "Google Cloud",
            Vendor::Alibaba => "Alibaba Cloud",
            Vendor::Tencent => "Tencent Cloud",
            Vendor::Ibm => "IBM Cloud",
            Vendor::Ctyun => "China Telecom Cloud",
            Vendor::Kingsoft => "Kingsoft Cloud",
            Vendor::Ucloud => "UCloud",
        }
    }

    /// Display name in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            Vendor::Aws => "亚马逊云科技",
            Vendor::Azure => "微软 Azure",
            Vendor::Gcp => "谷歌云",
            Vendor::Alibaba => "阿里云",
            Vendor::Tencent => "腾讯云",
            Vendor::Ibm => "IBM 云",
            Vendor::Ctyun => "天翼云",
            Vendor::Kingsoft => "金山云",
            Vendor::Ucloud => "优刻得",
        }
    }

    /// Parses a vendor id.
    pub fn parse(id: &str) -> Result<Self, ValidationError> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.id() == id)
            .ok_or_else(|| ValidationError::new("vendor", format!("unknown vendor `{id}`")))
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Vendor {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::parse(s)
    }
}

/// A listing's stable id: `<vendor>_<20 hex digits>`, derived from the vendor
/// and vendor SKU so every sync of the same offer lands on the same row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ListingId(String);

impl ListingId {
    const HASH_HEX: usize = 20;

    /// The id of `vendor_sku` at `vendor`.
    pub fn derive(vendor: Vendor, vendor_sku: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(vendor.id().as_bytes());
        hasher.update([0u8]);
        hasher.update(vendor_sku.as_bytes());
        let digest = hasher.finalize();
        // Only the first bytes are kept; encoding the rest would be wasted work.
        let short = hex::encode(&digest[..Self::HASH_HEX / 2]);
        ListingId(format!("{}_{short}", vendor.id()))
    }

    /// Parses an id received from outside.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new("id", format!("`{text}` is not a listing id"));
        let (vendor, hash) = text.split_once('_').ok_or_else(invalid)?;
        Vendor::parse(vendor).map_err(|_| invalid())?;
        if hash.len() != Self::HASH_HEX
            || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid());
        }
        Ok(ListingId(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ListingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ListingId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ListingId::parse(&value)
    }
}

impl From<ListingId> for String {
    fn from(id: ListingId) -> Self {
        id.0
    }
}

/// The resource families of the taxonomy. A category is `<family>.<kind>`.
const FAMILIES: &[&str] = &[
    "compute",
    "database",
    "storage",
    "network",
    "security",
    "middleware",
    "saas",
    "industry",
];

/// The fixed taxonomy. Other `<family>.<kind>` values in a known family are
/// accepted, so the taxonomy can be extended without a release of this crate.
pub const KNOWN_CATEGORIES: &[&str] = &[
    "compute.vm",
    "compute.gpu",
    "compute.bare_metal",
    "database.relational",
    "database.cache",
    "database.nosql",
    "storage.object",
    "storage.block",
    "storage.file",
    "network.bandwidth",
    "network.cdn",
    "network.load_balancer",
    "network.ip",
    "security.ddos",
    "security.firewall",
    "middleware.queue",
];

/// A category of the taxonomy (`compute.vm`, `saas.crm`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    /// Parses `<family>.<kind>`: lowercase ASCII, digits and `_`, in a known family.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let invalid = |why: &str| ValidationError::new("category", format!("`{text}` {why}"));
        let (family, kind) = text
            .split_once('.')
            .ok_or_else(|| invalid("is not `<family>.<kind>`"))?;
        if !FAMILIES.contains(&family) {
            return Err(invalid("is not in a known family"));
        }
        let valid_kind = !kind.is_empty()
            && kind.len() <= 48
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_kind {
            return Err(invalid("has an invalid kind"));
        }
        Ok(Category(text.to_owned()))
    }

    /// The category as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The family (`compute` of `compute.vm`).
    pub fn family(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Category {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Category::parse(&value)
    }
}

impl From<Category> for String {
    fn from(c: Category) -> Self {
        c.0
    }
}

/// Where a region is: lowercase ISO 3166 country code (or `global`) and a city slug.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Geography {
    /// `cn`, `us`, `de`, … or `global`.
    pub country: String,
    /// `shanghai`, `virginia`, … when the vendor says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

impl fmt::Display for Geography {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.city {
            Some(city) => write!(f, "{}/{}", self.country, city),
            None => f.write_str(&self.country),
        }
    }
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A vendor region and its normalised geography.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Region {
    /// The vendor's own code (`cn-hangzhou`, `us-east-1`, `westeurope`).
    pub code: String,
    /// Normalised geography.
    pub geography: Geography,
}

impl Region {
    /// A region, validating the code and geography.
    pub fn new(code: &str, country: &str, city: Option<&str>) -> Result<Self, ValidationError> {
        let region = Region {
            code: code.to_owned(),
            geography: Geography {
                country: country.to_owned(),
                city: city.map(str::to_owned),
            },
        };
        region.validate()?;
        Ok(region)
    }

    fn validate(&self) -> Result<(), ValidationError> {
        if self.code.trim().is_empty() || self.code.len() > 64 {
            return Err(ValidationError::new(
                "region.code",
                "must be 1 to 64 characters",
            ));
        }
        let country_ok = self.geography.country == "global"
            || (self.geography.country.len() == 2
                && self
                    .geography
                    .country
                    .bytes()
                    .all(|b| b.is_ascii_lowercase()));
        if !country_ok {
            return Err(ValidationError::new(
                "region.geography.country",
                format!(
                    "`{}` is not a lowercase ISO 3166 code or `global`",
                    self.geography.country
                ),
            ));
        }
        if let Some(city) = &self.geography.city
            && !is_slug(city)
        {
            return Err(ValidationError::new(
                "region.geography.city",
                format!("`{city}` is not a lowercase slug"),
            ));
        }
        Ok(())
    }
}

/// A text in English and Chinese, either of which may be unknown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LocalizedText {
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
    /// Chinese (简体中文).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
}

impl LocalizedText {
    /// True when neither language is known.
    pub fn is_empty(&self) -> bool {
        self.en.is_none() && self.zh.is_none()
    }
}

/// CPU architecture.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// x86-64 (Intel, AMD, Hygon).
    X86_64,
    /// 64-bit ARM (Graviton, Yitian, Kunpeng).
    Arm64,
    /// IBM POWER.
    Power,
}

/// Technical specs; every field is optional because not every resource has it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Specs {
    /// Virtual CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    /// Memory in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>))]
    pub memory_gib: Option<Decimal>,
    /// Number of GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u32>,
    /// GPU model (`NVIDIA A100`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_model: Option<String>,
    /// Included or provisioned storage in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>))]
    pub storage_gib: Option<Decimal>,
    /// Bandwidth in Mbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>))]
    pub bandwidth_mbps: Option<Decimal>,
    /// CPU architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// Operating system or licence (`linux`, `windows`, `rhel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
}

/// How a price is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BillingMode {
    /// Pay as you go (按量付费).
    OnDemand,
    /// Monthly subscription (包月).
    Monthly,
    /// Yearly subscription (包年).
    Yearly,
    /// A reserved or committed term of this many months.
    Reserved {
        /// Term length in months (12, 36, …).
        term_months: u16,
    },
    /// Spot or preemptible capacity.
    Spot,
}

impl BillingMode {
    /// The text form: `on_demand`, `monthly`, `yearly`, `spot`, `reserved_12m`.
    pub fn as_text(&self) -> String {
        match self {
            BillingMode::OnDemand => "on_demand".into(),
            BillingMode::Monthly => "monthly".into(),
            BillingMode::Yearly => "yearly".into(),
            BillingMode::Spot => "spot".into(),
            BillingMode::Reserved { term_months } => format!("reserved_{term_months}m"),
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let mode = match text {
            "on_demand" => BillingMode::OnDemand,
            "monthly" => BillingMode::Monthly,
            "yearly" => BillingMode::Yearly,
            "spot" => BillingMode::Spot,
            other => {
                let months = other
                    .strip_prefix("reserved_")
                    .and_then(|rest| rest.strip_suffix('m'))
                    .and_then(|n| n.parse::<u16>().ok())
                    .filter(|n| *n > 0);
                match months {
                    Some(term_months) => BillingMode::Reserved { term_months },
                    None => {
                        return Err(ValidationError::new(
                            "billing_mode",
                            format!("unknown billing mode `{text}`"),
                        ));
                    }
                }
            }
        };
        Ok(mode)
    }
}

impl fmt::Display for BillingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

impl Serialize for BillingMode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_text())
    }
}

impl<'de> Deserialize<'de> for BillingMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BillingMode::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What one price amount buys.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceUnit {
    /// One hour of the resource.
    Hour,
    /// One day.
    Day,
    /// One month.
    Month,
    /// One year.
    Year,
    /// The whole term of a reservation (paid once for the term).
    Term,
    /// One GB stored for an hour.
    GbHour,
    /// One GB stored for a month.
    GbMonth,
    /// One GB transferred or processed.
    Gb,
    /// One request or API call.
    Request,
    /// One provisioned IOPS for a month.
    IopsMonth,
    /// One Mbit/s of bandwidth for an hour.
    MbpsHour,
    /// One Mbit/s of bandwidth for a month.
    MbpsMonth,
    /// One unit of a one-off quantity (a licence, a fee).
    Unit,
}

/// One band of a tiered price: `amount` per unit for usage in `[from, to)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PriceTier {
    /// Lower bound of usage, inclusive.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    pub from: Decimal,
    /// Upper bound of usage, exclusive; `None` is unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>))]
    pub to: Option<Decimal>,
    /// Price per unit in this band.
    pub amount: Money,
}

/// One price of a listing: a billing mode, a unit and an amount, with tiers
/// when the price depends on volume.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PriceComponent {
    /// Which part of the resource is priced (`instance`, `bandwidth`, `system_disk`); `None` for the whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// How it is paid.
    pub billing_mode: BillingMode,
    /// What one amount buys.
    pub unit: PriceUnit,
    /// The price per unit (the first tier's when tiered).
    pub amount: Money,
    /// Volume tiers, ascending and contiguous; empty for a flat price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<PriceTier>,
}

impl PriceComponent {
    /// A flat price.
    pub fn flat(
        billing_mode: BillingMode,
        unit: PriceUnit,
        amount: Money,
    ) -> Result<Self, ValidationError> {
        let component = PriceComponent {
            component: None,
            billing_mode,
            unit,
            amount,
            tiers: Vec::new(),
        };
        component.validate()?;
        Ok(component)
    }

    /// A tiered price; the component amount is the first tier's.
    pub fn tiered(
        billing_mode: BillingMode,
        unit: PriceUnit,
        tiers: Vec<PriceTier>,
    ) -> Result<Self, ValidationError> {
        let first = tiers.first().ok_or_else(|| {
            ValidationError::new("tiers", "a tiered price needs at least one tier")
        })?;
        let component = PriceComponent {
            component: None,
            billing_mode,
            unit,
            amount: first.amount,
            tiers,
        };
        component.validate()?;
        Ok(component)
    }

    /// The same price, naming the part of the resource it is for.
    pub fn for_component(mut self, component: impl Into<String>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// The price per unit.
    pub fn amount(&self) -> Money {
        self.amount
    }

    fn validate(&self) -> Result<(), ValidationError> {
        if self.amount.is_negative() {
            return Err(ValidationError::new("amount", "must not be negative"));
        }
        let mut expected_from: Option<Decimal> = None;
        for (i, tier) in self.tiers.iter().enumerate() {
            let at = |e: ValidationError| e.within(&format!("tiers[{i}]"));
            if tier.amount.is_negative() {
                return Err(at(ValidationError::new("amount", "must not be negative")));
            }
            if tier.amount.currency() != self.amount.currency() {
                return Err(at(ValidationError::new(
                    "amount",
                    "tier currency differs from the price's",
                )));
            }
            if tier.from.is_sign_negative() && !tier.from.is_zero() {
                return Err(at(ValidationError::new("from", "must not be negative")));
            }
            if let Some(to) = tier.to
                && to <= tier.from
            {
                return Err(at(ValidationError::new("to", "must be above `from`")));
            }
            if let Some(expected) = expected_from
                && tier.from < expected
            {
                return Err(at(ValidationError::new("from", "tiers overlap")));
            }
            if i + 1 < self.tiers.len() && tier.to.is_none() {
                return Err(at(ValidationError::new(
                    "to",
                    "only the last tier may be unbounded",
                )));
            }
            expected_from = tier.to;
        }
        if let Some(c) = &self.component
            && (c.is_empty() || c.len() > 64)
        {
            return Err(ValidationError::new(
                "component",
                "must be 1 to 64 characters",
            ));
        }
        Ok(())
    }
}

/// Whether a listing can be bought.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    /// On sale.
    #[default]
    Active,
    /// No longer offered by the vendor; kept, never deleted.
    Retired,
}

impl ListingStatus {
    /// Text form.
    pub fn as_str(self) -> &'static str {
        match self {
            ListingStatus::Active => "active",
            ListingStatus::Retired => "retired",
        }
    }
}

/// Where a listing came from: enough to trace it back to the vendor's raw offer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Provenance {
    /// When the offer was fetched.
    pub fetched_at: DateTime<Utc>,
    /// The vendor API that returned it (`aws.pricing.GetProducts`).
    pub vendor_api: String,
    /// SHA-256 (hex) of the raw offer's bytes.
    pub raw_hash: String,
}

impl Provenance {
    /// Provenance of `raw` bytes returned by `vendor_api`.
    pub fn from_raw(vendor_api: impl Into<String>, raw: &[u8], fetched_at: DateTime<Utc>) -> Self {
        Provenance {
            fetched_at,
            vendor_api: vendor_api.into(),
            raw_hash: hex::encode(Sha256::digest(raw)),
        }
    }
}

/// The plain shape of a listing, as JSON and the store carry it. Convert it
/// with `Listing::try_from` to get a validated [`Listing`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingData {
    /// Stable id derived from vendor and SKU.
    pub id: ListingId,
    /// The vendor.
    pub vendor: Vendor,
    /// The vendor's key for the offer, unique within the vendor.
    pub vendor_sku: String,
    /// Category of the taxonomy.
    pub category: Category,
    /// The vendor's service (`ec2`, `ecs`, `cvm`, …).
    pub service: String,
    /// Display name.
    pub name: LocalizedText,
    /// Longer description.
    #[serde(default)]
    pub description: LocalizedText,
    /// Region and geography.
    pub region: Region,
    /// Technical specs.
    #[serde(default)]
    pub specs: Specs,
    /// Prices.
    #[serde(default)]
    pub prices: Vec<PriceComponent>,
    /// Free-form tags, sorted.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub tags: BTreeSet<String>,
    /// Active or retired.
    #[serde(default)]
    pub status: ListingStatus,
    /// Where it came from.
    pub provenance: Provenance,
}

/// A validated listing. Read it through its accessors; change it by going
/// back to [`ListingData`] with [`Listing::into_data`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ListingData", into = "ListingData")]
pub struct Listing(ListingData);

impl Listing {
    /// Starts a listing of `vendor_sku` at `vendor`.
    pub fn builder(vendor: Vendor, vendor_sku: impl Into<String>) -> ListingBuilder {
        ListingBuilder::new(vendor, vendor_sku.into())
    }

    /// The id.
    pub fn id(&self) -> &ListingId {
        &self.0.id
    }
    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.0.vendor
    }
    /// The vendor's SKU.
    pub fn vendor_sku(&self) -> &str {
        &self.0.vendor_sku
    }
    /// The category.
    pub fn category(&self) -> &Category {
        &self.0.category
    }
    /// The vendor service.
    pub fn service(&self) -> &str {
        &self.0.service
    }
    /// The display name.
    pub fn name(&self) -> &LocalizedText {
        &self.0.name
    }
    /// The description.
    pub fn description(&self) -> &LocalizedText {
        &self.0.description
    }
    /// The region.
    pub fn region(&self) -> &Region {
        &self.0.region
    }
    /// The specs.
    pub fn specs(&self) -> &Specs {
        &self.0.specs
    }
    /// The prices.
    pub fn prices(&self) -> &[PriceComponent] {
        &self.0.prices
    }
    /// The tags.
    pub fn tags(&self) -> &BTreeSet<String> {
        &self.0.tags
    }
    /// The status.
    pub fn status(&self) -> ListingStatus {
        self.0.status
    }
    /// The provenance.
    pub fn provenance(&self) -> &Provenance {
        &self.0.provenance
    }
    /// The plain data.
    pub fn data(&self) -> &ListingData {
        &self.0
    }
    /// Gives the plain data back, to change it and validate again.
    pub fn into_data(self) -> ListingData {
        self.0
    }

    /// The same listing with another status.
    pub fn with_status(mut self, status: ListingStatus) -> Self {
        self.0.status = status;
        self
    }

    /// SHA-256 (hex) of everything a customer sees: all but status and
    /// provenance. Two syncs of an unchanged offer give the same fingerprint.
    ///
    /// The prices enter as their SHA-256 digest (the one behind
    /// [`Listing::price_fingerprint`]) rather than as JSON, so a change of
    /// prices still changes this fingerprint.
    pub fn content_fingerprint(&self) -> String {
        let d = &self.0;
        hash_json(&ContentView {
            vendor: d.vendor,
            vendor_sku: &d.vendor_sku,
            category: &d.category,
            service: &d.service,
            name: &d.name,
            description: &d.description,
            region: &d.region,
            specs: &d.specs,
            prices: hex::encode(self.price_digest()),
            tags: &d.tags,
        })
    }

    /// SHA-256 (hex) of the prices alone: a change here writes price history.
    pub fn price_fingerprint(&self) -> String {
        hex::encode(self.price_digest())
    }

    /// SHA-256 of the prices' JSON.
    fn price_digest(&self) -> [u8; 32] {
        digest_json(&self.0.prices)
    }
}

/// The customer-visible part of a listing, borrowed for hashing; the prices
/// are represented by their digest (hex).
#[derive(Serialize)]
struct ContentView<'a> {
    vendor: Vendor,
    vendor_sku: &'a str,
    category: &'a Category,
    service: &'a str,
    name: &'a LocalizedText,
    description: &'a LocalizedText,
    region: &'a Region,
    specs: &'a Specs,
    prices: String,
    tags: &'a BTreeSet<String>,
}

/// Feeds serialised JSON straight into the hash, without building a string:
/// the store fingerprints every listing of every sync.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn digest_json(value: &impl Serialize) -> [u8; 32] {
    let mut writer = HashWriter(Sha256::new());
    // Serialising plain data into a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut writer, value);
    writer.0.finalize().into()
}

fn hash_json(value: &impl Serialize) -> String {
    hex::encode(digest_json(value))
}

fn check_text(field: &str, text: &str, max: usize) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl TryFrom<ListingData> for Listing {
    type Error = ValidationError;

    fn try_from(data: ListingData) -> Result<Self, Self::Error> {
        check_text("vendor_sku", &data.vendor_sku, 256)?;
        if data.id != ListingId::derive(data.vendor, &data.vendor_sku) {
            return Err(ValidationError::new(
                "id",
                "does not match vendor and vendor_sku",
            ));
        }
        check_text("service", &data.service, 64)?;
        if data.name.is_empty() {
            return Err(ValidationError::new(
                "name",
                "needs an English or a Chinese name",
            ));
        }
        for (field, text) in [("name.en", &data.name.en), ("name.zh", &data.name.zh)] {
            if let Some(text) = text {
                check_text(field, text, 256)?;
            }
        }
        for (field, text) in [
            ("description.en", &data.description.en),
            ("description.zh", &data.description.zh),
        ] {
            if let Some(text) = text
                && text.chars().count() > 4096
            {
                return Err(ValidationError::new(
                    field,
                    "must be at most 4096 characters",
                ));
            }
        }
        data.region.validate()?;
        for (field, value) in [
            ("specs.memory_gib", data.specs.memory_gib),
            ("specs.storage_gib", data.specs.storage_gib),
            ("specs.bandwidth_mbps", data.specs.bandwidth_mbps),
        ] {
            if let Some(v) = value
                && v.is_sign_negative()
                && !v.is_zero()
            {
                return Err(ValidationError::new(field, "must not be negative"));
            }
        }
        for (i, price) in data.prices.iter().enumerate() {
            price
                .validate()
                .map_err(|e| e.within(&format!("prices[{i}]")))?;
        }
        for tag in &data.tags {
            check_text("tags", tag, 64)?;
        }
        check_text("provenance.vendor_api", &data.provenance.vendor_api, 128)?;
        Ok(Listing(data))
    }
}

impl From<Listing> for ListingData {
    fn from(listing: Listing) -> Self {
        listing.0
    }
}

/// Builds a [`Listing`]; [`ListingBuilder::build`] validates.
#[derive(Debug, Clone)]
pub struct ListingBuilder {
    data: ListingData,
    category: Option<Category>,
    region: Option<Region>,
}

impl ListingBuilder {
    fn new(vendor: Vendor, vendor_sku: String) -> Self {
        ListingBuilder {
            data: ListingData {
                id: ListingId::derive(vendor, &vendor_sku),
                vendor,
                vendor_sku,
                // Placeholders; `build` insists on the real values.
                category: Category("compute.vm".into()),
                service: String::new(),
                name: LocalizedText::default(),
                description: LocalizedText::default(),
                region: Region {
                    code: String::new(),
                    geography: Geography {
                        country: "global".into(),
                        city: None,
                    },
                },
                specs: Specs::default(),
                prices: Vec::new(),
                tags: BTreeSet::new(),
                status: ListingStatus::Active,
                provenance: Provenance {
                    fetched_at: Utc::now(),
                    vendor_api: "manual".into(),
                    raw_hash: String::new(),
                },
            },
            category: None,
            region: None,
        }
    }

    /// Sets the category.
    pub fn category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }
    /// Sets the vendor service.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.data.service = service.into();
        self
    }
    /// Sets the English name.
    pub fn name_en(mut self, name: impl Into<String>) -> Self {
        self.data.name.en = Some(name.into());
        self
    }
    /// Sets the Chinese name.
    pub fn name_zh(mut self, name: impl Into<String>) -> Self {
        self.data.name.zh = Some(name.into());
        self
    }
    /// Sets the English description.
    pub fn description_en(mut self, text: impl Into<String>) -> Self {
        self.data.description.en = Some(text.into());
        self
    }
    /// Sets the Chinese description.
    pub fn description_zh(mut self, text: impl Into<String>) -> Self {
        self.data.description.zh = Some(text.into());
        self
    }
    /// Sets the region.
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }
    /// Sets the specs.
    pub fn specs(mut self, specs: Specs) -> Self {
        self.data.specs = specs;
        self
    }
    /// Adds a price.
    pub fn price(mut self, price: PriceComponent) -> Self {
        self.data.prices.push(price);
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.data.tags.insert(tag.into());
        self
    }
    /// Sets the status.
    pub fn status(mut self, status: ListingStatus) -> Self {
        self.data.status = status;
        self
    }
    /// Sets the provenance.
    pub fn provenance(mut self, provenance: Provenance) -> Self {
        self.data.provenance = provenance;
        self
    }

    /// Validates and returns the listing.
    pub fn build(mut self) -> Result<Listing, ValidationError> {
        self.data.category = self
            .category
            .ok_or_else(|| ValidationError::new("category", "is required"))?;
        self.data.region = self
            .region
            .ok_or_else(|| ValidationError::new("region", "is required"))?;
        Listing::try_from(self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use rust_decimal_macros::dec;

    fn sample() -> ListingBuilder {
        Listing::builder(Vendor::Aws, "JRTCKXETXF.us-east-1")
            .category(Category::parse("compute.vm").unwrap())
            .service("ec2")
            .name_en("m5.large Linux")
            .region(Region::new("us-east-1", "us", Some("virginia")).unwrap())
            .price(
                PriceComponent::flat(
                    BillingMode::OnDemand,
                    PriceUnit::Hour,
                    Money::new(dec!(0.096), Currency::USD),
                )
                .unwrap(),
            )
    }

    #[test]
    fn a_valid_listing_builds_and_round_trips_through_json() {
        let listing = sample().build().unwrap();
        assert!(listing.id().as_str().starts_with("aws_"));
        assert_eq!(
            ListingId::parse(listing.id().as_str()).unwrap(),
            *listing.id()
        );
        let json = serde_json::to_string(&listing).unwrap();
        let back: Listing = serde_json::from_str(&json).unwrap();
        assert_eq!(back, listing);
        assert_eq!(back.region().geography.to_string(), "us/virginia");
    }

    #[test]
    fn constructors_reject_invalid_values() {
        let no_sku = Listing::builder(Vendor::Aws, "  ")
            .category(Category::parse("compute.vm").unwrap())
            .service("ec2")
            .name_en("x")
            .region(Region::new("us-east-1", "us", None).unwrap())
            .build()
            .unwrap_err();
        assert_eq!(no_sku.field_name(), "vendor_sku");

        let negative = PriceComponent::flat(
            BillingMode::OnDemand,
            PriceUnit::Hour,
            Money::new(dec!(-1), Currency::USD),
        )
        .unwrap_err();
        assert_eq!(negative.field_name(), "amount");

        assert!(Category::parse("compute").is_err());
        assert!(Category::parse("weather.vm").is_err());
        assert!(Category::parse("saas.crm").is_ok());
        assert!(Region::new("x", "China", None).is_err());
        assert!(ListingId::parse("aws_123").is_err());
        assert!(ListingId::parse("nope_0123456789abcdef0123").is_err());
        let no_name = Listing::builder(Vendor::Aws, "sku")
            .category(Category::parse("compute.vm").unwrap())
            .service("ec2")
            .region(Region::new("us-east-1", "us", None).unwrap())
            .build()
            .unwrap_err();
        assert_eq!(no_name.field_name(), "name");
    }

    #[test]
    fn tampered_json_is_rejected() {
        let listing = sample().build().unwrap();
        let mut value = serde_json::to_value(&listing).unwrap();
        value["prices"][0]["amount"]["amount"] = serde_json::json!("-0.5");
        let err = serde_json::from_value::<Listing>(value).unwrap_err();
        assert!(err.to_string().contains("prices[0].amount"), "{err}");
    }

    #[test]
    fn tiers_must_ascend_without_gaps_in_currency() {
        let usd = |a| Money::new(a, Currency::USD);
        let ok = PriceComponent::tiered(
            BillingMode::OnDemand,
            PriceUnit::GbMonth,
            vec![
                PriceTier {
                    from: dec!(0),
                    to: Some(dec!(50)),
                    amount: usd(dec!(0.023)),
                },
                PriceTier {
                    from: dec!(50),
                    to: None,
                    amount: usd(dec!(0.022)),
                },
            ],
        );
        assert!(ok.is_ok());
        let unbounded_middle = PriceComponent::tiered(
            BillingMode::OnDemand,
            PriceUnit::GbMonth,
            vec![
                PriceTier {
                    from: dec!(0),
                    to: None,
                    amount: usd(dec!(0.023)),
                },
                PriceTier {
                    from: dec!(50),
                    to: None,
                    amount: usd(dec!(0.022)),
                },
            ],
        );
        assert!(unbounded_middle.is_err());
        let mixed = PriceComponent::tiered(
            BillingMode::OnDemand,
            PriceUnit::GbMonth,
            vec![
                PriceTier {
                    from: dec!(0),
                    to: Some(dec!(5)),
                    amount: usd(dec!(1)),
                },
                PriceTier {
                    from: dec!(5),
                    to: None,
                    amount: Money::new(dec!(1), Currency::CNY),
                },
            ],
        );
        assert!(mixed.is_err());
    }

    #[test]
    fn billing_modes_have_a_stable_text_form() {
        for mode in [
            BillingMode::OnDemand,
            BillingMode::Monthly,
            BillingMode::Yearly,
            BillingMode::Spot,
            BillingMode::Reserved { term_months: 36 },
        ] {
            assert_eq!(BillingMode::parse(&mode.as_text()).unwrap(), mode);
        }
        assert_eq!(
            BillingMode::Reserved { term_months: 12 }.as_text(),
            "reserved_12m"
        );
        assert!(BillingMode::parse("reserved_0m").is_err());
        assert!(BillingMode::parse("weekly").is_err());
    }

    #[test]
    fn fingerprint_ignores_provenance_but_not_prices() {
        let a = sample().build().unwrap();
        let later = sample()
            .provenance(Provenance::from_raw(
                "aws.pricing.GetProducts",
                b"{}",
                Utc::now(),
            ))
            .build()
            .unwrap();
        assert_eq!(a.content_fingerprint(), later.content_fingerprint());
        let mut data = a.clone().into_data();
        data.prices[0].amount = Money::new(dec!(0.097), Currency::USD);
        let repriced = Listing::try_from(data).unwrap();
        assert_ne!(a.content_fingerprint(), repriced.content_fingerprint());
        assert_ne!(a.price_fingerprint(), repriced.price_fingerprint());
    }
}
