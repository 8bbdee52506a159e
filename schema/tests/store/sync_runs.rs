//! `SyncRunStore`.

use shiyun_core::listing::Vendor;
use shiyun_core::store::{
    RecordRejection, RegionReport, RunStatus, StoreError, SyncRun, SyncTrigger, UpsertReport,
};

use crate::support::{Store, at};

pub fn sync_run_lifecycle<S: Store>(store: &S) {
    let run = store
        .start_sync_run(Vendor::Aws, SyncTrigger::Cli, at(1))
        .unwrap();
    assert_eq!(run.status, RunStatus::Running);
    assert!(run.regions.is_empty());
    assert_eq!(
        (run.vendor, run.trigger, run.started_at),
        (Vendor::Aws, SyncTrigger::Cli, at(1))
    );
    assert_eq!(store.get_sync_run(run.id).unwrap().unwrap(), run);

    let mut done = run.clone();
    done.status = RunStatus::Failed;
    done.finished_at = Some(at(90));
    done.pages = 7;
    done.report = UpsertReport {
        new: 10,
        changed: 3,
        unchanged: 100,
        retired: 2,
    };
    done.rejected = 250;
    done.rejections = (0..250)
        .map(|i| RecordRejection {
            vendor_key: format!("sku-{i}"),
            reason: "no price".into(),
        })
        .collect();
    done.regions.add_skipped("cn-qingyangtest-1", 12);
    done.regions.add_skipped("us-test-2", 1);
    done.regions.note_unknown("cn-mars-1");
    done.regions.note_unknown("中国-北极-1");
    done.resume_token = Some("page-8".into());
    done.error = Some("vendor answered 503".into());
    store.save_sync_run(&done).unwrap();
    let got = store.get_sync_run(run.id).unwrap().unwrap();
    assert_eq!(
        got.rejections.len(),
        SyncRun::MAX_KEPT_REJECTIONS,
        "only the first rejections are kept"
    );
    assert_eq!(
        got.rejections[..],
        done.rejections[..SyncRun::MAX_KEPT_REJECTIONS]
    );
    assert_eq!(got.regions, done.regions);
    assert_eq!(got.regions.total_skipped(), 13);
    assert_eq!(
        SyncRun {
            rejections: done.rejections[..SyncRun::MAX_KEPT_REJECTIONS].to_vec(),
            ..done.clone()
        },
        got
    );

    // Clearing optional fields is saved too.
    let mut resumed = got.clone();
    resumed.status = RunStatus::Succeeded;
    resumed.resume_token = None;
    resumed.error = None;
    resumed.regions.note_unknown("ap-marsport-1");
    store.save_sync_run(&resumed).unwrap();
    assert_eq!(store.get_sync_run(run.id).unwrap().unwrap(), resumed);

    assert_eq!(store.get_sync_run(run.id + 1000).unwrap(), None);
    let ghost = SyncRun {
        id: run.id + 1000,
        ..resumed
    };
    assert!(matches!(
        store.save_sync_run(&ghost),
        Err(StoreError::NotFound { .. })
    ));
}

pub fn recent_sync_runs_newest_first<S: Store>(store: &S) {
    let a1 = store
        .start_sync_run(Vendor::Aws, SyncTrigger::Schedule, at(10))
        .unwrap();
    let g1 = store
        .start_sync_run(Vendor::Gcp, SyncTrigger::Schedule, at(20))
        .unwrap();
    let a2 = store
        .start_sync_run(Vendor::Aws, SyncTrigger::Cli, at(30))
        .unwrap();
    // Same start time: the later id comes first.
    let a3 = store
        .start_sync_run(Vendor::Aws, SyncTrigger::Cli, at(30))
        .unwrap();
    assert!(a3.id > a2.id);
    let ids = |runs: Vec<SyncRun>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.recent_sync_runs(None, 10).unwrap()),
        vec![a3.id, a2.id, g1.id, a1.id]
    );
    assert_eq!(
        ids(store.recent_sync_runs(None, 2).unwrap()),
        vec![a3.id, a2.id]
    );
    assert_eq!(
        ids(store.recent_sync_runs(Some(Vendor::Aws), 10).unwrap()),
        vec![a3.id, a2.id, a1.id]
    );
    assert_eq!(
        ids(store.recent_sync_runs(Some(Vendor::Gcp), 10).unwrap()),
        vec![g1.id]
    );
    assert!(
        store
            .recent_sync_runs(Some(Vendor::Ibm), 10)
            .unwrap()
            .is_empty()
    );
}

pub fn unknown_trigger_is_internal_error(db: &shiyun_schema::testing::TestDatabase) {
    use shiyun_core::store::SyncRunStore;
    let run = db
        .start_sync_run(Vendor::Aws, SyncTrigger::Cli, at(1))
        .unwrap();
    let sql = format!(
        "UPDATE sync_runs SET trigger_name = 'telepathy' WHERE id = {}",
        run.id
    );
    crate::support::execute_behind_the_store(db, &sql);
    let err = db.get_sync_run(run.id).unwrap_err();
    assert!(
        matches!(&err, StoreError::Internal(m) if m.contains("telepathy")),
        "{err:?}"
    );
}

pub fn unreadable_region_report_is_internal_error(db: &shiyun_schema::testing::TestDatabase) {
    use shiyun_core::store::SyncRunStore;
    let run = db
        .start_sync_run(Vendor::Aws, SyncTrigger::Cli, at(1))
        .unwrap();
    // A report written before the column existed reads as empty.
    let sql = format!(
        "UPDATE sync_runs SET regions = '{{}}' WHERE id = {}",
        run.id
    );
    crate::support::execute_behind_the_store(db, &sql);
    assert_eq!(
        db.get_sync_run(run.id).unwrap().unwrap().regions,
        RegionReport::default()
    );
    let sql = format!(
        "UPDATE sync_runs SET regions = '{{\"unknown_regions\": 7}}' WHERE id = {}",
        run.id
    );
    crate::support::execute_behind_the_store(db, &sql);
    let err = db.get_sync_run(run.id).unwrap_err();
    assert!(
        matches!(&err, StoreError::Internal(m) if m.contains("region report")),
        "{err:?}"
    );
}
