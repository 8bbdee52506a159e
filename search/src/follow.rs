//! Keeping an index current: [`catch_up`] at start, then a [`Follower`]
//! thread that polls the change feed, applies each batch as one group
//! commit, reloads the reader, and picks up synonym and exchange-rate
//! edits that any instance saved in the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shiyun_core::fx::FxTable;
use shiyun_core::search::SearchStore;
use shiyun_core::store::{ChangeFeed, ListingStore};

use crate::error::SearchResult;
use crate::index::CatalogIndex;

/// How a follower behaves.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Wait between polls of an idle feed.
    pub poll_interval: Duration,
    /// Most events applied in one commit.
    pub batch: u32,
    /// How often synonyms and rates are read from the store.
    pub settings_interval: Duration,
    /// A lag of more events than this is closed by a rebuild rather than
    /// event by event.
    pub rebuild_lag: u64,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: Duration::from_millis(50),
            batch: 2_000,
            settings_interval: Duration::from_secs(1),
            rebuild_lag: 200_000,
        }
    }
}

/// Brings `index` up to the feed's latest sequence: by a rebuild when the
/// index is empty, far behind, or ahead of the store (a store that was
/// replaced), else by applying the changes. Returns whether it rebuilt.
pub fn catch_up(
    index: &CatalogIndex,
    listings: &dyn ListingStore,
    feed: &dyn ChangeFeed,
    rebuild_lag: u64,
) -> SearchResult<bool> {
    let latest = feed.latest_seq()?;
    let applied = index.applied_seq();
    if applied > latest || latest - applied > rebuild_lag || (applied == 0 && latest > 0) {
        index.rebuild(listings, feed)?;
        return Ok(true);
    }
    while index.apply_changes(listings, feed, 10_000)? > 0 {}
    Ok(false)
}

/// Reads synonyms and rates from the store into the index; `fallback_fx`
/// stays in force until an operator saves a table.
pub fn load_settings(
    index: &CatalogIndex,
    store: &dyn SearchStore,
    fallback_fx: &FxTable,
) -> SearchResult<()> {
    let synonyms = store.synonyms()?;
    match synonyms {
        Some(set) if set.version != index.synonyms().version => index.set_synonyms(set),
        Some(_) => {}
        None if index.synonyms().version != 0 => index.set_synonyms(crate::synonyms::default_set()),
        None => {}
    }
    let fx = store
        .fx_table()?
        .map_or_else(|| fallback_fx.clone(), |stored| stored.table);
    if fx != index.fx() {
        index.set_fx(fx);
    }
    Ok(())
}

/// A thread following the change feed into an index.
pub struct Follower {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// What a follower reads from.
pub struct FollowSources {
    /// The catalog.
    pub listings: Arc<dyn ListingStore>,
    /// Its change feed.
    pub feed: Arc<dyn ChangeFeed>,
    /// Synonyms and rates, when kept in a store.
    pub settings: Option<Arc<dyn SearchStore>>,
    /// Rates in force until the store has a table.
    pub fallback_fx: FxTable,
}

impl Follower {
    /// Starts following.
    pub fn spawn(
        index: Arc<CatalogIndex>,
        sources: FollowSources,
        options: FollowOptions,
    ) -> std::io::Result<Follower> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("search-follower".into())
            .spawn(move || follow(&index, &sources, &options, &stopping))?;
        Ok(Follower {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.halt();
    }
}

fn follow(
    index: &CatalogIndex,
    sources: &FollowSources,
    options: &FollowOptions,
    stop: &AtomicBool,
) {
    let mut settings_read: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        if let Some(store) = &sources.settings
            && settings_read.is_none_or(|at| at.elapsed() >= options.settings_interval)
        {
            if let Err(e) = load_settings(index, store.as_ref(), &sources.fallback_fx) {
                tracing::warn!(error = %e, "search settings not read");
            }
            settings_read = Some(Instant::now());
        }
        let step = (|| -> SearchResult<usize> {
            let latest = sources.feed.latest_seq()?;
            let applied = index.applied_seq();
            if applied > latest || latest - applied > options.rebuild_lag {
                let report = index.rebuild(sources.listings.as_ref(), sources.feed.as_ref())?;
                tracing::info!(
                    listings = report.listings,
                    seq = report.seq,
                    "search index rebuilt"
                );
                return Ok(0);
            }
            index.apply_changes(
                sources.listings.as_ref(),
                sources.feed.as_ref(),
                options.batch,
            )
        })();
        let pause = match step {
            // A full batch: more is waiting, go on at once.
            Ok(applied) if applied as u64 >= u64::from(options.batch) => Duration::ZERO,
            Ok(_) => options.poll_interval,
            Err(e) => {
                tracing::warn!(error = %e, "search index could not follow the change feed");
                Duration::from_secs(1)
            }
        };
        sleep_unless_stopped(pause, stop);
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + total;
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}
