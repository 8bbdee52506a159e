//! STUB (replaced by the kernel branch).
#![allow(missing_docs, clippy::todo)]
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use shiyun_core::ValidationError;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub first_day: NaiveDate,
    pub end_day: NaiveDate,
}
impl Period {
    pub fn days(&self) -> u64 {
        todo!()
    }
    pub fn contains_day(&self, _d: NaiveDate) -> bool {
        todo!()
    }
}
pub fn parse_timezone(_name: &str) -> Result<Tz, ValidationError> {
    todo!()
}
pub fn local_midnight(_date: NaiveDate, _tz: Tz) -> DateTime<Utc> {
    todo!()
}
