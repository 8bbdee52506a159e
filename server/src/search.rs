//! Catalog search in the server: the index opened from `[search]`, brought
//! up to the change feed before the server answers, kept current by the
//! search crate's follower thread, and listing views counted into the
//! popularity counters in batches, so a view never waits on a write.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use shiyun_core::fx::FxTable;
use shiyun_core::listing::ListingId;
use shiyun_core::search::SearchStore;
use shiyun_core::store::{ChangeFeed, ListingStore, StoreResult};
use shiyun_search::{
    CatalogIndex, FollowOptions, FollowSources, Follower, IndexOptions, catch_up, load_settings,
};
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::settings::SearchSettings;

/// How often counted views are written to the popularity counters.
pub const VIEW_FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Index options from the settings; `dir` `None` keeps the index in memory.
pub fn index_options(settings: &SearchSettings, dir: Option<PathBuf>) -> IndexOptions {
    IndexOptions {
        dir,
        search_threads: settings.search_threads,
        ..IndexOptions::default()
    }
}

/// The file in the index directory naming the store the index was built
/// from: an index of another database is started afresh.
const STORE_MARKER: &str = "STORE";

/// Opens the index in `settings.index_dir` (creating it when missing) for
/// the store named `store` (a database URL without its password). An
/// index built from another store is discarded first, so the catch-up
/// rebuilds it rather than applying this store's changes to it.
pub fn open_index(settings: &SearchSettings, store: &str) -> Result<CatalogIndex> {
    let dir = settings.index_dir.clone();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the search index directory {}", dir.display()))?;
    let marker = dir.join(STORE_MARKER);
    let built_for = std::fs::read_to_string(&marker).ok();
    if built_for.as_deref().map(str::trim) != Some(store) {
        // Opening takes the index's writer lock: an index that a running
        // process holds fails here and is left alone.
        drop(
            CatalogIndex::open(index_options(settings, Some(dir.clone()))).with_context(|| {
                format!(
                    "the search index in {} is in use or unreadable",
                    dir.display()
                )
            })?,
        );
        discard_generations(&dir)?;
    }
    let index = CatalogIndex::open(index_options(settings, Some(dir.clone())))
        .with_context(|| format!("cannot open the search index in {}", dir.display()))?;
    std::fs::write(&marker, store).with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(index)
}

/// Removes the index's own entries (`CURRENT`, `gen-NNNNN`) and nothing
/// else, whatever the directory also holds.
fn discard_generations(dir: &std::path::Path) -> Result<()> {
    let current = dir.join("CURRENT");
    if current.exists() {
        std::fs::remove_file(&current)
            .with_context(|| format!("cannot remove {}", current.display()))?;
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the search index directory {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_generation = name.to_str().is_some_and(|n| {
            n.strip_prefix("gen-").is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            })
        });
        if is_generation && entry.path().is_dir() {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// An empty index in memory (tests, tools that must not touch the index
/// directory of a running server).
pub fn memory_index(settings: &SearchSettings) -> Result<CatalogIndex> {
    CatalogIndex::open(index_options(settings, None)).context("cannot create a search index")
}

/// Listing views counted since the last flush.
#[derive(Debug, Default)]
pub struct ViewCounter {
    pending: Mutex<HashMap<ListingId, u64>>,
}

impl ViewCounter {
    /// Counts one view of `id`.
    pub fn count(&self, id: &ListingId) {
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry(id.clone()).or_default() += 1;
        }
    }

    /// Views counted and not yet flushed.
    pub fn pending(&self) -> u64 {
        self.pending
            .lock()
            .map(|p| p.values().sum())
            .unwrap_or_default()
    }

    /// Writes the counted views to `store` (blocking); when the write
    /// fails they are kept for the next flush. Returns the views written.
    pub fn flush(&self, store: &dyn SearchStore) -> StoreResult<u64> {
        let taken: Vec<(ListingId, u64)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(0),
        };
        if taken.is_empty() {
            return Ok(0);
        }
        match store.record_views(&taken) {
            Ok(()) => Ok(taken.iter().map(|(_, n)| n).sum()),
            Err(e) => {
                if let Ok(mut pending) = self.pending.lock() {
                    for (id, n) in taken {
                        *pending.entry(id).or_default() += n;
                    }
                }
                Err(e)
            }
        }
    }
}

/// What bringing the index up to date at start did.
#[derive(Debug, Clone, Copy)]
pub struct Warmed {
    /// Listings in the index.
    pub listings: u64,
    /// Whether it was rebuilt from the store (empty, far behind, or of
    /// another store) rather than caught up event by event.
    pub rebuilt: bool,
    /// The change-feed sequence applied.
    pub seq: u64,
    /// How long it took.
    pub took: Duration,
}

/// The search index's background work while a server runs: the follower
/// thread and the view flusher.
pub struct SearchRuntime {
    follower: Option<Follower>,
    flusher: JoinHandle<()>,
    views: Arc<ViewCounter>,
    store: Arc<dyn SearchStore>,
}

impl SearchRuntime {
    /// Reads the synonyms and rates in force, brings the index up to the
    /// change feed (on a blocking thread, before this returns: the server
    /// answers searches at once), then starts following the feed and
    /// flushing views every [`VIEW_FLUSH_EVERY`].
    pub async fn start(state: &AppState) -> Result<(SearchRuntime, Warmed)> {
        let index = Arc::clone(&state.search_index);
        let listings = Arc::clone(&state.listings);
        let feed = Arc::clone(&state.changes);
        let store = Arc::clone(&state.search_store);
        let fallback_fx = state.settings.search.fx.clone();
        let options = FollowOptions {
            poll_interval: Duration::from_millis(state.settings.search.poll_interval_ms),
            ..FollowOptions::default()
        };
        let warmed = warm(
            Arc::clone(&index),
            Arc::clone(&listings),
            Arc::clone(&feed),
            Arc::clone(&store),
            fallback_fx.clone(),
        )
        .await?;
        let follower = Follower::spawn(
            index,
            FollowSources {
                listings,
                feed,
                settings: Some(Arc::clone(&store)),
                fallback_fx,
            },
            options,
        )
        .context("cannot start the search follower thread")?;
        let views = Arc::clone(&state.views);
        let flusher = tokio::spawn(flush_views(Arc::clone(&views), Arc::clone(&store)));
        Ok((
            SearchRuntime {
                follower: Some(follower),
                flusher,
                views,
                store,
            },
            warmed,
        ))
    }

    /// Stops the flusher and the follower; the views counted so far are
    /// written first.
    pub async fn stop(mut self) {
        self.flusher.abort();
        let views = Arc::clone(&self.views);
        let store = Arc::clone(&self.store);
        let follower = self.follower.take();
        let stopped = tokio::task::spawn_blocking(move || {
            if let Err(error) = views.flush(store.as_ref()) {
                tracing::warn!(%error, "listing views not written at shutdown");
            }
            if let Some(follower) = follower {
                follower.stop();
            }
        })
        .await;
        if let Err(error) = stopped {
            tracing::error!(%error, "search shutdown stopped abnormally");
        }
    }
}

impl Drop for SearchRuntime {
    fn drop(&mut self) {
        // Dropped without `stop` (a failed start, a test): the follower
        // stops with its own drop; the flusher task must not outlive us.
        self.flusher.abort();
    }
}

/// Reads the synonyms and rates in force into `index`, then brings it up
/// to the change feed (a rebuild when it is empty or far behind), on a
/// blocking thread.
pub async fn warm(
    index: Arc<CatalogIndex>,
    listings: Arc<dyn ListingStore>,
    feed: Arc<dyn ChangeFeed>,
    store: Arc<dyn SearchStore>,
    fallback_fx: FxTable,
) -> Result<Warmed> {
    let rebuild_lag = FollowOptions::default().rebuild_lag;
    tokio::task::spawn_blocking(move || -> Result<Warmed> {
        let started = Instant::now();
        load_settings(&index, store.as_ref(), &fallback_fx)
            .context("cannot read the search settings")?;
        let rebuilt = catch_up(&index, listings.as_ref(), feed.as_ref(), rebuild_lag)
            .context("cannot bring the search index up to date")?;
        Ok(Warmed {
            listings: index.len(),
            rebuilt,
            seq: index.applied_seq(),
            took: started.elapsed(),
        })
    })
    .await?
}

/// Writes counted views every [`VIEW_FLUSH_EVERY`] on a blocking thread,
/// until aborted.
async fn flush_views(views: Arc<ViewCounter>, store: Arc<dyn SearchStore>) {
    let mut ticks = tokio::time::interval(VIEW_FLUSH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once, with nothing to write.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if views.pending() == 0 {
            continue;
        }
        let (views, store) = (Arc::clone(&views), Arc::clone(&store));
        match tokio::task::spawn_blocking(move || views.flush(store.as_ref())).await {
            Ok(Ok(written)) => tracing::debug!(written, "listing views written"),
            Ok(Err(error)) => tracing::warn!(%error, "listing views not written; kept for later"),
            Err(error) => tracing::error!(%error, "listing view flush stopped abnormally"),
        }
    }
}

/// The exchange rates in force, as orders lock them: the table an operator
/// saved, else the `[search] fx` table of the settings.
pub async fn current_fx(state: &AppState) -> crate::error::ApiResult<FxTable> {
    let store = Arc::clone(&state.search_store);
    let stored = actix_web::web::block(move || store.fx_table()).await??;
    Ok(match stored {
        Some(stored) => stored.table,
        None => state.settings.search.fx.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> SearchSettings {
        let mut settings = crate::Settings::defaults().unwrap().search;
        settings.index_dir = dir.to_owned();
        settings
    }

    #[test]
    fn an_index_of_another_store_is_discarded_unless_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path());
        let keep = dir.path().join("keep.txt");
        std::fs::write(&keep, "not the index's").unwrap();
        let first = open_index(&settings, "sqlite://a.sqlite").unwrap();
        let generation = first.generation_name();
        drop(first);
        // The same store: the same generation.
        let again = open_index(&settings, "sqlite://a.sqlite").unwrap();
        assert_eq!(again.generation_name(), generation);
        // Another store while the index is open elsewhere: refused, untouched.
        let Err(err) = open_index(&settings, "sqlite://b.sqlite") else {
            panic!("an index in use was opened for another store");
        };
        assert!(format!("{err:#}").contains("in use"), "{err:#}");
        assert!(dir.path().join(&generation).exists());
        drop(again);
        // Another store, nobody holding it: started afresh, other files kept.
        let other = open_index(&settings, "sqlite://b.sqlite").unwrap();
        assert_eq!(other.applied_seq(), 0);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(STORE_MARKER)).unwrap(),
            "sqlite://b.sqlite"
        );
        assert!(keep.exists());
    }

    /// A store whose popularity writes fail until told otherwise.
    #[derive(Default)]
    struct Flaky {
        down: std::sync::atomic::AtomicBool,
        written: Mutex<Vec<(ListingId, u64)>>,
    }

    impl SearchStore for Flaky {
        fn synonyms(&self) -> StoreResult<Option<shiyun_core::search::SynonymSet>> {
            Ok(None)
        }
        fn put_synonyms(
            &self,
            _: &[shiyun_core::search::SynonymGroup],
            _: Option<u64>,
            _: chrono::DateTime<chrono::Utc>,
        ) -> StoreResult<shiyun_core::search::SynonymSet> {
            unimplemented!()
        }
        fn fx_table(&self) -> StoreResult<Option<shiyun_core::search::StoredFxTable>> {
            Ok(None)
        }
        fn put_fx_table(
            &self,
            _: &FxTable,
            _: chrono::DateTime<chrono::Utc>,
        ) -> StoreResult<shiyun_core::search::StoredFxTable> {
            unimplemented!()
        }
        fn record_views(&self, views: &[(ListingId, u64)]) -> StoreResult<()> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(shiyun_core::store::StoreError::unavailable("down", "test"));
            }
            self.written.lock().unwrap().extend_from_slice(views);
            Ok(())
        }
        fn popular(&self, _: u32) -> StoreResult<Vec<shiyun_core::search::Popularity>> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn views_are_kept_when_a_flush_fails() {
        let views = ViewCounter::default();
        let (a, b) = (
            ListingId::parse("aws_0123456789abcdef0123").unwrap(),
            ListingId::parse("gcp_0123456789abcdef0123").unwrap(),
        );
        views.count(&a);
        views.count(&a);
        views.count(&b);
        let store = Flaky::default();
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(views.flush(&store).is_err());
        assert_eq!(views.pending(), 3, "kept for the next flush");
        views.count(&a);
        store.down.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(views.flush(&store).unwrap(), 4);
        assert_eq!(views.pending(), 0);
        let mut written = store.written.lock().unwrap().clone();
        written.sort();
        assert_eq!(written, [(a, 3), (b, 1)]);
        assert_eq!(views.flush(&store).unwrap(), 0, "nothing left to write");
    }
}
