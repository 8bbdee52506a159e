//! Splitting an amount into rounded pieces that add up exactly.
//!
//! Largest-remainder allocation: each piece is first rounded down to the
//! minor unit, then the minor units still missing go one each to the pieces
//! with the largest remainders (ties to the earlier piece). The pieces sum to
//! `total.round(HalfUp)` exactly, whatever the weights.

use rust_decimal::Decimal;
use shiyun_core::ValidationError;
use shiyun_core::money::{Money, MoneyError, RoundingMode};

use crate::error::BillingError;

fn overflow() -> BillingError {
    BillingError::Money(MoneyError::Overflow)
}

/// Splits `total` into pieces proportional to `weights`, each on the
/// currency's minor unit, summing exactly to `total.round(HalfUp)`.
///
/// A negative total is split as its absolute value and negated, so a credit
/// splits exactly like the matching charge. All-zero (or no) weights are an
/// error.
pub fn allocate(total: Money, weights: &[u64]) -> Result<Vec<Money>, BillingError> {
    let currency = total.currency();
    let whole: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    if whole == 0 {
        return Err(ValidationError::new("weights", "must not all be zero").into());
    }
    let rounded = total.round(RoundingMode::HalfUp).amount();
    let negative = rounded.is_sign_negative();
    let scale = currency.minor_units();
    // The rounded total in minor units: its mantissa at the currency's scale.
    let mut minor = rounded.abs();
    minor.rescale(scale);
    if minor.scale() != scale {
        return Err(overflow());
    }
    let units = u128::try_from(minor.mantissa()).map_err(|_| overflow())?;

    let (quotient, remainder) = (units / whole, units % whole);
    let mut pieces = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: u128 = 0;
    for w in weights {
        let w = u128::from(*w);
        let exact_rem = remainder.checked_mul(w).ok_or_else(overflow)?;
        let floor = quotient
            .checked_mul(w)
            .and_then(|q| q.checked_add(exact_rem / whole))
            .ok_or_else(overflow)?;
        pieces.push(floor);
        remainders.push(exact_rem % whole);
        given += floor;
    }
    let missing = units - given;
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest remainder first; equal remainders keep index order (stable sort).
    order.sort_by(|a, b| remainders[*b].cmp(&remainders[*a]));
    for i in order
        .into_iter()
        .take(usize::try_from(missing).map_err(|_| overflow())?)
    {
        pieces[i] += 1;
    }
    pieces
        .into_iter()
        .map(|p| {
            let p = i128::try_from(p).map_err(|_| overflow())?;
            let mut amount = Decimal::try_from_i128_with_scale(p, scale).map_err(|_| overflow())?;
            if negative {
                amount.set_sign_negative(true);
            }
            Ok(Money::new(amount, currency))
        })
        .collect()
}

/// The piece of `total` for `part` out of `whole` (days of a period).
///
/// Computed as one side of a two-piece [`allocate`]; a tie on the odd minor
/// unit goes to the larger part, so `prorate(t, p, w) + prorate(t, w − p, w)`
/// is exactly the rounded total whenever `p ≠ w − p` (for two equal halves
/// of an odd amount both calls answer the same, larger half: split such a
/// pair with [`allocate`] instead). `part > whole` or `whole == 0` is an error.
pub fn prorate(total: Money, part: u64, whole: u64) -> Result<Money, BillingError> {
    if whole == 0 || part > whole {
        return Err(
            ValidationError::new("part", "must be at most the whole, which is above zero").into(),
        );
    }
    let rest = whole - part;
    let pieces = if part >= rest {
        allocate(total, &[part, rest])?
    } else {
        let mut p = allocate(total, &[rest, part])?;
        p.reverse();
        p
    };
    pieces.into_iter().next().ok_or_else(overflow)
}
