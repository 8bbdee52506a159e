//! Spawns the real server on port 0 over a per-test database.

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use secrecy::SecretString;
use shiyun_core::demo::DemoCatalog;
use shiyun_core::listing::Listing;
use shiyun_core::store::ListingStore;
use shiyun_schema::testing::TestDatabase;
use shiyun_server::{AppState, Application, Settings};

/// The admin token every test server accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL reached as a role of its own, which a test can lock out.
    PostgresOwnRole,
}

/// A running server and its database.
pub struct TestApp {
    pub base: String,
    pub db: TestDatabase,
    pub client: reqwest::Client,
    handle: ServerHandle,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres(),
            Backend::PostgresOwnRole => TestDatabase::postgres_own_role(),
        };
        let mut settings = Settings::defaults().unwrap();
        settings.bind = "127.0.0.1:0".parse().unwrap();
        settings.workers = 2;
        settings.max_body_bytes = 64 * 1024;
        settings.admin_token = Some(SecretString::from(ADMIN_TOKEN.to_owned()));
        settings.run_schedules = false;
        tweak(&mut settings);
        let listener = TcpListener::bind(settings.bind).unwrap();
        let state = AppState::new(db.database().clone(), settings);
        let app = Application::from_listener(listener, state).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let server = app.into_server();
        let handle = server.handle();
        tokio::spawn(server);
        TestApp {
            base,
            db,
            client: reqwest::Client::new(),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
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
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting at once; the runtime ends the rest.
        drop(self.handle.stop(false));
    }
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
