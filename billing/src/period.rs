//! Billing periods in the customer's timezone.
//!
//! A period is a run of whole local days; it starts and ends at local
//! midnight, so its UTC instants move with the customer's offset (and with
//! daylight saving time).

use chrono::{DateTime, Datelike, Days, LocalResult, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use shiyun_core::ValidationError;

use crate::plan::{BillingTime, Interval};

/// Parses an IANA timezone name (`Asia/Shanghai`); errors on field `timezone`.
pub fn parse_timezone(name: &str) -> Result<Tz, ValidationError> {
    name.parse::<Tz>()
        .map_err(|_| ValidationError::new("timezone", format!("unknown timezone `{name}`")))
}

/// The UTC instant at which `date` begins in `tz`.
///
/// Where midnight does not exist (a DST gap at midnight) it is the first
/// instant after the gap; where it exists twice, the earlier.
pub fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Transitions fall on whole minutes: the first local minute
            // that exists is where the gap ends.
            let mut local = midnight;
            for _ in 0..(24 * 60) {
                local += chrono::Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&local).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            midnight.and_utc()
        }
    }
}

/// A billing period: the local days `[first_day, end_day)` and the UTC
/// instants `[start, end)` of their midnights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Period {
    /// Local midnight of `first_day`, in UTC.
    pub start: DateTime<Utc>,
    /// Local midnight of `end_day`, in UTC.
    pub end: DateTime<Utc>,
    /// First local day in the period.
    pub first_day: NaiveDate,
    /// First local day after the period (exclusive).
    pub end_day: NaiveDate,
}

impl Period {
    /// The period of local days `[first_day, end_day)` in `tz`.
    pub fn new(first_day: NaiveDate, end_day: NaiveDate, tz: Tz) -> Period {
        Period {
            start: local_midnight(first_day, tz),
            end: local_midnight(end_day, tz),
            first_day,
            end_day,
        }
    }

    /// Number of local days in it (0 for the zero-length opening period).
    pub fn days(&self) -> u64 {
        days_between(self.first_day, self.end_day)
    }

    /// Whether local day `d` is in it.
    pub fn contains_day(&self, d: NaiveDate) -> bool {
        self.first_day <= d && d < self.end_day
    }

    /// Whether it has no days (the opening period of an advance plan).
    pub fn is_empty(&self) -> bool {
        self.first_day >= self.end_day
    }
}

/// Whole days from `a` to `b` (0 if `b` is not after `a`).
pub fn days_between(a: NaiveDate, b: NaiveDate) -> u64 {
    u64::try_from((b - a).num_days()).unwrap_or(0)
}

fn add_months(date: NaiveDate, months: u64) -> NaiveDate {
    u32::try_from(months)
        .ok()
        .and_then(|m| date.checked_add_months(Months::new(m)))
        .unwrap_or(NaiveDate::MAX)
}

fn add_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

/// `anchor` plus `k` whole intervals; months count from the anchor (never
/// chained) with the day clamped to the month's length.
fn nth_start(anchor: NaiveDate, interval: Interval, k: u64) -> NaiveDate {
    match interval.months() {
        None => add_days(anchor, k.saturating_mul(7)),
        Some(m) => add_months(anchor, k.saturating_mul(u64::from(m))),
    }
}

fn month_number(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// Which anniversary period (from 0) holds `day` (not before `anchor`).
fn anniversary_index(anchor: NaiveDate, interval: Interval, day: NaiveDate) -> u64 {
    let mut k = match interval.months() {
        None => days_between(anchor, day) / 7,
        Some(m) => {
            u64::try_from((month_number(day) - month_number(anchor)).max(0)).unwrap_or(0)
                / u64::from(m)
        }
    };
    while k > 0 && nth_start(anchor, interval, k) > day {
        k -= 1;
    }
    while nth_start(anchor, interval, k + 1) <= day
        && nth_start(anchor, interval, k + 1) != NaiveDate::MAX
    {
        k += 1;
    }
    k
}

/// Start of the calendar period holding `day`: Monday, the 1st, the
/// quarter's first month (Jan/Apr/Jul/Oct), 1 January.
pub fn calendar_start(day: NaiveDate, interval: Interval) -> NaiveDate {
    let first_of = |month: u32| NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day);
    match interval {
        Interval::Weekly => day
            .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
            .unwrap_or(day),
        Interval::Monthly => first_of(day.month()),
        Interval::Quarterly => first_of(day.month0() / 3 * 3 + 1),
        Interval::Yearly => first_of(1),
    }
}

/// The full (untruncated) calendar or anniversary period holding `day`, as
/// local days `[first, end)`.
fn full_bounds(
    anchor: NaiveDate,
    interval: Interval,
    billing_time: BillingTime,
    day: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let day = day.max(anchor);
    match billing_time {
        BillingTime::Calendar => {
            let start = calendar_start(day, interval);
            (start, nth_start(start, interval, 1))
        }
        BillingTime::Anniversary => {
            let k = anniversary_index(anchor, interval, day);
            (
                nth_start(anchor, interval, k),
                nth_start(anchor, interval, k + 1),
            )
        }
    }
}

/// The billing period holding `day` for a subscription that started on
/// `anchor` (a day before the anchor is taken as the anchor).
///
/// Calendar periods align to calendar weeks (Monday), months, quarters and
/// years, and the first runs from the anchor to the next boundary (partial).
/// Anniversary periods start on `anchor + k × interval`, months counted
/// from the anchor with the day clamped: an anchor on 31 January gives
/// 28 (or 29) February, 31 March, 30 April, …
pub fn period_for(
    anchor: NaiveDate,
    interval: Interval,
    billing_time: BillingTime,
    tz: Tz,
    day: NaiveDate,
) -> Period {
    let (first, end) = full_bounds(anchor, interval, billing_time, day);
    Period::new(first.max(anchor), end, tz)
}

/// Days of the FULL period holding `day`: the whole calendar period even
/// where the subscription's first period is partial. Fees of partial
/// periods are prorated over it.
pub fn full_period_days(
    anchor: NaiveDate,
    interval: Interval,
    billing_time: BillingTime,
    day: NaiveDate,
) -> u64 {
    let (first, end) = full_bounds(anchor, interval, billing_time, day);
    days_between(first, end)
}

/// Which period `period` is, counting from 0 for the subscription's first
/// (by the period's first day, with this interval from the anchor).
pub fn period_index(
    anchor: NaiveDate,
    interval: Interval,
    billing_time: BillingTime,
    _tz: Tz,
    period: &Period,
) -> u32 {
    let day = period.first_day.max(anchor);
    let index = match billing_time {
        BillingTime::Anniversary => anniversary_index(anchor, interval, day),
        BillingTime::Calendar => {
            let (a, d) = (
                calendar_start(anchor, interval),
                calendar_start(day, interval),
            );
            match interval.months() {
                None => days_between(a, d) / 7,
                Some(m) => {
                    u64::try_from(month_number(d) - month_number(a)).unwrap_or(0) / u64::from(m)
                }
            }
        }
    };
    u32::try_from(index).unwrap_or(u32::MAX)
}
