//! Composing one period's invoice: one test per documented policy, then
//! properties over random plans, phases, usages and coupons.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_billing::BillingError;
use shiyun_billing::charge::MeterUsage;
use shiyun_billing::compose::{
    Composition, Coupon, Terms, compose, coupon_index, first_period, next_period, parse_coupons,
    usage_amount, weighted_sum,
};
use shiyun_billing::period::{Period, local_midnight};
use shiyun_billing::plan::Plan;
use shiyun_core::billing::{PlanPhase, UsagePoint};
use shiyun_core::money::{Currency, Money, RoundingMode};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const UTC: Tz = chrono_tz::UTC;

#[allow(clippy::too_many_arguments)]
fn plan(
    code: &str,
    interval: &str,
    billing_time: &str,
    pay_in: &str,
    fee: Option<&str>,
    min: Option<&str>,
    charges: &str,
) -> Plan {
    let q = |v: Option<&str>| v.map_or("null".to_owned(), |v| format!("\"{v}\""));
    Plan::parse(&format!(
        r#"{{"code":"{code}","name":"{code}","currency":"USD","interval":"{interval}","billing_time":"{billing_time}","pay_in":"{pay_in}","recurring_fee":{},"minimum_commitment":{},"charges":[{charges}]}}"#,
        q(fee),
        q(min)
    ))
    .unwrap()
}

struct Sub {
    plans: BTreeMap<String, Plan>,
    phases: Vec<PlanPhase>,
    coupons: Vec<Coupon>,
    ends_on: Option<NaiveDate>,
    tz: Tz,
    tax: Decimal,
}

impl Sub {
    fn new(plans: Vec<Plan>, phases: &[(&str, NaiveDate)]) -> Sub {
        Sub {
            plans: plans.into_iter().map(|p| (p.code.clone(), p)).collect(),
            phases: phases
                .iter()
                .map(|(p, s)| PlanPhase {
                    plan: (*p).to_owned(),
                    starts_on: *s,
                })
                .collect(),
            coupons: Vec::new(),
            ends_on: None,
            tz: UTC,
            tax: Decimal::ZERO,
        }
    }

    fn terms(&self) -> Terms<'_> {
        Terms {
            plans: &self.plans,
            phases: &self.phases,
            ends_on: self.ends_on,
            timezone: self.tz,
            tax_rate: self.tax,
            coupons: &self.coupons,
        }
    }
}

/// Every meter reports the same quantity; calls are recorded.
type Calls = RefCell<Vec<(String, DateTime<Utc>, DateTime<Utc>)>>;

fn constant(
    quantity: Decimal,
    calls: &Calls,
) -> impl FnMut(&str, DateTime<Utc>, DateTime<Utc>) -> Result<MeterUsage, BillingError> + '_ {
    move |meter, from, to| {
        calls.borrow_mut().push((meter.to_owned(), from, to));
        Ok(MeterUsage {
            quantity,
            events: 1,
            amounts: vec![quantity],
        })
    }
}

fn run(sub: &Sub, period: &Period, quantity: Decimal) -> Composition {
    let calls = RefCell::new(Vec::new());
    let mut usage = constant(quantity, &calls);
    compose(&sub.terms(), period, &mut usage).unwrap()
}

fn kinds(c: &Composition) -> Vec<(&str, Decimal)> {
    c.lines
        .iter()
        .map(|l| (l.kind.as_str(), l.amount))
        .collect()
}

const UNITS: &str = r#"{"meter":"units","model":"standard","unit_price":"1"}"#;

#[test]
fn arrears_fee_prorated_by_days() {
    // A partial first calendar month: 12 of January's 31 days of 31.00.
    let sub = Sub::new(
        vec![plan(
            "basic",
            "monthly",
            "calendar",
            "arrears",
            Some("31.00"),
            None,
            "",
        )],
        &[("basic", d(2026, 1, 20))],
    );
    let first = first_period(&sub.terms()).unwrap();
    assert_eq!(
        (first.first_day, first.end_day),
        (d(2026, 1, 20), d(2026, 2, 1))
    );
    let c = run(&sub, &first, dec!(0));
    assert_eq!(kinds(&c), vec![("recurring_fee", dec!(12.00))]);
    assert_eq!(c.lines[0].quantity, dec!(12));
    // An unsplit full period bills exactly the fee.
    let feb = next_period(&sub.terms(), &first).unwrap().unwrap();
    assert_eq!((feb.first_day, feb.end_day), (d(2026, 2, 1), d(2026, 3, 1)));
    assert_eq!(
        kinds(&run(&sub, &feb, dec!(0))),
        vec![("recurring_fee", dec!(31.00))]
    );
}

#[test]
fn phases_split_the_period_and_the_change_day_counts_in_the_new_plan() {
    let charges = r#"{"meter":"units","model":"graduated","tiers":[{"up_to":"10","unit_price":"1"},{"up_to":null,"unit_price":"0.5"}]}"#;
    let sub = Sub::new(
        vec![
            plan(
                "a",
                "monthly",
                "calendar",
                "arrears",
                Some("31.00"),
                None,
                charges,
            ),
            plan(
                "b",
                "monthly",
                "calendar",
                "arrears",
                Some("62.00"),
                None,
                UNITS,
            ),
        ],
        &[("a", d(2026, 1, 1)), ("b", d(2026, 1, 11))],
    );
    let period = first_period(&sub.terms()).unwrap();
    let calls = RefCell::new(Vec::new());
    let mut usage = constant(dec!(20), &calls);
    let c = compose(&sub.terms(), &period, &mut usage).unwrap();
    // a: 10 days (1-10) of 31 -> 10.00, graduated restarts in each segment:
    // 10 × 1 + 10 × 0.5 = 15; b: 21 days (11-31, the change day included) of
    // 62 -> 42.00, 20 units at 1.
    assert_eq!(
        kinds(&c),
        vec![
            ("recurring_fee", dec!(10.00)),
            ("usage", dec!(15.00)),
            ("recurring_fee", dec!(42.00)),
            ("usage", dec!(20.00))
        ]
    );
    assert_eq!(c.lines[0].plan.as_deref(), Some("a"));
    assert_eq!(c.lines[2].plan.as_deref(), Some("b"));
    assert_eq!(c.lines[2].quantity, dec!(21));
    assert_eq!(
        *calls.borrow(),
        vec![
            (
                "units".to_owned(),
                utc("2026-01-01T00:00:00Z"),
                utc("2026-01-11T00:00:00Z")
            ),
            (
                "units".to_owned(),
                utc("2026-01-11T00:00:00Z"),
                utc("2026-02-01T00:00:00Z")
            ),
        ]
    );
    let detail = &c.lines[1].detail;
    assert_eq!(detail["model"], "graduated");
    assert_eq!(detail["tiers"].as_array().unwrap().len(), 2);
    assert_eq!(
        c.lines.iter().map(|l| l.position).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert_eq!(c.lines[1].meter.as_deref(), Some("units"));
    assert!(c.lines.iter().all(|l| l.adjusts.is_none()));
}

#[test]
fn a_split_with_the_same_plan_adds_up_to_the_fee() {
    let sub = Sub::new(
        vec![plan(
            "a",
            "monthly",
            "anniversary",
            "arrears",
            Some("100.00"),
            None,
            "",
        )],
        &[("a", d(2026, 3, 5)), ("a", d(2026, 3, 17))],
    );
    let period = first_period(&sub.terms()).unwrap();
    let c = run(&sub, &period, dec!(0));
    assert_eq!(c.lines.len(), 2);
    assert_eq!(c.subtotal, dec!(100.00));
}

#[test]
fn advance_fee_bills_the_next_period() {
    let sub = Sub::new(
        vec![plan(
            "pro",
            "monthly",
            "anniversary",
            "advance",
            Some("20.00"),
            None,
            UNITS,
        )],
        &[("pro", d(2026, 1, 15))],
    );
    let opening = first_period(&sub.terms()).unwrap();
    assert_eq!(opening.days(), 0);
    assert_eq!(
        (opening.start, opening.end),
        (utc("2026-01-15T00:00:00Z"), utc("2026-01-15T00:00:00Z"))
    );
    // The opening invoice: the first period's fee, no usage.
    let c = run(&sub, &opening, dec!(7));
    assert_eq!(kinds(&c), vec![("recurring_fee", dec!(20.00))]);
    assert_eq!(
        (c.lines[0].period_start, c.lines[0].period_end),
        (utc("2026-01-15T00:00:00Z"), utc("2026-02-15T00:00:00Z"))
    );
    // Closing the first period: its usage, and the second period's fee.
    let p0 = next_period(&sub.terms(), &opening).unwrap().unwrap();
    assert_eq!((p0.first_day, p0.end_day), (d(2026, 1, 15), d(2026, 2, 15)));
    let c = run(&sub, &p0, dec!(7));
    assert_eq!(
        kinds(&c),
        vec![("usage", dec!(7.00)), ("recurring_fee", dec!(20.00))]
    );
    assert_eq!(c.lines[1].period_start, utc("2026-02-15T00:00:00Z"));
    assert_eq!(c.lines[1].period_end, utc("2026-03-15T00:00:00Z"));
}

#[test]
fn advance_fee_of_a_partial_first_calendar_period_is_prorated() {
    let sub = Sub::new(
        vec![plan(
            "pro",
            "monthly",
            "calendar",
            "advance",
            Some("31.00"),
            None,
            "",
        )],
        &[("pro", d(2026, 1, 20))],
    );
    let opening = first_period(&sub.terms()).unwrap();
    let c = run(&sub, &opening, dec!(0));
    assert_eq!(kinds(&c), vec![("recurring_fee", dec!(12.00))]);
}

#[test]
fn advance_fee_not_billed_when_the_subscription_ends_within_the_period() {
    let mut sub = Sub::new(
        vec![plan(
            "pro",
            "monthly",
            "anniversary",
            "advance",
            Some("20.00"),
            None,
            "",
        )],
        &[("pro", d(2026, 1, 15))],
    );
    sub.ends_on = Some(d(2026, 2, 20));
    let opening = first_period(&sub.terms()).unwrap();
    let p0 = next_period(&sub.terms(), &opening).unwrap().unwrap();
    // The next period is cut at the end date: 6 of February-March's 28 days
    // of 20.00 = 4.2857 -> 4.29.
    let c = run(&sub, &p0, dec!(0));
    assert_eq!(kinds(&c), vec![("recurring_fee", dec!(4.29))]);
    let p1 = next_period(&sub.terms(), &p0).unwrap().unwrap();
    assert_eq!((p1.first_day, p1.end_day), (d(2026, 2, 15), d(2026, 2, 21)));
    assert!(
        run(&sub, &p1, dec!(0)).lines.is_empty(),
        "nothing after the end to bill in advance"
    );
    assert_eq!(next_period(&sub.terms(), &p1).unwrap(), None);
}

#[test]
fn arrears_last_period_is_cut_at_the_end_date_and_prorated() {
    let mut sub = Sub::new(
        vec![plan(
            "a",
            "monthly",
            "calendar",
            "arrears",
            Some("30.00"),
            None,
            "",
        )],
        &[("a", d(2026, 4, 1))],
    );
    sub.ends_on = Some(d(2026, 4, 10));
    let p = first_period(&sub.terms()).unwrap();
    assert_eq!(p.end_day, d(2026, 4, 11));
    assert_eq!(
        kinds(&run(&sub, &p, dec!(0))),
        vec![("recurring_fee", dec!(10.00))]
    );
    assert_eq!(next_period(&sub.terms(), &p).unwrap(), None);
}

#[test]
fn upgrade_mid_period_prorates_credit_and_charge() {
    let sub = Sub::new(
        vec![
            plan(
                "basic",
                "monthly",
                "calendar",
                "advance",
                Some("31.00"),
                None,
                "",
            ),
            plan(
                "pro",
                "monthly",
                "calendar",
                "advance",
                Some("62.00"),
                None,
                "",
            ),
        ],
        &[("basic", d(2026, 1, 1)), ("pro", d(2026, 1, 11))],
    );
    let opening = first_period(&sub.terms()).unwrap();
    assert_eq!(
        kinds(&run(&sub, &opening, dec!(0))),
        vec![("recurring_fee", dec!(31.00))]
    );
    let jan = next_period(&sub.terms(), &opening).unwrap().unwrap();
    let c = run(&sub, &jan, dec!(0));
    // The change day (11th) counts in the new plan: 21 of 31 days.
    assert_eq!(
        kinds(&c),
        vec![
            ("proration_credit", dec!(-21.00)),
            ("proration_charge", dec!(42.00)),
            ("recurring_fee", dec!(62.00))
        ]
    );
    assert_eq!(c.lines[0].plan.as_deref(), Some("basic"));
    assert_eq!(c.lines[1].plan.as_deref(), Some("pro"));
    assert_eq!(c.lines[0].period_start, utc("2026-01-11T00:00:00Z"));
    assert_eq!(c.lines[0].period_end, utc("2026-02-01T00:00:00Z"));
    assert_eq!(c.lines[1].quantity, dec!(21));
    assert_eq!(c.subtotal, dec!(83.00));
}

#[test]
fn downgrade_at_next_period_start_has_no_proration() {
    let sub = Sub::new(
        vec![
            plan(
                "basic",
                "monthly",
                "calendar",
                "advance",
                Some("31.00"),
                None,
                "",
            ),
            plan(
                "pro",
                "monthly",
                "calendar",
                "advance",
                Some("62.00"),
                None,
                "",
            ),
        ],
        &[("pro", d(2026, 1, 1)), ("basic", d(2026, 2, 1))],
    );
    let jan = next_period(&sub.terms(), &first_period(&sub.terms()).unwrap())
        .unwrap()
        .unwrap();
    let c = run(&sub, &jan, dec!(0));
    assert_eq!(kinds(&c), vec![("recurring_fee", dec!(31.00))]);
    assert_eq!(c.lines[0].plan.as_deref(), Some("basic"));
}

#[test]
fn same_fee_plan_change_mid_period_has_no_proration() {
    let sub = Sub::new(
        vec![
            plan(
                "x",
                "monthly",
                "calendar",
                "advance",
                Some("10.00"),
                None,
                "",
            ),
            plan(
                "y",
                "monthly",
                "calendar",
                "advance",
                Some("10.00"),
                None,
                "",
            ),
        ],
        &[("x", d(2026, 1, 1)), ("y", d(2026, 1, 15))],
    );
    let jan = next_period(&sub.terms(), &first_period(&sub.terms()).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        kinds(&run(&sub, &jan, dec!(0))),
        vec![("recurring_fee", dec!(10.00))]
    );
}

#[test]
fn minimum_commitment_tops_up_each_segment() {
    let sub = Sub::new(
        vec![plan(
            "m",
            "monthly",
            "calendar",
            "arrears",
            Some("10.00"),
            Some("50.00"),
            UNITS,
        )],
        &[("m", d(2026, 3, 1))],
    );
    let p = first_period(&sub.terms()).unwrap();
    let c = run(&sub, &p, dec!(15));
    assert_eq!(
        kinds(&c),
        vec![
            ("recurring_fee", dec!(10.00)),
            ("usage", dec!(15.00)),
            ("minimum_commitment", dec!(25.00))
        ]
    );
    assert_eq!(c.subtotal, dec!(50.00));
    let c = run(&sub, &p, dec!(60));
    assert_eq!(
        kinds(&c),
        vec![("recurring_fee", dec!(10.00)), ("usage", dec!(60.00))]
    );
    // A partial first period prorates the commitment like the fee:
    // 12 of 31 days: fee 3.87, commitment 19.35.
    let sub = Sub::new(
        vec![plan(
            "m",
            "monthly",
            "calendar",
            "arrears",
            Some("10.00"),
            Some("50.00"),
            UNITS,
        )],
        &[("m", d(2026, 1, 20))],
    );
    let p = first_period(&sub.terms()).unwrap();
    let c = run(&sub, &p, dec!(1));
    assert_eq!(
        kinds(&c),
        vec![
            ("recurring_fee", dec!(3.87)),
            ("usage", dec!(1.00)),
            ("minimum_commitment", dec!(14.48))
        ]
    );
}

#[test]
fn minimum_commitment_counts_an_advance_fee_billed_earlier() {
    let sub = Sub::new(
        vec![plan(
            "m",
            "monthly",
            "calendar",
            "advance",
            Some("10.00"),
            Some("50.00"),
            UNITS,
        )],
        &[("m", d(2026, 3, 1))],
    );
    let p = next_period(&sub.terms(), &first_period(&sub.terms()).unwrap())
        .unwrap()
        .unwrap();
    let c = run(&sub, &p, dec!(15));
    assert_eq!(
        kinds(&c),
        vec![
            ("usage", dec!(15.00)),
            ("minimum_commitment", dec!(25.00)),
            ("recurring_fee", dec!(10.00))
        ]
    );
}

#[test]
fn usage_lines_are_rounded_once_per_line() {
    let sub = Sub::new(
        vec![plan(
            "u",
            "monthly",
            "calendar",
            "arrears",
            None,
            None,
            r#"{"meter":"units","model":"standard","unit_price":"0.0033"}"#,
        )],
        &[("u", d(2026, 3, 1))],
    );
    let p = first_period(&sub.terms()).unwrap();
    // 1,234.5 × 0.0033 = 4.07385 -> 4.07
    let c = run(&sub, &p, dec!(1234.5));
    assert_eq!(kinds(&c), vec![("usage", dec!(4.07))]);
    assert_eq!(c.lines[0].quantity, dec!(1234.5));
    assert_eq!(c.lines[0].detail["tiers"][0]["amount"], "4.07385");
}

#[test]
fn coupons_apply_in_order_to_the_remainder_never_below_zero() {
    let mut sub = Sub::new(
        vec![plan(
            "a",
            "monthly",
            "calendar",
            "arrears",
            Some("100.00"),
            None,
            "",
        )],
        &[("a", d(2026, 3, 1))],
    );
    sub.coupons = parse_coupons(r#"[{"code":"ten","percent_off":"10"},{"code":"fifty","amount_off":"50"},{"code":"big","amount_off":"500"},{"code":"more","percent_off":"20"}]"#).unwrap();
    sub.tax = dec!(0.06);
    let p = first_period(&sub.terms()).unwrap();
    let c = run(&sub, &p, dec!(0));
    // 10 % of 100 = 10; 50 of 90; 500 capped at 40; nothing left for the last.
    assert_eq!(
        (c.subtotal, c.discount, c.tax),
        (dec!(100.00), dec!(100.00), dec!(0.00))
    );
    sub.coupons = parse_coupons(
        r#"[{"code":"third","percent_off":"33.333"},{"code":"five","amount_off":"5"}]"#,
    )
    .unwrap();
    let c = run(&sub, &p, dec!(0));
    // 33.333 % of 100 = 33.333 -> 33.33; then 5: 38.33; tax 6 % of 61.67 = 3.7002 -> 3.70
    assert_eq!((c.discount, c.tax), (dec!(38.33), dec!(3.70)));
    assert_eq!(c.total(), dec!(65.37));
}

#[test]
fn coupon_applies_only_for_its_periods() {
    let mut sub = Sub::new(
        vec![plan(
            "a",
            "monthly",
            "anniversary",
            "arrears",
            Some("10.00"),
            None,
            "",
        )],
        &[("a", d(2026, 3, 5))],
    );
    sub.coupons = parse_coupons(r#"[{"code":"two","percent_off":"50","periods":2}]"#).unwrap();
    let mut p = first_period(&sub.terms()).unwrap();
    let mut discounts = Vec::new();
    for _ in 0..4 {
        discounts.push(run(&sub, &p, dec!(0)).discount);
        p = next_period(&sub.terms(), &p).unwrap().unwrap();
    }
    assert_eq!(discounts, vec![dec!(5.00), dec!(5.00), dec!(0), dec!(0)]);
}

#[test]
fn coupon_periods_count_fees_billed_in_advance() {
    // Advance: the opening invoice bills period 0's fee (index 0); the
    // invoice closing period 0 bills period 1's fee (index 1).
    let mut sub = Sub::new(
        vec![plan(
            "a",
            "monthly",
            "anniversary",
            "advance",
            Some("10.00"),
            None,
            "",
        )],
        &[("a", d(2026, 3, 5))],
    );
    sub.coupons = parse_coupons(r#"[{"code":"one","amount_off":"3","periods":1}]"#).unwrap();
    let opening = first_period(&sub.terms()).unwrap();
    let p0 = next_period(&sub.terms(), &opening).unwrap().unwrap();
    assert_eq!(
        (
            coupon_index(&sub.terms(), &opening).unwrap(),
            coupon_index(&sub.terms(), &p0).unwrap()
        ),
        (0, 1)
    );
    assert_eq!(run(&sub, &opening, dec!(0)).discount, dec!(3.00));
    assert_eq!(run(&sub, &p0, dec!(0)).discount, dec!(0));
}

#[test]
fn tax_on_a_negative_taxable_reverses_tax() {
    // Downgrade mid-period on an advance plan that ends with the period: the
    // credit outweighs the charge.
    let mut sub = Sub::new(
        vec![
            plan(
                "basic",
                "monthly",
                "calendar",
                "advance",
                Some("31.00"),
                None,
                "",
            ),
            plan(
                "pro",
                "monthly",
                "calendar",
                "advance",
                Some("62.00"),
                None,
                "",
            ),
        ],
        &[("pro", d(2026, 1, 1)), ("basic", d(2026, 1, 11))],
    );
    sub.ends_on = Some(d(2026, 1, 31));
    sub.tax = dec!(0.06);
    sub.coupons = parse_coupons(r#"[{"code":"ten","percent_off":"10"}]"#).unwrap();
    let jan = next_period(&sub.terms(), &first_period(&sub.terms()).unwrap())
        .unwrap()
        .unwrap();
    let c = run(&sub, &jan, dec!(0));
    assert_eq!(
        kinds(&c),
        vec![
            ("proration_credit", dec!(-42.00)),
            ("proration_charge", dec!(21.00))
        ]
    );
    assert_eq!(
        (c.subtotal, c.discount, c.tax),
        (dec!(-21.00), dec!(0), dec!(-1.26))
    );
}

#[test]
fn usage_periods_follow_the_customers_local_midnight() {
    let mut sub = Sub::new(
        vec![plan(
            "u", "monthly", "calendar", "arrears", None, None, UNITS,
        )],
        &[("u", d(2026, 3, 1))],
    );
    sub.tz = "America/New_York".parse().unwrap();
    let p = first_period(&sub.terms()).unwrap();
    let calls = RefCell::new(Vec::new());
    let mut usage = constant(dec!(1), &calls);
    compose(&sub.terms(), &p, &mut usage).unwrap();
    assert_eq!(calls.borrow()[0].1, utc("2026-03-01T05:00:00Z"));
    assert_eq!(calls.borrow()[0].2, utc("2026-04-01T04:00:00Z"));
}

#[test]
fn usage_amount_rounds_and_answers_none_for_unknown_meters() {
    let p = plan(
        "u",
        "monthly",
        "calendar",
        "arrears",
        None,
        None,
        r#"{"meter":"units","model":"standard","unit_price":"0.125"}"#,
    );
    let usage = MeterUsage {
        quantity: dec!(1),
        events: 1,
        amounts: vec![],
    };
    let (amount, rated) = usage_amount(&p, "units", &usage).unwrap().unwrap();
    assert_eq!((amount, rated.amount), (dec!(0.13), dec!(0.125)));
    assert!(usage_amount(&p, "other", &usage).unwrap().is_none());
}

#[test]
fn bad_terms_are_refused() {
    let a = plan("a", "monthly", "calendar", "arrears", Some("1"), None, "");
    let sub = Sub::new(vec![a.clone()], &[("missing", d(2026, 1, 1))]);
    assert!(matches!(
        first_period(&sub.terms()),
        Err(BillingError::NotFound { .. })
    ));
    let sub = Sub::new(
        vec![a.clone()],
        &[("a", d(2026, 2, 1)), ("a", d(2026, 1, 1))],
    );
    let err = first_period(&sub.terms()).unwrap_err();
    assert!(err.to_string().contains("phases[1].starts_on"), "{err}");
    let sub = Sub::new(vec![a.clone()], &[]);
    assert!(first_period(&sub.terms()).is_err());
    let mut sub = Sub::new(vec![a.clone()], &[("a", d(2026, 1, 1))]);
    sub.ends_on = Some(d(2025, 12, 31));
    assert!(
        first_period(&sub.terms())
            .unwrap_err()
            .to_string()
            .contains("ends_on")
    );
    let mut yen = plan("y", "monthly", "calendar", "arrears", Some("1"), None, "");
    yen.currency = Currency::JPY;
    let sub = Sub::new(vec![a, yen], &[("a", d(2026, 1, 1)), ("y", d(2026, 2, 1))]);
    assert!(
        first_period(&sub.terms())
            .unwrap_err()
            .to_string()
            .contains("currency")
    );
}

#[test]
fn bad_coupons_are_refused_with_their_index() {
    let cases = [
        (
            r#"[{"code":"a","percent_off":"10","amount_off":"1"}]"#,
            "coupons[0].percent_off",
        ),
        (r#"[{"code":"a"}]"#, "coupons[0].percent_off"),
        (
            r#"[{"code":"a","percent_off":"10"},{"code":"b","percent_off":"101"}]"#,
            "coupons[1].percent_off",
        ),
        (
            r#"[{"code":"a","amount_off":"-1"}]"#,
            "coupons[0].amount_off",
        ),
        (
            r#"[{"code":"a","amount_off":"1","periods":0}]"#,
            "coupons[0].periods",
        ),
        (
            r#"[{"code":"a","amount_off":"1","colour":"red"}]"#,
            "coupons[0]",
        ),
        (r#"[{"code":"a","amount_off":1}]"#, "coupons[0]"),
        (r#"{"code":"a"}"#, "coupons"),
    ];
    for (json, field) in cases {
        assert_eq!(
            parse_coupons(json).unwrap_err().field_name(),
            field,
            "{json}"
        );
    }
    assert!(parse_coupons("").unwrap().is_empty());
    assert!(parse_coupons("[]").unwrap().is_empty());
}

#[test]
fn weighted_sum_integrates_a_gauge_to_the_microsecond() {
    let p = |ts: &str, v: Decimal| UsagePoint {
        timestamp: utc(ts),
        value: v,
    };
    let points = [
        p("2026-01-01T00:00:00Z", dec!(2)), // before `from`: holds from `from`
        p("2026-01-01T01:00:00Z", dec!(4)),
        p("2026-01-01T01:30:00.000001Z", dec!(0.5)),
        p("2026-01-01T05:00:00Z", dec!(100)), // at `to`: outside
    ];
    let from = utc("2026-01-01T00:30:00Z");
    let to = utc("2026-01-01T02:00:00Z");
    // 2 × 1800 s + 4 × 1800.000001 s + 0.5 × 1799.999999 s
    let expected = dec!(3600) + dec!(7200.000004) + dec!(899.9999995);
    assert_eq!(weighted_sum(&points, from, to), expected);
    // Before the first point the gauge is zero.
    assert_eq!(weighted_sum(&points[1..2], from, to), dec!(4) * dec!(3600));
    assert_eq!(weighted_sum(&[], from, to), dec!(0));
}

// ---- properties ----

fn arb_plan(code: &'static str) -> impl Strategy<Value = Plan> {
    (
        0usize..4, any::<bool>(), any::<bool>(), prop::option::of(0u32..100_000), prop::option::of(0u32..200_000),
        prop::collection::vec((1u32..50, 0u32..5_000), 0..3), 0u32..5_000,
    )
        .prop_map(move |(interval, anniversary, advance, fee, min, steps, last)| {
            let interval = ["weekly", "monthly", "quarterly", "yearly"][interval];
            let money = |c: u32| format!("\"{}\"", Decimal::new(c.into(), 2));
            let mut bound = 0;
            let mut tiers: Vec<String> = steps
                .into_iter()
                .map(|(step, price)| {
                    bound += step;
                    format!(r#"{{"up_to":"{bound}","unit_price":"{}"}}"#, Decimal::new(price.into(), 3))
                })
                .collect();
            tiers.push(format!(r#"{{"up_to":null,"unit_price":"{}","flat_fee":"1.5"}}"#, Decimal::new(last.into(), 3)));
            let charges = format!(
                r#"{{"meter":"a","model":"graduated","tiers":[{}]}},{{"meter":"b","model":"standard","unit_price":"0.0137"}}"#,
                tiers.join(",")
            );
            Plan::parse(&format!(
                r#"{{"code":"{code}","name":"{code}","currency":"USD","interval":"{interval}","billing_time":"{}","pay_in":"{}","recurring_fee":{},"minimum_commitment":{},"charges":[{charges}]}}"#,
                if anniversary { "anniversary" } else { "calendar" },
                if advance { "advance" } else { "arrears" },
                fee.map_or("null".to_owned(), money),
                min.map_or("null".to_owned(), money),
            ))
            .unwrap()
        })
}

fn arb_coupon() -> impl Strategy<Value = Coupon> {
    (any::<bool>(), 1u32..10_000, prop::option::of(1u32..4)).prop_map(|(percent, v, periods)| {
        Coupon {
            code: "c".to_owned(),
            percent_off: percent.then(|| Decimal::new((v % 100 + 1).into(), 0)),
            amount_off: (!percent).then(|| Decimal::new(v.into(), 2)),
            periods,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2500))]

    #[test]
    fn compose_totals_are_consistent(
        a in arb_plan("a"), b in arb_plan("b"), start in 0i64..1500, change in prop::option::of(1i64..200),
        end in prop::option::of(0i64..400), quantity in (0u64..100_000_000).prop_map(|q| Decimal::new(q as i64, 3)),
        coupons in prop::collection::vec(arb_coupon(), 0..3), tax in 0u32..3000, tz in 0usize..3,
    ) {
        let anchor = d(2025, 1, 1) + chrono::Duration::days(start);
        let mut phases = vec![("a", anchor)];
        if let Some(c) = change { phases.push(("b", anchor + chrono::Duration::days(c))); }
        let mut sub = Sub::new(vec![a, b], &phases);
        sub.ends_on = end.map(|e| anchor + chrono::Duration::days(e));
        sub.tax = Decimal::new(tax.into(), 4);
        sub.coupons = coupons;
        sub.tz = [UTC, chrono_tz::America::New_York, chrono_tz::Asia::Shanghai][tz];
        let terms = sub.terms();
        let mut period = first_period(&terms).unwrap();
        for _ in 0..4 {
            let c = run(&sub, &period, quantity);
            let sum: Decimal = c.lines.iter().map(|l| l.amount).sum();
            prop_assert_eq!(c.subtotal, sum);
            for (i, line) in c.lines.iter().enumerate() {
                prop_assert_eq!(line.position as usize, i);
                prop_assert!(line.amount.scale() <= 2);
                prop_assert!(line.period_start <= line.period_end);
            }
            prop_assert!(c.discount >= Decimal::ZERO);
            prop_assert!(c.discount <= c.subtotal.max(Decimal::ZERO));
            let taxable = c.subtotal - c.discount;
            prop_assert_eq!(c.tax, Money::new(taxable * sub.tax, Currency::USD).round(RoundingMode::HalfUp).amount());
            prop_assert_eq!(c.total(), c.subtotal - c.discount + c.tax);
            match next_period(&terms, &period).unwrap() {
                Some(next) => {
                    prop_assert_eq!(next.first_day, period.end_day);
                    prop_assert_eq!(next.start, local_midnight(next.first_day, sub.tz));
                    prop_assert!(next.days() > 0);
                    period = next;
                }
                None => break,
            }
        }
    }

    #[test]
    fn splitting_a_period_at_any_day_bills_the_unsplit_fee(
        fee in 0u32..10_000_000, start in 0i64..1500, cut in 1i64..400, interval in 0usize..4, anniversary in any::<bool>(),
    ) {
        let interval = ["weekly", "monthly", "quarterly", "yearly"][interval];
        let bt = if anniversary { "anniversary" } else { "calendar" };
        let fee_text = Decimal::new(fee.into(), 2).to_string();
        let p = plan("a", interval, bt, "arrears", Some(&fee_text), None, "");
        let anchor = d(2025, 1, 1) + chrono::Duration::days(start);
        let whole = Sub::new(vec![p.clone()], &[("a", anchor)]);
        let period = first_period(&whole.terms()).unwrap();
        let period = next_period(&whole.terms(), &period).unwrap().unwrap();
        let cut = period.first_day + chrono::Duration::days(cut % period.days() as i64);
        prop_assume!(cut > period.first_day);
        let split = Sub::new(vec![p], &[("a", anchor), ("a", cut)]);
        let unsplit = run(&whole, &period, Decimal::ZERO);
        let pieces = run(&split, &period, Decimal::ZERO);
        prop_assert_eq!(unsplit.subtotal, Decimal::new(fee.into(), 2));
        prop_assert_eq!(pieces.lines.len(), 2);
        prop_assert_eq!(pieces.subtotal, unsplit.subtotal);
    }
}
