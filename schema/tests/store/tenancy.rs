//! `TenancyStore`: enterprises, members, applications, invitations,
//! projects and templates; isolation between enterprises.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use shiyun_core::store::StoreError;
use shiyun_core::tenancy::{
    AccountId, ApiKey, ApiKeyId, BuiltInTemplate, DataScope, Enterprise, EnterpriseId, Invitation,
    InvitationId, Permission, RequestStatus, Template, TemplateId, Tenant,
};

use crate::people::{
    application, developer, enterprise, in_projects, join, own, person, project, random, whole,
};
use crate::support::{Store, at};

fn is_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound { .. }))
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

fn custom(enterprise: &EnterpriseId, name: &str, permissions: &[Permission]) -> Template {
    Template {
        id: TemplateId::from_random(random()),
        enterprise: Some(enterprise.clone()),
        name: name.to_owned(),
        permissions: permissions.iter().copied().collect(),
        data_scope: DataScope::Own,
    }
}

fn invitation(
    enterprise: &EnterpriseId,
    email: &str,
    by: &AccountId,
    template: &TemplateId,
    expires: i64,
) -> Invitation {
    Invitation {
        id: InvitationId::from_random(random()),
        enterprise: enterprise.clone(),
        email: email.to_owned(),
        template: template.clone(),
        invited_by: by.clone(),
        status: RequestStatus::Pending,
        created_at: at(10),
        expires_at: at(expires),
    }
}

fn key(
    enterprise: &EnterpriseId,
    by: &AccountId,
    project: Option<&shiyun_core::tenancy::ProjectId>,
) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_random(random()),
        enterprise: enterprise.clone(),
        template: BuiltInTemplate::Developer.id(),
        project: project.cloned(),
        name: "ci".into(),
        created_by: by.clone(),
        created_at: at(20),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    }
}

pub fn enterprise_names_are_unique_and_searchable<S: Store>(store: &S) {
    let li = person(store, "li");
    let first = Enterprise {
        id: EnterpriseId::from_random(random()),
        name: "Acme_Cloud 100%".into(),
        created_at: at(1),
    };
    let member = store.create_enterprise(&first, &li.id).unwrap();
    assert_eq!(member.template, BuiltInTemplate::Owner.id());
    assert!(member.is_admin);
    assert_eq!(store.get_enterprise(&first.id).unwrap().unwrap(), first);
    let again = Enterprise {
        id: EnterpriseId::from_random(random()),
        name: "ACME_cloud 100%".into(),
        created_at: at(2),
    };
    let err = store.create_enterprise(&again, &li.id).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert!(
        store.get_enterprise(&again.id).unwrap().is_none(),
        "rolled back"
    );
    let other = Enterprise {
        id: EnterpriseId::from_random(random()),
        name: "Acme Cloud 1000".into(),
        created_at: at(3),
    };
    store.create_enterprise(&other, &li.id).unwrap();
    let chinese = Enterprise {
        id: EnterpriseId::from_random(random()),
        name: "十云科技".into(),
        created_at: at(4),
    };
    store.create_enterprise(&chinese, &li.id).unwrap();

    let names = |text: &str| -> Vec<String> {
        store
            .find_enterprises(text, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    assert_eq!(names("acme"), vec!["Acme Cloud 1000", "Acme_Cloud 100%"]);
    // `_` and `%` are literal, not wildcards.
    assert_eq!(names("e_c"), vec!["Acme_Cloud 100%"]);
    assert_eq!(names("100%"), vec!["Acme_Cloud 100%"]);
    assert_eq!(names("云科"), vec!["十云科技"]);
    assert!(names("globex").is_empty());
    assert_eq!(store.find_enterprises("", 2).unwrap().len(), 2);

    let memberships = store.memberships_of(&li.id).unwrap();
    assert_eq!(memberships.len(), 3);
    assert!(
        memberships
            .iter()
            .all(|(e, m)| m.enterprise == e.id && m.is_admin)
    );
    assert!(
        store
            .memberships_of(&person(store, "x").id)
            .unwrap()
            .is_empty()
    );
}

/// Every id of enterprise B asked for through enterprise A answers as a
/// missing one: not found, never B's data.
pub fn another_enterprises_ids_answer_not_found<S: Store>(store: &S) {
    let alice = person(store, "alice");
    let bob = person(store, "bob");
    let a = enterprise(store, "A", &alice);
    let b = enterprise(store, "B", &bob);
    let bob_dev = developer(store, &b, &bob.id, "bob-dev");
    let alice_dev = developer(store, &a, &alice.id, "alice-dev");

    let b_project = project(store, &b, &bob.id, "shared-name");
    let a_project = project(store, &a, &alice.id, "shared-name");
    let b_key = key(&b, &bob.id, Some(&b_project));
    store.create_api_key(&b_key, "secret-hash").unwrap();
    let b_template = custom(&b, "auditors", &[Permission::AuditRead]);
    store.create_template(&b_template).unwrap();
    let b_invitation = invitation(&b, "x@example.com", &bob.id, &b_template.id, 1_000);
    store
        .create_invitation(&b_invitation, "invite-hash-b")
        .unwrap();
    let stranger = person(store, "stranger");
    let b_application = application(&b, &stranger.id, 30);
    store.create_application(&b_application).unwrap();

    // Projects.
    assert_eq!(store.get_project(&whole(&a), &b_project).unwrap(), None);
    assert!(
        store
            .list_projects(&whole(&a))
            .unwrap()
            .iter()
            .all(|p| p.id == a_project)
    );
    assert!(is_not_found(store.set_project_member(
        &a,
        &b_project,
        &alice_dev.id,
        true
    )));
    assert!(is_not_found(store.set_project_member(
        &a,
        &a_project,
        &bob_dev.id,
        true
    )));
    // Keys.
    assert!(store.list_api_keys(&whole(&a)).unwrap().is_empty());
    assert!(is_not_found(store.revoke_api_key(
        &whole(&a),
        &b_key.id,
        at(40)
    )));
    assert!(is_not_found(
        store.create_api_key(&key(&a, &alice.id, Some(&b_project)), "h")
    ));
    let mut borrowed = key(&a, &alice.id, None);
    borrowed.template = b_template.id.clone();
    assert!(is_not_found(store.create_api_key(&borrowed, "h")));
    // Templates.
    assert_eq!(store.get_template(&a, &b_template.id).unwrap(), None);
    assert_eq!(
        store.list_templates(&a).unwrap().len(),
        BuiltInTemplate::ALL.len()
    );
    let mut hijack = b_template.clone();
    hijack.enterprise = Some(a.clone());
    hijack.name = "mine now".into();
    assert!(is_not_found(store.update_template(&hijack)));
    assert!(is_not_found(store.delete_template(&a, &b_template.id)));
    assert!(is_not_found(store.set_member_template(
        &a,
        &alice_dev.id,
        &b_template.id
    )));
    // Members.
    assert!(is_not_found(store.set_member_template(
        &a,
        &bob_dev.id,
        &BuiltInTemplate::Viewer.id()
    )));
    assert!(is_not_found(store.remove_member(&a, &bob_dev.id, at(41))));
    assert!(is_not_found(store.transfer_admin(
        &a,
        &alice.id,
        &bob_dev.id,
        &BuiltInTemplate::Admin.id()
    )));
    assert_eq!(store.member_access(&a, &bob_dev.id).unwrap(), None);
    assert!(
        store
            .list_members(&a)
            .unwrap()
            .iter()
            .all(|m| m.enterprise == a)
    );
    // Applications and invitations.
    assert!(is_not_found(store.decide_application(
        &a,
        &b_application.id,
        true,
        &BuiltInTemplate::Viewer.id(),
        &alice.id,
        at(42)
    )));
    let a_applications = store.list_applications(&a, None).unwrap();
    assert_eq!(a_applications.len(), 1, "only A's own developer's");
    assert!(a_applications.iter().all(|x| x.enterprise == a));
    assert!(is_not_found(store.revoke_invitation(&a, &b_invitation.id)));
    assert!(store.list_invitations(&a).unwrap().is_empty());
    assert!(is_not_found(store.create_invitation(
        &invitation(&a, "y@example.com", &alice.id, &b_template.id, 1_000),
        "invite-hash-a"
    )));

    // B's rows are all still there and unchanged.
    assert_eq!(store.list_api_keys(&whole(&b)).unwrap()[0].revoked_at, None);
    assert_eq!(
        store.list_invitations(&b).unwrap()[0].status,
        RequestStatus::Pending
    );
    assert_eq!(
        store.list_applications(&b, None).unwrap()[0].status,
        RequestStatus::Pending
    );
    assert_eq!(
        store.get_template(&b, &b_template.id).unwrap(),
        Some(b_template)
    );
    // A personal space has no projects or keys.
    let personal = shiyun_core::tenancy::RowScope::whole(Tenant::Personal(bob.id.clone()));
    assert!(store.list_projects(&personal).unwrap().is_empty());
    assert!(store.list_api_keys(&personal).unwrap().is_empty());
}

pub fn project_scopes_filter_rows<S: Store>(store: &S) {
    let admin = person(store, "admin");
    let ent = enterprise(store, "E", &admin);
    let dev = developer(store, &ent, &admin.id, "dev");
    let other = developer(store, &ent, &admin.id, "other");
    let admins = project(store, &ent, &admin.id, "admins");
    let devs = project(store, &ent, &dev.id, "devs");
    let others = project(store, &ent, &other.id, "others");
    let joined = store
        .set_project_member(&ent, &admins, &dev.id, true)
        .unwrap();
    assert_eq!(
        joined.members,
        BTreeSet::from([admin.id.clone(), dev.id.clone()])
    );
    // Adding twice is one membership.
    store
        .set_project_member(&ent, &admins, &dev.id, true)
        .unwrap();

    let ids = |scope: shiyun_core::tenancy::RowScope| -> BTreeSet<_> {
        store
            .list_projects(&scope)
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect()
    };
    assert_eq!(
        ids(whole(&ent)),
        BTreeSet::from([admins.clone(), devs.clone(), others.clone()])
    );
    let access = store.member_access(&ent, &dev.id).unwrap().unwrap();
    assert_eq!(
        access.projects,
        BTreeSet::from([admins.clone(), devs.clone()])
    );
    assert_eq!(access.template.data_scope, DataScope::Projects);
    // The member's projects (the set given), and what it created.
    let dev_projects = in_projects(&ent, &dev.id, &[&admins]);
    assert_eq!(
        ids(dev_projects.clone()),
        BTreeSet::from([admins.clone(), devs.clone()])
    );
    assert!(store.get_project(&dev_projects, &others).unwrap().is_none());
    assert!(store.get_project(&dev_projects, &admins).unwrap().is_some());
    assert_eq!(ids(own(&ent, &dev.id)), BTreeSet::from([devs.clone()]));
    assert!(
        store
            .get_project(&own(&ent, &dev.id), &admins)
            .unwrap()
            .is_none()
    );
    assert!(ids(in_projects(&ent, &person(store, "nobody").id, &[])).is_empty());

    let left = store
        .set_project_member(&ent, &admins, &dev.id, false)
        .unwrap();
    assert_eq!(left.members, BTreeSet::from([admin.id.clone()]));
    let access = store.member_access(&ent, &dev.id).unwrap().unwrap();
    assert_eq!(access.projects, BTreeSet::from([devs.clone()]));
    // A project name is unique within its enterprise.
    let duplicate = shiyun_core::tenancy::Project {
        id: shiyun_core::tenancy::ProjectId::from_random(random()),
        enterprise: ent.clone(),
        name: "devs".into(),
        created_by: admin.id.clone(),
        created_at: at(9),
        members: BTreeSet::new(),
    };
    assert!(matches!(
        store.create_project(&duplicate),
        Err(StoreError::AlreadyExists { .. })
    ));
}

/// Two transfers from the one administrator to different members at once:
/// exactly one succeeds, and the enterprise has exactly one administrator.
pub fn concurrent_transfers_leave_one_administrator<S: Store>(store: &S) {
    for round in 0..4 {
        let admin = person(store, "admin");
        let ent = enterprise(store, &format!("T{round}"), &admin);
        let b = developer(store, &ent, &admin.id, "b");
        let c = developer(store, &ent, &admin.id, "c");
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = [b.id.clone(), c.id.clone()]
            .into_iter()
            .map(|to| {
                let store = store.clone();
                let barrier = Arc::clone(&barrier);
                let (ent, from) = (ent.clone(), admin.id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.transfer_admin(&ent, &from, &to, &BuiltInTemplate::Admin.id())
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(StoreError::Conflict(_)))),
            "{results:?}"
        );
        let members = store.list_members(&ent).unwrap();
        let admins: Vec<_> = members.iter().filter(|m| m.is_admin).collect();
        assert_eq!(admins.len(), 1, "{members:?}");
        assert_eq!(admins[0].template, BuiltInTemplate::Owner.id());
        assert_ne!(admins[0].account, admin.id);
        let old = members.iter().find(|m| m.account == admin.id).unwrap();
        assert_eq!(old.template, BuiltInTemplate::Admin.id());
    }
}

pub fn the_administrator_cannot_leave<S: Store>(store: &S) {
    let admin = person(store, "admin");
    let ent = enterprise(store, "L", &admin);
    assert!(is_conflict(store.remove_member(&ent, &admin.id, at(10))));
    let dev = developer(store, &ent, &admin.id, "dev");
    assert!(is_conflict(store.set_member_template(
        &ent,
        &admin.id,
        &BuiltInTemplate::Viewer.id()
    )));
    assert!(is_conflict(store.set_member_template(
        &ent,
        &dev.id,
        &BuiltInTemplate::Owner.id()
    )));
    assert!(is_conflict(store.transfer_admin(
        &ent,
        &dev.id,
        &admin.id,
        &BuiltInTemplate::Viewer.id()
    )));
    assert!(is_not_found(store.transfer_admin(
        &ent,
        &admin.id,
        &person(store, "outsider").id,
        &BuiltInTemplate::Viewer.id()
    )));
    assert!(
        store
            .member_access(&ent, &admin.id)
            .unwrap()
            .unwrap()
            .member
            .is_admin,
        "a failed transfer changes nothing"
    );
    // The developer's project membership and keys go with it.
    let shared = project(store, &ent, &admin.id, "shared");
    store
        .set_project_member(&ent, &shared, &dev.id, true)
        .unwrap();
    let dev_key = key(&ent, &dev.id, Some(&shared));
    store.create_api_key(&dev_key, "h").unwrap();
    store.remove_member(&ent, &dev.id, at(20)).unwrap();
    assert!(is_not_found(store.remove_member(&ent, &dev.id, at(21))));
    assert_eq!(store.member_access(&ent, &dev.id).unwrap(), None);
    assert!(
        !store
            .get_project(&whole(&ent), &shared)
            .unwrap()
            .unwrap()
            .members
            .contains(&dev.id)
    );
    let (revoked, _) = store.api_key_credentials(&dev_key.id).unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(20)));

    // After handing the role over, the former administrator may leave.
    let heir = developer(store, &ent, &admin.id, "heir");
    store
        .transfer_admin(&ent, &admin.id, &heir.id, &BuiltInTemplate::Viewer.id())
        .unwrap();
    store.remove_member(&ent, &admin.id, at(30)).unwrap();
    let members = store.list_members(&ent).unwrap();
    assert_eq!(members.len(), 1);
    assert!(members[0].is_admin && members[0].account == heir.id);
    assert!(is_conflict(store.remove_member(&ent, &heir.id, at(31))));
}

pub fn applications_are_decided_once<S: Store>(store: &S) {
    let admin = person(store, "admin");
    let ent = enterprise(store, "Apply", &admin);
    let li = person(store, "li");
    let wang = person(store, "wang");
    let first = application(&ent, &li.id, 10);
    store.create_application(&first).unwrap();
    assert!(is_conflict(
        store.create_application(&application(&ent, &li.id, 11))
    ));
    assert!(is_conflict(
        store.create_application(&application(&ent, &admin.id, 11))
    ));
    assert!(is_not_found(store.create_application(&application(
        &EnterpriseId::from_random(random()),
        &li.id,
        11
    ))));
    let second = application(&ent, &wang.id, 12);
    store.create_application(&second).unwrap();

    // An unknown template, or the owner's, is refused and nothing changes.
    assert!(is_not_found(store.decide_application(
        &ent,
        &first.id,
        true,
        &TemplateId::from_random(random()),
        &admin.id,
        at(20)
    )));
    assert!(is_conflict(store.decide_application(
        &ent,
        &first.id,
        true,
        &BuiltInTemplate::Owner.id(),
        &admin.id,
        at(20)
    )));
    let approved = store
        .decide_application(
            &ent,
            &first.id,
            true,
            &BuiltInTemplate::Finance.id(),
            &admin.id,
            at(21),
        )
        .unwrap();
    assert_eq!(approved.status, RequestStatus::Approved);
    assert_eq!(approved.decided_by, Some(admin.id.clone()));
    assert_eq!(approved.decided_at, Some(at(21)));
    let access = store.member_access(&ent, &li.id).unwrap().unwrap();
    assert_eq!(access.member.template, BuiltInTemplate::Finance.id());
    assert_eq!(access.member.joined_at, at(21));
    assert!(!access.member.is_admin);
    assert!(is_conflict(store.decide_application(
        &ent,
        &first.id,
        false,
        &BuiltInTemplate::Viewer.id(),
        &admin.id,
        at(22)
    )));
    let rejected = store
        .decide_application(
            &ent,
            &second.id,
            false,
            &BuiltInTemplate::Viewer.id(),
            &admin.id,
            at(23),
        )
        .unwrap();
    assert_eq!(rejected.status, RequestStatus::Rejected);
    assert_eq!(store.member_access(&ent, &wang.id).unwrap(), None);
    // A rejected applicant may apply again.
    let third = application(&ent, &wang.id, 30);
    store.create_application(&third).unwrap();

    let listed: Vec<_> = store
        .list_applications(&ent, None)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        listed,
        vec![third.id.clone(), second.id.clone(), first.id.clone()]
    );
    let pending = store
        .list_applications(&ent, Some(RequestStatus::Pending))
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0], third);
    let mine: Vec<_> = store
        .applications_of(&wang.id)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(mine, vec![third.id, second.id]);
}

pub fn invitations_are_accepted_once_by_the_invited<S: Store>(store: &S) {
    let admin = person(store, "admin");
    let ent = enterprise(store, "Invite", &admin);
    let li = person(store, "li");
    let li_email = li.email.clone().unwrap();
    let viewer = BuiltInTemplate::Viewer.id();
    let accept =
        |hash: &str, email: &str, secs| store.accept_invitation(hash, &li.id, email, at(secs));

    let expired = invitation(&ent, &li_email, &admin.id, &viewer, 100);
    store.create_invitation(&expired, "h-expired").unwrap();
    assert!(is_not_found(accept("h-expired", &li_email, 100)));

    let revoked = invitation(&ent, &li_email, &admin.id, &viewer, 1_000);
    store.create_invitation(&revoked, "h-revoked").unwrap();
    store.revoke_invitation(&ent, &revoked.id).unwrap();
    assert!(is_conflict(store.revoke_invitation(&ent, &revoked.id)));
    assert!(is_not_found(accept("h-revoked", &li_email, 50)));

    let someone_else = invitation(&ent, "wang@example.com", &admin.id, &viewer, 1_000);
    store.create_invitation(&someone_else, "h-wang").unwrap();
    let err = accept("h-wang", &li_email, 50).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("h-wang"),
        "the token stays secret: {err}"
    );
    assert!(is_not_found(accept("h-unknown", &li_email, 50)));
    assert!(is_conflict(store.create_invitation(
        &invitation(
            &ent,
            &li_email,
            &admin.id,
            &BuiltInTemplate::Owner.id(),
            1_000
        ),
        "h-owner"
    )));

    let good = invitation(
        &ent,
        &li_email,
        &admin.id,
        &BuiltInTemplate::Developer.id(),
        1_000,
    );
    store.create_invitation(&good, "h-good").unwrap();
    // The same token hash twice is refused.
    assert!(matches!(
        store.create_invitation(
            &invitation(&ent, "z@example.com", &admin.id, &viewer, 1_000),
            "h-good"
        ),
        Err(StoreError::AlreadyExists { .. })
    ));
    let member = accept("h-good", &li_email.to_uppercase(), 60).unwrap();
    assert_eq!(member.account, li.id);
    assert_eq!(member.enterprise, ent);
    assert_eq!(member.template, BuiltInTemplate::Developer.id());
    assert_eq!(member.joined_at, at(60));
    assert!(is_not_found(accept("h-good", &li_email, 61)), "used");
    assert_eq!(
        store.member_access(&ent, &li.id).unwrap().unwrap().member,
        member
    );

    let statuses: Vec<_> = store
        .list_invitations(&ent)
        .unwrap()
        .into_iter()
        .map(|i| (i.id, i.status))
        .collect();
    assert_eq!(statuses.len(), 4);
    assert!(statuses.contains(&(good.id.clone(), RequestStatus::Approved)));
    assert!(statuses.contains(&(revoked.id.clone(), RequestStatus::Rejected)));
    assert!(statuses.contains(&(someone_else.id.clone(), RequestStatus::Pending)));
    assert!(is_conflict(store.revoke_invitation(&ent, &good.id)));
}

pub fn templates_are_built_in_or_the_enterprises_own<S: Store>(store: &S) {
    let admin = person(store, "admin");
    let ent = enterprise(store, "Tpl", &admin);
    let listed = store.list_templates(&ent).unwrap();
    let built_in: Vec<_> = BuiltInTemplate::ALL.iter().map(|b| b.template()).collect();
    assert_eq!(listed, built_in);
    assert_eq!(
        store
            .get_template(&ent, &BuiltInTemplate::Finance.id())
            .unwrap(),
        Some(BuiltInTemplate::Finance.template())
    );

    let billing = custom(
        &ent,
        "billing clerks",
        &[Permission::InvoicesRead, Permission::WalletsRead],
    );
    let auditors = custom(&ent, "auditors", &[Permission::AuditRead]);
    store.create_template(&billing).unwrap();
    store.create_template(&auditors).unwrap();
    assert_eq!(
        store.get_template(&ent, &billing.id).unwrap(),
        Some(billing.clone())
    );
    let listed = store.list_templates(&ent).unwrap();
    assert_eq!(&listed[..5], &built_in[..]);
    assert_eq!(&listed[5..], &[auditors.clone(), billing.clone()]);

    assert!(matches!(
        store.create_template(&custom(&ent, "auditors", &[])),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.create_template(&custom(&ent, "Owner", &[])),
        Err(StoreError::AlreadyExists { .. })
    ));
    let mut built_in_id = custom(&ent, "x", &[]);
    built_in_id.id = BuiltInTemplate::Viewer.id();
    assert!(matches!(
        store.create_template(&built_in_id),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(is_conflict(store.update_template(&built_in_id)));
    assert!(is_conflict(
        store.delete_template(&ent, &BuiltInTemplate::Viewer.id())
    ));

    let mut changed = billing.clone();
    changed.permissions.insert(Permission::InvoicesExport);
    changed.data_scope = DataScope::All;
    store.update_template(&changed).unwrap();
    assert_eq!(
        store.get_template(&ent, &billing.id).unwrap(),
        Some(changed.clone())
    );
    let mut clash = changed.clone();
    clash.name = "auditors".into();
    assert!(matches!(
        store.update_template(&clash),
        Err(StoreError::AlreadyExists { .. })
    ));

    // In use by a member: it cannot go, and the member sees it.
    let clerk = person(store, "clerk");
    join(store, &ent, &admin.id, &clerk.id, &billing.id);
    let access = store.member_access(&ent, &clerk.id).unwrap().unwrap();
    assert_eq!(access.template, changed);
    assert!(is_conflict(store.delete_template(&ent, &billing.id)));
    assert!(
        store.get_template(&ent, &billing.id).unwrap().is_some(),
        "still there"
    );
    store
        .set_member_template(&ent, &clerk.id, &BuiltInTemplate::Viewer.id())
        .unwrap();
    // In use by a key, or a pending invitation, likewise.
    let mut auditor_key = key(&ent, &admin.id, None);
    auditor_key.template = auditors.id.clone();
    store.create_api_key(&auditor_key, "h").unwrap();
    assert!(is_conflict(store.delete_template(&ent, &auditors.id)));
    store
        .revoke_api_key(&whole(&ent), &auditor_key.id, at(50))
        .unwrap();
    let pending = invitation(&ent, "a@example.com", &admin.id, &auditors.id, 1_000);
    store.create_invitation(&pending, "h-auditor").unwrap();
    assert!(is_conflict(store.delete_template(&ent, &auditors.id)));
    store.revoke_invitation(&ent, &pending.id).unwrap();

    store.delete_template(&ent, &billing.id).unwrap();
    store.delete_template(&ent, &auditors.id).unwrap();
    assert!(is_not_found(store.delete_template(&ent, &billing.id)));
    assert_eq!(store.list_templates(&ent).unwrap(), built_in);
}
