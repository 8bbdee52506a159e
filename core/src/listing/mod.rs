//! The unified listing model: one cloud offer from any vendor, with its specs,
//! prices and provenance.
//!
//! [`ListingData`] is the plain, public shape (what JSON and the store carry);
//! [`Listing`] is the same data after validation and can only be obtained
//! through [`Listing::builder`] or `Listing::try_from(ListingData)`. Prices
//! follow the same pattern one level down: [`PriceComponentData`] is plain,
//! [`PriceComponent`] is validated, also when read back from JSON.
//!
//! The module is split by concept: [`Vendor`], [`PartnerVendorId`] and the
//! [`VendorRef`] a listing names (`vendor`), identity and
//! taxonomy ([`ListingId`], [`Category`]), where an offer is ([`Region`],
//! [`Geography`]; the vendors' region tables are in [`crate::geography`]),
//! what it is ([`Specs`]), what it costs ([`PriceComponent`]), what it is
//! called ([`text`]: one function per category family builds the name and
//! description), the [`ListingBuilder`], and [`PartnerListingInput`]: what
//! a partner cloud sends, made into a listing with the parts the server
//! assigns (`partner`).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ValidationError;

mod builder;
mod identity;
mod partner;
mod pricing;
mod region;
mod specs;
pub mod text;
mod vendor;

pub use builder::ListingBuilder;
pub use identity::{CATEGORY_FAMILIES, Category, KNOWN_CATEGORIES, ListingId};
pub use partner::{PartnerListingInput, PartnerRegion};
pub use pricing::{
    BillingMode, PriceComponent, PriceComponentData, PriceSource, PriceTier, PriceTierData,
    PriceUnit,
};
pub use region::{Geography, Region};
pub use specs::{Architecture, Specs};
pub use text::ListingText;
pub use vendor::{PartnerVendorId, Vendor, VendorRef};

/// A text in English and Chinese, either of which may be unknown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// When the offer was fetched.
    pub fetched_at: DateTime<Utc>,
    /// The vendor API that returned it (`aws.pricing.GetProducts`); not
    /// blank, no control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub vendor_api: String,
    /// SHA-256 (hex) of the raw offer's bytes.
    pub raw_hash: String,
    /// The fields of the raw offer the prices were read from, where the
    /// vendor quotes more than one (a list price and the platform's price).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_sources: Vec<PriceSource>,
}

impl Provenance {
    /// Provenance of `raw` bytes returned by `vendor_api`.
    pub fn from_raw(vendor_api: impl Into<String>, raw: &[u8], fetched_at: DateTime<Utc>) -> Self {
        Provenance {
            fetched_at,
            vendor_api: vendor_api.into(),
            raw_hash: hex::encode(Sha256::digest(raw)),
            price_sources: Vec::new(),
        }
    }

    /// The same provenance, naming the fields one more price was read from.
    pub fn with_price_source(mut self, source: PriceSource) -> Self {
        self.price_sources.push(source);
        self
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
    /// The vendor: a built-in vendor id or a partner vendor id (`p-<slug>`).
    pub vendor: VendorRef,
    /// The vendor's key for the offer, unique within the vendor; not blank,
    /// no control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
    pub vendor_sku: String,
    /// Category of the taxonomy.
    pub category: Category,
    /// The vendor's service (`ec2`, `ecs`, `cvm`, …); not blank, no
    /// control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
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
    // Validated into `PriceComponent`s with the listing, so a bad price is
    // reported with its path (`prices[1].amount`).
    /// Prices.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<PriceComponent>))]
    pub prices: Vec<PriceComponentData>,
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
/// back to [`ListingData`] with [`Listing::into_data`]. Its JSON is that of
/// [`ListingData`], and reading it validates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ListingData")]
pub struct Listing {
    id: ListingId,
    vendor: VendorRef,
    vendor_sku: String,
    category: Category,
    service: String,
    name: LocalizedText,
    description: LocalizedText,
    region: Region,
    specs: Specs,
    prices: Vec<PriceComponent>,
    tags: BTreeSet<String>,
    status: ListingStatus,
    provenance: Provenance,
}

impl Listing {
    /// Starts a listing of `vendor_sku` at `vendor` (a built-in [`Vendor`]
    /// or a partner's [`PartnerVendorId`]), fetched as `provenance` says. The
    /// caller gives the time (in the provenance): a listing never reads the
    /// clock, so the same input builds the same listing.
    pub fn builder(
        vendor: impl Into<VendorRef>,
        vendor_sku: impl Into<String>,
        provenance: Provenance,
    ) -> ListingBuilder {
        ListingBuilder::new(vendor.into(), vendor_sku.into(), provenance)
    }

    /// The id.
    pub fn id(&self) -> &ListingId {
        &self.id
    }
    /// The vendor. It compares with a [`Vendor`] directly
    /// (`listing.vendor() == Vendor::Aws`).
    pub fn vendor(&self) -> &VendorRef {
        &self.vendor
    }
    /// The vendor's SKU.
    pub fn vendor_sku(&self) -> &str {
        &self.vendor_sku
    }
    /// The category.
    pub fn category(&self) -> &Category {
        &self.category
    }
    /// The vendor service.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// The display name.
    pub fn name(&self) -> &LocalizedText {
        &self.name
    }
    /// The description.
    pub fn description(&self) -> &LocalizedText {
        &self.description
    }
    /// The region.
    pub fn region(&self) -> &Region {
        &self.region
    }
    /// The specs.
    pub fn specs(&self) -> &Specs {
        &self.specs
    }
    /// The prices.
    pub fn prices(&self) -> &[PriceComponent] {
        &self.prices
    }
    /// The tags.
    pub fn tags(&self) -> &BTreeSet<String> {
        &self.tags
    }
    /// The status.
    pub fn status(&self) -> ListingStatus {
        self.status
    }
    /// The provenance.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }
    /// Gives the plain data back, to change it and validate again.
    pub fn into_data(self) -> ListingData {
        ListingData::from(self)
    }

    /// The same listing with another status.
    pub fn with_status(mut self, status: ListingStatus) -> Self {
        self.status = status;
        self
    }

    /// The listing as callers outside the platform see it: every price
    /// without the platform's cost, and the provenance without the cost's
    /// source field. Every response that shows a listing passes it
    /// through here; the store keeps the costs.
    pub fn without_costs(mut self) -> Self {
        self.prices = self
            .prices
            .into_iter()
            .map(PriceComponent::without_cost)
            .collect();
        for source in &mut self.provenance.price_sources {
            source.cost = None;
        }
        self
    }

    /// SHA-256 (hex) of all but status and provenance. Two syncs of an
    /// unchanged offer give the same fingerprint.
    ///
    /// The prices enter as their SHA-256 digest (the one behind
    /// [`Listing::price_fingerprint`]) rather than as JSON, so a change of
    /// prices still changes this fingerprint; so does a change of the
    /// platform's cost alone, which the store must then write.
    pub fn content_fingerprint(&self) -> String {
        let d = self;
        hash_json(&ContentView {
            vendor: &d.vendor,
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
        digest_json(&self.prices)
    }
}

/// What a sync compares of a listing, borrowed for hashing; the prices
/// are represented by their digest (hex).
#[derive(Serialize)]
struct ContentView<'a> {
    vendor: &'a VendorRef,
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

/// True when `text` has more than `max` characters. A character is at
/// least one byte, so only a text of more than `max` bytes is counted
/// (every listing is checked, and most texts are short).
pub(crate) fn longer_than(text: &str, max: usize) -> bool {
    text.len() > max && text.chars().count() > max
}

/// True when `text` has a control character (`char::is_control`: U+0000 to
/// U+001F and U+007F to U+009F), found in its UTF-8 bytes without decoding:
/// U+0080 to U+009F are the only ones of two bytes, `C2 80` to `C2 9F`. The
/// folds do not stop early, so they run over whole vectors of bytes (every
/// text of every listing is checked).
fn has_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    let one_byte = bytes
        .iter()
        .fold(false, |found, &b| found | (b < 0x20) | (b == 0x7f));
    // A byte after the lead byte C2 is a continuation byte, 80 to BF.
    let two_bytes = bytes
        .iter()
        .zip(bytes.iter().skip(1))
        .fold(false, |found, (&lead, &next)| {
            found | ((lead == 0xc2) & (next < 0xa0))
        });
    one_byte || two_bytes
}

/// Checks a text field: not blank, at most `max` characters, no control
/// characters.
pub(crate) fn check_text(field: &str, text: &str, max: usize) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if longer_than(text, max) {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if has_control(text) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl TryFrom<ListingData> for Listing {
    type Error = ValidationError;

    fn try_from(mut data: ListingData) -> Result<Self, Self::Error> {
        let prices = std::mem::take(&mut data.prices)
            .into_iter()
            .enumerate()
            .map(|(i, price)| {
                PriceComponent::try_from(price).map_err(|e| e.within(&format!("prices[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Listing::checked(data, prices)
    }
}

impl Listing {
    /// Validates everything but the prices, which are valid by type, and
    /// assembles the listing; `data.prices` is ignored.
    fn checked(data: ListingData, prices: Vec<PriceComponent>) -> Result<Self, ValidationError> {
        check_text("vendor_sku", &data.vendor_sku, 256)?;
        if data.id != ListingId::of(&data.vendor, &data.vendor_sku) {
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
                && longer_than(text, 4096)
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
        for tag in &data.tags {
            check_text("tags", tag, 64)?;
        }
        check_text("provenance.vendor_api", &data.provenance.vendor_api, 128)?;
        pricing::check_price_sources(&data.provenance.price_sources, &prices)
            .map_err(|e| e.within("provenance"))?;
        let ListingData {
            id,
            vendor,
            vendor_sku,
            category,
            service,
            name,
            description,
            region,
            specs,
            prices: _,
            tags,
            status,
            provenance,
        } = data;
        Ok(Listing {
            id,
            vendor,
            vendor_sku,
            category,
            service,
            name,
            description,
            region,
            specs,
            prices,
            tags,
            status,
            provenance,
        })
    }
}

impl From<Listing> for ListingData {
    fn from(listing: Listing) -> Self {
        ListingData {
            id: listing.id,
            vendor: listing.vendor,
            vendor_sku: listing.vendor_sku,
            category: listing.category,
            service: listing.service,
            name: listing.name,
            description: listing.description,
            region: listing.region,
            specs: listing.specs,
            prices: listing
                .prices
                .into_iter()
                .map(PriceComponentData::from)
                .collect(),
            tags: listing.tags,
            status: listing.status,
            provenance: listing.provenance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn fetched_at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, hour, 0, 0).unwrap()
    }

    fn provenance() -> Provenance {
        Provenance::from_raw("test.api", b"{}", fetched_at(0))
    }

    fn sample() -> ListingBuilder {
        Listing::builder(Vendor::Aws, "JRTCKXETXF.us-east-1", provenance())
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
        assert_eq!(
            json,
            serde_json::to_string(&listing.clone().into_data()).unwrap(),
            "a listing's JSON is its data's"
        );
        let back: Listing = serde_json::from_str(&json).unwrap();
        assert_eq!(back, listing);
        assert_eq!(back.region().geography.to_string(), "us/virginia");
    }

    #[test]
    fn the_builder_keeps_the_given_time_and_never_reads_the_clock() {
        let a = sample().build().unwrap();
        let b = sample().build().unwrap();
        assert_eq!(a.provenance().fetched_at, fetched_at(0));
        assert_eq!(a, b, "the same input builds the same listing");
    }

    #[test]
    fn constructors_reject_invalid_values() {
        let no_sku = Listing::builder(Vendor::Aws, "  ", provenance())
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
        let no_name = Listing::builder(Vendor::Aws, "sku", provenance())
            .category(Category::parse("compute.vm").unwrap())
            .service("ec2")
            .region(Region::new("us-east-1", "us", None).unwrap())
            .build()
            .unwrap_err();
        assert_eq!(no_name.field_name(), "name");
        let no_api = Listing::builder(
            Vendor::Aws,
            "sku",
            Provenance::from_raw(" ", b"", fetched_at(0)),
        )
        .category(Category::parse("compute.vm").unwrap())
        .service("ec2")
        .name_en("x")
        .region(Region::new("us-east-1", "us", None).unwrap())
        .build()
        .unwrap_err();
        assert_eq!(no_api.field_name(), "provenance.vendor_api");
    }

    #[test]
    fn text_checks_count_characters_and_find_every_control_character() {
        // 256 Chinese characters are 768 bytes and still fit a 256-character name.
        let long_zh = "云".repeat(256);
        assert!(check_text("name.zh", &long_zh, 256).is_ok());
        assert!(check_text("name.zh", &format!("{long_zh}云"), 256).is_err());
        assert!(check_text("name.en", &"a".repeat(257), 256).is_err());
        // The middle dot (C2 B7) is text; NEL (C2 85), tab and DEL are controls.
        assert!(check_text("name.en", "m5.large · 阿什本", 256).is_ok());
        for control in ["a\u{85}b", "a\tb", "a\u{7f}b", "\u{9f}", "a\u{0}"] {
            assert!(has_control(control), "{control:?}");
            assert!(check_text("name.en", control, 256).is_err(), "{control:?}");
        }
        for text in ["é", "\u{a0}", "\u{c2}\u{a0}", "云", "ÿ"] {
            assert_eq!(has_control(text), text.chars().any(char::is_control));
        }
    }

    #[test]
    fn tampered_json_is_rejected() {
        let listing = sample().build().unwrap();
        let mut value = serde_json::to_value(&listing).unwrap();
        value["prices"][0]["amount"]["amount"] = serde_json::json!("-0.5");
        let err = serde_json::from_value::<Listing>(value.clone()).unwrap_err();
        assert!(err.to_string().contains("prices[0].amount"), "{err}");
        // The plain shape reads, and converting it names the price.
        let data: ListingData = serde_json::from_value(value).unwrap();
        let err = Listing::try_from(data).unwrap_err();
        assert_eq!(err.field_name(), "prices[0].amount");
    }

    /// The sample with a trade price below its list price, sources named.
    fn costed() -> Listing {
        let price = PriceComponent::flat(
            BillingMode::Yearly,
            PriceUnit::Year,
            Money::new(dec!(4368), Currency::CNY),
        )
        .unwrap()
        .with_cost(Money::new(dec!(3712.8), Currency::CNY))
        .unwrap();
        let source = PriceSource::of(&price, "Price.OriginalPrice", Some("Price.TradePrice"));
        Listing::builder(
            Vendor::Alibaba,
            "ecs.g6.large@cn-hangzhou/year",
            provenance().with_price_source(source),
        )
        .category(Category::parse("compute.vm").unwrap())
        .service("ecs")
        .name_en("ecs.g6.large")
        .region(Region::new("cn-hangzhou", "cn", Some("hangzhou")).unwrap())
        .price(price)
        .build()
        .unwrap()
    }

    #[test]
    fn a_cost_and_its_source_round_trip_and_only_the_storefront_view_drops_them() {
        let listing = costed();
        let json = serde_json::to_value(&listing).unwrap();
        assert_eq!(json["prices"][0]["cost"]["amount"], "3712.8");
        assert_eq!(
            json["provenance"]["price_sources"][0],
            serde_json::json!({
                "billing_mode": "yearly",
                "list_price": "Price.OriginalPrice",
                "cost": "Price.TradePrice"
            })
        );
        let back: Listing = serde_json::from_value(json).unwrap();
        assert_eq!(back, listing, "the store's JSON keeps the cost");

        let shown = listing.clone().without_costs();
        assert_eq!(shown.prices()[0].amount(), listing.prices()[0].amount());
        assert_eq!(shown.prices()[0].cost(), None);
        let text = serde_json::to_string(&shown).unwrap();
        assert!(
            !text.contains("3712.8") && !text.contains("TradePrice"),
            "{text}"
        );
        assert!(!text.contains("\"cost\""), "{text}");
        assert_eq!(
            shown.provenance().price_sources[0].list_price,
            "Price.OriginalPrice"
        );

        // A cost change alone is a change the store must write.
        assert_ne!(listing.content_fingerprint(), shown.content_fingerprint());
        assert_ne!(listing.price_fingerprint(), shown.price_fingerprint());
        // Without costs, the JSON is what it was before costs existed.
        let plain = sample().build().unwrap();
        let text = serde_json::to_string(&plain).unwrap();
        assert!(
            !text.contains("cost") && !text.contains("price_sources"),
            "{text}"
        );
    }

    #[test]
    fn price_sources_are_checked_against_the_prices() {
        let mut data = costed().into_data();
        data.provenance.price_sources[0].billing_mode = BillingMode::Monthly;
        let err = Listing::try_from(data).unwrap_err();
        assert_eq!(err.field_name(), "provenance.price_sources[0]");

        let mut data = costed().into_data();
        data.prices[0].cost = None;
        let err = Listing::try_from(data).unwrap_err();
        assert_eq!(err.field_name(), "provenance.price_sources[0].cost");

        let mut data = costed().into_data();
        data.provenance.price_sources[0].list_price = "a\u{0}".into();
        let err = Listing::try_from(data).unwrap_err();
        assert_eq!(err.field_name(), "provenance.price_sources[0].list_price");

        let mut data = costed().into_data();
        data.prices[0].cost = Some(Money::new(dec!(1), Currency::USD));
        let err = Listing::try_from(data).unwrap_err();
        assert_eq!(err.field_name(), "prices[0].cost");
    }

    #[test]
    fn fingerprint_ignores_provenance_but_not_prices() {
        let a = sample().build().unwrap();
        let later = Listing::builder(
            Vendor::Aws,
            "JRTCKXETXF.us-east-1",
            Provenance::from_raw("aws.pricing.GetProducts", b"{}", fetched_at(5)),
        )
        .category(Category::parse("compute.vm").unwrap())
        .service("ec2")
        .name_en("m5.large Linux")
        .region(Region::new("us-east-1", "us", Some("virginia")).unwrap())
        .price(a.prices()[0].clone())
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
