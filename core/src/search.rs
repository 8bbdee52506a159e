//! What catalog search keeps in the store, so that every server instance
//! (each with its own index) answers alike: the synonym groups, the
//! exchange-rate table, and the popularity counters fed by listing views.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::fx::FxTable;
use crate::listing::ListingId;
use crate::store::StoreResult;

/// Terms a buyer uses for the same thing (`ecs`, `ec2`, `云服务器`): a query
/// for any of them also finds the others.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// Deserialize is written out below: it validates through `new`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SynonymGroup(Vec<String>);

impl SynonymGroup {
    /// Most terms in one group.
    pub const MAX_TERMS: usize = 32;
    /// Longest term, in characters.
    pub const MAX_TERM_CHARS: usize = 32;

    /// A group of 2 to 32 terms, each 1 to 32 characters, trimmed and
    /// lowercased, without repeats.
    pub fn new<I, S>(terms: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut kept: Vec<String> = Vec::new();
        for term in terms {
            let term = term.as_ref().trim().to_lowercase();
            if term.is_empty() || term.chars().count() > Self::MAX_TERM_CHARS {
                return Err(ValidationError::new(
                    "terms",
                    "each term must be 1 to 32 characters",
                ));
            }
            if term.chars().any(char::is_control) {
                return Err(ValidationError::new(
                    "terms",
                    "terms must not contain control characters",
                ));
            }
            if !kept.contains(&term) {
                kept.push(term);
            }
        }
        if kept.len() < 2 || kept.len() > Self::MAX_TERMS {
            return Err(ValidationError::new(
                "terms",
                "a group has 2 to 32 distinct terms",
            ));
        }
        Ok(SynonymGroup(kept))
    }

    /// The terms, lowercased.
    pub fn terms(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SynonymGroup {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let terms = Vec::<String>::deserialize(deserializer)?;
        SynonymGroup::new(terms).map_err(serde::de::Error::custom)
    }
}

/// The synonym groups in force, with the version the store gave them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynonymSet {
    /// The groups.
    pub groups: Vec<SynonymGroup>,
    /// Increases by one with every edit; 0 for the built-in defaults.
    pub version: u64,
    /// When last edited; `None` for the built-in defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl SynonymSet {
    /// Most groups in a set.
    pub const MAX_GROUPS: usize = 1000;

    /// Checks the number of groups.
    pub fn check_groups(groups: &[SynonymGroup]) -> Result<(), ValidationError> {
        if groups.len() > Self::MAX_GROUPS {
            return Err(ValidationError::new(
                "groups",
                "at most 1000 synonym groups",
            ));
        }
        Ok(())
    }
}

/// The exchange-rate table in force, with its version.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFxTable {
    /// The table.
    pub table: FxTable,
    /// Increases by one with every update.
    pub version: u64,
    /// When last updated.
    pub updated_at: DateTime<Utc>,
}

/// A listing and how often it was viewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Popularity {
    /// The listing.
    pub listing_id: ListingId,
    /// Views counted.
    pub views: u64,
}

/// Search's settings and counters in the store.
pub trait SearchStore: Send + Sync {
    /// The synonym groups an operator saved; `None` until the first save
    /// (the index then uses its built-in defaults).
    fn synonyms(&self) -> StoreResult<Option<SynonymSet>>;

    /// Replaces the synonym groups. With `expected_version`, fails with
    /// `StoreError::Conflict` unless the stored version (0 when never
    /// saved) is that one. Returns the saved set with its new version.
    fn put_synonyms(
        &self,
        groups: &[SynonymGroup],
        expected_version: Option<u64>,
        at: DateTime<Utc>,
    ) -> StoreResult<SynonymSet>;

    /// The exchange-rate table an operator saved; `None` until the first
    /// save (the server then uses its settings' table).
    fn fx_table(&self) -> StoreResult<Option<StoredFxTable>>;

    /// Replaces the exchange-rate table; returns it with its new version.
    fn put_fx_table(&self, table: &FxTable, at: DateTime<Utc>) -> StoreResult<StoredFxTable>;

    /// Adds views to listings' popularity counters, creating counters as
    /// needed; ids that are not listings are skipped.
    fn record_views(&self, views: &[(ListingId, u64)]) -> StoreResult<()>;

    /// The most viewed active listings, most views first, ties by id.
    fn popular(&self, limit: u32) -> StoreResult<Vec<Popularity>>;
}
