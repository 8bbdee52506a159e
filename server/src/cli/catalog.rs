//! `shiyun catalog …`: import saved vendor responses, sync live, list runs;
//! and the scheduler `serve` runs.

use std::io::Write;

use anyhow::{Context, Result};
use chrono::Utc;
use serde::Serialize;
use shiyun_connectors::ImportContext;
use shiyun_core::listing::{Listing, Vendor};
use shiyun_core::store::{SyncRun, SyncRunStore};
use shiyun_schema::Database;

use super::{
    CatalogCommand, ImportArgs, RunsArgs, SyncArgs, open_database, parse_params, parse_vendor,
    write_line,
};
use crate::settings::Settings;

/// Runs a `catalog` subcommand.
pub async fn run(settings: Settings, command: CatalogCommand) -> Result<()> {
    match command {
        CatalogCommand::Import(args) => import(settings, args).await,
        CatalogCommand::Sync(args) => sync(settings, args).await,
        CatalogCommand::Runs(args) => runs(settings, args).await,
    }
}

/// One line of `--dry-run --format jsonl`.
#[derive(Serialize)]
struct DryRunLine<'a> {
    id: &'a str,
    vendor: Vendor,
    vendor_sku: &'a str,
    category: &'a str,
    region: &'a str,
    geography: String,
    name: &'a shiyun_core::listing::LocalizedText,
    specs: &'a shiyun_core::listing::Specs,
    prices: &'a [shiyun_core::listing::PriceComponent],
}

fn dry_run_line(listing: &Listing) -> Result<String> {
    Ok(serde_json::to_string(&DryRunLine {
        id: listing.id().as_str(),
        vendor: listing.vendor(),
        vendor_sku: listing.vendor_sku(),
        category: listing.category().as_str(),
        region: &listing.region().code,
        geography: listing.region().geography.to_string(),
        name: listing.name(),
        specs: listing.specs(),
        prices: listing.prices(),
    })?)
}

async fn import(settings: Settings, args: ImportArgs) -> Result<()> {
    let vendor = parse_vendor(&args.vendor)?;
    let ctx = ImportContext {
        fetched_at: Utc::now(),
        params: parse_params(&args.params)?,
    };
    let mut pages = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        pages.push((path.display().to_string(), bytes));
    }
    if args.dry_run {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let mut rejected = 0usize;
        for (label, bytes) in &pages {
            let page = shiyun_connectors::import_page(vendor, bytes, &ctx)
                .with_context(|| format!("{label}"))?;
            for listing in &page.listings {
                write_line(&mut out, &dry_run_line(listing)?)?;
            }
            for rejection in &page.rejections {
                rejected += 1;
                eprintln!(
                    "{label}: rejected {}: {}",
                    rejection.vendor_key, rejection.reason
                );
            }
        }
        out.flush()?;
        if rejected > 0 {
            eprintln!("{rejected} records rejected");
        }
        return Ok(());
    }
    let db = open_database(&settings).await?;
    let run = import_into(&db, vendor, pages, ctx).await?;
    print_run(&run);
    Ok(())
}

async fn import_into(
    db: &Database,
    vendor: Vendor,
    pages: Vec<(String, Vec<u8>)>,
    ctx: ImportContext,
) -> Result<SyncRun> {
    let _ = (db, vendor, pages, ctx);
    anyhow::bail!("storing imports lands with the sync engine")
}

async fn sync(settings: Settings, args: SyncArgs) -> Result<()> {
    let _ = (settings, args);
    anyhow::bail!("live sync lands with the sync engine")
}

async fn runs(settings: Settings, args: RunsArgs) -> Result<()> {
    let vendor = args.vendor.as_deref().map(parse_vendor).transpose()?;
    let db = open_database(&settings).await?;
    let limit = args.limit.clamp(1, 200);
    let runs = tokio::task::spawn_blocking(move || db.recent_sync_runs(vendor, limit)).await??;
    if runs.is_empty() {
        println!("no runs yet");
    }
    println!(
        "{:>5}  {:<9} {:<8} {:<10} {:<20} {:>9} {:>6} {:>8} {:>9} {:>8} {:>8}",
        "id",
        "vendor",
        "trigger",
        "status",
        "started",
        "duration",
        "pages",
        "new",
        "changed",
        "retired",
        "rejected"
    );
    for run in &runs {
        print_run_row(run);
    }
    Ok(())
}

fn duration_of(run: &SyncRun) -> String {
    match run.finished_at {
        Some(end) => format!(
            "{:.1}s",
            (end - run.started_at).num_milliseconds() as f64 / 1000.0
        ),
        None => "-".into(),
    }
}

fn print_run_row(run: &SyncRun) {
    println!(
        "{:>5}  {:<9} {:<8} {:<10} {:<20} {:>9} {:>6} {:>8} {:>9} {:>8} {:>8}",
        run.id,
        run.vendor.id(),
        run.trigger,
        run.status.as_str(),
        run.started_at.format("%Y-%m-%d %H:%M:%S"),
        duration_of(run),
        run.pages,
        run.report.new,
        run.report.changed,
        run.report.retired,
        run.rejected,
    );
}

fn print_run(run: &SyncRun) {
    println!(
        "run {} {} {}: {} pages, {} new, {} changed, {} unchanged, {} retired, {} rejected in {}",
        run.id,
        run.vendor,
        run.status.as_str(),
        run.pages,
        run.report.new,
        run.report.changed,
        run.report.unchanged,
        run.report.retired,
        run.rejected,
        duration_of(run),
    );
    for rejection in &run.rejections {
        println!("  rejected {}: {}", rejection.vendor_key, rejection.reason);
    }
    if let Some(error) = &run.error {
        println!("  error: {error}");
    }
}

/// Runs due vendor syncs while the server runs (lands with the sync engine).
pub async fn run_schedules(db: Database, settings: Settings) {
    let _ = (db, settings);
}
