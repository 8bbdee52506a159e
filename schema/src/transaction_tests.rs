//! The two transaction helpers against real databases: a feed-less write is
//! not held up by the feed lock, and PostgreSQL serialisation failures and
//! deadlocks are retried within the bound.

// Helpers outside `#[test]` functions are not covered by clippy's test allowance.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use shiyun_core::store::{ContentionKind, StoreError};

use crate::db::{DbConnection, Isolation, MAX_ATTEMPTS, TxError, map_diesel};
use crate::testing::TestDatabase;

/// How often a test looks again at something another thread is doing.
const POLL: Duration = Duration::from_millis(5);

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const INSERT_RUN: &str = "INSERT INTO sync_runs (vendor, trigger_name, status, started_at, pages, \
     new_count, changed_count, unchanged_count, retired_count, rejected, rejections) \
     VALUES ('aws', 'test', 'running', 0, $1, 0, 0, 0, 0, 0, '[]')";

fn insert_run(conn: &mut DbConnection, pages: i64) -> QueryResult<usize> {
    diesel::sql_query(INSERT_RUN)
        .bind::<BigInt, _>(pages)
        .execute(conn)
}

fn insert_run_pg(conn: &mut PgConnection, pages: i64) -> QueryResult<usize> {
    diesel::sql_query(INSERT_RUN)
        .bind::<BigInt, _>(pages)
        .execute(conn)
}

fn count_runs(conn: &mut DbConnection) -> QueryResult<i64> {
    diesel::sql_query("SELECT count(*) AS n FROM sync_runs WHERE vendor = 'aws'")
        .get_result::<Count>(conn)
        .map(|c| c.n)
}

fn count_runs_pg(conn: &mut PgConnection) -> QueryResult<i64> {
    diesel::sql_query("SELECT count(*) AS n FROM sync_runs WHERE vendor = 'aws'")
        .get_result::<Count>(conn)
        .map(|c| c.n)
}

/// Sessions of this test's database now waiting for a lock of `kind`
/// (`advisory`, `transactionid`, …).
fn lock_waiters(db: &TestDatabase, kind: &str) -> i64 {
    let mut conn = db.conn().unwrap();
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = $1",
    )
    .bind::<Text, _>(kind)
    .get_result::<Count>(&mut *conn)
    .unwrap()
    .n
}

fn committed_runs(db: &TestDatabase) -> i64 {
    count_runs(&mut db.conn().unwrap()).unwrap()
}

#[test]
fn pg_feedless_write_commits_while_a_catalog_write_holds_the_feed_lock() {
    let db = TestDatabase::postgres();
    let db = &db;
    thread::scope(|s| {
        let (entered_tx, entered_rx) = mpsc::channel();
        let (finish_tx, finish_rx) = mpsc::channel::<()>();
        // A long catalog write: it holds the feed lock until told to finish.
        let catalog = s.spawn(move || {
            db.write(|_| {
                entered_tx.send(()).unwrap();
                finish_rx.recv().unwrap();
                Ok(())
            })
        });
        entered_rx.recv().unwrap();

        // Control: another feed writer does queue on the lock.
        let queued = s.spawn(move || db.write(|_| Ok(())));
        while lock_waiters(db, "advisory") < 1 {
            assert!(!queued.is_finished(), "a feed writer skipped the feed lock");
            thread::sleep(POLL);
        }

        let feedless = s.spawn(move || {
            db.transaction(Isolation::ReadCommitted, |conn| Ok(insert_run(conn, 1)?))
        });
        // Either it commits, or it is seen queueing on the feed lock too.
        let proceeded = loop {
            if feedless.is_finished() {
                break true;
            }
            if lock_waiters(db, "advisory") > 1 {
                break false;
            }
            thread::sleep(POLL);
        };
        // The catalog transaction is still open: it waits for `finish`.
        let runs_while_catalog_open = committed_runs(db);
        finish_tx.send(()).unwrap();
        catalog.join().unwrap().unwrap();
        queued.join().unwrap().unwrap();
        feedless.join().unwrap().unwrap();
        assert!(proceeded, "the feed-less write queued behind the feed lock");
        assert_eq!(runs_while_catalog_open, 1);
    });
}

/// SQLite has one writer per file: a feed-less write waits for whichever
/// transaction holds SQLite's write lock, but never for the feed lock,
/// which a catalog writer holds also while it waits for SQLite's lock.
#[test]
fn sqlite_feedless_write_never_waits_for_the_feed_lock() {
    let db = TestDatabase::sqlite();
    let db = &db;
    let held = db.feed_lock.lock();
    thread::scope(|s| {
        // Control: a feed writer queues on the held lock.
        let queued = s.spawn(move || db.write(|_| Ok(())));
        while db.feed_lock.waiting() < 1 {
            assert!(!queued.is_finished(), "a feed writer skipped the feed lock");
            thread::sleep(POLL);
        }

        let feedless = s.spawn(move || {
            db.transaction(Isolation::ReadCommitted, |conn| Ok(insert_run(conn, 1)?))
        });
        let proceeded = loop {
            if feedless.is_finished() {
                break true;
            }
            if db.feed_lock.waiting() > 1 {
                break false;
            }
            thread::sleep(POLL);
        };
        let runs_while_feed_locked = committed_runs(db);
        drop(held);
        queued.join().unwrap().unwrap();
        feedless.join().unwrap().unwrap();
        assert!(proceeded, "the feed-less write queued on the feed lock");
        assert_eq!(runs_while_feed_locked, 1);
    });
}

/// Runs a whole SERIALIZABLE transaction on `partner` that reads what the
/// helper's transaction read and writes what it will write: the helper's
/// transaction then cannot be serialised and fails when it writes.
fn conflict_from(partner: &mut PgConnection) {
    partner
        .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .unwrap();
    count_runs_pg(partner).unwrap();
    insert_run_pg(partner, 0).unwrap();
    partner.batch_execute("COMMIT").unwrap();
}

#[test]
fn pg_retry_recovers_from_a_serialisation_failure() {
    let db = TestDatabase::postgres();
    let mut partner = PgConnection::establish(db.url()).unwrap();
    let mut attempts = 0;
    let seen = db
        .transaction(Isolation::Serializable, |conn| {
            attempts += 1;
            let seen = count_runs(conn)?;
            if attempts == 1 {
                conflict_from(&mut partner);
            }
            insert_run(conn, seen)?;
            Ok(seen)
        })
        .unwrap();
    assert_eq!(attempts, 2, "one failure, one retry");
    assert_eq!(
        seen, 1,
        "the retry ran from scratch and saw the partner's row"
    );
    assert_eq!(committed_runs(&db), 2);
}

#[test]
fn pg_retry_gives_up_after_its_bound() {
    let db = TestDatabase::postgres();
    let mut partner = PgConnection::establish(db.url()).unwrap();
    let mut attempts = 0;
    let result = db.transaction(Isolation::Serializable, |conn| {
        attempts += 1;
        let seen = count_runs(conn)?;
        conflict_from(&mut partner);
        insert_run(conn, seen)?;
        Ok(())
    });
    assert_eq!(attempts, MAX_ATTEMPTS);
    assert!(
        matches!(
            result,
            Err(StoreError::Contention {
                kind: ContentionKind::Serialization,
                ..
            })
        ),
        "{result:?}"
    );
    // Only the partner's rows: every attempt of the helper rolled back.
    assert_eq!(committed_runs(&db), i64::from(MAX_ATTEMPTS));
}

/// A deadlock made on purpose: the helper's transaction is the victim (its
/// deadlock check runs first) and succeeds when run again.
#[test]
fn pg_retry_recovers_from_a_deadlock() {
    let db = TestDatabase::postgres();
    {
        let mut conn = db.conn().unwrap();
        insert_run(&mut conn, 0).unwrap();
        insert_run(&mut conn, 0).unwrap();
    }
    let bump = |conn: &mut PgConnection, id: i64| {
        diesel::sql_query("UPDATE sync_runs SET pages = pages + 1 WHERE id = $1")
            .bind::<BigInt, _>(id)
            .execute(conn)
    };
    let mut partner = PgConnection::establish(db.url()).unwrap();
    let db = &db;
    thread::scope(|s| {
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (locked_tx, locked_rx) = mpsc::channel::<()>();
        let (committed_tx, committed_rx) = mpsc::channel::<()>();
        let partner = s.spawn(move || {
            go_rx.recv().unwrap();
            // A long deadlock_timeout: the helper's check, not this one, finds it.
            partner
                .batch_execute("BEGIN; SET LOCAL deadlock_timeout = '60s'")
                .unwrap();
            bump(&mut partner, 2).unwrap();
            locked_tx.send(()).unwrap();
            bump(&mut partner, 1).unwrap();
            partner.batch_execute("COMMIT").unwrap();
            committed_tx.send(()).unwrap();
        });
        let mut attempts = 0;
        let result = db.transaction(Isolation::ReadCommitted, |conn| {
            attempts += 1;
            let DbConnection::Pg(pg) = conn else {
                unreachable!("a PostgreSQL test database")
            };
            pg.batch_execute("SET LOCAL deadlock_timeout = '10ms'")?;
            if attempts == 2 {
                // Else the retry may take row 1 before the partner does,
                // and deadlock with it again.
                committed_rx.recv().unwrap();
            }
            bump(pg, 1)?;
            if attempts == 1 {
                go_tx.send(()).unwrap();
                locked_rx.recv().unwrap();
                // The partner waits for row 1 before this asks for row 2.
                while lock_waiters(db, "transactionid") < 1 {
                    thread::sleep(POLL);
                }
            }
            bump(pg, 2)?;
            Ok(())
        });
        partner.join().unwrap();
        result.unwrap();
        assert_eq!(attempts, 2, "one deadlock, one retry");
    });
}

#[test]
fn unique_violations_keep_driver_text_out_of_the_message() {
    for db in [TestDatabase::sqlite(), TestDatabase::postgres()] {
        let mut conn = db.conn().unwrap();
        let insert = |conn: &mut DbConnection| {
            diesel::sql_query(
                "INSERT INTO sync_runs (id, vendor, trigger_name, status, started_at, pages, \
                 new_count, changed_count, unchanged_count, retired_count, rejected, rejections) \
                 VALUES (7, 'aws', 'test', 'running', 0, 0, 0, 0, 0, 0, 0, '[]')",
            )
            .execute(conn)
        };
        insert(&mut conn).unwrap();
        let error = map_diesel(insert(&mut conn).unwrap_err());
        assert!(
            matches!(error, StoreError::AlreadyExists { .. }),
            "{error:?}"
        );
        assert!(!error.to_string().contains("sync_runs"), "{error}");
        assert!(
            error.detail().unwrap_or_default().contains("sync_runs"),
            "the driver's text is kept as the detail: {error:?}"
        );
    }
}

#[test]
fn a_closure_error_rolls_back_and_is_not_retried() {
    for db in [TestDatabase::sqlite(), TestDatabase::postgres()] {
        let mut attempts = 0;
        let result: Result<(), _> = db.transaction(Isolation::Serializable, |conn| {
            attempts += 1;
            insert_run(conn, 1)?;
            Err(TxError::Store(StoreError::Conflict("stop".into())))
        });
        assert!(matches!(result, Err(StoreError::Conflict(_))));
        assert_eq!(attempts, 1);
        assert_eq!(committed_runs(&db), 0);
    }
}
