//! OpenAPI schemas of the types whose JSON form is hand-written (strings that
//! carry a rule, money as an object with a string amount).
//!
//! Each string rule that a parser in this crate enforces is stated here as a
//! `pattern` or an `enum`, so the document promises exactly what the parser
//! accepts; the tests generate strings from each pattern and parse them.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::listing::{
    BillingMode, CATEGORY_FAMILIES, Category, Listing, ListingData, ListingId, PartnerVendorId,
    Vendor, VendorRef,
};
use crate::money::{Currency, Money};

/// A decimal string every reader of this crate parses exactly: at most 28
/// integer digits, so no value overflows `rust_decimal`. (The parser also takes
/// scientific notation and a few other spellings that vendors send; the
/// document promises only this plain form.)
const DECIMAL: &str = r"-?[0-9]{1,28}(\.[0-9]{1,28})?";

/// `reserved_<months>m` with months 1 to 65535 (a `u16` above zero).
const RESERVED_MONTHS: &str =
    r"\+?0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";

fn category_pattern_body() -> String {
    format!(r"({})\.[a-z0-9_]{{1,48}}", CATEGORY_FAMILIES.join("|"))
}

/// `p-` and a slug of 2 to 32 of `a-z`, `0-9`, `-`, not starting or ending with `-`.
const PARTNER_VENDOR_ID: &str = "p-[a-z0-9][a-z0-9-]{0,30}[a-z0-9]";

fn vendor_ref_pattern_body() -> String {
    let mut vendors: Vec<&str> = Vendor::ALL.iter().map(|v| v.id()).collect();
    vendors.push(PARTNER_VENDOR_ID);
    vendors.join("|")
}

fn listing_id_pattern_body() -> String {
    format!("({})_[0-9a-f]{{20}}", vendor_ref_pattern_body())
}

fn billing_mode_pattern_body() -> String {
    format!("on_demand|monthly|yearly|spot|reserved_{RESERVED_MONTHS}m")
}

fn anchored(body: &str) -> String {
    format!("^({body})$")
}

fn string_schema(description: &str, example: &str, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(anchored(pattern)))
        .examples([serde_json::Value::String(example.to_owned())])
        .into()
}

impl PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("ISO 4217 currency code"))
            .enum_values(Some(Currency::all().map(|c| c.code().to_owned())))
            .examples([serde_json::json!("CNY")])
            .into()
    }
}
impl ToSchema for Currency {}

impl PartialSchema for VendorRef {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "vendor id: a built-in vendor (`aws`, `alibaba`, …) or a partner vendor `p-<slug>`",
            "alibaba",
            &vendor_ref_pattern_body(),
        )
    }
}
impl ToSchema for VendorRef {}

impl PartialSchema for PartnerVendorId {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "partner vendor id: `p-` and a slug of 2 to 32 of a-z, 0-9 and `-`, \
             not starting or ending with `-`",
            "p-acme",
            PARTNER_VENDOR_ID,
        )
    }
}
impl ToSchema for PartnerVendorId {}

impl PartialSchema for ListingId {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "listing id: `<vendor>_<20 hex digits>`",
            "alibaba_0123456789abcdef0123",
            &listing_id_pattern_body(),
        )
    }
}
impl ToSchema for ListingId {}

impl PartialSchema for Category {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "taxonomy category `<family>.<kind>`",
            "compute.vm",
            &category_pattern_body(),
        )
    }
}
impl ToSchema for Category {}

impl PartialSchema for BillingMode {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "`on_demand`, `monthly`, `yearly`, `spot` or `reserved_<months>m`",
            "on_demand",
            &billing_mode_pattern_body(),
        )
    }
}
impl ToSchema for BillingMode {}

/// The schema of an exact decimal carried as a JSON string (`"0.4200"`), for
/// fields typed `Decimal`: `#[schema(value_type = DecimalString)]`.
pub(crate) struct DecimalString;

impl PartialSchema for DecimalString {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "an exact decimal number as a string with up to 28 significant digits \
                 (leading zeros aside); a longer one is refused, never rounded",
            ))
            .pattern(Some(anchored(DECIMAL)))
            .examples([serde_json::json!("0.4200")])
            .into()
    }
}
impl ToSchema for DecimalString {}

impl PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "an exact amount: decimal string plus ISO 4217 currency",
            ))
            .property("amount", DecimalString::schema())
            .required("amount")
            .property("currency", Currency::schema())
            .required("currency")
            .into()
    }
}
impl ToSchema for Money {}

impl PartialSchema for Listing {
    fn schema() -> RefOr<Schema> {
        ListingData::schema()
    }
}
impl ToSchema for Listing {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Listing")
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        ListingData::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::string::string_regex;

    use super::*;

    fn pattern_strings(body: &str) -> proptest::string::RegexGeneratorStrategy<String> {
        string_regex(body).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    proptest! {
        #[test]
        fn documented_listing_ids_parse(id in pattern_strings(&listing_id_pattern_body())) {
            prop_assert!(ListingId::parse(&id).is_ok(), "{id}");
        }

        #[test]
        fn documented_vendor_ids_parse(id in pattern_strings(&vendor_ref_pattern_body())) {
            prop_assert!(VendorRef::parse(&id).is_ok(), "{id}");
        }

        #[test]
        fn documented_partner_vendor_ids_parse(id in pattern_strings(PARTNER_VENDOR_ID)) {
            prop_assert!(PartnerVendorId::parse(&id).is_ok(), "{id}");
            prop_assert!(VendorRef::parse(&id).is_ok_and(|v| v.is_partner()), "{id}");
        }

        #[test]
        fn documented_categories_parse(category in pattern_strings(&category_pattern_body())) {
            prop_assert!(Category::parse(&category).is_ok(), "{category}");
        }

        #[test]
        fn documented_billing_modes_parse(mode in pattern_strings(&billing_mode_pattern_body())) {
            prop_assert!(BillingMode::parse(&mode).is_ok(), "{mode}");
        }

        #[test]
        fn documented_decimals_parse_as_money(amount in pattern_strings(DECIMAL)) {
            let digits: String = amount.chars().filter(char::is_ascii_digit).collect();
            let significant = digits.trim_start_matches('0').len();
            let json = serde_json::json!({"amount": amount, "currency": "CNY"});
            let parsed = serde_json::from_value::<Money>(json).is_ok();
            // Up to 28 significant digits always fit; 30 or more never do
            // (29 fit only below 2^96, as the description's "refused" allows).
            if significant <= 28 {
                prop_assert!(parsed, "{}", amount);
            } else if significant >= 30 {
                prop_assert!(!parsed, "{}", amount);
            }
        }
    }

    #[test]
    fn every_category_family_is_documented_and_no_other() {
        for family in CATEGORY_FAMILIES {
            assert!(Category::parse(&format!("{family}.x")).is_ok(), "{family}");
        }
        for known in crate::listing::KNOWN_CATEGORIES {
            let family = known.split('.').next().unwrap_or_default();
            assert!(CATEGORY_FAMILIES.contains(&family), "{known}");
        }
        assert!(Category::parse("weather.vm").is_err());
        assert!(Category::parse(&format!("compute.{}", "x".repeat(49))).is_err());
    }

    #[test]
    fn reserved_terms_outside_u16_are_not_documented_and_not_parsed() {
        for (text, ok) in [
            ("reserved_65535m", true),
            ("reserved_65536m", false),
            ("reserved_0m", false),
            ("reserved_+12m", true),
        ] {
            assert_eq!(BillingMode::parse(text).is_ok(), ok, "{text}");
        }
    }
}
