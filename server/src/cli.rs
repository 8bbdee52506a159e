//! The `shiyun` command line: `serve`, `migrate`, `demo`, and `catalog`
//! (`import`, `sync`, `runs`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use shiyun_core::demo::DemoCatalog;
use shiyun_core::listing::Vendor;
use shiyun_core::store::{ListingFilter, ListingStore};
use shiyun_schema::{Database, PoolOptions};

use crate::app::{AppState, Application};
use crate::settings::Settings;
use crate::telemetry;

/// Shiyun (拾云): cloud resource marketplace and billing backend.
#[derive(Debug, Parser)]
#[command(name = "shiyun", version, about)]
pub struct Cli {
    /// Settings file (TOML); `SHIYUN_*` environment variables override it.
    #[arg(long, global = true, env = "SHIYUN_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the HTTP API until SIGTERM.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Generate a demo catalog into the database, then serve it.
    Demo(DemoArgs),
    /// Vendor catalog import, sync and run reports.
    #[command(subcommand)]
    Catalog(CatalogCommand),
}

/// Options of `shiyun demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of listings to generate.
    #[arg(long, default_value_t = 20_000)]
    pub listings: u64,
    /// Generator seed: the same seed gives the same catalog.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Address to serve on (overrides the `bind` setting).
    #[arg(long)]
    pub bind: Option<std::net::SocketAddr>,
    /// Generate and exit without serving.
    #[arg(long)]
    pub no_serve: bool,
}

/// `shiyun catalog …`.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Import saved vendor API responses (the exact bytes, one page per file).
    Import(ImportArgs),
    /// Sync a vendor live against its API (or the endpoint set in settings).
    Sync(SyncArgs),
    /// List recent sync and import runs.
    Runs(RunsArgs),
}

/// Output of `catalog import --dry-run`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DryRunFormat {
    /// One JSON object per line.
    Jsonl,
}

/// Options of `catalog import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Vendor id (aws, azure, gcp, alibaba, tencent, ibm, ctyun, kingsoft, ucloud).
    #[arg(long)]
    pub vendor: String,
    /// Request parameters the responses answered, `Key=Value` (repeatable), for
    /// price responses that do not repeat them (e.g. `RegionId=cn-hangzhou`).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Print the normalised listings instead of storing them.
    #[arg(long)]
    pub dry_run: bool,
    /// Dry-run output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: DryRunFormat,
    /// Response files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Options of `catalog sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Vendor id.
    #[arg(long)]
    pub vendor: String,
    /// Resume the vendor's last failed run from its page token.
    #[arg(long)]
    pub resume: bool,
}

/// Options of `catalog runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this vendor.
    #[arg(long)]
    pub vendor: Option<String>,
    /// How many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(settings.log_format);
    match cli.command {
        Command::Serve => {
            let db = open_database(&settings).await?;
            serve(db, settings).await
        }
        Command::Migrate => {
            open_database(&settings).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Demo(args) => demo(settings, args).await,
        Command::Catalog(command) => crate::cli::catalog::run(settings, command).await,
    }
}

/// Opens and migrates the database named by the settings.
pub async fn open_database(settings: &Settings) -> Result<Database> {
    let url = settings.database_url.clone();
    let options = PoolOptions {
        max_connections: settings.database_max_connections,
        checkout_timeout: std::time::Duration::from_millis(settings.database_checkout_timeout_ms),
    };
    tokio::task::spawn_blocking(move || {
        let db = Database::open_with(&url, options)
            .with_context(|| format!("cannot open database {}", redact(&url)))?;
        db.migrate().context("cannot migrate the database")?;
        Ok(db)
    })
    .await?
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

async fn serve(db: Database, settings: Settings) -> Result<()> {
    let state = AppState::new(db.clone(), settings.clone());
    let app =
        Application::bind(state).with_context(|| format!("cannot listen on {}", settings.bind))?;
    let address = std::net::SocketAddr::new(settings.bind.ip(), app.port());
    tracing::info!(%address, "serving");
    eprintln!("Shiyun is serving on http://{address}");
    let scheduler = if settings.run_schedules {
        Some(tokio::spawn(crate::cli::catalog::run_schedules(
            db,
            settings.clone(),
        )))
    } else {
        None
    };
    let result = app.run().await;
    if let Some(task) = scheduler {
        task.abort();
    }
    result.context("server failed")
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

async fn demo(mut settings: Settings, args: DemoArgs) -> Result<()> {
    if let Some(bind) = args.bind {
        settings.bind = bind;
    }
    let db = open_database(&settings).await?;
    let started = Instant::now();
    let store = db.clone();
    let (listings, seed) = (args.listings, args.seed);
    let report = tokio::task::spawn_blocking(move || -> Result<_> {
        let bar = progress_bar(listings, "generating demo catalog");
        let mut total = shiyun_core::store::UpsertReport::default();
        let mut generator = DemoCatalog::new(seed, listings);
        let seen_at = Utc::now();
        loop {
            let batch: Vec<_> = generator.by_ref().take(1_000).collect();
            if batch.is_empty() {
                break;
            }
            let report = store.upsert_listings(&batch, seen_at)?;
            total.absorb(report);
            bar.inc(batch.len() as u64);
            if bar.is_hidden() && (total.new + total.changed + total.unchanged) % 100_000 == 0 {
                tracing::info!(
                    done = total.new + total.changed + total.unchanged,
                    "demo catalog progress"
                );
            }
        }
        bar.finish_and_clear();
        Ok(total)
    })
    .await??;
    let count = {
        let store = db.clone();
        tokio::task::spawn_blocking(move || store.count_listings(&ListingFilter::default()))
            .await??
    };
    eprintln!(
        "demo catalog: {} listings generated in {:.1}s ({} new, {} changed, {} unchanged); {count} listings stored",
        args.listings,
        started.elapsed().as_secs_f64(),
        report.new,
        report.changed,
        report.unchanged,
    );
    if args.no_serve {
        return Ok(());
    }
    eprintln!(
        "try: curl 'http://{}/v1/listings?vendor=alibaba&limit=3'",
        settings.bind
    );
    serve(db, settings).await
}

fn parse_vendor(text: &str) -> Result<Vendor> {
    Vendor::parse(text).map_err(|e| anyhow::anyhow!("{}", e.message()))
}

fn parse_params(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => bail!("--param expects KEY=VALUE, got `{pair}`"),
        })
        .collect()
}

pub mod catalog;
