//! Meters running applications into usage events: per application and
//! minute, the vCPU and memory its ready replicas requested.
//!
//! Units are chosen so every value is exact in the billing engine's six
//! decimal places: vCPU-minutes (millicores × replicas / 1000, at most three
//! places) and MiB-minutes (whole numbers). The plan prices them per vCPU-hour
//! and GiB-hour, divided down (see the server's `deploy-usage` plan).
//!
//! A minute is reported once: the idempotency key is derived from the
//! application, the release in effect at the minute's start (read from the
//! stored release history, so a re-run derives the same one) and the minute.
//! The watermark moves only after the sink has accepted a minute, so a meter
//! killed between the two sends the minute again and the billing engine
//! answers it as a duplicate (or, with another replica count, as a conflict:
//! the first report stands). Never counted twice.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shiyun_core::deploy::{AppId, AppRecord, ReleaseRecord};

use crate::engine::{DeployError, DeployResult, Deployer};
use crate::model::AppSpec;

/// The vCPU meter's code.
pub const CPU_METER: &str = "deploy_vcpu_minutes";
/// The property the vCPU meter sums.
pub const CPU_PROPERTY: &str = "vcpu_minutes";
/// The memory meter's code.
pub const MEMORY_METER: &str = "deploy_memory_mib_minutes";
/// The property the memory meter sums.
pub const MEMORY_PROPERTY: &str = "memory_mib_minutes";

/// Where usage goes: the billing engine, as the tenant's own usage.
pub trait UsageSink: Send + Sync {
    /// Reports events of one customer (the tenant's id). `Ok` once every
    /// event is stored, or was stored before; an `Err` leaves the watermark.
    fn report(&self, customer: &str, events: &[Value], now: DateTime<Utc>) -> Result<(), String>;
}

/// What one metering pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MeterReport {
    /// Applications looked at.
    pub apps: usize,
    /// Minutes reported.
    pub minutes: usize,
    /// Events sent.
    pub events: usize,
    /// Applications whose usage could not be reported, with why.
    pub failures: Vec<(String, String)>,
}

/// The meter.
#[derive(Clone)]
pub struct Meter {
    deployer: Deployer,
    sink: Arc<dyn UsageSink>,
    /// Minutes a pass catches up at most (after the meter was down).
    pub max_catch_up_minutes: i64,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meter(..)")
    }
}

/// The events of one application for one minute at `replicas` ready replicas.
pub fn minute_events(
    customer: &str,
    app: &AppId,
    release: u32,
    spec: &AppSpec,
    replicas: u32,
    minute: DateTime<Utc>,
) -> Vec<Value> {
    let stamp = minute.format("%Y-%m-%dT%H:%MZ");
    let vcpu = Decimal::from(spec.resources.cpu_millicores) * Decimal::from(replicas)
        / Decimal::from(1000);
    let memory = Decimal::from(spec.resources.memory_mib) * Decimal::from(replicas);
    let common = |kind: &str, meter: &str, property: &str, value: Decimal| {
        json!({
            "idempotency_key": format!("deploy:{app}:v{release}:{stamp}:{kind}"),
            "customer": customer,
            "meter": meter,
            "timestamp": minute.to_rfc3339(),
            "properties": {
                property: value.normalize().to_string(),
                "app": app.as_str(),
                "release": release,
                "replicas": replicas,
            }
        })
    };
    vec![
        common("cpu", CPU_METER, CPU_PROPERTY, vcpu),
        common("memory", MEMORY_METER, MEMORY_PROPERTY, memory),
    ]
}

/// The release in effect at `at`: the newest one made at or before it, or
/// the first one when all are later (the application started mid-minute).
pub fn release_at(releases: &[ReleaseRecord], at: DateTime<Utc>) -> Option<&ReleaseRecord> {
    releases
        .iter()
        .filter(|r| r.created_at <= at)
        .max_by_key(|r| r.version)
        .or_else(|| releases.iter().min_by_key(|r| r.version))
}

impl Meter {
    /// A meter reporting through `sink`.
    pub fn new(deployer: Deployer, sink: Arc<dyn UsageSink>) -> Self {
        Meter {
            deployer,
            sink,
            max_catch_up_minutes: 15,
        }
    }

    /// Reports every whole minute before `now` not yet reported, for every
    /// running application, at its ready replicas now.
    pub async fn tick(&self, now: DateTime<Utc>) -> DeployResult<MeterReport> {
        let store = self.deployer.store().clone();
        let apps = tokio::task::spawn_blocking(move || store.list_running_apps())
            .await
            .map_err(|e| DeployError::Conflict(format!("meter task: {e}")))??;
        let mut report = MeterReport {
            apps: apps.len(),
            ..MeterReport::default()
        };
        for app in apps {
            match self.meter_app(&app, now).await {
                Ok((minutes, events)) => {
                    report.minutes += minutes;
                    report.events += events;
                }
                Err(error) => report
                    .failures
                    .push((app.id.to_string(), error.to_string())),
            }
        }
        Ok(report)
    }

    async fn meter_app(&self, app: &AppRecord, now: DateTime<Utc>) -> DeployResult<(usize, usize)> {
        let end = floor_minute(now);
        let store = self.deployer.store().clone();
        let id = app.id.clone();
        let (mark, releases) = tokio::task::spawn_blocking(move || {
            Ok::<_, shiyun_core::store::StoreError>((
                store.meter_mark(&id)?,
                store.list_releases(&id)?,
            ))
        })
        .await
        .map_err(|e| DeployError::Conflict(format!("meter task: {e}")))??;
        let earliest = end - Duration::minutes(self.max_catch_up_minutes);
        let start = mark
            .unwrap_or_else(|| floor_minute(app.created_at))
            .max(earliest);
        if start >= end || releases.is_empty() {
            return Ok((0, 0));
        }
        let live = self.deployer.live_status(app).await?;
        let replicas = u32::try_from(live.ready.max(0)).unwrap_or(0);
        let mut events = Vec::new();
        let mut minutes = 0;
        let mut minute = start;
        while minute < end {
            if replicas > 0
                && let Some(release) = release_at(&releases, minute)
            {
                let spec: AppSpec = serde_json::from_value(release.spec["spec"].clone())
                    .map_err(|e| DeployError::Conflict(format!("stored release: {e}")))?;
                events.extend(minute_events(
                    app.tenant.as_str(),
                    &app.id,
                    release.version,
                    &spec,
                    replicas,
                    minute,
                ));
                minutes += 1;
            }
            minute += Duration::minutes(1);
        }
        let count = events.len();
        let sink = self.sink.clone();
        let customer = app.tenant.as_str().to_owned();
        tokio::task::spawn_blocking(move || {
            events
                .chunks(1000)
                .try_for_each(|batch| sink.report(&customer, batch, now))
        })
        .await
        .map_err(|e| DeployError::Conflict(format!("meter task: {e}")))?
        .map_err(DeployError::Conflict)?;
        let store = self.deployer.store().clone();
        let id = app.id.clone();
        tokio::task::spawn_blocking(move || store.set_meter_mark(&id, end))
            .await
            .map_err(|e| DeployError::Conflict(format!("meter task: {e}")))??;
        Ok((minutes, count))
    }
}

/// The start of `at`'s minute.
pub fn floor_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::minutes(1)).unwrap_or(at)
}
