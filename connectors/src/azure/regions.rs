//! Azure ARM region names (`armRegionName`) and their geography.

use shiyun_core::listing::Region;

/// `(armRegionName, country, city)`.
const REGIONS: &[(&str, &str, Option<&str>)] = &[
    ("eastus", "us", Some("virginia")),
    ("eastus2", "us", Some("virginia")),
    ("centralus", "us", Some("iowa")),
    ("northcentralus", "us", Some("illinois")),
    ("southcentralus", "us", Some("texas")),
    ("westcentralus", "us", Some("wyoming")),
    ("westus", "us", Some("california")),
    ("westus2", "us", Some("washington")),
    ("westus3", "us", Some("arizona")),
    ("usgovvirginia", "us", Some("virginia")),
    ("usgovarizona", "us", Some("arizona")),
    ("usgovtexas", "us", Some("texas")),
    ("canadacentral", "ca", Some("toronto")),
    ("canadaeast", "ca", Some("quebec")),
    ("mexicocentral", "mx", Some("queretaro")),
    ("brazilsouth", "br", Some("sao-paulo")),
    ("brazilsoutheast", "br", Some("rio-de-janeiro")),
    ("northeurope", "ie", Some("dublin")),
    ("westeurope", "nl", Some("amsterdam")),
    ("uksouth", "gb", Some("london")),
    ("ukwest", "gb", Some("cardiff")),
    ("francecentral", "fr", Some("paris")),
    ("francesouth", "fr", Some("marseille")),
    ("germanywestcentral", "de", Some("frankfurt")),
    ("germanynorth", "de", Some("berlin")),
    ("switzerlandnorth", "ch", Some("zurich")),
    ("switzerlandwest", "ch", Some("geneva")),
    ("norwayeast", "no", Some("oslo")),
    ("norwaywest", "no", Some("stavanger")),
    ("swedencentral", "se", Some("gavle")),
    ("swedensouth", "se", Some("malmo")),
    ("polandcentral", "pl", Some("warsaw")),
    ("italynorth", "it", Some("milan")),
    ("spaincentral", "es", Some("madrid")),
    ("austriaeast", "at", Some("vienna")),
    ("israelcentral", "il", Some("tel-aviv")),
    ("qatarcentral", "qa", Some("doha")),
    ("uaenorth", "ae", Some("dubai")),
    ("uaecentral", "ae", Some("abu-dhabi")),
    ("southafricanorth", "za", Some("johannesburg")),
    ("southafricawest", "za", Some("cape-town")),
    ("eastasia", "hk", Some("hong-kong")),
    ("southeastasia", "sg", Some("singapore")),
    ("japaneast", "jp", Some("tokyo")),
    ("japanwest", "jp", Some("osaka")),
    ("koreacentral", "kr", Some("seoul")),
    ("koreasouth", "kr", Some("busan")),
    ("centralindia", "in", Some("pune")),
    ("southindia", "in", Some("chennai")),
    ("westindia", "in", Some("mumbai")),
    ("jioindiawest", "in", Some("jamnagar")),
    ("jioindiacentral", "in", Some("nagpur")),
    ("australiaeast", "au", Some("sydney")),
    ("australiasoutheast", "au", Some("melbourne")),
    ("australiacentral", "au", Some("canberra")),
    ("australiacentral2", "au", Some("canberra")),
    ("newzealandnorth", "nz", Some("auckland")),
    ("indonesiacentral", "id", Some("jakarta")),
    ("malaysiawest", "my", Some("kuala-lumpur")),
    ("chinaeast", "cn", Some("shanghai")),
    ("chinaeast2", "cn", Some("shanghai")),
    ("chinaeast3", "cn", Some("shanghai")),
    ("chinanorth", "cn", Some("beijing")),
    ("chinanorth2", "cn", Some("beijing")),
    ("chinanorth3", "cn", Some("hebei")),
];

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
    if let Some((code, country, city)) = REGIONS.iter().find(|(c, ..)| *c == arm) {
        return Region::new(code, country, *city).map_err(bad);
    }
    // Variants of a known region (`eastus2euap`, `westus2stage`) keep its geography.
    if let Some((_, country, city)) = REGIONS
        .iter()
        .filter(|(c, ..)| arm.starts_with(c))
        .max_by_key(|(c, ..)| c.len())
    {
        return Region::new(arm, country, *city).map_err(bad);
    }
    if let Some((_, country)) = COUNTRY_WORDS
        .iter()
        .filter(|(w, _)| arm.starts_with(w))
        .max_by_key(|(w, _)| w.len())
    {
        return Region::new(arm, country, None).map_err(bad);
    }
    Err(format!("unknown azure region `{arm}`"))
}
