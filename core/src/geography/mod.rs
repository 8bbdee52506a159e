//! Each vendor's regions and where they are: the one table that the
//! connectors and the demo catalog both read, so a region code means the same
//! place everywhere.
//!
//! One file per vendor holds its [`KnownRegion`]s; [`region_of`] also places
//! a zone (or, for CTyun, a pool) at its region. A code that the table does
//! not know is the caller's to handle: connectors may still place it by
//! country from the shape of its code, and report it.
//!
//! An entry carries the country, the city (a lowercase slug) and the names
//! shown for the region where known. Entries are `#[non_exhaustive]` and
//! built by a `const fn` in each vendor file, so that provinces, bilingual
//! display names that include the city, search aliases and a test-region
//! mark can be added as fields without breaking a caller.

use crate::error::ValidationError;
use crate::listing::{Geography, Region, Vendor};

mod alibaba;
mod aws;
mod azure;
mod ctyun;
mod gcp;
mod ibm;
mod kingsoft;
mod tencent;
mod ucloud;

/// One region of a vendor and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KnownRegion {
    /// The vendor's code (`cn-hangzhou`, `us-east-1`, `westeurope`).
    pub code: &'static str,
    /// Lowercase ISO 3166 country code, or `global`.
    pub country: &'static str,
    /// City slug (`shanghai`, `virginia`); `None` where the vendor names
    /// an area or several places.
    pub city: Option<&'static str>,
    /// The English name shown for the region, where known. For AWS it is
    /// the Price List `location` (`US East (N. Virginia)`), which the AWS
    /// connector matches, so it must stay the vendor's exact text.
    pub name_en: Option<&'static str>,
    /// The Chinese name shown for the region, where known: the vendor's own
    /// (`华北1（北京）`, `中国东部 2`) or the city's (`杭州`).
    pub name_zh: Option<&'static str>,
}

/// A table entry; names are added with [`KnownRegion::en`] and [`KnownRegion::zh`].
const fn region(
    code: &'static str,
    country: &'static str,
    city: Option<&'static str>,
) -> KnownRegion {
    KnownRegion {
        code,
        country,
        city,
        name_en: None,
        name_zh: None,
    }
}

impl KnownRegion {
    const fn en(mut self, name: &'static str) -> Self {
        self.name_en = Some(name);
        self
    }

    const fn zh(mut self, name: &'static str) -> Self {
        self.name_zh = Some(name);
        self
    }

    /// Where the region is.
    pub fn geography(&self) -> Geography {
        Geography {
            country: self.country.to_owned(),
            city: self.city.map(str::to_owned),
        }
    }

    /// The region under its own code.
    pub fn region(&self) -> Result<Region, ValidationError> {
        self.region_as(self.code)
    }

    /// The region's geography under another code: one of its zones, or a
    /// variant of it.
    pub fn region_as(&self, code: &str) -> Result<Region, ValidationError> {
        Region::new(code, self.country, self.city)
    }
}

/// Every region that the table knows of `vendor`.
pub fn regions(vendor: Vendor) -> &'static [KnownRegion] {
    match vendor {
        Vendor::Aws => aws::REGIONS,
        Vendor::Azure => azure::REGIONS,
        Vendor::Gcp => gcp::REGIONS,
        Vendor::Alibaba => alibaba::REGIONS,
        Vendor::Tencent => tencent::REGIONS,
        Vendor::Ibm => ibm::REGIONS,
        Vendor::Ctyun => ctyun::REGIONS,
        Vendor::Kingsoft => kingsoft::REGIONS,
        Vendor::Ucloud => ucloud::REGIONS,
    }
}

/// The region of `vendor` whose code is exactly `code`.
pub fn known(vendor: Vendor, code: &str) -> Option<&'static KnownRegion> {
    regions(vendor).iter().find(|r| r.code == code)
}

/// The region named by `code`, a region or a zone (or CTyun pool) of one.
/// The returned [`Region`] keeps `code` itself. `None` when the table does
/// not place it.
pub fn region_of(vendor: Vendor, code: &str) -> Option<Region> {
    if let Some(known) = known(vendor, code) {
        return known.region().ok();
    }
    if vendor == Vendor::Ctyun {
        let place = ctyun::place_of(code)?;
        let (_, city) = ctyun::PLACES.iter().find(|(known, _)| *known == place)?;
        return Region::new(code, "cn", *city).ok();
    }
    known(vendor, zone_region(vendor, code)?)?
        .region_as(code)
        .ok()
}

/// The region code of a zone code, by the vendor's naming rule.
fn zone_region(vendor: Vendor, zone: &str) -> Option<&str> {
    match vendor {
        // A letter after a dash: `cn-hangzhou-h`.
        Vendor::Alibaba => {
            let (head, tail) = zone.rsplit_once('-')?;
            (tail.len() == 1 && tail.bytes().all(|b| b.is_ascii_lowercase())).then_some(head)
        }
        // A letter on the region's code: `cn-beijing-6a`.
        Vendor::Kingsoft => zone.strip_suffix(|c: char| c.is_ascii_lowercase()),
        // A number after a dash: `ap-guangzhou-6`, `cn-bj2-02`.
        Vendor::Tencent | Vendor::Ucloud => {
            let (head, tail) = zone.rsplit_once('-')?;
            (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then_some(head)
        }
        // Their zones are not priced apart, or the connector handles them.
        Vendor::Aws | Vendor::Azure | Vendor::Gcp | Vendor::Ibm | Vendor::Ctyun => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_entry_is_a_valid_region_and_codes_are_unique() {
        for vendor in Vendor::ALL {
            let mut codes = HashSet::new();
            for entry in regions(vendor) {
                assert!(
                    codes.insert(entry.code),
                    "{vendor} lists {} twice",
                    entry.code
                );
                let region = entry.region().unwrap();
                assert_eq!(region.code, entry.code);
                assert_eq!(region.geography, entry.geography());
            }
        }
    }

    #[test]
    fn zones_map_to_their_region_and_keep_their_code() {
        let zone = region_of(Vendor::Tencent, "ap-guangzhou-6").unwrap();
        assert_eq!(zone.code, "ap-guangzhou-6");
        assert_eq!(zone.geography.city.as_deref(), Some("guangzhou"));
        assert!(region_of(Vendor::Tencent, "ap-guangzhou").is_some());
        assert!(region_of(Vendor::Tencent, "ap-guangzhou-x").is_none());
        assert!(region_of(Vendor::Tencent, "ap-nowhere-1").is_none());
        assert_eq!(
            region_of(Vendor::Ucloud, "cn-bj2-02")
                .unwrap()
                .geography
                .city
                .as_deref(),
            Some("beijing")
        );
        assert_eq!(
            region_of(Vendor::Alibaba, "cn-hangzhou-h")
                .unwrap()
                .geography
                .city
                .as_deref(),
            Some("hangzhou")
        );
        assert!(region_of(Vendor::Alibaba, "cn-hangzhou-hh").is_none());
        assert_eq!(
            region_of(Vendor::Kingsoft, "cn-beijing-6a")
                .unwrap()
                .geography
                .city
                .as_deref(),
            Some("beijing")
        );
        assert!(region_of(Vendor::Aws, "us-west-2-lax-1").is_none());
    }

    #[test]
    fn ctyun_codes_are_placed_by_their_place() {
        let pool = region_of(Vendor::Ctyun, "cn-neimeng-8").unwrap();
        assert_eq!(pool.code, "cn-neimeng-8");
        assert_eq!(pool.geography.city.as_deref(), Some("hohhot"));
        assert_eq!(
            region_of(Vendor::Ctyun, "cn-anshun-t1")
                .unwrap()
                .geography
                .city
                .as_deref(),
            Some("anshun")
        );
        assert!(region_of(Vendor::Ctyun, "cn-nowhere1").is_none());
        assert!(region_of(Vendor::Ctyun, "us-east-1").is_none());
        // A listed region agrees with the place rule, so no code is placed twice.
        for entry in ctyun::REGIONS {
            let place = ctyun::place_of(entry.code).unwrap();
            let (_, city) = ctyun::PLACES.iter().find(|(p, _)| *p == place).unwrap();
            assert_eq!(entry.city, *city, "{}", entry.code);
            assert_eq!(entry.country, "cn");
        }
    }

    #[test]
    fn aws_names_are_the_price_list_locations() {
        let virginia = known(Vendor::Aws, "us-east-1").unwrap();
        assert_eq!(virginia.name_en, Some("US East (N. Virginia)"));
        assert!(regions(Vendor::Aws).iter().all(|r| r.name_en.is_some()));
    }
}
