//! Recommendation: cheaper equivalents across clouds, similar listings,
//! and popular listings.
//!
//! **Equivalents** of a listing are other vendors' listings of the same
//! category and architecture, with the same vCPUs and memory within a
//! tolerance (25 % by default), in the same country (the same city ranks
//! first among equal prices), priced in the same billing mode below the
//! listing, cheapest first in the viewer's currency. Each carries the exact
//! saving and a score breakdown.

use std::ops::Bound;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_core::error::ValidationError;
use shiyun_core::listing::{BillingMode, ListingId};
use shiyun_core::money::Currency;
use shiyun_core::search::Popularity;
use tantivy::Term;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;

use crate::collect::{PageCollector, SortKey};
use crate::error::{SearchError, SearchResult};
use crate::fields::{PriceSlot, price_field_name, scaled_gib};
use crate::index::{CatalogIndex, hit_of};
use crate::query::{Needles, QueryBuilder};
use crate::request::{ConvertedPrice, Hit, SearchRequest, SortOrder};
use crate::synonyms::Synonyms;

/// What to find equivalents with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquivalentsRequest {
    /// The viewer's currency.
    pub currency: Currency,
    /// Memory may differ by this many percent (0 to 100).
    pub memory_tolerance_percent: u32,
    /// At most this many.
    pub limit: u32,
}

impl EquivalentsRequest {
    /// Ten equivalents in `currency`, memory within 25 %.
    pub fn new(currency: Currency) -> Self {
        EquivalentsRequest {
            currency,
            memory_tolerance_percent: 25,
            limit: 10,
        }
    }
}

/// Why an equivalent ranks where it does; each part from 0 to 1.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquivalenceScore {
    /// 1 for the same vCPUs and memory, less as memory differs.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    pub specs: Decimal,
    /// 1 in the same city, 0.5 elsewhere in the same country.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    pub geography: Decimal,
    /// The saving as a share of the listing's price.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    pub price: Decimal,
}

/// A cheaper listing of another vendor.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Equivalent {
    /// The listing.
    pub hit: Hit,
    /// What it saves per unit, exact, in the viewer's currency.
    pub saving: ConvertedPrice,
    /// The breakdown.
    pub score: EquivalenceScore,
}

/// The equivalents of a listing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Equivalents {
    /// The listing compared against.
    pub listing: Hit,
    /// The billing mode compared.
    pub billing_mode: BillingMode,
    /// Cheaper equivalents, cheapest first.
    pub equivalents: Vec<Equivalent>,
    /// The rates used.
    pub fx_rates: Vec<shiyun_core::fx::AppliedRate>,
}

fn term(field: tantivy::schema::Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn ratio(part: Decimal, whole: Decimal) -> Decimal {
    if whole.is_zero() {
        return Decimal::ZERO;
    }
    (part / whole)
        .round_dp(3)
        .clamp(Decimal::ZERO, Decimal::ONE)
}

impl CatalogIndex {
    /// Cheaper equivalents of listing `id` at other vendors.
    pub fn equivalents(
        &self,
        id: &ListingId,
        request: &EquivalentsRequest,
    ) -> SearchResult<Equivalents> {
        if request.limit == 0 || request.limit > SearchRequest::MAX_LIMIT {
            return Err(ValidationError::new("limit", "must be 1 to 100").into());
        }
        if request.memory_tolerance_percent > 100 {
            return Err(
                ValidationError::new("memory_tolerance_percent", "must be 0 to 100").into(),
            );
        }
        let base = self
            .summary(id)?
            .ok_or_else(|| SearchError::NotFound(id.as_str().to_owned()))?;
        let price = base
            .price(None)
            .cloned()
            .ok_or_else(|| ValidationError::new("id", "the listing has no price to compare"))?;
        let slot = PriceSlot::of(price.billing_mode);
        let field_name = price_field_name(slot);
        let search = SearchRequest {
            currency: Some(request.currency),
            billing_mode: Some(price.billing_mode),
            ..SearchRequest::text("")
        };
        self.with_searcher(
            |fields, searcher, conversion| {
                let rate_of = |currency: Currency| {
                    conversion
                        .rates
                        .iter()
                        .find(|(c, _, _)| *c == currency)
                        .map(|(_, _, a)| a.rate)
                };
                let base_converted = rate_of(price.currency)
                    .and_then(|r| price.amount.checked_mul(r))
                    .ok_or_else(|| {
                        ValidationError::new(
                            "currency",
                            format!(
                                "no exchange rate from {} to {}",
                                price.currency, request.currency
                            ),
                        )
                    })?;
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
                    (Occur::Must, term(fields.category, &base.category)),
                    (Occur::Must, term(fields.country, &base.country)),
                    (Occur::MustNot, term(fields.vendor, base.vendor.id())),
                    (
                        Occur::Must,
                        term(fields.billing_mode, &price.billing_mode.as_text()),
                    ),
                ];
                if let Some(vcpu) = base.specs.vcpu {
                    let v = Term::from_field_u64(fields.vcpu, u64::from(vcpu));
                    clauses.push((
                        Occur::Must,
                        Box::new(RangeQuery::new(
                            Bound::Included(v.clone()),
                            Bound::Included(v),
                        )),
                    ));
                }
                if let Some(memory) = base.specs.memory_gib.and_then(scaled_gib) {
                    let spread = memory * u64::from(request.memory_tolerance_percent) / 100;
                    clauses.push((
                        Occur::Must,
                        Box::new(RangeQuery::new(
                            Bound::Included(Term::from_field_u64(fields.memory, memory - spread)),
                            Bound::Included(Term::from_field_u64(fields.memory, memory + spread)),
                        )),
                    ));
                }
                if let Some(arch) = base.specs.architecture {
                    let text = serde_json::to_value(arch)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    clauses.push((Occur::Must, term(fields.architecture, &text)));
                }
                if let Some(gpu) = &base.specs.gpu_model {
                    clauses.push((Occur::Must, term(fields.gpu_model, gpu)));
                }
                let synonyms = Synonyms::default();
                let builder = QueryBuilder {
                    fields,
                    synonyms: &synonyms,
                };
                clauses.extend(
                    builder
                        .price_clause(
                            slot,
                            crate::request::Range {
                                min: None,
                                max: Some(base_converted),
                            },
                            conversion,
                        )
                        .map(|q| (Occur::Must, q)),
                );
                let rates = conversion
                    .rates
                    .iter()
                    .map(|(c, r, _)| (c.code().to_owned(), *r))
                    .collect();
                let collector = PageCollector {
                    sort: SortKey::Price {
                        field: field_name,
                        descending: false,
                        rates,
                    },
                    cursor: None,
                    // Room for the equal-priced ones dropped below.
                    limit: request.limit as usize * 4,
                    facets: Vec::new(),
                    histogram: None,
                };
                let collected = searcher.search(&BooleanQuery::new(clauses), &collector)?;
                let needles = Needles::default();
                let mut found = Vec::new();
                for ranked in &collected.top {
                    let summary = self.summary_in(searcher, ranked.address)?;
                    let same_city = summary.city.is_some() && summary.city == base.city;
                    let specs_score = match (base.specs.memory_gib, summary.specs.memory_gib) {
                        (Some(a), Some(b)) if !a.is_zero() => {
                            Decimal::ONE - ratio((a - b).abs(), a)
                        }
                        _ => Decimal::ONE,
                    };
                    let hit = hit_of(summary, 0.0, &search, conversion, &needles);
                    let Some(converted) = hit.price.as_ref().and_then(|p| p.converted.clone())
                    else {
                        continue;
                    };
                    let saving = base_converted - converted.amount;
                    if saving <= Decimal::ZERO {
                        continue;
                    }
                    found.push((
                        !same_city,
                        Equivalent {
                            saving: ConvertedPrice {
                                amount: saving.normalize(),
                                currency: request.currency,
                            },
                            score: EquivalenceScore {
                                specs: specs_score,
                                geography: if same_city {
                                    Decimal::ONE
                                } else {
                                    Decimal::new(5, 1)
                                },
                                price: ratio(saving, base_converted),
                            },
                            hit,
                        },
                    ));
                }
                // Cheapest first; at the same price, the same city first.
                found.sort_by(|(a_far, a), (b_far, b)| {
                    b.saving
                        .amount
                        .cmp(&a.saving.amount)
                        .then_with(|| a_far.cmp(b_far))
                });
                let listing = hit_of(base.clone(), 0.0, &search, conversion, &needles);
                Ok(Equivalents {
                    listing,
                    billing_mode: price.billing_mode,
                    equivalents: found
                        .into_iter()
                        .map(|(_, e)| e)
                        .take(request.limit as usize)
                        .collect(),
                    fx_rates: conversion.applied(),
                })
            },
            Some(request.currency),
        )
    }

    /// Listings like `id` (more like this): the words of its name, in the
    /// same category family, best match first; `id` itself left out.
    pub fn similar(
        &self,
        id: &ListingId,
        limit: u32,
        currency: Option<Currency>,
    ) -> SearchResult<Vec<Hit>> {
        if limit == 0 || limit > SearchRequest::MAX_LIMIT {
            return Err(ValidationError::new("limit", "must be 1 to 100").into());
        }
        let base = self
            .summary(id)?
            .ok_or_else(|| SearchError::NotFound(id.as_str().to_owned()))?;
        let search = SearchRequest {
            currency,
            ..SearchRequest::text("")
        };
        self.with_searcher(
            |fields, searcher, conversion| {
                let synonyms = Synonyms::default();
                let builder = QueryBuilder {
                    fields,
                    synonyms: &synonyms,
                };
                let text = [base.name.zh.as_deref(), base.name.en.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                let (words, _) = builder.text_clauses(&format!("{text} "));
                let words: Vec<(Occur, Box<dyn Query>)> =
                    words.into_iter().map(|q| (Occur::Should, q)).collect();
                let family = base.category.split('.').next().unwrap_or_default();
                let query = BooleanQuery::new(vec![
                    (
                        Occur::Must,
                        Box::new(BooleanQuery::new(words)) as Box<dyn Query>,
                    ),
                    (Occur::Must, term(fields.family, family)),
                    (Occur::MustNot, term(fields.id, base.id.as_str())),
                ]);
                let collector = PageCollector {
                    sort: SortKey::Relevance,
                    cursor: None,
                    limit: limit as usize,
                    facets: Vec::new(),
                    histogram: None,
                };
                let collected = searcher.search(&query, &collector)?;
                let needles = Needles::default();
                collected
                    .top
                    .iter()
                    .take(limit as usize)
                    .map(|ranked| {
                        let summary = self.summary_in(searcher, ranked.address)?;
                        Ok(hit_of(summary, ranked.score, &search, conversion, &needles))
                    })
                    .collect()
            },
            currency,
        )
    }

    /// Hits for popular listings as the store counted them, most popular
    /// first; listings no longer in the index are left out.
    pub fn popular(
        &self,
        counted: &[Popularity],
        currency: Option<Currency>,
    ) -> SearchResult<Vec<(Hit, u64)>> {
        let search = SearchRequest {
            currency,
            sort: SortOrder::Relevance,
            ..SearchRequest::text("")
        };
        self.with_searcher(
            |_, _, conversion| {
                let needles = Needles::default();
                let mut out = Vec::new();
                for entry in counted {
                    if let Some(summary) = self.summary(&entry.listing_id)? {
                        out.push((
                            hit_of(summary, 0.0, &search, conversion, &needles),
                            entry.views,
                        ));
                    }
                }
                Ok(out)
            },
            currency,
        )
    }
}
