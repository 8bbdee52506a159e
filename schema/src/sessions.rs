//! `SessionStore` on [`Database`]: log-in sessions and their rotating
//! refresh tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use shiyun_core::store::{StoreError, StoreResult};
use shiyun_core::tenancy::{
    AccountId, EnterpriseId, Identity, RefreshToken, Rotation, Session, SessionId, SessionStore,
};

use crate::db::{Database, DbConnection, Isolation, map_diesel};
use crate::schema::{refresh_tokens, sessions};
use crate::time::{from_micros, micros};
use crate::user_centre::{decode, not_found, opt_time};

/// The stored text of an identity: `personal` or the enterprise id.
pub(crate) fn identity_text(identity: &Identity) -> &str {
    match identity {
        Identity::Personal => "personal",
        Identity::Enterprise(id) => id.as_str(),
    }
}

fn parse_identity(text: &str) -> StoreResult<Identity> {
    if text == "personal" {
        Ok(Identity::Personal)
    } else {
        decode(text, EnterpriseId::parse).map(Identity::Enterprise)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
struct SessionRecord {
    id: String,
    account_id: String,
    identity: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<SessionRecord> for Session {
    type Error = StoreError;

    fn try_from(r: SessionRecord) -> StoreResult<Session> {
        Ok(Session {
            id: decode(&r.id, SessionId::parse)?,
            account: decode(&r.account_id, AccountId::parse)?,
            identity: parse_identity(&r.identity)?,
            created_at: from_micros(r.created_at)?,
            expires_at: from_micros(r.expires_at)?,
            revoked_at: opt_time(r.revoked_at)?,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
struct TokenRow<'a> {
    token_hash: &'a str,
    session_id: &'a str,
    issued_at: i64,
    expires_at: i64,
}

impl<'a> TokenRow<'a> {
    fn new(token: &'a RefreshToken, session: &'a str) -> Self {
        TokenRow {
            token_hash: &token.hash,
            session_id: session,
            issued_at: micros(token.issued_at),
            expires_at: micros(token.expires_at),
        }
    }
}

/// Revokes a session unless it already is (the first time stays).
fn revoke(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(Some(now)))
        .execute(conn)
}

impl SessionStore for Database {
    fn create_session(&self, session: &Session, first: &RefreshToken) -> StoreResult<()> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(session.id.as_str()),
                    sessions::account_id.eq(session.account.as_str()),
                    sessions::identity.eq(identity_text(&session.identity)),
                    sessions::created_at.eq(micros(session.created_at)),
                    sessions::expires_at.eq(micros(session.expires_at)),
                    sessions::revoked_at.eq(session.revoked_at.map(micros)),
                ))
                .execute(conn)?;
            diesel::insert_into(refresh_tokens::table)
                .values(TokenRow::new(first, session.id.as_str()))
                .execute(conn)?;
            Ok(())
        })
    }

    fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        let mut conn = self.conn()?;
        let found: Option<SessionRecord> = sessions::table
            .find(id.as_str())
            .select(SessionRecord::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(map_diesel)?;
        found.map(Session::try_from).transpose()
    }

    fn rotate_refresh(
        &self,
        presented_hash: &str,
        next: &RefreshToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Rotation> {
        let now = micros(at);
        self.transaction(Isolation::ReadCommitted, |conn| {
            let found: Option<(i64, Option<i64>, SessionRecord)> = refresh_tokens::table
                .inner_join(sessions::table)
                .filter(refresh_tokens::token_hash.eq(presented_hash))
                .select((
                    refresh_tokens::expires_at,
                    refresh_tokens::used_at,
                    SessionRecord::as_select(),
                ))
                .first(conn)
                .optional()?;
            let Some((expires_at, used_at, session)) = found else {
                return Ok(Rotation::Refused);
            };
            let session_id = decode(&session.id, SessionId::parse)?;
            if used_at.is_some() {
                // A used token again: someone holds a copy. End the family.
                revoke(conn, &session.id, now)?;
                return Ok(Rotation::Replayed(session_id));
            }
            if expires_at <= now || session.expires_at <= now || session.revoked_at.is_some() {
                return Ok(Rotation::Refused);
            }
            // Guarded: of concurrent presentations exactly one marks it used;
            // under read committed the others wait for its row lock, then
            // find it used, which is a replay like any other.
            let marked = diesel::update(refresh_tokens::table.find(presented_hash))
                .filter(refresh_tokens::used_at.is_null())
                .set(refresh_tokens::used_at.eq(Some(now)))
                .execute(conn)?;
            if marked == 0 {
                revoke(conn, &session.id, now)?;
                return Ok(Rotation::Replayed(session_id));
            }
            diesel::insert_into(refresh_tokens::table)
                .values(TokenRow::new(next, &session.id))
                .execute(conn)?;
            Ok(Rotation::Rotated(Session::try_from(session)?))
        })
    }

    fn set_session_identity(&self, id: &SessionId, identity: &Identity) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let updated = diesel::update(sessions::table.find(id.as_str()))
            .set(sessions::identity.eq(identity_text(identity)))
            .execute(&mut *conn)
            .map_err(map_diesel)?;
        if updated == 0 {
            return Err(not_found("session", id));
        }
        Ok(())
    }

    fn revoke_session(&self, id: &SessionId, at: DateTime<Utc>) -> StoreResult<()> {
        let now = micros(at);
        self.transaction(Isolation::ReadCommitted, |conn| {
            if revoke(conn, id.as_str(), now)? == 0 {
                let exists: i64 = sessions::table.find(id.as_str()).count().get_result(conn)?;
                if exists == 0 {
                    return Err(not_found("session", id).into());
                }
            }
            Ok(())
        })
    }
}
