//! Rating: golden worked examples for each model, the zero-usage flat fee
//! rule, and properties over many random usages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_billing::BillingError;
use shiyun_billing::charge::{MeterUsage, rate};
use shiyun_billing::plan::{ChargeModel, PercentTier, Tier};
use shiyun_core::money::MoneyError;

fn qty(q: Decimal) -> MeterUsage {
    MeterUsage {
        quantity: q,
        events: 0,
        amounts: Vec::new(),
    }
}

fn events(amounts: &[Decimal]) -> MeterUsage {
    MeterUsage {
        quantity: amounts.iter().sum(),
        events: amounts.len() as u64,
        amounts: amounts.to_vec(),
    }
}

fn tier(up_to: Option<Decimal>, unit_price: Decimal, flat_fee: Decimal) -> Tier {
    Tier {
        up_to,
        unit_price,
        flat_fee,
    }
}

/// As in Stripe's docs on graduated tiers: units 1-5 at 5, 6-10 at 4, 11+ at 3.
fn stripe_tiers() -> Vec<Tier> {
    vec![
        tier(Some(dec!(5)), dec!(5), dec!(0)),
        tier(Some(dec!(10)), dec!(4), dec!(0)),
        tier(None, dec!(3), dec!(0)),
    ]
}

#[test]
fn standard_is_quantity_times_price() {
    let r = rate(
        &ChargeModel::Standard {
            unit_price: dec!(0.0015),
        },
        &qty(dec!(12345)),
    )
    .unwrap();
    assert_eq!(r.amount, dec!(18.5175));
    assert_eq!(r.tiers.len(), 1);
}

#[test]
fn graduated_golden_stripe_example() {
    // As in Stripe's docs: graduated 1-5 @ 5, 6-10 @ 4, then @ 3.
    let model = ChargeModel::Graduated {
        tiers: stripe_tiers(),
    };
    let r = rate(&model, &qty(dec!(12))).unwrap();
    // 5 × 5 + 5 × 4 + 2 × 3 = 51
    assert_eq!(r.amount, dec!(51));
    let units: Vec<_> = r.tiers.iter().map(|t| t.units).collect();
    assert_eq!(units, vec![dec!(5), dec!(5), dec!(2)]);
    let pieces: Vec<_> = r.tiers.iter().map(|t| t.amount).collect();
    assert_eq!(pieces, vec![dec!(25), dec!(20), dec!(6)]);
    // The bound is inclusive: 5 units stay in the first tier.
    let r = rate(&model, &qty(dec!(5))).unwrap();
    assert_eq!((r.amount, r.tiers.len()), (dec!(25), 1));
    // Fractional usage: 5.5 = 5 × 5 + 0.5 × 4.
    assert_eq!(rate(&model, &qty(dec!(5.5))).unwrap().amount, dec!(27));
}

#[test]
fn graduated_flat_fees_stripe_example() {
    // As in Stripe's docs on flat fees with graduated tiers: the first 5 units
    // cost a flat 10 plus 1 each; units from 6 on cost a flat 5 plus 0.5 each.
    let model = ChargeModel::Graduated {
        tiers: vec![
            tier(Some(dec!(5)), dec!(1), dec!(10)),
            tier(None, dec!(0.5), dec!(5)),
        ],
    };
    assert_eq!(rate(&model, &qty(dec!(3))).unwrap().amount, dec!(13));
    assert_eq!(rate(&model, &qty(dec!(5))).unwrap().amount, dec!(15));
    // 10 + 5 + 5 + 1 × 0.5
    assert_eq!(rate(&model, &qty(dec!(6))).unwrap().amount, dec!(20.5));
}

#[test]
fn zero_usage_charges_the_first_tier_flat_fee_graduated() {
    let model = ChargeModel::Graduated {
        tiers: vec![
            tier(Some(dec!(5)), dec!(1), dec!(10)),
            tier(None, dec!(0.5), dec!(5)),
        ],
    };
    let r = rate(&model, &qty(dec!(0))).unwrap();
    assert_eq!(
        r.amount,
        dec!(10),
        "the first tier's flat fee is due at zero usage"
    );
    assert_eq!(r.tiers.len(), 1);
    assert_eq!(r.tiers[0].units, dec!(0));
    // A later tier's flat fee only once usage reaches into it.
    assert_eq!(rate(&model, &qty(dec!(5))).unwrap().tiers.len(), 1);
}

#[test]
fn volume_golden_stripe_example() {
    // As in Stripe's docs: volume 1-5 @ 5, 6-10 @ 4, 11+ @ 3: all units at the
    // price of the tier the total falls in.
    let model = ChargeModel::Volume {
        tiers: stripe_tiers(),
    };
    assert_eq!(rate(&model, &qty(dec!(5))).unwrap().amount, dec!(25));
    assert_eq!(rate(&model, &qty(dec!(6))).unwrap().amount, dec!(24));
    let r = rate(&model, &qty(dec!(12))).unwrap();
    assert_eq!(r.amount, dec!(36));
    assert_eq!(r.tiers.len(), 1);
    assert_eq!(r.tiers[0].tier, 2);
}

#[test]
fn zero_usage_charges_the_first_tier_flat_fee_volume() {
    let model = ChargeModel::Volume {
        tiers: vec![
            tier(Some(dec!(100)), dec!(1), dec!(20)),
            tier(None, dec!(0.8), dec!(50)),
        ],
    };
    let r = rate(&model, &qty(dec!(0))).unwrap();
    assert_eq!(r.amount, dec!(20));
    assert_eq!(r.tiers[0].tier, 0);
    // 101 units: all at 0.8 plus the second tier's flat 50.
    assert_eq!(rate(&model, &qty(dec!(101))).unwrap().amount, dec!(130.8));
}

#[test]
fn package_golden_lago_example() {
    // As on Lago's package page: 5 per package of 100 API calls, first 100 free.
    let model = ChargeModel::Package {
        package_size: dec!(100),
        package_price: dec!(5),
        free_units: dec!(100),
    };
    assert_eq!(rate(&model, &qty(dec!(0))).unwrap().amount, dec!(0));
    assert_eq!(rate(&model, &qty(dec!(100))).unwrap().amount, dec!(0));
    assert_eq!(
        rate(&model, &qty(dec!(101))).unwrap().amount,
        dec!(5),
        "a started package is billed in full"
    );
    assert_eq!(rate(&model, &qty(dec!(200))).unwrap().amount, dec!(5));
    let r = rate(&model, &qty(dec!(350))).unwrap();
    assert_eq!(r.amount, dec!(15));
    assert_eq!(r.tiers[0].units, dec!(3), "units of the piece are packages");
}

#[test]
fn percentage_golden_with_fixed_fee_free_events_and_bounds() {
    // 2.9 % + 0.30 per transaction, the first transaction free, then 50 of
    // amount free; each fee between 0.50 and 5.
    let model = ChargeModel::Percentage {
        rate: dec!(2.9),
        fixed_fee: dec!(0.30),
        free_events: 1,
        free_amount: dec!(50),
        min: Some(dec!(0.50)),
        max: Some(dec!(5)),
    };
    let usage = events(&[dec!(100), dec!(30), dec!(40), dec!(10), dec!(500), dec!(1)]);
    // 100: free event. 30: wholly inside the free 50 (20 left), free.
    // 40: 20 charged -> 0.58 + 0.30 = 0.88. 10 -> 0.29 + 0.30 = 0.59.
    // 500 -> 14.50 + 0.30 = 14.80, capped at 5. 1 -> 0.029 + 0.30 = 0.329, raised to 0.50.
    let r = rate(&model, &usage).unwrap();
    assert_eq!(r.amount, dec!(6.97));
    assert_eq!(
        r.tiers[0].units,
        dec!(531),
        "charged amount: 20 + 10 + 500 + 1"
    );
    assert_eq!(r.tiers[0].flat_fee, dec!(1.20), "four fixed fees");
}

#[test]
fn percentage_golden_lago_simple() {
    // As on Lago's percentage page: 1 % of each transaction plus 0.10 per
    // transaction; transactions of 100, 200 and 300.
    let model = ChargeModel::Percentage {
        rate: dec!(1),
        fixed_fee: dec!(0.10),
        free_events: 0,
        free_amount: dec!(0),
        min: None,
        max: None,
    };
    // 6 + 3 × 0.10
    assert_eq!(
        rate(&model, &events(&[dec!(100), dec!(200), dec!(300)]))
            .unwrap()
            .amount,
        dec!(6.30)
    );
    assert_eq!(rate(&model, &events(&[])).unwrap().amount, dec!(0));
}

#[test]
fn graduated_percentage_golden_example() {
    // As on Lago's graduated percentage page: 1 % of the first 1,000; 0.5 %
    // (+ a flat 10) from 1,000 to 5,000; 0.25 % above.
    let model = ChargeModel::GraduatedPercentage {
        tiers: vec![
            PercentTier {
                up_to: Some(dec!(1000)),
                rate: dec!(1),
                flat_fee: dec!(0),
            },
            PercentTier {
                up_to: Some(dec!(5000)),
                rate: dec!(0.5),
                flat_fee: dec!(10),
            },
            PercentTier {
                up_to: None,
                rate: dec!(0.25),
                flat_fee: dec!(0),
            },
        ],
    };
    // 10 + (20 + 10) + 2.5
    let r = rate(&model, &events(&[dec!(2500), dec!(3500)])).unwrap();
    assert_eq!(r.amount, dec!(42.5));
    assert_eq!(
        r.tiers.iter().map(|t| t.units).collect::<Vec<_>>(),
        vec![dec!(1000), dec!(4000), dec!(1000)]
    );
    assert_eq!(rate(&model, &events(&[dec!(800)])).unwrap().amount, dec!(8));
}

#[test]
fn graduated_percentage_charges_the_first_flat_fee_at_zero() {
    let model = ChargeModel::GraduatedPercentage {
        tiers: vec![
            PercentTier {
                up_to: Some(dec!(1000)),
                rate: dec!(1),
                flat_fee: dec!(2),
            },
            PercentTier {
                up_to: None,
                rate: dec!(0.5),
                flat_fee: dec!(3),
            },
        ],
    };
    assert_eq!(rate(&model, &events(&[])).unwrap().amount, dec!(2));
    assert_eq!(
        rate(&model, &events(&[dec!(1000)])).unwrap().amount,
        dec!(12)
    );
}

#[test]
fn negative_usage_is_rated_as_zero() {
    let model = ChargeModel::Standard {
        unit_price: dec!(2),
    };
    assert_eq!(rate(&model, &qty(dec!(-5))).unwrap().amount, dec!(0));
}

#[test]
fn overflow_is_a_money_error() {
    let model = ChargeModel::Standard {
        unit_price: Decimal::MAX,
    };
    let err = rate(&model, &qty(dec!(10))).unwrap_err();
    assert!(
        matches!(err, BillingError::Money(MoneyError::Overflow)),
        "{err:?}"
    );
    let model = ChargeModel::Graduated {
        tiers: vec![tier(None, Decimal::MAX, Decimal::MAX)],
    };
    assert!(matches!(
        rate(&model, &qty(dec!(1))),
        Err(BillingError::Money(MoneyError::Overflow))
    ));
}

fn arb_tiers() -> impl Strategy<Value = Vec<Tier>> {
    (
        prop::collection::vec((1u32..500, 0u32..10_000, 0u32..5_000), 0..5),
        0u32..10_000,
        0u32..5_000,
    )
        .prop_map(|(steps, last_price, last_flat)| {
            let mut bound = 0u32;
            let mut tiers: Vec<Tier> = steps
                .into_iter()
                .map(|(step, price, flat)| {
                    bound += step;
                    tier(
                        Some(Decimal::from(bound)),
                        Decimal::new(price.into(), 3),
                        Decimal::new(flat.into(), 2),
                    )
                })
                .collect();
            tiers.push(tier(
                None,
                Decimal::new(last_price.into(), 3),
                Decimal::new(last_flat.into(), 2),
            ));
            tiers
        })
}

fn arb_quantity() -> impl Strategy<Value = Decimal> {
    (0u64..5_000_000, 0u32..=3).prop_map(|(m, s)| Decimal::new(m as i64, s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn graduated_is_the_sum_of_its_tier_pieces_and_never_decreases(
        tiers in arb_tiers(), a in arb_quantity(), b in arb_quantity()
    ) {
        let model = ChargeModel::Graduated { tiers: tiers.clone() };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let r_lo = rate(&model, &qty(lo)).unwrap();
        let r_hi = rate(&model, &qty(hi)).unwrap();
        prop_assert!(r_lo.amount <= r_hi.amount);
        let pieces: Decimal = r_hi.tiers.iter().map(|t| t.amount).sum();
        prop_assert_eq!(pieces, r_hi.amount);
        let units: Decimal = r_hi.tiers.iter().map(|t| t.units).sum();
        prop_assert_eq!(units, hi, "every unit is in exactly one tier");
        for t in &r_hi.tiers {
            prop_assert_eq!(t.amount, t.units * t.unit_price + t.flat_fee);
        }
        // Independent check: price each unit slice against its tier.
        let mut below = Decimal::ZERO;
        let mut expected = Decimal::ZERO;
        for (i, t) in tiers.iter().enumerate() {
            if i > 0 && hi <= below { break; }
            let top = t.up_to.map_or(hi, |u| u.min(hi));
            expected += (top - below).max(Decimal::ZERO) * t.unit_price + t.flat_fee;
            match t.up_to { Some(u) => below = u, None => break }
        }
        prop_assert_eq!(expected, r_hi.amount);
    }

    #[test]
    fn volume_prices_every_unit_in_one_tier(tiers in arb_tiers(), q in arb_quantity()) {
        let r = rate(&ChargeModel::Volume { tiers: tiers.clone() }, &qty(q)).unwrap();
        prop_assert_eq!(r.tiers.len(), 1);
        let t = &tiers[r.tiers[0].tier];
        prop_assert!(t.up_to.is_none_or(|u| q <= u));
        if r.tiers[0].tier > 0 {
            prop_assert!(tiers[r.tiers[0].tier - 1].up_to.is_some_and(|u| q > u));
        }
        prop_assert_eq!(r.amount, q * t.unit_price + t.flat_fee);
    }

    #[test]
    fn package_bills_whole_packages_and_never_decreases(
        size in 1u32..1000, price in 0u32..10_000, free in 0u32..1000, a in arb_quantity(), b in arb_quantity()
    ) {
        let model = ChargeModel::Package {
            package_size: Decimal::from(size), package_price: Decimal::new(price.into(), 2), free_units: Decimal::from(free),
        };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let r = rate(&model, &qty(hi)).unwrap();
        prop_assert!(rate(&model, &qty(lo)).unwrap().amount <= r.amount);
        let packages = r.tiers[0].units;
        let billable = (hi - Decimal::from(free)).max(Decimal::ZERO);
        prop_assert!(packages * Decimal::from(size) >= billable);
        prop_assert!(packages.is_zero() || (packages - Decimal::ONE) * Decimal::from(size) < billable);
    }

    #[test]
    fn percentage_without_free_allowances_is_order_free(
        amounts in prop::collection::vec((0u32..100_000).prop_map(|c| Decimal::new(c.into(), 2)), 0..30),
        rate_bp in 0u32..1000, fixed in 0u32..100, min in prop::option::of(0u32..200), span in prop::option::of(0u32..2000),
        seed in any::<u64>(),
    ) {
        let min = min.map(|m| Decimal::new(m.into(), 2));
        let max = span.map(|s| min.unwrap_or_default() + Decimal::new(s.into(), 2));
        let model = ChargeModel::Percentage {
            rate: Decimal::new(rate_bp.into(), 2), fixed_fee: Decimal::new(fixed.into(), 2),
            free_events: 0, free_amount: Decimal::ZERO, min, max,
        };
        let base = rate(&model, &events(&amounts)).unwrap();
        let mut shuffled = amounts.clone();
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(rate(&model, &events(&shuffled)).unwrap().amount, base.amount);
        if let (Some(lo), Some(hi)) = (min, max) {
            let n = Decimal::from(amounts.len() as u64);
            prop_assert!(base.amount >= lo * n && base.amount <= hi * n);
        }
    }

    #[test]
    fn percentage_free_amount_without_fees_is_order_free(
        amounts in prop::collection::vec((1u32..100_000).prop_map(|c| Decimal::new(c.into(), 2)), 0..30),
        rate_bp in 0u32..1000, free in 0u32..200_000, seed in any::<u64>(),
    ) {
        let model = ChargeModel::Percentage {
            rate: Decimal::new(rate_bp.into(), 2), fixed_fee: Decimal::ZERO,
            free_events: 0, free_amount: Decimal::new(free.into(), 2), min: None, max: None,
        };
        let base = rate(&model, &events(&amounts)).unwrap();
        let total: Decimal = amounts.iter().sum();
        let charged = (total - Decimal::new(free.into(), 2)).max(Decimal::ZERO);
        prop_assert_eq!(base.amount, charged * Decimal::new(rate_bp.into(), 2) / Decimal::ONE_HUNDRED);
        let mut shuffled = amounts.clone();
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(rate(&model, &events(&shuffled)).unwrap().amount, base.amount);
    }

    #[test]
    fn percentage_in_the_engines_sorted_order_is_deterministic(
        evs in prop::collection::vec((0i64..1000, 0u32..1000, 1u32..100_000), 0..30), seed in any::<u64>(),
    ) {
        // With free events and fixed fees the result depends on order; the
        // engine passes events sorted by (timestamp, key), so any arrival
        // order rates the same.
        let model = ChargeModel::Percentage {
            rate: dec!(2.9), fixed_fee: dec!(0.30), free_events: 3, free_amount: dec!(100),
            min: Some(dec!(0.5)), max: Some(dec!(20)),
        };
        let sorted_amounts = |mut v: Vec<(i64, u32, u32)>| {
            v.sort_by_key(|(ts, key, _)| (*ts, *key));
            v.into_iter().map(|(_, _, c)| Decimal::new(c.into(), 2)).collect::<Vec<_>>()
        };
        let mut shuffled = evs.clone();
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(
            rate(&model, &events(&sorted_amounts(evs))).unwrap(),
            rate(&model, &events(&sorted_amounts(shuffled))).unwrap()
        );
    }

    #[test]
    fn graduated_percentage_never_decreases(a in 0u64..10_000_000, b in 0u64..10_000_000) {
        let model = ChargeModel::GraduatedPercentage {
            tiers: vec![
                PercentTier { up_to: Some(dec!(1000)), rate: dec!(3), flat_fee: dec!(1) },
                PercentTier { up_to: Some(dec!(20000)), rate: dec!(1.5), flat_fee: dec!(5) },
                PercentTier { up_to: None, rate: dec!(0.5), flat_fee: dec!(0) },
            ],
        };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let r_lo = rate(&model, &events(&[Decimal::new(lo as i64, 2)])).unwrap();
        let r_hi = rate(&model, &events(&[Decimal::new(hi as i64, 2)])).unwrap();
        prop_assert!(r_lo.amount <= r_hi.amount);
        prop_assert_eq!(r_hi.tiers.iter().map(|t| t.amount).sum::<Decimal>(), r_hi.amount);
    }
}

/// A seeded Fisher-Yates shuffle (xorshift), so the test needs no RNG crate.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    seed |= 1;
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
