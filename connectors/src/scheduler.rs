//! Runs the vendors' scheduled syncs. On each tick, every vendor whose
//! schedule fired since the previous tick is synced under its job lock. The
//! lock keeps two instances from running at once; the run record keeps an
//! instance whose tick came after another's finished run from running the
//! same firing again. Together: each firing runs once across instances
//! sharing a database.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use shiyun_core::listing::Vendor;
use shiyun_core::store::{JobGuard, JobLock, StoreResult};

use crate::Connector;
use crate::error::ConnectorError;
use crate::schedule::{Schedules, job_name};
use crate::sync::{LogProgress, SyncOptions, SyncStores, run_sync};

/// The trigger recorded on scheduled runs.
pub const SCHEDULE_TRIGGER: &str = "schedule";

/// How often the scheduler looks for due syncs unless told otherwise.
pub const DEFAULT_TICK: Duration = Duration::from_secs(15);

/// Makes the live connector of a vendor (from the caller's settings).
pub type ConnectorFactory =
    dyn Fn(Vendor) -> Result<Box<dyn Connector>, ConnectorError> + Send + Sync;

/// Runs due syncs until its task is dropped.
pub struct Scheduler {
    schedules: Schedules,
    stores: SyncStores,
    lock: Arc<dyn JobLock>,
    connect: Arc<ConnectorFactory>,
    tick: Duration,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("schedules", &self.schedules)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler of `schedules`, storing into `stores`, locking with `lock`.
    pub fn new(
        schedules: Schedules,
        stores: SyncStores,
        lock: Arc<dyn JobLock>,
        connect: Arc<ConnectorFactory>,
    ) -> Self {
        Scheduler {
            schedules,
            stores,
            lock,
            connect,
            tick: DEFAULT_TICK,
        }
    }

    /// Looks for due syncs every `tick`.
    pub fn with_tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Runs forever; abort its task to stop it.
    pub async fn run(self) {
        if self.schedules.is_empty() {
            return;
        }
        for entry in self.schedules.iter() {
            tracing::info!(vendor = %entry.vendor(), schedule = entry.expression(), "catalog sync scheduled");
        }
        let mut last_tick = Utc::now();
        loop {
            tokio::time::sleep(self.tick).await;
            let now = Utc::now();
            for vendor in self.schedules.due_between(last_tick, now) {
                let due_at = self
                    .schedules
                    .get(vendor)
                    .and_then(|s| s.next_after(last_tick))
                    .unwrap_or(now);
                self.run_due(vendor, due_at).await;
            }
            last_tick = now;
        }
    }

    /// Syncs `vendor` for its firing at `due_at`, unless another instance is
    /// running it or has already run it for that firing.
    async fn run_due(&self, vendor: Vendor, due_at: DateTime<Utc>) {
        let lock = Arc::clone(&self.lock);
        let runs = Arc::clone(&self.stores.runs);
        let claimed =
            tokio::task::spawn_blocking(move || -> StoreResult<Option<Box<dyn JobGuard>>> {
                let Some(guard) = lock.try_lock_job(&job_name(vendor))? else {
                    return Ok(None);
                };
                let done = runs
                    .recent_sync_runs(Some(vendor), 10)?
                    .iter()
                    .any(|run| run.trigger == SCHEDULE_TRIGGER && run.started_at >= due_at);
                Ok((!done).then_some(guard))
            })
            .await;
        let guard = match claimed {
            Ok(Ok(Some(guard))) => guard,
            Ok(Ok(None)) => {
                tracing::info!(vendor = %vendor, "scheduled sync ran or runs elsewhere");
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(vendor = %vendor, error = %e, "cannot take the sync lock");
                return;
            }
            Err(e) => {
                tracing::warn!(vendor = %vendor, error = %e, "lock task failed");
                return;
            }
        };
        let connect = Arc::clone(&self.connect);
        let stores = self.stores.clone();
        // Its own task, so a panic in one vendor's sync cannot stop the
        // scheduler and every other vendor's schedule with it.
        let outcome = tokio::spawn(async move {
            let connector = connect(vendor)?;
            run_sync(
                connector.as_ref(),
                &stores,
                SyncOptions::new(SCHEDULE_TRIGGER),
                &LogProgress,
            )
            .await
        })
        .await;
        match outcome {
            Err(e) => tracing::error!(vendor = %vendor, error = %e, "scheduled sync panicked"),
            Ok(Ok(run)) => tracing::info!(
                vendor = %vendor,
                run = run.id,
                new = run.report.new,
                changed = run.report.changed,
                retired = run.report.retired,
                "scheduled sync done"
            ),
            Ok(Err(e)) => tracing::warn!(vendor = %vendor, error = %e, "scheduled sync failed"),
        }
        drop(guard);
    }
}
