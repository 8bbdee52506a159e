//! The scheduler runs a vendor's sync when its cron schedule fires, and each
//! firing once across instances sharing one PostgreSQL.

#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::Stream;

use serde_json::{Value, json};
use shiyun_connectors::schedule::Schedules;
use shiyun_connectors::schedule::job_name;
use shiyun_connectors::scheduler::Scheduler;
use shiyun_connectors::sync::SyncStores;
use shiyun_connectors::{Connector, ConnectorError, VendorSettings};
use shiyun_core::listing::Vendor;
use shiyun_core::store::{
    JobLock, ListingFilter, ListingStore, RunStatus, SyncRun, SyncRunStore, SyncTrigger,
};
use shiyun_schema::Database;
use shiyun_schema::testing::TestDatabase;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{live_connector, settings_for};

fn azure_item(n: u32) -> Value {
    json!({
        "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": 0.5, "unitPrice": 0.5,
        "armRegionName": "westeurope", "location": "EU West", "effectiveStartDate": "2024-01-01T00:00:00Z",
        "meterId": format!("meter-{n}"), "meterName": "D2 v5", "productId": "DZH318Z0BQ4L",
        "skuId": format!("DZH318Z0BQ4L/{n:04}"), "productName": "Virtual Machines Dv5 Series",
        "skuName": "D2 v5", "serviceName": "Virtual Machines", "serviceId": "DZH313Z7MMC8",
        "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption",
        "isPrimaryMeterRegion": true, "armSkuName": "Standard_D2_v5"
    })
}

/// A local Retail Prices API answering one page, and Azure settings syncing
/// it every second.
async fn every_second() -> (MockServer, VendorSettings) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
            "Items": [azure_item(1), azure_item(2)], "NextPageLink": null, "Count": 2
        })))
        .mount(&server)
        .await;
    let mut settings = settings_for(&format!("{}/api/retail/prices", server.uri()));
    settings.services = vec!["Virtual Machines".into()];
    settings.regions = vec!["westeurope".into()];
    settings.schedule = Some("* * * * * *".into());
    (server, settings)
}

/// A scheduler of Azure alone over `db`.
fn scheduler(db: &Database, settings: &VendorSettings) -> Scheduler {
    let schedules = Schedules::from_settings([(Vendor::Azure, settings)]).unwrap();
    let settings = settings.clone();
    let connect = move |vendor: Vendor| -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(live_connector(vendor, &settings))
    };
    Scheduler::new(schedules, SyncStores::of(db.clone()), Arc::new(connect))
}

async fn azure_runs(db: &Database) -> Vec<SyncRun> {
    let store = db.clone();
    tokio::task::spawn_blocking(move || store.recent_sync_runs(Some(Vendor::Azure), 50))
        .await
        .unwrap()
        .unwrap()
}

/// Ticks at `from` and then at `to`: the firings of the second in between
/// are due once.
fn ticks(from: DateTime<Utc>, to: DateTime<Utc>) -> impl Stream<Item = DateTime<Utc>> {
    futures::stream::iter([from, to])
}

/// The last two seconds, which hold at least one firing of `* * * * * *`.
fn just_past() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = Utc::now();
    (now - chrono::Duration::seconds(2), now)
}

async fn a_due_sync_runs(db: TestDatabase) {
    let (_server, settings) = every_second().await;
    let (from, to) = just_past();
    scheduler(&db, &settings).run_on(ticks(from, to)).await;
    let runs = azure_runs(&db).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_eq!(runs[0].trigger, SyncTrigger::Schedule);
    assert_eq!(runs[0].report.new + runs[0].report.unchanged, 2);
    assert_eq!(db.count_listings(&ListingFilter::default()).unwrap(), 2);

    // A tick with nothing due between it and the last runs nothing.
    scheduler(&db, &settings)
        .run_on(futures::stream::iter([to, to]))
        .await;
    assert_eq!(azure_runs(&db).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_sync_runs_sqlite() {
    a_due_sync_runs(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_sync_runs_postgres() {
    a_due_sync_runs(TestDatabase::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_run_each_firing_once() {
    let (server, settings) = every_second().await;
    let db = TestDatabase::postgres();
    // A second instance: its own pool on the same PostgreSQL schema.
    let other = Database::open(db.url(), 4).unwrap();
    let (first, second) = (scheduler(&db, &settings), scheduler(&other, &settings));
    let (from, to) = just_past();

    // Both instances tick over the same firing at once: one runs it.
    futures::join!(
        first.run_on(ticks(from, to)),
        second.run_on(ticks(from, to))
    );
    let runs = azure_runs(&db).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    // Either instance ticking over it later finds it done.
    second.run_on(ticks(from, to)).await;
    first.run_on(ticks(from, to)).await;
    assert_eq!(azure_runs(&db).await.len(), 1);

    // While one instance holds the vendor's lock, the other runs nothing.
    let held = other
        .try_lock_job(&job_name(Vendor::Azure))
        .unwrap()
        .unwrap();
    let after_run = runs[0].started_at;
    let next = (after_run, after_run + chrono::Duration::seconds(2));
    first.run_on(ticks(next.0, next.1)).await;
    assert_eq!(azure_runs(&db).await.len(), 1, "the lock is held elsewhere");
    drop(held);

    // The next firing runs again.
    first.run_on(ticks(next.0, next.1)).await;
    let runs = azure_runs(&db).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs.iter()
            .all(|r| r.trigger == SyncTrigger::Schedule && r.status == RunStatus::Succeeded)
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2, "one vendor request per run");
}
