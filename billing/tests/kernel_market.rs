//! Cost-plus pricing: the rule chosen is the most specific that matches,
//! and a sale price is never below cost plus the minimum margin, exactly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

use chrono::DateTime;
use proptest::prelude::*;
use rust_decimal::Decimal;
use shiyun_billing::market::{UnitCost, choose_rule, quote};
use shiyun_core::billing::market::{MarginRule, MarginRuleId, MarginScope, MarginTarget, Markup};
use shiyun_core::fx::{FxRate, FxTable};
use shiyun_core::money::{Currency, Money};

const VENDORS: [&str; 3] = ["alibaba", "aws", "tencent"];
const CATEGORIES: [&str; 2] = ["compute.vm", "storage.object"];
const LISTINGS: [&str; 3] = ["l1", "l2", "l3"];
const CUSTOMERS: [&str; 2] = ["acc_a", "acc_b"];

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(options).prop_map(str::to_owned))
}

prop_compose! {
    fn scope()(
        vendor in pick(&VENDORS),
        category in pick(&CATEGORIES),
        listing in pick(&LISTINGS),
        customer in pick(&CUSTOMERS),
    ) -> MarginScope {
        MarginScope { vendor, category, listing, customer }
    }
}

prop_compose! {
    fn rules()(specs in prop::collection::vec((scope(), 0u32..5000, any::<bool>()), 0..12))
        -> Vec<MarginRule> {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (scope, hundredths, active))| MarginRule {
                id: MarginRuleId::from_random([i as u8; 16]),
                scope,
                markup: Markup::Percent { percent: Decimal::new(i64::from(hundredths), 2) },
                active,
                created_at: DateTime::from_timestamp(1_800_000_000 + i as i64, 0).unwrap(),
            })
            .collect()
    }
}

prop_compose! {
    fn target()(
        vendor in prop::sample::select(&VENDORS[..]),
        category in prop::sample::select(&CATEGORIES[..]),
        listing in prop::sample::select(&LISTINGS[..]),
        customer in prop::sample::select(&CUSTOMERS[..]),
    ) -> MarginTarget {
        MarginTarget {
            vendor: vendor.into(),
            category: category.into(),
            listing: listing.into(),
            customer: customer.into(),
        }
    }
}

/// Whether `a` names every condition `b` names, and at least one more.
fn strictly_narrower(a: &MarginScope, b: &MarginScope) -> bool {
    let fields = |s: &MarginScope| {
        [
            s.vendor.is_some(),
            s.category.is_some(),
            s.listing.is_some(),
            s.customer.is_some(),
        ]
    };
    let (fa, fb) = (fields(a), fields(b));
    fa.iter().zip(fb).all(|(x, y)| *x || !y) && fa != fb
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_rule_chosen_is_the_most_specific_matching_one(rules in rules(), target in target()) {
        let matching: Vec<&MarginRule> =
            rules.iter().filter(|r| r.active && r.scope.matches(&target)).collect();
        match choose_rule(&rules, &target) {
            None => prop_assert!(matching.is_empty()),
            Some(chosen) => {
                prop_assert!(chosen.active && chosen.scope.matches(&target));
                for other in &matching {
                    // Nothing matching outranks it: a customer rule beats any
                    // rule without a customer, then listing, category, vendor.
                    prop_assert!(other.scope.specificity() <= chosen.scope.specificity());
                    if other.scope.specificity() == chosen.scope.specificity() {
                        prop_assert!(other.created_at <= chosen.created_at);
                    }
                    if other.scope.customer.is_some() {
                        prop_assert!(chosen.scope.customer.is_some());
                    }
                }
                // The chosen rule is never beaten by one that names all its
                // conditions and more.
                for other in &matching {
                    prop_assert!(!strictly_narrower(&other.scope, &chosen.scope));
                }
            }
        }
    }

    #[test]
    fn sale_is_never_below_cost_plus_the_minimum_margin(
        cost_micros in 0i64..10_000_000_000,
        rate_units in 1i64..100_000_000_000_000,
        min_hundredths in 0u32..10_000,
        percent_hundredths in prop::option::of(0u32..100_000),
        convert in any::<bool>(),
    ) {
        let cost = Money::new(Decimal::new(cost_micros, 6), Currency::USD);
        let rate = Decimal::new(rate_units, 12);
        let fx = FxTable::new(vec![FxRate { from: Currency::USD, to: Currency::CNY, rate }], None).unwrap();
        let sale_currency = if convert { Currency::CNY } else { Currency::USD };
        let rule = percent_hundredths.map(|h| MarginRule {
            id: MarginRuleId::from_random([1; 16]),
            scope: MarginScope::default(),
            markup: Markup::Percent { percent: Decimal::new(i64::from(h), 2) },
            active: true,
            created_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        });
        let min = Decimal::new(i64::from(min_hundredths), 2);
        let unit = UnitCost { unit: "hour".into(), cost, list: None };
        let snapshot = quote(&unit, sale_currency, &fx, rule.as_ref(), min).unwrap();
        let converted = if convert { cost.amount() * rate } else { cost.amount() };
        prop_assert_eq!(snapshot.cost_converted.amount(), converted);
        let floor = converted + converted * min / Decimal::ONE_HUNDRED;
        prop_assert!(snapshot.sale.amount() >= floor);
        if let Some(h) = percent_hundredths {
            let marked = converted + converted * Decimal::new(i64::from(h), 2) / Decimal::ONE_HUNDRED;
            prop_assert!(snapshot.sale.amount() >= marked);
        }
        // Exact: cost + margin is the sale, and the sale has at most 6 places.
        prop_assert_eq!(snapshot.cost_converted.amount() + snapshot.margin.amount(), snapshot.sale.amount());
        prop_assert!(snapshot.sale.amount().normalize().scale() <= 6);
        // Rounded up by less than one millionth.
        let exact_margin = floor.max(rule.as_ref().map_or(converted, |_| {
            converted + converted * Decimal::new(i64::from(percent_hundredths.unwrap_or(0)), 2) / Decimal::ONE_HUNDRED
        }));
        prop_assert!(snapshot.sale.amount() - exact_margin < Decimal::new(1, 6));
        prop_assert_eq!(snapshot.sale.currency(), sale_currency);
    }
}
