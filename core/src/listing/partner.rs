//! Partner listings: what a partner cloud sends ([`PartnerListingInput`]) and
//! how it becomes a [`Listing`] under the partner's own vendor id, with the
//! parts a partner never chooses (id, vendor, provenance) assigned by the
//! server.
//!
//! # Where a partner's offer is
//!
//! Built-in vendors' region codes are placed by [`crate::geography`]'s
//! tables; a partner's codes are its own, so the partner places them itself
//! ([`PartnerRegion`]):
//!
//! - `code`: the partner's region code, stored as given (1 to 64
//!   characters, no control characters);
//! - `country`: lowercase ISO 3166 alpha-2 (`cn`, `de`) or `global`;
//! - `city` (optional): a city id of [`crate::geography::cities`]
//!   (`shanghai`, `frankfurt`) in that country. With a city, the region gets
//!   the city's province, its names in both languages and its aliases, so a
//!   buyer searching `上海` or `sha` finds the offer as they find the
//!   built-in vendors' Shanghai offers. Without one, the region is the
//!   country alone and carries no names.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Category, Geography, Listing, ListingData, ListingId, ListingStatus, LocalizedText,
    PartnerVendorId, PriceComponentData, Provenance, Region, Specs, VendorRef,
};
use crate::error::ValidationError;
use crate::geography;

/// Where a partner's offer is: the partner's own region code, the country,
/// and optionally a city known to [`crate::geography`] (see the module
/// documentation for the rule).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerRegion {
    /// The partner's own region code (`sh-1`); not blank, no control
    /// characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub code: String,
    /// Lowercase ISO 3166 alpha-2 country code (`cn`), or `global`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^([a-z]{2}|global)$"))]
    pub country: String,
    /// A city id of the geography table (`shanghai`, `frankfurt`), in
    /// `country`: gives the region its province, names and aliases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

impl PartnerRegion {
    /// The [`Region`] this places, or the rule broken (fields named
    /// `region.code`, `region.country`, `region.city`).
    pub fn to_region(&self) -> Result<Region, ValidationError> {
        super::check_text("region.code", &self.code, 64)?;
        let country = self.country.as_str();
        let country_ok = country == "global"
            || (country.len() == 2 && country.bytes().all(|b| b.is_ascii_lowercase()));
        if !country_ok {
            return Err(ValidationError::new(
                "region.country",
                format!("`{country}` is not a lowercase ISO 3166 code or `global`"),
            ));
        }
        let Some(city_id) = &self.city else {
            return Region::new(&self.code, country, None);
        };
        let city = geography::city(city_id).ok_or_else(|| {
            ValidationError::new(
                "region.city",
                format!("`{city_id}` is not a city of the geography table"),
            )
        })?;
        if city.country != country {
            return Err(ValidationError::new(
                "region.city",
                format!("`{city_id}` is in `{}`, not in `{country}`", city.country),
            ));
        }
        Ok(Region {
            code: self.code.clone(),
            geography: Geography {
                country: city.country.to_owned(),
                province: Some(city.province.to_owned()),
                city: Some(city.id.to_owned()),
            },
            name: LocalizedText {
                en: Some(city.en.to_owned()),
                zh: Some(city.zh.to_owned()),
            },
            aliases: city.aliases.iter().map(|a| (*a).to_owned()).collect(),
        })
    }
}

/// One listing as a partner cloud publishes it: a [`ListingData`] without
/// what the server assigns (id, vendor, provenance) and with a
/// [`PartnerRegion`] instead of a placed region. Unknown fields are refused,
/// so a partner sending `id`, `vendor` or `provenance` learns that it cannot
/// choose them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerListingInput {
    /// The partner's key for the offer, unique within the partner; the
    /// listing id is derived from it. Not blank, no control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
    pub vendor_sku: String,
    /// Category of the taxonomy.
    pub category: Category,
    /// The partner's service (`vm`, `rds`); not blank, no control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub service: String,
    /// Display name: English, Chinese or both.
    pub name: LocalizedText,
    /// Longer description.
    #[serde(default)]
    pub description: LocalizedText,
    /// Where the offer is.
    pub region: PartnerRegion,
    /// Technical specs.
    #[serde(default)]
    pub specs: Specs,
    /// Prices (list prices, shown without logging in).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<super::PriceComponent>))]
    pub prices: Vec<PriceComponentData>,
    /// Free-form tags, at most 64.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, max_items = 64))]
    pub tags: BTreeSet<String>,
    /// `active` (default), or `retired` to take the offer off sale.
    #[serde(default)]
    pub status: ListingStatus,
}

impl PartnerListingInput {
    /// The `provenance.vendor_api` of every partner listing.
    pub const VENDOR_API: &'static str = "partner.listings";

    /// Most tags a partner listing carries.
    pub const MAX_TAGS: usize = 64;

    /// SHA-256 (hex) of the input's canonical JSON: its fields in
    /// declaration order, absent optional fields left out, tags sorted,
    /// amounts as the decimal strings given. The same offer sent again
    /// hashes the same, however the partner's JSON was spaced or ordered.
    pub fn raw_hash(&self) -> String {
        super::hash_json(self)
    }

    /// The listing of this input at `vendor`, received at `received_at`:
    /// id = `ListingId::derive(vendor, vendor_sku)`, vendor = the partner,
    /// provenance = { fetched_at: `received_at`, vendor_api:
    /// [`Self::VENDOR_API`], raw_hash: [`Self::raw_hash`] }. Errors name
    /// the field within the input (`prices[0].amount`, `region.city`); a
    /// caller with a batch prefixes them with `within("listings[3]")`.
    pub fn into_listing(
        self,
        vendor: &PartnerVendorId,
        received_at: DateTime<Utc>,
    ) -> Result<Listing, ValidationError> {
        let raw_hash = self.raw_hash();
        let region = self.region.to_region()?;
        for (field, text) in [
            ("specs.gpu_model", &self.specs.gpu_model),
            ("specs.os", &self.specs.os),
            ("specs.engine", &self.specs.engine),
            ("specs.engine_version", &self.specs.engine_version),
        ] {
            if let Some(text) = text {
                super::check_text(field, text, 64)?;
            }
        }
        if self.tags.len() > Self::MAX_TAGS {
            return Err(ValidationError::new(
                "tags",
                format!("at most {} tags", Self::MAX_TAGS),
            ));
        }
        // A partner publishes its list prices; what the platform pays for
        // an offer is the platform's to record, not the partner's.
        for (i, price) in self.prices.iter().enumerate() {
            let tier_cost = price.tiers.iter().position(|t| t.cost.is_some());
            let field = match (price.cost, tier_cost) {
                (Some(_), _) => format!("prices[{i}].cost"),
                (None, Some(t)) => format!("prices[{i}].tiers[{t}].cost"),
                (None, None) => continue,
            };
            return Err(ValidationError::new(
                field,
                "partner listings carry list prices only",
            ));
        }
        let vendor = VendorRef::from(vendor);
        let data = ListingData {
            id: ListingId::of(&vendor, &self.vendor_sku),
            vendor,
            vendor_sku: self.vendor_sku,
            category: self.category,
            service: self.service,
            name: self.name,
            description: self.description,
            region,
            specs: self.specs,
            prices: self.prices,
            tags: self.tags,
            status: self.status,
            provenance: Provenance {
                fetched_at: received_at,
                vendor_api: Self::VENDOR_API.to_owned(),
                raw_hash,
                price_sources: Vec::new(),
            },
        };
        Listing::try_from(data)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::listing::Vendor;

    fn acme() -> PartnerVendorId {
        PartnerVendorId::from_slug("acme").unwrap()
    }

    fn received() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap()
    }

    fn input_json() -> serde_json::Value {
        json!({
            "vendor_sku": "vm.c2.large@sh-1",
            "category": "compute.vm",
            "service": "vm",
            "name": {"zh": "通用型 c2 大型", "en": "General c2 large"},
            "region": {"code": "sh-1", "country": "cn", "city": "shanghai"},
            "specs": {"vcpu": 2, "memory_gib": "4"},
            "prices": [{
                "billing_mode": "on_demand",
                "unit": "hour",
                "amount": {"amount": "0.3500", "currency": "CNY"}
            }],
            "tags": ["partner", "gpu-free"]
        })
    }

    fn input() -> PartnerListingInput {
        serde_json::from_value(input_json()).unwrap()
    }

    #[test]
    fn the_server_assigns_id_vendor_and_provenance() {
        let given = input();
        let canonical = serde_json::to_vec(&given).unwrap();
        let listing = given.into_listing(&acme(), received()).unwrap();
        assert_eq!(*listing.id(), ListingId::derive(acme(), "vm.c2.large@sh-1"));
        assert!(listing.id().as_str().starts_with("p-acme_"));
        assert_eq!(listing.id().vendor_id(), "p-acme");
        assert_eq!(listing.vendor(), &VendorRef::Partner(acme()));
        assert!(listing.vendor() == acme() && listing.vendor() != Vendor::Aws);
        let provenance = listing.provenance();
        assert_eq!(provenance.fetched_at, received());
        assert_eq!(provenance.vendor_api, "partner.listings");
        assert_eq!(provenance.raw_hash, hex::encode(Sha256::digest(&canonical)));
        assert_eq!(listing.prices()[0].amount().to_string(), "0.3500 CNY");
        assert_eq!(listing.status(), ListingStatus::Active);

        // The listing reads back from its JSON, partner vendor and all.
        let json = serde_json::to_value(&listing).unwrap();
        assert_eq!(json["vendor"], "p-acme");
        assert_eq!(serde_json::from_value::<Listing>(json).unwrap(), listing);
    }

    #[test]
    fn a_misspelt_field_anywhere_is_refused_not_dropped() {
        for (path, value) in [
            ("/specs", json!({"vcpus": 2})),
            ("/name", json!({"zh_cn": "主机"})),
            (
                "/region",
                json!({"code": "sh-1", "country": "cn", "zone": "a"}),
            ),
            (
                "/prices/0",
                json!({"billing_mode": "monthly", "unit": "month",
                "amount": {"amount": "1", "currency": "CNY"}, "discount": "0.1"}),
            ),
        ] {
            let mut given = input_json();
            *given.pointer_mut(path).unwrap() = value;
            let err = serde_json::from_value::<PartnerListingInput>(given).unwrap_err();
            assert!(err.to_string().contains("unknown field"), "{path}: {err}");
        }
    }

    #[test]
    fn the_raw_hash_follows_the_content_not_the_spelling() {
        let a = input();
        // Another order of keys and spacing is the same input.
        let respelled: PartnerListingInput = serde_json::from_str(
            &serde_json::to_string_pretty(&json!({
                "tags": ["gpu-free", "partner"],
                "region": {"city": "shanghai", "country": "cn", "code": "sh-1"},
                "prices": input_json()["prices"],
                "specs": {"memory_gib": "4", "vcpu": 2},
                "name": {"en": "General c2 large", "zh": "通用型 c2 大型"},
                "service": "vm",
                "category": "compute.vm",
                "vendor_sku": "vm.c2.large@sh-1"
            }))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(a.raw_hash(), respelled.raw_hash());
        let mut repriced = input_json();
        repriced["prices"][0]["amount"]["amount"] = json!("0.3600");
        let repriced: PartnerListingInput = serde_json::from_value(repriced).unwrap();
        assert_ne!(a.raw_hash(), repriced.raw_hash());
        // The same input at the same time is the same listing.
        assert_eq!(
            a.clone().into_listing(&acme(), received()).unwrap(),
            a.into_listing(&acme(), received()).unwrap()
        );
    }

    #[test]
    fn another_partner_gets_another_id_for_the_same_sku() {
        let other = PartnerVendorId::from_slug("other-cloud").unwrap();
        let a = input().into_listing(&acme(), received()).unwrap();
        let b = input().into_listing(&other, received()).unwrap();
        assert_ne!(a.id(), b.id());
        assert_eq!(b.id().vendor_id(), "p-other-cloud");
        assert_ne!(a.content_fingerprint(), b.content_fingerprint());
    }

    #[test]
    fn a_city_places_the_region_with_its_names() {
        let listing = input().into_listing(&acme(), received()).unwrap();
        let region = listing.region();
        assert_eq!(region.code, "sh-1");
        assert_eq!(region.geography.to_string(), "cn/shanghai");
        assert_eq!(region.geography.province.as_deref(), Some("shanghai"));
        assert_eq!(region.name.zh.as_deref(), Some("上海"));
        assert!(region.search_text().contains("Shanghai"));

        let mut countrywide = input_json();
        countrywide["region"] = json!({"code": "eu-central", "country": "de"});
        let listing: PartnerListingInput = serde_json::from_value(countrywide).unwrap();
        let listing = listing.into_listing(&acme(), received()).unwrap();
        assert_eq!(listing.region().geography.to_string(), "de");
        assert!(listing.region().name.is_empty());
    }

    #[test]
    fn bad_input_is_refused_with_the_field_path() {
        let cases: [(&str, serde_json::Value, &str); 13] = [
            ("/vendor_sku", json!("  "), "vendor_sku"),
            ("/service", json!("vm\u{7}"), "service"),
            ("/name", json!({}), "name"),
            ("/region/code", json!(""), "region.code"),
            ("/region/country", json!("CN"), "region.country"),
            ("/region/city", json!("atlantis"), "region.city"),
            ("/region/city", json!("frankfurt"), "region.city"),
            ("/prices/0/amount/amount", json!("-1"), "prices[0].amount"),
            ("/specs", json!({"os": "linux\n"}), "specs.os"),
            ("/specs", json!({"memory_gib": "-4"}), "specs.memory_gib"),
            ("/tags", json!([" "]), "tags"),
            (
                "/prices/0",
                json!({"billing_mode": "on_demand", "unit": "hour",
                "amount": {"amount": "0.35", "currency": "CNY"},
                "cost": {"amount": "0.3", "currency": "CNY"}}),
                "prices[0].cost",
            ),
            (
                "/prices/0",
                json!({"billing_mode": "on_demand", "unit": "gb",
                "amount": {"amount": "0.35", "currency": "CNY"},
                "tiers": [{"from": "0", "amount": {"amount": "0.35", "currency": "CNY"},
                "cost": {"amount": "0.3", "currency": "CNY"}}]}),
                "prices[0].tiers[0].cost",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut json = input_json();
            match json.pointer_mut(pointer) {
                Some(slot) => *slot = value,
                None => panic!("{pointer}"),
            }
            let input: PartnerListingInput = serde_json::from_value(json).unwrap();
            let err = input.into_listing(&acme(), received()).unwrap_err();
            assert_eq!(err.field_name(), field, "{pointer}: {err}");
            let err = err.within("listings[2]");
            assert_eq!(err.field_name(), format!("listings[2].{field}"));
        }
        let mut many = input_json();
        many["tags"] = json!((0..65).map(|i| format!("t{i}")).collect::<Vec<_>>());
        let many: PartnerListingInput = serde_json::from_value(many).unwrap();
        let err = many.into_listing(&acme(), received()).unwrap_err();
        assert_eq!(err.field_name(), "tags");
    }

    #[test]
    fn a_partner_cannot_choose_what_the_server_assigns() {
        for (key, value) in [
            ("id", json!("p-acme_0123456789abcdef0123")),
            ("vendor", json!("aws")),
            ("provenance", json!({})),
            ("colour", json!("blue")),
        ] {
            let mut json = input_json();
            json[key] = value;
            let err = serde_json::from_value::<PartnerListingInput>(json).unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
        let mut json = input_json();
        json["region"]["zone"] = json!("a");
        assert!(serde_json::from_value::<PartnerListingInput>(json).is_err());
    }
}
