//! The one representation of amounts and quantities that SQL compares and
//! adds: a signed 64-bit integer of millionths (10⁻⁶) of the unit.
//!
//! Both databases compare and sum `BIGINT` exactly, so a balance check or a
//! `SUM` in SQL means what the Decimal would. Six places cover every
//! currency's minor unit (at most three) with room for sub-minor ledger
//! amounts, and usage quantities to a millionth; the range is ±9.2 × 10¹²
//! units. A value with more places, or out of range, is refused with a
//! [`ValidationError`], never rounded silently.

use rust_decimal::Decimal;

use crate::error::ValidationError;

/// Decimal places kept in the database.
pub const SCALE: u32 = 6;

/// `value` as millionths, exactly, or an error naming `field`.
pub fn to_scaled(value: Decimal, field: &str) -> Result<i64, ValidationError> {
    let normalized = value.normalize();
    if normalized.scale() > SCALE {
        return Err(ValidationError::new(
            field,
            format!("`{value}` has more than {SCALE} decimal places"),
        ));
    }
    let scaled = normalized
        .checked_mul(Decimal::from(1_000_000_i64))
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| ValidationError::new(field, format!("`{value}` is out of range")))?;
    Ok(scaled)
}

/// The decimal that `scaled` millionths stand for.
pub fn from_scaled(scaled: i64) -> Decimal {
    Decimal::new(scaled, SCALE).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn six_places_fit_and_seven_are_refused() {
        assert_eq!(to_scaled(dec!(1.234567), "x"), Ok(1_234_567));
        assert_eq!(to_scaled(dec!(-0.01), "x"), Ok(-10_000));
        assert_eq!(to_scaled(dec!(1.2300000), "x"), Ok(1_230_000));
        let err = to_scaled(dec!(0.0000001), "amount").unwrap_err();
        assert_eq!(err.field_name(), "amount");
        assert!(to_scaled(dec!(10000000000000), "x").is_err());
    }

    proptest! {
        #[test]
        fn round_trips_exactly(scaled in any::<i64>()) {
            prop_assert_eq!(to_scaled(from_scaled(scaled), "x"), Ok(scaled));
        }
    }
}
