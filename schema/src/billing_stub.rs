//! TEMPORARY stub until the billing store lands.
#![allow(missing_docs, clippy::todo, unused_variables)]
use crate::Database;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shiyun_core::billing::*;
use shiyun_core::money::Money;
use shiyun_core::store::{Outcome, StoreResult};
impl BillingStore for Database {
    fn ensure_issuer(&self, issuer: &Issuer) -> StoreResult<Issuer> {
        todo!()
    }
    fn get_issuer(&self, issuer: &IssuerId) -> StoreResult<Option<Issuer>> {
        todo!()
    }
    fn put_customer(
        &self,
        issuer: &IssuerId,
        id: &CustomerId,
        customer: &CustomerInput,
        at: DateTime<Utc>,
    ) -> StoreResult<Customer> {
        todo!()
    }
    fn get_customer(&self, issuer: &IssuerId, external_id: &str) -> StoreResult<Option<Customer>> {
        todo!()
    }
    fn create_meter(&self, issuer: &IssuerId, meter: &Meter) -> StoreResult<Outcome<Meter>> {
        todo!()
    }
    fn list_meters(&self, issuer: &IssuerId) -> StoreResult<Vec<Meter>> {
        todo!()
    }
    fn create_plan(
        &self,
        issuer: &IssuerId,
        plan: &StoredPlan,
    ) -> StoreResult<Outcome<StoredPlan>> {
        todo!()
    }
    fn get_plan(&self, issuer: &IssuerId, code: &str) -> StoreResult<Option<StoredPlan>> {
        todo!()
    }
    fn list_plans(&self, issuer: &IssuerId) -> StoreResult<Vec<StoredPlan>> {
        todo!()
    }
    fn insert_usage(
        &self,
        issuer: &IssuerId,
        events: &[NewUsageEvent],
        received_at: DateTime<Utc>,
    ) -> StoreResult<Vec<IngestOutcome>> {
        todo!()
    }
    fn usage_watermark(&self, issuer: &IssuerId) -> StoreResult<i64> {
        todo!()
    }
    fn aggregate_usage(
        &self,
        issuer: &IssuerId,
        window: &UsageWindow,
    ) -> StoreResult<Vec<UsageAggregate>> {
        todo!()
    }
    fn usage_points(
        &self,
        issuer: &IssuerId,
        meter: &str,
        window: &UsageWindow,
    ) -> StoreResult<Vec<UsagePoint>> {
        todo!()
    }
    fn usage_page(
        &self,
        issuer: &IssuerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<StoredUsageEvent>> {
        todo!()
    }
    fn create_subscription(
        &self,
        issuer: &IssuerId,
        subscription: &Subscription,
    ) -> StoreResult<Outcome<Subscription>> {
        todo!()
    }
    fn get_subscription(
        &self,
        issuer: &IssuerId,
        id: &SubscriptionId,
    ) -> StoreResult<Option<Subscription>> {
        todo!()
    }
    fn update_subscription(
        &self,
        issuer: &IssuerId,
        subscription: &Subscription,
    ) -> StoreResult<Subscription> {
        todo!()
    }
    fn due_subscriptions(
        &self,
        issuer: &IssuerId,
        due: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<Subscription>> {
        todo!()
    }
    fn create_draft(&self, issuer: &IssuerId, draft: &NewInvoice) -> StoreResult<Outcome<Invoice>> {
        todo!()
    }
    fn drafts_due(
        &self,
        issuer: &IssuerId,
        ended_by: DateTime<Utc>,
        page: &PageAfter,
    ) -> StoreResult<Vec<Invoice>> {
        todo!()
    }
    fn finalize_invoice(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        content: &FinalContent,
        at: DateTime<Utc>,
    ) -> StoreResult<Outcome<Invoice>> {
        todo!()
    }
    fn get_invoice(&self, issuer: &IssuerId, invoice: &InvoiceId) -> StoreResult<Option<Invoice>> {
        todo!()
    }
    fn list_invoices(
        &self,
        issuer: &IssuerId,
        filter: &InvoiceFilter,
        page: &PageAfter,
    ) -> StoreResult<Vec<Invoice>> {
        todo!()
    }
    fn issued_invoices_of(
        &self,
        issuer: &IssuerId,
        subscription: &SubscriptionId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<Invoice>> {
        todo!()
    }
    fn record_payment(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        payment: &Payment,
    ) -> StoreResult<Outcome<Invoice>> {
        todo!()
    }
    fn void_invoice(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
        at: DateTime<Utc>,
    ) -> StoreResult<Invoice> {
        todo!()
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
        todo!()
    }
    fn credit_notes_of(
        &self,
        issuer: &IssuerId,
        invoice: &InvoiceId,
    ) -> StoreResult<Vec<CreditNote>> {
        todo!()
    }
    fn add_prepaid_credit(
        &self,
        issuer: &IssuerId,
        customer: &str,
        amount: Money,
        at: DateTime<Utc>,
    ) -> StoreResult<Money> {
        todo!()
    }
    fn audit_chain(
        &self,
        issuer: &IssuerId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        todo!()
    }
}
