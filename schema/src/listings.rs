//! `ListingStore` and `ChangeFeed` on [`Database`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use shiyun_core::listing::{Listing, ListingId, ListingStatus, PriceComponent, Vendor};
use shiyun_core::store::{
    ChangeEvent, ChangeFeed, ChangeKind, ListingFilter, ListingQuery, ListingStore, Page,
    PricePoint, RetireScope, StoreError, StoreResult, UpsertReport,
};

use crate::db::{Database, Db, DbConnection, TxError, map_diesel};
use crate::schema::{listing_changes, listing_price_history, listings};
use crate::time::{from_micros, micros};

/// Rows per multi-row statement or `IN` list: 500 × 16 columns stays far
/// below SQLite's 32 766 and PostgreSQL's 65 535 bind parameters.
const CHUNK: usize = 500;

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = listings, treat_none_as_default_value = false, treat_none_as_null = true)]
struct ListingRow {
    id: String,
    vendor: &'static str,
    vendor_sku: String,
    category: String,
    service: String,
    region: String,
    status: &'static str,
    name_en: Option<String>,
    name_zh: Option<String>,
    content_hash: String,
    price_hash: String,
    doc: String,
    fetched_at: i64,
    #[diesel(skip_update)]
    first_seen_at: i64,
    last_seen_at: i64,
    updated_at: i64,
}

impl ListingRow {
    /// The row of `listing` as upserted at `seen`. Serialising happens here,
    /// before the transaction, to keep write locks short.
    fn new(listing: &Listing, seen: i64) -> StoreResult<(Self, String)> {
        let doc = serde_json::to_string(listing).map_err(|e| {
            StoreError::Internal(format!("cannot serialise listing {}: {e}", listing.id()))
        })?;
        let prices = serde_json::to_string(listing.prices()).map_err(|e| {
            StoreError::Internal(format!("cannot serialise prices of {}: {e}", listing.id()))
        })?;
        let region = listing.region();
        let row = ListingRow {
            id: listing.id().as_str().to_owned(),
            vendor: listing.vendor().id(),
            vendor_sku: listing.vendor_sku().to_owned(),
            category: listing.category().as_str().to_owned(),
            service: listing.service().to_owned(),
            region: region.code.clone(),
            status: listing.status().as_str(),
            name_en: listing.name().en.clone(),
            name_zh: listing.name().zh.clone(),
            content_hash: listing.content_fingerprint(),
            price_hash: listing.price_fingerprint(),
            doc,
            fetched_at: micros(listing.provenance().fetched_at),
            first_seen_at: seen,
            last_seen_at: seen,
            updated_at: seen,
        };
        Ok((row, prices))
    }
}

#[derive(Insertable)]
#[diesel(table_name = listing_price_history)]
struct PriceRow {
    listing_id: String,
    recorded_at: i64,
    prices: String,
}

#[derive(Insertable)]
#[diesel(table_name = listing_changes)]
struct ChangeRow<'a> {
    listing_id: String,
    vendor: &'a str,
    kind: &'static str,
    recorded_at: i64,
}

#[derive(Queryable)]
struct ChangeRecord {
    seq: i64,
    listing_id: String,
    vendor: String,
    kind: String,
    recorded_at: i64,
}

impl TryFrom<ChangeRecord> for ChangeEvent {
    type Error = StoreError;

    fn try_from(r: ChangeRecord) -> StoreResult<ChangeEvent> {
        let corrupt = |what: &str| {
            StoreError::Internal(format!("corrupt change feed entry {}: {what}", r.seq))
        };
        Ok(ChangeEvent {
            seq: u64::try_from(r.seq).map_err(|_| corrupt("negative seq"))?,
            listing_id: ListingId::parse(&r.listing_id).map_err(|e| corrupt(&e.to_string()))?,
            vendor: Vendor::parse(&r.vendor).map_err(|e| corrupt(&e.to_string()))?,
            kind: ChangeKind::parse(&r.kind).map_err(|e| corrupt(&e.to_string()))?,
            recorded_at: from_micros(r.recorded_at)?,
        })
    }
}

fn parse_status(text: &str) -> StoreResult<ListingStatus> {
    match text {
        "active" => Ok(ListingStatus::Active),
        "retired" => Ok(ListingStatus::Retired),
        other => Err(StoreError::Internal(format!(
            "corrupt listing status `{other}`"
        ))),
    }
}

/// A stored listing: `doc` through `Listing`'s validating serde, with the
/// status column (the one retirement updates) applied.
fn decode(doc: &str, status: &str) -> StoreResult<Listing> {
    let listing: Listing = serde_json::from_str(doc)
        .map_err(|e| StoreError::Internal(format!("corrupt listing document: {e}")))?;
    Ok(listing.with_status(parse_status(status)?))
}

fn filtered<'a>(filter: &'a ListingFilter) -> listings::BoxedQuery<'a, Db> {
    let mut query = listings::table.into_boxed();
    if let Some(vendor) = filter.vendor {
        query = query.filter(listings::vendor.eq(vendor.id()));
    }
    if let Some(category) = &filter.category {
        query = query.filter(listings::category.eq(category.as_str()));
    }
    if let Some(region) = &filter.region {
        query = query.filter(listings::region.eq(region.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(listings::status.eq(status.as_str()));
    }
    query
}

/// Multi-row `INSERT`s of `rows` in chunks. Runs on the inner connection:
/// diesel's multi-backend has no batch insert, but each backend does (SQLite
/// as one statement when no value is `DEFAULT`, which these rows avoid).
macro_rules! insert_chunks {
    ($conn:expr, $table:expr, $rows:expr) => {{
        for chunk in $rows.chunks(CHUNK) {
            match &mut *$conn {
                DbConnection::Sqlite(c) => diesel::insert_into($table).values(chunk).execute(c)?,
                DbConnection::Pg(c) => diesel::insert_into($table).values(chunk).execute(c)?,
            };
        }
    }};
}

/// Appends feed entries; `seq` follows insertion order.
fn append_changes(conn: &mut DbConnection, changes: &[ChangeRow<'_>]) -> Result<(), TxError> {
    insert_chunks!(conn, listing_changes::table, changes);
    Ok(())
}

/// What the store holds of a listing, for the diff.
struct Stored {
    status: String,
    content_hash: String,
    price_hash: String,
}

impl ListingStore for Database {
    fn upsert_listings(
        &self,
        batch: &[Listing],
        seen_at: DateTime<Utc>,
    ) -> StoreResult<UpsertReport> {
        // Duplicate ids: the last one wins, in the place of the first.
        let mut position: HashMap<&ListingId, usize> = HashMap::with_capacity(batch.len());
        let mut unique: Vec<&Listing> = Vec::with_capacity(batch.len());
        for listing in batch {
            match position.get(listing.id()) {
                Some(&i) => unique[i] = listing,
                None => {
                    position.insert(listing.id(), unique.len());
                    unique.push(listing);
                }
            }
        }
        if unique.is_empty() {
            return Ok(UpsertReport::default());
        }
        let seen = micros(seen_at);
        let prepared = unique
            .iter()
            .map(|l| ListingRow::new(l, seen))
            .collect::<StoreResult<Vec<_>>>()?;

        self.write(|conn| {
            let mut stored: HashMap<String, Stored> = HashMap::with_capacity(prepared.len());
            for chunk in prepared.chunks(CHUNK) {
                let ids: Vec<&str> = chunk.iter().map(|(row, _)| row.id.as_str()).collect();
                let rows: Vec<(String, String, String, String)> = listings::table
                    .filter(listings::id.eq_any(ids))
                    .select((
                        listings::id,
                        listings::status,
                        listings::content_hash,
                        listings::price_hash,
                    ))
                    .load(conn)?;
                for (id, status, content_hash, price_hash) in rows {
                    stored.insert(
                        id,
                        Stored {
                            status,
                            content_hash,
                            price_hash,
                        },
                    );
                }
            }

            let mut report = UpsertReport::default();
            let mut inserts: Vec<ListingRow> = Vec::new();
            let mut updates: Vec<ListingRow> = Vec::new();
            let mut seen_only: Vec<String> = Vec::new();
            let mut prices: Vec<PriceRow> = Vec::new();
            let mut changes: Vec<ChangeRow<'_>> = Vec::new();
            for (row, price_json) in prepared {
                let kind = match stored.get(&row.id) {
                    None => {
                        report.new += 1;
                        prices.push(PriceRow {
                            listing_id: row.id.clone(),
                            recorded_at: seen,
                            prices: price_json,
                        });
                        ChangeKind::Created
                    }
                    Some(old) => {
                        let status_changed = old.status != row.status;
                        if !status_changed && old.content_hash == row.content_hash {
                            report.unchanged += 1;
                            seen_only.push(row.id);
                            continue;
                        }
                        if old.price_hash != row.price_hash {
                            prices.push(PriceRow {
                                listing_id: row.id.clone(),
                                recorded_at: seen,
                                prices: price_json,
                            });
                        }
                        // A flip to retired counts as retired; a reactivation as
                        // changed, since the report has no field of its own for it.
                        match (status_changed, row.status) {
                            (true, "retired") => {
                                report.retired += 1;
                                ChangeKind::Retired
                            }
                            (true, _) => {
                                report.changed += 1;
                                ChangeKind::Reactivated
                            }
                            (false, _) => {
                                report.changed += 1;
                                ChangeKind::Updated
                            }
                        }
                    }
                };
                changes.push(ChangeRow {
                    listing_id: row.id.clone(),
                    vendor: row.vendor,
                    kind: kind.as_str(),
                    recorded_at: seen,
                });
                if kind == ChangeKind::Created {
                    inserts.push(row);
                } else {
                    updates.push(row);
                }
            }

            insert_chunks!(conn, listings::table, inserts);
            for row in &updates {
                diesel::update(listings::table.find(&row.id))
                    .set(row)
                    .execute(conn)?;
            }
            for chunk in seen_only.chunks(CHUNK) {
                diesel::update(listings::table.filter(listings::id.eq_any(chunk)))
                    .set(listings::last_seen_at.eq(seen))
                    .execute(conn)?;
            }
            insert_chunks!(conn, listing_price_history::table, prices);
            append_changes(conn, &changes)?;
            Ok(report)
        })
    }

    fn get_listing(&self, id: &ListingId) -> StoreResult<Option<Listing>> {
        let mut conn = self.conn()?;
        let row: Option<(String, String)> = listings::table
            .find(id.as_str())
            .select((listings::doc, listings::status))
            .first(&mut *conn)
            .optional()
            .map_err(map_diesel)?;
        row.map(|(doc, status)| decode(&doc, &status)).transpose()
    }

    fn list_listings(&self, query: &ListingQuery) -> StoreResult<Page<Listing>> {
        let limit = query.limit.clamp(1, ListingQuery::MAX_LIMIT);
        let mut select = filtered(&query.filter);
        if let Some(after) = &query.after {
            select = select.filter(listings::id.gt(after.as_str()));
        }
        let mut conn = self.conn()?;
        let rows: Vec<(String, String)> = select
            .select((listings::doc, listings::status))
            .order(listings::id.asc())
            .limit(i64::from(limit))
            .load(&mut *conn)
            .map_err(map_diesel)?;
        let items = rows
            .iter()
            .map(|(doc, status)| decode(doc, status))
            .collect::<StoreResult<Vec<_>>>()?;
        let next_after = if items.len() == limit as usize {
            items.last().map(|l| l.id().clone())
        } else {
            None
        };
        Ok(Page { items, next_after })
    }

    fn count_listings(&self, filter: &ListingFilter) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        let count: i64 = filtered(filter)
            .count()
            .get_result(&mut *conn)
            .map_err(map_diesel)?;
        u64::try_from(count).map_err(|_| StoreError::Internal(format!("negative count {count}")))
    }

    fn retire_listing(&self, id: &ListingId, at: DateTime<Utc>) -> StoreResult<bool> {
        let at = micros(at);
        self.write(|conn| {
            let row: Option<(String, String)> = listings::table
                .find(id.as_str())
                .select((listings::vendor, listings::status))
                .first(conn)
                .optional()?;
            let Some((vendor, status)) = row else {
                return Err(StoreError::NotFound {
                    entity: "listing",
                    id: id.to_string(),
                }
                .into());
            };
            if status == ListingStatus::Retired.as_str() {
                return Ok(false);
            }
            diesel::update(listings::table.find(id.as_str()))
                .set((
                    listings::status.eq(ListingStatus::Retired.as_str()),
                    listings::updated_at.eq(at),
                ))
                .execute(conn)?;
            append_changes(
                conn,
                &[ChangeRow {
                    listing_id: id.to_string(),
                    vendor: &vendor,
                    kind: ChangeKind::Retired.as_str(),
                    recorded_at: at,
                }],
            )?;
            Ok(true)
        })
    }

    fn retire_unseen(
        &self,
        scope: &RetireScope,
        seen_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (seen_before, at) = (micros(seen_before), micros(at));
        let vendor = scope.vendor.id();
        self.write(|conn| {
            let mut select = listings::table
                .filter(listings::vendor.eq(vendor))
                .filter(listings::status.eq(ListingStatus::Active.as_str()))
                .filter(listings::last_seen_at.lt(seen_before))
                .select(listings::id)
                .order(listings::id.asc())
                .into_boxed::<Db>();
            if let Some(service) = &scope.service {
                select = select.filter(listings::service.eq(service.as_str()));
            }
            let ids: Vec<String> = select.load(conn)?;
            for chunk in ids.chunks(CHUNK) {
                diesel::update(listings::table.filter(listings::id.eq_any(chunk)))
                    .set((
                        listings::status.eq(ListingStatus::Retired.as_str()),
                        listings::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
            let changes: Vec<ChangeRow<'_>> = ids
                .iter()
                .map(|id| ChangeRow {
                    listing_id: id.clone(),
                    vendor,
                    kind: ChangeKind::Retired.as_str(),
                    recorded_at: at,
                })
                .collect();
            append_changes(conn, &changes)?;
            Ok(ids.len() as u64)
        })
    }

    fn price_history(&self, id: &ListingId) -> StoreResult<Vec<PricePoint>> {
        let mut conn = self.conn()?;
        let rows: Vec<(i64, String)> = listing_price_history::table
            .filter(listing_price_history::listing_id.eq(id.as_str()))
            .select((
                listing_price_history::recorded_at,
                listing_price_history::prices,
            ))
            .order(listing_price_history::id.asc())
            .load(&mut *conn)
            .map_err(map_diesel)?;
        if rows.is_empty() {
            // Every stored listing has a first point: none means no listing.
            return Err(StoreError::NotFound {
                entity: "listing",
                id: id.to_string(),
            });
        }
        rows.into_iter()
            .map(|(recorded_at, prices)| {
                let prices: Vec<PriceComponent> = serde_json::from_str(&prices).map_err(|e| {
                    StoreError::Internal(format!("corrupt price history of {id}: {e}"))
                })?;
                Ok(PricePoint {
                    recorded_at: from_micros(recorded_at)?,
                    prices,
                })
            })
            .collect()
    }
}

impl ChangeFeed for Database {
    fn read_changes(&self, after: u64, limit: u32) -> StoreResult<Vec<ChangeEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let mut conn = self.conn()?;
        let rows: Vec<ChangeRecord> = listing_changes::table
            .filter(listing_changes::seq.gt(after))
            .order(listing_changes::seq.asc())
            .limit(i64::from(limit))
            .select((
                listing_changes::seq,
                listing_changes::listing_id,
                listing_changes::vendor,
                listing_changes::kind,
                listing_changes::recorded_at,
            ))
            .load(&mut *conn)
            .map_err(map_diesel)?;
        rows.into_iter().map(ChangeEvent::try_from).collect()
    }

    fn latest_seq(&self) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        let max: Option<i64> = listing_changes::table
            .select(diesel::dsl::max(listing_changes::seq))
            .first(&mut *conn)
            .map_err(map_diesel)?;
        u64::try_from(max.unwrap_or(0))
            .map_err(|_| StoreError::Internal("negative change feed seq".into()))
    }
}
