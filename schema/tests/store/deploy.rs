//! The deployment store: clusters with unique names and idempotent grants,
//! placements that stay on their cluster, applications filtered by row
//! scope with deleted ones hidden and their names free again, releases
//! numbered 1, 2, 3… (also under concurrency), builds, and a meter mark
//! that never moves back.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use serde_json::json;
use shiyun_core::deploy::{
    AppId, AppLifecycle, AppRecord, BuildId, BuildRecord, BuildStatus, ClusterId, ClusterKind,
    ClusterRecord, DeployStore, NewRelease, PlacementRecord, ReleaseStatus,
};
use shiyun_core::store::StoreError;
use shiyun_core::tenancy::{AccountId, EnterpriseId, ProjectId, RowScope, Rows, Tenant};
use shiyun_schema::Database;
use shiyun_schema::testing::TestDatabase;

use crate::support::{at, execute_behind_the_store};

fn tenant(n: u8) -> Tenant {
    Tenant::Enterprise(EnterpriseId::from_random([n; 16]))
}

fn account(n: u8) -> AccountId {
    AccountId::from_random([n; 16])
}

fn project(n: u8) -> ProjectId {
    ProjectId::from_random([n; 16])
}

fn cluster(name: &str, grants: Vec<Tenant>) -> ClusterRecord {
    ClusterRecord {
        id: ClusterId::parse(&format!("cls_{name}")).unwrap(),
        name: name.into(),
        kind: ClusterKind::Simulated,
        api_url: format!("https://{name}.example:6443"),
        credential_kind: "token".into(),
        sealed_credential: "bm9uY2U=.c2VhbGVk".into(),
        grants,
        created_at: at(1),
    }
}

fn placement(project: &ProjectId, tenant: &Tenant, cluster: &ClusterId) -> PlacementRecord {
    PlacementRecord {
        project: project.clone(),
        tenant: tenant.clone(),
        cluster: cluster.clone(),
        namespace: format!("sy-{}", project.as_str().replace('_', "-")),
        settings: json!({"quota": {"cpu": "4", "memory": "8Gi"}, "limits": {"cpu": 0.5}}),
        created_by: account(1),
        updated_at: at(2),
    }
}

fn app(id: &str, tenant: &Tenant, project: &ProjectId, name: &str, by: &AccountId) -> AppRecord {
    AppRecord {
        id: AppId::parse(id).unwrap(),
        tenant: tenant.clone(),
        project: project.clone(),
        name: name.into(),
        created_by: by.clone(),
        state: AppLifecycle::Running,
        current_release: None,
        scale_override: None,
        created_at: at(3),
        updated_at: at(3),
    }
}

fn release(app: &AppId, image: &str, secs: i64) -> NewRelease {
    NewRelease {
        app: app.clone(),
        spec: json!({"image": image, "replicas": 2, "env": {"A": "1"}}),
        rollback_of: None,
        description: "deploy".into(),
        created_by: account(1),
        created_at: at(secs),
    }
}

fn names(apps: &[AppRecord]) -> Vec<&str> {
    apps.iter().map(|a| a.name.as_str()).collect()
}

fn is_not_found(error: &StoreError) -> bool {
    matches!(error, StoreError::NotFound { .. })
}

pub fn deploy_clusters_have_unique_names_and_idempotent_grants(store: &Database) {
    let (t1, t2, t3) = (tenant(1), tenant(2), tenant(3));
    let mut grants = vec![t1.clone(), t2.clone()];
    grants.sort();
    let beta = cluster("beta", grants.clone());
    store.create_cluster(&beta).unwrap();
    let mut alpha = cluster("alpha", Vec::new());
    alpha.kind = ClusterKind::Kubernetes;
    alpha.credential_kind = "kubeconfig".into();
    store.create_cluster(&alpha).unwrap();

    assert_eq!(store.get_cluster(&beta.id).unwrap().unwrap(), beta);
    assert_eq!(store.get_cluster(&alpha.id).unwrap().unwrap(), alpha);
    assert_eq!(
        store.list_clusters().unwrap(),
        vec![alpha.clone(), beta.clone()]
    );
    let missing = ClusterId::parse("cls_missing").unwrap();
    assert_eq!(store.get_cluster(&missing).unwrap(), None);

    // A taken name, under another id, is refused; nothing of it is stored.
    let mut twin = cluster("beta", vec![t3.clone()]);
    twin.id = ClusterId::parse("cls_twin").unwrap();
    let err = store.create_cluster(&twin).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(store.get_cluster(&twin.id).unwrap(), None);
    assert_eq!(store.list_clusters().unwrap().len(), 2);

    // Granting twice and withdrawing twice are both harmless.
    let once = store.set_cluster_grant(&alpha.id, &t3, true).unwrap();
    let twice = store.set_cluster_grant(&alpha.id, &t3, true).unwrap();
    assert_eq!(once.grants, vec![t3.clone()]);
    assert_eq!(twice, once);
    let withdrawn = store.set_cluster_grant(&beta.id, &t1, false).unwrap();
    assert_eq!(withdrawn.grants, vec![t2.clone()]);
    let again = store.set_cluster_grant(&beta.id, &t1, false).unwrap();
    assert_eq!(again.grants, vec![t2.clone()]);
    assert_eq!(
        store.get_cluster(&beta.id).unwrap().unwrap().grants,
        vec![t2]
    );
    // Withdrawing a grant never made is harmless too.
    let none = store.set_cluster_grant(&alpha.id, &t1, false).unwrap();
    assert_eq!(none.grants, vec![t3]);

    let err = store.set_cluster_grant(&missing, &t1, true).unwrap_err();
    assert!(is_not_found(&err), "{err:?}");

    // The stored kinds are the serde names.
    for kind in [ClusterKind::Kubernetes, ClusterKind::Simulated] {
        assert_eq!(json!(kind), json!(kind.as_str()));
        assert_eq!(ClusterKind::parse(kind.as_str()), Some(kind));
    }
}

pub fn deploy_placements_stay_on_their_cluster(store: &Database) {
    let (t1, t2) = (tenant(1), tenant(2));
    let east = cluster("east", vec![t1.clone()]);
    let west = cluster("west", vec![t1.clone()]);
    store.create_cluster(&east).unwrap();
    store.create_cluster(&west).unwrap();
    let p = project(10);

    let first = placement(&p, &t1, &east.id);
    assert_eq!(store.put_placement(&first).unwrap(), first);
    let scope = RowScope::whole(t1.clone());
    assert_eq!(store.get_placement(&scope, &p).unwrap().unwrap(), first);

    // On the same cluster the settings and time change; the namespace and
    // who placed it stay.
    let mut changed = first.clone();
    changed.settings = json!({"quota": {"cpu": "8"}});
    changed.updated_at = at(50);
    changed.namespace = "ignored".into();
    changed.created_by = account(9);
    let stored = store.put_placement(&changed).unwrap();
    assert_eq!(stored.settings, changed.settings);
    assert_eq!(stored.updated_at, at(50));
    assert_eq!(stored.namespace, first.namespace);
    assert_eq!(stored.created_by, first.created_by);
    assert_eq!(store.get_placement(&scope, &p).unwrap().unwrap(), stored);

    // Another cluster is a conflict and changes nothing.
    let moved = placement(&p, &t1, &west.id);
    let err = store.put_placement(&moved).unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m == "the project is placed on another cluster"),
        "{err:?}"
    );
    assert_eq!(store.get_placement(&scope, &p).unwrap().unwrap(), stored);

    // Another tenant does not see it, whatever its rows.
    assert_eq!(
        store
            .get_placement(&RowScope::whole(t2.clone()), &p)
            .unwrap(),
        None
    );
    // Any scope of the tenant does (the project's visibility is the
    // service's check).
    let own = RowScope {
        tenant: t1.clone(),
        rows: Rows::Own(account(7)),
    };
    assert!(store.get_placement(&own, &p).unwrap().is_some());
    assert_eq!(store.get_placement(&scope, &project(11)).unwrap(), None);

    // An unknown cluster is NotFound; a namespace taken on the cluster by
    // another project is a conflict.
    let mut nowhere = placement(&project(12), &t1, &ClusterId::parse("cls_nowhere").unwrap());
    let err = store.put_placement(&nowhere).unwrap_err();
    assert!(is_not_found(&err), "{err:?}");
    nowhere.cluster = east.id.clone();
    nowhere.namespace = first.namespace.clone();
    let err = store.put_placement(&nowhere).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_placement(&scope, &project(12)).unwrap(), None);
}

pub fn deploy_apps_round_trip_and_row_scopes_filter_them(store: &Database) {
    let (t1, t2) = (tenant(1), tenant(2));
    let (p1, p2, p3) = (project(21), project(22), project(23));
    let (ann, bob) = (account(1), account(2));

    let mut web = app("app_web", &t1, &p1, "web", &ann);
    web.scale_override = Some(json!({"replicas": 3}));
    web.current_release = Some(7);
    let api = app("app_api", &t1, &p2, "api", &bob);
    let jobs = app("app_jobs", &t1, &p3, "jobs", &ann);
    let other = app("app_other", &t2, &p1, "other", &ann);
    for a in [&web, &api, &jobs, &other] {
        store.create_app(a).unwrap();
    }

    let whole = RowScope::whole(t1.clone());
    assert_eq!(store.get_app(&whole, &web.id).unwrap().unwrap(), web);
    assert_eq!(store.get_app_unscoped(&web.id).unwrap().unwrap(), web);
    assert_eq!(store.get_app_unscoped(&other.id).unwrap().unwrap(), other);
    assert_eq!(
        store.list_apps(&whole, None).unwrap(),
        vec![api.clone(), jobs.clone(), web.clone()]
    );
    assert_eq!(names(&store.list_apps(&whole, Some(&p1)).unwrap()), ["web"]);

    // Two tenants never see each other's applications, even by id and in
    // a project id they share.
    let theirs = RowScope::whole(t2.clone());
    assert_eq!(store.get_app(&theirs, &web.id).unwrap(), None);
    assert_eq!(store.get_app(&whole, &other.id).unwrap(), None);
    assert_eq!(names(&store.list_apps(&theirs, None).unwrap()), ["other"]);
    assert_eq!(
        names(&store.list_apps(&theirs, Some(&p1)).unwrap()),
        ["other"]
    );

    // `Own`: only what the account created.
    let anns = RowScope {
        tenant: t1.clone(),
        rows: Rows::Own(ann.clone()),
    };
    assert_eq!(
        names(&store.list_apps(&anns, None).unwrap()),
        ["jobs", "web"]
    );
    assert_eq!(store.get_app(&anns, &api.id).unwrap(), None);
    assert!(store.get_app(&anns, &web.id).unwrap().is_some());

    // `Projects`: the member's projects, and what the member created.
    let bobs = RowScope {
        tenant: t1.clone(),
        rows: Rows::Projects {
            projects: BTreeSet::from([p1.clone()]),
            own: bob.clone(),
        },
    };
    assert_eq!(
        names(&store.list_apps(&bobs, None).unwrap()),
        ["api", "web"]
    );
    assert_eq!(names(&store.list_apps(&bobs, Some(&p2)).unwrap()), ["api"]);
    assert_eq!(store.list_apps(&bobs, Some(&p3)).unwrap(), vec![]);
    assert_eq!(store.get_app(&bobs, &jobs.id).unwrap(), None);
    assert!(store.get_app(&bobs, &web.id).unwrap().is_some());
    let two_projects = RowScope {
        tenant: t1.clone(),
        rows: Rows::Projects {
            projects: BTreeSet::from([p1.clone(), p3.clone()]),
            own: account(9),
        },
    };
    assert_eq!(
        names(&store.list_apps(&two_projects, None).unwrap()),
        ["jobs", "web"]
    );
    let no_projects = RowScope {
        tenant: t1.clone(),
        rows: Rows::Projects {
            projects: BTreeSet::new(),
            own: bob.clone(),
        },
    };
    assert_eq!(
        names(&store.list_apps(&no_projects, None).unwrap()),
        ["api"]
    );
    // The store agrees with the scope's own rule on every pair.
    for scope in [&whole, &theirs, &anns, &bobs, &two_projects, &no_projects] {
        for a in [&web, &api, &jobs, &other] {
            assert_eq!(
                store.get_app(scope, &a.id).unwrap().is_some(),
                scope.sees(&a.tenant, &a.created_by, Some(&a.project)),
                "{scope:?} {}",
                a.id
            );
        }
    }

    // A taken name in the project is refused; the same name elsewhere is not.
    let err = store
        .create_app(&app("app_web2", &t1, &p1, "web", &bob))
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    store
        .create_app(&app("app_web3", &t1, &p2, "web", &bob))
        .unwrap();

    // Updates write state, release, override and time (and nothing else).
    let mut stopped = web.clone();
    stopped.state = AppLifecycle::Stopped;
    stopped.current_release = None;
    stopped.scale_override = Some(json!({"min": 1, "max": 5, "cpu": 70}));
    stopped.updated_at = at(40);
    store.update_app(&stopped).unwrap();
    assert_eq!(store.get_app_unscoped(&web.id).unwrap().unwrap(), stopped);
    let mut tampered = stopped.clone();
    tampered.name = "renamed".into();
    tampered.scale_override = None;
    store.update_app(&tampered).unwrap();
    let stored = store.get_app_unscoped(&web.id).unwrap().unwrap();
    assert_eq!(stored.name, "web");
    assert_eq!(stored.scale_override, None);

    let err = store
        .update_app(&app("app_missing", &t1, &p1, "x", &ann))
        .unwrap_err();
    assert!(is_not_found(&err), "{err:?}");

    for state in [
        AppLifecycle::Running,
        AppLifecycle::Stopped,
        AppLifecycle::Deleted,
    ] {
        assert_eq!(json!(state), json!(state.as_str()));
        assert_eq!(AppLifecycle::parse(state.as_str()), Some(state));
    }
}

pub fn deploy_deleted_apps_are_hidden_and_their_names_reusable(store: &Database) {
    let t1 = tenant(1);
    let p = project(30);
    let ann = account(1);
    let mut first = app("app_first", &t1, &p, "shop", &ann);
    store.create_app(&first).unwrap();
    store
        .create_app(&app("app_blog", &t1, &p, "blog", &ann))
        .unwrap();

    first.state = AppLifecycle::Deleted;
    first.updated_at = at(60);
    store.update_app(&first).unwrap();
    let scope = RowScope::whole(t1.clone());
    assert_eq!(names(&store.list_apps(&scope, None).unwrap()), ["blog"]);
    assert_eq!(names(&store.list_apps(&scope, Some(&p)).unwrap()), ["blog"]);
    // Read by id, a deleted application is still there.
    assert_eq!(store.get_app(&scope, &first.id).unwrap().unwrap(), first);

    // Its name may be taken again, but only once.
    let second = app("app_second", &t1, &p, "shop", &ann);
    store.create_app(&second).unwrap();
    let err = store
        .create_app(&app("app_third", &t1, &p, "shop", &ann))
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(
        store.list_apps(&scope, Some(&p)).unwrap(),
        vec![
            store
                .get_app_unscoped(&AppId::parse("app_blog").unwrap())
                .unwrap()
                .unwrap(),
            second.clone()
        ]
    );
    // Deleting the new one too leaves two deleted rows of one name.
    let mut gone = second.clone();
    gone.state = AppLifecycle::Deleted;
    store.update_app(&gone).unwrap();
    assert_eq!(names(&store.list_apps(&scope, None).unwrap()), ["blog"]);
    // Reviving the old one while the name is free works; while it is taken
    // it is refused.
    let mut revived = first.clone();
    revived.state = AppLifecycle::Stopped;
    store.update_app(&revived).unwrap();
    let mut clash = gone.clone();
    clash.state = AppLifecycle::Running;
    let err = store.update_app(&clash).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(
        names(&store.list_apps(&scope, None).unwrap()),
        ["blog", "shop"]
    );
}

pub fn deploy_releases_are_numbered_and_become_current(store: &Database) {
    let t1 = tenant(1);
    let ann = account(1);
    let shop = app("app_shop", &t1, &project(40), "shop", &ann);
    let other = app("app_other", &t1, &project(40), "other", &ann);
    store.create_app(&shop).unwrap();
    store.create_app(&other).unwrap();

    let mut made = Vec::new();
    for (n, secs) in [(1, 100), (2, 200), (3, 300)] {
        let mut new = release(&shop.id, &format!("shop:{n}"), secs);
        if n == 3 {
            new.rollback_of = Some(1);
            new.description = "rollback".into();
        }
        let record = store.add_release(&new).unwrap();
        assert_eq!(record.version, n);
        assert_eq!(record.status, ReleaseStatus::Pending);
        assert_eq!(record.reason, None);
        assert_eq!(record.spec, new.spec);
        assert_eq!(record.rollback_of, new.rollback_of);
        assert_eq!(record.description, new.description);
        assert_eq!(record.created_by, ann);
        assert_eq!((record.created_at, record.updated_at), (at(secs), at(secs)));
        assert_eq!(store.get_release(&shop.id, n).unwrap().unwrap(), record);
        let current = store.get_app_unscoped(&shop.id).unwrap().unwrap();
        assert_eq!(current.current_release, Some(n));
        assert_eq!(current.updated_at, at(secs));
        made.push(record);
    }
    // Another application counts from 1 on its own.
    assert_eq!(
        store
            .add_release(&release(&other.id, "other:1", 400))
            .unwrap()
            .version,
        1
    );

    made.reverse();
    assert_eq!(store.list_releases(&shop.id).unwrap(), made);
    assert_eq!(store.get_release(&shop.id, 4).unwrap(), None);

    let failed = store
        .set_release_status(
            &shop.id,
            2,
            ReleaseStatus::Failed,
            Some("progress deadline exceeded"),
            at(500),
        )
        .unwrap();
    assert_eq!(failed.status, ReleaseStatus::Failed);
    assert_eq!(failed.reason.as_deref(), Some("progress deadline exceeded"));
    assert_eq!(failed.updated_at, at(500));
    assert_eq!(failed.created_at, at(200));
    assert_eq!(failed.spec, made[1].spec);
    assert_eq!(store.get_release(&shop.id, 2).unwrap().unwrap(), failed);
    let superseded = store
        .set_release_status(&shop.id, 2, ReleaseStatus::Superseded, None, at(600))
        .unwrap();
    assert_eq!(superseded.reason, None);
    assert_eq!(superseded.status, ReleaseStatus::Superseded);

    let err = store
        .set_release_status(&shop.id, 9, ReleaseStatus::Succeeded, None, at(700))
        .unwrap_err();
    assert!(is_not_found(&err), "{err:?}");
    let missing = AppId::parse("app_missing").unwrap();
    let err = store
        .add_release(&release(&missing, "x:1", 800))
        .unwrap_err();
    assert!(is_not_found(&err), "{err:?}");
    assert_eq!(store.list_releases(&missing).unwrap(), vec![]);
}

pub fn deploy_concurrent_releases_take_each_version_once(store: &Database) {
    let shop = app("app_busy", &tenant(1), &project(50), "busy", &account(1));
    store.create_app(&shop).unwrap();
    let n = 16;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            let id = shop.id.clone();
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .add_release(&release(&id, &format!("busy:{i}"), 100 + i as i64))
                    .unwrap()
                    .version
            })
        })
        .collect();
    let mut versions: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=16).collect::<Vec<u32>>());
    let stored: Vec<u32> = store
        .list_releases(&shop.id)
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(stored, (1..=16).rev().collect::<Vec<u32>>());
    // The last committed release is current.
    assert_eq!(
        store
            .get_app_unscoped(&shop.id)
            .unwrap()
            .unwrap()
            .current_release,
        Some(16)
    );
}

pub fn deploy_builds_round_trip(store: &Database) {
    let ann = account(1);
    let shop = app("app_shop", &tenant(1), &project(60), "shop", &ann);
    let blog = app("app_blog", &tenant(1), &project(60), "blog", &ann);
    store.create_app(&shop).unwrap();
    store.create_app(&blog).unwrap();
    let build = BuildRecord {
        id: BuildId::parse("bld_one").unwrap(),
        app: shop.id.clone(),
        source: json!({"repo": "https://git.example/shop.git", "revision": "main"}),
        image: "registry.example/shop:abc123".into(),
        status: BuildStatus::Running,
        created_by: ann.clone(),
        created_at: at(10),
        updated_at: at(10),
    };
    store.create_build(&build).unwrap();
    assert_eq!(
        store.get_build(&shop.id, &build.id).unwrap().unwrap(),
        build
    );
    // Another application's build reads as missing.
    assert_eq!(store.get_build(&blog.id, &build.id).unwrap(), None);
    let err = store.create_build(&build).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");

    let done = store
        .set_build_status(&build.id, BuildStatus::Succeeded, at(20))
        .unwrap();
    assert_eq!(done.status, BuildStatus::Succeeded);
    assert_eq!(done.updated_at, at(20));
    assert_eq!(done.created_at, at(10));
    assert_eq!(done.source, build.source);
    assert_eq!(store.get_build(&shop.id, &build.id).unwrap().unwrap(), done);

    let missing = BuildId::parse("bld_missing").unwrap();
    let err = store
        .set_build_status(&missing, BuildStatus::Failed, at(30))
        .unwrap_err();
    assert!(is_not_found(&err), "{err:?}");
    let mut orphan = build.clone();
    orphan.id = BuildId::parse("bld_orphan").unwrap();
    orphan.app = AppId::parse("app_missing").unwrap();
    let err = store.create_build(&orphan).unwrap_err();
    assert!(is_not_found(&err), "{err:?}");

    for status in [
        BuildStatus::Running,
        BuildStatus::Succeeded,
        BuildStatus::Failed,
    ] {
        assert_eq!(json!(status), json!(status.as_str()));
        assert_eq!(BuildStatus::parse(status.as_str()), Some(status));
    }
}

pub fn deploy_meter_marks_never_move_back(store: &Database) {
    let shop = app("app_shop", &tenant(1), &project(70), "shop", &account(1));
    let blog = app("app_blog", &tenant(1), &project(70), "blog", &account(1));
    store.create_app(&shop).unwrap();
    store.create_app(&blog).unwrap();
    assert_eq!(store.meter_mark(&shop.id).unwrap(), None);
    store.set_meter_mark(&shop.id, at(120)).unwrap();
    assert_eq!(store.meter_mark(&shop.id).unwrap(), Some(at(120)));
    store.set_meter_mark(&shop.id, at(60)).unwrap();
    assert_eq!(store.meter_mark(&shop.id).unwrap(), Some(at(120)));
    store.set_meter_mark(&shop.id, at(120)).unwrap();
    assert_eq!(store.meter_mark(&shop.id).unwrap(), Some(at(120)));
    store.set_meter_mark(&shop.id, at(180)).unwrap();
    assert_eq!(store.meter_mark(&shop.id).unwrap(), Some(at(180)));
    // Marks are per application.
    assert_eq!(store.meter_mark(&blog.id).unwrap(), None);
    store.set_meter_mark(&blog.id, at(60)).unwrap();
    assert_eq!(store.meter_mark(&blog.id).unwrap(), Some(at(60)));
    assert_eq!(store.meter_mark(&shop.id).unwrap(), Some(at(180)));

    let err = store
        .set_meter_mark(&AppId::parse("app_missing").unwrap(), at(60))
        .unwrap_err();
    assert!(is_not_found(&err), "{err:?}");
}

pub fn deploy_only_running_apps_are_metered(store: &Database) {
    let ann = account(1);
    let a = app("app_a", &tenant(1), &project(80), "a", &ann);
    let mut b = app("app_b", &tenant(2), &project(81), "b", &ann);
    let mut c = app("app_c", &tenant(1), &project(80), "c", &ann);
    let mut d = app("app_d", &tenant(3), &project(82), "d", &ann);
    for x in [&a, &b, &c, &d] {
        store.create_app(x).unwrap();
    }
    c.state = AppLifecycle::Stopped;
    d.state = AppLifecycle::Deleted;
    store.update_app(&c).unwrap();
    store.update_app(&d).unwrap();
    assert_eq!(
        store.list_running_apps().unwrap(),
        vec![a.clone(), b.clone()]
    );
    b.state = AppLifecycle::Stopped;
    store.update_app(&b).unwrap();
    assert_eq!(store.list_running_apps().unwrap(), vec![a]);
}

/// A stored spec or state the store cannot read back is an internal error,
/// not a panic or a made-up value.
pub fn unreadable_deploy_rows_are_internal_errors(db: &TestDatabase) {
    let store: &Database = db;
    let shop = app("app_shop", &tenant(1), &project(90), "shop", &account(1));
    store.create_app(&shop).unwrap();
    store
        .add_release(&release(&shop.id, "shop:1", 100))
        .unwrap();
    execute_behind_the_store(
        db,
        "UPDATE deploy_releases SET spec = '{not json' WHERE app = 'app_shop'",
    );
    let err = store.get_release(&shop.id, 1).unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    execute_behind_the_store(
        db,
        "UPDATE deploy_apps SET state = 'paused' WHERE id = 'app_shop'",
    );
    let err = store.get_app_unscoped(&shop.id).unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
}
