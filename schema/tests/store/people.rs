//! User-centre fixtures: accounts, enterprises and members made through the
//! store's own methods.

use std::collections::BTreeSet;

use shiyun_core::tenancy::{
    Account, AccountId, Application, ApplicationId, BuiltInTemplate, Enterprise, EnterpriseId,
    NewAccount, Project, ProjectId, RequestStatus, RowScope, Rows, TemplateId, Tenant,
};

use crate::support::{Store, at};

/// 16 random bytes for a fresh id.
pub fn random() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    bytes
}

/// A new account with an (unverified) email `<name>-<random>@example.com`.
pub fn person<S: Store>(store: &S, name: &str) -> Account {
    let id = AccountId::from_random(random());
    let account = Account {
        email: Some(format!("{name}-{}@example.com", &id.as_str()[4..12])),
        email_verified_at: None,
        phone: None,
        phone_verified_at: None,
        display_name: name.to_owned(),
        operator: false,
        created_at: at(0),
        id,
    };
    store
        .create_account(&NewAccount {
            account,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        })
        .unwrap()
}

/// A new enterprise administered by `admin`.
pub fn enterprise<S: Store>(store: &S, name: &str, admin: &Account) -> EnterpriseId {
    let enterprise = Enterprise {
        id: EnterpriseId::from_random(random()),
        name: format!("{name} {}", fastrand::u32(..)),
        created_at: at(1),
    };
    let member = store.create_enterprise(&enterprise, &admin.id).unwrap();
    assert!(member.is_admin);
    enterprise.id
}

/// An application of `account` to `enterprise`, filed at `secs`.
pub fn application(enterprise: &EnterpriseId, account: &AccountId, secs: i64) -> Application {
    Application {
        id: ApplicationId::from_random(random()),
        enterprise: enterprise.clone(),
        account: account.clone(),
        message: "let me in".into(),
        status: RequestStatus::Pending,
        created_at: at(secs),
        decided_by: None,
        decided_at: None,
    }
}

/// Makes `account` a member of `enterprise` with `template` (an approved
/// application).
pub fn join<S: Store>(
    store: &S,
    enterprise: &EnterpriseId,
    admin: &AccountId,
    account: &AccountId,
    template: &TemplateId,
) {
    let application = application(enterprise, account, 2);
    store.create_application(&application).unwrap();
    store
        .decide_application(enterprise, &application.id, true, template, admin, at(3))
        .unwrap();
}

/// A member of `enterprise` with the developer template.
pub fn developer<S: Store>(
    store: &S,
    enterprise: &EnterpriseId,
    admin: &AccountId,
    name: &str,
) -> Account {
    let account = person(store, name);
    join(
        store,
        enterprise,
        admin,
        &account.id,
        &BuiltInTemplate::Developer.id(),
    );
    account
}

/// A project of `enterprise` created by `creator`.
pub fn project<S: Store>(
    store: &S,
    enterprise: &EnterpriseId,
    creator: &AccountId,
    name: &str,
) -> ProjectId {
    let project = Project {
        id: ProjectId::from_random(random()),
        enterprise: enterprise.clone(),
        name: name.to_owned(),
        created_by: creator.clone(),
        created_at: at(5),
        members: BTreeSet::new(),
    };
    store.create_project(&project).unwrap();
    project.id
}

/// Every row of the enterprise.
pub fn whole(enterprise: &EnterpriseId) -> RowScope {
    RowScope::whole(Tenant::Enterprise(enterprise.clone()))
}

/// The rows of `projects` and those `account` created.
pub fn in_projects(
    enterprise: &EnterpriseId,
    account: &AccountId,
    projects: &[&ProjectId],
) -> RowScope {
    RowScope {
        tenant: Tenant::Enterprise(enterprise.clone()),
        rows: Rows::Projects {
            projects: projects.iter().map(|p| (*p).clone()).collect(),
            own: account.clone(),
        },
    }
}

/// Only what `account` created.
pub fn own(enterprise: &EnterpriseId, account: &AccountId) -> RowScope {
    RowScope {
        tenant: Tenant::Enterprise(enterprise.clone()),
        rows: Rows::Own(account.clone()),
    }
}
