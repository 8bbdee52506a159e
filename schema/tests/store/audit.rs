//! `AuditLog`: appending, reading per tenant in order, and the table's
//! refusal to change what it holds.

use shiyun_core::tenancy::{AccountId, AuditLog, EnterpriseId, NewAuditEvent, Tenant};
use shiyun_schema::testing::TestDatabase;

use crate::people::random;
use crate::support::{Store, at};

fn event(tenant: Option<&Tenant>, action: &str, secs: i64) -> NewAuditEvent {
    NewAuditEvent {
        tenant: tenant.cloned(),
        actor: Some(AccountId::from_random(random())),
        action: action.to_owned(),
        subject: format!("subject of {action}"),
        ip: Some("203.0.113.7".into()),
        detail: serde_json::json!({ "n": secs, "note": "说明" }),
        at: at(secs),
    }
}

pub fn audit_is_read_per_tenant_in_order<S: Store>(store: &S) {
    let ent = Tenant::Enterprise(EnterpriseId::from_random(random()));
    let other = Tenant::Enterprise(EnterpriseId::from_random(random()));
    let person = Tenant::Personal(AccountId::from_random(random()));
    let mut mine = Vec::new();
    for i in 0..5 {
        let e = event(Some(&ent), &format!("member.changed.{i}"), i);
        let seq = store.append_audit(&e).unwrap();
        mine.push((seq, e));
        store
            .append_audit(&event(Some(&other), "key.created", i))
            .unwrap();
    }
    let platform = event(None, "listing.batch", 9);
    let platform_seq = store.append_audit(&platform).unwrap();
    let personal = NewAuditEvent {
        actor: None,
        ip: None,
        ..event(Some(&person), "login.failed", 10)
    };
    store.append_audit(&personal).unwrap();
    assert!(mine.windows(2).all(|w| w[0].0 < w[1].0), "seq increases");

    let all = store.list_audit(Some(&ent), 0, 100).unwrap();
    assert_eq!(all.len(), 5);
    for (got, (seq, sent)) in all.iter().zip(&mine) {
        assert_eq!(got.seq, *seq);
        assert_eq!(got.tenant.as_ref(), Some(&ent));
        assert_eq!(got.actor, sent.actor);
        assert_eq!(got.action, sent.action);
        assert_eq!(got.subject, sent.subject);
        assert_eq!(got.ip, sent.ip);
        assert_eq!(got.detail, sent.detail);
        assert_eq!(got.at, sent.at);
    }
    // Paging: after a seq, at most `limit`.
    let page = store.list_audit(Some(&ent), mine[1].0, 2).unwrap();
    let seqs: Vec<u64> = page.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![mine[2].0, mine[3].0]);
    assert!(
        store
            .list_audit(Some(&ent), mine[4].0, 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_audit(Some(&ent), u64::MAX, 10)
            .unwrap()
            .is_empty()
    );

    let platform_events = store.list_audit(None, 0, 10).unwrap();
    assert_eq!(platform_events.len(), 1);
    assert_eq!(platform_events[0].seq, platform_seq);
    assert_eq!(platform_events[0].tenant, None);
    let personal_events = store.list_audit(Some(&person), 0, 10).unwrap();
    assert_eq!(personal_events.len(), 1);
    assert_eq!(personal_events[0].actor, None);
    assert_eq!(personal_events[0].tenant, Some(person));
}

/// Runs `sql` on a connection of its own; the database's answer.
fn try_behind_the_store(db: &TestDatabase, sql: &str) -> Result<usize, String> {
    use diesel::prelude::*;
    match db.url().strip_prefix("sqlite://") {
        Some(path) => {
            diesel::sql_query(sql).execute(&mut SqliteConnection::establish(path).unwrap())
        }
        None => diesel::sql_query(sql).execute(&mut PgConnection::establish(db.url()).unwrap()),
    }
    .map_err(|e| e.to_string())
}

pub fn audit_rows_cannot_be_changed_or_deleted(db: &TestDatabase) {
    let ent = Tenant::Enterprise(EnterpriseId::from_random(random()));
    let seq = db
        .append_audit(&event(Some(&ent), "key.revoked", 1))
        .unwrap();
    for sql in [
        format!("UPDATE audit_events SET action = 'nothing.happened' WHERE seq = {seq}"),
        format!("DELETE FROM audit_events WHERE seq = {seq}"),
        "DELETE FROM audit_events".to_owned(),
    ] {
        let err = try_behind_the_store(db, &sql).unwrap_err();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let kept = db.list_audit(Some(&ent), 0, 10).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].action, "key.revoked");
    // Appending still works.
    db.append_audit(&event(Some(&ent), "key.created", 2))
        .unwrap();
    assert_eq!(db.list_audit(Some(&ent), 0, 10).unwrap().len(), 2);
}
