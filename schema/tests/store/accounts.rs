//! `AccountStore`: accounts, one-time codes and log-in throttling.

use chrono::Duration;
use shiyun_core::store::StoreError;
use shiyun_core::tenancy::{
    Channel, CodePurpose, CodeUse, Identity, LockoutPolicy, LoginIdentifier, NewAccount,
    OneTimeCode, RefreshToken, Session, SessionId,
};

use crate::people::{person, random};
use crate::support::{Store, at};

pub fn accounts_are_unique_by_email_and_phone<S: Store>(store: &S) {
    let li = person(store, "li");
    let email = li.email.clone().unwrap();
    assert_eq!(store.get_account(&li.id).unwrap().unwrap(), li);
    let (found, hash) = store
        .find_credentials(&LoginIdentifier::Email(email.clone()))
        .unwrap()
        .unwrap();
    assert_eq!(found, li);
    assert!(hash.starts_with("$argon2id$"));
    assert!(
        store
            .find_credentials(&LoginIdentifier::Email("nobody@example.com".into()))
            .unwrap()
            .is_none()
    );

    // The same email again, under another id.
    let mut twin = li.clone();
    twin.id = shiyun_core::tenancy::AccountId::from_random(random());
    let err = store
        .create_account(&NewAccount {
            account: twin,
            password_hash: "x".into(),
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("accounts"),
        "no driver text: {err}"
    );

    // Binding confirms the channel; a channel another account has is refused.
    let bound = store
        .bind_channel(&li.id, Channel::Phone, "+8613800138000", at(7))
        .unwrap();
    assert_eq!(bound.phone.as_deref(), Some("+8613800138000"));
    assert_eq!(bound.phone_verified_at, Some(at(7)));
    let (by_phone, _) = store
        .find_credentials(&LoginIdentifier::Phone("+8613800138000".into()))
        .unwrap()
        .unwrap();
    assert_eq!(by_phone.id, li.id);
    let wang = person(store, "wang");
    let err = store
        .bind_channel(&wang.id, Channel::Phone, "+8613800138000", at(8))
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    let err = store
        .bind_channel(&wang.id, Channel::Email, &email, at(8))
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    let rebound = store
        .bind_channel(&wang.id, Channel::Email, "wang.new@example.com", at(9))
        .unwrap();
    assert_eq!(rebound.email.as_deref(), Some("wang.new@example.com"));
    assert_eq!(rebound.email_verified_at, Some(at(9)));

    store.set_operator(&wang.id, true).unwrap();
    assert!(store.get_account(&wang.id).unwrap().unwrap().operator);
    let ghost = shiyun_core::tenancy::AccountId::from_random(random());
    assert!(matches!(
        store.set_operator(&ghost, true),
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.get_account(&ghost).unwrap().is_none());
}

fn session<S: Store>(store: &S, account: &shiyun_core::tenancy::AccountId) -> SessionId {
    let session = Session {
        id: SessionId::from_random(random()),
        account: account.clone(),
        identity: Identity::Personal,
        created_at: at(0),
        expires_at: at(86_400),
        revoked_at: None,
    };
    let first = RefreshToken {
        hash: format!("{:032x}", fastrand::u128(..)),
        session: session.id.clone(),
        issued_at: at(0),
        expires_at: at(3_600),
    };
    store.create_session(&session, &first).unwrap();
    session.id
}

pub fn set_password_revokes_every_other_session<S: Store>(store: &S) {
    let li = person(store, "li");
    let other = person(store, "other");
    let kept = session(store, &li.id);
    let dropped = [session(store, &li.id), session(store, &li.id)];
    let theirs = session(store, &other.id);
    store
        .set_password(&li.id, "$argon2id$new", Some(&kept), at(50))
        .unwrap();
    let (_, hash) = store
        .find_credentials(&LoginIdentifier::Email(li.email.clone().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(hash, "$argon2id$new");
    assert_eq!(store.get_session(&kept).unwrap().unwrap().revoked_at, None);
    for id in &dropped {
        assert_eq!(
            store.get_session(id).unwrap().unwrap().revoked_at,
            Some(at(50))
        );
    }
    assert_eq!(
        store.get_session(&theirs).unwrap().unwrap().revoked_at,
        None
    );
    // Without a session to keep (a reset), every one goes.
    store
        .set_password(&li.id, "$argon2id$newer", None, at(60))
        .unwrap();
    assert_eq!(
        store.get_session(&kept).unwrap().unwrap().revoked_at,
        Some(at(60))
    );
    assert_eq!(
        store.get_session(&dropped[0]).unwrap().unwrap().revoked_at,
        Some(at(50)),
        "the first revocation stays"
    );
    let ghost = shiyun_core::tenancy::AccountId::from_random(random());
    assert!(matches!(
        store.set_password(&ghost, "x", None, at(1)),
        Err(StoreError::NotFound { .. })
    ));
}

fn code(
    account: &shiyun_core::tenancy::AccountId,
    purpose: CodePurpose,
    text: &str,
    expires: i64,
) -> OneTimeCode {
    OneTimeCode {
        purpose,
        account: account.clone(),
        target: "li@example.com".into(),
        hash: format!("hash-of-{text}"),
        expires_at: at(expires),
    }
}

const CONFIRM: CodePurpose = CodePurpose::Confirm(Channel::Email);

pub fn codes_are_single_use_and_expire<S: Store>(store: &S) {
    let li = person(store, "li");
    let issued = code(&li.id, CONFIRM, "123456", 600);
    store.issue_code(&issued, at(0)).unwrap();
    let consume = |hash: &str, secs| {
        store
            .consume_code(CONFIRM, Some(&li.id), hash, 5, at(secs))
            .unwrap()
    };
    assert_eq!(consume("hash-of-000000", 10), CodeUse::Refused);
    assert_eq!(consume("hash-of-123456", 11), CodeUse::Consumed(issued));
    assert_eq!(consume("hash-of-123456", 12), CodeUse::Refused, "used once");

    // Another purpose or account does not see it.
    let other = code(&li.id, CONFIRM, "222222", 600);
    store.issue_code(&other, at(20)).unwrap();
    assert_eq!(
        store
            .consume_code(
                CodePurpose::Confirm(Channel::Phone),
                Some(&li.id),
                "hash-of-222222",
                5,
                at(21)
            )
            .unwrap(),
        CodeUse::Refused
    );
    let wang = person(store, "wang");
    assert_eq!(
        store
            .consume_code(CONFIRM, Some(&wang.id), "hash-of-222222", 5, at(21))
            .unwrap(),
        CodeUse::Refused
    );
    // Expired at its expiry.
    assert_eq!(consume("hash-of-222222", 600), CodeUse::Refused);
}

pub fn wrong_tries_use_up_a_code<S: Store>(store: &S) {
    let li = person(store, "li");
    store
        .issue_code(&code(&li.id, CONFIRM, "123456", 600), at(0))
        .unwrap();
    for i in 0..3 {
        assert_eq!(
            store
                .consume_code(CONFIRM, Some(&li.id), "hash-of-999999", 3, at(i))
                .unwrap(),
            CodeUse::Refused
        );
    }
    assert_eq!(
        store
            .consume_code(CONFIRM, Some(&li.id), "hash-of-123456", 3, at(5))
            .unwrap(),
        CodeUse::Refused,
        "three wrong tries used it up"
    );
    // A new code starts counting afresh.
    let fresh = code(&li.id, CONFIRM, "654321", 600);
    store.issue_code(&fresh, at(6)).unwrap();
    store
        .consume_code(CONFIRM, Some(&li.id), "hash-of-000000", 3, at(7))
        .unwrap();
    assert_eq!(
        store
            .consume_code(CONFIRM, Some(&li.id), "hash-of-654321", 3, at(8))
            .unwrap(),
        CodeUse::Consumed(fresh)
    );
}

pub fn a_new_code_supersedes_the_old<S: Store>(store: &S) {
    let li = person(store, "li");
    let first = code(&li.id, CONFIRM, "111111", 600);
    let second = code(&li.id, CONFIRM, "222222", 600);
    store.issue_code(&first, at(0)).unwrap();
    store.issue_code(&second, at(1)).unwrap();
    assert_eq!(
        store
            .consume_code(CONFIRM, Some(&li.id), "hash-of-111111", 5, at(2))
            .unwrap(),
        CodeUse::Refused
    );
    assert_eq!(
        store
            .consume_code(CONFIRM, Some(&li.id), "hash-of-222222", 5, at(3))
            .unwrap(),
        CodeUse::Consumed(second)
    );

    // Reset tokens are found by their hash alone, and superseded alike.
    let reset = CodePurpose::PasswordReset;
    let old = code(&li.id, reset, "syp_old", 3_600);
    let new = code(&li.id, reset, "syp_new", 3_600);
    store.issue_code(&old, at(10)).unwrap();
    store.issue_code(&new, at(11)).unwrap();
    let by_hash = |hash: &str, secs| store.consume_code(reset, None, hash, 5, at(secs)).unwrap();
    assert_eq!(by_hash("hash-of-syp_old", 12), CodeUse::Refused);
    assert_eq!(by_hash("hash-of-syp_nope", 12), CodeUse::Refused);
    assert_eq!(by_hash("hash-of-syp_new", 13), CodeUse::Consumed(new));
    assert_eq!(by_hash("hash-of-syp_new", 14), CodeUse::Refused, "twice");
    let late = code(&li.id, reset, "syp_late", 100);
    store.issue_code(&late, at(20)).unwrap();
    assert_eq!(
        by_hash("hash-of-syp_late", 100),
        CodeUse::Refused,
        "expired"
    );
    // Codes of another purpose are untouched by a reset token.
    let confirm = code(&li.id, CONFIRM, "333333", 600);
    store.issue_code(&confirm, at(30)).unwrap();
    store
        .issue_code(&code(&li.id, reset, "syp_x", 600), at(31))
        .unwrap();
    assert_eq!(
        store
            .consume_code(CONFIRM, Some(&li.id), "hash-of-333333", 5, at(32))
            .unwrap(),
        CodeUse::Consumed(confirm)
    );
}

const POLICY: LockoutPolicy = LockoutPolicy {
    max_failures: 3,
    window: Duration::seconds(60),
    lock_for: Duration::seconds(300),
};

pub fn lockout_counts_failures_within_the_window<S: Store>(store: &S) {
    let key = "li@example.com";
    let fail = |secs| store.note_login_failure(key, at(secs), &POLICY).unwrap();
    assert_eq!(store.login_throttle(key, at(0)).unwrap().failures, 0);
    assert_eq!(fail(0).failures, 1);
    assert_eq!(fail(30).failures, 2);
    // The first failure has left the window: two counted, no lock.
    let third = fail(61);
    assert_eq!((third.failures, third.locked_until), (2, None));
    assert_eq!(store.login_throttle(key, at(89)).unwrap().failures, 2);
    assert_eq!(store.login_throttle(key, at(90)).unwrap().failures, 1);
    let locked = fail(70);
    assert_eq!(locked.failures, 3);
    assert_eq!(locked.locked_until, Some(at(370)));
    assert_eq!(
        store.login_throttle(key, at(200)).unwrap().locked_until,
        Some(at(370))
    );
    // Failing while locked does not extend the lock.
    assert_eq!(fail(100).locked_until, Some(at(370)));
    // A lapsed lock reads as none.
    let lapsed = store.login_throttle(key, at(370)).unwrap();
    assert_eq!((lapsed.failures, lapsed.locked_until), (0, None));
    // Other keys are separate.
    assert_eq!(
        store.login_throttle("10.0.0.1", at(100)).unwrap().failures,
        0
    );

    // Clearing forgets failures, not a lock in force.
    let other = "wang@example.com";
    store.note_login_failure(other, at(0), &POLICY).unwrap();
    store.clear_login_failures(other).unwrap();
    assert_eq!(store.login_throttle(other, at(1)).unwrap().failures, 0);
    for secs in 0..3 {
        fail(400 + secs);
    }
    store.clear_login_failures(key).unwrap();
    let after = store.login_throttle(key, at(403)).unwrap();
    assert_eq!((after.failures, after.locked_until), (0, Some(at(702))));
    store.clear_login_failures("never-failed").unwrap();
}

pub fn concurrent_failures_all_count<S: Store>(store: &S) {
    let policy = LockoutPolicy {
        max_failures: 100,
        ..POLICY
    };
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                for j in 0..4 {
                    store
                        .note_login_failure("10.1.2.3", at(i * 4 + j), &policy)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        store.login_throttle("10.1.2.3", at(40)).unwrap().failures,
        32
    );
}
