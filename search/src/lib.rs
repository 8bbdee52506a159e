//! Shiyun catalog search.
//!
//! The Tantivy index of the listing catalog: Chinese (jieba) and English
//! tokenisers, spec-aware query understanding (`4核8G 上海 按量`), exact
//! filters, facets and prices, and recommendation. The index is derived
//! data: it follows the listing change feed of
//! [`shiyun_core::store::ChangeFeed`] and can be rebuilt from the store at
//! any time. Tantivy is a dependency of this crate only: callers speak
//! [`SearchRequest`] and [`SearchResponse`].

mod collect;
pub mod error;
pub mod fields;
pub mod follow;
mod highlight;
pub mod index;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod prices;
mod query;
pub mod recommend;
pub mod relevance;
pub mod request;
pub mod synonyms;
pub mod tokenizer;
pub mod understand;

pub use error::{SearchError, SearchResult};
pub use follow::{FollowOptions, FollowSources, Follower, catch_up, load_settings};
pub use index::{CatalogIndex, IndexOptions, RebuildReport};
pub use recommend::{EquivalenceScore, Equivalent, Equivalents, EquivalentsRequest};
pub use request::{
    Chip, ChipFilter, ConvertedPrice, FacetCount, FacetField, Filters, Highlight, Histogram,
    HistogramBucket, Hit, HitPrice, Range, SearchRequest, SearchResponse, SortOrder, Understood,
};
pub use understand::understand;
