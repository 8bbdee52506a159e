//! `shiyun catalog …`: import saved vendor responses, sync live, list runs;
//! and the scheduler `serve` runs.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use shiyun_connectors::http::VendorClient;
use shiyun_connectors::schedule::job_name;
use shiyun_connectors::sync::{self, LogProgress, PageDone, SyncOptions, SyncProgress, SyncStores};
use shiyun_connectors::{ConnectorError, FetchedPage, ImportContext};
use shiyun_core::listing::{Listing, Vendor};
use shiyun_core::store::{JobGuard, JobLock, RunStatus, StoreResult, SyncRun, SyncRunStore};
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
            .find(|run| run.trigger != "import")
            .filter(|run| run.status == RunStatus::Failed)
            .with_context(|| {
                format!("{vendor} has no failed run to resume (its last run did not fail)")
            })?;
        eprintln!("resuming run {} from page {}", failed.id, failed.pages + 1);
        options = options.resume(failed.id);
    }
    let run = sync_vendor(&db, &settings, vendor, options).await?;
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

/// How often the scheduler looks for due syncs.
const SCHEDULER_TICK: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs due vendor syncs while the server runs. Each due sync runs under the
/// vendor's job lock, so instances sharing PostgreSQL run it once.
pub async fn run_schedules(db: Database, settings: Settings) {
    run_schedules_every(db, settings, SCHEDULER_TICK).await;
}

/// [`run_schedules`] looking for due syncs every `tick`.
pub async fn run_schedules_every(db: Database, settings: Settings, tick: std::time::Duration) {
    let schedules = match settings.schedules() {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(error = %e, "schedules not started");
            return;
        }
    };
    for entry in schedules.iter() {
        tracing::info!(vendor = %entry.vendor(), schedule = entry.expression(), "catalog sync scheduled");
    }
    let mut last_tick = Utc::now();
    loop {
        tokio::time::sleep(tick).await;
        let now = Utc::now();
        for vendor in schedules.due_between(last_tick, now) {
            let due_at = schedules
                .get(vendor)
                .and_then(|s| s.next_after(last_tick))
                .unwrap_or(now);
            run_due_sync(&db, &settings, vendor, due_at).await;
        }
        last_tick = now;
    }
}

/// Runs `vendor`'s sync for its firing at `due_at`, unless another instance
/// is running it or has already run it for that firing.
async fn run_due_sync(db: &Database, settings: &Settings, vendor: Vendor, due_at: DateTime<Utc>) {
    let store = db.clone();
    let claimed = tokio::task::spawn_blocking(move || -> StoreResult<Option<Box<dyn JobGuard>>> {
        let Some(guard) = store.try_lock_job(&job_name(vendor))? else {
            return Ok(None);
        };
        // The lock keeps two runs apart; this keeps an instance whose tick
        // came after another's finished run from running the firing again.
        let done = store
            .recent_sync_runs(Some(vendor), 10)?
            .iter()
            .any(|run| run.trigger == SCHEDULE_TRIGGER && run.started_at >= due_at);
        Ok((!done).then_some(guard))
    })
    .await;
    let guard = match claimed {
        Ok(Ok(Some(guard))) => guard,
        Ok(Ok(None)) => {
            tracing::info!(vendor = %vendor, "scheduled sync ran or runs elsewhere");
            return;
        }
        Ok(Err(e)) => {
            tracing::warn!(vendor = %vendor, error = %e, "cannot take the sync lock");
            return;
        }
        Err(e) => {
            tracing::warn!(vendor = %vendor, error = %e, "lock task failed");
            return;
        }
    };
    match sync_vendor(db, settings, vendor, SyncOptions::new(SCHEDULE_TRIGGER)).await {
        Ok(run) => tracing::info!(
            vendor = %vendor,
            run = run.id,
            new = run.report.new,
            changed = run.report.changed,
            retired = run.report.retired,
            "scheduled sync done"
        ),
        Err(e) => {
            tracing::warn!(vendor = %vendor, error = %format!("{e:#}"), "scheduled sync failed")
        }
    }
    drop(guard);
}

/// The trigger recorded on scheduled runs.
const SCHEDULE_TRIGGER: &str = "schedule";

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shiyun_core::store::ListingFilter;
    use shiyun_core::store::ListingStore;
    use shiyun_schema::testing::TestDatabase;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn azure_item(n: u32) -> serde_json::Value {
        serde_json::json!({
            "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": 0.5, "unitPrice": 0.5,
            "armRegionName": "westeurope", "location": "EU West", "effectiveStartDate": "2024-01-01T00:00:00Z",
            "meterId": format!("meter-{n}"), "meterName": "D2 v5", "productId": "DZH318Z0BQ4L",
            "skuId": format!("DZH318Z0BQ4L/{n:04}"), "productName": "Virtual Machines Dv5 Series",
            "skuName": "D2 v5", "serviceName": "Virtual Machines", "serviceId": "DZH313Z7MMC8",
            "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption",
            "isPrimaryMeterRegion": true, "armSkuName": "Standard_D2_v5"
        })
    }

    /// Settings syncing Azure every second from a local server answering one page.
    async fn every_second_settings() -> (MockServer, Settings) {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
                "Items": [azure_item(1), azure_item(2)], "NextPageLink": null, "Count": 2
            })))
            .mount(&server)
            .await;
        let mut settings = Settings::defaults().unwrap();
        let azure = &mut settings.vendors.azure;
        azure.endpoint = Some(format!("{}/api/retail/prices", server.uri()));
        azure.services = vec!["Virtual Machines".into()];
        azure.regions = vec!["westeurope".into()];
        azure.schedule = Some("* * * * * *".into());
        (server, settings)
    }

    async fn scheduled_sync_runs_on_time(db: TestDatabase) {
        let (_server, settings) = every_second_settings().await;
        let database = db.database().clone();
        let scheduler = tokio::spawn(run_schedules_every(
            database.clone(),
            settings,
            Duration::from_millis(100),
        ));
        let mut runs = Vec::new();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let store = database.clone();
            runs = tokio::task::spawn_blocking(move || {
                store.recent_sync_runs(Some(Vendor::Azure), 10)
            })
            .await
            .unwrap()
            .unwrap();
            if runs.iter().any(|r| r.status == RunStatus::Succeeded) {
                break;
            }
        }
        scheduler.abort();
        let run = runs
            .iter()
            .find(|r| r.status == RunStatus::Succeeded)
            .expect("a scheduled run succeeded");
        assert_eq!(run.trigger, "schedule");
        assert_eq!(run.report.new + run.report.unchanged, 2);
        let count = database.count_listings(&ListingFilter::default()).unwrap();
        assert_eq!(count, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduled_sync_runs_on_time_sqlite() {
        scheduled_sync_runs_on_time(TestDatabase::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduled_sync_runs_on_time_postgres() {
        scheduled_sync_runs_on_time(TestDatabase::postgres()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_run_each_firing_once() {
        let (server, settings) = every_second_settings().await;
        let db = TestDatabase::postgres();
        // A second instance: its own pool on the same PostgreSQL schema.
        let other = Database::open(db.url(), 4).unwrap();
        let tick = Duration::from_millis(50);
        let first = tokio::spawn(run_schedules_every(
            db.database().clone(),
            settings.clone(),
            tick,
        ));
        let second = tokio::spawn(run_schedules_every(other, settings, tick));
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        first.abort();
        second.abort();

        let store = db.database().clone();
        let runs =
            tokio::task::spawn_blocking(move || store.recent_sync_runs(Some(Vendor::Azure), 50))
                .await
                .unwrap()
                .unwrap();
        let mut starts: Vec<_> = runs
            .iter()
            .filter(|r| r.trigger == SCHEDULE_TRIGGER)
            .map(|r| r.started_at)
            .collect();
        starts.sort();
        assert!(
            starts.len() >= 2,
            "{} scheduled runs in 3.5 s",
            starts.len()
        );
        for pair in starts.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= chrono::Duration::milliseconds(200),
                "two runs of one firing: {} and {}",
                pair[0],
                pair[1]
            );
        }
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), starts.len(), "one vendor request per run");
    }
}
