//! Listing builders, times, and the schema-level tests.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use shiyun_core::listing::{
    BillingMode, Category, Listing, PriceComponent, PriceUnit, Provenance, Region, Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{ChangeFeed, JobLock, ListingStore, StoreHealth, SyncRunStore};
use shiyun_core::tenancy::UserCentreStore;
use shiyun_schema::testing::TestDatabase;
use shiyun_schema::{Backend, Database};

/// Every store trait at once.
pub trait Store:
    ListingStore + ChangeFeed + StoreHealth + SyncRunStore + JobLock + UserCentreStore + Clone + 'static
{
}
impl<
    T: ListingStore
        + ChangeFeed
        + StoreHealth
        + SyncRunStore
        + JobLock
        + UserCentreStore
        + Clone
        + 'static,
> Store for T
{
}

/// `secs` seconds after a fixed instant (whole microseconds, as stored).
pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

/// A listing with one hourly price.
pub fn listing(vendor: Vendor, sku: &str, amount: &str) -> Listing {
    listing_in(vendor, sku, "svc", "region-1", amount)
}

/// A listing in a given service and region.
pub fn listing_in(vendor: Vendor, sku: &str, service: &str, region: &str, amount: &str) -> Listing {
    let price = Money::parse(amount, Currency::CNY).unwrap();
    let provenance = Provenance::from_raw("test.api", sku.as_bytes(), at(0));
    Listing::builder(vendor, sku, provenance)
        .category(Category::parse("compute.vm").unwrap())
        .service(service)
        .name_en(format!("instance {sku}"))
        .name_zh(format!("实例 {sku}"))
        .region(Region::new(region, "cn", Some("hangzhou")).unwrap())
        .price(PriceComponent::flat(BillingMode::OnDemand, PriceUnit::Hour, price).unwrap())
        .build()
        .unwrap()
}

/// The same listing with another price (same currency).
pub fn repriced(listing: &Listing, amount: &str) -> Listing {
    let mut data = listing.clone().into_data();
    let currency = data.prices[0].amount.currency();
    data.prices[0].amount = Money::new(amount.parse::<Decimal>().unwrap(), currency);
    Listing::try_from(data).unwrap()
}

/// Runs `sql` on a connection of its own, behind the store's back (to
/// corrupt stored data on purpose).
pub fn execute_behind_the_store(db: &TestDatabase, sql: &str) {
    use diesel::prelude::*;
    match db.url().strip_prefix("sqlite://") {
        Some(path) => {
            diesel::sql_query(sql).execute(&mut SqliteConnection::establish(path).unwrap())
        }
        None => diesel::sql_query(sql).execute(&mut PgConnection::establish(db.url()).unwrap()),
    }
    .unwrap();
}

pub fn migrate_twice_is_harmless(db: &TestDatabase) {
    use shiyun_core::listing::ListingStatus;
    let store: &Database = db;
    store
        .upsert_listings(&[listing(Vendor::Aws, "a", "1.00")], at(1))
        .unwrap();
    store.migrate().unwrap();
    store.migrate().unwrap();
    // A second instance on the same database migrates too and sees the data.
    let other = Database::open(db.url(), 2).unwrap();
    assert_eq!(other.backend(), db.backend());
    other.migrate().unwrap();
    let got = other
        .get_listing(listing(Vendor::Aws, "a", "1.00").id())
        .unwrap()
        .unwrap();
    assert_eq!(got.status(), ListingStatus::Active);
}

/// Several instances migrating one fresh database at once all succeed and
/// leave one schema.
pub fn concurrent_migrations_agree(db: &TestDatabase) {
    use diesel::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("test_mig_{:016x}", fastrand::u64(..));
    let url = match db.backend() {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("fresh.db").display()),
        Backend::Postgres => {
            let admin = std::env::var("TEST_POSTGRES_URL")
                .unwrap_or_else(|_| shiyun_schema::testing::DEFAULT_POSTGRES_URL.to_owned());
            let mut conn = PgConnection::establish(&admin).unwrap();
            diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .unwrap();
            let separator = if admin.contains('?') { '&' } else { '?' };
            format!("{admin}{separator}options=-c%20search_path%3D{schema}")
        }
    };
    let result = std::panic::catch_unwind(|| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || Database::open(&url, 1).and_then(|db| db.migrate()))
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let fresh = Database::open(&url, 1).unwrap();
        fresh
            .upsert_listings(&[listing(Vendor::Aws, "m", "1")], at(1))
            .unwrap();
    });
    if db.backend() == Backend::Postgres {
        let admin = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| shiyun_schema::testing::DEFAULT_POSTGRES_URL.to_owned());
        let mut conn = PgConnection::establish(&admin).unwrap();
        diesel::sql_query(format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .unwrap();
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
