//! `kill -9` of the server between acknowledging usage and the bill run:
//! every acknowledged event is in the invoice, none twice. Batches still in
//! flight when the server dies are resent after the restart, as a client
//! would; they then count exactly once too.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::*;

const CUSTOMERS: [&str; 3] = ["cust-a", "cust-b", "cust-c"];
/// Batches acknowledged before the kill.
const ACKED: usize = 8;
/// Batches sent alongside the last one, maybe answered, maybe not.
const IN_FLIGHT: usize = 3;
const BATCH: usize = 250;

/// What the invoices must show, per customer: API calls and GB.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Usage {
    calls: u64,
    gb: Decimal,
}

/// Batch `b`: events spread over the customers and both meters, dated in
/// the first weekly period (which has ended), each added to `expected`.
fn batch(
    b: usize,
    period_start: DateTime<Utc>,
    expected: &mut BTreeMap<String, Usage>,
) -> Vec<Value> {
    (0..BATCH)
        .map(|i| {
            let customer = CUSTOMERS[(b * 7 + i) % CUSTOMERS.len()];
            let seconds = i64::try_from(86_400 + b * 1_000 + i).unwrap();
            let at = period_start + chrono::Duration::seconds(seconds);
            let usage = expected.entry(customer.to_owned()).or_default();
            let (meter, properties) = if i % 4 == 0 {
                let gb = Decimal::new(i64::try_from(i % 50).unwrap() * 25 + 1, 2);
                usage.gb += gb;
                ("storage", json!({"gb": gb.to_string()}))
            } else {
                usage.calls += 1;
                ("api_calls", json!({}))
            };
            json!({
                "idempotency_key": format!("batch-{b}-{i}"),
                "customer": customer,
                "meter": meter,
                "timestamp": at.to_rfc3339(),
                "properties": properties,
            })
        })
        .collect()
}

fn counts(report: &Value) -> (u64, u64, u64, u64) {
    let n = |field: &str| report[field].as_u64().unwrap();
    (
        n("accepted"),
        n("duplicates"),
        n("conflicts"),
        n("rejected"),
    )
}

/// Meters, a weekly plan in arrears on the subscription's anniversary, the
/// customers (UTC) and their subscriptions from ten days ago: the first
/// week has ended, and its usage is well inside the late window.
async fn set_up(api: &Api) -> NaiveDate {
    api.post(
        "/v1/billing/meters",
        &json!({"code": "api_calls", "name": "API calls", "aggregation": "count"}),
        &[201],
    )
    .await;
    api.post(
        "/v1/billing/meters",
        &json!({"code": "storage", "name": "Storage", "aggregation": "sum", "property": "gb"}),
        &[201],
    )
    .await;
    api.post(
        "/v1/billing/plans",
        &json!({"plan": {
            "code": "weekly",
            "name": "Weekly",
            "currency": "CNY",
            "interval": "weekly",
            "billing_time": "anniversary",
            "pay_in": "arrears",
            "recurring_fee": "10",
            "charges": [
                {"meter": "api_calls", "model": "standard", "unit_price": "0.01"},
                {"meter": "storage", "model": "standard", "unit_price": "0.5"}
            ]
        }}),
        &[201],
    )
    .await;
    let starts_on = Utc::now().date_naive() - Days::new(10);
    for customer in CUSTOMERS {
        api.call(
            Method::PUT,
            &format!("/v1/billing/customers/{customer}"),
            Some(&json!({"name": customer, "timezone": "UTC", "tax_rate": "0"})),
            &[200],
        )
        .await;
        api.post(
            "/v1/billing/subscriptions",
            &json!({"customer": customer, "plan": "weekly", "starts_on": starts_on.to_string()}),
            &[201],
        )
        .await;
    }
    starts_on
}

async fn invoices(api: &Api) -> Vec<Value> {
    let page = api
        .call(Method::GET, "/v1/billing/invoices?limit=200", None, &[200])
        .await;
    assert!(page["next_cursor"].is_null(), "{page}");
    page["invoices"].as_array().unwrap().clone()
}

/// One finalised invoice per customer for the first week, whose usage lines
/// are exactly `expected`.
fn check_invoices(
    invoices: &[Value],
    expected: &BTreeMap<String, Usage>,
    period_start: DateTime<Utc>,
) {
    let mut seen = BTreeMap::new();
    for invoice in invoices {
        assert_eq!(invoice["status"], "finalized", "{invoice}");
        assert!(invoice["number"].as_str().is_some(), "{invoice}");
        let start: DateTime<Utc> = invoice["period_start"].as_str().unwrap().parse().unwrap();
        let end: DateTime<Utc> = invoice["period_end"].as_str().unwrap().parse().unwrap();
        assert_eq!(start, period_start, "{invoice}");
        assert_eq!(end, period_start + chrono::Duration::days(7), "{invoice}");
        let mut usage = Usage::default();
        for line in invoice["lines"].as_array().unwrap() {
            assert_ne!(line["kind"], "adjustment", "no late usage here: {line}");
            if line["kind"] != "usage" {
                continue;
            }
            let quantity = decimal(&line["quantity"]);
            match line["meter"].as_str().unwrap() {
                "api_calls" => usage.calls = u64::try_from(quantity).unwrap(),
                "storage" => usage.gb = quantity,
                other => panic!("unexpected meter {other}"),
            }
        }
        let customer = invoice["customer"].as_str().unwrap().to_owned();
        assert!(
            seen.insert(customer.clone(), usage).is_none(),
            "two invoices for {customer}"
        );
    }
    assert_eq!(&seen, expected, "invoiced usage against acknowledged usage");
}

async fn acknowledged_then_killed(url: &str) {
    let env = Env::new(url);
    env.create_operator();
    let server = Server::start(&env).await;
    let api = Api::sign_in(&server.base, None).await;
    let enterprise = api.enterprise().to_owned();
    let starts_on = set_up(&api).await;
    let period_start = starts_on.and_time(chrono::NaiveTime::MIN).and_utc();

    let mut expected = BTreeMap::new();
    let acked: Vec<_> = (0..ACKED)
        .map(|b| batch(b, period_start, &mut expected))
        .collect();
    let in_flight: Vec<_> = (ACKED..ACKED + IN_FLIGHT)
        .map(|b| batch(b, period_start, &mut expected))
        .collect();
    let (last, first) = acked.split_last().unwrap();
    for events in first {
        let report = api
            .post("/v1/usage/events", &json!({ "events": events }), &[200])
            .await;
        assert_eq!(counts(&report), (BATCH as u64, 0, 0, 0), "{report}");
    }
    let sending: Vec<_> = in_flight
        .iter()
        .map(|events| {
            let api = api.clone();
            let body = json!({ "events": events });
            tokio::spawn(async move {
                api.try_send(Method::POST, "/v1/usage/events", Some(&body))
                    .await
            })
        })
        .collect();
    let report = api
        .post("/v1/usage/events", &json!({ "events": last }), &[200])
        .await;
    assert_eq!(counts(&report), (BATCH as u64, 0, 0, 0), "{report}");
    // Right after the acknowledgement, before anything else can happen.
    server.kill9();
    let mut answered = Vec::new();
    for task in sending {
        let answered_in_full = match task.await.unwrap() {
            Ok((status, report)) if status == 200 => {
                assert_eq!(counts(&report), (BATCH as u64, 0, 0, 0), "{report}");
                true
            }
            _ => false,
        };
        answered.push(answered_in_full);
    }
    eprintln!("batches in flight answered before the kill: {answered:?}");

    // The same database, a new process.
    let server = Server::start(&env).await;
    let api = Api::sign_in(&server.base, Some(&enterprise)).await;
    for events in [&acked[0], last] {
        let report = api
            .post("/v1/usage/events", &json!({ "events": events }), &[200])
            .await;
        assert_eq!(
            counts(&report),
            (0, BATCH as u64, 0, 0),
            "an acknowledged batch is stored, once: {report}"
        );
    }
    // A client resends what was not answered (and may resend what was).
    for (events, was_answered) in in_flight.iter().zip(&answered) {
        let report = api
            .post("/v1/usage/events", &json!({ "events": events }), &[200])
            .await;
        let (accepted, duplicates, conflicts, rejected) = counts(&report);
        assert_eq!((conflicts, rejected), (0, 0), "{report}");
        assert_eq!(accepted + duplicates, BATCH as u64, "{report}");
        if *was_answered {
            assert_eq!(accepted, 0, "answered before the kill, so stored: {report}");
        }
    }

    let report = api.post("/v1/billing/runs", &json!({}), &[200]).await;
    assert_eq!(report["drafted"], CUSTOMERS.len(), "{report}");
    assert_eq!(report["finalized"], CUSTOMERS.len(), "{report}");
    assert_eq!(report["failures"], json!([]), "{report}");
    let issued = invoices(&api).await;
    check_invoices(&issued, &expected, period_start);

    // The bill run's answer is durable too: killed and restarted, the same
    // invoices stand and a rerun has nothing to do.
    server.kill9();
    let server = Server::start(&env).await;
    let api = Api::sign_in(&server.base, Some(&enterprise)).await;
    assert_eq!(invoices(&api).await, issued);
    let report = api.post("/v1/billing/runs", &json!({}), &[200]).await;
    assert_eq!(
        (
            &report["drafted"],
            &report["replayed"],
            &report["finalized"]
        ),
        (&json!(0), &json!(0), &json!(0)),
        "{report}"
    );
    server.kill9();
}

on_both_backends! {
    fn acknowledged_usage_survives_kill_9_before_the_bill_run(db) {
        runtime().block_on(acknowledged_then_killed(db.url()));
    }
}
