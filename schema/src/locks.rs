//! `JobLock` on [`Database`]: PostgreSQL session advisory locks held on a
//! pooled connection, or a process-local set on SQLite.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use diesel::prelude::*;
use diesel::r2d2::PooledConnection;
use diesel::sql_types::{BigInt, Bool};
use shiyun_core::store::{JobGuard, JobLock, StoreError, StoreResult};

use crate::db::{Backend, Database, DbConnection, Manager, map_diesel};

/// The advisory lock key of a job: FNV-1a, stable across builds and
/// instances (std's hasher is randomly seeded per process).
fn job_key(job: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"shiyun.job:".iter().chain(job.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_be_bytes(hash.to_be_bytes())
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Holds the connection that owns the session lock; dropping unlocks and
/// returns it to the pool.
struct PgJobGuard {
    conn: PooledConnection<Manager>,
    key: i64,
    job: String,
}

impl JobGuard for PgJobGuard {}

impl Drop for PgJobGuard {
    fn drop(&mut self) {
        if let DbConnection::Pg(pg) = &mut *self.conn {
            let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1) AS locked")
                .bind::<BigInt, _>(self.key)
                .get_result::<Locked>(pg);
            match unlocked {
                Ok(Locked { locked: true }) => {}
                Ok(Locked { locked: false }) => {
                    tracing::warn!(job = %self.job, "job lock was not held at release")
                }
                Err(error) => {
                    // Try once more wholesale; a broken connection is dropped by the pool,
                    // and its session (with the lock) ends.
                    tracing::warn!(job = %self.job, %error, "cannot release job lock");
                    if diesel::sql_query("SELECT pg_advisory_unlock_all()")
                        .execute(pg)
                        .is_err()
                    {
                        // Last resort: end this session, which frees its locks,
                        // rather than return a connection that still holds one.
                        let _ = diesel::sql_query("SELECT pg_terminate_backend(pg_backend_pid())")
                            .execute(pg);
                    }
                }
            }
        }
    }
}

/// Removes the job from the process-local set on drop.
struct LocalJobGuard {
    held: Arc<Mutex<HashSet<String>>>,
    job: String,
}

impl JobGuard for LocalJobGuard {}

impl Drop for LocalJobGuard {
    fn drop(&mut self) {
        // The set stays consistent even if a holder panicked.
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.job);
    }
}

impl JobLock for Database {
    fn try_lock_job(&self, job: &str) -> StoreResult<Option<Box<dyn JobGuard>>> {
        if self.backend() == Backend::Postgres {
            let mut conn = self.conn()?;
            let DbConnection::Pg(pg) = &mut *conn else {
                return Err(StoreError::Internal(
                    "postgres pool gave another connection".into(),
                ));
            };
            let key = job_key(job);
            let Locked { locked } = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<BigInt, _>(key)
                .get_result::<Locked>(pg)
                .map_err(map_diesel)?;
            if !locked {
                return Ok(None);
            }
            return Ok(Some(Box::new(PgJobGuard {
                conn,
                key,
                job: job.to_owned(),
            })));
        }
        let mut held = self
            .local_jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !held.insert(job.to_owned()) {
            return Ok(None);
        }
        Ok(Some(Box::new(LocalJobGuard {
            held: Arc::clone(&self.local_jobs),
            job: job.to_owned(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_keys_are_stable_and_distinct() {
        assert_eq!(job_key("sync:aws"), job_key("sync:aws"));
        assert_ne!(job_key("sync:aws"), job_key("sync:gcp"));
    }
}
