//! Periods: calendar and anniversary boundaries, month-end anchors, leap
//! years, local midnight across DST, period indexes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;
use shiyun_billing::period::{
    full_period_days, local_midnight, parse_timezone, period_for, period_index,
};
use shiyun_billing::plan::{BillingTime, Interval};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const UTC: Tz = chrono_tz::UTC;

fn anniversary_starts(anchor: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut day = anchor;
    for _ in 0..n {
        let p = period_for(
            anchor,
            Interval::Monthly,
            BillingTime::Anniversary,
            UTC,
            day,
        );
        out.push(p.first_day);
        day = p.end_day;
    }
    out
}

#[test]
fn anniversary_on_the_31st_clamps_from_the_anchor_not_chained() {
    assert_eq!(
        anniversary_starts(d(2026, 1, 31), 5),
        vec![
            d(2026, 1, 31),
            d(2026, 2, 28),
            d(2026, 3, 31),
            d(2026, 4, 30),
            d(2026, 5, 31)
        ]
    );
    // Leap year: 29 February.
    assert_eq!(
        anniversary_starts(d(2028, 1, 31), 3),
        vec![d(2028, 1, 31), d(2028, 2, 29), d(2028, 3, 31)]
    );
}

#[test]
fn anniversary_on_the_29th_and_30th_across_february() {
    assert_eq!(
        anniversary_starts(d(2027, 1, 29), 3),
        vec![d(2027, 1, 29), d(2027, 2, 28), d(2027, 3, 29)]
    );
    assert_eq!(
        anniversary_starts(d(2028, 1, 29), 3),
        vec![d(2028, 1, 29), d(2028, 2, 29), d(2028, 3, 29)]
    );
    assert_eq!(
        anniversary_starts(d(2027, 1, 30), 3),
        vec![d(2027, 1, 30), d(2027, 2, 28), d(2027, 3, 30)]
    );
    assert_eq!(
        anniversary_starts(d(2028, 1, 30), 3),
        vec![d(2028, 1, 30), d(2028, 2, 29), d(2028, 3, 30)]
    );
    // A day in the middle finds its period directly.
    let p = period_for(
        d(2026, 1, 31),
        Interval::Monthly,
        BillingTime::Anniversary,
        UTC,
        d(2026, 3, 30),
    );
    assert_eq!(
        (p.first_day, p.end_day, p.days()),
        (d(2026, 2, 28), d(2026, 3, 31), 31)
    );
}

#[test]
fn leap_day_anchor_2028_02_29() {
    let anchor = d(2028, 2, 29);
    let y = period_for(
        anchor,
        Interval::Yearly,
        BillingTime::Anniversary,
        UTC,
        d(2029, 3, 1),
    );
    assert_eq!((y.first_day, y.end_day), (d(2029, 2, 28), d(2030, 2, 28)));
    let first = period_for(
        anchor,
        Interval::Yearly,
        BillingTime::Anniversary,
        UTC,
        anchor,
    );
    assert_eq!((first.end_day, first.days()), (d(2029, 2, 28), 365));
    // Four years on it is 29 February again (months from the anchor).
    let p = period_for(
        anchor,
        Interval::Yearly,
        BillingTime::Anniversary,
        UTC,
        d(2032, 3, 1),
    );
    assert_eq!(p.first_day, d(2032, 2, 29));
    assert_eq!(
        anniversary_starts(anchor, 3),
        vec![d(2028, 2, 29), d(2028, 3, 29), d(2028, 4, 29)]
    );
    // Calendar month holding the leap day.
    let c = period_for(
        d(2028, 2, 1),
        Interval::Monthly,
        BillingTime::Calendar,
        UTC,
        anchor,
    );
    assert_eq!(c.days(), 29);
}

#[test]
fn calendar_months_and_a_partial_first_period() {
    let anchor = d(2026, 1, 20);
    let first = period_for(
        anchor,
        Interval::Monthly,
        BillingTime::Calendar,
        UTC,
        anchor,
    );
    assert_eq!(
        (first.first_day, first.end_day, first.days()),
        (anchor, d(2026, 2, 1), 12)
    );
    assert_eq!(
        full_period_days(anchor, Interval::Monthly, BillingTime::Calendar, anchor),
        31
    );
    let feb = period_for(
        anchor,
        Interval::Monthly,
        BillingTime::Calendar,
        UTC,
        d(2026, 2, 14),
    );
    assert_eq!(
        (feb.first_day, feb.end_day, feb.days()),
        (d(2026, 2, 1), d(2026, 3, 1), 28)
    );
    assert!(feb.contains_day(d(2026, 2, 28)) && !feb.contains_day(d(2026, 3, 1)));
    assert_eq!(
        period_index(
            anchor,
            Interval::Monthly,
            BillingTime::Calendar,
            UTC,
            &first
        ),
        0
    );
    assert_eq!(
        period_index(anchor, Interval::Monthly, BillingTime::Calendar, UTC, &feb),
        1
    );
    let dec = period_for(
        anchor,
        Interval::Monthly,
        BillingTime::Calendar,
        UTC,
        d(2026, 12, 31),
    );
    assert_eq!(
        (
            dec.end_day,
            period_index(anchor, Interval::Monthly, BillingTime::Calendar, UTC, &dec)
        ),
        (d(2027, 1, 1), 11)
    );
}

#[test]
fn weekly_periods_start_on_monday() {
    // 2026-07-01 is a Wednesday.
    let anchor = d(2026, 7, 1);
    assert_eq!(anchor.weekday(), Weekday::Wed);
    let first = period_for(anchor, Interval::Weekly, BillingTime::Calendar, UTC, anchor);
    assert_eq!((first.first_day, first.end_day), (anchor, d(2026, 7, 6)));
    assert_eq!(first.end_day.weekday(), Weekday::Mon);
    let next = period_for(
        anchor,
        Interval::Weekly,
        BillingTime::Calendar,
        UTC,
        d(2026, 7, 12),
    );
    assert_eq!(
        (next.first_day, next.end_day),
        (d(2026, 7, 6), d(2026, 7, 13))
    );
    assert_eq!(
        period_index(anchor, Interval::Weekly, BillingTime::Calendar, UTC, &next),
        1
    );
    // Anniversary weeks start on the anchor's weekday.
    let a = period_for(
        anchor,
        Interval::Weekly,
        BillingTime::Anniversary,
        UTC,
        d(2026, 7, 20),
    );
    assert_eq!((a.first_day, a.end_day), (d(2026, 7, 15), d(2026, 7, 22)));
    assert_eq!(
        period_index(anchor, Interval::Weekly, BillingTime::Anniversary, UTC, &a),
        2
    );
}

#[test]
fn quarterly_periods() {
    let anchor = d(2026, 2, 10);
    let first = period_for(
        anchor,
        Interval::Quarterly,
        BillingTime::Calendar,
        UTC,
        anchor,
    );
    assert_eq!((first.first_day, first.end_day), (anchor, d(2026, 4, 1)));
    let q3 = period_for(
        anchor,
        Interval::Quarterly,
        BillingTime::Calendar,
        UTC,
        d(2026, 9, 30),
    );
    assert_eq!((q3.first_day, q3.end_day), (d(2026, 7, 1), d(2026, 10, 1)));
    assert_eq!(
        period_index(anchor, Interval::Quarterly, BillingTime::Calendar, UTC, &q3),
        2
    );
    let q4 = period_for(
        anchor,
        Interval::Quarterly,
        BillingTime::Calendar,
        UTC,
        d(2026, 10, 1),
    );
    assert_eq!(q4.end_day, d(2027, 1, 1));
    let anniv = period_for(
        d(2026, 11, 30),
        Interval::Quarterly,
        BillingTime::Anniversary,
        UTC,
        d(2027, 3, 1),
    );
    assert_eq!(
        (anniv.first_day, anniv.end_day),
        (d(2027, 2, 28), d(2027, 5, 30))
    );
}

#[test]
fn yearly_calendar_periods() {
    let anchor = d(2026, 6, 15);
    let first = period_for(anchor, Interval::Yearly, BillingTime::Calendar, UTC, anchor);
    assert_eq!((first.end_day, first.days()), (d(2027, 1, 1), 200));
    assert_eq!(
        full_period_days(
            anchor,
            Interval::Yearly,
            BillingTime::Calendar,
            d(2028, 5, 1)
        ),
        366
    );
}

#[test]
fn new_york_periods_start_at_local_midnight_across_dst() {
    let ny: Tz = parse_timezone("America/New_York").unwrap();
    let anchor = d(2026, 1, 1);
    // March 2026: DST begins on the 8th; April starts in EDT (UTC-4).
    let march = period_for(
        anchor,
        Interval::Monthly,
        BillingTime::Calendar,
        ny,
        d(2026, 3, 15),
    );
    assert_eq!(march.start, utc("2026-03-01T05:00:00Z"));
    assert_eq!(march.end, utc("2026-04-01T04:00:00Z"));
    assert_eq!(march.days(), 31);
    // November 2026: DST ends on the 1st at 02:00, after midnight: 1 Nov is
    // still EDT, 1 Dec is EST.
    let nov = period_for(
        anchor,
        Interval::Monthly,
        BillingTime::Calendar,
        ny,
        d(2026, 11, 20),
    );
    assert_eq!(nov.start, utc("2026-11-01T04:00:00Z"));
    assert_eq!(nov.end, utc("2026-12-01T05:00:00Z"));
    // The week holding the change: a 167-hour week.
    let week = period_for(
        anchor,
        Interval::Weekly,
        BillingTime::Calendar,
        ny,
        d(2026, 3, 8),
    );
    assert_eq!((week.end - week.start).num_hours(), 167);
}

#[test]
fn shanghai_periods_start_at_sixteen_hundred_utc() {
    let sh = parse_timezone("Asia/Shanghai").unwrap();
    let p = period_for(
        d(2026, 1, 1),
        Interval::Monthly,
        BillingTime::Calendar,
        sh,
        d(2026, 2, 3),
    );
    assert_eq!(p.start, utc("2026-01-31T16:00:00Z"));
    assert_eq!(p.end, utc("2026-02-28T16:00:00Z"));
}

#[test]
fn midnight_in_a_gap_is_the_end_of_the_gap_and_a_repeated_one_the_earlier() {
    // Havana springs forward at midnight (00:00 -> 01:00) on 8 March 2026.
    let havana = parse_timezone("America/Havana").unwrap();
    assert_eq!(
        local_midnight(d(2026, 3, 8), havana),
        utc("2026-03-08T05:00:00Z")
    );
    // ...and falls back at 01:00 -> 00:00 on 1 November 2026: midnight
    // happens twice; the earlier is in CDT (UTC-4).
    assert_eq!(
        local_midnight(d(2026, 11, 1), havana),
        utc("2026-11-01T04:00:00Z")
    );
}

#[test]
fn unknown_timezones_are_refused_on_the_timezone_field() {
    let err = parse_timezone("Mars/Olympus").unwrap_err();
    assert_eq!(err.field_name(), "timezone");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn consecutive_periods_tile_the_timeline(
        anchor_days in 0i64..3000, interval in 0usize..4, anniversary in any::<bool>(), later in 0i64..800,
    ) {
        let interval = [Interval::Weekly, Interval::Monthly, Interval::Quarterly, Interval::Yearly][interval];
        let bt = if anniversary { BillingTime::Anniversary } else { BillingTime::Calendar };
        let anchor = d(2024, 1, 1) + chrono::Duration::days(anchor_days);
        let day = anchor + chrono::Duration::days(later);
        let p = period_for(anchor, interval, bt, UTC, day);
        prop_assert!(p.contains_day(day));
        let next = period_for(anchor, interval, bt, UTC, p.end_day);
        prop_assert_eq!(next.first_day, p.end_day);
        prop_assert_eq!(period_index(anchor, interval, bt, UTC, &next), period_index(anchor, interval, bt, UTC, &p) + 1);
        prop_assert!(p.days() <= full_period_days(anchor, interval, bt, day));
        if p.first_day > anchor {
            prop_assert_eq!(p.days(), full_period_days(anchor, interval, bt, day));
        }
    }
}
