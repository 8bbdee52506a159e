//! The sync engine against the real stores on SQLite and PostgreSQL: runs,
//! resumes, imports, the retire sweep, and the job lock shared with the
//! scheduler.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use std::sync::Mutex;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use shiyun_connectors::sync::{self, NoProgress, PageDone, SyncOptions, SyncProgress, SyncStores};
use shiyun_connectors::{Connector, ConnectorError, FetchedPage, ImportContext};
use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::listing::{
    BillingMode, Category, Listing, ListingStatus, PriceComponent, PriceUnit, Provenance, Region,
    Vendor,
};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::{
    ChangeFeed, ChangeKind, ListingFilter, ListingStore, RecordRejection, RunStatus, SyncRun,
    SyncRunStore, SyncTrigger,
};
use shiyun_schema::testing::TestDatabase;

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
            ..FetchedPage::default()
        })
    }
}

fn stores(db: &TestDatabase) -> SyncStores {
    SyncStores::of(db.database().clone())
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
        SyncOptions::new(SyncTrigger::Cli),
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
    let first = sync::run_sync(
        &connector,
        &stores,
        SyncOptions::new(SyncTrigger::Cli),
        &recorder,
    )
    .await
    .unwrap();
    assert_eq!(first.status, RunStatus::Succeeded);
    assert_eq!(
        (first.pages, first.report.new, first.report.changed),
        (3, 6, 0)
    );
    assert_eq!(first.trigger, SyncTrigger::Cli);
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
        SyncOptions::new(SyncTrigger::Schedule),
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
    let err = sync::run_sync(
        &connector,
        &stores,
        SyncOptions::new(SyncTrigger::Schedule),
        &recorder,
    )
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
        SyncOptions::new(SyncTrigger::Cli).resume(failed.id),
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
    assert_eq!(resumed.trigger, SyncTrigger::Schedule);
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
        vendor: Some(Vendor::Aws.into()),
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
    let again = resume_error(&db, failed.id).await;
    assert!(
        matches!(&again, ConnectorError::NotResumable { run, .. } if *run == failed.id),
        "{again:?}"
    );
    assert_eq!(again.code(), ErrorCode::Conflict);
}
on_both_backends!(a_failed_run_resumes_from_its_token);

async fn a_resumed_run_keeps_the_regions_of_its_earlier_pages(db: TestDatabase) {
    let stores = stores(&db);
    let pages = vec![
        vec![listing_in_region("a1", "us-mars-1", "us")],
        vec![listing_in_region("b1", "us-east-1", "us")],
        vec![
            listing_in_region("c1", "us-mars-1", "us"),
            listing_in_region("c2", "us-mars-2", "us"),
        ],
    ];
    let connector = PagedConnector::new(pages).failing_at(2);
    let options = SyncOptions::new(SyncTrigger::Cli);
    sync::run_sync(&connector, &stores, options, &NoProgress)
        .await
        .unwrap_err();
    let failed = db.recent_sync_runs(Some(Vendor::Aws), 1).unwrap().remove(0);
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(
        failed.regions.unknown_regions,
        ["us-mars-1".to_owned()].into(),
        "saved with the failed run"
    );

    let options = SyncOptions::new(SyncTrigger::Cli).resume(failed.id);
    let resumed = sync::run_sync(&connector, &stores, options, &NoProgress)
        .await
        .unwrap();
    assert_eq!(resumed.id, failed.id);
    assert_eq!(
        resumed.regions.unknown_regions,
        ["us-mars-1".to_owned(), "us-mars-2".to_owned()].into(),
        "each code once, across the resume"
    );
    assert!(resumed.rejections.is_empty(), "{:?}", resumed.rejections);
    assert_eq!(db.get_sync_run(failed.id).unwrap().unwrap(), resumed);
}
on_both_backends!(a_resumed_run_keeps_the_regions_of_its_earlier_pages);

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
    assert_eq!(run.trigger, SyncTrigger::Import);
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
            ..FetchedPage::default()
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
    let err = sync::run_sync(
        &connector,
        &stores,
        SyncOptions::new(SyncTrigger::Cli),
        &NoProgress,
    )
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
    let run = sync::run_sync(
        &connector,
        &stores,
        SyncOptions::new(SyncTrigger::Cli),
        &NoProgress,
    )
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
    let run = failed_run(&db, Vendor::Aws, SyncTrigger::Import, None);
    let err = resume_error(&db, run.id).await;
    assert!(
        matches!(&err, ConnectorError::NotResumable { reason, .. } if reason.contains("is an import")),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::Conflict);
}
on_both_backends!(an_import_run_cannot_be_resumed_as_a_sync);

/// Saves a failed run of `vendor` started by `trigger`, stopped before `token`.
fn failed_run(
    db: &TestDatabase,
    vendor: Vendor,
    trigger: SyncTrigger,
    token: Option<&str>,
) -> SyncRun {
    let mut run = db
        .start_sync_run(vendor, trigger, chrono::Utc::now())
        .unwrap();
    run.status = RunStatus::Failed;
    run.pages = 1;
    run.resume_token = token.map(str::to_owned);
    db.save_sync_run(&run).unwrap();
    // As stored (the databases keep microseconds).
    db.get_sync_run(run.id).unwrap().unwrap()
}

/// Why resuming run `id` as an AWS sync fails.
async fn resume_error(db: &TestDatabase, id: u64) -> ConnectorError {
    sync::run_sync(
        &PagedConnector::new(catalog(dec!(0.30))),
        &stores(db),
        SyncOptions::new(SyncTrigger::Cli).resume(id),
        &NoProgress,
    )
    .await
    .unwrap_err()
}

async fn a_run_of_another_vendor_cannot_be_resumed(db: TestDatabase) {
    let gcp = failed_run(&db, Vendor::Gcp, SyncTrigger::Cli, Some("p1"));
    let err = resume_error(&db, gcp.id).await;
    assert!(
        matches!(
            err,
            ConnectorError::OtherVendorRun {
                run_vendor: Vendor::Gcp,
                vendor: Vendor::Aws,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert_eq!(
        db.get_sync_run(gcp.id).unwrap().unwrap(),
        gcp,
        "the other vendor's run is left as it was"
    );
}
on_both_backends!(a_run_of_another_vendor_cannot_be_resumed);

async fn a_corrupt_resume_token_is_the_callers_to_fix(db: TestDatabase) {
    let stores = stores(&db);
    let run = failed_run(&db, Vendor::Ucloud, SyncTrigger::Cli, Some("{not a token"));
    // No request is made: the token is read first.
    let settings = crate::common::keyed_settings("http://127.0.0.1:9", "key", "secret");
    let connector = crate::common::live_connector(Vendor::Ucloud, &settings);
    let err = sync::run_sync(
        connector.as_ref(),
        &stores,
        SyncOptions::new(SyncTrigger::Cli).resume(run.id),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::PageToken { vendor: Vendor::Ucloud, token, .. } if token == "{not a token"),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    let saved = db.get_sync_run(run.id).unwrap().unwrap();
    assert_eq!(saved.status, RunStatus::Failed);
    assert_eq!(saved.resume_token.as_deref(), Some("{not a token"));
}
on_both_backends!(a_corrupt_resume_token_is_the_callers_to_fix);

async fn a_sync_runs_exclusive_of_another(db: TestDatabase) {
    let stores = stores(&db);
    let connector = || Box::new(PagedConnector::new(catalog(dec!(0.30)))) as Box<dyn Connector>;
    let first = sync::start_exclusive(connector(), &stores, SyncTrigger::Cli, false)
        .await
        .unwrap();
    let busy = sync::start_exclusive(connector(), &stores, SyncTrigger::Schedule, false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            busy,
            ConnectorError::SyncBusy {
                vendor: Vendor::Aws
            }
        ),
        "{busy:?}"
    );
    assert_eq!(busy.code(), ErrorCode::Conflict);
    let run = first.run(&stores, &NoProgress).await.unwrap();
    assert_eq!(run.trigger, SyncTrigger::Cli);
    // The lock went with the run.
    let again = sync::start_exclusive(connector(), &stores, SyncTrigger::Schedule, false)
        .await
        .unwrap();
    assert!(again.resuming().is_none());
    assert_eq!(
        again.run(&stores, &NoProgress).await.unwrap().trigger,
        SyncTrigger::Schedule
    );
}
on_both_backends!(a_sync_runs_exclusive_of_another);

async fn only_the_last_failed_sync_is_resumable(db: TestDatabase) {
    let stores = stores(&db);
    let resume = || async {
        let connector = Box::new(PagedConnector::new(catalog(dec!(0.30))));
        sync::start_exclusive(connector, &stores, SyncTrigger::Cli, true).await
    };
    let nothing = resume().await.unwrap_err();
    assert!(
        matches!(
            nothing,
            ConnectorError::NothingToResume {
                vendor: Vendor::Aws
            }
        ),
        "{nothing:?}"
    );
    assert_eq!(nothing.code(), ErrorCode::Conflict);

    // A failed sync, then a failed import: the import is passed over.
    let failed = failed_run(&db, Vendor::Aws, SyncTrigger::Schedule, Some("p2"));
    failed_run(&db, Vendor::Aws, SyncTrigger::Import, None);
    let exclusive = resume().await.unwrap();
    assert_eq!(exclusive.resuming().map(|run| run.id), Some(failed.id));
    let resumed = exclusive.run(&stores, &NoProgress).await.unwrap();
    assert_eq!(
        (resumed.id, resumed.status),
        (failed.id, RunStatus::Succeeded)
    );

    // The last sync succeeded: nothing to resume, and no lock left behind.
    assert!(matches!(
        resume().await.unwrap_err(),
        ConnectorError::NothingToResume { .. }
    ));
    assert!(matches!(
        resume().await.unwrap_err(),
        ConnectorError::NothingToResume { .. }
    ));
}
on_both_backends!(only_the_last_failed_sync_is_resumable);

async fn import_files_records_an_unreadable_file_and_goes_on(db: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone.json");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, b"{not json").unwrap();
    let run = sync::import_files(
        Vendor::Aws,
        vec![missing.clone(), broken],
        ImportContext::at(chrono::Utc::now()),
        &stores(&db),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(run.trigger, SyncTrigger::Import);
    assert_eq!((run.pages, run.rejected), (2, 2));
    assert_eq!(run.rejections[0].vendor_key, missing.display().to_string());
    assert!(
        run.rejections[0].reason.starts_with("cannot read"),
        "{:?}",
        run.rejections
    );
}
on_both_backends!(import_files_records_an_unreadable_file_and_goes_on);

#[test]
fn a_missing_file_is_the_callers_input() {
    let mut seen = Vec::new();
    shiyun_connectors::normalise_files(
        Vendor::Aws,
        &["/nonexistent/offer.json".into()],
        &ImportContext::at(chrono::Utc::now()),
        |label, page| {
            let err = page.unwrap_err();
            assert!(matches!(err, ConnectorError::Input { .. }), "{err:?}");
            seen.push((label, err.code()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(
        seen,
        [(
            "/nonexistent/offer.json".to_owned(),
            ErrorCode::InvalidArgument
        )]
    );
}

const AZURE_SAMPLE: &str = "retail-prices-item-devtest-f16s-spot-westeurope-usd.json";

#[test]
fn a_closed_output_stops_the_walk_and_is_not_blamed_on_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = ["a.json", "b.json"]
        .iter()
        .map(|name| {
            let path = dir.path().join(name);
            std::fs::write(&path, crate::common::vendor_fixture("azure", AZURE_SAMPLE)).unwrap();
            path
        })
        .collect();
    let mut calls = 0;
    let err = shiyun_connectors::normalise_files(
        Vendor::Azure,
        &files,
        &ImportContext::at(chrono::Utc::now()),
        |_label, page| {
            calls += 1;
            assert!(page.is_ok(), "the file was fine");
            Err(ConnectorError::Output(std::io::Error::from(
                std::io::ErrorKind::BrokenPipe,
            )))
        },
    )
    .unwrap_err();
    assert!(matches!(err, ConnectorError::Output(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::Unavailable);
    assert_eq!(
        calls, 1,
        "neither re-sent as the file's error nor the next file read"
    );
}

#[test]
fn internal_failures_are_internal() {
    use shiyun_connectors::http::BuildRequest;
    let err = reqwest::Client::new()
        .get("http://[::1")
        .build_request()
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Request(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::Internal);
    assert_eq!(
        ConnectorError::Interrupted("the import stopped taking pages".into()).code(),
        ErrorCode::Internal
    );
}

/// A Kingsoft `DescribeInstanceTypeConfigs` page of `instance_type` in `zones`.
fn kingsoft_configs(instance_type: &str, zones: &[&str]) -> Vec<u8> {
    let zones: Vec<_> = zones
        .iter()
        .map(|z| serde_json::json!({ "AvailabilityZone": z }))
        .collect();
    serde_json::json!({"RequestId": "r", "InstanceTypeConfigSet": [
        {"InstanceType": instance_type, "InstanceFamily": "N3", "CPU": 2, "Memory": 4, "AvailabilityZoneSet": zones}
    ]})
    .to_string()
    .into_bytes()
}

async fn test_regions_are_skipped_and_unknown_regions_noted_once(db: TestDatabase) {
    let stores = stores(&db);
    let ctx = ImportContext::at(chrono::Utc::now());
    // Two pages, each with a known zone, a zone of the test region
    // `cn-qingyangtest-1` and a zone the table does not know.
    let zones = ["cn-beijing-6a", "cn-qingyangtest-1a", "cn-mars-1a"];
    let pages = ["N3.2B", "N3.4B"].map(|t| {
        (
            format!("{t}.json"),
            kingsoft_configs(t, &zones),
            ctx.clone(),
        )
    });
    let run = sync::import_pages(Vendor::Kingsoft, pages, &stores, &NoProgress)
        .await
        .unwrap();
    assert_eq!(run.rejected, 0, "{:?}", run.rejections);
    assert_eq!(
        run.report.new, 4,
        "two known, two unknown; none in the test region"
    );
    assert_eq!(run.regions.total_skipped(), 2);
    assert_eq!(
        run.regions.test_regions_skipped,
        [("cn-qingyangtest-1a".to_owned(), 2)].into(),
        "skipped offers are counted by the code the vendor gave"
    );
    assert_eq!(
        run.regions.unknown_regions,
        ["cn-mars-1a".to_owned()].into(),
        "one report per code"
    );
    assert!(
        run.rejections.is_empty(),
        "regions are not rejections: {:?}",
        run.rejections
    );
    // The report is the one the store keeps.
    let saved = stores.runs.get_sync_run(run.id).unwrap().unwrap();
    assert_eq!(saved, run);

    let stored = |sku: &str| {
        stores
            .listings
            .get_listing(&shiyun_core::listing::ListingId::derive(
                Vendor::Kingsoft,
                sku,
            ))
            .unwrap()
    };
    let mars = stored("N3.2B@cn-mars-1a").expect("kept under its code");
    assert_eq!(mars.region().code, "cn-mars-1a");
    assert_eq!(mars.region().geography.country, "cn");
    assert!(stored("N3.2B@cn-beijing-6a").is_some());
    assert!(
        stored("N3.2B@cn-qingyangtest-1a").is_none(),
        "test regions are never stored"
    );

    // A real Tencent sample, edited into a region the table does not know.
    let sample = crate::common::vendor_fixture(
        "tencent",
        "cvm-describezoneinstanceconfiginfos-ap-guangzhou-6.json",
    );
    let edited = String::from_utf8(sample)
        .unwrap()
        .replace("ap-guangzhou-6", "ap-marsport-1");
    let run = sync::import_pages(
        Vendor::Tencent,
        [("edited.json".to_owned(), edited.into_bytes(), ctx)],
        &stores,
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(run.report.new > 0);
    assert_eq!(run.rejected, 0, "{:?}", run.rejections);
    assert!(run.rejections.is_empty(), "{:?}", run.rejections);
    assert_eq!(run.regions.total_skipped(), 0);
    assert_eq!(
        run.regions.unknown_regions,
        ["ap-marsport-1".to_owned()].into()
    );
}
on_both_backends!(test_regions_are_skipped_and_unknown_regions_noted_once);
