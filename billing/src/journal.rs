//! Double-entry journal entries for an invoice's life.
//!
//! - Finalisation: debit receivable (the total), customer credit (credit
//!   notes applied) and prepaid credit (prepaid applied); credit revenue
//!   (lines of the invoiced period, less discount), deferred revenue (fees
//!   billed in advance for a later period) and tax payable.
//! - Recognition: on the first day of an advance-billed period, debit
//!   deferred revenue, credit revenue.
//! - Credit note: debit revenue, credit customer credit (a balance that
//!   later invoices draw down).
//! - Payment: debit cash, credit receivable. Void: the finalisation entry
//!   reversed.
//!
//! A negative amount is written on the other side, so every figure is
//! non-negative; every entry's debits equal its credits, checked here.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use shiyun_core::billing::{CreditNote, Invoice, InvoiceStatus};
use shiyun_core::store::StoreError;

use crate::BillingError;
use crate::export::JournalLine;

/// Accounts.
pub mod account {
    /// Money customers owe.
    pub const RECEIVABLE: &str = "accounts_receivable";
    /// Earned revenue.
    pub const REVENUE: &str = "revenue";
    /// Billed but not yet earned.
    pub const DEFERRED: &str = "deferred_revenue";
    /// Tax collected for the authority.
    pub const TAX: &str = "tax_payable";
    /// Credit-note balances owed to customers.
    pub const CUSTOMER_CREDIT: &str = "customer_credit";
    /// Prepaid credit held for customers.
    pub const PREPAID: &str = "prepaid_credit";
    /// Money received.
    pub const CASH: &str = "cash";
}

struct Entry {
    lines: Vec<JournalLine>,
}

impl Entry {
    fn side(&mut self, proto: &JournalLine, account: &'static str, debit: Decimal) {
        if debit.is_zero() {
            return;
        }
        let (debit, credit) = if debit > Decimal::ZERO {
            (debit, Decimal::ZERO)
        } else {
            (Decimal::ZERO, -debit)
        };
        self.lines.push(JournalLine {
            account,
            debit,
            credit,
            ..proto.clone()
        });
    }
}

/// The journal lines of one issued invoice and its credit notes.
pub fn entries(invoice: &Invoice, notes: &[CreditNote]) -> Result<Vec<JournalLine>, BillingError> {
    let Some(finalized_at) = invoice.finalized_at else {
        return Ok(Vec::new());
    };
    let reference = invoice
        .number
        .clone()
        .unwrap_or_else(|| invoice.id.to_string());
    let currency = invoice.currency.to_string();
    let proto = |date, entry: String| JournalLine {
        date,
        entry,
        account: "",
        debit: Decimal::ZERO,
        credit: Decimal::ZERO,
        currency: currency.clone(),
        reference: reference.clone(),
    };
    let t = &invoice.totals;
    // Fees for a period starting at or after this invoice's period end were billed in advance.
    let mut deferred: BTreeMap<chrono::DateTime<chrono::Utc>, Decimal> = BTreeMap::new();
    for line in &invoice.lines {
        if line.period_start >= invoice.period_end && line.period_end > line.period_start {
            *deferred.entry(line.period_start).or_default() += line.amount;
        }
    }
    let deferred_total: Decimal = deferred.values().copied().sum();
    let earned = t.subtotal.amount() - t.discount.amount() - deferred_total;

    let mut all = Vec::new();
    let head = proto(finalized_at, format!("{}:finalized", invoice.id));
    let mut finalized = Entry { lines: Vec::new() };
    finalized.side(&head, account::RECEIVABLE, t.total.amount());
    finalized.side(&head, account::CUSTOMER_CREDIT, t.credit_notes.amount());
    finalized.side(&head, account::PREPAID, t.prepaid.amount());
    finalized.side(&head, account::REVENUE, -earned);
    finalized.side(&head, account::DEFERRED, -deferred_total);
    finalized.side(&head, account::TAX, -t.tax.amount());
    let finalization = finalized.lines.clone();
    all.push(finalized);

    for (start, amount) in deferred {
        let mut recognised = Entry { lines: Vec::new() };
        let head = proto(
            start,
            format!("{}:recognized:{}", invoice.id, start.timestamp()),
        );
        recognised.side(&head, account::DEFERRED, amount);
        recognised.side(&head, account::REVENUE, -amount);
        all.push(recognised);
    }
    for note in notes {
        let mut entry = Entry { lines: Vec::new() };
        let head = JournalLine {
            reference: note.id.to_string(),
            ..proto(note.created_at, format!("{}:issued", note.id))
        };
        entry.side(&head, account::REVENUE, note.amount.amount());
        entry.side(&head, account::CUSTOMER_CREDIT, -note.amount.amount());
        all.push(entry);
    }
    if let (InvoiceStatus::Paid, Some(paid_at)) = (invoice.status, invoice.paid_at) {
        let mut entry = Entry { lines: Vec::new() };
        let head = proto(paid_at, format!("{}:paid", invoice.id));
        entry.side(&head, account::CASH, t.total.amount());
        entry.side(&head, account::RECEIVABLE, -t.total.amount());
        all.push(entry);
    }
    if let (InvoiceStatus::Voided, Some(voided_at)) = (invoice.status, invoice.voided_at) {
        let entry = Entry {
            lines: finalization
                .iter()
                .map(|line| JournalLine {
                    date: voided_at,
                    entry: format!("{}:voided", invoice.id),
                    debit: line.credit,
                    credit: line.debit,
                    ..line.clone()
                })
                .collect(),
        };
        all.push(entry);
    }
    let mut lines = Vec::new();
    for entry in all {
        let debits: Decimal = entry.lines.iter().map(|l| l.debit).sum();
        let credits: Decimal = entry.lines.iter().map(|l| l.credit).sum();
        if debits != credits {
            return Err(BillingError::Store(StoreError::Internal(format!(
                "journal entry for {reference} does not balance: debits {debits}, credits {credits}"
            ))));
        }
        lines.extend(entry.lines);
    }
    Ok(lines)
}
