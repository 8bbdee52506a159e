//! One pass over the matches: the page (top hits in the requested order
//! after the cursor), the exact total, exact facet counts and the price
//! histogram, all read from fast fields.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::fields::GIB_SCALE;
use crate::prices::{from_scaled, histogram_edges};
use crate::request::FacetField;

/// What the page is ordered by.
#[derive(Debug, Clone)]
pub enum SortKey {
    /// The score.
    Relevance,
    /// A price field converted to the requested currency.
    Price {
        /// The fast field.
        field: &'static str,
        /// Most expensive first.
        descending: bool,
        /// (currency code, integer rate) pairs.
        rates: Vec<(String, i128)>,
    },
    /// A u64 field.
    Number {
        /// The fast field.
        field: &'static str,
        /// Largest first.
        descending: bool,
    },
}

/// Where a page starts: after this (key, id key).
pub type Cursor = (i128, u64);

/// The whole collection request.
#[derive(Debug, Clone)]
pub struct PageCollector {
    /// Order.
    pub sort: SortKey,
    /// Start after this.
    pub cursor: Option<Cursor>,
    /// Hits wanted (one more is collected, to know if a page follows).
    pub limit: usize,
    /// Fields to count.
    pub facets: Vec<FacetField>,
    /// Price field and rates for the histogram.
    pub histogram: Option<(&'static str, Vec<(String, i128)>)>,
}

/// One collected hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Sort key: higher comes first.
    pub key: i128,
    /// Tie-break: lower comes first.
    pub id_key: u64,
    /// Score.
    pub score: Score,
    /// Where.
    pub address: DocAddress,
}

impl Ranked {
    fn rank(&self) -> (i128, Reverse<u64>) {
        (self.key, Reverse(self.id_key))
    }
}

impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    // Reversed, so the heap's top is the worst kept hit.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.rank().cmp(&self.rank())
    }
}

/// Counts of one facet: by value text.
pub type FacetCounts = HashMap<String, u64>;

/// What a collection gives.
#[derive(Debug, Default)]
pub struct Collected {
    /// The best `limit + 1` hits after the cursor, best first.
    pub top: Vec<Ranked>,
    /// Matches in all.
    pub total: u64,
    /// Facet counts.
    pub facets: HashMap<FacetField, FacetCounts>,
    /// Histogram counts per band of [`histogram_edges`] (band i is
    /// `[edges[i], edges[i+1])`, the last one open).
    pub histogram: Vec<u64>,
}

/// The fast field a facet counts: its own name, but memory is kept in
/// thousandths of a GiB under `memory`.
fn field_name(facet: FacetField) -> &'static str {
    match facet {
        FacetField::MemoryGib => "memory",
        other => other.as_str(),
    }
}

enum FacetColumn {
    Text(StrColumn, Vec<u64>),
    Number(Column<u64>, HashMap<u64, u64>, bool),
    Missing,
}

/// A converted-price reader of one segment.
struct PriceReader {
    column: Column<i64>,
    currency: Option<StrColumn>,
    /// Rate per currency ordinal of this segment.
    rates: Vec<Option<i128>>,
}

impl PriceReader {
    fn open(
        segment: &SegmentReader,
        field: &str,
        rates: &[(String, i128)],
    ) -> tantivy::Result<Self> {
        let column = segment.fast_fields().i64(field)?;
        let currency = segment.fast_fields().str("currency")?;
        let mut by_ord = Vec::new();
        if let Some(col) = &currency {
            let mut text = String::new();
            for ord in 0..col.num_terms() as u64 {
                text.clear();
                col.ord_to_str(ord, &mut text)?;
                by_ord.push(rates.iter().find(|(c, _)| *c == text).map(|(_, r)| *r));
            }
        }
        Ok(PriceReader {
            column,
            currency,
            rates: by_ord,
        })
    }

    /// The doc's price × rate, when it has a price and its currency a rate.
    fn converted(&self, doc: DocId) -> Option<i128> {
        let price = self.column.first(doc)?;
        let ord = self.currency.as_ref()?.term_ords(doc).next()?;
        let rate = (*self.rates.get(ord as usize)?)?;
        Some(i128::from(price) * rate)
    }
}

enum KeyReader {
    Relevance,
    Price(PriceReader, bool),
    Number(Column<u64>, bool),
}

/// The collector of one segment.
pub struct PageSegment {
    segment: SegmentOrdinal,
    id_key: Column<u64>,
    key: KeyReader,
    cursor: Option<Cursor>,
    limit: usize,
    heap: BinaryHeap<Ranked>,
    total: u64,
    facets: Vec<(FacetField, FacetColumn)>,
    histogram: Option<(PriceReader, Vec<i128>, Vec<u64>)>,
}

impl Collector for PageCollector {
    type Fruit = Collected;
    type Child = PageSegment;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<PageSegment> {
        let fast = segment.fast_fields();
        let key = match &self.sort {
            SortKey::Relevance => KeyReader::Relevance,
            SortKey::Price {
                field,
                descending,
                rates,
            } => KeyReader::Price(PriceReader::open(segment, field, rates)?, *descending),
            SortKey::Number { field, descending } => {
                KeyReader::Number(fast.u64(field)?, *descending)
            }
        };
        let mut facets = Vec::new();
        for facet in &self.facets {
            let name = field_name(*facet);
            let column = match facet {
                FacetField::Vcpu | FacetField::MemoryGib | FacetField::GpuCount => {
                    FacetColumn::Number(
                        fast.u64(name)?,
                        HashMap::new(),
                        *facet == FacetField::MemoryGib,
                    )
                }
                _ => match fast.str(name)? {
                    Some(column) => {
                        let terms = column.num_terms();
                        FacetColumn::Text(column, vec![0; terms])
                    }
                    None => FacetColumn::Missing,
                },
            };
            facets.push((*facet, column));
        }
        let histogram = match &self.histogram {
            Some((field, rates)) => {
                let edges = histogram_edges();
                let counts = vec![0; edges.len()];
                Some((PriceReader::open(segment, field, rates)?, edges, counts))
            }
            None => None,
        };
        Ok(PageSegment {
            segment: segment_ord,
            id_key: fast.u64("id_key")?,
            key,
            cursor: self.cursor,
            limit: self.limit + 1,
            heap: BinaryHeap::new(),
            total: 0,
            facets,
            histogram,
        })
    }

    fn requires_scoring(&self) -> bool {
        matches!(self.sort, SortKey::Relevance)
    }

    fn merge_fruits(&self, fruits: Vec<Collected>) -> tantivy::Result<Collected> {
        let mut merged = Collected::default();
        let mut heap: BinaryHeap<Ranked> = BinaryHeap::new();
        for fruit in fruits {
            merged.total += fruit.total;
            for (facet, counts) in fruit.facets {
                let into = merged.facets.entry(facet).or_default();
                for (value, count) in counts {
                    *into.entry(value).or_default() += count;
                }
            }
            if merged.histogram.len() < fruit.histogram.len() {
                merged.histogram.resize(fruit.histogram.len(), 0);
            }
            for (i, count) in fruit.histogram.iter().enumerate() {
                merged.histogram[i] += count;
            }
            for hit in fruit.top {
                push_bounded(&mut heap, hit, self.limit + 1);
            }
        }
        let mut top = heap.into_vec();
        top.sort();
        merged.top = top;
        Ok(merged)
    }
}

fn push_bounded(heap: &mut BinaryHeap<Ranked>, hit: Ranked, limit: usize) {
    if heap.len() < limit {
        heap.push(hit);
    } else if let Some(worst) = heap.peek()
        && hit.rank() > worst.rank()
    {
        heap.pop();
        heap.push(hit);
    }
}

/// Key of a missing value: after every present one.
const MISSING: i128 = i128::MIN;

impl SegmentCollector for PageSegment {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        for (_, column) in &mut self.facets {
            match column {
                FacetColumn::Text(column, counts) => {
                    for ord in column.term_ords(doc) {
                        if let Some(count) = counts.get_mut(ord as usize) {
                            *count += 1;
                        }
                    }
                }
                FacetColumn::Number(column, counts, _) => {
                    if let Some(value) = column.first(doc) {
                        *counts.entry(value).or_default() += 1;
                    }
                }
                FacetColumn::Missing => {}
            }
        }
        if let Some((reader, edges, counts)) = &mut self.histogram
            && let Some(value) = reader.converted(doc)
        {
            let band = edges
                .partition_point(|edge| *edge <= value)
                .saturating_sub(1);
            counts[band] += 1;
        }
        let key = match &self.key {
            // Scores are not negative, so their bits order as they do.
            KeyReader::Relevance => i128::from(score.max(0.0).to_bits()),
            KeyReader::Price(reader, descending) => match reader.converted(doc) {
                Some(v) if *descending => v,
                Some(v) => -v,
                None => MISSING,
            },
            KeyReader::Number(column, descending) => match column.first(doc) {
                Some(v) if *descending => i128::from(v),
                Some(v) => -i128::from(v),
                None => MISSING,
            },
        };
        let id_key = self.id_key.first(doc).unwrap_or(0);
        if let Some((cursor_key, cursor_id)) = self.cursor
            && (key, Reverse(id_key)) >= (cursor_key, Reverse(cursor_id))
        {
            return;
        }
        push_bounded(
            &mut self.heap,
            Ranked {
                key,
                id_key,
                score,
                address: DocAddress::new(self.segment, doc),
            },
            self.limit,
        );
    }

    fn harvest(self) -> Collected {
        let mut facets = HashMap::new();
        for (facet, column) in self.facets {
            let mut counts = FacetCounts::new();
            match column {
                FacetColumn::Text(column, by_ord) => {
                    let mut text = String::new();
                    for (ord, count) in by_ord.into_iter().enumerate() {
                        if count > 0 {
                            text.clear();
                            if column.ord_to_str(ord as u64, &mut text).unwrap_or(false) {
                                *counts.entry(text.clone()).or_default() += count;
                            }
                        }
                    }
                }
                FacetColumn::Number(_, by_value, is_gib) => {
                    for (value, count) in by_value {
                        let text = if is_gib {
                            from_scaled(i128::from(value), GIB_SCALE)
                                .map_or_else(|| value.to_string(), |d| d.to_string())
                        } else {
                            value.to_string()
                        };
                        *counts.entry(text).or_default() += count;
                    }
                }
                FacetColumn::Missing => {}
            }
            facets.insert(facet, counts);
        }
        Collected {
            top: self.heap.into_vec(),
            total: self.total,
            facets,
            histogram: self.histogram.map(|(_, _, c)| c).unwrap_or_default(),
        }
    }
}
