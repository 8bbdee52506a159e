//! The scheduler runs a vendor's sync when its cron schedule fires, and each
//! firing once across instances sharing one PostgreSQL.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use shiyun_connectors::schedule::Schedules;
use shiyun_connectors::scheduler::{SCHEDULE_TRIGGER, Scheduler};
use shiyun_connectors::sync::SyncStores;
use shiyun_connectors::{Connector, ConnectorError, VendorSettings};
use shiyun_core::listing::Vendor;
use shiyun_core::store::{ListingFilter, ListingStore, RunStatus, SyncRun, SyncRunStore};
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

/// A scheduler of Azure alone over `db`, looking every `tick`.
fn scheduler(db: &Database, settings: &VendorSettings, tick: Duration) -> Scheduler {
    let schedules = Schedules::from_settings([(Vendor::Azure, settings)]).unwrap();
    let stores = SyncStores {
        listings: Arc::new(db.clone()),
        runs: Arc::new(db.clone()),
    };
    let settings = settings.clone();
    let connect = move |vendor: Vendor| -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(live_connector(vendor, &settings))
    };
    Scheduler::new(schedules, stores, Arc::new(db.clone()), Arc::new(connect)).with_tick(tick)
}

async fn azure_runs(db: &Database) -> Vec<SyncRun> {
    let store = db.clone();
    tokio::task::spawn_blocking(move || store.recent_sync_runs(Some(Vendor::Azure), 50))
        .await
        .unwrap()
        .unwrap()
}

async fn a_due_sync_runs(db: TestDatabase) {
    let (_server, settings) = every_second().await;
    let task = tokio::spawn(scheduler(&db, &settings, Duration::from_millis(100)).run());
    let mut runs = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        runs = azure_runs(&db).await;
        if runs.iter().any(|r| r.status == RunStatus::Succeeded) {
            break;
        }
    }
    task.abort();
    let run = runs
        .iter()
        .find(|r| r.status == RunStatus::Succeeded)
        .expect("a scheduled run succeeded within 5 s");
    assert_eq!(run.trigger, SCHEDULE_TRIGGER);
    assert_eq!(run.report.new + run.report.unchanged, 2);
    assert_eq!(db.count_listings(&ListingFilter::default()).unwrap(), 2);
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
    let tick = Duration::from_millis(50);
    let first = tokio::spawn(scheduler(&db, &settings, tick).run());
    let second = tokio::spawn(scheduler(&other, &settings, tick).run());
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    first.abort();
    second.abort();

    let mut starts: Vec<_> = azure_runs(&db)
        .await
        .iter()
        .filter(|r| r.trigger == SCHEDULE_TRIGGER)
        .map(|r| r.started_at)
        .collect();
    starts.sort();
    assert!(
        starts.len() >= 2,
        "{} scheduled runs in 3.5 s",
        starts.len()
    );
    for pair in starts.windows(2) {
        assert!(
            pair[1] - pair[0] >= chrono::Duration::milliseconds(200),
            "two runs of one firing: {} and {}",
            pair[0],
            pair[1]
        );
    }
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), starts.len(), "one vendor request per run");
}
