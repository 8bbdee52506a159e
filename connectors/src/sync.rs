//! The sync engine: pages from a connector into the listing store.
//!
//! A run fetches page after page, upserts each page's listings (the store
//! diffs them: new, changed with price history, unchanged) and saves the
//! run's progress after every page, `resume_token` being the next page's
//! token. When every page is in, listings of the vendor not seen since the
//! run started are retired. A failure saves the run as failed with the token
//! it stopped at; [`SyncOptions::resume_from`] continues that same run, with
//! its original start time, so the retire sweep still covers the whole run.
//!
//! Two syncs of one vendor at once would each see the other's listings as
//! unseen, so live syncs go through [`start_exclusive`], which takes the
//! vendor's job lock and decides which run may be resumed: the CLI and the
//! scheduler share it.
//!
//! Every page passes through the geography before it is stored: offers in a
//! vendor's test region are dropped and counted as skipped, and region codes
//! the table does not know are logged and noted once per run. Both go in the
//! run report's [`SyncRun::regions`], not in its rejections: neither is a
//! fault of the feed, so neither holds back the retire sweep.
//!
//! The store traits are synchronous, so each call runs on a blocking thread.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use shiyun_core::listing::{Listing, Vendor};
use shiyun_core::store::{
    JobGuard, JobLock, ListingStore, RecordRejection, RetireScope, RunStatus, StoreError,
    StoreResult, SyncRun, SyncRunId, SyncRunStore, SyncTrigger, UpsertReport,
};

use crate::error::ConnectorError;
use crate::schedule::job_name;
use crate::{Connector, FetchedPage, ImportContext};

/// Above this share of rejected records (percent) a sync does not retire:
/// unseen offers are then likelier unreadable than gone.
pub const MAX_REJECTED_PERCENT_FOR_SWEEP: u64 = 10;

/// The stores a sync writes to.
#[derive(Clone)]
pub struct SyncStores {
    /// The listing catalog.
    pub listings: Arc<dyn ListingStore>,
    /// Run reports.
    pub runs: Arc<dyn SyncRunStore>,
    /// The vendors' job locks (one sync of a vendor at a time, across instances).
    pub locks: Arc<dyn JobLock>,
}

impl SyncStores {
    /// All three from one store (the database).
    pub fn of<S>(store: S) -> Self
    where
        S: ListingStore + SyncRunStore + JobLock + Clone + 'static,
    {
        SyncStores {
            listings: Arc::new(store.clone()),
            runs: Arc::new(store.clone()),
            locks: Arc::new(store),
        }
    }
}

impl std::fmt::Debug for SyncStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncStores").finish_non_exhaustive()
    }
}

/// How to run a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// What started it.
    pub trigger: SyncTrigger,
    /// Continue this failed run from its `resume_token` instead of starting a new one.
    pub resume_from: Option<SyncRunId>,
    /// The vendor service the connector covers, when it covers one only:
    /// the retire sweep is then limited to it.
    pub service: Option<String>,
}

impl SyncOptions {
    /// A fresh run started by `trigger`, over the vendor's whole catalog.
    pub fn new(trigger: SyncTrigger) -> Self {
        SyncOptions {
            trigger,
            resume_from: None,
            service: None,
        }
    }

    /// Resume the failed run `id`.
    pub fn resume(mut self, id: SyncRunId) -> Self {
        self.resume_from = Some(id);
        self
    }
}

/// One page stored, as reported to a [`SyncProgress`].
#[derive(Debug, Clone, Copy)]
pub struct PageDone<'a> {
    /// The run so far (pages, totals).
    pub run: &'a SyncRun,
    /// The saved response's name, for imports.
    pub label: Option<&'a str>,
    /// Listings on this page.
    pub listings: usize,
    /// Records of this page rejected.
    pub rejected: usize,
    /// Offers of this page skipped in test regions (never stored).
    pub skipped: u64,
    /// What this page did to the catalog.
    pub report: UpsertReport,
}

/// Where a sync reports progress: an indicatif bar in the CLI, log lines in
/// the server.
pub trait SyncProgress: Send + Sync {
    /// A page was fetched, stored and the run saved.
    fn page_done(&self, page: &PageDone<'_>);

    /// The run ended (succeeded or failed) and was saved.
    fn finished(&self, run: &SyncRun) {
        let _ = run;
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl SyncProgress for NoProgress {
    fn page_done(&self, _page: &PageDone<'_>) {}
}

/// Reports through `tracing` at info level.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogProgress;

impl SyncProgress for LogProgress {
    fn page_done(&self, page: &PageDone<'_>) {
        tracing::info!(
            run = page.run.id,
            vendor = %page.run.vendor,
            page = page.run.pages,
            label = page.label.unwrap_or(""),
            listings = page.listings,
            rejected = page.rejected,
            skipped = page.skipped,
            new = page.report.new,
            changed = page.report.changed,
            unchanged = page.report.unchanged,
            "sync page stored"
        );
    }

    fn finished(&self, run: &SyncRun) {
        let seconds = run
            .finished_at
            .map(|end| (end - run.started_at).num_milliseconds() as f64 / 1000.0);
        tracing::info!(
            run = run.id,
            vendor = %run.vendor,
            status = run.status.as_str(),
            pages = run.pages,
            new = run.report.new,
            changed = run.report.changed,
            unchanged = run.report.unchanged,
            retired = run.report.retired,
            rejected = run.rejected,
            skipped = run.regions.total_skipped(),
            unknown_regions = run.regions.unknown_regions.len(),
            seconds,
            error = run.error.as_deref().unwrap_or(""),
            "sync finished"
        );
    }
}

/// The current time at the microsecond precision both databases keep, so a
/// run handed back equals the run read back, and a resumed run's start equals
/// the `seen_at` its first pages were stored with.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Runs a store call on a blocking thread.
async fn blocking<T, F>(call: F) -> Result<T, ConnectorError>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| ConnectorError::Interrupted(format!("the store task ended early: {e}")))?
        .map_err(ConnectorError::from)
}

async fn save(stores: &SyncStores, run: &SyncRun) -> Result<(), ConnectorError> {
    let runs = Arc::clone(&stores.runs);
    let snapshot = run.clone();
    blocking(move || runs.save_sync_run(&snapshot)).await
}

async fn upsert(
    stores: &SyncStores,
    listings: Vec<Listing>,
    seen_at: DateTime<Utc>,
) -> Result<UpsertReport, ConnectorError> {
    if listings.is_empty() {
        return Ok(UpsertReport::default());
    }
    let store = Arc::clone(&stores.listings);
    blocking(move || store.upsert_listings(&listings, seen_at)).await
}

/// Adds a page's counts to the run; the run keeps the first
/// [`SyncRun::MAX_KEPT_REJECTIONS`] rejections in detail.
fn absorb(run: &mut SyncRun, report: UpsertReport, rejections: Vec<RecordRejection>) {
    run.pages += 1;
    run.report.absorb(report);
    run.rejected += rejections.len() as u64;
    let room = SyncRun::MAX_KEPT_REJECTIONS.saturating_sub(run.rejections.len());
    run.rejections.extend(rejections.into_iter().take(room));
}

/// Adds a page's region findings to the run's [`RegionReport`]: offers
/// skipped in test regions, and region codes the geography table does not
/// know, each logged the first time the run meets it (a resumed run's report
/// already holds the codes it met before).
///
/// [`RegionReport`]: shiyun_core::store::RegionReport
fn absorb_regions(run: &mut SyncRun, page: &FetchedPage) {
    for code in &page.unknown_regions {
        if run.regions.note_unknown(code) {
            tracing::warn!(
                run = run.id,
                vendor = %run.vendor,
                region = %code,
                "region not in the geography table: its offers are stored under this code"
            );
        }
    }
    for (code, count) in &page.skipped {
        run.regions.add_skipped(code, *count);
    }
}

/// Saves `run` as failed with `error`, stopped before the page `token`,
/// and hands the error back.
async fn fail(
    stores: &SyncStores,
    progress: &dyn SyncProgress,
    run: &mut SyncRun,
    token: Option<String>,
    error: ConnectorError,
) -> ConnectorError {
    run.status = RunStatus::Failed;
    run.error = Some(error.to_string());
    run.resume_token = token;
    run.finished_at = Some(now());
    if let Err(save_error) = save(stores, run).await {
        tracing::error!(run = run.id, error = %save_error, "could not save the failed sync run");
    }
    progress.finished(run);
    error
}

/// Whether `run` may be resumed as a sync of `vendor`: it must be the
/// vendor's, a sync (an import covers some files, never the vendor's
/// catalog: resuming one as a sync would retire everything else), and failed.
pub fn ensure_resumable(run: &SyncRun, vendor: Vendor) -> Result<(), ConnectorError> {
    if run.vendor != vendor {
        return Err(ConnectorError::OtherVendorRun {
            run: run.id,
            run_vendor: run.vendor,
            vendor,
        });
    }
    let refuse = |reason: String| ConnectorError::NotResumable {
        run: run.id,
        reason,
    };
    if run.trigger == SyncTrigger::Import {
        return Err(refuse(
            "is an import; import the files again instead".into(),
        ));
    }
    if run.status != RunStatus::Failed {
        return Err(refuse(format!(
            "is {}, only a failed run can be resumed",
            run.status.as_str()
        )));
    }
    Ok(())
}

/// How many recent runs [`resumable_run`] looks through for the vendor's last sync.
const RECENT_RUNS_FOR_RESUME: u32 = 50;

/// The vendor's last sync (imports aside), when it failed and so may be
/// resumed; [`ConnectorError::NothingToResume`] otherwise.
pub async fn resumable_run(stores: &SyncStores, vendor: Vendor) -> Result<SyncRun, ConnectorError> {
    let runs = Arc::clone(&stores.runs);
    let recent =
        blocking(move || runs.recent_sync_runs(Some(vendor), RECENT_RUNS_FOR_RESUME)).await?;
    let last_sync = recent
        .into_iter()
        .find(|run| run.trigger != SyncTrigger::Import)
        .ok_or(ConnectorError::NothingToResume { vendor })?;
    match ensure_resumable(&last_sync, vendor) {
        Ok(()) => Ok(last_sync),
        Err(ConnectorError::NotResumable { .. }) => Err(ConnectorError::NothingToResume { vendor }),
        Err(other) => Err(other),
    }
}

/// A sync of one vendor that holds the vendor's job lock until it has run.
pub struct ExclusiveSync {
    connector: Box<dyn Connector>,
    options: SyncOptions,
    resuming: Option<SyncRun>,
    guard: Box<dyn JobGuard>,
}

impl std::fmt::Debug for ExclusiveSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExclusiveSync")
            .field("vendor", &self.connector.vendor())
            .field("options", &self.options)
            .field("resuming", &self.resuming.as_ref().map(|run| run.id))
            .finish_non_exhaustive()
    }
}

/// Takes the job lock of `connector`'s vendor for a sync started by `trigger`
/// ([`ConnectorError::SyncBusy`] when another sync holds it, here or on
/// another instance). With `resume_last_failed`, the sync continues the
/// vendor's last sync, which must have failed (see [`resumable_run`]); it is
/// looked up under the lock, so no other run can start in between.
pub async fn start_exclusive(
    connector: Box<dyn Connector>,
    stores: &SyncStores,
    trigger: SyncTrigger,
    resume_last_failed: bool,
) -> Result<ExclusiveSync, ConnectorError> {
    let vendor = connector.vendor();
    let locks = Arc::clone(&stores.locks);
    let guard = blocking(move || locks.try_lock_job(&job_name(vendor)))
        .await?
        .ok_or(ConnectorError::SyncBusy { vendor })?;
    let mut options = SyncOptions::new(trigger);
    let resuming = if resume_last_failed {
        let run = resumable_run(stores, vendor).await?;
        options = options.resume(run.id);
        Some(run)
    } else {
        None
    };
    Ok(ExclusiveSync {
        connector,
        options,
        resuming,
        guard,
    })
}

impl ExclusiveSync {
    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.connector.vendor()
    }

    /// The failed run this sync continues, if it resumes one.
    pub fn resuming(&self) -> Option<&SyncRun> {
        self.resuming.as_ref()
    }

    /// Runs the sync with [`run_sync`], then releases the lock.
    pub async fn run(
        self,
        stores: &SyncStores,
        progress: &dyn SyncProgress,
    ) -> Result<SyncRun, ConnectorError> {
        let outcome = run_sync(self.connector.as_ref(), stores, self.options, progress).await;
        drop(self.guard);
        outcome
    }
}

/// Starts a new run or reopens the failed one to resume.
async fn open_run(
    vendor: Vendor,
    stores: &SyncStores,
    options: &SyncOptions,
) -> Result<SyncRun, ConnectorError> {
    let runs = Arc::clone(&stores.runs);
    match options.resume_from {
        None => {
            let started_at = now();
            let trigger = options.trigger;
            blocking(move || runs.start_sync_run(vendor, trigger, started_at)).await
        }
        Some(id) => {
            let mut run = blocking(move || runs.get_sync_run(id))
                .await?
                .ok_or_else(|| {
                    ConnectorError::Store(StoreError::NotFound {
                        entity: "sync run",
                        id: id.to_string(),
                    })
                })?;
            ensure_resumable(&run, vendor)?;
            run.status = RunStatus::Running;
            run.error = None;
            run.finished_at = None;
            save(stores, &run).await?;
            Ok(run)
        }
    }
}

/// Runs (or resumes) a sync of `connector`'s vendor and returns the saved
/// run report. On failure the run is saved as failed, resumable from the
/// page it stopped at, and the error is returned.
pub async fn run_sync(
    connector: &dyn Connector,
    stores: &SyncStores,
    options: SyncOptions,
    progress: &dyn SyncProgress,
) -> Result<SyncRun, ConnectorError> {
    let vendor = connector.vendor();
    let mut run = open_run(vendor, stores, &options).await?;
    let seen_at = run.started_at;
    // A failed run with pages stored and no token had fetched everything and
    // failed in the retire sweep: only the sweep is left to do.
    let fetch_done = options.resume_from.is_some() && run.pages > 0 && run.resume_token.is_none();
    let mut token = run.resume_token.clone();
    let mut tokens_seen: std::collections::HashSet<String> = token.iter().cloned().collect();

    loop {
        if fetch_done {
            break;
        }
        let mut page: FetchedPage = match connector.fetch_page(token.as_deref()).await {
            Ok(page) => page,
            Err(e) => return Err(fail(stores, progress, &mut run, token, e).await),
        };
        page.place_regions(vendor);
        absorb_regions(&mut run, &page);
        if let Some(next) = &page.next_token
            && !tokens_seen.insert(next.clone())
        {
            // A cycle (A, B, A…) would page forever.
            let e = ConnectorError::Malformed {
                vendor,
                message: format!("page token {next:?} came back; stopping instead of looping"),
            };
            return Err(fail(stores, progress, &mut run, token, e).await);
        }
        let listings_on_page = page.listings.len();
        let rejected_on_page = page.rejections.len();
        let skipped_on_page = page.skipped.values().sum();
        let report = match upsert(stores, page.listings, seen_at).await {
            Ok(report) => report,
            Err(e) => return Err(fail(stores, progress, &mut run, token, e).await),
        };
        absorb(&mut run, report, page.rejections);
        run.resume_token = page.next_token.clone();
        if let Err(e) = save(stores, &run).await {
            return Err(fail(stores, progress, &mut run, page.next_token, e).await);
        }
        progress.page_done(&PageDone {
            run: &run,
            label: None,
            listings: listings_on_page,
            rejected: rejected_on_page,
            skipped: skipped_on_page,
            report,
        });
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }

    let seen = run.report.new + run.report.changed + run.report.unchanged;
    let mut note = None;
    if seen == 0 {
        // An empty catalog is far likelier a broken feed than a vendor
        // withdrawing every offer: keep what we have.
        tracing::warn!(run = run.id, vendor = %vendor, "sync returned no listings; skipping the retire sweep");
    } else if run.rejected * 100 > (seen + run.rejected) * MAX_REJECTED_PERCENT_FOR_SWEEP {
        // Rejected records are not seen, so a sweep now would retire offers
        // the vendor still sells (a new unit or field, not a withdrawal).
        let message = format!(
            "retire sweep skipped: {} of {} records were rejected",
            run.rejected,
            seen + run.rejected
        );
        tracing::warn!(run = run.id, vendor = %vendor, "{message}");
        note = Some(message);
    } else {
        let store = Arc::clone(&stores.listings);
        let scope = RetireScope {
            vendor,
            service: options.service.clone(),
            seen_pairs_only: true,
        };
        match blocking(move || store.retire_unseen(&scope, seen_at, now())).await {
            Ok(retired) => run.report.retired += retired,
            Err(e) => return Err(fail(stores, progress, &mut run, None, e).await),
        }
    }

    run.status = RunStatus::Succeeded;
    run.resume_token = None;
    run.error = note;
    run.finished_at = Some(now());
    save(stores, &run).await?;
    progress.finished(&run);
    Ok(run)
}

/// Normalises saved vendor responses with [`crate::import_page`] and stores
/// them as one [`SyncTrigger::Import`] run. A response that cannot be read at
/// all is recorded as a rejection under its label and the import goes on.
/// Imports never retire: a set of files says nothing about what is gone.
pub async fn import_pages<I>(
    vendor: Vendor,
    pages: I,
    stores: &SyncStores,
    progress: &dyn SyncProgress,
) -> Result<SyncRun, ConnectorError>
where
    I: IntoIterator<Item = (String, Vec<u8>, ImportContext)>,
{
    let normalised = pages.into_iter().map(|(label, body, ctx)| {
        let page = crate::import_page(vendor, &body, &ctx);
        (label, page)
    });
    import_stream(vendor, futures::stream::iter(normalised), stores, progress).await
}

/// Stores already normalised pages as one [`SyncTrigger::Import`] run, in the order the
/// stream yields them. The pages come from [`crate::import_page`] or
/// [`crate::import_reader`], which have already placed their regions (test
/// regions dropped, unknown codes noted), so they are not placed again here. A page that failed is recorded as a rejection under
/// its label and the import goes on. Feeding it from a bounded channel keeps
/// memory flat however large the input (AWS offer files are gigabytes).
pub async fn import_stream<S>(
    vendor: Vendor,
    pages: S,
    stores: &SyncStores,
    progress: &dyn SyncProgress,
) -> Result<SyncRun, ConnectorError>
where
    S: futures::Stream<Item = (String, Result<FetchedPage, ConnectorError>)>,
{
    use futures::StreamExt;

    let mut run = open_run(vendor, stores, &SyncOptions::new(SyncTrigger::Import)).await?;
    let seen_at = run.started_at;
    let mut pages = std::pin::pin!(pages);
    while let Some((label, page)) = pages.next().await {
        let page = page.unwrap_or_else(|e| FetchedPage {
            rejections: vec![RecordRejection {
                vendor_key: label.clone(),
                reason: e.to_string(),
            }],
            ..FetchedPage::default()
        });
        absorb_regions(&mut run, &page);
        let listings_on_page = page.listings.len();
        let rejected_on_page = page.rejections.len();
        let skipped_on_page = page.skipped.values().sum();
        let report = match upsert(stores, page.listings, seen_at).await {
            Ok(report) => report,
            Err(e) => return Err(fail(stores, progress, &mut run, None, e).await),
        };
        absorb(&mut run, report, page.rejections);
        if let Err(e) = save(stores, &run).await {
            return Err(fail(stores, progress, &mut run, None, e).await);
        }
        progress.page_done(&PageDone {
            run: &run,
            label: Some(&label),
            listings: listings_on_page,
            rejected: rejected_on_page,
            skipped: skipped_on_page,
            report,
        });
    }
    run.status = RunStatus::Succeeded;
    run.finished_at = Some(now());
    save(stores, &run).await?;
    progress.finished(&run);
    Ok(run)
}

/// Normalises the saved response `files` (see [`crate::normalise_files`])
/// and stores them as one [`SyncTrigger::Import`] run. Files are read on a
/// blocking thread that hands pages over a small bounded channel: the parser
/// waits for the store, so memory stays flat however large the files.
pub async fn import_files(
    vendor: Vendor,
    files: Vec<PathBuf>,
    ctx: ImportContext,
    stores: &SyncStores,
    progress: &dyn SyncProgress,
) -> Result<SyncRun, ConnectorError> {
    let (pages_tx, mut pages_rx) = tokio::sync::mpsc::channel(4);
    let producer = tokio::task::spawn_blocking(move || {
        crate::normalise_files(vendor, &files, &ctx, |label, page| {
            pages_tx
                .blocking_send((label, page))
                .map_err(|_| ConnectorError::Interrupted("the import stopped taking pages".into()))
        })
    });
    let pages = futures::stream::poll_fn(move |cx| pages_rx.poll_recv(cx));
    let run = import_stream(vendor, pages, stores, progress).await?;
    // The import succeeded, so the producer sent every page, unless it
    // panicked and left files unread.
    producer.await.map_err(|e| {
        ConnectorError::Interrupted(format!("reading the files ended early: {e}"))
    })??;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run() -> SyncRun {
        SyncRun {
            id: 1,
            vendor: Vendor::Aws,
            trigger: SyncTrigger::Cli,
            status: RunStatus::Running,
            started_at: now(),
            finished_at: None,
            pages: 0,
            report: UpsertReport::default(),
            rejected: 0,
            rejections: Vec::new(),
            regions: Default::default(),
            resume_token: None,
            error: None,
        }
    }

    #[test]
    fn region_findings_add_up_in_the_report_not_in_rejections() {
        let mut run = new_run();
        let page = FetchedPage {
            skipped: [("cn-qingyangtest-1".to_owned(), 3)].into(),
            unknown_regions: ["cn-mars-1".to_owned()].into(),
            ..FetchedPage::default()
        };
        absorb_regions(&mut run, &page);
        absorb_regions(&mut run, &page);
        assert_eq!(run.regions.test_regions_skipped["cn-qingyangtest-1"], 6);
        assert_eq!(run.regions.total_skipped(), 6);
        assert_eq!(
            run.regions.unknown_regions.iter().collect::<Vec<_>>(),
            ["cn-mars-1"]
        );
        assert!(run.rejections.is_empty());
        assert_eq!(run.rejected, 0);
    }

    #[test]
    fn rejections_are_capped_but_counted() {
        let mut run = new_run();
        let many = |n: usize| {
            (0..n)
                .map(|i| RecordRejection {
                    vendor_key: i.to_string(),
                    reason: "bad".into(),
                })
                .collect::<Vec<_>>()
        };
        absorb(&mut run, UpsertReport::default(), many(150));
        absorb(
            &mut run,
            UpsertReport {
                new: 2,
                ..UpsertReport::default()
            },
            many(150),
        );
        assert_eq!(run.pages, 2);
        assert_eq!(run.rejected, 300);
        assert_eq!(run.rejections.len(), SyncRun::MAX_KEPT_REJECTIONS);
        assert_eq!(run.report.new, 2);
    }
}
