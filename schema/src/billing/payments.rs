//! `PaymentStore` on [`Database`]: provider customers, payment attempts
//! with their dunning state, processed webhook events and refunds, every
//! row scoped by issuer.
//!
//! An attempt changes by compare-and-set on its `version`. A webhook event
//! is inserted with `ON CONFLICT DO NOTHING` in the same transaction as the
//! attempt change it causes: of two deliveries of one event, one inserts
//! and applies, the other (on PostgreSQL waiting for the first's commit)
//! inserts nothing and changes nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use shiyun_core::billing::payments::{
    AttemptStatus, PaymentAttempt, PaymentAttemptId, PaymentPurpose, PaymentRefund, PaymentStore,
    WebhookEvent,
};
use shiyun_core::billing::{CreditNoteId, InvoiceId, IssuerId};
use shiyun_core::store::{Outcome, StoreError, StoreResult};

use super::common::{corrupt, currency, money, not_found, opt_time, page_limit, scaled, time};
use super::sql::{self, args};
use crate::db::{Database, DbConnection, Isolation, TxError};
use crate::time::micros;
use crate::user_centre::{is_unique_violation, read};

const ATTEMPT_COLUMNS: &str = "id, customer, purpose, invoice_id, attempt_key, currency, amount, \
     provider, provider_reference, status, retries, payment_method, first_failed_at, \
     next_retry_at, version, created_at, updated_at";

#[derive(QueryableByName)]
struct AttemptRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    purpose: String,
    #[diesel(sql_type = Nullable<Text>)]
    invoice_id: Option<String>,
    #[diesel(sql_type = Text)]
    attempt_key: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Text)]
    provider_reference: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    retries: i64,
    #[diesel(sql_type = Nullable<Text>)]
    payment_method: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    first_failed_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    next_retry_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
}

impl AttemptRow {
    fn decode(self) -> StoreResult<PaymentAttempt> {
        let purpose = match (self.purpose.as_str(), self.invoice_id) {
            ("invoice", Some(invoice)) => PaymentPurpose::Invoice {
                invoice: InvoiceId::parse(&invoice)
                    .map_err(|e| corrupt(format!("attempt invoice: {e}")))?,
            },
            ("top_up", None) => PaymentPurpose::TopUp,
            (other, _) => return Err(corrupt(format!("attempt purpose `{other}`"))),
        };
        Ok(PaymentAttempt {
            id: PaymentAttemptId::parse(&self.id)
                .map_err(|e| corrupt(format!("attempt id: {e}")))?,
            customer: self.customer,
            purpose,
            key: self.attempt_key,
            amount: money(self.amount, currency(&self.currency)?),
            provider: self.provider,
            provider_reference: self.provider_reference,
            status: AttemptStatus::parse(&self.status)
                .map_err(|e| corrupt(format!("attempt status: {e}")))?,
            retries: u32::try_from(self.retries)
                .map_err(|_| corrupt(format!("attempt retries {}", self.retries)))?,
            payment_method: self.payment_method,
            first_failed_at: opt_time(self.first_failed_at)?,
            next_retry_at: opt_time(self.next_retry_at)?,
            version: self.version,
            created_at: time(self.created_at)?,
            updated_at: time(self.updated_at)?,
        })
    }
}

#[derive(QueryableByName)]
struct RefundRow {
    #[diesel(sql_type = Text)]
    credit_note_id: String,
    #[diesel(sql_type = Text)]
    attempt_id: String,
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Text)]
    provider_reference: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl RefundRow {
    fn decode(self) -> StoreResult<PaymentRefund> {
        Ok(PaymentRefund {
            credit_note: CreditNoteId::parse(&self.credit_note_id)
                .map_err(|e| corrupt(format!("refund credit note: {e}")))?,
            attempt: PaymentAttemptId::parse(&self.attempt_id)
                .map_err(|e| corrupt(format!("refund attempt: {e}")))?,
            provider: self.provider,
            provider_reference: self.provider_reference,
            amount: money(self.amount, currency(&self.currency)?),
            status: self.status,
            created_at: time(self.created_at)?,
        })
    }
}

#[derive(QueryableByName)]
struct ProviderCustomerRow {
    #[diesel(sql_type = Text)]
    provider_customer: String,
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = BigInt)]
    found: i64,
}

fn require_customer(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    customer: &str,
) -> Result<(), TxError> {
    let found: Option<Found> = sql::first(
        conn,
        "SELECT CAST(1 AS BIGINT) AS found FROM billing_customers WHERE issuer_id = $1 AND external_id = $2",
        args![issuer.as_str(), customer],
    )?;
    match found {
        Some(row) if row.found == 1 => Ok(()),
        _ => Err(not_found("customer", customer).into()),
    }
}

fn load_attempt_where(
    conn: &mut DbConnection,
    condition: &str,
    args: Vec<sql::Arg>,
) -> Result<Option<PaymentAttempt>, TxError> {
    let row: Option<AttemptRow> = sql::first(
        conn,
        &format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE issuer_id = $1 AND {condition}"
        ),
        args,
    )?;
    Ok(row.map(AttemptRow::decode).transpose()?)
}

fn load_attempt(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    id: &PaymentAttemptId,
) -> Result<Option<PaymentAttempt>, TxError> {
    load_attempt_where(conn, "id = $2", args![issuer.as_str(), id.as_str()])
}

/// The compare-and-set of an attempt, inside the caller's transaction.
fn set_attempt(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    attempt: &PaymentAttempt,
) -> Result<PaymentAttempt, TxError> {
    let updated = sql::execute(
        conn,
        "UPDATE payment_attempts SET status = $3, retries = $4, payment_method = $5, \
         first_failed_at = $6, next_retry_at = $7, updated_at = $8, version = version + 1 \
         WHERE issuer_id = $1 AND id = $2 AND version = $9",
        args![
            issuer.as_str(),
            attempt.id.as_str(),
            attempt.status.as_str(),
            i64::from(attempt.retries),
            attempt.payment_method.clone(),
            attempt.first_failed_at.map(micros),
            attempt.next_retry_at.map(micros),
            micros(attempt.updated_at),
            attempt.version
        ],
    )?;
    let stored = load_attempt(conn, issuer, &attempt.id)?
        .ok_or_else(|| not_found("attempt", &attempt.id))?;
    if updated == 0 {
        return Err(StoreError::Conflict(format!(
            "payment attempt `{}` changed meanwhile: it is at version {}, not {}; \
             read it again and repeat the change",
            attempt.id, stored.version, attempt.version
        ))
        .into());
    }
    Ok(stored)
}

impl PaymentStore for Database {
    fn put_provider_customer(
        &self,
        issuer: &IssuerId,
        customer: &str,
        provider: &str,
        provider_customer: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Outcome<String>> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            require_customer(conn, issuer, customer)?;
            let inserted = sql::execute(
                conn,
                "INSERT INTO payment_provider_customers \
                 (issuer_id, customer, provider, provider_customer, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                args![
                    issuer.as_str(),
                    customer,
                    provider,
                    provider_customer,
                    micros(at)
                ],
            )?;
            let stored: Option<ProviderCustomerRow> = sql::first(
                conn,
                "SELECT provider_customer FROM payment_provider_customers \
                 WHERE issuer_id = $1 AND customer = $2 AND provider = $3",
                args![issuer.as_str(), customer, provider],
            )?;
            let stored = stored
                .ok_or_else(|| StoreError::Internal("provider customer vanished".into()))?
                .provider_customer;
            Ok(if inserted == 1 {
                Outcome::Applied(stored)
            } else {
                Outcome::Replayed(stored)
            })
        })
    }

    fn provider_customer(
        &self,
        issuer: &IssuerId,
        customer: &str,
        provider: &str,
    ) -> StoreResult<Option<String>> {
        read(self, |conn| {
            let row: Option<ProviderCustomerRow> = sql::first(
                conn,
                "SELECT provider_customer FROM payment_provider_customers \
                 WHERE issuer_id = $1 AND customer = $2 AND provider = $3",
                args![issuer.as_str(), customer, provider],
            )?;
            Ok(row.map(|r| r.provider_customer))
        })
    }

    fn create_attempt(
        &self,
        issuer: &IssuerId,
        attempt: &PaymentAttempt,
    ) -> StoreResult<Outcome<PaymentAttempt>> {
        let amount = scaled(attempt.amount.amount(), "amount")?;
        self.transaction(Isolation::ReadCommitted, |conn| {
            require_customer(conn, issuer, &attempt.customer)?;
            // The key decides a replay; on PostgreSQL a concurrent insert of
            // the same key waits for the first one's commit, then inserts nothing.
            let inserted = sql::execute(
                conn,
                "INSERT INTO payment_attempts (issuer_id, id, customer, purpose, invoice_id, \
                 attempt_key, currency, amount, provider, provider_reference, status, retries, \
                 payment_method, first_failed_at, next_retry_at, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18) ON CONFLICT (issuer_id, attempt_key) DO NOTHING",
                args![
                    issuer.as_str(),
                    attempt.id.as_str(),
                    &attempt.customer,
                    attempt.purpose.kind(),
                    attempt.purpose.invoice().map(|i| i.to_string()),
                    &attempt.key,
                    attempt.amount.currency().code(),
                    amount,
                    &attempt.provider,
                    &attempt.provider_reference,
                    attempt.status.as_str(),
                    i64::from(attempt.retries),
                    attempt.payment_method.clone(),
                    attempt.first_failed_at.map(micros),
                    attempt.next_retry_at.map(micros),
                    attempt.version,
                    micros(attempt.created_at),
                    micros(attempt.updated_at)
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    TxError::Store(StoreError::Conflict(format!(
                        "provider payment `{}` belongs to another attempt",
                        attempt.provider_reference
                    )))
                } else {
                    TxError::Diesel(e)
                }
            })?;
            let stored = load_attempt_where(
                conn,
                "attempt_key = $2",
                args![issuer.as_str(), &attempt.key],
            )?
            .ok_or_else(|| StoreError::Internal("payment attempt vanished".into()))?;
            Ok(if inserted == 1 {
                Outcome::Applied(stored)
            } else {
                Outcome::Replayed(stored)
            })
        })
    }

    fn get_attempt(
        &self,
        issuer: &IssuerId,
        id: &PaymentAttemptId,
    ) -> StoreResult<Option<PaymentAttempt>> {
        read(self, |conn| load_attempt(conn, issuer, id))
    }

    fn attempt_by_key(&self, issuer: &IssuerId, key: &str) -> StoreResult<Option<PaymentAttempt>> {
        read(self, |conn| {
            load_attempt_where(conn, "attempt_key = $2", args![issuer.as_str(), key])
        })
    }

    fn attempt_by_reference(
        &self,
        issuer: &IssuerId,
        provider: &str,
        reference: &str,
    ) -> StoreResult<Option<PaymentAttempt>> {
        read(self, |conn| {
            load_attempt_where(
                conn,
                "provider = $2 AND provider_reference = $3",
                args![issuer.as_str(), provider, reference],
            )
        })
    }

    fn attempts_of_customer(
        &self,
        issuer: &IssuerId,
        customer: &str,
    ) -> StoreResult<Vec<PaymentAttempt>> {
        read(self, |conn| {
            let rows: Vec<AttemptRow> = sql::load(
                conn,
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts \
                     WHERE issuer_id = $1 AND customer = $2 ORDER BY created_at, id"
                ),
                args![issuer.as_str(), customer],
            )?;
            Ok(rows
                .into_iter()
                .map(AttemptRow::decode)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn update_attempt(
        &self,
        issuer: &IssuerId,
        attempt: &PaymentAttempt,
    ) -> StoreResult<PaymentAttempt> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            set_attempt(conn, issuer, attempt)
        })
    }

    fn due_retries(
        &self,
        issuer: &IssuerId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<PaymentAttempt>> {
        read(self, |conn| {
            let rows: Vec<AttemptRow> = sql::load(
                conn,
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts \
                     WHERE issuer_id = $1 AND status = $2 AND next_retry_at <= $3 \
                     ORDER BY next_retry_at, id LIMIT $4"
                ),
                args![
                    issuer.as_str(),
                    AttemptStatus::RetryScheduled.as_str(),
                    micros(now),
                    page_limit(limit)
                ],
            )?;
            Ok(rows
                .into_iter()
                .map(AttemptRow::decode)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn event_processed(&self, issuer: &IssuerId, provider: &str, id: &str) -> StoreResult<bool> {
        read(self, |conn| {
            let found: Option<Found> = sql::first(
                conn,
                "SELECT CAST(1 AS BIGINT) AS found FROM payment_webhook_events \
                 WHERE issuer_id = $1 AND provider = $2 AND event_id = $3",
                args![issuer.as_str(), provider, id],
            )?;
            Ok(found.is_some_and(|row| row.found == 1))
        })
    }

    fn record_event(
        &self,
        issuer: &IssuerId,
        event: &WebhookEvent,
        change: Option<&PaymentAttempt>,
    ) -> StoreResult<Outcome<Option<PaymentAttempt>>> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            let inserted = sql::execute(
                conn,
                "INSERT INTO payment_webhook_events \
                 (issuer_id, provider, event_id, kind, object_id, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                args![
                    issuer.as_str(),
                    &event.provider,
                    &event.id,
                    &event.kind,
                    &event.object,
                    micros(event.received_at)
                ],
            )?;
            if inserted == 0 {
                return Ok(Outcome::Replayed(None));
            }
            let changed = change
                .map(|attempt| set_attempt(conn, issuer, attempt))
                .transpose()?;
            Ok(Outcome::Applied(changed))
        })
    }

    fn record_refund(
        &self,
        issuer: &IssuerId,
        refund: &PaymentRefund,
    ) -> StoreResult<Outcome<PaymentRefund>> {
        let amount = scaled(refund.amount.amount(), "amount")?;
        self.transaction(Isolation::ReadCommitted, |conn| {
            if load_attempt(conn, issuer, &refund.attempt)?.is_none() {
                return Err(not_found("payment attempt", &refund.attempt).into());
            }
            let inserted = sql::execute(
                conn,
                "INSERT INTO payment_refunds (issuer_id, credit_note_id, attempt_id, provider, \
                 provider_reference, currency, amount, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                args![
                    issuer.as_str(),
                    refund.credit_note.as_str(),
                    refund.attempt.as_str(),
                    &refund.provider,
                    &refund.provider_reference,
                    refund.amount.currency().code(),
                    amount,
                    &refund.status,
                    micros(refund.created_at)
                ],
            )?;
            let stored: Option<RefundRow> = sql::first(
                conn,
                "SELECT credit_note_id, attempt_id, provider, provider_reference, currency, \
                 amount, status, created_at FROM payment_refunds \
                 WHERE issuer_id = $1 AND credit_note_id = $2",
                args![issuer.as_str(), refund.credit_note.as_str()],
            )?;
            let stored = stored
                .ok_or_else(|| StoreError::Internal("refund vanished".into()))?
                .decode()?;
            Ok(if inserted == 1 {
                Outcome::Applied(stored)
            } else {
                Outcome::Replayed(stored)
            })
        })
    }

    fn refunds_of_attempt(
        &self,
        issuer: &IssuerId,
        attempt: &PaymentAttemptId,
    ) -> StoreResult<Vec<PaymentRefund>> {
        read(self, |conn| {
            let rows: Vec<RefundRow> = sql::load(
                conn,
                "SELECT credit_note_id, attempt_id, provider, provider_reference, currency, \
                 amount, status, created_at FROM payment_refunds \
                 WHERE issuer_id = $1 AND attempt_id = $2 ORDER BY created_at, credit_note_id",
                args![issuer.as_str(), attempt.as_str()],
            )?;
            Ok(rows
                .into_iter()
                .map(RefundRow::decode)
                .collect::<StoreResult<_>>()?)
        })
    }
}
