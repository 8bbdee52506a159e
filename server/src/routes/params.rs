//! Query parameters of the search routes: read as text and parsed here,
//! so every bad value answers 400 naming its parameter, and documented
//! by schemas built from the same rules (a list's pattern is its item's
//! pattern repeated), so the document promises exactly what is accepted.

use std::str::FromStr;

use rust_decimal::Decimal;
use shiyun_core::listing::{Architecture, BillingMode, CATEGORY_FAMILIES, Category, VendorRef};
use shiyun_core::money::Currency;
use shiyun_search::{FacetField, SortOrder};
use utoipa::PartialSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::error::{ApiError, ApiResult};

/// Longest free-text list parameter (`region=…`), in characters.
pub const MAX_TEXT_LIST_CHARS: usize = 512;

/// The architectures a filter names.
const ARCHITECTURES: [Architecture; 3] = [
    Architecture::X86_64,
    Architecture::Arm64,
    Architecture::Power,
];

/// The billing modes with an indexed price, in the order the index prefers
/// them for a listing's headline price.
pub const PRICE_MODES: [&str; 6] = [
    "on_demand",
    "monthly",
    "yearly",
    "spot",
    "reserved_12m",
    "reserved_36m",
];

/// Characters a free-text value may not hold (`char::is_control`).
const NO_CONTROL: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// The body of the anchored pattern `^(body)$` of a schema built by core.
fn pattern_body(schema: RefOr<Schema>) -> String {
    let pattern = match schema {
        RefOr::T(Schema::Object(object)) => object.pattern.unwrap_or_default(),
        _ => String::new(),
    };
    pattern
        .strip_prefix("^(")
        .and_then(|p| p.strip_suffix(")$"))
        .unwrap_or(&pattern)
        .to_owned()
}

/// `^(item(,item)*)?$`: a comma-separated list of `item`, or nothing.
fn list_pattern(item: &str) -> String {
    format!("^(({item})(,({item}))*)?$")
}

fn list_schema(description: &str, example: &str, item: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(list_pattern(item)))
        .examples([serde_json::Value::String(example.to_owned())])
        .into()
}

fn alternatives<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join("|")
}

fn architecture_text(architecture: Architecture) -> String {
    serde_json::to_value(architecture)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Schema of `vendor`.
pub fn vendor_list() -> RefOr<Schema> {
    list_schema(
        "vendor ids, comma-separated",
        "aws,alibaba",
        &pattern_body(VendorRef::schema()),
    )
}

fn category_item() -> String {
    format!(
        "{}|({})\\.\\*",
        pattern_body(Category::schema()),
        CATEGORY_FAMILIES.join("|")
    )
}

/// Schema of `category`.
pub fn category_list() -> RefOr<Schema> {
    list_schema(
        "categories, comma-separated; `<family>.*` takes a whole family",
        "compute.vm,database.*",
        &category_item(),
    )
}

/// Schema of `billing_mode`.
pub fn billing_mode_list() -> RefOr<Schema> {
    list_schema(
        "billing modes a listing must have a price in, comma-separated",
        "on_demand,monthly",
        &pattern_body(BillingMode::schema()),
    )
}

/// Schema of `architecture`.
pub fn architecture_list() -> RefOr<Schema> {
    let names: Vec<String> = ARCHITECTURES.into_iter().map(architecture_text).collect();
    list_schema(
        "CPU architectures, comma-separated",
        "x86_64,arm64",
        &alternatives(names.iter().map(String::as_str)),
    )
}

/// Schema of `facets`.
pub fn facet_list() -> RefOr<Schema> {
    list_schema(
        "fields to count values of, comma-separated",
        "vendor,category",
        &alternatives(FacetField::ALL.iter().map(|f| f.as_str())),
    )
}

/// Schema of a free-text list (`service`, `region`, …).
pub fn text_list() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "values, comma-separated; blanks around them are ignored",
        ))
        .max_length(Some(MAX_TEXT_LIST_CHARS))
        .pattern(Some(NO_CONTROL))
        .into()
}

/// Schema of a decimal parameter (`memory_min=7.5`).
pub fn decimal() -> RefOr<Schema> {
    let pattern = pattern_body(shiyun_search::openapi::DecimalString::schema());
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("an exact decimal number"))
        .pattern(Some(format!("^({pattern})$")))
        .examples([serde_json::json!("8")])
        .into()
}

/// Schema of `price_mode`.
pub fn price_mode() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("a billing mode with an indexed price"))
        .enum_values(Some(PRICE_MODES))
        .into()
}

/// Hex digits of a sort key (an `i128`, `m` marking a negative one) and
/// of a tie-break (a `u64`).
const CURSOR: &str = r"^(m?[0-7]?[0-9a-f]{1,31}|m80{31})\.[0-9a-f]{1,16}$";

/// Schema of a search `cursor`.
pub fn cursor() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "`next_cursor` of the previous page: where the page ends in the requested order",
        ))
        .pattern(Some(CURSOR))
        .into()
}

/// The values of a comma-separated list whose items follow a pattern:
/// nothing for an empty value, else every item, none blank.
fn strict_items(text: Option<&str>) -> impl Iterator<Item = &str> {
    text.filter(|t| !t.is_empty())
        .into_iter()
        .flat_map(|t| t.split(','))
}

/// A comma-separated list of vendor ids.
pub fn vendors(field: &str, text: Option<&str>) -> ApiResult<Vec<VendorRef>> {
    strict_items(text)
        .map(|item| {
            VendorRef::parse(item)
                .map_err(|_| ApiError::invalid(field, format!("`{item}` is not a vendor id")))
        })
        .collect()
}

/// A comma-separated list of categories or `<family>.*`.
pub fn categories(field: &str, text: Option<&str>) -> ApiResult<Vec<String>> {
    strict_items(text)
        .map(|item| {
            let known = match item.strip_suffix(".*") {
                Some(family) => CATEGORY_FAMILIES.contains(&family),
                None => Category::parse(item).is_ok(),
            };
            if known {
                Ok(item.to_owned())
            } else {
                Err(ApiError::invalid(
                    field,
                    format!("`{item}` is not a category or `<family>.*`"),
                ))
            }
        })
        .collect()
}

/// A comma-separated list of billing modes.
pub fn billing_modes(field: &str, text: Option<&str>) -> ApiResult<Vec<BillingMode>> {
    strict_items(text)
        .map(|item| {
            BillingMode::parse(item)
                .map_err(|_| ApiError::invalid(field, format!("`{item}` is not a billing mode")))
        })
        .collect()
}

/// A comma-separated list of architectures, as the index writes them.
pub fn architectures(field: &str, text: Option<&str>) -> ApiResult<Vec<String>> {
    let names: Vec<String> = ARCHITECTURES.into_iter().map(architecture_text).collect();
    strict_items(text)
        .map(|item| {
            if names.iter().any(|n| n == item) {
                Ok(item.to_owned())
            } else {
                Err(ApiError::invalid(
                    field,
                    format!("`{item}` is not one of {}", names.join(", ")),
                ))
            }
        })
        .collect()
}

/// A comma-separated list of facet fields, each once.
pub fn facets(field: &str, text: Option<&str>) -> ApiResult<Vec<FacetField>> {
    let mut out: Vec<FacetField> = Vec::new();
    for item in strict_items(text) {
        let facet = FacetField::parse(item).ok_or_else(|| {
            let names: Vec<&str> = FacetField::ALL.iter().map(|f| f.as_str()).collect();
            ApiError::invalid(
                field,
                format!("`{item}` is not one of {}", names.join(", ")),
            )
        })?;
        if !out.contains(&facet) {
            out.push(facet);
        }
    }
    Ok(out)
}

/// A comma-separated list of free-text values, trimmed, blanks dropped;
/// `lowercase` for ids that are lowercase in the catalog.
pub fn texts(field: &str, text: Option<&str>, lowercase: bool) -> ApiResult<Vec<String>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    if text.chars().count() > MAX_TEXT_LIST_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {MAX_TEXT_LIST_CHARS} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            if lowercase {
                v.to_lowercase()
            } else {
                v.to_owned()
            }
        })
        .collect())
}

/// A decimal in the documented spelling (`-?[0-9]{1,28}(\.[0-9]{1,28})?`);
/// digits past what a decimal holds are rounded away, never refused.
pub fn decimal_value(field: &str, text: Option<&str>) -> ApiResult<Option<Decimal>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let bad = || ApiError::invalid(field, format!("`{text}` is not a decimal number"));
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits =
        |part: &str| (1..=28).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return Err(bad());
    }
    Decimal::from_str(text).map(Some).map_err(|_| bad())
}

/// An integer within `min..=max`.
pub fn integer(field: &str, text: Option<&str>, min: u32, max: u32) -> ApiResult<Option<u32>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let bad = || ApiError::invalid(field, format!("must be an integer from {min} to {max}"));
    // Only plain digits: `u32::from_str` would take a leading `+` the schema does not.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let value: u32 = text.parse().map_err(|_| bad())?;
    if value < min || value > max {
        return Err(bad());
    }
    Ok(Some(value))
}

/// `true` or `false`.
pub fn boolean(field: &str, text: Option<&str>) -> ApiResult<Option<bool>> {
    match text {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid(
            field,
            format!("`{other}` is not `true` or `false`"),
        )),
    }
}

/// A currency code, or `default`.
pub fn currency(field: &str, text: Option<&str>, default: Currency) -> ApiResult<Currency> {
    match text {
        None => Ok(default),
        Some(code) => Currency::parse(code)
            .map_err(|_| ApiError::invalid(field, format!("`{code}` is not a known currency"))),
    }
}

/// A billing mode with an indexed price.
pub fn price_mode_value(field: &str, text: Option<&str>) -> ApiResult<Option<BillingMode>> {
    let Some(text) = text else {
        return Ok(None);
    };
    if !PRICE_MODES.contains(&text) {
        return Err(ApiError::invalid(
            field,
            format!("`{text}` is not one of {}", PRICE_MODES.join(", ")),
        ));
    }
    BillingMode::parse(text)
        .map(Some)
        .map_err(|_| ApiError::invalid(field, format!("`{text}` is not a billing mode")))
}

/// A result order.
pub fn sort(field: &str, text: Option<&str>) -> ApiResult<SortOrder> {
    match text {
        None => Ok(SortOrder::Relevance),
        Some(name) => SortOrder::parse(name)
            .ok_or_else(|| ApiError::invalid(field, format!("`{name}` is not a known order"))),
    }
}

/// Checks a cursor's shape (see [`cursor`]) without the regex engine.
pub fn cursor_value(field: &str, text: Option<&str>) -> ApiResult<Option<String>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let bad = || ApiError::invalid(field, "is not a cursor from this API");
    let (key, id) = text.split_once('.').ok_or_else(bad)?;
    let hex = |s: &str, max: usize| {
        (1..=max).contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let magnitude = key.strip_prefix('m').unwrap_or(key);
    // 32 digits fit an i128 below 8…; a negative one may reach 8 and 31 zeros.
    let fits = hex(magnitude, 32)
        && (magnitude.len() < 32
            || magnitude.as_bytes()[0] < b'8'
            || (key.starts_with('m')
                && magnitude[1..].bytes().all(|b| b == b'0')
                && magnitude.as_bytes()[0] == b'8'));
    if !fits || !hex(id, 16) {
        return Err(bad());
    }
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns_repeat_the_items_pattern() {
        let vendor = pattern_body(VendorRef::schema());
        assert!(vendor.contains("alibaba"), "{vendor}");
        assert_eq!(list_pattern("a|b"), "^((a|b)(,(a|b))*)?$");
        assert!(category_item().contains(r"\.\*"));
    }

    #[test]
    fn lists_take_exactly_their_items() {
        assert_eq!(vendors("vendor", Some("aws,p-acme")).unwrap().len(), 2);
        assert!(vendors("vendor", Some("")).unwrap().is_empty());
        assert!(vendors("vendor", Some("aws,")).is_err());
        assert!(vendors("vendor", Some("aws, alibaba")).is_err());
        assert_eq!(
            categories("category", Some("compute.vm,database.*")).unwrap(),
            ["compute.vm", "database.*"]
        );
        assert!(categories("category", Some("weather.*")).is_err());
        assert_eq!(architectures("a", Some("x86_64,arm64")).unwrap().len(), 2);
        assert_eq!(
            facets("facets", Some("vendor,vendor,os")).unwrap(),
            [FacetField::Vendor, FacetField::Os]
        );
        let err = facets("facets", Some("vendor,colour")).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        assert_eq!(
            texts("region", Some(" cn-shanghai, ,us-east-1"), false).unwrap(),
            ["cn-shanghai", "us-east-1"]
        );
        assert!(texts("region", Some("a\u{0}b"), false).is_err());
    }

    #[test]
    fn decimals_of_the_documented_spelling_all_parse() {
        let long = format!("{}.{}", "9".repeat(28), "1".repeat(28));
        for good in [
            "0",
            "-0",
            "7.5",
            "-12.25",
            long.as_str(),
            "0.0000000000000000000000000001",
        ] {
            assert!(decimal_value("x", Some(good)).unwrap().is_some(), "{good}");
        }
        for bad in ["", "1e3", "+1", ".5", "5.", "1,5", "0x10", &"9".repeat(29)] {
            assert!(decimal_value("x", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors_of_the_documented_shape_pass() {
        for good in [
            "0.0",
            "m1f.a",
            "7fffffffffffffffffffffffffffffff.ffffffffffffffff",
            "m80000000000000000000000000000000.1",
        ] {
            assert!(cursor_value("cursor", Some(good)).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1",
            "g.1",
            "80000000000000000000000000000000.1",
            "m80000000000000000000000000000001.1",
            "1.10000000000000000",
            "A.1",
        ] {
            assert!(cursor_value("cursor", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_are_plain_digits_within_bounds() {
        assert_eq!(integer("limit", Some("100"), 1, 100).unwrap(), Some(100));
        for bad in ["0", "101", "+5", "-1", "", "1.0", "99999999999"] {
            assert!(integer("limit", Some(bad), 1, 100).is_err(), "{bad}");
        }
    }
}
