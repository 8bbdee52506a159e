//! Exact price arithmetic on the index's integers.
//!
//! An indexed price `P` is an integer of 10⁻¹⁰ units of the listing's
//! currency; a rate `R` to the requested currency is an integer of 10⁻¹²
//! (rates have at most 12 places). So `P × R`, an `i128`, is the price in
//! the requested currency in 10⁻²² units, exactly, and prices in different
//! currencies compare without rounding. A bound `X` in the requested
//! currency becomes a bound on `P` by integer division, rounded toward the
//! inside of the range, which is exact: `P × R ≤ X ⟺ P ≤ ⌊X / R⌋`.

use rust_decimal::Decimal;
use shiyun_core::fx::{AppliedRate, FxTable};
use shiyun_core::money::Currency;

use crate::fields::PRICE_SCALE;

/// Decimal places of a rate as an integer.
pub const RATE_SCALE: u32 = 12;
/// Decimal places of a converted price (`P × R`).
pub const CONVERTED_SCALE: u32 = PRICE_SCALE + RATE_SCALE;

/// `value × 10^places` as an integer, rounded down (`ceil` false) or up;
/// saturating at the ends of `i128`.
pub fn to_scaled(value: Decimal, places: u32, ceil: bool) -> i128 {
    let mantissa = value.mantissa();
    let scale = value.scale();
    if scale <= places {
        let factor = 10_i128.checked_pow(places - scale);
        match factor.and_then(|f| mantissa.checked_mul(f)) {
            Some(v) => v,
            None if mantissa < 0 => i128::MIN,
            None => i128::MAX,
        }
    } else {
        let divisor = 10_i128.pow((scale - places).min(38));
        let quotient = mantissa.div_euclid(divisor);
        let exact = mantissa.rem_euclid(divisor) == 0;
        if ceil && !exact {
            quotient + 1
        } else {
            quotient
        }
    }
}

/// An integer of 10⁻`places` units back as a decimal, when it fits.
pub fn from_scaled(value: i128, places: u32) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(value, places)
        .ok()
        .map(|d| d.normalize())
}

/// The rates from every listing currency in the index to the requested one.
#[derive(Debug, Clone, Default)]
pub struct Conversion {
    /// The requested currency.
    pub target: Option<Currency>,
    /// (listing currency, rate as an integer of 10⁻¹², the rate as applied).
    pub rates: Vec<(Currency, i128, AppliedRate)>,
}

impl Conversion {
    /// Rates from `currencies` to `target` found in `table`; currencies
    /// without a rate are left out (their listings have no converted price).
    pub fn new(table: &FxTable, target: Option<Currency>, currencies: &[Currency]) -> Self {
        let Some(target) = target else {
            return Conversion::default();
        };
        let rates = currencies
            .iter()
            .filter_map(|c| {
                let applied = table.rate(*c, target)?;
                Some((*c, to_scaled(applied.rate, RATE_SCALE, false), applied))
            })
            .collect();
        Conversion {
            target: Some(target),
            rates,
        }
    }

    /// The integer rate from `currency`.
    pub fn rate_of(&self, currency: &str) -> Option<i128> {
        self.rates
            .iter()
            .find(|(c, _, _)| c.code() == currency)
            .map(|(_, r, _)| *r)
    }

    /// The rates used, except the identity.
    pub fn applied(&self) -> Vec<AppliedRate> {
        self.rates
            .iter()
            .filter(|(_, _, a)| a.from != a.to)
            .map(|(_, _, a)| *a)
            .collect()
    }
}

/// Bounds on the indexed integer `P` of a listing whose rate is `rate`, so
/// that `min ≤ P × rate ≤ max` (bounds in the requested currency); `None`
/// when no `P` can satisfy them.
pub fn bounds_for(rate: i128, min: Option<Decimal>, max: Option<Decimal>) -> Option<(i64, i64)> {
    if rate <= 0 {
        return None;
    }
    let low = match min {
        Some(min) => {
            let scaled = to_scaled(min, CONVERTED_SCALE, true);
            // ceil(scaled / rate)
            let q = scaled.div_euclid(rate);
            if scaled.rem_euclid(rate) == 0 {
                q
            } else {
                q + 1
            }
        }
        None => i128::from(i64::MIN),
    };
    let high = match max {
        Some(max) => to_scaled(max, CONVERTED_SCALE, false).div_euclid(rate),
        None => i128::from(i64::MAX),
    };
    let low = low.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    let high = high.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    (low <= high).then_some((low, high))
}

/// Edges of the price histogram in 10⁻²² units of the requested currency:
/// 0, then 1-2-5 steps from 0.001 to 5,000,000.
pub fn histogram_edges() -> Vec<i128> {
    let mut edges = vec![0_i128];
    // 0.001 = 10^-3 → 10^(22-3) units.
    let mut decade = 10_i128.pow(CONVERTED_SCALE - 3);
    for _ in 0..10 {
        for step in [1, 2, 5] {
            edges.push(decade * step);
        }
        decade *= 10;
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn scaling_rounds_the_asked_way() {
        assert_eq!(to_scaled(dec!(1.25), 1, false), 12);
        assert_eq!(to_scaled(dec!(1.25), 1, true), 13);
        assert_eq!(to_scaled(dec!(-1.25), 1, false), -13);
        assert_eq!(to_scaled(dec!(1.2), 3, false), 1200);
        assert_eq!(from_scaled(1200, 3), Some(dec!(1.2)));
    }

    #[test]
    fn a_bound_at_the_exact_price_keeps_the_listing() {
        // 0.35 USD at 7.1 CNY per USD is 2.485 CNY exactly.
        let p = 3_500_000_000_i128; // 0.35 at 10 places
        let r = to_scaled(dec!(7.1), RATE_SCALE, false);
        let (low, high) = bounds_for(r, Some(dec!(2.485)), Some(dec!(2.485))).unwrap();
        assert!(i128::from(low) <= p && p <= i128::from(high));
        let (_, high) = bounds_for(r, None, Some(dec!(2.4849999999))).unwrap();
        assert!(p > i128::from(high));
        let (low, _) = bounds_for(r, Some(dec!(2.4850000001)), None).unwrap();
        assert!(p < i128::from(low));
    }

    proptest! {
        /// The integer bounds agree with exact decimal arithmetic.
        #[test]
        fn bounds_match_decimal_comparison(
            price in 0_i64..10_000_000_000_000,
            rate_units in 1_i64..100_000_000_000_000,
            bound_units in 0_i64..1_000_000_000_000,
        ) {
            let price_dec = Decimal::new(price, PRICE_SCALE);
            let rate_dec = Decimal::new(rate_units, RATE_SCALE);
            let bound = Decimal::new(bound_units, 6);
            let converted = price_dec * rate_dec;
            let rate = to_scaled(rate_dec, RATE_SCALE, false);
            let below = bounds_for(rate, None, Some(bound))
                .is_some_and(|(l, h)| l <= price && price <= h);
            prop_assert_eq!(below, converted <= bound);
            let above = bounds_for(rate, Some(bound), None)
                .is_some_and(|(l, h)| l <= price && price <= h);
            prop_assert_eq!(above, converted >= bound);
        }
    }
}
