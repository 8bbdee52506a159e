//! Store throughput: `upsert_listings` (diff, change feed, price history)
//! against a bare multi-row INSERT of the same documents, on SQLite and
//! PostgreSQL, in the same run.
//!
//! `cargo bench -p shiyun-schema --bench store`
//! (`SHIYUN_BENCH_LISTINGS`, default 20000; PostgreSQL at `TEST_POSTGRES_URL`).

#![expect(clippy::expect_used, reason = "a benchmark stops at the first failure")]

use std::time::Instant;

use chrono::Utc;
use diesel::prelude::*;
use shiyun_core::demo::DemoCatalog;
use shiyun_core::listing::Listing;
use shiyun_core::store::ListingStore;
use shiyun_schema::testing::TestDatabase;

const BATCH: usize = 1_000;

/// The baseline table: the same id and document, no diff, no feed.
mod bare {
    diesel::table! {
        /// Bare rows.
        bench_bare (id) {
            /// Listing id.
            id -> Text,
            /// Listing JSON.
            doc -> Text,
        }
    }
}
use bare::bench_bare;

fn rows(listings: &[Listing]) -> Vec<(String, String)> {
    listings
        .iter()
        .map(|l| {
            (
                l.id().to_string(),
                serde_json::to_string(l).unwrap_or_default(),
            )
        })
        .collect()
}

fn bare_insert_sqlite(url: &str, rows: &[(String, String)]) -> f64 {
    let path = url.trim_start_matches("sqlite://");
    let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite");
    diesel::sql_query("CREATE TABLE bench_bare (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL)")
        .execute(&mut conn)
        .expect("create");
    let started = Instant::now();
    for chunk in rows.chunks(BATCH) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(id, doc)| (bench_bare::id.eq(id), bench_bare::doc.eq(doc)))
            .collect();
        conn.immediate_transaction(|c| {
            diesel::insert_into(bench_bare::table)
                .values(&values)
                .execute(c)
        })
        .expect("insert");
    }
    started.elapsed().as_secs_f64()
}

fn bare_insert_postgres(url: &str, rows: &[(String, String)]) -> f64 {
    let mut conn = diesel::PgConnection::establish(url).expect("postgres");
    // Test databases are reused clones that must keep the migrated schema:
    // the table goes again after the run, and one a stopped run left goes
    // first.
    diesel::sql_query("DROP TABLE IF EXISTS bench_bare")
        .execute(&mut conn)
        .expect("drop a leftover");
    diesel::sql_query("CREATE TABLE bench_bare (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL)")
        .execute(&mut conn)
        .expect("create");
    let started = Instant::now();
    for chunk in rows.chunks(BATCH) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(id, doc)| (bench_bare::id.eq(id), bench_bare::doc.eq(doc)))
            .collect();
        conn.transaction(|c| {
            diesel::insert_into(bench_bare::table)
                .values(&values)
                .execute(c)
        })
        .expect("insert");
    }
    let elapsed = started.elapsed().as_secs_f64();
    diesel::sql_query("DROP TABLE bench_bare")
        .execute(&mut conn)
        .expect("drop");
    elapsed
}

fn upsert_all(db: &TestDatabase, listings: &[Listing]) -> f64 {
    let started = Instant::now();
    let seen_at = Utc::now();
    for chunk in listings.chunks(BATCH) {
        db.upsert_listings(chunk, seen_at).expect("upsert");
    }
    started.elapsed().as_secs_f64()
}

fn run(backend: &str, db: TestDatabase, listings: &[Listing]) {
    let n = listings.len() as f64;
    let bare_rows = rows(listings);
    let bare = match backend {
        "sqlite" => bare_insert_sqlite(db.url(), &bare_rows),
        _ => bare_insert_postgres(db.url(), &bare_rows),
    };
    let new = upsert_all(&db, listings);
    let unchanged = upsert_all(&db, listings);
    println!("store_{backend}_bare_insert = {:.0} listings/s", n / bare);
    println!("store_{backend}_upsert_new = {:.0} listings/s", n / new);
    println!(
        "store_{backend}_upsert_unchanged = {:.0} listings/s",
        n / unchanged
    );
    println!("store_{backend}_upsert_new_vs_bare = {:.2} x", bare / new);
}

fn main() {
    let count: u64 = std::env::var("SHIYUN_BENCH_LISTINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let listings: Vec<Listing> = DemoCatalog::new(42, count).collect();
    println!("store_listings = {count} listings");
    run("sqlite", TestDatabase::sqlite(), &listings);
    run("postgres", TestDatabase::postgres(), &listings);
}
