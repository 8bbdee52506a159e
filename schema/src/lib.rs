//! Shiyun storage: the diesel schema, the SQLite and PostgreSQL migrations,
//! and [`Database`], which implements every store trait of
//! [`shiyun_core::store`] (`ListingStore`, `ChangeFeed`, `StoreHealth`,
//! `SyncRunStore`, `JobLock`). No other crate of the workspace sees diesel.
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
//! `listing_changes` in the same transaction. Feed writers are serialised (an
//! advisory transaction lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) so
//! `seq` values become visible in increasing order.
//!
//! # Concurrency
//!
//! PostgreSQL is the multi-instance store: migrations run under a session
//! advisory lock, and `JobLock` uses session advisory locks held on a pooled
//! connection. SQLite is single-instance: job locks are process-local and
//! shared by clones of one `Database`.

mod db;
mod listings;
mod locks;
pub mod schema;
mod sync_runs;
#[cfg(feature = "test-support")]
pub mod testing;
mod time;
#[cfg(all(test, feature = "test-support"))]
mod transaction_tests;

use diesel::prelude::*;
use shiyun_core::store::{StoreHealth, StoreResult};

pub use db::{Backend, Database, DbConnection};

impl StoreHealth for Database {
    fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn()?;
        diesel::sql_query("SELECT 1")
            .execute(&mut *conn)
            .map_err(db::map_diesel)?;
        Ok(())
    }
}
