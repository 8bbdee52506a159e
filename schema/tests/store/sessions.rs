//! `SessionStore`: sessions and refresh-token rotation.

use std::sync::{Arc, Barrier};

use shiyun_core::store::StoreError;
use shiyun_core::tenancy::{
    AccountId, EnterpriseId, Identity, RefreshToken, Rotation, Session, SessionId,
};

use crate::people::{person, random};
use crate::support::{Store, at};

fn token(text: &str, issued: i64, expires: i64) -> RefreshToken {
    RefreshToken {
        hash: format!("sha256-of-{text}"),
        // Ignored by rotation: the presented token's session counts.
        session: SessionId::from_random([0; 16]),
        issued_at: at(issued),
        expires_at: at(expires),
    }
}

fn start<S: Store>(store: &S, account: &AccountId, first: &str, expires: i64) -> Session {
    let session = Session {
        id: SessionId::from_random(random()),
        account: account.clone(),
        identity: Identity::Personal,
        created_at: at(0),
        expires_at: at(expires),
        revoked_at: None,
    };
    store
        .create_session(&session, &token(first, 0, 600))
        .unwrap();
    session
}

pub fn refresh_rotates_and_a_replay_revokes_the_session<S: Store>(store: &S) {
    let li = person(store, "li");
    let session = start(store, &li.id, "r1", 86_400);
    assert_eq!(store.get_session(&session.id).unwrap().unwrap(), session);

    let rotated = store
        .rotate_refresh("sha256-of-r1", &token("r2", 10, 610), at(10))
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated(session.clone()));
    let rotated = store
        .rotate_refresh("sha256-of-r2", &token("r3", 20, 620), at(20))
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated(session.clone()));
    assert_eq!(
        store
            .rotate_refresh("sha256-of-unknown", &token("x", 21, 621), at(21))
            .unwrap(),
        Rotation::Refused
    );

    // r1 again: somebody kept a copy. The whole family ends, r3 included.
    assert_eq!(
        store
            .rotate_refresh("sha256-of-r1", &token("r4", 30, 630), at(30))
            .unwrap(),
        Rotation::Replayed(session.id.clone())
    );
    assert_eq!(
        store.get_session(&session.id).unwrap().unwrap().revoked_at,
        Some(at(30))
    );
    assert_eq!(
        store
            .rotate_refresh("sha256-of-r3", &token("r5", 31, 631), at(31))
            .unwrap(),
        Rotation::Refused
    );
    assert_eq!(
        store
            .rotate_refresh("sha256-of-r4", &token("r6", 31, 631), at(31))
            .unwrap(),
        Rotation::Refused,
        "the replay's token was never stored"
    );
    // Replaying again keeps the first revocation time.
    store
        .rotate_refresh("sha256-of-r2", &token("r7", 40, 640), at(40))
        .unwrap();
    assert_eq!(
        store.get_session(&session.id).unwrap().unwrap().revoked_at,
        Some(at(30))
    );
}

pub fn expired_or_revoked_refresh_is_refused<S: Store>(store: &S) {
    let li = person(store, "li");
    // The token expires at 600.
    let s1 = start(store, &li.id, "a1", 86_400);
    assert_eq!(
        store
            .rotate_refresh("sha256-of-a1", &token("a2", 600, 1200), at(600))
            .unwrap(),
        Rotation::Refused
    );
    // The session expires at 100, before its token.
    start(store, &li.id, "b1", 100);
    assert_eq!(
        store
            .rotate_refresh("sha256-of-b1", &token("b2", 100, 700), at(100))
            .unwrap(),
        Rotation::Refused
    );
    // Logged out.
    let s3 = start(store, &li.id, "c1", 86_400);
    store.revoke_session(&s3.id, at(5)).unwrap();
    store.revoke_session(&s3.id, at(6)).unwrap();
    assert_eq!(
        store.get_session(&s3.id).unwrap().unwrap().revoked_at,
        Some(at(5)),
        "revoking twice keeps the first time"
    );
    assert_eq!(
        store
            .rotate_refresh("sha256-of-c1", &token("c2", 7, 700), at(7))
            .unwrap(),
        Rotation::Refused
    );
    assert!(matches!(
        store.revoke_session(&SessionId::from_random(random()), at(1)),
        Err(StoreError::NotFound { .. })
    ));
    // The unexpired session still works and rotation keeps its identity.
    let ent = EnterpriseId::from_random(random());
    store
        .set_session_identity(&s1.id, &Identity::Enterprise(ent.clone()))
        .unwrap();
    let s4 = start(store, &li.id, "d1", 86_400);
    store
        .set_session_identity(&s4.id, &Identity::Enterprise(ent.clone()))
        .unwrap();
    match store
        .rotate_refresh("sha256-of-d1", &token("d2", 8, 608), at(8))
        .unwrap()
    {
        Rotation::Rotated(session) => {
            assert_eq!(session.identity, Identity::Enterprise(ent.clone()))
        }
        other => panic!("{other:?}"),
    }
    store
        .set_session_identity(&s4.id, &Identity::Personal)
        .unwrap();
    assert_eq!(
        store.get_session(&s4.id).unwrap().unwrap().identity,
        Identity::Personal
    );
    assert!(matches!(
        store.set_session_identity(&SessionId::from_random(random()), &Identity::Personal),
        Err(StoreError::NotFound { .. })
    ));
}

/// Several presentations of one token at once: exactly one rotates; the
/// others are replays (which end the session) or refusals.
pub fn concurrent_rotation_has_one_winner<S: Store>(store: &S) {
    const THREADS: usize = 6;
    let li = person(store, "li");
    for round in 0..3 {
        let first = format!("race{round}");
        let session = start(store, &li.id, &first, 86_400);
        let barrier = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|i| {
                let store = store.clone();
                let barrier = Arc::clone(&barrier);
                let presented = format!("sha256-of-{first}");
                std::thread::spawn(move || {
                    let next = token(&format!("race{round}-next{i}"), 10, 610);
                    barrier.wait();
                    store.rotate_refresh(&presented, &next, at(10)).unwrap()
                })
            })
            .collect();
        let results: Vec<Rotation> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let rotated = results
            .iter()
            .filter(|r| matches!(r, Rotation::Rotated(_)))
            .count();
        assert_eq!(rotated, 1, "{results:?}");
        assert!(
            results.iter().all(|r| match r {
                Rotation::Rotated(s) => s.id == session.id,
                Rotation::Replayed(id) => *id == session.id,
                Rotation::Refused => true,
            }),
            "{results:?}"
        );
        // The losers presented a used token: the session is revoked.
        assert!(
            store
                .get_session(&session.id)
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
    }
}
