//! `WalletStore` on [`Database`]: prepaid wallets kept as a double-entry,
//! append-only ledger, every rule that must hold under concurrency decided
//! inside one [`Database::transaction`].
//!
//! A write locks the wallet's row first (`SELECT … FOR UPDATE` on
//! PostgreSQL; SQLite's one writer, `BEGIN IMMEDIATE`, already excludes
//! every other), then reads the idempotency key, the credits and the floor
//! under that lock, so two debits of one wallet run one after the other
//! and the second sees the first's balance. Locks are taken in one order:
//! the wallet, the customer's prepaid balance (`billing_prepaid`, as a
//! finalisation takes it), the `wallet_seq` counter (the ledger's order),
//! the audit counter; a wallet write never waits for a lock while holding
//! a later one, so wallet writers and finalisations do not deadlock. The
//! issuer-wide expiry sweep runs one transaction per wallet for the same
//! reason.
//!
//! # Overdraft
//!
//! `wallets.debt` is what debits took beyond every credit, down to a
//! negative floor. A debit draws its credits first and only the rest
//! becomes debt, so debt exists only when every credit is used up; a later
//! credit repays the debt before anything else (its `remaining` starts at
//! the amount less the part repaid). So at every commit
//! `balance == SUM(remaining) − debt == SUM(wallet postings)`: the credit's
//! ledger posting is its whole amount, and expiry only ever removes a
//! remainder, never debt.
//!
//! A floor raised above a wallet's balance (an operator ends an overdraft
//! the customer is using) is accepted: no debit passes until credits bring
//! the balance back over it.
//!
//! # Expiry
//!
//! Due credits (expiry at or before the time given) are expired by the
//! sweep ([`WalletStore::expire_credits`]) and, for the debited wallet, by
//! every debit before it checks the floor, so a debit never spends expired
//! credit. Each expiry is its own ledger transaction keyed
//! `expiry:<credit id>` (so it happens once); a debit's expiries get
//! random transaction ids, the contract giving the debit no id source.
//! Client keys starting with `expiry:` are refused.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde_json::json;
use shiyun_core::ValidationError;
use shiyun_core::billing::scaled::from_scaled;
use shiyun_core::billing::wallet::{
    AutoTopUpTrigger, CreditKind, Debited, LedgerKind, LedgerPosting, NewCredit, NewDebit, Wallet,
    WalletCredit, WalletCreditId, WalletSettings, WalletStore, WalletTransactionId, account,
};
use shiyun_core::billing::{IssuerId, SubscriptionId};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{Outcome, StoreError, StoreResult};

use super::catalog::load_customer;
use super::common::{
    append_audit, corrupt, currency, json as to_json, money, not_found, opt_time, page_limit,
    scaled, time,
};
use super::sql::{self, Arg, args};
use crate::db::{Database, DbConnection, Isolation, TxError};
use crate::time::micros;
use crate::user_centre::read;

/// The key prefix of expiry transactions, refused in client keys.
const EXPIRY_KEY: &str = "expiry:";

/// Longest idempotency key.
const MAX_KEY: usize = 255;

/// Ledger rows per multi-row `INSERT` (12 binds each).
const POSTINGS_PER_INSERT: usize = 500;

/// Microseconds per day.
const DAY_MICROS: i64 = 86_400_000_000;

impl WalletStore for Database {
    fn put_wallet_settings(
        &self,
        issuer: &IssuerId,
        customer: &str,
        currency: Currency,
        settings: &WalletSettings,
        at: DateTime<Utc>,
    ) -> StoreResult<Wallet> {
        put_settings(self, issuer, customer, currency, settings, at)
    }

    fn get_wallet(
        &self,
        issuer: &IssuerId,
        customer: &str,
        currency: Currency,
    ) -> StoreResult<Option<Wallet>> {
        read(self, |conn| {
            Ok(load_wallet(conn, issuer, customer, currency, false)?
                .map(WalletRow::decode)
                .transpose()?)
        })
    }

    fn wallets_of(&self, issuer: &IssuerId, customer: &str) -> StoreResult<Vec<Wallet>> {
        read(self, |conn| {
            let rows: Vec<WalletRow> = sql::load(
                conn,
                &format!(
                    "SELECT {WALLET_COLUMNS} FROM wallets WHERE issuer_id = $1 AND customer = $2 \
                     ORDER BY currency"
                ),
                args![issuer.as_str(), customer],
            )?;
            Ok(rows
                .into_iter()
                .map(WalletRow::decode)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn credit_wallet(&self, issuer: &IssuerId, credit: &NewCredit) -> StoreResult<Outcome<Wallet>> {
        credit_wallet(self, issuer, credit)
    }

    fn debit_wallet(&self, issuer: &IssuerId, debit: &NewDebit) -> StoreResult<Outcome<Debited>> {
        debit_wallet(self, issuer, debit)
    }

    fn expire_credits(
        &self,
        issuer: &IssuerId,
        at: DateTime<Utc>,
        ids: &mut dyn FnMut() -> WalletTransactionId,
    ) -> StoreResult<Vec<LedgerPosting>> {
        expire_credits(self, issuer, at, ids)
    }

    fn wallet_credits(
        &self,
        issuer: &IssuerId,
        customer: &str,
        currency: Currency,
    ) -> StoreResult<Vec<WalletCredit>> {
        read(self, |conn| {
            let rows: Vec<CreditRow> = sql::load(
                conn,
                &format!(
                    "SELECT {CREDIT_COLUMNS} FROM wallet_credits \
                     WHERE issuer_id = $1 AND customer = $2 AND currency = $3 \
                     ORDER BY expired_at IS NOT NULL, {DRAW_ORDER}"
                ),
                args![issuer.as_str(), customer, currency.code()],
            )?;
            Ok(rows
                .into_iter()
                .map(CreditRow::decode)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn ledger(
        &self,
        issuer: &IssuerId,
        customer: Option<&str>,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<LedgerPosting>> {
        read(self, |conn| {
            let rows: Vec<LedgerRow> = match customer {
                Some(customer) => sql::load(
                    conn,
                    &format!(
                        "SELECT {LEDGER_COLUMNS} FROM wallet_ledger WHERE issuer_id = $1 \
                         AND customer = $2 AND seq > $3 ORDER BY seq LIMIT $4"
                    ),
                    args![issuer.as_str(), customer, after_seq, page_limit(limit)],
                )?,
                None => sql::load(
                    conn,
                    &format!(
                        "SELECT {LEDGER_COLUMNS} FROM wallet_ledger WHERE issuer_id = $1 \
                         AND seq > $2 ORDER BY seq LIMIT $3"
                    ),
                    args![issuer.as_str(), after_seq, page_limit(limit)],
                )?,
            };
            Ok(rows
                .into_iter()
                .map(LedgerRow::decode)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn wallets_due_top_up(
        &self,
        issuer: &IssuerId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Wallet>> {
        read(self, |conn| {
            let rows: Vec<WalletRow> = sql::load(
                conn,
                &format!(
                    "SELECT {WALLET_COLUMNS} FROM wallets WHERE issuer_id = $1 \
                     AND top_up_days IS NOT NULL AND (last_auto_top_up_at IS NULL \
                     OR last_auto_top_up_at <= $2 - top_up_days * $3) \
                     ORDER BY customer, currency"
                ),
                args![issuer.as_str(), micros(now), DAY_MICROS],
            )?;
            Ok(rows
                .into_iter()
                .map(WalletRow::decode)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn mark_auto_top_up(
        &self,
        issuer: &IssuerId,
        customer: &str,
        currency: Currency,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            let changed = sql::execute(
                conn,
                "UPDATE wallets SET last_auto_top_up_at = $4 \
                 WHERE issuer_id = $1 AND customer = $2 AND currency = $3",
                args![issuer.as_str(), customer, currency.code(), micros(at)],
            )?;
            if changed == 0 {
                return Err(not_found("wallet", format!("{customer} {currency}")).into());
            }
            Ok(())
        })
    }
}

// ---------------------------------------------------------------- rows

const WALLET_COLUMNS: &str = "customer, currency, balance, debt, floor, settings, \
     last_auto_top_up_at, created_at, updated_at";

#[derive(QueryableByName)]
struct WalletRow {
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    balance: i64,
    #[diesel(sql_type = BigInt)]
    debt: i64,
    #[diesel(sql_type = BigInt)]
    floor: i64,
    #[diesel(sql_type = Text)]
    settings: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_auto_top_up_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
}

impl WalletRow {
    fn decode(self) -> StoreResult<Wallet> {
        let currency = currency(&self.currency)?;
        let mut settings: WalletSettings = serde_json::from_str(&self.settings)
            .map_err(|e| corrupt(format!("settings of wallet {}: {e}", self.customer)))?;
        // The column is what debits compare; the JSON copy only describes.
        settings.floor = from_scaled(self.floor);
        Ok(Wallet {
            balance: money(self.balance, currency),
            customer: self.customer,
            currency,
            settings,
            last_auto_top_up_at: opt_time(self.last_auto_top_up_at)?,
            created_at: time(self.created_at)?,
            updated_at: time(self.updated_at)?,
        })
    }
}

/// The wallet's row; on PostgreSQL with `lock`, locked until the
/// transaction ends.
fn load_wallet(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    customer: &str,
    currency: Currency,
    lock: bool,
) -> Result<Option<WalletRow>, TxError> {
    let lock = if lock { sql::for_update(conn) } else { "" };
    Ok(sql::first(
        conn,
        &format!(
            "SELECT {WALLET_COLUMNS} FROM wallets \
             WHERE issuer_id = $1 AND customer = $2 AND currency = $3{lock}"
        ),
        args![issuer.as_str(), customer, currency.code()],
    )?)
}

const CREDIT_COLUMNS: &str = "id, customer, currency, kind, priority, expires_at, amount, \
     remaining, reference, created_at, expired_at";

/// Priority, then earliest expiry (none last), then first in.
const DRAW_ORDER: &str = "priority, expires_at IS NULL, expires_at, created_at, seq";

#[derive(QueryableByName)]
struct CreditRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    priority: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    expires_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = BigInt)]
    remaining: i64,
    #[diesel(sql_type = Nullable<Text>)]
    reference: Option<String>,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    expired_at: Option<i64>,
}

impl CreditRow {
    fn decode(self) -> StoreResult<WalletCredit> {
        let currency = currency(&self.currency)?;
        Ok(WalletCredit {
            id: WalletCreditId::parse(&self.id).map_err(|e| corrupt(format!("credit id: {e}")))?,
            kind: CreditKind::parse(&self.kind)
                .map_err(|e| corrupt(format!("credit {}: {e}", self.id)))?,
            priority: i32::try_from(self.priority)
                .map_err(|_| corrupt(format!("priority of credit {}", self.id)))?,
            expires_at: opt_time(self.expires_at)?,
            amount: money(self.amount, currency),
            remaining: money(self.remaining, currency),
            customer: self.customer,
            reference: self.reference,
            created_at: time(self.created_at)?,
            expired_at: opt_time(self.expired_at)?,
        })
    }
}

const LEDGER_COLUMNS: &str = "seq, transaction_id, key, kind, customer, currency, account, \
     amount, credit_id, subscription_id, at";

#[derive(QueryableByName)]
struct LedgerRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    transaction_id: String,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    account: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = Nullable<Text>)]
    credit_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    subscription_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    at: i64,
}

impl LedgerRow {
    fn decode(self) -> StoreResult<LedgerPosting> {
        let currency = currency(&self.currency)?;
        let what = |field: &str| format!("{field} of ledger entry {}", self.seq);
        Ok(LedgerPosting {
            seq: self.seq,
            transaction: WalletTransactionId::parse(&self.transaction_id)
                .map_err(|e| corrupt(format!("{}: {e}", what("transaction"))))?,
            kind: LedgerKind::parse(&self.kind)
                .map_err(|e| corrupt(format!("{}: {e}", what("kind"))))?,
            amount: money(self.amount, currency),
            credit: self
                .credit_id
                .as_deref()
                .map(WalletCreditId::parse)
                .transpose()
                .map_err(|e| corrupt(format!("{}: {e}", what("credit"))))?,
            subscription: self
                .subscription_id
                .as_deref()
                .map(SubscriptionId::parse)
                .transpose()
                .map_err(|e| corrupt(format!("{}: {e}", what("subscription"))))?,
            key: self.key,
            customer: self.customer,
            account: self.account,
            at: time(self.at)?,
        })
    }
}

#[derive(QueryableByName)]
struct TransactionRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    request: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    balance_before: i64,
    #[diesel(sql_type = BigInt)]
    balance_after: i64,
}

fn prior_transaction(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    key: &str,
) -> Result<Option<TransactionRow>, TxError> {
    Ok(sql::first(
        conn,
        "SELECT id, kind, request, currency, balance_before, balance_after \
         FROM wallet_transactions WHERE issuer_id = $1 AND key = $2",
        args![issuer.as_str(), key],
    )?)
}

/// Whether a stored transaction is the same request again.
fn is_same(prior: &TransactionRow, request: &str, key: &str) -> StoreResult<()> {
    if prior.request == request {
        Ok(())
    } else {
        Err(StoreError::IdempotencyConflict {
            key: key.to_owned(),
        })
    }
}

#[derive(QueryableByName)]
struct DrawRow {
    #[diesel(sql_type = Text)]
    credit_id: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
}

/// What a stored debit did, read back for a replay.
fn stored_debit(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    prior: &TransactionRow,
) -> Result<Debited, TxError> {
    if prior.kind != LedgerKind::Debit.as_str() {
        return Err(corrupt(format!("transaction {} is not a debit", prior.id)).into());
    }
    let currency = currency(&prior.currency)?;
    let draws: Vec<DrawRow> = sql::load(
        conn,
        "SELECT credit_id, amount FROM wallet_ledger WHERE issuer_id = $1 \
         AND transaction_id = $2 AND account = $3 AND credit_id IS NOT NULL ORDER BY seq",
        args![issuer.as_str(), &prior.id, account::WALLET],
    )?;
    Ok(Debited {
        transaction: WalletTransactionId::parse(&prior.id)
            .map_err(|e| corrupt(format!("transaction id: {e}")))?,
        balance_before: money(prior.balance_before, currency),
        balance_after: money(prior.balance_after, currency),
        drawn: draws
            .into_iter()
            .map(|d| {
                Ok((
                    WalletCreditId::parse(&d.credit_id)
                        .map_err(|e| corrupt(format!("credit id: {e}")))?,
                    from_scaled(-d.amount),
                ))
            })
            .collect::<StoreResult<_>>()?,
    })
}

// ---------------------------------------------------------------- writing

/// One posting to write.
struct Posting {
    account: &'static str,
    amount: i64,
    credit: Option<String>,
}

/// One ledger transaction to write: its row, postings and audit entry.
struct Entry {
    id: String,
    key: String,
    kind: LedgerKind,
    request: String,
    balance_before: i64,
    balance_after: i64,
    subscription: Option<String>,
    postings: Vec<Posting>,
    audit: (&'static str, serde_json::Value),
}

/// The ledger transactions of one wallet write, written together at the
/// end so the contended locks (ledger order, audit chain) are held briefly
/// and always in the same order.
struct Batch<'a> {
    issuer: &'a IssuerId,
    customer: &'a str,
    currency: Currency,
    at: DateTime<Utc>,
    entries: Vec<Entry>,
}

impl Batch<'_> {
    /// Writes the transaction rows, the postings (with their `seq`) and the
    /// audit entries. Returns each entry's postings as stored.
    fn write(self, conn: &mut DbConnection) -> Result<Vec<Vec<LedgerPosting>>, TxError> {
        let issuer = self.issuer.as_str();
        let code = self.currency.code();
        let at = micros(self.at);
        for e in &self.entries {
            sql::execute(
                conn,
                "INSERT INTO wallet_transactions (issuer_id, id, key, kind, customer, currency, \
                 request, balance_before, balance_after, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                args![
                    issuer,
                    &e.id,
                    &e.key,
                    e.kind.as_str(),
                    self.customer,
                    code,
                    &e.request,
                    e.balance_before,
                    e.balance_after,
                    at
                ],
            )?;
        }
        let count: usize = self.entries.iter().map(|e| e.postings.len()).sum();
        let mut seq = next_seqs(conn, self.issuer, count)?;
        let mut stored = Vec::with_capacity(self.entries.len());
        let mut rows: Vec<(i64, &Entry, &Posting)> = Vec::with_capacity(count);
        for e in &self.entries {
            let mut postings = Vec::with_capacity(e.postings.len());
            for p in &e.postings {
                rows.push((seq, e, p));
                postings.push(LedgerPosting {
                    seq,
                    transaction: transaction_id(&e.id)?,
                    key: e.key.clone(),
                    kind: e.kind,
                    customer: self.customer.to_owned(),
                    account: p.account.to_owned(),
                    amount: money(p.amount, self.currency),
                    credit: p.credit.as_deref().map(credit_id).transpose()?,
                    subscription: e
                        .subscription
                        .as_deref()
                        .map(SubscriptionId::parse)
                        .transpose()
                        .map_err(|e| corrupt(format!("subscription id: {e}")))?,
                    at: self.at,
                });
                seq += 1;
            }
            stored.push(postings);
        }
        for chunk in rows.chunks(POSTINGS_PER_INSERT) {
            let mut values = Vec::with_capacity(chunk.len());
            let mut binds: Vec<Arg> = Vec::with_capacity(chunk.len() * 12);
            for (seq, e, p) in chunk {
                values.push(format!("({})", sql::placeholders(binds.len() + 1, 12)));
                binds.extend(args![
                    issuer,
                    *seq,
                    &e.id,
                    &e.key,
                    e.kind.as_str(),
                    self.customer,
                    code,
                    p.account,
                    p.amount,
                    p.credit.clone(),
                    e.subscription.clone(),
                    at
                ]);
            }
            sql::execute(
                conn,
                &format!(
                    "INSERT INTO wallet_ledger (issuer_id, seq, transaction_id, key, kind, \
                     customer, currency, account, amount, credit_id, subscription_id, at) \
                     VALUES {}",
                    values.join(", ")
                ),
                binds,
            )?;
        }
        for e in &self.entries {
            append_audit(conn, self.issuer, self.at, e.audit.0, &e.id, &e.audit.1)?;
        }
        Ok(stored)
    }
}

/// Takes `count` ledger positions of the issuer; the first is returned. The
/// counter's row stays locked until commit, so `seq` commits in order.
fn next_seqs(conn: &mut DbConnection, issuer: &IssuerId, count: usize) -> Result<i64, TxError> {
    let count = i64::try_from(count).map_err(|_| corrupt("posting count"))?;
    let row: Option<super::common::Value> = sql::first(
        conn,
        "INSERT INTO billing_counters (issuer_id, name, value) VALUES ($1, 'wallet_seq', $2) \
         ON CONFLICT (issuer_id, name) \
         DO UPDATE SET value = billing_counters.value + excluded.value RETURNING value",
        args![issuer.as_str(), count],
    )?;
    let last = row
        .ok_or_else(|| StoreError::Internal("wallet_seq upsert returned no row".into()))?
        .value;
    Ok(last - count + 1)
}

/// A wallet under its lock: the figures a write changes.
struct Locked {
    balance: i64,
    debt: i64,
    floor: i64,
}

impl Locked {
    fn of(row: &WalletRow) -> Self {
        Locked {
            balance: row.balance,
            debt: row.debt,
            floor: row.floor,
        }
    }
}

fn save_wallet(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    customer: &str,
    currency: Currency,
    wallet: &Locked,
    at: DateTime<Utc>,
) -> Result<(), TxError> {
    sql::execute(
        conn,
        "UPDATE wallets SET balance = $4, debt = $5, updated_at = $6 \
         WHERE issuer_id = $1 AND customer = $2 AND currency = $3",
        args![
            issuer.as_str(),
            customer,
            currency.code(),
            wallet.balance,
            wallet.debt,
            micros(at)
        ],
    )?;
    Ok(())
}

/// A credit with something left, as a debit or an expiry sees it.
#[derive(QueryableByName)]
struct OpenCredit {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    expires_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    remaining: i64,
}

/// The wallet's credits with a remainder, in draw order.
fn open_credits(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    customer: &str,
    currency: Currency,
) -> Result<Vec<OpenCredit>, TxError> {
    Ok(sql::load(
        conn,
        &format!(
            "SELECT id, expires_at, remaining FROM wallet_credits WHERE issuer_id = $1 \
             AND customer = $2 AND currency = $3 AND remaining > 0 ORDER BY {DRAW_ORDER}"
        ),
        args![issuer.as_str(), customer, currency.code()],
    )?)
}

/// Expires the credits of `open` due at `batch.at` (removing them from
/// `open`), one ledger transaction each added to `batch`.
fn expire_due(
    conn: &mut DbConnection,
    wallet: &mut Locked,
    open: &mut Vec<OpenCredit>,
    batch: &mut Batch<'_>,
    ids: &mut dyn FnMut() -> WalletTransactionId,
) -> Result<(), TxError> {
    let at = micros(batch.at);
    let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(open)
        .into_iter()
        .partition(|c| c.expires_at.is_some_and(|e| e <= at));
    *open = keep;
    for credit in due {
        sql::execute(
            conn,
            "UPDATE wallet_credits SET remaining = 0, expired_at = $3 \
             WHERE issuer_id = $1 AND id = $2",
            args![batch.issuer.as_str(), &credit.id, at],
        )?;
        let before = wallet.balance;
        wallet.balance -= credit.remaining;
        let id = ids().to_string();
        let amount = from_scaled(credit.remaining).to_string();
        batch.entries.push(Entry {
            key: format!("{EXPIRY_KEY}{}", credit.id),
            kind: LedgerKind::Expiry,
            request: to_json(&json!({"op": "expiry", "credit": credit.id}))?,
            balance_before: before,
            balance_after: wallet.balance,
            subscription: None,
            postings: vec![
                Posting {
                    account: account::WALLET,
                    amount: -credit.remaining,
                    credit: Some(credit.id.clone()),
                },
                Posting {
                    account: account::BREAKAGE,
                    amount: credit.remaining,
                    credit: Some(credit.id.clone()),
                },
            ],
            audit: (
                "wallet.expired",
                json!({
                    "transaction": id,
                    "customer": batch.customer,
                    "currency": batch.currency.code(),
                    "credit": credit.id,
                    "amount": amount,
                    "balance": from_scaled(wallet.balance).to_string(),
                }),
            ),
            id,
        });
    }
    Ok(())
}

fn transaction_id(text: &str) -> StoreResult<WalletTransactionId> {
    WalletTransactionId::parse(text).map_err(|e| corrupt(format!("transaction id: {e}")))
}

fn credit_id(text: &str) -> StoreResult<WalletCreditId> {
    WalletCreditId::parse(text).map_err(|e| corrupt(format!("credit id: {e}")))
}

/// A transaction id the store draws itself (a debit's expiries).
fn random_transaction_id() -> WalletTransactionId {
    let mut bytes = [0_u8; 16];
    fastrand::fill(&mut bytes);
    WalletTransactionId::from_random(bytes)
}

/// A client's idempotency key: 1-255 characters, not an expiry's.
fn check_key(key: &str) -> StoreResult<()> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(ValidationError::new("key", "must be 1-255 characters").into());
    }
    if key.starts_with(EXPIRY_KEY) {
        return Err(
            ValidationError::new("key", "keys starting with `expiry:` are reserved").into(),
        );
    }
    Ok(())
}

/// A positive amount in millionths.
fn positive(amount: &Money) -> StoreResult<i64> {
    let value = scaled(amount.amount(), "amount")?;
    if value <= 0 {
        return Err(ValidationError::new("amount", "must be positive").into());
    }
    Ok(value)
}

fn text(scaled: i64) -> String {
    from_scaled(scaled).to_string()
}

// ---------------------------------------------------------------- settings

fn put_settings(
    db: &Database,
    issuer: &IssuerId,
    customer: &str,
    currency: Currency,
    settings: &WalletSettings,
    at: DateTime<Utc>,
) -> StoreResult<Wallet> {
    settings.check()?;
    let floor = scaled(settings.floor, "floor")?;
    let stored = to_json(settings)?;
    let days = settings.auto_top_up.as_ref().and_then(|a| match a.trigger {
        AutoTopUpTrigger::Interval { days } => Some(i64::from(days)),
        AutoTopUpTrigger::Threshold { .. } => None,
    });
    db.transaction(Isolation::ReadCommitted, |conn| {
        if load_customer(conn, issuer, customer)?.is_none() {
            return Err(not_found("customer", customer).into());
        }
        sql::execute(
            conn,
            "INSERT INTO wallets (issuer_id, customer, currency, balance, debt, floor, settings, \
             top_up_days, last_auto_top_up_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, 0, $4, $5, $6, NULL, $7, $7) \
             ON CONFLICT (issuer_id, customer, currency) DO UPDATE SET floor = excluded.floor, \
             settings = excluded.settings, top_up_days = excluded.top_up_days, \
             updated_at = excluded.updated_at",
            args![
                issuer.as_str(),
                customer,
                currency.code(),
                floor,
                &stored,
                days,
                micros(at)
            ],
        )?;
        append_audit(
            conn,
            issuer,
            at,
            "wallet.settings_changed",
            customer,
            &json!({
                "customer": customer,
                "currency": currency.code(),
                "settings": serde_json::from_str::<serde_json::Value>(&stored)
                    .map_err(|e| StoreError::Internal(format!("settings JSON: {e}")))?,
            }),
        )?;
        let row = load_wallet(conn, issuer, customer, currency, false)?
            .ok_or_else(|| StoreError::Internal("wallet vanished after its write".into()))?;
        Ok(row.decode()?)
    })
}

// ---------------------------------------------------------------- credits

fn credit_wallet(
    db: &Database,
    issuer: &IssuerId,
    credit: &NewCredit,
) -> StoreResult<Outcome<Wallet>> {
    let amount = positive(&credit.amount)?;
    check_key(&credit.key)?;
    if credit.expires_at.is_some_and(|e| e <= credit.at) {
        return Err(ValidationError::new("expires_at", "must be after the credit's time").into());
    }
    let currency = credit.amount.currency();
    let request = to_json(&json!({
        "op": "credit",
        "customer": credit.customer,
        "currency": currency.code(),
        "amount": amount,
        "kind": credit.kind.as_str(),
        "priority": credit.priority,
        "expires_at": credit.expires_at.map(micros),
        "reference": credit.reference,
    }))?;
    let default_settings = to_json(&WalletSettings::default())?;
    let result = db.transaction(Isolation::ReadCommitted, |conn| {
        if load_customer(conn, issuer, &credit.customer)?.is_none() {
            return Err(not_found("customer", &credit.customer).into());
        }
        sql::execute(
            conn,
            "INSERT INTO wallets (issuer_id, customer, currency, balance, debt, floor, settings, \
             top_up_days, last_auto_top_up_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, 0, 0, $4, NULL, NULL, $5, $5) \
             ON CONFLICT (issuer_id, customer, currency) DO NOTHING",
            args![
                issuer.as_str(),
                &credit.customer,
                currency.code(),
                &default_settings,
                micros(credit.at)
            ],
        )?;
        let row = load_wallet(conn, issuer, &credit.customer, currency, true)?
            .ok_or_else(|| StoreError::Internal("wallet vanished after its write".into()))?;
        if let Some(prior) = prior_transaction(conn, issuer, &credit.key)? {
            is_same(&prior, &request, &credit.key)?;
            return Ok(Outcome::Replayed(row.decode()?));
        }
        let mut wallet = Locked::of(&row);
        let before = wallet.balance;
        let repaid = amount.min(wallet.debt);
        wallet.debt -= repaid;
        wallet.balance = wallet.balance.checked_add(amount).ok_or_else(|| {
            StoreError::from(ValidationError::new(
                "amount",
                "the balance would be out of range",
            ))
        })?;
        save_wallet(conn, issuer, &credit.customer, currency, &wallet, credit.at)?;
        let id = credit.id.to_string();
        let kind = match credit.kind {
            CreditKind::TopUp => LedgerKind::TopUp,
            CreditKind::Grant => LedgerKind::Grant,
        };
        let batch = Batch {
            issuer,
            customer: &credit.customer,
            currency,
            at: credit.at,
            entries: vec![Entry {
                id: credit.transaction.to_string(),
                key: credit.key.clone(),
                kind,
                request: request.clone(),
                balance_before: before,
                balance_after: wallet.balance,
                subscription: None,
                postings: vec![
                    Posting {
                        account: account::WALLET,
                        amount,
                        credit: Some(id.clone()),
                    },
                    Posting {
                        account: credit.kind.source_account(),
                        amount: -amount,
                        credit: Some(id.clone()),
                    },
                ],
                audit: (
                    "wallet.credited",
                    json!({
                        "transaction": credit.transaction.as_str(),
                        "credit": id,
                        "customer": credit.customer,
                        "currency": currency.code(),
                        "kind": credit.kind.as_str(),
                        "amount": text(amount),
                        "priority": credit.priority,
                        "expires_at": credit.expires_at.map(micros),
                        "reference": credit.reference,
                        "debt_repaid": text(repaid),
                        "balance": text(wallet.balance),
                    }),
                ),
            }],
        };
        let stored = batch.write(conn)?;
        let seq = stored.first().and_then(|p| p.first()).map_or(0, |p| p.seq);
        sql::execute(
            conn,
            "INSERT INTO wallet_credits (issuer_id, id, customer, currency, kind, priority, \
             expires_at, amount, remaining, reference, seq, created_at, expired_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL)",
            args![
                issuer.as_str(),
                &id,
                &credit.customer,
                currency.code(),
                credit.kind.as_str(),
                i64::from(credit.priority),
                credit.expires_at.map(micros),
                amount,
                amount - repaid,
                credit.reference.clone(),
                seq,
                micros(credit.at)
            ],
        )?;
        let row = load_wallet(conn, issuer, &credit.customer, currency, false)?
            .ok_or_else(|| StoreError::Internal("wallet vanished after its write".into()))?;
        Ok(Outcome::Applied(row.decode()?))
    });
    match result {
        // A concurrent request with the key for another wallet won the
        // key's unique index: a replay or a conflict, as if it came first.
        Err(StoreError::AlreadyExists { detail }) => {
            let wallet = read(db, |conn| {
                let Some(prior) = prior_transaction(conn, issuer, &credit.key)? else {
                    return Ok(None);
                };
                is_same(&prior, &request, &credit.key)?;
                load_wallet(conn, issuer, &credit.customer, currency, false)
            })?;
            match wallet {
                Some(row) => Ok(Outcome::Replayed(row.decode()?)),
                None => Err(StoreError::AlreadyExists { detail }),
            }
        }
        other => other,
    }
}

// ---------------------------------------------------------------- debits

fn debit_wallet(
    db: &Database,
    issuer: &IssuerId,
    debit: &NewDebit,
) -> StoreResult<Outcome<Debited>> {
    let amount = positive(&debit.amount)?;
    check_key(&debit.key)?;
    let currency = debit.amount.currency();
    let request = to_json(&json!({
        "op": "debit",
        "customer": debit.customer,
        "currency": currency.code(),
        "amount": amount,
        "subscription": debit.subscription.as_ref().map(SubscriptionId::as_str),
        "description": debit.description,
    }))?;
    let insufficient = || StoreError::InsufficientBalance {
        account: format!("wallet {} {currency}", debit.customer),
    };
    let result = db.transaction(Isolation::ReadCommitted, |conn| {
        let row = load_wallet(conn, issuer, &debit.customer, currency, true)?;
        // Under the wallet's lock, so a concurrent twin has committed or waits.
        if let Some(prior) = prior_transaction(conn, issuer, &debit.key)? {
            is_same(&prior, &request, &debit.key)?;
            return Ok(Ok(Outcome::Replayed(stored_debit(conn, issuer, &prior)?)));
        }
        let Some(row) = row else {
            return Ok(Err(insufficient()));
        };
        let mut wallet = Locked::of(&row);
        let mut open = open_credits(conn, issuer, &debit.customer, currency)?;
        let mut batch = Batch {
            issuer,
            customer: &debit.customer,
            currency,
            at: debit.at,
            entries: Vec::new(),
        };
        expire_due(
            conn,
            &mut wallet,
            &mut open,
            &mut batch,
            &mut random_transaction_id,
        )?;
        let allowed = wallet
            .balance
            .checked_sub(amount)
            .is_some_and(|after| after >= wallet.floor);
        if !allowed {
            // The expiries stand: they were due whatever the debit does.
            if !batch.entries.is_empty() {
                save_wallet(conn, issuer, &debit.customer, currency, &wallet, debit.at)?;
                batch.write(conn)?;
            }
            return Ok(Err(insufficient()));
        }
        let before = wallet.balance;
        let mut left = amount;
        let mut drawn: Vec<(String, i64)> = Vec::new();
        for credit in &open {
            if left == 0 {
                break;
            }
            let take = credit.remaining.min(left);
            sql::execute(
                conn,
                "UPDATE wallet_credits SET remaining = remaining - $3 \
                 WHERE issuer_id = $1 AND id = $2",
                args![issuer.as_str(), &credit.id, take],
            )?;
            drawn.push((credit.id.clone(), take));
            left -= take;
        }
        // Beyond every credit: the overdraft, repaid by the next credits.
        wallet.debt += left;
        wallet.balance = before - amount;
        save_wallet(conn, issuer, &debit.customer, currency, &wallet, debit.at)?;
        // Invoices of the period draw it at finalisation.
        sql::execute(
            conn,
            "INSERT INTO billing_prepaid (issuer_id, customer, currency, balance) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (issuer_id, customer, currency) \
             DO UPDATE SET balance = billing_prepaid.balance + excluded.balance",
            args![issuer.as_str(), &debit.customer, currency.code(), amount],
        )?;
        let mut postings: Vec<Posting> = drawn
            .iter()
            .map(|(id, take)| Posting {
                account: account::WALLET,
                amount: -take,
                credit: Some(id.clone()),
            })
            .collect();
        if left > 0 {
            postings.push(Posting {
                account: account::WALLET,
                amount: -left,
                credit: None,
            });
        }
        postings.push(Posting {
            account: account::PREPAID_APPLIED,
            amount,
            credit: None,
        });
        let subscription = debit.subscription.as_ref().map(ToString::to_string);
        batch.entries.push(Entry {
            id: debit.transaction.to_string(),
            key: debit.key.clone(),
            kind: LedgerKind::Debit,
            request: request.clone(),
            balance_before: before,
            balance_after: wallet.balance,
            subscription: subscription.clone(),
            postings,
            audit: (
                "wallet.debited",
                json!({
                    "transaction": debit.transaction.as_str(),
                    "key": debit.key,
                    "customer": debit.customer,
                    "currency": currency.code(),
                    "amount": text(amount),
                    "subscription": subscription,
                    "description": debit.description,
                    "drawn": drawn
                        .iter()
                        .map(|(id, take)| json!({"credit": id, "amount": text(*take)}))
                        .collect::<Vec<_>>(),
                    "overdraft": text(left),
                    "balance_before": text(before),
                    "balance_after": text(wallet.balance),
                }),
            ),
        });
        batch.write(conn)?;
        Ok(Ok(Outcome::Applied(Debited {
            transaction: debit.transaction.clone(),
            balance_before: money(before, currency),
            balance_after: money(wallet.balance, currency),
            drawn: drawn
                .into_iter()
                .map(|(id, take)| {
                    Ok((
                        WalletCreditId::parse(&id)
                            .map_err(|e| corrupt(format!("credit id: {e}")))?,
                        from_scaled(take),
                    ))
                })
                .collect::<StoreResult<_>>()?,
        })))
    });
    match result {
        Ok(outcome) => outcome,
        // The key won by a concurrent request for another wallet.
        Err(StoreError::AlreadyExists { detail }) => {
            let replay = read(db, |conn| {
                let Some(prior) = prior_transaction(conn, issuer, &debit.key)? else {
                    return Ok(None);
                };
                is_same(&prior, &request, &debit.key)?;
                Ok(Some(stored_debit(conn, issuer, &prior)?))
            })?;
            replay
                .map(Outcome::Replayed)
                .ok_or(StoreError::AlreadyExists { detail })
        }
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------- expiry

#[derive(QueryableByName)]
struct DueWallet {
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    currency: String,
}

fn expire_credits(
    db: &Database,
    issuer: &IssuerId,
    at: DateTime<Utc>,
    ids: &mut dyn FnMut() -> WalletTransactionId,
) -> StoreResult<Vec<LedgerPosting>> {
    let due: Vec<DueWallet> = read(db, |conn| {
        Ok(sql::load(
            conn,
            "SELECT DISTINCT customer, currency FROM wallet_credits WHERE issuer_id = $1 \
             AND remaining > 0 AND expires_at <= $2 ORDER BY customer, currency",
            args![issuer.as_str(), micros(at)],
        )?)
    })?;
    let mut expired = Vec::new();
    // One transaction per wallet: a sweep never holds one wallet's lock
    // while waiting for another's.
    for wallet in due {
        let currency = currency(&wallet.currency)?;
        let postings = db.transaction(Isolation::ReadCommitted, |conn| {
            let Some(row) = load_wallet(conn, issuer, &wallet.customer, currency, true)? else {
                return Err(
                    corrupt(format!("credits of missing wallet {}", wallet.customer)).into(),
                );
            };
            let mut locked = Locked::of(&row);
            let mut open = open_credits(conn, issuer, &wallet.customer, currency)?;
            let mut batch = Batch {
                issuer,
                customer: &wallet.customer,
                currency,
                at,
                entries: Vec::new(),
            };
            expire_due(conn, &mut locked, &mut open, &mut batch, &mut *ids)?;
            if batch.entries.is_empty() {
                return Ok(Vec::new());
            }
            save_wallet(conn, issuer, &wallet.customer, currency, &locked, at)?;
            Ok(batch
                .write(conn)?
                .into_iter()
                .flatten()
                .filter(|p| p.account == account::WALLET)
                .collect::<Vec<_>>())
        })?;
        expired.extend(postings);
    }
    Ok(expired)
}
