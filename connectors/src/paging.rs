//! Page tokens and per-region catalog caches shared by the live connectors.
//!
//! Tokens are small JSON objects so that a failed run's last token, saved by
//! the sync engine, resumes at the request that failed. Connectors that walk
//! regions × items (Alibaba, Kingsoft, UCloud, CTyun) page with
//! [`walk_region_items`] and its [`RegionItemCursor`]; the others keep their
//! own token type, start with [`resume_at`] and write the next token with
//! [`encode_token`].

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shiyun_core::listing::Vendor;

use crate::{ConnectorError, FetchedPage};

/// Reads a page token of `vendor`.
pub fn decode_token<T: DeserializeOwned>(vendor: Vendor, token: &str) -> Result<T, ConnectorError> {
    serde_json::from_str(token).map_err(|e| ConnectorError::PageToken {
        vendor,
        token: token.to_owned(),
        message: e.to_string(),
    })
}

/// Where a walk resumes: `token` read as `vendor`'s token type, or for the
/// first page the start that `first` gives; `None` when there is nothing to
/// walk (no start).
pub fn resume_at<T: DeserializeOwned>(
    vendor: Vendor,
    token: Option<&str>,
    first: impl FnOnce() -> Option<T>,
) -> Result<Option<T>, ConnectorError> {
    match token {
        Some(token) => decode_token(vendor, token).map(Some),
        None => Ok(first()),
    }
}

/// Writes the next page's token; `None` ends the run.
pub fn encode_token<T: Serialize>(next: Option<T>) -> Result<Option<String>, ConnectorError> {
    next.map(|t| serde_json::to_string(&t))
        .transpose()
        .map_err(|e| ConnectorError::Request(format!("cannot write the next page token: {e}")))
}

/// Where a walk over regions × items stands: `{"region_idx":r,"item_idx":i}`,
/// indexes into the configured regions and into that region's (stably
/// ordered) items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionItemCursor {
    /// Index of the region being walked.
    pub region_idx: usize,
    /// Index of the region's first item on this page.
    pub item_idx: usize,
}

impl RegionItemCursor {
    /// Reads a token of `vendor`; `None` is the first page.
    pub fn decode(vendor: Vendor, token: Option<&str>) -> Result<Self, ConnectorError> {
        token.map_or(Ok(Self::default()), |t| decode_token(vendor, t))
    }

    /// This page of a region with `items` items, `per_page` at a time, out of
    /// `regions` regions: which items to fetch and where the next page starts.
    pub fn page(self, items: usize, per_page: usize, regions: usize) -> RegionPage {
        let end = (self.item_idx + per_page).min(items);
        let next = if end < items {
            Some(RegionItemCursor {
                region_idx: self.region_idx,
                item_idx: end,
            })
        } else if self.region_idx + 1 < regions {
            Some(RegionItemCursor {
                region_idx: self.region_idx + 1,
                item_idx: 0,
            })
        } else {
            None
        };
        RegionPage {
            items: self.item_idx..end,
            next,
        }
    }
}

/// One page of a region: its items and the cursor of the page after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionPage {
    /// Indexes of the items on this page (empty when a token points past the end).
    pub items: Range<usize>,
    /// Where the next page starts; `None` after the last region's last item.
    pub next: Option<RegionItemCursor>,
}

impl RegionPage {
    /// This page's items out of the region's `all`.
    pub fn slice<'a, T>(&self, all: &'a [T]) -> &'a [T] {
        all.get(self.items.clone()).unwrap_or_default()
    }

    /// The token of the next page.
    pub fn next_token(&self) -> Result<Option<String>, ConnectorError> {
        encode_token(self.next)
    }
}

/// A connector that walks regions × each region's items with
/// [`walk_region_items`].
#[async_trait::async_trait]
pub trait RegionItems: Sync {
    /// A region as the connector knows it.
    type Region: Sync;
    /// One item of a region (an instance type, a configuration).
    type Item: Send + Sync;

    /// `region`'s items, in a stable order, so that a resumed run's indexes
    /// still point at the same items.
    async fn items_of(&self, region: &Self::Region)
    -> Result<Arc<Vec<Self::Item>>, ConnectorError>;

    /// Adds one item's listings and rejections to `page`.
    async fn price(
        &self,
        region: &Self::Region,
        item: &Self::Item,
        page: &mut FetchedPage,
    ) -> Result<(), ConnectorError>;
}

/// One page of `walker`'s walk over `regions` × each region's items,
/// `per_page` items at a time, resuming at `token` (a [`RegionItemCursor`]).
pub async fn walk_region_items<W: RegionItems>(
    walker: &W,
    vendor: Vendor,
    token: Option<&str>,
    regions: &[W::Region],
    per_page: usize,
) -> Result<FetchedPage, ConnectorError> {
    let position = RegionItemCursor::decode(vendor, token)?;
    let Some(region) = regions.get(position.region_idx) else {
        return Ok(FetchedPage::default());
    };
    let items = walker.items_of(region).await?;
    let window = position.page(items.len(), per_page, regions.len());
    let mut page = FetchedPage::default();
    for item in window.slice(&items) {
        walker.price(region, item, &mut page).await?;
    }
    page.next_token = window.next_token()?;
    Ok(page)
}

/// A catalog per region, loaded once per connector. Resumed runs rely on
/// the cached order, so loaders should sort what they return.
#[derive(Debug)]
pub struct RegionCache<T> {
    loaded: Mutex<HashMap<String, Arc<T>>>,
}

impl<T> Default for RegionCache<T> {
    fn default() -> Self {
        RegionCache {
            loaded: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> RegionCache<T> {
    /// `region`'s catalog, from the cache or else from `load` (a failed load
    /// is not cached). The lock is not held across `load`: two pages of one
    /// region racing may both load it, which is harmless.
    pub async fn get_or_load<F, Fut>(&self, region: &str, load: F) -> Result<Arc<T>, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        if let Some(hit) = self.loaded.lock().ok().and_then(|m| m.get(region).cloned()) {
            return Ok(hit);
        }
        let loaded = Arc::new(load().await?);
        // A poisoned lock only costs a reload next time.
        if let Ok(mut cache) = self.loaded.lock() {
            cache.insert(region.to_owned(), loaded.clone());
        }
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shiyun_core::error::{CodedError, ErrorCode};

    #[test]
    fn pages_walk_items_then_regions() {
        let start = RegionItemCursor::default();
        let first = start.page(5, 2, 2);
        assert_eq!(first.items, 0..2);
        let second = first.next.unwrap().page(5, 2, 2);
        assert_eq!(second.items, 2..4);
        let third = second.next.unwrap().page(5, 2, 2);
        assert_eq!(third.items, 4..5);
        assert_eq!(
            third.next,
            Some(RegionItemCursor {
                region_idx: 1,
                item_idx: 0
            })
        );
        let last = third.next.unwrap().page(1, 2, 2);
        assert_eq!(last.items, 0..1);
        assert_eq!(last.next, None);
    }

    #[test]
    fn an_empty_region_moves_on_and_a_stale_index_yields_nothing() {
        let empty = RegionItemCursor::default().page(0, 3, 2);
        assert!(empty.slice(&[1, 2]).is_empty());
        assert_eq!(empty.next.unwrap().region_idx, 1);
        let stale = RegionItemCursor {
            region_idx: 0,
            item_idx: 9,
        }
        .page(4, 3, 1);
        assert!(stale.slice(&[1, 2, 3, 4]).is_empty());
        assert_eq!(stale.next, None);
    }

    #[test]
    fn tokens_keep_their_json_form() {
        let page = RegionItemCursor::default().page(5, 5, 2);
        assert_eq!(
            page.next_token().unwrap().as_deref(),
            Some(r#"{"region_idx":1,"item_idx":0}"#)
        );
        let cursor =
            RegionItemCursor::decode(Vendor::Kingsoft, Some(r#"{"region_idx":1,"item_idx":4}"#))
                .unwrap();
        assert_eq!(cursor.item_idx, 4);
        assert_eq!(
            RegionItemCursor::decode(Vendor::Ucloud, None).unwrap(),
            RegionItemCursor::default()
        );
        let bad = RegionItemCursor::decode(Vendor::Alibaba, Some("nope")).unwrap_err();
        assert!(
            matches!(&bad, ConnectorError::PageToken { vendor: Vendor::Alibaba, token, .. } if token == "nope"),
            "{bad:?}"
        );
        assert_eq!(bad.code(), ErrorCode::InvalidArgument);
    }

    #[tokio::test]
    async fn a_region_loads_once_and_failures_are_not_cached() {
        let cache = RegionCache::<Vec<u8>>::default();
        let failed = cache
            .get_or_load("r", || async {
                Err(ConnectorError::Transport {
                    vendor: Vendor::Ucloud,
                    message: "down".into(),
                })
            })
            .await;
        assert!(failed.is_err());
        let first = cache
            .get_or_load("r", || async { Ok(vec![1]) })
            .await
            .unwrap();
        let again = cache
            .get_or_load("r", || async { Ok(vec![2]) })
            .await
            .unwrap();
        assert_eq!(*first, vec![1]);
        assert_eq!(*again, vec![1]);
    }
}
