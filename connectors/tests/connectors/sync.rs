//! The shared HTTP client (retries, Retry-After, credentials, rate limit)
//! against wiremock on 127.0.0.1, and the sync engine against the real
//! stores on SQLite and PostgreSQL.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_connectors::http::{RetryConfig, VendorClient, VendorResponse, Verdict};
use shiyun_connectors::sync::{self, NoProgress, PageDone, SyncOptions, SyncProgress, SyncStores};
use shiyun_connectors::{Connector, ConnectorError, FetchedPage, ImportContext, VendorSettings};
use shiyun_core::listing::{
    BillingMode, Category, Listing, ListingStatus, PriceComponent, PriceUnit, Provenance, Region,
    Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{
    ChangeFeed, ChangeKind, ListingFilter, ListingStore, RecordRejection, RunStatus, StoreError,
    SyncRun, SyncRunStore,
};
use shiyun_schema::testing::TestDatabase;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

// ================================================================ HTTP

fn client(max_retries: u32) -> VendorClient {
    VendorClient::new(Vendor::Aws, &VendorSettings::default())
        .unwrap()
        .with_retry(RetryConfig {
            max_retries,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        })
}

/// A build closure that counts its calls and stamps each attempt, as a
/// signer stamps a fresh timestamp.
fn counted_get(
    url: String,
    calls: &AtomicUsize,
) -> impl Fn(&reqwest::Client) -> Result<reqwest::Request, ConnectorError> + Send + Sync + '_ {
    move |http: &reqwest::Client| {
        let attempt = calls.fetch_add(1, Ordering::SeqCst);
        http.get(&url)
            .header("x-attempt", attempt.to_string())
            .build()
            .map_err(|e| ConnectorError::Config(e.to_string()))
    }
}

/// GETs `<server>/x` on a [`client`] with `max_retries`, counting attempts in `calls`.
async fn get_x(
    server: &MockServer,
    max_retries: u32,
    calls: &AtomicUsize,
) -> Result<VendorResponse, ConnectorError> {
    client(max_retries)
        .execute(counted_get(format!("{}/x", server.uri()), calls))
        .await
}

async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

#[tokio::test]
async fn http_redirects_are_not_followed() {
    // A redirect would carry query-string keys to wherever it points.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/x"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/elsewhere?key=secret"))
        .mount(&server)
        .await;
    let calls = AtomicUsize::new(0);
    let err = get_x(&server, 2, &calls).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Http { status: 302, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("redirected to /elsewhere"), "{message}");
    assert!(!message.contains("secret"), "no query in errors: {message}");
    let paths: Vec<String> = received(&server)
        .await
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/x"], "the redirect target was never asked");
}

#[tokio::test]
async fn http_429_with_retry_after_then_200() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/prices"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/prices"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    let response = client(3)
        .execute(counted_get(format!("{}/prices", server.uri()), &calls))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"ok");
    // Retry-After: 1 wins over the 2 ms backoff.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn http_500_and_503_then_200_rebuilds_each_attempt() {
    let server = MockServer::start().await;
    for status in [500, 503] {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).set_body_string("busy"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    let calls = AtomicUsize::new(0);
    let response = get_x(&server, 5, &calls).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let attempts: Vec<String> = received(&server)
        .await
        .iter()
        .map(|r| r.headers["x-attempt"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        attempts,
        ["0", "1", "2"],
        "each attempt is built (and signed) afresh"
    );
}

#[tokio::test]
async fn http_401_and_403_are_credentials_rejected_without_retry() {
    for status in [401, 403] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).set_body_string(
                r#"{"message":"The security token included in the request is invalid."}"#,
            ))
            .mount(&server)
            .await;
        let calls = AtomicUsize::new(0);
        let err = get_x(&server, 5, &calls).await.unwrap_err();
        match err {
            ConnectorError::CredentialsRejected { vendor, message } => {
                assert_eq!(vendor, Vendor::Aws);
                assert!(message.contains("security token"), "{message}");
            }
            other => panic!("expected CredentialsRejected, got {other:?}"),
        }
        assert_eq!(
            received(&server).await.len(),
            1,
            "HTTP {status} is not retried"
        );
    }
}

#[tokio::test]
async fn http_retries_exhausted_is_the_last_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .mount(&server)
        .await;
    let calls = AtomicUsize::new(0);
    let err = get_x(&server, 2, &calls).await.unwrap_err();
    match err {
        ConnectorError::Http {
            status, message, ..
        } => {
            assert_eq!(status, 503);
            assert_eq!(message, "Service Unavailable");
        }
        other => panic!("expected Http, got {other:?}"),
    }
    assert_eq!(
        received(&server).await.len(),
        3,
        "the first attempt and 2 retries"
    );
}

#[tokio::test]
async fn http_other_4xx_fail_at_once_with_a_body_excerpt() {
    let server = MockServer::start().await;
    let long = format!(
        "{{\"Code\":\"InvalidParameter\",\"pad\":\"{}\"}}",
        "x".repeat(4000)
    );
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_string(long))
        .mount(&server)
        .await;
    let calls = AtomicUsize::new(0);
    let err = get_x(&server, 5, &calls).await.unwrap_err();
    let ConnectorError::Http {
        status: 400,
        message,
        ..
    } = err
    else {
        panic!("expected Http 400, got {err:?}");
    };
    assert!(message.starts_with("{\"Code\":\"InvalidParameter\""));
    assert!(
        message.chars().count() < 600,
        "an excerpt, not the whole body"
    );
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn http_retry_after_beyond_the_cap_fails_instead_of_waiting() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    let err = get_x(&server, 5, &calls).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Http { status: 429, .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn http_connection_errors_are_retried_then_transport() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let calls = AtomicUsize::new(0);
    let err = client(2)
        .execute(counted_get(format!("http://127.0.0.1:{port}/x"), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Transport {
                vendor: Vendor::Aws,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn http_timeouts_are_retried_transport_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let settings = VendorSettings {
        timeout_seconds: Some(1),
        ..VendorSettings::default()
    };
    let client = VendorClient::new(Vendor::Ucloud, &settings)
        .unwrap()
        .with_retry(RetryConfig {
            max_retries: 1,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(2),
            max_retry_after: Duration::from_secs(1),
        });
    assert_eq!(client.timeout(), Duration::from_secs(1));
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    let err = client
        .execute(counted_get(format!("{}/slow", server.uri()), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Transport {
                vendor: Vendor::Ucloud,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn http_stream_checks_status_and_leaves_the_body_to_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let body = "sku,price\n".repeat(100_000);
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body.clone()))
        .mount(&server)
        .await;
    let calls = AtomicUsize::new(0);
    let response = client(3)
        .execute_stream(counted_get(format!("{}/offers.csv", server.uri()), &calls))
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total, body.len());
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A 401 on the stream form is the same error.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let err = client(3)
        .execute_stream(counted_get(format!("{}/offers.csv", server.uri()), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::CredentialsRejected { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_classifier_reads_vendor_envelopes() {
    // Tencent-style: HTTP 200 with a throttling code, then success.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"Response":{"Error":{"Code":"RequestLimitExceeded"}}}"#),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure"}}}"#,
            ),
        )
        .mount(&server)
        .await;
    let classifier: shiyun_connectors::http::Classifier = Arc::new(|vendor, response| {
        let body = String::from_utf8_lossy(&response.body);
        if body.contains("RequestLimitExceeded") {
            Some(Verdict::Retry)
        } else if body.contains("AuthFailure") {
            Some(Verdict::Fail(ConnectorError::CredentialsRejected {
                vendor,
                message: "AuthFailure.SignatureFailure".into(),
            }))
        } else {
            None
        }
    });
    let calls = AtomicUsize::new(0);
    let err = client(3)
        .with_classifier(classifier)
        .execute(counted_get(format!("{}/x", server.uri()), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::CredentialsRejected { .. }),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn http_rate_limit_spaces_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let settings = VendorSettings {
        requests_per_second: Some(4),
        ..VendorSettings::default()
    };
    let client = VendorClient::new(Vendor::Gcp, &settings).unwrap();
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    for _ in 0..8 {
        client
            .execute(counted_get(format!("{}/x", server.uri()), &calls))
            .await
            .unwrap();
    }
    // A burst of 4, then one every 250 ms: the last of 8 goes out at ~1 s.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(received(&server).await.len(), 8);
}

// ================================================================ sync engine

fn listing(sku: &str, price: Decimal) -> Listing {
    let provenance = Provenance::from_raw("test.api", sku.as_bytes(), chrono::DateTime::UNIX_EPOCH);
    Listing::builder(Vendor::Aws, sku, provenance)
        .category(Category::parse("compute.vm").unwrap())
        .service("ec2")
        .name_en(sku)
        .region(Region::new("us-east-1", "us", Some("virginia")).unwrap())
        .price(
            PriceComponent::flat(
                BillingMode::OnDemand,
                PriceUnit::Hour,
                Money::new(price, Currency::USD),
            )
            .unwrap(),
        )
        .build()
        .unwrap()
}

/// Serves fixed pages; page `i` has token `p<i>` (the first has none).
/// `fail_at` makes the fetch of that page index fail once.
struct PagedConnector {
    pages: Vec<Vec<Listing>>,
    fail_at: Mutex<Option<usize>>,
    tokens_asked: Mutex<Vec<Option<String>>>,
}

impl PagedConnector {
    fn new(pages: Vec<Vec<Listing>>) -> Self {
        PagedConnector {
            pages,
            fail_at: Mutex::new(None),
            tokens_asked: Mutex::new(Vec::new()),
        }
    }

    fn failing_at(self, index: usize) -> Self {
        *self.fail_at.lock().unwrap() = Some(index);
        self
    }
}

#[async_trait::async_trait]
impl Connector for PagedConnector {
    fn vendor(&self) -> Vendor {
        Vendor::Aws
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        self.tokens_asked
            .lock()
            .unwrap()
            .push(token.map(str::to_owned));
        let index = match token {
            None => 0,
            Some(t) => t.trim_start_matches('p').parse::<usize>().unwrap(),
        };
        if *self.fail_at.lock().unwrap() == Some(index) {
            *self.fail_at.lock().unwrap() = None;
            return Err(ConnectorError::Transport {
                vendor: Vendor::Aws,
                message: "connection reset".into(),
            });
        }
        Ok(FetchedPage {
            listings: self.pages[index].clone(),
            rejections: Vec::new(),
            next_token: (index + 1 < self.pages.len()).then(|| format!("p{}", index + 1)),
        })
    }
}

fn stores(db: &TestDatabase) -> SyncStores {
    let database = db.database().clone();
    SyncStores {
        listings: Arc::new(database.clone()),
        runs: Arc::new(database),
    }
}

/// Records what progress sees.
#[derive(Default)]
struct Recorder {
    pages: Mutex<Vec<(u64, usize)>>,
    finished: Mutex<Vec<RunStatus>>,
}

impl SyncProgress for Recorder {
    fn page_done(&self, page: &PageDone<'_>) {
        self.pages
            .lock()
            .unwrap()
            .push((page.run.pages, page.listings));
    }
    fn finished(&self, run: &shiyun_core::store::SyncRun) {
        self.finished.lock().unwrap().push(run.status);
    }
}

fn catalog(price_of_b: Decimal) -> Vec<Vec<Listing>> {
    vec![
        vec![listing("a1", dec!(0.10)), listing("a2", dec!(0.20))],
        vec![listing("b1", price_of_b), listing("b2", dec!(0.40))],
        vec![listing("c1", dec!(0.50)), listing("c2", dec!(0.60))],
    ]
}

/// A sync of `pages` triggered from the CLI, with no progress to report.
async fn sync_cli(stores: &SyncStores, pages: Vec<Vec<Listing>>) -> SyncRun {
    sync::run_sync(
        &PagedConnector::new(pages),
        stores,
        SyncOptions::new("cli"),
        &NoProgress,
    )
    .await
    .unwrap()
}

/// Runs each scenario on a fresh SQLite and a fresh PostgreSQL database.
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                super::$name(shiyun_schema::testing::TestDatabase::sqlite()).await;
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                super::$name(shiyun_schema::testing::TestDatabase::postgres()).await;
            }
        }
    };
}

async fn same_pages_twice_change_nothing(db: TestDatabase) {
    let stores = stores(&db);
    let connector = PagedConnector::new(catalog(dec!(0.30)));
    let recorder = Recorder::default();
    let first = sync::run_sync(&connector, &stores, SyncOptions::new("cli"), &recorder)
        .await
        .unwrap();
    assert_eq!(first.status, RunStatus::Succeeded);
    assert_eq!(
        (first.pages, first.report.new, first.report.changed),
        (3, 6, 0)
    );
    assert_eq!(first.trigger, "cli");
    assert!(first.finished_at.is_some() && first.resume_token.is_none());
    assert_eq!(*recorder.pages.lock().unwrap(), [(1, 2), (2, 2), (3, 2)]);
    assert_eq!(*recorder.finished.lock().unwrap(), [RunStatus::Succeeded]);
    assert_eq!(
        db.get_sync_run(first.id).unwrap().unwrap(),
        first,
        "the report is stored"
    );
    let seq = db.latest_seq().unwrap();
    assert_eq!(
        db.read_changes(0, 100).unwrap().len(),
        6,
        "six creations in the feed"
    );

    let second = sync::run_sync(
        &connector,
        &stores,
        SyncOptions::new("schedule"),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(second.report.unchanged, 6);
    assert_eq!(
        (
            second.report.new,
            second.report.changed,
            second.report.retired
        ),
        (0, 0, 0)
    );
    assert_eq!(
        db.latest_seq().unwrap(),
        seq,
        "no feed entries for an unchanged catalog"
    );
    assert!(db.read_changes(seq, 100).unwrap().is_empty());
}
on_both_backends!(same_pages_twice_change_nothing);

async fn a_price_change_is_one_change_one_point_one_entry(db: TestDatabase) {
    let stores = stores(&db);
    sync_cli(&stores, catalog(dec!(0.30))).await;
    let b1 = listing("b1", dec!(0.30));
    let history_before = db.price_history(b1.id()).unwrap().len();
    let seq = db.latest_seq().unwrap();

    let run = sync_cli(&stores, catalog(dec!(0.35))).await;
    assert_eq!(
        (run.report.changed, run.report.unchanged, run.report.new),
        (1, 5, 0)
    );
    let history = db.price_history(b1.id()).unwrap();
    assert_eq!(history.len(), history_before + 1, "one new price point");
    assert_eq!(
        history.last().unwrap().prices[0].amount().amount(),
        dec!(0.35)
    );
    let changes = db.read_changes(seq, 100).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].kind, ChangeKind::Updated);
    assert_eq!(&changes[0].listing_id, b1.id());
}
on_both_backends!(a_price_change_is_one_change_one_point_one_entry);

async fn a_vanished_sku_is_retired(db: TestDatabase) {
    let stores = stores(&db);
    sync_cli(&stores, catalog(dec!(0.30))).await;
    let seq = db.latest_seq().unwrap();
    let mut pages = catalog(dec!(0.30));
    let gone = pages[2].pop().unwrap();
    let run = sync_cli(&stores, pages).await;
    assert_eq!((run.report.unchanged, run.report.retired), (5, 1));
    let stored = db
        .get_listing(gone.id())
        .unwrap()
        .expect("retired, never deleted");
    assert_eq!(stored.status(), ListingStatus::Retired);
    let changes = db.read_changes(seq, 100).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].kind, &changes[0].listing_id),
        (ChangeKind::Retired, gone.id())
    );
}
on_both_backends!(a_vanished_sku_is_retired);

async fn a_failed_run_resumes_from_its_token(db: TestDatabase) {
    let stores = stores(&db);
    // An earlier catalog had `old`, which the new one no longer has.
    let mut earlier = catalog(dec!(0.30));
    earlier[0].push(listing("old", dec!(9.99)));
    sync_cli(&stores, vec![earlier[0].clone()]).await;

    let connector = PagedConnector::new(catalog(dec!(0.30))).failing_at(2);
    let recorder = Recorder::default();
    let err = sync::run_sync(&connector, &stores, SyncOptions::new("schedule"), &recorder)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transport { .. }), "{err:?}");
    assert_eq!(*recorder.finished.lock().unwrap(), [RunStatus::Failed]);
    let failed = db.recent_sync_runs(Some(Vendor::Aws), 1).unwrap().remove(0);
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.pages, 2);
    assert_eq!(failed.resume_token.as_deref(), Some("p2"));
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("connection reset")
    );
    assert_eq!(
        (
            failed.report.unchanged,
            failed.report.new,
            failed.report.retired
        ),
        (2, 2, 0)
    );
    let old = listing("old", dec!(9.99));
    assert_eq!(
        db.get_listing(old.id()).unwrap().unwrap().status(),
        ListingStatus::Active,
        "an incomplete run retires nothing"
    );

    connector.tokens_asked.lock().unwrap().clear();
    let resumed = sync::run_sync(
        &connector,
        &stores,
        SyncOptions::new("cli").resume(failed.id),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(
        *connector.tokens_asked.lock().unwrap(),
        [Some("p2".to_owned())],
        "only the missing page is fetched"
    );
    assert_eq!(resumed.id, failed.id, "the same run continues");
    assert_eq!(resumed.trigger, "schedule");
    assert_eq!(resumed.started_at, failed.started_at);
    assert_eq!(resumed.status, RunStatus::Succeeded);
    assert_eq!(resumed.pages, 3);
    assert_eq!(
        (
            resumed.report.unchanged,
            resumed.report.new,
            resumed.report.retired
        ),
        (2, 4, 1)
    );
    assert!(resumed.error.is_none() && resumed.resume_token.is_none());
    assert_eq!(
        db.get_listing(old.id()).unwrap().unwrap().status(),
        ListingStatus::Retired
    );
    let active = ListingFilter {
        vendor: Some(Vendor::Aws),
        status: Some(ListingStatus::Active),
        ..ListingFilter::default()
    };
    assert_eq!(
        db.count_listings(&active).unwrap(),
        6,
        "pages stored before the failure stay active"
    );
    assert_eq!(db.get_sync_run(failed.id).unwrap().unwrap(), resumed);

    // A succeeded run cannot be resumed.
    let again = sync::run_sync(
        &connector,
        &stores,
        SyncOptions::new("cli").resume(failed.id),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(again, ConnectorError::Store(StoreError::Conflict(_))),
        "{again:?}"
    );
}
on_both_backends!(a_failed_run_resumes_from_its_token);

async fn an_unreadable_import_file_is_a_rejection(db: TestDatabase) {
    let stores = stores(&db);
    let ctx = ImportContext::at(chrono::Utc::now());
    let run = sync::import_pages(
        Vendor::Aws,
        [("broken.json".to_owned(), b"{not json".to_vec(), ctx)],
        &stores,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(run.trigger, "import");
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!((run.pages, run.rejected), (1, 1));
    assert_eq!(run.rejections[0].vendor_key, "broken.json");
    assert_eq!(run.report.retired, 0);
}
on_both_backends!(an_unreadable_import_file_is_a_rejection);

/// A connector replaying scripted pages: (listings, rejections, next token).
struct ScriptedConnector {
    pages: Vec<(Vec<Listing>, usize, Option<&'static str>)>,
}

#[async_trait::async_trait]
impl Connector for ScriptedConnector {
    fn vendor(&self) -> Vendor {
        Vendor::Aws
    }

    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        let index = token.map_or(0, |t| t.trim_start_matches('p').parse::<usize>().unwrap());
        let (listings, rejected, next) = self.pages[index].clone();
        Ok(FetchedPage {
            listings,
            rejections: (0..rejected)
                .map(|i| RecordRejection {
                    vendor_key: format!("bad-{i}"),
                    reason: "unknown unit".into(),
                })
                .collect(),
            next_token: next.map(str::to_owned),
        })
    }
}

fn listing_in_region(sku: &str, region: &str, country: &str) -> Listing {
    let mut data = listing(sku, dec!(0.10)).into_data();
    data.region = Region::new(region, country, None).unwrap();
    Listing::try_from(data).unwrap()
}

async fn a_token_cycle_fails_instead_of_looping(db: TestDatabase) {
    let stores = stores(&db);
    let connector = ScriptedConnector {
        pages: vec![
            (vec![listing("a1", dec!(0.1))], 0, Some("p1")),
            (vec![listing("b1", dec!(0.1))], 0, Some("p2")),
            (vec![listing("c1", dec!(0.1))], 0, Some("p1")),
        ],
    };
    let err = sync::run_sync(&connector, &stores, SyncOptions::new("cli"), &NoProgress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("came back"), "{err}");
    let runs = db.recent_sync_runs(Some(Vendor::Aws), 1).unwrap();
    assert_eq!(runs[0].status, RunStatus::Failed);
}
on_both_backends!(a_token_cycle_fails_instead_of_looping);

async fn a_sync_retires_only_where_it_looked(db: TestDatabase) {
    let stores = stores(&db);
    // An imported region and a listing that will vanish from the synced one.
    db.upsert_listings(
        &[
            listing_in_region("eu-1", "eu-west-1", "ie"),
            listing_in_region("us-gone", "us-east-1", "us"),
        ],
        chrono::Utc::now(),
    )
    .unwrap();
    let run = sync_cli(
        &stores,
        vec![vec![listing_in_region("us-1", "us-east-1", "us")]],
    )
    .await;
    assert_eq!(run.report.retired, 1, "only the vanished us-east-1 listing");
    let status = |sku: &str| {
        let id = shiyun_core::listing::ListingId::derive(Vendor::Aws, sku);
        db.get_listing(&id).unwrap().unwrap().status()
    };
    assert_eq!(
        status("us-gone"),
        shiyun_core::listing::ListingStatus::Retired
    );
    assert_eq!(status("eu-1"), shiyun_core::listing::ListingStatus::Active);
}
on_both_backends!(a_sync_retires_only_where_it_looked);

async fn many_rejections_skip_the_retire_sweep(db: TestDatabase) {
    let stores = stores(&db);
    sync_cli(&stores, catalog(dec!(0.30))).await;
    // The vendor changed a unit: most records are now rejected.
    let connector = ScriptedConnector {
        pages: vec![(vec![listing("a1", dec!(0.10))], 5, None)],
    };
    let run = sync::run_sync(&connector, &stores, SyncOptions::new("cli"), &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        run.report.retired, 0,
        "nothing retired while 5 of 6 were unreadable"
    );
    assert!(
        run.error
            .as_deref()
            .unwrap_or_default()
            .contains("retire sweep skipped")
    );
}
on_both_backends!(many_rejections_skip_the_retire_sweep);

async fn an_import_run_cannot_be_resumed_as_a_sync(db: TestDatabase) {
    let stores = stores(&db);
    let mut run = db
        .start_sync_run(Vendor::Aws, sync::IMPORT_TRIGGER, chrono::Utc::now())
        .unwrap();
    run.status = RunStatus::Failed;
    run.pages = 1;
    db.save_sync_run(&run).unwrap();
    let err = sync::run_sync(
        &PagedConnector::new(catalog(dec!(0.30))),
        &stores,
        SyncOptions::new("cli").resume(run.id),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("is an import"), "{err}");
}
on_both_backends!(an_import_run_cannot_be_resumed_as_a_sync);
