//! `ApiKeyStore`: keys, their data scopes, revocation and use.

use std::collections::BTreeSet;

use shiyun_core::store::StoreError;
use shiyun_core::tenancy::{AccountId, ApiKey, ApiKeyId, BuiltInTemplate, EnterpriseId, ProjectId};

use crate::people::{developer, enterprise, in_projects, own, person, project, random, whole};
use crate::support::{Store, at};

fn key(
    enterprise: &EnterpriseId,
    by: &AccountId,
    project: Option<&ProjectId>,
    created: i64,
) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_random(random()),
        enterprise: enterprise.clone(),
        template: BuiltInTemplate::Developer.id(),
        project: project.cloned(),
        name: format!("key {created}"),
        created_by: by.clone(),
        created_at: at(created),
        expires_at: Some(at(86_400)),
        revoked_at: None,
        last_used_at: None,
    }
}

pub fn key_scopes_filter_rows<S: Store>(store: &S) {
    let admin = person(store, "admin");
    let ent = enterprise(store, "Keys", &admin);
    let dev = developer(store, &ent, &admin.id, "dev");
    let mine = project(store, &ent, &dev.id, "mine");
    let theirs = project(store, &ent, &admin.id, "theirs");
    // The admin's key in the developer's project, the developer's own key
    // without a project, and the admin's key in another project.
    let in_mine = key(&ent, &admin.id, Some(&mine), 10);
    let dev_key = key(&ent, &dev.id, None, 11);
    let in_theirs = key(&ent, &admin.id, Some(&theirs), 12);
    let admin_loose = key(&ent, &admin.id, None, 13);
    for k in [&in_mine, &dev_key, &in_theirs, &admin_loose] {
        store
            .create_api_key(k, &format!("secret-of-{}", k.id))
            .unwrap();
    }
    let ids = |scope: &shiyun_core::tenancy::RowScope| -> Vec<ApiKeyId> {
        store
            .list_api_keys(scope)
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect()
    };
    assert_eq!(
        ids(&whole(&ent)),
        vec![
            in_mine.id.clone(),
            dev_key.id.clone(),
            in_theirs.id.clone(),
            admin_loose.id.clone()
        ],
        "oldest first"
    );
    let dev_projects = in_projects(&ent, &dev.id, &[&mine]);
    assert_eq!(
        ids(&dev_projects),
        vec![in_mine.id.clone(), dev_key.id.clone()]
    );
    let dev_own = own(&ent, &dev.id);
    assert_eq!(ids(&dev_own), vec![dev_key.id.clone()]);

    // Revoking goes through the same scope.
    assert!(matches!(
        store.revoke_api_key(&dev_own, &in_mine.id, at(20)),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.revoke_api_key(&dev_projects, &in_theirs.id, at(20)),
        Err(StoreError::NotFound { .. })
    ));
    let revoked = store
        .revoke_api_key(&dev_projects, &in_mine.id, at(21))
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(21)));
    let again = store
        .revoke_api_key(&whole(&ent), &in_mine.id, at(22))
        .unwrap();
    assert_eq!(again.revoked_at, Some(at(21)), "the first time stays");
    assert!(matches!(
        store.revoke_api_key(&whole(&ent), &ApiKeyId::from_random(random()), at(22)),
        Err(StoreError::NotFound { .. })
    ));
    let listed: BTreeSet<_> = store
        .list_api_keys(&whole(&ent))
        .unwrap()
        .into_iter()
        .filter(|k| k.revoked_at.is_some())
        .map(|k| k.id)
        .collect();
    assert_eq!(listed, BTreeSet::from([in_mine.id.clone()]));
}

pub fn key_credentials_and_use<S: Store>(store: &S) {
    let admin = person(store, "admin");
    let ent = enterprise(store, "Use", &admin);
    let k = key(&ent, &admin.id, None, 10);
    store.create_api_key(&k, "sha256-secret").unwrap();
    let (stored, hash) = store.api_key_credentials(&k.id).unwrap().unwrap();
    assert_eq!(stored, k);
    assert_eq!(hash, "sha256-secret");
    assert!(
        store
            .api_key_credentials(&ApiKeyId::from_random(random()))
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.create_api_key(&k, "again"),
        Err(StoreError::AlreadyExists { .. })
    ));
    let last_used = |s: &S| {
        s.api_key_credentials(&k.id)
            .unwrap()
            .unwrap()
            .0
            .last_used_at
    };
    store.touch_api_key(&k.id, at(100)).unwrap();
    assert_eq!(last_used(store), Some(at(100)));
    // Within a minute nothing is written; after it, the new time is.
    store.touch_api_key(&k.id, at(130)).unwrap();
    assert_eq!(last_used(store), Some(at(100)));
    store.touch_api_key(&k.id, at(160)).unwrap();
    assert_eq!(last_used(store), Some(at(100)));
    store.touch_api_key(&k.id, at(161)).unwrap();
    assert_eq!(last_used(store), Some(at(161)));
    store
        .touch_api_key(&ApiKeyId::from_random(random()), at(1))
        .unwrap();
}
