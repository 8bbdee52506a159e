//! What the billing store's parts share: scaled amounts, decoding stored
//! rows, errors in the store's words, and the audit chain's append.

use std::fmt::Display;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rust_decimal::Decimal;
use shiyun_core::billing::scaled::{from_scaled, to_scaled};
use shiyun_core::billing::{GENESIS_HASH, IssuerId, SubscriptionStatus, audit_hash};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{StoreError, StoreResult};

use super::sql::{self, args};
use crate::db::{DbConnection, TxError};
use crate::time::{from_micros, micros};

/// A stored value that no longer decodes: a bug or a hand-edited row.
pub(super) fn corrupt(what: impl Display) -> StoreError {
    StoreError::Internal(format!("corrupt billing row: {what}"))
}

/// `NotFound` for `entity` `id`.
pub(super) fn not_found(entity: &'static str, id: impl Display) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_string(),
    }
}

/// `value` in millionths, or `Invalid` naming `field` (never rounded).
pub(super) fn scaled(value: Decimal, field: &str) -> StoreResult<i64> {
    Ok(to_scaled(value, field)?)
}

/// A stored amount of `currency`, shown with at least its minor unit's
/// places (`12.50`, not `12.5`); exact either way.
pub(super) fn amount(scaled: i64, currency: Currency) -> Decimal {
    let mut value = from_scaled(scaled);
    if value.scale() < currency.minor_units() {
        value.rescale(currency.minor_units());
    }
    value
}

/// A stored amount as [`Money`].
pub(super) fn money(scaled: i64, currency: Currency) -> Money {
    Money::new(amount(scaled, currency), currency)
}

/// A stored currency code.
pub(super) fn currency(code: &str) -> StoreResult<Currency> {
    Currency::parse(code).map_err(|e| corrupt(format!("currency `{code}`: {e}")))
}

/// A stored time.
pub(super) fn time(micros: i64) -> StoreResult<DateTime<Utc>> {
    from_micros(micros)
}

/// An optional stored time.
pub(super) fn opt_time(micros: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    micros.map(from_micros).transpose()
}

/// A stored count or position that must not be negative.
pub(super) fn unsigned<T: TryFrom<i64>>(value: i64, what: &str) -> StoreResult<T> {
    T::try_from(value).map_err(|_| corrupt(format!("{what} {value}")))
}

/// The stored text of a subscription state.
pub(super) fn subscription_status(status: SubscriptionStatus) -> &'static str {
    match status {
        SubscriptionStatus::Active => "active",
        SubscriptionStatus::Cancelled => "cancelled",
    }
}

/// Parses a stored subscription state.
pub(super) fn parse_subscription_status(text: &str) -> StoreResult<SubscriptionStatus> {
    match text {
        "active" => Ok(SubscriptionStatus::Active),
        "cancelled" => Ok(SubscriptionStatus::Cancelled),
        other => Err(corrupt(format!("subscription status `{other}`"))),
    }
}

/// A local date as stored (`YYYY-MM-DD`).
pub(super) fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Parses a stored local date.
pub(super) fn parse_date(text: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| corrupt(format!("date `{text}`: {e}")))
}

/// JSON text of a value the store writes (ids, numbers, strings: cannot fail
/// in practice, but is reported rather than unwrapped).
pub(super) fn json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Internal(format!("cannot serialise billing JSON: {e}")))
}

/// A page size within the contract's 1–10,000.
pub(super) fn page_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, 10_000))
}

#[derive(QueryableByName)]
pub(super) struct Value {
    #[diesel(sql_type = BigInt)]
    pub(super) value: i64,
}

#[derive(QueryableByName)]
struct Hash {
    #[diesel(sql_type = Text)]
    hash: String,
}

/// Adds one to the issuer's counter `name` and returns the new value. The
/// `UPDATE` locks the counter's row until the transaction ends, which is
/// what serialises ingest batches, invoice numbers and audit appends per
/// issuer; rolled back with the transaction, the value is never lost.
pub(super) fn next_counter(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    name: &str,
) -> Result<i64, TxError> {
    let row: Option<Value> = sql::first(
        conn,
        "UPDATE billing_counters SET value = value + 1 \
         WHERE issuer_id = $1 AND name = $2 RETURNING value",
        args![issuer.as_str(), name],
    )?;
    match row {
        Some(row) => Ok(row.value),
        None => Err(not_found("issuer", issuer).into()),
    }
}

/// Appends one entry to the issuer's audit chain, inside the caller's
/// transaction: the next `seq` (the counter's row lock orders appends),
/// the previous entry's hash, and this entry's.
pub(super) fn append_audit(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    at: DateTime<Utc>,
    action: &str,
    subject: &str,
    payload: &serde_json::Value,
) -> Result<(), TxError> {
    // serde_json's maps are ordered by key: the text is canonical.
    let payload = json(payload)?;
    let seq = next_counter(conn, issuer, "audit_seq")?;
    let prev_hash = if seq == 1 {
        GENESIS_HASH.to_owned()
    } else {
        let prev: Option<Hash> = sql::first(
            conn,
            "SELECT hash FROM billing_audit WHERE issuer_id = $1 AND seq = $2",
            args![issuer.as_str(), seq - 1],
        )?;
        prev.ok_or_else(|| corrupt(format!("audit entry {} of {issuer} is missing", seq - 1)))?
            .hash
    };
    let hash = audit_hash(&prev_hash, seq, at, action, subject, &payload);
    sql::execute(
        conn,
        "INSERT INTO billing_audit (issuer_id, seq, at, action, subject, payload, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            issuer.as_str(),
            seq,
            micros(at),
            action,
            subject,
            payload,
            prev_hash,
            hash
        ],
    )?;
    Ok(())
}
