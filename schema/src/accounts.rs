//! `AccountStore` on [`Database`]: accounts, log-in throttling and one-time
//! codes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use shiyun_core::ValidationError;
use shiyun_core::store::{StoreError, StoreResult};
use shiyun_core::tenancy::{
    Account, AccountId, AccountStore, Channel, CodePurpose, CodeUse, LockoutPolicy,
    LoginIdentifier, LoginThrottle, NewAccount, OneTimeCode, SessionId,
};

use crate::db::{Database, DbConnection, Isolation, map_diesel};
use crate::schema::{accounts, login_throttles, one_time_codes, sessions};
use crate::time::{from_micros, micros};
use crate::user_centre::{corrupt, decode, not_found, opt_time, pg_lock, read};

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub(crate) struct AccountRecord {
    id: String,
    email: Option<String>,
    email_verified_at: Option<i64>,
    phone: Option<String>,
    phone_verified_at: Option<i64>,
    display_name: String,
    operator: bool,
    created_at: i64,
}

impl TryFrom<AccountRecord> for Account {
    type Error = StoreError;

    fn try_from(r: AccountRecord) -> StoreResult<Account> {
        Ok(Account {
            id: decode(&r.id, AccountId::parse)?,
            email: r.email,
            email_verified_at: opt_time(r.email_verified_at)?,
            phone: r.phone,
            phone_verified_at: opt_time(r.phone_verified_at)?,
            display_name: r.display_name,
            operator: r.operator,
            created_at: from_micros(r.created_at)?,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct AccountRow<'a> {
    id: &'a str,
    email: Option<&'a str>,
    email_verified_at: Option<i64>,
    phone: Option<&'a str>,
    phone_verified_at: Option<i64>,
    display_name: &'a str,
    operator: bool,
    password_hash: &'a str,
    created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = one_time_codes)]
struct CodeRow<'a> {
    purpose: &'static str,
    account_id: &'a str,
    target: &'a str,
    code_hash: &'a str,
    attempts: i64,
    created_at: i64,
    expires_at: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = one_time_codes)]
struct CodeRecord {
    id: i64,
    account_id: String,
    target: String,
    code_hash: String,
    attempts: i64,
    expires_at: i64,
    used_at: Option<i64>,
    superseded_at: Option<i64>,
}

impl CodeRecord {
    fn into_code(self, purpose: CodePurpose) -> StoreResult<OneTimeCode> {
        Ok(OneTimeCode {
            purpose,
            account: decode(&self.account_id, AccountId::parse)?,
            target: self.target,
            hash: self.code_hash,
            expires_at: from_micros(self.expires_at)?,
        })
    }
}

/// The stored account `id`, which must exist.
fn account_record(conn: &mut DbConnection, id: &str) -> QueryResult<AccountRecord> {
    accounts::table
        .find(id)
        .select(AccountRecord::as_select())
        .first(conn)
}

/// `at + by` in µs, or a validation error when the policy overflows time.
fn later(at: DateTime<Utc>, by: chrono::Duration, field: &str) -> StoreResult<i64> {
    at.checked_add_signed(by)
        .map(micros)
        .ok_or_else(|| ValidationError::new(field, "is out of range").into())
}

/// The stored failure expiries still in force at `now`.
fn live_failures(text: &str, now: i64) -> StoreResult<Vec<i64>> {
    let mut expiries: Vec<i64> =
        serde_json::from_str(text).map_err(|e| corrupt(format!("login throttle failures: {e}")))?;
    expiries.retain(|&expiry| expiry > now);
    expiries.sort_unstable();
    Ok(expiries)
}

fn throttle(failures: usize, locked_until: Option<i64>) -> StoreResult<LoginThrottle> {
    Ok(LoginThrottle {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        locked_until: opt_time(locked_until)?,
    })
}

impl AccountStore for Database {
    fn create_account(&self, new: &NewAccount) -> StoreResult<Account> {
        let a = &new.account;
        let row = AccountRow {
            id: a.id.as_str(),
            email: a.email.as_deref(),
            email_verified_at: a.email_verified_at.map(micros),
            phone: a.phone.as_deref(),
            phone_verified_at: a.phone_verified_at.map(micros),
            display_name: &a.display_name,
            operator: a.operator,
            password_hash: &new.password_hash,
            created_at: micros(a.created_at),
        };
        read(self, |conn| {
            diesel::insert_into(accounts::table)
                .values(&row)
                .execute(conn)?;
            // Read back: the stored times are whole microseconds.
            Ok(Account::try_from(account_record(conn, a.id.as_str())?)?)
        })
    }

    fn find_credentials(&self, login: &LoginIdentifier) -> StoreResult<Option<(Account, String)>> {
        let query = accounts::table
            .select((AccountRecord::as_select(), accounts::password_hash))
            .into_boxed();
        let query = match login {
            LoginIdentifier::Email(email) => query.filter(accounts::email.eq(email.as_str())),
            LoginIdentifier::Phone(phone) => query.filter(accounts::phone.eq(phone.as_str())),
        };
        let mut conn = self.conn()?;
        let found: Option<(AccountRecord, String)> =
            query.first(&mut *conn).optional().map_err(map_diesel)?;
        found
            .map(|(record, hash)| Ok((Account::try_from(record)?, hash)))
            .transpose()
    }

    fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        let mut conn = self.conn()?;
        let found: Option<AccountRecord> = accounts::table
            .find(id.as_str())
            .select(AccountRecord::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(map_diesel)?;
        found.map(Account::try_from).transpose()
    }

    fn set_password(
        &self,
        id: &AccountId,
        password_hash: &str,
        keep: Option<&SessionId>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = micros(at);
        self.transaction(Isolation::ReadCommitted, |conn| {
            let updated = diesel::update(accounts::table.find(id.as_str()))
                .set(accounts::password_hash.eq(password_hash))
                .execute(conn)?;
            if updated == 0 {
                return Err(not_found("account", id).into());
            }
            let live = sessions::table
                .filter(sessions::account_id.eq(id.as_str()))
                .filter(sessions::revoked_at.is_null());
            let revoke = sessions::revoked_at.eq(Some(now));
            match keep {
                Some(keep) => diesel::update(live.filter(sessions::id.ne(keep.as_str())))
                    .set(revoke)
                    .execute(conn)?,
                None => diesel::update(live).set(revoke).execute(conn)?,
            };
            Ok(())
        })
    }

    fn bind_channel(
        &self,
        id: &AccountId,
        channel: Channel,
        target: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let now = Some(micros(at));
        let target = Some(target);
        self.transaction(Isolation::ReadCommitted, |conn| {
            let updated = diesel::update(accounts::table.find(id.as_str()));
            let changed = match channel {
                Channel::Email => updated
                    .set((
                        accounts::email.eq(target),
                        accounts::email_verified_at.eq(now),
                    ))
                    .execute(conn)?,
                Channel::Phone => updated
                    .set((
                        accounts::phone.eq(target),
                        accounts::phone_verified_at.eq(now),
                    ))
                    .execute(conn)?,
            };
            if changed == 0 {
                return Err(not_found("account", id).into());
            }
            Ok(Account::try_from(account_record(conn, id.as_str())?)?)
        })
    }

    fn set_operator(&self, id: &AccountId, operator: bool) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let updated = diesel::update(accounts::table.find(id.as_str()))
            .set(accounts::operator.eq(operator))
            .execute(&mut *conn)
            .map_err(map_diesel)?;
        if updated == 0 {
            return Err(not_found("account", id));
        }
        Ok(())
    }

    fn note_login_failure(
        &self,
        key: &str,
        at: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> StoreResult<LoginThrottle> {
        let now = micros(at);
        let expiry = later(at, policy.window, "lockout.window")?;
        let lock_end = later(at, policy.lock_for, "lockout.lock_for")?;
        // Failures beyond the limit change nothing, so only that many are kept.
        let limit = usize::try_from(policy.max_failures.max(1)).unwrap_or(usize::MAX);
        self.transaction(Isolation::ReadCommitted, |conn| {
            // The row first, so concurrent failures of a new key queue on it.
            // The no-op update locks an existing row at once (PostgreSQL), so
            // a purge or clear cannot delete it before it is read below.
            diesel::sql_query(
                "INSERT INTO login_throttles (throttle_key, failure_expiries) VALUES ($1, '[]') \
                 ON CONFLICT (throttle_key) DO UPDATE SET throttle_key = excluded.throttle_key",
            )
            .bind::<Text, _>(key)
            .execute(conn)?;
            pg_lock(
                conn,
                "SELECT throttle_key FROM login_throttles WHERE throttle_key = $1 FOR UPDATE",
                &[key],
            )?;
            let (stored, locked_until): (String, Option<i64>) = login_throttles::table
                .find(key)
                .select((
                    login_throttles::failure_expiries,
                    login_throttles::locked_until,
                ))
                .first(conn)?;
            let mut expiries = live_failures(&stored, now)?;
            expiries.push(expiry);
            expiries.sort_unstable();
            if expiries.len() > limit {
                expiries.drain(..expiries.len() - limit);
            }
            // A lock in force stays as it is; a lapsed one is gone.
            let mut locked_until = locked_until.filter(|&until| until > now);
            if locked_until.is_none() && expiries.len() >= limit {
                locked_until = Some(lock_end);
            }
            let text = serde_json::to_string(&expiries)
                .map_err(|e| StoreError::Internal(format!("cannot serialise failures: {e}")))?;
            diesel::update(login_throttles::table.find(key))
                .set((
                    login_throttles::failure_expiries.eq(text),
                    login_throttles::locked_until.eq(locked_until),
                ))
                .execute(conn)?;
            Ok(throttle(expiries.len(), locked_until)?)
        })
    }

    fn login_throttle(&self, key: &str, at: DateTime<Utc>) -> StoreResult<LoginThrottle> {
        let now = micros(at);
        let mut conn = self.conn()?;
        let found: Option<(String, Option<i64>)> = login_throttles::table
            .find(key)
            .select((
                login_throttles::failure_expiries,
                login_throttles::locked_until,
            ))
            .first(&mut *conn)
            .optional()
            .map_err(map_diesel)?;
        match found {
            Some((stored, locked_until)) => throttle(
                live_failures(&stored, now)?.len(),
                locked_until.filter(|&until| until > now),
            ),
            None => throttle(0, None),
        }
    }

    fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            // A lock outlives the failures that caused it.
            diesel::delete(login_throttles::table.find(key))
                .filter(login_throttles::locked_until.is_null())
                .execute(conn)?;
            diesel::update(login_throttles::table.find(key))
                .set(login_throttles::failure_expiries.eq("[]"))
                .execute(conn)?;
            Ok(())
        })
    }

    fn issue_code(&self, code: &OneTimeCode, at: DateTime<Utc>) -> StoreResult<()> {
        let now = micros(at);
        let row = CodeRow {
            purpose: code.purpose.as_str(),
            account_id: code.account.as_str(),
            target: &code.target,
            code_hash: &code.hash,
            attempts: 0,
            created_at: now,
            expires_at: micros(code.expires_at),
        };
        self.transaction(Isolation::ReadCommitted, |conn| {
            diesel::update(
                one_time_codes::table
                    .filter(one_time_codes::account_id.eq(code.account.as_str()))
                    .filter(one_time_codes::purpose.eq(code.purpose.as_str()))
                    .filter(one_time_codes::used_at.is_null())
                    .filter(one_time_codes::superseded_at.is_null()),
            )
            .set(one_time_codes::superseded_at.eq(Some(now)))
            .execute(conn)?;
            diesel::insert_into(one_time_codes::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
    }

    fn consume_code(
        &self,
        purpose: CodePurpose,
        account: Option<&AccountId>,
        hash: &str,
        max_attempts: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<CodeUse> {
        let now = micros(at);
        let max = i64::from(max_attempts);
        self.transaction(Isolation::ReadCommitted, |conn| {
            let of_purpose = one_time_codes::table
                .filter(one_time_codes::purpose.eq(purpose.as_str()))
                .select(CodeRecord::as_select())
                .order(one_time_codes::id.desc())
                .into_boxed();
            // The code in question: the account's newest, or the newest with this hash.
            let found: Option<CodeRecord> = match account {
                Some(account) => of_purpose
                    .filter(one_time_codes::account_id.eq(account.as_str()))
                    .first(conn)
                    .optional()?,
                None => of_purpose
                    .filter(one_time_codes::code_hash.eq(hash))
                    .filter(one_time_codes::used_at.is_null())
                    .filter(one_time_codes::superseded_at.is_null())
                    .first(conn)
                    .optional()?,
            };
            let Some(code) = found else {
                return Ok(CodeUse::Refused);
            };
            // Only the account's newest code of the purpose works, even if
            // two were issued at once and neither superseded the other.
            let newer: i64 = one_time_codes::table
                .filter(one_time_codes::account_id.eq(&code.account_id))
                .filter(one_time_codes::purpose.eq(purpose.as_str()))
                .filter(one_time_codes::id.gt(code.id))
                .count()
                .get_result(conn)?;
            if newer > 0
                || code.used_at.is_some()
                || code.superseded_at.is_some()
                || code.expires_at <= now
                || code.attempts >= max
            {
                return Ok(CodeUse::Refused);
            }
            // Guarded writes: a concurrent use or wrong try counts once.
            let live = one_time_codes::table
                .filter(one_time_codes::id.eq(code.id))
                .filter(one_time_codes::used_at.is_null())
                .filter(one_time_codes::superseded_at.is_null())
                .filter(one_time_codes::attempts.lt(max));
            if code.code_hash == hash {
                let used = diesel::update(live)
                    .set(one_time_codes::used_at.eq(Some(now)))
                    .execute(conn)?;
                if used == 1 {
                    return Ok(CodeUse::Consumed(code.into_code(purpose)?));
                }
            } else {
                diesel::update(live)
                    .set(one_time_codes::attempts.eq(one_time_codes::attempts + 1))
                    .execute(conn)?;
            }
            Ok(CodeUse::Refused)
        })
    }
}
