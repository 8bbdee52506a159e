//! `shiyun catalog …`: import saved vendor responses, sync live, list runs;
//! and the scheduler `serve` runs.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use shiyun_connectors::http::VendorClient;
use shiyun_connectors::schedule::job_name;
use shiyun_connectors::scheduler::Scheduler;
use shiyun_connectors::sync::{self, LogProgress, PageDone, SyncOptions, SyncProgress, SyncStores};
use shiyun_connectors::{Connector, ConnectorError, FetchedPage, ImportContext};
use shiyun_core::listing::{Listing, Vendor};
use shiyun_core::store::{JobLock, RunStatus, SyncRun, SyncRunStore};
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

/// Normalises each file in turn and hands the pages to `emit` (AWS offer
/// files arrive in batches). Stops when `emit` fails.
fn normalise_files(
    vendor: Vendor,
    files: &[PathBuf],
    ctx: &ImportContext,
    mut emit: impl FnMut(String, Result<FetchedPage, ConnectorError>) -> Result<(), ConnectorError>,
) -> Result<(), ConnectorError> {
    for path in files {
        let label = path.display().to_string();
        let imported = File::open(path)
            .map_err(|e| ConnectorError::Config(format!("cannot read {label}: {e}")))
            .and_then(|file| {
                shiyun_connectors::import_reader(vendor, BufReader::new(file), ctx, |page| {
                    emit(label.clone(), Ok(page))
                })
            });
        if let Err(e) = imported {
            emit(label, Err(e))?;
        }
    }
    Ok(())
}

async fn import(settings: Settings, args: ImportArgs) -> Result<()> {
    let vendor = parse_vendor(&args.vendor)?;
    let ctx = ImportContext {
        fetched_at: Utc::now(),
        params: parse_params(&args.params)?,
    };
    for path in &args.files {
        if !path.is_file() {
            anyhow::bail!("cannot read {}: not a file", path.display());
        }
    }
    if args.dry_run {
        let files = args.files.clone();
        return tokio::task::spawn_blocking(move || dry_run(vendor, &files, &ctx)).await?;
    }
    let db = open_database(&settings).await?;
    let stores = stores_of(&db);
    let progress = CliProgress::for_vendor(vendor);
    // A small bounded channel: the parser waits for the store, so memory stays flat.
    let (pages_tx, mut pages_rx) = tokio::sync::mpsc::channel(4);
    let files = args.files.clone();
    let producer = tokio::task::spawn_blocking(move || {
        normalise_files(vendor, &files, &ctx, |label, page| {
            pages_tx
                .blocking_send((label, page))
                .map_err(|_| ConnectorError::Config("the import stopped".into()))
        })
    });
    let pages = futures::stream::poll_fn(move |cx| pages_rx.poll_recv(cx));
    let run = sync::import_stream(vendor, pages, &stores, progress.as_ref()).await?;
    // The producer only fails when the consumer stopped, which the run reports.
    let _ = producer.await?;
    print_run(&run);
    Ok(())
}

fn dry_run(vendor: Vendor, files: &[PathBuf], ctx: &ImportContext) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut rejected = 0usize;
    let mut failure: Option<anyhow::Error> = None;
    normalise_files(vendor, files, ctx, |label, page| {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                failure = Some(anyhow::Error::new(e).context(label));
                return Err(ConnectorError::Config("stopped".into()));
            }
        };
        for listing in &page.listings {
            let line = dry_run_line(listing).map_err(|e| ConnectorError::Config(e.to_string()))?;
            write_line(&mut out, &line).map_err(|e| ConnectorError::Config(e.to_string()))?;
        }
        for rejection in &page.rejections {
            rejected += 1;
            eprintln!(
                "{label}: rejected {}: {}",
                rejection.vendor_key, rejection.reason
            );
        }
        Ok(())
    })
    .map_err(|e| failure.take().unwrap_or_else(|| e.into()))?;
    out.flush()?;
    if rejected > 0 {
        eprintln!("{rejected} records rejected");
    }
    Ok(())
}

fn stores_of(db: &Database) -> SyncStores {
    SyncStores {
        listings: Arc::new(db.clone()),
        runs: Arc::new(db.clone()),
    }
}

/// Shows sync progress: a spinner on a terminal, log lines otherwise.
struct CliProgress {
    bar: ProgressBar,
}

impl CliProgress {
    fn for_vendor(vendor: Vendor) -> Box<dyn SyncProgress> {
        if !std::io::stderr().is_terminal() {
            return Box::new(LogProgress);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_prefix(vendor.id());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Box::new(CliProgress { bar })
    }
}

impl SyncProgress for CliProgress {
    fn page_done(&self, page: &PageDone<'_>) {
        let run = page.run;
        self.bar.set_message(format!(
            "page {}{}: {} new, {} changed, {} unchanged, {} rejected",
            run.pages,
            page.label.map(|l| format!(" ({l})")).unwrap_or_default(),
            run.report.new,
            run.report.changed,
            run.report.unchanged,
            run.rejected,
        ));
    }

    fn finished(&self, _run: &SyncRun) {
        self.bar.finish_and_clear();
    }
}

async fn sync(settings: Settings, args: SyncArgs) -> Result<()> {
    let vendor = parse_vendor(&args.vendor)?;
    let db = open_database(&settings).await?;
    let mut options = SyncOptions::new("cli");
    if args.resume {
        let store = db.clone();
        let recent =
            tokio::task::spawn_blocking(move || store.recent_sync_runs(Some(vendor), 50)).await??;
        let failed = recent
            .into_iter()
            .find(|run| run.trigger != sync::IMPORT_TRIGGER)
            .filter(|run| run.status == RunStatus::Failed)
            .with_context(|| {
                format!("{vendor} has no failed run to resume (its last run did not fail)")
            })?;
        eprintln!("resuming run {} from page {}", failed.id, failed.pages + 1);
        options = options.resume(failed.id);
    }
    // The same lock as scheduled syncs: two runs of one vendor at once would
    // each see the other's listings as unseen.
    let store = db.clone();
    let guard = tokio::task::spawn_blocking(move || store.try_lock_job(&job_name(vendor)))
        .await??
        .with_context(|| {
            format!("a sync of {vendor} is running elsewhere; try again when it ends")
        })?;
    let run = sync_vendor(&db, &settings, vendor, options).await;
    drop(guard);
    let run = run?;
    print_run(&run);
    if run.status != RunStatus::Succeeded {
        anyhow::bail!(
            "sync of {vendor} failed; `shiyun catalog sync --vendor {vendor} --resume` continues it"
        );
    }
    Ok(())
}

/// Runs one sync of `vendor`; a failed run is saved and returned as an error.
async fn sync_vendor(
    db: &Database,
    settings: &Settings,
    vendor: Vendor,
    options: SyncOptions,
) -> Result<SyncRun> {
    let vendor_settings = settings.vendors.get(vendor);
    let client = VendorClient::new(vendor, vendor_settings)?;
    let connector = shiyun_connectors::connector_for(vendor, vendor_settings, client)?;
    let progress = CliProgress::for_vendor(vendor);
    let stores = stores_of(db);
    match sync::run_sync(connector.as_ref(), &stores, options, progress.as_ref()).await {
        Ok(run) => Ok(run),
        Err(e) => {
            // The engine saved the failed run with its resume token; show it.
            let store = db.clone();
            let last = tokio::task::spawn_blocking(move || store.recent_sync_runs(Some(vendor), 1))
                .await??;
            if let Some(run) = last.first() {
                print_run(run);
            }
            Err(anyhow::Error::new(e).context(format!("sync of {vendor} failed")))
        }
    }
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

/// Runs the vendors' scheduled syncs while the server runs (each firing once
/// across instances sharing the database).
pub async fn run_schedules(db: Database, settings: Settings) {
    let schedules = match settings.schedules() {
        Ok(schedules) => schedules,
        Err(e) => {
            tracing::error!(error = %e, "schedules not started");
            return;
        }
    };
    let vendors = settings.vendors.clone();
    let connect = move |vendor: Vendor| -> Result<Box<dyn Connector>, ConnectorError> {
        let vendor_settings = vendors.get(vendor);
        let client = VendorClient::new(vendor, vendor_settings)?;
        shiyun_connectors::connector_for(vendor, vendor_settings, client)
    };
    Scheduler::new(schedules, stores_of(&db), Arc::new(db), Arc::new(connect))
        .run()
        .await;
}
