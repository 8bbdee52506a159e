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

diesel::table! {
    /// People's accounts.
    accounts (id) {
        /// `acc_…`.
        id -> Text,
        /// Normalised email address; unique.
        email -> Nullable<Text>,
        /// When it was confirmed, µs since the epoch.
        email_verified_at -> Nullable<BigInt>,
        /// E.164 phone number; unique.
        phone -> Nullable<Text>,
        /// When it was confirmed, µs since the epoch.
        phone_verified_at -> Nullable<BigInt>,
        /// Name shown to others.
        display_name -> Text,
        /// A platform operator.
        operator -> Bool,
        /// Argon2id PHC string.
        password_hash -> Text,
        /// µs since the epoch.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Failed log-ins per login identifier or IP.
    login_throttles (throttle_key) {
        /// The identifier or IP.
        throttle_key -> Text,
        /// When each counted failure stops counting: a JSON array of µs, oldest first.
        failure_expiries -> Text,
        /// Locked until then, µs since the epoch.
        locked_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// One-time codes and reset tokens.
    one_time_codes (id) {
        /// Row id, increasing.
        id -> BigInt,
        /// `CodePurpose::as_str`.
        purpose -> Text,
        /// For whom.
        account_id -> Text,
        /// Where it was sent.
        target -> Text,
        /// SHA-256 (hex) of the code.
        code_hash -> Text,
        /// Wrong tries so far.
        attempts -> BigInt,
        /// µs since the epoch.
        created_at -> BigInt,
        /// µs since the epoch.
        expires_at -> BigInt,
        /// µs since the epoch.
        used_at -> Nullable<BigInt>,
        /// When a newer code replaced it, µs since the epoch.
        superseded_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Log-in sessions.
    sessions (id) {
        /// `ses_…`.
        id -> Text,
        /// Whose.
        account_id -> Text,
        /// `personal` or the enterprise id.
        identity -> Text,
        /// µs since the epoch.
        created_at -> BigInt,
        /// µs since the epoch.
        expires_at -> BigInt,
        /// µs since the epoch.
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Refresh tokens; a session's one unused token is its current one.
    refresh_tokens (token_hash) {
        /// SHA-256 (hex) of the token.
        token_hash -> Text,
        /// Its session.
        session_id -> Text,
        /// µs since the epoch.
        issued_at -> BigInt,
        /// µs since the epoch.
        expires_at -> BigInt,
        /// When it was presented and rotated, µs since the epoch.
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Enterprises (tenants).
    enterprises (id) {
        /// `ent_…`.
        id -> Text,
        /// Name as given.
        name -> Text,
        /// The name lowercased; unique.
        name_key -> Text,
        /// µs since the epoch.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Memberships.
    members (enterprise_id, account_id) {
        /// The enterprise.
        enterprise_id -> Text,
        /// The account.
        account_id -> Text,
        /// Built-in (`tpl_owner`) or the enterprise's own template.
        template_id -> Text,
        /// The one administrator.
        is_admin -> Bool,
        /// µs since the epoch.
        joined_at -> BigInt,
    }
}

diesel::table! {
    /// Applications to join an enterprise.
    applications (id) {
        /// `apl_…`.
        id -> Text,
        /// Applied to.
        enterprise_id -> Text,
        /// Who applies.
        account_id -> Text,
        /// What they wrote.
        message -> Text,
        /// `pending`, `approved` or `rejected`.
        status -> Text,
        /// µs since the epoch.
        created_at -> BigInt,
        /// Who decided.
        decided_by -> Nullable<Text>,
        /// µs since the epoch.
        decided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Invitations by email.
    invitations (id) {
        /// `inv_…`.
        id -> Text,
        /// The inviting enterprise.
        enterprise_id -> Text,
        /// The invited address, normalised.
        email -> Text,
        /// The template the member gets.
        template_id -> Text,
        /// Who invited.
        invited_by -> Text,
        /// `pending`, `approved` (accepted) or `rejected` (revoked).
        status -> Text,
        /// SHA-256 (hex) of the token; unique.
        token_hash -> Text,
        /// µs since the epoch.
        created_at -> BigInt,
        /// µs since the epoch.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Projects inside enterprises.
    projects (id) {
        /// `prj_…`.
        id -> Text,
        /// The enterprise.
        enterprise_id -> Text,
        /// Unique within the enterprise.
        name -> Text,
        /// Who created it.
        created_by -> Text,
        /// µs since the epoch.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Project memberships.
    project_members (project_id, account_id) {
        /// The project.
        project_id -> Text,
        /// The member.
        account_id -> Text,
    }
}

diesel::table! {
    /// Enterprises' own permission templates.
    templates (id) {
        /// `tpl_…`.
        id -> Text,
        /// The enterprise.
        enterprise_id -> Text,
        /// Unique within the enterprise.
        name -> Text,
        /// JSON array of permission names.
        permissions -> Text,
        /// `all`, `projects` or `own`.
        data_scope -> Text,
    }
}

diesel::table! {
    /// API keys.
    api_keys (id) {
        /// `key_…`.
        id -> Text,
        /// The enterprise it acts for.
        enterprise_id -> Text,
        /// Its template.
        template_id -> Text,
        /// Its project, if any.
        project_id -> Nullable<Text>,
        /// A label.
        name -> Text,
        /// Who created it.
        created_by -> Text,
        /// SHA-256 (hex) of the secret.
        secret_hash -> Text,
        /// µs since the epoch.
        created_at -> BigInt,
        /// µs since the epoch.
        expires_at -> Nullable<BigInt>,
        /// µs since the epoch.
        revoked_at -> Nullable<BigInt>,
        /// µs since the epoch.
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// The append-only audit log.
    audit_events (seq) {
        /// Order of appending.
        seq -> BigInt,
        /// Account or enterprise id; NULL for platform events.
        tenant -> Nullable<Text>,
        /// Who acted.
        actor -> Nullable<Text>,
        /// What happened.
        action -> Text,
        /// What it happened to.
        subject -> Text,
        /// The caller's IP.
        ip -> Nullable<Text>,
        /// JSON text.
        detail -> Text,
        /// µs since the epoch.
        recorded_at -> BigInt,
    }
}

diesel::joinable!(listing_price_history -> listings (listing_id));
diesel::joinable!(listing_changes -> listings (listing_id));
diesel::joinable!(members -> enterprises (enterprise_id));
diesel::joinable!(project_members -> projects (project_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::allow_tables_to_appear_in_same_query!(
    listings,
    listing_price_history,
    listing_changes,
    sync_runs,
    accounts,
    login_throttles,
    one_time_codes,
    sessions,
    refresh_tokens,
    enterprises,
    members,
    applications,
    invitations,
    projects,
    project_members,
    templates,
    api_keys,
    audit_events,
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

diesel::table! {
    /// Search settings an operator saved, one row per setting.
    search_settings (key) {
        /// `synonyms` or `fx_table`.
        key -> Text,
        /// The setting as JSON text (amounts and rates as strings).
        value -> Text,
        /// 1 on the first save, one more on each further save.
        version -> BigInt,
        /// Last save, µs since the epoch.
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// Views counted per listing, for search's popularity ranking.
    listing_popularity (listing_id) {
        /// The listing; bytewise order (`COLLATE "C"` on PostgreSQL).
        listing_id -> Text,
        /// Views so far.
        views -> BigInt,
    }
}

diesel::joinable!(listing_popularity -> listings (listing_id));
diesel::allow_tables_to_appear_in_same_query!(listing_popularity, listings);
