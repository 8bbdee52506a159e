//! `BillingStore` on [`Database`]: issuers, customers, meters, plans, usage
//! events, subscriptions, invoices, credit notes, payments, prepaid credit
//! and the audit chain, every row and every query scoped by issuer; and
//! `WalletStore` (prepaid wallets: see the `wallet` module).
//!
//! Amounts and quantities are `BIGINT` millionths
//! (`shiyun_core::billing::scaled`): a value with more places or out of
//! range is refused (`StoreError::Invalid`), never rounded. SQL is written
//! once for both backends with `$n` placeholders (see [`sql`]); the
//! PostgreSQL-only parts are `UNNEST` and `= ANY` over arrays (the usage
//! hot path) and `FOR UPDATE`.
//!
//! Every write is one [`Database::transaction`] at read committed. Where a
//! rule reads and then writes, PostgreSQL locks what it read: the invoice
//! row, the credit notes and prepaid balance drawn down, the subscription a
//! draft moves on. Per-issuer counters (`billing_counters`) are bumped with
//! `UPDATE … RETURNING`, whose row lock lasts until commit:
//!
//! - `ingest_batch`, taken first by every ingest, so batches of an issuer
//!   commit in number order and the watermark (a plain read of the
//!   committed counter) never covers a batch still being written;
//! - `invoice_number`, taken at finalisation: gapless, because it commits or
//!   rolls back with the invoice;
//! - `audit_seq`, taken last by every money-moving method to append its
//!   audit entry, chained by hash to the previous one.
//!
//! Locks are taken in one order (invoice or subscription, credit notes,
//! prepaid balance, invoice number, audit sequence), so two writers of one
//! issuer wait for each other rather than deadlock.
//!
//! Ingest is one transaction per batch with no per-event round trip: the
//! customers checked with one query, the events inserted with multi-row
//! `INSERT … ON CONFLICT DO NOTHING RETURNING key` (one `UNNEST` per 5,000
//! on PostgreSQL), and the keys not inserted read back once to tell a
//! duplicate (same payload hash) from a conflict. On PostgreSQL a concurrent
//! insert of the same key waits for the first one's commit, so each key is
//! accepted once.
//!
//! Voiding sets the state only: credit-note and prepaid balances an invoice
//! drew at finalisation stay drawn (the contract asks nothing more; a
//! credit note is the correction). Voiding a voided invoice returns it
//! unchanged, and a credit note created again with its id and content
//! returns the stored one.
//!
//! Aggregates are one `GROUP BY customer, meter`; the `latest` value is
//! ranked (`ROW_NUMBER()`) only for meters whose aggregation is `latest`
//! (other aggregates carry `latest: None`).

mod bench;
mod catalog;
mod common;
mod invoices;
mod market;
mod payments;
pub(crate) mod sql;
mod usage;
mod wallet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rust_decimal::Decimal;
use shiyun_core::billing::{
    AuditRecord, BillingStore, CreditNote, CreditNoteId, Customer, CustomerId, CustomerInput,
    FinalContent, IngestOutcome, Invoice, InvoiceFilter, InvoiceId, Issuer, IssuerId, Meter,
    NewInvoice, NewUsageEvent, PageAfter, Payment, StoredPlan, StoredUsageEvent, Subscription,
    SubscriptionId, UsageAggregate, UsagePoint, UsageWindow,
};
use shiyun_core::money::Money;
use shiyun_core::store::{Outcome, StoreResult};

use crate::db::Database;
use crate::user_centre::read;
use sql::args;

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Text)]
    prev_hash: String,
    #[diesel(sql_type = Text)]
    hash: String,
}

impl BillingStore for Database {
    fn ensure_issuer(&self, issuer: &Issuer) -> StoreResult<Issuer> {
        catalog::ensure_issuer(self, issuer)
    }

    fn get_issuer(&self, issuer: &IssuerId) -> StoreResult<Option<Issuer>> {
        catalog::get_issuer(self, issuer)
    }

    fn put_customer(
        &self,
        issuer: &IssuerId,
        id: &CustomerId,
        customer: &CustomerInput,
        at: DateTime<Utc>,
    ) -> StoreResult<Customer> {
        catalog::put_customer(self, issuer, id, customer, at)
    }

    fn get_customer(&self, issuer: &IssuerId, external_id: &str) -> StoreResult<Option<Customer>> {
        catalog::get_customer(self, issuer, external_id)
    }

    fn create_meter(&self, issuer: &IssuerId, meter: &Meter) -> StoreResult<Outcome<Meter>> {
        catalog::create_meter(self, issuer, meter)
    }

    fn list_meters(&self, issuer: &IssuerId) -> StoreResult<Vec<Meter>> {
        catalog::list_meters(self, issuer)
    }

    fn create_plan(
        &self,
        issuer: &IssuerId,
        plan: &StoredPlan,
    ) -> StoreResult<Outcome<StoredPlan>> {
        catalog::create_plan(self, issuer, plan)
    }

    fn get_plan(&self, issuer: &IssuerId, code: &str) -> StoreResult<Option<StoredPlan>> {
        catalog::get_plan(self, issuer, code)
    }

    fn list_plans(&self, issuer: &IssuerId) -> StoreResult<Vec<StoredPlan>> {
        catalog::list_plans(self, issuer)
    }

    fn insert_usage(
        &self,
        issuer: &IssuerId,
        events: &[NewUsageEvent],
        received_at: DateTime<Utc>,
    ) -> StoreResult<Vec<IngestOutcome>> {
        usage::insert_usage(self, issuer, events, received_at)
    }

    fn usage_watermark(&self, issuer: &IssuerId) -> StoreResult<i64> {
        usage::usage_watermark(self, issuer)
    }

    fn aggregate_usage(
        &self,
        issuer: &IssuerId,
        window: &UsageWindow,
    ) -> StoreResult<Vec<UsageAggregate>> {
        usage::aggregate_usage(self, issuer, window)
    }

    fn usage_points(
        &self,
        issuer: &IssuerId,
        meter: &str,
        window: &UsageWindow,
    ) -> StoreResult<Vec<UsagePoint>> {
        usage::usage_points(self, issuer, meter, window)
    }

    fn usage_page(
        &self,
        issuer: &IssuerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<StoredUsageEvent>> {
        usage::usage_page(self, issuer, from, to, page)
    }

    fn create_subscription(
        &self,
        issuer: &IssuerId,
        subscription: &Subscription,
    ) -> StoreResult<Outcome<Subscription>> {
        catalog::create_subscription(self, issuer, subscription)
    }

    fn get_subscription(
        &self,
        issuer: &IssuerId,
        id: &SubscriptionId,
    ) -> StoreResult<Option<Subscription>> {
        catalog::get_subscription(self, issuer, id)
    }

    fn update_subscription(
        &self,
        issuer: &IssuerId,
        subscription: &Subscription,
    ) -> StoreResult<Subscription> {
        catalog::update_subscription(self, issuer, subscription)
    }

    fn due_subscriptions(
        &self,
        issuer: &IssuerId,
        due: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<Subscription>> {
        catalog::due_subscriptions(self, issuer, due, page)
    }

    fn create_draft(&self, issuer: &IssuerId, draft: &NewInvoice) -> StoreResult<Outcome<Invoice>> {
        invoices::create_draft(self, issuer, draft)
    }

    fn get_customers(
        &self,
        issuer: &IssuerId,
        external_ids: &[String],
    ) -> StoreResult<Vec<Customer>> {
        catalog::get_customers(self, issuer, external_ids)
    }

    fn create_drafts(
        &self,
        issuer: &IssuerId,
        drafts: &[NewInvoice],
    ) -> StoreResult<Vec<Outcome<InvoiceId>>> {
        invoices::create_drafts(self, issuer, drafts)
    }

    fn issued_watermarks(
        &self,
        issuer: &IssuerId,
        subscriptions: &[SubscriptionId],
    ) -> StoreResult<std::collections::HashMap<SubscriptionId, i64>> {
        invoices::issued_watermarks(self, issuer, subscriptions)
    }

    fn finalize_invoices(
        &self,
        issuer: &IssuerId,
        invoices: &[(InvoiceId, FinalContent)],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<Outcome<InvoiceId>>> {
        invoices::finalize_invoices(self, issuer, invoices, at)
    }

    fn drafts_due(
        &self,
        issuer: &IssuerId,
        ended_by: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<Invoice>> {
        invoices::drafts_due(self, issuer, ended_by, page)
    }

    fn finalize_invoice(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        content: &FinalContent,
        at: DateTime<Utc>,
    ) -> StoreResult<Outcome<Invoice>> {
        invoices::finalize_invoice(self, issuer, invoice, content, at)
    }

    fn get_invoice(&self, issuer: &IssuerId, invoice: &InvoiceId) -> StoreResult<Option<Invoice>> {
        invoices::get_invoice(self, issuer, invoice)
    }

    fn list_invoices(
        &self,
        issuer: &IssuerId,
        filter: &InvoiceFilter,
        page: &PageAfter,
    ) -> StoreResult<Vec<Invoice>> {
        invoices::list_invoices(self, issuer, filter, page)
    }

    fn issued_invoices_of(
        &self,
        issuer: &IssuerId,
        subscription: &SubscriptionId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<Invoice>> {
        invoices::issued_invoices_of(self, issuer, subscription, since)
    }

    fn record_payment(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        payment: &Payment,
    ) -> StoreResult<Outcome<Invoice>> {
        invoices::record_payment(self, issuer, invoice, payment)
    }

    fn void_invoice(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        at: DateTime<Utc>,
    ) -> StoreResult<Invoice> {
        invoices::void_invoice(self, issuer, invoice, at)
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
        invoices::create_credit_note(self, issuer, id, invoice, amount, reason, at)
    }

    fn credit_notes_of(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
    ) -> StoreResult<Vec<CreditNote>> {
        invoices::credit_notes_of(self, issuer, invoice)
    }

    fn add_prepaid_credit(
        &self,
        issuer: &IssuerId,
        customer: &str,
        amount: Money,
        at: DateTime<Utc>,
    ) -> StoreResult<Money> {
        catalog::add_prepaid_credit(self, issuer, customer, amount, at)
    }

    fn audit_chain(
        &self,
        issuer: &IssuerId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        read(self, |conn| {
            let rows: Vec<AuditRow> = sql::load(
                conn,
                "SELECT seq, at, action, subject, payload, prev_hash, hash FROM billing_audit \
                 WHERE issuer_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                args![issuer.as_str(), after_seq, common::page_limit(limit)],
            )?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    Ok(AuditRecord {
                        seq: r.seq,
                        at: common::time(r.at)?,
                        action: r.action,
                        subject: r.subject,
                        payload: r.payload,
                        prev_hash: r.prev_hash,
                        hash: r.hash,
                    })
                })
                .collect::<StoreResult<_>>()?)
        })
    }
}
