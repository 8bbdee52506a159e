//! What a person does, end to end: register and confirm from the outbox,
//! found an enterprise, switch identity, give templates and keys; apply and
//! be approved; be invited; recover a password; refresh and log out.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, on_both_backends, value_of};
use crate::isolation::partner_offer;

fn identity_of(tokens: &Value) -> &Value {
    &tokens["identity"]
}

on_both_backends! {
    async fn a_newcomer_registers_founds_an_enterprise_and_switches_identity(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let login = "li.lei@example.com";
        let accepted = app
            .expect(202, "POST", "/v1/auth/register", None,
                Some(json!({"login": login, "password": PASSWORD, "display_name": "李雷"})))
            .await;
        assert_eq!(accepted, json!({"status": "accepted"}));
        let code = app.mailed(login, "code").await;
        assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");

        // A taken login answers the same; its owner gets a notice, not a code.
        let again = app
            .expect(202, "POST", "/v1/auth/register", None,
                Some(json!({"login": login, "password": "Some-Other-Pass-99"})))
            .await;
        assert_eq!(again, accepted);

        let mut li = app.log_in(login, PASSWORD).await;
        let me = app.expect(200, "GET", "/v1/me", Some(&li.access), None).await;
        assert_eq!(me["identity"], json!({"kind": "personal"}));
        assert!(me["account"]["email_verified_at"].is_null(), "{me}");
        let (status, wrong) = app
            .call("POST", "/v1/me/bindings/confirm", Some(&li.access),
                Some(&json!({"channel": "email", "code": if code == "000000" { "111111" } else { "000000" }})))
            .await;
        assert!((400..500).contains(&status), "a wrong code: {status} {wrong}");
        let account = app
            .expect(200, "POST", "/v1/me/bindings/confirm", Some(&li.access),
                Some(json!({"channel": "email", "code": code})))
            .await;
        assert_eq!(account["email"], login);
        assert!(account["email_verified_at"].is_string());

        // A personal identity runs no staff.
        let (status, _) = app.call("GET", "/v1/members", Some(&li.access), None).await;
        assert_eq!(status, 403);

        let personal_token = li.access.clone();
        let enterprise = app.found_enterprise(&mut li, "雷氏云").await;
        let me = app.expect(200, "GET", "/v1/me", Some(&li.access), None).await;
        assert_eq!(me["identity"], json!({"kind": "enterprise", "enterprise": enterprise}));
        assert_eq!(me["data_scope"], "all");
        assert!(me["permissions"].as_array().unwrap().contains(&json!("members:manage")));
        // Tokens of the identity the session left stop working.
        let (status, _) = app.call("GET", "/v1/me", Some(&personal_token), None).await;
        assert_eq!(status, 401, "a token of the old identity");

        let members = app.expect(200, "GET", "/v1/members", Some(&li.access), None).await;
        assert_eq!(members["members"].as_array().unwrap().len(), 1);
        assert_eq!(members["members"][0]["is_admin"], true);
        assert_eq!(members["members"][0]["template"], "tpl_owner");

        // A template that may read and write the catalog, and a key with it.
        let template = app
            .expect(201, "POST", "/v1/templates", Some(&li.access),
                Some(json!({"name": "publisher", "permissions": ["catalog:read", "catalog:write"], "data_scope": "own"})))
            .await;
        let created = app
            .expect(201, "POST", "/v1/api-keys", Some(&li.access),
                Some(json!({"name": "partner sync", "template": template["id"]})))
            .await;
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with(&format!("sy_{}_", created["key"]["id"].as_str().unwrap())), "{secret}");
        let listed = app.expect(200, "GET", "/v1/api-keys", Some(&li.access), None).await;
        assert!(!listed.to_string().contains(&secret), "a key's secret is shown once");

        let key_me = app.expect(200, "GET", "/v1/me", Some(&secret), None).await;
        assert_eq!(key_me["identity"], json!({"kind": "enterprise", "enterprise": enterprise}));
        app.expect(200, "GET", "/v1/changes", Some(&secret), None).await;
        let (status, _) = app.call("GET", "/v1/members", Some(&secret), None).await;
        assert_eq!(status, 403, "the key's template has no members:read");
        let (status, _) = app
            .call("POST", "/v1/enterprises", Some(&secret), Some(&json!({"name": "by key"})))
            .await;
        assert_eq!(status, 403, "a key is not a person's session");

        // The key publishes the enterprise's own offers; the server names them.
        app.expect(200, "PUT", "/v1/partner/vendor", Some(&li.access),
            Some(json!({"slug": "leishi", "name_zh": "雷氏云", "name_en": "Leishi Cloud"})))
            .await;
        let report = app
            .expect(200, "POST", "/v1/partner/listings", Some(&secret),
                Some(json!({"listings": [partner_offer("c2.large"), partner_offer("c2.xlarge")]})))
            .await;
        assert_eq!(report["new"], 2, "{report}");
        let (_, page) = app.get("/v1/listings?vendor=p-leishi").await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{page}");
        for item in items {
            assert_eq!(item["vendor"], "p-leishi");
            assert_eq!(item["provenance"]["vendor_api"], "partner.listings");
            assert_eq!(item["region"]["name"]["zh"], "上海");
        }
        // Buying customers see it without logging in.
        let id = items[0]["id"].as_str().unwrap().to_owned();
        app.expect(200, "GET", &format!("/v1/listings/{id}"), None, None).await;

        // Another member's key without catalog:write, or a personal identity, may not publish.
        let viewer_key = app
            .expect(201, "POST", "/v1/api-keys", Some(&li.access),
                Some(json!({"name": "reader", "template": "tpl_viewer"})))
            .await["secret"].as_str().unwrap().to_owned();
        let (status, _) = app
            .call("POST", "/v1/partner/listings", Some(&viewer_key),
                Some(&json!({"listings": [partner_offer("x")]})))
            .await;
        assert_eq!(status, 403);
        let (status, _) = app
            .call("POST", "/v1/listings/batch", Some(&secret), Some(&json!({"listings": []})))
            .await;
        assert_eq!(status, 403, "the built-in vendors' catalog is for operators");

        app.expect(204, "DELETE", &format!("/v1/partner/listings/{id}"), Some(&secret), None).await;
        let detail = app.expect(200, "GET", &format!("/v1/listings/{id}"), None, None).await;
        assert_eq!(detail["listing"]["status"], "retired");
        let own = app.expect(200, "GET", "/v1/partner/listings?status=any", Some(&secret), None).await;
        assert_eq!(own["items"].as_array().unwrap().len(), 2);

        // Back to the personal identity.
        app.switch(&mut li, json!({"kind": "personal"})).await;
        let (status, _) = app.call("GET", "/v1/members", Some(&li.access), None).await;
        assert_eq!(status, 403);
        let me = app.expect(200, "GET", "/v1/me", Some(&li.access), None).await;
        assert_eq!(me["enterprises"].as_array().unwrap().len(), 1);
        // The directory finds the enterprise by part of its name.
        let found = app.expect(200, "GET", "/v1/enterprises?q=%E9%9B%B7%E6%B0%8F", Some(&li.access), None).await;
        assert_eq!(found["enterprises"][0]["id"], enterprise.as_str());
    }

    async fn applications_are_approved_or_rejected(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("boss@example.com").await;
        let enterprise = app.found_enterprise(&mut boss, "Apply Co").await;
        let mut han = app.sign_up("han@example.com").await;
        let wei = app.sign_up("wei@example.com").await;

        let apply = format!("/v1/enterprises/{enterprise}/applications");
        let han_application = app
            .expect(201, "POST", &apply, Some(&han.access), Some(json!({"message": "我想加入"})))
            .await;
        assert_eq!(han_application["status"], "pending");
        let (status, _) = app
            .call("POST", &apply, Some(&han.access), Some(&json!({"message": "again"})))
            .await;
        assert_eq!(status, 409, "one pending application at a time");
        let wei_application = app
            .expect(201, "POST", &apply, Some(&wei.access), Some(json!({"message": ""})))
            .await;

        let mine = app.expect(200, "GET", "/v1/me/applications", Some(&han.access), None).await;
        assert_eq!(mine["applications"].as_array().unwrap().len(), 1);
        let pending = app.expect(200, "GET", "/v1/applications?status=pending", Some(&boss.access), None).await;
        assert_eq!(pending["applications"].as_array().unwrap().len(), 2);

        let han_id = han_application["id"].as_str().unwrap();
        let approved = app
            .expect(200, "POST", &format!("/v1/applications/{han_id}/approve"), Some(&boss.access), Some(json!({"template": "tpl_developer"})))
            .await;
        assert_eq!(approved["status"], "approved");
        let (status, _) = app
            .call("POST", &format!("/v1/applications/{han_id}/reject"), Some(&boss.access), None)
            .await;
        assert_eq!(status, 409, "decided once");
        let wei_id = wei_application["id"].as_str().unwrap();
        // No body at all approves with the default template; here: reject.
        let rejected = app
            .expect(200, "POST", &format!("/v1/applications/{wei_id}/reject"), Some(&boss.access), None)
            .await;
        assert_eq!(rejected["status"], "rejected");

        app.switch(&mut han, json!({"kind": "enterprise", "enterprise": enterprise})).await;
        let me = app.expect(200, "GET", "/v1/me", Some(&han.access), None).await;
        assert_eq!(me["data_scope"], "projects");
        let (status, _) = app
            .call("POST", "/v1/me/identity", Some(&wei.access),
                Some(&json!({"identity": {"kind": "enterprise", "enterprise": enterprise}})))
            .await;
        assert!(status == 403 || status == 404, "a rejected applicant is no member: {status}");

        let members = app.expect(200, "GET", "/v1/members", Some(&boss.access), None).await;
        assert_eq!(members["members"].as_array().unwrap().len(), 2);
        // A member leaves; the administrator cannot.
        app.expect(204, "POST", &format!("/v1/enterprises/{enterprise}/leave"), Some(&han.access), None).await;
        let (status, _) = app
            .call("POST", &format!("/v1/enterprises/{enterprise}/leave"), Some(&boss.access), None)
            .await;
        assert_eq!(status, 409, "the last administrator cannot leave");

        // An application with no body approves with the viewer template.
        let again = app
            .expect(201, "POST", &apply, Some(&wei.access), Some(json!({"message": "second try"})))
            .await;
        let again_id = again["id"].as_str().unwrap();
        app.expect(200, "POST", &format!("/v1/applications/{again_id}/approve"), Some(&boss.access), None).await;
        let members = app.expect(200, "GET", "/v1/members", Some(&boss.access), None).await;
        let wei_member = members["members"].as_array().unwrap().iter()
            .find(|m| m["account"] == wei.account.as_str()).cloned().unwrap();
        assert_eq!(wei_member["template"], "tpl_viewer");
    }

    async fn invitations_are_accepted_by_the_invited_address_only(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("inviter@example.com").await;
        let enterprise = app.found_enterprise(&mut boss, "Invite Co").await;
        let invited = app.sign_up("invitee@example.com").await;
        let stranger = app.sign_up("stranger@example.com").await;

        let invitation = app
            .expect(201, "POST", "/v1/invitations", Some(&boss.access),
                Some(json!({"email": "invitee@example.com", "template": "tpl_finance"})))
            .await;
        assert_eq!(invitation["status"], "pending");
        let token = app.mailed("invitee@example.com", "token").await;
        assert!(token.starts_with("syi_"), "{token}");
        let listed = app.expect(200, "GET", "/v1/invitations", Some(&boss.access), None).await;
        assert!(!listed.to_string().contains(&token), "only the hash is kept");

        let (status, _) = app
            .call("POST", "/v1/invitations/accept", Some(&stranger.access), Some(&json!({"token": token})))
            .await;
        assert_eq!(status, 404, "another address cannot use the token");
        let member = app
            .expect(200, "POST", "/v1/invitations/accept", Some(&invited.access), Some(json!({"token": token})))
            .await;
        assert_eq!(member["enterprise"], enterprise.as_str());
        assert_eq!(member["template"], "tpl_finance");
        let (status, _) = app
            .call("POST", "/v1/invitations/accept", Some(&invited.access), Some(&json!({"token": token})))
            .await;
        assert_eq!(status, 404, "an invitation is used once");

        // A withdrawn invitation cannot be accepted.
        let withdrawn = app
            .expect(201, "POST", "/v1/invitations", Some(&boss.access),
                Some(json!({"email": "stranger@example.com", "template": "tpl_viewer"})))
            .await;
        let token = app.mailed("stranger@example.com", "token").await;
        let id = withdrawn["id"].as_str().unwrap();
        app.expect(204, "DELETE", &format!("/v1/invitations/{id}"), Some(&boss.access), None).await;
        let (status, _) = app
            .call("POST", "/v1/invitations/accept", Some(&stranger.access), Some(&json!({"token": token})))
            .await;
        assert_eq!(status, 404);
    }

    async fn an_expired_invitation_is_refused(backend: Backend) {
        let app = TestApp::spawn_with(backend, |_| {}, |c| {
            c.invitation_ttl = chrono::Duration::seconds(1);
        })
        .await;
        let mut boss = app.sign_up("brief@example.com").await;
        app.found_enterprise(&mut boss, "Brief Co").await;
        let late = app.sign_up("late@example.com").await;
        app.expect(201, "POST", "/v1/invitations", Some(&boss.access),
            Some(json!({"email": "late@example.com", "template": "tpl_viewer"})))
            .await;
        let token = app.mailed("late@example.com", "token").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (status, answer) = app
            .call("POST", "/v1/invitations/accept", Some(&late.access), Some(&json!({"token": token})))
            .await;
        assert_eq!(status, 404, "{answer}");
    }

    async fn a_forgotten_password_is_reset_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let login = "forgetful@example.com";
        let person = app.sign_up(login).await;

        let unknown = app
            .expect(202, "POST", "/v1/auth/password-reset", None, Some(json!({"login": "nobody@example.com"})))
            .await;
        let known = app
            .expect(202, "POST", "/v1/auth/password-reset", None, Some(json!({"login": login})))
            .await;
        assert_eq!(unknown, known, "the answer never tells whether an account exists");
        let token = app.mailed(login, "token").await;
        assert!(token.starts_with("syp_"), "{token}");

        let new_password = "Brand-New-Secret-2027";
        app.expect(204, "POST", "/v1/auth/password-reset/confirm", None,
            Some(json!({"token": token, "new_password": new_password})))
            .await;
        let (status, answer) = app
            .call("POST", "/v1/auth/password-reset/confirm", None,
                Some(&json!({"token": token, "new_password": "Yet-Another-Secret-2028"})))
            .await;
        assert_eq!(status, 401, "a reset token works once: {answer}");

        // Every session ended; the old password no longer works, the new one does.
        let (status, _) = app.call("GET", "/v1/me", Some(&person.access), None).await;
        assert_eq!(status, 401);
        let (status, _) = app
            .call("POST", "/v1/auth/login", None, Some(&json!({"login": login, "password": PASSWORD})))
            .await;
        assert_eq!(status, 401);
        let person = app.log_in(login, new_password).await;

        // Changing the password needs the current one.
        let (status, _) = app
            .call("POST", "/v1/me/password", Some(&person.access),
                Some(&json!({"current_password": "wrong-Password-1", "new_password": "Third-Secret-Here-9"})))
            .await;
        assert!(status == 401 || status == 403, "{status}");
        app.expect(204, "POST", "/v1/me/password", Some(&person.access),
            Some(json!({"current_password": new_password, "new_password": "Third-Secret-Here-9"})))
            .await;
        app.log_in(login, "Third-Secret-Here-9").await;
    }

    async fn refresh_tokens_rotate_and_a_replay_ends_the_session(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let person = app.sign_up("rotating@example.com").await;
        let app_ref = &app;
        let refresh = |token: &str| {
            let body = json!({"refresh_token": token});
            async move { app_ref.call("POST", "/v1/auth/refresh", None, Some(&body)).await }
        };
        let (status, second) = refresh(&person.refresh).await;
        assert_eq!(status, 200, "{second}");
        assert_eq!(identity_of(&second), &json!({"kind": "personal"}));
        let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(second_refresh, person.refresh);
        app.expect(200, "GET", "/v1/me", second["access_token"].as_str(), None).await;

        // The first token again: refused, and the whole session ends.
        let (status, _) = refresh(&person.refresh).await;
        assert_eq!(status, 401);
        let (status, _) = refresh(&second_refresh).await;
        assert_eq!(status, 401, "the replay revoked the family");
        let (status, _) = app.call("GET", "/v1/me", second["access_token"].as_str(), None).await;
        assert_eq!(status, 401, "its access tokens end with it");

        // Another session of the same person lives on.
        let other = app.log_in("rotating@example.com", PASSWORD).await;
        app.expect(200, "GET", "/v1/me", Some(&other.access), None).await;
    }

    async fn logging_out_ends_the_session(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let person = app.sign_up("leaving@example.com").await;
        let other = app.log_in("leaving@example.com", PASSWORD).await;
        app.expect(204, "POST", "/v1/auth/logout", Some(&person.access), None).await;
        let (status, _) = app.call("GET", "/v1/me", Some(&person.access), None).await;
        assert_eq!(status, 401);
        let (status, _) = app
            .call("POST", "/v1/auth/refresh", None, Some(&json!({"refresh_token": person.refresh})))
            .await;
        assert_eq!(status, 401);
        app.expect(200, "GET", "/v1/me", Some(&other.access), None).await;
    }
}

on_both_backends! {
    async fn partner_ids_and_chosen_provenance_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("partner-boss@example.com").await;
        app.found_enterprise(&mut boss, "Partner Co").await;
        let token = Some(boss.access.as_str());
        let (status, answer) = app
            .call("POST", "/v1/partner/listings", token, Some(&json!({"listings": [partner_offer("a")]})))
            .await;
        assert_eq!((status, &answer["error"]["code"]), (409, &json!("conflict")), "no vendor yet: {answer}");
        app.expect(404, "GET", "/v1/partner/vendor", token, None).await;
        let vendor = app
            .expect(200, "PUT", "/v1/partner/vendor", token,
                Some(json!({"slug": "acme", "name_zh": "顶点云", "name_en": "Acme"})))
            .await;
        assert_eq!(vendor["id"], "p-acme");
        let (status, _) = app
            .call("PUT", "/v1/partner/vendor", token,
                Some(&json!({"slug": "other", "name_zh": "别名", "name_en": "Other"})))
            .await;
        assert_eq!(status, 409, "a vendor id never changes");

        // A partner cannot choose an id, a vendor or a provenance.
        for (field, value) in [
            ("id", json!("p-acme_0123456789abcdef0123")),
            ("vendor", json!("aws")),
            ("provenance", json!({"fetched_at": "2026-01-01T00:00:00Z", "vendor_api": "x", "raw_hash": "00"})),
        ] {
            let mut offer = partner_offer("b");
            offer[field] = value;
            let (status, answer) = app
                .call("POST", "/v1/partner/listings", token, Some(&json!({"listings": [offer]})))
                .await;
            assert_eq!(status, 400, "{field}: {answer}");
        }
        let mut bad = partner_offer("c");
        bad["region"]["city"] = json!("atlantis");
        let (status, answer) = app
            .call("POST", "/v1/partner/listings", token, Some(&json!({"listings": [partner_offer("ok"), bad]})))
            .await;
        assert_eq!(status, 400);
        assert_eq!(answer["error"]["field"], "listings[1].region.city");

        // Operators write the built-in vendors only.
        let operator = app.operator().await;
        let published = app
            .expect(200, "POST", "/v1/partner/listings", token, Some(json!({"listings": [partner_offer("d")]})))
            .await;
        assert_eq!(published["new"], 1);
        let own = app.expect(200, "GET", "/v1/partner/listings", token, None).await;
        let mut listing = own["items"][0].clone();
        listing["name"]["en"] = json!("Relabelled by the platform");
        let (status, answer) = app
            .call("POST", "/v1/listings/batch", Some(&operator.access), Some(&json!({"listings": [listing]})))
            .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["field"], "listings[0].vendor");
    }
}

on_both_backends! {
    async fn the_audit_log_keeps_who_did_what_per_tenant(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("auditor@example.com").await;
        app.found_enterprise(&mut boss, "Audit Co").await;
        let token = Some(boss.access.as_str());
        let key = app
            .expect(201, "POST", "/v1/api-keys", token, Some(json!({"name": "k", "template": "tpl_viewer"})))
            .await;
        let key_id = key["key"]["id"].as_str().unwrap();
        app.expect(200, "DELETE", &format!("/v1/api-keys/{key_id}"), token, None).await;

        let page = app.expect(200, "GET", "/v1/audit?limit=500", token, None).await;
        let actions: Vec<&str> = page["events"].as_array().unwrap().iter()
            .map(|e| e["action"].as_str().unwrap()).collect();
        for action in ["enterprise.created", "identity.switched", "key.created", "key.revoked"] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }
        let last = page["next_after"].as_u64().unwrap();
        let rest = app.expect(200, "GET", &format!("/v1/audit?after={last}"), token, None).await;
        assert!(rest["events"].as_array().unwrap().is_empty(), "{rest}");

        // A person reads their own security log in their personal space.
        app.switch(&mut boss, json!({"kind": "personal"})).await;
        let own = app.expect(200, "GET", "/v1/audit", Some(&boss.access), None).await;
        assert!(own.to_string().contains("login.succeeded"), "{own}");
        assert!(!own.to_string().contains("key.created"), "enterprise events stay there");
        let token = Some(boss.access.as_str());

        // The platform's log is the operators'.
        let (status, _) = app.call("GET", "/v1/audit/platform", token, None).await;
        assert_eq!(status, 403);
        let operator = app.operator().await;
        let platform = app.expect(200, "GET", "/v1/audit/platform", Some(&operator.access), None).await;
        assert!(platform.to_string().contains("operator.created"), "{platform}");
        assert!(!platform.to_string().contains("key.created"), "tenant events stay with the tenant");
    }
}

/// The notice to a taken login carries no code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_login_gets_a_notice_instead_of_a_code() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    app.sign_up("taken@example.com").await;
    let first = app.mail_to("taken@example.com").await;
    app.expect(
        202,
        "POST",
        "/v1/auth/register",
        None,
        Some(json!({"login": "taken@example.com", "password": "Whatever-Pass-123"})),
    )
    .await;
    // Wait for the notice to be written after the code.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let notice = loop {
        let latest = app.mail_to("taken@example.com").await;
        if latest != first {
            break latest;
        }
        assert!(std::time::Instant::now() < deadline, "no notice arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(value_of(&notice, "code"), None, "{notice}");
}
