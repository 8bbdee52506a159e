//! A partner cloud embedding the billing crate as its own issuer, without
//! the server: define a meter and a plan, put a customer, subscribe it,
//! record usage (a replayed batch counts once), run the bill run and print
//! the invoice, then verify the audit chain.
//!
//! `cargo run -p shiyun-tests --example embed_billing [-- DATABASE_URL]`
//! (default: a SQLite file in a temporary directory; a `postgres://` URL
//! works alike).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use shiyun_billing::plan::Plan;
use shiyun_billing::{Billing, SubscribeRequest};
use shiyun_core::billing::{Aggregation, CustomerInput, Issuer, IssuerId, Meter, PageAfter};

fn main() -> anyhow::Result<()> {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            let dir = std::env::temp_dir().join(format!("shiyun-billing-{}", std::process::id()));
            format!("sqlite://{}/partner.sqlite", dir.display())
        }
    };
    let db = shiyun_schema::Database::open(&url, 4)?;
    db.migrate()?;

    // The partner is its own issuer, with its own invoice numbers.
    let issuer = Issuer {
        id: IssuerId::parse("iss_acmecloud")?,
        name: "Acme Cloud".into(),
        invoice_prefix: "ACME".into(),
        grace_period_hours: 0,
        late_window_days: 35,
    };
    let ids: shiyun_billing::IdSource = Arc::new(|| {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).unwrap_or_default();
        bytes
    });
    let billing = Billing::open(Arc::new(db), issuer, ids)?;
    let at = |text: &str| -> anyhow::Result<DateTime<Utc>> {
        Ok(DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc))
    };

    let _meter = billing.define_meter(&Meter {
        code: "gpu_hours".into(),
        name: "GPU hours".into(),
        aggregation: Aggregation::Sum,
        property: Some("hours".into()),
    })?;
    let plan = Plan::parse(
        &json!({
            "code": "gpu-monthly",
            "name": "GPU monthly",
            "currency": "CNY",
            "interval": "monthly",
            "billing_time": "calendar",
            "pay_in": "arrears",
            "recurring_fee": "199",
            "charges": [{"meter": "gpu_hours", "model": "graduated", "tiers": [
                {"up_to": "100", "unit_price": "12.5", "flat_fee": "0"},
                {"up_to": null, "unit_price": "9.8", "flat_fee": "0"}
            ]}]
        })
        .to_string(),
    )?;
    let created = at("2026-01-01T00:00:00Z")?;
    let _plan = billing.define_plan(&plan, created)?;
    billing.put_customer(
        &CustomerInput {
            external_id: "tenant-42".into(),
            name: "Tenant 42".into(),
            timezone: "Asia/Shanghai".into(),
            tax_rate: Decimal::new(6, 2),
        },
        created,
    )?;
    let _subscription = billing.subscribe(
        &SubscribeRequest {
            id: None,
            customer: "tenant-42".into(),
            plan: "gpu-monthly".into(),
            starts_on: "2026-01-01".parse()?,
            coupons: Vec::new(),
        },
        created,
    )?;

    let usage: Vec<_> = (0..12)
        .map(|day| {
            json!({
                "idempotency_key": format!("job-{day}"),
                "customer": "tenant-42",
                "meter": "gpu_hours",
                "timestamp": format!("2026-01-{:02}T09:00:00+08:00", day + 10),
                "properties": {"hours": "10.5"},
            })
        })
        .collect();
    let now = at("2026-01-31T17:00:00Z")?;
    let first = billing.ingest(&usage, now)?;
    let replay = billing.ingest(&usage, now)?;
    println!(
        "usage: {} accepted, then {} duplicates on replay",
        first.accepted, replay.duplicates
    );

    let run = billing.bill_run(now)?;
    println!(
        "bill run: {} drafted, {} finalised",
        run.drafted, run.finalized
    );
    let invoices = billing.store().list_invoices(
        billing.id()?,
        &Default::default(),
        &PageAfter {
            after: None,
            limit: 10,
        },
    )?;
    let invoice = invoices
        .first()
        .ok_or_else(|| anyhow::anyhow!("the bill run issued no invoice"))?;
    println!(
        "invoice {}: {} lines, subtotal {}, tax {}, total {}",
        invoice.number.as_deref().unwrap_or("(draft)"),
        invoice.lines.len(),
        invoice.totals.subtotal,
        invoice.totals.tax,
        invoice.totals.total
    );
    // 126 GPU hours: 100 at 12.5 and 26 at 9.8 is 1,504.80, plus the 199 fee is 1,703.80; 6 % tax is 102.23.
    anyhow::ensure!(
        invoice.totals.total.amount() == Decimal::new(180_603, 2),
        "unexpected total {}",
        invoice.totals.total
    );
    let verdict = shiyun_billing::audit::verify(billing.store().as_ref(), billing.id()?)?;
    println!(
        "audit chain: {} entries, {}",
        verdict.entries,
        if verdict.broken.is_none() {
            "intact"
        } else {
            "BROKEN"
        }
    );
    anyhow::ensure!(verdict.broken.is_none(), "audit chain broken");
    Ok(())
}
