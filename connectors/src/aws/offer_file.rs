//! Streaming reader of AWS Bulk API offer files
//! (`offers/v1.0/aws/<service>/current/<region>/index.json`, up to gigabytes).
//!
//! The design choice: **one pass with a compact product table**. A serde
//! `DeserializeSeed` walks the document; it never builds the `products` or
//! `terms` maps. Each product is normalised as it is read into a
//! [`ProductTemplate`] (category, names, region, specs: a few hundred bytes)
//! and kept by SKU; each term is read, joined with its template, turned into
//! a listing at once (one term is one listing, see
//! [`super::transformers`]) and handed out in batches. So memory holds the
//! templates and one batch, never the terms (the bulk of the file: several
//! reserved options per product) nor raw text. AWS writes `products` before
//! `terms`, which this relies on; a term whose SKU was not seen is rejected.
//! The alternative, two passes over a seekable file, would also have to
//! remember every product to join terms, so it saves nothing and reads twice.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufReader, Read};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use shiyun_core::listing::Vendor;
use shiyun_core::store::RecordRejection;

use super::transformers::{OFFER_FILE_API, Product, ProductTemplate, Term, TermKind};
use crate::{ConnectorError, FetchedPage, ImportContext};

/// Records (listings plus rejections) per batch handed to the callback.
pub const DEFAULT_BATCH: usize = 1000;

/// What a streamed offer file contained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferFileSummary {
    /// `offerCode` (`AmazonEC2`).
    pub offer_code: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// Products read.
    pub products: u64,
    /// Listings produced.
    pub listings: u64,
    /// Records rejected.
    pub rejections: u64,
}

/// Streams an offer file, calling `on_batch` with pages of up to
/// [`DEFAULT_BATCH`] records. An error from `on_batch` stops the stream and
/// is returned; unreadable JSON is [`ConnectorError::Malformed`].
pub fn stream_offer_file<R, F>(
    reader: R,
    ctx: &ImportContext,
    on_batch: F,
) -> Result<OfferFileSummary, ConnectorError>
where
    R: Read,
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    stream_offer_file_with_batch(reader, ctx, DEFAULT_BATCH, on_batch)
}

/// [`stream_offer_file`] with a chosen batch size.
pub fn stream_offer_file_with_batch<R, F>(
    reader: R,
    ctx: &ImportContext,
    batch_size: usize,
    on_batch: F,
) -> Result<OfferFileSummary, ConnectorError>
where
    R: Read,
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    let mut state = State {
        ctx,
        templates: HashMap::new(),
        failed: HashSet::new(),
        page: FetchedPage::default(),
        batch_size: batch_size.max(1),
        on_batch,
        stopped: None,
        summary: OfferFileSummary::default(),
    };
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, reader));
    let parsed = OfferSeed(&mut state)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Some(error) = state.stopped.take() {
        return Err(error);
    }
    parsed.map_err(|e| ConnectorError::Malformed {
        vendor: Vendor::Aws,
        message: format!("offer file: {e}"),
    })?;
    state.flush()?;
    Ok(state.summary)
}

struct State<'c, F> {
    ctx: &'c ImportContext,
    /// The compact per-SKU record, with the hash of the product's raw JSON.
    templates: HashMap<String, (ProductTemplate, [u8; 32])>,
    /// SKUs already rejected, so their terms are not reported again.
    failed: HashSet<String>,
    page: FetchedPage,
    batch_size: usize,
    on_batch: F,
    /// The callback's error, kept while serde unwinds.
    stopped: Option<ConnectorError>,
    summary: OfferFileSummary,
}

impl<F> State<'_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    fn reject(&mut self, vendor_key: String, reason: String) {
        self.summary.rejections += 1;
        self.page
            .rejections
            .push(RecordRejection { vendor_key, reason });
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        if self.page.listings.is_empty() && self.page.rejections.is_empty() {
            return Ok(());
        }
        let page = std::mem::take(&mut self.page);
        (self.on_batch)(page)
    }

    fn maybe_flush(&mut self) -> Result<(), ConnectorError> {
        if self.page.listings.len() + self.page.rejections.len() >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    fn add_product(&mut self, sku: String, raw: &RawValue) -> Result<(), ConnectorError> {
        self.summary.products += 1;
        let template = serde_json::from_str::<Product>(raw.get())
            .map_err(|e| format!("unreadable product: {e}"))
            .and_then(|product| ProductTemplate::from_product(&product));
        match template {
            Ok(template) => {
                let hash: [u8; 32] = Sha256::digest(raw.get().as_bytes()).into();
                self.templates.insert(sku, (template, hash));
            }
            Err(reason) => {
                self.failed.insert(sku.clone());
                self.reject(sku, reason);
            }
        }
        self.maybe_flush()
    }

    fn add_term(
        &mut self,
        kind: TermKind,
        sku: &str,
        key: String,
        raw: &RawValue,
    ) -> Result<(), ConnectorError> {
        let result = match self.templates.get(sku) {
            None if self.failed.contains(sku) => return Ok(()),
            None => Err(format!(
                "term for sku `{sku}` that is not among the products"
            )),
            Some((template, product_hash)) => serde_json::from_str::<Term>(raw.get())
                .map_err(|e| format!("unreadable term: {e}"))
                .and_then(|term| {
                    // The record is the product and the term: hash both.
                    let mut record = Vec::with_capacity(32 + raw.get().len());
                    record.extend_from_slice(product_hash);
                    record.extend_from_slice(raw.get().as_bytes());
                    template.listing(
                        kind,
                        &key,
                        &term,
                        &record,
                        OFFER_FILE_API,
                        self.ctx.fetched_at,
                    )
                }),
        };
        match result {
            Ok(listing) => {
                self.summary.listings += 1;
                self.page.listings.push(listing);
            }
            Err(reason) => self.reject(key, reason),
        }
        self.maybe_flush()
    }

    fn stop<E: serde::de::Error>(&mut self, error: ConnectorError) -> E {
        self.stopped = Some(error);
        E::custom("stopped by the batch callback")
    }
}

/// The whole document.
struct OfferSeed<'s, 'c, F>(&'s mut State<'c, F>);

impl<'de, F> DeserializeSeed<'de> for OfferSeed<'_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for OfferSeed<'_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AWS offer file object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut saw_products = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "offerCode" => self.0.summary.offer_code = Some(map.next_value()?),
                "version" => self.0.summary.version = Some(map.next_value()?),
                "products" => {
                    saw_products = true;
                    map.next_value_seed(ProductsSeed(&mut *self.0))?;
                }
                "terms" => map.next_value_seed(TermsSeed(&mut *self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_products {
            return Err(serde::de::Error::custom("no `products` in the offer file"));
        }
        Ok(())
    }
}

/// `products`: `{sku: product}`.
struct ProductsSeed<'s, 'c, F>(&'s mut State<'c, F>);

impl<'de, F> DeserializeSeed<'de> for ProductsSeed<'_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for ProductsSeed<'_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of SKU to product")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(sku) = map.next_key::<String>()? {
            let raw: Box<RawValue> = map.next_value()?;
            if let Err(e) = self.0.add_product(sku, &raw) {
                return Err(self.0.stop(e));
            }
        }
        Ok(())
    }
}

/// `terms`: `{OnDemand|Reserved: {sku: {termKey: term}}}`.
struct TermsSeed<'s, 'c, F>(&'s mut State<'c, F>);

impl<'de, F> DeserializeSeed<'de> for TermsSeed<'_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for TermsSeed<'_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of term kind to terms")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(kind) = map.next_key::<String>()? {
            match TermKind::from_key(&kind) {
                Some(kind) => map.next_value_seed(SkusSeed {
                    state: &mut *self.0,
                    kind,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `{sku: {termKey: term}}` of one term kind.
struct SkusSeed<'s, 'c, F> {
    state: &'s mut State<'c, F>,
    kind: TermKind,
}

impl<'de, F> DeserializeSeed<'de> for SkusSeed<'_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for SkusSeed<'_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of SKU to its terms")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(sku) = map.next_key::<String>()? {
            map.next_value_seed(OffersSeed {
                state: &mut *self.state,
                kind: self.kind,
                sku: &sku,
            })?;
        }
        Ok(())
    }
}

/// `{termKey: term}` of one SKU.
struct OffersSeed<'s, 'c, 'k, F> {
    state: &'s mut State<'c, F>,
    kind: TermKind,
    sku: &'k str,
}

impl<'de, F> DeserializeSeed<'de> for OffersSeed<'_, '_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for OffersSeed<'_, '_, '_, F>
where
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of term key to term")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let raw: Box<RawValue> = map.next_value()?;
            if let Err(e) = self.state.add_term(self.kind, self.sku, key, &raw) {
                return Err(self.state.stop(e));
            }
        }
        Ok(())
    }
}
