//! Runs the vendors' scheduled syncs. On each tick, every vendor whose
//! schedule fired since the previous tick is synced under its job lock
//! ([`crate::sync::start_exclusive`], as a CLI sync is). The lock keeps two
//! instances from running at once; the run record keeps an instance whose
//! tick came after another's finished run from running the same firing
//! again. Together: each firing runs once across instances sharing a
//! database.
//!
//! Ticks come from the wall clock ([`Scheduler::run`]) or from the caller
//! ([`Scheduler::run_on`]), so tests decide when time passes.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use shiyun_core::listing::Vendor;
use shiyun_core::store::SyncTrigger;

use crate::Connector;
use crate::error::ConnectorError;
use crate::schedule::Schedules;
use crate::sync::{ExclusiveSync, LogProgress, SyncStores, start_exclusive};

/// How often the scheduler looks for due syncs unless told otherwise.
pub const DEFAULT_TICK: Duration = Duration::from_secs(15);

/// How many recent runs of a vendor are searched for the one of a firing.
const RECENT_RUNS_FOR_FIRING: u32 = 10;

/// Makes the live connector of a vendor (from the caller's settings).
pub type ConnectorFactory =
    dyn Fn(Vendor) -> Result<Box<dyn Connector>, ConnectorError> + Send + Sync;

/// Runs due syncs until its task is dropped.
pub struct Scheduler {
    schedules: Schedules,
    stores: SyncStores,
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
    /// A scheduler of `schedules`, storing into and locking with `stores`.
    pub fn new(schedules: Schedules, stores: SyncStores, connect: Arc<ConnectorFactory>) -> Self {
        Scheduler {
            schedules,
            stores,
            connect,
            tick: DEFAULT_TICK,
        }
    }

    /// Looks for due syncs every `tick`.
    pub fn with_tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Runs forever on the wall clock, looking every tick; abort its task
    /// to stop it.
    pub async fn run(self) {
        let tick = self.tick;
        let start = futures::stream::once(async { Utc::now() });
        let later = futures::stream::unfold((), move |()| async move {
            tokio::time::sleep(tick).await;
            Some((Utc::now(), ()))
        });
        self.run_on(start.chain(later)).await;
    }

    /// Runs the syncs due between consecutive instants of `ticks` (the
    /// first is where the schedules start), each tick's syncs done before
    /// the next tick is read; returns when `ticks` ends.
    pub async fn run_on(&self, ticks: impl Stream<Item = DateTime<Utc>>) {
        if self.schedules.is_empty() {
            return;
        }
        for entry in self.schedules.iter() {
            tracing::info!(vendor = %entry.vendor(), schedule = entry.expression(), "catalog sync scheduled");
        }
        let mut ticks = std::pin::pin!(ticks);
        let Some(mut last_tick) = ticks.next().await else {
            return;
        };
        while let Some(now) = ticks.next().await {
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

    /// Takes `vendor`'s job lock, unless another sync of it holds the lock.
    async fn claim(&self, vendor: Vendor) -> Option<ExclusiveSync> {
        let connector = match (self.connect)(vendor) {
            Ok(connector) => connector,
            Err(e) => {
                tracing::warn!(vendor = %vendor, error = %e, "scheduled sync cannot connect");
                return None;
            }
        };
        match start_exclusive(connector, &self.stores, SyncTrigger::Schedule, false).await {
            Ok(exclusive) => Some(exclusive),
            Err(ConnectorError::SyncBusy { .. }) => {
                tracing::info!(vendor = %vendor, "scheduled sync runs elsewhere");
                None
            }
            Err(e) => {
                tracing::warn!(vendor = %vendor, error = %e, "cannot take the sync lock");
                None
            }
        }
    }

    /// Whether a scheduled run of `vendor` started at or after `due_at`
    /// (on this instance or another).
    async fn firing_done(&self, vendor: Vendor, due_at: DateTime<Utc>) -> bool {
        let runs = Arc::clone(&self.stores.runs);
        let recent = tokio::task::spawn_blocking(move || {
            runs.recent_sync_runs(Some(vendor), RECENT_RUNS_FOR_FIRING)
        })
        .await;
        match recent {
            Ok(Ok(recent)) => recent
                .iter()
                .any(|run| run.trigger == SyncTrigger::Schedule && run.started_at >= due_at),
            // Not knowing, skip: the next firing runs.
            Ok(Err(e)) => {
                tracing::warn!(vendor = %vendor, error = %e, "cannot read recent sync runs");
                true
            }
            Err(e) => {
                tracing::warn!(vendor = %vendor, error = %e, "sync run lookup ended early");
                true
            }
        }
    }

    /// Syncs `vendor` for its firing at `due_at`, unless another instance is
    /// running it or has already run it for that firing.
    async fn run_due(&self, vendor: Vendor, due_at: DateTime<Utc>) {
        let Some(exclusive) = self.claim(vendor).await else {
            return;
        };
        // Checked under the lock: a run finished elsewhere is seen here.
        if self.firing_done(vendor, due_at).await {
            tracing::info!(vendor = %vendor, "scheduled sync already ran for this firing");
            return;
        }
        let stores = self.stores.clone();
        // Its own task, so a panic in one vendor's sync cannot stop the
        // scheduler and every other vendor's schedule with it.
        let outcome = tokio::spawn(async move { exclusive.run(&stores, &LogProgress).await }).await;
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
    }
}
