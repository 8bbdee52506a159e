//! Pieces every `transformers.rs` needs when it turns a vendor record into a
//! [`Listing`]: flat prices, categories, the region of a code, the listing's
//! text, and a page that takes each record's outcome. Vendor-specific rules
//! (billing codes, minor units, family names) stay with the vendor; regions
//! and zones are placed by `shiyun_core::geography`, and names and
//! descriptions are worded by `shiyun_core::listing::text`.

use rust_decimal::Decimal;
use shiyun_core::geography::{self, Placement};
/// Vendors' own names are spaced with core's rule before they are shown.
pub use shiyun_core::listing::text::unglue;
use shiyun_core::listing::text::{self, Database, Instance, Offer, Product};
use shiyun_core::listing::{
    BillingMode, Category, Listing, ListingBuilder, ListingText, PriceComponent, PriceTier,
    PriceUnit, Provenance, Region, Specs, Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::RecordRejection;

use crate::FetchedPage;

/// One flat price of `amount` in `currency`; the reason as text when core
/// refuses it (the record becomes a rejection).
pub fn flat_price(
    mode: BillingMode,
    unit: PriceUnit,
    amount: Decimal,
    currency: Currency,
) -> Result<PriceComponent, String> {
    PriceComponent::flat(mode, unit, Money::new(amount, currency)).map_err(|e| e.to_string())
}

/// One price from volume tiers given by where each starts and its amount:
/// sorted, each tier ends where the next starts and the last is unbounded. A
/// single tier from zero is a flat price. The reason as text when core
/// refuses it.
pub fn price_from_tier_starts(
    mode: BillingMode,
    unit: PriceUnit,
    mut starts: Vec<(Decimal, Money)>,
) -> Result<PriceComponent, String> {
    starts.sort_by_key(|(from, _)| *from);
    if let [(from, amount)] = starts.as_slice()
        && from.is_zero()
    {
        return PriceComponent::flat(mode, unit, *amount).map_err(|e| e.to_string());
    }
    let ends = starts
        .iter()
        .skip(1)
        .map(|(from, _)| Some(*from))
        .chain(std::iter::once(None));
    let tiers = starts
        .iter()
        .zip(ends)
        .enumerate()
        .map(|(i, ((from, amount), to))| {
            PriceTier::new(*from, to, *amount).map_err(|e| e.within(&format!("tiers[{i}]")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    PriceComponent::tiered(mode, unit, tiers).map_err(|e| e.to_string())
}

/// A category by its dotted name (`compute.vm`), the reason as text when unknown.
pub fn parse_category(name: &str) -> Result<Category, String> {
    Category::parse(name).map_err(|e| e.to_string())
}

/// `total / count` when it is an exact decimal: the price of one of `count`
/// units quoted together. `None` for a zero count or an inexact quotient.
pub fn exact_div(total: Decimal, count: u64) -> Option<Decimal> {
    let divisor = i128::from(count);
    if divisor == 0 {
        return None;
    }
    let (mut scaled, scale) = (total.mantissa(), total.scale());
    // Try total × 10^k for the fewest extra decimals k that divide evenly.
    for extra in 0..=28u32.checked_sub(scale)? {
        if scaled % divisor == 0 {
            return Decimal::try_from_i128_with_scale(scaled / divisor, scale + extra).ok();
        }
        scaled = scaled.checked_mul(10)?;
    }
    None
}

/// The region of `code` at `vendor`: the geography table's, with its names
/// (test regions too: the page drops their offers, see
/// `FetchedPage::place_regions`). A code the table does not know is still
/// stored, under its own code, in the country its prefix gives by the
/// vendor's `countries` (`("cn-", "cn")`), else `global`; the page notes it.
pub fn region_or_code(
    vendor: Vendor,
    code: &str,
    countries: &[(&str, &str)],
) -> Result<Region, String> {
    if let Some(region) = geography::region_of(vendor, code) {
        return Ok(region);
    }
    // A part of the code that names a city of the table (`ap-wuhan`) gives its country.
    let by_city = || {
        code.split(['-', '_'])
            .find_map(geography::city)
            .map(|city| city.country)
    };
    let country = countries
        .iter()
        .find(|(prefix, _)| code.starts_with(prefix))
        .map(|(_, country)| *country)
        .or_else(by_city)
        .unwrap_or("global");
    Region::new(code, country, None).map_err(|e| e.to_string())
}

/// The leading letters of an instance family (`g` of `g6`, `SA` of `SA2`),
/// which the vendors' family tables are keyed by.
pub fn family_letters(family: &str) -> &str {
    let end = family
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(family.len());
    &family[..end]
}

/// True for a code that can name a region: not `global`, no spaces.
fn is_region_code(code: &str) -> bool {
    code != "global" && !code.contains(char::is_whitespace)
}

/// What a listing is, in the facts its category family's text function takes.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A compute instance: the vendor's type and its family's names.
    Instance {
        /// `ecs.g6.large`, `m5.large`.
        instance_type: &'a str,
        /// `通用型 g6`.
        family_zh: &'a str,
        /// `General Purpose g6`.
        family_en: &'a str,
    },
    /// Any other product (database, disk, bandwidth, firewall): its names.
    Product {
        /// `云硬盘 SSD`.
        zh: &'a str,
        /// `SSD cloud disk`.
        en: &'a str,
    },
}

/// A listing's name and description, from the one text function of its
/// category's family in `shiyun_core::listing::text`: the vendor, what it
/// is, its size and GPUs, the region's names (city included) and the
/// `billing` modes.
pub fn listing_text(
    vendor: Vendor,
    category: &Category,
    region: &Region,
    specs: &Specs,
    billing: &[BillingMode],
    subject: Subject<'_>,
) -> ListingText {
    let offer = Offer {
        vendor,
        region,
        billing,
    };
    match subject {
        Subject::Instance {
            instance_type,
            family_zh,
            family_en,
        } => text::compute_text(
            &offer,
            category,
            &Instance {
                instance_type,
                family_zh,
                family_en,
                specs,
            },
        ),
        Subject::Product { zh, en } => {
            let product = Product {
                product_zh: zh,
                product_en: en,
                specs,
            };
            match category.family() {
                "database" => text::database_text(
                    &offer,
                    category,
                    &Database {
                        product_zh: zh,
                        product_en: en,
                        specs,
                    },
                ),
                "storage" => text::storage_text(&offer, category, &product),
                "network" => text::network_text(&offer, category, &product),
                "security" => text::security_text(&offer, category, &product),
                "middleware" => text::middleware_text(&offer, category, &product),
                _ => text::service_text(&offer, category, &product),
            }
        }
    }
}

/// The billing modes of `prices`, each once, in order.
pub fn billing_modes(prices: &[PriceComponent]) -> Vec<BillingMode> {
    let mut modes: Vec<BillingMode> = Vec::new();
    for mode in prices.iter().map(PriceComponent::billing_mode) {
        if !modes.contains(&mode) {
            modes.push(mode);
        }
    }
    modes
}

/// A listing's facts before its text; [`Draft::builder`] words the name and
/// description with [`listing_text`] and fills a builder from them.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// The category, whose family picks the text function.
    pub category: Category,
    /// The vendor service (`ecs`, `cvm`).
    pub service: &'a str,
    /// The region, from [`region_or_code`] or the vendor's own placement.
    pub region: Region,
    /// The specs.
    pub specs: Specs,
    /// The prices (their billing modes go in the description).
    pub prices: Vec<PriceComponent>,
}

impl Draft<'_> {
    /// A builder of `vendor`'s `sku` with every fact of the draft and the
    /// text that `subject` and the facts make.
    pub fn builder(
        self,
        vendor: Vendor,
        sku: impl Into<String>,
        provenance: Provenance,
        subject: Subject<'_>,
    ) -> ListingBuilder {
        let text = listing_text(
            vendor,
            &self.category,
            &self.region,
            &self.specs,
            &billing_modes(&self.prices),
            subject,
        );
        self.prices
            .into_iter()
            .fold(Listing::builder(vendor, sku, provenance), |b, p| b.price(p))
            .category(self.category)
            .service(self.service)
            .text(text)
            .region(self.region)
            .specs(self.specs)
    }

    /// The listing of [`Draft::builder`], the reason as text when core refuses it.
    pub fn build(
        self,
        vendor: Vendor,
        sku: impl Into<String>,
        provenance: Provenance,
        subject: Subject<'_>,
    ) -> Result<Listing, String> {
        self.builder(vendor, sku, provenance, subject)
            .build()
            .map_err(|e| e.to_string())
    }
}

/// The length of a subscription quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Months.
    Month,
    /// Years.
    Year,
}

/// Billing mode, unit and SKU suffix of a subscription of `n` periods: one
/// month or year is monthly or yearly (`month`, `year`); several are a
/// reserved term paid as a whole (`month_<n>`, `year_<n>`).
pub fn subscription(period: Period, n: u16) -> Result<(BillingMode, PriceUnit, String), String> {
    let (word, months_each) = match period {
        Period::Month => ("month", 1u16),
        Period::Year => ("year", 12),
    };
    match n {
        0 => Err(format!("a subscription of 0 {word}s")),
        1 => Ok(match period {
            Period::Month => (BillingMode::Monthly, PriceUnit::Month, word.to_owned()),
            Period::Year => (BillingMode::Yearly, PriceUnit::Year, word.to_owned()),
        }),
        n => {
            let term_months = n
                .checked_mul(months_each)
                .ok_or_else(|| format!("{n} {word}s is too long a term"))?;
            Ok((
                BillingMode::Reserved { term_months },
                PriceUnit::Term,
                format!("{word}_{n}"),
            ))
        }
    }
}

impl FetchedPage {
    /// Adds one record's outcome: its listing, or a rejection under `vendor_key`.
    pub(crate) fn push_result(
        &mut self,
        vendor_key: impl Into<String>,
        result: Result<Listing, String>,
    ) {
        match result {
            Ok(listing) => self.listings.push(listing),
            Err(reason) => self.reject(vendor_key, reason),
        }
    }

    /// Adds the listings and rejections of `part` (one item's answer) to
    /// this page; `part`'s next token is not this page's.
    pub(crate) fn absorb(&mut self, part: FetchedPage) {
        self.listings.extend(part.listings);
        self.rejections.extend(part.rejections);
        for (code, count) in part.skipped {
            *self.skipped.entry(code).or_default() += count;
        }
        self.unknown_regions.extend(part.unknown_regions);
    }

    /// Drops the listings in a vendor's test region (counted in
    /// [`FetchedPage::skipped`], never stored) and notes the region codes
    /// the geography table does not know in [`FetchedPage::unknown_regions`]
    /// (their listings stay). Every page passes here before it is stored or
    /// printed; a second pass changes nothing.
    pub(crate) fn place_regions(&mut self, vendor: Vendor) {
        let skipped = &mut self.skipped;
        let unknown = &mut self.unknown_regions;
        self.listings.retain(
            |listing| match geography::place(vendor, &listing.region().code) {
                Placement::Test(_) => {
                    *skipped.entry(listing.region().code.clone()).or_default() += 1;
                    false
                }
                // `global` and Azure's `zone 1` name no region: nothing to add to the table.
                Placement::Unknown if is_region_code(&listing.region().code) => {
                    unknown.insert(listing.region().code.clone());
                    true
                }
                _ => true,
            },
        );
    }

    /// Adds a rejection of the record `vendor_key`.
    pub(crate) fn reject(&mut self, vendor_key: impl Into<String>, reason: impl Into<String>) {
        self.rejections.push(RecordRejection {
            vendor_key: vendor_key.into(),
            reason: reason.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn family_letters_stop_at_the_first_non_letter() {
        assert_eq!(family_letters("g6"), "g");
        assert_eq!(family_letters("SA2"), "SA");
        assert_eq!(family_letters("ebmgn7"), "ebmgn");
        assert_eq!(family_letters("x"), "x");
    }

    #[test]
    fn unknown_codes_keep_their_code_and_get_a_country_where_one_shows() {
        let by_prefix = region_or_code(Vendor::Alibaba, "cn-mars-1", &[("cn-", "cn")]).unwrap();
        assert_eq!(by_prefix.code, "cn-mars-1");
        assert_eq!(by_prefix.geography.country, "cn");
        assert!(by_prefix.name.is_empty());
        let by_city = region_or_code(Vendor::Tencent, "ap-wuhan", &[]).unwrap();
        assert_eq!(by_city.geography.country, "cn");
        let unplaced = region_or_code(Vendor::Tencent, "xx-nowhere", &[]).unwrap();
        assert_eq!(unplaced.geography.country, "global");
        let known = region_or_code(Vendor::Alibaba, "cn-hangzhou", &[]).unwrap();
        assert!(known.name.zh.unwrap().contains("杭州"));
    }

    #[test]
    fn exact_div_is_exact_or_nothing() {
        assert_eq!(exact_div(dec!(313.24), 2), Some(dec!(156.62)));
        assert_eq!(exact_div(dec!(1), 8), Some(dec!(0.125)));
        assert_eq!(exact_div(dec!(100), 3), None, "33.33… has no exact decimal");
        assert_eq!(exact_div(dec!(5), 0), None);
    }

    #[test]
    fn subscriptions_of_several_periods_are_terms() {
        assert_eq!(
            subscription(Period::Month, 1).unwrap(),
            (BillingMode::Monthly, PriceUnit::Month, "month".to_owned())
        );
        assert_eq!(
            subscription(Period::Year, 3).unwrap(),
            (
                BillingMode::Reserved { term_months: 36 },
                PriceUnit::Term,
                "year_3".to_owned()
            )
        );
        assert!(subscription(Period::Month, 0).is_err());
        assert!(
            subscription(Period::Year, 6000).is_err(),
            "72000 months overflows u16"
        );
    }

    #[test]
    fn tier_starts_chain_into_tiers_and_one_from_zero_is_flat() {
        let cny = |a| Money::new(a, Currency::CNY);
        let flat = price_from_tier_starts(
            BillingMode::OnDemand,
            PriceUnit::Gb,
            vec![(dec!(0), cny(dec!(0.5)))],
        )
        .unwrap();
        assert!(flat.tiers().is_empty());
        let tiered = price_from_tier_starts(
            BillingMode::OnDemand,
            PriceUnit::Gb,
            vec![(dec!(10), cny(dec!(0.4))), (dec!(0), cny(dec!(0.5)))],
        )
        .unwrap();
        assert_eq!(tiered.amount(), cny(dec!(0.5)));
        assert_eq!(tiered.tiers()[0].to(), Some(dec!(10)));
        assert_eq!(tiered.tiers()[1].from(), dec!(10));
        assert_eq!(tiered.tiers()[1].to(), None);
        let twice = price_from_tier_starts(
            BillingMode::OnDemand,
            PriceUnit::Gb,
            vec![(dec!(0), cny(dec!(0.5))), (dec!(0), cny(dec!(0.4)))],
        )
        .unwrap_err();
        assert!(twice.contains("tiers[0].to"), "{twice}");
        assert!(price_from_tier_starts(BillingMode::OnDemand, PriceUnit::Gb, vec![]).is_err());
    }

    #[test]
    fn records_become_listings_or_rejections() {
        let mut page = FetchedPage::default();
        page.push_result("a", Err("no price".into()));
        assert_eq!(page.rejections[0].vendor_key, "a");
        assert!(
            flat_price(
                BillingMode::OnDemand,
                PriceUnit::Hour,
                dec!(0.5),
                Currency::CNY
            )
            .is_ok()
        );
        assert!(parse_category("no.such.thing").is_err());
    }
}
