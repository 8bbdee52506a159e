//! What the user-centre stores (accounts, sessions, tenancy, API keys,
//! audit) share: decoding stored ids and times, errors in the store's own
//! words, and PostgreSQL row locks.

use std::fmt::Display;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Text;
use shiyun_core::ValidationError;
use shiyun_core::store::{StoreError, StoreResult};

use crate::db::{Database, DbConnection, TxError};
use crate::time::from_micros;

/// A stored value that no longer decodes: a bug or a hand-edited row.
pub(crate) fn corrupt(what: impl Display) -> StoreError {
    StoreError::Internal(format!("corrupt user-centre row: {what}"))
}

/// Parses a stored id (or other checked text) with its own parser.
pub(crate) fn decode<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> StoreResult<T> {
    parse(text).map_err(|e| corrupt(format!("`{text}`: {e}")))
}

/// An optional stored time.
pub(crate) fn opt_time(micros: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    micros.map(from_micros).transpose()
}

/// `NotFound` for `entity` `id`.
pub(crate) fn not_found(entity: &'static str, id: impl Display) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_string(),
    }
}

/// Whether a statement broke a unique constraint (to be answered in the
/// method's own words rather than as `AlreadyExists`).
pub(crate) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Maps a unique violation to `Conflict(message)`, any other error as usual.
pub(crate) fn unique_is_conflict(message: &'static str) -> impl FnOnce(DieselError) -> TxError {
    move |error| {
        if is_unique_violation(&error) {
            TxError::Store(StoreError::Conflict(message.to_owned()))
        } else {
            TxError::Diesel(error)
        }
    }
}

/// On PostgreSQL, runs `select` (a `SELECT … FOR UPDATE` or `FOR SHARE`
/// whose parameters are `binds`, all text) to lock the rows it finds until
/// the transaction ends, so a read-check-write on them is not raced under
/// read committed. SQLite needs nothing: its one writer already holds the
/// database's write lock (`BEGIN IMMEDIATE`).
pub(crate) fn pg_lock(conn: &mut DbConnection, select: &str, binds: &[&str]) -> QueryResult<()> {
    if let DbConnection::Pg(pg) = conn {
        let mut query = diesel::sql_query(select).into_boxed::<Pg>();
        for bind in binds {
            query = query.bind::<Text, _>(bind.to_string());
        }
        query.execute(pg)?;
    }
    Ok(())
}

/// Runs the reads of `f` on one pooled connection, outside a transaction
/// (on SQLite a transaction here would take the write lock for a read).
pub(crate) fn read<T>(
    db: &Database,
    f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
) -> StoreResult<T> {
    let mut conn = db.conn()?;
    f(&mut conn).map_err(StoreError::from)
}
