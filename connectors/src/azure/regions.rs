//! Azure ARM region names (`armRegionName`), placed by the one region table
//! in [`shiyun_core::geography`]; names that the table does not list
//! (variants, new regions) are placed here by their shape, and kept under
//! their code (country `global` when the shape names none).

use shiyun_core::geography;
use shiyun_core::listing::{Region, Vendor};

/// Country words that begin region names (`germanywestcentral`), for names not in the table.
const COUNTRY_WORDS: &[(&str, &str)] = &[
    ("us", "us"),
    ("canada", "ca"),
    ("brazil", "br"),
    ("uk", "gb"),
    ("france", "fr"),
    ("germany", "de"),
    ("switzerland", "ch"),
    ("norway", "no"),
    ("sweden", "se"),
    ("poland", "pl"),
    ("italy", "it"),
    ("spain", "es"),
    ("japan", "jp"),
    ("korea", "kr"),
    ("australia", "au"),
    ("china", "cn"),
    ("uae", "ae"),
    ("southafrica", "za"),
    ("india", "in"),
    ("jioindia", "in"),
    ("mexico", "mx"),
    ("israel", "il"),
    ("qatar", "qa"),
];

/// The region of an item: its `armRegionName`, or, for items priced
/// everywhere or by zone (`armRegionName` empty, `location` `Global` or
/// `Zone 1`), a global region named after the location.
pub fn region_of(arm_region: &str, location: &str) -> Result<Region, String> {
    let bad = |e: shiyun_core::ValidationError| e.to_string();
    let arm = arm_region.trim();
    if arm.is_empty() || arm.eq_ignore_ascii_case("global") {
        let code = match location.trim() {
            "" => "global".to_owned(),
            other => other.to_ascii_lowercase(),
        };
        return Region::new(&code, "global", None).map_err(bad);
    }
    if let Some(known) = geography::known(Vendor::Azure, arm) {
        return known.region().map_err(bad);
    }
    // Variants of a known region (`eastus2euap`, `westus2stage`) keep its geography.
    if let Some(parent) = geography::regions(Vendor::Azure)
        .iter()
        .filter(|r| arm.starts_with(r.code))
        .max_by_key(|r| r.code.len())
    {
        return parent.region_as(arm).map_err(bad);
    }
    if let Some((_, country)) = COUNTRY_WORDS
        .iter()
        .filter(|(w, _)| arm.starts_with(w))
        .max_by_key(|(w, _)| w.len())
    {
        return Region::new(arm, country, None).map_err(bad);
    }
    // Still stored under its code; the sync notes it as unknown.
    Region::new(arm, "global", None).map_err(bad)
}
