//! The payment store: provider customers recorded once, attempts replayed
//! by key and changed by compare-and-set, due retries, webhook events
//! recorded once with their change (also under concurrency), refunds one
//! per credit note, every call scoped by issuer.

use std::sync::{Arc, Barrier};

use chrono::Duration;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_core::billing::payments::{
    AttemptStatus, PaymentAttempt, PaymentAttemptId, PaymentPurpose, PaymentRefund, PaymentStore,
    WebhookEvent,
};
use shiyun_core::billing::{
    BillingStore, CreditNoteId, FinalContent, InvoiceId, InvoiceLine, IssuerId, NewInvoice,
    PlanPhase, Subscription, SubscriptionId, SubscriptionStatus,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{Outcome, StoreError};
use shiyun_schema::Database;

use crate::billing::{customer, issuer};
use crate::support::at;

fn cny(amount: Decimal) -> Money {
    Money::new(amount, Currency::CNY)
}

fn attempt(id: &str, customer: &str, key: &str, reference: &str) -> PaymentAttempt {
    PaymentAttempt {
        id: PaymentAttemptId::parse(id).unwrap(),
        customer: customer.into(),
        purpose: PaymentPurpose::TopUp,
        key: key.into(),
        amount: cny(dec!(100.00)),
        provider: "stripe".into(),
        provider_reference: reference.into(),
        status: AttemptStatus::Pending,
        retries: 0,
        payment_method: None,
        first_failed_at: None,
        next_retry_at: None,
        version: 1,
        created_at: at(10),
        updated_at: at(10),
    }
}

fn event(id: &str, object: &str) -> WebhookEvent {
    WebhookEvent {
        provider: "stripe".into(),
        id: id.into(),
        kind: "payment_intent.payment_failed".into(),
        object: object.into(),
        received_at: at(20),
    }
}

/// A finalised invoice of 12.19 CNY to `customer`, made through the
/// billing store (the attempts and refunds refer to it).
fn finalised_invoice(store: &Database, issuer: &IssuerId, customer: &str) -> InvoiceId {
    let sub = SubscriptionId::parse("sub_pay").unwrap();
    store
        .create_subscription(
            issuer,
            &Subscription {
                id: sub.clone(),
                customer: customer.into(),
                phases: vec![PlanPhase {
                    plan: "basic".into(),
                    starts_on: chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
                }],
                ends_on: None,
                status: SubscriptionStatus::Active,
                coupons: "[]".into(),
                next_period_start: at(0),
                next_period_end: at(100),
                version: 1,
                created_at: at(0),
            },
        )
        .unwrap()
        .into_inner();
    let line = InvoiceLine {
        position: 0,
        kind: "recurring_fee".into(),
        description: "fee".into(),
        meter: None,
        plan: Some("basic".into()),
        quantity: dec!(1),
        amount: dec!(12.19),
        period_start: at(0),
        period_end: at(100),
        adjusts: None,
        detail: serde_json::json!({}),
    };
    let id = InvoiceId::parse("in_pay").unwrap();
    store
        .create_draft(
            issuer,
            &NewInvoice {
                id: id.clone(),
                customer: customer.into(),
                subscription: sub,
                subscription_version: 1,
                currency: Currency::CNY,
                period_start: at(0),
                period_end: at(100),
                next_period: None,
                usage_batch: 0,
                lines: vec![line.clone()],
                subtotal: dec!(12.19),
                discount: Decimal::ZERO,
                tax: Decimal::ZERO,
                at: at(100),
            },
        )
        .unwrap()
        .into_inner();
    let content = FinalContent {
        usage_batch: 0,
        lines: vec![line],
        subtotal: dec!(12.19),
        discount: Decimal::ZERO,
        tax: Decimal::ZERO,
    };
    store
        .finalize_invoice(issuer, &id, &content, at(150))
        .unwrap()
        .into_inner();
    id
}

pub fn provider_customers_are_recorded_once(store: &Database) {
    let a = issuer(store, "iss_a");
    let b = issuer(store, "iss_b");
    customer(store, &a, "acme");
    customer(store, &b, "acme");
    let first = store
        .put_provider_customer(&a, "acme", "stripe", "cus_1", at(1))
        .unwrap();
    assert_eq!(first, Outcome::Applied("cus_1".to_owned()));
    let again = store
        .put_provider_customer(&a, "acme", "stripe", "cus_2", at(2))
        .unwrap();
    assert_eq!(
        again,
        Outcome::Replayed("cus_1".to_owned()),
        "the first stands"
    );
    assert_eq!(
        store.provider_customer(&a, "acme", "stripe").unwrap(),
        Some("cus_1".to_owned())
    );
    assert_eq!(store.provider_customer(&a, "acme", "manual").unwrap(), None);
    assert_eq!(
        store.provider_customer(&b, "acme", "stripe").unwrap(),
        None,
        "issuers are kept apart"
    );
    assert!(matches!(
        store.put_provider_customer(&a, "nobody", "stripe", "cus_3", at(3)),
        Err(StoreError::NotFound { .. })
    ));
}

pub fn attempts_replay_by_key_and_keep_references_unique(store: &Database) {
    let a = issuer(store, "iss_a");
    let b = issuer(store, "iss_b");
    customer(store, &a, "acme");
    customer(store, &b, "acme");
    let first = attempt("pa_1", "acme", "top_up:acme:k1", "pi_1");
    let stored = store.create_attempt(&a, &first).unwrap();
    assert_eq!(stored, Outcome::Applied(first.clone()));
    // The same key again (a concurrent start) answers the first attempt.
    let racer = attempt("pa_2", "acme", "top_up:acme:k1", "pi_2");
    assert_eq!(
        store.create_attempt(&a, &racer).unwrap(),
        Outcome::Replayed(first.clone())
    );
    assert!(matches!(
        store.create_attempt(&a, &attempt("pa_3", "acme", "top_up:acme:k2", "pi_1")),
        Err(StoreError::Conflict(_))
    ));
    let mut invoice_attempt = attempt("pa_4", "acme", "invoice:in_pay", "pi_4");
    let invoice = finalised_invoice(store, &a, "acme");
    invoice_attempt.purpose = PaymentPurpose::Invoice {
        invoice: invoice.clone(),
    };
    invoice_attempt.amount = cny(dec!(12.19));
    invoice_attempt.created_at = at(11);
    assert!(
        !store
            .create_attempt(&a, &invoice_attempt)
            .unwrap()
            .is_replay()
    );

    assert_eq!(
        store.get_attempt(&a, &first.id).unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.attempt_by_key(&a, "invoice:in_pay").unwrap(),
        Some(invoice_attempt.clone())
    );
    assert_eq!(
        store.attempt_by_reference(&a, "stripe", "pi_1").unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.attempt_by_reference(&a, "manual", "pi_1").unwrap(),
        None
    );
    assert_eq!(
        store.attempts_of_customer(&a, "acme").unwrap(),
        vec![first.clone(), invoice_attempt]
    );
    // Another issuer sees none of it, and may use the same key and reference.
    assert_eq!(store.get_attempt(&b, &first.id).unwrap(), None);
    assert_eq!(store.attempt_by_key(&b, "top_up:acme:k1").unwrap(), None);
    assert!(!store.create_attempt(&b, &first).unwrap().is_replay());
    let mut stranger = attempt("pa_5", "nobody", "top_up:nobody:k", "pi_5");
    assert!(matches!(
        store.create_attempt(&a, &stranger),
        Err(StoreError::NotFound { .. })
    ));
    stranger.customer = "acme".into();
    stranger.amount = cny(dec!(0.0000001));
    assert!(matches!(
        store.create_attempt(&a, &stranger),
        Err(StoreError::Invalid(_))
    ));
}

pub fn attempts_change_by_compare_and_set(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let stored = store
        .create_attempt(&a, &attempt("pa_1", "acme", "k1", "pi_1"))
        .unwrap()
        .into_inner();
    let mut failed = stored.clone();
    failed.status = AttemptStatus::RetryScheduled;
    failed.retries = 1;
    failed.payment_method = Some("pm_1".into());
    failed.first_failed_at = Some(at(30));
    failed.next_retry_at = Some(at(30) + Duration::hours(24));
    failed.updated_at = at(30);
    let changed = store.update_attempt(&a, &failed).unwrap();
    assert_eq!(changed.version, 2);
    assert_eq!(
        PaymentAttempt {
            version: 1,
            ..changed.clone()
        },
        failed
    );
    // A change computed from the old version is refused.
    assert!(matches!(
        store.update_attempt(&a, &failed),
        Err(StoreError::Conflict(_))
    ));
    let mut missing = failed.clone();
    missing.id = PaymentAttemptId::parse("pa_9").unwrap();
    assert!(matches!(
        store.update_attempt(&a, &missing),
        Err(StoreError::NotFound { .. })
    ));

    // Of concurrent changes from one version, one wins.
    let store = Arc::new(store.clone());
    let gate = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (store, gate, a) = (store.clone(), gate.clone(), a.clone());
            let mut next = changed.clone();
            next.retries = 10 + i;
            std::thread::spawn(move || {
                gate.wait();
                store.update_attempt(&a, &next).is_ok()
            })
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|won| *won)
        .count();
    assert_eq!(wins, 1);
    assert_eq!(
        store.get_attempt(&a, &changed.id).unwrap().unwrap().version,
        3
    );
}

pub fn due_retries_are_ordered_and_bounded(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    for (i, (status, due)) in [
        (AttemptStatus::RetryScheduled, Some(300)),
        (AttemptStatus::RetryScheduled, Some(100)),
        (AttemptStatus::RetryScheduled, Some(900)),
        (AttemptStatus::Pending, None),
        (AttemptStatus::Failed, None),
        (AttemptStatus::RetryScheduled, Some(200)),
    ]
    .into_iter()
    .enumerate()
    {
        let stored = store
            .create_attempt(
                &a,
                &attempt(
                    &format!("pa_{i}"),
                    "acme",
                    &format!("k{i}"),
                    &format!("pi_{i}"),
                ),
            )
            .unwrap()
            .into_inner();
        let mut next = stored;
        next.status = status;
        next.next_retry_at = due.map(at);
        store.update_attempt(&a, &next).unwrap();
    }
    let ids = |limit| {
        store
            .due_retries(&a, at(300), limit)
            .unwrap()
            .into_iter()
            .map(|x| x.id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(100), vec!["pa_1", "pa_5", "pa_0"]);
    assert_eq!(ids(2), vec!["pa_1", "pa_5"]);
    assert!(
        store
            .due_retries(&issuer(store, "iss_b"), at(300), 100)
            .unwrap()
            .is_empty()
    );
}

pub fn events_are_recorded_once_with_their_change(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let stored = store
        .create_attempt(&a, &attempt("pa_1", "acme", "k1", "pi_1"))
        .unwrap()
        .into_inner();
    let mut failed = stored.clone();
    failed.status = AttemptStatus::RetryScheduled;
    failed.next_retry_at = Some(at(500));

    assert!(!store.event_processed(&a, "stripe", "evt_1").unwrap());
    let first = store
        .record_event(&a, &event("evt_1", "pi_1"), Some(&failed))
        .unwrap();
    let Outcome::Applied(Some(changed)) = first else {
        panic!("the first delivery applies: {first:?}")
    };
    assert_eq!(
        (changed.status, changed.version),
        (AttemptStatus::RetryScheduled, 2)
    );
    assert!(store.event_processed(&a, "stripe", "evt_1").unwrap());
    // A redelivery changes nothing, whatever change it carries.
    let mut other = changed.clone();
    other.status = AttemptStatus::Failed;
    assert_eq!(
        store
            .record_event(&a, &event("evt_1", "pi_1"), Some(&other))
            .unwrap(),
        Outcome::Replayed(None)
    );
    assert_eq!(store.get_attempt(&a, &stored.id).unwrap(), Some(changed));
    // A stale change rolls the event back with it: it can be applied later.
    assert!(matches!(
        store.record_event(&a, &event("evt_2", "pi_1"), Some(&failed)),
        Err(StoreError::Conflict(_))
    ));
    assert!(!store.event_processed(&a, "stripe", "evt_2").unwrap());
    assert_eq!(
        store
            .record_event(&a, &event("evt_2", "pi_1"), None)
            .unwrap(),
        Outcome::Applied(None)
    );
    assert!(
        !store
            .event_processed(&issuer(store, "iss_b"), "stripe", "evt_1")
            .unwrap(),
        "issuers are kept apart"
    );
}

pub fn concurrent_deliveries_of_one_event_apply_once(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let stored = store
        .create_attempt(&a, &attempt("pa_1", "acme", "k1", "pi_1"))
        .unwrap()
        .into_inner();
    let store = Arc::new(store.clone());
    let gate = Arc::new(Barrier::new(6));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (store, gate, a) = (store.clone(), gate.clone(), a.clone());
            let mut paid = stored.clone();
            paid.status = AttemptStatus::Succeeded;
            std::thread::spawn(move || {
                gate.wait();
                store
                    .record_event(&a, &event("evt_1", "pi_1"), Some(&paid))
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| !o.is_replay()).count(), 1);
    let now = store.get_attempt(&a, &stored.id).unwrap().unwrap();
    assert_eq!((now.status, now.version), (AttemptStatus::Succeeded, 2));
}

pub fn refunds_are_one_per_credit_note(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let invoice = finalised_invoice(store, &a, "acme");
    let mut paid = attempt("pa_1", "acme", "invoice:in_pay", "pi_1");
    paid.purpose = PaymentPurpose::Invoice {
        invoice: invoice.clone(),
    };
    paid.amount = cny(dec!(12.19));
    paid.status = AttemptStatus::Succeeded;
    assert!(!store.create_attempt(&a, &paid).unwrap().is_replay());
    let note = |id: &str, amount: Decimal| {
        store
            .create_credit_note(
                &a,
                &CreditNoteId::parse(id).unwrap(),
                &invoice,
                amount,
                "refund",
                at(300),
            )
            .unwrap()
    };
    let (first, second) = (note("cn_1", dec!(2.00)), note("cn_2", dec!(3.19)));
    let refund = |note: &CreditNoteId, reference: &str, amount: Decimal| PaymentRefund {
        credit_note: note.clone(),
        attempt: paid.id.clone(),
        provider: "stripe".into(),
        provider_reference: reference.into(),
        amount: cny(amount),
        status: "succeeded".into(),
        created_at: at(310),
    };
    let made = refund(&first.id, "re_1", dec!(2.00));
    assert_eq!(
        store.record_refund(&a, &made).unwrap(),
        Outcome::Applied(made.clone())
    );
    assert_eq!(
        store
            .record_refund(&a, &refund(&first.id, "re_9", dec!(2.00)))
            .unwrap(),
        Outcome::Replayed(made.clone()),
        "one refund per credit note: the first stands"
    );
    let later = PaymentRefund {
        created_at: at(320),
        ..refund(&second.id, "re_2", dec!(3.19))
    };
    assert!(!store.record_refund(&a, &later).unwrap().is_replay());
    assert_eq!(
        store.refunds_of_attempt(&a, &paid.id).unwrap(),
        vec![made, later]
    );
    let mut orphan = refund(&first.id, "re_3", dec!(1));
    orphan.attempt = PaymentAttemptId::parse("pa_9").unwrap();
    assert!(matches!(
        store.record_refund(&a, &orphan),
        Err(StoreError::NotFound { .. })
    ));
}
