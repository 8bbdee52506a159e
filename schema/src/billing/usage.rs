//! Usage events: the exactly-once batch insert, the watermark, aggregates,
//! gauge points and export pages.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use shiyun_core::ValidationError;
use shiyun_core::billing::scaled::{from_scaled, to_scaled};
use shiyun_core::billing::{
    Aggregation, IngestOutcome, IssuerId, NewUsageEvent, PageAfter, StoredUsageEvent,
    UsageAggregate, UsagePoint, UsageWindow,
};
use shiyun_core::store::StoreResult;

use super::common::{next_counter, page_limit, time, unsigned};
use super::sql::{self, Arg, args};
use crate::db::{Database, DbConnection, Isolation, TxError};
use crate::time::micros;
use crate::user_centre::read;

/// Events per PostgreSQL `UNNEST` insert.
const PG_CHUNK: usize = 5_000;
/// Rows per SQLite multi-row insert (8 parameters each, under SQLite's
/// 32,766).
const SQLITE_INSERT_CHUNK: usize = 1_000;

/// An event converted for its row.
struct EventRow<'a> {
    event: &'a NewUsageEvent,
    ts: i64,
    value: Option<i64>,
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    key: String,
}

#[derive(QueryableByName)]
struct KeyHash {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    hash: String,
}

/// Inserts `rows` (distinct keys) unless their key is stored; the keys
/// inserted now.
fn insert_events(
    conn: &mut DbConnection,
    issuer: &IssuerId,
    rows: &[EventRow<'_>],
    batch: i64,
    received_at: i64,
) -> QueryResult<Vec<String>> {
    let mut inserted = Vec::with_capacity(rows.len());
    match conn {
        DbConnection::Pg(_) => {
            for chunk in rows.chunks(PG_CHUNK) {
                let texts =
                    |f: &dyn Fn(&EventRow<'_>) -> String| Arg::Texts(chunk.iter().map(f).collect());
                let args = vec![
                    Arg::from(issuer.as_str()),
                    texts(&|r| r.event.idempotency_key.clone()),
                    texts(&|r| r.event.customer.clone()),
                    texts(&|r| r.event.meter.clone()),
                    Arg::Ints(chunk.iter().map(|r| r.ts).collect()),
                    Arg::OptInts(chunk.iter().map(|r| r.value).collect()),
                    Arg::OptTexts(
                        chunk
                            .iter()
                            .map(|r| r.event.distinct_value.clone())
                            .collect(),
                    ),
                    texts(&|r| r.event.properties.clone()),
                    texts(&|r| r.event.payload_hash.clone()),
                    Arg::Int(batch),
                    Arg::Int(received_at),
                ];
                let keys: Vec<Key> = sql::load(
                    conn,
                    "INSERT INTO usage_events (issuer_id, idempotency_key, customer, meter, ts, \
                     value, distinct_value, properties, payload_hash, batch, received_at) \
                     SELECT $1, u.k, u.c, u.m, u.ts, u.v, u.d, u.p, u.h, $10, $11 \
                     FROM UNNEST($2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
                     $7::text[], $8::text[], $9::text[]) AS u(k, c, m, ts, v, d, p, h) \
                     ON CONFLICT (issuer_id, idempotency_key) DO NOTHING \
                     RETURNING idempotency_key AS key",
                    args,
                )?;
                inserted.extend(keys.into_iter().map(|k| k.key));
            }
        }
        DbConnection::Sqlite(_) => {
            for chunk in rows.chunks(SQLITE_INSERT_CHUNK) {
                let mut args = args![issuer.as_str(), batch, received_at];
                let mut values = Vec::with_capacity(chunk.len());
                for (i, row) in chunk.iter().enumerate() {
                    let p = 4 + i * 8;
                    values.push(format!(
                        "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $2, $3)",
                        p,
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7
                    ));
                    args.extend([
                        Arg::from(&row.event.idempotency_key),
                        Arg::from(&row.event.customer),
                        Arg::from(&row.event.meter),
                        Arg::Int(row.ts),
                        Arg::OptInt(row.value),
                        Arg::OptText(row.event.distinct_value.clone()),
                        Arg::from(&row.event.properties),
                        Arg::from(&row.event.payload_hash),
                    ]);
                }
                let keys: Vec<Key> = sql::load(
                    conn,
                    &format!(
                        "INSERT INTO usage_events (issuer_id, idempotency_key, customer, meter, \
                         ts, value, distinct_value, properties, payload_hash, batch, received_at) \
                         VALUES {} ON CONFLICT (issuer_id, idempotency_key) DO NOTHING \
                         RETURNING idempotency_key AS key",
                        values.join(", ")
                    ),
                    args,
                )?;
                inserted.extend(keys.into_iter().map(|k| k.key));
            }
        }
    }
    Ok(inserted)
}

pub(super) fn insert_usage(
    db: &Database,
    issuer: &IssuerId,
    events: &[NewUsageEvent],
    received_at: DateTime<Utc>,
) -> StoreResult<Vec<IngestOutcome>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // Conversions that can fail happen before the transaction.
    let converted = events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let value = event
                .value
                .map(|v| to_scaled(v, "value"))
                .transpose()
                .map_err(|e| e.within(&format!("events[{i}]")))?;
            Ok(EventRow {
                event,
                ts: micros(event.timestamp),
                value,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let received_at = micros(received_at);
    let mut customers: Vec<String> = events.iter().map(|e| e.customer.clone()).collect();
    customers.sort_unstable();
    customers.dedup();

    db.transaction(Isolation::ReadCommitted, |conn| {
        // First: the batch number. The counter's row stays locked until
        // commit, so batches commit in number order and the watermark (the
        // committed counter) never passes a batch still being written.
        let batch = next_counter(conn, issuer, "ingest_batch")?;
        let known: HashSet<String> = sql::select_in::<Key>(
            conn,
            issuer.as_str(),
            "SELECT external_id AS key FROM billing_customers WHERE issuer_id = $1 AND",
            "external_id",
            &customers,
        )?
        .into_iter()
        .map(|k| k.key)
        .collect();

        // The first event of each key (of a known customer) is the candidate.
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut candidates = Vec::new();
        for (i, row) in converted.iter().enumerate() {
            if known.contains(&row.event.customer) {
                first.entry(&row.event.idempotency_key).or_insert_with(|| {
                    candidates.push(i);
                    i
                });
            }
        }
        let rows: Vec<EventRow<'_>> = candidates
            .iter()
            .map(|&i| EventRow {
                event: converted[i].event,
                ts: converted[i].ts,
                value: converted[i].value,
            })
            .collect();
        let inserted: HashSet<String> = insert_events(conn, issuer, &rows, batch, received_at)?
            .into_iter()
            .collect();

        // The hash that stands for each key: the one inserted now, or the
        // one stored before (by an earlier or a concurrent batch).
        let others: Vec<String> = first
            .keys()
            .filter(|k| !inserted.contains(**k))
            .map(|k| (*k).to_owned())
            .collect();
        let mut standing: HashMap<String, String> = sql::select_in::<KeyHash>(
            conn,
            issuer.as_str(),
            "SELECT idempotency_key AS key, payload_hash AS hash FROM usage_events \
             WHERE issuer_id = $1 AND",
            "idempotency_key",
            &others,
        )?
        .into_iter()
        .map(|r| (r.key, r.hash))
        .collect();
        for key in &inserted {
            if let Some(&i) = first.get(key.as_str()) {
                standing.insert(key.clone(), events[i].payload_hash.clone());
            }
        }

        let outcomes = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                if !known.contains(&event.customer) {
                    return Ok(IngestOutcome::UnknownCustomer);
                }
                let key = event.idempotency_key.as_str();
                if first.get(key) == Some(&i) && inserted.contains(key) {
                    return Ok(IngestOutcome::Accepted);
                }
                match standing.get(key) {
                    Some(hash) if *hash == event.payload_hash => Ok(IngestOutcome::Duplicate),
                    Some(_) => Ok(IngestOutcome::Conflict),
                    None => Err(shiyun_core::store::StoreError::Internal(format!(
                        "usage event `{key}` was neither inserted nor found"
                    ))
                    .into()),
                }
            })
            .collect::<Result<Vec<_>, TxError>>()?;
        Ok(outcomes)
    })
}

pub(super) fn usage_watermark(db: &Database, issuer: &IssuerId) -> StoreResult<i64> {
    read(db, |conn| {
        let row: Option<super::common::Value> = sql::first(
            conn,
            "SELECT value FROM billing_counters WHERE issuer_id = $1 AND name = 'ingest_batch'",
            args![issuer.as_str()],
        )?;
        Ok(row.map_or(0, |r| r.value))
    })
}

/// The window's `WHERE` conditions after `issuer_id = $1`, with its
/// arguments from `$2` on.
fn window_filter(issuer: &IssuerId, window: &UsageWindow) -> (String, Vec<Arg>) {
    let mut filter =
        "issuer_id = $1 AND ts >= $2 AND ts < $3 AND batch > $4 AND batch <= $5".to_owned();
    let mut args = args![
        issuer.as_str(),
        micros(window.from),
        micros(window.to),
        window.after_batch,
        window.up_to_batch
    ];
    if let Some(customer) = &window.customer {
        filter.push_str(" AND customer = $6");
        args.push(Arg::from(customer));
    }
    (filter, args)
}

#[derive(QueryableByName)]
struct AggregateRow {
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    meter: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    max_value: Option<i64>,
    #[diesel(sql_type = BigInt)]
    distinct_n: i64,
}

#[derive(QueryableByName)]
struct LatestRow {
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    meter: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    value: Option<i64>,
}

pub(super) fn aggregate_usage(
    db: &Database,
    issuer: &IssuerId,
    window: &UsageWindow,
) -> StoreResult<Vec<UsageAggregate>> {
    let (filter, args) = window_filter(issuer, window);
    read(db, |conn| {
        // PostgreSQL's SUM(bigint) is numeric: cast back (an overflow is an
        // error, never a wrapped total).
        let rows: Vec<AggregateRow> = sql::load(
            conn,
            &format!(
                "SELECT customer, meter, COUNT(*) AS n, \
                 CAST(COALESCE(SUM(value), 0) AS BIGINT) AS total, MAX(value) AS max_value, \
                 COUNT(DISTINCT distinct_value) AS distinct_n \
                 FROM usage_events WHERE {filter} GROUP BY customer, meter ORDER BY customer, meter"
            ),
            args.clone(),
        )?;
        // The last value per group, only for `latest` meters (the one
        // aggregation that reads it): one pass ranking each group's events.
        let latest: Vec<LatestRow> = sql::load(
            conn,
            &format!(
                "SELECT customer, meter, value FROM (SELECT customer, meter, value, \
                 ROW_NUMBER() OVER (PARTITION BY customer, meter \
                 ORDER BY ts DESC, batch DESC, idempotency_key DESC) AS rn \
                 FROM usage_events WHERE {filter} AND meter IN (SELECT code FROM billing_meters \
                 WHERE issuer_id = $1 AND aggregation = '{}')) AS ranked WHERE rn = 1",
                Aggregation::Latest.as_str()
            ),
            args,
        )?;
        let latest: HashMap<(String, String), Option<i64>> = latest
            .into_iter()
            .map(|r| ((r.customer, r.meter), r.value))
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| {
                let latest = latest
                    .get(&(r.customer.clone(), r.meter.clone()))
                    .copied()
                    .flatten()
                    .map(from_scaled);
                Ok(UsageAggregate {
                    count: unsigned(r.n, "event count")?,
                    sum: from_scaled(r.total),
                    max: r.max_value.map(from_scaled),
                    distinct: unsigned(r.distinct_n, "distinct count")?,
                    latest,
                    customer: r.customer,
                    meter: r.meter,
                })
            })
            .collect::<StoreResult<_>>()?)
    })
}

#[derive(QueryableByName)]
struct PointRow {
    #[diesel(sql_type = BigInt)]
    ts: i64,
    #[diesel(sql_type = BigInt)]
    value: i64,
}

pub(super) fn usage_points(
    db: &Database,
    issuer: &IssuerId,
    meter: &str,
    window: &UsageWindow,
) -> StoreResult<Vec<UsagePoint>> {
    let Some(customer) = &window.customer else {
        return Err(ValidationError::new("customer", "usage points are read per customer").into());
    };
    let base = "issuer_id = $1 AND customer = $2 AND meter = $3 AND batch > $4 AND batch <= $5 \
                AND value IS NOT NULL";
    let args = args![
        issuer.as_str(),
        customer,
        meter,
        window.after_batch,
        window.up_to_batch,
        micros(window.from),
        micros(window.to)
    ];
    read(db, |conn| {
        let mut rows: Vec<PointRow> = sql::load(
            conn,
            &format!(
                "SELECT ts, value FROM usage_events WHERE {base} AND ts < $6 \
                 ORDER BY ts DESC, batch DESC, idempotency_key DESC LIMIT 1"
            ),
            args[..6].to_vec(),
        )?;
        rows.extend(sql::load::<PointRow>(
            conn,
            &format!(
                "SELECT ts, value FROM usage_events WHERE {base} AND ts >= $6 AND ts < $7 \
                 ORDER BY ts, batch, idempotency_key"
            ),
            args.clone(),
        )?);
        Ok(rows
            .into_iter()
            .map(|r| {
                Ok(UsagePoint {
                    timestamp: time(r.ts)?,
                    value: from_scaled(r.value),
                })
            })
            .collect::<StoreResult<_>>()?)
    })
}

#[derive(QueryableByName)]
struct EventRecord {
    #[diesel(sql_type = Text)]
    idempotency_key: String,
    #[diesel(sql_type = Text)]
    customer: String,
    #[diesel(sql_type = Text)]
    meter: String,
    #[diesel(sql_type = BigInt)]
    ts: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    value: Option<i64>,
    #[diesel(sql_type = Text)]
    properties: String,
    #[diesel(sql_type = BigInt)]
    received_at: i64,
    #[diesel(sql_type = BigInt)]
    batch: i64,
}

/// Parses a page cursor `"{micros}:{key}"`.
fn parse_cursor(after: &str) -> StoreResult<(i64, &str)> {
    after
        .split_once(':')
        .and_then(|(ts, key)| Some((ts.parse().ok()?, key)))
        .ok_or_else(|| ValidationError::new("after", "must be `{micros}:{key}`").into())
}

pub(super) fn usage_page(
    db: &Database,
    issuer: &IssuerId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    page: &PageAfter,
) -> StoreResult<Vec<StoredUsageEvent>> {
    let mut filter = "issuer_id = $1 AND ts >= $2 AND ts < $3".to_owned();
    let mut args = args![
        issuer.as_str(),
        micros(from),
        micros(to),
        page_limit(page.limit)
    ];
    if let Some(after) = &page.after {
        let (ts, key) = parse_cursor(after)?;
        filter.push_str(" AND (ts > $5 OR (ts = $5 AND idempotency_key > $6))");
        args.extend([Arg::Int(ts), Arg::from(key)]);
    }
    read(db, |conn| {
        let rows: Vec<EventRecord> = sql::load(
            conn,
            &format!(
                "SELECT idempotency_key, customer, meter, ts, value, properties, received_at, \
                 batch FROM usage_events WHERE {filter} ORDER BY ts, idempotency_key LIMIT $4"
            ),
            args.clone(),
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                Ok(StoredUsageEvent {
                    idempotency_key: r.idempotency_key,
                    customer: r.customer,
                    meter: r.meter,
                    timestamp: time(r.ts)?,
                    value: r.value.map(from_scaled),
                    properties: r.properties,
                    received_at: time(r.received_at)?,
                    batch: r.batch,
                })
            })
            .collect::<StoreResult<_>>()?)
    })
}
