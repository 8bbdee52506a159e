//! Rating: one meter's usage through one charge model, at full precision.
//!
//! Nothing here rounds; the invoice line rounds once
//! ([`shiyun_core::Money::round`]). Every arithmetic step is checked, and an
//! overflow is `BillingError::Money(MoneyError::Overflow)`.

use rust_decimal::Decimal;
use serde::Serialize;
use shiyun_core::money::MoneyError;

use crate::error::BillingError;
use crate::plan::{ChargeModel, PercentTier, Tier};

/// One meter's usage in one stretch of time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeterUsage {
    /// The meter's aggregated quantity (units models rate this).
    pub quantity: Decimal,
    /// Number of events.
    pub events: u64,
    /// Each event's value (its transaction amount), in the engine's order
    /// (timestamp, then idempotency key); only the percentage models read it.
    pub amounts: Vec<Decimal>,
}

/// One tier (or the one price of a flat model) as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierApplied {
    /// Index of the tier in the model (0 for models without tiers).
    pub tier: usize,
    /// Units (or amount, for the percentage models; packages for `package`) in it.
    pub units: Decimal,
    /// Price per unit (the rate as a percentage, for the percentage models).
    pub unit_price: Decimal,
    /// Flat fee charged for it.
    pub flat_fee: Decimal,
    /// What it adds, at full precision.
    pub amount: Decimal,
}

/// A rated charge: the amount at full precision and how it came about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rated {
    /// Sum of the pieces, unrounded.
    pub amount: Decimal,
    /// The pieces.
    pub tiers: Vec<TierApplied>,
}

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

fn overflow() -> BillingError {
    BillingError::Money(MoneyError::Overflow)
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, BillingError> {
    a.checked_mul(b).ok_or_else(overflow)
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, BillingError> {
    a.checked_add(b).ok_or_else(overflow)
}

fn sub(a: Decimal, b: Decimal) -> Result<Decimal, BillingError> {
    a.checked_sub(b).ok_or_else(overflow)
}

fn div(a: Decimal, b: Decimal) -> Result<Decimal, BillingError> {
    a.checked_div(b).ok_or_else(overflow)
}

/// `amount × rate / 100` with the percentage applied last, so `2.9` % of
/// `100` is exactly `2.9`.
fn percent(amount: Decimal, rate: Decimal) -> Result<Decimal, BillingError> {
    div(mul(amount, rate)?, HUNDRED)
}

/// Rates `usage` with `model`.
///
/// Usage never produces a credit: a negative quantity (or a negative event
/// amount) is rated as zero; corrections are credit notes.
///
/// - **standard**: `quantity × unit_price`.
/// - **graduated**: units fill the tiers in order (a tier holds the units
///   above the previous `up_to`, up to and including its own); each tier
///   touched charges `units × unit_price + flat_fee`. The FIRST tier's flat
///   fee is charged even at zero usage (as Stripe, Lago and OpenMeter do); a
///   later tier's only once usage reaches into it.
/// - **volume**: all units at the price of the tier the total falls in (the
///   first whose `up_to` is at or above it), plus that tier's flat fee; zero
///   usage falls in the first tier, so its flat fee is charged at zero.
/// - **package**: `billable = max(0, quantity − free_units)`,
///   `packages = ceil(billable / package_size)`, amount `packages ×
///   package_price`: a started package is billed in full. The one piece
///   reports the packages as its units.
/// - **percentage**: over the per-event amounts in the order given (the
///   engine sorts by timestamp, then key): the first `free_events` events are
///   free; then `free_amount` is consumed by the remaining events in order,
///   each taking what it can. An event whose amount is wholly covered is free
///   (no fee at all); every other event is charged `charged_amount × rate /
///   100 + fixed_fee`, clamped per event to `[min, max]`. `rate` is a
///   percentage (`"2.9"` = 2.9 %). The one piece reports the charged amount
///   as units and the summed fixed fees as its flat fee.
/// - **graduated_percentage**: the sum of the per-event amounts fills amount
///   tiers like graduated; each tier touched charges `slice × rate / 100 +
///   flat_fee`, the first tier's flat fee even at zero.
pub fn rate(model: &ChargeModel, usage: &MeterUsage) -> Result<Rated, BillingError> {
    let quantity = usage.quantity.max(Decimal::ZERO);
    match model {
        ChargeModel::Standard { unit_price } => {
            let amount = mul(quantity, *unit_price)?;
            Ok(Rated {
                amount,
                tiers: vec![TierApplied {
                    tier: 0,
                    units: quantity,
                    unit_price: *unit_price,
                    flat_fee: Decimal::ZERO,
                    amount,
                }],
            })
        }
        ChargeModel::Graduated { tiers } => graduated(tiers, quantity),
        ChargeModel::Volume { tiers } => volume(tiers, quantity),
        ChargeModel::Package {
            package_size,
            package_price,
            free_units,
        } => {
            let billable = sub(quantity, *free_units)?.max(Decimal::ZERO);
            if *package_size <= Decimal::ZERO {
                return Err(shiyun_core::ValidationError::new(
                    "package_size",
                    "must be above zero",
                )
                .into());
            }
            let packages = div(billable, *package_size)?.ceil();
            let amount = mul(packages, *package_price)?;
            Ok(Rated {
                amount,
                tiers: vec![TierApplied {
                    tier: 0,
                    units: packages,
                    unit_price: *package_price,
                    flat_fee: Decimal::ZERO,
                    amount,
                }],
            })
        }
        ChargeModel::Percentage {
            rate,
            fixed_fee,
            free_events,
            free_amount,
            min,
            max,
        } => percentage(
            &usage.amounts,
            *rate,
            *fixed_fee,
            *free_events,
            *free_amount,
            *min,
            *max,
        ),
        ChargeModel::GraduatedPercentage { tiers } => {
            let mut total = Decimal::ZERO;
            for a in &usage.amounts {
                total = add(total, (*a).max(Decimal::ZERO))?;
            }
            graduated_percentage(tiers, total)
        }
    }
}

fn graduated(tiers: &[Tier], quantity: Decimal) -> Result<Rated, BillingError> {
    let mut applied = Vec::new();
    let mut amount = Decimal::ZERO;
    let mut below = Decimal::ZERO;
    for (i, t) in tiers.iter().enumerate() {
        if i > 0 && quantity <= below {
            break;
        }
        let top = t.up_to.map_or(quantity, |u| u.min(quantity));
        let units = sub(top, below)?.max(Decimal::ZERO);
        let piece = add(mul(units, t.unit_price)?, t.flat_fee)?;
        amount = add(amount, piece)?;
        applied.push(TierApplied {
            tier: i,
            units,
            unit_price: t.unit_price,
            flat_fee: t.flat_fee,
            amount: piece,
        });
        match t.up_to {
            Some(u) => below = u,
            None => break,
        }
    }
    Ok(Rated {
        amount,
        tiers: applied,
    })
}

fn volume(tiers: &[Tier], quantity: Decimal) -> Result<Rated, BillingError> {
    let found = tiers
        .iter()
        .enumerate()
        .find(|(_, t)| t.up_to.is_none_or(|u| quantity <= u))
        .or_else(|| tiers.iter().enumerate().next_back());
    let Some((i, t)) = found else {
        return Ok(Rated {
            amount: Decimal::ZERO,
            tiers: Vec::new(),
        });
    };
    let amount = add(mul(quantity, t.unit_price)?, t.flat_fee)?;
    Ok(Rated {
        amount,
        tiers: vec![TierApplied {
            tier: i,
            units: quantity,
            unit_price: t.unit_price,
            flat_fee: t.flat_fee,
            amount,
        }],
    })
}

fn percentage(
    amounts: &[Decimal],
    rate: Decimal,
    fixed_fee: Decimal,
    free_events: u64,
    free_amount: Decimal,
    min: Option<Decimal>,
    max: Option<Decimal>,
) -> Result<Rated, BillingError> {
    let mut free_left = free_amount.max(Decimal::ZERO);
    let mut charged_total = Decimal::ZERO;
    let mut fixed_total = Decimal::ZERO;
    let mut amount = Decimal::ZERO;
    let skip = usize::try_from(free_events).unwrap_or(usize::MAX);
    for event in amounts.iter().skip(skip) {
        let value = (*event).max(Decimal::ZERO);
        let covered = value.min(free_left);
        free_left = sub(free_left, covered)?;
        let charged = sub(value, covered)?;
        if charged.is_zero() && !value.is_zero() {
            // Wholly inside the free amount.
            continue;
        }
        let mut fee = add(percent(charged, rate)?, fixed_fee)?;
        if let Some(min) = min {
            fee = fee.max(min);
        }
        if let Some(max) = max {
            fee = fee.min(max);
        }
        charged_total = add(charged_total, charged)?;
        fixed_total = add(fixed_total, fixed_fee)?;
        amount = add(amount, fee)?;
    }
    Ok(Rated {
        amount,
        tiers: vec![TierApplied {
            tier: 0,
            units: charged_total,
            unit_price: rate,
            flat_fee: fixed_total,
            amount,
        }],
    })
}

fn graduated_percentage(tiers: &[PercentTier], total: Decimal) -> Result<Rated, BillingError> {
    let mut applied = Vec::new();
    let mut amount = Decimal::ZERO;
    let mut below = Decimal::ZERO;
    for (i, t) in tiers.iter().enumerate() {
        if i > 0 && total <= below {
            break;
        }
        let top = t.up_to.map_or(total, |u| u.min(total));
        let slice = sub(top, below)?.max(Decimal::ZERO);
        let piece = add(percent(slice, t.rate)?, t.flat_fee)?;
        amount = add(amount, piece)?;
        applied.push(TierApplied {
            tier: i,
            units: slice,
            unit_price: t.rate,
            flat_fee: t.flat_fee,
            amount: piece,
        });
        match t.up_to {
            Some(u) => below = u,
            None => break,
        }
    }
    Ok(Rated {
        amount,
        tiers: applied,
    })
}
