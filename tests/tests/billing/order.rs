//! Any permutation or duplication of an event stream, in any batching,
//! gives an identical invoice (a property test through the store).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use shiyun_billing::plan::Plan;
use shiyun_core::billing::{Invoice, PageAfter};

use crate::helpers::*;

fn plan() -> Plan {
    Plan::parse(
        &json!({
            "code": "mixed",
            "name": "Mixed",
            "currency": "CNY",
            "interval": "monthly",
            "billing_time": "calendar",
            "pay_in": "arrears",
            "recurring_fee": "30",
            "charges": [
                {"meter": "api_calls", "model": "volume", "tiers": [
                    {"up_to": "5", "unit_price": "0.3", "flat_fee": "1"},
                    {"up_to": null, "unit_price": "0.2", "flat_fee": "2"}
                ]},
                {"meter": "storage", "model": "package", "package_size": "10", "package_price": "3", "free_units": "5"},
                {"meter": "users", "model": "standard", "unit_price": "1.5"},
                {"meter": "payments", "model": "percentage", "rate": "2.9", "fixed_fee": "0.3",
                 "free_events": 2, "free_amount": "0", "min": "0.5", "max": "5"}
            ]
        })
        .to_string(),
    )
    .unwrap()
}

/// Events with distinct timestamps in January (Shanghai), from the drawn values.
fn events(drawn: &[(u8, u16)]) -> Vec<Value> {
    drawn
        .iter()
        .enumerate()
        .map(|(i, (kind, value))| {
            let at = format!(
                "2026-01-{:02}T{:02}:{:02}:00+08:00",
                2 + i / 24 % 28,
                i % 24,
                i % 60
            );
            let key = format!("e{i}");
            match kind % 4 {
                0 => event(&key, "c1", "api_calls", &at, json!({})),
                1 => event(
                    &key,
                    "c1",
                    "storage",
                    &at,
                    json!({"gb": format!("{}.{}", value / 10, value % 10)}),
                ),
                2 => event(
                    &key,
                    "c1",
                    "users",
                    &at,
                    json!({"user": format!("u{}", value % 7)}),
                ),
                _ => event(
                    &key,
                    "c1",
                    "payments",
                    &at,
                    json!({"amount": format!("{}.{:02}", value / 100, value % 100)}),
                ),
            }
        })
        .collect()
}

fn bill(db: &shiyun_schema::Database, issuer: &str, batches: &[Vec<Value>]) -> Invoice {
    let billing = engine(db, issuer);
    subscribe(
        &billing,
        &plan(),
        "c1",
        "2026-01-01",
        at("2026-01-01T00:00:00Z"),
    );
    for batch in batches {
        billing.ingest(batch, at("2026-01-31T17:00:00Z")).unwrap();
    }
    billing.bill_run(at("2026-01-31T17:00:00Z")).unwrap();
    billing
        .store()
        .list_invoices(
            billing.id().unwrap(),
            &Default::default(),
            &PageAfter {
                after: None,
                limit: 10,
            },
        )
        .unwrap()
        .remove(0)
}

fn comparable(invoice: &Invoice) -> Value {
    json!({
        "lines": invoice.lines.iter().map(|l| json!([l.kind, l.meter, l.quantity.normalize().to_string(), l.amount.normalize().to_string(), l.detail])).collect::<Vec<_>>(),
        "totals": invoice.totals,
        "number": invoice.number,
    })
}

fn run(db: &shiyun_schema::Database, cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::cell::Cell::new(0);
    let strategy = (
        prop::collection::vec((any::<u8>(), 0u16..2_000), 1..40),
        any::<u64>(),
        1usize..7,
    );
    runner
        .run(&strategy, |(drawn, seed, batch_size)| {
            case.set(case.get() + 1);
            let case = case.get();
            let stream = events(&drawn);
            // The same stream shuffled, with some events sent twice, in other batches.
            let mut shuffled = stream.clone();
            let mut state = seed | 1;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            for i in (1..shuffled.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                shuffled.swap(i, j);
            }
            let repeats: Vec<Value> = stream.iter().filter(|_| next() % 3 == 0).cloned().collect();
            shuffled.extend(repeats);
            let batches: Vec<Vec<Value>> =
                shuffled.chunks(batch_size).map(<[Value]>::to_vec).collect();
            let once = bill(db, &format!("o{case}a"), &[stream]);
            let scrambled = bill(db, &format!("o{case}b"), &batches);
            prop_assert_eq!(comparable(&once), comparable(&scrambled));
            Ok(())
        })
        .unwrap();
}

on_both_backends! {
    fn permuted_and_repeated_streams_give_the_same_invoice(db) {
        // Each case bills two issuers; PostgreSQL round trips cost more.
        let cases = if db.backend() == shiyun_schema::Backend::Postgres { 12 } else { 24 };
        run(db, cases);
    }
}
