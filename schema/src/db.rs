//! The connection enum, the pool, migrations and the transaction helpers.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::BigInt;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use shiyun_core::ValidationError;
use shiyun_core::store::{StoreError, StoreResult};

/// A connection to either backend; every query in this crate is written once
/// against it. Backend-specific SQL matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// An embedded SQLite database file.
    Sqlite(SqliteConnection),
    /// A PostgreSQL server.
    Pg(PgConnection),
}

/// The backend type of [`DbConnection`].
pub(crate) type Db = <DbConnection as Connection>::Backend;

/// Which database a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (bundled), the embedded default.
    Sqlite,
    /// PostgreSQL, the production and scale-out store.
    Postgres,
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Advisory lock keys (arbitrary constants, far from FNV job hashes by luck
/// only; a collision would merely serialise two unrelated things).
const MIGRATION_LOCK_KEY: i64 = 0x5348_4959_554E_0001;
const FEED_LOCK_KEY: i64 = 0x5348_4959_554E_0002;

/// How long SQLite lets a writer queue behind another (`busy_timeout`): a
/// demo load writes for a long while.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// How long a pool checkout waits for a connection: short, so a request
/// fails with `unavailable` soon when the database is gone instead of
/// hanging.
const CHECKOUT_WAIT: Duration = Duration::from_secs(5);

/// Opens connections of one backend. Not diesel's `ConnectionManager`: the
/// derived `DbConnection::establish` tries SQLite first and would turn any URL
/// into a file name.
#[derive(Clone)]
pub(crate) struct Manager {
    backend: Backend,
    target: String,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The target may carry a password.
        f.debug_struct("Manager")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let conn = match self.backend {
            Backend::Sqlite => SqliteConnection::establish(&self.target).map(DbConnection::Sqlite),
            Backend::Postgres => PgConnection::establish(&self.target).map(DbConnection::Pg),
        };
        conn.map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Per-connection SQLite settings: WAL lets readers run beside the writer,
/// `busy_timeout` makes writers queue instead of failing, and foreign keys
/// are off by default in SQLite.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(conn) = conn {
            // busy_timeout first: switching to WAL needs a lock that a
            // connection opened at the same moment may hold.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                BUSY_WAIT.as_millis()
            ))
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// The store: a pool of connections to SQLite or PostgreSQL. Cheap to clone;
/// clones share the pool (and, on SQLite, the job locks).
#[derive(Clone)]
pub struct Database {
    pub(crate) pool: Pool<Manager>,
    backend: Backend,
    /// Jobs locked in this process (SQLite only).
    pub(crate) local_jobs: Arc<Mutex<HashSet<String>>>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("max_connections", &self.pool.max_size())
            .finish_non_exhaustive()
    }
}

/// Splits a database URL into its backend and what the driver opens.
fn parse_url(url: &str) -> StoreResult<(Backend, String)> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        return Err(ValidationError::new("database_url", "names no database").into());
    }
    Ok((Backend::Sqlite, path.to_owned()))
}

impl Database {
    /// Opens a pool of at most `max_connections` (at least 1) connections.
    ///
    /// `postgres://…` or `postgresql://…` selects PostgreSQL; `sqlite://path`,
    /// `sqlite:path` or a plain path selects SQLite, creating the file and its
    /// parent directories. One connection is opened at once so a wrong URL
    /// fails here. Does not migrate: see [`Database::migrate`].
    pub fn open(url: &str, max_connections: u32) -> StoreResult<Database> {
        let (backend, target) = parse_url(url)?;
        let mut max_connections = max_connections.max(1);
        if backend == Backend::Sqlite {
            if target == ":memory:" {
                // Every connection would see its own empty database.
                max_connections = 1;
            } else if let Some(parent) = Path::new(&target).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create `{}`: {e}", parent.display()))
                })?;
            }
        }
        let manager = Manager { backend, target };
        // Fail fast with the driver's own message instead of a pool timeout.
        let first = manager.connect().map_err(|e| {
            StoreError::Unavailable(format!("cannot open the {backend:?} database: {e}"))
        })?;
        drop(first);
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_WAIT)
            .connection_customizer(Box::new(SqlitePragmas))
            .build_unchecked(manager);
        Ok(Database {
            pool,
            backend,
            local_jobs: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// The backend behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; running it again is harmless. Several
    /// instances may start at once: PostgreSQL migrates under a session
    /// advisory lock, SQLite under its write lock.
    pub fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
            StoreError::Internal(format!("migration failed: {e}"))
        };
        match &mut *conn {
            DbConnection::Sqlite(conn) => {
                // The write lock first, so two processes cannot both find a
                // migration pending and both apply it; diesel's per-migration
                // transactions nest as savepoints.
                conn.immediate_transaction(|conn| {
                    conn.run_pending_migrations(SQLITE_MIGRATIONS)
                        .map(|_| ())
                        .map_err(|e| TxError::Store(failed(e)))
                })
                .map_err(StoreError::from)?;
            }
            DbConnection::Pg(conn) => {
                diesel::sql_query("SELECT pg_advisory_lock($1)")
                    .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                    .execute(conn)
                    .map_err(map_diesel)?;
                let result = conn
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|_| ())
                    .map_err(failed);
                let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                    .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                    .execute(conn)
                    .map_err(map_diesel);
                result?;
                unlocked?;
            }
        }
        Ok(())
    }

    /// A pooled connection.
    pub(crate) fn conn(&self) -> StoreResult<PooledConnection<Manager>> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))
    }

    /// Runs `f` in one transaction that may append to the change feed.
    ///
    /// PostgreSQL: feed writers are serialised by a transaction advisory lock
    /// taken first, so `seq` values commit in increasing order and a reader of
    /// `seq > n` never later sees a smaller one appear. SQLite: `BEGIN
    /// IMMEDIATE` takes the write lock up front, so a transaction that reads
    /// before it writes cannot fail to upgrade (`SQLITE_BUSY`) midway.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
    ) -> StoreResult<T> {
        let mut pooled = self.conn()?;
        let conn: &mut DbConnection = &mut pooled;
        let result = match conn {
            DbConnection::Pg(_) => conn.transaction(|conn| {
                if let DbConnection::Pg(pg) = conn {
                    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                        .bind::<BigInt, _>(FEED_LOCK_KEY)
                        .execute(pg)?;
                }
                f(conn)
            }),
            DbConnection::Sqlite(_) => immediate_transaction(conn, f),
        };
        result.map_err(StoreError::from)
    }
}

/// `SqliteConnection::immediate_transaction`, but handing the closure the
/// `DbConnection` so the same query code runs inside.
fn immediate_transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
) -> Result<T, TxError> {
    if let DbConnection::Sqlite(sqlite) = conn {
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// The error inside a transaction: a diesel error (which rolls back) or a
/// store error raised by our own checks.
#[derive(Debug)]
pub(crate) enum TxError {
    Diesel(DieselError),
    Store(StoreError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Diesel(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

impl From<TxError> for StoreError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Diesel(e) => map_diesel(e),
            TxError::Store(e) => e,
        }
    }
}

/// Maps a diesel error to the store's: lost connections and a busy SQLite
/// are `Unavailable` (retrying may help), unique violations `Conflict`.
pub(crate) fn map_diesel(e: DieselError) -> StoreError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            StoreError::Conflict(info.message().to_owned())
        }
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
            StoreError::Conflict(format!("concurrent change: {}", info.message()))
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            info,
        ) => StoreError::Unavailable(info.message().to_owned()),
        DieselError::DatabaseError(_, info)
            if info.message().contains("database is locked")
                || info.message().contains("database is busy") =>
        {
            StoreError::Unavailable(info.message().to_owned())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        let cases = [
            ("postgres://u@h/db", Backend::Postgres, "postgres://u@h/db"),
            (
                "postgresql://h/db?x=1",
                Backend::Postgres,
                "postgresql://h/db?x=1",
            ),
            (
                "sqlite:///var/lib/shiyun.db",
                Backend::Sqlite,
                "/var/lib/shiyun.db",
            ),
            ("sqlite://data/shiyun.db", Backend::Sqlite, "data/shiyun.db"),
            ("sqlite:shiyun.db", Backend::Sqlite, "shiyun.db"),
            ("shiyun.db", Backend::Sqlite, "shiyun.db"),
        ];
        for (url, backend, target) in cases {
            assert_eq!(
                parse_url(url).unwrap(),
                (backend, target.to_owned()),
                "{url}"
            );
        }
        assert!(parse_url("sqlite:").is_err());
        assert!(parse_url("").is_err());
    }
}
