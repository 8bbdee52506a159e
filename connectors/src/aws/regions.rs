//! AWS region codes and the location names the Price List uses for them,
//! placed by the one region table in [`shiyun_core::geography`]; codes that
//! the table does not list (Local Zones, new regions) are placed here by
//! their shape.

use shiyun_core::geography;
use shiyun_core::listing::{Region, Vendor};

/// Country prefixes of region codes that name a country outright (`sa-` is
/// South America and `me-` the Middle East, so they are not here).
const COUNTRY_PREFIXES: &[(&str, &str)] = &[
    ("us-", "us"),
    ("ca-", "ca"),
    ("cn-", "cn"),
    ("il-", "il"),
    ("mx-", "mx"),
];

/// The region of an AWS region code (`us-east-1`), a Local Zone code
/// (`us-west-2-lax-1`, geography of its parent region without a city), a
/// code whose prefix names a country, or any other code, kept under country
/// `global`.
pub fn region_from_code(code: &str) -> Result<Region, String> {
    let bad = |e: shiyun_core::ValidationError| e.to_string();
    if let Some(known) = geography::known(Vendor::Aws, code) {
        return known.region().map_err(bad);
    }
    // Local and Wavelength Zones extend their parent region's code; they are
    // in other cities, so only the country is kept.
    if let Some(parent) = geography::regions(Vendor::Aws)
        .iter()
        .filter(|r| code.starts_with(&format!("{}-", r.code)))
        .max_by_key(|r| r.code.len())
    {
        return Region::new(code, parent.country, None).map_err(bad);
    }
    if let Some((_, country)) = COUNTRY_PREFIXES.iter().find(|(p, _)| code.starts_with(p)) {
        return Region::new(code, country, None).map_err(bad);
    }
    // Still stored under its code; the sync notes it as unknown.
    Region::new(code, "global", None).map_err(bad)
}

/// The region of a Price List `location` name (`Canada (Central)`); `Any`
/// and `Global` are global.
pub fn region_from_location(location: &str) -> Result<Region, String> {
    if matches!(location, "Any" | "Global") {
        return Region::new("global", "global", None).map_err(|e| e.to_string());
    }
    geography::regions(Vendor::Aws)
        .iter()
        .find(|r| r.price_list_location == Some(location))
        .ok_or_else(|| format!("unknown aws location `{location}`"))
        .and_then(|r| r.region().map_err(|e| e.to_string()))
}
