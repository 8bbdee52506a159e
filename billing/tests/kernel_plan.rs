//! The JSON plan format: parsing, validation paths, unknown fields, round trip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

use rust_decimal_macros::dec;
use shiyun_billing::plan::{BillingTime, ChargeModel, Interval, PayIn, Plan};

const PLAN: &str = r#"{
  "code": "pro",
  "name": "Pro",
  "currency": "USD",
  "interval": "monthly",
  "billing_time": "calendar",
  "pay_in": "arrears",
  "recurring_fee": "20.00",
  "minimum_commitment": null,
  "charges": [
    {"meter": "api_calls", "name": "API calls", "model": "graduated",
     "tiers": [{"up_to": "5", "unit_price": "5"}, {"up_to": "10", "unit_price": "4", "flat_fee": "1"}, {"up_to": null, "unit_price": "3"}]},
    {"meter": "storage", "model": "standard", "unit_price": "0.05"},
    {"meter": "payments", "model": "percentage", "rate": "2.9", "fixed_fee": "0.30", "free_events": 1, "max": "5"},
    {"meter": "seats", "model": "package", "package_size": "10", "package_price": "7"}
  ]
}"#;

fn with_charge(charge: &str) -> String {
    format!(
        r#"{{"code":"p","name":"P","currency":"USD","interval":"monthly","billing_time":"anniversary","pay_in":"advance","charges":[{{"meter":"ok","model":"standard","unit_price":"1"}},{charge}]}}"#
    )
}

#[test]
fn a_full_plan_parses_with_every_field() {
    let plan = Plan::parse(PLAN).unwrap();
    assert_eq!(plan.code, "pro");
    assert_eq!(plan.interval, Interval::Monthly);
    assert_eq!(plan.billing_time, BillingTime::Calendar);
    assert_eq!(plan.pay_in, PayIn::Arrears);
    assert_eq!(plan.recurring_fee, Some(dec!(20.00)));
    assert_eq!(plan.charges.len(), 4);
    assert_eq!(plan.charges[0].name.as_deref(), Some("API calls"));
    match &plan.charges[0].model {
        ChargeModel::Graduated { tiers } => {
            assert_eq!(tiers[0].flat_fee, dec!(0), "flat_fee defaults to 0");
            assert_eq!(tiers[1].flat_fee, dec!(1));
            assert_eq!(tiers[2].up_to, None);
        }
        other => panic!("{other:?}"),
    }
    match &plan.charges[2].model {
        ChargeModel::Percentage {
            rate,
            fixed_fee,
            free_events,
            free_amount,
            min,
            max,
        } => {
            assert_eq!(
                (*rate, *fixed_fee, *free_events),
                (dec!(2.9), dec!(0.30), 1)
            );
            assert_eq!((*free_amount, *min, *max), (dec!(0), None, Some(dec!(5))));
        }
        other => panic!("{other:?}"),
    }
    match &plan.charges[3].model {
        ChargeModel::Package { free_units, .. } => assert_eq!(*free_units, dec!(0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn to_json_round_trips_exactly() {
    let plan = Plan::parse(PLAN).unwrap();
    let json = plan.to_json();
    let back = Plan::parse(&json).unwrap();
    assert_eq!(back, plan);
    assert_eq!(back.to_json(), json, "canonical form is stable");
    assert!(
        json.contains(r#""unit_price":"0.05""#),
        "decimals stay strings: {json}"
    );
    assert!(json.contains(r#""model":"graduated""#));
}

#[test]
fn decimals_must_be_strings() {
    let err = Plan::parse(&with_charge(
        r#"{"meter":"x","model":"standard","unit_price":0.05}"#,
    ))
    .unwrap_err();
    assert_eq!(err.field_name(), "charges[1]");
    let err = Plan::parse(&PLAN.replace(r#""20.00""#, "20")).unwrap_err();
    assert_eq!(err.field_name(), "plan");
}

#[test]
fn unknown_fields_are_refused_everywhere() {
    let err = Plan::parse(&PLAN.replace(r#""code": "pro","#, r#""code": "pro", "colour": "red","#))
        .unwrap_err();
    assert_eq!(err.field_name(), "plan");
    assert!(err.message().contains("colour"), "{err}");
    let err = Plan::parse(&with_charge(
        r#"{"meter":"x","model":"standard","unit_price":"1","discount":"2"}"#,
    ))
    .unwrap_err();
    assert_eq!(err.field_name(), "charges[1]");
    assert!(err.message().contains("discount"), "{err}");
    let err = Plan::parse(&with_charge(
        r#"{"meter":"x","model":"volume","tiers":[{"up_to":null,"unit_price":"1","colour":"red"}]}"#,
    ))
    .unwrap_err();
    assert_eq!(err.field_name(), "charges[1]");
    let err = Plan::parse(&with_charge(
        r#"{"meter":"x","model":"magic","unit_price":"1"}"#,
    ))
    .unwrap_err();
    assert_eq!(err.field_name(), "charges[1]");
    let err = Plan::parse(&with_charge(r#"{"model":"standard","unit_price":"1"}"#)).unwrap_err();
    assert!(err.message().contains("meter"), "{err}");
}

#[test]
fn validation_names_the_field_path() {
    let cases = [
        (
            r#"{"meter":"x","model":"graduated","tiers":[{"up_to":"0","unit_price":"1"},{"up_to":null,"unit_price":"1"}]}"#,
            "charges[1].tiers[0].up_to",
        ),
        (
            r#"{"meter":"x","model":"graduated","tiers":[{"up_to":"5","unit_price":"1"},{"up_to":"5","unit_price":"1"},{"up_to":null,"unit_price":"1"}]}"#,
            "charges[1].tiers[1].up_to",
        ),
        (
            r#"{"meter":"x","model":"volume","tiers":[{"up_to":null,"unit_price":"1"},{"up_to":null,"unit_price":"1"}]}"#,
            "charges[1].tiers[0].up_to",
        ),
        (
            r#"{"meter":"x","model":"volume","tiers":[{"up_to":"5","unit_price":"1"}]}"#,
            "charges[1].tiers[0].up_to",
        ),
        (
            r#"{"meter":"x","model":"volume","tiers":[]}"#,
            "charges[1].tiers",
        ),
        (
            r#"{"meter":"x","model":"volume","tiers":[{"up_to":"5","unit_price":"1"},{"up_to":null,"unit_price":"-1"}]}"#,
            "charges[1].tiers[1].unit_price",
        ),
        (
            r#"{"meter":"x","model":"graduated","tiers":[{"up_to":null,"unit_price":"1","flat_fee":"-2"}]}"#,
            "charges[1].tiers[0].flat_fee",
        ),
        (
            r#"{"meter":"x","model":"standard","unit_price":"-0.01"}"#,
            "charges[1].unit_price",
        ),
        (
            r#"{"meter":"x","model":"package","package_size":"0","package_price":"1"}"#,
            "charges[1].package_size",
        ),
        (
            r#"{"meter":"x","model":"package","package_size":"10","package_price":"1","free_units":"-1"}"#,
            "charges[1].free_units",
        ),
        (
            r#"{"meter":"x","model":"percentage","rate":"1","min":"5","max":"2"}"#,
            "charges[1].min",
        ),
        (
            r#"{"meter":"x","model":"percentage","rate":"-1"}"#,
            "charges[1].rate",
        ),
        (
            r#"{"meter":"x","model":"graduated_percentage","tiers":[{"up_to":"100","rate":"1"},{"up_to":null,"rate":"-1"}]}"#,
            "charges[1].tiers[1].rate",
        ),
        (
            r#"{"meter":"ok","model":"standard","unit_price":"1"}"#,
            "charges[1].meter",
        ),
        (
            r#"{"meter":"Bad Meter","model":"standard","unit_price":"1"}"#,
            "charges[1].meter",
        ),
    ];
    for (charge, field) in cases {
        let err = Plan::parse(&with_charge(charge)).unwrap_err();
        assert_eq!(err.field_name(), field, "{charge}: {err}");
    }
    let err = Plan::parse(&PLAN.replace(r#""code": "pro""#, r#""code": "Pro!""#)).unwrap_err();
    assert_eq!(err.field_name(), "code");
    let err = Plan::parse(&PLAN.replace(r#""20.00""#, r#""-1""#)).unwrap_err();
    assert_eq!(err.field_name(), "recurring_fee");
    let err = Plan::parse(&PLAN.replace(r#""USD""#, r#""XYZ""#)).unwrap_err();
    assert_eq!(err.field_name(), "plan");
}

#[test]
fn a_plan_without_charges_or_fee_is_valid() {
    let plan = Plan::parse(
        r#"{"code":"free","name":"Free","currency":"JPY","interval":"weekly","billing_time":"calendar","pay_in":"advance"}"#,
    )
    .unwrap();
    assert!(plan.charges.is_empty());
    assert_eq!(plan.recurring_fee, None);
}
