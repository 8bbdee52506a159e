//! Raw SQL written once for both backends: `$n` placeholders (rewritten to
//! SQLite's `?n`, which names the bind by number as PostgreSQL's `$n` does)
//! and a list of owned arguments bound in order.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel::sqlite::Sqlite;

use crate::db::DbConnection;

/// One bind argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    OptText(Option<String>),
    OptInt(Option<i64>),
    /// PostgreSQL only (`UNNEST`, `= ANY`).
    Texts(Vec<String>),
    /// PostgreSQL only.
    Ints(Vec<i64>),
    /// PostgreSQL only.
    OptInts(Vec<Option<i64>>),
    /// PostgreSQL only.
    OptTexts(Vec<Option<String>>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_owned())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::OptText(v)
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::OptText(v.map(str::to_owned))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::OptInt(v)
    }
}

/// Builds an argument list from values convertible to [`Arg`].
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::billing::sql::Arg::from($value)),*]
    };
}
pub(crate) use args;

fn pg_query(
    sql: &str,
    args: Vec<Arg>,
) -> BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
    let mut query = diesel::sql_query(sql).into_boxed::<Pg>();
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind::<Text, _>(v),
            Arg::Int(v) => query.bind::<BigInt, _>(v),
            Arg::OptText(v) => query.bind::<Nullable<Text>, _>(v),
            Arg::OptInt(v) => query.bind::<Nullable<BigInt>, _>(v),
            Arg::Texts(v) => query.bind::<Array<Text>, _>(v),
            Arg::Ints(v) => query.bind::<Array<BigInt>, _>(v),
            Arg::OptInts(v) => query.bind::<Array<Nullable<BigInt>>, _>(v),
            Arg::OptTexts(v) => query.bind::<Array<Nullable<Text>>, _>(v),
        };
    }
    query
}

/// `$n` → `?n`: SQLite's numbered parameter.
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn sqlite_query(
    sql: &str,
    args: Vec<Arg>,
) -> QueryResult<BoxedSqlQuery<'static, Sqlite, diesel::query_builder::SqlQuery>> {
    let mut query = diesel::sql_query(sqlite_sql(sql)).into_boxed::<Sqlite>();
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind::<Text, _>(v),
            Arg::Int(v) => query.bind::<BigInt, _>(v),
            Arg::OptText(v) => query.bind::<Nullable<Text>, _>(v),
            Arg::OptInt(v) => query.bind::<Nullable<BigInt>, _>(v),
            Arg::Texts(_) | Arg::Ints(_) | Arg::OptInts(_) | Arg::OptTexts(_) => {
                return Err(DieselError::QueryBuilderError(
                    "array arguments are PostgreSQL-only".into(),
                ));
            }
        };
    }
    Ok(query)
}

/// Runs a statement; the rows it changed.
pub(crate) fn execute(conn: &mut DbConnection, sql: &str, args: Vec<Arg>) -> QueryResult<usize> {
    match conn {
        DbConnection::Pg(pg) => pg_query(sql, args).execute(pg),
        DbConnection::Sqlite(sqlite) => sqlite_query(sql, args)?.execute(sqlite),
    }
}

/// Runs a query (or a statement with `RETURNING`); its rows.
pub(crate) fn load<T>(conn: &mut DbConnection, sql: &str, args: Vec<Arg>) -> QueryResult<Vec<T>>
where
    T: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
{
    match conn {
        DbConnection::Pg(pg) => pg_query(sql, args).load(pg),
        DbConnection::Sqlite(sqlite) => sqlite_query(sql, args)?.load(sqlite),
    }
}

/// The first row of [`load`], if any.
pub(crate) fn first<T>(conn: &mut DbConnection, sql: &str, args: Vec<Arg>) -> QueryResult<Option<T>>
where
    T: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
{
    Ok(load(conn, sql, args)?.into_iter().next())
}

/// Values per SQLite `IN` list.
const SQLITE_IN_CHUNK: usize = 900;

/// Rows of `{select} {column} IN (…)` for `values`, with `$1` the
/// issuer: one `= ANY($2)` on PostgreSQL, `IN` lists of bounded length on
/// SQLite.
pub(crate) fn select_in<T>(
    conn: &mut DbConnection,
    issuer: &str,
    select: &str,
    column: &str,
    values: &[String],
) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    if values.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        DbConnection::Pg(_) => load(
            conn,
            &format!("{select} {column} = ANY($2)"),
            vec![Arg::from(issuer), Arg::Texts(values.to_vec())],
        ),
        DbConnection::Sqlite(_) => {
            let mut rows = Vec::new();
            for chunk in values.chunks(SQLITE_IN_CHUNK) {
                let mut args = args![issuer];
                args.extend(chunk.iter().map(Arg::from));
                rows.extend(load(
                    conn,
                    &format!("{select} {column} IN ({})", placeholders(2, chunk.len())),
                    args,
                )?);
            }
            Ok(rows)
        }
    }
}

/// ` FOR UPDATE` on PostgreSQL (a read that a check-then-write relies on
/// locks its rows under read committed); nothing on SQLite, whose one
/// writer (`BEGIN IMMEDIATE`) already excludes every other.
pub(crate) fn for_update(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Pg(_) => " FOR UPDATE",
        DbConnection::Sqlite(_) => "",
    }
}

/// `$first, $first+1, …` for `n` arguments (an SQLite `IN` list).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_sqlite_parameters() {
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE x = $2 AND y = $10 AND z = '$'"),
            "SELECT a FROM t WHERE x = ?2 AND y = ?10 AND z = '$'"
        );
        assert_eq!(placeholders(3, 2), "$3, $4");
    }
}
