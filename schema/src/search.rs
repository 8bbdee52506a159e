//! `SearchStore` on [`Database`]: the settings search shares between
//! server instances, and the listings' popularity counters.
//!
//! A setting is one `search_settings` row: JSON text and a version. A save
//! is one transaction of one guarded statement and the read back: an
//! `INSERT … ON CONFLICT DO NOTHING` when the caller expects "never saved",
//! an `UPDATE … WHERE version = expected` when it expects a version, an
//! upsert that adds one to the version otherwise. On PostgreSQL a second
//! concurrent save waits for the first one's row lock and then finds the
//! version moved, so of two saves expecting one version only one succeeds.
//!
//! Views are added with `INSERT … SELECT … FROM listings … ON CONFLICT DO
//! UPDATE SET views = views + excluded.views`: an id that is not a listing
//! selects no row and is skipped, and the addition happens under the row's
//! lock (PostgreSQL) or SQLite's one writer, so concurrent increments add
//! up. A batch is summed per id and applied in id order, so two batches
//! lock rows in the same order and cannot deadlock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shiyun_core::fx::FxTable;
use shiyun_core::listing::{ListingId, ListingStatus};
use shiyun_core::search::{Popularity, SearchStore, StoredFxTable, SynonymGroup, SynonymSet};
use shiyun_core::store::{StoreError, StoreResult};

use crate::db::{Database, DbConnection, Isolation, TxError, map_diesel};
use crate::schema::{listing_popularity, listings, search_settings};
use crate::time::{from_micros, micros};

/// The key of the synonym groups' row.
const SYNONYMS: &str = "synonyms";
/// The key of the exchange-rate table's row.
const FX_TABLE: &str = "fx_table";

/// Most listings [`SearchStore::popular`] answers.
const MAX_POPULAR: u32 = 500;

/// Ids per PostgreSQL `UNNEST` statement of [`add_views`].
const PG_CHUNK: usize = 2_000;

/// A first save: nothing happens when the row exists.
const INSERT_FIRST: &str = "INSERT INTO search_settings (key, value, version, updated_at) \
     VALUES ($1, $2, 1, $3) ON CONFLICT (key) DO NOTHING";

/// A save whatever the stored version: the next one.
const UPSERT: &str = "INSERT INTO search_settings (key, value, version, updated_at) \
     VALUES ($1, $2, 1, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
     version = search_settings.version + 1, updated_at = excluded.updated_at";

/// The new count: the sum, held at `i64::MAX` rather than overflowing
/// (`excluded.views` is at least 1, so the subtraction cannot overflow).
const SUMMED_VIEWS: &str = "CASE WHEN listing_popularity.views > 9223372036854775807 - excluded.views \
     THEN 9223372036854775807 ELSE listing_popularity.views + excluded.views END";

#[derive(Queryable, Selectable)]
#[diesel(table_name = search_settings)]
struct SettingRecord {
    value: String,
    version: i64,
    updated_at: i64,
}

/// A setting as stored, checked.
struct Setting<T> {
    value: T,
    version: u64,
    updated_at: DateTime<Utc>,
}

fn read_setting(conn: &mut DbConnection, key: &str) -> QueryResult<Option<SettingRecord>> {
    search_settings::table
        .find(key)
        .select(SettingRecord::as_select())
        .first(conn)
        .optional()
}

fn corrupt(key: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt search setting `{key}`: {what}"))
}

/// Decodes a stored row: the value through its validating serde, a
/// version of at least 1 (a saved row was saved at least once).
fn decode<T: DeserializeOwned>(key: &str, record: SettingRecord) -> StoreResult<Setting<T>> {
    let value = serde_json::from_str(&record.value).map_err(|e| corrupt(key, e))?;
    let version = u64::try_from(record.version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| corrupt(key, format!("version {}", record.version)))?;
    Ok(Setting {
        value,
        version,
        updated_at: from_micros(record.updated_at)?,
    })
}

fn load<T: DeserializeOwned>(
    conn: &mut DbConnection,
    key: &str,
) -> StoreResult<Option<Setting<T>>> {
    read_setting(conn, key)
        .map_err(map_diesel)?
        .map(|record| decode(key, record))
        .transpose()
}

fn encode(key: &str, value: &impl Serialize) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Internal(format!("cannot serialise search setting `{key}`: {e}")))
}

/// Saves `value` under `key` in one transaction and reads it back. With
/// `expected`, only over that stored version (0: never saved), else
/// `StoreError::Conflict`; `what` names the setting in that message.
fn save<T: DeserializeOwned>(
    db: &Database,
    key: &str,
    what: &str,
    value: &str,
    expected: Option<u64>,
    at: DateTime<Utc>,
) -> StoreResult<Setting<T>> {
    let at = micros(at);
    db.transaction(Isolation::ReadCommitted, |conn| {
        let written = match expected {
            None => insert_setting(conn, UPSERT, key, value, at)?,
            Some(0) => insert_setting(conn, INSERT_FIRST, key, value, at)?,
            // A version past i64 was never stored: no row matches.
            Some(version) => match i64::try_from(version) {
                Ok(version) => diesel::update(
                    search_settings::table
                        .find(key)
                        .filter(search_settings::version.eq(version)),
                )
                .set((
                    search_settings::value.eq(value),
                    search_settings::version.eq(search_settings::version + 1),
                    search_settings::updated_at.eq(at),
                ))
                .execute(conn)?,
                Err(_) => 0,
            },
        };
        let stored = read_setting(conn, key)?;
        if written == 0 {
            let current = stored.map_or(0, |r| r.version);
            return Err(StoreError::Conflict(format!(
                "the {what} were changed meanwhile: the stored version is {current}, not {}; \
                 read them again and repeat the edit",
                expected.unwrap_or_default()
            ))
            .into());
        }
        let stored = stored.ok_or_else(|| {
            StoreError::Internal(format!("search setting `{key}` vanished after its write"))
        })?;
        Ok(decode(key, stored)?)
    })
}

/// Runs [`INSERT_FIRST`] or [`UPSERT`]; the rows written.
fn insert_setting(
    conn: &mut DbConnection,
    sql: &str,
    key: &str,
    value: &str,
    at: i64,
) -> QueryResult<usize> {
    diesel::sql_query(sql)
        .bind::<Text, _>(key)
        .bind::<Text, _>(value)
        .bind::<BigInt, _>(at)
        .execute(conn)
}

/// Adds `totals` (ids in order, each at least 1) to the counters of the
/// ids that are listings.
fn add_views(conn: &mut DbConnection, totals: &BTreeMap<&str, i64>) -> Result<(), TxError> {
    match conn {
        DbConnection::Pg(pg) => {
            let totals: Vec<(&str, i64)> = totals.iter().map(|(id, n)| (*id, *n)).collect();
            for chunk in totals.chunks(PG_CHUNK) {
                let ids: Vec<&str> = chunk.iter().map(|(id, _)| *id).collect();
                let views: Vec<i64> = chunk.iter().map(|(_, n)| *n).collect();
                diesel::sql_query(format!(
                    "INSERT INTO listing_popularity (listing_id, views) \
                     SELECT l.id, u.views FROM UNNEST($1::text[], $2::int8[]) AS u(id, views) \
                     JOIN listings AS l ON l.id = u.id ORDER BY l.id \
                     ON CONFLICT (listing_id) DO UPDATE SET views = {SUMMED_VIEWS}"
                ))
                .bind::<Array<Text>, _>(ids)
                .bind::<Array<BigInt>, _>(views)
                .execute(pg)?;
            }
        }
        DbConnection::Sqlite(sqlite) => {
            // `WHERE` before `ON CONFLICT`: SQLite would read `ON` as a join
            // constraint of the `SELECT` otherwise.
            let sql = format!(
                "INSERT INTO listing_popularity (listing_id, views) \
                 SELECT id, ?2 FROM listings WHERE id = ?1 \
                 ON CONFLICT (listing_id) DO UPDATE SET views = {SUMMED_VIEWS}"
            );
            for (id, views) in totals {
                diesel::sql_query(&sql)
                    .bind::<Text, _>(*id)
                    .bind::<BigInt, _>(*views)
                    .execute(sqlite)?;
            }
        }
    }
    Ok(())
}

impl SearchStore for Database {
    fn synonyms(&self) -> StoreResult<Option<SynonymSet>> {
        let mut conn = self.conn()?;
        let Some(stored) = load::<Vec<SynonymGroup>>(&mut conn, SYNONYMS)? else {
            return Ok(None);
        };
        synonym_set(stored).map(Some)
    }

    fn put_synonyms(
        &self,
        groups: &[SynonymGroup],
        expected_version: Option<u64>,
        at: DateTime<Utc>,
    ) -> StoreResult<SynonymSet> {
        SynonymSet::check_groups(groups)?;
        let value = encode(SYNONYMS, &groups)?;
        let stored = save(self, SYNONYMS, "synonyms", &value, expected_version, at)?;
        synonym_set(stored)
    }

    fn fx_table(&self) -> StoreResult<Option<StoredFxTable>> {
        let mut conn = self.conn()?;
        Ok(load::<FxTable>(&mut conn, FX_TABLE)?.map(stored_fx_table))
    }

    fn put_fx_table(&self, table: &FxTable, at: DateTime<Utc>) -> StoreResult<StoredFxTable> {
        let value = encode(FX_TABLE, table)?;
        let stored = save(self, FX_TABLE, "exchange rates", &value, None, at)?;
        Ok(stored_fx_table(stored))
    }

    fn record_views(&self, views: &[(ListingId, u64)]) -> StoreResult<()> {
        let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
        for (id, n) in views {
            if *n == 0 {
                continue;
            }
            let total = totals.entry(id.as_str()).or_default();
            *total = total.saturating_add(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        if totals.is_empty() {
            return Ok(());
        }
        self.transaction(Isolation::ReadCommitted, |conn| add_views(conn, &totals))
    }

    fn popular(&self, limit: u32) -> StoreResult<Vec<Popularity>> {
        let limit = i64::from(limit.clamp(1, MAX_POPULAR));
        let mut conn = self.conn()?;
        let rows: Vec<(String, i64)> = listing_popularity::table
            .inner_join(listings::table)
            .filter(listings::status.eq(ListingStatus::Active.as_str()))
            .filter(listing_popularity::views.gt(0))
            .order((
                listing_popularity::views.desc(),
                listing_popularity::listing_id.asc(),
            ))
            .limit(limit)
            .select((listing_popularity::listing_id, listing_popularity::views))
            .load(&mut *conn)
            .map_err(map_diesel)?;
        rows.into_iter()
            .map(|(id, views)| {
                let corrupt = |what: String| {
                    StoreError::Internal(format!("corrupt popularity counter of {id}: {what}"))
                };
                Ok(Popularity {
                    listing_id: ListingId::parse(&id).map_err(|e| corrupt(e.to_string()))?,
                    views: u64::try_from(views).map_err(|e| corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}

fn synonym_set(stored: Setting<Vec<SynonymGroup>>) -> StoreResult<SynonymSet> {
    SynonymSet::check_groups(&stored.value).map_err(|e| corrupt(SYNONYMS, e))?;
    Ok(SynonymSet {
        groups: stored.value,
        version: stored.version,
        updated_at: Some(stored.updated_at),
    })
}

fn stored_fx_table(stored: Setting<FxTable>) -> StoredFxTable {
    StoredFxTable {
        table: stored.value,
        version: stored.version,
        updated_at: stored.updated_at,
    }
}
