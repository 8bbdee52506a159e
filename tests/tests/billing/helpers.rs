//! An engine over a test database, the meters and plans the tests bill
//! with, and the macro that runs a test on both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shiyun_billing::plan::Plan;
use shiyun_billing::{Billing, SubscribeRequest};
use shiyun_core::billing::{Aggregation, CustomerInput, Issuer, IssuerId, Meter, Subscription};

pub(crate) use shiyun_tests::on_both_databases as on_both_backends;

/// Ids that count up, so a failing test names the same ids each run.
pub fn counting_ids() -> shiyun_billing::IdSource {
    let next = Arc::new(AtomicU64::new(1));
    Arc::new(move || {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; 16];
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        bytes
    })
}

/// An issuer named `name` (`iss_<name>`) with no grace period.
pub fn issuer(name: &str) -> Issuer {
    Issuer {
        id: IssuerId::parse(&format!("iss_{name}")).unwrap(),
        name: format!("Issuer {name}"),
        invoice_prefix: "T".into(),
        grace_period_hours: 0,
        late_window_days: 35,
    }
}

/// The engine of `iss_<name>` over `db`, with the meters of [`meters`].
pub fn engine(db: &shiyun_schema::Database, name: &str) -> Billing {
    let billing = Billing::open(Arc::new(db.clone()), issuer(name), counting_ids()).unwrap();
    for meter in meters() {
        let _meter = billing.define_meter(&meter).unwrap();
    }
    billing
}

/// API calls (count), storage (sum of `gb`), users (unique `user`),
/// payments (sum of `amount`).
pub fn meters() -> Vec<Meter> {
    let meter = |code: &str, aggregation, property: Option<&str>| Meter {
        code: code.into(),
        name: code.into(),
        aggregation,
        property: property.map(str::to_owned),
    };
    vec![
        meter("api_calls", Aggregation::Count, None),
        meter("storage", Aggregation::Sum, Some("gb")),
        meter("users", Aggregation::UniqueCount, Some("user")),
        meter("payments", Aggregation::Sum, Some("amount")),
    ]
}

/// A monthly calendar plan in arrears in CNY: a 100 fee, API calls graduated
/// (first 1,000 free, then 0.01, above 10,000 0.005) and storage at 0.5 a GB.
pub fn monthly_plan(code: &str) -> Plan {
    Plan::parse(
        &json!({
            "code": code,
            "name": "Monthly",
            "currency": "CNY",
            "interval": "monthly",
            "billing_time": "calendar",
            "pay_in": "arrears",
            "recurring_fee": "100",
            "charges": [
                {"meter": "api_calls", "model": "graduated", "tiers": [
                    {"up_to": "1000", "unit_price": "0", "flat_fee": "0"},
                    {"up_to": "10000", "unit_price": "0.01", "flat_fee": "0"},
                    {"up_to": null, "unit_price": "0.005", "flat_fee": "0"}
                ]},
                {"meter": "storage", "model": "standard", "unit_price": "0.5"}
            ]
        })
        .to_string(),
    )
    .unwrap()
}

/// Publishes `plan`, puts customer `customer` (Asia/Shanghai, 6 % tax) and
/// subscribes it from `starts_on`.
pub fn subscribe(
    billing: &Billing,
    plan: &Plan,
    customer: &str,
    starts_on: &str,
    now: DateTime<Utc>,
) -> Subscription {
    let _plan = billing.define_plan(plan, now).unwrap();
    billing
        .put_customer(
            &CustomerInput {
                external_id: customer.into(),
                name: customer.into(),
                timezone: "Asia/Shanghai".into(),
                tax_rate: Decimal::new(6, 2),
            },
            now,
        )
        .unwrap();
    billing
        .subscribe(
            &SubscribeRequest {
                id: None,
                customer: customer.into(),
                plan: plan.code.clone(),
                starts_on: starts_on.parse().unwrap(),
                coupons: Vec::new(),
            },
            now,
        )
        .unwrap()
        .into_inner()
}

/// A usage event as a client sends it.
pub fn event(key: &str, customer: &str, meter: &str, at: &str, properties: Value) -> Value {
    json!({
        "idempotency_key": key,
        "customer": customer,
        "meter": meter,
        "timestamp": at,
        "properties": properties,
    })
}

/// An instant in RFC 3339.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}
