//! What the catalog search costs, on the demo catalog in a dir-backed index:
//!
//! - indexing rate (listings generated into a `Vec` first, outside the
//!   timed part);
//! - p50/p95/p99 latency of four query classes, each against the SAME
//!   query run as raw Tantivy on the same index in the same run (hand-built
//!   `BooleanQuery` with the same term/phrase/fuzzy/synonym clauses and
//!   filters, Tantivy's `TopDocs` + `Count` + terms aggregation, and the
//!   top documents fetched), with the ratio Shiyun/raw:
//!   `text` (words only), `full` (words, 3 filters, 5 facets, price sort in
//!   CNY), `spec` (`4核8G 上海`: understanding), `equiv` (cheaper
//!   equivalents of random compute listings);
//! - a breakdown of the `full` class to tell where the time goes (Shiyun
//!   without facets or with one hit; raw without the aggregation, the
//!   document fetch, the synonyms or the Chinese phrases; the filters
//!   alone; the words alone);
//! - upsert-to-visible latency: a SQLite store, a [`Follower`] polling every
//!   20 ms, upserts at a steady rate, a thread searching for each until
//!   found; and one feed step timed on its own;
//! - peak RSS (VmHWM) after the build and at the end.
//!
//! Each figure is one line `name = value unit`. Environment:
//! `SHIYUN_BENCH_LISTINGS` (default 100000), `SHIYUN_BENCH_ROUNDS` (rounds
//! over each class's queries, default 20), `SHIYUN_BENCH_FRESH_SECS`
//! (default 20), `SHIYUN_BENCH_FRESH_RATE` (upserts per second, default
//! 100), `SHIYUN_BENCH_VERBOSE=1` (each query's totals on both sides);
//! for profiling one part, `SHIYUN_BENCH_ONLY` (comma-separated among
//! `parity`, `latency`, `breakdown`, `fresh`; `none` stops after the
//! build) and `SHIYUN_BENCH_CLASSES` (`text`, `full`, `spec`, `equiv`).
//!
//! `cargo bench -p shiyun-search --bench search`

#![expect(clippy::expect_used, reason = "a benchmark stops at the first failure")]

use std::ops::Bound;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use shiyun_core::demo::DemoCatalog;
use shiyun_core::fx::{FxRate, FxTable};
use shiyun_core::listing::{Listing, ListingId, VendorRef};
use shiyun_core::money::Currency;
use shiyun_core::store::ListingStore;
use shiyun_search::fields::{Fields, GIB_SCALE};
use shiyun_search::prices::{Conversion, bounds_for, to_scaled};
use shiyun_search::synonyms::{Synonyms, default_set};
use shiyun_search::tokenizer::{self, is_cjk};
use shiyun_search::{
    CatalogIndex, ChipFilter, EquivalentsRequest, FacetField, Filters, FollowOptions,
    FollowSources, Follower, IndexOptions, Range, SearchRequest, SortOrder, understand,
};
use tantivy::aggregation::AggregationCollector;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, FuzzyTermQuery, Occur,
    PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// `100k`, `1m`: the suffix of every figure.
fn size_label(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}m", n / 1_000_000)
    } else if n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// A line of `/proc/self/status` in MB (`VmHWM`, `VmRSS`).
fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time of this process so far, in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the
    // 14th field overall, the 12th after `) `.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    field(11).unwrap_or(0) + field(12).unwrap_or(0)
}

/// Waits until background merges stop burning CPU (under 5 % of a core
/// for two seconds in a row), at most `limit`.
fn quiesce(limit: Duration) -> Duration {
    let started = Instant::now();
    let mut quiet = 0;
    let mut last = cpu_ticks();
    while started.elapsed() < limit && quiet < 2 {
        std::thread::sleep(Duration::from_secs(1));
        let now = cpu_ticks();
        quiet = if now - last <= 5 { quiet + 1 } else { 0 };
        last = now;
    }
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A tiny deterministic generator for picks.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

// ---------------------------------------------------------------------
// Raw Tantivy: the same clauses, built by hand.
// ---------------------------------------------------------------------

const CHINESE_STOP: &[&str] = &["的", "了", "和", "与", "及", "或", "在", "个", "要", "我"];
const ENGLISH_STOP: &[&str] = &[
    "the", "a", "an", "of", "for", "with", "and", "or", "in", "to",
];

/// Full-width ASCII and the ideographic space as half-width.
fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Chinese runs (`true`) and lowercase Latin words, and whether the last
/// word is still being typed.
fn pieces(text: &str) -> (Vec<(bool, String)>, bool) {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut current = String::new();
    let mut cjk = false;
    let flush = |current: &mut String, cjk: bool, out: &mut Vec<(bool, String)>| {
        if !current.is_empty() {
            let piece = std::mem::take(current);
            out.push((cjk, if cjk { piece } else { piece.to_lowercase() }));
        }
    };
    for c in text.chars().map(half_width) {
        if is_cjk(c) {
            if !cjk {
                flush(&mut current, false, &mut out);
            }
            cjk = true;
            current.push(c);
        } else if c.is_alphanumeric() {
            if cjk {
                flush(&mut current, true, &mut out);
            }
            cjk = false;
            current.push(c);
        } else {
            flush(&mut current, cjk, &mut out);
        }
    }
    let typing = !current.is_empty() && !cjk;
    flush(&mut current, cjk, &mut out);
    (out, typing)
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn boost(query: Box<dyn Query>, by: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, by))
}

fn should(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

fn terms(field: Field, values: &[String]) -> Box<dyn Query> {
    Box::new(TermSetQuery::new(
        values
            .iter()
            .map(|v| Term::from_field_text(field, v))
            .collect::<Vec<_>>(),
    ))
}

/// A Chinese word: one character as itself, two as their pair, more as a
/// phrase of neighbouring pairs.
fn phrase(f: &Fields, word: &str) -> Box<dyn Query> {
    let chars: Vec<char> = word.chars().filter(|c| is_cjk(*c)).collect();
    let pair = |p: &[char]| Term::from_field_text(f.cjk2, &p.iter().collect::<String>());
    match chars.len() {
        0 => Box::new(EmptyQuery),
        1 => term(f.cjk, chars[0].encode_utf8(&mut [0; 4])),
        2 => Box::new(TermQuery::new(pair(&chars), IndexRecordOption::WithFreqs)),
        _ => Box::new(PhraseQuery::new(chars.windows(2).map(pair).collect())),
    }
}

fn synonym_text(f: &Fields, text: &str, english: &mut TextAnalyzer) -> Box<dyn Query> {
    let (parts, _) = pieces(text);
    let mut all: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (cjk, part) in parts {
        if cjk {
            all.push((Occur::Must, phrase(f, &part)));
        } else {
            let mut options = vec![term(f.words, &part)];
            if let Some(stem) = tokenizer::token_texts(english, &part).first() {
                options.push(term(f.name_en, stem));
            }
            all.push((Occur::Must, should(options)));
        }
    }
    Box::new(BooleanQuery::new(all))
}

/// One clause per word, as the index builds them; `phrases` false leaves
/// out the Chinese-character phrases (a diagnostic).
fn text_clauses(f: &Fields, synonyms: &Synonyms, text: &str, phrases: bool) -> Vec<Box<dyn Query>> {
    let (parts, typing) = pieces(text);
    let jieba = tokenizer::dictionary();
    let mut english = tokenizer::english();
    let last = parts.len().saturating_sub(1);
    let mut out = Vec::new();
    for (i, (cjk, part)) in parts.iter().enumerate() {
        if *cjk {
            for word in jieba.cut(part, false) {
                let word = word.word;
                if CHINESE_STOP.contains(&word) && parts.len() > 1 {
                    continue;
                }
                let mut options = vec![boost(term(f.name_zh, word), 2.0)];
                if phrases {
                    options.push(phrase(f, word));
                }
                for synonym in synonyms.of(word) {
                    options.push(boost(synonym_text(f, synonym, &mut english), 0.8));
                }
                out.push(should(options));
            }
            continue;
        }
        if ENGLISH_STOP.contains(&part.as_str()) && parts.len() > 1 {
            continue;
        }
        let letters = part.chars().count();
        let distance: u8 = match letters {
            0..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        let mut options = vec![boost(term(f.words, part), 2.0)];
        if let Some(stem) = tokenizer::token_texts(&mut english, part).first() {
            options.push(boost(term(f.name_en, stem), 2.0));
            options.push(term(f.body_en, stem));
        }
        let word = Term::from_field_text(f.words, part);
        if distance > 0 && !part.chars().any(|c| c.is_ascii_digit()) {
            options.push(boost(
                Box::new(FuzzyTermQuery::new(word.clone(), distance, true)),
                0.6,
            ));
        }
        if typing && i == last && letters >= 2 {
            options.push(boost(
                Box::new(FuzzyTermQuery::new_prefix(word, 0, true)),
                0.8,
            ));
        }
        for synonym in synonyms.of(part) {
            options.push(boost(synonym_text(f, synonym, &mut english), 0.8));
        }
        out.push(should(options));
    }
    out
}

fn u64_range(field: Field, range: Range<u32>) -> Option<Box<dyn Query>> {
    if range.is_open() {
        return None;
    }
    let end = |v: Option<u32>| {
        v.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_u64(field, u64::from(v)))
        })
    };
    Some(Box::new(ConstScoreQuery::new(
        Box::new(RangeQuery::new(end(range.min), end(range.max))),
        0.0,
    )))
}

fn gib_range(field: Field, range: Range<Decimal>) -> Option<Box<dyn Query>> {
    if range.is_open() {
        return None;
    }
    let end = |v: Option<Decimal>, ceil: bool| {
        v.map_or(Bound::Unbounded, |v| {
            let scaled = to_scaled(v, GIB_SCALE, ceil).clamp(0, i128::from(u64::MAX)) as u64;
            Bound::Included(Term::from_field_u64(field, scaled))
        })
    };
    Some(Box::new(ConstScoreQuery::new(
        Box::new(RangeQuery::new(end(range.min, true), end(range.max, false))),
        0.0,
    )))
}

/// The filters the bench's requests use (vendors, countries, vCPUs) and
/// the chips understanding gave.
fn filter_clauses(f: &Fields, filters: &Filters, chips: &[ChipFilter]) -> Vec<Box<dyn Query>> {
    let mut out = Vec::new();
    if !filters.vendors.is_empty() {
        let ids: Vec<String> = filters.vendors.iter().map(|v| v.id().to_owned()).collect();
        out.push(terms(f.vendor, &ids));
    }
    if !filters.countries.is_empty() {
        out.push(terms(f.country, &filters.countries));
    }
    out.extend(u64_range(f.vcpu, filters.vcpu));
    let gpu_model = |model: &str| -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            model
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(|w| (Occur::Must, term(f.gpu_words, &w.to_lowercase())))
                .collect(),
        ))
    };
    let (mut cities, mut regions, mut countries) = (Vec::new(), Vec::new(), Vec::new());
    for chip in chips {
        match chip {
            ChipFilter::Vcpu { range } => out.extend(u64_range(f.vcpu, *range)),
            ChipFilter::MemoryGib { range } => out.extend(gib_range(f.memory, *range)),
            ChipFilter::GpuCount { range } => out.extend(u64_range(f.gpu_count, *range)),
            ChipFilter::GpuModel { value } => out.push(gpu_model(value)),
            ChipFilter::City { value } => cities.push(value.clone()),
            ChipFilter::Regions { values } => regions.extend(values.iter().cloned()),
            ChipFilter::Country { value } => countries.push(value.clone()),
            ChipFilter::BillingModes { values } => {
                let modes: Vec<String> = values.iter().map(|m| m.as_text()).collect();
                out.push(terms(f.billing_mode, &modes));
            }
        }
    }
    let mut places = Vec::new();
    for (field, values) in [
        (f.city, &cities),
        (f.region, &regions),
        (f.country, &countries),
    ] {
        if !values.is_empty() {
            places.push(terms(field, values));
        }
    }
    if !places.is_empty() {
        out.push(should(places));
    }
    out
}

fn compose(text: &[Box<dyn Query>], filters: &[Box<dyn Query>], occur: Occur) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !text.is_empty() {
        let words = text.iter().map(|q| (occur, q.box_clone())).collect();
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

/// A search as raw Tantivy runs it.
struct RawPlan {
    strict: Box<dyn Query>,
    /// Any word enough, when every word matched nothing.
    relaxed: Option<Box<dyn Query>>,
    /// Order by this i64 fast field ascending; by score when `None`.
    price_field: Option<&'static str>,
    facets: Option<Aggregations>,
    limit: usize,
}

fn raw_plan(f: &Fields, synonyms: &Synonyms, request: &SearchRequest, phrases: bool) -> RawPlan {
    // Understanding runs here, outside the timed part: raw gets the same
    // filters for free, so the ratio includes what understanding costs.
    let understood = if request.understand {
        understand(&request.text)
    } else {
        shiyun_search::Understood {
            chips: Vec::new(),
            text: request.text.clone(),
        }
    };
    let chips: Vec<ChipFilter> = understood.chips.iter().map(|c| c.filter.clone()).collect();
    let text = text_clauses(f, synonyms, &understood.text, phrases);
    let filters = filter_clauses(f, &request.filters, &chips);
    let facets = (!request.facets.is_empty()).then(|| {
        let mut aggs = serde_json::Map::new();
        for facet in &request.facets {
            let field = match facet {
                FacetField::MemoryGib => "memory",
                other => other.as_str(),
            };
            aggs.insert(
                field.to_owned(),
                serde_json::json!({ "terms": { "field": field, "size": 1000 } }),
            );
        }
        serde_json::from_value(serde_json::Value::Object(aggs)).expect("aggregation request")
    });
    RawPlan {
        strict: compose(&text, &filters, Occur::Must),
        relaxed: (text.len() > 1).then(|| compose(&text, &filters, Occur::Should)),
        price_field: matches!(request.sort, SortOrder::PriceAsc).then_some("price_headline"),
        facets,
        limit: request.limit as usize,
    }
}

/// What raw Tantivy collects.
#[derive(Clone, Copy)]
struct RawParts {
    aggs: bool,
    docs: bool,
}

const RAW_FULL: RawParts = RawParts {
    aggs: true,
    docs: true,
};

fn raw_collect(
    searcher: &Searcher,
    query: &dyn Query,
    plan: &RawPlan,
    parts: RawParts,
) -> tantivy::Result<(usize, Vec<DocAddress>)> {
    let top = TopDocs::with_limit(plan.limit + 1);
    let aggs = plan
        .facets
        .as_ref()
        .filter(|_| parts.aggs)
        .map(|a| AggregationCollector::from_aggs(a.clone(), Default::default()));
    let (total, addresses): (usize, Vec<DocAddress>) = match (plan.price_field, aggs) {
        (None, None) => {
            let (hits, total) = searcher.search(query, &(top.order_by_score(), Count))?;
            (total, hits.into_iter().map(|(_, a)| a).collect())
        }
        (None, Some(aggs)) => {
            let (hits, total, facets) =
                searcher.search(query, &(top.order_by_score(), Count, aggs))?;
            std::hint::black_box(facets);
            (total, hits.into_iter().map(|(_, a)| a).collect())
        }
        (Some(field), None) => {
            let (hits, total) = searcher.search(
                query,
                &(top.order_by_fast_field::<i64>(field, Order::Asc), Count),
            )?;
            (total, hits.into_iter().map(|(_, a)| a).collect())
        }
        (Some(field), Some(aggs)) => {
            let (hits, total, facets) = searcher.search(
                query,
                &(
                    top.order_by_fast_field::<i64>(field, Order::Asc),
                    Count,
                    aggs,
                ),
            )?;
            std::hint::black_box(facets);
            (total, hits.into_iter().map(|(_, a)| a).collect())
        }
    };
    Ok((total, addresses))
}

/// Runs a plan; returns the total.
fn raw_search(searcher: &Searcher, plan: &RawPlan, parts: RawParts) -> usize {
    let (mut total, mut addresses) =
        raw_collect(searcher, &*plan.strict, plan, parts).expect("raw search");
    if total == 0
        && let Some(relaxed) = &plan.relaxed
    {
        (total, addresses) = raw_collect(searcher, &**relaxed, plan, parts).expect("raw search");
    }
    if parts.docs {
        for address in addresses.into_iter().take(plan.limit) {
            let doc: TantivyDocument = searcher.doc(address).expect("stored document");
            std::hint::black_box(doc);
        }
    }
    total
}

const PRICE_FIELDS: [&str; 6] = [
    "price_on_demand",
    "price_monthly",
    "price_yearly",
    "price_spot",
    "price_reserved_12m",
    "price_reserved_36m",
];

/// Cheaper equivalents as raw Tantivy would find them: the listing by id,
/// its facts from fast fields, the same clauses, the 40 cheapest by the
/// price field, 10 documents fetched. Returns the matches.
fn raw_equivalents(
    searcher: &Searcher,
    f: &Fields,
    conversion: &Conversion,
    id: &ListingId,
) -> usize {
    let found = searcher
        .search(
            &TermQuery::new(
                Term::from_field_text(f.id, id.as_str()),
                IndexRecordOption::Basic,
            ),
            &TopDocs::with_limit(1).order_by_score(),
        )
        .expect("id lookup");
    let Some((_, address)) = found.first() else {
        return 0;
    };
    let segment = searcher.segment_reader(address.segment_ord);
    let fast = segment.fast_fields();
    let doc = address.doc_id;
    let text = |name: &str| -> Option<String> {
        let column = fast.str(name).ok()??;
        let ord = column.term_ords(doc).next()?;
        let mut out = String::new();
        column.ord_to_str(ord, &mut out).ok()?;
        Some(out)
    };
    let number = |name: &str| fast.u64(name).ok().and_then(|c| c.first(doc));
    let Some((price_field, price)) = PRICE_FIELDS
        .iter()
        .find_map(|name| Some((*name, fast.i64(name).ok()?.first(doc)?)))
    else {
        return 0;
    };
    let mode = price_field.trim_start_matches("price_");
    let (Some(category), Some(country), Some(vendor), Some(currency)) = (
        text("category"),
        text("country"),
        text("vendor"),
        text("currency"),
    ) else {
        return 0;
    };
    let Some(rate) = conversion
        .rates
        .iter()
        .find(|(c, _, _)| c.code() == currency)
        .map(|(_, _, a)| a.rate)
    else {
        return 0;
    };
    let base = Decimal::new(price, 10) * rate;
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
        (Occur::Must, term(f.category, &category)),
        (Occur::Must, term(f.country, &country)),
        (Occur::MustNot, term(f.vendor, &vendor)),
        (Occur::Must, term(f.billing_mode, mode)),
    ];
    if let Some(vcpu) = number("vcpu") {
        let v = Term::from_field_u64(f.vcpu, vcpu);
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Included(v.clone()),
                Bound::Included(v),
            )),
        ));
    }
    if let Some(memory) = number("memory") {
        let spread = memory * 25 / 100;
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_u64(f.memory, memory - spread)),
                Bound::Included(Term::from_field_u64(f.memory, memory + spread)),
            )),
        ));
    }
    if let Some(arch) = text("architecture") {
        clauses.push((Occur::Must, term(f.architecture, &arch)));
    }
    if let Some(gpu) = text("gpu_model") {
        clauses.push((Occur::Must, term(f.gpu_model, &gpu)));
    }
    let slot_field = searcher
        .schema()
        .get_field(price_field)
        .expect("price field");
    let branches: Vec<Box<dyn Query>> = conversion
        .rates
        .iter()
        .filter_map(|(currency, rate, _)| {
            let (low, high) = bounds_for(*rate, None, Some(base))?;
            Some(Box::new(BooleanQuery::new(vec![
                (Occur::Must, term(f.currency, currency.code())),
                (
                    Occur::Must,
                    Box::new(RangeQuery::new(
                        Bound::Included(Term::from_field_i64(slot_field, low)),
                        Bound::Included(Term::from_field_i64(slot_field, high)),
                    )) as Box<dyn Query>,
                ),
            ])) as Box<dyn Query>)
        })
        .collect();
    clauses.push((Occur::Must, should(branches)));
    let top = searcher
        .search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(40).order_by_fast_field::<i64>(price_field, Order::Asc),
        )
        .expect("raw equivalents");
    for (_, address) in top.iter().take(10) {
        let doc: TantivyDocument = searcher.doc(*address).expect("stored document");
        std::hint::black_box(doc);
    }
    top.len()
}

// ---------------------------------------------------------------------
// The query mix.
// ---------------------------------------------------------------------

const TEXT_QUERIES: &[&str] = &[
    "云服务器",
    "mysql",
    "windows server",
    "对象存储",
    "redis 6.0",
    "负载均衡",
    "postgresql 14",
    "阿里云 ecs",
    "内存型",
    "cdn",
];

const SPEC_QUERIES: &[&str] = &[
    "4核8G 上海",
    "8核 32G 杭州 按量",
    "2xlarge",
    "GPU A100",
    "16核64G 北京 包年包月",
    "内存型 4核32G",
];

fn full_requests() -> Vec<SearchRequest> {
    let vendors = |ids: &[&str]| -> Vec<VendorRef> {
        ids.iter()
            .map(|id| VendorRef::parse(id).expect("vendor"))
            .collect()
    };
    let variants: [(&str, &[&str], u32, u32); 6] = [
        ("云服务器", &["alibaba", "tencent", "aws"], 2, 16),
        ("通用型", &["alibaba", "tencent", "aws"], 2, 16),
        ("计算型", &["alibaba", "ctyun", "kingsoft"], 4, 32),
        ("内存型", &["tencent", "ucloud", "azure"], 2, 16),
        ("云服务器", &["ctyun", "kingsoft", "ucloud"], 8, 64),
        ("实例", &["alibaba", "tencent", "aws"], 2, 16),
    ];
    variants
        .iter()
        .map(|(q, ids, min, max)| SearchRequest {
            filters: Filters {
                vendors: vendors(ids),
                countries: vec!["cn".into()],
                vcpu: Range {
                    min: Some(*min),
                    max: Some(*max),
                },
                ..Filters::default()
            },
            facets: vec![
                FacetField::Vendor,
                FacetField::Category,
                FacetField::Region,
                FacetField::BillingMode,
                FacetField::Vcpu,
            ],
            sort: SortOrder::PriceAsc,
            currency: Some(Currency::CNY),
            ..SearchRequest::text(*q)
        })
        .collect()
}

/// One query of a class, both ways.
// Built once per run and only moved by reference: the size gap costs nothing.
#[allow(clippy::large_enum_variant)]
enum Case {
    Search {
        request: SearchRequest,
        plan: RawPlan,
    },
    Equivalents(ListingId),
}

struct Class {
    name: &'static str,
    cases: Vec<Case>,
    /// Cases run per round (the equivalents rotate through their ids).
    per_round: usize,
}

struct Bench {
    index: Arc<CatalogIndex>,
    searcher: Searcher,
    fields: Fields,
    conversion: Conversion,
}

impl Bench {
    fn shiyun(&self, case: &Case) -> (Duration, usize) {
        let started = Instant::now();
        let total = match case {
            Case::Search { request, .. } => {
                self.index.search(request).expect("search").total as usize
            }
            Case::Equivalents(id) => self
                .index
                .equivalents(id, &EquivalentsRequest::new(Currency::CNY))
                .expect("equivalents")
                .equivalents
                .len(),
        };
        (started.elapsed(), total)
    }

    fn raw(&self, case: &Case, parts: RawParts) -> (Duration, usize) {
        let started = Instant::now();
        let total = match case {
            Case::Search { plan, .. } => raw_search(&self.searcher, plan, parts),
            Case::Equivalents(id) => {
                raw_equivalents(&self.searcher, &self.fields, &self.conversion, id)
            }
        };
        (started.elapsed(), total)
    }
}

fn print_latencies(name: &str, label: &str, samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let (p50, p95, p99) = (
        percentile(samples, 0.50),
        percentile(samples, 0.95),
        percentile(samples, 0.99),
    );
    println!("{name}_p50_{label} = {:.3} ms", ms(p50));
    println!("{name}_p95_{label} = {:.3} ms", ms(p95));
    println!("{name}_p99_{label} = {:.3} ms", ms(p99));
    (p50, p99)
}

fn main() {
    let n = env_or("SHIYUN_BENCH_LISTINGS", 100_000);
    let rounds = env_or("SHIYUN_BENCH_ROUNDS", 20) as usize;
    let fresh_secs = env_or("SHIYUN_BENCH_FRESH_SECS", 20);
    let fresh_rate = env_or("SHIYUN_BENCH_FRESH_RATE", 100);
    let verbose = std::env::var("SHIYUN_BENCH_VERBOSE").is_ok_and(|v| v == "1");
    // Parts and classes to run (for profiling one of them): all by default.
    let only = std::env::var("SHIYUN_BENCH_ONLY").unwrap_or_default();
    let runs = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    let classes_wanted = std::env::var("SHIYUN_BENCH_CLASSES").unwrap_or_default();
    let label = size_label(n);
    println!("listings = {n} listings");
    println!(
        "cpus = {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Generation, outside the timed build.
    let rss_before = status_mb("VmRSS");
    let started = Instant::now();
    let mut catalog: Vec<Listing> = DemoCatalog::new(42, n).collect();
    let generated = started.elapsed();
    println!(
        "generate_rate_{label} = {:.0} listings/s",
        n as f64 / generated.as_secs_f64()
    );
    println!(
        "catalog_vec_rss_{label} = {:.0} MB",
        status_mb("VmRSS") - rss_before
    );

    // What the later parts need, picked before the catalog is consumed.
    let mut rng = XorShift(0x5eed_1234_abcd_0042);
    let compute: Vec<&Listing> = catalog
        .iter()
        .filter(|l| l.category().family() == "compute" && l.specs().vcpu.is_some())
        .collect();
    let equivalent_ids: Vec<ListingId> = (0..50)
        .map(|_| compute[rng.below(compute.len())].id().clone())
        .collect();
    let fresh_count = (fresh_secs * fresh_rate) as usize;
    let fresh: Vec<Listing> = (0..fresh_count + 1)
        .map(|_| catalog[rng.below(catalog.len())].clone())
        .collect();

    // The build.
    let dir = tempfile::Builder::new()
        .prefix("shiyun-search-bench-")
        .tempdir()
        .expect("temp dir");
    let index = Arc::new(
        CatalogIndex::open(IndexOptions {
            dir: Some(dir.path().join("index")),
            ..IndexOptions::default()
        })
        .expect("open index"),
    );
    let fx = FxTable::new(
        vec![FxRate {
            from: Currency::USD,
            to: Currency::CNY,
            rate: Decimal::new(71, 1),
        }],
        None,
    )
    .expect("fx table");
    index.set_fx(fx.clone());
    let started = Instant::now();
    let report = index
        .rebuild_with(0, std::mem::take(&mut catalog).into_iter(), None)
        .expect("build");
    let built = started.elapsed();
    println!(
        "index_rate_{label} = {:.0} listings/s",
        report.listings as f64 / built.as_secs_f64()
    );
    println!("index_time_{label} = {:.1} s", built.as_secs_f64());
    println!(
        "peak_rss_after_build_{label} = {:.0} MB",
        status_mb("VmHWM")
    );
    let segments_built = index
        .bench_searcher()
        .expect("searcher")
        .0
        .segment_readers()
        .len();
    println!("segments_after_build_{label} = {segments_built} segments");

    // Let merges settle, then make the reader see them: one real upsert
    // through the store and one feed step (a commit and a reload).
    let waited = quiesce(Duration::from_secs(300));
    println!("merge_wait_{label} = {:.0} s", waited.as_secs_f64());
    let db = shiyun_schema::Database::open(
        &format!("sqlite://{}", dir.path().join("bench.sqlite").display()),
        4,
    )
    .expect("open sqlite");
    db.migrate().expect("migrate");
    db.upsert_listings(&fresh[fresh_count..], chrono::Utc::now())
        .expect("upsert");
    index.apply_changes(&db, &db, 10).expect("feed step");
    let disk: u64 = walk_size(&dir.path().join("index"));
    println!(
        "index_disk_{label} = {:.0} MB",
        disk as f64 / (1024.0 * 1024.0)
    );

    let (searcher, fields) = index.bench_searcher().expect("searcher");
    println!(
        "segments_{label} = {} segments",
        searcher.segment_readers().len()
    );
    let currencies = [Currency::CNY, Currency::USD];
    let bench = Bench {
        index: Arc::clone(&index),
        searcher,
        fields,
        conversion: Conversion::new(&fx, Some(Currency::CNY), &currencies),
    };
    let synonyms = Synonyms::new(default_set());

    // The classes.
    let search_case = |request: SearchRequest, bench: &Bench| Case::Search {
        plan: raw_plan(&bench.fields, &synonyms, &request, true),
        request,
    };
    let classes = vec![
        Class {
            name: "text",
            cases: TEXT_QUERIES
                .iter()
                .map(|q| search_case(SearchRequest::text(*q), &bench))
                .collect(),
            per_round: TEXT_QUERIES.len(),
        },
        Class {
            name: "full",
            cases: full_requests()
                .into_iter()
                .map(|r| search_case(r, &bench))
                .collect(),
            per_round: 6,
        },
        Class {
            name: "spec",
            cases: SPEC_QUERIES
                .iter()
                .map(|q| search_case(SearchRequest::text(*q), &bench))
                .collect(),
            per_round: SPEC_QUERIES.len(),
        },
        Class {
            name: "equiv",
            cases: equivalent_ids
                .iter()
                .map(|id| Case::Equivalents(id.clone()))
                .collect(),
            per_round: 10,
        },
    ];

    let classes: Vec<Class> = classes
        .into_iter()
        .filter(|c| classes_wanted.is_empty() || classes_wanted.split(',').any(|w| w == c.name))
        .collect();

    // Parity: the same query gives the same total both ways.
    for class in classes.iter().filter(|_| runs("parity")) {
        let mut mismatched = 0;
        for case in &class.cases {
            let (_, ours) = bench.shiyun(case);
            let (_, raw) = bench.raw(case, RAW_FULL);
            let same = match case {
                // Ours drops equal prices and keeps 10; raw keeps up to 40.
                Case::Equivalents(_) => ours <= raw,
                Case::Search { .. } => ours == raw,
            };
            if !same {
                mismatched += 1;
            }
            if verbose {
                let what = match case {
                    Case::Search { request, .. } => request.text.clone(),
                    Case::Equivalents(id) => id.as_str().to_owned(),
                };
                eprintln!("{}: {what}: shiyun {ours}, raw {raw}", class.name);
            }
        }
        println!(
            "parity_mismatches_{}_{label} = {mismatched} of {} queries",
            class.name,
            class.cases.len()
        );
    }

    // Latency: both ways, interleaved, the order swapped each round.
    let mut all_ours = Vec::new();
    let mut all_raw = Vec::new();
    for class in classes.iter().filter(|_| runs("latency")) {
        let mut ours = Vec::new();
        let mut raw = Vec::new();
        let mut next = 0;
        for round in 0..rounds {
            for _ in 0..class.per_round {
                let case = &class.cases[next % class.cases.len()];
                next += 1;
                if round % 2 == 0 {
                    ours.push(bench.shiyun(case).0);
                    raw.push(bench.raw(case, RAW_FULL).0);
                } else {
                    raw.push(bench.raw(case, RAW_FULL).0);
                    ours.push(bench.shiyun(case).0);
                }
            }
        }
        all_ours.extend_from_slice(&ours);
        all_raw.extend_from_slice(&raw);
        let name = class.name;
        let (o50, o99) = print_latencies(&format!("{name}_shiyun"), &label, &mut ours);
        let (r50, r99) = print_latencies(&format!("{name}_raw"), &label, &mut raw);
        println!(
            "{name}_ratio_p50_{label} = {:.2} x",
            o50.as_secs_f64() / r50.as_secs_f64()
        );
        println!(
            "{name}_ratio_p99_{label} = {:.2} x",
            o99.as_secs_f64() / r99.as_secs_f64()
        );
    }
    if !all_ours.is_empty() {
        let (o50, o99) = print_latencies("all_shiyun", &label, &mut all_ours);
        let (r50, r99) = print_latencies("all_raw", &label, &mut all_raw);
        println!(
            "all_ratio_p50_{label} = {:.2} x",
            o50.as_secs_f64() / r50.as_secs_f64()
        );
        println!(
            "all_ratio_p99_{label} = {:.2} x",
            o99.as_secs_f64() / r99.as_secs_f64()
        );
    }

    // Where the `full` class spends its time.
    if runs("breakdown") {
        breakdown(&bench, &full_requests(), rounds, &label);
    }

    // Upsert to visible.
    if runs("fresh") {
        freshness(&index, &db, &fx, &fresh[..fresh_count], fresh_rate, &label);
    }
    println!("peak_rss_end_{label} = {:.0} MB", status_mb("VmHWM"));
}

fn walk_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map_or(0, |m| m.len());
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_size(&p)
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}

/// One way of running a `full` query.
// Built once per run and only moved by reference: the size gap costs nothing.
#[allow(clippy::large_enum_variant)]
enum Variant {
    /// Shiyun with this request.
    Shiyun(SearchRequest),
    /// Raw Tantivy with this plan and these parts.
    Raw(RawPlan, RawParts),
}

/// The `full` class with parts taken away, each p50/p99: Shiyun without
/// facets or with one hit; raw without the aggregation or the document
/// fetch; and raw without synonyms, without the Chinese phrase clauses,
/// with the filters alone and with the words alone (where the matching
/// time goes).
fn breakdown(bench: &Bench, requests: &[SearchRequest], rounds: usize, label: &str) {
    let synonyms = Synonyms::new(default_set());
    let none = Synonyms::default();
    let f = &bench.fields;
    let plan =
        |r: &SearchRequest, synonyms: &Synonyms, phrases: bool| raw_plan(f, synonyms, r, phrases);
    let names = [
        "shiyun_full",
        "shiyun_no_facets",
        "shiyun_one_hit",
        "raw_full",
        "raw_no_aggs",
        "raw_no_docs",
        "raw_no_synonyms",
        "raw_no_phrases",
        "raw_filters_only",
        "raw_words_only",
    ];
    let cases: Vec<Vec<Variant>> = requests
        .iter()
        .map(|r| {
            vec![
                Variant::Shiyun(r.clone()),
                Variant::Shiyun(SearchRequest {
                    facets: Vec::new(),
                    ..r.clone()
                }),
                Variant::Shiyun(SearchRequest {
                    limit: 1,
                    ..r.clone()
                }),
                Variant::Raw(plan(r, &synonyms, true), RAW_FULL),
                Variant::Raw(
                    plan(r, &synonyms, true),
                    RawParts {
                        aggs: false,
                        docs: true,
                    },
                ),
                Variant::Raw(
                    plan(r, &synonyms, true),
                    RawParts {
                        aggs: true,
                        docs: false,
                    },
                ),
                Variant::Raw(plan(r, &none, true), RAW_FULL),
                Variant::Raw(plan(r, &synonyms, false), RAW_FULL),
                Variant::Raw(
                    plan(
                        &SearchRequest {
                            text: String::new(),
                            ..r.clone()
                        },
                        &synonyms,
                        true,
                    ),
                    RAW_FULL,
                ),
                Variant::Raw(
                    plan(
                        &SearchRequest {
                            filters: Filters::default(),
                            ..r.clone()
                        },
                        &synonyms,
                        true,
                    ),
                    RAW_FULL,
                ),
            ]
        })
        .collect();
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    let mut totals: Vec<u64> = vec![0; names.len()];
    for round in 0..rounds {
        for variants in &cases {
            for (i, variant) in variants.iter().enumerate() {
                let started = Instant::now();
                let total = match variant {
                    Variant::Shiyun(request) => bench.index.search(request).expect("search").total,
                    Variant::Raw(plan, parts) => raw_search(&bench.searcher, plan, *parts) as u64,
                };
                samples[i].push(started.elapsed());
                if round == 0 {
                    totals[i] += total;
                }
            }
        }
    }
    for ((name, mut s), total) in names.iter().zip(samples).zip(totals) {
        s.sort();
        println!(
            "breakdown_full_{name}_p50_{label} = {:.3} ms",
            ms(percentile(&s, 0.5))
        );
        println!(
            "breakdown_full_{name}_p99_{label} = {:.3} ms",
            ms(percentile(&s, 0.99))
        );
        println!("breakdown_full_{name}_matches_{label} = {total} listings");
    }
}

/// Upserts `listings` (each renamed with a unique word) into the store at
/// `rate` a second while a follower applies the feed, and a thread searches
/// for each word until found: commit-to-visible latency.
fn freshness(
    index: &Arc<CatalogIndex>,
    db: &shiyun_schema::Database,
    fx: &FxTable,
    listings: &[Listing],
    rate: u64,
    label: &str,
) {
    let follower = Follower::spawn(
        Arc::clone(index),
        FollowSources {
            listings: Arc::new(db.clone()),
            feed: Arc::new(db.clone()),
            settings: None,
            fallback_fx: fx.clone(),
        },
        FollowOptions {
            poll_interval: Duration::from_millis(20),
            ..FollowOptions::default()
        },
    )
    .expect("follower");
    let renamed: Vec<(String, Listing)> = listings
        .iter()
        .enumerate()
        .map(|(i, listing)| {
            let word = format!("fresh{i:06}q");
            let mut data = listing.clone().into_data();
            data.name.en = Some(format!(
                "{} {word}",
                data.name.en.clone().unwrap_or_default()
            ));
            (word, Listing::try_from(data).expect("renamed listing"))
        })
        .collect();
    let (sender, receiver) = mpsc::channel::<(String, Instant)>();
    let searching = Arc::clone(index);
    let poller = std::thread::spawn(move || {
        let mut pending: Vec<(String, Instant, SearchRequest)> = Vec::new();
        let mut found: Vec<Duration> = Vec::new();
        let mut missed = 0usize;
        let mut open = true;
        let mut seen_seq = searching.applied_seq();
        let mut last_pass = Instant::now();
        while open || !pending.is_empty() {
            let mut arrived = false;
            loop {
                match receiver.try_recv() {
                    Ok((word, at)) => {
                        let request = SearchRequest {
                            understand: false,
                            limit: 1,
                            ..SearchRequest::text(format!("{word} "))
                        };
                        pending.push((word, at, request));
                        arrived = true;
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            // Search again only when the index committed something (its
            // sequence moved) or a new upsert came: a thread searching
            // every pending word in a loop would starve the follower of
            // the machine's two cores.
            let seq = searching.applied_seq();
            if seq != seen_seq || arrived || last_pass.elapsed() > Duration::from_millis(100) {
                seen_seq = seq;
                last_pass = Instant::now();
                pending.retain(|(_, at, request)| {
                    let visible = searching
                        .search(request)
                        .is_ok_and(|response| response.total > 0);
                    if visible {
                        found.push(at.elapsed());
                        return false;
                    }
                    if at.elapsed() > Duration::from_secs(10) {
                        missed += 1;
                        return false;
                    }
                    true
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        (found, missed)
    });
    let started = Instant::now();
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let mut upsert_time = Vec::new();
    for (i, (word, listing)) in renamed.iter().enumerate() {
        let due = started + every * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let before = Instant::now();
        db.upsert_listings(std::slice::from_ref(listing), chrono::Utc::now())
            .expect("upsert");
        let committed = Instant::now();
        upsert_time.push(committed - before);
        sender.send((word.clone(), committed)).expect("poller");
    }
    let offered = started.elapsed();
    drop(sender);
    let (mut found, missed) = poller.join().expect("poller thread");
    follower.stop();
    println!(
        "fresh_rate_{label} = {:.0} upserts/s",
        renamed.len() as f64 / offered.as_secs_f64()
    );
    print_latencies("fresh_visible", label, &mut found);
    println!("fresh_missed_{label} = {missed} upserts");
    upsert_time.sort();
    println!(
        "fresh_upsert_commit_p50_{label} = {:.3} ms",
        ms(percentile(&upsert_time, 0.5))
    );

    // One feed step on its own, the follower stopped: one changed listing
    // read from the store, written, committed, the reader reloaded.
    let mut steps = Vec::new();
    for (i, (_, listing)) in renamed.iter().take(50).enumerate() {
        let mut data = listing.clone().into_data();
        data.name.en = Some(format!(
            "{} again{i:04}q",
            data.name.en.clone().unwrap_or_default()
        ));
        let listing = Listing::try_from(data).expect("renamed listing");
        db.upsert_listings(std::slice::from_ref(&listing), chrono::Utc::now())
            .expect("upsert");
        let started = Instant::now();
        index.apply_changes(db, db, 100).expect("feed step");
        steps.push(started.elapsed());
    }
    print_latencies("fresh_feed_step", label, &mut steps);
}
