//! Each vendor's regions and where they are: the one table that the
//! connectors and the demo catalog both read, so a region code means the same
//! place, under the same names, everywhere.
//!
//! One file per vendor holds its [`KnownRegion`]s, typed in from the
//! vendors' published region lists; [`cities`] holds the places they are in.
//! Every region names a city: the city of its data centres, or the nearest
//! city where the vendor names only a province or an area (`nearest_city`).
//! Its display names include that city in both languages (`华东1（杭州）`,
//! `中国东部 2（上海）`), and its aliases hold what else a buyer types
//! (`华东`, `us-east`, the city's airport code). Multi-regions that are not
//! one place (GCP `us`, `nam4`) are [`KnownArea`]s.
//!
//! ## For connectors
//!
//! [`place`] says what the table knows of a vendor's code: a region, a zone
//! of one, an area, a test region, or nothing. [`region_of`] gives the
//! [`Region`] with its names for all but the last. A connector:
//!
//! - stores offers in a region, zone or area under the [`Region`] from
//!   [`region_of`];
//! - skips offers in a test region ([`KnownRegion::is_test`]): they are
//!   never stored, so they never reach the storefront; it counts them in its
//!   run report as skipped, not as rejected;
//! - still stores an offer in a code the table does not know, placed by the
//!   connector's own rule (country from the code's shape) with
//!   `Region::new`, and reports the code: the sync engine lists each such
//!   code once in the run report's [`RegionReport`].
//!
//! [`RegionReport`]: crate::store::RegionReport

use std::collections::BTreeSet;

use crate::error::ValidationError;
use crate::listing::{Geography, LocalizedText, Region, Vendor};

mod alibaba;
mod aws;
mod azure;
mod cities;
mod ctyun;
mod gcp;
mod ibm;
mod kingsoft;
mod tencent;
mod ucloud;

/// A city that regions are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct City {
    /// Lowercase slug of the English name (`shanghai`, `hong-kong`,
    /// `washington-dc`); unique across the table.
    pub id: &'static str,
    /// Lowercase ISO 3166 country code.
    pub country: &'static str,
    /// Province or state slug (`zhejiang`, `virginia`).
    pub province: &'static str,
    /// Chinese name (`上海`).
    pub zh: &'static str,
    /// English name (`Shanghai`).
    pub en: &'static str,
    /// Other names and codes (`sha`, `沪`).
    pub aliases: &'static [&'static str],
}

/// Every city of the table.
pub fn cities() -> &'static [City] {
    cities::CITIES
}

/// The city with id `id`.
pub fn city(id: &str) -> Option<&'static City> {
    cities::CITIES.iter().find(|c| c.id == id)
}

/// One region of a vendor and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KnownRegion {
    /// The vendor's code (`cn-hangzhou`, `us-east-1`, `westeurope`).
    pub code: &'static str,
    /// Lowercase ISO 3166 country code.
    pub country: &'static str,
    /// Province or state slug.
    pub province: &'static str,
    /// City id, in [`cities`].
    pub city: &'static str,
    /// True where the vendor names only a province or an area and `city` is
    /// the nearest (or known) city of the data centres.
    pub nearest_city: bool,
    /// Chinese display name, naming the city (`华东2（上海）`).
    pub name_zh: &'static str,
    /// English display name, naming the city (`China East 2 (Shanghai)`).
    pub name_en: &'static str,
    /// Search aliases of the region (`华东`, `us-east`); the city's own are in [`City`].
    pub aliases: &'static [&'static str],
    /// A vendor's test region, kept out of the storefront.
    pub test: bool,
    /// The codes of its zones (or CTyun pools), where the vendor publishes them.
    pub zones: &'static [&'static str],
    /// AWS only: the Price List's `location` text (`US East (N. Virginia)`),
    /// which the AWS connector matches. Not a display name.
    pub price_list_location: Option<&'static str>,
}

impl KnownRegion {
    /// The defaults that the vendor files fill in.
    const BLANK: KnownRegion = KnownRegion {
        code: "",
        country: "",
        province: "",
        city: "",
        nearest_city: false,
        name_zh: "",
        name_en: "",
        aliases: &[],
        test: false,
        zones: &[],
        price_list_location: None,
    };

    /// True for a vendor's test region, which the storefront never shows.
    pub fn is_test(&self) -> bool {
        self.test
    }

    /// The city the region is in (or nearest to).
    pub fn city(&self) -> Option<&'static City> {
        city(self.city)
    }

    /// Where the region is.
    pub fn geography(&self) -> Geography {
        Geography {
            country: self.country.to_owned(),
            province: Some(self.province.to_owned()),
            city: Some(self.city.to_owned()),
        }
    }

    /// The display names.
    pub fn name(&self) -> LocalizedText {
        LocalizedText {
            en: Some(self.name_en.to_owned()),
            zh: Some(self.name_zh.to_owned()),
        }
    }

    /// The region's aliases, then its city's, without repeats.
    pub fn all_aliases(&self) -> Vec<String> {
        let city_aliases = self.city().map(|c| c.aliases).unwrap_or_default();
        let mut seen = BTreeSet::new();
        self.aliases
            .iter()
            .chain(city_aliases)
            .filter(|alias| seen.insert(**alias))
            .map(|alias| (*alias).to_owned())
            .collect()
    }

    /// The region under its own code.
    pub fn region(&self) -> Result<Region, ValidationError> {
        self.region_as(self.code)
    }

    /// The region's geography and names under another code: one of its
    /// zones, or a variant of it.
    pub fn region_as(&self, code: &str) -> Result<Region, ValidationError> {
        let mut region = Region::new(code, self.country, Some(self.city))?;
        region.geography = self.geography();
        region.name = self.name();
        region.aliases = self.all_aliases();
        Ok(region)
    }
}

/// A code that names an area rather than one place: a multi-region (GCP
/// `us`, `eu`), a dual-region (`nam4`) or `global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KnownArea {
    /// The vendor's code.
    pub code: &'static str,
    /// Lowercase ISO 3166 country code where the area is in one country, else `global`.
    pub country: &'static str,
    /// Chinese display name.
    pub name_zh: &'static str,
    /// English display name.
    pub name_en: &'static str,
}

impl KnownArea {
    /// The area as a region, without a city.
    pub fn region(&self) -> Result<Region, ValidationError> {
        let mut region = Region::new(self.code, self.country, None)?;
        region.name = LocalizedText {
            en: Some(self.name_en.to_owned()),
            zh: Some(self.name_zh.to_owned()),
        };
        Ok(region)
    }
}

/// Every region that the table knows of `vendor`, test regions included.
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

/// The regions of `vendor` that a storefront shows: all but test regions.
pub fn storefront_regions(vendor: Vendor) -> impl Iterator<Item = &'static KnownRegion> {
    regions(vendor).iter().filter(|r| !r.is_test())
}

/// The areas (multi-regions) of `vendor`.
pub fn areas(vendor: Vendor) -> &'static [KnownArea] {
    match vendor {
        Vendor::Gcp => gcp::AREAS,
        Vendor::Ibm => ibm::AREAS,
        _ => &[],
    }
}

/// The region of `vendor` whose code is exactly `code`.
pub fn known(vendor: Vendor, code: &str) -> Option<&'static KnownRegion> {
    regions(vendor).iter().find(|r| r.code == code)
}

/// What the table knows of a vendor's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A region of the table (not a test region).
    Region(&'static KnownRegion),
    /// A zone (or CTyun pool) of a region of the table.
    Zone(&'static KnownRegion),
    /// An area: a multi-region or `global`.
    Area(&'static KnownArea),
    /// A test region, or a zone of one: skipped, never stored.
    Test(&'static KnownRegion),
    /// A CTyun code placed by the place in its code only (`cn-anshun-t1`).
    Place,
    /// A code the table does not know: store it placed by the connector's
    /// own rule and report it in the sync run's `RegionReport`.
    Unknown,
}

/// What the table knows of `code` at `vendor`: see [`Placement`].
pub fn place(vendor: Vendor, code: &str) -> Placement {
    let table = regions(vendor);
    let (known, is_zone) = match table.iter().find(|r| r.code == code) {
        Some(region) => (Some(region), false),
        None => (
            table
                .iter()
                .find(|r| r.zones.contains(&code))
                .or_else(|| known(vendor, zone_region(vendor, code)?)),
            true,
        ),
    };
    match known {
        Some(region) if region.is_test() => Placement::Test(region),
        Some(region) if is_zone => Placement::Zone(region),
        Some(region) => Placement::Region(region),
        None => {
            if let Some(area) = areas(vendor).iter().find(|a| a.code == code) {
                Placement::Area(area)
            } else if vendor == Vendor::Ctyun && ctyun_place(code).is_some() {
                Placement::Place
            } else {
                Placement::Unknown
            }
        }
    }
}

/// The region named by `code`: a region, a zone (or CTyun pool) of one, or
/// an area, with its geography and names; the returned [`Region`] keeps
/// `code` itself. Test regions are placed too ([`place`] tells them apart).
/// `None` when the table does not place the code.
pub fn region_of(vendor: Vendor, code: &str) -> Option<Region> {
    match place(vendor, code) {
        Placement::Region(known) | Placement::Zone(known) | Placement::Test(known) => {
            known.region_as(code).ok()
        }
        Placement::Area(area) => area.region().ok(),
        Placement::Place => {
            let city = ctyun_place(code)?;
            Region::new(code, "cn", city).ok()
        }
        Placement::Unknown => None,
    }
}

/// The city of a CTyun code by the place in it (`None` inside: a known
/// place without a single city).
fn ctyun_place(code: &str) -> Option<Option<&'static str>> {
    let place = ctyun::place_of(code)?;
    ctyun::PLACES
        .iter()
        .find(|(known, _)| *known == place)
        .map(|(_, city)| *city)
}

/// The region code of a zone code, by the vendor's naming rule, for zones
/// that the table does not list.
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
        // Their zones are listed in the table, not priced apart, or the
        // connector handles them.
        Vendor::Aws | Vendor::Azure | Vendor::Gcp | Vendor::Ibm | Vendor::Ctyun => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

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
                for zone in entry.zones {
                    assert!(codes.insert(zone), "{vendor} lists {zone} twice");
                }
                let region = entry.region().unwrap();
                assert_eq!(region.code, entry.code);
                assert_eq!(region.geography, entry.geography());
            }
            for area in areas(vendor) {
                assert!(
                    codes.insert(area.code),
                    "{vendor} lists {} twice",
                    area.code
                );
                assert!(area.region().unwrap().geography.city.is_none());
            }
        }
    }

    #[test]
    fn every_region_has_both_names_a_country_and_a_city_named_in_both() {
        for vendor in Vendor::ALL {
            for r in regions(vendor) {
                let city = r
                    .city()
                    .unwrap_or_else(|| panic!("{vendor} {}: no city {}", r.code, r.city));
                assert_eq!(r.country, city.country, "{vendor} {}", r.code);
                assert_eq!(r.province, city.province, "{vendor} {}", r.code);
                assert_eq!(r.country.len(), 2, "{vendor} {}", r.code);
                assert!(!r.name_zh.trim().is_empty() && !r.name_en.trim().is_empty());
                assert!(
                    r.name_zh.contains(city.zh),
                    "{vendor} {}: {} lacks {}",
                    r.code,
                    r.name_zh,
                    city.zh
                );
                assert!(
                    fold(r.name_en).contains(&fold(city.en)),
                    "{vendor} {}: {} lacks {}",
                    r.code,
                    r.name_en,
                    city.en
                );
                // Full-width brackets in Chinese, ASCII in English, never nested.
                assert!(!r.name_zh.contains('(') && !r.name_en.contains('（'));
                for (name, open, close) in [(r.name_zh, '（', '）'), (r.name_en, '(', ')')] {
                    let mut depth = 0;
                    for c in name.chars() {
                        depth += i32::from(c == open) - i32::from(c == close);
                        assert!((0..=1).contains(&depth), "{vendor} {}: {name}", r.code);
                    }
                    assert_eq!(depth, 0, "{vendor} {}: {name}", r.code);
                }
            }
        }
    }

    /// Lowercase, accents off: `São Paulo` matches `Sao Paulo`.
    fn fold(text: &str) -> String {
        text.to_lowercase().replace('ã', "a").replace('é', "e")
    }

    #[test]
    fn no_city_id_names_two_places_and_names_are_unique() {
        let mut ids = HashSet::new();
        let mut en = HashMap::new();
        for city in cities() {
            assert!(ids.insert(city.id), "{} twice", city.id);
            assert!(
                city.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                city.id
            );
            assert!(Region::new("x", city.country, Some(city.id)).is_ok());
            // Two ids with one English name and country would be one place twice.
            if let Some(other) = en.insert((city.country, city.en), city.id) {
                panic!("{other} and {} are both {}", city.id, city.en);
            }
        }
        // Distinct places keep distinct ids.
        let quincy = city("quincy").unwrap();
        let dc = city("washington-dc").unwrap();
        assert_ne!(quincy.province, dc.province);
        assert!(city("washington").is_none() && city("hebei").is_none());
        assert_eq!(known(Vendor::Ibm, "us-east").unwrap().city, "washington-dc");
        assert_eq!(known(Vendor::Azure, "westus2").unwrap().city, "quincy");
    }

    #[test]
    fn no_english_region_name_names_another_city() {
        // A buyer searching `hong kong` must not find Taipei. The one
        // exception names a state after its capital: Osasco is in the
        // state of Sao Paulo.
        let allowed = [("southamerica-east1", "sao-paulo")];
        for vendor in Vendor::ALL {
            for r in regions(vendor) {
                let words = format!(
                    " {} ",
                    fold(r.name_en).replace(|c: char| !c.is_alphanumeric(), " ")
                );
                for other in cities().iter().filter(|c| c.id != r.city) {
                    let name = format!(
                        " {} ",
                        fold(other.en).replace(|c: char| !c.is_alphanumeric(), " ")
                    );
                    assert!(
                        !words.contains(&name) || allowed.contains(&(r.code, other.id)),
                        "{vendor} {}: {} names {}",
                        r.code,
                        r.name_en,
                        other.en
                    );
                }
            }
        }
    }

    #[test]
    fn zones_map_to_their_region_and_keep_their_code() {
        let zone = region_of(Vendor::Tencent, "ap-guangzhou-6").unwrap();
        assert_eq!(zone.code, "ap-guangzhou-6");
        assert_eq!(zone.geography.city.as_deref(), Some("guangzhou"));
        assert_eq!(zone.name.zh.as_deref(), Some("华南地区（广州）"));
        assert!(region_of(Vendor::Tencent, "ap-guangzhou").is_some());
        assert!(region_of(Vendor::Tencent, "ap-guangzhou-x").is_none());
        assert!(region_of(Vendor::Tencent, "ap-nowhere-1").is_none());
        let city = |vendor, code| region_of(vendor, code).unwrap().geography.city;
        assert_eq!(
            city(Vendor::Ucloud, "cn-bj2-02").as_deref(),
            Some("beijing")
        );
        assert_eq!(
            city(Vendor::Alibaba, "cn-hangzhou-h").as_deref(),
            Some("hangzhou")
        );
        assert!(region_of(Vendor::Alibaba, "cn-hangzhou-hh").is_none());
        assert_eq!(
            city(Vendor::Kingsoft, "cn-beijing-6a").as_deref(),
            Some("beijing")
        );
        assert_eq!(
            city(Vendor::Gcp, "us-central1-a").as_deref(),
            Some("council-bluffs")
        );
        assert_eq!(city(Vendor::Aws, "us-east-1a").as_deref(), Some("ashburn"));
        assert!(region_of(Vendor::Aws, "us-west-2-lax-1").is_none());
        assert!(
            matches!(place(Vendor::Aws, "us-east-1a"), Placement::Zone(r) if r.code == "us-east-1")
        );
    }

    #[test]
    fn areas_are_placed_without_a_city() {
        let us = region_of(Vendor::Gcp, "us").unwrap();
        assert_eq!(us.geography.to_string(), "us");
        assert!(us.name.en.is_some());
        assert!(matches!(place(Vendor::Ibm, "global"), Placement::Area(_)));
        assert_eq!(place(Vendor::Aws, "global"), Placement::Unknown);
    }

    #[test]
    fn ctyun_codes_are_placed_by_their_place() {
        let pool = region_of(Vendor::Ctyun, "cn-neimeng-8").unwrap();
        assert_eq!(pool.code, "cn-neimeng-8");
        assert_eq!(pool.geography.city.as_deref(), Some("hohhot"));
        let zone = region_of(Vendor::Ctyun, "cn-huadong1-jsnj1A-public-ctcloud").unwrap();
        assert_eq!(zone.geography.city.as_deref(), Some("nanjing"));
        assert_eq!(
            region_of(Vendor::Ctyun, "cn-anshun-t1")
                .unwrap()
                .geography
                .city
                .as_deref(),
            Some("anshun")
        );
        assert_eq!(place(Vendor::Ctyun, "cn-anshun-t1"), Placement::Place);
        assert!(region_of(Vendor::Ctyun, "cn-nowhere1").is_none());
        assert!(region_of(Vendor::Ctyun, "us-east-1").is_none());
        // A listed region with a city in its code agrees with the place rule.
        for entry in ctyun::REGIONS {
            if let Some(Some(city)) = ctyun_place(entry.code) {
                assert_eq!(entry.city, city, "{}", entry.code);
            }
            assert_eq!(entry.country, "cn");
        }
    }

    #[test]
    fn test_regions_are_marked_and_placed_apart() {
        let test = known(Vendor::Kingsoft, "cn-qingyangtest-1").unwrap();
        assert!(test.is_test());
        assert!(matches!(
            place(Vendor::Kingsoft, "cn-qingyangtest-1"),
            Placement::Test(_)
        ));
        assert!(storefront_regions(Vendor::Kingsoft).all(|r| !r.is_test()));
        assert_eq!(
            storefront_regions(Vendor::Kingsoft).count() + 1,
            regions(Vendor::Kingsoft).len()
        );
    }

    #[test]
    fn aws_price_list_locations_stay_apart_from_display_names() {
        let virginia = known(Vendor::Aws, "us-east-1").unwrap();
        assert_eq!(virginia.price_list_location, Some("US East (N. Virginia)"));
        assert!(
            regions(Vendor::Aws)
                .iter()
                .all(|r| r.price_list_location.is_some())
        );
        let mut seen = HashSet::new();
        assert!(
            regions(Vendor::Aws)
                .iter()
                .all(|r| seen.insert(r.price_list_location))
        );
        assert!(
            Vendor::ALL
                .into_iter()
                .filter(|v| *v != Vendor::Aws)
                .all(|v| regions(v).iter().all(|r| r.price_list_location.is_none()))
        );
    }

    #[test]
    fn the_issue_examples_read_as_promised() {
        let shanghai = known(Vendor::Azure, "chinaeast2").unwrap();
        assert!(shanghai.name_zh.contains("上海"), "{}", shanghai.name_zh);
        let hebei = known(Vendor::Azure, "chinanorth3").unwrap();
        assert_ne!(hebei.city, "hebei");
        let taiwan = known(Vendor::Gcp, "asia-east1").unwrap();
        assert_eq!(taiwan.city, "changhua");
        let hk = region_of(Vendor::Aws, "ap-east-1").unwrap();
        assert!(hk.name.en.as_deref().unwrap().contains("Hong Kong"));
        assert!(hk.aliases.iter().any(|a| a == "hk"), "{:?}", hk.aliases);
        let text = hk.search_text();
        for part in ["ap-east-1", "香港", "Hong Kong", "hkg"] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        assert_eq!(Region::new("x-1", "us", None).unwrap().search_text(), "x-1");
    }
}
