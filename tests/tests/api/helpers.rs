//! Spawns the real server on port 0 over a per-test database, with its
//! mail going to a per-test outbox folder; and the steps every test takes
//! as a person (sign up, log in, create an enterprise, switch identity).

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use secrecy::SecretString;
use serde_json::{Value, json};
use shiyun_accounts::mail::outbox;
use shiyun_accounts::{AccountsConfig, UserCentre};
use shiyun_core::demo::DemoCatalog;
use shiyun_core::listing::Listing;
use shiyun_core::store::ListingStore;
use shiyun_schema::testing::TestDatabase;
use shiyun_server::search::SearchRuntime;
use shiyun_server::{AppState, Application, Settings};

/// The key every test server signs access tokens with (tests forge tokens with it).
pub const SIGNING_KEY: &str = "test-signing-key-0123456789abcdef-xyz";

/// A password every test person uses unless a test says otherwise.
pub const PASSWORD: &str = "Correct-Horse-Battery-42";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL reached as a role of its own, which a test can lock out.
    PostgresOwnRole,
}

/// A running server, its database and its outbox folder.
pub struct TestApp {
    pub base: String,
    pub db: TestDatabase,
    pub client: reqwest::Client,
    pub outbox: tempfile::TempDir,
    /// The server's user centre, for what only the CLI does (operators).
    pub users: UserCentre,
    /// The server's state: its search index and the views not yet written.
    pub state: AppState,
    /// The index's follower and the view flusher, stopped on drop.
    _search: SearchRuntime,
    /// Outbox messages [`TestApp::mailed`] has answered.
    seen: Mutex<HashSet<PathBuf>>,
    handle: ServerHandle,
}

/// Quick, lenient user-centre settings: tests make many accounts from one
/// address, and hash with little memory (the timing test sets its own).
pub fn fast_accounts(config: &mut AccountsConfig) {
    config.argon2_memory_kib = 1024;
    config.argon2_iterations = 1;
    config.ip_attempts_per_minute = 100_000;
    config.login_attempts_per_minute = 1_000;
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}, |_| {}).await
    }

    /// A server whose settings and user-centre configuration the test tweaks
    /// (after [`fast_accounts`]).
    pub async fn spawn_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
        tweak_accounts: impl FnOnce(&mut AccountsConfig),
    ) -> TestApp {
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres(),
            Backend::PostgresOwnRole => TestDatabase::postgres_own_role(),
        };
        let outbox = tempfile::tempdir().unwrap();
        let mut settings = Settings::defaults().unwrap();
        settings.bind = "127.0.0.1:0".parse().unwrap();
        settings.workers = 2;
        settings.max_body_bytes = 64 * 1024;
        settings.run_schedules = false;
        settings.mail.outbox_dir = outbox.path().to_owned();
        settings.auth.signing_key = Some(SecretString::from(SIGNING_KEY.to_owned()));
        tweak(&mut settings);
        let mut config = settings.accounts_config(SecretString::from(SIGNING_KEY.to_owned()));
        fast_accounts(&mut config);
        tweak_accounts(&mut config);
        let users = shiyun_server::cli::user_centre(db.database(), &settings, config).unwrap();
        let listener = TcpListener::bind(settings.bind).unwrap();
        let index = shiyun_server::search::memory_index(&settings.search).unwrap();
        let state = AppState::new(
            db.database().clone(),
            users.clone(),
            settings,
            std::sync::Arc::new(index),
        );
        let (search, _) = SearchRuntime::start(&state).await.unwrap();
        let app = Application::from_listener(listener, state.clone()).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let server = app.into_server();
        let handle = server.handle();
        tokio::spawn(server);
        TestApp {
            base,
            db,
            client: reqwest::Client::new(),
            outbox,
            users,
            state,
            _search: search,
            seen: Mutex::default(),
            handle,
        }
    }

    /// A platform operator (made as `shiyun admin create-operator` does), logged in.
    pub async fn operator(&self) -> Person {
        let login = "operator@test.shiyun.local";
        let users = self.users.clone();
        tokio::task::spawn_blocking(move || users.create_operator(login, PASSWORD, "Operator"))
            .await
            .unwrap()
            .unwrap();
        self.log_in(login, PASSWORD).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None, None).await
    }

    /// One request: `token` as the bearer, `body` as JSON; answers the
    /// status and the JSON body (`null` when there is none).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let response = self.send(method, path, token, body).await;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// As [`TestApp::call`], answering the response itself.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// A call that must answer `expected`; answers the body.
    pub async fn expect(
        &self,
        expected: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let (status, answer) = self.call(method, path, token, body.as_ref()).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        answer
    }

    /// Loads `n` demo listings straight into the store.
    pub fn seed_demo(&self, n: u64) -> Vec<Listing> {
        let listings: Vec<Listing> = DemoCatalog::new(11, n).collect();
        for chunk in listings.chunks(500) {
            self.db
                .database()
                .upsert_listings(chunk, chrono::Utc::now())
                .unwrap();
        }
        listings
    }

    /// The newest message to `to` in the outbox, waiting for the
    /// background sender (its decoded body).
    pub async fn mail_to(&self, to: &str) -> String {
        mail_to(self.outbox.path(), to).await
    }

    /// The `<label>: <value>` of the newest message to `to` that has such a
    /// line and that no earlier call answered, waiting for the background
    /// sender (so a code sent before is never taken for the one awaited).
    pub async fn mailed(&self, to: &str, label: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let fresh = outbox::messages_to(self.outbox.path(), to)
                .into_iter()
                .rev()
                .find(|m| {
                    !self.seen.lock().unwrap().contains(&m.path)
                        && value_of(&m.body, label).is_some()
                });
            if let Some(message) = fresh {
                self.seen.lock().unwrap().insert(message.path.clone());
                return value_of(&message.body, label).unwrap();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no new mail to {to} with a `{label}:` line"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Registers `login`, confirms its email with the mailed code, and logs in.
    pub async fn sign_up(&self, login: &str) -> Person {
        self.expect(
            202,
            "POST",
            "/v1/auth/register",
            None,
            Some(json!({"login": login, "password": PASSWORD, "display_name": login})),
        )
        .await;
        let code = self.mailed(login, "code").await;
        let mut person = self.log_in(login, PASSWORD).await;
        let account = self
            .expect(
                200,
                "POST",
                "/v1/me/bindings/confirm",
                Some(&person.access),
                Some(json!({"channel": "email", "code": code})),
            )
            .await;
        assert!(account["email_verified_at"].is_string(), "{account}");
        person.account = account["id"].as_str().unwrap().to_owned();
        person
    }

    /// Logs in; the person acts as their personal identity.
    pub async fn log_in(&self, login: &str, password: &str) -> Person {
        let tokens = self
            .expect(
                200,
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"login": login, "password": password})),
            )
            .await;
        let me = self
            .expect(
                200,
                "GET",
                "/v1/me",
                Some(tokens["access_token"].as_str().unwrap()),
                None,
            )
            .await;
        Person {
            login: login.to_owned(),
            account: me["account"]["id"].as_str().unwrap().to_owned(),
            access: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Switches the person's session to `identity` and keeps the new tokens.
    pub async fn switch(&self, person: &mut Person, identity: Value) {
        let tokens = self
            .expect(
                200,
                "POST",
                "/v1/me/identity",
                Some(&person.access),
                Some(json!({"identity": identity})),
            )
            .await;
        person.access = tokens["access_token"].as_str().unwrap().to_owned();
        person.refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    }

    /// The person creates an enterprise and switches to it; answers its id.
    pub async fn found_enterprise(&self, person: &mut Person, name: &str) -> String {
        let enterprise = self
            .expect(
                201,
                "POST",
                "/v1/enterprises",
                Some(&person.access),
                Some(json!({"name": name})),
            )
            .await;
        let id = enterprise["id"].as_str().unwrap().to_owned();
        self.switch(person, json!({"kind": "enterprise", "enterprise": id}))
            .await;
        id
    }

    /// `person` applies to `enterprise`, `admin` approves with `template`,
    /// and `person` switches to it.
    pub async fn join(
        &self,
        person: &mut Person,
        admin: &Person,
        enterprise: &str,
        template: &str,
    ) {
        let application = self
            .expect(
                201,
                "POST",
                &format!("/v1/enterprises/{enterprise}/applications"),
                Some(&person.access),
                Some(json!({"message": "hello"})),
            )
            .await;
        let id = application["id"].as_str().unwrap();
        self.expect(
            200,
            "POST",
            &format!("/v1/applications/{id}/approve"),
            Some(&admin.access),
            Some(json!({"template": template})),
        )
        .await;
        self.switch(
            person,
            json!({"kind": "enterprise", "enterprise": enterprise}),
        )
        .await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting at once; the runtime ends the rest.
        drop(self.handle.stop(false));
    }
}

/// A person with a live session.
#[derive(Debug, Clone)]
pub struct Person {
    pub login: String,
    pub account: String,
    pub access: String,
    pub refresh: String,
}

/// The newest message to `to` in the outbox folder `dir`, waiting up to
/// ten seconds for it.
pub async fn mail_to(dir: &Path, to: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(message) = outbox::latest_to(dir, to) {
            return message;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mail to {to} in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the last `<label>: <value>` line of a message.
pub fn value_of(message: &str, label: &str) -> Option<String> {
    let prefix = format!("{label}:");
    message
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix(&prefix))
        .map(|value| value.trim().to_owned())
}

/// Runs an async test body once on SQLite and once on PostgreSQL.
macro_rules! on_both_backends {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                use crate::helpers::Backend;

                async fn run($backend: Backend) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run(Backend::Postgres).await
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
