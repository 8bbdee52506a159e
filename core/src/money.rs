//! Exact money: a [`Decimal`] amount with its ISO 4217 [`Currency`].
//!
//! Rule: rate at full precision, round once (per invoice line) to the
//! currency's minor unit with [`Money::round`]. Amounts in different
//! currencies are never added. No binary floating point goes in or out.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CodedError, ErrorCode, ValidationError};

/// ISO 4217 codes known to Shiyun with their minor-unit exponent.
///
/// The list covers the currencies cloud vendors bill in plus the three-decimal
/// ones finance must handle correctly.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("MOP", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PLN", 2),
    ("QAR", 2),
    ("RUB", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// An ISO 4217 currency with its minor-unit exponent (JPY 0, USD 2, KWD 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    minor_units: u8,
}

impl Currency {
    /// US dollar.
    pub const USD: Currency = Currency::known(*b"USD", 2);
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency::known(*b"CNY", 2);
    /// Euro.
    pub const EUR: Currency = Currency::known(*b"EUR", 2);
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency::known(*b"JPY", 0);
    /// Kuwaiti dinar (three decimals).
    pub const KWD: Currency = Currency::known(*b"KWD", 3);

    const fn known(code: [u8; 3], minor_units: u8) -> Self {
        Currency { code, minor_units }
    }

    /// Parses an ISO 4217 alphabetic code (upper case, e.g. `CNY`).
    pub fn parse(code: &str) -> Result<Self, ValidationError> {
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(known, minor)| {
                let bytes = known.as_bytes();
                Currency {
                    code: [bytes[0], bytes[1], bytes[2]],
                    minor_units: *minor,
                }
            })
            .ok_or_else(|| ValidationError::new("currency", format!("unknown currency `{code}`")))
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes come from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Number of digits after the decimal point in the minor unit.
    pub fn minor_units(&self) -> u32 {
        u32::from(self.minor_units)
    }

    /// Every currency this build knows.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES
            .iter()
            .filter_map(|(code, _)| Currency::parse(code).ok())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// How to round to a currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Half away from zero: what invoices and Chinese finance (四舍五入) expect.
    #[default]
    HalfUp,
    /// Banker's rounding, for ledgers that require it.
    HalfEven,
}

/// Errors of money arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Two currencies were mixed.
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch {
        /// The left operand's currency.
        left: Currency,
        /// The right operand's currency.
        right: Currency,
    },
    /// The result does not fit a decimal (96-bit mantissa).
    #[error("amount overflow")]
    Overflow,
}

impl CodedError for MoneyError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }
    fn field(&self) -> Option<&str> {
        Some(match self {
            MoneyError::CurrencyMismatch { .. } => "currency",
            MoneyError::Overflow => "amount",
        })
    }
}

/// An exact amount of one currency. Fields are private: build it with
/// [`Money::new`] or [`Money::parse`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// An amount at any precision (rating keeps full precision).
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        let mut amount = amount;
        if amount.is_zero() {
            // `-0.00` and `0.00` must serialise alike.
            amount.set_sign_positive(true);
        }
        Money { amount, currency }
    }

    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Self {
        Money::new(Decimal::ZERO, currency)
    }

    /// Parses a plain decimal string (`"0.1380000000"`, `"-3"`, `"1e-3"`) exactly.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, ValidationError> {
        parse_decimal(amount).map(|d| Money::new(d, currency))
    }

    /// An amount given in the currency's minor units (fen, cents): `1360` fen is 13.60 CNY.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money::new(Decimal::new(minor, currency.minor_units()), currency)
    }

    /// The amount at its full precision.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// True when the amount is below zero.
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    /// True when the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`, refusing to mix currencies.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(sum, self.currency))
    }

    /// `self - other`, refusing to mix currencies.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let diff = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(diff, self.currency))
    }

    /// `self × quantity` at full precision (a unit price times usage).
    pub fn checked_mul(&self, quantity: Decimal) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(quantity)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(product, self.currency))
    }

    /// `self ÷ divisor` at full precision (a term total spread over hours).
    pub fn checked_div(&self, divisor: Decimal) -> Result<Money, MoneyError> {
        let quotient = self
            .amount
            .checked_div(divisor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(quotient, self.currency))
    }

    /// The amount rounded to the currency's minor unit: the one rounding function.
    pub fn round(&self, mode: RoundingMode) -> Money {
        let strategy = match mode {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
        };
        let rounded = self
            .amount
            .round_dp_with_strategy(self.currency.minor_units(), strategy);
        Money::new(rounded, self.currency)
    }

    /// The amount in minor units after half-up rounding, if it fits an `i64`.
    pub fn to_minor(&self) -> Option<i64> {
        let rounded = self.round(RoundingMode::HalfUp).amount;
        let scaled = rounded.checked_mul(Decimal::from(10_i64.pow(self.currency.minor_units())))?;
        i64::try_from(scaled.trunc()).ok()
    }
}

/// Parses a decimal string exactly, accepting scientific notation (`2.5E-7`)
/// that some vendors emit, and nothing that is not a number.
pub fn parse_decimal(text: &str) -> Result<Decimal, ValidationError> {
    let text = text.trim();
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    parsed.map_err(|_| ValidationError::new("amount", format!("`{text}` is not a decimal number")))
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Parses the one decimal spelling that the JSON API documents and the store
/// writes: an optional minus, digits, and an optional fraction
/// (`-?[0-9]{1,28}(\.[0-9]{1,28})?`). Vendor spellings (`2.5E-7`, `+1`, `.5`)
/// go through [`parse_decimal`] in the connectors instead.
pub fn parse_plain_decimal(text: &str) -> Result<Decimal, ValidationError> {
    let invalid =
        || ValidationError::new("amount", format!("`{text}` is not a plain decimal string"));
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits_ok =
        |part: &str| (1..=28).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(whole) || !fraction.is_none_or(digits_ok) {
        return Err(invalid());
    }
    Decimal::from_str_exact(text).map_err(|_| invalid())
}

#[derive(Serialize)]
struct MoneyRepr {
    #[serde(with = "rust_decimal::serde::str")]
    amount: Decimal,
    currency: Currency,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyText {
    amount: String,
    currency: Currency,
}

/// Serialised as `{"amount": "0.42", "currency": "CNY"}`: the amount is a
/// string so no JSON reader turns it into a float.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MoneyRepr {
            amount: self.amount,
            currency: self.currency,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = MoneyText::deserialize(deserializer)?;
        let amount = parse_plain_decimal(&text.amount).map_err(serde::de::Error::custom)?;
        Ok(Money::new(amount, text.currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn json_amounts_take_only_the_documented_spelling() {
        for good in [
            "0",
            "-1.50",
            "0.000000000001",
            "1234567890123456789012345678",
        ] {
            let json = format!(r#"{{"amount":"{good}","currency":"CNY"}}"#);
            assert!(serde_json::from_str::<Money>(&json).is_ok(), "{good}");
        }
        for bad in [
            "", "+1", ".5", "5.", "1_000", "1e5", " 1", "1.2.3", "--1", "0x10", "1.5 ",
        ] {
            let json = format!(r#"{{"amount":"{bad}","currency":"CNY"}}"#);
            assert!(serde_json::from_str::<Money>(&json).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn currencies_carry_their_minor_units() {
        assert_eq!(Currency::parse("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::parse("USD").unwrap().minor_units(), 2);
        assert_eq!(Currency::parse("CNY").unwrap().minor_units(), 2);
        assert_eq!(Currency::parse("KWD").unwrap().minor_units(), 3);
        let err = Currency::parse("XYZ").unwrap_err();
        assert_eq!(err.field_name(), "currency");
        assert!(Currency::parse("usd").is_err(), "codes are upper case");
    }

    #[test]
    fn arithmetic_refuses_to_mix_currencies() {
        let usd = Money::new(dec!(1.50), Currency::USD);
        let cny = Money::new(dec!(1.50), Currency::CNY);
        assert_eq!(
            usd.checked_add(&cny),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::USD,
                right: Currency::CNY
            })
        );
        assert!(usd.checked_sub(&cny).is_err());
        let sum = usd.checked_add(&usd).unwrap();
        assert_eq!(sum.amount(), dec!(3.00));
    }

    #[test]
    fn rounding_is_half_up_by_default_and_half_even_on_request() {
        let m = Money::new(dec!(2.345), Currency::USD);
        assert_eq!(m.round(RoundingMode::default()).amount(), dec!(2.35));
        assert_eq!(m.round(RoundingMode::HalfEven).amount(), dec!(2.34));
        let neg = Money::new(dec!(-2.345), Currency::USD);
        assert_eq!(neg.round(RoundingMode::HalfUp).amount(), dec!(-2.35));
        let yen = Money::new(dec!(100.5), Currency::JPY);
        assert_eq!(yen.round(RoundingMode::HalfUp).amount(), dec!(101));
        assert_eq!(yen.round(RoundingMode::HalfEven).amount(), dec!(100));
        let kwd = Money::new(dec!(1.23456), Currency::KWD);
        assert_eq!(kwd.round(RoundingMode::HalfUp).amount(), dec!(1.235));
    }

    #[test]
    fn minor_units_scale_both_ways() {
        let fen = Money::from_minor(1360, Currency::CNY);
        assert_eq!(fen.amount(), dec!(13.60));
        assert_eq!(fen.to_minor(), Some(1360));
        assert_eq!(Money::from_minor(7, Currency::JPY).amount(), dec!(7));
    }

    #[test]
    fn parse_is_exact_and_rejects_non_numbers() {
        let m = Money::parse("0.1380000000", Currency::USD).unwrap();
        assert_eq!(m.amount().to_string(), "0.1380000000");
        assert_eq!(
            Money::parse("2.5E-7", Currency::USD).unwrap().amount(),
            dec!(0.00000025)
        );
        assert!(Money::parse("abc", Currency::USD).is_err());
        assert!(Money::parse("", Currency::USD).is_err());
        assert!(Money::parse("NaN", Currency::USD).is_err());
    }

    #[test]
    fn json_form_uses_string_amounts_and_rejects_floats() {
        let m = Money::parse("3712.80", Currency::CNY).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"3712.80","currency":"CNY"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"ABC"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":1.5,"currency":"USD"}"#).is_err());
    }

    proptest! {
        #[test]
        fn json_round_trip_is_exact(mantissa in any::<i64>(), scale in 0u32..=18, idx in 0usize..CURRENCIES.len()) {
            let currency = Currency::parse(CURRENCIES[idx].0).unwrap();
            let m = Money::new(Decimal::new(mantissa, scale), currency);
            let back: Money = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            prop_assert_eq!(back.amount(), m.amount());
            prop_assert_eq!(back.amount().scale(), m.amount().scale());
            prop_assert_eq!(back.currency(), currency);
        }

        #[test]
        fn rounding_lands_on_the_minor_unit(mantissa in any::<i64>(), scale in 0u32..=12, idx in 0usize..CURRENCIES.len()) {
            let currency = Currency::parse(CURRENCIES[idx].0).unwrap();
            let m = Money::new(Decimal::new(mantissa, scale), currency);
            let r = m.round(RoundingMode::HalfUp);
            prop_assert!(r.amount().scale() <= currency.minor_units());
            let diff = (r.amount() - m.amount()).abs();
            prop_assert!(diff <= Decimal::new(5, currency.minor_units() + 1));
        }
    }
}
