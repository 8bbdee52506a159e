//! Prepaid wallets through the engine over a real store: what a debit
//! reports (the low-balance crossing, a threshold top-up), automatic
//! top-ups through a sink, breakage, and the property that wallet debits
//! are exactly the prepaid credit invoices apply plus what still waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_billing::wallet::{
    DebitRequest, DirectCredit, GRANT_PRIORITY, TOP_UP_PRIORITY, TopUpSink, Wallets,
};
use shiyun_billing::{Billing, BillingError};
use shiyun_core::billing::wallet::{
    AutoTopUp, AutoTopUpAmount, AutoTopUpTrigger, CreditKind, Wallet, WalletSettings, account,
};
use shiyun_core::billing::{InvoiceFilter, InvoiceStatus, PageAfter};
use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::StoreError;

use crate::helpers::*;

fn cny(amount: Decimal) -> Money {
    Money::new(amount, Currency::CNY)
}

/// The engine of `iss_<name>`, customer `c1` subscribed monthly from 1
/// January 2026, and the issuer's wallets.
fn set_up(db: &shiyun_schema::Database, name: &str) -> (Billing, Wallets) {
    let billing = engine(db, name);
    subscribe(
        &billing,
        &monthly_plan("monthly"),
        "c1",
        "2026-01-01",
        at("2026-01-01T00:00:00Z"),
    );
    let wallets = wallets(db, &billing);
    (billing, wallets)
}

fn wallets(db: &shiyun_schema::Database, billing: &Billing) -> Wallets {
    Wallets::new(
        Arc::new(db.clone()),
        billing.id().unwrap().clone(),
        counting_ids(),
    )
}

fn debit(amount: Decimal, key: &str) -> DebitRequest {
    DebitRequest {
        amount: cny(amount),
        key: key.into(),
        subscription: None,
        description: format!("usage {key}"),
    }
}

/// A sink whose payments fail (a card declined).
struct Declined;

impl TopUpSink for Declined {
    fn top_up(&self, _: &Wallet, _: Money, _: &str) -> Result<(), BillingError> {
        Err(BillingError::Conflict("card declined".into()))
    }
}

/// A sink that counts the top-ups asked of it, then credits directly.
struct Counting {
    asked: AtomicUsize,
    inner: DirectCredit,
}

impl TopUpSink for Counting {
    fn top_up(&self, wallet: &Wallet, amount: Money, key: &str) -> Result<(), BillingError> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        self.inner.top_up(wallet, amount, key)
    }
}

fn balance(wallets: &Wallets) -> Decimal {
    wallets
        .wallet("c1", Currency::CNY)
        .unwrap()
        .unwrap()
        .balance
        .amount()
}

on_both_backends! {
    fn debits_report_the_low_balance_crossing_and_threshold_top_ups(db) {
        let (_billing, wallets) = set_up(db, "crossing");
        let now = at("2026-01-05T00:00:00Z");
        wallets
            .settings(
                "c1",
                Currency::CNY,
                &WalletSettings {
                    floor: Decimal::ZERO,
                    low_balance_threshold: Some(dec!(30)),
                    auto_top_up: Some(AutoTopUp {
                        trigger: AutoTopUpTrigger::Threshold { below: dec!(20) },
                        amount: AutoTopUpAmount::UpTo { target: dec!(100) },
                    }),
                },
                now,
            )
            .unwrap();
        let _w = wallets.top_up("c1", cny(dec!(50)), "pay-1", Some("pi_1".into()), now).unwrap();
        let r = wallets.debit("c1", &debit(dec!(15), "u1"), now).unwrap();
        assert_eq!((r.low_balance, r.auto_top_up), (false, None));
        let r = wallets.debit("c1", &debit(dec!(10), "u2"), now).unwrap();
        assert_eq!((r.low_balance, r.auto_top_up), (true, None), "35 → 25 crosses 30");
        assert_eq!(r.wallet.balance, cny(dec!(25)));
        let r = wallets.debit("c1", &debit(dec!(10), "u3"), now).unwrap();
        assert!(!r.low_balance, "already below 30: told once");
        assert_eq!(r.auto_top_up, Some(cny(dec!(85))), "25 → 15 crosses 20; up to 100");
        let sink = Counting { asked: AtomicUsize::new(0), inner: DirectCredit::new(wallets.clone()) };
        assert_eq!(wallets.fire_auto_top_up(&r, &sink).unwrap(), Some(cny(dec!(85))));
        assert_eq!(balance(&wallets), dec!(100));
        // Delivered again (a retry): credited once.
        wallets.fire_auto_top_up(&r, &sink).unwrap();
        assert_eq!(sink.asked.load(Ordering::Relaxed), 2);
        assert_eq!(balance(&wallets), dec!(100));
        // A replayed debit reports nothing new and takes nothing.
        let again = wallets.debit("c1", &debit(dec!(10), "u3"), now).unwrap();
        assert!(again.replayed);
        assert_eq!((again.low_balance, again.auto_top_up), (false, None));
        assert_eq!(again.debited, r.debited);
        assert_eq!(balance(&wallets), dec!(100));
        // Past the floor: `insufficient_balance`, and nothing taken.
        let refused = wallets.debit("c1", &debit(dec!(100.01), "u4"), now).unwrap_err();
        assert!(matches!(refused, BillingError::Store(StoreError::InsufficientBalance { .. })));
        assert_eq!(refused.code(), ErrorCode::InsufficientBalance);
        assert_eq!(balance(&wallets), dec!(100));
        // Bad input never reaches the store.
        for (bad, field) in [(debit(dec!(-1), "u5"), "amount"), (debit(dec!(1), ""), "key")] {
            let e = wallets.debit("c1", &bad, now).unwrap_err();
            assert_eq!((e.code(), e.field()), (ErrorCode::InvalidArgument, Some(field)));
        }
    }

    fn a_fixed_threshold_top_up_is_asked_for_once_per_crossing(db) {
        let (_billing, wallets) = set_up(db, "fixed");
        let now = at("2026-01-05T00:00:00Z");
        let settings = WalletSettings {
            auto_top_up: Some(AutoTopUp {
                trigger: AutoTopUpTrigger::Threshold { below: dec!(10) },
                amount: AutoTopUpAmount::Fixed { amount: dec!(40) },
            }),
            ..WalletSettings::default()
        };
        wallets.settings("c1", Currency::CNY, &settings, now).unwrap();
        let _w = wallets.top_up("c1", cny(dec!(12)), "pay-1", None, now).unwrap();
        let r = wallets.debit("c1", &debit(dec!(5), "u1"), now).unwrap();
        assert_eq!(r.auto_top_up, Some(cny(dec!(40))));
        let r = wallets.debit("c1", &debit(dec!(5), "u2"), now).unwrap();
        assert_eq!(r.auto_top_up, None, "still below: no second top-up");
        assert!(!r.low_balance, "no threshold set");
    }

    fn interval_top_ups_come_due_fire_once_and_retry_after_a_failure(db) {
        let (_billing, wallets) = set_up(db, "interval");
        let start = at("2026-01-05T00:00:00Z");
        let settings = WalletSettings {
            auto_top_up: Some(AutoTopUp {
                trigger: AutoTopUpTrigger::Interval { days: 30 },
                amount: AutoTopUpAmount::Fixed { amount: dec!(25) },
            }),
            ..WalletSettings::default()
        };
        wallets.settings("c1", Currency::CNY, &settings, start).unwrap();
        // A declined payment is not marked: due again at the next run.
        assert!(wallets.run_interval_top_ups(start, &Declined).is_err());
        assert_eq!(wallets.due_interval_top_ups(start).unwrap().len(), 1);
        let sink = DirectCredit::new(wallets.clone());
        let fired = wallets.run_interval_top_ups(start, &sink).unwrap();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].amount, cny(dec!(25)));
        assert_eq!(balance(&wallets), dec!(25));
        assert!(wallets.run_interval_top_ups(start + Duration::days(29), &sink).unwrap().is_empty());
        let later = start + Duration::days(30);
        let due = wallets.due_interval_top_ups(later).unwrap();
        assert_eq!(due.len(), 1);
        assert_ne!(due[0].key, fired[0].key, "each interval has its own key");
        wallets.run_interval_top_ups(later, &sink).unwrap();
        assert_eq!(balance(&wallets), dec!(50));
        let top_ups = wallets.credits("c1", Currency::CNY).unwrap();
        assert!(top_ups.iter().all(|c| c.kind == CreditKind::TopUp && c.priority == TOP_UP_PRIORITY));
    }

    fn grants_go_first_and_their_unused_rest_is_breakage(db) {
        let (_billing, wallets) = set_up(db, "breakage");
        let now = at("2026-01-05T00:00:00Z");
        let expiry = at("2026-01-20T00:00:00Z");
        let _w = wallets.top_up("c1", cny(dec!(10)), "pay-1", None, now).unwrap();
        let _w = wallets.grant("c1", cny(dec!(5)), "promo-1", None, Some(expiry), now).unwrap();
        let r = wallets.debit("c1", &debit(dec!(3), "u1"), now).unwrap();
        assert_eq!(r.debited.drawn.len(), 1);
        let credits = wallets.credits("c1", Currency::CNY).unwrap();
        assert_eq!(credits[0].kind, CreditKind::Grant);
        assert_eq!(credits[0].priority, GRANT_PRIORITY);
        assert_eq!(credits[0].remaining, cny(dec!(2)));
        assert!(wallets.expire(expiry - Duration::seconds(1)).unwrap().is_empty());
        let expired = wallets.expire(expiry).unwrap();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].amount, cny(dec!(-2)));
        assert_eq!(balance(&wallets), dec!(10));
        let breakage: Decimal = wallets
            .ledger(Some("c1"), 0, 100)
            .unwrap()
            .iter()
            .filter(|p| p.account == account::BREAKAGE)
            .map(|p| p.amount.amount())
            .sum();
        assert_eq!(breakage, dec!(2));
        // A grant that expires before it is given is refused.
        let e = wallets.grant("c1", cny(dec!(1)), "promo-2", None, Some(now), now).unwrap_err();
        assert_eq!(e.field(), Some("expires_at"));
    }

    fn wallet_debits_are_the_prepaid_credit_invoices_apply_plus_what_waits(db) {
        let billing = engine(db, "prepaid");
        let wallets = wallets(db, &billing);
        let mut runner = TestRunner::new(Config {
            cases: 3,
            failure_persistence: None,
            ..Config::default()
        });
        let customers = AtomicUsize::new(0);
        let drawn_cases = AtomicUsize::new(0);
        let month_strategy = proptest::collection::vec((1_i64..9_000, 0_u32..27), 0..6);
        runner
            .run(
                &(
                    1_i64..60_000,
                    proptest::collection::vec(month_strategy, 3),
                    proptest::collection::vec(any::<bool>(), 3),
                ),
                |(top_up, months, voids)| {
                    let who = format!("p{}", customers.fetch_add(1, Ordering::Relaxed));
                    subscribe(&billing, &monthly_plan("monthly"), &who, "2026-01-01", at("2026-01-01T00:00:00Z"));
                    let start = at("2026-01-01T00:00:00Z");
                    let cents = |c: i64| Decimal::new(c, 2);
                    let _w = wallets.top_up(&who, cny(cents(top_up)), &format!("{who}-pay"), None, start).unwrap();
                    let _w = wallets
                        .grant(&who, cny(dec!(30)), &format!("{who}-promo"), None, Some(at("2026-02-10T00:00:00Z")), start)
                        .unwrap();
                    let mut debited = Decimal::ZERO;
                    let month_ends = ["2026-01-31T17:00:00Z", "2026-02-28T17:00:00Z", "2026-03-31T17:00:00Z"];
                    for (m, debits) in months.iter().enumerate() {
                        for (i, (amount, day)) in debits.iter().enumerate() {
                            let when: DateTime<Utc> = at(&format!("2026-0{}-01T00:00:00Z", m + 1)) + Duration::days(i64::from(*day));
                            match wallets.debit(&who, &debit(cents(*amount), &format!("{who}-{m}-{i}")), when) {
                                Ok(r) => debited += r.debited.balance_before.amount() - r.debited.balance_after.amount(),
                                Err(BillingError::Store(StoreError::InsufficientBalance { .. })) => {}
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                        billing.bill_run(at(month_ends[m])).unwrap();
                        if voids[m] {
                            // Voiding gives the prepaid credit it drew back.
                            let newest = invoices_of(&billing, &who).into_iter().max_by_key(|i| i.period_start);
                            if let Some(invoice) = newest.filter(|i| i.status == InvoiceStatus::Finalized) {
                                billing.void(&invoice.id, at(month_ends[m]) + Duration::hours(1)).unwrap();
                            }
                        }
                    }
                    let applied: Decimal = invoices_of(&billing, &who)
                        .iter()
                        .filter(|i| matches!(i.status, InvoiceStatus::Finalized | InvoiceStatus::Paid))
                        .map(|i| i.totals.prepaid.amount())
                        .sum();
                    // The balance still waiting: adding a millionth answers it.
                    let tiny = dec!(0.000001);
                    let waiting = billing
                        .store()
                        .add_prepaid_credit(billing.id().unwrap(), &who, cny(tiny), at("2026-04-02T00:00:00Z"))
                        .unwrap()
                        .amount()
                        - tiny;
                    let in_ledger: Decimal = wallets
                        .ledger(Some(&who), 0, 10_000)
                        .unwrap()
                        .iter()
                        .filter(|p| p.account == account::PREPAID_APPLIED)
                        .map(|p| p.amount.amount())
                        .sum();
                    prop_assert_eq!(in_ledger, debited);
                    prop_assert_eq!(debited, applied + waiting);
                    if applied > Decimal::ZERO {
                        drawn_cases.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                },
            )
            .unwrap();
        assert!(drawn_cases.load(Ordering::Relaxed) > 0, "no invoice drew wallet money");
    }
}

fn invoices_of(billing: &Billing, customer: &str) -> Vec<shiyun_core::billing::Invoice> {
    billing
        .store()
        .list_invoices(
            billing.id().unwrap(),
            &InvoiceFilter {
                customer: Some(customer.into()),
                ..InvoiceFilter::default()
            },
            &PageAfter {
                after: None,
                limit: 100,
            },
        )
        .unwrap()
}
