//! The `shiyun` command line: `serve`, `migrate`, `demo`, `search`,
//! `catalog` (`import`, `sync`, `runs`) and `admin` (`create-operator`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::SecretString;
use shiyun_accounts::LettreNotifier;
use shiyun_accounts::{AccountError, AccountsConfig, UserCentre};
use shiyun_core::demo::DemoCatalog;
use shiyun_core::listing::Vendor;
use shiyun_core::store::{ListingFilter, ListingStore};
use shiyun_schema::{Database, PoolOptions};
use shiyun_search::CatalogIndex;

use crate::app::{AppState, Application};
use crate::search::SearchRuntime;
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
    /// Generate a demo catalog into the database, index it, then serve it.
    Demo(DemoArgs),
    /// Search the catalog from the command line (the index of `serve`).
    Search(SearchArgs),
    /// Vendor catalog import, sync and run reports.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Platform administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Billing: preview an invoice of a plan.
    #[command(subcommand)]
    Billing(crate::cli::billing::BillingCommand),
    /// Stream finance exports (invoices, usage, journal) to a file or stdout.
    Export(crate::cli::billing::ExportArgs),
    /// Check the billing audit chain.
    #[command(subcommand)]
    Audit(crate::cli::billing::AuditCommand),
    /// The deployment platform, as a client of the HTTP API: clusters,
    /// projects, applications, releases, scale, rollback, status, logs, cost.
    Deploy(crate::cli::deploy::DeployArgs),
}

/// `shiyun admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a platform operator account (or make an existing account one,
    /// given its password). Operators run catalog writes and syncs.
    CreateOperator(CreateOperatorArgs),
}

/// Options of `admin create-operator`.
#[derive(Debug, Args)]
pub struct CreateOperatorArgs {
    /// The operator's email address (their login).
    #[arg(long)]
    pub login: String,
    /// The password; when neither this nor `SHIYUN_OPERATOR_PASSWORD` is
    /// given, one is generated and printed.
    #[arg(long, env = "SHIYUN_OPERATOR_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Name shown to others.
    #[arg(long, default_value = "Platform operator")]
    pub display_name: String,
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

/// Options of `shiyun search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query, in Chinese and English (`4核8G 上海`, `mysql 8`).
    pub query: String,
    /// Currency prices are converted to (default: `[search] default_currency`).
    #[arg(long)]
    pub currency: Option<String>,
    /// Hits to show (1 to 100).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
    /// Fields to count values of, comma-separated (`vendor,category`).
    #[arg(long)]
    pub facets: Option<String>,
    /// Print the answer as the JSON of `GET /v1/search`.
    #[arg(long)]
    pub json: bool,
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
            let users = user_centre(
                &db,
                &settings,
                settings.accounts_config(signing_key(&settings)?),
            )?;
            serve(db, settings, users, None).await
        }
        Command::Migrate => {
            open_database(&settings).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Demo(args) => demo(settings, args).await,
        Command::Search(args) => crate::cli::search::run(settings, args).await,
        Command::Catalog(command) => crate::cli::catalog::run(settings, command).await,
        Command::Admin(AdminCommand::CreateOperator(args)) => create_operator(settings, args).await,
        Command::Billing(command) => crate::cli::billing::run_billing(settings, command).await,
        Command::Export(args) => crate::cli::billing::run_export(settings, args).await,
        Command::Audit(command) => crate::cli::billing::run_audit(settings, command).await,
        Command::Deploy(args) => crate::cli::deploy::run(args).await,
    }
}

/// The key access tokens are signed with: the configured one, or a random
/// one (tokens then end when the process does, and instances sharing a
/// database do not accept each other's tokens).
fn signing_key(settings: &Settings) -> Result<SecretString> {
    if let Some(key) = &settings.auth.signing_key {
        return Ok(key.clone());
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    tracing::warn!(
        "auth.signing_key is not set: using a random key, so every access token ends when this \
         process does; set SHIYUN_AUTH__SIGNING_KEY (32+ characters) to keep them, and the same \
         key on every instance"
    );
    Ok(SecretString::from(hex::encode(bytes)))
}

/// A random password of 24 letters and digits, for operators created
/// without one.
fn generated_password() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    // 256 is not a multiple of the alphabet, so the bias is tiny (< 1%
    // per character) and the password keeps well over 128 bits.
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// The user centre over the database with `config` (see
/// [`Settings::accounts_config`]), mailing through the outbox folder or SMTP
/// as the `[mail]` settings say.
pub fn user_centre(
    db: &Database,
    settings: &Settings,
    config: AccountsConfig,
) -> Result<UserCentre> {
    let notifier = LettreNotifier::from_settings(&settings.mail)?;
    UserCentre::try_new(Arc::new(db.clone()), config, Arc::new(notifier))
        .map_err(|e| anyhow::anyhow!("invalid auth settings: {}: {}", e.field_name(), e.message()))
}

async fn create_operator(settings: Settings, args: CreateOperatorArgs) -> Result<()> {
    let db = open_database(&settings).await?;
    let users = user_centre(
        &db,
        &settings,
        settings.accounts_config(signing_key_for_tools()?),
    )?;
    let (password, generated) = match args.password {
        Some(p) => (p, false),
        None => (generated_password()?, true),
    };
    let login = args.login.clone();
    let secret = password.clone();
    let account = tokio::task::spawn_blocking(move || {
        users.create_operator(&login, &secret, &args.display_name)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("cannot create the operator: {e}"))?;
    println!("operator {} ({})", args.login, account.id);
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

/// Tools that never issue tokens still need a key to build the user centre.
fn signing_key_for_tools() -> Result<SecretString> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(SecretString::from(hex::encode(bytes)))
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

/// Opens the search index of the settings for `db` (on a blocking thread).
pub async fn open_search_index(settings: &Settings) -> Result<Arc<CatalogIndex>> {
    let search = settings.search.clone();
    let store = redact(&settings.database_url);
    let index =
        tokio::task::spawn_blocking(move || crate::search::open_index(&search, &store)).await??;
    Ok(Arc::new(index))
}

/// Serves; with the demo operator's password, first deploys the demo's
/// application (see [`crate::deploy::demo_application`]).
async fn serve(
    db: Database,
    settings: Settings,
    users: UserCentre,
    demo_password: Option<String>,
) -> Result<()> {
    let index = open_search_index(&settings).await?;
    let state = AppState::new(db.clone(), users.clone(), settings.clone(), index);
    // Simulated clusters start empty with the process; the store says what runs.
    match state.deploy.reconcile_simulated().await {
        Ok(0) => {}
        Ok(applied) => tracing::info!(applied, "applications applied again on simulated clusters"),
        Err(error) => tracing::warn!(%error, "reconciling simulated clusters failed"),
    }
    if let Some(password) = &demo_password {
        match crate::deploy::demo_application(&state, &users, DEMO_OPERATOR, password).await {
            Ok(note) => eprintln!("{note}"),
            Err(error) => eprintln!("demo application not deployed: {error:#}"),
        }
    }
    let (state_billing, state_locks) = (state.billing.clone(), state.job_lock.clone());
    let state_wallets = state.wallets.clone();
    let state_payments = state.payments.clone();
    let meter = crate::deploy::meter(
        state.deploy.clone(),
        state.billing.clone(),
        Arc::new(settings.clone()),
    );
    // Caught up before the port opens: the first search already answers.
    let (search, warmed) = SearchRuntime::start(&state).await?;
    tracing::info!(
        listings = warmed.listings,
        seq = warmed.seq,
        rebuilt = warmed.rebuilt,
        took_ms = u64::try_from(warmed.took.as_millis()).unwrap_or(u64::MAX),
        "search index ready"
    );
    eprintln!(
        "search index: {} listings {} in {:.1}s",
        warmed.listings,
        if warmed.rebuilt {
            "indexed"
        } else {
            "up to date"
        },
        warmed.took.as_secs_f64()
    );
    let app =
        Application::bind(state).with_context(|| format!("cannot listen on {}", settings.bind))?;
    let address = std::net::SocketAddr::new(settings.bind.ip(), app.port());
    tracing::info!(%address, "serving");
    eprintln!("Shiyun is serving on http://{address}");
    let background = if settings.run_schedules {
        vec![
            tokio::spawn(crate::cli::catalog::run_schedules(db, settings.clone())),
            tokio::spawn(run_housekeeping(users, HOUSEKEEPING_EVERY)),
            tokio::spawn(crate::billing::run_bill_runs(
                state_billing,
                state_wallets,
                state_locks.clone(),
                settings.clone(),
            )),
            tokio::spawn(crate::payments::run_dunning(
                state_payments,
                state_locks,
                settings.clone(),
            )),
            tokio::spawn(crate::deploy::run_meter(
                meter,
                std::time::Duration::from_secs(settings.deploy.meter_interval_seconds.max(1)),
            )),
        ]
    } else {
        Vec::new()
    };
    let result = app.run().await;
    for task in background {
        task.abort();
    }
    search.stop().await;
    result.context("server failed")
}

/// How often `serve` purges the user centre's dead rows.
const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Purges the user centre's dead rows now and then `every` while the server
/// runs, on a blocking thread. Instances sharing a database may all run
/// it: a purge deletes only what is dead, so overlapping ones agree.
/// Aborting the task stops it between purges.
async fn run_housekeeping(users: UserCentre, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The first tick is at once.
        ticks.tick().await;
        let users = users.clone();
        match tokio::task::spawn_blocking(move || users.purge_expired()).await {
            Ok(Ok(report)) if report.total() > 0 => tracing::info!(
                codes = report.codes,
                refresh_tokens = report.refresh_tokens,
                sessions = report.sessions,
                login_throttles = report.login_throttles,
                invitations = report.invitations,
                "purged dead user-centre rows"
            ),
            Ok(Ok(_)) => tracing::debug!("no dead user-centre rows to purge"),
            Ok(Err(error)) => tracing::warn!(%error, "user-centre housekeeping failed"),
            Err(error) => tracing::error!(%error, "user-centre housekeeping stopped abnormally"),
        }
    }
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
    let users = user_centre(
        &db,
        &settings,
        settings.accounts_config(signing_key(&settings)?),
    )?;
    let base = format!("http://{}", settings.bind);
    let password = demo_operator(&users).await?;
    eprintln!("demo operator: login {DEMO_OPERATOR} password {password}");
    eprintln!(
        "log in: curl -s -X POST {base}/v1/auth/login -H 'content-type: application/json' \\
  -d '{{\"login\": \"{DEMO_OPERATOR}\", \"password\": \"{password}\"}}'"
    );
    if args.no_serve {
        // Index now, so a later `serve` starts with the catalog searchable.
        let index = open_search_index(&settings).await?;
        let warmed = crate::search::warm(
            index,
            Arc::new(db.clone()),
            Arc::new(db.clone()),
            Arc::new(db.clone()),
            settings.search.fx.clone(),
        )
        .await?;
        eprintln!(
            "search index: {} listings indexed in {:.1}s",
            warmed.listings,
            warmed.took.as_secs_f64()
        );
        return Ok(());
    }
    eprintln!("try: curl '{base}/v1/listings?vendor=alibaba&limit=3'");
    eprintln!(
        "try: curl '{base}/v1/search?q=4%E6%A0%B88G%20%E4%B8%8A%E6%B5%B7&facets=vendor,category'"
    );
    serve(db, settings, users, Some(password)).await
}

/// The operator account `shiyun demo` creates.
pub const DEMO_OPERATOR: &str = "operator@demo.shiyun.local";

/// Creates the demo operator, or gives the one an earlier demo run on this
/// database made a new password: either way a password to print.
async fn demo_operator(users: &UserCentre) -> Result<String> {
    let password = generated_password()?;
    let users = users.clone();
    let secret = password.clone();
    tokio::task::spawn_blocking(move || {
        match users.create_operator(DEMO_OPERATOR, &secret, "Demo operator") {
            Err(AccountError::BadCredentials) => {
                users.reset_operator_password(DEMO_OPERATOR, &secret)
            }
            made => made,
        }
    })
    .await?
    .map_err(|e| anyhow::anyhow!("could not set up the demo operator {DEMO_OPERATOR}: {e}"))?;
    Ok(password)
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

pub mod billing;
pub mod catalog;
pub mod deploy;
pub mod search;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{Duration as Span, Utc};
    use shiyun_accounts::{AccountsConfig, LettreNotifier, UserCentre};
    use shiyun_core::tenancy::{
        Account, AccountId, AccountStore, Identity, NewAccount, RefreshToken, Session, SessionId,
        SessionStore,
    };
    use shiyun_schema::testing::TestDatabase;

    use super::run_housekeeping;

    #[tokio::test]
    async fn housekeeping_purges_at_start_and_stops_when_aborted() {
        let db = TestDatabase::sqlite();
        let store = db.database().clone();
        let now = Utc::now();
        let account = Account {
            id: AccountId::from_random([7; 16]),
            email: Some("zhou@example.com".into()),
            email_verified_at: None,
            phone: None,
            phone_verified_at: None,
            display_name: "zhou".into(),
            operator: false,
            created_at: now - Span::days(2),
        };
        store
            .create_account(&NewAccount {
                account: account.clone(),
                password_hash: "unused".into(),
            })
            .unwrap();
        let expired = Session {
            id: SessionId::from_random([8; 16]),
            account: account.id.clone(),
            identity: Identity::Personal,
            created_at: now - Span::days(2),
            expires_at: now - Span::days(1),
            revoked_at: None,
        };
        let token = RefreshToken {
            hash: "sha256-of-old".into(),
            session: expired.id.clone(),
            issued_at: expired.created_at,
            expires_at: expired.expires_at,
        };
        store.create_session(&expired, &token).unwrap();

        let outbox = tempfile::tempdir().unwrap();
        let notifier = LettreNotifier::outbox(outbox.path()).unwrap();
        let users = UserCentre::try_new(
            std::sync::Arc::new(store.clone()),
            AccountsConfig::new("a housekeeping test key, 32+ bytes".to_owned().into()),
            std::sync::Arc::new(notifier),
        )
        .unwrap();
        // An hour apart: only the run at start can purge within the test.
        let task = tokio::spawn(run_housekeeping(users, Duration::from_secs(3600)));
        let mut purged = false;
        for _ in 0..200 {
            if store.get_session(&expired.id).unwrap().is_none() {
                purged = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(purged, "the expired session is purged at start");
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    }
}
