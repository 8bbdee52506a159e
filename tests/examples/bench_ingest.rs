//! Usage ingest over HTTP into PostgreSQL against a bare SQL insert of the
//! same rows, in one run.
//!
//! Starts the real server in-process on a fresh PostgreSQL database
//! (`TEST_POSTGRES_URL`), logs an operator in (acting as an enterprise it
//! owns), defines a `sum` meter and 100 customers, then:
//!
//! - `bare_insert`: the same shape of rows (another issuer) with bare
//!   multi-row `INSERT … ON CONFLICT DO NOTHING`, 1,000 rows a statement,
//!   each its own transaction, from C threads;
//! - `ingest_http`: `POST /v1/usage/events` with batches of 1,000 fresh
//!   keys from C concurrent clients; every event must come back accepted;
//! - `ingest_duplicates`: a tenth of those batches sent again; every event
//!   must come back a duplicate.
//!
//! ```text
//! SHIYUN_BENCH_EVENTS=200000 SHIYUN_BENCH_CLIENTS=4 \
//!   cargo run --release -p shiyun-tests --example bench_ingest
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

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{Value, json};
use shiyun_core::billing::{Aggregation, CustomerInput, Meter, NewUsageEvent};
use shiyun_schema::testing::TestDatabase;
use shiyun_server::search::SearchRuntime;
use shiyun_server::{AppState, Application, Settings};

const BATCH: usize = 1_000;
const CUSTOMERS: usize = 100;
const SIGNING_KEY: &str = "bench-signing-key-0123456789abcdef-xyz";
const LOGIN: &str = "operator@bench.shiyun.local";
const PASSWORD: &str = "Correct-Horse-Battery-42";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map_or(default, |v| v.replace('_', "").parse().expect(name))
}

fn customer(i: usize) -> String {
    format!("c{:03}", i % CUSTOMERS)
}

/// Event `i` of a run as a client sends it.
fn event(prefix: &str, i: usize, at: &str) -> Value {
    json!({
        "idempotency_key": format!("{prefix}-{i}"),
        "customer": customer(i),
        "meter": "bytes",
        "timestamp": at,
        "properties": {"bytes": (i % 1_000) + 1},
    })
}

/// Batch bodies of events `[0, n)`, serialised before any clock starts.
fn bodies(prefix: &str, n: usize, at: &str) -> Vec<Vec<u8>> {
    (0..n)
        .step_by(BATCH)
        .map(|start| {
            let events: Vec<Value> = (start..(start + BATCH).min(n))
                .map(|i| event(prefix, i, at))
                .collect();
            serde_json::to_vec(&json!({ "events": events })).unwrap()
        })
        .collect()
}

/// Sends `bodies` from `clients` concurrent clients; returns the wall time
/// and the report totals (accepted, duplicates, other).
async fn send_all(
    base: &str,
    token: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    clients: usize,
) -> (Duration, usize, usize, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let bodies = bodies.clone();
        let next = next.clone();
        let url = format!("{base}/v1/usage/events");
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut accepted, mut duplicates, mut other) = (0, 0, 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("send a batch");
                let status = response.status();
                let report: Value = response.json().await.expect("a JSON answer");
                assert!(status.is_success(), "{status}: {report}");
                let count = |k: &str| report[k].as_u64().unwrap() as usize;
                accepted += count("accepted");
                duplicates += count("duplicates");
                other += count("conflicts") + count("rejected");
            }
            (accepted, duplicates, other)
        }));
    }
    let (mut accepted, mut duplicates, mut other) = (0, 0, 0);
    for task in tasks {
        let (a, d, o) = task.await.unwrap();
        accepted += a;
        duplicates += d;
        other += o;
    }
    (started.elapsed(), accepted, duplicates, other)
}

/// The same rows as the HTTP run sends, as the store would be handed them.
fn rows(n: usize, at: DateTime<Utc>) -> Vec<NewUsageEvent> {
    (0..n)
        .map(|i| {
            let bytes = (i % 1_000) + 1;
            NewUsageEvent {
                idempotency_key: format!("b-{i}"),
                customer: customer(i),
                meter: "bytes".into(),
                timestamp: at,
                value: Some(Decimal::from(bytes)),
                distinct_value: None,
                properties: json!({ "bytes": bytes }).to_string(),
                payload_hash: format!("{i:064x}"),
            }
        })
        .collect()
}

/// The bare insert of `rows` from `clients` threads, 1,000 rows a statement.
fn bare_insert(db: &shiyun_schema::Database, rows: &[NewUsageEvent], clients: usize) -> Duration {
    let chunks: Vec<&[NewUsageEvent]> = rows.chunks(BATCH).collect();
    let next = AtomicUsize::new(0);
    let inserted = AtomicUsize::new(0);
    let received_at = Utc::now().timestamp_micros();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else { break };
                    let n = db
                        .bench_bare_insert_usage("iss_benchbare", chunk, 1, received_at)
                        .unwrap();
                    inserted.fetch_add(n, Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    assert_eq!(inserted.into_inner(), rows.len(), "every bare row inserted");
    elapsed
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events = env_number("SHIYUN_BENCH_EVENTS", 200_000);
    let clients = env_number("SHIYUN_BENCH_CLIENTS", 4).max(1);
    let db = TestDatabase::postgres();

    let outbox = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults().unwrap();
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.workers = 2;
    settings.max_body_bytes = 4 * 1024 * 1024;
    settings.run_schedules = false;
    settings.mail.outbox_dir = outbox.path().to_owned();
    settings.auth.signing_key = Some(SecretString::from(SIGNING_KEY.to_owned()));
    let mut config = settings.accounts_config(SecretString::from(SIGNING_KEY.to_owned()));
    config.argon2_memory_kib = 1024;
    config.argon2_iterations = 1;
    let users = shiyun_server::cli::user_centre(db.database(), &settings, config).unwrap();
    let listener = TcpListener::bind(settings.bind).unwrap();
    let index = shiyun_server::search::memory_index(&settings.search).unwrap();
    let state = AppState::new(
        db.database().clone(),
        users.clone(),
        settings,
        Arc::new(index),
    );
    let (_search, _) = SearchRuntime::start(&state).await.unwrap();
    let app = Application::from_listener(listener, state.clone()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = app.into_server();
    let handle = server.handle();
    tokio::spawn(server);

    // The operator, the meter and the customers.
    let setup_users = users.clone();
    tokio::task::spawn_blocking(move || setup_users.create_operator(LOGIN, PASSWORD, "Operator"))
        .await
        .unwrap()
        .unwrap();
    let client = reqwest::Client::new();
    let tokens: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"login": LOGIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let personal = tokens["access_token"].as_str().expect("an access token");
    // Usage is written from an enterprise identity (its owner may do
    // anything); being an operator lets it report for any customer.
    let enterprise: Value = client
        .post(format!("{base}/v1/enterprises"))
        .bearer_auth(personal)
        .json(&json!({"name": "Bench Operator Ltd"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let enterprise = enterprise["id"].as_str().expect("an enterprise id");
    let switched: Value = client
        .post(format!("{base}/v1/me/identity"))
        .bearer_auth(personal)
        .json(&json!({"identity": {"kind": "enterprise", "enterprise": enterprise}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = switched["access_token"]
        .as_str()
        .expect("an enterprise access token")
        .to_owned();
    let billing = state.billing.clone();
    tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let _meter = billing
            .define_meter(&Meter {
                code: "bytes".into(),
                name: "Bytes".into(),
                aggregation: Aggregation::Sum,
                property: Some("bytes".into()),
            })
            .unwrap();
        for i in 0..CUSTOMERS {
            billing
                .put_customer(
                    &CustomerInput {
                        external_id: customer(i),
                        name: customer(i),
                        timezone: "UTC".into(),
                        tax_rate: Decimal::ZERO,
                    },
                    now,
                )
                .unwrap();
        }
    })
    .await
    .unwrap();

    let now = Utc::now();
    let at = now.to_rfc3339_opts(SecondsFormat::Millis, true);

    // Baseline first: it gets the emptier table, so the ratio errs low.
    let bare_rows = rows(events, now);
    let bare_db = db.database().clone();
    let bare = tokio::task::spawn_blocking(move || bare_insert(&bare_db, &bare_rows, clients))
        .await
        .unwrap();

    // One warm-up batch (connections, caches), not counted.
    let warm = Arc::new(bodies("w", BATCH, &at));
    let (_, warmed, _, _) = send_all(&base, &token, warm, 1).await;
    assert_eq!(warmed, BATCH, "the warm-up batch is accepted");

    let fresh = Arc::new(bodies("h", events, &at));
    let (http, accepted, duplicates, other) = send_all(&base, &token, fresh.clone(), clients).await;
    assert_eq!(
        (accepted, duplicates, other),
        (events, 0, 0),
        "every event accepted once"
    );

    // A tenth of the batches again (at least one): all duplicates.
    let sample: Vec<Vec<u8>> = fresh.iter().step_by(10).cloned().collect();
    let sample_events: usize = (0..events)
        .step_by(BATCH)
        .step_by(10)
        .map(|s| (events - s).min(BATCH))
        .sum();
    let (dup_time, accepted, duplicates, other) =
        send_all(&base, &token, Arc::new(sample), clients).await;
    assert_eq!(
        (accepted, duplicates, other),
        (0, sample_events, 0),
        "a resent batch is all duplicates"
    );

    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let http_rate = rate(events, http);
    let bare_rate = rate(events, bare);
    println!("ingest_events = {events} events");
    println!("ingest_clients = {clients} clients");
    println!("ingest_http = {http_rate:.0} events/s");
    println!("bare_insert = {bare_rate:.0} events/s");
    println!("ingest_ratio_to_bare = {:.2} x", http_rate / bare_rate);
    println!(
        "ingest_duplicates = {:.0} events/s",
        rate(sample_events, dup_time)
    );
    println!("ingest_duplicate_events = {sample_events} events");
    drop(handle.stop(false));
}
