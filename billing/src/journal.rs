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
//! - Wallets ([`wallet_entries`], from the wallet ledger): a top-up debits
//!   cash and credits the wallet liability; a grant debits promotional
//!   credit (the cost of the promotion) and credits the wallet liability; a
//!   debit moves money from the wallet liability to prepaid credit (which
//!   the invoice's finalisation then draws); an expired remainder debits
//!   the wallet liability and credits breakage revenue.
//!
//! A negative amount is written on the other side, so every figure is
//! non-negative; every entry's debits equal its credits, checked here.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use shiyun_core::billing::wallet::{LedgerPosting, account as ledger};
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
    /// Money customers hold in their wallets.
    pub const WALLET: &str = "wallet_liability";
    /// Promotional credit given away.
    pub const PROMOTIONS: &str = "promotional_credit";
    /// Expired wallet credit never used, recognised as revenue.
    pub const BREAKAGE: &str = "breakage_revenue";
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
    balanced(all, &reference)
}

/// The lines of `entries`, once each is checked to balance.
fn balanced(entries: Vec<Entry>, reference: &str) -> Result<Vec<JournalLine>, BillingError> {
    let mut lines = Vec::new();
    for entry in entries {
        let debits: Decimal = entry.lines.iter().map(|l| l.debit).sum();
        let credits: Decimal = entry.lines.iter().map(|l| l.credit).sum();
        if debits != credits {
            let reference = entry.lines.first().map_or(reference, |l| &l.reference);
            return Err(BillingError::Store(StoreError::Internal(format!(
                "journal entry for {reference} does not balance: debits {debits}, credits {credits}"
            ))));
        }
        lines.extend(entry.lines);
    }
    Ok(lines)
}

/// The journal account of a wallet ledger account.
fn wallet_account(ledger_account: &str) -> Result<&'static str, BillingError> {
    Ok(match ledger_account {
        ledger::WALLET => account::WALLET,
        ledger::CASH => account::CASH,
        ledger::PROMOTIONS => account::PROMOTIONS,
        ledger::PREPAID_APPLIED => account::PREPAID,
        ledger::BREAKAGE => account::BREAKAGE,
        other => {
            return Err(BillingError::Store(StoreError::Internal(format!(
                "wallet ledger account `{other}` has no journal account"
            ))));
        }
    })
}

/// The journal lines of whole wallet ledger transactions (`postings` in
/// ledger order, each transaction's postings together): one entry per
/// transaction, dated when it happened, one line per account. A ledger
/// posting that adds to an account of the customer's money (`wallet +A`)
/// is a credit of that liability here, so each line is the posting with
/// its sign turned: a top-up's `cash −A` is a debit of cash.
pub fn wallet_entries(postings: &[LedgerPosting]) -> Result<Vec<JournalLine>, BillingError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut start = 0;
    while start < postings.len() {
        let first = &postings[start];
        let end = postings[start..]
            .iter()
            .position(|p| p.transaction != first.transaction)
            .map_or(postings.len(), |n| start + n);
        let head = JournalLine {
            date: first.at,
            entry: format!("{}:{}", first.transaction, first.kind.as_str()),
            account: "",
            debit: Decimal::ZERO,
            credit: Decimal::ZERO,
            currency: first.amount.currency().to_string(),
            reference: first.transaction.to_string(),
        };
        let mut sums: BTreeMap<&'static str, Decimal> = BTreeMap::new();
        for p in &postings[start..end] {
            if p.amount.currency() != first.amount.currency() {
                return Err(BillingError::Store(StoreError::Internal(format!(
                    "wallet transaction {} mixes currencies",
                    first.transaction
                ))));
            }
            *sums.entry(wallet_account(&p.account)?).or_default() -= p.amount.amount();
        }
        let mut entry = Entry { lines: Vec::new() };
        // Debits first, as the invoice entries read.
        for (account, debit) in sums.iter().filter(|(_, d)| **d > Decimal::ZERO) {
            entry.side(&head, account, *debit);
        }
        for (account, debit) in sums.iter().filter(|(_, d)| **d < Decimal::ZERO) {
            entry.side(&head, account, *debit);
        }
        entries.push(entry);
        start = end;
    }
    let reference = postings
        .first()
        .map_or_else(String::new, |p| p.transaction.to_string());
    balanced(entries, &reference)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;
    use shiyun_core::billing::wallet::{LedgerKind, WalletCreditId, WalletTransactionId};
    use shiyun_core::money::{Currency, Money};

    use super::*;

    fn posting(
        seq: i64,
        tx: &str,
        kind: LedgerKind,
        account: &str,
        amount: Decimal,
    ) -> LedgerPosting {
        LedgerPosting {
            seq,
            transaction: WalletTransactionId::parse(tx).unwrap(),
            key: format!("key-{tx}"),
            kind,
            customer: "c1".into(),
            account: account.into(),
            amount: Money::new(amount, Currency::CNY),
            credit: Some(WalletCreditId::parse("wcr_1").unwrap()),
            subscription: None,
            at: Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_debit_drawn_from_several_credits_is_one_balanced_entry() {
        let postings = [
            posting(1, "wtx_a", LedgerKind::Debit, ledger::WALLET, dec!(-3)),
            posting(2, "wtx_a", LedgerKind::Debit, ledger::WALLET, dec!(-2)),
            posting(3, "wtx_a", LedgerKind::Debit, ledger::WALLET, dec!(-1.5)),
            posting(
                4,
                "wtx_a",
                LedgerKind::Debit,
                ledger::PREPAID_APPLIED,
                dec!(6.5),
            ),
            posting(5, "wtx_b", LedgerKind::Expiry, ledger::WALLET, dec!(-4)),
            posting(6, "wtx_b", LedgerKind::Expiry, ledger::BREAKAGE, dec!(4)),
        ];
        let lines = wallet_entries(&postings).unwrap();
        let seen: Vec<(&str, &str, Decimal, Decimal)> = lines
            .iter()
            .map(|l| (l.entry.as_str(), l.account, l.debit, l.credit))
            .collect();
        assert_eq!(
            seen,
            [
                ("wtx_a:debit", account::WALLET, dec!(6.5), Decimal::ZERO),
                ("wtx_a:debit", account::PREPAID, Decimal::ZERO, dec!(6.5)),
                ("wtx_b:expiry", account::WALLET, dec!(4), Decimal::ZERO),
                ("wtx_b:expiry", account::BREAKAGE, Decimal::ZERO, dec!(4)),
            ]
        );
        assert!(
            lines
                .iter()
                .all(|l| l.reference.starts_with("wtx_") && l.currency == "CNY")
        );
    }

    #[test]
    fn an_unbalanced_or_unknown_posting_stops_the_journal() {
        let unbalanced = [
            posting(1, "wtx_a", LedgerKind::TopUp, ledger::WALLET, dec!(5)),
            posting(2, "wtx_a", LedgerKind::TopUp, ledger::CASH, dec!(-4)),
        ];
        assert!(wallet_entries(&unbalanced).is_err());
        let unknown = [posting(1, "wtx_a", LedgerKind::TopUp, "elsewhere", dec!(0))];
        assert!(wallet_entries(&unknown).is_err());
        assert!(wallet_entries(&[]).unwrap().is_empty());
    }
}
