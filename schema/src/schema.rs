//! The diesel schema shared by SQLite and PostgreSQL: one table definition
//! per table, using only types both backends map alike (`Text`, `BigInt`).

diesel::table! {
    /// The catalog: one row per listing, retired ones included. At most 16
    /// columns (diesel's default table width); geography and everything else
    /// lives in `doc`.
    listings (id) {
        /// `<vendor>_<hash>`; bytewise order (`COLLATE "C"` on PostgreSQL).
        id -> Text,
        /// Vendor id.
        vendor -> Text,
        /// The vendor's key.
        vendor_sku -> Text,
        /// Taxonomy category.
        category -> Text,
        /// Vendor service.
        service -> Text,
        /// Vendor region code.
        region -> Text,
        /// `active` or `retired`; authoritative over the status inside `doc`.
        status -> Text,
        /// English name.
        name_en -> Nullable<Text>,
        /// Chinese name.
        name_zh -> Nullable<Text>,
        /// `Listing::content_fingerprint` of `doc`.
        content_hash -> Text,
        /// `Listing::price_fingerprint` of `doc`.
        price_hash -> Text,
        /// The whole listing as JSON, amounts as strings.
        doc -> Text,
        /// Provenance fetch time of `doc`, µs since the epoch.
        fetched_at -> BigInt,
        /// First upsert, µs since the epoch.
        first_seen_at -> BigInt,
        /// Last upsert that contained it, µs since the epoch.
        last_seen_at -> BigInt,
        /// Last content or status change, µs since the epoch.
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// Prices of a listing from a point in time on.
    listing_price_history (id) {
        /// Row id, increasing.
        id -> BigInt,
        /// The listing.
        listing_id -> Text,
        /// When these prices were first seen, µs since the epoch.
        recorded_at -> BigInt,
        /// The prices as JSON.
        prices -> Text,
    }
}

diesel::table! {
    /// The change feed.
    listing_changes (seq) {
        /// Feed position.
        seq -> BigInt,
        /// The listing.
        listing_id -> Text,
        /// Its vendor.
        vendor -> Text,
        /// `created`, `updated`, `retired` or `reactivated`.
        kind -> Text,
        /// µs since the epoch.
        recorded_at -> BigInt,
    }
}

diesel::table! {
    /// Sync run reports.
    sync_runs (id) {
        /// Run id.
        id -> BigInt,
        /// Vendor id.
        vendor -> Text,
        /// What started it.
        trigger_name -> Text,
        /// `running`, `succeeded` or `failed`.
        status -> Text,
        /// µs since the epoch.
        started_at -> BigInt,
        /// µs since the epoch.
        finished_at -> Nullable<BigInt>,
        /// Pages stored.
        pages -> BigInt,
        /// Report: new.
        new_count -> BigInt,
        /// Report: changed.
        changed_count -> BigInt,
        /// Report: unchanged.
        unchanged_count -> BigInt,
        /// Report: retired.
        retired_count -> BigInt,
        /// Records rejected.
        rejected -> BigInt,
        /// Kept rejections as JSON.
        rejections -> Text,
        /// Test-region skips and unknown region codes as JSON (`RegionReport`).
        regions -> Text,
        /// Where a failed run resumes.
        resume_token -> Nullable<Text>,
        /// Why it failed.
        error -> Nullable<Text>,
    }
}

diesel::joinable!(listing_price_history -> listings (listing_id));
diesel::joinable!(listing_changes -> listings (listing_id));
diesel::allow_tables_to_appear_in_same_query!(
    listings,
    listing_price_history,
    listing_changes,
    sync_runs
);

diesel::table! {
    /// Partner clouds: the vendor id an enterprise publishes listings under.
    partner_vendors (id) {
        /// `p-<slug>`; bytewise order (`COLLATE "C"` on PostgreSQL).
        id -> Text,
        /// The enterprise (`ent_…`), unique: one partner vendor each.
        enterprise_id -> Text,
        /// Chinese display name.
        name_zh -> Text,
        /// English display name.
        name_en -> Text,
        /// First registration, µs since the epoch.
        created_at -> BigInt,
    }
}
