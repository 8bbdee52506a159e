//! What the user centre's authentication costs per request: the real server
//! in-process on 127.0.0.1 over a temporary SQLite database, called by a
//! keep-alive HTTP client, against a public read in the same run.
//!
//! - `public_vendors`: GET /v1/vendors, no token (one store read): the baseline;
//! - `session_me`: GET /v1/me with an access token acting as an enterprise
//!   (token check, session and member reads);
//! - `key_me`: GET /v1/me with an API key;
//! - `rejected_no_token`: GET /v1/me without a token (401);
//! - `login`: POST /v1/auth/login with the production argon2id settings.
//!
//! Each figure is the best of `SHIYUN_BENCH_ROUNDS` rounds (default 5) of
//! `SHIYUN_BENCH_REQUESTS` requests (default 2000), the cases interleaved
//! round by round since the machine is shared; first one after another,
//! then from 8 concurrent tasks. Logins: `SHIYUN_BENCH_LOGINS` (default 20)
//! a round, one after another.
//!
//! `cargo bench -p shiyun-server --bench gate`

#![expect(clippy::expect_used, reason = "a benchmark stops at the first failure")]

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{Value, json};
use shiyun_accounts::mail::outbox;
use shiyun_core::demo::DemoCatalog;
use shiyun_core::store::ListingStore;
use shiyun_server::{AppState, Application, Settings};

const SIGNING_KEY: &str = "bench-signing-key-0123456789abcdef-xyz";
const PASSWORD: &str = "Correct-Horse-Battery-42";
const LOGIN: &str = "bench@bench.shiyun.local";
const CONCURRENCY: usize = 8;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// One measured request shape.
#[derive(Clone)]
struct Case {
    name: &'static str,
    method: reqwest::Method,
    url: String,
    token: Option<String>,
    body: Option<Value>,
    status: u16,
}

impl Case {
    async fn once(&self, client: &reqwest::Client) {
        let mut request = client.request(self.method.clone(), &self.url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        // Read the whole body so the connection goes back to the pool.
        let body = response.bytes().await.expect("body");
        assert_eq!(
            status,
            self.status,
            "{}: {}",
            self.name,
            String::from_utf8_lossy(&body)
        );
    }

    /// Seconds for `n` requests one after another.
    async fn sequential(&self, client: &reqwest::Client, n: usize) -> f64 {
        let started = Instant::now();
        for _ in 0..n {
            self.once(client).await;
        }
        started.elapsed().as_secs_f64()
    }

    /// Seconds for `n` requests spread over [`CONCURRENCY`] tasks.
    async fn concurrent(&self, client: &reqwest::Client, n: usize) -> f64 {
        let per_task = n.div_ceil(CONCURRENCY);
        let started = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let case = self.clone();
                let client = client.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        case.once(&client).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        started.elapsed().as_secs_f64() * n as f64 / (per_task * CONCURRENCY) as f64
    }
}

async fn call(client: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {url}: {status} {answer}");
    answer
}

/// The confirmation code mailed to `to`, waiting for the background sender.
async fn mailed_code(dir: &Path, to: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(code) = outbox::latest_to(dir, to).and_then(|b| outbox::field(&b, "code")) {
            return code;
        }
        assert!(Instant::now() < deadline, "no code mailed to {to}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn token_of(answer: &Value) -> String {
    answer["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// Prints and answers requests per second; the mean latency is the time
/// per request times the requests in flight (`parallel`).
fn report(prefix: &str, name: &str, n: usize, parallel: usize, seconds: f64) -> f64 {
    let per_second = n as f64 / seconds;
    println!("{prefix}{name} = {per_second:.0} requests/s");
    println!(
        "{prefix}{name}_latency = {:.3} ms",
        seconds * 1000.0 * parallel as f64 / n as f64
    );
    per_second
}

#[tokio::main]
async fn main() {
    let requests = env_or("SHIYUN_BENCH_REQUESTS", 2_000);
    let rounds = env_or("SHIYUN_BENCH_ROUNDS", 5);
    let logins = env_or("SHIYUN_BENCH_LOGINS", 20);

    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::defaults().expect("default settings");
    settings.database_url = format!("sqlite://{}", dir.path().join("shiyun.db").display());
    settings.bind = "127.0.0.1:0".parse().expect("address");
    settings.run_schedules = false;
    settings.mail.outbox_dir = dir.path().join("outbox");
    settings.auth.signing_key = Some(SecretString::from(SIGNING_KEY.to_owned()));
    let db = shiyun_server::cli::open_database(&settings)
        .await
        .expect("database");
    let catalog: Vec<_> = DemoCatalog::new(7, 1_000).collect();
    db.upsert_listings(&catalog, chrono::Utc::now())
        .expect("demo catalog");
    // Production user-centre settings (argon2id included), but the
    // per-IP and per-login throttles would cap the login figure at 10 a
    // minute: lift them.
    let mut config = settings.accounts_config(SecretString::from(SIGNING_KEY.to_owned()));
    config.ip_attempts_per_minute = 1_000_000;
    config.login_attempts_per_minute = 1_000_000;
    let users = shiyun_server::cli::user_centre(&db, &settings, config).expect("user centre");
    let outbox_dir = settings.mail.outbox_dir.clone();
    let listener = TcpListener::bind(settings.bind).expect("listen");
    let index = shiyun_server::search::memory_index(&settings.search).expect("search index");
    let state = AppState::new(db, users, settings, std::sync::Arc::new(index));
    let app = Application::from_listener(listener, state).expect("application");
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = app.into_server();
    let handle = server.handle();
    tokio::spawn(server);

    // One keep-alive client with a pool as big as the concurrent pass.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let url = |path: &str| format!("{base}{path}");

    // A person: register, log in, confirm the email, found an enterprise,
    // act as it, and make an enterprise API key.
    call(
        &client,
        &url("/v1/auth/register"),
        None,
        json!({"login": LOGIN, "password": PASSWORD, "display_name": "Bench"}),
    )
    .await;
    let code = mailed_code(&outbox_dir, LOGIN).await;
    let login_body = json!({"login": LOGIN, "password": PASSWORD});
    let personal = token_of(&call(&client, &url("/v1/auth/login"), None, login_body.clone()).await);
    call(
        &client,
        &url("/v1/me/bindings/confirm"),
        Some(&personal),
        json!({"channel": "email", "code": code}),
    )
    .await;
    let enterprise = call(
        &client,
        &url("/v1/enterprises"),
        Some(&personal),
        json!({"name": "Bench Co"}),
    )
    .await;
    let enterprise = enterprise["id"].as_str().expect("enterprise id").to_owned();
    let access = token_of(
        &call(
            &client,
            &url("/v1/me/identity"),
            Some(&personal),
            json!({"identity": {"kind": "enterprise", "enterprise": enterprise}}),
        )
        .await,
    );
    let key = call(
        &client,
        &url("/v1/api-keys"),
        Some(&access),
        json!({"name": "bench", "template": "tpl_viewer"}),
    )
    .await;
    let key = key["secret"].as_str().expect("key secret").to_owned();

    let get = |name, token: Option<&str>, status| Case {
        name,
        method: reqwest::Method::GET,
        url: url(if name == "public_vendors" {
            "/v1/vendors"
        } else {
            "/v1/me"
        }),
        token: token.map(str::to_owned),
        body: None,
        status,
    };
    let cases = [
        get("public_vendors", None, 200),
        get("session_me", Some(&access), 200),
        get("key_me", Some(&key), 200),
        get("rejected_no_token", None, 401),
    ];
    let login = Case {
        name: "login",
        method: reqwest::Method::POST,
        url: url("/v1/auth/login"),
        token: None,
        body: Some(login_body),
        status: 200,
    };

    // Warm up: connections, pool, caches.
    for case in &cases {
        case.sequential(&client, 200).await;
    }
    login.sequential(&client, 2).await;

    let mut sequential = vec![f64::INFINITY; cases.len()];
    let mut concurrent = vec![f64::INFINITY; cases.len()];
    let mut login_best = f64::INFINITY;
    for round in 0..rounds {
        for (i, case) in cases.iter().enumerate() {
            sequential[i] = sequential[i].min(case.sequential(&client, requests).await);
        }
        for (i, case) in cases.iter().enumerate() {
            concurrent[i] = concurrent[i].min(case.concurrent(&client, requests).await);
        }
        login_best = login_best.min(login.sequential(&client, logins).await);
        eprintln!("round {}/{rounds} done", round + 1);
    }

    println!("requests_per_round = {requests} requests");
    println!("rounds = {rounds}");
    for (prefix, parallel, best) in [
        ("", 1, &sequential),
        ("concurrent_", CONCURRENCY, &concurrent),
    ] {
        let baseline = report(prefix, cases[0].name, requests, parallel, best[0]);
        for (case, seconds) in cases.iter().zip(best.iter()).skip(1) {
            let per_second = report(prefix, case.name, requests, parallel, *seconds);
            println!("{prefix}{}_ratio = {:.2}", case.name, per_second / baseline);
        }
    }
    println!("login = {:.1} logins/s", logins as f64 / login_best);
    println!(
        "login_latency = {:.1} ms",
        login_best * 1000.0 / logins as f64
    );

    handle.stop(false).await;
}
