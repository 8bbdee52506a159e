//! Shiyun catalog search.
//!
//! This crate will hold the Tantivy index of the listing catalog: Chinese
//! (jieba) and English tokenisers, the query AST and hit types the rest of the
//! product speaks (never Tantivy's own), facets, and recommendation. The index
//! is derived data: it follows the listing change feed of
//! [`shiyun_core::store::ChangeFeed`] and can be rebuilt from the store at any
//! time. Tantivy is a dependency of this crate only.
//!
//! It is empty until the search issue fills it.
