//! Data scopes inside one enterprise ("own" members see their own rows,
//! "projects" members their projects'), and the administrator rules under
//! concurrency: two transfers at once leave exactly one administrator, and
//! the last administrator cannot leave.

use serde_json::{Value, json};

use crate::helpers::{TestApp, on_both_backends};

fn ids(list: &Value, field: &str) -> Vec<String> {
    let mut ids: Vec<String> = list[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

on_both_backends! {
    async fn own_and_project_scopes_limit_what_members_see(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("scope-boss@example.com").await;
        let enterprise = app.found_enterprise(&mut boss, "Scopes Co").await;
        let token = Some(boss.access.as_str());
        let app_ref = &app;
        let template = |name: &str, scope: &str| {
            let body = json!({
                "name": name,
                "permissions": ["projects:read", "projects:manage", "keys:manage"],
                "data_scope": scope,
            });
            async move { app_ref.expect(201, "POST", "/v1/templates", token, Some(body)).await["id"].as_str().unwrap().to_owned() }
        };
        let own = template("own-dev", "own").await;
        let projects = template("project-dev", "projects").await;
        let mut solo = app.sign_up("solo@example.com").await;
        app.join(&mut solo, &boss, &enterprise, &own).await;
        let mut teamer = app.sign_up("teamer@example.com").await;
        app.join(&mut teamer, &boss, &enterprise, &projects).await;

        // A key's template may grant no more than its creator holds: solo
        // gives its keys its own template.
        let app_ref = &app;
        let create = |who: &str, name: &str, template: &str| {
            let token = who.to_owned();
            let project_body = json!({"name": name});
            let key_body = json!({"name": name, "template": template});
            async move {
                let p = app_ref.expect(201, "POST", "/v1/projects", Some(&token), Some(project_body)).await;
                let k = app_ref.expect(201, "POST", "/v1/api-keys", Some(&token), Some(key_body)).await;
                (p["id"].as_str().unwrap().to_owned(), k["key"]["id"].as_str().unwrap().to_owned())
            }
        };
        let (boss_project, boss_key) = create(&boss.access, "boss-project", "tpl_viewer").await;
        let (other_project, _) = create(&boss.access, "other-project", "tpl_viewer").await;
        let (solo_project, solo_key) = create(&solo.access, "solo-project", &own).await;
        // A key of the boss's project, which the project member will see.
        let project_key = app
            .expect(201, "POST", "/v1/api-keys", token,
                Some(json!({"name": "project key", "template": "tpl_viewer", "project": boss_project})))
            .await["key"]["id"].as_str().unwrap().to_owned();
        app.expect(200, "PUT", &format!("/v1/projects/{boss_project}/members/{}", teamer.account), token, None).await;

        // "own": only what solo created.
        let seen = app.expect(200, "GET", "/v1/projects", Some(&solo.access), None).await;
        assert_eq!(ids(&seen, "projects"), vec![solo_project.clone()]);
        let seen = app.expect(200, "GET", "/v1/api-keys", Some(&solo.access), None).await;
        assert_eq!(ids(&seen, "keys"), vec![solo_key.clone()]);
        let (status, _) = app.call("GET", &format!("/v1/projects/{boss_project}"), Some(&solo.access), None).await;
        assert_eq!(status, 404);
        let (status, _) = app.call("DELETE", &format!("/v1/api-keys/{boss_key}"), Some(&solo.access), None).await;
        assert_eq!(status, 404, "a key out of scope cannot be revoked");

        // "projects": the projects teamer belongs to, and their keys.
        let seen = app.expect(200, "GET", "/v1/projects", Some(&teamer.access), None).await;
        assert_eq!(ids(&seen, "projects"), vec![boss_project.clone()]);
        let seen = app.expect(200, "GET", "/v1/api-keys", Some(&teamer.access), None).await;
        assert_eq!(ids(&seen, "keys"), vec![project_key.clone()]);
        let (status, _) = app.call("GET", &format!("/v1/projects/{other_project}"), Some(&teamer.access), None).await;
        assert_eq!(status, 404);
        app.expect(200, "GET", &format!("/v1/projects/{boss_project}"), Some(&teamer.access), None).await;
        // Taken off the project, teamer no longer sees it.
        app.expect(200, "DELETE", &format!("/v1/projects/{boss_project}/members/{}", teamer.account), token, None).await;
        let seen = app.expect(200, "GET", "/v1/projects", Some(&teamer.access), None).await;
        assert!(ids(&seen, "projects").is_empty(), "{seen}");

        // "all": the administrator sees everything.
        let seen = app.expect(200, "GET", "/v1/projects", token, None).await;
        assert_eq!(ids(&seen, "projects"), sorted(vec![boss_project, other_project, solo_project]));
        let seen = app.expect(200, "GET", "/v1/api-keys", token, None).await;
        assert_eq!(ids(&seen, "keys").len(), 4);
    }

    async fn concurrent_transfers_leave_exactly_one_administrator(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("first-boss@example.com").await;
        let enterprise = app.found_enterprise(&mut boss, "Transfer Co").await;
        let mut heir = app.sign_up("heir@example.com").await;
        app.join(&mut heir, &boss, &enterprise, "tpl_admin").await;
        let mut rival = app.sign_up("rival@example.com").await;
        app.join(&mut rival, &boss, &enterprise, "tpl_admin").await;

        // The administrator hands the role to two people at once, from two
        // sessions, while an `admin`-template member tries to take it.
        let mut second = app.log_in("first-boss@example.com", crate::helpers::PASSWORD).await;
        app.switch(&mut second, json!({"kind": "enterprise", "enterprise": enterprise})).await;
        let to_heir = json!({"to": heir.account});
        let to_rival = json!({"to": rival.account});
        let rival_to_heir = json!({"to": heir.account});
        let (a, b, c) = tokio::join!(
            app.call("POST", "/v1/members/transfer-admin", Some(&boss.access), Some(&to_heir)),
            app.call("POST", "/v1/members/transfer-admin", Some(&second.access), Some(&to_rival)),
            app.call("POST", "/v1/members/transfer-admin", Some(&rival.access), Some(&rival_to_heir)),
        );
        // Of the administrator's two transfers exactly one holds; the rival's
        // holds only if it ran after the role reached it.
        assert_eq!([a.0, b.0].iter().filter(|s| **s == 204).count(), 1, "{a:?} {b:?}");
        assert!([a.0, b.0, c.0].iter().all(|s| [204, 403, 409].contains(s)), "{a:?} {b:?} {c:?}");

        let members = app.expect(200, "GET", "/v1/members", Some(&heir.access), None).await;
        let admins: Vec<&Value> = members["members"].as_array().unwrap().iter().filter(|m| m["is_admin"] == true).collect();
        assert_eq!(admins.len(), 1, "{members}");
        assert_eq!(admins[0]["template"], "tpl_owner");
        let old = members["members"].as_array().unwrap().iter().find(|m| m["account"] == boss.account.as_str()).unwrap();
        assert_eq!(old["is_admin"], false);
        assert_eq!(old["template"], "tpl_admin", "the old administrator keeps the admin template");

        // Now the old administrator may leave; the new one may not.
        let new_admin = if admins[0]["account"] == heir.account.as_str() { &heir } else { &rival };
        let (status, _) = app.call("POST", &format!("/v1/enterprises/{enterprise}/leave"), Some(&new_admin.access), None).await;
        assert_eq!(status, 409, "the administrator cannot leave");
        let (status, _) = app.call("DELETE", &format!("/v1/members/{}", new_admin.account), Some(&boss.access), None).await;
        assert_eq!(status, 409, "nor be removed");
        app.expect(204, "POST", &format!("/v1/enterprises/{enterprise}/leave"), Some(&boss.access), None).await;
    }

    async fn the_last_administrator_cannot_leave(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut alone = app.sign_up("alone@example.com").await;
        let enterprise = app.found_enterprise(&mut alone, "Alone Co").await;
        let (status, answer) = app.call("POST", &format!("/v1/enterprises/{enterprise}/leave"), Some(&alone.access), None).await;
        assert_eq!((status, &answer["error"]["code"]), (409, &json!("conflict")), "{answer}");
        let (status, _) = app.call("DELETE", &format!("/v1/members/{}", alone.account), Some(&alone.access), None).await;
        assert_eq!(status, 409);
        let members = app.expect(200, "GET", "/v1/members", Some(&alone.access), None).await;
        assert_eq!(members["members"].as_array().unwrap().len(), 1);
    }
}
