//! `shiyun billing preview`, `shiyun export …` and `shiyun audit verify`:
//! the billing engine from the command line, over the settings' database.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{NaiveDate, NaiveTime};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::Decimal;
use serde_json::Value;
use shiyun_billing::export::{ExportFormat, ExportKind};
use shiyun_billing::plan::Plan;
use shiyun_billing::preview::{PreviewEvent, PreviewRequest, PreviewUsage};
use shiyun_core::billing::{BillingStore, IssuerId, Meter};
use shiyun_core::money::parse_plain_decimal;

use crate::cli::open_database;
use crate::settings::Settings;

/// `shiyun billing …`.
#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Print the invoice a plan would issue for a period, as JSON (the
    /// total at `total.amount`); nothing is stored.
    Preview(PreviewArgs),
    /// Run a bill run now (under the same job lock as the schedule) and
    /// print its report as JSON.
    Run,
}

/// Options of `billing preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The plan, a JSON file in the plan format.
    #[arg(long)]
    pub plan: PathBuf,
    /// Usage as JSON lines: events (`meter`, `timestamp`, `properties`) or
    /// quantities (`{"meter": "api_calls", "quantity": "1200"}`).
    #[arg(long)]
    pub usage: Option<PathBuf>,
    /// First day of the period.
    #[arg(long)]
    pub from: NaiveDate,
    /// The day after the period.
    #[arg(long)]
    pub to: NaiveDate,
    /// Timezone of the days.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// Tax rate as a fraction (`0.06`).
    #[arg(long, default_value = "0")]
    pub tax_rate: String,
    /// Meters as a JSON array (default: the database's meters).
    #[arg(long)]
    pub meters: Option<PathBuf>,
}

/// Which export.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportWhat {
    /// Issued invoices whose period ends in the range.
    Invoices,
    /// Usage events dated in the range.
    Usage,
    /// Double-entry journal lines.
    Journal,
}

/// A format on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// CSV with a header row.
    Csv,
    /// JSON lines.
    Jsonl,
}

/// Options of `shiyun export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    pub what: ExportWhat,
    /// First day (UTC).
    #[arg(long)]
    pub from: NaiveDate,
    /// The day after the last (UTC).
    #[arg(long)]
    pub to: NaiveDate,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
    /// Write here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// `shiyun audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the billing audit chain and report the first edited, inserted
    /// or deleted entry; exits non-zero when the chain is broken.
    Verify(VerifyArgs),
}

/// Options of `audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The issuer whose chain to check.
    #[arg(long, default_value = "iss_marketplace")]
    pub issuer: String,
}

fn read_json_file(path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_usage(path: &PathBuf) -> Result<PreviewUsage> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut events = Vec::new();
    let mut quantities = BTreeMap::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), n + 1))?;
        if let Some(quantity) = value.get("quantity") {
            let meter = value
                .get("meter")
                .and_then(Value::as_str)
                .with_context(|| format!("{}:{}: no meter", path.display(), n + 1))?;
            let text = match quantity {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let parsed = parse_plain_decimal(&text)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), n + 1))?;
            *quantities.entry(meter.to_owned()).or_insert(Decimal::ZERO) += parsed;
        } else {
            let event: PreviewEvent = serde_json::from_value(value)
                .with_context(|| format!("{}:{}: not an event", path.display(), n + 1))?;
            events.push(event);
        }
    }
    match (events.is_empty(), quantities.is_empty()) {
        (false, false) => bail!("{}: give events or quantities, not both", path.display()),
        (false, true) => Ok(PreviewUsage::Events(events)),
        _ => Ok(PreviewUsage::Quantities(quantities)),
    }
}

/// Runs `shiyun billing …`.
pub async fn run_billing(settings: Settings, command: BillingCommand) -> Result<()> {
    let args = match command {
        BillingCommand::Preview(args) => args,
        BillingCommand::Run => return bill_run(settings).await,
    };
    let plan =
        Plan::parse(&read_json_file(&args.plan)?).map_err(|e| anyhow::anyhow!("plan: {e}"))?;
    let usage = match &args.usage {
        Some(path) => read_usage(path)?,
        None => PreviewUsage::Quantities(BTreeMap::new()),
    };
    let meters: BTreeMap<String, Meter> = match &args.meters {
        Some(path) => serde_json::from_str::<Vec<Meter>>(&read_json_file(path)?)
            .context("meters")?
            .into_iter()
            .map(|m| (m.code.clone(), m))
            .collect(),
        None => {
            let db = open_database(&settings).await?;
            let billing = crate::billing::marketplace(Arc::new(db), &settings);
            tokio::task::spawn_blocking(move || billing.meters()).await??
        }
    };
    let tax_rate = parse_plain_decimal(&args.tax_rate).map_err(|e| anyhow::anyhow!("{e}"))?;
    let invoice = shiyun_billing::preview::preview(&PreviewRequest {
        plan,
        from: args.from,
        to: args.to,
        timezone: args.timezone,
        tax_rate,
        coupons: Vec::new(),
        meters,
        usage,
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&invoice)?);
    Ok(())
}

async fn bill_run(settings: Settings) -> Result<()> {
    let db = open_database(&settings).await?;
    let billing = crate::billing::marketplace(Arc::new(db.clone()), &settings);
    let wallets = crate::billing::marketplace_wallets(Arc::new(db.clone()));
    let report = tokio::task::spawn_blocking(move || {
        crate::billing::locked_bill_run(&billing, &wallets, &db).map_err(|e| anyhow::anyhow!("{e}"))
    })
    .await??
    .ok_or_else(|| anyhow::anyhow!("a bill run is already running"))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Runs `shiyun export …`.
pub async fn run_export(settings: Settings, args: ExportArgs) -> Result<()> {
    let db = open_database(&settings).await?;
    let billing = crate::billing::marketplace(Arc::new(db.clone()), &settings);
    let kind = match args.what {
        ExportWhat::Invoices => ExportKind::Invoices,
        ExportWhat::Usage => ExportKind::Usage,
        ExportWhat::Journal => ExportKind::Journal,
    };
    let format = match args.format {
        FormatArg::Csv => ExportFormat::Csv,
        FormatArg::Jsonl => ExportFormat::Jsonl,
    };
    let from = args.from.and_time(NaiveTime::MIN).and_utc();
    let to = args.to.and_time(NaiveTime::MIN).and_utc();
    let output = args.output.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let export = billing
            .export(kind, format, from, to)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_wallet_ledger(Arc::new(db));
        let mut out: Box<dyn Write> = match &output {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} exporting: {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let mut bytes = 0usize;
        let mut lines = 0usize;
        for chunk in export {
            let chunk = chunk.map_err(|e| anyhow::anyhow!("{e}"))?;
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
            out.write_all(&chunk)?;
            bar.set_message(format!("{lines} lines, {} KiB", bytes / 1024));
            bar.tick();
        }
        out.flush()?;
        bar.finish_and_clear();
        eprintln!("exported {lines} lines ({bytes} bytes)");
        Ok(())
    })
    .await?
}

/// Runs `shiyun audit …`.
pub async fn run_audit(settings: Settings, command: AuditCommand) -> Result<()> {
    let AuditCommand::Verify(args) = command;
    let issuer = IssuerId::parse(&args.issuer).map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = open_database(&settings).await?;
    let verdict = tokio::task::spawn_blocking(move || {
        shiyun_billing::audit::verify(&db as &dyn BillingStore, &issuer)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    match verdict.broken {
        None => {
            println!("audit chain intact: {} entries", verdict.entries);
            Ok(())
        }
        Some(broken) => bail!(
            "audit chain broken at entry {}: {} ({} entries verified before it)",
            broken.seq,
            broken.reason,
            verdict.entries
        ),
    }
}
