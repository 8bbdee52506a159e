//! `AuditLog` on [`Database`]: the append-only audit log. The table refuses
//! `UPDATE` and `DELETE` itself (a trigger on both backends).

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use shiyun_core::store::{StoreError, StoreResult};
use shiyun_core::tenancy::{AccountId, AuditEvent, AuditLog, NewAuditEvent, Tenant};

use crate::db::{Database, DbConnection, Isolation};
use crate::schema::audit_events;
use crate::time::{from_micros, micros};
use crate::user_centre::{corrupt, decode, read};

/// Appenders are serialised on PostgreSQL (a transaction advisory lock), so
/// `seq` values become visible in increasing order and a reader paging with
/// `after` never later finds a smaller one appear behind its cursor. An
/// append is one small insert; SQLite's single writer orders them anyway.
const AUDIT_LOCK_KEY: i64 = 0x5348_4959_554E_0003;

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct EventRecord {
    seq: i64,
    tenant: Option<String>,
    actor: Option<String>,
    action: String,
    subject: String,
    ip: Option<String>,
    detail: String,
    recorded_at: i64,
}

impl TryFrom<EventRecord> for AuditEvent {
    type Error = StoreError;

    fn try_from(r: EventRecord) -> StoreResult<AuditEvent> {
        Ok(AuditEvent {
            seq: u64::try_from(r.seq).map_err(|_| corrupt(format!("audit seq {}", r.seq)))?,
            tenant: r
                .tenant
                .as_deref()
                .map(|t| decode(t, Tenant::parse))
                .transpose()?,
            actor: r
                .actor
                .as_deref()
                .map(|a| decode(a, AccountId::parse))
                .transpose()?,
            action: r.action,
            subject: r.subject,
            ip: r.ip,
            detail: serde_json::from_str(&r.detail)
                .map_err(|e| corrupt(format!("detail of audit event {}: {e}", r.seq)))?,
            at: from_micros(r.recorded_at)?,
        })
    }
}

impl AuditLog for Database {
    fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<u64> {
        let detail = serde_json::to_string(&event.detail)
            .map_err(|e| StoreError::Internal(format!("cannot serialise audit detail: {e}")))?;
        let seq: i64 = self.transaction(Isolation::ReadCommitted, |conn| {
            if let DbConnection::Pg(pg) = conn {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<BigInt, _>(AUDIT_LOCK_KEY)
                    .execute(pg)?;
            }
            Ok(diesel::insert_into(audit_events::table)
                .values((
                    audit_events::tenant.eq(event.tenant.as_ref().map(Tenant::as_str)),
                    audit_events::actor.eq(event.actor.as_ref().map(AccountId::as_str)),
                    audit_events::action.eq(&event.action),
                    audit_events::subject.eq(&event.subject),
                    audit_events::ip.eq(event.ip.as_deref()),
                    audit_events::detail.eq(&detail),
                    audit_events::recorded_at.eq(micros(event.at)),
                ))
                .returning(audit_events::seq)
                .get_result(conn)?)
        })?;
        u64::try_from(seq).map_err(|_| corrupt(format!("audit seq {seq}")))
    }

    fn list_audit(
        &self,
        tenant: Option<&Tenant>,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        read(self, |conn| {
            let query = audit_events::table
                .filter(audit_events::seq.gt(after))
                .order(audit_events::seq)
                .limit(i64::from(limit))
                .select(EventRecord::as_select())
                .into_boxed();
            let query = match tenant {
                Some(tenant) => query.filter(audit_events::tenant.eq(tenant.as_str())),
                None => query.filter(audit_events::tenant.is_null()),
            };
            let found: Vec<EventRecord> = query.load(conn)?;
            Ok(found
                .into_iter()
                .map(AuditEvent::try_from)
                .collect::<StoreResult<_>>()?)
        })
    }
}
