//! Per-test databases: a migrated temp SQLite file, or a fresh PostgreSQL
//! schema dropped again on `Drop`, so tests run in parallel without sharing
//! state.

use std::ops::Deref;

use diesel::prelude::*;

use crate::db::{Backend, Database};

/// Where [`TestDatabase::postgres`] connects unless `TEST_POSTGRES_URL` says
/// otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Pool size of a test database: enough for concurrency tests, small enough
/// for many parallel tests on one PostgreSQL.
const POOL_SIZE: u32 = 8;

enum Cleanup {
    /// The directory holding the database file; removed on drop.
    Sqlite(#[expect(dead_code, reason = "held only to be dropped")] tempfile::TempDir),
    /// The schema, dropped on drop.
    Postgres(#[expect(dead_code, reason = "held only to be dropped")] PgSchema),
}

/// A PostgreSQL schema dropped (with everything in it) on drop, also when a
/// test panics.
struct PgSchema {
    admin_url: String,
    name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.admin_url)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                diesel::sql_query(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
                    .execute(&mut conn)
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = dropped {
            // Never panic in drop: a leftover schema is only clutter.
            eprintln!("cannot drop test schema {}: {error}", self.name);
        }
    }
}

/// A migrated, private [`Database`] for one test. Derefs to the database.
///
/// Fields drop in order: the pool closes before the schema or file goes.
pub struct TestDatabase {
    db: Database,
    url: String,
    _cleanup: Cleanup,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// A migrated SQLite database in a new temp directory.
    ///
    /// # Panics
    ///
    /// When the file cannot be created or migrated: a broken test set-up.
    pub fn sqlite() -> TestDatabase {
        let dir = match tempfile::Builder::new().prefix("shiyun-test-").tempdir() {
            Ok(dir) => dir,
            Err(e) => panic!("cannot create a temp dir: {e}"),
        };
        let url = format!("sqlite://{}", dir.path().join("shiyun.db").display());
        let db = open_migrated(&url);
        TestDatabase {
            db,
            url,
            _cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A migrated PostgreSQL schema `test_<random>` in the database at
    /// `TEST_POSTGRES_URL` (default [`DEFAULT_POSTGRES_URL`]); the database's
    /// connections use it through `search_path`.
    ///
    /// # Panics
    ///
    /// When PostgreSQL cannot be reached or the schema cannot be created.
    pub fn postgres() -> TestDatabase {
        let admin_url =
            std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let schema = format!("test_{:016x}", fastrand::u64(..));
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) => panic!("cannot connect to PostgreSQL at {admin_url}: {e}"),
        };
        if let Err(e) = diesel::sql_query(format!("CREATE SCHEMA {schema}")).execute(&mut admin) {
            panic!("cannot create schema {schema}: {e}");
        }
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        // Guarded before migrating, so a failed migration still drops the schema.
        let schema = PgSchema {
            admin_url,
            name: schema,
        };
        let db = open_migrated(&url);
        TestDatabase {
            db,
            url,
            _cleanup: Cleanup::Postgres(schema),
        }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The URL the database was opened with, for code under test that opens
    /// its own [`Database`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}

fn open_migrated(url: &str) -> Database {
    let db = match Database::open(url, POOL_SIZE) {
        Ok(db) => db,
        Err(e) => panic!("cannot open test database {url}: {e}"),
    };
    if let Err(e) = db.migrate() {
        panic!("cannot migrate test database {url}: {e}");
    }
    db
}

impl Deref for TestDatabase {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.db
    }
}
