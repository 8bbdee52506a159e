//! AWS region codes, the location names the Price List uses for them, and
//! their geography.

use shiyun_core::listing::Region;

/// `(region code, Price List location name, country, city)`.
const REGIONS: &[(&str, &str, &str, Option<&str>)] = &[
    ("us-east-1", "US East (N. Virginia)", "us", Some("virginia")),
    ("us-east-2", "US East (Ohio)", "us", Some("ohio")),
    (
        "us-west-1",
        "US West (N. California)",
        "us",
        Some("california"),
    ),
    ("us-west-2", "US West (Oregon)", "us", Some("oregon")),
    (
        "us-gov-west-1",
        "AWS GovCloud (US-West)",
        "us",
        Some("oregon"),
    ),
    (
        "us-gov-east-1",
        "AWS GovCloud (US-East)",
        "us",
        Some("ohio"),
    ),
    ("ca-central-1", "Canada (Central)", "ca", Some("montreal")),
    ("ca-west-1", "Canada West (Calgary)", "ca", Some("calgary")),
    ("mx-central-1", "Mexico (Central)", "mx", Some("queretaro")),
    (
        "sa-east-1",
        "South America (Sao Paulo)",
        "br",
        Some("sao-paulo"),
    ),
    ("eu-central-1", "EU (Frankfurt)", "de", Some("frankfurt")),
    ("eu-central-2", "EU (Zurich)", "ch", Some("zurich")),
    ("eu-west-1", "EU (Ireland)", "ie", Some("dublin")),
    ("eu-west-2", "EU (London)", "gb", Some("london")),
    ("eu-west-3", "EU (Paris)", "fr", Some("paris")),
    ("eu-south-1", "EU (Milan)", "it", Some("milan")),
    ("eu-south-2", "EU (Spain)", "es", Some("aragon")),
    ("eu-north-1", "EU (Stockholm)", "se", Some("stockholm")),
    ("il-central-1", "Israel (Tel Aviv)", "il", Some("tel-aviv")),
    ("me-south-1", "Middle East (Bahrain)", "bh", Some("manama")),
    ("me-central-1", "Middle East (UAE)", "ae", None),
    ("af-south-1", "Africa (Cape Town)", "za", Some("cape-town")),
    (
        "ap-east-1",
        "Asia Pacific (Hong Kong)",
        "hk",
        Some("hong-kong"),
    ),
    ("ap-east-2", "Asia Pacific (Taipei)", "tw", Some("taipei")),
    ("ap-south-1", "Asia Pacific (Mumbai)", "in", Some("mumbai")),
    (
        "ap-south-2",
        "Asia Pacific (Hyderabad)",
        "in",
        Some("hyderabad"),
    ),
    (
        "ap-southeast-1",
        "Asia Pacific (Singapore)",
        "sg",
        Some("singapore"),
    ),
    (
        "ap-southeast-2",
        "Asia Pacific (Sydney)",
        "au",
        Some("sydney"),
    ),
    (
        "ap-southeast-3",
        "Asia Pacific (Jakarta)",
        "id",
        Some("jakarta"),
    ),
    (
        "ap-southeast-4",
        "Asia Pacific (Melbourne)",
        "au",
        Some("melbourne"),
    ),
    (
        "ap-southeast-5",
        "Asia Pacific (Malaysia)",
        "my",
        Some("kuala-lumpur"),
    ),
    (
        "ap-southeast-7",
        "Asia Pacific (Thailand)",
        "th",
        Some("bangkok"),
    ),
    (
        "ap-northeast-1",
        "Asia Pacific (Tokyo)",
        "jp",
        Some("tokyo"),
    ),
    (
        "ap-northeast-2",
        "Asia Pacific (Seoul)",
        "kr",
        Some("seoul"),
    ),
    (
        "ap-northeast-3",
        "Asia Pacific (Osaka)",
        "jp",
        Some("osaka"),
    ),
    ("cn-north-1", "China (Beijing)", "cn", Some("beijing")),
    ("cn-northwest-1", "China (Ningxia)", "cn", Some("ningxia")),
];

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
/// (`us-west-2-lax-1`, geography of its parent region without a city), or a
/// code whose prefix names a country.
pub fn region_from_code(code: &str) -> Result<Region, String> {
    let bad = |e: shiyun_core::ValidationError| e.to_string();
    if let Some((code, _, country, city)) = REGIONS.iter().find(|(c, ..)| *c == code) {
        return Region::new(code, country, *city).map_err(bad);
    }
    // Local and Wavelength Zones extend their parent region's code.
    if let Some((_, _, country, _)) = REGIONS
        .iter()
        .filter(|(c, ..)| code.starts_with(&format!("{c}-")))
        .max_by_key(|(c, ..)| c.len())
    {
        return Region::new(code, country, None).map_err(bad);
    }
    if let Some((_, country)) = COUNTRY_PREFIXES.iter().find(|(p, _)| code.starts_with(p)) {
        return Region::new(code, country, None).map_err(bad);
    }
    Err(format!("unknown aws region `{code}`"))
}

/// The region of a Price List `location` name (`Canada (Central)`); `Any`
/// and `Global` are global.
pub fn region_from_location(location: &str) -> Result<Region, String> {
    if matches!(location, "Any" | "Global") {
        return Region::new("global", "global", None).map_err(|e| e.to_string());
    }
    REGIONS
        .iter()
        .find(|(_, name, ..)| *name == location)
        .ok_or_else(|| format!("unknown aws location `{location}`"))
        .and_then(|(code, ..)| region_from_code(code))
}
