//! `kill -9` of `shiyun billing run` part-way, several times at different
//! points, then a rerun to the end: each subscription's period is invoiced
//! exactly once, every invoice is final, the numbers run SY-000001 to
//! SY-N with no gap and no repeat, the usage is counted once and the audit
//! chain verifies.
//!
//! The kills are placed by progress (how many subscriptions the run has
//! moved on, read from the database while it runs), not by a fixed delay:
//! on a loaded machine a delay lands anywhere, progress does not. A small
//! varying pause after the mark moves the kill around within a
//! subscription's draft-then-finalise step.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shiyun_billing::plan::Plan;
use shiyun_billing::{Billing, SubscribeRequest};
use shiyun_core::billing::{
    Aggregation, CustomerInput, Invoice, InvoiceFilter, InvoiceStatus, Issuer, IssuerId, Meter,
    PageAfter,
};

use crate::helpers::*;

/// Enough that a debug bill run takes a few seconds, so kills land inside it.
const SUBSCRIPTIONS: usize = 800;

/// Where each attempt is killed: just after the process starts (`None`:
/// 30 ms in, while it opens the database), or once this percentage of the
/// subscriptions has been moved on.
const KILLS: [Option<usize>; 4] = [None, Some(10), Some(40), Some(70)];

fn random_id() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

/// The marketplace issuer as the server makes it (`[billing]` defaults).
fn marketplace(db: &shiyun_schema::Database) -> Billing {
    let issuer = Issuer {
        id: IssuerId::marketplace(),
        name: "Shiyun".into(),
        invoice_prefix: "SY".into(),
        grace_period_hours: 0,
        late_window_days: 35,
    };
    Billing::open(Arc::new(db.clone()), issuer, Arc::new(random_id)).unwrap()
}

/// A meter, a weekly plan in arrears, `SUBSCRIPTIONS` customers (UTC)
/// subscribed from ten days ago (so one week has ended) and a few API calls
/// each in that week. Returns the week's start and each customer's calls.
fn set_up(billing: &Billing) -> (DateTime<Utc>, BTreeMap<String, u64>) {
    let now = Utc::now();
    let _meter = billing
        .define_meter(&Meter {
            code: "api_calls".into(),
            name: "API calls".into(),
            aggregation: Aggregation::Count,
            property: None,
        })
        .unwrap();
    let plan = Plan::parse(
        &json!({
            "code": "weekly",
            "name": "Weekly",
            "currency": "CNY",
            "interval": "weekly",
            "billing_time": "anniversary",
            "pay_in": "arrears",
            "recurring_fee": "10",
            "charges": [{"meter": "api_calls", "model": "standard", "unit_price": "0.01"}]
        })
        .to_string(),
    )
    .unwrap();
    let _plan = billing.define_plan(&plan, now).unwrap();
    let starts_on = now.date_naive() - Days::new(10);
    let week = starts_on.and_time(NaiveTime::MIN).and_utc();
    let mut calls = BTreeMap::new();
    let mut events = Vec::new();
    for k in 0..SUBSCRIPTIONS {
        let customer = format!("cust-{k:05}");
        billing
            .put_customer(
                &CustomerInput {
                    external_id: customer.clone(),
                    name: customer.clone(),
                    timezone: "UTC".into(),
                    tax_rate: Decimal::ZERO,
                },
                now,
            )
            .unwrap();
        let _subscription = billing
            .subscribe(
                &SubscribeRequest {
                    id: None,
                    customer: customer.clone(),
                    plan: "weekly".into(),
                    starts_on,
                    coupons: Vec::new(),
                },
                now,
            )
            .unwrap();
        let n = k % 4 + 1;
        for i in 0..n {
            let at = week + chrono::Duration::hours(i64::try_from(24 + i).unwrap());
            events.push(json!({
                "idempotency_key": format!("{customer}-{i}"),
                "customer": customer,
                "meter": "api_calls",
                "timestamp": at.to_rfc3339(),
                "properties": {},
            }));
        }
        calls.insert(customer, u64::try_from(n).unwrap());
    }
    for chunk in events.chunks(1_000) {
        let report = billing.ingest(chunk, now).unwrap();
        assert_eq!(report.accepted, chunk.len(), "{report:?}");
    }
    (week, calls)
}

/// Subscriptions the bill run has moved on (drafted) so far.
fn moved_on(billing: &Billing) -> usize {
    let due = billing
        .store()
        .due_subscriptions(
            billing.id().unwrap(),
            Utc::now(),
            &PageAfter {
                after: None,
                limit: 10_000,
            },
        )
        .unwrap();
    SUBSCRIPTIONS - due.len()
}

fn all_invoices(billing: &Billing) -> Vec<Invoice> {
    let mut all = Vec::new();
    let mut page = PageAfter {
        after: None,
        limit: 1_000,
    };
    loop {
        let batch = billing
            .store()
            .list_invoices(billing.id().unwrap(), &InvoiceFilter::default(), &page)
            .unwrap();
        let Some(last) = batch.last() else { break };
        page.after = Some(last.id.to_string());
        all.extend(batch);
    }
    all
}

/// What holds at any point, also right after a kill: a subscription moved
/// on has its one invoice for the week (drafting and moving on are one
/// step), and the final ones are numbered 1..=F with no gap or repeat.
/// Returns the invoices by subscription.
fn check_consistent(billing: &Billing, week: DateTime<Utc>) -> BTreeMap<String, Invoice> {
    let invoices = all_invoices(billing);
    let mut by_subscription = BTreeMap::new();
    let mut numbers = Vec::new();
    for invoice in invoices {
        assert_eq!(invoice.period_start, week, "{invoice:?}");
        assert_eq!(invoice.period_end, week + chrono::Duration::days(7));
        match invoice.status {
            InvoiceStatus::Finalized => {
                let number = invoice
                    .number
                    .as_deref()
                    .expect("a final invoice has a number");
                let n: u64 = number
                    .strip_prefix("SY-")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("not an SY number: {number}"));
                numbers.push(n);
            }
            InvoiceStatus::Draft => assert_eq!(invoice.number, None, "{invoice:?}"),
            other => panic!("no invoice is {other} here: {invoice:?}"),
        }
        let subscription = invoice.subscription.clone().unwrap().to_string();
        if let Some(before) = by_subscription.insert(subscription.clone(), invoice) {
            panic!("two invoices for subscription {subscription}: {before:?}");
        }
    }
    numbers.sort_unstable();
    let expected: Vec<u64> = (1..=u64::try_from(numbers.len()).unwrap()).collect();
    assert_eq!(numbers, expected, "invoice numbers with a gap or a repeat");
    assert_eq!(
        by_subscription.len(),
        moved_on(billing),
        "every subscription moved on has its invoice, and no other has one"
    );
    by_subscription
}

/// Starts `shiyun billing run` and kills it once `kill` says so; answers
/// how far the run had got, or `None` when it ended first.
fn run_and_kill(env: &Env, billing: &Billing, kill: Option<usize>, attempt: u32) -> Option<usize> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut running = env.spawn(&["billing", "run"]);
        let started = Instant::now();
        // At least one subscription in, and never the last.
        let target =
            kill.map(|percent| (SUBSCRIPTIONS * percent / 100).clamp(1, SUBSCRIPTIONS - 1));
        loop {
            if running.child.try_wait().unwrap().is_some() {
                let finished = running.wait(Duration::from_secs(1));
                // A killed run's PostgreSQL session (and its job lock) ends
                // a moment after the process does.
                if finished.stderr.contains("already running") {
                    assert!(Instant::now() < deadline, "the job lock was never freed");
                    std::thread::sleep(Duration::from_millis(200));
                    break;
                }
                finished.ok("billing run");
                eprintln!("attempt {attempt}: the run ended before the kill mark");
                return None;
            }
            let due = match target {
                None => started.elapsed() >= Duration::from_millis(30),
                Some(target) => moved_on(billing) >= target,
            };
            if due {
                // A different spot within a subscription's step each time.
                std::thread::sleep(Duration::from_micros(u64::from(attempt) * 700));
                let finished = running.kill9();
                let at = moved_on(billing);
                eprintln!(
                    "attempt {attempt}: killed after {:?} at {at} of {SUBSCRIPTIONS} ({:?})",
                    started.elapsed(),
                    finished.status
                );
                return (!finished.status.success()).then_some(at);
            }
            assert!(Instant::now() < deadline, "the bill run made no progress");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Runs `shiyun billing run` to its end (waiting out a killed run's lock);
/// answers its report.
fn run_to_end(env: &Env) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let finished = env.run(&["billing", "run"], Duration::from_secs(600));
        if finished.stderr.contains("already running") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        return serde_json::from_str(&finished.ok("billing run")).unwrap();
    }
}

fn killed_then_rerun(db: &shiyun_schema::testing::TestDatabase) {
    let billing = marketplace(db.database());
    let set_up_at = Instant::now();
    let (week, calls) = set_up(&billing);
    eprintln!(
        "set up {SUBSCRIPTIONS} subscriptions in {:?}",
        set_up_at.elapsed()
    );
    let env = Env::new(db.url());

    let mut landed = Vec::new();
    for (attempt, kill) in (1..).zip(KILLS) {
        if let Some(at) = run_and_kill(&env, &billing, kill, attempt) {
            landed.push(at);
        }
        let _consistent = check_consistent(&billing, week);
    }
    let mid_run = landed
        .iter()
        .filter(|at| (1..SUBSCRIPTIONS).contains(*at))
        .count();
    assert!(
        mid_run >= 2,
        "too few kills landed inside the run ({landed:?}): make SUBSCRIPTIONS larger"
    );

    let started = Instant::now();
    let report = run_to_end(&env);
    eprintln!("the rerun took {:?}: {report}", started.elapsed());
    assert_eq!(report["failures"], json!([]), "{report}");
    let invoices = check_consistent(&billing, week);
    assert_eq!(
        invoices.len(),
        SUBSCRIPTIONS,
        "one invoice per subscription"
    );
    let mut customers = BTreeSet::new();
    for invoice in invoices.values() {
        assert_eq!(invoice.status, InvoiceStatus::Finalized, "{invoice:?}");
        assert!(customers.insert(invoice.customer.clone()));
        let usage: Vec<_> = invoice
            .lines
            .iter()
            .filter(|l| l.kind != "recurring_fee")
            .map(|l| (l.kind.as_str(), l.meter.as_deref(), l.quantity))
            .collect();
        assert_eq!(
            usage,
            [(
                "usage",
                Some("api_calls"),
                Decimal::from(calls[&invoice.customer])
            )],
            "{invoice:?}"
        );
    }

    // Nothing left to do, and the audit chain holds.
    let again = run_to_end(&env);
    assert_eq!(
        (&again["drafted"], &again["replayed"], &again["finalized"]),
        (&json!(0), &json!(0), &json!(0)),
        "{again}"
    );
    let verdict = env
        .run(&["audit", "verify"], Duration::from_secs(600))
        .ok("audit verify");
    assert!(verdict.contains("audit chain intact"), "{verdict}");
}

on_both_backends! {
    fn a_bill_run_killed_part_way_and_rerun_issues_each_invoice_once(db) {
        killed_then_rerun(db);
    }
}
