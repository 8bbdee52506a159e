//! `JobLock` and `StoreHealth`.

use shiyun_core::store::JobLock;
use shiyun_schema::testing::TestDatabase;
use shiyun_schema::{Backend, Database};

use crate::support::Store;

pub fn job_lock_is_exclusive_until_dropped<S: Store>(store: &S) {
    let guard = store
        .try_lock_job("sync:aws")
        .unwrap()
        .expect("free lock is taken");
    assert!(store.try_lock_job("sync:aws").unwrap().is_none());
    // A clone (another handle in the same process) sees the lock too.
    assert!(store.clone().try_lock_job("sync:aws").unwrap().is_none());
    // Another job is independent.
    let other = store.try_lock_job("billing:close").unwrap();
    assert!(other.is_some());
    // From another thread as well.
    let from_thread = {
        let store = store.clone();
        std::thread::spawn(move || store.try_lock_job("sync:aws").unwrap().is_none())
            .join()
            .unwrap()
    };
    assert!(from_thread);
    drop(guard);
    let again = store.try_lock_job("sync:aws").unwrap();
    assert!(again.is_some(), "released on drop");
    drop(again);
    drop(other);
    assert!(store.try_lock_job("billing:close").unwrap().is_some());
}

pub fn ping_answers<S: Store>(store: &S) {
    store.ping().unwrap();
}

/// PostgreSQL locks hold across instances sharing the database. (SQLite is
/// single-instance and its lock is per `Database`, so there is nothing to
/// share: the test exists only on PostgreSQL.)
pub fn job_lock_is_shared_across_instances(db: &TestDatabase) {
    assert_eq!(db.backend(), Backend::Postgres);
    let other = Database::open(db.url(), 2).unwrap();
    let guard = db.try_lock_job("cycle:close").unwrap().unwrap();
    assert!(other.try_lock_job("cycle:close").unwrap().is_none());
    drop(guard);
    let theirs = other.try_lock_job("cycle:close").unwrap().unwrap();
    assert!(db.try_lock_job("cycle:close").unwrap().is_none());
    drop(theirs);
    assert!(db.try_lock_job("cycle:close").unwrap().is_some());
}
