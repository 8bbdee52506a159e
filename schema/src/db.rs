//! The connection enum, the pool, migrations and the transaction helpers.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::BigInt;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use shiyun_core::store::{ContentionKind, StoreError, StoreResult};
use shiyun_core::{Detail, ValidationError};

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

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Advisory lock keys (arbitrary constants, far from FNV job hashes by luck
/// only; a collision would merely serialise two unrelated things).
const MIGRATION_LOCK_KEY: i64 = 0x5348_4959_554E_0001;
const FEED_LOCK_KEY: i64 = 0x5348_4959_554E_0002;

/// How long SQLite lets a writer queue behind another (`busy_timeout`): a
/// demo load writes for a long while.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// How a [`Database`]'s connection pool is sized and how long it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once (at least 1).
    pub max_connections: u32,
    /// How long a checkout waits for a connection: short, so a request fails
    /// with `unavailable` soon when the database is gone instead of hanging.
    pub checkout_timeout: Duration,
}

impl PoolOptions {
    /// `max_connections` connections and the default checkout wait (5 s).
    pub fn new(max_connections: u32) -> Self {
        PoolOptions {
            max_connections,
            checkout_timeout: Duration::from_secs(5),
        }
    }
}

/// How many times a transaction runs before a PostgreSQL serialisation
/// failure or deadlock is given up on: enough to ride out a burst of
/// contention, few enough that a hot row fails fast instead of piling up.
pub(crate) const MAX_ATTEMPTS: u32 = 4;

/// The backoff ceiling after the first failed attempt; it doubles after each
/// further one (10, 20, 40 ms), with jitter so two colliding transactions
/// do not collide again in lock-step.
const BACKOFF_BASE: Duration = Duration::from_millis(10);

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
/// clones share the pool (and, on SQLite, the job and feed locks).
#[derive(Clone)]
pub struct Database {
    pub(crate) pool: Pool<Manager>,
    backend: Backend,
    /// Jobs locked in this process (SQLite only).
    pub(crate) local_jobs: Arc<Mutex<HashSet<String>>>,
    /// The change-feed writers' lock on SQLite (PostgreSQL uses an advisory lock).
    pub(crate) feed_lock: Arc<FeedLock>,
}

/// SQLite's feed lock: a process-local mutex taken before the SQLite write
/// lock, so change-feed writers queue here, one at a time, and a feed-less
/// writer only ever competes with the one feed writer that holds it for
/// SQLite's lock. It counts its waiters so tests can see who queues on it.
#[derive(Debug, Default)]
pub(crate) struct FeedLock {
    state: Mutex<FeedLockState>,
    released: Condvar,
}

#[derive(Debug, Default)]
struct FeedLockState {
    held: bool,
    waiting: usize,
}

impl FeedLock {
    /// Waits for the lock; it is released when the guard drops.
    pub(crate) fn lock(&self) -> FeedLockGuard<'_> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.waiting += 1;
        while state.held {
            state = self
                .released
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.waiting -= 1;
        state.held = true;
        FeedLockGuard { lock: self }
    }

    /// How many callers wait for the lock now.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .waiting
    }
}

/// Holds [`FeedLock`] until dropped.
pub(crate) struct FeedLockGuard<'a> {
    lock: &'a FeedLock,
}

impl Drop for FeedLockGuard<'_> {
    fn drop(&mut self) {
        let mut state = self
            .lock
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.held = false;
        self.lock.released.notify_one();
    }
}

/// Isolation of a feed-less transaction ([`Database::transaction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isolation {
    /// PostgreSQL's default: each statement sees what committed before it.
    /// A rule that reads and then writes must lock what it read (`SELECT …
    /// FOR UPDATE`) or write conditionally (`UPDATE … WHERE balance - $1 >=
    /// floor`).
    ReadCommitted,
    /// PostgreSQL aborts one of two transactions whose interleaving no
    /// serial order explains; the helper runs it again.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the billing stores are its callers")
    )]
    Serializable,
}

/// Which of the two transaction helpers is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    /// [`Database::write`]: serialised with every other change-feed writer.
    Feed,
    /// [`Database::transaction`]: no feed lock.
    Plain(Isolation),
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
        Database::open_with(url, PoolOptions::new(max_connections))
    }

    /// As [`Database::open`], with every pool option given.
    pub fn open_with(url: &str, options: PoolOptions) -> StoreResult<Database> {
        let (backend, target) = parse_url(url)?;
        let mut max_connections = options.max_connections.max(1);
        if backend == Backend::Sqlite {
            if target == ":memory:" {
                // Every connection would see its own empty database.
                max_connections = 1;
            } else if let Some(parent) = Path::new(&target).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::unavailable(
                        "cannot create the database directory",
                        format!("`{}`: {e}", parent.display()),
                    )
                })?;
            }
        }
        let manager = Manager { backend, target };
        // Fail fast with the driver's own message instead of a pool timeout.
        let first = manager
            .connect()
            .map_err(|e| StoreError::unavailable("cannot open the database", e.to_string()))?;
        drop(first);
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(options.checkout_timeout)
            .connection_customizer(Box::new(SqlitePragmas))
            .build_unchecked(manager);
        Ok(Database {
            pool,
            backend,
            local_jobs: Arc::new(Mutex::new(HashSet::new())),
            feed_lock: Arc::default(),
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
            .map_err(|e| StoreError::unavailable("no database connection", e.to_string()))
    }

    /// Runs `f` in one transaction that may append to the change feed.
    ///
    /// Feed writers are serialised so `seq` values commit in increasing order
    /// and a reader of `seq > n` never later sees a smaller one appear.
    /// PostgreSQL: a transaction advisory lock taken first. SQLite: the
    /// process-local [`FeedLock`], then `BEGIN IMMEDIATE` (SQLite's one
    /// writer per file is what orders `seq` across processes).
    ///
    /// Retried like [`Database::transaction`], so `f` must be safe to run
    /// again from scratch.
    pub(crate) fn write<T>(
        &self,
        f: impl FnMut(&mut DbConnection) -> Result<T, TxError>,
    ) -> StoreResult<T> {
        self.run_transaction(TxKind::Feed, f)
    }

    /// Runs `f` in one transaction that writes no change-feed entry (usage
    /// events, ledgers, invoices, accounts), so it never queues behind a
    /// catalog sync holding the feed lock.
    ///
    /// PostgreSQL: a plain transaction at `isolation`. SQLite: `BEGIN
    /// IMMEDIATE` (SQLite's write lock, held by one writer per file for one
    /// transaction, and so also by a catalog write for one batch) without
    /// the feed lock; `isolation` changes nothing, SQLite transactions are
    /// serialisable.
    ///
    /// A PostgreSQL serialisation failure or deadlock rolls back and runs
    /// `f` again from scratch on a fresh transaction, at most
    /// [`MAX_ATTEMPTS`] times in all, after a short jittered backoff; then
    /// the call fails with [`StoreError::Contention`].
    pub(crate) fn transaction<T>(
        &self,
        isolation: Isolation,
        f: impl FnMut(&mut DbConnection) -> Result<T, TxError>,
    ) -> StoreResult<T> {
        self.run_transaction(TxKind::Plain(isolation), f)
    }

    /// The one body of both transaction helpers: a pooled connection, the
    /// transaction `kind` asks for, `f`, commit or roll back, and the retry.
    fn run_transaction<T>(
        &self,
        kind: TxKind,
        mut f: impl FnMut(&mut DbConnection) -> Result<T, TxError>,
    ) -> StoreResult<T> {
        self.retrying(|| {
            let mut pooled = self.conn()?;
            let conn: &mut DbConnection = &mut pooled;
            let result = match conn {
                DbConnection::Pg(_) => conn.transaction(|conn| {
                    match kind {
                        TxKind::Feed => {
                            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                                .bind::<BigInt, _>(FEED_LOCK_KEY)
                                .execute(conn)?;
                        }
                        TxKind::Plain(Isolation::Serializable) => {
                            // Allowed as the first statement of a transaction.
                            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                                .execute(conn)?;
                        }
                        TxKind::Plain(Isolation::ReadCommitted) => {}
                    }
                    f(conn)
                }),
                DbConnection::Sqlite(_) => {
                    let _feed = (kind == TxKind::Feed).then(|| self.feed_lock.lock());
                    immediate_transaction(conn, &mut f)
                }
            };
            result.map_err(StoreError::from)
        })
    }

    /// Runs `attempt` until it succeeds, fails for another reason than a
    /// retryable contention, or has run [`MAX_ATTEMPTS`] times: the one
    /// place that retries transactions.
    fn retrying<T>(&self, mut attempt: impl FnMut() -> StoreResult<T>) -> StoreResult<T> {
        let mut failed = 0;
        loop {
            match attempt() {
                Err(error) if retry_in_place(&error) && failed + 1 < MAX_ATTEMPTS => {
                    failed += 1;
                    tracing::debug!(
                        attempt = failed,
                        error = %error,
                        detail = error.detail().unwrap_or_default(),
                        "transaction lost to a concurrent one; running it again"
                    );
                    std::thread::sleep(backoff(failed));
                }
                other => return other,
            }
        }
    }
}

/// Whether running the transaction again at once may succeed: PostgreSQL
/// chose it as the victim of a serialisation failure or deadlock. A busy
/// SQLite is not retried here: `busy_timeout` already waited.
fn retry_in_place(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Contention {
            kind: ContentionKind::Serialization | ContentionKind::Deadlock,
            ..
        }
    )
}

/// The pause after `failed` failed attempts: half the doubling ceiling plus
/// a random part of the other half.
fn backoff(failed: u32) -> Duration {
    let ceiling = BACKOFF_BASE.saturating_mul(1 << failed.saturating_sub(1).min(6));
    ceiling / 2 + (ceiling / 2).mul_f64(fastrand::f64())
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

/// Maps a diesel error to the store's. The driver's text becomes the
/// error's [`Detail`], never its message:
///
/// - a unique violation is `AlreadyExists` (a store method that knows the
///   key means a replay or an idempotency conflict says so itself);
/// - a serialisation failure (40001), a deadlock (40P01) and a busy SQLite
///   (`SQLITE_BUSY`, `SQLITE_LOCKED`) are `Contention`;
/// - a lost connection is `Unavailable`;
/// - anything else is `Internal`.
pub(crate) fn map_diesel(e: DieselError) -> StoreError {
    let contention = |kind, message: &str| StoreError::Contention {
        kind,
        detail: Detail::new(message),
    };
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            StoreError::AlreadyExists {
                detail: Detail::new(info.message()),
            }
        }
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
            contention(ContentionKind::Serialization, info.message())
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            info,
        ) => StoreError::unavailable("the database connection was lost", info.message()),
        // diesel gives PostgreSQL's deadlock (40P01) no kind of its own;
        // the server's message is the only sign (English `lc_messages`).
        DieselError::DatabaseError(_, info) if info.message().starts_with("deadlock detected") => {
            contention(ContentionKind::Deadlock, info.message())
        }
        DieselError::DatabaseError(_, info)
            if info.message().contains("database is locked")
                || info.message().contains("database table is locked")
                || info.message().contains("database is busy") =>
        {
            contention(ContentionKind::Busy, info.message())
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

    #[test]
    fn diesel_errors_map_to_what_callers_branch_on() {
        let database =
            |kind, text: &str| DieselError::DatabaseError(kind, Box::new(text.to_owned()));
        let secret = "on table \"wallet_ledger\" at db-7.internal";
        type Expected = fn(&StoreError) -> bool;
        let cases: [(DieselError, Expected); 7] = [
            (database(DatabaseErrorKind::UniqueViolation, secret), |e| {
                matches!(e, StoreError::AlreadyExists { .. })
            }),
            (
                database(DatabaseErrorKind::SerializationFailure, secret),
                |e| {
                    matches!(
                        e,
                        StoreError::Contention {
                            kind: ContentionKind::Serialization,
                            ..
                        }
                    )
                },
            ),
            (
                database(
                    DatabaseErrorKind::Unknown,
                    &format!("deadlock detected {secret}"),
                ),
                |e| {
                    matches!(
                        e,
                        StoreError::Contention {
                            kind: ContentionKind::Deadlock,
                            ..
                        }
                    )
                },
            ),
            (
                database(
                    DatabaseErrorKind::Unknown,
                    &format!("database is locked {secret}"),
                ),
                |e| {
                    matches!(
                        e,
                        StoreError::Contention {
                            kind: ContentionKind::Busy,
                            ..
                        }
                    )
                },
            ),
            (database(DatabaseErrorKind::ClosedConnection, secret), |e| {
                matches!(e, StoreError::Unavailable { .. })
            }),
            (
                database(DatabaseErrorKind::UnableToSendCommand, secret),
                |e| matches!(e, StoreError::Unavailable { .. }),
            ),
            (database(DatabaseErrorKind::CheckViolation, secret), |e| {
                matches!(e, StoreError::Internal(_))
            }),
        ];
        for (error, expected) in cases {
            let mapped = map_diesel(error);
            assert!(expected(&mapped), "{mapped:?}");
            if !matches!(mapped, StoreError::Internal(_)) {
                // Internal is never shown to clients; everything else may be.
                assert!(!mapped.to_string().contains("db-7"), "{mapped}");
                assert!(mapped.detail().is_some_and(|d| d.contains("db-7")));
            }
        }
        assert!(matches!(
            map_diesel(DieselError::NotFound),
            StoreError::Internal(_)
        ));
    }

    #[test]
    fn only_postgres_contention_is_retried_in_place() {
        let contention = |kind| StoreError::Contention {
            kind,
            detail: Detail::new(""),
        };
        assert!(retry_in_place(&contention(ContentionKind::Serialization)));
        assert!(retry_in_place(&contention(ContentionKind::Deadlock)));
        assert!(!retry_in_place(&contention(ContentionKind::Busy)));
        assert!(!retry_in_place(&StoreError::unavailable("gone", "")));
        assert!(!retry_in_place(&StoreError::Conflict("stale".into())));
    }

    #[test]
    fn backoff_stays_under_its_doubling_ceiling() {
        for failed in 1..MAX_ATTEMPTS {
            let ceiling = BACKOFF_BASE * (1 << (failed - 1));
            let pause = backoff(failed);
            assert!(pause >= ceiling / 2 && pause <= ceiling, "{pause:?}");
        }
    }
}
