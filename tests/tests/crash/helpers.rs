//! The `shiyun` binary as a child process over a per-test database: one-off
//! commands with a deadline, a server started and killed with SIGKILL, an
//! operator's HTTP client, and the macro that runs a test on both backends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

pub(crate) use shiyun_tests::on_both_databases as on_both_backends;

/// The operator every test signs in as.
pub const OPERATOR: &str = "crash-operator@example.com";
/// The operator's password.
pub const PASSWORD: &str = "Crash-Test-Operator-Passphrase-42";
/// Fixed, so a restarted server accepts the tokens of the one it replaces.
const SIGNING_KEY: &str = "crash-test-signing-key-0123456789abcdef";

/// How long a server may take to answer `/readyz` on a loaded machine.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// The `shiyun` binary beside this test executable
/// (`target/debug/deps/crash-…` → `target/debug/shiyun`).
pub fn shiyun_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable sits in target/<profile>/deps");
    let bin = debug.join(format!("shiyun{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: build it first with `cargo build -p shiyun-server --bin shiyun` \
         (same CARGO_TARGET_DIR), or run the workspace's tests, which build it",
        bin.display()
    );
    bin
}

/// One test's surroundings: the database URL and a folder for the search
/// index, the mail outbox and the children's output.
pub struct Env {
    pub url: String,
    dir: tempfile::TempDir,
    files: AtomicU32,
}

/// What a finished child left behind.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Its stdout, after asserting it exited 0.
    pub fn ok(self, what: &str) -> String {
        assert!(
            self.status.success(),
            "`shiyun {what}` failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self.stdout
    }
}

/// A child with its output going to two files (never a pipe that could fill).
pub struct Running {
    pub child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    /// Waits until it exits, at most `within`; kills it and fails past that.
    pub fn wait(mut self, within: Duration) -> Finished {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "child did not finish within {within:?}\nstderr:\n{}",
                    read(&self.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Finished {
            status,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        }
    }

    /// Sends SIGKILL (what `Child::kill` sends on Unix) and reaps it.
    /// Returns how it ended: killed, or exited on its own just before.
    pub fn kill9(mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        Finished {
            status,
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Env {
    /// Surroundings for a test over the database at `url`.
    pub fn new(url: &str) -> Env {
        Env {
            url: url.to_owned(),
            dir: tempfile::Builder::new()
                .prefix("shiyun-crash-")
                .tempdir()
                .unwrap(),
            files: AtomicU32::new(0),
        }
    }

    /// `shiyun ARGS` with this test's settings and nothing from the
    /// developer's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(shiyun_bin());
        for (key, _) in std::env::vars() {
            if key.starts_with("SHIYUN_") {
                cmd.env_remove(key);
            }
        }
        let dir = self.dir.path();
        cmd.args(args)
            .env("SHIYUN_DATABASE_URL", &self.url)
            .env("SHIYUN_BIND", "127.0.0.1:0")
            .env("SHIYUN_RUN_SCHEDULES", "false")
            .env("SHIYUN_WORKERS", "2")
            .env("SHIYUN_AUTH__SIGNING_KEY", SIGNING_KEY)
            .env("SHIYUN_SEARCH__INDEX_DIR", dir.join("index"))
            .env("SHIYUN_MAIL__OUTBOX_DIR", dir.join("outbox"))
            .env("SHIYUN_LOG", "warn")
            .current_dir(dir)
            .stdin(Stdio::null());
        cmd
    }

    /// Starts `shiyun ARGS` with its output going to files of its own.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let stdout = self.dir.path().join(format!("{n}.stdout"));
        let stderr = self.dir.path().join(format!("{n}.stderr"));
        let child = self
            .command(args)
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", shiyun_bin().display()));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Runs `shiyun ARGS` to its end (at most `within`).
    pub fn run(&self, args: &[&str], within: Duration) -> Finished {
        self.spawn(args).wait(within)
    }

    /// Creates the operator [`OPERATOR`] with [`PASSWORD`].
    pub fn create_operator(&self) {
        self.run(
            &[
                "admin",
                "create-operator",
                "--login",
                OPERATOR,
                "--password",
                PASSWORD,
            ],
            Duration::from_secs(120),
        )
        .ok("admin create-operator");
    }
}

/// A running `shiyun serve`.
pub struct Server {
    running: Option<Running>,
    pub base: String,
}

impl Server {
    /// Starts `shiyun serve` on a free port and waits until `/readyz` says
    /// it is ready.
    pub async fn start(env: &Env) -> Server {
        let mut running = env.spawn(&["serve"]);
        let deadline = Instant::now() + READY_WITHIN;
        // The server prints where it listens once the port is open.
        let base = loop {
            let log = read(&running.stderr);
            if let Some(rest) = log.split("Shiyun is serving on ").nth(1) {
                break rest.lines().next().unwrap().trim().to_owned();
            }
            if let Some(status) = running.child.try_wait().unwrap() {
                panic!("shiyun serve exited ({status:?}) before serving:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "shiyun serve did not listen within {READY_WITHIN:?}:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let client = reqwest::Client::new();
        loop {
            let ready = client
                .get(format!("{base}/readyz"))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{base}/readyz not ready within {READY_WITHIN:?}:\n{}",
                read(&running.stderr)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Server {
            running: Some(running),
            base,
        }
    }

    /// `kill -9`: the process ends at once, with no shutdown of any kind.
    pub fn kill9(mut self) {
        let finished = self.running.take().unwrap().kill9();
        assert!(
            !finished.status.success(),
            "the server was killed, not stopped: {:?}",
            finished.status
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.kill9();
        }
    }
}

/// An operator's HTTP client of one server.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
    enterprise: String,
}

impl Api {
    /// Signs in as [`OPERATOR`] acting as an enterprise (a personal
    /// identity may not report usage): `enterprise` when given, else a new
    /// one. The enterprise's id is [`Api::enterprise`].
    pub async fn sign_in(base: &str, enterprise: Option<&str>) -> Api {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let mut api = Api {
            client,
            base: base.to_owned(),
            token: String::new(),
            enterprise: String::new(),
        };
        let tokens = api
            .post(
                "/v1/auth/login",
                &json!({"login": OPERATOR, "password": PASSWORD}),
                &[200],
            )
            .await;
        api.token = tokens["access_token"].as_str().unwrap().to_owned();
        api.enterprise = match enterprise {
            Some(id) => id.to_owned(),
            None => api
                .post(
                    "/v1/enterprises",
                    &json!({"name": "Crash Test Cloud"}),
                    &[201],
                )
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        };
        let identity = json!({"identity": {"kind": "enterprise", "enterprise": api.enterprise}});
        let tokens = api.post("/v1/me/identity", &identity, &[200]).await;
        api.token = tokens["access_token"].as_str().unwrap().to_owned();
        api
    }

    /// The enterprise the operator acts as.
    pub fn enterprise(&self) -> &str {
        &self.enterprise
    }

    /// Sends a request; the transport error, if any, is the caller's to judge.
    pub async fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Result<(StatusCode, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Sends a request and expects `expected`; answers the body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        expected: &[u16],
    ) -> Value {
        let (status, answer) = self.try_send(method.clone(), path, body).await.unwrap();
        assert!(
            expected.contains(&status.as_u16()),
            "{method} {path}: {status} {answer}"
        );
        answer
    }

    /// `POST path` expecting one of `expected`.
    pub async fn post(&self, path: &str, body: &Value, expected: &[u16]) -> Value {
        self.call(reqwest::Method::POST, path, Some(body), expected)
            .await
    }
}

/// A decimal that JSON carries as a string (or, leniently, a number).
pub fn decimal(value: &Value) -> Decimal {
    match value {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.to_string().parse().unwrap(),
        other => panic!("not a decimal: {other}"),
    }
}

/// A tokio runtime for a test body.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
