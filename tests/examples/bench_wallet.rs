//! Wallet debits over HTTP into PostgreSQL against a bare single-row
//! `UPDATE … SET balance = balance - $1 … AND balance >= $1`, in one run.
//!
//! Starts the real server in-process on a fresh PostgreSQL database
//! (`TEST_POSTGRES_URL`) with a pool of `SHIYUN_BENCH_CONNECTIONS`
//! connections, logs an operator in, and credits wallets through the
//! engine. Then, each with C concurrent clients (threads for the bare SQL,
//! HTTP clients for the API), N debits of 0.01:
//!
//! - `spread`: every client debits a wallet of its own;
//! - `hot`: every client debits the same wallet.
//!
//! A store debit is one transaction that locks the wallet, draws credits,
//! writes both ledger sides, the prepaid balance and an audit entry; the
//! bare statement only moves the balance. Every debit must succeed, and the
//! balances must be what the debits left.
//!
//! ```text
//! SHIYUN_BENCH_DEBITS=20000 SHIYUN_BENCH_CLIENTS=64 \
//!   cargo run --release -p shiyun-tests --example bench_wallet
//! ```

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a benchmark stops at the first failure"
)]

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{Value, json};
use shiyun_core::billing::{CustomerInput, IssuerId};
use shiyun_core::money::{Currency, Money};
use shiyun_schema::Database;
use shiyun_schema::testing::TestDatabase;
use shiyun_server::{AppState, Application, Settings};

const SIGNING_KEY: &str = "bench-signing-key-0123456789abcdef-xyz";
const LOGIN: &str = "operator@bench.shiyun.local";
const PASSWORD: &str = "Correct-Horse-Battery-42";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map_or(default, |v| v.replace('_', "").parse().expect(name))
}

fn cny(amount: Decimal) -> Money {
    Money::new(amount, Currency::CNY)
}

/// The wallet debit `i` of a run goes to: one per client, or all the same.
fn wallet_of(prefix: &str, hot: bool, client: usize) -> String {
    if hot {
        format!("{prefix}-hot")
    } else {
        format!("{prefix}-{client:03}")
    }
}

/// `debits` HTTP debits of 0.01 from `clients` concurrent clients, keyed
/// `<run>-<i>`.
async fn http_run(
    base: &str,
    token: &str,
    run: &'static str,
    debits: usize,
    clients: usize,
    hot: bool,
) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let next = next.clone();
        let url = format!(
            "{base}/v1/billing/customers/{}/wallets/CNY/debits",
            wallet_of("h", hot, client)
        );
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= debits {
                    break;
                }
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"amount": "0.01", "key": format!("{run}-{i}")}))
                    .send()
                    .await
                    .expect("send a debit");
                let status = response.status().as_u16();
                assert_eq!(status, 201, "{}", response.text().await.unwrap_or_default());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

/// `debits` bare updates of 0.01 from `clients` threads.
fn bare_run(db: &Database, debits: usize, clients: usize, hot: bool) -> Duration {
    let next = AtomicUsize::new(0);
    let issuer = IssuerId::marketplace();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for client in 0..clients {
            let (next, issuer) = (&next, &issuer);
            scope.spawn(move || {
                let customer = wallet_of("b", hot, client);
                while next.fetch_add(1, Ordering::Relaxed) < debits {
                    let debited = db
                        .bench_bare_wallet_debit(
                            issuer,
                            &customer,
                            Currency::CNY,
                            &cny(Decimal::new(1, 2)),
                        )
                        .unwrap();
                    assert!(debited, "a bare debit found the balance");
                }
            });
        }
    });
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let debits = env_number("SHIYUN_BENCH_DEBITS", 20_000);
    let clients = env_number("SHIYUN_BENCH_CLIENTS", 64).max(1);
    let connections = env_number("SHIYUN_BENCH_CONNECTIONS", 64).max(1);
    let test_db = TestDatabase::postgres();
    // The server's store and the bare statements share one wide pool, used
    // by one of them at a time.
    let db = Database::open(test_db.url(), u32::try_from(connections).unwrap()).unwrap();

    let outbox = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults().unwrap();
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.workers = 2;
    settings.run_schedules = false;
    settings.mail.outbox_dir = outbox.path().to_owned();
    settings.auth.signing_key = Some(SecretString::from(SIGNING_KEY.to_owned()));
    let mut config = settings.accounts_config(SecretString::from(SIGNING_KEY.to_owned()));
    config.argon2_memory_kib = 1024;
    config.argon2_iterations = 1;
    let users = shiyun_server::cli::user_centre(&db, &settings, config).unwrap();
    let listener = TcpListener::bind(settings.bind).unwrap();
    let index = shiyun_server::search::memory_index(&settings.search).unwrap();
    let state = AppState::new(db.clone(), users.clone(), settings, Arc::new(index));
    let app = Application::from_listener(listener, state.clone()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = app.into_server();
    let handle = server.handle();
    tokio::spawn(server);

    let setup_users = users.clone();
    tokio::task::spawn_blocking(move || setup_users.create_operator(LOGIN, PASSWORD, "Operator"))
        .await
        .unwrap()
        .unwrap();
    let tokens: Value = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"login": LOGIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();

    // Customers and wallets: enough in each for every debit of a run.
    let (billing, wallets) = (state.billing.clone(), state.wallets.clone());
    let each = cny(Decimal::new(i64::try_from(debits).unwrap(), 2) + Decimal::ONE);
    tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let mut names: Vec<String> = Vec::new();
        for prefix in ["h", "b"] {
            names.push(wallet_of(prefix, true, 0));
            names.extend((0..clients).map(|c| wallet_of(prefix, false, c)));
        }
        for name in names {
            billing
                .put_customer(
                    &CustomerInput {
                        external_id: name.clone(),
                        name: name.clone(),
                        timezone: "UTC".into(),
                        tax_rate: Decimal::ZERO,
                    },
                    now,
                )
                .unwrap();
            let _credited = wallets
                .top_up(&name, each, &format!("seed-{name}"), None, now)
                .unwrap();
        }
    })
    .await
    .unwrap();

    // Warm-up (connections, caches), not counted.
    let _ = http_run(&base, &token, "warm", clients, clients, false).await;
    let warm_db = db.clone();
    tokio::task::spawn_blocking(move || bare_run(&warm_db, clients, clients, false))
        .await
        .unwrap();

    let mut figures = Vec::new();
    for hot in [false, true] {
        let bare_db = db.clone();
        let bare = tokio::task::spawn_blocking(move || bare_run(&bare_db, debits, clients, hot))
            .await
            .unwrap();
        let run = if hot { "hot" } else { "spread" };
        let http = http_run(&base, &token, run, debits, clients, hot).await;
        figures.push((run, http, bare));
    }

    // Every debit left its mark: the store's wallets hold what they should.
    let check = state.wallets.clone();
    let warm_total = clients;
    tokio::task::spawn_blocking(move || {
        let left = |name: &str| {
            check
                .wallet(name, Currency::CNY)
                .unwrap()
                .unwrap()
                .balance
                .amount()
        };
        let spread: Decimal = (0..clients).map(|c| left(&wallet_of("h", false, c))).sum();
        let start = each.amount() * Decimal::from(clients);
        let spent = Decimal::new(i64::try_from(debits + warm_total).unwrap(), 2);
        assert_eq!(spread, start - spent, "the spread wallets");
        let hot = left(&wallet_of("h", true, 0));
        assert_eq!(
            hot,
            each.amount() - Decimal::new(i64::try_from(debits).unwrap(), 2)
        );
    })
    .await
    .unwrap();

    let rate = |d: Duration| debits as f64 / d.as_secs_f64();
    println!("wallet_debits = {debits} debits");
    println!("wallet_clients = {clients} clients");
    println!("wallet_connections = {connections} connections");
    for (name, http, bare) in figures {
        println!("wallet_http_{name} = {:.0} debits/s", rate(http));
        println!("bare_update_{name} = {:.0} updates/s", rate(bare));
        println!(
            "wallet_ratio_to_bare_{name} = {:.3} x",
            rate(http) / rate(bare)
        );
    }
    drop(handle.stop(false));
}
