//! `UserCentreHousekeeping` on [`Database`]: deleting user-centre rows that
//! can never be used again.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use shiyun_core::store::StoreResult;
use shiyun_core::tenancy::{PurgeReport, UserCentreHousekeeping};

use crate::db::{Database, DbConnection, Isolation};
use crate::schema::{invitations, login_throttles};
use crate::time::micros;

/// Dead codes, unless an older code of the same account and purpose is
/// live: `consume_code` honours only the newest, so the newer one must stay
/// to keep hiding it.
const DELETE_CODES: &str = "DELETE FROM one_time_codes \
     WHERE (used_at IS NOT NULL OR superseded_at IS NOT NULL OR expires_at <= $1) \
     AND NOT EXISTS (SELECT 1 FROM one_time_codes AS older \
         WHERE older.account_id = one_time_codes.account_id \
         AND older.purpose = one_time_codes.purpose \
         AND older.id < one_time_codes.id \
         AND older.used_at IS NULL AND older.superseded_at IS NULL \
         AND older.expires_at > $1)";

/// Tokens of dead sessions, and used tokens past their own expiry.
const DELETE_TOKENS: &str = "DELETE FROM refresh_tokens \
     WHERE (used_at IS NOT NULL AND expires_at <= $1) \
     OR session_id IN (SELECT id FROM sessions \
         WHERE revoked_at IS NOT NULL OR expires_at <= $1)";

/// Expired sessions; one that gained a token meanwhile waits for the next run.
const DELETE_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1 \
     AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE refresh_tokens.session_id = sessions.id)";

fn delete_with_time(conn: &mut DbConnection, sql: &str, now: i64) -> QueryResult<u64> {
    let deleted = diesel::sql_query(sql)
        .bind::<BigInt, _>(now)
        .execute(conn)?;
    Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
}

/// Throttle rows with no lock in force and no failure still counting.
fn delete_throttles(conn: &mut DbConnection, now: i64) -> QueryResult<u64> {
    let unlocked = || {
        login_throttles::locked_until
            .is_null()
            .or(login_throttles::locked_until.le(now))
    };
    let rows: Vec<(String, String)> = login_throttles::table
        .filter(unlocked())
        .select((
            login_throttles::throttle_key,
            login_throttles::failure_expiries,
        ))
        .load(conn)?;
    let mut deleted = 0;
    for (key, stored) in rows {
        // An unreadable row is left for `note_login_failure` to report.
        let Ok(expiries) = serde_json::from_str::<Vec<i64>>(&stored) else {
            continue;
        };
        if expiries.iter().any(|&expiry| expiry > now) {
            continue;
        }
        // Guarded by what was read: a failure counted meanwhile keeps the row.
        deleted += diesel::delete(login_throttles::table.find(&key))
            .filter(login_throttles::failure_expiries.eq(&stored))
            .filter(unlocked())
            .execute(conn)?;
    }
    Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
}

impl UserCentreHousekeeping for Database {
    fn purge_expired(
        &self,
        before: DateTime<Utc>,
        invitations_before: DateTime<Utc>,
    ) -> StoreResult<PurgeReport> {
        let now = micros(before);
        let invitation_cutoff = micros(invitations_before).min(now);
        self.transaction(Isolation::ReadCommitted, |conn| {
            let codes = delete_with_time(conn, DELETE_CODES, now)?;
            // Tokens first: they reference their sessions.
            let refresh_tokens = delete_with_time(conn, DELETE_TOKENS, now)?;
            let sessions = delete_with_time(conn, DELETE_SESSIONS, now)?;
            let login_throttles = delete_throttles(conn, now)?;
            let invitations = diesel::delete(
                invitations::table.filter(invitations::expires_at.le(invitation_cutoff)),
            )
            .execute(conn)?;
            Ok(PurgeReport {
                codes,
                refresh_tokens,
                sessions,
                login_throttles,
                invitations: u64::try_from(invitations).unwrap_or(u64::MAX),
            })
        })
    }
}
