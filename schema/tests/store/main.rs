//! The store conformance suite: every test is a generic function over the
//! store, run once on SQLite and once on PostgreSQL.

// The test bodies are helper functions, not `#[test]`s, so clippy's
// allowance for tests does not reach them.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod accounts;
mod api_keys;
mod audit;
mod billing;
mod billing_money;
mod deploy;
mod feed;
mod housekeeping;
mod listings;
mod locks;
mod money;
mod partners;
mod payments;
mod people;
mod search;
mod sessions;
mod support;
mod sync_runs;
mod tenancy;
mod wallet;

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
        listings::a_cost_is_stored_and_a_cost_change_writes_history,
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
        accounts::accounts_are_unique_by_email_and_phone,
        accounts::set_password_revokes_every_other_session,
        accounts::codes_are_single_use_and_expire,
        accounts::wrong_tries_use_up_a_code,
        accounts::a_new_code_supersedes_the_old,
        accounts::lockout_counts_failures_within_the_window,
        accounts::concurrent_failures_all_count,
        sessions::refresh_rotates_and_a_replay_revokes_the_session,
        sessions::expired_or_revoked_refresh_is_refused,
        sessions::concurrent_rotation_has_one_winner,
        tenancy::enterprise_names_are_unique_and_searchable,
        tenancy::another_enterprises_ids_answer_not_found,
        tenancy::project_scopes_filter_rows,
        tenancy::concurrent_transfers_leave_one_administrator,
        tenancy::the_administrator_cannot_leave,
        tenancy::applications_are_decided_once,
        tenancy::invitations_are_accepted_once_by_the_invited,
        tenancy::templates_are_built_in_or_the_enterprises_own,
        api_keys::key_scopes_filter_rows,
        api_keys::key_credentials_and_use,
        audit::audit_is_read_per_tenant_in_order,
        housekeeping::purge_deletes_only_dead_rows,
        partners::partner_vendors_register_and_read_back,
        partners::partner_vendor_ids_are_unique_and_never_change,
        partners::concurrent_registrations_leave_one_winner,
        partners::partner_listings_are_stored_filtered_and_fed_like_any_other,
        search::synonyms_are_saved_with_versions,
        search::concurrent_saves_of_one_version_have_one_winner,
        search::fx_tables_are_saved_with_versions,
        search::views_add_up_and_rank_listings,
        search::views_of_unknown_ids_are_skipped,
        search::huge_view_counts_stop_at_the_largest,
        search::popular_answers_at_most_500,
        search::concurrent_views_are_all_counted,
        billing::billing_issuers_are_isolated,
        billing::meters_and_plans_replay_or_conflict,
        billing::usage_duplicates_conflicts_and_unknown_customers,
        billing::concurrent_ingest_accepts_each_key_once,
        billing::watermark_grows_per_batch,
        billing::aggregates_over_windows_and_batches,
        billing::usage_points_carry_the_last_value_in,
        billing::usage_pages_by_time_and_key,
        billing::subscriptions_compare_and_set,
        billing::drafts_replay_and_refuse_stale_versions,
        billing::finalized_numbers_are_gapless_under_concurrency,
        billing::finalize_draws_credit_notes_then_prepaid,
        billing::credit_notes_are_capped,
        billing::payments_must_match_and_replay,
        billing::void_rules,
        billing::audit_chain_hashes_recompute,
        wallet::credits_are_drawn_by_priority_expiry_then_age,
        wallet::wallet_keys_replay_or_conflict,
        wallet::overdraft_stops_at_the_floor_and_is_repaid_first,
        wallet::expired_credits_are_breakage,
        wallet::wallet_settings_and_due_top_ups,
        wallet::random_wallet_histories_keep_the_books,
        payments::provider_customers_are_recorded_once,
        payments::attempts_replay_by_key_and_keep_references_unique,
        payments::attempts_change_by_compare_and_set,
        payments::due_retries_are_ordered_and_bounded,
        payments::events_are_recorded_once_with_their_change,
        payments::concurrent_deliveries_of_one_event_apply_once,
        payments::refunds_are_one_per_credit_note,
        deploy::deploy_clusters_have_unique_names_and_idempotent_grants,
        deploy::deploy_placements_stay_on_their_cluster,
        deploy::deploy_apps_round_trip_and_row_scopes_filter_them,
        deploy::deploy_deleted_apps_are_hidden_and_their_names_reusable,
        deploy::deploy_releases_are_numbered_and_become_current,
        deploy::deploy_concurrent_releases_take_each_version_once,
        deploy::deploy_builds_round_trip,
        deploy::deploy_meter_marks_never_move_back,
        deploy::deploy_only_running_apps_are_metered,
    }
    db {
        listings::corrupt_document_is_internal_error,
        listings::price_history_that_breaks_a_rule_is_internal_error,
        sync_runs::unknown_trigger_is_internal_error,
        sync_runs::unreadable_region_report_is_internal_error,
        support::migrate_twice_is_harmless,
        support::concurrent_migrations_agree,
        audit::audit_rows_cannot_be_changed_or_deleted,
        housekeeping::purging_a_newer_code_never_revives_an_older_one,
        search::unreadable_settings_are_internal_errors,
        billing::billing_audit_rows_cannot_be_changed_or_deleted,
        billing_money::billing_amounts_round_trip_and_add_up_in_sql,
        billing_money::billing_amounts_beyond_six_places_or_range_are_refused,
        wallet::concurrent_debits_stop_at_the_floor,
        wallet::interleaved_writes_keep_the_ledger_summing_to_the_balance,
        wallet::wallet_ledger_rows_cannot_be_changed_or_deleted,
        deploy::unreadable_deploy_rows_are_internal_errors,
    }
    postgres_only {
        locks::job_lock_is_shared_across_instances,
    }
}
