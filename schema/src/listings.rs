//! `ListingStore` and `ChangeFeed` on [`Database`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use shiyun_core::listing::{Listing, ListingId, ListingStatus, PriceComponent, VendorRef};
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

#[derive(Insertable)]
#[diesel(table_name = listings, treat_none_as_default_value = false)]
struct ListingRow<'a> {
    id: &'a str,
    vendor: &'a str,
    vendor_sku: &'a str,
    category: &'a str,
    service: &'a str,
    region: &'a str,
    status: &'static str,
    name_en: Option<&'a str>,
    name_zh: Option<&'a str>,
    content_hash: &'a str,
    price_hash: &'a str,
    doc: String,
    fetched_at: i64,
    first_seen_at: i64,
    last_seen_at: i64,
    updated_at: i64,
}

impl<'a> ListingRow<'a> {
    /// The row of a new or changed listing as upserted at `seen`; the only
    /// place a listing is serialised whole.
    fn new(incoming: &'a Incoming<'a>, seen: i64) -> StoreResult<Self> {
        let listing = incoming.listing;
        let doc = serde_json::to_string(listing).map_err(|e| {
            StoreError::Internal(format!("cannot serialise listing {}: {e}", listing.id()))
        })?;
        let name = listing.name();
        Ok(ListingRow {
            id: listing.id().as_str(),
            vendor: listing.vendor().id(),
            vendor_sku: listing.vendor_sku(),
            category: listing.category().as_str(),
            service: listing.service(),
            region: &listing.region().code,
            status: listing.status().as_str(),
            name_en: name.en.as_deref(),
            name_zh: name.zh.as_deref(),
            content_hash: &incoming.content_hash,
            price_hash: &incoming.price_hash,
            doc,
            fetched_at: micros(listing.provenance().fetched_at),
            first_seen_at: seen,
            last_seen_at: seen,
            updated_at: seen,
        })
    }
}

/// A listing of the batch with its fingerprints, computed before the
/// transaction: all the diff needs.
struct Incoming<'a> {
    listing: &'a Listing,
    content_hash: String,
    price_hash: String,
}

impl<'a> Incoming<'a> {
    fn new(listing: &'a Listing) -> Self {
        Incoming {
            listing,
            content_hash: listing.content_fingerprint(),
            price_hash: listing.price_fingerprint(),
        }
    }

    fn price_row(&self, seen: i64) -> StoreResult<PriceRow<'a>> {
        let listing = self.listing;
        let prices = serde_json::to_string(listing.prices()).map_err(|e| {
            StoreError::Internal(format!("cannot serialise prices of {}: {e}", listing.id()))
        })?;
        Ok(PriceRow {
            listing_id: listing.id().as_str(),
            recorded_at: seen,
            prices,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = listing_price_history)]
struct PriceRow<'a> {
    listing_id: &'a str,
    recorded_at: i64,
    prices: String,
}

#[derive(Insertable)]
#[diesel(table_name = listing_changes)]
struct ChangeRow<'a> {
    listing_id: &'a str,
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
            vendor: VendorRef::parse(&r.vendor).map_err(|e| corrupt(&e.to_string()))?,
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
    if let Some(vendor) = &filter.vendor {
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

/// Rows per PostgreSQL `UNNEST` insert: the binds are one array per column,
/// so only statement size bounds this.
const PG_CHUNK: usize = 2_000;

/// Inserts new listing rows: multi-row `INSERT`s on SQLite; on PostgreSQL one
/// `INSERT … SELECT FROM UNNEST` per chunk with one array bind per column,
/// which spares the server parsing and planning a statement of thousands of
/// parameters for every chunk.
fn insert_listings(
    conn: &mut DbConnection,
    rows: &[ListingRow<'_>],
    seen: i64,
) -> Result<(), TxError> {
    let DbConnection::Pg(pg) = conn else {
        insert_chunks!(conn, listings::table, rows);
        return Ok(());
    };
    for chunk in rows.chunks(PG_CHUNK) {
        diesel::sql_query(
            "INSERT INTO listings (id, vendor, vendor_sku, category, service, region, status, \
             name_en, name_zh, content_hash, price_hash, doc, fetched_at, first_seen_at, \
             last_seen_at, updated_at) \
             SELECT u.*, $14, $14, $14 FROM UNNEST($1::text[], $2::text[], $3::text[], \
             $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
             $10::text[], $11::text[], $12::text[], $13::int8[]) AS u",
        )
        .bind::<Array<Text>, _>(column(chunk, |r| r.id))
        .bind::<Array<Text>, _>(column(chunk, |r| r.vendor))
        .bind::<Array<Text>, _>(column(chunk, |r| r.vendor_sku))
        .bind::<Array<Text>, _>(column(chunk, |r| r.category))
        .bind::<Array<Text>, _>(column(chunk, |r| r.service))
        .bind::<Array<Text>, _>(column(chunk, |r| r.region))
        .bind::<Array<Text>, _>(column(chunk, |r| r.status))
        .bind::<Array<Nullable<Text>>, _>(column(chunk, |r| r.name_en))
        .bind::<Array<Nullable<Text>>, _>(column(chunk, |r| r.name_zh))
        .bind::<Array<Text>, _>(column(chunk, |r| r.content_hash))
        .bind::<Array<Text>, _>(column(chunk, |r| r.price_hash))
        .bind::<Array<Text>, _>(column(chunk, |r| &r.doc))
        .bind::<Array<BigInt>, _>(column(chunk, |r| r.fetched_at))
        .bind::<BigInt, _>(seen)
        .execute(pg)?;
    }
    Ok(())
}

/// One column of `rows`, as one array bind.
fn column<'r, R, V>(rows: &'r [R], value: impl Fn(&'r R) -> V) -> Vec<V> {
    rows.iter().map(value).collect()
}

/// Appends price history rows (see [`insert_listings`] for PostgreSQL).
fn insert_prices(conn: &mut DbConnection, rows: &[PriceRow<'_>]) -> Result<(), TxError> {
    let DbConnection::Pg(pg) = conn else {
        insert_chunks!(conn, listing_price_history::table, rows);
        return Ok(());
    };
    for chunk in rows.chunks(PG_CHUNK) {
        diesel::sql_query(
            "INSERT INTO listing_price_history (listing_id, recorded_at, prices) \
             SELECT u.listing_id, u.recorded_at, u.prices \
             FROM UNNEST($1::text[], $2::int8[], $3::text[]) \
             WITH ORDINALITY AS u(listing_id, recorded_at, prices, ord) ORDER BY u.ord",
        )
        .bind::<Array<Text>, _>(column(chunk, |r| r.listing_id))
        .bind::<Array<BigInt>, _>(column(chunk, |r| r.recorded_at))
        .bind::<Array<Text>, _>(column(chunk, |r| r.prices.as_str()))
        .execute(pg)?;
    }
    Ok(())
}

/// Appends feed entries; `seq` follows insertion order (see
/// [`insert_listings`] for PostgreSQL).
fn append_changes(conn: &mut DbConnection, changes: &[ChangeRow<'_>]) -> Result<(), TxError> {
    let DbConnection::Pg(pg) = conn else {
        insert_chunks!(conn, listing_changes::table, changes);
        return Ok(());
    };
    for chunk in changes.chunks(PG_CHUNK) {
        diesel::sql_query(
            "INSERT INTO listing_changes (listing_id, vendor, kind, recorded_at) \
             SELECT u.listing_id, u.vendor, u.kind, u.recorded_at \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[]) \
             WITH ORDINALITY AS u(listing_id, vendor, kind, recorded_at, ord) ORDER BY u.ord",
        )
        .bind::<Array<Text>, _>(column(chunk, |r| r.listing_id))
        .bind::<Array<Text>, _>(column(chunk, |r| r.vendor))
        .bind::<Array<Text>, _>(column(chunk, |r| r.kind))
        .bind::<Array<BigInt>, _>(column(chunk, |r| r.recorded_at))
        .execute(pg)?;
    }
    Ok(())
}

/// Overwrites stored rows with `rows` (all but `first_seen_at`), as
/// multi-row `INSERT … ON CONFLICT (id) DO UPDATE` statements: every row
/// exists, so each one is an update, and a chunk costs one statement instead
/// of one per row.
fn update_rows(conn: &mut DbConnection, rows: &[ListingRow<'_>]) -> Result<(), TxError> {
    use diesel::upsert::excluded;
    macro_rules! upsert {
        ($c:expr, $chunk:expr) => {
            diesel::insert_into(listings::table)
                .values($chunk)
                .on_conflict(listings::id)
                .do_update()
                .set((
                    listings::vendor.eq(excluded(listings::vendor)),
                    listings::vendor_sku.eq(excluded(listings::vendor_sku)),
                    listings::category.eq(excluded(listings::category)),
                    listings::service.eq(excluded(listings::service)),
                    listings::region.eq(excluded(listings::region)),
                    listings::status.eq(excluded(listings::status)),
                    listings::name_en.eq(excluded(listings::name_en)),
                    listings::name_zh.eq(excluded(listings::name_zh)),
                    listings::content_hash.eq(excluded(listings::content_hash)),
                    listings::price_hash.eq(excluded(listings::price_hash)),
                    listings::doc.eq(excluded(listings::doc)),
                    listings::fetched_at.eq(excluded(listings::fetched_at)),
                    listings::last_seen_at.eq(excluded(listings::last_seen_at)),
                    listings::updated_at.eq(excluded(listings::updated_at)),
                ))
                .execute($c)?
        };
    }
    for chunk in rows.chunks(CHUNK) {
        match &mut *conn {
            DbConnection::Sqlite(c) => upsert!(c, chunk),
            DbConnection::Pg(c) => upsert!(c, chunk),
        };
    }
    Ok(())
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
        // Only the fingerprints before the transaction: most listings of a
        // sync are unchanged, and those are never serialised whole.
        let incoming: Vec<Incoming<'_>> = unique.into_iter().map(Incoming::new).collect();

        self.write(|conn| {
            // What the store holds of each listing: status and both hashes.
            let mut stored: HashMap<String, (String, String, String)> =
                HashMap::with_capacity(incoming.len());
            // `IN` lists: bind parameters on SQLite, one array bind on PostgreSQL.
            let id_chunk = match conn {
                DbConnection::Sqlite(_) => CHUNK,
                DbConnection::Pg(_) => PG_CHUNK,
            };
            for chunk in incoming.chunks(id_chunk) {
                let ids: Vec<&str> = chunk.iter().map(|i| i.listing.id().as_str()).collect();
                let rows: Vec<(String, String, String, String)> = listings::table
                    .filter(listings::id.eq_any(ids))
                    .select((
                        listings::id,
                        listings::status,
                        listings::content_hash,
                        listings::price_hash,
                    ))
                    .load(conn)?;
                stored.extend(
                    rows.into_iter()
                        .map(|(id, status, content, price)| (id, (status, content, price))),
                );
            }

            let mut report = UpsertReport::default();
            let mut inserts: Vec<ListingRow<'_>> = Vec::new();
            let mut updates: Vec<ListingRow<'_>> = Vec::new();
            let mut seen_only: Vec<&str> = Vec::new();
            let mut prices: Vec<PriceRow<'_>> = Vec::new();
            let mut changes: Vec<ChangeRow<'_>> = Vec::new();
            for item in &incoming {
                let listing = item.listing;
                let id = listing.id().as_str();
                let status = listing.status().as_str();
                let kind = match stored.get(id) {
                    None => {
                        report.new += 1;
                        prices.push(item.price_row(seen)?);
                        ChangeKind::Created
                    }
                    Some((old_status, old_content, old_price)) => {
                        let status_changed = old_status != status;
                        if !status_changed && *old_content == item.content_hash {
                            report.unchanged += 1;
                            seen_only.push(id);
                            continue;
                        }
                        if *old_price != item.price_hash {
                            prices.push(item.price_row(seen)?);
                        }
                        // A flip to retired counts as retired; a reactivation as
                        // changed, since the report has no field of its own for it.
                        match (status_changed, listing.status()) {
                            (true, ListingStatus::Retired) => {
                                report.retired += 1;
                                ChangeKind::Retired
                            }
                            (true, ListingStatus::Active) => {
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
                    listing_id: id,
                    vendor: listing.vendor().id(),
                    kind: kind.as_str(),
                    recorded_at: seen,
                });
                let row = ListingRow::new(item, seen)?;
                if kind == ChangeKind::Created {
                    inserts.push(row);
                } else {
                    updates.push(row);
                }
            }

            insert_listings(conn, &inserts, seen)?;
            update_rows(conn, &updates)?;
            for chunk in seen_only.chunks(id_chunk) {
                diesel::update(listings::table.filter(listings::id.eq_any(chunk)))
                    .set(listings::last_seen_at.eq(seen))
                    .execute(conn)?;
            }
            insert_prices(conn, &prices)?;
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
                    listing_id: id.as_str(),
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
            let unseen = |pair: Option<(&str, &str)>| {
                let mut select = listings::table
                    .filter(listings::vendor.eq(vendor))
                    .filter(listings::status.eq(ListingStatus::Active.as_str()))
                    .filter(listings::last_seen_at.lt(seen_before))
                    .select(listings::id)
                    .order(listings::id.asc())
                    .into_boxed::<Db>();
                if let Some(service) = &scope.service {
                    select = select.filter(listings::service.eq(service.clone()));
                }
                if let Some((service, region)) = pair {
                    select = select
                        .filter(listings::service.eq(service.to_owned()))
                        .filter(listings::region.eq(region.to_owned()));
                }
                select
            };
            let ids: Vec<String> = if scope.seen_pairs_only {
                // The (service, region) pairs this sync returned listings for.
                let pairs: Vec<(String, String)> = listings::table
                    .filter(listings::vendor.eq(vendor))
                    .filter(listings::last_seen_at.ge(seen_before))
                    .select((listings::service, listings::region))
                    .distinct()
                    .load(conn)?;
                let mut ids = Vec::new();
                for (service, region) in &pairs {
                    ids.extend(unseen(Some((service, region))).load::<String>(conn)?);
                }
                ids
            } else {
                unseen(None).load(conn)?
            };
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
                    listing_id: id,
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
