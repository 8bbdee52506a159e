//! `UserCentreHousekeeping`: dead rows go, live rows stay.

use chrono::Duration;
use shiyun_core::tenancy::{
    AccountId, AccountStore, BuiltInTemplate, Channel, CodePurpose, CodeUse, EnterpriseId,
    Identity, Invitation, InvitationId, LockoutPolicy, OneTimeCode, PurgeReport, RefreshToken,
    RequestStatus, Rotation, Session, SessionId, UserCentreHousekeeping,
};

use shiyun_schema::testing::TestDatabase;

use crate::people::{enterprise, person, random};
use crate::support::{Store, at};

const CONFIRM: CodePurpose = CodePurpose::Confirm(Channel::Email);

const POLICY: LockoutPolicy = LockoutPolicy {
    max_failures: 3,
    window: Duration::seconds(60),
    lock_for: Duration::seconds(300),
};

fn code(account: &AccountId, purpose: CodePurpose, text: &str, expires: i64) -> OneTimeCode {
    OneTimeCode {
        purpose,
        account: account.clone(),
        target: "someone@example.com".into(),
        hash: format!("hash-of-{text}"),
        expires_at: at(expires),
    }
}

fn token(text: &str, issued: i64, expires: i64) -> RefreshToken {
    RefreshToken {
        hash: format!("sha256-of-{text}"),
        session: SessionId::from_random([0; 16]),
        issued_at: at(issued),
        expires_at: at(expires),
    }
}

fn session<S: Store>(
    store: &S,
    account: &AccountId,
    first: &RefreshToken,
    expires: i64,
) -> Session {
    let session = Session {
        id: SessionId::from_random(random()),
        account: account.clone(),
        identity: Identity::Personal,
        created_at: at(0),
        expires_at: at(expires),
        revoked_at: None,
    };
    store.create_session(&session, first).unwrap();
    session
}

fn invite<S: Store>(
    store: &S,
    enterprise: &EnterpriseId,
    by: &AccountId,
    email: &str,
    expires: i64,
) -> Invitation {
    let invitation = Invitation {
        id: InvitationId::from_random(random()),
        enterprise: enterprise.clone(),
        email: email.to_owned(),
        template: BuiltInTemplate::Viewer.id(),
        invited_by: by.clone(),
        status: RequestStatus::Pending,
        created_at: at(0),
        expires_at: at(expires),
    };
    store
        .create_invitation(&invitation, &format!("h-{email}"))
        .unwrap();
    invitation
}

pub fn purge_deletes_only_dead_rows<S: Store>(store: &S) {
    let li = person(store, "li");
    let wang = person(store, "wang");

    // Codes: a superseded one, a used one, an expired one; the newest lives.
    store
        .issue_code(&code(&li.id, CONFIRM, "c1", 600), at(0))
        .unwrap();
    store
        .issue_code(&code(&li.id, CONFIRM, "c2", 2_000), at(10))
        .unwrap();
    let consumed = store
        .consume_code(CONFIRM, Some(&li.id), "hash-of-c2", 5, at(20))
        .unwrap();
    assert!(matches!(consumed, CodeUse::Consumed(_)));
    let live_code = code(&li.id, CONFIRM, "c3", 5_000);
    store.issue_code(&live_code, at(30)).unwrap();
    store
        .issue_code(
            &code(&wang.id, CodePurpose::PasswordReset, "w1", 500),
            at(0),
        )
        .unwrap();

    // Sessions: a live one with a used-and-expired token, a used token still
    // in its lifetime and its current token; a revoked one; an expired one.
    let live = session(store, &li.id, &token("t1", 0, 500), 86_400);
    let rotated = store
        .rotate_refresh("sha256-of-t1", &token("t2", 100, 5_000), at(100))
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated(live.clone()));
    let rotated = store
        .rotate_refresh("sha256-of-t2", &token("t3", 200, 6_000), at(200))
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated(live.clone()));
    let revoked = session(store, &li.id, &token("r1", 0, 5_000), 86_400);
    store.revoke_session(&revoked.id, at(50)).unwrap();
    let expired = session(store, &wang.id, &token("e1", 0, 5_000), 900);

    // Throttles: lapsed failures, a lapsed lock, a failure still counting,
    // a lock in force.
    let fail = |key: &str, secs| store.note_login_failure(key, at(secs), &POLICY).unwrap();
    fail("lapsed", 0);
    for secs in [0, 1, 2] {
        fail("lock-lapsed", secs);
    }
    fail("recent", 990);
    for secs in [800, 801, 802] {
        fail("locked", secs);
    }

    // Invitations: with a retention of 500 s at 1 000 s, those expired by
    // 500 s go whatever their status; a recently expired one is kept.
    let admin = person(store, "admin");
    let ent = enterprise(store, "Purge", &admin);
    invite(store, &ent, &admin.id, "old-expired@example.com", 100);
    let old_revoked = invite(store, &ent, &admin.id, "old-revoked@example.com", 400);
    store.revoke_invitation(&ent, &old_revoked.id).unwrap();
    let recent = invite(store, &ent, &admin.id, "recent@example.com", 800);
    let pending = invite(store, &ent, &admin.id, "pending@example.com", 5_000);
    let li_email = li.email.clone().unwrap();
    let accepted = invite(store, &ent, &admin.id, &li_email, 5_000);
    store
        .accept_invitation(&format!("h-{li_email}"), &li.id, &li_email, at(60))
        .unwrap();

    let report = store.purge_expired(at(1_000), at(500)).unwrap();
    assert_eq!(
        report,
        PurgeReport {
            codes: 3,
            refresh_tokens: 3,
            sessions: 1,
            login_throttles: 2,
            invitations: 2,
        }
    );
    assert_eq!(report.total(), 11);
    assert_eq!(
        store.purge_expired(at(1_000), at(500)).unwrap(),
        PurgeReport::default(),
        "a second purge finds nothing"
    );

    // What was live still works.
    assert_eq!(
        store
            .consume_code(CONFIRM, Some(&li.id), "hash-of-c3", 5, at(1_001))
            .unwrap(),
        CodeUse::Consumed(live_code)
    );
    assert_eq!(
        store.login_throttle("recent", at(1_001)).unwrap().failures,
        1
    );
    assert_eq!(
        store
            .login_throttle("locked", at(1_001))
            .unwrap()
            .locked_until,
        Some(at(1_102))
    );
    assert_eq!(
        store.get_session(&revoked.id).unwrap().unwrap().revoked_at,
        Some(at(50)),
        "a revoked session stays until it expires"
    );
    assert!(store.get_session(&expired.id).unwrap().is_none());
    let mut left: Vec<_> = store
        .list_invitations(&ent)
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    left.sort();
    let mut expected = vec![recent.id, pending.id, accepted.id];
    expected.sort();
    assert_eq!(left, expected);

    assert_eq!(
        store
            .rotate_refresh("sha256-of-t3", &token("t4", 1_001, 7_000), at(1_001))
            .unwrap(),
        Rotation::Rotated(live.clone()),
        "the current token survives"
    );
    // A used token kept within its lifetime still reveals a replay.
    assert_eq!(
        store
            .rotate_refresh("sha256-of-t2", &token("t5", 1_002, 7_000), at(1_002))
            .unwrap(),
        Rotation::Replayed(live.id.clone())
    );
}

/// Runs `sql` on a connection of its own, past the store.
fn behind_the_store(db: &TestDatabase, sql: &str) {
    use diesel::prelude::*;
    match db.url().strip_prefix("sqlite://") {
        Some(path) => {
            diesel::sql_query(sql).execute(&mut SqliteConnection::establish(path).unwrap())
        }
        None => diesel::sql_query(sql).execute(&mut PgConnection::establish(db.url()).unwrap()),
    }
    .unwrap();
}

pub fn purging_a_newer_code_never_revives_an_older_one(db: &TestDatabase) {
    let store = db.database();
    let li = person(store, "li");
    store
        .issue_code(&code(&li.id, CONFIRM, "old", 5_000), at(0))
        .unwrap();
    store
        .issue_code(&code(&li.id, CONFIRM, "new", 5_000), at(10))
        .unwrap();
    // As if both were issued at once: neither superseded the other.
    behind_the_store(db, "UPDATE one_time_codes SET superseded_at = NULL");
    let consume = |text: &str, secs| {
        store
            .consume_code(
                CONFIRM,
                Some(&li.id),
                &format!("hash-of-{text}"),
                5,
                at(secs),
            )
            .unwrap()
    };
    assert_eq!(
        consume("old", 15),
        CodeUse::Refused,
        "only the newest works"
    );
    assert!(matches!(consume("new", 20), CodeUse::Consumed(_)));

    // The used newer code stays while it hides the older live one.
    let report = store.purge_expired(at(1_000), at(1_000)).unwrap();
    assert_eq!(report.codes, 0);
    assert_eq!(consume("old", 1_001), CodeUse::Refused);
    // Once the older one has expired too, both go.
    let report = store.purge_expired(at(5_000), at(5_000)).unwrap();
    assert_eq!(report.codes, 2);
}
