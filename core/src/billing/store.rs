//! The billing store contract. Each method that must hold atomically
//! (accepting a batch of events exactly once, drafting an invoice while
//! moving its subscription on, finalising with a gapless number) is one
//! method that the store runs in one transaction, appending its audit entry
//! in that same transaction.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{
    AuditRecord, CreditNote, CreditNoteId, Customer, CustomerInput, FinalContent, IngestOutcome,
    Invoice, InvoiceId, InvoiceStatus, Issuer, IssuerId, Meter, NewInvoice, NewUsageEvent, Payment,
    StoredPlan, StoredUsageEvent, Subscription, SubscriptionId, UsageAggregate, UsagePoint,
    UsageWindow,
};
use crate::money::Money;
use crate::store::{Outcome, StoreResult};

/// Which invoices a listing or export reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    /// One customer (external id).
    pub customer: Option<String>,
    /// One state.
    pub status: Option<InvoiceStatus>,
    /// Period end at or after.
    pub from: Option<DateTime<Utc>>,
    /// Period end before.
    pub to: Option<DateTime<Utc>>,
}

/// Where a page of rows starts: after this key (exclusive), in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageAfter {
    /// The last key of the previous page (an id, or an encoded sort key).
    pub after: Option<String>,
    /// Most rows (1–10,000).
    pub limit: u32,
}

/// Billing storage, scoped by issuer on every call.
pub trait BillingStore: Send + Sync {
    /// Creates the issuer if it does not exist; returns it as stored.
    fn ensure_issuer(&self, issuer: &Issuer) -> StoreResult<Issuer>;

    /// One issuer.
    fn get_issuer(&self, issuer: &IssuerId) -> StoreResult<Option<Issuer>>;

    /// Creates or updates a customer by external id (`id` is used only when
    /// creating). Returns it as stored.
    fn put_customer(
        &self,
        issuer: &IssuerId,
        id: &super::CustomerId,
        customer: &CustomerInput,
        at: DateTime<Utc>,
    ) -> StoreResult<Customer>;

    /// One customer by external id.
    fn get_customer(&self, issuer: &IssuerId, external_id: &str) -> StoreResult<Option<Customer>>;

    /// The customers of these external ids that exist, in any order.
    fn get_customers(
        &self,
        issuer: &IssuerId,
        external_ids: &[String],
    ) -> StoreResult<Vec<Customer>> {
        let mut found = Vec::new();
        for id in external_ids {
            found.extend(self.get_customer(issuer, id)?);
        }
        Ok(found)
    }

    /// Creates a meter. The same meter again is [`Outcome::Replayed`]; the
    /// same code with other settings is `StoreError::Conflict`.
    fn create_meter(&self, issuer: &IssuerId, meter: &Meter) -> StoreResult<Outcome<Meter>>;

    /// Every meter of the issuer, by code.
    fn list_meters(&self, issuer: &IssuerId) -> StoreResult<Vec<Meter>>;

    /// Creates a plan (immutable). The same body again is
    /// [`Outcome::Replayed`]; the same code with another body is
    /// `StoreError::Conflict`.
    fn create_plan(&self, issuer: &IssuerId, plan: &StoredPlan)
    -> StoreResult<Outcome<StoredPlan>>;

    /// One plan.
    fn get_plan(&self, issuer: &IssuerId, code: &str) -> StoreResult<Option<StoredPlan>>;

    /// Every plan of the issuer, by code.
    fn list_plans(&self, issuer: &IssuerId) -> StoreResult<Vec<StoredPlan>>;

    /// Stores a batch of checked events in one transaction, as one ingest
    /// batch numbered after every batch committed before it. Returns one
    /// outcome per event, in order. A key already stored (or earlier in the
    /// same batch) is `Duplicate` with the same payload hash, else
    /// `Conflict`; the first stored event stands. Returns when committed.
    fn insert_usage(
        &self,
        issuer: &IssuerId,
        events: &[NewUsageEvent],
        received_at: DateTime<Utc>,
    ) -> StoreResult<Vec<IngestOutcome>>;

    /// The last committed ingest batch (0 before any): every event of a
    /// batch up to it is visible, and no later commit gets a batch number up
    /// to it.
    fn usage_watermark(&self, issuer: &IssuerId) -> StoreResult<i64>;

    /// Aggregates per customer and meter over a window.
    fn aggregate_usage(
        &self,
        issuer: &IssuerId,
        window: &UsageWindow,
    ) -> StoreResult<Vec<UsageAggregate>>;

    /// One customer's values of one meter in a window, by time (ties by
    /// batch, then key), preceded by the last value before `window.from`
    /// (within the same batch bounds) if there is one.
    fn usage_points(
        &self,
        issuer: &IssuerId,
        meter: &str,
        window: &UsageWindow,
    ) -> StoreResult<Vec<UsagePoint>>;

    /// One page of events with timestamps in `[from, to)`, ordered by
    /// (timestamp, key); `page.after` is the previous page's last
    /// `"{micros}:{key}"`.
    fn usage_page(
        &self,
        issuer: &IssuerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<StoredUsageEvent>>;

    /// Creates a subscription. Its id is the idempotency key: the same
    /// subscription again is [`Outcome::Replayed`], another one with that id
    /// is `StoreError::Conflict`.
    fn create_subscription(
        &self,
        issuer: &IssuerId,
        subscription: &Subscription,
    ) -> StoreResult<Outcome<Subscription>>;

    /// One subscription.
    fn get_subscription(
        &self,
        issuer: &IssuerId,
        id: &SubscriptionId,
    ) -> StoreResult<Option<Subscription>>;

    /// Replaces phases, end, status, coupons and next period if the stored
    /// version is `subscription.version`; the version then grows by one.
    /// Else `StoreError::Conflict`.
    fn update_subscription(
        &self,
        issuer: &IssuerId,
        subscription: &Subscription,
    ) -> StoreResult<Subscription>;

    /// Active subscriptions whose next period ends at or before `due`,
    /// ordered by id, after `page.after`.
    fn due_subscriptions(
        &self,
        issuer: &IssuerId,
        due: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<Subscription>>;

    /// In one transaction: stores the draft, moves the subscription's next
    /// period on (or cancels it when `next_period` is `None`), and appends
    /// `invoice.drafted` to the audit chain; only if the subscription is
    /// still at `subscription_version` and its next period starts at
    /// `period_start`. A draft for that subscription and period that exists
    /// already is [`Outcome::Replayed`] (a rerun of an interrupted bill
    /// run); a stale version is `StoreError::Conflict`.
    fn create_draft(&self, issuer: &IssuerId, draft: &NewInvoice) -> StoreResult<Outcome<Invoice>>;

    /// [`BillingStore::create_draft`] for many drafts (a bill run's page)
    /// in one transaction: all stored or none. Answers each draft's id (a
    /// replay answers the stored invoice's id).
    fn create_drafts(
        &self,
        issuer: &IssuerId,
        drafts: &[NewInvoice],
    ) -> StoreResult<Vec<Outcome<InvoiceId>>> {
        drafts
            .iter()
            .map(|d| self.create_draft(issuer, d).map(|o| o.map(|i| i.id)))
            .collect()
    }

    /// The largest usage watermark among the issued (finalised, paid or
    /// voided) invoices of each subscription that has one.
    fn issued_watermarks(
        &self,
        issuer: &IssuerId,
        subscriptions: &[SubscriptionId],
    ) -> StoreResult<std::collections::HashMap<SubscriptionId, i64>>;

    /// Drafts whose period ended at or before `ended_by`, by id after `page.after`.
    fn drafts_due(
        &self,
        issuer: &IssuerId,
        ended_by: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<Invoice>>;

    /// In one transaction: replaces the draft's content, applies the
    /// customer's open credit-note balances (oldest first) and then prepaid
    /// credit in the invoice's currency with [`super::draw_down`], takes the
    /// issuer's next invoice number (gapless), marks it finalised and
    /// appends `invoice.finalized`. An invoice already finalised is
    /// [`Outcome::Replayed`] unchanged.
    fn finalize_invoice(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        content: &FinalContent,
        at: DateTime<Utc>,
    ) -> StoreResult<Outcome<Invoice>>;

    /// [`BillingStore::finalize_invoice`] for many drafts in one
    /// transaction, numbered in the order given: all finalised or none.
    fn finalize_invoices(
        &self,
        issuer: &IssuerId,
        invoices: &[(InvoiceId, FinalContent)],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<Outcome<InvoiceId>>> {
        invoices
            .iter()
            .map(|(id, content)| {
                self.finalize_invoice(issuer, id, content, at)
                    .map(|o| o.map(|i| i.id))
            })
            .collect()
    }

    /// One invoice with its lines.
    fn get_invoice(&self, issuer: &IssuerId, invoice: &InvoiceId) -> StoreResult<Option<Invoice>>;

    /// One page of invoices, ordered by id.
    fn list_invoices(
        &self,
        issuer: &IssuerId,
        filter: &InvoiceFilter,
        page: &PageAfter,
    ) -> StoreResult<Vec<Invoice>>;

    /// The latest finalised (or paid) invoices of a subscription that cover
    /// periods ending after `since`, oldest first: what late usage adjusts.
    fn issued_invoices_of(
        &self,
        issuer: &IssuerId,
        subscription: &SubscriptionId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<Invoice>>;

    /// Records a payment of a finalised invoice (amount must equal its
    /// total) and marks it paid, appending `invoice.paid`. The same
    /// reference again is [`Outcome::Replayed`].
    fn record_payment(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        payment: &Payment,
    ) -> StoreResult<Outcome<Invoice>>;

    /// Voids a finalised, unpaid invoice, appending `invoice.voided`.
    fn void_invoice(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        at: DateTime<Utc>,
    ) -> StoreResult<Invoice>;

    /// Issues a credit note against a finalised or paid invoice: the sum of
    /// its credit notes may not exceed the invoice's total before balances
    /// (`StoreError::Conflict`). Appends `credit_note.issued`.
    fn create_credit_note(
        &self,
        issuer: &IssuerId,
        id: &CreditNoteId,
        invoice: &InvoiceId,
        amount: Decimal,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<CreditNote>;

    /// Credit notes of an invoice, oldest first.
    fn credit_notes_of(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
    ) -> StoreResult<Vec<CreditNote>>;

    /// Adds prepaid credit to a customer (appends `credit.added`) and returns the new balance.
    fn add_prepaid_credit(
        &self,
        issuer: &IssuerId,
        customer: &str,
        amount: Money,
        at: DateTime<Utc>,
    ) -> StoreResult<Money>;

    /// A page of the issuer's audit chain from `after_seq` on, by seq.
    fn audit_chain(
        &self,
        issuer: &IssuerId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>>;
}
