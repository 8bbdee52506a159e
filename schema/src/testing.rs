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
    /// The schema (and role, if any), dropped on drop.
    Postgres(PgSchema),
}

/// A PostgreSQL schema dropped (with everything in it) on drop, also when a
/// test panics.
struct PgSchema {
    admin_url: String,
    name: String,
    /// A login role of the test's own (named like the schema), dropped too.
    own_role: bool,
}

impl PgSchema {
    fn admin(&self) -> Result<PgConnection, String> {
        PgConnection::establish(&self.admin_url).map_err(|e| e.to_string())
    }

    /// Ends the role's sessions and, when `lock_out`, refuses it new ones.
    fn end_sessions(&self, conn: &mut PgConnection, lock_out: bool) -> Result<(), String> {
        if lock_out {
            diesel::sql_query(format!("ALTER ROLE {} NOLOGIN", self.name))
                .execute(conn)
                .map_err(|e| e.to_string())?;
        }
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
            self.name
        ))
        .execute(conn)
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let dropped = self.admin().and_then(|mut conn| {
            diesel::sql_query(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
                .execute(&mut conn)
                .map_err(|e| e.to_string())?;
            if self.own_role {
                self.end_sessions(&mut conn, true)?;
                diesel::sql_query(format!("DROP ROLE IF EXISTS {}", self.name))
                    .execute(&mut conn)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
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
    cleanup: Cleanup,
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
            cleanup: Cleanup::Sqlite(dir),
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
        Self::postgres_schema(false)
    }

    /// As [`TestDatabase::postgres`], but reached as a login role of its own,
    /// so [`TestDatabase::cut_off`] can lock it out: a real outage.
    ///
    /// # Panics
    ///
    /// As [`TestDatabase::postgres`].
    pub fn postgres_own_role() -> TestDatabase {
        Self::postgres_schema(true)
    }

    fn postgres_schema(own_role: bool) -> TestDatabase {
        let admin_url =
            std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let schema = format!("test_{:016x}", fastrand::u64(..));
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) => panic!("cannot connect to PostgreSQL at {admin_url}: {e}"),
        };
        let setup = if own_role {
            vec![
                format!("CREATE ROLE {schema} LOGIN"),
                format!("CREATE SCHEMA {schema} AUTHORIZATION {schema}"),
            ]
        } else {
            vec![format!("CREATE SCHEMA {schema}")]
        };
        for statement in setup {
            if let Err(e) = diesel::sql_query(&statement).execute(&mut admin) {
                panic!("cannot set up the test schema ({statement}): {e}");
            }
        }
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let mut url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        if own_role {
            // libpq lets a `user` parameter override the URL's user.
            url.push_str(&format!("&user={schema}"));
        }
        // Guarded before migrating, so a failed migration still drops the schema.
        let schema = PgSchema {
            admin_url,
            name: schema,
            own_role,
        };
        let db = open_migrated(&url);
        TestDatabase {
            db,
            url,
            cleanup: Cleanup::Postgres(schema),
        }
    }

    /// Locks the database's own role out and ends its sessions: every pooled
    /// connection breaks and no new one can be made.
    ///
    /// # Panics
    ///
    /// When the database was not made by [`TestDatabase::postgres_own_role`],
    /// or PostgreSQL refuses.
    pub fn cut_off(&self) {
        let Cleanup::Postgres(schema) = &self.cleanup else {
            panic!("cut_off needs a PostgreSQL test database");
        };
        assert!(
            schema.own_role,
            "cut_off needs TestDatabase::postgres_own_role"
        );
        let result = schema
            .admin()
            .and_then(|mut conn| schema.end_sessions(&mut conn, true));
        if let Err(e) = result {
            panic!("cannot cut off {}: {e}", schema.name);
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
