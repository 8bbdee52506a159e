//! Judging search quality: a labelled query set whose grades are rules
//! over listings (not hand-picked ids, so the set holds for any catalog the
//! demo generator makes), and NDCG@k against the catalog's own ideal.
//!
//! A query's rules are tried in order; a listing gets the grade of the
//! first rule whose every field holds, else 0.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_core::listing::{Architecture, Listing};

/// The conditions of one rule; absent fields always hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Vendor id.
    pub vendor: Option<String>,
    /// Category, or a family with `.*`.
    pub category: Option<String>,
    /// Engine (`mysql`).
    pub engine: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Architecture (`arm64`).
    pub arch: Option<String>,
    /// GPU model, exactly.
    pub gpu_model: Option<String>,
    /// Has (or has not) a GPU.
    pub has_gpu: Option<bool>,
    /// GPU count.
    pub gpu_count: Option<u32>,
    /// vCPUs.
    pub vcpu: Option<u32>,
    /// Memory (GiB), exact.
    pub memory_gib: Option<Decimal>,
    /// City id.
    pub city: Option<String>,
    /// Province or state slug.
    pub province: Option<String>,
    /// Any of these billing modes is priced.
    pub billing: Option<Vec<String>>,
    /// Substring of a name, either language, case-insensitive.
    pub text: Option<String>,
}

/// A grade and its rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graded {
    /// 1 (partly relevant) to 3 (exactly what was asked).
    pub grade: u8,
    /// When it applies.
    #[serde(rename = "where")]
    pub rule: Rule,
}

/// One labelled query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledQuery {
    /// The text as typed.
    pub q: String,
    /// `zh`, `en` or `mixed`.
    pub lang: String,
    /// What it tests (`text`, `typo`, `spec`, `place`, `sku`).
    pub kind: String,
    /// Grades, best first.
    pub grades: Vec<Graded>,
}

/// A labelled set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelevanceSet {
    /// What the set is.
    pub about: String,
    /// Demo catalog seed.
    pub seed: u64,
    /// Demo catalog size.
    pub listings: u64,
    /// The queries.
    pub queries: Vec<LabelledQuery>,
}

fn holds(rule: &Rule, listing: &Listing) -> bool {
    let specs = listing.specs();
    let lower = |s: &Option<String>| s.as_deref().map(str::to_lowercase);
    let category = listing.category().as_str();
    let arch = specs.architecture.map(|a| match a {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
        Architecture::Power => "power",
    });
    rule.vendor
        .as_deref()
        .is_none_or(|v| listing.vendor().id() == v)
        && rule
            .category
            .as_deref()
            .is_none_or(|c| match c.strip_suffix(".*") {
                Some(family) => listing.category().family() == family,
                None => category == c,
            })
        && rule
            .engine
            .as_deref()
            .is_none_or(|e| lower(&specs.engine).as_deref() == Some(e))
        && rule
            .os
            .as_deref()
            .is_none_or(|o| lower(&specs.os).as_deref() == Some(o))
        && rule.arch.as_deref().is_none_or(|a| arch == Some(a))
        && rule
            .gpu_model
            .as_deref()
            .is_none_or(|g| specs.gpu_model.as_deref() == Some(g))
        && rule
            .has_gpu
            .is_none_or(|has| (specs.gpu_count.unwrap_or(0) > 0) == has)
        && rule.gpu_count.is_none_or(|n| specs.gpu_count == Some(n))
        && rule.vcpu.is_none_or(|n| specs.vcpu == Some(n))
        && rule.memory_gib.is_none_or(|m| specs.memory_gib == Some(m))
        && rule
            .city
            .as_deref()
            .is_none_or(|c| listing.region().geography.city.as_deref() == Some(c))
        && rule
            .province
            .as_deref()
            .is_none_or(|p| listing.region().geography.province.as_deref() == Some(p))
        && rule.billing.as_ref().is_none_or(|modes| {
            listing
                .prices()
                .iter()
                .any(|p| modes.contains(&p.billing_mode().as_text()))
        })
        && rule.text.as_deref().is_none_or(|t| {
            let t = t.to_lowercase();
            [&listing.name().zh, &listing.name().en]
                .into_iter()
                .flatten()
                .any(|name| name.to_lowercase().contains(&t))
        })
}

impl LabelledQuery {
    /// The grade of `listing` for this query.
    pub fn grade(&self, listing: &Listing) -> u8 {
        self.grades
            .iter()
            .find(|g| holds(&g.rule, listing))
            .map_or(0, |g| g.grade)
    }
}

/// DCG of grades in rank order, `(2^g − 1) / log2(rank + 1)`.
fn dcg(grades: impl Iterator<Item = u8>) -> f64 {
    grades
        .enumerate()
        .map(|(i, g)| (2f64.powi(i32::from(g)) - 1.0) / ((i + 2) as f64).log2())
        .sum()
}

/// NDCG@k of `ranked` grades against every grade in the catalog; 1 when
/// the catalog has nothing relevant and nothing was returned, 0 when it
/// has nothing relevant but something was returned is not penalised (1).
pub fn ndcg_at(k: usize, ranked: &[u8], catalog: &[u8]) -> f64 {
    let mut ideal: Vec<u8> = catalog.iter().copied().filter(|g| *g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let best = dcg(ideal.into_iter().take(k));
    if best == 0.0 {
        return 1.0;
    }
    dcg(ranked.iter().copied().take(k)) / best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_is_one_for_the_ideal_order_and_less_otherwise() {
        let catalog = [3, 2, 0, 1, 0];
        assert!((ndcg_at(10, &[3, 2, 1], &catalog) - 1.0).abs() < 1e-9);
        assert!(ndcg_at(10, &[1, 2, 3], &catalog) < 1.0);
        assert!(ndcg_at(10, &[0, 0, 0], &catalog).abs() < 1e-9);
    }
}
