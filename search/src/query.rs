//! From a request to a Tantivy query.
//!
//! Text: the words left after understanding are split into Chinese runs
//! (cut into words by jieba) and Latin words. Every word is required (a
//! buyer narrowing a search expects fewer results, not more); a query that
//! then matches nothing is run again with any word enough. A word matches:
//!
//! - Chinese: as a phrase of its characters (so inside any longer word:
//!   `服务器` finds `通用型云服务器`), with a bonus where jieba indexed the
//!   same word in a name;
//! - Latin: exactly (unstemmed, and stemmed in names and descriptions),
//!   within 1 edit from 4 letters and 2 edits from 8 (`windwos`, `msyql`),
//!   and as a prefix when it is the last word and not followed by a space
//!   (search as you type);
//! - and through each synonym of the word, as above.
//!
//! Filters are required clauses that do not change the score.

use std::ops::Bound;

use rust_decimal::Decimal;
use shiyun_core::listing::BillingMode;
use tantivy::Term;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use crate::fields::{Fields, GIB_SCALE, PriceSlot};
use crate::prices::{Conversion, bounds_for, to_scaled};
use crate::request::{ChipFilter, Filters, Range};
use crate::synonyms::Synonyms;
use crate::tokenizer::{self, is_cjk};

/// What to highlight: the words of the query and their synonyms.
#[derive(Debug, Clone, Default)]
pub struct Needles {
    /// Chinese words, found as substrings.
    pub chinese: Vec<String>,
    /// Latin words, lowercase, with their allowed edit distance.
    pub latin: Vec<(String, u8)>,
    /// The last word, matched as a prefix too.
    pub prefix: Option<String>,
}

/// One piece of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Chinese(String),
    Latin(String),
}

/// The half-width form of a full-width ASCII character (what Chinese
/// input methods type in full-width mode: `ＥＣＳ`, `２`, `（`) and of the
/// ideographic space; any other character as it is.
fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Chinese and Latin pieces of `text`, and whether the last piece is
/// still being typed (no space after it).
fn pieces(text: &str) -> (Vec<Piece>, bool) {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut current_cjk = false;
    let flush = |current: &mut String, cjk: bool, out: &mut Vec<Piece>| {
        if !current.is_empty() {
            let piece = std::mem::take(current);
            out.push(if cjk {
                Piece::Chinese(piece)
            } else {
                Piece::Latin(piece.to_lowercase())
            });
        }
    };
    for c in text.chars().map(half_width) {
        if is_cjk(c) {
            if !current_cjk {
                flush(&mut current, false, &mut out);
            }
            current_cjk = true;
            current.push(c);
        } else if c.is_alphanumeric() {
            if current_cjk {
                flush(&mut current, true, &mut out);
            }
            current_cjk = false;
            current.push(c);
        } else {
            flush(&mut current, current_cjk, &mut out);
        }
    }
    let typing = !current.is_empty() && !current_cjk;
    flush(&mut current, current_cjk, &mut out);
    (out, typing)
}

/// Chinese words that carry no meaning in a product search.
const CHINESE_STOP: &[&str] = &["的", "了", "和", "与", "及", "或", "在", "个", "要", "我"];
/// English words that carry no meaning in a product search.
const ENGLISH_STOP: &[&str] = &[
    "the", "a", "an", "of", "for", "with", "and", "or", "in", "to",
];

/// Builds queries over one schema.
pub struct QueryBuilder<'a> {
    /// The fields.
    pub fields: &'a Fields,
    /// Synonyms in force.
    pub synonyms: &'a Synonyms,
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, boost))
}

fn any_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

impl QueryBuilder<'_> {
    /// The text clauses (one per word) and what to highlight.
    pub fn text_clauses(&self, text: &str) -> (Vec<Box<dyn Query>>, Needles) {
        let (pieces, typing) = pieces(text);
        let jieba = tokenizer::dictionary();
        let mut english = tokenizer::english();
        let mut clauses = Vec::new();
        let mut needles = Needles::default();
        let last = pieces.len().saturating_sub(1);
        for (i, piece) in pieces.iter().enumerate() {
            match piece {
                Piece::Chinese(run) => {
                    for word in jieba.cut(run, false) {
                        let word = word.word;
                        if CHINESE_STOP.contains(&word) && pieces.len() > 1 {
                            continue;
                        }
                        clauses.push(self.chinese_word(word, &mut english, &mut needles));
                    }
                }
                Piece::Latin(word) => {
                    if ENGLISH_STOP.contains(&word.as_str()) && pieces.len() > 1 {
                        continue;
                    }
                    let prefix = typing && i == last;
                    clauses.push(self.latin_word(word, prefix, &mut english, &mut needles));
                }
            }
        }
        (clauses, needles)
    }

    fn chinese_word(
        &self,
        word: &str,
        english: &mut TextAnalyzer,
        needles: &mut Needles,
    ) -> Box<dyn Query> {
        let mut options = vec![
            self.chinese_phrase(word),
            boosted(term_query(self.fields.name_zh, word), 2.0),
        ];
        needles.chinese.push(word.to_owned());
        for synonym in self.synonyms.of(word) {
            options.push(boosted(self.any_text(synonym, english, needles), 0.8));
        }
        any_of(options)
    }

    fn chinese_phrase(&self, word: &str) -> Box<dyn Query> {
        let chars: Vec<char> = word.chars().filter(|c| is_cjk(*c)).collect();
        match chars.len() {
            0 => Box::new(tantivy::query::EmptyQuery),
            1 => term_query(self.fields.cjk, chars[0].encode_utf8(&mut [0; 4])),
            2 => term_query(self.fields.cjk2, &chars.iter().collect::<String>()),
            _ => Box::new(PhraseQuery::new(
                chars
                    .windows(2)
                    .map(|pair| {
                        Term::from_field_text(self.fields.cjk2, &pair.iter().collect::<String>())
                    })
                    .collect(),
            )),
        }
    }

    /// A synonym in either script (`object storage`, `对象存储`).
    fn any_text(
        &self,
        text: &str,
        english: &mut TextAnalyzer,
        needles: &mut Needles,
    ) -> Box<dyn Query> {
        let (pieces, _) = pieces(text);
        let mut all = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Chinese(run) => {
                    needles.chinese.push(run.clone());
                    all.push((Occur::Must, self.chinese_phrase(&run)));
                }
                Piece::Latin(word) => {
                    needles.latin.push((word.clone(), 0));
                    let stemmed = tokenizer::token_texts(english, &word);
                    let mut options = vec![term_query(self.fields.words, &word)];
                    if let Some(stem) = stemmed.first() {
                        options.push(term_query(self.fields.name_en, stem));
                    }
                    all.push((Occur::Must, any_of(options)));
                }
            }
        }
        Box::new(BooleanQuery::new(all))
    }

    fn latin_word(
        &self,
        word: &str,
        prefix: bool,
        english: &mut TextAnalyzer,
        needles: &mut Needles,
    ) -> Box<dyn Query> {
        let letters = word.chars().count();
        let distance: u8 = match letters {
            0..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        let mut options = vec![boosted(term_query(self.fields.words, word), 2.0)];
        if let Some(stem) = tokenizer::token_texts(english, word).first() {
            options.push(boosted(term_query(self.fields.name_en, stem), 2.0));
            options.push(term_query(self.fields.body_en, stem));
        }
        let term = Term::from_field_text(self.fields.words, word);
        // A word with digits is a model or size (`g7`, `a100`): exact only.
        let has_digit = word.chars().any(|c| c.is_ascii_digit());
        if distance > 0 && !has_digit {
            options.push(boosted(
                Box::new(FuzzyTermQuery::new(term.clone(), distance, true)),
                0.6,
            ));
        }
        if prefix && letters >= 2 {
            options.push(boosted(
                Box::new(FuzzyTermQuery::new_prefix(term, 0, true)),
                0.8,
            ));
            needles.prefix = Some(word.to_owned());
        }
        needles
            .latin
            .push((word.to_owned(), if has_digit { 0 } else { distance }));
        for synonym in self.synonyms.of(word) {
            options.push(boosted(self.any_text(synonym, english, needles), 0.8));
        }
        any_of(options)
    }

    /// Required, score-neutral clauses for the filters.
    pub fn filter_clauses(&self, filters: &Filters) -> Vec<Box<dyn Query>> {
        let f = self.fields;
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        let texts = |field: Field, values: Vec<String>| -> Option<Box<dyn Query>> {
            (!values.is_empty()).then(|| {
                Box::new(TermSetQuery::new(
                    values
                        .iter()
                        .map(|v| Term::from_field_text(field, v))
                        .collect::<Vec<_>>(),
                )) as Box<dyn Query>
            })
        };
        out.extend(texts(
            f.vendor,
            filters.vendors.iter().map(|v| v.id().to_owned()).collect(),
        ));
        if !filters.categories.is_empty() {
            let mut options: Vec<Box<dyn Query>> = Vec::new();
            for category in &filters.categories {
                options.push(match category.strip_suffix(".*") {
                    Some(family) => term_query(f.family, family),
                    None => term_query(f.category, category),
                });
            }
            out.push(any_of(options));
        }
        out.extend(texts(f.service, filters.services.clone()));
        out.extend(texts(f.region, filters.regions.clone()));
        out.extend(texts(f.country, filters.countries.clone()));
        out.extend(texts(f.city, filters.cities.clone()));
        out.extend(texts(
            f.billing_mode,
            filters
                .billing_modes
                .iter()
                .map(BillingMode::as_text)
                .collect(),
        ));
        out.extend(texts(f.architecture, filters.architectures.clone()));
        out.extend(texts(
            f.os,
            filters.os.iter().map(|o| o.to_lowercase()).collect(),
        ));
        if !filters.gpu_models.is_empty() {
            let options = filters
                .gpu_models
                .iter()
                .map(|model| self.gpu_model(model))
                .collect();
            out.push(any_of(options));
        }
        out.extend(u64_range(f.vcpu, filters.vcpu));
        out.extend(u64_range(f.gpu_count, filters.gpu_count));
        out.extend(gib_range(f.memory, filters.memory_gib));
        out
    }

    fn gpu_model(&self, model: &str) -> Box<dyn Query> {
        let words: Vec<(Occur, Box<dyn Query>)> = model
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| {
                (
                    Occur::Must,
                    term_query(self.fields.gpu_words, &w.to_lowercase()),
                )
            })
            .collect();
        Box::new(BooleanQuery::new(words))
    }

    /// Required clauses for the chips understood from the text.
    pub fn chip_clauses(&self, chips: &[ChipFilter]) -> Vec<Box<dyn Query>> {
        let f = self.fields;
        let mut filters = Filters::default();
        let mut out = Vec::new();
        for chip in chips {
            match chip {
                ChipFilter::Vcpu { range } => out.extend(u64_range(f.vcpu, *range)),
                ChipFilter::MemoryGib { range } => out.extend(gib_range(f.memory, *range)),
                ChipFilter::GpuCount { range } => out.extend(u64_range(f.gpu_count, *range)),
                ChipFilter::GpuModel { value } => out.push(self.gpu_model(value)),
                ChipFilter::City { value } => filters.cities.push(value.clone()),
                ChipFilter::Regions { values } => filters.regions.extend(values.iter().cloned()),
                ChipFilter::Country { value } => filters.countries.push(value.clone()),
                ChipFilter::BillingModes { values } => {
                    out.push(
                        self.filter_clauses(&Filters {
                            billing_modes: values.clone(),
                            ..Filters::default()
                        })
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| Box::new(tantivy::query::AllQuery)),
                    );
                }
            }
        }
        // Places named together widen each other (`上海 杭州`), then narrow
        // the rest.
        let mut places: Vec<Box<dyn Query>> = Vec::new();
        for (field, values) in [
            (f.city, &filters.cities),
            (f.region, &filters.regions),
            (f.country, &filters.countries),
        ] {
            if !values.is_empty() {
                places.push(Box::new(TermSetQuery::new(
                    values
                        .iter()
                        .map(|v| Term::from_field_text(field, v))
                        .collect::<Vec<_>>(),
                )));
            }
        }
        if !places.is_empty() {
            out.push(any_of(places));
        }
        out
    }

    /// The price clause: `range` in the requested currency on the price
    /// field of `slot` (the headline when `None`), one branch per listing
    /// currency with a rate.
    pub fn price_clause(
        &self,
        slot: Option<PriceSlot>,
        range: Range<Decimal>,
        conversion: &Conversion,
    ) -> Option<Box<dyn Query>> {
        if range.is_open() {
            return None;
        }
        let field = slot.map_or(self.fields.headline, |s| self.fields.price(s));
        let mut branches: Vec<Box<dyn Query>> = Vec::new();
        for (currency, rate, _) in &conversion.rates {
            let Some((low, high)) = bounds_for(*rate, range.min, range.max) else {
                continue;
            };
            let price = RangeQuery::new(
                Bound::Included(Term::from_field_i64(field, low)),
                Bound::Included(Term::from_field_i64(field, high)),
            );
            branches.push(Box::new(BooleanQuery::new(vec![
                (
                    Occur::Must,
                    term_query(self.fields.currency, currency.code()),
                ),
                (Occur::Must, Box::new(price)),
            ])));
        }
        Some(if branches.is_empty() {
            Box::new(tantivy::query::EmptyQuery)
        } else {
            any_of(branches)
        })
    }
}

fn u64_range(field: Field, range: Range<u32>) -> Option<Box<dyn Query>> {
    if range.is_open() {
        return None;
    }
    let low = range.min.map_or(Bound::Unbounded, |v| {
        Bound::Included(Term::from_field_u64(field, u64::from(v)))
    });
    let high = range.max.map_or(Bound::Unbounded, |v| {
        Bound::Included(Term::from_field_u64(field, u64::from(v)))
    });
    Some(Box::new(ConstScoreQuery::new(
        Box::new(RangeQuery::new(low, high)),
        0.0,
    )))
}

fn gib_range(field: Field, range: Range<Decimal>) -> Option<Box<dyn Query>> {
    if range.is_open() {
        return None;
    }
    let clamp = |v: i128| v.clamp(0, i128::from(u64::MAX)) as u64;
    let low = range.min.map_or(Bound::Unbounded, |v| {
        Bound::Included(Term::from_field_u64(
            field,
            clamp(to_scaled(v, GIB_SCALE, true)),
        ))
    });
    let high = range.max.map_or(Bound::Unbounded, |v| {
        Bound::Included(Term::from_field_u64(
            field,
            clamp(to_scaled(v, GIB_SCALE, false)),
        ))
    });
    Some(Box::new(ConstScoreQuery::new(
        Box::new(RangeQuery::new(low, high)),
        0.0,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_splits_into_chinese_runs_and_latin_words() {
        let (p, typing) = pieces("阿里云ECS 通用型, win");
        assert_eq!(
            p,
            vec![
                Piece::Chinese("阿里云".into()),
                Piece::Latin("ecs".into()),
                Piece::Chinese("通用型".into()),
                Piece::Latin("win".into()),
            ]
        );
        assert!(typing);
        assert_eq!(pieces("ＥＣＳ２（上海）").0, pieces("ecs2(上海)").0);
        assert!(!pieces("ｒｅｄｉｓ　").1);
        assert!(!pieces("redis ").1);
        assert!(!pieces("上海").1);
    }
}
