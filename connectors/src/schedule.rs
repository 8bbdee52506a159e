//! When each vendor's catalog sync is due: a cron expression per vendor
//! (`[vendors.<id>] schedule`, seconds first as the `cron` crate reads it,
//! e.g. `0 30 3 * * *` for 03:30:00 daily), evaluated in UTC.
//!
//! Expressions are parsed once when the settings load, so a typo is a
//! startup error and not a sync that silently never runs. The server asks
//! [`Schedules::due_between`] on each tick and runs each due sync under the
//! [`shiyun_core::store::JobLock`] named [`job_name`], so several instances
//! sharing PostgreSQL run it once.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use shiyun_core::listing::Vendor;

use crate::error::ConnectorError;
use crate::settings::VendorSettings;

/// The `JobLock` name of a vendor's scheduled sync.
pub fn job_name(vendor: Vendor) -> String {
    format!("catalog-sync:{vendor}")
}

/// One vendor's parsed schedule.
#[derive(Debug, Clone)]
pub struct VendorSchedule {
    vendor: Vendor,
    schedule: cron::Schedule,
}

impl VendorSchedule {
    /// Parses `expression` for `vendor`, with an error that names the setting.
    pub fn parse(vendor: Vendor, expression: &str) -> Result<Self, ConnectorError> {
        let schedule = cron::Schedule::from_str(expression.trim()).map_err(|e| {
            ConnectorError::Config(format!(
                "vendors.{vendor}.schedule: `{expression}` is not a cron expression \
                 (six or seven fields, seconds first, e.g. `0 30 3 * * *`): {e}"
            ))
        })?;
        Ok(VendorSchedule { vendor, schedule })
    }

    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.vendor
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        self.schedule.source()
    }

    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after).next()
    }

    /// True when the schedule fires in `(from, to]`: the window since the
    /// previous tick, so a firing is neither missed nor run twice.
    pub fn due_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.next_after(from).is_some_and(|next| next <= to)
    }
}

/// The schedules of every vendor that has one.
#[derive(Debug, Clone, Default)]
pub struct Schedules {
    entries: Vec<VendorSchedule>,
}

impl Schedules {
    /// Parses the `schedule` of each vendor's settings; vendors without one
    /// are never scheduled. Every bad expression is reported, not just the first.
    pub fn from_settings<'a, I>(settings: I) -> Result<Self, ConnectorError>
    where
        I: IntoIterator<Item = (Vendor, &'a VendorSettings)>,
    {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for (vendor, vendor_settings) in settings {
            let Some(expression) = vendor_settings.schedule.as_deref() else {
                continue;
            };
            match VendorSchedule::parse(vendor, expression) {
                Ok(schedule) => entries.push(schedule),
                Err(ConnectorError::Config(message)) => errors.push(message),
                Err(other) => errors.push(other.to_string()),
            }
        }
        if !errors.is_empty() {
            return Err(ConnectorError::Config(errors.join("; ")));
        }
        entries.sort_by_key(VendorSchedule::vendor);
        Ok(Schedules { entries })
    }

    /// The parsed schedules, by vendor.
    pub fn iter(&self) -> impl Iterator<Item = &VendorSchedule> {
        self.entries.iter()
    }

    /// One vendor's schedule.
    pub fn get(&self, vendor: Vendor) -> Option<&VendorSchedule> {
        self.entries.iter().find(|s| s.vendor == vendor)
    }

    /// True when no vendor is scheduled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The vendors whose schedule fires in `(from, to]`.
    pub fn due_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Vendor> {
        self.entries
            .iter()
            .filter(|s| s.due_between(from, to))
            .map(VendorSchedule::vendor)
            .collect()
    }

    /// The next firing after `after` and the vendors due then (several when
    /// their schedules coincide); `None` when nothing is scheduled.
    pub fn next_due(&self, after: DateTime<Utc>) -> Option<(DateTime<Utc>, Vec<Vendor>)> {
        let firings: Vec<(DateTime<Utc>, Vendor)> = self
            .entries
            .iter()
            .filter_map(|s| s.next_after(after).map(|at| (at, s.vendor)))
            .collect();
        let first = firings.iter().map(|(at, _)| *at).min()?;
        let vendors = firings
            .into_iter()
            .filter(|(at, _)| *at == first)
            .map(|(_, v)| v)
            .collect();
        Some((first, vendors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn settings(schedule: Option<&str>) -> VendorSettings {
        VendorSettings {
            schedule: schedule.map(str::to_owned),
            ..VendorSettings::default()
        }
    }

    #[test]
    fn bad_expressions_fail_with_the_setting_named() {
        let err = VendorSchedule::parse(Vendor::Aws, "every day").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("vendors.aws.schedule"), "{text}");
        assert!(text.contains("`every day`"), "{text}");
        // Five-field (minute-first) crontab lines are not accepted: seconds come first.
        assert!(VendorSchedule::parse(Vendor::Aws, "30 3 * * *").is_err());
        let (aws, gcp, azure) = (
            settings(Some("bad")),
            settings(Some("0 0 * * * *")),
            settings(Some("x y")),
        );
        let err = Schedules::from_settings([
            (Vendor::Aws, &aws),
            (Vendor::Gcp, &gcp),
            (Vendor::Azure, &azure),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("vendors.aws.schedule") && err.contains("vendors.azure.schedule"),
            "{err}"
        );
    }

    #[test]
    fn due_windows_are_half_open() {
        let daily = VendorSchedule::parse(Vendor::Alibaba, "0 30 3 * * *").unwrap();
        assert_eq!(daily.expression(), "0 30 3 * * *");
        assert_eq!(
            daily.next_after(at("2025-01-01T00:00:00Z")),
            Some(at("2025-01-01T03:30:00Z"))
        );
        assert!(daily.due_between(at("2025-01-01T03:29:00Z"), at("2025-01-01T03:30:00Z")));
        // The firing at the window's start belongs to the previous window.
        assert!(!daily.due_between(at("2025-01-01T03:30:00Z"), at("2025-01-01T03:31:00Z")));
        assert!(!daily.due_between(at("2025-01-01T04:00:00Z"), at("2025-01-02T03:00:00Z")));
    }

    #[test]
    fn due_vendors_and_next_due() {
        let (hourly, daily, also_hourly, none) = (
            settings(Some("0 0 * * * *")),
            settings(Some("0 0 3 * * *")),
            settings(Some("0 0 */1 * * *")),
            settings(None),
        );
        let schedules = Schedules::from_settings([
            (Vendor::Tencent, &also_hourly),
            (Vendor::Aws, &hourly),
            (Vendor::Gcp, &daily),
            (Vendor::Azure, &none),
        ])
        .unwrap();
        assert_eq!(schedules.iter().count(), 3);
        assert!(schedules.get(Vendor::Azure).is_none());
        assert_eq!(
            schedules.due_between(at("2025-01-01T02:59:59Z"), at("2025-01-01T03:00:00Z")),
            vec![Vendor::Aws, Vendor::Gcp, Vendor::Tencent]
        );
        assert_eq!(
            schedules.due_between(at("2025-01-01T03:00:00Z"), at("2025-01-01T03:59:59Z")),
            Vec::<Vendor>::new()
        );
        assert_eq!(
            schedules.next_due(at("2025-01-01T03:00:00Z")),
            Some((
                at("2025-01-01T04:00:00Z"),
                vec![Vendor::Aws, Vendor::Tencent]
            ))
        );
        assert_eq!(
            Schedules::default().next_due(at("2025-01-01T00:00:00Z")),
            None
        );
        assert_eq!(job_name(Vendor::Gcp), "catalog-sync:gcp");
    }
}
