//! `shiyun catalog …`: import saved vendor responses, sync live, list runs;
//! and the scheduler `serve` runs.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use shiyun_connectors::scheduler::Scheduler;
use shiyun_connectors::sync::{self, LogProgress, PageDone, SyncProgress, SyncStores};
use shiyun_connectors::{Connector, ConnectorError, ImportContext};
use shiyun_core::listing::{Listing, Vendor, VendorRef};
use shiyun_core::store::{RegionReport, SyncRun, SyncRunStore, SyncTrigger};
use shiyun_schema::Database;

use super::{
    CatalogCommand, ImportArgs, RunsArgs, SyncArgs, open_database, parse_params, parse_vendor,
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
    vendor: &'a VendorRef,
    vendor_sku: &'a str,
    category: &'a str,
    region: &'a str,
    geography: String,
    name: &'a shiyun_core::listing::LocalizedText,
    specs: &'a shiyun_core::listing::Specs,
    prices: &'a [shiyun_core::listing::PriceComponent],
}

fn write_dry_run_line(out: &mut impl Write, listing: &Listing) -> std::io::Result<()> {
    let line = DryRunLine {
        id: listing.id().as_str(),
        vendor: listing.vendor(),
        vendor_sku: listing.vendor_sku(),
        category: listing.category().as_str(),
        region: &listing.region().code,
        geography: listing.region().geography.to_string(),
        name: listing.name(),
        specs: listing.specs(),
        prices: listing.prices(),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
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
    let progress = CliProgress::for_vendor(vendor);
    let run = sync::import_files(vendor, args.files, ctx, &SyncStores::of(db), &progress).await?;
    print_run(&run);
    Ok(())
}

fn dry_run(vendor: Vendor, files: &[PathBuf], ctx: &ImportContext) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut rejected = 0usize;
    let mut regions = RegionReport::default();
    let mut failed_file = None;
    shiyun_connectors::normalise_files(vendor, files, ctx, |label, page| {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                failed_file = Some(label);
                return Err(e);
            }
        };
        for listing in &page.listings {
            write_dry_run_line(&mut out, listing).map_err(ConnectorError::Output)?;
        }
        for (code, count) in &page.skipped {
            regions.add_skipped(code, *count);
        }
        for code in &page.unknown_regions {
            regions.note_unknown(code);
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
    .map_err(|e| match failed_file.take() {
        Some(label) => anyhow::Error::new(e).context(label),
        None => e.into(),
    })?;
    out.flush().map_err(ConnectorError::Output)?;
    for line in region_lines(&regions) {
        eprintln!("{line}");
    }
    if rejected > 0 {
        eprintln!("{rejected} records rejected");
    }
    Ok(())
}

/// Shows sync progress (a spinner on a terminal, log lines otherwise) and
/// keeps the run as it ended, to print a failed one.
struct CliProgress {
    bar: Option<ProgressBar>,
    finished: Mutex<Option<SyncRun>>,
}

impl CliProgress {
    fn for_vendor(vendor: Vendor) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]")
            {
                bar.set_style(style);
            }
            bar.set_prefix(vendor.id());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        CliProgress {
            bar,
            finished: Mutex::new(None),
        }
    }

    /// The run as it ended, once it has.
    fn finished_run(&self) -> Option<SyncRun> {
        self.finished.lock().ok().and_then(|run| run.clone())
    }
}

impl SyncProgress for CliProgress {
    fn page_done(&self, page: &PageDone<'_>) {
        let Some(bar) = &self.bar else {
            return LogProgress.page_done(page);
        };
        let run = page.run;
        bar.set_message(format!(
            "page {}{}: {} new, {} changed, {} unchanged, {} rejected, {} skipped in test regions",
            run.pages,
            page.label.map(|l| format!(" ({l})")).unwrap_or_default(),
            run.report.new,
            run.report.changed,
            run.report.unchanged,
            run.rejected,
            run.regions.total_skipped(),
        ));
    }

    fn finished(&self, run: &SyncRun) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => LogProgress.finished(run),
        }
        if let Ok(mut finished) = self.finished.lock() {
            *finished = Some(run.clone());
        }
    }
}

async fn sync(settings: Settings, args: SyncArgs) -> Result<()> {
    let vendor = parse_vendor(&args.vendor)?;
    let connector = shiyun_connectors::connect(vendor, settings.vendors.get(vendor))?;
    let stores = SyncStores::of(open_database(&settings).await?);
    let exclusive =
        sync::start_exclusive(connector, &stores, SyncTrigger::Cli, args.resume).await?;
    if let Some(failed) = exclusive.resuming() {
        eprintln!("resuming run {} from page {}", failed.id, failed.pages + 1);
    }
    let progress = CliProgress::for_vendor(vendor);
    match exclusive.run(&stores, &progress).await {
        Ok(run) => {
            print_run(&run);
            Ok(())
        }
        Err(e) => {
            // The engine saved the failed run with its resume token; show it.
            if let Some(run) = progress.finished_run() {
                print_run(&run);
            }
            Err(anyhow::Error::new(e).context(format!(
                "sync of {vendor} failed; `shiyun catalog sync --vendor {vendor} --resume` continues it"
            )))
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
        "{:>5}  {:<9} {:<8} {:<10} {:<20} {:>9} {:>6} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}",
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
        "rejected",
        "skipped",
        "unknown",
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
        "{:>5}  {:<9} {:<8} {:<10} {:<20} {:>9} {:>6} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}",
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
        run.regions.total_skipped(),
        run.regions.unknown_regions.len(),
    );
    for line in region_lines(&run.regions) {
        println!("{line}");
    }
}

/// One indented line per test region skipped and per unknown region code:
/// neither is a rejection.
fn region_lines(regions: &RegionReport) -> impl Iterator<Item = String> + '_ {
    let skipped = regions
        .test_regions_skipped
        .iter()
        .map(|(code, count)| format!("  test region {code}: skipped {count}, never stored"));
    let unknown = regions.unknown_regions.iter().map(|code| {
        format!(
            "  unknown region {code}: offers stored under this code, not in the geography table"
        )
    });
    skipped.chain(unknown)
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
    for line in region_lines(&run.regions) {
        println!("{line}");
    }
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
        shiyun_connectors::connect(vendor, vendors.get(vendor))
    };
    Scheduler::new(schedules, SyncStores::of(db), Arc::new(connect))
        .run()
        .await;
}
