//! Hidden helpers for the billing benchmarks (`tests/examples/bench_*`):
//! bulk set-up written straight in SQL in the formats the store's readers
//! take, and the bare-SQL baselines a benchmark compares the store with.
//! PostgreSQL only; not part of the store's contract.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use shiyun_core::billing::scaled::to_scaled;
use shiyun_core::billing::{NewUsageEvent, PlanPhase};
use shiyun_core::store::{StoreError, StoreResult};

use super::common::json;
use super::sql::{self, Arg, args};
use crate::db::{Database, DbConnection, Isolation};
use crate::time::micros;
use crate::user_centre::read;

#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = Text)]
    _customer: String,
    #[diesel(sql_type = Text)]
    _meter: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    _total: i64,
}

fn postgres_only(conn: &DbConnection) -> StoreResult<()> {
    match conn {
        DbConnection::Pg(_) => Ok(()),
        DbConnection::Sqlite(_) => Err(StoreError::Internal(
            "the billing bench helpers run on PostgreSQL only".into(),
        )),
    }
}

impl Database {
    /// Benchmark baseline: inserts `events` of `issuer` with one bare
    /// multi-row `INSERT … VALUES … ON CONFLICT DO NOTHING` in its own
    /// transaction (no customer check, no batch counter, no read-back).
    /// Returns the rows inserted.
    #[doc(hidden)]
    pub fn bench_bare_insert_usage(
        &self,
        issuer: &str,
        events: &[NewUsageEvent],
        batch: i64,
        received_at: i64,
    ) -> StoreResult<usize> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut values = Vec::with_capacity(events.len());
        let mut bind = args![issuer, batch, received_at];
        for (i, event) in events.iter().enumerate() {
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
            let value = event.value.map(|v| to_scaled(v, "value")).transpose()?;
            bind.extend([
                Arg::from(&event.idempotency_key),
                Arg::from(&event.customer),
                Arg::from(&event.meter),
                Arg::Int(micros(event.timestamp)),
                Arg::OptInt(value),
                Arg::OptText(event.distinct_value.clone()),
                Arg::from(&event.properties),
                Arg::from(&event.payload_hash),
            ]);
        }
        let statement = format!(
            "INSERT INTO usage_events (issuer_id, idempotency_key, customer, meter, ts, value, \
             distinct_value, properties, payload_hash, batch, received_at) VALUES {} \
             ON CONFLICT (issuer_id, idempotency_key) DO NOTHING",
            values.join(", ")
        );
        self.transaction(Isolation::ReadCommitted, |conn| {
            postgres_only(conn)?;
            Ok(sql::execute(conn, &statement, bind.clone())?)
        })
    }

    /// Benchmark set-up: customers `c0000001`… (`count` of them, UTC, no
    /// tax) of `issuer`, each with one active subscription `sub_…` on
    /// `phases` (no coupons, version 1) whose next period is
    /// `[period_start, period_end)` in micros. The issuer, its meters and
    /// plans must exist. Returns the first customer's external id.
    #[doc(hidden)]
    pub fn bench_seed_subscriptions(
        &self,
        issuer: &str,
        count: i64,
        phases: &[PlanPhase],
        period_start: i64,
        period_end: i64,
        created_at: i64,
    ) -> StoreResult<String> {
        let phases = json(&phases)?;
        let coupons = json(&Vec::<serde_json::Value>::new())?;
        self.transaction(Isolation::ReadCommitted, |conn| {
            postgres_only(conn)?;
            sql::execute(
                conn,
                "INSERT INTO billing_customers \
                 (issuer_id, external_id, id, name, timezone, tax_rate, created_at) \
                 SELECT $1, 'c' || lpad(g::text, 7, '0'), 'cus_' || lpad(g::text, 12, '0'), \
                 'Customer ' || g, 'UTC', '0', $3 FROM generate_series(1, $2) AS g",
                args![issuer, count, created_at],
            )?;
            sql::execute(
                conn,
                "INSERT INTO billing_subscriptions (issuer_id, id, customer, phases, ends_on, \
                 status, coupons, next_period_start, next_period_end, version, created_at) \
                 SELECT $1, 'sub_' || lpad(g::text, 12, '0'), 'c' || lpad(g::text, 7, '0'), \
                 $3, NULL, 'active', $4, $5, $6, 1, $7 FROM generate_series(1, $2) AS g",
                args![
                    issuer,
                    count,
                    &phases,
                    &coupons,
                    period_start,
                    period_end,
                    created_at
                ],
            )?;
            Ok("c0000001".to_owned())
        })
    }

    /// Benchmark set-up: `count` usage events of `issuer` spread evenly
    /// over customers `c0000001…c{customers}` and over `[from, to)` micros,
    /// all in ingest batch 1 (the issuer's `ingest_batch` counter is set to
    /// 1). Rounds over the customers alternate between `count_meter` (no
    /// value) and `sum_meter` (`value_millionths`, `properties` as stored).
    /// Inserted in slices of a million rows, then analysed.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub fn bench_seed_usage(
        &self,
        issuer: &str,
        customers: i64,
        count: i64,
        from: i64,
        to: i64,
        count_meter: &str,
        sum_meter: &str,
        value_millionths: i64,
        properties: &str,
    ) -> StoreResult<()> {
        let span = (to - from).max(1);
        let slice = 1_000_000_i64;
        let mut start = 1_i64;
        while start <= count {
            let end = (start + slice - 1).min(count);
            self.transaction(Isolation::ReadCommitted, |conn| {
                postgres_only(conn)?;
                // Customer by event number, meter by round over the
                // customers (so each gets both), and a prime multiplier
                // scatters timestamps over the whole window.
                sql::execute(
                    conn,
                    "INSERT INTO usage_events (issuer_id, idempotency_key, customer, meter, ts, \
                     value, distinct_value, properties, payload_hash, batch, received_at) \
                     SELECT $1, 'e' || g, 'c' || lpad((((g - 1) % $4) + 1)::text, 7, '0'), \
                     CASE WHEN ((g - 1) / $4) % 2 = 0 THEN $5 ELSE $6 END, \
                     $7 + ((g * 2654435761) % $8), \
                     CASE WHEN ((g - 1) / $4) % 2 = 0 THEN NULL ELSE $9 END, NULL, \
                     CASE WHEN ((g - 1) / $4) % 2 = 0 THEN '{}' ELSE $10 END, \
                     md5(g::text) || md5((g + 1)::text), 1, $7 \
                     FROM generate_series($2, $3) AS g",
                    args![
                        issuer,
                        start,
                        end,
                        customers,
                        count_meter,
                        sum_meter,
                        from,
                        span,
                        value_millionths,
                        properties
                    ],
                )?;
                Ok(())
            })?;
            start = end + 1;
        }
        self.transaction(Isolation::ReadCommitted, |conn| {
            postgres_only(conn)?;
            sql::execute(
                conn,
                "UPDATE billing_counters SET value = 1 WHERE issuer_id = $1 AND name = 'ingest_batch'",
                args![issuer],
            )?;
            Ok(())
        })?;
        let mut conn = self.conn()?;
        conn.batch_execute(
            "ANALYZE usage_events; ANALYZE billing_subscriptions; ANALYZE billing_customers;",
        )
        .map_err(crate::db::map_diesel)?;
        Ok(())
    }

    /// Benchmark baseline: the bare `GROUP BY customer, meter` (count and
    /// sum) of `issuer`'s events in `[from, to)` micros, read to the end.
    /// Returns the groups and the events they count.
    #[doc(hidden)]
    pub fn bench_group_by_usage(
        &self,
        issuer: &str,
        from: i64,
        to: i64,
    ) -> StoreResult<(usize, i64)> {
        read(self, |conn| {
            postgres_only(conn)?;
            let rows: Vec<GroupRow> = sql::load(
                conn,
                "SELECT customer AS _customer, meter AS _meter, COUNT(*) AS n, \
                 CAST(COALESCE(SUM(value), 0) AS BIGINT) AS _total FROM usage_events \
                 WHERE issuer_id = $1 AND ts >= $2 AND ts < $3 GROUP BY customer, meter",
                args![issuer, from, to],
            )?;
            Ok((rows.len(), rows.iter().map(|r| r.n).sum()))
        })
    }
}
