//! Amounts and quantities through the billing columns (BIGINT millionths):
//! exact round trips, and SQL's SUM, MAX and ORDER BY agreeing with Decimal.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use shiyun_core::billing::scaled::{from_scaled, to_scaled};
use shiyun_core::billing::{BillingStore, UsageWindow};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::StoreError;
use shiyun_schema::Database;
use shiyun_schema::testing::TestDatabase;

use crate::billing::{customer, event, issuer};
use crate::support::at;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// A connection of the test's own, to read columns behind the store.
enum Raw {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl Raw {
    fn open(db: &TestDatabase) -> Raw {
        match db.url().strip_prefix("sqlite://") {
            Some(path) => Raw::Sqlite(SqliteConnection::establish(path).unwrap()),
            None => Raw::Pg(PgConnection::establish(db.url()).unwrap()),
        }
    }

    /// The stored values of `meter`, as SQL orders them.
    fn ordered(&mut self, meter: &str) -> Vec<i64> {
        let sql = format!(
            "SELECT value FROM usage_events WHERE issuer_id = 'iss_money' AND meter = '{meter}' \
             ORDER BY value"
        );
        let rows: Vec<Row> = match self {
            Raw::Sqlite(c) => diesel::sql_query(sql).load(c),
            Raw::Pg(c) => diesel::sql_query(sql).load(c),
        }
        .unwrap();
        rows.into_iter().map(|r| r.value).collect()
    }
}

/// A decimal of at most ±10¹² with exactly `places` (≤ 6) decimal places.
fn amount() -> impl Strategy<Value = Decimal> {
    (
        -1_000_000_000_000_000_000_i64..=1_000_000_000_000_000_000,
        0u32..=6,
    )
        .prop_map(|(millionths, places)| {
            let unit = 10_i64.pow(6 - places);
            Decimal::new(millionths / unit, places)
        })
}

pub fn billing_amounts_round_trip_and_add_up_in_sql(db: &TestDatabase) {
    let store: &Database = db;
    let iss = issuer(store, "iss_money");
    customer(store, &iss, "acme");
    let raw = std::cell::RefCell::new(Raw::open(db));
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let n = std::cell::Cell::new(0u32);
    runner
        .run(&prop::collection::vec(amount(), 1..6), |values| {
            n.set(n.get() + 1);
            let meter = format!("m{}", n.get());
            let events: Vec<_> = values
                .iter()
                .enumerate()
                .map(|(i, v)| event(&format!("{meter}-{i}"), "acme", &meter, i as i64, Some(*v)))
                .collect();
            store.insert_usage(&iss, &events, at(100)).unwrap();
            let batch = store.usage_watermark(&iss).unwrap();
            let window = UsageWindow {
                from: at(0),
                to: at(100),
                after_batch: batch - 1,
                up_to_batch: batch,
                customer: Some("acme".into()),
            };
            // Round trip, value by value (in time order).
            let points = store.usage_points(&iss, &meter, &window).unwrap();
            prop_assert_eq!(points.len(), values.len());
            for (point, value) in points.iter().zip(&values) {
                prop_assert_eq!(point.value, *value);
                prop_assert_eq!(to_scaled(point.value, "v"), to_scaled(*value, "v"));
            }
            // SUM and MAX in SQL.
            let aggregates = store.aggregate_usage(&iss, &window).unwrap();
            prop_assert_eq!(aggregates.len(), 1);
            let total: Decimal = values.iter().sum();
            prop_assert_eq!(aggregates[0].sum, total);
            prop_assert_eq!(aggregates[0].max, values.iter().max().copied());
            prop_assert_eq!(aggregates[0].count, values.len() as u64);
            // ORDER BY in SQL.
            let mut sorted = values.clone();
            sorted.sort();
            let ordered: Vec<Decimal> = raw
                .borrow_mut()
                .ordered(&meter)
                .into_iter()
                .map(from_scaled)
                .collect();
            prop_assert_eq!(ordered, sorted);
            Ok(())
        })
        .unwrap();
}

pub fn billing_amounts_beyond_six_places_or_range_are_refused(db: &TestDatabase) {
    let store: &Database = db;
    let iss = issuer(store, "iss_money");
    customer(store, &iss, "acme");
    let refused = [
        Decimal::new(1, 7),
        Decimal::new(12_345_678, 7),
        Decimal::from(10_000_000_000_000_i64),
        Decimal::from(-10_000_000_000_000_i64),
    ];
    for value in refused {
        let result = store.insert_usage(&iss, &[event("bad", "acme", "m", 1, Some(value))], at(2));
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "{value}: {result:?}"
        );
        let credit =
            store.add_prepaid_credit(&iss, "acme", Money::new(value.abs(), Currency::CNY), at(2));
        assert!(
            matches!(credit, Err(StoreError::Invalid(_))),
            "{value}: {credit:?}"
        );
    }
    // Seven places with trailing zeros fit: they are six.
    let fits = Decimal::new(12_345_670, 7);
    let outcome = store
        .insert_usage(&iss, &[event("ok", "acme", "m", 1, Some(fits))], at(2))
        .unwrap();
    assert_eq!(outcome.len(), 1);
    assert_eq!(store.usage_watermark(&iss).unwrap(), 1);
}
