//! Pieces every `transformers.rs` needs when it turns a vendor record into a
//! [`Listing`]: region tables, flat prices, categories, and a page that takes
//! each record's outcome. Vendor-specific rules (zone suffixes, billing
//! codes, minor units) stay with the vendor.

use rust_decimal::Decimal;
use shiyun_core::listing::{BillingMode, Category, Listing, PriceComponent, PriceUnit, Region};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::RecordRejection;

use crate::FetchedPage;

/// A vendor's region table: (region code, ISO 3166 country, city slug).
pub type RegionTable = [(&'static str, &'static str, &'static str)];

/// The region named by `code` in `table`; when `code` is not a region,
/// `zone_region` may strip it to the code of the region it is a zone of.
/// The returned [`Region`] keeps `code` itself (zone or region).
pub fn region_in(
    table: &RegionTable,
    code: &str,
    zone_region: impl Fn(&str) -> Option<&str>,
) -> Option<Region> {
    let find = |c: &str| table.iter().find(|(known, _, _)| *known == c);
    let (_, country, city) = find(code).or_else(|| find(zone_region(code)?))?;
    Region::new(code, country, Some(city)).ok()
}

/// The region part of a zone code numbered after a last `-`
/// (`ap-guangzhou-6` → `ap-guangzhou`, `cn-bj2-02` → `cn-bj2`).
pub fn numbered_zone_region(code: &str) -> Option<&str> {
    let (head, tail) = code.rsplit_once('-')?;
    (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then_some(head)
}

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

/// A category by its dotted name (`compute.vm`), the reason as text when unknown.
pub fn parse_category(name: &str) -> Result<Category, String> {
    Category::parse(name).map_err(|e| e.to_string())
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

    const TABLE: &RegionTable = &[("ap-guangzhou", "cn", "guangzhou")];

    #[test]
    fn zones_map_to_their_region_and_keep_their_code() {
        let region = region_in(TABLE, "ap-guangzhou-6", numbered_zone_region).unwrap();
        assert_eq!(region.code, "ap-guangzhou-6");
        assert!(region_in(TABLE, "ap-guangzhou", numbered_zone_region).is_some());
        assert!(region_in(TABLE, "ap-guangzhou-x", numbered_zone_region).is_none());
        assert!(region_in(TABLE, "ap-tokyo-1", numbered_zone_region).is_none());
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
