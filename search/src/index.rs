//! The catalog index: generations on disk (or in memory), the change-feed
//! follower's step, rebuild with an atomic swap, and search.
//!
//! An index directory holds generations (`gen-00001`, …) and a `CURRENT`
//! file naming the one in use, replaced by rename so a crash leaves either
//! the old or the new name. Every commit carries the last change-feed
//! sequence it applied (the commit payload), so a restarted process
//! resumes from there. A rebuild fills a new generation from the store
//! while the current one keeps answering, catches it up with the feed,
//! then swaps it in: a query holds the generation it started with, so no
//! query fails or sees an empty index during the swap.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use shiyun_core::error::ValidationError;
use shiyun_core::fx::FxTable;
use shiyun_core::listing::{Listing, ListingId, ListingStatus};
use shiyun_core::money::Currency;
use shiyun_core::search::SynonymSet;
use shiyun_core::store::{ChangeFeed, ListingFilter, ListingQuery, ListingStore};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument};

use crate::collect::{Collected, Cursor, PageCollector, SortKey};
use crate::error::{SearchError, SearchResult};
use crate::fields::{self, Fields, PriceSlot, Summary, price_field_name};
use crate::highlight;
use crate::prices::{Conversion, from_scaled, histogram_edges};
use crate::query::{Needles, QueryBuilder};
use crate::request::{
    ConvertedPrice, FacetCount, Histogram, HistogramBucket, Hit, HitPrice, SearchRequest,
    SearchResponse, SortOrder, Understood,
};
use crate::synonyms::Synonyms;
use crate::tokenizer;
use crate::understand::understand;

/// Bumped when the schema or the document shape changes: an index of
/// another version is rebuilt.
const SCHEMA_VERSION: u32 = 2;
const CURRENT: &str = "CURRENT";

/// How an index is kept.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Where generations live; `None` keeps the index in memory.
    pub dir: Option<PathBuf>,
    /// Memory budget of the writer that follows the feed.
    pub writer_memory_bytes: usize,
    /// Indexing threads of a rebuild.
    pub rebuild_threads: usize,
    /// Memory budget of a rebuild's writer.
    pub rebuild_memory_bytes: usize,
    /// Threads that search one query's segments in parallel (1: none).
    pub search_threads: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            dir: None,
            writer_memory_bytes: 32 << 20,
            rebuild_threads: 2,
            rebuild_memory_bytes: 256 << 20,
            search_threads: 1,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct CommitPayload {
    seq: u64,
    schema: u32,
}

/// One generation: an index, its reader and its one writer.
struct Generation {
    name: String,
    _index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    applied_seq: AtomicU64,
    currencies: RwLock<Vec<Currency>>,
}

impl Generation {
    fn create(
        options: &IndexOptions,
        name: &str,
        threads: usize,
        memory: usize,
    ) -> SearchResult<Self> {
        let (schema, fields) = Fields::schema();
        let index = match &options.dir {
            Some(dir) => {
                let path = dir.join(name);
                if path.exists() {
                    std::fs::remove_dir_all(&path)?;
                }
                std::fs::create_dir_all(&path)?;
                Index::create_in_dir(&path, schema)?
            }
            None => Index::create_in_ram(schema),
        };
        Self::wrap(index, fields, name, 0, options, threads, memory)
    }

    fn open(options: &IndexOptions, dir: &Path, name: &str) -> SearchResult<Option<Self>> {
        let path = dir.join(name);
        if !path.join("meta.json").exists() {
            return Ok(None);
        }
        // The index is derived data: a generation that cannot be read
        // (damaged or missing files) is left alone and the index starts
        // empty, to be rebuilt from the store. Only reading is checked
        // here: failing to take the writer lock (another process has the
        // directory) is still an error, below.
        let readable = Index::open_in_dir(&path).and_then(|index| {
            index
                .reader_builder()
                .reload_policy(ReloadPolicy::Manual)
                .try_into()
                .map(|_: IndexReader| index)
        });
        let index = match readable {
            Ok(index) => index,
            Err(e) => {
                tracing::warn!(generation = name, error = %e,
                    "search index generation unreadable; starting empty");
                return Ok(None);
            }
        };
        let (schema, fields) = Fields::schema();
        let payload = index
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str::<CommitPayload>(&p).ok());
        match payload {
            Some(payload) if payload.schema == SCHEMA_VERSION && index.schema() == schema => {
                Ok(Some(Self::wrap(
                    index,
                    fields,
                    name,
                    payload.seq,
                    options,
                    1,
                    options.writer_memory_bytes,
                )?))
            }
            _ => Ok(None),
        }
    }

    fn wrap(
        mut index: Index,
        fields: Fields,
        name: &str,
        seq: u64,
        options: &IndexOptions,
        threads: usize,
        memory: usize,
    ) -> SearchResult<Self> {
        tokenizer::register(index.tokenizers());
        if options.search_threads > 1 {
            index.set_multithread_executor(options.search_threads)?;
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = index.writer_with_num_threads(threads.max(1), memory.max(15 << 20))?;
        let generation = Generation {
            name: name.to_owned(),
            _index: index,
            reader,
            writer: Mutex::new(writer),
            fields,
            applied_seq: AtomicU64::new(seq),
            currencies: RwLock::new(Vec::new()),
        };
        generation.refresh_currencies();
        Ok(generation)
    }

    fn commit(&self, writer: &mut IndexWriter, seq: u64) -> SearchResult<()> {
        let payload = serde_json::to_string(&CommitPayload {
            seq,
            schema: SCHEMA_VERSION,
        })
        .map_err(|e| SearchError::Index(e.to_string()))?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.reader.reload()?;
        self.applied_seq.store(seq, Ordering::SeqCst);
        self.refresh_currencies();
        Ok(())
    }

    /// The listing currencies in the index (for price conversion).
    fn refresh_currencies(&self) {
        let searcher = self.reader.searcher();
        let mut found: Vec<Currency> = Vec::new();
        for segment in searcher.segment_readers() {
            if let Ok(Some(column)) = segment.fast_fields().str("currency") {
                let mut text = String::new();
                for ord in 0..column.num_terms() as u64 {
                    text.clear();
                    if column.ord_to_str(ord, &mut text).unwrap_or(false)
                        && let Ok(currency) = Currency::parse(&text)
                        && !found.contains(&currency)
                    {
                        found.push(currency);
                    }
                }
            }
        }
        if let Ok(mut currencies) = self.currencies.write() {
            *currencies = found;
        }
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildReport {
    /// Listings indexed.
    pub listings: u64,
    /// The feed sequence the new generation has applied.
    pub seq: u64,
}

/// The catalog index.
pub struct CatalogIndex {
    current: RwLock<Arc<Generation>>,
    options: IndexOptions,
    synonyms: RwLock<Arc<Synonyms>>,
    fx: RwLock<Arc<FxTable>>,
    /// Serialises feed steps with the swap.
    changes: Mutex<()>,
    /// One rebuild at a time.
    rebuilding: Mutex<()>,
    generation_counter: AtomicU64,
}

fn poisoned<T>(_: T) -> SearchError {
    SearchError::Index("a lock was poisoned by a panic".into())
}

impl CatalogIndex {
    /// Opens the index in `options.dir` at the generation `CURRENT` names,
    /// or starts an empty one (applied sequence 0) when there is none, it
    /// cannot be read or it is of another schema version; in memory
    /// without a directory.
    pub fn open(options: IndexOptions) -> SearchResult<Self> {
        let mut counter = 0;
        let mut opened = None;
        if let Some(dir) = &options.dir {
            std::fs::create_dir_all(dir)?;
            if let Ok(name) = std::fs::read_to_string(dir.join(CURRENT)) {
                let name = name.trim().to_owned();
                counter = generation_number(&name).unwrap_or(0);
                opened = Generation::open(&options, dir, &name)?;
            }
        }
        let generation = match opened {
            Some(generation) => generation,
            None => {
                counter += 1;
                let name = generation_name(counter);
                let generation =
                    Generation::create(&options, &name, 1, options.writer_memory_bytes)?;
                {
                    let mut writer = generation.writer.lock().map_err(poisoned)?;
                    generation.commit(&mut writer, 0)?;
                }
                if let Some(dir) = &options.dir {
                    point_current(dir, &name)?;
                }
                generation
            }
        };
        Ok(CatalogIndex {
            current: RwLock::new(Arc::new(generation)),
            options,
            synonyms: RwLock::new(Arc::new(Synonyms::new(crate::synonyms::default_set()))),
            fx: RwLock::new(Arc::new(FxTable::default())),
            changes: Mutex::new(()),
            rebuilding: Mutex::new(()),
            generation_counter: AtomicU64::new(counter),
        })
    }

    fn generation(&self) -> SearchResult<Arc<Generation>> {
        Ok(Arc::clone(&*self.current.read().map_err(poisoned)?))
    }

    /// The last change-feed sequence applied.
    pub fn applied_seq(&self) -> u64 {
        self.generation()
            .map(|g| g.applied_seq.load(Ordering::SeqCst))
            .unwrap_or(0)
    }

    /// Listings in the index.
    pub fn len(&self) -> u64 {
        self.generation()
            .map(|g| g.reader.searcher().num_docs())
            .unwrap_or(0)
    }

    /// True when no listing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of the generation in use (`gen-00002`).
    pub fn generation_name(&self) -> String {
        self.generation()
            .map(|g| g.name.clone())
            .unwrap_or_default()
    }

    /// Replaces the synonyms in force.
    pub fn set_synonyms(&self, set: SynonymSet) {
        if let Ok(mut synonyms) = self.synonyms.write() {
            *synonyms = Arc::new(Synonyms::new(set));
        }
    }

    /// The synonyms in force.
    pub fn synonyms(&self) -> SynonymSet {
        self.synonyms
            .read()
            .map(|s| s.set())
            .unwrap_or_else(|_| crate::synonyms::default_set())
    }

    /// Replaces the exchange-rate table.
    pub fn set_fx(&self, table: FxTable) {
        if let Ok(mut fx) = self.fx.write() {
            *fx = Arc::new(table);
        }
    }

    /// The exchange-rate table in force.
    pub fn fx(&self) -> FxTable {
        self.fx.read().map(|f| (**f).clone()).unwrap_or_default()
    }

    /// One follower step: applies up to `max` change-feed events after the
    /// applied sequence (the latest state of each listing, read from the
    /// store), commits them as one group with the new sequence, and
    /// reloads the reader. Returns the number of events applied.
    pub fn apply_changes(
        &self,
        listings: &dyn ListingStore,
        feed: &dyn ChangeFeed,
        max: u32,
    ) -> SearchResult<usize> {
        let _guard = self.changes.lock().map_err(poisoned)?;
        let generation = self.generation()?;
        apply_to(&generation, listings, feed, max)
    }

    /// Builds a new generation from every active listing of the store,
    /// catches it up with the feed and swaps it in. Queries keep being
    /// answered by the old generation until the swap.
    pub fn rebuild(
        &self,
        listings: &dyn ListingStore,
        feed: &dyn ChangeFeed,
    ) -> SearchResult<RebuildReport> {
        let seq = feed.latest_seq()?;
        let pages = StorePages {
            store: listings,
            after: None,
            done: false,
        };
        let listings_of_pages = pages.flat_map(|page| match page {
            Ok(items) => items.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        });
        self.build_and_swap(seq, listings_of_pages, Some((listings, feed)))
    }

    /// Builds a new generation from `listings` (their state at feed
    /// sequence `seq`) and swaps it in; with a store and feed, catches up
    /// with the changes after `seq` first. Retired listings are skipped.
    pub fn rebuild_with(
        &self,
        seq: u64,
        listings: impl Iterator<Item = Listing>,
        follow: Option<(&dyn ListingStore, &dyn ChangeFeed)>,
    ) -> SearchResult<RebuildReport> {
        self.build_and_swap(seq, listings.map(Ok), follow)
    }

    /// A new generation from `listings`; nothing is swapped when one fails.
    fn build_and_swap(
        &self,
        seq: u64,
        listings: impl Iterator<Item = SearchResult<Listing>>,
        follow: Option<(&dyn ListingStore, &dyn ChangeFeed)>,
    ) -> SearchResult<RebuildReport> {
        let _one = self.rebuilding.lock().map_err(poisoned)?;
        let number = self.generation_counter.fetch_add(1, Ordering::SeqCst) + 1;
        let name = generation_name(number);
        let generation = Generation::create(
            &self.options,
            &name,
            self.options.rebuild_threads,
            self.options.rebuild_memory_bytes,
        )?;
        let mut count = 0;
        {
            let writer = generation.writer.lock().map_err(poisoned)?;
            for listing in listings {
                let listing = listing?;
                if listing.status() == ListingStatus::Active {
                    writer.add_document(fields::document(&generation.fields, &listing))?;
                    count += 1;
                }
            }
        }
        {
            let mut writer = generation.writer.lock().map_err(poisoned)?;
            generation.commit(&mut writer, seq)?;
        }
        // Catch up outside the lock first, then the last stretch under it.
        if let Some((store, feed)) = follow {
            while apply_to(&generation, store, feed, 10_000)? > 0 {}
        }
        let _guard = self.changes.lock().map_err(poisoned)?;
        if let Some((store, feed)) = follow {
            while apply_to(&generation, store, feed, 10_000)? > 0 {}
        }
        let report = RebuildReport {
            listings: count,
            seq: generation.applied_seq.load(Ordering::SeqCst),
        };
        let new = Arc::new(generation);
        let old = {
            let mut current = self.current.write().map_err(poisoned)?;
            std::mem::replace(&mut *current, Arc::clone(&new))
        };
        if let Some(dir) = &self.options.dir {
            point_current(dir, &new.name)?;
            // Open files of the old generation stay readable until the last
            // query holding it ends; the names go now.
            let old_path = dir.join(&old.name);
            drop(old);
            let _ = std::fs::remove_dir_all(old_path);
        }
        Ok(report)
    }

    /// Runs a search.
    pub fn search(&self, request: &SearchRequest) -> SearchResult<SearchResponse> {
        check_request(request)?;
        let generation = self.generation()?;
        let synonyms = Arc::clone(&*self.synonyms.read().map_err(poisoned)?);
        let fx = Arc::clone(&*self.fx.read().map_err(poisoned)?);
        let understood = if request.understand {
            understand(&request.text)
        } else {
            Understood {
                chips: Vec::new(),
                text: request.text.clone(),
            }
        };
        let currencies = generation
            .currencies
            .read()
            .map(|c| c.clone())
            .unwrap_or_default();
        let conversion = Conversion::new(&fx, request.currency, &currencies);
        let slot = match request.billing_mode {
            Some(mode) => Some(PriceSlot::of(mode).ok_or_else(|| {
                ValidationError::new(
                    "billing_mode",
                    "prices are indexed for on_demand, monthly, yearly, spot, reserved_12m and reserved_36m",
                )
            })?),
            None => None,
        };
        let builder = QueryBuilder {
            fields: &generation.fields,
            synonyms: &synonyms,
        };
        let (text_clauses, needles) = builder.text_clauses(&understood.text);
        let mut filters: Vec<Box<dyn Query>> = builder.filter_clauses(&request.filters);
        let chip_filters: Vec<_> = understood.chips.iter().map(|c| c.filter.clone()).collect();
        filters.extend(builder.chip_clauses(&chip_filters));
        if let Some(mode) = request.billing_mode {
            filters.push(Box::new(TermQuery::new(
                tantivy::Term::from_field_text(generation.fields.billing_mode, &mode.as_text()),
                IndexRecordOption::Basic,
            )));
        }
        filters.extend(builder.price_clause(slot, request.filters.price, &conversion));

        let price_field = price_field_name(slot);
        let rates: Vec<(String, i128)> = conversion
            .rates
            .iter()
            .map(|(c, r, _)| (c.code().to_owned(), *r))
            .collect();
        let sort = match request.sort {
            SortOrder::Relevance => SortKey::Relevance,
            SortOrder::PriceAsc | SortOrder::PriceDesc => SortKey::Price {
                field: price_field,
                descending: request.sort == SortOrder::PriceDesc,
                rates: rates.clone(),
            },
            SortOrder::VcpuAsc | SortOrder::VcpuDesc => SortKey::Number {
                field: "vcpu",
                descending: request.sort == SortOrder::VcpuDesc,
            },
            SortOrder::MemoryAsc | SortOrder::MemoryDesc => SortKey::Number {
                field: "memory",
                descending: request.sort == SortOrder::MemoryDesc,
            },
        };
        let cursor = request
            .cursor
            .as_deref()
            .map(|c| parse_cursor(c, request.sort))
            .transpose()?;
        let collector = PageCollector {
            sort,
            cursor,
            limit: request.limit as usize,
            facets: request.facets.clone(),
            histogram: request.histogram.then(|| (price_field, rates.clone())),
        };
        let searcher = generation.reader.searcher();
        let strict = compose(&text_clauses, &filters, Occur::Must);
        let mut collected: Collected = searcher.search(&*strict, &collector)?;
        if collected.total == 0 && text_clauses.len() > 1 {
            // Nothing has every word: any word will do, best first.
            let relaxed = compose(&text_clauses, &filters, Occur::Should);
            collected = searcher.search(&*relaxed, &collector)?;
        }
        let hits = self.hits(
            &generation,
            &searcher,
            &collected,
            request,
            &conversion,
            &needles,
        )?;
        let next_cursor = (collected.top.len() > request.limit as usize)
            .then(|| {
                collected
                    .top
                    .get(request.limit as usize - 1)
                    .map(|last| format_cursor(request.sort, (last.key, last.id_key)))
            })
            .flatten();
        let facets = collected
            .facets
            .iter()
            .map(|(field, counts)| {
                let mut values: Vec<FacetCount> = counts
                    .iter()
                    .map(|(value, count)| FacetCount {
                        value: value.clone(),
                        count: *count,
                    })
                    .collect();
                values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                (field.as_str().to_owned(), values)
            })
            .collect::<BTreeMap<_, _>>();
        let histogram = request
            .histogram
            .then(|| histogram_of(&collected.histogram, &conversion));
        Ok(SearchResponse {
            hits,
            total: collected.total,
            facets,
            histogram: histogram.flatten(),
            understood,
            fx_rates: conversion.applied(),
            next_cursor,
            index_seq: generation.applied_seq.load(Ordering::SeqCst),
        })
    }

    fn hits(
        &self,
        generation: &Generation,
        searcher: &Searcher,
        collected: &Collected,
        request: &SearchRequest,
        conversion: &Conversion,
        needles: &Needles,
    ) -> SearchResult<Vec<Hit>> {
        let mut hits = Vec::new();
        for ranked in collected.top.iter().take(request.limit as usize) {
            let summary = summary_at(generation, searcher, ranked.address)?;
            let score = if request.sort == SortOrder::Relevance {
                ranked.score
            } else {
                0.0
            };
            hits.push(hit_of(summary, score, request, conversion, needles));
        }
        Ok(hits)
    }

    /// The stored summary of a listing, if indexed.
    pub fn summary(&self, id: &ListingId) -> SearchResult<Option<Summary>> {
        let generation = self.generation()?;
        let searcher = generation.reader.searcher();
        let query = TermQuery::new(
            fields::id_term(&generation.fields, id),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(
            &query,
            &tantivy::collector::TopDocs::with_limit(1).order_by_score(),
        )?;
        match top.first() {
            Some((_, address)) => Ok(Some(summary_at(&generation, &searcher, *address)?)),
            None => Ok(None),
        }
    }

    /// The current generation's searcher and fields, for the benchmark that
    /// runs raw Tantivy queries on the same index. Not part of the API.
    #[doc(hidden)]
    pub fn bench_searcher(&self) -> SearchResult<(Searcher, Fields)> {
        let generation = self.generation()?;
        Ok((generation.reader.searcher(), generation.fields.clone()))
    }

    /// Runs `query` with `collector` on the current generation: the door
    /// the recommendation module uses.
    pub(crate) fn with_searcher<T>(
        &self,
        run: impl FnOnce(&Fields, &Searcher, &Conversion) -> SearchResult<T>,
        currency: Option<Currency>,
    ) -> SearchResult<T> {
        let generation = self.generation()?;
        let fx = Arc::clone(&*self.fx.read().map_err(poisoned)?);
        let currencies = generation
            .currencies
            .read()
            .map(|c| c.clone())
            .unwrap_or_default();
        let conversion = Conversion::new(&fx, currency, &currencies);
        let searcher = generation.reader.searcher();
        run(&generation.fields, &searcher, &conversion)
    }

    /// A summary read from a searcher of the current generation.
    pub(crate) fn summary_in(
        &self,
        searcher: &Searcher,
        address: tantivy::DocAddress,
    ) -> SearchResult<Summary> {
        let generation = self.generation()?;
        summary_at(&generation, searcher, address)
    }
}

fn summary_at(
    generation: &Generation,
    searcher: &Searcher,
    address: tantivy::DocAddress,
) -> SearchResult<Summary> {
    let doc: TantivyDocument = searcher.doc(address)?;
    let json = doc
        .get_first(generation.fields.summary)
        .and_then(|v| v.as_str())
        .ok_or_else(|| SearchError::Index("a document has no summary".into()))?;
    serde_json::from_str(json).map_err(|e| SearchError::Index(format!("bad summary: {e}")))
}

/// A hit from a summary, with its price in the request's terms.
pub(crate) fn hit_of(
    summary: Summary,
    score: f32,
    request: &SearchRequest,
    conversion: &Conversion,
    needles: &Needles,
) -> Hit {
    let price = summary.price(request.billing_mode).map(|p| HitPrice {
        billing_mode: p.billing_mode,
        unit: p.unit,
        amount: p.amount,
        currency: p.currency,
        converted: conversion.target.and_then(|target| {
            let (_, _, applied) = conversion.rates.iter().find(|(c, _, _)| *c == p.currency)?;
            Some(ConvertedPrice {
                amount: p.amount.checked_mul(applied.rate)?.normalize(),
                currency: target,
            })
        }),
    });
    let mut texts: Vec<(&str, &str)> = Vec::new();
    for (field, text) in [
        ("name.zh", &summary.name.zh),
        ("name.en", &summary.name.en),
        ("region.zh", &summary.region_name.zh),
        ("region.en", &summary.region_name.en),
    ] {
        if let Some(text) = text {
            texts.push((field, text.as_str()));
        }
    }
    let highlights = highlight::highlights(needles, &texts);
    Hit {
        id: summary.id.clone(),
        vendor: summary.vendor.clone(),
        vendor_sku: summary.vendor_sku.clone(),
        category: summary.category.clone(),
        service: summary.service.clone(),
        name: summary.name.clone(),
        region: summary.region.clone(),
        region_name: summary.region_name.clone(),
        city: summary.city.clone(),
        country: summary.country.clone(),
        specs: summary.specs.clone(),
        price,
        score,
        highlights,
    }
}

fn histogram_of(counts: &[u64], conversion: &Conversion) -> Option<Histogram> {
    let currency = conversion.target?;
    let edges = histogram_edges();
    let scale = crate::prices::CONVERTED_SCALE;
    let buckets = counts
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .filter_map(|(i, count)| {
            Some(HistogramBucket {
                from: from_scaled(edges[i], scale)?,
                to: edges.get(i + 1).and_then(|e| from_scaled(*e, scale)),
                count: *count,
            })
        })
        .collect();
    Some(Histogram { currency, buckets })
}

/// Text clauses joined by `occur`, filters all required.
fn compose(text: &[Box<dyn Query>], filters: &[Box<dyn Query>], occur: Occur) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !text.is_empty() {
        let words: Vec<(Occur, Box<dyn Query>)> =
            text.iter().map(|q| (occur, q.box_clone())).collect();
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(words))));
    }
    for filter in filters {
        clauses.push((Occur::Must, filter.box_clone()));
    }
    if clauses.is_empty() {
        return Box::new(AllQuery);
    }
    if text.is_empty() {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(clauses))
}

fn check_request(request: &SearchRequest) -> Result<(), ValidationError> {
    if request.limit == 0 || request.limit > SearchRequest::MAX_LIMIT {
        return Err(ValidationError::new("limit", "must be 1 to 100"));
    }
    if request.text.chars().count() > SearchRequest::MAX_TEXT_CHARS {
        return Err(ValidationError::new("q", "must be at most 256 characters"));
    }
    let needs_currency = matches!(request.sort, SortOrder::PriceAsc | SortOrder::PriceDesc)
        || !request.filters.price.is_open()
        || request.histogram;
    if needs_currency && request.currency.is_none() {
        return Err(ValidationError::new(
            "currency",
            "a currency is needed to filter, sort or count by price",
        ));
    }
    if let (Some(min), Some(max)) = (request.filters.price.min, request.filters.price.max)
        && min > max
    {
        return Err(ValidationError::new(
            "price_max",
            "must not be below price_min",
        ));
    }
    Ok(())
}

/// `<sort>.<key>.<id key>`: tied to the order it was made for.
fn format_cursor(sort: SortOrder, (key, id_key): Cursor) -> String {
    // `{:x}` writes a negative number as its two's complement, which does
    // not parse back: the sign goes first, as `m`, then the magnitude.
    let sign = if key < 0 { "m" } else { "" };
    format!(
        "{}.{sign}{:x}.{id_key:x}",
        sort.as_str(),
        key.unsigned_abs()
    )
}

fn parse_cursor(text: &str, sort: SortOrder) -> Result<Cursor, ValidationError> {
    let bad = || ValidationError::new("cursor", "not a cursor of this search");
    let mut parts = text.split('.');
    let (Some(order), Some(key), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if order != sort.as_str() {
        return Err(bad());
    }
    let (negative, digits) = match key.strip_prefix('m') {
        Some(rest) => (true, rest),
        None => (false, key),
    };
    let magnitude = u128::from_str_radix(digits, 16).map_err(|_| bad())?;
    let key = if negative {
        0_i128.checked_sub_unsigned(magnitude)
    } else {
        i128::try_from(magnitude).ok()
    }
    .ok_or_else(bad)?;
    let id = u64::from_str_radix(id, 16).map_err(|_| bad())?;
    Ok((key, id))
}

fn generation_name(number: u64) -> String {
    format!("gen-{number:05}")
}

fn generation_number(name: &str) -> Option<u64> {
    name.strip_prefix("gen-")?.parse().ok()
}

fn point_current(dir: &Path, name: &str) -> SearchResult<()> {
    let temp = dir.join(format!("{CURRENT}.tmp"));
    std::fs::write(&temp, name)?;
    std::fs::rename(&temp, dir.join(CURRENT))?;
    Ok(())
}

/// Applies feed events after the generation's sequence.
fn apply_to(
    generation: &Generation,
    listings: &dyn ListingStore,
    feed: &dyn ChangeFeed,
    max: u32,
) -> SearchResult<usize> {
    let after = generation.applied_seq.load(Ordering::SeqCst);
    let events = feed.read_changes(after, max.clamp(1, 10_000))?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(0);
    };
    // The latest state of each listing is what counts, once.
    let mut ids: HashMap<&ListingId, ()> = HashMap::new();
    for event in &events {
        ids.insert(&event.listing_id, ());
    }
    let mut writer = generation.writer.lock().map_err(poisoned)?;
    for id in ids.keys() {
        writer.delete_term(fields::id_term(&generation.fields, id));
        if let Some(listing) = listings.get_listing(id)?
            && listing.status() == ListingStatus::Active
        {
            writer.add_document(fields::document(&generation.fields, &listing))?;
        }
    }
    generation.commit(&mut writer, last)?;
    Ok(events.len())
}

/// Every active listing of a store, page by page.
struct StorePages<'a> {
    store: &'a dyn ListingStore,
    after: Option<ListingId>,
    done: bool,
}

impl Iterator for StorePages<'_> {
    type Item = SearchResult<Vec<Listing>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let query = ListingQuery {
            filter: ListingFilter {
                status: Some(ListingStatus::Active),
                ..ListingFilter::default()
            },
            after: self.after.clone(),
            limit: ListingQuery::MAX_LIMIT,
        };
        match self.store.list_listings(&query) {
            Ok(page) => {
                self.after = page.next_after.clone();
                self.done = page.next_after.is_none();
                Some(Ok(page.items))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;
    use shiyun_core::geography;
    use shiyun_core::listing::{
        BillingMode, Category, PriceComponent, PriceSource, PriceUnit, Provenance, Vendor,
    };
    use shiyun_core::money::{Currency, Money};

    use crate::request::Range;

    /// An Alibaba yearly quote at list 4368 and cost 3712.8 (numbers seen
    /// nowhere else in the listing), with a GPU twin for recommendations.
    fn costed(sku: &str) -> Listing {
        let cny = |amount| Money::new(amount, Currency::CNY);
        let price = PriceComponent::flat(BillingMode::Yearly, PriceUnit::Year, cny(dec!(4368)))
            .unwrap()
            .with_cost(cny(dec!(3712.8)))
            .unwrap();
        let source = PriceSource::of(&price, "Price.OriginalPrice", Some("Price.TradePrice"));
        let fetched_at = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
        let provenance = Provenance::from_raw("test.search", sku.as_bytes(), fetched_at)
            .with_price_source(source);
        Listing::builder(Vendor::Alibaba, sku, provenance)
            .category(Category::parse("compute.vm").unwrap())
            .service("ecs")
            .name_en(format!("General Purpose {sku}"))
            .region(geography::region_of(Vendor::Alibaba, "cn-hangzhou").unwrap())
            .price(price)
            .build()
            .unwrap()
    }

    #[test]
    fn the_platforms_cost_is_neither_indexed_nor_shown() {
        let listing = costed("ecs.g6.large@cn-hangzhou/year");
        let twin = costed("ecs.g6.xlarge@cn-hangzhou/year");
        let summary = crate::fields::summary_of(&listing);
        assert_eq!(summary.prices[0].amount, dec!(4368), "the list price");
        let stored = serde_json::to_string(&summary).unwrap();
        assert!(
            !stored.contains("3712.8") && !stored.contains("cost"),
            "{stored}"
        );

        let index = CatalogIndex::open(IndexOptions::default()).unwrap();
        index
            .rebuild_with(1, [listing.clone(), twin].into_iter(), None)
            .unwrap();
        let priced = |min, max| {
            let mut request = SearchRequest::text("");
            request.billing_mode = Some(BillingMode::Yearly);
            request.currency = Some(Currency::CNY);
            request.filters.price = Range {
                min: Some(min),
                max: Some(max),
            };
            index.search(&request).unwrap()
        };
        // Filtered by the list price, never by the cost.
        assert_eq!(priced(dec!(4000), dec!(4500)).total, 2);
        assert_eq!(priced(dec!(3700), dec!(3720)).total, 0);

        let mut request = SearchRequest::text("General Purpose");
        request.currency = Some(Currency::CNY);
        let found = index.search(&request).unwrap();
        assert_eq!(found.total, 2);
        let price = found.hits[0].price.as_ref().unwrap();
        assert_eq!(price.amount, dec!(4368));
        let similar = index
            .similar(listing.id(), 10, Some(Currency::CNY))
            .unwrap();
        assert_eq!(similar.len(), 1);
        for shown in [
            serde_json::to_string(&found).unwrap(),
            serde_json::to_string(&similar).unwrap(),
        ] {
            assert!(shown.contains("4368"), "{shown}");
            assert!(
                !shown.contains("3712.8") && !shown.contains("cost"),
                "{shown}"
            );
            assert!(!shown.contains("TradePrice"), "{shown}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_another_order() {
        for key in [
            0_i128,
            17,
            -17,
            i128::from(u64::MAX) * 9,
            i128::MIN,
            i128::MAX,
        ] {
            let text = format_cursor(SortOrder::PriceAsc, (key, 42));
            assert_eq!(parse_cursor(&text, SortOrder::PriceAsc).unwrap(), (key, 42));
            assert!(parse_cursor(&text, SortOrder::Relevance).is_err());
        }
        assert!(parse_cursor("garbage", SortOrder::Relevance).is_err());
    }
}
