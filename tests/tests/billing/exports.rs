//! Finance exports stream every row across store pages; the journal
//! balances; the audit chain verifies and catches an edit.

use rust_decimal::Decimal;
use serde_json::Value;
use shiyun_billing::export::{ExportFormat, ExportKind};

use crate::cycle::january;
use crate::helpers::*;

fn collect(billing: &shiyun_billing::Billing, kind: ExportKind, format: ExportFormat) -> String {
    let export = billing
        .export(
            kind,
            format,
            at("2026-01-01T00:00:00Z"),
            at("2026-03-01T00:00:00Z"),
        )
        .unwrap();
    let mut bytes = Vec::new();
    let mut chunks = 0;
    for chunk in export {
        bytes.extend(chunk.unwrap());
        chunks += 1;
    }
    assert!(chunks >= 1);
    String::from_utf8(bytes).unwrap()
}

on_both_backends! {
    fn exports_stream_every_row_and_the_journal_balances(db) {
        let billing = engine(db, "exports");
        let invoice = january(&billing);
        billing.credit_note(&invoice.id, rust_decimal_macros::dec!(5), "goodwill", at("2026-02-02T00:00:00Z")).unwrap();

        // 1,504 events cross the 1,000-row page.
        let usage = collect(&billing, ExportKind::Usage, ExportFormat::Csv);
        let mut lines = usage.lines();
        assert!(lines.next().unwrap().starts_with("idempotency_key,customer,meter,timestamp"));
        assert_eq!(lines.count(), 1_504);
        let jsonl = collect(&billing, ExportKind::Usage, ExportFormat::Jsonl);
        let keys: std::collections::BTreeSet<String> = jsonl
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["idempotency_key"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(keys.len(), 1_504, "every event once");

        let invoices = collect(&billing, ExportKind::Invoices, ExportFormat::Csv);
        let rows: Vec<&str> = invoices.lines().collect();
        assert_eq!(rows.len(), 2, "{invoices}");
        assert!(rows[1].contains("T-000001") && rows[1].contains("79.6"), "{invoices}");

        let journal = collect(&billing, ExportKind::Journal, ExportFormat::Jsonl);
        let (mut debits, mut credits) = (Decimal::ZERO, Decimal::ZERO);
        let mut accounts = std::collections::BTreeSet::new();
        for line in journal.lines() {
            let entry: Value = serde_json::from_str(line).unwrap();
            debits += entry["debit"].as_str().unwrap().parse::<Decimal>().unwrap();
            credits += entry["credit"].as_str().unwrap().parse::<Decimal>().unwrap();
            accounts.insert(entry["account"].as_str().unwrap().to_owned());
        }
        assert_eq!(debits, credits, "{journal}");
        assert!(debits > Decimal::ZERO);
        for account in ["accounts_receivable", "revenue", "tax_payable", "customer_credit"] {
            assert!(accounts.contains(account), "{accounts:?}");
        }
        // An empty range still has its CSV header.
        let empty = billing
            .export(ExportKind::Invoices, ExportFormat::Csv, at("2030-01-01T00:00:00Z"), at("2030-02-01T00:00:00Z"))
            .unwrap()
            .flat_map(Result::unwrap)
            .collect::<Vec<u8>>();
        assert!(String::from_utf8(empty).unwrap().starts_with("id,number,customer"));
    }

    fn the_audit_chain_verifies_and_finds_an_edit(db) {
        let billing = engine(db, "audit");
        january(&billing);
        let verdict = shiyun_billing::audit::verify(billing.store().as_ref(), billing.id().unwrap()).unwrap();
        assert!(verdict.broken.is_none(), "{verdict:?}");
        assert!(verdict.entries >= 2, "drafted and finalised at least: {verdict:?}");
        // An edit that gets past the append-only trigger is still found.
        db.tamper_with_billing_audit("iss_audit", 2);
        let verdict = shiyun_billing::audit::verify(billing.store().as_ref(), billing.id().unwrap()).unwrap();
        assert_eq!(verdict.broken.map(|b| b.seq), Some(2));
    }
}
