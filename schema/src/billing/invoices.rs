//! Invoices: drafts that move their subscription on, finalisation (balances
//! drawn down, a gapless number), payments, voids and credit notes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use rust_decimal::Decimal;
use serde_json::json;
use shiyun_core::ValidationError;
use shiyun_core::billing::scaled::{from_scaled, to_scaled};
use shiyun_core::billing::{
    CreditNote, CreditNoteId, FinalContent, Invoice, InvoiceFilter, InvoiceId, InvoiceLine,
    InvoiceStatus, InvoiceTotals, IssuerId, LineRef, NewInvoice, PageAfter, Payment,
    SubscriptionId, SubscriptionStatus, draw_down,
};
use shiyun_core::money::Currency;
use shiyun_core::store::{Outcome, StoreError, StoreResult};

use super::catalog::{load_subscription, require_issuer};
use super::common::{
    Value, amount, append_audit, corrupt, currency, json as to_json, money, not_found, opt_time,
    page_limit, scaled, subscription_status, time, unsigned,
};
use super::sql::{self, Arg, args};
use crate::db::{Database, DbConnection, Isolation, TxError};
use crate::time::micros;
use crate::user_centre::read;

#[derive(QueryableByName)]
struct InvoiceRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Nullable<Text>)]
    subscription_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    number: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    period_start: i64,
    #[diesel(sql_type = BigInt)]
    period_end: i64,
    #[diesel(sql_type = BigInt)]
    usage_batch: i64,
    #[diesel(sql_type = BigInt)]
    subtotal: i64,
    #[diesel(sql_type = BigInt)]
    discount: i64,
    #[diesel(sql_type = BigInt)]
    tax: i64,
    #[diesel(sql_type = BigInt)]
    credit_notes: i64,
    #[diesel(sql_type = BigInt)]
    prepaid: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    finalized_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    paid_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    voided_at: Option<i64>,
}

const INVOICE_COLUMNS: &str = "id, customer, subscription_id, number, status, currency, \
     period_start, period_end, usage_batch, subtotal, discount, tax, credit_notes, prepaid, \
     total, created_at, finalized_at, paid_at, voided_at";

impl InvoiceRow {
    fn decode(self, issuer: &IssuerId, lines: Vec<InvoiceLine>) -> StoreResult<Invoice> {
        let currency = currency(&self.currency)?;
        let m = |scaled| money(scaled, currency);
        Ok(Invoice {
            id: InvoiceId::parse(&self.id).map_err(|e| corrupt(format!("invoice id: {e}")))?,
            issuer: issuer.clone(),
            customer: self.customer,
            subscription: self
                .subscription_id
                .as_deref()
                .map(SubscriptionId::parse)
                .transpose()
                .map_err(|e| corrupt(format!("subscription of {}: {e}", self.id)))?,
            number: self.number,
            status: InvoiceStatus::parse(&self.status)
                .map_err(|e| corrupt(format!("invoice {}: {e}", self.id)))?,
            currency,
            period_start: time(self.period_start)?,
            period_end: time(self.period_end)?,
            usage_batch: self.usage_batch,
            lines,
            totals: InvoiceTotals {
                subtotal: m(self.subtotal),
                discount: m(self.discount),
                tax: m(self.tax),
                credit_notes: m(self.credit_notes),
                prepaid: m(self.prepaid),
                total: m(self.total),
            },
            created_at: time(self.created_at)?,
            finalized_at: opt_time(self.finalized_at)?,
            paid_at: opt_time(self.paid_at)?,
            voided_at: opt_time(self.voided_at)?,
        })
    }
}

#[derive(QueryableByName)]
struct LineRow {
    #[diesel(sql_type = Text)]
    invoice_id: String,
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    description: String,
    #[diesel(sql_type = Nullable<Text>)]
    meter: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    plan: Option<String>,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = BigInt)]
    period_start: i64,
    #[diesel(sql_type = BigInt)]
    period_end: i64,
    #[diesel(sql_type = Nullable<Text>)]
    adjusts_invoice: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    adjusts_position: Option<i64>,
    #[diesel(sql_type = Text)]
    detail: String,
}

impl LineRow {
    fn decode(self, currency: Currency) -> StoreResult<InvoiceLine> {
        let what =
            |field: &str| format!("{field} of line {} of {}", self.position, self.invoice_id);
        let adjusts = match (&self.adjusts_invoice, self.adjusts_position) {
            (Some(invoice), Some(position)) => Some(LineRef {
                invoice: InvoiceId::parse(invoice)
                    .map_err(|e| corrupt(format!("{}: {e}", what("adjusted invoice"))))?,
                position: unsigned(position, &what("adjusted position"))?,
            }),
            (None, None) => None,
            _ => return Err(corrupt(what("adjustment reference"))),
        };
        Ok(InvoiceLine {
            position: unsigned(self.position, "line position")?,
            detail: serde_json::from_str(&self.detail)
                .map_err(|e| corrupt(format!("{}: {e}", what("detail"))))?,
            kind: self.kind,
            description: self.description,
            meter: self.meter,
            plan: self.plan,
            quantity: from_scaled(self.quantity),
            amount: amount(self.amount, currency),
            period_start: time(self.period_start)?,
            period_end: time(self.period_end)?,
            adjusts,
        })
    }
}

/// The invoices matching `filter` (conditions after `issuer_id = $1`, with
/// `args` from `$1` on), each with its lines.
fn load_invoices(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    filter: &str,
    args: Vec<Arg>,
) -> Result<Vec<Invoice>, TxError> {
    let rows: Vec<InvoiceRow> = sql::load(
        conn,
        &format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE issuer_id = $1 {filter}"),
        args,
    )?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut lines: HashMap<String, Vec<LineRow>> = HashMap::new();
    for line in sql::select_in::<LineRow>(
        conn,
        issuer.as_str(),
        "SELECT invoice_id, position, kind, description, meter, plan, quantity, amount, \
         period_start, period_end, adjusts_invoice, adjusts_position, detail \
         FROM invoice_lines WHERE issuer_id = $1 AND",
        "invoice_id",
        &ids,
    )? {
        lines.entry(line.invoice_id.clone()).or_default().push(line);
    }
    rows.into_iter()
        .map(|row| {
            let currency = currency(&row.currency)?;
            let mut own = lines.remove(&row.id).unwrap_or_default();
            own.sort_by_key(|l| l.position);
            let own = own
                .into_iter()
                .map(|l| l.decode(currency))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(row.decode(issuer, own)?)
        })
        .collect()
}

/// One invoice; on PostgreSQL with `lock`, its row is locked until the
/// transaction ends.
fn load_invoice(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    id: &InvoiceId,
    lock: bool,
) -> Result<Option<Invoice>, TxError> {
    let lock = if lock { sql::for_update(conn) } else { "" };
    Ok(load_invoices(
        conn,
        issuer,
        &format!("AND id = $2{lock}"),
        args![issuer.as_str(), id.as_str()],
    )?
    .pop())
}

fn require_invoice(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    id: &InvoiceId,
    lock: bool,
) -> Result<Invoice, TxError> {
    load_invoice(conn, issuer, id, lock)?.ok_or_else(|| not_found("invoice", id).into())
}

/// A line converted for its row.
struct NewLine {
    position: i64,
    kind: String,
    description: String,
    meter: Option<String>,
    plan: Option<String>,
    quantity: i64,
    amount: i64,
    period_start: i64,
    period_end: i64,
    adjusts_invoice: Option<String>,
    adjusts_position: Option<i64>,
    detail: String,
}

fn prepare_lines(lines: &[InvoiceLine]) -> StoreResult<Vec<NewLine>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let field = |e: ValidationError| StoreError::from(e.within(&format!("lines[{i}]")));
            Ok(NewLine {
                position: i64::from(line.position),
                kind: line.kind.clone(),
                description: line.description.clone(),
                meter: line.meter.clone(),
                plan: line.plan.clone(),
                quantity: to_scaled(line.quantity, "quantity").map_err(field)?,
                amount: to_scaled(line.amount, "amount").map_err(field)?,
                period_start: micros(line.period_start),
                period_end: micros(line.period_end),
                adjusts_invoice: line.adjusts.as_ref().map(|a| a.invoice.as_str().to_owned()),
                adjusts_position: line.adjusts.as_ref().map(|a| i64::from(a.position)),
                detail: to_json(&line.detail)?,
            })
        })
        .collect()
}

fn insert_lines(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    invoice: &InvoiceId,
    lines: &[NewLine],
) -> QueryResult<()> {
    for line in lines {
        sql::execute(
            conn,
            "INSERT INTO invoice_lines (issuer_id, invoice_id, position, kind, description, \
             meter, plan, quantity, amount, period_start, period_end, adjusts_invoice, \
             adjusts_position, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            args![
                issuer.as_str(),
                invoice.as_str(),
                line.position,
                &line.kind,
                &line.description,
                line.meter.clone(),
                line.plan.clone(),
                line.quantity,
                line.amount,
                line.period_start,
                line.period_end,
                line.adjusts_invoice.clone(),
                line.adjusts_position,
                &line.detail
            ],
        )?;
    }
    Ok(())
}

/// Subtotal, discount and tax in millionths, and what they leave due.
#[derive(Clone, Copy)]
struct Amounts {
    subtotal: i64,
    discount: i64,
    tax: i64,
    due: i64,
}

fn amounts(subtotal: Decimal, discount: Decimal, tax: Decimal) -> StoreResult<Amounts> {
    let subtotal = scaled(subtotal, "subtotal")?;
    let discount = scaled(discount, "discount")?;
    let tax = scaled(tax, "tax")?;
    let due = subtotal
        .checked_sub(discount)
        .and_then(|v| v.checked_add(tax))
        .ok_or_else(|| ValidationError::new("subtotal", "the invoice total is out of range"))?;
    Ok(Amounts {
        subtotal,
        discount,
        tax,
        due,
    })
}

/// A decimal's text for an audit payload.
fn text(value: Decimal) -> String {
    value.to_string()
}

pub(super) fn create_draft(
    db: &Database,
    issuer: &IssuerId,
    draft: &NewInvoice,
) -> StoreResult<Outcome<Invoice>> {
    let prepared = prepare_draft(draft)?;
    db.transaction(Isolation::ReadCommitted, |conn| {
        match draft_in(conn, issuer, draft, &prepared)? {
            Drafted::Existing(invoice) => Ok(Outcome::Replayed(*invoice)),
            Drafted::Stored => Ok(Outcome::Applied(require_invoice(
                conn, issuer, &draft.id, false,
            )?)),
        }
    })
}

pub(super) fn create_drafts(
    db: &Database,
    issuer: &IssuerId,
    drafts: &[NewInvoice],
) -> StoreResult<Vec<Outcome<InvoiceId>>> {
    let prepared = drafts
        .iter()
        .map(prepare_draft)
        .collect::<StoreResult<Vec<_>>>()?;
    db.transaction(Isolation::ReadCommitted, |conn| {
        drafts
            .iter()
            .zip(&prepared)
            .map(|(draft, prepared)| {
                Ok(match draft_in(conn, issuer, draft, prepared)? {
                    Drafted::Existing(invoice) => Outcome::Replayed(invoice.id),
                    Drafted::Stored => Outcome::Applied(draft.id.clone()),
                })
            })
            .collect()
    })
}

/// A draft's lines and amounts, checked before its transaction.
struct PreparedDraft {
    lines: Vec<NewLine>,
    sums: Amounts,
}

fn prepare_draft(draft: &NewInvoice) -> StoreResult<PreparedDraft> {
    Ok(PreparedDraft {
        lines: prepare_lines(&draft.lines)?,
        sums: amounts(draft.subtotal, draft.discount, draft.tax)?,
    })
}

/// What [`draft_in`] did.
enum Drafted {
    /// The period's invoice was there already (a rerun).
    Existing(Box<Invoice>),
    /// Stored now.
    Stored,
}

/// One draft inside the caller's transaction.
fn draft_in(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    draft: &NewInvoice,
    prepared: &PreparedDraft,
) -> Result<Drafted, TxError> {
    let (lines, sums) = (&prepared.lines, prepared.sums);
    let period_start = micros(draft.period_start);
    let period_end = micros(draft.period_end);
    let existing = |conn: &mut DbConnection| {
        load_invoices(
            conn,
            issuer,
            "AND subscription_id = $2 AND period_start = $3 AND period_end = $4",
            args![
                issuer.as_str(),
                draft.subscription.as_str(),
                period_start,
                period_end
            ],
        )
        .map(|mut found| found.pop())
    };
    {
        // A rerun of an interrupted bill run finds its draft before anything
        // else, whatever happened to the subscription since.
        if let Some(invoice) = existing(conn)? {
            return Ok(Drafted::Existing(Box::new(invoice)));
        }
        let subscription = load_subscription(conn, issuer, &draft.subscription, true)?
            .ok_or_else(|| not_found("subscription", &draft.subscription))?;
        if subscription.version != draft.subscription_version
            || subscription.next_period_start != draft.period_start
        {
            // A concurrent run of the same draft may have committed while
            // this one waited for the lock: then it is a replay.
            if let Some(invoice) = existing(conn)? {
                return Ok(Drafted::Existing(Box::new(invoice)));
            }
            return Err(StoreError::Conflict(format!(
                "subscription `{}` moved on: it is at version {} with its next period from {}, \
                 not version {} from {}",
                draft.subscription,
                subscription.version,
                subscription.next_period_start,
                draft.subscription_version,
                draft.period_start
            ))
            .into());
        }
        if subscription.customer != draft.customer {
            return Err(StoreError::Conflict(format!(
                "subscription `{}` belongs to customer `{}`, not `{}`",
                draft.subscription, subscription.customer, draft.customer
            ))
            .into());
        }
        let (next_start, next_end, status) = match draft.next_period {
            Some((start, end)) => (start, end, subscription.status),
            None => (
                subscription.next_period_start,
                subscription.next_period_end,
                SubscriptionStatus::Cancelled,
            ),
        };
        sql::execute(
            conn,
            "UPDATE billing_subscriptions SET next_period_start = $3, next_period_end = $4, \
             status = $5, version = version + 1 WHERE issuer_id = $1 AND id = $2",
            args![
                issuer.as_str(),
                draft.subscription.as_str(),
                micros(next_start),
                micros(next_end),
                subscription_status(status)
            ],
        )?;
        sql::execute(
            conn,
            "INSERT INTO invoices (issuer_id, id, customer, subscription_id, number, status, \
             currency, period_start, period_end, usage_batch, subtotal, discount, tax, \
             credit_notes, prepaid, total, created_at) \
             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10, $11, $12, 0, 0, $13, $14)",
            args![
                issuer.as_str(),
                draft.id.as_str(),
                &draft.customer,
                draft.subscription.as_str(),
                InvoiceStatus::Draft.as_str(),
                draft.currency.code(),
                period_start,
                period_end,
                draft.usage_batch,
                sums.subtotal,
                sums.discount,
                sums.tax,
                sums.due,
                micros(draft.at)
            ],
        )?;
        insert_lines(conn, issuer, &draft.id, lines)?;
        append_audit(
            conn,
            issuer,
            draft.at,
            "invoice.drafted",
            draft.id.as_str(),
            &json!({
                "id": draft.id.as_str(),
                "customer": draft.customer,
                "subscription": draft.subscription.as_str(),
                "currency": draft.currency.code(),
                "period_start": period_start,
                "period_end": period_end,
                "subtotal": text(from_scaled(sums.subtotal)),
            }),
        )?;
        Ok(Drafted::Stored)
    }
}

pub(super) fn drafts_due(
    db: &Database,
    issuer: &IssuerId,
    ended_by: DateTime<Utc>,
    page: &PageAfter,
) -> StoreResult<Vec<Invoice>> {
    read(db, |conn| {
        load_invoices(
            conn,
            issuer,
            "AND status = $2 AND period_end <= $3 AND id > $4 ORDER BY id LIMIT $5",
            args![
                issuer.as_str(),
                InvoiceStatus::Draft.as_str(),
                micros(ended_by),
                page.after.clone().unwrap_or_default(),
                page_limit(page.limit)
            ],
        )
    })
}

#[derive(QueryableByName)]
struct OpenCredit {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    remaining: i64,
}

pub(super) fn finalize_invoice(
    db: &Database,
    issuer: &IssuerId,
    id: &InvoiceId,
    content: &FinalContent,
    at: DateTime<Utc>,
) -> StoreResult<Outcome<Invoice>> {
    let lines = prepare_lines(&content.lines)?;
    let sums = amounts(content.subtotal, content.discount, content.tax)?;
    db.transaction(Isolation::ReadCommitted, |conn| {
        match finalize_in(conn, issuer, id, content, &lines, sums, at)? {
            Finalized::Already(invoice) => Ok(Outcome::Replayed(*invoice)),
            Finalized::Now => Ok(Outcome::Applied(require_invoice(conn, issuer, id, false)?)),
        }
    })
}

pub(super) fn finalize_invoices(
    db: &Database,
    issuer: &IssuerId,
    invoices: &[(InvoiceId, FinalContent)],
    at: DateTime<Utc>,
) -> StoreResult<Vec<Outcome<InvoiceId>>> {
    let prepared = invoices
        .iter()
        .map(|(_, c)| {
            Ok((
                prepare_lines(&c.lines)?,
                amounts(c.subtotal, c.discount, c.tax)?,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    db.transaction(Isolation::ReadCommitted, |conn| {
        invoices
            .iter()
            .zip(&prepared)
            .map(|((id, content), (lines, sums))| {
                Ok(
                    match finalize_in(conn, issuer, id, content, lines, *sums, at)? {
                        Finalized::Already(invoice) => Outcome::Replayed(invoice.id),
                        Finalized::Now => Outcome::Applied(id.clone()),
                    },
                )
            })
            .collect()
    })
}

/// What [`finalize_in`] did.
enum Finalized {
    /// It was final already.
    Already(Box<Invoice>),
    /// Finalised now.
    Now,
}

/// One finalisation inside the caller's transaction.
fn finalize_in(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    id: &InvoiceId,
    content: &FinalContent,
    lines: &[NewLine],
    sums: Amounts,
    at: DateTime<Utc>,
) -> Result<Finalized, TxError> {
    {
        let invoice = require_invoice(conn, issuer, id, true)?;
        match invoice.status {
            InvoiceStatus::Draft => {}
            InvoiceStatus::Finalized | InvoiceStatus::Paid => {
                return Ok(Finalized::Already(Box::new(invoice)));
            }
            InvoiceStatus::Voided => {
                return Err(StoreError::Conflict(format!(
                    "invoice `{id}` is voided and cannot be finalised"
                ))
                .into());
            }
        }
        let code = invoice.currency.code().to_owned();
        // A bill run finalises what it just drafted: the lines are there.
        if invoice.lines != content.lines {
            sql::execute(
                conn,
                "DELETE FROM invoice_lines WHERE issuer_id = $1 AND invoice_id = $2",
                args![issuer.as_str(), id.as_str()],
            )?;
            insert_lines(conn, issuer, id, lines)?;
        }

        // The customer's open balances in the invoice's currency, oldest
        // credit note first, prepaid credit last; locked until commit.
        let lock = sql::for_update(conn);
        let notes: Vec<OpenCredit> = sql::load(
            conn,
            &format!(
                "SELECT id, remaining FROM credit_notes WHERE issuer_id = $1 AND customer = $2 \
                 AND currency = $3 AND remaining > 0 ORDER BY created_at, id{lock}"
            ),
            args![issuer.as_str(), &invoice.customer, &code],
        )?;
        let prepaid: Option<Value> = sql::first(
            conn,
            &format!(
                "SELECT balance AS value FROM billing_prepaid WHERE issuer_id = $1 \
                 AND customer = $2 AND currency = $3{lock}"
            ),
            args![issuer.as_str(), &invoice.customer, &code],
        )?;
        let mut balances: Vec<Decimal> = notes.iter().map(|n| from_scaled(n.remaining)).collect();
        // Prepaid credit is drawn in whole minor units, so a total stays in
        // them; a wallet's sub-cent remainder waits for the next invoice.
        balances.push(prepaid.as_ref().map_or(Decimal::ZERO, |p| {
            from_scaled(p.value).round_dp_with_strategy(
                invoice.currency.minor_units(),
                rust_decimal::RoundingStrategy::ToZero,
            )
        }));
        let takes = draw_down(from_scaled(sums.due), &balances)
            .into_iter()
            .map(|take| scaled(take, "balance"))
            .collect::<StoreResult<Vec<i64>>>()?;
        let (note_takes, prepaid_take) = takes.split_at(notes.len());
        let prepaid_take = prepaid_take.first().copied().unwrap_or(0);
        let mut from_notes = 0_i64;
        for (note, &take) in notes.iter().zip(note_takes) {
            if take > 0 {
                sql::execute(
                    conn,
                    "UPDATE credit_notes SET remaining = remaining - $3 \
                     WHERE issuer_id = $1 AND id = $2",
                    args![issuer.as_str(), &note.id, take],
                )?;
                from_notes += take;
            }
        }
        if prepaid_take > 0 {
            sql::execute(
                conn,
                "UPDATE billing_prepaid SET balance = balance - $4 \
                 WHERE issuer_id = $1 AND customer = $2 AND currency = $3",
                args![issuer.as_str(), &invoice.customer, &code, prepaid_take],
            )?;
        }
        let total = sums.due - from_notes - prepaid_take;
        let draws = notes
            .iter()
            .zip(note_takes)
            .map(|(note, take)| (note.id.as_str(), *take))
            .chain(std::iter::once((PREPAID_SOURCE, prepaid_take)));
        for (source, take) in draws.filter(|(_, take)| *take > 0) {
            sql::execute(
                conn,
                "INSERT INTO invoice_draws (issuer_id, invoice_id, source, amount) \
                 VALUES ($1, $2, $3, $4)",
                args![issuer.as_str(), id.as_str(), source, take],
            )?;
        }

        // Gapless: the counter moves in this transaction or not at all.
        let prefix = require_issuer(conn, issuer)?.invoice_prefix;
        let number = format!(
            "{prefix}-{:06}",
            super::common::next_counter(conn, issuer, "invoice_number")?
        );
        sql::execute(
            conn,
            "UPDATE invoices SET status = $3, number = $4, usage_batch = $5, subtotal = $6, \
             discount = $7, tax = $8, credit_notes = $9, prepaid = $10, total = $11, \
             finalized_at = $12 WHERE issuer_id = $1 AND id = $2",
            args![
                issuer.as_str(),
                id.as_str(),
                InvoiceStatus::Finalized.as_str(),
                &number,
                content.usage_batch,
                sums.subtotal,
                sums.discount,
                sums.tax,
                from_notes,
                prepaid_take,
                total,
                micros(at)
            ],
        )?;
        let applied: Vec<serde_json::Value> = notes
            .iter()
            .zip(note_takes)
            .filter(|(_, take)| **take > 0)
            .map(|(note, take)| json!({"credit_note": note.id, "amount": text(from_scaled(*take))}))
            .collect();
        append_audit(
            conn,
            issuer,
            at,
            "invoice.finalized",
            id.as_str(),
            &json!({
                "id": id.as_str(),
                "number": number,
                "customer": invoice.customer,
                "currency": code,
                "usage_batch": content.usage_batch,
                "subtotal": text(from_scaled(sums.subtotal)),
                "discount": text(from_scaled(sums.discount)),
                "tax": text(from_scaled(sums.tax)),
                "credit_notes": applied,
                "prepaid": text(from_scaled(prepaid_take)),
                "total": text(from_scaled(total)),
            }),
        )?;
        Ok(Finalized::Now)
    }
}

pub(super) fn get_invoice(
    db: &Database,
    issuer: &IssuerId,
    id: &InvoiceId,
) -> StoreResult<Option<Invoice>> {
    read(db, |conn| load_invoice(conn, issuer, id, false))
}

pub(super) fn list_invoices(
    db: &Database,
    issuer: &IssuerId,
    filter: &InvoiceFilter,
    page: &PageAfter,
) -> StoreResult<Vec<Invoice>> {
    let mut conditions = String::from("AND id > $2");
    let mut args = args![issuer.as_str(), page.after.clone().unwrap_or_default()];
    let mut add = |condition: &str, arg: Arg| {
        args.push(arg);
        conditions.push_str(&format!(" AND {condition} ${}", args.len()));
    };
    if let Some(customer) = &filter.customer {
        add("customer =", Arg::from(customer));
    }
    if let Some(status) = filter.status {
        add("status =", Arg::from(status.as_str()));
    }
    if let Some(from) = filter.from {
        add("period_end >=", Arg::Int(micros(from)));
    }
    if let Some(to) = filter.to {
        add("period_end <", Arg::Int(micros(to)));
    }
    args.push(Arg::Int(page_limit(page.limit)));
    conditions.push_str(&format!(" ORDER BY id LIMIT ${}", args.len()));
    read(db, |conn| {
        load_invoices(conn, issuer, &conditions, args.clone())
    })
}

pub(super) fn issued_invoices_of(
    db: &Database,
    issuer: &IssuerId,
    subscription: &SubscriptionId,
    since: DateTime<Utc>,
) -> StoreResult<Vec<Invoice>> {
    read(db, |conn| {
        load_invoices(
            conn,
            issuer,
            "AND subscription_id = $2 AND status IN ($3, $4) AND period_end > $5 \
             ORDER BY period_start, period_end, id",
            args![
                issuer.as_str(),
                subscription.as_str(),
                InvoiceStatus::Finalized.as_str(),
                InvoiceStatus::Paid.as_str(),
                micros(since)
            ],
        )
    })
}

#[derive(QueryableByName)]
struct IssuedBatch {
    #[diesel(sql_type = Nullable<Text>)]
    subscription_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    usage_batch: i64,
}

pub(super) fn issued_watermarks(
    db: &Database,
    issuer: &IssuerId,
    subscriptions: &[SubscriptionId],
) -> StoreResult<HashMap<SubscriptionId, i64>> {
    let ids: Vec<String> = subscriptions.iter().map(ToString::to_string).collect();
    let rows: Vec<IssuedBatch> = read(db, |conn| {
        Ok(sql::select_in(
            conn,
            issuer.as_str(),
            "SELECT subscription_id, usage_batch FROM invoices WHERE issuer_id = $1 \
             AND status IN ('finalized', 'paid') AND",
            "subscription_id",
            &ids,
        )?)
    })?;
    let mut marks: HashMap<SubscriptionId, i64> = HashMap::new();
    for row in rows {
        let Some(id) = row.subscription_id else {
            continue;
        };
        let id =
            SubscriptionId::parse(&id).map_err(|e| corrupt(format!("subscription id: {e}")))?;
        let mark = marks.entry(id).or_insert(row.usage_batch);
        *mark = (*mark).max(row.usage_batch);
    }
    Ok(marks)
}

#[derive(QueryableByName)]
struct PaidInvoice {
    #[diesel(sql_type = Text)]
    invoice_id: String,
}

pub(super) fn record_payment(
    db: &Database,
    issuer: &IssuerId,
    id: &InvoiceId,
    payment: &Payment,
) -> StoreResult<Outcome<Invoice>> {
    let paid = scaled(payment.amount.amount(), "amount")?;
    let code = payment.amount.currency().code().to_owned();
    db.transaction(Isolation::ReadCommitted, |conn| {
        let invoice = require_invoice(conn, issuer, id, true)?;
        let earlier: Option<PaidInvoice> = sql::first(
            conn,
            "SELECT invoice_id FROM payments WHERE issuer_id = $1 AND reference = $2",
            args![issuer.as_str(), &payment.reference],
        )?;
        if let Some(earlier) = earlier {
            if earlier.invoice_id == id.as_str() {
                return Ok(Outcome::Replayed(invoice));
            }
            return Err(StoreError::Conflict(format!(
                "payment reference `{}` was recorded for another invoice",
                payment.reference
            ))
            .into());
        }
        if invoice.status != InvoiceStatus::Finalized {
            return Err(StoreError::Conflict(format!(
                "invoice `{id}` is {}; only a finalised invoice can be paid",
                invoice.status
            ))
            .into());
        }
        let total = invoice.totals.total;
        if payment.amount.currency() != invoice.currency || scaled(total.amount(), "total")? != paid
        {
            return Err(StoreError::Conflict(format!(
                "a payment of {} {} does not settle invoice `{id}`, whose total is {} {}",
                payment.amount.amount(),
                code,
                total.amount(),
                invoice.currency
            ))
            .into());
        }
        sql::execute(
            conn,
            "INSERT INTO payments (issuer_id, reference, invoice_id, currency, amount, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                issuer.as_str(),
                &payment.reference,
                id.as_str(),
                &code,
                paid,
                micros(payment.at)
            ],
        )?;
        sql::execute(
            conn,
            "UPDATE invoices SET status = $3, paid_at = $4 WHERE issuer_id = $1 AND id = $2",
            args![
                issuer.as_str(),
                id.as_str(),
                InvoiceStatus::Paid.as_str(),
                micros(payment.at)
            ],
        )?;
        append_audit(
            conn,
            issuer,
            payment.at,
            "invoice.paid",
            id.as_str(),
            &json!({
                "id": id.as_str(),
                "reference": payment.reference,
                "currency": code,
                "amount": text(from_scaled(paid)),
            }),
        )?;
        Ok(Outcome::Applied(require_invoice(conn, issuer, id, false)?))
    })
}

pub(super) fn void_invoice(
    db: &Database,
    issuer: &IssuerId,
    id: &InvoiceId,
    at: DateTime<Utc>,
) -> StoreResult<Invoice> {
    db.transaction(Isolation::ReadCommitted, |conn| {
        let invoice = require_invoice(conn, issuer, id, true)?;
        match invoice.status {
            InvoiceStatus::Finalized => {}
            // Voiding again changes nothing.
            InvoiceStatus::Voided => return Ok(invoice),
            status => {
                return Err(StoreError::Conflict(format!(
                    "invoice `{id}` is {status}; only a finalised, unpaid invoice can be voided"
                ))
                .into());
            }
        }
        // What the finalisation drew from credit notes and prepaid credit
        // goes back to them.
        let draws: Vec<Draw> = sql::load(
            conn,
            "SELECT source, amount FROM invoice_draws WHERE issuer_id = $1 AND invoice_id = $2 \
             ORDER BY source",
            args![issuer.as_str(), id.as_str()],
        )?;
        for draw in &draws {
            if draw.source == PREPAID_SOURCE {
                sql::execute(
                    conn,
                    "UPDATE billing_prepaid SET balance = balance + $4 \
                     WHERE issuer_id = $1 AND customer = $2 AND currency = $3",
                    args![
                        issuer.as_str(),
                        &invoice.customer,
                        invoice.currency.code(),
                        draw.amount
                    ],
                )?;
            } else {
                sql::execute(
                    conn,
                    "UPDATE credit_notes SET remaining = remaining + $3 \
                     WHERE issuer_id = $1 AND id = $2",
                    args![issuer.as_str(), &draw.source, draw.amount],
                )?;
            }
        }
        sql::execute(
            conn,
            "UPDATE invoices SET status = $3, voided_at = $4 WHERE issuer_id = $1 AND id = $2",
            args![
                issuer.as_str(),
                id.as_str(),
                InvoiceStatus::Voided.as_str(),
                micros(at)
            ],
        )?;
        append_audit(
            conn,
            issuer,
            at,
            "invoice.voided",
            id.as_str(),
            &json!({
                "id": id.as_str(),
                "number": invoice.number,
                "returned": draws
                    .iter()
                    .map(|d| json!({"to": d.source, "amount": text(from_scaled(d.amount))}))
                    .collect::<Vec<_>>(),
            }),
        )?;
        require_invoice(conn, issuer, id, false)
    })
}

/// The `invoice_draws` source of prepaid credit (credit notes go by id).
const PREPAID_SOURCE: &str = "prepaid";

#[derive(QueryableByName)]
struct Draw {
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
}

#[derive(QueryableByName)]
struct CreditNoteRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    invoice_id: String,
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = BigInt)]
    remaining: i64,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl CreditNoteRow {
    fn decode(self) -> StoreResult<CreditNote> {
        let currency = currency(&self.currency)?;
        Ok(CreditNote {
            id: CreditNoteId::parse(&self.id)
                .map_err(|e| corrupt(format!("credit note id: {e}")))?,
            invoice: InvoiceId::parse(&self.invoice_id)
                .map_err(|e| corrupt(format!("invoice of {}: {e}", self.id)))?,
            customer: self.customer,
            amount: money(self.amount, currency),
            remaining: money(self.remaining, currency),
            reason: self.reason,
            created_at: time(self.created_at)?,
        })
    }
}

const CREDIT_NOTE_COLUMNS: &str =
    "id, invoice_id, customer, currency, amount, remaining, reason, created_at";

pub(super) fn create_credit_note(
    db: &Database,
    issuer: &IssuerId,
    id: &CreditNoteId,
    invoice_id: &InvoiceId,
    credited: Decimal,
    reason: &str,
    at: DateTime<Utc>,
) -> StoreResult<CreditNote> {
    let credited = scaled(credited, "amount")?;
    if credited <= 0 {
        return Err(ValidationError::new("amount", "must be positive").into());
    }
    db.transaction(Isolation::ReadCommitted, |conn| {
        // The invoice's lock serialises its credit notes, so the cap holds.
        let invoice = require_invoice(conn, issuer, invoice_id, true)?;
        let earlier: Option<CreditNoteRow> = sql::first(
            conn,
            &format!(
                "SELECT {CREDIT_NOTE_COLUMNS} FROM credit_notes WHERE issuer_id = $1 AND id = $2"
            ),
            args![issuer.as_str(), id.as_str()],
        )?;
        if let Some(earlier) = earlier {
            if earlier.invoice_id == invoice_id.as_str()
                && earlier.amount == credited
                && earlier.reason == reason
            {
                return Ok(earlier.decode()?);
            }
            return Err(StoreError::Conflict(format!(
                "credit note `{id}` exists with other content"
            ))
            .into());
        }
        if !matches!(
            invoice.status,
            InvoiceStatus::Finalized | InvoiceStatus::Paid
        ) {
            return Err(StoreError::Conflict(format!(
                "invoice `{invoice_id}` is {}; credit notes correct finalised or paid invoices",
                invoice.status
            ))
            .into());
        }
        let issued: Option<Value> = sql::first(
            conn,
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS value FROM credit_notes \
             WHERE issuer_id = $1 AND invoice_id = $2",
            args![issuer.as_str(), invoice_id.as_str()],
        )?;
        let issued = issued.map_or(0, |v| v.value);
        let t = &invoice.totals;
        let cap = scaled(
            t.subtotal.amount() - t.discount.amount() + t.tax.amount(),
            "total",
        )?;
        if issued.checked_add(credited).is_none_or(|sum| sum > cap) {
            return Err(StoreError::Conflict(format!(
                "credit notes of invoice `{invoice_id}` would exceed its total of {} {}: \
                 {} is credited already",
                amount(cap, invoice.currency),
                invoice.currency,
                amount(issued, invoice.currency)
            ))
            .into());
        }
        sql::execute(
            conn,
            &format!(
                "INSERT INTO credit_notes (issuer_id, {CREDIT_NOTE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)"
            ),
            args![
                issuer.as_str(),
                id.as_str(),
                invoice_id.as_str(),
                &invoice.customer,
                invoice.currency.code(),
                credited,
                reason,
                micros(at)
            ],
        )?;
        append_audit(
            conn,
            issuer,
            at,
            "credit_note.issued",
            id.as_str(),
            &json!({
                "id": id.as_str(),
                "invoice": invoice_id.as_str(),
                "customer": invoice.customer,
                "currency": invoice.currency.code(),
                "amount": text(from_scaled(credited)),
                "reason": reason,
            }),
        )?;
        let row: Option<CreditNoteRow> = sql::first(
            conn,
            &format!(
                "SELECT {CREDIT_NOTE_COLUMNS} FROM credit_notes WHERE issuer_id = $1 AND id = $2"
            ),
            args![issuer.as_str(), id.as_str()],
        )?;
        Ok(row
            .ok_or_else(|| StoreError::Internal("credit note vanished after its write".into()))?
            .decode()?)
    })
}

pub(super) fn credit_notes_of(
    db: &Database,
    issuer: &IssuerId,
    invoice: &InvoiceId,
) -> StoreResult<Vec<CreditNote>> {
    read(db, |conn| {
        let rows: Vec<CreditNoteRow> = sql::load(
            conn,
            &format!(
                "SELECT {CREDIT_NOTE_COLUMNS} FROM credit_notes \
                 WHERE issuer_id = $1 AND invoice_id = $2 ORDER BY created_at, id"
            ),
            args![issuer.as_str(), invoice.as_str()],
        )?;
        Ok(rows
            .into_iter()
            .map(CreditNoteRow::decode)
            .collect::<StoreResult<_>>()?)
    })
}
