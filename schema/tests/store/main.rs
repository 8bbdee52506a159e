//! The store conformance suite: every test is a generic function over the
//! store, run once on SQLite and once on PostgreSQL.

// The test bodies are helper functions, not `#[test]`s, so clippy's
// allowance for tests does not reach them.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod feed;
mod listings;
mod locks;
mod money;
mod partners;
mod support;
mod sync_runs;

/// Generates `sqlite::<test>` and `postgres::<test>` for each test function.
/// `store:` tests take the store traits; `db:` tests take the `TestDatabase`;
/// `postgres_only:` tests take the `TestDatabase` and exist only in the
/// `postgres` module, so a rule SQLite cannot have is not counted as a pass
/// there.
macro_rules! conformance {
    (
        store { $($smod:ident :: $stest:ident),* $(,)? }
        db { $($dmod:ident :: $dtest:ident),* $(,)? }
        postgres_only { $($pmod:ident :: $ptest:ident),* $(,)? }
    ) => {
        mod sqlite {
            use shiyun_schema::testing::TestDatabase;
            $(#[test] fn $stest() { let db = TestDatabase::sqlite(); crate::$smod::$stest(db.database()); })*
            $(#[test] fn $dtest() { let db = TestDatabase::sqlite(); crate::$dmod::$dtest(&db); })*
        }
        mod postgres {
            use shiyun_schema::testing::TestDatabase;
            $(#[test] fn $stest() { let db = TestDatabase::postgres(); crate::$smod::$stest(db.database()); })*
            $(#[test] fn $dtest() { let db = TestDatabase::postgres(); crate::$dmod::$dtest(&db); })*
            $(#[test] fn $ptest() { let db = TestDatabase::postgres(); crate::$pmod::$ptest(&db); })*
        }
    };
}

conformance! {
    store {
        listings::upsert_counts_new_changed_unchanged,
        listings::same_batch_twice_changes_nothing,
        listings::price_change_writes_history_and_one_update,
        listings::content_change_without_price_change_keeps_history,
        listings::duplicate_ids_in_a_batch_last_wins,
        listings::retire_unseen_retires_only_unseen_in_scope,
        listings::retire_unseen_keeps_pairs_the_sync_did_not_cover,
        listings::retire_listing_once,
        listings::sent_as_retired_then_reactivated,
        listings::get_missing_is_none,
        listings::list_pages_with_a_cursor,
        listings::list_and_count_filters,
        listings::large_batches_are_chunked,
        feed::feed_is_ordered_and_paged,
        feed::feed_is_monotonic_under_concurrent_upserts,
        sync_runs::sync_run_lifecycle,
        sync_runs::recent_sync_runs_newest_first,
        locks::job_lock_is_exclusive_until_dropped,
        locks::ping_answers,
        money::amounts_round_trip_exactly,
        partners::partner_vendors_register_and_read_back,
        partners::partner_vendor_ids_are_unique_and_never_change,
        partners::concurrent_registrations_leave_one_winner,
        partners::partner_listings_are_stored_filtered_and_fed_like_any_other,
    }
    db {
        listings::corrupt_document_is_internal_error,
        listings::price_history_that_breaks_a_rule_is_internal_error,
        sync_runs::unknown_trigger_is_internal_error,
        sync_runs::unreadable_region_report_is_internal_error,
        support::migrate_twice_is_harmless,
        support::concurrent_migrations_agree,
    }
    postgres_only {
        locks::job_lock_is_shared_across_instances,
    }
}
