//! What a caller asks the index and what it answers: the crate's own query
//! and hit types. Tantivy's never leave the crate.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_core::fx::AppliedRate;
use shiyun_core::listing::{BillingMode, ListingId, LocalizedText, PriceUnit, Specs, VendorRef};
use shiyun_core::money::Currency;

/// An inclusive range; either end may be open.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range<T> {
    /// Lowest value kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<T>,
    /// Highest value kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<T>,
}

impl<T: PartialOrd + Copy> Range<T> {
    /// Exactly `value`.
    pub fn exactly(value: T) -> Self {
        Range {
            min: Some(value),
            max: Some(value),
        }
    }

    /// At least `value`.
    pub fn at_least(value: T) -> Self {
        Range {
            min: Some(value),
            max: None,
        }
    }

    /// True when neither end is set.
    pub fn is_open(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }

    /// Whether `value` is in the range.
    pub fn contains(&self, value: T) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }

    /// The range both this and `other` allow (the tighter ends).
    pub fn intersect(self, other: Range<T>) -> Range<T> {
        let pick = |a: Option<T>, b: Option<T>, want_greater: bool| match (a, b) {
            (Some(a), Some(b)) => Some(if (a > b) == want_greater { a } else { b }),
            (a, b) => a.or(b),
        };
        Range {
            min: pick(self.min, other.min, true),
            max: pick(self.max, other.max, false),
        }
    }
}

/// Structured filters. Within one list any value matches (OR); the
/// fields combine with AND. Empty lists and open ranges filter nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Vendors, built-in (`aws`) or partner (`p-acme`).
    pub vendors: Vec<VendorRef>,
    /// Categories (`compute.vm`), or a family prefix with `.*` (`database.*`).
    pub categories: Vec<String>,
    /// Vendor services (`ec2`, `ecs`).
    pub services: Vec<String>,
    /// Region codes (`cn-shanghai`), of any vendor.
    pub regions: Vec<String>,
    /// Countries (`cn`, `us`).
    pub countries: Vec<String>,
    /// City ids of the geography table (`shanghai`).
    pub cities: Vec<String>,
    /// Billing modes a listing must have a price in.
    pub billing_modes: Vec<BillingMode>,
    /// Architectures (`x86_64`, `arm64`).
    pub architectures: Vec<String>,
    /// Operating systems (`linux`, `windows`).
    pub os: Vec<String>,
    /// GPU models, matched by word (`a100` finds `NVIDIA A100`).
    pub gpu_models: Vec<String>,
    /// vCPUs.
    pub vcpu: Range<u32>,
    /// Memory in GiB, exact.
    pub memory_gib: Range<Decimal>,
    /// Number of GPUs.
    pub gpu_count: Range<u32>,
    /// Price in the request's currency (see [`SearchRequest::currency`]),
    /// in the request's billing mode, exact.
    pub price: Range<Decimal>,
}

/// A field whose values can be counted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacetField {
    /// Vendor id.
    Vendor,
    /// Category.
    Category,
    /// Vendor service.
    Service,
    /// Region code.
    Region,
    /// Country.
    Country,
    /// City id.
    City,
    /// Billing modes priced.
    BillingMode,
    /// Architecture.
    Architecture,
    /// Operating system.
    Os,
    /// vCPUs.
    Vcpu,
    /// Memory (GiB).
    MemoryGib,
    /// GPU model.
    GpuModel,
    /// GPU count.
    GpuCount,
}

impl FacetField {
    /// Every facet field.
    pub const ALL: [FacetField; 13] = [
        FacetField::Vendor,
        FacetField::Category,
        FacetField::Service,
        FacetField::Region,
        FacetField::Country,
        FacetField::City,
        FacetField::BillingMode,
        FacetField::Architecture,
        FacetField::Os,
        FacetField::Vcpu,
        FacetField::MemoryGib,
        FacetField::GpuModel,
        FacetField::GpuCount,
    ];

    /// The name in requests and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            FacetField::Vendor => "vendor",
            FacetField::Category => "category",
            FacetField::Service => "service",
            FacetField::Region => "region",
            FacetField::Country => "country",
            FacetField::City => "city",
            FacetField::BillingMode => "billing_mode",
            FacetField::Architecture => "architecture",
            FacetField::Os => "os",
            FacetField::Vcpu => "vcpu",
            FacetField::MemoryGib => "memory_gib",
            FacetField::GpuModel => "gpu_model",
            FacetField::GpuCount => "gpu_count",
        }
    }

    /// Parses the name.
    pub fn parse(name: &str) -> Option<FacetField> {
        FacetField::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Result order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best match first (popular listings first among equals).
    #[default]
    Relevance,
    /// Cheapest first, in the request's currency and billing mode.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// Most vCPUs first.
    VcpuDesc,
    /// Fewest vCPUs first.
    VcpuAsc,
    /// Most memory first.
    MemoryDesc,
    /// Least memory first.
    MemoryAsc,
}

impl SortOrder {
    /// The name in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Relevance => "relevance",
            SortOrder::PriceAsc => "price_asc",
            SortOrder::PriceDesc => "price_desc",
            SortOrder::VcpuDesc => "vcpu_desc",
            SortOrder::VcpuAsc => "vcpu_asc",
            SortOrder::MemoryDesc => "memory_desc",
            SortOrder::MemoryAsc => "memory_asc",
        }
    }

    /// Parses the name.
    pub fn parse(name: &str) -> Option<SortOrder> {
        [
            SortOrder::Relevance,
            SortOrder::PriceAsc,
            SortOrder::PriceDesc,
            SortOrder::VcpuDesc,
            SortOrder::VcpuAsc,
            SortOrder::MemoryDesc,
            SortOrder::MemoryAsc,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// Free text in any mix of Chinese and English; may hold specs
    /// (`4核8G 上海 按量`), which become filters when `understand` is set.
    pub text: String,
    /// Filters besides those understood from the text.
    pub filters: Filters,
    /// Fields to count values of.
    pub facets: Vec<FacetField>,
    /// Whether to count matches per price band.
    pub histogram: bool,
    /// Order.
    pub sort: SortOrder,
    /// Currency of price filters, sorting, the histogram and each hit's
    /// converted price; `None` leaves each listing's own currency (price
    /// sort and filters then need one).
    pub currency: Option<Currency>,
    /// The billing mode whose price is matched, sorted and shown; `None`
    /// takes each listing's headline price (on demand, else monthly, else
    /// yearly, else any).
    pub billing_mode: Option<BillingMode>,
    /// Turn specs and places in the text into filters.
    pub understand: bool,
    /// Where the previous page ended ([`SearchResponse::next_cursor`]).
    pub cursor: Option<String>,
    /// Hits per page, 1 to [`SearchRequest::MAX_LIMIT`].
    pub limit: u32,
}

impl SearchRequest {
    /// Largest page.
    pub const MAX_LIMIT: u32 = 100;
    /// Longest text, in characters.
    pub const MAX_TEXT_CHARS: usize = 256;

    /// A relevance search for `text` with understanding on and 20 hits.
    pub fn text(text: impl Into<String>) -> Self {
        SearchRequest {
            text: text.into(),
            filters: Filters::default(),
            facets: Vec::new(),
            histogram: false,
            sort: SortOrder::Relevance,
            currency: None,
            billing_mode: None,
            understand: true,
            cursor: None,
            limit: 20,
        }
    }
}

/// What the text was understood to ask for: one chip the storefront can
/// show and the buyer can remove.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chip {
    /// The filter.
    #[serde(flatten)]
    pub filter: ChipFilter,
    /// The words of the query it came from, as typed.
    pub source: String,
    /// Byte offsets of `source` in the query text.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// What to show, in both languages (`4 核`, `上海`).
    pub label: LocalizedText,
}

/// A filter understood from the query text.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum ChipFilter {
    /// This many vCPUs.
    Vcpu {
        /// The range.
        range: Range<u32>,
    },
    /// This much memory (GiB).
    MemoryGib {
        /// The range.
        #[cfg_attr(feature = "openapi", schema(value_type = Range<crate::openapi::DecimalString>))]
        range: Range<Decimal>,
    },
    /// A GPU model word (`a100`), lowercase.
    GpuModel {
        /// The word.
        value: String,
    },
    /// This many GPUs (`GPU` alone is at least 1).
    GpuCount {
        /// The range.
        range: Range<u32>,
    },
    /// A city of the geography table.
    City {
        /// City id (`shanghai`).
        value: String,
    },
    /// Regions named by a region alias (`华东`, `us-east`), by code.
    Regions {
        /// Region codes.
        values: Vec<String>,
    },
    /// A country (`cn`).
    Country {
        /// Country code.
        value: String,
    },
    /// Billing modes (`包年包月` is monthly or yearly).
    BillingModes {
        /// The modes.
        values: Vec<BillingMode>,
    },
}

/// What [`crate::understand()`] made of a query text.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Understood {
    /// The chips, in the order their words appear.
    pub chips: Vec<Chip>,
    /// The text left to match as words, with the chips' words taken out.
    pub text: String,
}

/// A price as a hit shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitPrice {
    /// The billing mode.
    pub billing_mode: BillingMode,
    /// What one amount buys.
    pub unit: PriceUnit,
    /// The listing's own amount, exact.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    pub amount: Decimal,
    /// The listing's currency.
    pub currency: Currency,
    /// In the requested currency, exact (amount × rate), when one was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted: Option<ConvertedPrice>,
}

/// An amount in the requested currency.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertedPrice {
    /// Exact product of the amount and the rate.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    pub amount: Decimal,
    /// The requested currency.
    pub currency: Currency,
}

/// A highlighted part of a hit's text.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Highlight {
    /// Which text (`name.zh`, `name.en`, `description.zh`, `description.en`, `region`).
    pub field: String,
    /// The text.
    pub text: String,
    /// Byte ranges of `text` that matched, in order, not overlapping.
    pub ranges: Vec<(usize, usize)>,
}

/// One result: a listing summary with the price matched.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The listing.
    pub id: ListingId,
    /// Its vendor.
    pub vendor: VendorRef,
    /// The vendor's SKU.
    pub vendor_sku: String,
    /// Category.
    pub category: String,
    /// Vendor service.
    pub service: String,
    /// Name.
    pub name: LocalizedText,
    /// Region code.
    pub region: String,
    /// Region name.
    pub region_name: LocalizedText,
    /// City id, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Country.
    pub country: String,
    /// Specs.
    pub specs: Specs,
    /// The price of the requested (or headline) billing mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<HitPrice>,
    /// Relevance score (higher is better); 0 when not sorted by relevance.
    pub score: f32,
    /// Matched words, highlighted.
    pub highlights: Vec<Highlight>,
}

/// One value of a facet and how many matches have it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    /// The value.
    pub value: String,
    /// Matches with it, exact.
    pub count: u64,
}

/// A price band and how many matches are priced in it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistogramBucket {
    /// Lowest price (inclusive).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    pub from: Decimal,
    /// Highest price (exclusive); `None` for the last band.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>))]
    pub to: Option<Decimal>,
    /// Matches priced in the band.
    pub count: u64,
}

/// The price histogram, in the requested (or the one) currency.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Currency of the bands.
    pub currency: Currency,
    /// The bands, cheapest first; empty bands left out.
    pub buckets: Vec<HistogramBucket>,
}

/// The answer to a [`SearchRequest`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// The hits of this page.
    pub hits: Vec<Hit>,
    /// Matches in all, exact.
    pub total: u64,
    /// Facet counts by field, values by count then value.
    pub facets: BTreeMap<String, Vec<FacetCount>>,
    /// The histogram, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    /// What the text was understood to ask for.
    pub understood: Understood,
    /// The rates used to convert prices.
    pub fx_rates: Vec<AppliedRate>,
    /// Pass as `cursor` for the next page; `None` on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The change-feed sequence the index had applied when it answered.
    pub index_seq: u64,
}
