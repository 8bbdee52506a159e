//! A month's bill run over PostgreSQL against a bare `GROUP BY` of the same
//! events, in one run.
//!
//! Set-up (not measured) in bulk SQL on a fresh database
//! (`TEST_POSTGRES_URL`): one issuer with no grace period, an `api_calls`
//! (count) and a `storage` (sum of `gb`) meter, one monthly calendar plan in
//! arrears (a fee of 100, API calls graduated, storage standard) published
//! through the engine, S customers (UTC) with one subscription each from
//! 2026-01-01, and E events spread over the customers and January, all in
//! ingest batch 1.
//!
//! Measured: `Billing::bill_run` at 2026-02-01T01:00Z (every subscription
//! drafted and finalised), the same run again (nothing to draft), and the
//! bare `GROUP BY customer, meter` over January. The engine runs over a
//! store that times each call, so the run's time is split between store
//! methods and the engine's own work.
//!
//! ```text
//! SHIYUN_BENCH_SUBSCRIPTIONS=100000 SHIYUN_BENCH_EVENTS=10000000 \
//!   cargo run --release -p shiyun-tests --example bench_billrun
//! ```

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a benchmark stops at the first failure"
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use shiyun_billing::plan::Plan;
use shiyun_billing::{Billing, SubscribeRequest};
use shiyun_core::Money;
use shiyun_core::billing::{
    Aggregation, AuditRecord, BillingStore, CreditNote, CreditNoteId, Customer, CustomerId,
    CustomerInput, FinalContent, IngestOutcome, Invoice, InvoiceFilter, InvoiceId, InvoiceStatus,
    Issuer, IssuerId, Meter, NewInvoice, NewUsageEvent, PageAfter, Payment, PlanPhase, StoredPlan,
    StoredUsageEvent, Subscription, SubscriptionId, UsageAggregate, UsagePoint, UsageWindow,
};
use shiyun_core::store::{Outcome, StoreResult};
use shiyun_schema::Database;
use shiyun_schema::testing::TestDatabase;

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .map_or(default, |v| v.replace('_', "").parse().expect(name))
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The store, timing every call by method.
struct Timed {
    inner: Database,
    spent: Mutex<BTreeMap<&'static str, (u64, Duration)>>,
}

impl Timed {
    fn time<T>(&self, method: &'static str, call: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = call();
        let took = started.elapsed();
        let mut spent = self.spent.lock().unwrap();
        let entry = spent.entry(method).or_default();
        entry.0 += 1;
        entry.1 += took;
        out
    }

    fn take(&self) -> BTreeMap<&'static str, (u64, Duration)> {
        std::mem::take(&mut *self.spent.lock().unwrap())
    }
}

impl BillingStore for Timed {
    fn ensure_issuer(&self, issuer: &Issuer) -> StoreResult<Issuer> {
        self.time("ensure_issuer", || self.inner.ensure_issuer(issuer))
    }
    fn get_issuer(&self, issuer: &IssuerId) -> StoreResult<Option<Issuer>> {
        self.time("get_issuer", || self.inner.get_issuer(issuer))
    }
    fn put_customer(
        &self,
        issuer: &IssuerId,
        id: &CustomerId,
        customer: &CustomerInput,
        at: DateTime<Utc>,
    ) -> StoreResult<Customer> {
        self.time("put_customer", || {
            self.inner.put_customer(issuer, id, customer, at)
        })
    }
    fn get_customer(&self, issuer: &IssuerId, external_id: &str) -> StoreResult<Option<Customer>> {
        self.time("get_customer", || {
            self.inner.get_customer(issuer, external_id)
        })
    }
    fn get_customers(
        &self,
        issuer: &IssuerId,
        external_ids: &[String],
    ) -> StoreResult<Vec<Customer>> {
        self.time("get_customers", || {
            self.inner.get_customers(issuer, external_ids)
        })
    }
    fn create_drafts(
        &self,
        issuer: &IssuerId,
        drafts: &[NewInvoice],
    ) -> StoreResult<Vec<Outcome<InvoiceId>>> {
        self.time("create_drafts", || self.inner.create_drafts(issuer, drafts))
    }
    fn issued_watermarks(
        &self,
        issuer: &IssuerId,
        subscriptions: &[SubscriptionId],
    ) -> StoreResult<std::collections::HashMap<SubscriptionId, i64>> {
        self.time("issued_watermarks", || {
            self.inner.issued_watermarks(issuer, subscriptions)
        })
    }
    fn finalize_invoices(
        &self,
        issuer: &IssuerId,
        invoices: &[(InvoiceId, FinalContent)],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<Outcome<InvoiceId>>> {
        self.time("finalize_invoices", || {
            self.inner.finalize_invoices(issuer, invoices, at)
        })
    }
    fn create_meter(&self, issuer: &IssuerId, meter: &Meter) -> StoreResult<Outcome<Meter>> {
        self.time("create_meter", || self.inner.create_meter(issuer, meter))
    }
    fn list_meters(&self, issuer: &IssuerId) -> StoreResult<Vec<Meter>> {
        self.time("list_meters", || self.inner.list_meters(issuer))
    }
    fn create_plan(
        &self,
        issuer: &IssuerId,
        plan: &StoredPlan,
    ) -> StoreResult<Outcome<StoredPlan>> {
        self.time("create_plan", || self.inner.create_plan(issuer, plan))
    }
    fn get_plan(&self, issuer: &IssuerId, code: &str) -> StoreResult<Option<StoredPlan>> {
        self.time("get_plan", || self.inner.get_plan(issuer, code))
    }
    fn list_plans(&self, issuer: &IssuerId) -> StoreResult<Vec<StoredPlan>> {
        self.time("list_plans", || self.inner.list_plans(issuer))
    }
    fn insert_usage(
        &self,
        issuer: &IssuerId,
        events: &[NewUsageEvent],
        received_at: DateTime<Utc>,
    ) -> StoreResult<Vec<IngestOutcome>> {
        self.time("insert_usage", || {
            self.inner.insert_usage(issuer, events, received_at)
        })
    }
    fn usage_watermark(&self, issuer: &IssuerId) -> StoreResult<i64> {
        self.time("usage_watermark", || self.inner.usage_watermark(issuer))
    }
    fn aggregate_usage(
        &self,
        issuer: &IssuerId,
        window: &UsageWindow,
    ) -> StoreResult<Vec<UsageAggregate>> {
        let method = if window.customer.is_some() {
            "aggregate_usage_customer"
        } else {
            "aggregate_usage_all"
        };
        self.time(method, || self.inner.aggregate_usage(issuer, window))
    }
    fn usage_points(
        &self,
        issuer: &IssuerId,
        meter: &str,
        window: &UsageWindow,
    ) -> StoreResult<Vec<UsagePoint>> {
        self.time("usage_points", || {
            self.inner.usage_points(issuer, meter, window)
        })
    }
    fn usage_page(
        &self,
        issuer: &IssuerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<StoredUsageEvent>> {
        self.time("usage_page", || {
            self.inner.usage_page(issuer, from, to, page)
        })
    }
    fn create_subscription(
        &self,
        issuer: &IssuerId,
        subscription: &Subscription,
    ) -> StoreResult<Outcome<Subscription>> {
        self.time("create_subscription", || {
            self.inner.create_subscription(issuer, subscription)
        })
    }
    fn get_subscription(
        &self,
        issuer: &IssuerId,
        id: &SubscriptionId,
    ) -> StoreResult<Option<Subscription>> {
        self.time("get_subscription", || {
            self.inner.get_subscription(issuer, id)
        })
    }
    fn update_subscription(
        &self,
        issuer: &IssuerId,
        subscription: &Subscription,
    ) -> StoreResult<Subscription> {
        self.time("update_subscription", || {
            self.inner.update_subscription(issuer, subscription)
        })
    }
    fn due_subscriptions(
        &self,
        issuer: &IssuerId,
        due: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<Subscription>> {
        self.time("due_subscriptions", || {
            self.inner.due_subscriptions(issuer, due, page)
        })
    }
    fn create_draft(&self, issuer: &IssuerId, draft: &NewInvoice) -> StoreResult<Outcome<Invoice>> {
        self.time("create_draft", || self.inner.create_draft(issuer, draft))
    }
    fn drafts_due(
        &self,
        issuer: &IssuerId,
        ended_by: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<Invoice>> {
        self.time("drafts_due", || {
            self.inner.drafts_due(issuer, ended_by, page)
        })
    }
    fn finalize_invoice(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        content: &FinalContent,
        at: DateTime<Utc>,
    ) -> StoreResult<Outcome<Invoice>> {
        self.time("finalize_invoice", || {
            self.inner.finalize_invoice(issuer, invoice, content, at)
        })
    }
    fn get_invoice(&self, issuer: &IssuerId, invoice: &InvoiceId) -> StoreResult<Option<Invoice>> {
        self.time("get_invoice", || self.inner.get_invoice(issuer, invoice))
    }
    fn list_invoices(
        &self,
        issuer: &IssuerId,
        filter: &InvoiceFilter,
        page: &PageAfter,
    ) -> StoreResult<Vec<Invoice>> {
        self.time("list_invoices", || {
            self.inner.list_invoices(issuer, filter, page)
        })
    }
    fn issued_invoices_of(
        &self,
        issuer: &IssuerId,
        subscription: &SubscriptionId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<Invoice>> {
        self.time("issued_invoices_of", || {
            self.inner.issued_invoices_of(issuer, subscription, since)
        })
    }
    fn record_payment(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        payment: &Payment,
    ) -> StoreResult<Outcome<Invoice>> {
        self.time("record_payment", || {
            self.inner.record_payment(issuer, invoice, payment)
        })
    }
    fn void_invoice(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        at: DateTime<Utc>,
    ) -> StoreResult<Invoice> {
        self.time("void_invoice", || {
            self.inner.void_invoice(issuer, invoice, at)
        })
    }
    fn create_credit_note(
        &self,
        issuer: &IssuerId,
        id: &CreditNoteId,
        invoice: &InvoiceId,
        amount: Decimal,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<CreditNote> {
        self.time("create_credit_note", || {
            self.inner
                .create_credit_note(issuer, id, invoice, amount, reason, at)
        })
    }
    fn credit_notes_of(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
    ) -> StoreResult<Vec<CreditNote>> {
        self.time("credit_notes_of", || {
            self.inner.credit_notes_of(issuer, invoice)
        })
    }
    fn add_prepaid_credit(
        &self,
        issuer: &IssuerId,
        customer: &str,
        amount: Money,
        at: DateTime<Utc>,
    ) -> StoreResult<Money> {
        self.time("add_prepaid_credit", || {
            self.inner.add_prepaid_credit(issuer, customer, amount, at)
        })
    }
    fn audit_chain(
        &self,
        issuer: &IssuerId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        self.time("audit_chain", || {
            self.inner.audit_chain(issuer, after_seq, limit)
        })
    }
}

/// Ids that count up (the run's ids need not be secret).
fn counting_ids() -> shiyun_billing::IdSource {
    let next = Arc::new(AtomicU64::new(1));
    Arc::new(move || {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; 16];
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        bytes
    })
}

fn issuer(id: &str) -> Issuer {
    Issuer {
        id: IssuerId::parse(id).unwrap(),
        name: "Bench issuer".into(),
        invoice_prefix: "B".into(),
        grace_period_hours: 0,
        late_window_days: 35,
    }
}

fn plan() -> Plan {
    Plan::parse(
        &json!({
            "code": "monthly",
            "name": "Monthly",
            "currency": "CNY",
            "interval": "monthly",
            "billing_time": "calendar",
            "pay_in": "arrears",
            "recurring_fee": "100",
            "charges": [
                {"meter": "api_calls", "model": "graduated", "tiers": [
                    {"up_to": "10", "unit_price": "0", "flat_fee": "0"},
                    {"up_to": "100", "unit_price": "0.01", "flat_fee": "0"},
                    {"up_to": null, "unit_price": "0.005", "flat_fee": "0"}
                ]},
                {"meter": "storage", "model": "standard", "unit_price": "0.5"}
            ]
        })
        .to_string(),
    )
    .unwrap()
}

/// An engine of `id` over `store` with the meters and the plan.
fn engine(store: Arc<dyn BillingStore>, id: &str, now: DateTime<Utc>) -> Billing {
    let billing = Billing::open(store, issuer(id), counting_ids()).unwrap();
    for (code, aggregation, property) in [
        ("api_calls", Aggregation::Count, None),
        ("storage", Aggregation::Sum, Some("gb")),
    ] {
        let _meter = billing
            .define_meter(&Meter {
                code: code.into(),
                name: code.into(),
                aggregation,
                property: property.map(str::to_owned),
            })
            .unwrap();
    }
    let _plan = billing.define_plan(&plan(), now).unwrap();
    billing
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    let subscriptions = env_number("SHIYUN_BENCH_SUBSCRIPTIONS", 100_000).max(1);
    let events = env_number("SHIYUN_BENCH_EVENTS", 10_000_000).max(0);
    let db = TestDatabase::postgres();
    let database = db.database().clone();
    let timed = Arc::new(Timed {
        inner: database.clone(),
        spent: Mutex::default(),
    });
    let created = at("2025-12-20T00:00:00Z");
    let from = at("2026-01-01T00:00:00Z");
    let to = at("2026-02-01T00:00:00Z");
    let now = at("2026-02-01T01:00:00Z");
    let micros = |t: DateTime<Utc>| t.timestamp_micros();

    // The stored format of a subscription, checked against one the engine
    // makes itself (in an issuer of its own, so the run bills S exactly).
    let reference = engine(Arc::new(database.clone()), "iss_benchref", created);
    reference
        .put_customer(
            &CustomerInput {
                external_id: "c0000001".into(),
                name: "Customer 1".into(),
                timezone: "UTC".into(),
                tax_rate: Decimal::ZERO,
            },
            created,
        )
        .unwrap();
    let made = reference
        .subscribe(
            &SubscribeRequest {
                id: Some(SubscriptionId::parse("sub_000000000001").unwrap()),
                customer: "c0000001".into(),
                plan: "monthly".into(),
                starts_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                coupons: Vec::new(),
            },
            created,
        )
        .unwrap()
        .into_inner();

    let setup = Instant::now();
    let billing = engine(timed.clone(), "iss_bench", created);
    let phases = [PlanPhase {
        plan: "monthly".into(),
        starts_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    }];
    database
        .bench_seed_subscriptions(
            "iss_bench",
            subscriptions,
            &phases,
            micros(from),
            micros(to),
            micros(created),
        )
        .unwrap();
    let seeded = billing
        .store()
        .get_subscription(billing.id().unwrap(), &made.id)
        .unwrap()
        .expect("the first seeded subscription");
    assert_eq!(
        (
            &seeded.customer,
            &seeded.phases,
            seeded.ends_on,
            seeded.status,
            &seeded.coupons
        ),
        (
            &made.customer,
            &made.phases,
            made.ends_on,
            made.status,
            &made.coupons
        ),
        "seeded subscriptions are stored as the engine stores them"
    );
    assert_eq!(
        (
            seeded.next_period_start,
            seeded.next_period_end,
            seeded.version
        ),
        (made.next_period_start, made.next_period_end, made.version),
        "the first period is January"
    );
    database
        .bench_seed_usage(
            "iss_bench",
            subscriptions,
            events,
            micros(from),
            micros(to),
            "api_calls",
            "storage",
            1_500_000,
            r#"{"gb":"1.5"}"#,
        )
        .unwrap();
    eprintln!(
        "set-up: {subscriptions} subscriptions, {events} events in {:.1} s",
        secs(setup.elapsed())
    );

    // The baseline.
    let started = Instant::now();
    let (groups, counted) = database
        .bench_group_by_usage("iss_bench", micros(from), micros(to))
        .unwrap();
    let bare = started.elapsed();
    assert_eq!(counted, events, "the bare GROUP BY counts every event");
    eprintln!("bare group by: {groups} groups");
    timed.take();

    // The bill run.
    let started = Instant::now();
    let report = billing.bill_run(now).unwrap();
    let run = started.elapsed();
    let profile = timed.take();
    assert!(
        report.failures.is_empty(),
        "failures: {:?}",
        report.failures
    );
    let expected = u64::try_from(subscriptions).unwrap();
    assert_eq!(
        (report.drafted, report.replayed, report.finalized),
        (expected, 0, expected),
        "every subscription drafted and finalised once"
    );

    // One invoice checked line by line: c0000001 gets every other round
    // of events, starting with API calls.
    let first = billing
        .store()
        .list_invoices(
            billing.id().unwrap(),
            &InvoiceFilter {
                customer: Some("c0000001".into()),
                ..InvoiceFilter::default()
            },
            &PageAfter {
                after: None,
                limit: 10,
            },
        )
        .unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    let invoice = &first[0];
    assert_eq!(invoice.status, InvoiceStatus::Finalized);
    let rounds = events / subscriptions;
    let calls = Decimal::from((rounds + 1) / 2);
    let gb = Decimal::new(15, 1) * Decimal::from(rounds / 2);
    let quantity = |meter: &str| {
        invoice
            .lines
            .iter()
            .find(|l| l.meter.as_deref() == Some(meter))
            .map_or(Decimal::ZERO, |l| l.quantity)
    };
    let fee = invoice
        .lines
        .iter()
        .find(|l| l.kind == "recurring_fee")
        .map(|l| l.amount);
    assert_eq!(fee, Some(Decimal::from(100)), "{invoice:?}");
    if events % subscriptions == 0 {
        assert_eq!(
            (quantity("api_calls"), quantity("storage")),
            (calls, gb),
            "{invoice:?}"
        );
    }
    eprintln!(
        "invoice of c0000001: total {} ({} lines)",
        invoice.totals.total,
        invoice.lines.len()
    );

    // Again: nothing is due.
    let started = Instant::now();
    let again = billing.bill_run(now).unwrap();
    let rerun = started.elapsed();
    assert_eq!(
        (again.drafted, again.replayed, again.finalized),
        (0, 0, 0),
        "a rerun drafts nothing: {again:?}"
    );
    assert!(again.failures.is_empty(), "{again:?}");

    println!("billrun_subscriptions = {subscriptions} subscriptions");
    println!("billrun_events = {events} events");
    println!("billrun_seconds = {:.2} s", secs(run));
    println!(
        "billrun_subscriptions_per_s = {:.0} subscriptions/s",
        subscriptions as f64 / secs(run)
    );
    println!(
        "billrun_ms_per_subscription = {:.3} ms",
        secs(run) * 1000.0 / subscriptions as f64
    );
    println!("bare_group_by_seconds = {:.2} s", secs(bare));
    println!(
        "billrun_ratio_to_bare_group_by = {:.1} x",
        secs(run) / secs(bare)
    );
    println!("billrun_rerun_seconds = {:.3} s", secs(rerun));

    // Where the run's time went: each store method, and the rest (the
    // engine's own work: plans, composing, rating, ids).
    let mut in_store = Duration::ZERO;
    for (method, (calls, spent)) in &profile {
        in_store += *spent;
        println!("billrun_store_{method} = {:.2} s", secs(*spent));
        println!("billrun_store_{method}_calls = {calls} calls");
    }
    println!(
        "billrun_engine_outside_store = {:.2} s",
        secs(run.saturating_sub(in_store))
    );
}
