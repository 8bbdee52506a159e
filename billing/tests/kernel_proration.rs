//! Largest-remainder allocation: pieces always add up to the rounded total.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_billing::proration::{allocate, prorate};
use shiyun_core::money::{Currency, Money, RoundingMode};

fn usd(d: Decimal) -> Money {
    Money::new(d, Currency::USD)
}

fn amounts(pieces: &[Money]) -> Vec<Decimal> {
    pieces.iter().map(Money::amount).collect()
}

#[test]
fn three_way_split_gives_the_odd_cent_to_the_earliest_tie() {
    let pieces = allocate(usd(dec!(10.00)), &[1, 1, 1]).unwrap();
    assert_eq!(amounts(&pieces), vec![dec!(3.34), dec!(3.33), dec!(3.33)]);
}

#[test]
fn largest_remainder_wins_the_leftover_units() {
    // 1.00 over 30/31 and 1/31: 0.967.. and 0.032..: the second has the
    // larger remainder (0.58 vs 0.41 of a cent).
    let pieces = allocate(usd(dec!(1.00)), &[30, 1]).unwrap();
    assert_eq!(amounts(&pieces), vec![dec!(0.97), dec!(0.03)]);
    // Weight zero gets nothing.
    let pieces = allocate(usd(dec!(5)), &[0, 2, 0, 3]).unwrap();
    assert_eq!(amounts(&pieces), vec![dec!(0), dec!(2), dec!(0), dec!(3)]);
}

#[test]
fn the_total_is_rounded_half_up_first() {
    let pieces = allocate(usd(dec!(0.125)), &[1]).unwrap();
    assert_eq!(amounts(&pieces), vec![dec!(0.13)]);
    let yen = allocate(Money::new(dec!(1000), Currency::JPY), &[1, 1, 1]).unwrap();
    assert_eq!(amounts(&yen), vec![dec!(334), dec!(333), dec!(333)]);
    let kwd = allocate(Money::new(dec!(1), Currency::KWD), &[1, 2]).unwrap();
    assert_eq!(amounts(&kwd), vec![dec!(0.333), dec!(0.667)]);
}

#[test]
fn a_credit_splits_like_the_charge_negated() {
    let pieces = allocate(usd(dec!(-10.00)), &[1, 1, 1]).unwrap();
    assert_eq!(
        amounts(&pieces),
        vec![dec!(-3.34), dec!(-3.33), dec!(-3.33)]
    );
}

#[test]
fn all_zero_weights_are_an_error() {
    assert!(allocate(usd(dec!(1)), &[0, 0]).is_err());
    assert!(allocate(usd(dec!(1)), &[]).is_err());
    assert!(prorate(usd(dec!(1)), 2, 1).is_err());
    assert!(prorate(usd(dec!(1)), 0, 0).is_err());
}

#[test]
fn prorate_gives_whole_and_nothing_at_the_ends() {
    assert_eq!(
        prorate(usd(dec!(30)), 31, 31).unwrap().amount(),
        dec!(30.00)
    );
    assert_eq!(prorate(usd(dec!(30)), 0, 31).unwrap().amount(), dec!(0));
    // 10 days of a 31-day month of 30.00: 9.677.. -> 9.68
    assert_eq!(prorate(usd(dec!(30)), 10, 31).unwrap().amount(), dec!(9.68));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn pieces_always_sum_to_the_rounded_total(
        mantissa in -10_000_000_000i64..10_000_000_000, scale in 0u32..=6,
        weights in prop::collection::vec(0u64..1_000_000, 1..12), cur in 0usize..3,
    ) {
        prop_assume!(weights.iter().any(|w| *w > 0));
        let currency = [Currency::USD, Currency::JPY, Currency::KWD][cur];
        let total = Money::new(Decimal::new(mantissa, scale), currency);
        let pieces = allocate(total, &weights).unwrap();
        prop_assert_eq!(pieces.len(), weights.len());
        let sum: Decimal = pieces.iter().map(Money::amount).sum();
        prop_assert_eq!(sum, total.round(RoundingMode::HalfUp).amount());
        let rounded = total.round(RoundingMode::HalfUp).amount();
        let whole: u64 = weights.iter().sum();
        let unit = Decimal::new(1, currency.minor_units());
        for (p, w) in pieces.iter().zip(&weights) {
            prop_assert!(p.amount().scale() <= currency.minor_units());
            // Each piece is within one minor unit of its exact share.
            let exact = rounded * Decimal::from(*w) / Decimal::from(whole);
            prop_assert!((p.amount() - exact).abs() < unit);
        }
    }

    #[test]
    fn splitting_a_period_at_any_day_adds_up_to_the_unsplit_fee(
        cents in 0i64..100_000_000, days in 1u64..=366, cut in 0u64..=366,
    ) {
        let cut = cut.min(days);
        let fee = usd(Decimal::new(cents, 2));
        let pieces = allocate(fee, &[cut, days - cut]).unwrap();
        prop_assert_eq!(pieces[0].amount() + pieces[1].amount(), fee.amount());
        if cut * 2 != days {
            let a = prorate(fee, cut, days).unwrap();
            let b = prorate(fee, days - cut, days).unwrap();
            prop_assert_eq!(a.amount() + b.amount(), fee.amount());
        }
    }
}
