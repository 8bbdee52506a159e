//! The user centre's flows end to end over a real store (SQLite and
//! PostgreSQL), a real outbox and a clock the tests move.

// The test bodies are helper functions, not `#[test]`s, so clippy's
// allowance for tests does not reach them.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use shiyun_accounts::Clock as _;
use shiyun_accounts::mail::{Notifier, outbox};
use shiyun_accounts::{
    AccountError, AccountsConfig, CallContext, LettreNotifier, ManualClock, NewApiKey,
    TemplateSpec, TokenPair, UserCentre,
};
use shiyun_core::store::StoreError;
use shiyun_core::tenancy::{
    AuditLog, BuiltInTemplate, Channel, Credential, DataScope, Identity, Permission, Principal,
    Tenant,
};
use shiyun_schema::testing::TestDatabase;

const KEY: &str = "an access-token signing key of 32+ bytes";
const PASSWORD: &str = "violet-harbour-lantern";

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

struct World {
    db: TestDatabase,
    users: UserCentre,
    clock: Arc<ManualClock>,
    mail: Arc<LettreNotifier>,
    outbox: tempfile::TempDir,
}

fn ctx() -> CallContext {
    CallContext {
        ip: Some("192.0.2.7".parse().unwrap()),
    }
}

/// Cheap hashing, generous limits; `tweak` changes what a test is about.
fn config(tweak: impl FnOnce(&mut AccountsConfig)) -> AccountsConfig {
    let mut config = AccountsConfig::new(KEY.to_owned().into());
    config.argon2_memory_kib = 1024;
    config.argon2_iterations = 1;
    config.ip_attempts_per_minute = 1000;
    config.login_attempts_per_minute = 1000;
    tweak(&mut config);
    config
}

impl World {
    fn new(backend: Backend, tweak: impl FnOnce(&mut AccountsConfig)) -> World {
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres(),
        };
        let outbox = tempfile::tempdir().unwrap();
        let mail = Arc::new(LettreNotifier::outbox(outbox.path()).unwrap());
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let users = World::centre(&db, config(tweak), mail.clone(), clock.clone());
        World {
            db,
            users,
            clock,
            mail,
            outbox,
        }
    }

    fn centre(
        db: &TestDatabase,
        config: AccountsConfig,
        mail: Arc<LettreNotifier>,
        clock: Arc<ManualClock>,
    ) -> UserCentre {
        let notifier: Arc<dyn Notifier> = mail;
        UserCentre::try_new(Arc::new(db.database().clone()), config, notifier)
            .unwrap()
            .with_clock(clock)
    }

    /// The newest message to `to`.
    fn mail_to(&self, to: &str) -> Option<String> {
        assert!(self.mail.flush(StdDuration::from_secs(10)));
        outbox::latest_to(self.outbox.path(), to)
    }

    fn value(&self, to: &str, field: &str) -> String {
        let body = self
            .mail_to(to)
            .unwrap_or_else(|| panic!("no mail to {to}"));
        outbox::field(&body, field).unwrap_or_else(|| panic!("no {field} in {body}"))
    }

    fn login(&self, login: &str, password: &str) -> Result<TokenPair, AccountError> {
        self.users.login(login, password, &ctx())
    }

    fn principal(&self, pair: &TokenPair) -> Principal {
        self.users.authenticate(&pair.access_token, &ctx()).unwrap()
    }

    /// Registers `login`, confirms it with the mailed code, and logs in.
    fn person(&self, login: &str) -> (TokenPair, Principal) {
        self.users.register(login, PASSWORD, None, &ctx()).unwrap();
        let code = self.value(login, "code");
        let pair = self.login(login, PASSWORD).unwrap();
        let me = self.principal(&pair);
        self.users
            .confirm_binding(&me, Channel::Email, &code, &ctx())
            .unwrap();
        (pair, me)
    }

    /// `caller` acting as its enterprise `ent`.
    fn as_enterprise(
        &self,
        pair: &TokenPair,
        ent: &shiyun_core::tenancy::EnterpriseId,
    ) -> (TokenPair, Principal) {
        let me = self.principal(pair);
        let pair = self
            .users
            .switch_identity(&me, Identity::Enterprise(ent.clone()), &ctx())
            .unwrap();
        let me = self.principal(&pair);
        (pair, me)
    }

    fn actions(&self, tenant: Option<&Tenant>) -> Vec<String> {
        self.db
            .database()
            .list_audit(tenant, 0, 500)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}

fn unauthenticated<T: std::fmt::Debug>(r: Result<T, AccountError>) -> bool {
    matches!(r, Err(AccountError::Unauthenticated { .. }))
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, AccountError>) -> bool {
    matches!(r, Err(AccountError::Forbidden(_)))
}

fn register_confirm_and_log_in(backend: Backend) {
    let w = World::new(backend, |_| {});
    w.users
        .register(" Li.Lei@Example.com ", PASSWORD, Some("李雷"), &ctx())
        .unwrap();
    let code = w.value("li.lei@example.com", "code");
    assert_eq!(code.len(), 6);

    let pair = w.login("li.lei@example.com", PASSWORD).unwrap();
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.identity, Identity::Personal);
    assert!(pair.refresh_token.starts_with("syr_"));
    let me = w.principal(&pair);
    assert_eq!(me.tenant, Tenant::Personal(me.account.clone()));
    assert_eq!(
        me.permissions,
        Permission::PERSONAL.iter().copied().collect()
    );
    let before = w.users.me(&me).unwrap();
    assert_eq!(before.account.display_name, "李雷");
    assert_eq!(before.account.email_verified_at, None);

    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert!(matches!(
        w.users.confirm_binding(&me, Channel::Email, wrong, &ctx()),
        Err(AccountError::Invalid(_))
    ));
    let account = w
        .users
        .confirm_binding(&me, Channel::Email, &code, &ctx())
        .unwrap();
    assert!(account.email_verified_at.is_some());
    // A code works once.
    assert!(
        w.users
            .confirm_binding(&me, Channel::Email, &code, &ctx())
            .is_err()
    );

    // The same login again: the same answer, a notice instead of a code,
    // and the account keeps its password.
    w.users
        .register("li.lei@example.com", "another-good-password", None, &ctx())
        .unwrap();
    let notice = w.mail_to("li.lei@example.com").unwrap();
    assert!(notice.contains("already has one"), "{notice}");
    assert_eq!(outbox::field(&notice, "code"), None);
    assert!(matches!(
        w.login("li.lei@example.com", "another-good-password"),
        Err(AccountError::BadCredentials)
    ));

    // A phone number gets its code by SMS.
    w.users
        .register("+86 139 0013 9000", PASSWORD, None, &ctx())
        .unwrap();
    assert_eq!(w.value("+8613900139000", "code").len(), 6);

    let weak = w
        .users
        .register("han@example.com", "Password123", None, &ctx());
    assert!(matches!(weak, Err(AccountError::Invalid(e)) if e.field_name() == "password"));
}

fn wrong_and_unknown_logins_answer_alike_and_lock_out(backend: Backend) {
    let w = World::new(backend, |c| c.lockout.max_failures = 3);
    let (_, me) = w.person("wang@example.com");
    for _ in 0..3 {
        assert!(matches!(
            w.login("wang@example.com", "not-the-password"),
            Err(AccountError::BadCredentials)
        ));
        assert!(matches!(
            w.login("nobody@example.com", PASSWORD),
            Err(AccountError::BadCredentials)
        ));
    }
    // Locked: the right password gets the same answer.
    assert!(matches!(
        w.login("wang@example.com", PASSWORD),
        Err(AccountError::BadCredentials)
    ));
    w.clock.advance(Duration::minutes(16));
    w.login("wang@example.com", PASSWORD).unwrap();

    let personal = w.actions(Some(&Tenant::Personal(me.account.clone())));
    assert_eq!(
        personal.iter().filter(|a| *a == "login.failed").count(),
        4,
        "{personal:?}"
    );
    assert!(personal.iter().any(|a| a == "login.succeeded"));
    let platform = w.actions(None);
    assert_eq!(
        platform.iter().filter(|a| *a == "login.failed").count(),
        3,
        "{platform:?}"
    );
}

fn attempts_are_rate_limited(backend: Backend) {
    let w = World::new(backend, |c| {
        c.login_attempts_per_minute = 3;
        c.ip_attempts_per_minute = 5;
    });
    for _ in 0..3 {
        assert!(w.login("a@example.com", PASSWORD).is_err());
    }
    assert!(matches!(
        w.login("a@example.com", PASSWORD),
        Err(AccountError::RateLimited { retry_after_seconds }) if retry_after_seconds >= 1
    ));
    assert!(matches!(
        w.login("b@example.com", PASSWORD),
        Err(AccountError::BadCredentials)
    ));
    // The IP's bucket is empty now, whatever the identifier.
    assert!(matches!(
        w.login("c@example.com", PASSWORD),
        Err(AccountError::RateLimited { .. })
    ));
    // Reset requests have buckets of their own.
    w.users
        .request_password_reset("a@example.com", &ctx())
        .unwrap();
}

fn refresh_rotates_and_a_replay_revokes_the_family(backend: Backend) {
    let w = World::new(backend, |_| {});
    let (first, me) = w.person("zhao@example.com");
    let second = w.users.refresh(&first.refresh_token, &ctx()).unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    w.principal(&second);

    // The first token again: refused, and the whole session ends.
    assert!(unauthenticated(
        w.users.refresh(&first.refresh_token, &ctx())
    ));
    assert!(unauthenticated(
        w.users.refresh(&second.refresh_token, &ctx())
    ));
    assert!(unauthenticated(
        w.users.authenticate(&second.access_token, &ctx())
    ));
    let events = w.actions(Some(&Tenant::Personal(me.account)));
    assert!(events.iter().any(|a| a == "session.replayed"), "{events:?}");

    assert!(unauthenticated(w.users.refresh("syr_short", &ctx())));
    assert!(unauthenticated(w.users.refresh("", &ctx())));
}

fn access_tokens_expire_keys_rotate_and_logout_ends_them(backend: Backend) {
    let w = World::new(backend, |_| {});
    let (pair, _) = w.person("sun@example.com");
    w.clock.advance(Duration::minutes(15));
    assert!(unauthenticated(
        w.users.authenticate(&pair.access_token, &ctx())
    ));
    let pair = w.users.refresh(&pair.refresh_token, &ctx()).unwrap();
    let me = w.principal(&pair);

    // Another key over the same store: its tokens are refused here.
    let other = World::centre(
        &w.db,
        config(|c| c.signing_key = "someone else's key, 32 bytes long".to_owned().into()),
        w.mail.clone(),
        w.clock.clone(),
    );
    let theirs = other.login("sun@example.com", PASSWORD, &ctx()).unwrap();
    assert!(unauthenticated(
        w.users.authenticate(&theirs.access_token, &ctx())
    ));
    // After rotating to a new key, tokens of the old one still work.
    let rotated = World::centre(
        &w.db,
        config(|c| {
            c.signing_key = "the next signing key, 32 bytes long".to_owned().into();
            c.previous_signing_keys = vec![KEY.to_owned().into()];
        }),
        w.mail.clone(),
        w.clock.clone(),
    );
    assert_eq!(
        rotated.authenticate(&pair.access_token, &ctx()).unwrap(),
        me
    );

    // A changed claim breaks the signature.
    let mut parts: Vec<String> = pair.access_token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replacen("e", "f", 1);
    assert!(unauthenticated(
        w.users.authenticate(&parts.join("."), &ctx())
    ));

    w.users.logout(&me, &ctx()).unwrap();
    assert!(unauthenticated(
        w.users.authenticate(&pair.access_token, &ctx())
    ));
    assert!(unauthenticated(
        w.users.refresh(&pair.refresh_token, &ctx())
    ));
}

fn housekeeping_purges_what_the_clock_has_ended(backend: Backend) {
    let w = World::new(backend, |_| {});
    let (pair, _) = w.person("qian@example.com");
    // The used confirmation code goes; the live session stays.
    let report = w.users.purge_expired().unwrap();
    assert_eq!(
        (report.codes, report.refresh_tokens, report.sessions),
        (1, 0, 0)
    );
    w.principal(&pair);

    // A logged-out session loses its token at once, the row when it expires.
    let other = w.login("qian@example.com", PASSWORD).unwrap();
    let me = w.principal(&other);
    w.users.logout(&me, &ctx()).unwrap();
    let report = w.users.purge_expired().unwrap();
    assert_eq!((report.refresh_tokens, report.sessions), (1, 0));
    let pair = w.users.refresh(&pair.refresh_token, &ctx()).unwrap();

    w.clock.advance(w.users.config().session_max_age);
    let audit = w.actions(Some(&me.tenant));
    let report = w.users.purge_expired().unwrap();
    assert_eq!((report.refresh_tokens, report.sessions), (2, 2));
    assert_eq!(w.users.purge_expired().unwrap().total(), 0);
    assert!(unauthenticated(
        w.users.refresh(&pair.refresh_token, &ctx())
    ));
    assert!(!audit.is_empty());
    assert_eq!(w.actions(Some(&me.tenant)), audit, "the audit log is kept");
}

fn passwords_change_and_reset_once(backend: Backend) {
    let w = World::new(backend, |_| {});
    let (first, me) = w.person("qian@example.com");
    let other = w.login("qian@example.com", PASSWORD).unwrap();

    assert!(matches!(
        w.users
            .change_password(&me, "wrong-current-password", "a-new-password-1", &ctx()),
        Err(AccountError::BadCredentials)
    ));
    assert!(matches!(
        w.users
            .change_password(&me, PASSWORD, "qian@example.com", &ctx()),
        Err(AccountError::Invalid(_))
    ));
    w.users
        .change_password(&me, PASSWORD, "a-new-password-1", &ctx())
        .unwrap();
    // This session stays; the other ends.
    w.principal(&first);
    assert!(unauthenticated(
        w.users.authenticate(&other.access_token, &ctx())
    ));

    // Reset: a token by mail, once.
    w.users
        .request_password_reset("qian@example.com", &ctx())
        .unwrap();
    w.users
        .request_password_reset("nobody@example.com", &ctx())
        .unwrap();
    assert_eq!(w.mail_to("nobody@example.com"), None);
    let token = w.value("qian@example.com", "token");
    assert!(token.starts_with("syp_"), "{token}");
    w.users
        .reset_password(&token, "a-new-password-2", &ctx())
        .unwrap();
    assert!(unauthenticated(
        w.users.authenticate(&first.access_token, &ctx())
    ));
    assert!(unauthenticated(w.users.reset_password(
        &token,
        "a-new-password-3",
        &ctx()
    )));
    assert!(w.login("qian@example.com", "a-new-password-1").is_err());
    w.login("qian@example.com", "a-new-password-2").unwrap();

    // An expired token.
    w.users
        .request_password_reset("qian@example.com", &ctx())
        .unwrap();
    let token = w.value("qian@example.com", "token");
    w.clock.advance(Duration::minutes(31));
    assert!(unauthenticated(w.users.reset_password(
        &token,
        "a-new-password-4",
        &ctx()
    )));
    let events = w.actions(Some(&Tenant::Personal(me.account)));
    for action in ["password.changed", "password.reset"] {
        assert!(events.iter().any(|a| a == action), "{action}: {events:?}");
    }
}

fn enterprises_templates_and_keys(backend: Backend) {
    let w = World::new(backend, |_| {});
    let (alice, alice_me) = w.person("alice@example.com");
    let (bob, bob_me) = w.person("bob@example.com");
    w.users
        .register("carol@example.com", PASSWORD, None, &ctx())
        .unwrap();
    let carol = w.login("carol@example.com", PASSWORD).unwrap();

    let ent = w
        .users
        .create_enterprise(&alice_me, "云栖科技", &ctx())
        .unwrap();
    assert!(forbidden(w.users.list_members(&alice_me)));
    assert!(forbidden(w.users.switch_identity(
        &bob_me,
        Identity::Enterprise(ent.id.clone()),
        &ctx()
    )));
    let personal = alice.clone();
    let (alice, admin) = w.as_enterprise(&alice, &ent.id);
    assert_eq!(alice.identity, Identity::Enterprise(ent.id.clone()));
    assert_eq!(admin.tenant, Tenant::Enterprise(ent.id.clone()));
    assert!(Permission::ALL.iter().all(|p| admin.allows(*p)));
    // The tokens of before the switch no longer work.
    assert!(unauthenticated(
        w.users.authenticate(&personal.access_token, &ctx())
    ));
    assert!(unauthenticated(
        w.users.refresh(&personal.refresh_token, &ctx())
    ));

    // Invite bob as a developer; carol (unconfirmed) cannot take it.
    let invitation = w
        .users
        .invite(
            &admin,
            "Bob@Example.com",
            BuiltInTemplate::Developer.id(),
            &ctx(),
        )
        .unwrap();
    assert_eq!(invitation.email, "bob@example.com");
    let token = w.value("bob@example.com", "token");
    assert!(token.starts_with("syi_"));
    assert!(forbidden(w.users.accept_invitation(
        &w.principal(&carol),
        &token,
        &ctx()
    )));
    let member = w.users.accept_invitation(&bob_me, &token, &ctx()).unwrap();
    assert_eq!(member.template, BuiltInTemplate::Developer.id());
    let (bob, developer) = w.as_enterprise(&bob, &ent.id);
    assert!(!developer.allows(Permission::MembersRead));
    assert_eq!(developer.data_scope, DataScope::Projects);
    assert!(forbidden(w.users.list_members(&developer)));

    // An own template, given to bob, takes effect on his next request.
    let publishers = w
        .users
        .create_template(
            &admin,
            TemplateSpec {
                name: "Catalog publishers".into(),
                permissions: [
                    Permission::CatalogRead,
                    Permission::CatalogWrite,
                    Permission::KeysManage,
                ]
                .into(),
                data_scope: DataScope::All,
            },
            &ctx(),
        )
        .unwrap();
    assert!(forbidden(w.users.update_template(
        &admin,
        &BuiltInTemplate::Viewer.id(),
        TemplateSpec {
            name: "mine".into(),
            permissions: [].into(),
            data_scope: DataScope::Own,
        },
        &ctx()
    )));
    w.users
        .set_member_template(&admin, &bob_me.account, &publishers.id, &ctx())
        .unwrap();
    let publisher = w.principal(&bob);
    assert!(publisher.allows(Permission::CatalogWrite));
    assert!(!publisher.allows(Permission::OrdersCreate));

    // Keys: shown once, act with their template, refused once revoked or expired.
    let created = w
        .users
        .create_api_key(
            &admin,
            NewApiKey {
                name: "partner sync".into(),
                template: publishers.id.clone(),
                project: None,
                expires_at: None,
            },
            &ctx(),
        )
        .unwrap();
    assert!(
        created
            .secret
            .starts_with(&format!("sy_{}_", created.key.id))
    );
    let machine = w.users.authenticate(&created.secret, &ctx()).unwrap();
    assert_eq!(
        machine.credential,
        Credential::ApiKey(created.key.id.clone())
    );
    assert_eq!(machine.account, alice_me.account);
    assert_eq!(machine.tenant, Tenant::Enterprise(ent.id.clone()));
    assert!(machine.allows(Permission::CatalogWrite));
    assert!(!machine.operator);
    let wrong = format!("{}x", &created.secret[..created.secret.len() - 1]);
    assert!(unauthenticated(w.users.authenticate(&wrong, &ctx())));
    // A key cannot do what needs a person.
    assert!(forbidden(w.users.switch_identity(
        &machine,
        Identity::Personal,
        &ctx()
    )));

    for template in [BuiltInTemplate::Owner.id(), BuiltInTemplate::Admin.id()] {
        let attempt = w.users.create_api_key(
            &publisher,
            NewApiKey {
                name: "mine".into(),
                template,
                project: None,
                expires_at: None,
            },
            &ctx(),
        );
        assert!(
            matches!(
                attempt,
                Err(AccountError::Forbidden(_) | AccountError::Invalid(_))
            ),
            "{attempt:?}"
        );
    }
    // Its own template is fine.
    w.users
        .create_api_key(
            &publisher,
            NewApiKey {
                name: "mine".into(),
                template: publishers.id.clone(),
                project: None,
                expires_at: None,
            },
            &ctx(),
        )
        .unwrap();
    let past = w.users.create_api_key(
        &admin,
        NewApiKey {
            name: "late".into(),
            template: publishers.id.clone(),
            project: None,
            expires_at: Some(w.clock.now() - Duration::seconds(1)),
        },
        &ctx(),
    );
    assert!(matches!(past, Err(AccountError::Invalid(e)) if e.field_name() == "expires_at"));
    let hourly = w
        .users
        .create_api_key(
            &admin,
            NewApiKey {
                name: "hourly".into(),
                template: BuiltInTemplate::Viewer.id(),
                project: None,
                expires_at: Some(w.clock.now() + Duration::hours(1)),
            },
            &ctx(),
        )
        .unwrap();
    w.users.authenticate(&hourly.secret, &ctx()).unwrap();

    let revoked = w
        .users
        .revoke_api_key(&admin, &created.key.id, &ctx())
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(unauthenticated(
        w.users.authenticate(&created.secret, &ctx())
    ));
    w.clock.advance(Duration::hours(2));
    assert!(unauthenticated(
        w.users.authenticate(&hourly.secret, &ctx())
    ));

    let events = w.actions(Some(&Tenant::Enterprise(ent.id.clone())));
    for action in [
        "enterprise.created",
        "invitation.sent",
        "invitation.accepted",
        "template.created",
        "member.template_changed",
        "key.created",
        "key.revoked",
    ] {
        assert!(events.iter().any(|a| a == action), "{action}: {events:?}");
    }
    let admin = w.principal(&w.users.refresh(&alice.refresh_token, &ctx()).unwrap());
    let audit = w.users.list_audit(&admin, 0, 0).unwrap();
    assert_eq!(audit.len(), events.len());
    let publisher = w.principal(&w.users.refresh(&bob.refresh_token, &ctx()).unwrap());
    assert!(forbidden(w.users.list_audit(&publisher, 0, 10)));
}

fn applications_transfer_and_leave(backend: Backend) {
    let w = World::new(backend, |_| {});
    let (alice, alice_me) = w.person("alice@example.com");
    let (dave, dave_me) = w.person("dave@example.com");
    let ent = w
        .users
        .create_enterprise(&alice_me, "Acme Cloud", &ctx())
        .unwrap();
    assert!(matches!(
        w.users.create_enterprise(&dave_me, "acme cloud", &ctx()),
        Err(AccountError::Conflict(_))
    ));
    let found = w.users.find_enterprises(&dave_me, "acme").unwrap();
    assert_eq!(found.iter().map(|e| &e.id).collect::<Vec<_>>(), [&ent.id]);

    let application = w
        .users
        .apply(&dave_me, &ent.id, "I run the partner sync", &ctx())
        .unwrap();
    assert_eq!(w.users.my_applications(&dave_me).unwrap().len(), 1);
    let (alice_ent, admin) = w.as_enterprise(&alice, &ent.id);
    let decided = w
        .users
        .decide_application(&admin, &application.id, true, None, &ctx())
        .unwrap();
    assert_eq!(decided.decided_by.as_ref(), Some(&alice_me.account));
    let members = w.users.list_members(&admin).unwrap();
    let dave_member = members
        .iter()
        .find(|m| m.account == dave_me.account)
        .unwrap();
    assert_eq!(dave_member.template, BuiltInTemplate::Viewer.id());

    // Only the administrator hands the role over; the administrator cannot leave.
    let (_, viewer) = w.as_enterprise(&dave, &ent.id);
    assert!(forbidden(w.users.transfer_admin(
        &viewer,
        &alice_me.account,
        &ctx()
    )));
    assert!(matches!(
        w.users.leave(&alice_me, &ent.id, &ctx()),
        Err(AccountError::Conflict(_))
    ));
    w.users
        .transfer_admin(&admin, &dave_me.account, &ctx())
        .unwrap();
    let members = w.users.list_members(&admin).unwrap();
    let admins: Vec<_> = members.iter().filter(|m| m.is_admin).collect();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].account, dave_me.account);
    let alice_member = members
        .iter()
        .find(|m| m.account == alice_me.account)
        .unwrap();
    assert_eq!(alice_member.template, BuiltInTemplate::Admin.id());

    let alice_me = w.principal(&w.login("alice@example.com", PASSWORD).unwrap());
    w.users.leave(&alice_me, &ent.id, &ctx()).unwrap();
    // Her enterprise session stops acting for it; a refresh brings her home.
    assert!(unauthenticated(
        w.users.authenticate(&alice_ent.access_token, &ctx())
    ));
    let home = w.users.refresh(&alice_ent.refresh_token, &ctx()).unwrap();
    assert_eq!(home.identity, Identity::Personal);
    let dave_me = w.principal(&w.login("dave@example.com", PASSWORD).unwrap());
    assert!(matches!(
        w.users.leave(&dave_me, &ent.id, &ctx()),
        Err(AccountError::Conflict(_))
    ));
    assert!(matches!(
        w.users.leave(&alice_me, &ent.id, &ctx()),
        Err(AccountError::Store(StoreError::NotFound { .. }))
    ));
    let events = w.actions(Some(&Tenant::Enterprise(ent.id.clone())));
    for action in [
        "application.filed",
        "application.approved",
        "admin.transferred",
        "member.left",
    ] {
        assert!(events.iter().any(|a| a == action), "{action}: {events:?}");
    }
}

/// "Unknown account" and "wrong password" take the same time: both verify
/// one argon2id hash with the production parameters.
fn unknown_and_wrong_logins_take_alike(backend: Backend) {
    let w = World::new(backend, |c| {
        let production = AccountsConfig::new(KEY.to_owned().into());
        c.argon2_memory_kib = production.argon2_memory_kib;
        c.argon2_iterations = production.argon2_iterations;
        c.lockout.max_failures = 10_000;
    });
    w.users
        .register("known@example.com", PASSWORD, None, &ctx())
        .unwrap();
    let time = |login: &str| {
        let start = Instant::now();
        assert!(w.login(login, "not-the-password").is_err());
        start.elapsed()
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        known.push(time("known@example.com"));
        unknown.push(time("unknown@example.com"));
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[7].as_secs_f64(), unknown[7].as_secs_f64());
    let ratio = k / u;
    // Skipping the dummy hash would make an unknown login ~100× faster; the
    // band is wide because a wrong password also records a failure, and a
    // loaded machine stretches either side.
    assert!(
        (0.67..1.5).contains(&ratio),
        "median wrong password {k:.4}s, unknown account {u:.4}s"
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(super::Backend::Postgres) })*
        }
    };
}

on_both_backends!(
    register_confirm_and_log_in,
    wrong_and_unknown_logins_answer_alike_and_lock_out,
    attempts_are_rate_limited,
    refresh_rotates_and_a_replay_revokes_the_family,
    access_tokens_expire_keys_rotate_and_logout_ends_them,
    housekeeping_purges_what_the_clock_has_ended,
    passwords_change_and_reset_once,
    enterprises_templates_and_keys,
    applications_transfer_and_leave,
    unknown_and_wrong_logins_take_alike,
);
