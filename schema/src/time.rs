//! Timestamps as `BIGINT` microseconds since the Unix epoch, UTC: one column
//! type that means the same on both backends and sorts as it should.

use chrono::{DateTime, Utc};
use shiyun_core::store::{StoreError, StoreResult};

/// `at` in microseconds (sub-microsecond digits are dropped).
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The instant `micros` microseconds after the epoch.
pub(crate) fn from_micros(micros: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Internal(format!("timestamp {micros} out of range")))
}
