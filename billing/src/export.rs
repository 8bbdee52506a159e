//! Finance exports, streamed: each is an iterator of byte chunks that reads
//! the store one page at a time, so a year of data never sits in memory.
//!
//! - invoices: one row per issued invoice (finalised, paid or voided) whose
//!   period ends in the range;
//! - usage: one row per stored event dated in the range;
//! - journal: double-entry lines (receivable, revenue, deferred revenue,
//!   tax payable, customer credit, prepaid credit, cash) for the invoices of
//!   the range, then, when the export was given the wallet ledger
//!   ([`Export::with_wallet_ledger`]), the wallet transactions dated in the
//!   range (top-ups, grants, debits, breakage); every entry's debits equal
//!   its credits, or the export stops with an error.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use shiyun_core::billing::wallet::{LedgerPosting, WalletStore};
use shiyun_core::billing::{InvoiceFilter, InvoiceStatus, PageAfter};

use crate::BillingError;
use crate::engine::Billing;

/// Rows read per store page.
const PAGE: u32 = 1_000;

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ExportFormat {
    /// Parses `csv` or `jsonl`.
    pub fn parse(text: &str) -> Result<Self, shiyun_core::ValidationError> {
        match text {
            "csv" => Ok(ExportFormat::Csv),
            "jsonl" => Ok(ExportFormat::Jsonl),
            _ => Err(shiyun_core::ValidationError::new(
                "format",
                "must be `csv` or `jsonl`",
            )),
        }
    }

    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }
}

/// Which export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Issued invoices.
    Invoices,
    /// Usage events.
    Usage,
    /// Journal entries.
    Journal,
}

/// One invoice row.
#[derive(Debug, Serialize)]
struct InvoiceRow {
    id: String,
    number: String,
    customer: String,
    status: &'static str,
    currency: String,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    subtotal: String,
    discount: String,
    tax: String,
    credit_notes: String,
    prepaid: String,
    total: String,
    finalized_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    voided_at: Option<DateTime<Utc>>,
}

/// One usage row.
#[derive(Debug, Serialize)]
struct UsageRow {
    idempotency_key: String,
    customer: String,
    meter: String,
    timestamp: DateTime<Utc>,
    value: String,
    properties: String,
    received_at: DateTime<Utc>,
    batch: i64,
}

/// One journal line: one side of one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalLine {
    /// When the entry takes effect.
    pub date: DateTime<Utc>,
    /// The entry (lines of one entry balance).
    pub entry: String,
    /// The account.
    pub account: &'static str,
    /// Debit (or empty).
    pub debit: Decimal,
    /// Credit (or empty).
    pub credit: Decimal,
    /// The currency.
    pub currency: String,
    /// The invoice number or credit note id.
    pub reference: String,
}

/// The export iterator.
pub struct Export {
    billing: Billing,
    kind: ExportKind,
    format: ExportFormat,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    after: Option<String>,
    /// The wallet ledger, for the journal's wallet entries.
    wallets: Option<Arc<dyn WalletStore>>,
    /// Past the invoices: the wallet ledger after this `seq`.
    ledger_after: Option<i64>,
    header_written: bool,
    done: bool,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Billing {
    /// Streams an export of `[from, to)`.
    pub fn export(
        &self,
        kind: ExportKind,
        format: ExportFormat,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Export, BillingError> {
        if to <= from {
            return Err(shiyun_core::ValidationError::new("to", "must be after `from`").into());
        }
        Ok(Export {
            billing: self.clone(),
            kind,
            format,
            from,
            to,
            after: None,
            wallets: None,
            ledger_after: None,
            header_written: false,
            done: false,
        })
    }
}

impl Export {
    /// A journal export that goes on, after the invoices, with the wallet
    /// transactions dated in the range. Other exports ignore it.
    pub fn with_wallet_ledger(mut self, wallets: Arc<dyn WalletStore>) -> Self {
        self.wallets = Some(wallets);
        self
    }
}

impl Iterator for Export {
    type Item = Result<Vec<u8>, BillingError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let chunk = self.page();
        if chunk.is_err() {
            self.done = true;
        }
        match chunk {
            Ok(Some(bytes)) => Some(Ok(bytes)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => Some(Err(e)),
        }
    }
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

impl Export {
    /// The next chunk; `None` at the end.
    fn page(&mut self) -> Result<Option<Vec<u8>>, BillingError> {
        let page = PageAfter {
            after: self.after.clone(),
            limit: PAGE,
        };
        let issuer = self.billing.id()?.clone();
        let store = self.billing.store().clone();
        let mut out = Writer::new(self.format, !self.header_written);
        if let (Some(after), Some(wallets)) = (self.ledger_after, self.wallets.clone()) {
            let postings = whole_transactions(wallets.as_ref(), &issuer, after)?;
            let Some(last) = postings.last() else {
                return self.finish(out);
            };
            self.ledger_after = Some(last.seq);
            let dated: Vec<LedgerPosting> = postings
                .into_iter()
                .filter(|p| p.at >= self.from && p.at < self.to)
                .collect();
            for line in crate::journal::wallet_entries(&dated)? {
                out.row(&line)?;
            }
            self.header_written = self.header_written || out.wrote_header;
            return Ok(Some(out.into_bytes()?));
        }
        match self.kind {
            ExportKind::Usage => {
                let rows = store.usage_page(&issuer, self.from, self.to, &page)?;
                let Some(last) = rows.last() else {
                    return self.finish(out);
                };
                self.after = Some(format!(
                    "{}:{}",
                    last.timestamp.timestamp_micros(),
                    last.idempotency_key
                ));
                for e in rows {
                    out.row(&UsageRow {
                        idempotency_key: e.idempotency_key,
                        customer: e.customer,
                        meter: e.meter,
                        timestamp: e.timestamp,
                        value: e.value.map(text).unwrap_or_default(),
                        properties: e.properties,
                        received_at: e.received_at,
                        batch: e.batch,
                    })?;
                }
            }
            ExportKind::Invoices | ExportKind::Journal => {
                let filter = InvoiceFilter {
                    customer: None,
                    status: None,
                    from: Some(self.from),
                    to: Some(self.to),
                };
                let invoices = store.list_invoices(&issuer, &filter, &page)?;
                let Some(last) = invoices.last() else {
                    if self.kind == ExportKind::Journal && self.wallets.is_some() {
                        self.ledger_after = Some(0);
                        return Ok(Some(out.into_bytes()?));
                    }
                    return self.finish(out);
                };
                self.after = Some(last.id.to_string());
                for invoice in invoices {
                    if invoice.status == InvoiceStatus::Draft {
                        continue;
                    }
                    if self.kind == ExportKind::Invoices {
                        let t = &invoice.totals;
                        out.row(&InvoiceRow {
                            id: invoice.id.to_string(),
                            number: invoice.number.clone().unwrap_or_default(),
                            customer: invoice.customer.clone(),
                            status: invoice.status.as_str(),
                            currency: invoice.currency.to_string(),
                            period_start: invoice.period_start,
                            period_end: invoice.period_end,
                            subtotal: text(t.subtotal.amount()),
                            discount: text(t.discount.amount()),
                            tax: text(t.tax.amount()),
                            credit_notes: text(t.credit_notes.amount()),
                            prepaid: text(t.prepaid.amount()),
                            total: text(t.total.amount()),
                            finalized_at: invoice.finalized_at,
                            paid_at: invoice.paid_at,
                            voided_at: invoice.voided_at,
                        })?;
                    } else {
                        let notes = store.credit_notes_of(&issuer, &invoice.id)?;
                        for line in crate::journal::entries(&invoice, &notes)? {
                            out.row(&line)?;
                        }
                    }
                }
            }
        }
        self.header_written = self.header_written || out.wrote_header;
        Ok(Some(out.into_bytes()?))
    }

    /// The last chunk: for CSV with no row at all, the header alone.
    fn finish(&mut self, out: Writer) -> Result<Option<Vec<u8>>, BillingError> {
        if self.header_written || self.format == ExportFormat::Jsonl {
            return Ok(None);
        }
        self.header_written = true;
        let header: &[&str] = match self.kind {
            ExportKind::Invoices => &[
                "id",
                "number",
                "customer",
                "status",
                "currency",
                "period_start",
                "period_end",
                "subtotal",
                "discount",
                "tax",
                "credit_notes",
                "prepaid",
                "total",
                "finalized_at",
                "paid_at",
                "voided_at",
            ],
            ExportKind::Usage => &[
                "idempotency_key",
                "customer",
                "meter",
                "timestamp",
                "value",
                "properties",
                "received_at",
                "batch",
            ],
            ExportKind::Journal => &[
                "date",
                "entry",
                "account",
                "debit",
                "credit",
                "currency",
                "reference",
            ],
        };
        drop(out);
        Ok(Some(format!("{}\n", header.join(",")).into_bytes()))
    }
}

/// A page of the issuer's wallet ledger after `after`, ending with a whole
/// transaction: a transaction cut by the page's end is read on to its end
/// when it fills the page, left for the next page otherwise.
fn whole_transactions(
    wallets: &dyn WalletStore,
    issuer: &shiyun_core::billing::IssuerId,
    after: i64,
) -> Result<Vec<LedgerPosting>, BillingError> {
    let mut postings = wallets.ledger(issuer, None, after, PAGE)?;
    if postings.len() < PAGE as usize {
        return Ok(postings);
    }
    let last = postings.last().map(|p| p.transaction.clone());
    let cut = postings
        .iter()
        .rposition(|p| Some(&p.transaction) != last.as_ref());
    match cut {
        Some(i) => postings.truncate(i + 1),
        // One transaction fills the page: read the rest of it.
        None => loop {
            let from = postings.last().map_or(after, |p| p.seq);
            let more = wallets.ledger(issuer, None, from, PAGE)?;
            let ends = more
                .iter()
                .position(|p| Some(&p.transaction) != last.as_ref());
            let done = ends.is_some() || more.len() < PAGE as usize;
            postings.extend(more.into_iter().take(ends.unwrap_or(usize::MAX)));
            if done {
                break;
            }
        },
    }
    Ok(postings)
}

/// Writes rows of one chunk.
struct Writer {
    format: ExportFormat,
    csv: Option<csv::Writer<Vec<u8>>>,
    json: Vec<u8>,
    wrote_header: bool,
}

impl Writer {
    fn new(format: ExportFormat, header: bool) -> Self {
        let csv = (format == ExportFormat::Csv).then(|| {
            csv::WriterBuilder::new()
                .has_headers(header)
                .from_writer(Vec::new())
        });
        Writer {
            format,
            csv,
            json: Vec::new(),
            wrote_header: false,
        }
    }

    fn row(&mut self, row: &impl Serialize) -> Result<(), BillingError> {
        let failed = |e: String| {
            BillingError::Store(shiyun_core::store::StoreError::Internal(format!(
                "export row: {e}"
            )))
        };
        match (&mut self.csv, self.format) {
            (Some(writer), _) => {
                writer.serialize(row).map_err(|e| failed(e.to_string()))?;
                self.wrote_header = true;
            }
            (None, _) => {
                serde_json::to_writer(&mut self.json, row).map_err(|e| failed(e.to_string()))?;
                self.json.push(b'\n');
            }
        }
        Ok(())
    }

    fn into_bytes(self) -> Result<Vec<u8>, BillingError> {
        match self.csv {
            Some(writer) => writer.into_inner().map_err(|e| {
                BillingError::Store(shiyun_core::store::StoreError::Internal(format!(
                    "export: {e}"
                )))
            }),
            None => Ok(self.json),
        }
    }
}
