//! The bill cycle end to end: a partial first month prorated by day in the
//! customer's timezone, graduated usage, tax, a rerun that drafts nothing,
//! then a second month with a credit note and prepaid credit drawn down,
//! and a payment.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::json;
use shiyun_billing::Billing;
use shiyun_core::Money;
use shiyun_core::billing::{Invoice, InvoiceStatus, Payment};
use shiyun_core::money::Currency;

use crate::helpers::*;

/// January usage of customer `c1` (Asia/Shanghai): 1,500 API calls and
/// 30.5 GB, plus one call just before the start and one just after the
/// month (local time), which January must not bill.
pub fn january_usage(billing: &Billing) {
    let now = at("2026-01-31T17:00:00Z");
    let calls: Vec<_> = (0..1_500)
        .map(|i| {
            event(
                &format!("call-{i}"),
                "c1",
                "api_calls",
                "2026-01-20T10:00:00+08:00",
                json!({}),
            )
        })
        .collect();
    for batch in calls.chunks(1_000) {
        assert_eq!(billing.ingest(batch, now).unwrap().accepted, batch.len());
    }
    let edges = [
        event(
            "gb-1",
            "c1",
            "storage",
            "2026-01-16T08:00:00+08:00",
            json!({"gb": 10}),
        ),
        event(
            "gb-2",
            "c1",
            "storage",
            "2026-01-31T23:30:00+08:00",
            json!({"gb": "20.5"}),
        ),
        event(
            "before-start",
            "c1",
            "api_calls",
            "2026-01-14T23:00:00+08:00",
            json!({}),
        ),
        event(
            "february",
            "c1",
            "api_calls",
            "2026-02-01T00:10:00+08:00",
            json!({}),
        ),
    ];
    assert_eq!(billing.ingest(&edges, now).unwrap().accepted, 4);
}

/// Subscribes `c1` from 2026-01-15, records January and runs the bill run
/// at local 1 a.m. on 1 February; returns January's invoice.
pub fn january(billing: &Billing) -> Invoice {
    subscribe(
        billing,
        &monthly_plan("monthly"),
        "c1",
        "2026-01-15",
        at("2026-01-15T00:00:00Z"),
    );
    january_usage(billing);
    let report = billing.bill_run(at("2026-01-31T17:00:00Z")).unwrap();
    assert_eq!((report.drafted, report.finalized), (1, 1), "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    only_invoice(billing)
}

fn only_invoice(billing: &Billing) -> Invoice {
    let page = billing
        .store()
        .list_invoices(
            billing.id().unwrap(),
            &Default::default(),
            &shiyun_core::billing::PageAfter {
                after: None,
                limit: 10,
            },
        )
        .unwrap();
    assert_eq!(page.len(), 1, "{page:?}");
    page.into_iter().next().unwrap()
}

fn amounts(invoice: &Invoice) -> Vec<(String, Decimal)> {
    invoice
        .lines
        .iter()
        .map(|l| {
            (
                format!("{}:{}", l.kind, l.meter.clone().unwrap_or_default()),
                l.amount,
            )
        })
        .collect()
}

on_both_backends! {
    fn a_partial_month_is_prorated_by_local_day_and_usage_graduated(db) {
        let billing = engine(db, "cycle");
        let invoice = january(&billing);
        assert_eq!(invoice.number.as_deref(), Some("T-000001"));
        assert_eq!(invoice.status, InvoiceStatus::Finalized);
        // 17 of January's 31 days; 500 calls above the free 1,000 at 0.01; 30.5 GB at 0.5.
        assert_eq!(
            amounts(&invoice),
            [
                ("recurring_fee:".to_owned(), dec!(54.84)),
                ("usage:api_calls".to_owned(), dec!(5.00)),
                ("usage:storage".to_owned(), dec!(15.25)),
            ]
        );
        let cny = |d| Money::new(d, Currency::CNY);
        assert_eq!(invoice.totals.subtotal, cny(dec!(75.09)));
        assert_eq!(invoice.totals.tax, cny(dec!(4.51)), "6 % of 75.09, rounded once");
        assert_eq!(invoice.totals.total, cny(dec!(79.60)));
        assert_eq!(invoice.period_start, at("2026-01-14T16:00:00Z"), "local midnight in Shanghai");
        assert_eq!(invoice.period_end, at("2026-01-31T16:00:00Z"));

        // A rerun finds nothing due and drafts nothing.
        let again = billing.bill_run(at("2026-01-31T18:00:00Z")).unwrap();
        assert_eq!((again.drafted, again.replayed, again.finalized), (0, 0, 0), "{again:?}");
        assert_eq!(only_invoice(&billing).id, invoice.id);
    }

    fn credit_notes_then_prepaid_credit_reduce_the_next_invoice(db) {
        let billing = engine(db, "credits");
        let january = january(&billing);
        let note = billing.credit_note(&january.id, dec!(10), "service outage", at("2026-02-03T00:00:00Z")).unwrap();
        assert_eq!(note.remaining, Money::new(dec!(10), Currency::CNY));
        // More than is left to credit is refused.
        assert!(billing.credit_note(&january.id, dec!(70), "too much", at("2026-02-03T00:00:00Z")).is_err());
        billing.store().add_prepaid_credit(
            billing.id().unwrap(), "c1", Money::new(dec!(50), Currency::CNY), at("2026-02-04T00:00:00Z"),
        ).unwrap();
        let report = billing.bill_run(at("2026-02-28T17:00:00Z")).unwrap();
        assert_eq!((report.drafted, report.finalized), (1, 1), "{report:?}");
        let february = billing
            .store()
            .list_invoices(billing.id().unwrap(), &Default::default(), &shiyun_core::billing::PageAfter { after: None, limit: 10 })
            .unwrap()
            .into_iter()
            .find(|i| i.id != january.id)
            .unwrap();
        assert_eq!(february.number.as_deref(), Some("T-000002"), "numbers have no gap");
        let t = &february.totals;
        let cny = |d| Money::new(d, Currency::CNY);
        // 100 fee + one call in the free tier; 6 % tax; then 10 of credit note and 50 prepaid.
        assert_eq!((t.subtotal, t.tax, t.credit_notes, t.prepaid, t.total),
                   (cny(dec!(100.00)), cny(dec!(6.00)), cny(dec!(10)), cny(dec!(50)), cny(dec!(46.00))));
        assert_eq!(t.subtotal.amount() - t.discount.amount() + t.tax.amount() - t.credit_notes.amount() - t.prepaid.amount(), t.total.amount());

        // Paying another amount is refused; the total pays it, once.
        let pay = |amount| Payment { reference: "bank-001".into(), amount: cny(amount), at: at("2026-03-02T00:00:00Z") };
        assert!(billing.record_payment(&february.id, &Payment { reference: "bank-000".into(), ..pay(dec!(45)) }).is_err());
        let paid = billing.record_payment(&february.id, &pay(dec!(46.00))).unwrap();
        assert!(!paid.is_replay());
        assert_eq!(paid.into_inner().status, InvoiceStatus::Paid);
        assert!(billing.record_payment(&february.id, &pay(dec!(46.00))).unwrap().is_replay());
        // A finalised invoice never changes.
        assert_eq!(billing.invoice(&january.id).unwrap(), january);
    }

    fn a_subscription_months_behind_catches_up_in_one_run(db) {
        let billing = engine(db, "behind");
        subscribe(&billing, &monthly_plan("monthly"), "c1", "2026-01-01", at("2026-01-01T00:00:00Z"));
        let report = billing.bill_run(at("2026-05-02T00:00:00Z")).unwrap();
        // January to April (Shanghai), each once, numbered in period order.
        assert_eq!((report.drafted, report.finalized), (4, 4), "{report:?}");
        let mut invoices = billing
            .store()
            .list_invoices(billing.id().unwrap(), &Default::default(), &shiyun_core::billing::PageAfter { after: None, limit: 10 })
            .unwrap();
        invoices.sort_by_key(|i| i.period_start);
        let numbers: Vec<_> = invoices.iter().map(|i| i.number.clone().unwrap()).collect();
        assert_eq!(numbers, ["T-000001", "T-000002", "T-000003", "T-000004"]);
        let again = billing.bill_run(at("2026-05-02T00:00:00Z")).unwrap();
        assert_eq!((again.drafted, again.finalized), (0, 0), "{again:?}");
    }

    fn voiding_gives_back_what_the_invoice_drew(db) {
        let billing = engine(db, "void");
        let january = january(&billing);
        billing.credit_note(&january.id, dec!(10), "outage", at("2026-02-03T00:00:00Z")).unwrap();
        let id = billing.id().unwrap().clone();
        let cny = |d| Money::new(d, Currency::CNY);
        billing.store().add_prepaid_credit(&id, "c1", cny(dec!(50)), at("2026-02-04T00:00:00Z")).unwrap();
        billing.bill_run(at("2026-02-28T17:00:00Z")).unwrap();
        let february = billing
            .store()
            .list_invoices(&id, &Default::default(), &shiyun_core::billing::PageAfter { after: None, limit: 10 })
            .unwrap()
            .into_iter()
            .find(|i| i.id != january.id)
            .unwrap();
        assert_eq!((february.totals.credit_notes, february.totals.prepaid), (cny(dec!(10)), cny(dec!(50))));
        let voided = billing.void(&february.id, at("2026-03-02T00:00:00Z")).unwrap();
        assert_eq!(voided.status, InvoiceStatus::Voided);
        let notes = billing.store().credit_notes_of(&id, &january.id).unwrap();
        assert_eq!(notes[0].remaining, cny(dec!(10)), "the credit note is whole again");
        let balance = billing.store().add_prepaid_credit(&id, "c1", cny(dec!(1)), at("2026-03-03T00:00:00Z")).unwrap();
        assert_eq!(balance, cny(dec!(51)), "the 50 drawn came back");
        let verdict = shiyun_billing::audit::verify(billing.store().as_ref(), &id).unwrap();
        assert!(verdict.broken.is_none());
    }
}
