//! Per-test databases: a migrated temp SQLite file, or a PostgreSQL
//! database of the test's own cloned from a migrated template, dropped
//! again on `Drop`, so tests run in parallel without sharing state.
//!
//! # PostgreSQL templates
//!
//! Migrating from scratch for every test would queue every test behind the
//! migration lock and grow with every migration. Instead a template
//! database is migrated once and cloned with `CREATE DATABASE … TEMPLATE`,
//! as crates.io's test databases do. nextest runs each test in a process of
//! its own, so "once" is decided in PostgreSQL: the template is named after
//! a hash of the migrations (a changed migration makes a new template),
//! built under an advisory lock by whichever test comes first, renamed into
//! place only when complete, and never connected to afterwards (cloning
//! needs it to have no sessions).
//!
//! Clones are kept and reused rather than dropped after each test:
//! PostgreSQL 15 forces a checkpoint on every `DROP DATABASE`, which cost
//! about a second per test here, more than migrating did. A test takes a
//! free clone (a slot, held by a session advisory lock for the test's
//! life), ends every session left on it and empties its tables, so it
//! starts as a fresh clone would; a slot is cloned the first time it is
//! taken. When every slot is busy the test gets a clone of its own, dropped
//! `WITH (FORCE)` on `Drop`. [`TestDatabase::postgres_own_role`] adds a
//! login role granted the database, dropped (grants revoked) on `Drop`.
//! Tests must not change the schema of their database (they may create
//! their own schemas elsewhere). Every test process must use the same admin
//! database (`TEST_POSTGRES_URL`), where the advisory locks live. Slots
//! (`shiyun_test_<hash>_<n>`) and templates (`shiyun_tpl_<hash>`) of older
//! migrations stay behind; `DROP DATABASE` them at will when no test runs.

use std::ops::Deref;
use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::MigrationHarness;

use crate::db::{Backend, Database, POSTGRES_MIGRATIONS, PoolOptions};

/// Where [`TestDatabase::postgres`] connects unless `TEST_POSTGRES_URL` says
/// otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Pool size of a test database: enough for concurrency tests, small enough
/// for many parallel tests on one PostgreSQL.
const POOL_SIZE: u32 = 8;

/// The checkout wait of a database made to be cut off
/// ([`TestDatabase::postgres_own_role`]).
const OUTAGE_CHECKOUT_WAIT: Duration = Duration::from_millis(500);

/// The advisory lock under which the template is built (taken in the admin
/// database, so it spans every test process).
const TEMPLATE_LOCK_KEY: i64 = 0x5348_4959_554E_0010;

/// Prefix of per-test databases (and of their roles).
const TEST_DATABASE_PREFIX: &str = "shiyun_test_";

/// Prefix of template databases, followed by the migrations' hash.
const TEMPLATE_PREFIX: &str = "shiyun_tpl_";

/// How many reusable clones a template may have: more than the tests that
/// run at once on one machine.
const SLOTS: u64 = 32;

enum Cleanup {
    /// The directory holding the database file; removed on drop.
    Sqlite(#[expect(dead_code, reason = "held only to be dropped")] tempfile::TempDir),
    /// A PostgreSQL database of the test's; fields drop in order, so the
    /// role goes before the database is freed or dropped.
    Postgres {
        role: Option<PgRole>,
        #[expect(dead_code, reason = "held only to be dropped")]
        database: PgDatabase,
    },
}

/// Where a test's PostgreSQL database comes from.
enum PgDatabase {
    /// A reused clone, taken for as long as this admin session holds its
    /// advisory lock; dropping closes the session, which frees the slot.
    Slot(
        #[expect(dead_code, reason = "held only for its session lock")]
        std::sync::Mutex<PgConnection>,
    ),
    /// A clone of its own (every slot was busy), dropped on drop.
    Own(#[expect(dead_code, reason = "held only to be dropped")] OwnDatabase),
}

/// A database dropped on drop, also when a test panics.
struct OwnDatabase {
    admin_url: String,
    name: String,
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        // FORCE: a pool that outlives the test (a server still shutting
        // down) must not keep the database alive.
        let dropped = PgConnection::establish(&self.admin_url)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                execute(
                    &mut conn,
                    &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                )
            });
        if let Err(error) = dropped {
            // Never panic in drop: a leftover database is only clutter.
            eprintln!("cannot drop test database {}: {error}", self.name);
        }
    }
}

/// A login role of the test's own, granted its database; dropped on drop.
struct PgRole {
    admin_url: String,
    /// The admin's URL of the role's database, to revoke the grants there.
    database_url: String,
    name: String,
}

impl PgRole {
    fn admin(&self) -> Result<PgConnection, String> {
        PgConnection::establish(&self.admin_url).map_err(|e| e.to_string())
    }

    /// Ends the role's sessions and, when `lock_out`, refuses it new ones.
    fn end_sessions(&self, conn: &mut PgConnection, lock_out: bool) -> Result<(), String> {
        if lock_out {
            execute(conn, &format!("ALTER ROLE {} NOLOGIN", self.name))?;
        }
        execute(
            conn,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
                self.name
            ),
        )
    }
}

impl Drop for PgRole {
    fn drop(&mut self) {
        let dropped = self.admin().and_then(|mut admin| {
            self.end_sessions(&mut admin, true)?;
            let mut conn =
                PgConnection::establish(&self.database_url).map_err(|e| e.to_string())?;
            // Revokes its grants, so the role can go and the database stays.
            execute(&mut conn, &format!("DROP OWNED BY {}", self.name))?;
            drop(conn);
            execute(&mut admin, &format!("DROP ROLE IF EXISTS {}", self.name))
        });
        if let Err(error) = dropped {
            eprintln!("cannot drop test role {}: {error}", self.name);
        }
    }
}

/// A migrated, private [`Database`] for one test. Derefs to the database.
///
/// Fields drop in order: the pool closes before the database or file goes.
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
        let db = open_migrated(&url, PoolOptions::new(POOL_SIZE).checkout_timeout);
        TestDatabase {
            db,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A migrated PostgreSQL database `shiyun_test_<random>`, cloned from the
    /// template of the current migrations on the server at
    /// `TEST_POSTGRES_URL` (default [`DEFAULT_POSTGRES_URL`]).
    ///
    /// # Panics
    ///
    /// When PostgreSQL cannot be reached or the database cannot be created.
    pub fn postgres() -> TestDatabase {
        Self::postgres_database(false)
    }

    /// As [`TestDatabase::postgres`], but reached as a login role of its own,
    /// so [`TestDatabase::cut_off`] can lock it out: a real outage.
    ///
    /// # Panics
    ///
    /// As [`TestDatabase::postgres`].
    pub fn postgres_own_role() -> TestDatabase {
        Self::postgres_database(true)
    }

    fn postgres_database(own_role: bool) -> TestDatabase {
        let admin_url = admin_url();
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) => panic!("cannot connect to PostgreSQL at {admin_url}: {e}"),
        };
        let template = match ensure_template(&mut admin, &admin_url) {
            Ok(template) => template,
            Err(e) => panic!("cannot build the test template database: {e}"),
        };
        let (name, database) = match take_slot(&mut admin, &admin_url, &template) {
            Ok(Some(name)) => (name, PgDatabase::Slot(std::sync::Mutex::new(admin))),
            Ok(None) => {
                let name = format!("{TEST_DATABASE_PREFIX}{:016x}", fastrand::u64(..));
                let statement = format!("CREATE DATABASE {name} TEMPLATE {template}");
                if let Err(e) = execute(&mut admin, &statement) {
                    panic!("cannot set up the test database ({statement}): {e}");
                }
                let own = OwnDatabase {
                    admin_url: admin_url.clone(),
                    name: name.clone(),
                };
                (name, PgDatabase::Own(own))
            }
            Err(e) => panic!("cannot take a test database: {e}"),
        };
        let mut url = with_database(&admin_url, &name);
        let role = own_role.then(|| {
            let role = PgRole {
                admin_url: admin_url.clone(),
                database_url: url.clone(),
                name: format!("{TEST_DATABASE_PREFIX}role_{:016x}", fastrand::u64(..)),
            };
            // The tables belong to the template's owner: grant them.
            let created = role.admin().and_then(|mut admin| {
                execute(&mut admin, &format!("CREATE ROLE {} LOGIN", role.name))
            });
            let granted = created.and_then(|()| {
                let mut conn = PgConnection::establish(&url).map_err(|e| e.to_string())?;
                execute(
                    &mut conn,
                    &format!(
                        "GRANT ALL ON SCHEMA public TO {0}; \
                         GRANT ALL ON ALL TABLES IN SCHEMA public TO {0}; \
                         GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {0}",
                        role.name
                    ),
                )
            });
            if let Err(e) = granted {
                panic!("cannot give the test role {} its database: {e}", role.name);
            }
            role
        });
        if let Some(role) = &role {
            // libpq lets a `user` parameter override the URL's user.
            let separator = if url.contains('?') { '&' } else { '?' };
            url.push_str(&format!("{separator}user={}", role.name));
        }
        // A role made to be cut off waits briefly for connections, so an
        // outage test sees `unavailable` soon instead of after the default wait.
        let checkout_timeout = if own_role {
            OUTAGE_CHECKOUT_WAIT
        } else {
            PoolOptions::new(POOL_SIZE).checkout_timeout
        };
        let db = open_migrated(&url, checkout_timeout);
        TestDatabase {
            db,
            url,
            cleanup: Cleanup::Postgres { role, database },
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
        let Cleanup::Postgres {
            role: Some(role), ..
        } = &self.cleanup
        else {
            panic!("cut_off needs TestDatabase::postgres_own_role");
        };
        let result = role
            .admin()
            .and_then(|mut conn| role.end_sessions(&mut conn, true));
        if let Err(e) = result {
            panic!("cannot cut off {}: {e}", role.name);
        }
    }

    /// Edits one billing audit entry's payload behind the append-only
    /// triggers' back (set aside, then restored), as someone with direct
    /// database access could, so tests can show the chain check finds it.
    ///
    /// # Panics
    ///
    /// When the database refuses.
    pub fn tamper_with_billing_audit(&self, issuer: &str, seq: i64) {
        use diesel::connection::SimpleConnection;
        let edit = format!(
            "UPDATE billing_audit SET payload = payload || ' ' WHERE issuer_id = '{}' AND seq = {seq};",
            issuer.replace('\'', "''")
        );
        let mut conn = match self.db.conn() {
            Ok(conn) => conn,
            Err(e) => panic!("no connection: {e}"),
        };
        let sql = match &*conn {
            crate::db::DbConnection::Sqlite(_) => format!(
                "DROP TRIGGER billing_audit_no_update; {edit} \
                 CREATE TRIGGER billing_audit_no_update BEFORE UPDATE ON billing_audit \
                 BEGIN SELECT RAISE(ABORT, 'billing_audit is append-only'); END;"
            ),
            crate::db::DbConnection::Pg(_) => format!(
                "ALTER TABLE billing_audit DISABLE TRIGGER billing_audit_append_only; {edit} \
                 ALTER TABLE billing_audit ENABLE TRIGGER billing_audit_append_only;"
            ),
        };
        if let Err(e) = conn.batch_execute(&sql) {
            panic!("cannot edit the billing audit: {e}");
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

/// `TEST_POSTGRES_URL` (default [`DEFAULT_POSTGRES_URL`]), with
/// `sslmode=disable` unless it names an `sslmode`: the test server is local,
/// and libpq's OpenSSL tears itself down at process exit while a pool thread
/// may still be connecting, which crashed test processes (SIGSEGV) after
/// their test had passed.
fn admin_url() -> String {
    let url =
        std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    if url.contains("sslmode=") {
        return url;
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

fn open_migrated(url: &str, checkout_timeout: Duration) -> Database {
    let options = PoolOptions {
        max_connections: POOL_SIZE,
        checkout_timeout,
    };
    let db = match Database::open_with(url, options) {
        Ok(db) => db,
        Err(e) => panic!("cannot open test database {url}: {e:#}"),
    };
    // A no-op on a clone of the template; it still checks the clone is current.
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

fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), String> {
    conn.batch_execute(sql).map_err(|e| e.to_string())
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn database_exists(conn: &mut PgConnection, name: &str) -> Result<bool, String> {
    let found: Found =
        diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(conn)
            .map_err(|e| e.to_string())?;
    Ok(found.n > 0)
}

/// The name of the template of the current migrations, built first if no
/// test process has built it yet.
fn ensure_template(admin: &mut PgConnection, admin_url: &str) -> Result<String, String> {
    let name = format!("{TEMPLATE_PREFIX}{:016x}", migrations_hash());
    if database_exists(admin, &name)? {
        return Ok(name);
    }
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(admin)
        .map_err(|e| e.to_string())?;
    let built = build_template(admin, admin_url, &name);
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(admin)
        .map_err(|e| e.to_string());
    built?;
    unlocked?;
    Ok(name)
}

/// Takes the first free slot of `template` on the admin session (its
/// advisory lock lasts as long as that session), cloning the slot's
/// database if it does not exist yet and emptying it if it does. `None`
/// when every slot is busy.
fn take_slot(
    admin: &mut PgConnection,
    admin_url: &str,
    template: &str,
) -> Result<Option<String>, String> {
    let migrations = template.trim_start_matches(TEMPLATE_PREFIX);
    for slot in 0..SLOTS {
        let name = format!("{TEST_DATABASE_PREFIX}{migrations}_{slot}");
        let key = i64::from_be_bytes(fnv1a(name.as_bytes()).to_be_bytes());
        let taken: Taken = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS taken")
            .bind::<BigInt, _>(key)
            .get_result(admin)
            .map_err(|e| e.to_string())?;
        if !taken.taken {
            continue;
        }
        if !database_exists(admin, &name)? {
            execute(
                admin,
                &format!("CREATE DATABASE {name} TEMPLATE {template}"),
            )?;
            return Ok(Some(name));
        }
        // Sessions an earlier test left behind (a pool still alive in a
        // `cargo test` process) would see, or hold locks in, this test's data.
        execute(
            admin,
            &format!(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ),
        )?;
        let mut conn =
            PgConnection::establish(&with_database(admin_url, &name)).map_err(|e| e.to_string())?;
        execute(&mut conn, EMPTY_TABLES)?;
        return Ok(Some(name));
    }
    Ok(None)
}

/// Empties every table but diesel's record of applied migrations and
/// restarts their sequences: a reused clone starts as a fresh one.
const EMPTY_TABLES: &str = "DO $$ DECLARE tables text; BEGIN \
    SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO tables \
    FROM pg_tables WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'; \
    IF tables IS NOT NULL THEN EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE'; END IF; \
    END $$";

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    taken: bool,
}

/// Migrates a database under a temporary name, then renames it into place,
/// so a template that exists is complete (a crash mid-way leaves only the
/// temporary one, dropped by the next builder).
fn build_template(admin: &mut PgConnection, admin_url: &str, name: &str) -> Result<(), String> {
    // Another process may have built it while this one waited for the lock.
    if database_exists(admin, name)? {
        return Ok(());
    }
    let building = format!("{name}_building");
    // PostgreSQL refuses to drop a template: a leftover of a builder from
    // before the flag and the rename were one transaction may carry it.
    if database_exists(admin, &building)? {
        execute(
            admin,
            &format!("ALTER DATABASE {building} WITH IS_TEMPLATE false"),
        )?;
    }
    execute(
        admin,
        &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
    )?;
    execute(admin, &format!("CREATE DATABASE {building}"))?;
    {
        let mut conn = PgConnection::establish(&with_database(admin_url, &building))
            .map_err(|e| e.to_string())?;
        conn.run_pending_migrations(POSTGRES_MIGRATIONS)
            .map_err(|e| format!("migrations failed: {e}"))?;
        // Dropped here: the rename and every clone need it to have no session.
    }
    // Refusing connections keeps "never connect to the template" true. One
    // transaction: a builder dying between the two must not leave a
    // template under the temporary name, which no later builder could drop.
    admin
        .transaction(|conn| {
            conn.batch_execute(&format!(
                "ALTER DATABASE {building} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false; \
                 ALTER DATABASE {building} RENAME TO {name}"
            ))
        })
        .map_err(|e| e.to_string())
}

/// FNV-1a over the embedded migrations' names and, where the source tree is
/// at hand (it is for tests), every file of `migrations/postgres`: a changed
/// migration names a new template.
fn migrations_hash() -> u64 {
    let mut text = Vec::new();
    if let Ok(migrations) =
        diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
    {
        for migration in migrations {
            text.extend_from_slice(migration.name().to_string().as_bytes());
            text.push(0);
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files = Vec::new();
    collect_files(&root, &mut files);
    files.sort();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap_or(&file);
        text.extend_from_slice(relative.to_string_lossy().as_bytes());
        text.push(0);
        text.extend_from_slice(&std::fs::read(&file).unwrap_or_default());
        text.push(0);
    }
    fnv1a(&text)
}

/// FNV-1a: stable across processes and builds, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn collect_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// `url` naming `database` instead of its own.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_another_database() {
        let cases = [
            ("postgres://u@h:5432/test", "postgres://u@h:5432/x"),
            (
                "postgres://u@h/test?sslmode=disable",
                "postgres://u@h/x?sslmode=disable",
            ),
            ("postgresql://h", "postgresql://h/x"),
            ("postgres://h/?a=b", "postgres://h/x?a=b"),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "x"), expected, "{url}");
        }
    }

    /// A builder that died after flagging its database a template left it
    /// under the temporary name; the next builder still gets through.
    #[test]
    fn a_template_flagged_leftover_does_not_block_the_next_build() {
        let admin_url = admin_url();
        let mut admin = PgConnection::establish(&admin_url).unwrap();
        let name = format!("{TEMPLATE_PREFIX}leftover_{:016x}", fastrand::u64(..));
        let building = format!("{name}_building");
        execute(&mut admin, &format!("CREATE DATABASE {building}")).unwrap();
        execute(
            &mut admin,
            &format!("ALTER DATABASE {building} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"),
        )
        .unwrap();
        let built = build_template(&mut admin, &admin_url, &name);
        let exists = database_exists(&mut admin, &name).unwrap();
        for leftover in [&name, &building] {
            if database_exists(&mut admin, leftover).unwrap() {
                execute(
                    &mut admin,
                    &format!("ALTER DATABASE {leftover} WITH IS_TEMPLATE false"),
                )
                .unwrap();
                execute(&mut admin, &format!("DROP DATABASE {leftover}")).unwrap();
            }
        }
        built.unwrap();
        assert!(exists, "the template was built");
    }

    #[test]
    fn the_template_name_follows_the_migrations() {
        assert_eq!(migrations_hash(), migrations_hash());
        assert_ne!(migrations_hash(), fnv1a(b""), "hashed nothing");
    }
}
