//! Exact numbers from vendor JSON: a JSON number or a numeric string goes
//! straight from its text into `Decimal`, never through `f64`.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use shiyun_core::money::parse_decimal;

/// A decimal read exactly from a JSON number (`3712.8`, `1e-7`) or string (`"0.1380000000"`).
///
/// Works with `serde_json` only (it reads the raw JSON text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExactDecimal(pub Decimal);

/// Parses the raw JSON text of a number or a numeric string.
pub fn decimal_from_json_text(raw: &str) -> Result<Decimal, String> {
    let raw = raw.trim();
    let text: std::borrow::Cow<'_, str> = if raw.starts_with('"') {
        serde_json::from_str::<String>(raw)
            .map_err(|e| format!("bad string {raw}: {e}"))?
            .into()
    } else {
        raw.into()
    };
    parse_decimal(&text).map_err(|_| format!("`{text}` is not a number"))
}

impl<'de> Deserialize<'de> for ExactDecimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        decimal_from_json_text(raw.get())
            .map(ExactDecimal)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[derive(Deserialize)]
    struct Row {
        a: ExactDecimal,
        b: Option<ExactDecimal>,
    }

    #[test]
    fn numbers_and_strings_are_exact() {
        let row: Row = serde_json::from_str(r#"{"a": 3712.8, "b": "0.1380000000"}"#).unwrap();
        assert_eq!(row.a.0, dec!(3712.8));
        assert_eq!(row.b.unwrap().0.to_string(), "0.1380000000");
        // 0.1 + 0.2 style values that f64 cannot hold.
        let row: Row = serde_json::from_str(r#"{"a": 0.30000000000000004441, "b": null}"#).unwrap();
        assert_eq!(row.a.0.to_string(), "0.30000000000000004441");
        assert!(row.b.is_none());
        let row: Row = serde_json::from_str(r#"{"a": 2.5E-7}"#).unwrap();
        assert_eq!(row.a.0, dec!(0.00000025));
    }

    #[test]
    fn non_numbers_are_errors() {
        assert!(serde_json::from_str::<Row>(r#"{"a": "abc"}"#).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"a": true}"#).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"a": "Inf"}"#).is_err());
    }
}
