//! The wallet store: the floor under concurrent debits, the ledger always
//! summing to the balance, the order credits are drawn in, idempotency,
//! overdraft and breakage.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_core::billing::wallet::{
    AutoTopUp, AutoTopUpAmount, AutoTopUpTrigger, CreditKind, Debited, LedgerKind, LedgerPosting,
    NewCredit, NewDebit, WalletCreditId, WalletSettings, WalletStore, WalletTransactionId, account,
};
use shiyun_core::billing::{AuditRecord, BillingStore, IssuerId, audit_hash};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{Outcome, StoreError};
use shiyun_schema::Database;
use shiyun_schema::testing::TestDatabase;

use crate::billing::{customer, issuer};
use crate::support::at;

fn cny(amount: Decimal) -> Money {
    Money::new(amount, Currency::CNY)
}

static IDS: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    IDS.fetch_add(1, Ordering::Relaxed)
}

fn tx() -> WalletTransactionId {
    WalletTransactionId::parse(&format!("wtx_{}", next_id())).unwrap()
}

fn credit_id(name: &str) -> WalletCreditId {
    WalletCreditId::parse(&format!("wcr_{name}")).unwrap()
}

fn top_up(customer: &str, amount: Decimal, key: &str, secs: i64) -> NewCredit {
    NewCredit {
        id: WalletCreditId::parse(&format!("wcr_{}", next_id())).unwrap(),
        transaction: tx(),
        customer: customer.into(),
        amount: cny(amount),
        kind: CreditKind::TopUp,
        priority: 100,
        expires_at: None,
        key: key.into(),
        reference: Some(format!("pi_{key}")),
        at: at(secs),
    }
}

fn grant(
    customer: &str,
    amount: Decimal,
    key: &str,
    priority: i32,
    expires: Option<i64>,
    secs: i64,
) -> NewCredit {
    NewCredit {
        kind: CreditKind::Grant,
        priority,
        expires_at: expires.map(at),
        reference: None,
        ..top_up(customer, amount, key, secs)
    }
}

fn debit(customer: &str, amount: Decimal, key: &str, secs: i64) -> NewDebit {
    NewDebit {
        transaction: tx(),
        customer: customer.into(),
        amount: cny(amount),
        key: key.into(),
        subscription: None,
        description: format!("usage {key}"),
        at: at(secs),
    }
}

fn postings(store: &Database, issuer: &IssuerId, customer: &str) -> Vec<LedgerPosting> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store.ledger(issuer, Some(customer), after, 1000).unwrap();
        let Some(last) = page.last() else {
            return all;
        };
        after = last.seq;
        all.extend(page);
    }
}

/// The ledger rules: every transaction sums to zero, the `wallet` postings
/// sum to the balance, which is at or above the floor and equals what the
/// credits have left less any overdraft; the customer's prepaid credit is
/// what debits moved there. Returns the balance.
fn check_books(store: &Database, issuer: &IssuerId, customer: &str) -> Decimal {
    let ledger = postings(store, issuer, customer);
    let mut by_transaction: BTreeMap<String, Decimal> = BTreeMap::new();
    for p in &ledger {
        assert_eq!(p.amount.currency(), Currency::CNY);
        *by_transaction.entry(p.transaction.to_string()).or_default() += p.amount.amount();
    }
    for (id, sum) in &by_transaction {
        assert_eq!(*sum, Decimal::ZERO, "transaction {id} does not balance");
    }
    let in_wallet: Decimal = ledger
        .iter()
        .filter(|p| p.account == account::WALLET)
        .map(|p| p.amount.amount())
        .sum();
    let Some(wallet) = store.get_wallet(issuer, customer, Currency::CNY).unwrap() else {
        assert!(ledger.is_empty());
        return Decimal::ZERO;
    };
    assert_eq!(
        wallet.balance.amount(),
        in_wallet,
        "balance is not the ledger's sum"
    );
    assert!(wallet.balance.amount() >= wallet.settings.floor);
    let left: Decimal = store
        .wallet_credits(issuer, customer, Currency::CNY)
        .unwrap()
        .iter()
        .map(|c| c.remaining.amount())
        .sum();
    if wallet.balance.amount() >= Decimal::ZERO {
        assert_eq!(left, wallet.balance.amount());
    } else {
        assert_eq!(left, Decimal::ZERO, "debt beside unused credit");
    }
    let applied: Decimal = ledger
        .iter()
        .filter(|p| p.account == account::PREPAID_APPLIED)
        .map(|p| p.amount.amount())
        .sum();
    assert_eq!(
        debited_in_audit(store, issuer, customer),
        applied,
        "the audit chain's debits are not the ledger's"
    );
    wallet.balance.amount()
}

/// What the audit chain's `wallet.debited` entries of the customer add up to.
fn debited_in_audit(store: &Database, issuer: &IssuerId, customer: &str) -> Decimal {
    audit(store, issuer)
        .iter()
        .filter(|r| r.action == "wallet.debited")
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.payload).unwrap())
        .filter(|p| p["customer"] == customer)
        .map(|p| p["amount"].as_str().unwrap().parse::<Decimal>().unwrap())
        .sum()
}

fn audit(store: &Database, issuer: &IssuerId) -> Vec<AuditRecord> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_chain(issuer, after, 1000).unwrap();
        let Some(last) = page.last() else {
            return all;
        };
        after = last.seq;
        all.extend(page);
    }
}

/// Adds a credit, which must be new.
fn add(store: &Database, issuer: &IssuerId, credit: &NewCredit) {
    assert!(!store.credit_wallet(issuer, credit).unwrap().is_replay());
}

fn debited(outcome: Outcome<Debited>) -> Debited {
    assert!(!outcome.is_replay(), "replayed where a debit was expected");
    outcome.into_inner()
}

/// The test: 64 concurrent debits of 1.00 against 50.00 give
/// exactly 50 successes and a balance of 0.00.
pub fn concurrent_debits_stop_at_the_floor(db: &TestDatabase) {
    // A pool of its own, wide enough that the debits really run at once.
    let store = Database::open(db.url(), 16).unwrap();
    let a = issuer(&store, "iss_a");
    customer(&store, &a, "acme");
    add(&store, &a, &top_up("acme", dec!(50.00), "top-up-1", 0));
    let start = Arc::new(Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            let a = a.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                store.debit_wallet(&a, &debit("acme", dec!(1.00), &format!("use-{i}"), 10 + i))
            })
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for t in threads {
        match t.join().unwrap() {
            Ok(Outcome::Applied(_)) => ok += 1,
            Err(StoreError::InsufficientBalance { .. }) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, refused), (50, 14));
    let wallet = store
        .get_wallet(&a, "acme", Currency::CNY)
        .unwrap()
        .unwrap();
    assert_eq!(wallet.balance, cny(dec!(0.00)));
    assert_eq!(wallet.balance.amount().to_string(), "0.00");
    assert_eq!(check_books(&store, &a, "acme"), Decimal::ZERO);
    assert_audit_chain_holds(&store, &a);
}

fn assert_audit_chain_holds(store: &Database, issuer: &IssuerId) {
    let chain = audit(store, issuer);
    let mut prev = shiyun_core::billing::GENESIS_HASH.to_owned();
    for (i, r) in chain.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1);
        assert_eq!(r.prev_hash, prev);
        assert_eq!(
            r.hash,
            audit_hash(&r.prev_hash, r.seq, r.at, &r.action, &r.subject, &r.payload)
        );
        prev = r.hash.clone();
    }
}

/// Top-ups, grants that expire mid-run, debits and sweeps from several
/// threads at once: the books hold after every one of them.
pub fn interleaved_writes_keep_the_ledger_summing_to_the_balance(db: &TestDatabase) {
    let store = Database::open(db.url(), 12).unwrap();
    let a = issuer(&store, "iss_a");
    customer(&store, &a, "acme");
    add(&store, &a, &top_up("acme", dec!(20), "seed", 0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            let a = a.clone();
            std::thread::spawn(move || {
                let mut refused = 0;
                for i in 0..12_i64 {
                    let secs = i * 10 + t;
                    let key = format!("t{t}-{i}");
                    let result = match (t + i) % 4 {
                        0 => store
                            .credit_wallet(&a, &top_up("acme", dec!(2.5), &key, secs))
                            .map(|_| ()),
                        // Grants expiring a few steps later: mid-run.
                        1 => store
                            .credit_wallet(
                                &a,
                                &grant("acme", dec!(3), &key, 0, Some(secs + 25), secs),
                            )
                            .map(|_| ()),
                        3 if i % 3 == 0 => store.expire_credits(&a, at(secs), &mut tx).map(|_| ()),
                        _ => store
                            .debit_wallet(&a, &debit("acme", dec!(1.75), &key, secs))
                            .map(|_| ()),
                    };
                    match result {
                        Ok(()) => {}
                        Err(StoreError::InsufficientBalance { .. }) => refused += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                refused
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    store.expire_credits(&a, at(10_000), &mut tx).unwrap();
    let balance = check_books(&store, &a, "acme");
    // Only top-ups are left once every grant expired.
    let credits = store.wallet_credits(&a, "acme", Currency::CNY).unwrap();
    assert!(
        credits
            .iter()
            .filter(|c| c.kind == CreditKind::Grant)
            .all(|c| c.remaining.is_zero())
    );
    assert!(balance >= Decimal::ZERO);
    let breakage: Decimal = postings(&store, &a, "acme")
        .iter()
        .filter(|p| p.account == account::BREAKAGE)
        .map(|p| p.amount.amount())
        .sum();
    let expired_left: Decimal = credits
        .iter()
        .filter(|c| c.expired_at.is_some())
        .map(|c| c.amount.amount())
        .sum();
    assert!(breakage <= expired_left);
    assert_audit_chain_holds(&store, &a);
}

/// Priority first, then the earliest expiry (none last), then first in;
/// the overdraft only once every credit is used.
pub fn credits_are_drawn_by_priority_expiry_then_age(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    let add = |name: &str, kind: CreditKind, priority: i32, expires: Option<i64>, secs| {
        let mut credit = grant("acme", dec!(1), name, priority, expires, secs);
        credit.id = credit_id(name);
        credit.kind = kind;
        add(store, &a, &credit);
    };
    add("paid", CreditKind::TopUp, 100, None, 1);
    add("late", CreditKind::Grant, 0, Some(1000), 2);
    add("never", CreditKind::Grant, 0, None, 3);
    add("soon", CreditKind::Grant, 0, Some(500), 4);
    add("lowprio", CreditKind::Grant, 5, Some(100), 5);
    add("twina", CreditKind::Grant, 0, Some(800), 6);
    add("twinb", CreditKind::Grant, 0, Some(800), 6);
    let order: Vec<String> = store
        .wallet_credits(&a, "acme", Currency::CNY)
        .unwrap()
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    let expected = [
        "wcr_soon",
        "wcr_twina",
        "wcr_twinb",
        "wcr_late",
        "wcr_never",
        "wcr_lowprio",
        "wcr_paid",
    ];
    assert_eq!(order, expected);
    let d = debited(
        store
            .debit_wallet(&a, &debit("acme", dec!(6.5), "d1", 50))
            .unwrap(),
    );
    let drawn: Vec<(String, Decimal)> = d
        .drawn
        .iter()
        .map(|(id, amount)| (id.to_string(), *amount))
        .collect();
    let mut want: Vec<(String, Decimal)> = expected[..6]
        .iter()
        .map(|id| (id.to_string(), dec!(1)))
        .collect();
    want.push(("wcr_paid".to_owned(), dec!(0.5)));
    assert_eq!(drawn, want);
    assert_eq!(d.balance_before, cny(dec!(7)));
    assert_eq!(d.balance_after, cny(dec!(0.5)));
    let credits = store.wallet_credits(&a, "acme", Currency::CNY).unwrap();
    let paid = credits.iter().find(|c| c.id == credit_id("paid")).unwrap();
    assert_eq!(paid.remaining, cny(dec!(0.5)));
    assert!(
        credits
            .iter()
            .filter(|c| c.id != credit_id("paid"))
            .all(|c| c.remaining.is_zero())
    );
    check_books(store, &a, "acme");
}

/// The same key and request again is a replay that writes nothing; the key
/// with another request is a conflict, also across debits and credits.
pub fn wallet_keys_replay_or_conflict(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    customer(store, &a, "beta");
    let first = top_up("acme", dec!(10), "k-credit", 0);
    let wallet = store.credit_wallet(&a, &first).unwrap();
    assert!(!wallet.is_replay());
    // A retry draws fresh ids: still the same request.
    let mut again = top_up("acme", dec!(10), "k-credit", 5);
    again.reference = first.reference.clone();
    let replay = store.credit_wallet(&a, &again).unwrap();
    assert!(replay.is_replay());
    assert_eq!(replay.into_inner().balance, cny(dec!(10)));
    let mut other = again.clone();
    other.amount = cny(dec!(11));
    assert!(matches!(
        store.credit_wallet(&a, &other),
        Err(StoreError::IdempotencyConflict { key }) if key == "k-credit"
    ));

    let d = debited(
        store
            .debit_wallet(&a, &debit("acme", dec!(4), "k-debit", 10))
            .unwrap(),
    );
    let replay = store
        .debit_wallet(&a, &debit("acme", dec!(4), "k-debit", 20))
        .unwrap();
    assert_eq!(replay, Outcome::Replayed(d.clone()));
    for conflicting in [
        debit("acme", dec!(5), "k-debit", 20),
        debit("beta", dec!(4), "k-debit", 20),
        debit("acme", dec!(4), "k-credit", 20),
    ] {
        assert!(
            matches!(
                store.debit_wallet(&a, &conflicting),
                Err(StoreError::IdempotencyConflict { .. })
            ),
            "{conflicting:?}"
        );
    }
    assert!(matches!(
        store.credit_wallet(&a, &top_up("beta", dec!(4), "k-debit", 30)),
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // Nothing above wrote twice.
    assert_eq!(
        store
            .get_wallet(&a, "acme", Currency::CNY)
            .unwrap()
            .unwrap()
            .balance,
        cny(dec!(6))
    );
    assert_eq!(postings(store, &a, "acme").len(), 4);
    // Reserved and empty keys, zero and over-precise amounts are refused.
    for bad in [
        debit("acme", dec!(1), "expiry:wcr_x", 40),
        debit("acme", dec!(1), "", 40),
        debit("acme", dec!(0), "zero", 40),
        debit("acme", dec!(0.0000001), "tiny", 40),
    ] {
        assert!(
            matches!(store.debit_wallet(&a, &bad), Err(StoreError::Invalid(_))),
            "{bad:?}"
        );
    }
    let past = grant("acme", dec!(1), "past", 0, Some(10), 20);
    assert!(matches!(
        store.credit_wallet(&a, &past),
        Err(StoreError::Invalid(e)) if e.field_name() == "expires_at"
    ));
    assert!(matches!(
        store.credit_wallet(&a, &top_up("nobody", dec!(1), "nobody", 0)),
        Err(StoreError::NotFound { .. })
    ));
    // Issuers keep their keys and wallets apart.
    let b = issuer(store, "iss_b");
    customer(store, &b, "acme");
    assert!(matches!(
        store.debit_wallet(&b, &debit("acme", dec!(4), "k-debit", 10)),
        Err(StoreError::InsufficientBalance { .. })
    ));
    assert!(
        !store
            .credit_wallet(&b, &top_up("acme", dec!(10), "k-credit", 0))
            .unwrap()
            .is_replay()
    );
    check_books(store, &a, "acme");
}

/// A negative floor lets debits run into an overdraft, never past it; the
/// next credit repays the overdraft first.
pub fn overdraft_stops_at_the_floor_and_is_repaid_first(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    assert!(matches!(
        store.debit_wallet(&a, &debit("acme", dec!(1), "none", 0)),
        Err(StoreError::InsufficientBalance { .. })
    ));
    let settings = WalletSettings {
        floor: dec!(-10),
        ..WalletSettings::default()
    };
    let wallet = store
        .put_wallet_settings(&a, "acme", Currency::CNY, &settings, at(0))
        .unwrap();
    assert_eq!(wallet.balance, cny(dec!(0.00)));
    assert_eq!(wallet.settings, settings);
    add(store, &a, &top_up("acme", dec!(5), "t1", 1));
    let d = debited(
        store
            .debit_wallet(&a, &debit("acme", dec!(12), "d1", 2))
            .unwrap(),
    );
    assert_eq!(d.balance_after, cny(dec!(-7)));
    assert_eq!(d.drawn.len(), 1);
    let overdraft: Vec<_> = postings(store, &a, "acme")
        .into_iter()
        .filter(|p| p.transaction == d.transaction && p.account == account::WALLET)
        .map(|p| (p.credit.is_some(), p.amount.amount()))
        .collect();
    assert_eq!(overdraft, [(true, dec!(-5)), (false, dec!(-7))]);
    assert!(matches!(
        store.debit_wallet(&a, &debit("acme", dec!(4), "d2", 3)),
        Err(StoreError::InsufficientBalance { .. })
    ));
    debited(
        store
            .debit_wallet(&a, &debit("acme", dec!(3), "d3", 4))
            .unwrap(),
    );
    assert_eq!(check_books(store, &a, "acme"), dec!(-10));
    // 15 in: 10 repays the overdraft, 5 is left to spend.
    let wallet = store
        .credit_wallet(&a, &grant("acme", dec!(15), "g1", 0, Some(1000), 5))
        .unwrap()
        .into_inner();
    assert_eq!(wallet.balance, cny(dec!(5)));
    let g1 = store
        .wallet_credits(&a, "acme", Currency::CNY)
        .unwrap()
        .into_iter()
        .find(|c| c.amount.amount() == dec!(15))
        .unwrap();
    assert_eq!(g1.remaining.amount(), dec!(5));
    assert_eq!(check_books(store, &a, "acme"), dec!(5));
    // Its expiry takes only what is left: the repaid part was used.
    let expired = store.expire_credits(&a, at(1000), &mut tx).unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].amount, cny(dec!(-5)));
    assert_eq!(check_books(store, &a, "acme"), dec!(0));
    // A floor raised above the balance stops debits, nothing else.
    store
        .put_wallet_settings(&a, "acme", Currency::CNY, &WalletSettings::default(), at(6))
        .unwrap();
    assert!(matches!(
        store.debit_wallet(&a, &debit("acme", dec!(0.01), "d4", 7)),
        Err(StoreError::InsufficientBalance { .. })
    ));
}

/// Expired remainders become breakage: by the sweep, and by a debit that
/// finds them due, which keeps the expiry even when it is refused.
pub fn expired_credits_are_breakage(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    customer(store, &a, "beta");
    add(store, &a, &grant("acme", dec!(10), "g1", 0, Some(100), 0));
    add(store, &a, &top_up("acme", dec!(2), "t1", 0));
    add(store, &a, &grant("beta", dec!(4), "g2", 0, Some(100), 0));
    debited(
        store
            .debit_wallet(&a, &debit("acme", dec!(3), "d1", 50))
            .unwrap(),
    );
    // Not yet due.
    assert!(
        store
            .expire_credits(&a, at(99), &mut tx)
            .unwrap()
            .is_empty()
    );
    let expired = store.expire_credits(&a, at(100), &mut tx).unwrap();
    let mut seen: Vec<(String, Decimal)> = expired
        .iter()
        .map(|p| (p.customer.clone(), p.amount.amount()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [("acme".to_owned(), dec!(-7)), ("beta".to_owned(), dec!(-4))]
    );
    assert!(expired.iter().all(|p| p.kind == LedgerKind::Expiry
        && p.account == account::WALLET
        && p.key.starts_with("expiry:")));
    let breakage: Vec<_> = postings(store, &a, "acme")
        .into_iter()
        .filter(|p| p.account == account::BREAKAGE)
        .collect();
    assert_eq!(breakage.len(), 1);
    assert_eq!(breakage[0].amount, cny(dec!(7)));
    assert_eq!(breakage[0].at, at(100));
    // Swept once: a second sweep finds nothing.
    assert!(
        store
            .expire_credits(&a, at(200), &mut tx)
            .unwrap()
            .is_empty()
    );
    let credits = store.wallet_credits(&a, "acme", Currency::CNY).unwrap();
    assert_eq!(credits.last().unwrap().expired_at, Some(at(100)));
    assert_eq!(credits.last().unwrap().remaining.amount(), dec!(0));
    assert_eq!(check_books(store, &a, "acme"), dec!(2));
    assert_eq!(check_books(store, &a, "beta"), dec!(0));

    // A debit past a grant's expiry expires it first and cannot spend it.
    add(store, &a, &grant("beta", dec!(5), "g3", 0, Some(300), 200));
    assert!(matches!(
        store.debit_wallet(&a, &debit("beta", dec!(1), "d2", 300)),
        Err(StoreError::InsufficientBalance { .. })
    ));
    let kinds: Vec<LedgerKind> = postings(store, &a, "beta")
        .iter()
        .filter(|p| p.account == account::WALLET)
        .map(|p| p.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            LedgerKind::Grant,
            LedgerKind::Expiry,
            LedgerKind::Grant,
            LedgerKind::Expiry
        ]
    );
    assert_eq!(check_books(store, &a, "beta"), dec!(0));
}

/// Settings are checked, stored and read back; interval top-ups come due.
pub fn wallet_settings_and_due_top_ups(store: &Database) {
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    customer(store, &a, "beta");
    let bad = WalletSettings {
        floor: dec!(1),
        ..WalletSettings::default()
    };
    assert!(matches!(
        store.put_wallet_settings(&a, "acme", Currency::CNY, &bad, at(0)),
        Err(StoreError::Invalid(e)) if e.field_name() == "floor"
    ));
    assert!(matches!(
        store.put_wallet_settings(
            &a,
            "nobody",
            Currency::CNY,
            &WalletSettings::default(),
            at(0)
        ),
        Err(StoreError::NotFound { .. })
    ));
    let weekly = WalletSettings {
        floor: dec!(-2.5),
        low_balance_threshold: Some(dec!(3)),
        auto_top_up: Some(AutoTopUp {
            trigger: AutoTopUpTrigger::Interval { days: 7 },
            amount: AutoTopUpAmount::UpTo { target: dec!(20) },
        }),
    };
    let stored = store
        .put_wallet_settings(&a, "acme", Currency::CNY, &weekly, at(0))
        .unwrap();
    assert_eq!(stored.settings, weekly);
    let threshold = WalletSettings {
        auto_top_up: Some(AutoTopUp {
            trigger: AutoTopUpTrigger::Threshold { below: dec!(5) },
            amount: AutoTopUpAmount::Fixed { amount: dec!(10) },
        }),
        ..WalletSettings::default()
    };
    store
        .put_wallet_settings(&a, "beta", Currency::CNY, &threshold, at(0))
        .unwrap();
    store
        .put_wallet_settings(&a, "acme", Currency::USD, &WalletSettings::default(), at(0))
        .unwrap();
    let wallets = store.wallets_of(&a, "acme").unwrap();
    let currencies: Vec<Currency> = wallets.iter().map(|w| w.currency).collect();
    assert_eq!(currencies, [Currency::CNY, Currency::USD]);

    let due = |secs: i64| -> Vec<String> {
        store
            .wallets_due_top_up(&a, at(secs))
            .unwrap()
            .iter()
            .map(|w| format!("{} {}", w.customer, w.currency))
            .collect()
    };
    // Never fired: due now; only interval top-ups are listed.
    assert_eq!(due(0), ["acme CNY"]);
    store
        .mark_auto_top_up(&a, "acme", Currency::CNY, at(10))
        .unwrap();
    assert!(due(10 + 7 * 86_400 - 1).is_empty());
    assert_eq!(due(10 + 7 * 86_400), ["acme CNY"]);
    assert_eq!(
        store
            .get_wallet(&a, "acme", Currency::CNY)
            .unwrap()
            .unwrap()
            .last_auto_top_up_at,
        Some(at(10))
    );
    assert!(matches!(
        store.mark_auto_top_up(&a, "beta", Currency::USD, at(10)),
        Err(StoreError::NotFound { .. })
    ));
    // Settings keep the balance; a credit keeps the settings.
    add(store, &a, &top_up("acme", dec!(4), "t1", 20));
    let w = store
        .put_wallet_settings(&a, "acme", Currency::CNY, &weekly, at(30))
        .unwrap();
    assert_eq!(w.balance, cny(dec!(4)));
    assert_eq!(w.settings, weekly);
    assert_eq!(w.updated_at, at(30));
    assert!(
        store
            .get_wallet(&a, "beta", Currency::EUR)
            .unwrap()
            .is_none()
    );
}

/// The ledger and the transactions refuse `UPDATE` and `DELETE`.
pub fn wallet_ledger_rows_cannot_be_changed_or_deleted(db: &TestDatabase) {
    let store: &Database = db;
    let a = issuer(store, "iss_a");
    customer(store, &a, "acme");
    add(store, &a, &top_up("acme", dec!(3), "t1", 0));
    for sql in [
        "UPDATE wallet_ledger SET amount = 0",
        "DELETE FROM wallet_ledger",
        "UPDATE wallet_transactions SET request = '{}'",
        "DELETE FROM wallet_transactions",
    ] {
        assert!(
            crate::billing::refused_behind_the_store(db, sql),
            "{sql} was allowed"
        );
    }
    assert_eq!(postings(store, &a, "acme").len(), 2);
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Step {
    TopUp(i64),
    Grant(i64, i32, i64),
    Debit(i64),
    Expire,
    Floor(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (1_i64..5_000).prop_map(Step::TopUp),
        1 => (1_i64..5_000, 0_i32..3, 1_i64..40).prop_map(|(a, p, e)| Step::Grant(a, p, e)),
        3 => (1_i64..6_000).prop_map(Step::Debit),
        1 => Just(Step::Expire),
        1 => (0_i64..3_000).prop_map(Step::Floor),
    ]
}

/// Random credits, debits, expiries and floors (amounts in cents): the
/// balance is always the sum of the wallet postings and never below the
/// floor, and a debit is refused exactly when it would cross it.
pub fn random_wallet_histories_keep_the_books(store: &Database) {
    let a = issuer(store, "iss_a");
    let mut runner = TestRunner::new(Config {
        cases: 6,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(step(), 1..30), |steps| {
            let who = format!("c{}", next_id());
            customer(store, &a, &who);
            let cents = |c: i64| Decimal::new(c, 2);
            let mut floor = Decimal::ZERO;
            for (i, s) in steps.iter().enumerate() {
                let secs = i as i64 * 10;
                let key = format!("{who}-{i}");
                match s {
                    Step::TopUp(c) => {
                        add(store, &a, &top_up(&who, cents(*c), &key, secs));
                    }
                    Step::Grant(c, p, e) => {
                        add(
                            store,
                            &a,
                            &grant(&who, cents(*c), &key, *p, Some(secs + e * 10), secs),
                        );
                    }
                    Step::Debit(c) => {
                        let result = store.debit_wallet(&a, &debit(&who, cents(*c), &key, secs));
                        match result {
                            Ok(outcome) => {
                                let d = outcome.into_inner();
                                prop_assert!(d.balance_after.amount() >= floor);
                                prop_assert_eq!(
                                    d.balance_before.amount() - cents(*c),
                                    d.balance_after.amount()
                                );
                            }
                            Err(StoreError::InsufficientBalance { .. }) => {
                                // Refused only when it would cross (after expiries).
                                let now = store
                                    .get_wallet(&a, &who, Currency::CNY)
                                    .unwrap()
                                    .map(|w| w.balance.amount());
                                prop_assert!(
                                    now.is_none_or(|b| b - cents(*c) < floor),
                                    "refused {c} at {now:?} with floor {floor}"
                                );
                            }
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    Step::Expire => {
                        store.expire_credits(&a, at(secs), &mut tx).unwrap();
                    }
                    Step::Floor(c) => {
                        // Only ever lowered, so the balance stays above it.
                        floor = floor.min(-cents(*c));
                        let settings = WalletSettings {
                            floor,
                            ..WalletSettings::default()
                        };
                        store
                            .put_wallet_settings(&a, &who, Currency::CNY, &settings, at(secs))
                            .unwrap();
                    }
                }
                let balance = check_books(store, &a, &who);
                prop_assert!(balance >= floor);
            }
            Ok(())
        })
        .unwrap();
}
