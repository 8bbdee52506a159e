//! The storage traits that library crates ask for and `shiyun-schema`
//! implements on SQLite and PostgreSQL.
//!
//! The traits are synchronous: the database layer (diesel) is synchronous, and
//! an async caller moves a call onto a blocking thread (`spawn_blocking`,
//! `actix_web::web::block`). Each method that must hold atomically (a batch
//! upsert together with its change-feed entries) is one method, carried out
//! in one transaction by the implementation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{CodedError, Detail, ErrorCode, ValidationError};
use crate::listing::{
    Category, Listing, ListingId, ListingStatus, PartnerVendorId, PriceComponent, Vendor, VendorRef,
};
use crate::tenancy::EnterpriseId;

/// What a store call can fail with.
///
/// The `Display` form of every variant but `Internal` is in the store's own
/// stable words: it may reach a client. What a database driver said is kept
/// apart as a [`Detail`], the error's `source()`, for logs and operators
/// only. Variants a caller branches on:
///
/// - the same request again under an idempotency key is not an error at
///   all: such calls return [`Outcome::Replayed`];
/// - [`StoreError::IdempotencyConflict`]: the key was used before with
///   another payload (`idempotency_conflict`);
/// - [`StoreError::InsufficientBalance`]: a balance floor was reached
///   (`insufficient_balance`);
/// - [`StoreError::Contention`]: concurrent transactions collided; the
///   store already retried a bounded number of times, and the whole call may
///   succeed if made again later (`unavailable`);
/// - [`StoreError::AlreadyExists`]: a uniqueness rule that the store method
///   does not turn into one of the above (`conflict`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named row does not exist.
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// Kind of thing (`listing`, `sync run`).
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// A state rule was hit (a stale version, a run that cannot be
    /// resumed). The message is the store's own words, never driver text.
    #[error("{0}")]
    Conflict(String),
    /// A row with the same key already exists: a unique constraint the
    /// store method did not resolve itself.
    #[error("a record with the same key already exists")]
    AlreadyExists {
        /// The driver's text, for the log.
        #[source]
        detail: Detail,
    },
    /// The idempotency key was used before with a different request. A
    /// client reusing a key for another payload has a bug; retrying cannot
    /// help.
    #[error("idempotency key `{key}` was already used with a different request")]
    IdempotencyConflict {
        /// The key.
        key: String,
    },
    /// A balance would go below its allowed floor; nothing was written.
    #[error("{account} would go below its allowed balance")]
    InsufficientBalance {
        /// The account, wallet or ledger whose floor holds (`wallet 42`).
        account: String,
    },
    /// Concurrent transactions collided (a serialisation failure or a
    /// deadlock on PostgreSQL, a busy SQLite). The store retries the first
    /// two itself, a bounded number of times; this error means the bound was
    /// reached. Distinct from [`StoreError::Unavailable`] (the database is
    /// reachable) and [`StoreError::Conflict`] (nothing is wrong with the
    /// request).
    #[error("{kind}; try again")]
    Contention {
        /// What collided.
        kind: ContentionKind,
        /// The driver's text, for the log.
        #[source]
        detail: Detail,
    },
    /// Stored or given data broke a domain rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The database cannot be reached.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What failed, in stable words (`no database connection`).
        reason: &'static str,
        /// The driver's or pool's text, for the log.
        #[source]
        detail: Detail,
    },
    /// Anything else (a bug, corrupt data). The server answers only
    /// `internal error` and logs this text.
    #[error("store failure: {0}")]
    Internal(String),
}

impl StoreError {
    /// `Unavailable` with the stable `reason` and the driver's `detail`.
    pub fn unavailable(reason: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Unavailable {
            reason,
            detail: Detail::new(detail),
        }
    }

    /// What the driver said, when the failure came from it.
    pub fn detail(&self) -> Option<&str> {
        match self {
            StoreError::AlreadyExists { detail }
            | StoreError::Contention { detail, .. }
            | StoreError::Unavailable { detail, .. } => Some(detail.as_str()),
            _ => None,
        }
    }

    /// Whether concurrent transactions collided ([`StoreError::Contention`]).
    pub fn is_contention(&self) -> bool {
        matches!(self, StoreError::Contention { .. })
    }
}

/// Which kind of contention a transaction lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentionKind {
    /// PostgreSQL could not serialise the transaction with a concurrent one
    /// (SQLSTATE 40001).
    Serialization,
    /// PostgreSQL broke a deadlock by aborting this transaction (40P01).
    Deadlock,
    /// SQLite's write lock stayed taken for longer than the store waits.
    Busy,
}

impl std::fmt::Display for ContentionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContentionKind::Serialization => "a concurrent change conflicted with this one",
            ContentionKind::Deadlock => "a concurrent change deadlocked with this one",
            ContentionKind::Busy => "the database is busy with another write",
        })
    }
}

impl CodedError for StoreError {
    fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound { .. } => ErrorCode::NotFound,
            StoreError::Conflict(_) | StoreError::AlreadyExists { .. } => ErrorCode::Conflict,
            StoreError::IdempotencyConflict { .. } => ErrorCode::IdempotencyConflict,
            StoreError::InsufficientBalance { .. } => ErrorCode::InsufficientBalance,
            StoreError::Invalid(_) => ErrorCode::InvalidArgument,
            StoreError::Contention { .. } | StoreError::Unavailable { .. } => {
                ErrorCode::Unavailable
            }
            StoreError::Internal(_) => ErrorCode::Internal,
        }
    }
    fn field(&self) -> Option<&str> {
        match self {
            StoreError::Invalid(e) => Some(e.field_name()),
            _ => None,
        }
    }
}

/// The success of a write keyed by an idempotency key (a usage event, a
/// payment, a webhook). The same request sent again is a success, not an
/// error: it is [`Outcome::Replayed`], carrying what the first request
/// stored, and nothing was written twice. The same key with another
/// payload is [`StoreError::IdempotencyConflict`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Outcome<T> {
    /// Written now.
    Applied(T),
    /// Written before by the same request; nothing changed now.
    Replayed(T),
}

impl<T> Outcome<T> {
    /// The value, whether written now or before.
    pub fn into_inner(self) -> T {
        match self {
            Outcome::Applied(value) | Outcome::Replayed(value) => value,
        }
    }

    /// The same outcome of another value (`Applied` stays `Applied`).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Applied(value) => Outcome::Applied(f(value)),
            Outcome::Replayed(value) => Outcome::Replayed(f(value)),
        }
    }

    /// Whether this was the same request again.
    pub fn is_replay(&self) -> bool {
        matches!(self, Outcome::Replayed(_))
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Counts of what an upsert or a sync did to the catalog.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertReport {
    /// Listings not seen before.
    pub new: u64,
    /// Listings whose content changed (prices, specs, names…).
    pub changed: u64,
    /// Listings identical to what was stored.
    pub unchanged: u64,
    /// Listings retired (gone from the vendor, or sent as retired).
    pub retired: u64,
}

impl UpsertReport {
    /// Adds another report's counts into this one.
    pub fn absorb(&mut self, other: UpsertReport) {
        self.new += other.new;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.retired += other.retired;
    }
}

/// Filters of a listing query; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingFilter {
    /// Only this vendor (built-in or partner).
    pub vendor: Option<VendorRef>,
    /// Only this category.
    pub category: Option<Category>,
    /// Only this vendor region code.
    pub region: Option<String>,
    /// Only this status.
    pub status: Option<ListingStatus>,
}

/// A page request: listings are ordered by id; `after` is the last id of the
/// previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingQuery {
    /// Filters.
    pub filter: ListingFilter,
    /// Resume after this id.
    pub after: Option<ListingId>,
    /// Page size, 1 to [`ListingQuery::MAX_LIMIT`].
    pub limit: u32,
}

impl ListingQuery {
    /// Largest page a store returns.
    pub const MAX_LIMIT: u32 = 500;
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<ListingId>,
}

/// The prices of a listing from a point in time on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricePoint {
    /// When these prices were first seen.
    pub recorded_at: DateTime<Utc>,
    /// The prices.
    pub prices: Vec<PriceComponent>,
}

/// Which listings a "retire what was not seen" sweep covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetireScope {
    /// The vendor synced.
    pub vendor: Vendor,
    /// Only this vendor service, when the sync covered one service.
    pub service: Option<String>,
    /// Only (service, region) pairs that the sync returned at least one
    /// listing for. A sync that was asked about some regions or services
    /// then never retires offers it did not ask about (an imported region, a
    /// partner's listings, a region dropped from the settings); the price is
    /// that a vendor dropping a whole region is not noticed by the sweep.
    pub seen_pairs_only: bool,
}

/// What happened to a listing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// First seen.
    Created,
    /// Content changed.
    Updated,
    /// Gone from the vendor.
    Retired,
    /// Offered again after being retired.
    Reactivated,
}

impl ChangeKind {
    /// Text form.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Retired => "retired",
            ChangeKind::Reactivated => "reactivated",
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text {
            "created" => Ok(ChangeKind::Created),
            "updated" => Ok(ChangeKind::Updated),
            "retired" => Ok(ChangeKind::Retired),
            "reactivated" => Ok(ChangeKind::Reactivated),
            other => Err(ValidationError::new(
                "kind",
                format!("unknown change kind `{other}`"),
            )),
        }
    }
}

/// One entry of the change feed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Position in the feed: strictly increasing in commit order.
    pub seq: u64,
    /// The listing.
    pub listing_id: ListingId,
    /// Its vendor (built-in or partner).
    pub vendor: VendorRef,
    /// What happened.
    pub kind: ChangeKind,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// The listing catalog.
pub trait ListingStore: Send + Sync {
    /// Inserts or updates a batch in one transaction, diffing each listing
    /// against what is stored: new, changed (price history kept), unchanged;
    /// a listing sent as retired is retired. Every change is appended to the
    /// change feed in the same transaction. `seen_at` marks the listings as
    /// seen by the current sync (see [`ListingStore::retire_unseen`]).
    ///
    /// A retired listing sent active again is reactivated and counted as
    /// changed. An unchanged listing keeps the stored document and provenance
    /// of the fetch that produced its current content; only its last-seen
    /// time moves.
    fn upsert_listings(
        &self,
        batch: &[Listing],
        seen_at: DateTime<Utc>,
    ) -> StoreResult<UpsertReport>;

    /// One listing, retired or not.
    fn get_listing(&self, id: &ListingId) -> StoreResult<Option<Listing>>;

    /// A page of listings ordered by id.
    fn list_listings(&self, query: &ListingQuery) -> StoreResult<Page<Listing>>;

    /// Number of listings matching `filter`.
    fn count_listings(&self, filter: &ListingFilter) -> StoreResult<u64>;

    /// Retires one listing (never deletes). Returns false when it was already
    /// retired, `NotFound` when there is no such listing.
    fn retire_listing(&self, id: &ListingId, at: DateTime<Utc>) -> StoreResult<bool>;

    /// Retires every active listing in `scope` not seen since `seen_before`:
    /// what a completed sync did not return is gone from the vendor.
    fn retire_unseen(
        &self,
        scope: &RetireScope,
        seen_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// The listing's prices over time, oldest first; `NotFound` for an unknown id.
    fn price_history(&self, id: &ListingId) -> StoreResult<Vec<PricePoint>>;
}

/// The ordered log of catalog changes that derived data (the search index,
/// caches on other instances) follows.
pub trait ChangeFeed: Send + Sync {
    /// Up to `limit` events with `seq > after`, in order. Callers bound
    /// `limit` (the HTTP API allows at most 1000).
    fn read_changes(&self, after: u64, limit: u32) -> StoreResult<Vec<ChangeEvent>>;

    /// The last sequence number written (0 when empty).
    fn latest_seq(&self) -> StoreResult<u64>;
}

/// Liveness of the storage backend, for readiness probes.
pub trait StoreHealth: Send + Sync {
    /// Fails when the database cannot answer a trivial query.
    fn ping(&self) -> StoreResult<()>;
}

/// Id of a sync run.
pub type SyncRunId = u64;

/// State of a sync run.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going (or its process died; see `finished_at`).
    Running,
    /// Every page was fetched and stored.
    Succeeded,
    /// Stopped by an error; may be resumed from `resume_token`.
    Failed,
}

impl RunStatus {
    /// Text form.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text {
            "running" => Ok(RunStatus::Running),
            "succeeded" => Ok(RunStatus::Succeeded),
            "failed" => Ok(RunStatus::Failed),
            other => Err(ValidationError::new(
                "status",
                format!("unknown run status `{other}`"),
            )),
        }
    }
}

/// What started a sync run.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncTrigger {
    /// `shiyun catalog sync`.
    Cli,
    /// The vendor's cron schedule.
    Schedule,
    /// An import of saved responses: it covers some files, never the
    /// vendor's whole catalog, so it never retires and is never resumed.
    Import,
}

impl SyncTrigger {
    /// Text form.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncTrigger::Cli => "cli",
            SyncTrigger::Schedule => "schedule",
            SyncTrigger::Import => "import",
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text {
            "cli" => Ok(SyncTrigger::Cli),
            "schedule" => Ok(SyncTrigger::Schedule),
            "import" => Ok(SyncTrigger::Import),
            other => Err(ValidationError::new(
                "trigger",
                format!("unknown sync trigger `{other}`"),
            )),
        }
    }
}

impl std::fmt::Display for SyncTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A vendor record that could not be normalised: reported, then skipped.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRejection {
    /// The vendor's key for the record (SKU, meter id, instance type), or a position.
    pub vendor_key: String,
    /// Why it was rejected, lowercase.
    pub reason: String,
}

/// What a sync or import met in the vendor's regions besides listings and
/// rejections. Neither part is a fault of the feed: neither counts as
/// rejected, and neither holds back the retire sweep.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegionReport {
    /// Offers left out because they are in a vendor's test region, counted
    /// by region code. They are never stored, so never reach the storefront.
    pub test_regions_skipped: BTreeMap<String, u64>,
    /// Region codes the geography table does not know. Their offers are
    /// stored under the code as the vendor gave it; each code is listed
    /// once, so the table can be completed.
    pub unknown_regions: BTreeSet<String>,
}

impl RegionReport {
    /// Offers skipped in test regions, in all.
    pub fn total_skipped(&self) -> u64 {
        self.test_regions_skipped.values().sum()
    }

    /// Adds `count` offers skipped in the test region `code`.
    pub fn add_skipped(&mut self, code: &str, count: u64) {
        *self
            .test_regions_skipped
            .entry(code.to_owned())
            .or_default() += count;
    }

    /// Notes the unknown region `code`; true the first time, so the caller
    /// reports it once.
    pub fn note_unknown(&mut self, code: &str) -> bool {
        !self.unknown_regions.contains(code) && self.unknown_regions.insert(code.to_owned())
    }

    /// True when the run met no test region and no unknown region.
    pub fn is_empty(&self) -> bool {
        self.test_regions_skipped.is_empty() && self.unknown_regions.is_empty()
    }
}

/// The report of one catalog sync or import.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    /// Id assigned by the store.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub id: SyncRunId,
    /// The vendor synced.
    pub vendor: Vendor,
    /// What started it.
    pub trigger: SyncTrigger,
    /// State.
    pub status: RunStatus,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time, once ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Pages fetched and stored.
    pub pages: u64,
    /// What the pages did to the catalog.
    pub report: UpsertReport,
    /// Records rejected in all.
    pub rejected: u64,
    /// The first rejections (the store keeps at most [`SyncRun::MAX_KEPT_REJECTIONS`]).
    pub rejections: Vec<RecordRejection>,
    /// Offers skipped in test regions, and region codes the geography table
    /// does not know; empty in reports from before it was kept.
    #[serde(default)]
    pub regions: RegionReport,
    /// Token of the next page to fetch: where a failed run resumes.
    pub resume_token: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

impl SyncRun {
    /// How many rejections a run report keeps in detail.
    pub const MAX_KEPT_REJECTIONS: usize = 200;
}

/// Sync run reports, and the resume point of a failed run.
pub trait SyncRunStore: Send + Sync {
    /// Records a new running run and returns it with its id.
    fn start_sync_run(
        &self,
        vendor: Vendor,
        trigger: SyncTrigger,
        started_at: DateTime<Utc>,
    ) -> StoreResult<SyncRun>;

    /// Saves the run's progress or end state (status, counts, token, error).
    fn save_sync_run(&self, run: &SyncRun) -> StoreResult<()>;

    /// One run.
    fn get_sync_run(&self, id: SyncRunId) -> StoreResult<Option<SyncRun>>;

    /// The most recent runs first, of one vendor or all.
    fn recent_sync_runs(&self, vendor: Option<Vendor>, limit: u32) -> StoreResult<Vec<SyncRun>>;
}

/// A partner cloud: an enterprise that publishes listings under its own
/// vendor id. Each enterprise has at most one, and the id never changes
/// (listing ids are derived from it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerVendor {
    /// The vendor id its listings carry (`p-acme`).
    pub id: PartnerVendorId,
    /// The enterprise that publishes as this vendor.
    pub enterprise: EnterpriseId,
    /// Display name in Chinese; not blank, at most 128 characters, no
    /// control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub name_zh: String,
    /// Display name in English; the same rules.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub name_en: String,
    /// When it was first registered.
    pub created_at: DateTime<Utc>,
}

impl PartnerVendor {
    /// Most characters of a display name.
    pub const MAX_NAME: usize = 128;

    /// A partner vendor, its names checked (fields `name_zh`, `name_en`).
    pub fn new(
        id: PartnerVendorId,
        enterprise: EnterpriseId,
        name_zh: impl Into<String>,
        name_en: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Result<Self, ValidationError> {
        let vendor = PartnerVendor {
            id,
            enterprise,
            name_zh: name_zh.into(),
            name_en: name_en.into(),
            created_at,
        };
        vendor.validate()?;
        Ok(vendor)
    }

    /// Checks the names (the ids are valid by type).
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (field, name) in [("name_zh", &self.name_zh), ("name_en", &self.name_en)] {
            crate::listing::check_text(field, name, Self::MAX_NAME)?;
        }
        Ok(())
    }
}

/// The partner vendors: which enterprise publishes under which vendor id.
/// Their listings live in the [`ListingStore`] like any other, filtered by
/// `ListingFilter::vendor`.
pub trait PartnerStore: Send + Sync {
    /// Registers `vendor` for its enterprise, or renames it. Returns what is
    /// stored:
    ///
    /// - the enterprise has no partner vendor and the id is free: inserted;
    /// - the enterprise already has this id: its names are updated and the
    ///   first `created_at` is kept;
    /// - the enterprise already has another id: [`StoreError::Conflict`]
    ///   (an id never changes);
    /// - the id belongs to another enterprise: [`StoreError::AlreadyExists`]
    ///   (which enterprise is not told).
    ///
    /// Names that break [`PartnerVendor::validate`] are `Invalid`.
    fn register_partner_vendor(&self, vendor: &PartnerVendor) -> StoreResult<PartnerVendor>;

    /// The enterprise's partner vendor, if it has registered one.
    fn partner_vendor_of(&self, enterprise: &EnterpriseId) -> StoreResult<Option<PartnerVendor>>;

    /// One partner vendor.
    fn get_partner_vendor(&self, id: &PartnerVendorId) -> StoreResult<Option<PartnerVendor>>;

    /// Every partner vendor, ordered by id.
    fn list_partner_vendors(&self) -> StoreResult<Vec<PartnerVendor>>;
}

/// Held while a scheduled job runs; dropping it releases the lock.
pub trait JobGuard: Send {}

/// Run-once locks for scheduled jobs across server instances sharing one
/// database (PostgreSQL advisory locks; a process-local lock on SQLite, which
/// is single-instance by nature).
pub trait JobLock: Send + Sync {
    /// Takes the lock named `job` if no one holds it.
    fn try_lock_job(&self, job: &str) -> StoreResult<Option<Box<dyn JobGuard>>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_triggers_keep_their_text_form() {
        for trigger in [SyncTrigger::Cli, SyncTrigger::Schedule, SyncTrigger::Import] {
            assert_eq!(SyncTrigger::parse(trigger.as_str()), Ok(trigger));
            assert_eq!(
                serde_json::to_string(&trigger).ok(),
                Some(format!("\"{trigger}\""))
            );
        }
        assert_eq!(format!("{:<8}|", SyncTrigger::Cli), "cli     |");
        assert!(SyncTrigger::parse("api").is_err());
    }

    #[test]
    fn region_report_counts_skips_and_notes_each_unknown_code_once() {
        let mut regions = RegionReport::default();
        assert!(regions.is_empty());
        regions.add_skipped("cn-qingyangtest-1", 2);
        regions.add_skipped("cn-qingyangtest-1", 3);
        regions.add_skipped("us-test-2", 1);
        assert_eq!(regions.total_skipped(), 6);
        assert_eq!(regions.test_regions_skipped["cn-qingyangtest-1"], 5);
        assert!(regions.note_unknown("cn-mars-1"));
        assert!(!regions.note_unknown("cn-mars-1"));
        assert_eq!(regions.unknown_regions.len(), 1);
        assert!(!regions.is_empty());
    }

    #[test]
    fn region_report_parts_default_when_absent() {
        let parsed: RegionReport = serde_json::from_str(r#"{"unknown_regions":["x-1"]}"#).unwrap();
        assert_eq!(parsed.total_skipped(), 0);
        assert!(parsed.unknown_regions.contains("x-1"));
        let empty: RegionReport = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn driver_text_stays_out_of_the_message() {
        let secret = "relation \"wallets\" violates constraint on host db-7.internal";
        let errors = [
            StoreError::AlreadyExists {
                detail: Detail::new(secret),
            },
            StoreError::Contention {
                kind: ContentionKind::Deadlock,
                detail: Detail::new(secret),
            },
            StoreError::unavailable("no database connection", secret),
        ];
        for error in errors {
            assert!(!error.to_string().contains("db-7"), "{error}");
            assert_eq!(error.detail(), Some(secret));
            let source = std::error::Error::source(&error).map(ToString::to_string);
            assert_eq!(source.as_deref(), Some(secret));
        }
    }

    #[test]
    fn each_billing_case_has_its_code() {
        let cases = [
            (
                StoreError::IdempotencyConflict { key: "k".into() },
                ErrorCode::IdempotencyConflict,
            ),
            (
                StoreError::InsufficientBalance {
                    account: "wallet 1".into(),
                },
                ErrorCode::InsufficientBalance,
            ),
            (
                StoreError::Contention {
                    kind: ContentionKind::Serialization,
                    detail: Detail::new(""),
                },
                ErrorCode::Unavailable,
            ),
            (
                StoreError::AlreadyExists {
                    detail: Detail::new(""),
                },
                ErrorCode::Conflict,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
            assert_eq!(error.is_contention(), code == ErrorCode::Unavailable);
        }
    }

    #[test]
    fn a_replay_is_a_success_with_the_first_value() {
        let first = Outcome::Applied(7);
        let again = Outcome::Replayed(7);
        assert!(!first.is_replay());
        assert!(again.is_replay());
        assert_eq!(first.into_inner(), again.into_inner());
    }
}
