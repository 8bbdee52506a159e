//! Bearer edge cases: access tokens expired, tampered with, or signed with
//! another key (forged here with HMAC-SHA256, as an attacker would); API
//! keys revoked, expired, or of a removed member.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shiyun_core::tenancy::{AccountId, ApiKey, ApiKeyId, ApiKeyStore, EnterpriseId, TemplateId};

use crate::helpers::{SIGNING_KEY, TestApp, on_both_backends};

/// The header and claims of a JWT.
fn decode(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        let bytes = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (part(), part())
}

/// A JWT of `header` and `claims`, signed with `key` (HS256).
fn sign(header: &Value, claims: &Value, key: &str) -> String {
    let body = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!(
        "{body}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.call("GET", "/v1/me", Some(token), None).await.0
}

on_both_backends! {
    async fn forged_and_expired_access_tokens_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let person = app.sign_up("holder@example.com").await;
        let (header, claims) = decode(&person.access);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(claims["sub"], person.account.as_str());

        // Re-signed unchanged with the server's key: accepted, so the
        // refusals below are about what each one changes.
        assert_eq!(status_with(&app, &sign(&header, &claims, SIGNING_KEY)).await, 200);

        let mut expired = claims.clone();
        let now = chrono::Utc::now().timestamp();
        expired["iat"] = json!(now - 7200);
        expired["exp"] = json!(now - 3600);
        assert_eq!(status_with(&app, &sign(&header, &expired, SIGNING_KEY)).await, 401, "expired");

        let other_key = sign(&header, &claims, "another-key-of-32-characters-or-more!");
        assert_eq!(status_with(&app, &other_key).await, 401, "signed with another key");

        // Claims changed under the original signature.
        let someone = app.sign_up("someone-else@example.com").await;
        let mut stolen = claims.clone();
        stolen["sub"] = json!(someone.account);
        let signature = person.access.rsplit('.').next().unwrap();
        let tampered = format!(
            "{}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(stolen.to_string())
        );
        assert_eq!(status_with(&app, &tampered).await, 401, "tampered claims");
        // A flipped signature character.
        let mut flipped = person.access.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(status_with(&app, &flipped).await, 401, "tampered signature");
        let mut none = header.clone();
        none["alg"] = json!("none");
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(none.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        assert_eq!(status_with(&app, &unsigned).await, 401, "alg none");

        // Signed right, but claiming an identity the session does not have.
        let mut other_identity = claims.clone();
        other_identity["idn"] = json!("ent_00000000000000000000000000000000");
        assert_eq!(status_with(&app, &sign(&header, &other_identity, SIGNING_KEY)).await, 401);

        for junk in ["", "abc", "a.b.c", "sy_key_00000000000000000000000000000000_AAAA", "syr_x"] {
            let (status, answer) = app.call("GET", "/v1/me", Some(junk), None).await;
            assert_eq!(status, 401, "{junk:?}: {answer}");
            assert_eq!(answer["error"]["code"], "unauthenticated");
        }
        // The person's real token still works.
        assert_eq!(status_with(&app, &person.access).await, 200);
    }

    async fn revoked_expired_and_orphaned_keys_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("keys-boss@example.com").await;
        let enterprise = app.found_enterprise(&mut boss, "Keys Co").await;
        let token = Some(boss.access.as_str());
        let app_ref = &app;
        let key = |name: &str, expires: Option<String>| {
            let body = json!({"name": name, "template": "tpl_viewer", "expires_at": expires});
            async move { app_ref.expect(201, "POST", "/v1/api-keys", token, Some(body)).await }
        };

        let revoked = key("to revoke", None).await;
        let secret = revoked["secret"].as_str().unwrap();
        assert_eq!(status_with(&app, secret).await, 200);
        let id = revoked["key"]["id"].as_str().unwrap();
        let answer = app.expect(200, "DELETE", &format!("/v1/api-keys/{id}"), token, None).await;
        assert!(answer["revoked_at"].is_string(), "{answer}");
        assert_eq!(status_with(&app, secret).await, 401, "revoked");

        // A key's secret with one character changed is another key.
        let live = key("live", None).await;
        let live_secret = live["secret"].as_str().unwrap().to_owned();
        let mut wrong = live_secret.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(status_with(&app, &wrong).await, 401);

        let (status, _) = app
            .call("POST", "/v1/api-keys", token,
                Some(&json!({"name": "past", "template": "tpl_viewer", "expires_at": "2020-01-01T00:00:00Z"})))
            .await;
        assert_eq!(status, 400, "an expiry in the past");
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
        let expiring = key("expiring", Some(soon)).await;
        let expiring_secret = expiring["secret"].as_str().unwrap();
        assert_eq!(status_with(&app, expiring_secret).await, 200);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(status_with(&app, expiring_secret).await, 401, "expired");

        // A removed member's keys go with them.
        let mut dev = app.sign_up("keys-dev@example.com").await;
        app.join(&mut dev, &boss, &enterprise, "tpl_admin").await;
        let devs = app
            .expect(201, "POST", "/v1/api-keys", Some(&dev.access),
                Some(json!({"name": "dev's", "template": "tpl_viewer"})))
            .await;
        let devs_secret = devs["secret"].as_str().unwrap();
        assert_eq!(status_with(&app, devs_secret).await, 200);
        app.expect(204, "DELETE", &format!("/v1/members/{}", dev.account), token, None).await;
        assert_eq!(status_with(&app, devs_secret).await, 401, "its creator left");
        assert_eq!(status_with(&app, &live_secret).await, 200, "other keys live on");

        // A key stored after its creator's removal (a creation racing the
        // removal) is refused too: a key lives only while its creator is a member.
        let secret = "R".repeat(43);
        let late = ApiKey {
            id: ApiKeyId::from_random([7; 16]),
            enterprise: EnterpriseId::parse(&enterprise).unwrap(),
            template: TemplateId::parse("tpl_viewer").unwrap(),
            project: None,
            name: "late".into(),
            created_by: AccountId::parse(&dev.account).unwrap(),
            created_at: chrono::Utc::now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        let hash: String = Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        app.db.database().create_api_key(&late, &hash).unwrap();
        let late_bearer = format!("sy_{}_{secret}", late.id);
        assert_eq!(status_with(&app, &late_bearer).await, 401, "a former member's late key");
        // The same key of a member works, so the refusal is about membership.
        let kept = ApiKey { id: ApiKeyId::from_random([8; 16]), created_by: AccountId::parse(&boss.account).unwrap(), ..late };
        app.db.database().create_api_key(&kept, &hash).unwrap();
        assert_eq!(status_with(&app, &format!("sy_{}_{secret}", kept.id)).await, 200);
    }

    async fn a_key_does_no_more_than_its_creator_may_do_now(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("demoted-boss@example.com").await;
        let enterprise = app.found_enterprise(&mut boss, "Demotion Co").await;
        let mut lead = app.sign_up("demoted-lead@example.com").await;
        app.join(&mut lead, &boss, &enterprise, "tpl_admin").await;
        let key = app
            .expect(201, "POST", "/v1/api-keys", Some(&lead.access),
                Some(json!({"name": "lead's", "template": "tpl_admin"})))
            .await;
        let secret = key["secret"].as_str().unwrap();
        let new_project = json!({"name": "made by a key"});
        app.expect(201, "POST", "/v1/projects", Some(secret), Some(new_project)).await;

        // The lead becomes a viewer: the key keeps only what a viewer may do.
        app.expect(200, "PUT", &format!("/v1/members/{}/template", lead.account),
            Some(&boss.access), Some(json!({"template": "tpl_viewer"}))).await;
        let (status, _) = app
            .call("POST", "/v1/projects", Some(secret), Some(&json!({"name": "after demotion"})))
            .await;
        assert_eq!(status, 403, "projects:manage went with the demotion");
        let me = app.expect(200, "GET", "/v1/me", Some(secret), None).await;
        assert_eq!(me["data_scope"], "projects", "{me}");
        assert!(
            !me["permissions"].as_array().unwrap().iter().any(|p| p == "keys:manage"),
            "{me}"
        );
        app.expect(200, "GET", "/v1/projects", Some(secret), None).await;
    }

    async fn a_token_of_an_enterprise_left_is_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut boss = app.sign_up("left-boss@example.com").await;
        let enterprise = app.found_enterprise(&mut boss, "Left Co").await;
        let mut han = app.sign_up("left-han@example.com").await;
        app.join(&mut han, &boss, &enterprise, "tpl_viewer").await;
        let me = app.expect(200, "GET", "/v1/me", Some(&han.access), None).await;
        assert_eq!(me["identity"], json!({"kind": "enterprise", "enterprise": enterprise}));
        app.expect(204, "POST", &format!("/v1/enterprises/{enterprise}/leave"), Some(&han.access), None).await;
        assert_eq!(status_with(&app, &han.access).await, 401, "no longer a member");
        // The session goes on as the person's own self.
        let tokens = app
            .expect(200, "POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": han.refresh})))
            .await;
        assert_eq!(tokens["identity"], json!({"kind": "personal"}));
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(status_with(&app, access).await, 200);
    }
}
