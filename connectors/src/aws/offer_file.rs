//! Streaming reader of AWS Bulk API offer files
//! (`offers/v1.0/aws/<service>/current/<region>/index.json`, up to gigabytes).
//!
//! The design choice: **one pass, a compact product table, and a byte
//! scanner that cuts records out for serde**. A small scanner walks the
//! document's outer structure (`products{sku→…}`, `terms{kind→{sku→{key→…}}}`)
//! over a sliding buffer and cuts out the raw bytes of each product and each
//! term; serde_json then parses each of those slices. Each product becomes a
//! [`ProductTemplate`] (category, names, region, specs); templates are
//! interned, since most products differ only in attributes that are not
//! normalised, so a SKU costs its key, an index and the 32-byte hash of its
//! raw JSON (about 100 bytes). Each term is joined with its template, turned
//! into a listing at once (one term is one listing, see
//! [`super::transformers`]; its text is worded once per template and kind of
//! term) and handed out in batches. Memory holds that
//! table, one batch and the buffer (about one read chunk plus the largest
//! single record), never the terms, which are most of the file. It grows
//! with the number of products, not with the size of the file.
//! AWS writes `products` before `terms`, which this relies on; a term whose
//! SKU was not seen is rejected.
//!
//! Why not a serde `DeserializeSeed` over `serde_json::Deserializer::from_reader`:
//! it was written first and measured at 0.35× a bare `IgnoredAny` parse,
//! mostly in serde_json's byte-at-a-time `IoRead` capturing each record's
//! raw text for the provenance hash. Why not two passes over a seekable
//! file: joining terms to products still needs every product remembered,
//! so a second pass only reads the file twice.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::rc::Rc;

use sha2::{Digest, Sha256};
use shiyun_core::listing::Vendor;
use shiyun_core::store::RecordRejection;

use super::transformers::{
    OFFER_FILE_API, Product, ProductTemplate, Term, TermKind, TermTexts, provenance_of_parts,
};
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
        shape_ids: HashMap::new(),
        shapes: Vec::new(),
        failed: HashSet::new(),
        page: FetchedPage::default(),
        batch_size: batch_size.max(1),
        on_batch,
        summary: OfferFileSummary::default(),
    };
    let mut scanner = Scanner::new(reader);
    read_document(&mut scanner, &mut state)?;
    state.flush()?;
    Ok(state.summary)
}

struct State<'c, F> {
    ctx: &'c ImportContext,
    /// The compact per-SKU record: its template's index in `shapes` and the
    /// hash of the product's raw JSON.
    templates: HashMap<Box<str>, (usize, [u8; 32])>,
    /// The index of each distinct template in `shapes`.
    shape_ids: HashMap<Rc<ProductTemplate>, usize>,
    /// One copy of each distinct template, with the texts of its terms.
    shapes: Vec<(Rc<ProductTemplate>, TermTexts)>,
    /// SKUs already rejected, so their terms are not reported again.
    failed: HashSet<String>,
    page: FetchedPage,
    batch_size: usize,
    on_batch: F,
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

    fn add_product(&mut self, sku: String, raw: &[u8]) -> Result<(), ConnectorError> {
        self.summary.products += 1;
        let template = serde_json::from_slice::<Product>(raw)
            .map_err(|e| format!("unreadable product: {e}"))
            .and_then(|product| ProductTemplate::from_product(&product));
        match template {
            Ok((_, template)) => {
                let hash: [u8; 32] = Sha256::digest(raw).into();
                let shape = match self.shape_ids.get(&template) {
                    Some(shape) => *shape,
                    None => {
                        let shared = Rc::new(template);
                        let shape = self.shapes.len();
                        self.shapes.push((Rc::clone(&shared), TermTexts::default()));
                        self.shape_ids.insert(shared, shape);
                        shape
                    }
                };
                self.templates.insert(sku.into_boxed_str(), (shape, hash));
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
        raw: &[u8],
    ) -> Result<(), ConnectorError> {
        let result = match self.templates.get(sku) {
            None if self.failed.contains(sku) => return Ok(()),
            None => Err(format!(
                "term for sku `{sku}` that is not among the products"
            )),
            Some((shape, product_hash)) => serde_json::from_slice::<Term>(raw)
                .map_err(|e| format!("unreadable term: {e}"))
                .and_then(|term| {
                    let (template, texts) = self
                        .shapes
                        .get_mut(*shape)
                        .ok_or("term of a product whose template was lost")?;
                    // The record is the product and the term: hash both.
                    let provenance = provenance_of_parts(
                        OFFER_FILE_API,
                        &[product_hash, raw],
                        self.ctx.fetched_at,
                    );
                    template.listing(texts, sku, kind, &key, &term, provenance)
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
}

fn malformed(at: u64, message: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Malformed {
        vendor: Vendor::Aws,
        message: format!("offer file at byte {at}: {message}"),
    }
}

/// Bytes read from the source at a time.
const CHUNK: usize = 1 << 20;

/// A sliding window over the source: `buf[pos..end]` is read but not yet
/// consumed. Only the unconsumed tail is kept, so the buffer holds about one
/// chunk plus the record being cut out.
struct Scanner<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Source offset of `buf[0]`, for error messages.
    base: u64,
    eof: bool,
}

impl<R: Read> Scanner<R> {
    fn new(reader: R) -> Self {
        Scanner {
            reader,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more; moves the unconsumed tail to the front first. `false` at end of input.
    fn fill(&mut self) -> Result<bool, ConnectorError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() < self.end + CHUNK {
            self.buf.resize(self.end + CHUNK, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(malformed(self.offset(), format!("read failed: {e}"))),
            }
        }
    }

    /// The byte `rel` bytes past `pos`, reading more when needed.
    fn byte_at(&mut self, rel: usize) -> Result<Option<u8>, ConnectorError> {
        while self.pos + rel >= self.end {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[self.pos + rel]))
    }

    /// Skips whitespace and returns the next byte without consuming it.
    fn peek(&mut self) -> Result<Option<u8>, ConnectorError> {
        loop {
            match self.byte_at(0)? {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.pos += 1,
                other => return Ok(other),
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), ConnectorError> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(malformed(
                self.offset(),
                format!("expected `{}`, found `{}`", byte as char, b as char),
            )),
            None => Err(malformed(
                self.offset(),
                format!("expected `{}`, found the end", byte as char),
            )),
        }
    }

    /// Cuts out the next JSON value (object, array, string or scalar) and
    /// returns its bytes, which stay valid until the next call.
    fn value(&mut self) -> Result<&[u8], ConnectorError> {
        let first = self
            .peek()?
            .ok_or_else(|| malformed(self.offset(), "expected a value, found the end"))?;
        let truncated = |s: &Self| malformed(s.offset(), "truncated value");
        let mut rel = 0usize;
        match first {
            b'{' | b'[' => {
                let mut depth = 0usize;
                // Scan the buffered window in a tight loop; read more only when it runs out.
                'scan: loop {
                    if self.pos + rel >= self.end && !self.fill()? {
                        return Err(truncated(self));
                    }
                    let (from, end) = (self.pos + rel, self.end);
                    for k in from..end {
                        match self.buf[k] {
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth -= 1;
                                if depth == 0 {
                                    rel = k + 1 - self.pos;
                                    break 'scan;
                                }
                            }
                            b'"' => {
                                rel = self.string_end(k + 1 - self.pos)?;
                                continue 'scan;
                            }
                            _ => {}
                        }
                    }
                    rel = end - self.pos;
                }
            }
            b'"' => rel = self.string_end(1)?,
            _ => loop {
                match self.byte_at(rel)? {
                    Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') | None => break,
                    Some(_) => rel += 1,
                }
            },
        }
        let start = self.pos;
        self.pos += rel;
        Ok(&self.buf[start..start + rel])
    }

    /// Given `rel` just past an opening quote, the offset just past the closing one.
    fn string_end(&mut self, mut rel: usize) -> Result<usize, ConnectorError> {
        loop {
            // Scan what is buffered without a call per byte.
            let window = &self.buf[self.pos + rel..self.end];
            match window.iter().position(|b| *b == b'"' || *b == b'\\') {
                Some(i) if window[i] == b'"' => return Ok(rel + i + 1),
                Some(i) => {
                    // An escape: skip it and the escaped byte.
                    rel += i + 2;
                    if self.byte_at(rel - 1)?.is_none() {
                        return Err(malformed(self.offset(), "truncated string"));
                    }
                }
                None => {
                    rel += window.len();
                    if self.byte_at(rel)?.is_none() {
                        return Err(malformed(self.offset(), "truncated string"));
                    }
                }
            }
        }
    }

    /// Reads a string value (an object key).
    fn string(&mut self) -> Result<String, ConnectorError> {
        let at = self.offset();
        let raw = self.value()?;
        if raw.first() != Some(&b'"') {
            return Err(malformed(at, "expected a string"));
        }
        // Keys rarely hold escapes: take the bytes between the quotes as they are.
        if !raw.contains(&b'\\') {
            return std::str::from_utf8(&raw[1..raw.len() - 1])
                .map(str::to_owned)
                .map_err(|e| malformed(at, e));
        }
        serde_json::from_slice(raw).map_err(|e| malformed(at, e))
    }

    /// Walks an object, calling `member` with each key, positioned at its value.
    fn object<F>(&mut self, mut member: F) -> Result<(), ConnectorError>
    where
        F: FnMut(&mut Self, String) -> Result<(), ConnectorError>,
    {
        self.expect(b'{')?;
        if self.peek()? == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            member(self, key)?;
            match self.peek()? {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(malformed(self.offset(), "expected `,` or `}` in an object")),
            }
        }
    }
}

fn read_document<R, F>(
    scanner: &mut Scanner<R>,
    state: &mut State<'_, F>,
) -> Result<(), ConnectorError>
where
    R: Read,
    F: FnMut(FetchedPage) -> Result<(), ConnectorError>,
{
    let mut saw_products = false;
    scanner.object(|s, key| match key.as_str() {
        "offerCode" | "version" => {
            let at = s.offset();
            let text: String = serde_json::from_slice(s.value()?).map_err(|e| malformed(at, e))?;
            if key == "offerCode" {
                state.summary.offer_code = Some(text);
            } else {
                state.summary.version = Some(text);
            }
            Ok(())
        }
        "products" => {
            saw_products = true;
            s.object(|s, sku| {
                let raw = s.value()?;
                state.add_product(sku, raw)
            })
        }
        "terms" => s.object(|s, kind| match TermKind::from_key(&kind) {
            Some(kind) => s.object(|s, sku| {
                s.object(|s, key| {
                    let raw = s.value()?;
                    state.add_term(kind, &sku, key, raw)
                })
            }),
            None => s.value().map(|_| ()),
        }),
        _ => s.value().map(|_| ()),
    })?;
    if scanner.peek()?.is_some() {
        return Err(malformed(
            scanner.offset(),
            "content after the offer file's object",
        ));
    }
    if !saw_products {
        return Err(malformed(
            scanner.offset(),
            "no `products` in the offer file",
        ));
    }
    Ok(())
}
