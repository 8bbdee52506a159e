//! The billing store: issuers kept apart, exactly-once ingest, aggregates,
//! drafts, gapless finalisation, balances, payments, voids and the audit
//! chain.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_core::billing::{
    Aggregation, BillingStore, CreditNoteId, CustomerId, CustomerInput, FinalContent, GENESIS_HASH,
    IngestOutcome, Invoice, InvoiceFilter, InvoiceId, InvoiceLine, InvoiceStatus, Issuer, IssuerId,
    Meter, NewInvoice, NewUsageEvent, PageAfter, Payment, PlanPhase, StoredPlan, Subscription,
    SubscriptionId, SubscriptionStatus, UsageWindow, audit_hash,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{Outcome, StoreError};
use shiyun_schema::Database;
use shiyun_schema::testing::TestDatabase;

use crate::support::at;

pub fn issuer(store: &Database, id: &str) -> IssuerId {
    let id = IssuerId::parse(id).unwrap();
    let stored = store
        .ensure_issuer(&Issuer {
            id: id.clone(),
            name: format!("Issuer {id}"),
            invoice_prefix: "SY".into(),
            grace_period_hours: 24,
            late_window_days: 3,
        })
        .unwrap();
    assert_eq!(stored.id, id);
    id
}

pub fn customer(store: &Database, issuer: &IssuerId, external: &str) {
    let id = CustomerId::parse(&format!("cus_{}", external.replace(['-', '_'], ""))).unwrap();
    store
        .put_customer(
            issuer,
            &id,
            &CustomerInput {
                external_id: external.into(),
                name: format!("Customer {external}"),
                timezone: "Asia/Shanghai".into(),
                tax_rate: dec!(0.06),
            },
            at(0),
        )
        .unwrap();
}

fn meter(store: &Database, issuer: &IssuerId, code: &str, aggregation: Aggregation) {
    let meter = Meter {
        code: code.into(),
        name: code.into(),
        aggregation,
        property: aggregation.reads_property().then(|| "value".to_owned()),
    };
    assert!(!store.create_meter(issuer, &meter).unwrap().is_replay());
}

/// An event `key` of `customer` on `meter` at `secs`, with `value`.
pub fn event(
    key: &str,
    customer: &str,
    meter: &str,
    secs: i64,
    value: Option<Decimal>,
) -> NewUsageEvent {
    NewUsageEvent {
        idempotency_key: key.into(),
        customer: customer.into(),
        meter: meter.into(),
        timestamp: at(secs),
        value,
        distinct_value: None,
        properties: "{}".into(),
        payload_hash: format!("hash-{key}-{value:?}"),
    }
}

fn window(from: i64, to: i64, after_batch: i64, up_to_batch: i64) -> UsageWindow {
    UsageWindow {
        from: at(from),
        to: at(to),
        after_batch,
        up_to_batch,
        customer: None,
    }
}

fn page(after: Option<&str>, limit: u32) -> PageAfter {
    PageAfter {
        after: after.map(str::to_owned),
        limit,
    }
}

fn subscription(id: &str, customer: &str, start: i64, end: i64) -> Subscription {
    Subscription {
        id: SubscriptionId::parse(id).unwrap(),
        customer: customer.into(),
        phases: vec![PlanPhase {
            plan: "basic".into(),
            starts_on: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        }],
        ends_on: None,
        status: SubscriptionStatus::Active,
        coupons: "[]".into(),
        next_period_start: at(start),
        next_period_end: at(end),
        version: 1,
        created_at: at(0),
    }
}

fn line(position: u32, amount: Decimal, start: i64, end: i64) -> InvoiceLine {
    InvoiceLine {
        position,
        kind: "recurring_fee".into(),
        description: format!("fee {position}"),
        meter: None,
        plan: Some("basic".into()),
        quantity: dec!(1.5),
        amount,
        period_start: at(start),
        period_end: at(end),
        adjusts: None,
        detail: serde_json::json!({"tiers": [1, 2]}),
    }
}

/// A draft of `subtotal` CNY for the subscription's next period.
fn draft(
    store: &Database,
    issuer: &IssuerId,
    id: &str,
    sub: &str,
    subtotal: Decimal,
) -> NewInvoice {
    let sub = store
        .get_subscription(issuer, &SubscriptionId::parse(sub).unwrap())
        .unwrap()
        .unwrap();
    let length = sub.next_period_end - sub.next_period_start;
    NewInvoice {
        id: InvoiceId::parse(id).unwrap(),
        customer: sub.customer.clone(),
        subscription: sub.id.clone(),
        subscription_version: sub.version,
        currency: Currency::CNY,
        period_start: sub.next_period_start,
        period_end: sub.next_period_end,
        next_period: Some((sub.next_period_end, sub.next_period_end + length)),
        usage_batch: 0,
        lines: vec![line(0, subtotal, 0, 100)],
        subtotal,
        discount: Decimal::ZERO,
        tax: Decimal::ZERO,
        at: sub.next_period_end,
    }
}

fn content_of(invoice: &Invoice) -> FinalContent {
    FinalContent {
        usage_batch: invoice.usage_batch,
        lines: invoice.lines.clone(),
        subtotal: invoice.totals.subtotal.amount(),
        discount: invoice.totals.discount.amount(),
        tax: invoice.totals.tax.amount(),
    }
}

/// A finalised invoice of `subtotal` for a new subscription `sub` of `customer`.
fn issued(
    store: &Database,
    issuer: &IssuerId,
    id: &str,
    sub: &str,
    customer: &str,
    subtotal: Decimal,
) -> Invoice {
    applied(
        store
            .create_subscription(issuer, &subscription(sub, customer, 0, 100))
            .unwrap(),
    );
    let invoice = store
        .create_draft(issuer, &draft(store, issuer, id, sub, subtotal))
        .unwrap()
        .into_inner();
    store
        .finalize_invoice(issuer, &invoice.id, &content_of(&invoice), at(200))
        .unwrap()
        .into_inner()
}

/// The value of an outcome that must have been written now.
fn applied<T>(outcome: Outcome<T>) -> T {
    assert!(!outcome.is_replay(), "replayed where a write was expected");
    outcome.into_inner()
}

fn cny(amount: Decimal) -> Money {
    Money::new(amount, Currency::CNY)
}

pub fn billing_issuers_are_isolated(store: &Database) {
    let a = issuer(store, "iss_a");
    let b = issuer(store, "iss_b");
    customer(store, &a, "acme");
    meter(store, &a, "calls", Aggregation::Sum);
    applied(
        store
            .create_plan(
                &a,
                &StoredPlan {
                    code: "basic".into(),
                    currency: Currency::CNY,
                    body: "{}".into(),
                    created_at: at(0),
                },
            )
            .unwrap(),
    );
    store
        .insert_usage(
            &a,
            &[event("k1", "acme", "calls", 10, Some(dec!(2)))],
            at(11),
        )
        .unwrap();
    let invoice = issued(store, &a, "in_a1", "sub_a1", "acme", dec!(10));
    store
        .create_credit_note(
            &a,
            &CreditNoteId::parse("cn_a1").unwrap(),
            &invoice.id,
            dec!(1),
            "x",
            at(300),
        )
        .unwrap();
    store
        .add_prepaid_credit(&a, "acme", cny(dec!(5)), at(300))
        .unwrap();

    // Issuer B sees none of it.
    assert!(store.get_customer(&b, "acme").unwrap().is_none());
    assert!(store.list_meters(&b).unwrap().is_empty());
    assert!(store.list_plans(&b).unwrap().is_empty());
    assert!(store.get_plan(&b, "basic").unwrap().is_none());
    assert_eq!(store.usage_watermark(&b).unwrap(), 0);
    assert!(
        store
            .aggregate_usage(&b, &window(0, 1000, 0, 100))
            .unwrap()
            .is_empty()
    );
    let mut one = window(0, 1000, 0, 100);
    one.customer = Some("acme".into());
    assert!(store.usage_points(&b, "calls", &one).unwrap().is_empty());
    assert!(
        store
            .usage_page(&b, at(0), at(1000), &page(None, 100))
            .unwrap()
            .is_empty()
    );
    let sub = SubscriptionId::parse("sub_a1").unwrap();
    assert!(store.get_subscription(&b, &sub).unwrap().is_none());
    assert!(
        store
            .due_subscriptions(&b, at(10_000), &page(None, 100))
            .unwrap()
            .is_empty()
    );
    assert!(store.get_invoice(&b, &invoice.id).unwrap().is_none());
    assert!(
        store
            .list_invoices(&b, &InvoiceFilter::default(), &page(None, 100))
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .drafts_due(&b, at(10_000), &page(None, 100))
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .issued_invoices_of(&b, &sub, at(0))
            .unwrap()
            .is_empty()
    );
    assert!(store.credit_notes_of(&b, &invoice.id).unwrap().is_empty());
    assert!(store.audit_chain(&b, 0, 100).unwrap().is_empty());
    // Nor can B act on A's rows.
    assert!(matches!(
        store.finalize_invoice(&b, &invoice.id, &content_of(&invoice), at(1)),
        Err(StoreError::NotFound { .. })
    ));
    let pay = Payment {
        reference: "r".into(),
        amount: invoice.totals.total,
        at: at(1),
    };
    assert!(matches!(
        store.record_payment(&b, &invoice.id, &pay),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.void_invoice(&b, &invoice.id, at(1)),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.add_prepaid_credit(&b, "acme", cny(dec!(1)), at(1)),
        Err(StoreError::NotFound { .. })
    ));
    let outcome = store
        .insert_usage(
            &b,
            &[event("k1", "acme", "calls", 10, Some(dec!(2)))],
            at(11),
        )
        .unwrap();
    assert_eq!(outcome, vec![IngestOutcome::UnknownCustomer]);
    // The same ids in B are B's own.
    customer(store, &b, "acme");
    let outcome = store
        .insert_usage(
            &b,
            &[event("k1", "acme", "calls", 10, Some(dec!(7)))],
            at(11),
        )
        .unwrap();
    assert_eq!(outcome, vec![IngestOutcome::Accepted]);
    let other = issued(store, &b, "in_a1", "sub_a1", "acme", dec!(3));
    assert_eq!(other.number.as_deref(), Some("SY-000001"));
    assert_eq!(
        store
            .get_invoice(&a, &invoice.id)
            .unwrap()
            .unwrap()
            .totals
            .subtotal
            .amount(),
        dec!(10)
    );
    assert_eq!(
        store.aggregate_usage(&a, &window(0, 1000, 0, 100)).unwrap()[0].sum,
        dec!(2)
    );
    assert_eq!(
        store.aggregate_usage(&b, &window(0, 1000, 0, 100)).unwrap()[0].sum,
        dec!(7)
    );
    // An unknown issuer cannot ingest.
    let nobody = IssuerId::parse("iss_nobody").unwrap();
    assert!(matches!(
        store.insert_usage(&nobody, &[event("k", "acme", "calls", 1, None)], at(1)),
        Err(StoreError::NotFound { .. })
    ));
}

pub fn meters_and_plans_replay_or_conflict(store: &Database) {
    let a = issuer(store, "iss_a");
    let m = Meter {
        code: "gb".into(),
        name: "GB".into(),
        aggregation: Aggregation::Max,
        property: Some("gb".into()),
    };
    assert!(matches!(
        store.create_meter(&a, &m).unwrap(),
        Outcome::Applied(_)
    ));
    assert!(matches!(
        store.create_meter(&a, &m).unwrap(),
        Outcome::Replayed(_)
    ));
    let changed = Meter {
        aggregation: Aggregation::Sum,
        ..m.clone()
    };
    assert!(matches!(
        store.create_meter(&a, &changed),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_meters(&a).unwrap(), vec![m]);
    let plan = StoredPlan {
        code: "p1".into(),
        currency: Currency::CNY,
        body: "{\"a\":1}".into(),
        created_at: at(5),
    };
    assert!(matches!(
        store.create_plan(&a, &plan).unwrap(),
        Outcome::Applied(_)
    ));
    let again = StoredPlan {
        created_at: at(9),
        ..plan.clone()
    };
    assert_eq!(
        store.create_plan(&a, &again).unwrap(),
        Outcome::Replayed(plan.clone())
    );
    let other = StoredPlan {
        body: "{\"a\":2}".into(),
        ..plan.clone()
    };
    assert!(matches!(
        store.create_plan(&a, &other),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_plan(&a, "p1").unwrap(), Some(plan));
    // Customers update in place, keeping their id and creation time.
    customer(store, &a, "acme");
    let first = store.get_customer(&a, "acme").unwrap().unwrap();
    let updated = store
        .put_customer(
            &a,
            &CustomerId::parse("cus_other").unwrap(),
            &CustomerInput {
                external_id: "acme".into(),
                name: "New".into(),
                timezone: "UTC".into(),
                tax_rate: dec!(0.130),
            },
            at(50),
        )
        .unwrap();
    assert_eq!(updated.id, first.id);
    assert_eq!(updated.created_at, first.created_at);
    assert_eq!(updated.name, "New");
    assert_eq!(updated.tax_rate.to_string(), "0.130");
}

pub fn usage_duplicates_conflicts_and_unknown_customers(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let e1 = event("k1", "acme", "calls", 10, Some(dec!(1)));
    let mut e1_other = e1.clone();
    e1_other.payload_hash = "other".into();
    let outcomes = store
        .insert_usage(
            &a,
            &[
                e1.clone(),
                e1.clone(),
                e1_other.clone(),
                event("k2", "ghost", "calls", 10, Some(dec!(1))),
                event("k3", "acme", "calls", 11, Some(dec!(2))),
            ],
            at(20),
        )
        .unwrap();
    use IngestOutcome::*;
    assert_eq!(
        outcomes,
        vec![Accepted, Duplicate, Conflict, UnknownCustomer, Accepted]
    );
    // Across batches: the first stored event stands.
    let outcomes = store
        .insert_usage(
            &a,
            &[
                e1_other,
                e1.clone(),
                event("k2", "acme", "calls", 12, Some(dec!(4))),
            ],
            at(21),
        )
        .unwrap();
    assert_eq!(outcomes, vec![Conflict, Duplicate, Accepted]);
    let stored = store
        .usage_page(&a, at(0), at(100), &page(None, 10))
        .unwrap();
    let keys: Vec<_> = stored.iter().map(|e| e.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["k1", "k3", "k2"]);
    assert_eq!(stored[0].value, Some(dec!(1)));
    assert_eq!(stored[0].batch, 1);
    assert_eq!(stored[2].batch, 2);
    assert_eq!(stored[0].received_at, at(20));
    assert_eq!(
        store.aggregate_usage(&a, &window(0, 100, 0, 2)).unwrap()[0].sum,
        dec!(7)
    );
    // A value with 7 places is refused and nothing is stored.
    let bad = event("k9", "acme", "calls", 13, Some(dec!(0.0000001)));
    assert!(matches!(
        store.insert_usage(&a, &[bad], at(22)),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.usage_watermark(&a).unwrap(), 2);
}

pub fn concurrent_ingest_accepts_each_key_once(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let events: Vec<NewUsageEvent> = (0..1000)
        .map(|i| {
            event(
                &format!("key-{i:04}"),
                "acme",
                "calls",
                i,
                Some(Decimal::from(i)),
            )
        })
        .collect();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            let a = a.clone();
            let mut events = events.clone();
            if t % 2 == 1 {
                events.reverse();
            }
            std::thread::spawn(move || store.insert_usage(&a, &events, at(2000)).unwrap())
        })
        .collect();
    let mut accepted = 0;
    let mut duplicates = 0;
    for t in threads {
        for outcome in t.join().unwrap() {
            match outcome {
                IngestOutcome::Accepted => accepted += 1,
                IngestOutcome::Duplicate => duplicates += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(accepted, 1000);
    assert_eq!(duplicates, 3000);
    assert_eq!(store.usage_watermark(&a).unwrap(), 4);
    let agg = store.aggregate_usage(&a, &window(0, 5000, 0, 4)).unwrap();
    assert_eq!(agg.len(), 1);
    assert_eq!(agg[0].count, 1000);
    assert_eq!(agg[0].sum, Decimal::from((0..1000).sum::<i64>()));
}

pub fn watermark_grows_per_batch(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    assert_eq!(store.usage_watermark(&a).unwrap(), 0);
    for n in 1..=3 {
        store
            .insert_usage(
                &a,
                &[event(&format!("w{n}"), "acme", "calls", n, None)],
                at(10),
            )
            .unwrap();
        assert_eq!(store.usage_watermark(&a).unwrap(), n);
    }
    // A batch of only unknown customers still takes its number.
    store
        .insert_usage(&a, &[event("w9", "ghost", "calls", 1, None)], at(10))
        .unwrap();
    assert_eq!(store.usage_watermark(&a).unwrap(), 4);
    // An empty batch takes none.
    assert!(store.insert_usage(&a, &[], at(10)).unwrap().is_empty());
    assert_eq!(store.usage_watermark(&a).unwrap(), 4);
}

pub fn aggregates_over_windows_and_batches(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    customer(store, &a, "beta");
    meter(store, &a, "calls", Aggregation::Sum);
    meter(store, &a, "gauge", Aggregation::Latest);
    meter(store, &a, "users", Aggregation::UniqueCount);
    let unique = |key: &str, customer: &str, secs: i64, user: &str| NewUsageEvent {
        distinct_value: Some(user.into()),
        ..event(key, customer, "users", secs, None)
    };
    // Batch 1.
    store
        .insert_usage(
            &a,
            &[
                event("c1", "acme", "calls", 10, Some(dec!(1.5))),
                event("c2", "acme", "calls", 20, Some(dec!(-0.25))),
                event("c3", "beta", "calls", 30, Some(dec!(4))),
                event("g1", "acme", "gauge", 10, Some(dec!(7))),
                event("g2", "acme", "gauge", 40, Some(dec!(3))),
                unique("u1", "acme", 10, "alice"),
                unique("u2", "acme", 11, "bob"),
                unique("u3", "acme", 12, "alice"),
            ],
            at(100),
        )
        .unwrap();
    // Batch 2: late events, and a tie on time with g2 (a later batch wins).
    store
        .insert_usage(
            &a,
            &[
                event("c4", "acme", "calls", 15, Some(dec!(10))),
                event("g0", "acme", "gauge", 40, Some(dec!(9))),
                event("c5", "acme", "calls", 500, Some(dec!(100))),
            ],
            at(600),
        )
        .unwrap();
    let find = |aggs: &[shiyun_core::billing::UsageAggregate], c: &str, m: &str| {
        aggs.iter()
            .find(|x| x.customer == c && x.meter == m)
            .cloned()
            .unwrap()
    };
    let first = store.aggregate_usage(&a, &window(0, 100, 0, 1)).unwrap();
    assert_eq!(first.len(), 4);
    let calls = find(&first, "acme", "calls");
    assert_eq!(
        (calls.count, calls.sum, calls.max),
        (2, dec!(1.25), Some(dec!(1.5)))
    );
    assert_eq!(calls.latest, None);
    assert_eq!(find(&first, "acme", "gauge").latest, Some(dec!(3)));
    let users = find(&first, "acme", "users");
    assert_eq!((users.count, users.distinct, users.max), (3, 2, None));
    assert_eq!(find(&first, "beta", "calls").sum, dec!(4));

    let both = store.aggregate_usage(&a, &window(0, 100, 0, 2)).unwrap();
    let calls = find(&both, "acme", "calls");
    assert_eq!(
        (calls.count, calls.sum, calls.max),
        (3, dec!(11.25), Some(dec!(10)))
    );
    assert_eq!(find(&both, "acme", "gauge").latest, Some(dec!(9)));
    // Only what batch 2 added.
    let late = store.aggregate_usage(&a, &window(0, 100, 1, 2)).unwrap();
    assert_eq!(late.len(), 2);
    assert_eq!(find(&late, "acme", "calls").sum, dec!(10));
    // The window's time bounds: [from, to).
    let mid = store.aggregate_usage(&a, &window(15, 30, 0, 2)).unwrap();
    assert_eq!(find(&mid, "acme", "calls").sum, dec!(9.75));
    assert!(mid.iter().all(|x| x.customer != "beta"));
    // One customer.
    let mut only = window(0, 1000, 0, 2);
    only.customer = Some("beta".into());
    let beta = store.aggregate_usage(&a, &only).unwrap();
    assert_eq!(beta.len(), 1);
    assert_eq!(beta[0].count, 1);
}

pub fn usage_points_carry_the_last_value_in(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    customer(store, &a, "beta");
    store
        .insert_usage(
            &a,
            &[
                event("p1", "acme", "mem", 5, Some(dec!(1))),
                event("p2", "acme", "mem", 8, Some(dec!(2))),
                event("p3", "acme", "mem", 12, Some(dec!(3))),
                event("p4", "acme", "mem", 14, Some(dec!(4))),
                event("p5", "acme", "mem", 20, Some(dec!(5))),
                event("q1", "beta", "mem", 13, Some(dec!(99))),
                event("r1", "acme", "cpu", 13, Some(dec!(98))),
            ],
            at(30),
        )
        .unwrap();
    store
        .insert_usage(&a, &[event("p6", "acme", "mem", 9, Some(dec!(6)))], at(40))
        .unwrap();
    let mut w = window(10, 20, 0, 1);
    w.customer = Some("acme".into());
    let points = store.usage_points(&a, "mem", &w).unwrap();
    let got: Vec<_> = points.iter().map(|p| (p.timestamp, p.value)).collect();
    assert_eq!(
        got,
        vec![(at(8), dec!(2)), (at(12), dec!(3)), (at(14), dec!(4))]
    );
    // Batch 2's point before the window is carried in once it counts.
    w.up_to_batch = 2;
    let points = store.usage_points(&a, "mem", &w).unwrap();
    assert_eq!((points[0].timestamp, points[0].value), (at(9), dec!(6)));
    assert_eq!(points.len(), 3);
    // Nothing before the window: no carried point.
    let mut early = window(0, 6, 0, 2);
    early.customer = Some("acme".into());
    assert_eq!(store.usage_points(&a, "mem", &early).unwrap().len(), 1);
    // A customer is required.
    assert!(matches!(
        store.usage_points(&a, "mem", &window(0, 6, 0, 2)),
        Err(StoreError::Invalid(_))
    ));
}

pub fn usage_pages_by_time_and_key(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let events: Vec<_> = (0..25)
        .map(|i| event(&format!("e{:02}", 24 - i), "acme", "calls", i / 5, None))
        .collect();
    store.insert_usage(&a, &events, at(100)).unwrap();
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let got = store
            .usage_page(&a, at(0), at(100), &page(after.as_deref(), 7))
            .unwrap();
        if got.is_empty() {
            break;
        }
        let last = got.last().unwrap();
        after = Some(format!(
            "{}:{}",
            last.timestamp.timestamp_micros(),
            last.idempotency_key
        ));
        seen.extend(got.into_iter().map(|e| (e.timestamp, e.idempotency_key)));
    }
    let mut expected: Vec<_> = events
        .iter()
        .map(|e| (e.timestamp, e.idempotency_key.clone()))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(matches!(
        store.usage_page(&a, at(0), at(100), &page(Some("nonsense"), 7)),
        Err(StoreError::Invalid(_))
    ));
}

pub fn subscriptions_compare_and_set(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let sub = subscription("sub_1", "acme", 0, 100);
    assert!(matches!(
        store.create_subscription(&a, &sub).unwrap(),
        Outcome::Applied(_)
    ));
    let retry = Subscription {
        created_at: at(5),
        ..sub.clone()
    };
    assert!(store.create_subscription(&a, &retry).unwrap().is_replay());
    let other = Subscription {
        coupons: "[1]".into(),
        ..sub.clone()
    };
    assert!(matches!(
        store.create_subscription(&a, &other),
        Err(StoreError::Conflict(_))
    ));
    let ghost = subscription("sub_2", "ghost", 0, 100);
    assert!(matches!(
        store.create_subscription(&a, &ghost),
        Err(StoreError::NotFound { .. })
    ));

    let changed = Subscription {
        ends_on: NaiveDate::from_ymd_opt(2025, 7, 1),
        ..sub.clone()
    };
    let stored = store.update_subscription(&a, &changed).unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.ends_on, changed.ends_on);
    // The same stale version again is refused.
    assert!(matches!(
        store.update_subscription(&a, &changed),
        Err(StoreError::Conflict(_))
    ));
    // Due: active and ended, by id.
    for i in 3..8 {
        applied(
            store
                .create_subscription(&a, &subscription(&format!("sub_{i}"), "acme", 0, i * 10))
                .unwrap(),
        );
    }
    let due = store.due_subscriptions(&a, at(50), &page(None, 2)).unwrap();
    let ids: Vec<_> = due.iter().map(|s| s.id.as_str().to_owned()).collect();
    assert_eq!(ids, ["sub_3", "sub_4"]);
    let next = store
        .due_subscriptions(&a, at(50), &page(Some("sub_4"), 10))
        .unwrap();
    let ids: Vec<_> = next.iter().map(|s| s.id.as_str().to_owned()).collect();
    assert_eq!(ids, ["sub_5"]);
}

pub fn drafts_replay_and_refuse_stale_versions(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    applied(
        store
            .create_subscription(&a, &subscription("sub_1", "acme", 0, 0))
            .unwrap(),
    );
    // An opening empty period [0, 0) then [0, 100).
    let mut opening = draft(store, &a, "in_open", "sub_1", dec!(0));
    opening.next_period = Some((at(0), at(100)));
    let first = store.create_draft(&a, &opening).unwrap();
    assert!(!first.is_replay());
    let d = draft(store, &a, "in_1", "sub_1", dec!(12.34));
    assert_eq!(d.period_start, at(0));
    assert_eq!(d.period_end, at(100));
    let invoice = store.create_draft(&a, &d).unwrap().into_inner();
    assert_eq!(invoice.status, InvoiceStatus::Draft);
    assert_eq!(invoice.totals.total.amount(), dec!(12.34));
    assert_eq!(invoice.lines, d.lines);
    assert_eq!(invoice.number, None);
    let sub = store
        .get_subscription(&a, &d.subscription)
        .unwrap()
        .unwrap();
    assert_eq!(
        (sub.version, sub.next_period_start, sub.next_period_end),
        (3, at(100), at(200))
    );
    // A rerun (even with another id, and a subscription moved on) replays.
    let rerun = NewInvoice {
        id: InvoiceId::parse("in_rerun").unwrap(),
        ..d.clone()
    };
    assert_eq!(
        store.create_draft(&a, &rerun).unwrap(),
        Outcome::Replayed(invoice.clone())
    );
    // A stale version for the next period conflicts.
    let mut stale = draft(store, &a, "in_2", "sub_1", dec!(1));
    stale.subscription_version = 2;
    assert!(matches!(
        store.create_draft(&a, &stale),
        Err(StoreError::Conflict(_))
    ));
    // The last period cancels the subscription.
    let mut last = draft(store, &a, "in_3", "sub_1", dec!(1));
    last.next_period = None;
    applied(store.create_draft(&a, &last).unwrap());
    let sub = store
        .get_subscription(&a, &d.subscription)
        .unwrap()
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Cancelled);
    assert!(
        store
            .due_subscriptions(&a, at(10_000), &page(None, 10))
            .unwrap()
            .is_empty()
    );
    let due = store.drafts_due(&a, at(100), &page(None, 10)).unwrap();
    let ids: Vec<_> = due.iter().map(|i| i.id.as_str().to_owned()).collect();
    assert_eq!(ids, ["in_1", "in_open"]);
    // Amounts beyond six places are refused.
    let mut precise = draft(store, &a, "in_4", "sub_1", dec!(1));
    precise.subtotal = dec!(0.0000001);
    assert!(matches!(
        store.create_draft(&a, &precise),
        Err(StoreError::Invalid(_))
    ));
}

pub fn finalized_numbers_are_gapless_under_concurrency(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let mut invoices = Vec::new();
    for i in 0..8 {
        let sub = format!("sub_{i}");
        applied(
            store
                .create_subscription(&a, &subscription(&sub, "acme", 0, 100))
                .unwrap(),
        );
        let d = draft(store, &a, &format!("in_{i}"), &sub, Decimal::from(i + 1));
        invoices.push(store.create_draft(&a, &d).unwrap().into_inner());
    }
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            let a = a.clone();
            let mut mine = invoices.clone();
            mine.rotate_left(t * 2);
            std::thread::spawn(move || {
                mine.iter()
                    .map(|i| {
                        store
                            .finalize_invoice(&a, &i.id, &content_of(i), at(300))
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut applied = 0;
    for t in threads {
        applied += t.join().unwrap().iter().filter(|o| !o.is_replay()).count();
    }
    assert_eq!(applied, 8);
    let all = store
        .list_invoices(
            &a,
            &InvoiceFilter {
                status: Some(InvoiceStatus::Finalized),
                ..Default::default()
            },
            &page(None, 100),
        )
        .unwrap();
    let numbers: BTreeSet<_> = all.iter().map(|i| i.number.clone().unwrap()).collect();
    let expected: BTreeSet<_> = (1..=8).map(|n| format!("SY-{n:06}")).collect();
    assert_eq!(numbers, expected);
    // Finalising again changes nothing.
    let before = store.get_invoice(&a, &invoices[0].id).unwrap().unwrap();
    let mut other = content_of(&invoices[0]);
    other.subtotal = dec!(999);
    let again = store
        .finalize_invoice(&a, &invoices[0].id, &other, at(900))
        .unwrap();
    assert_eq!(again, Outcome::Replayed(before.clone()));
    assert_eq!(
        store.get_invoice(&a, &invoices[0].id).unwrap().unwrap(),
        before
    );
    assert_eq!(before.finalized_at, Some(at(300)));
}

pub fn finalize_draws_credit_notes_then_prepaid(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let first = issued(store, &a, "in_1", "sub_1", "acme", dec!(100));
    assert_eq!(first.totals.total.amount(), dec!(100));
    let cn = |id: &str, amount| {
        store
            .create_credit_note(
                &a,
                &CreditNoteId::parse(id).unwrap(),
                &first.id,
                amount,
                "goodwill",
                at(300),
            )
            .unwrap()
    };
    cn("cn_1", dec!(30));
    cn("cn_2", dec!(20));
    assert_eq!(
        store
            .add_prepaid_credit(&a, "acme", cny(dec!(40)), at(301))
            .unwrap(),
        cny(dec!(40))
    );
    let usd = Money::new(dec!(5), Currency::USD);
    assert_eq!(
        store.add_prepaid_credit(&a, "acme", usd, at(301)).unwrap(),
        usd
    );

    let second = issued(store, &a, "in_2", "sub_2", "acme", dec!(80.01));
    let t = second.totals;
    assert_eq!(t.credit_notes.amount(), dec!(50));
    assert_eq!(t.prepaid.amount(), dec!(30.01));
    assert_eq!(t.total.amount(), dec!(0));
    assert_eq!(t.total.amount().to_string(), "0.00");
    let notes = store.credit_notes_of(&a, &first.id).unwrap();
    assert!(notes.iter().all(|n| n.remaining.is_zero()));
    assert_eq!(
        notes.iter().map(|n| n.amount.amount()).sum::<Decimal>(),
        dec!(50)
    );

    let third = issued(store, &a, "in_3", "sub_3", "acme", dec!(25));
    assert_eq!(third.totals.prepaid.amount(), dec!(9.99));
    assert_eq!(third.totals.credit_notes.amount(), dec!(0));
    assert_eq!(third.totals.total.amount(), dec!(15.01));
    // The USD balance was never touched: adding to it shows what is left.
    assert_eq!(
        store
            .add_prepaid_credit(&a, "acme", Money::new(dec!(1), Currency::USD), at(400))
            .unwrap(),
        Money::new(dec!(6), Currency::USD)
    );
    assert_eq!(
        store
            .add_prepaid_credit(&a, "acme", cny(dec!(1)), at(400))
            .unwrap(),
        cny(dec!(1))
    );
    // Refusals.
    assert!(matches!(
        store.add_prepaid_credit(&a, "acme", cny(dec!(-1)), at(400)),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.add_prepaid_credit(&a, "acme", cny(dec!(0.0000001)), at(400)),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.add_prepaid_credit(&a, "ghost", cny(dec!(1)), at(400)),
        Err(StoreError::NotFound { .. })
    ));
}

pub fn credit_notes_are_capped(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let mut d = {
        applied(
            store
                .create_subscription(&a, &subscription("sub_1", "acme", 0, 100))
                .unwrap(),
        );
        draft(store, &a, "in_1", "sub_1", dec!(100))
    };
    d.discount = dec!(10);
    d.tax = dec!(5.4);
    let invoice = store.create_draft(&a, &d).unwrap().into_inner();
    let id = |s: &str| CreditNoteId::parse(s).unwrap();
    // A draft takes no credit note.
    assert!(matches!(
        store.create_credit_note(&a, &id("cn_0"), &invoice.id, dec!(1), "x", at(1)),
        Err(StoreError::Conflict(_))
    ));
    let invoice = store
        .finalize_invoice(&a, &invoice.id, &content_of(&invoice), at(200))
        .unwrap()
        .into_inner();
    assert_eq!(invoice.totals.total.amount(), dec!(95.4));
    let first = store
        .create_credit_note(&a, &id("cn_1"), &invoice.id, dec!(95), "a", at(300))
        .unwrap();
    assert_eq!(first.remaining, cny(dec!(95)));
    // The same note again is the stored one; another with its id conflicts.
    assert_eq!(
        store
            .create_credit_note(&a, &id("cn_1"), &invoice.id, dec!(95), "a", at(301))
            .unwrap(),
        first
    );
    assert!(matches!(
        store.create_credit_note(&a, &id("cn_1"), &invoice.id, dec!(1), "a", at(301)),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.create_credit_note(&a, &id("cn_2"), &invoice.id, dec!(0.41), "b", at(302)),
        Err(StoreError::Conflict(_))
    ));
    store
        .create_credit_note(&a, &id("cn_2"), &invoice.id, dec!(0.4), "b", at(302))
        .unwrap();
    assert!(matches!(
        store.create_credit_note(&a, &id("cn_3"), &invoice.id, dec!(0.000001), "c", at(303)),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.create_credit_note(&a, &id("cn_3"), &invoice.id, dec!(0), "c", at(303)),
        Err(StoreError::Invalid(_))
    ));
    let notes = store.credit_notes_of(&a, &invoice.id).unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].id.as_str(), "cn_1");
}

pub fn payments_must_match_and_replay(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let invoice = issued(store, &a, "in_1", "sub_1", "acme", dec!(42.5));
    let pay = |reference: &str, amount: Money| Payment {
        reference: reference.into(),
        amount,
        at: at(500),
    };
    for wrong in [cny(dec!(42.49)), Money::new(dec!(42.5), Currency::USD)] {
        let err = store
            .record_payment(&a, &invoice.id, &pay("r0", wrong))
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict(m) if m.contains("does not settle")),
            "{err}"
        );
    }
    let paid = store
        .record_payment(&a, &invoice.id, &pay("r1", cny(dec!(42.50))))
        .unwrap();
    assert!(!paid.is_replay());
    let paid = paid.into_inner();
    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert_eq!(paid.paid_at, Some(at(500)));
    assert_eq!(
        store
            .record_payment(&a, &invoice.id, &pay("r1", cny(dec!(42.5))))
            .unwrap(),
        Outcome::Replayed(paid.clone())
    );
    assert!(matches!(
        store.record_payment(&a, &invoice.id, &pay("r2", cny(dec!(42.5)))),
        Err(StoreError::Conflict(_))
    ));
    // A reference used once cannot pay another invoice.
    let other = issued(store, &a, "in_2", "sub_2", "acme", dec!(1));
    assert!(matches!(
        store.record_payment(&a, &other.id, &pay("r1", cny(dec!(1)))),
        Err(StoreError::Conflict(_))
    ));
    // Paid invoices cannot be voided.
    assert!(matches!(
        store.void_invoice(&a, &invoice.id, at(600)),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .issued_invoices_of(&a, &SubscriptionId::parse("sub_1").unwrap(), at(50))
            .unwrap(),
        vec![paid]
    );
}

pub fn void_rules(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    applied(
        store
            .create_subscription(&a, &subscription("sub_1", "acme", 0, 100))
            .unwrap(),
    );
    let draft_invoice = store
        .create_draft(&a, &draft(store, &a, "in_1", "sub_1", dec!(5)))
        .unwrap()
        .into_inner();
    assert!(matches!(
        store.void_invoice(&a, &draft_invoice.id, at(1)),
        Err(StoreError::Conflict(_))
    ));
    applied(
        store
            .finalize_invoice(&a, &draft_invoice.id, &content_of(&draft_invoice), at(200))
            .unwrap(),
    );
    let voided = store.void_invoice(&a, &draft_invoice.id, at(300)).unwrap();
    assert_eq!(voided.status, InvoiceStatus::Voided);
    assert_eq!(voided.voided_at, Some(at(300)));
    // Again: unchanged, no second audit entry.
    let chain = store.audit_chain(&a, 0, 100).unwrap().len();
    assert_eq!(
        store.void_invoice(&a, &draft_invoice.id, at(400)).unwrap(),
        voided
    );
    assert_eq!(store.audit_chain(&a, 0, 100).unwrap().len(), chain);
    let pay = Payment {
        reference: "r".into(),
        amount: voided.totals.total,
        at: at(500),
    };
    assert!(matches!(
        store.record_payment(&a, &voided.id, &pay),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.finalize_invoice(&a, &voided.id, &content_of(&voided), at(1)),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.void_invoice(&a, &InvoiceId::parse("in_none").unwrap(), at(1)),
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .issued_invoices_of(&a, &SubscriptionId::parse("sub_1").unwrap(), at(0))
            .unwrap()
            .is_empty()
    );
}

pub fn audit_chain_hashes_recompute(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let invoice = issued(store, &a, "in_1", "sub_1", "acme", dec!(10));
    store
        .create_credit_note(
            &a,
            &CreditNoteId::parse("cn_1").unwrap(),
            &invoice.id,
            dec!(1),
            "r",
            at(300),
        )
        .unwrap();
    store
        .add_prepaid_credit(&a, "acme", cny(dec!(3)), at(301))
        .unwrap();
    let pay = Payment {
        reference: "p".into(),
        amount: invoice.totals.total,
        at: at(302),
    };
    applied(store.record_payment(&a, &invoice.id, &pay).unwrap());
    let chain = store.audit_chain(&a, 0, 100).unwrap();
    let actions: Vec<_> = chain.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "invoice.drafted",
            "invoice.finalized",
            "credit_note.issued",
            "credit.added",
            "invoice.paid"
        ]
    );
    let mut prev = GENESIS_HASH.to_owned();
    for (i, r) in chain.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1);
        assert_eq!(r.prev_hash, prev);
        assert_eq!(
            r.hash,
            audit_hash(&r.prev_hash, r.seq, r.at, &r.action, &r.subject, &r.payload)
        );
        let payload: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
        assert!(payload.is_object());
        prev = r.hash.clone();
    }
    assert_eq!(chain[1].subject, "in_1");
    assert!(chain[1].payload.contains("SY-000001"));
    // Paging by seq.
    let tail = store.audit_chain(&a, 3, 1).unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0], chain[3]);
}

pub fn billing_audit_rows_cannot_be_changed_or_deleted(db: &TestDatabase) {
    let store: &Database = db;
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    store
        .add_prepaid_credit(&a, "acme", cny(dec!(3)), at(1))
        .unwrap();
    for sql in [
        "UPDATE billing_audit SET payload = '{}'",
        "DELETE FROM billing_audit",
    ] {
        assert!(refused_behind_the_store(db, sql), "{sql} was allowed");
    }
    assert_eq!(store.audit_chain(&a, 0, 10).unwrap().len(), 1);
}

/// Whether the database refuses `sql`, run on a connection of its own.
pub fn refused_behind_the_store(db: &TestDatabase, sql: &str) -> bool {
    use diesel::prelude::*;
    match db.url().strip_prefix("sqlite://") {
        Some(path) => {
            diesel::sql_query(sql).execute(&mut SqliteConnection::establish(path).unwrap())
        }
        None => diesel::sql_query(sql).execute(&mut PgConnection::establish(db.url()).unwrap()),
    }
    .is_err()
}
