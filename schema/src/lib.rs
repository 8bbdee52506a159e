//! Shiyun storage: the diesel schema, the SQLite and PostgreSQL migrations,
//! and [`Database`], which implements every store trait of
//! [`shiyun_core::store`] (`ListingStore`, `ChangeFeed`, `StoreHealth`,
//! `SyncRunStore`, `JobLock`) and of [`shiyun_core::tenancy`] (the user
//! centre: `AccountStore`, `SessionStore`, `TenancyStore`, `ApiKeyStore`,
//! `AuditLog`), [`shiyun_core::search::SearchStore`] and
//! [`shiyun_core::billing::BillingStore`] and
//! [`shiyun_core::billing::wallet::WalletStore`] (see the `billing` module),
//! and [`shiyun_core::deploy::DeployStore`] (the deployment platform's
//! clusters, placements, applications, releases and builds: see the
//! `deploy` module). No other crate of the workspace sees diesel.
//!
//! The key design decision: one query code base for both backends. There is
//! one [`schema`] module and one [`DbConnection`] enum
//! (`#[derive(diesel::MultiConnection)]`); the two migration trees
//! (`migrations/sqlite`, `migrations/postgres`) carry the same names and
//! differ only where the SQL dialects do (`AUTOINCREMENT` / `BIGSERIAL`,
//! `COLLATE "C"`). The trade-off is that columns are restricted to the types
//! both backends map alike through diesel's multi-backend, and a few
//! backend-specific statements (advisory locks) match on the connection.
//!
//! ```no_run
//! use shiyun_core::store::{ListingStore, StoreHealth};
//! use shiyun_schema::Database;
//!
//! let db = Database::open("sqlite://data/shiyun.db", 8)?;
//! db.migrate()?;
//! db.ping()?;
//! # Ok::<(), shiyun_core::store::StoreError>(())
//! ```
//!
//! # Column representation
//!
//! - **Money and decimals** never become floats or backend `NUMERIC`s: a
//!   listing is stored whole as JSON text in `listings.doc`, where amounts are
//!   canonical decimal strings (`"0.4200"`), so value and scale round-trip
//!   exactly on both backends. Reading goes back through `Listing`'s
//!   validating serde; a row that fails it is `StoreError::Internal`. Price
//!   history rows hold the prices the same way.
//! - **Timestamps** are `BIGINT` microseconds since the Unix epoch, UTC, on
//!   both backends (sub-microsecond digits are dropped). The listing's own
//!   provenance time inside `doc` keeps full precision.
//! - **Filter columns** (`vendor`, `category`, `region`, `status`, …) are
//!   copied out of the document for indexes. `status` is authoritative:
//!   retiring updates the column, not the document.
//! - **Ids** compare bytewise on both backends (`COLLATE "C"` on
//!   PostgreSQL), so page cursors agree.
//!
//! # Upserts and the change feed
//!
//! `upsert_listings` diffs a batch against stored content fingerprints in one
//! transaction with multi-row statements. An unchanged listing only gets its
//! `last_seen_at` moved; its stored document (and provenance) stays that of
//! the fetch that produced the current content. Every change appends to
//! `listing_changes` in the same transaction.
//!
//! # Transactions
//!
//! Store methods write through one of two helpers of [`Database`]:
//!
//! - `write`, for transactions that append to the change feed. Feed writers
//!   are serialised so `seq` values become visible in increasing order: a
//!   transaction advisory lock (the feed lock) on PostgreSQL; on SQLite a
//!   process-local feed lock shared by clones of one `Database`, taken
//!   before `BEGIN IMMEDIATE`.
//! - `transaction`, for writes with no feed entry (usage events, ledgers,
//!   invoices, accounts). It never takes the feed lock, so a wallet debit
//!   does not queue behind a catalog sync. On PostgreSQL it is a plain
//!   transaction (read committed, or serializable when asked) that commits
//!   while a catalog write still holds the feed lock. SQLite has one writer
//!   per file, so there "proceeds" means less: the feed-less write begins
//!   with `BEGIN IMMEDIATE` too and waits for whichever transaction holds
//!   SQLite's write lock (a catalog write holds it for one batch), but
//!   never for the feed lock, which a catalog writer also holds while it
//!   waits for SQLite's lock. A debit competes with at most the one feed
//!   writer holding the feed lock, not with every sync batch queued behind
//!   it.
//!
//! Both retry in one place: a PostgreSQL serialisation failure (40001) or
//! deadlock (40P01) rolls the transaction back and runs the closure again
//! from scratch (closures are `FnMut` and must not keep state across runs),
//! at most four times in all, after a jittered backoff of 5–10, 10–20 and
//! 20–40 ms. Then the call fails with `StoreError::Contention`. A busy SQLite
//! is not retried: `busy_timeout` (30 s) already waited.
//!
//! # Errors
//!
//! `map_diesel` turns driver errors into [`shiyun_core::store::StoreError`]:
//! a unique violation is `AlreadyExists`; a serialisation failure, a
//! deadlock or a busy SQLite is `Contention` (with its
//! [`shiyun_core::store::ContentionKind`]); a lost connection is
//! `Unavailable`; anything else `Internal`. The driver's text never becomes
//! the message: it is kept as the error's `source()` (a
//! [`shiyun_core::Detail`]), which the server logs with the request id and
//! never answers. A store method with an idempotency key returns
//! [`shiyun_core::store::Outcome::Replayed`] for the same request again and
//! `IdempotencyConflict` for the same key with another payload; one with a
//! balance floor returns `InsufficientBalance`. Those are decided in the
//! method's transaction, not read from driver errors.
//!
//! # The user centre
//!
//! Tenancy is enforced in SQL: every read of an enterprise's rows filters by
//! the enterprise, and a [`shiyun_core::tenancy::RowScope`]'s data scope
//! (`projects`, `own`) becomes a `WHERE` clause, so another tenant's id
//! answers `NotFound` exactly as a missing one. Its writes have no feed
//! entry and run in `transaction` (read committed) with guarded statements
//! where a rule must hold under concurrency: a refresh token is marked used
//! only `WHERE used_at IS NULL` (of concurrent presentations one rotates,
//! the rest are replays that revoke the session); the administrator role
//! moves only `WHERE is_admin`, under a partial unique index allowing one
//! administrator per enterprise; a code's wrong tries and use are counted
//! `WHERE attempts < max`. Where a check reads rows another call may change
//! (a login throttle, a template being assigned while it is deleted),
//! PostgreSQL locks them (`FOR UPDATE`, `FOR SHARE`); SQLite's one writer
//! needs nothing. Built-in templates are not rows: members and keys name
//! them by id. `audit_events` refuses `UPDATE` and `DELETE` by trigger on
//! both backends, and its appenders are serialised on PostgreSQL so a reader
//! paging by `seq` misses nothing.
//!
//! # Concurrency
//!
//! PostgreSQL is the multi-instance store: migrations run under a session
//! advisory lock, and `JobLock` uses session advisory locks held on a pooled
//! connection. SQLite is single-instance: job locks are process-local and
//! shared by clones of one `Database`.
//!
//! # Tests
//!
//! With the `test-support` feature, `testing::TestDatabase` gives each test
//! a database of its own: a temp SQLite file, or a clone of a PostgreSQL
//! template migrated once per set of migrations (see the `testing` module).

mod accounts;
mod api_keys;
mod audit;
mod billing;
mod db;
mod deploy;
mod housekeeping;
mod listings;
mod locks;
pub mod schema;
mod sessions;
mod sync_runs;
mod tenancy;
#[cfg(feature = "test-support")]
pub mod testing;
mod time;
#[cfg(all(test, feature = "test-support"))]
mod transaction_tests;
mod user_centre;

use diesel::prelude::*;
use shiyun_core::store::{StoreHealth, StoreResult};

pub use db::{Backend, Database, DbConnection, PoolOptions};

impl StoreHealth for Database {
    fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn()?;
        diesel::sql_query("SELECT 1")
            .execute(&mut *conn)
            .map_err(db::map_diesel)?;
        Ok(())
    }
}

// `PartnerStore`: the partner vendors (the vendor id each partner
// enterprise publishes listings under).
mod partners;

// `shiyun_core::search::SearchStore`: search's shared settings (synonyms,
// exchange rates) and the listings' popularity counters.
mod search;
