//! The tenant isolation matrix, generated from the route table.
//!
//! Two enterprises, A and B, are set up alike: an administrator, a member
//! whose template grants nothing, a project, an own template, an API key,
//! a pending invitation, a pending application, a partner vendor and one
//! of its listings. Then, for every route
//! that is not public, with A's ids put into its path parameters:
//!
//! - no token answers 401 with `WWW-Authenticate: Bearer`;
//! - B's member without the route's permission gets 403; B's API key gets
//!   403 on session routes; B's administrator and key get 403 on operator routes;
//! - B's administrator, who has the permission, gets 404 or 403 whenever
//!   the request names one of A's ids, and no answer to B ever carries an
//!   id of A's that the request did not send itself.
//!
//! A path parameter without an id of A's fails the test, and so does a
//! route with a request body but no sample body here: a new route is
//! covered, or the test says what it lacks.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shiyun_server::routes::table::{Access, Method, ROUTES, Route};

use crate::helpers::{Person, TestApp, on_both_backends};

/// One enterprise of the matrix and everything it holds.
struct Tenant {
    admin: Person,
    /// A member whose template grants no permission.
    powerless: Person,
    /// An API key with the admin template.
    key: String,
    /// The token of the pending invitation.
    invitation_token: String,
    /// Path parameter name → id.
    ids: BTreeMap<&'static str, String>,
}

async fn set_up(app: &TestApp, tag: &str) -> Tenant {
    let mut admin = app.sign_up(&format!("admin-{tag}@example.com")).await;
    let enterprise = app
        .found_enterprise(&mut admin, &format!("Enterprise {tag}"))
        .await;
    let token = Some(admin.access.as_str());
    let project = app
        .expect(
            201,
            "POST",
            "/v1/projects",
            token,
            Some(json!({"name": format!("project-{tag}")})),
        )
        .await;
    let template = app
        .expect(
            201,
            "POST",
            "/v1/templates",
            token,
            Some(json!({"name": "nothing", "permissions": [], "data_scope": "own"})),
        )
        .await;
    let template_id = template["id"].as_str().unwrap().to_owned();
    let key = app
        .expect(
            201,
            "POST",
            "/v1/api-keys",
            token,
            Some(json!({"name": format!("key-{tag}"), "template": "tpl_admin"})),
        )
        .await;
    let invited = format!("invited-{tag}@example.com");
    let invitation = app
        .expect(
            201,
            "POST",
            "/v1/invitations",
            token,
            Some(json!({"email": invited, "template": "tpl_viewer"})),
        )
        .await;
    let invitation_token = app.mailed(&invited, "token").await;

    let mut powerless = app.sign_up(&format!("powerless-{tag}@example.com")).await;
    app.join(&mut powerless, &admin, &enterprise, &template_id)
        .await;
    app.expect(
        200,
        "PUT",
        "/v1/partner/vendor",
        token,
        Some(json!({"slug": format!("vendor-{tag}"), "name_zh": format!("云{tag}"), "name_en": format!("Cloud {tag}")})),
    )
    .await;
    let report = app
        .expect(
            200,
            "POST",
            "/v1/partner/listings",
            token,
            Some(json!({"listings": [partner_offer("vm-1")]})),
        )
        .await;
    assert_eq!(report["new"], 1, "{report}");
    let listings = app
        .expect(200, "GET", "/v1/partner/listings", token, None)
        .await;
    let listing = id_of(&listings["items"][0]);

    let applicant = app.sign_up(&format!("applicant-{tag}@example.com")).await;
    let application = app
        .expect(
            201,
            "POST",
            &format!("/v1/enterprises/{enterprise}/applications"),
            Some(&applicant.access),
            Some(json!({"message": "let me in"})),
        )
        .await;

    let order = app
        .expect(
            201,
            "POST",
            "/v1/orders",
            token,
            Some(
                json!({"listing": listing, "quantity": "1", "payment_mode": "postpaid",
                        "idempotency_key": format!("order-{tag}")}),
            ),
        )
        .await;

    // A simulated cluster granted to the enterprise (as an operator would),
    // the project placed on it, and one application with a release.
    let cluster = app
        .state
        .deploy
        .register_cluster(
            shiyun_deploy::engine::NewCluster {
                name: format!("cluster-{}", tag.to_lowercase()),
                kind: shiyun_core::deploy::ClusterKind::Simulated,
                api_url: "http://simulated".into(),
                credential_kind: "token".into(),
                credential: String::new(),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let tenant = shiyun_core::tenancy::Tenant::parse(&enterprise).unwrap();
    app.state
        .deploy
        .grant(&cluster.id, &tenant, true)
        .await
        .unwrap();
    let project_id = id_of(&project);
    app.expect(
        200,
        "PUT",
        &format!("/v1/projects/{project_id}/placement"),
        token,
        Some(json!({"cluster": cluster.id.as_str()})),
    )
    .await;
    let deployed = app
        .expect(
            201,
            "POST",
            &format!("/v1/projects/{project_id}/apps?wait=true"),
            token,
            Some(json!({"name": "web", "spec": app_spec()})),
        )
        .await;
    let build = app
        .expect(
            201,
            "POST",
            &format!(
                "/v1/apps/{}/builds",
                deployed["app"]["id"].as_str().unwrap()
            ),
            token,
            Some(json!({"repository": format!("https://git.example.com/{tag}/web.git")})),
        )
        .await;

    let ids = BTreeMap::from([
        ("enterprise", enterprise.clone()),
        ("tenant", enterprise),
        ("cluster", cluster.id.as_str().to_owned()),
        ("app", deployed["app"]["id"].as_str().unwrap().to_owned()),
        ("build", build["id"].as_str().unwrap().to_owned()),
        ("account", powerless.account.clone()),
        ("project", id_of(&project)),
        ("template", template_id),
        ("key", id_of(&key["key"])),
        ("invitation", id_of(&invitation)),
        ("application", id_of(&application)),
        ("listing", listing),
        // Operator-only billing routes never answer B, so ids that name no
        // row are enough for them.
        ("customer", "customer-of-a".to_owned()),
        (
            "subscription",
            "sub_00000000000000000000000000000001".to_owned(),
        ),
        ("invoice", "in_00000000000000000000000000000001".to_owned()),
        ("order", order["order"]["id"].as_str().unwrap().to_owned()),
        ("rule", "mr_00000000000000000000000000000001".to_owned()),
    ]);
    Tenant {
        admin,
        powerless,
        key: key["secret"].as_str().unwrap().to_owned(),
        invitation_token,
        ids,
    }
}

/// A small application spec that passes validation.
fn app_spec() -> Value {
    json!({
        "image": "registry.example.com/web:1",
        "ports": [{"name": "http", "port": 8080}],
        "resources": {"cpu_millicores": 100, "memory_mib": 128},
        "scale": {"mode": "fixed", "replicas": 1}
    })
}

/// One offer as a partner cloud sends it.
pub fn partner_offer(sku: &str) -> Value {
    json!({
        "vendor_sku": sku,
        "category": "compute.vm",
        "service": "vm",
        "name": {"zh": format!("云主机 {sku}"), "en": format!("Cloud VM {sku}")},
        "region": {"code": "sh-1", "country": "cn", "city": "shanghai"},
        "specs": {"vcpu": 2, "memory_gib": "4"},
        "prices": [{"billing_mode": "on_demand", "unit": "hour",
                    "amount": {"amount": "0.3500", "currency": "CNY"}}]
    })
}

fn id_of(record: &Value) -> String {
    record["id"].as_str().unwrap().to_owned()
}

/// Path parameters that name no one's data (a wallet is the caller's own
/// tenant's, in a currency): the same value for A and B.
const NOT_IDS: &[(&str, &str)] = &[("currency", "CNY"), ("version", "1")];

/// The route's path with A's id in each parameter.
fn concrete_path(route: &Route, ids: &BTreeMap<&str, String>) -> String {
    let mut path = String::new();
    for (i, part) in route.path.split('{').enumerate() {
        if i == 0 {
            path.push_str(part);
            continue;
        }
        let (name, rest) = part.split_once('}').unwrap();
        let shared = NOT_IDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string());
        let id = ids.get(name).cloned().or(shared).unwrap_or_else(|| {
            panic!(
                "{route:?}: no id of enterprise A for the path parameter `{name}`; \
                 set one up in isolation.rs"
            )
        });
        path.push_str(&id);
        path.push_str(rest);
    }
    path
}

/// A body that passes validation, naming A's ids where the route takes one.
fn sample_body(route: &Route, a: &Tenant) -> Option<Value> {
    let id = |name: &str| a.ids[name].clone();
    let body = match (route.method, route.path) {
        (Method::Post, "/v1/me/identity") => {
            json!({"identity": {"kind": "enterprise", "enterprise": id("enterprise")}})
        }
        (Method::Post, "/v1/me/password") => json!({
            "current_password": "Not-The-Password-1",
            "new_password": "Another-Strong-Pass-77"
        }),
        (Method::Post, "/v1/me/bindings") => {
            json!({"channel": "email", "target": "b-elsewhere@example.com"})
        }
        (Method::Post, "/v1/me/bindings/confirm") => json!({"channel": "email", "code": "000000"}),
        (Method::Post, "/v1/enterprises") => json!({"name": "B's second enterprise"}),
        (Method::Post, "/v1/enterprises/{enterprise}/applications") => {
            json!({"message": "may I?"})
        }
        (Method::Post, "/v1/invitations/accept") => json!({"token": a.invitation_token}),
        (Method::Put, "/v1/members/{account}/template") => json!({"template": "tpl_viewer"}),
        (Method::Post, "/v1/members/transfer-admin") => json!({"to": id("account")}),
        (Method::Post, "/v1/applications/{application}/approve") => json!({}),
        (Method::Post, "/v1/invitations") => {
            json!({"email": "someone-new@example.com", "template": id("template")})
        }
        (Method::Post, "/v1/projects") => json!({"name": "b-second"}),
        (Method::Post, "/v1/templates") => {
            json!({"name": "b-second", "permissions": ["catalog:read"], "data_scope": "all"})
        }
        (Method::Put, "/v1/templates/{template}") => {
            json!({"name": "taken-over", "permissions": [], "data_scope": "own"})
        }
        (Method::Post, "/v1/api-keys") => json!({"name": "b-second", "template": id("template")}),
        (Method::Put, "/v1/partner/vendor") => {
            json!({"slug": "vendor-b", "name_zh": "乙云", "name_en": "Cloud B, renamed"})
        }
        (Method::Post, "/v1/partner/listings") => json!({"listings": [partner_offer("vm-1")]}),
        (Method::Put, "/v1/search/synonyms") => json!({"groups": [["ecs", "ec2"]]}),
        (Method::Put, "/v1/fx-rates") => {
            json!({"rates": [{"from": "USD", "to": "CNY", "rate": "7.2"}]})
        }
        // Usage of a customer that is not A: B's own events are B's business.
        (Method::Post, "/v1/usage/events") => json!({"events": [{
            "idempotency_key": "k1", "customer": "someone-else", "meter": "calls",
            "timestamp": "2026-01-01T00:00:00Z", "properties": {}
        }]}),
        (Method::Post, "/v1/billing/meters") => {
            json!({"code": "calls", "name": "Calls", "aggregation": "count"})
        }
        (Method::Post, "/v1/billing/plans") => json!({"plan": {
            "code": "p", "name": "P", "currency": "CNY", "interval": "monthly",
            "billing_time": "calendar", "pay_in": "arrears", "recurring_fee": "1", "charges": []
        }}),
        (Method::Put, "/v1/billing/customers/{customer}") => {
            json!({"name": "A", "timezone": "UTC", "tax_rate": "0"})
        }
        (Method::Post, "/v1/billing/customers/{customer}/credits") => {
            json!({"amount": {"amount": "1", "currency": "CNY"}})
        }
        (Method::Post, "/v1/billing/subscriptions") => {
            json!({"customer": id("enterprise"), "plan": "p", "starts_on": "2026-01-01"})
        }
        (Method::Post, "/v1/billing/subscriptions/{subscription}/plan") => json!({"plan": "p"}),
        (Method::Post, "/v1/billing/subscriptions/{subscription}/cancel") => json!({}),
        (Method::Post, "/v1/billing/preview") => {
            json!({"plan_code": "p", "from": "2026-01-01", "to": "2026-02-01"})
        }
        (Method::Post, "/v1/billing/invoices/{invoice}/payments") => {
            json!({"reference": "r-1", "amount": {"amount": "1", "currency": "CNY"}})
        }
        (Method::Post, "/v1/billing/invoices/{invoice}/credit-notes") => {
            json!({"amount": "1", "reason": "r"})
        }
        (Method::Post, "/v1/orders") => json!({
            "listing": id("listing"), "quantity": "1", "payment_mode": "postpaid",
            "idempotency_key": "b-order"
        }),
        (Method::Post, "/v1/resources") => json!({"vendor": "aws", "vendor_resource_id": "i-b"}),
        (Method::Post, "/v1/billing/orders/{order}/provisioning") => json!({"state": "active"}),
        (Method::Post, "/v1/billing/margin-rules") => {
            json!({"markup": {"type": "percent", "percent": "10"}})
        }
        (Method::Post, "/v1/billing/contracts") => json!({
            "customer": id("enterprise"), "interval": "monthly",
            "amount": {"amount": "1", "currency": "CNY"}, "starts_on": "2026-01-01"
        }),
        (Method::Put, "/v1/wallets/{currency}/settings") => json!({"low_balance_threshold": "5"}),
        (Method::Put, "/v1/billing/customers/{customer}/wallets/{currency}/settings") => {
            json!({"floor": "0"})
        }
        (Method::Post, "/v1/billing/customers/{customer}/wallets/{currency}/credits") => {
            json!({"kind": "top_up", "amount": "1", "key": "k-1"})
        }
        (Method::Post, "/v1/billing/customers/{customer}/wallets/{currency}/debits") => {
            json!({"amount": "1", "key": "k-1"})
        }
        (Method::Post, "/v1/wallets/{currency}/top-ups") => {
            json!({"amount": "10.00", "idempotency_key": "k"})
        }
        (Method::Post, "/v1/billing/invoices/{invoice}/refunds") => {
            json!({"amount": "1.00", "reason": "x"})
        }
        (Method::Post, "/v1/clusters") => json!({"name": "b-cluster", "kind": "simulated"}),
        (Method::Put, "/v1/projects/{project}/placement") => json!({"cluster": id("cluster")}),
        (Method::Post, "/v1/projects/{project}/apps") => {
            json!({"name": "b-app", "spec": app_spec()})
        }
        (Method::Post, "/v1/apps/{app}/releases") => app_spec(),
        (Method::Post, "/v1/apps/{app}/rollback") => json!({}),
        (Method::Post, "/v1/apps/{app}/scale") => json!({"replicas": 2}),
        (Method::Post, "/v1/apps/{app}/builds") => {
            json!({"repository": "https://git.example.com/b/web.git"})
        }
        (Method::Post, "/v1/listings/batch") => json!({"listings": [
            serde_json::to_value(shiyun_core::demo::DemoCatalog::new(3, 1).next().unwrap()).unwrap()
        ]}),
        _ => return None,
    };
    Some(body)
}

/// Routes where naming another enterprise's id is the point: anyone may
/// apply to any enterprise of the directory, and buy any listing of the
/// storefront (a partner's listing included).
const ACROSS_TENANTS_BY_DESIGN: &[(Method, &str)] = &[
    (Method::Post, "/v1/enterprises/{enterprise}/applications"),
    (Method::Post, "/v1/orders"),
];

/// Ids that B may see in some answers: the directory lists every
/// enterprise, by name and id; the catalog feed, every listing.
fn public_in(route: &Route) -> &'static [&'static str] {
    match (route.method, route.path) {
        (Method::Get, "/v1/enterprises") => &["enterprise", "tenant"],
        (Method::Get, "/v1/changes") => &["listing"],
        _ => &[],
    }
}

/// Reads first, so B's own later attempts on A's ids (which B's audit log
/// and application list may rightly show) do not count as leaks; the
/// session-ending log-out last.
fn matrix_order() -> Vec<&'static Route> {
    let mut routes: Vec<&Route> = ROUTES
        .iter()
        .filter(|r| r.access != Access::Public)
        .collect();
    routes.sort_by_key(|r| (r.method != Method::Get, r.path == "/v1/auth/logout"));
    routes
}

fn operation<'d>(doc: &'d Value, route: &Route) -> &'d Value {
    &doc["paths"][route.path][route.method.as_str().to_lowercase()]
}

on_both_backends! {
    async fn every_route_keeps_tenants_apart(backend: Backend) {
        // Builds on, so each enterprise has one to read.
        let app = TestApp::spawn_with(
            backend,
            |s| {
                s.deploy.builder_image = Some("registry.example.com/builder:1".into());
                s.deploy.registry = Some("registry.example.com/apps".into());
                s.deploy.rollout_poll_ms = 20;
            },
            |_| {},
        )
        .await;
        let a = set_up(&app, "a").await;
        let b = set_up(&app, "b").await;
        let (_, doc) = app.get("/openapi.json").await;
        let mut covered = 0;

        for route in matrix_order() {
            let path = concrete_path(route, &a.ids);
            let body = sample_body(route, &a);
            let op = operation(&doc, route);
            assert!(op.is_object(), "{route:?} is not documented");
            if op["requestBody"]["required"] == true {
                assert!(body.is_some(), "{route:?} takes a body: add a sample to sample_body");
            }
            let method = route.method.as_str();

            // No token: 401, and the scheme to use.
            let response = app.send(method, &path, None, body.as_ref()).await;
            assert_eq!(response.status().as_u16(), 401, "{route:?} without a token");
            assert_eq!(response.headers()["www-authenticate"], "Bearer", "{route:?}");
            let answer: Value = response.json().await.unwrap();
            assert_eq!(answer["error"]["code"], "unauthenticated", "{route:?}");

            // A caller the route's access excludes: 403.
            let excluded: Vec<(&str, &str)> = match route.access {
                Access::Permission(_) => vec![("a member without the permission", b.powerless.access.as_str())],
                Access::Session => vec![("an API key", b.key.as_str())],
                Access::Operator => vec![
                    ("an administrator", b.admin.access.as_str()),
                    ("an API key", b.key.as_str()),
                ],
                Access::Signed | Access::Public => vec![],
            };
            for (who, token) in excluded {
                let (status, answer) = app.call(method, &path, Some(token), body.as_ref()).await;
                assert_eq!((status, &answer["error"]["code"]), (403, &json!("forbidden")), "{route:?} as {who}: {answer}");
            }

            // B's administrator, allowed by the route, on A's ids.
            let fresh;
            let token = if route.path == "/v1/auth/logout" {
                fresh = app.log_in(&b.admin.login, crate::helpers::PASSWORD).await;
                fresh.access.as_str()
            } else {
                b.admin.access.as_str()
            };
            let (status, answer) = app.call(method, &path, Some(token), body.as_ref()).await;
            assert!(status < 500, "{route:?} as B's administrator: {status} {answer}");
            let request_text = format!("{path} {}", body.clone().unwrap_or_default());
            let names_a = a.ids.values().any(|id| request_text.contains(id.as_str()))
                || request_text.contains(&a.invitation_token);
            let allowed_across = ACROSS_TENANTS_BY_DESIGN.contains(&(route.method, route.path));
            if names_a && !allowed_across && route.access != Access::Operator {
                assert!(
                    status == 404 || status == 403,
                    "{route:?} as B's administrator on A's ids answered {status}: {answer}"
                );
            }
            let answer_text = answer.to_string();
            for (name, id) in &a.ids {
                if request_text.contains(id.as_str()) || public_in(route).contains(name) {
                    continue;
                }
                assert!(
                    !answer_text.contains(id.as_str()),
                    "{route:?} showed B the {name} id of A: {answer}"
                );
            }
            covered += 1;
        }
        assert_eq!(covered, ROUTES.iter().filter(|r| r.access != Access::Public).count());

        // A's ids were real: A's own administrator reads them.
        let token = Some(a.admin.access.as_str());
        for route in ROUTES.iter().filter(|r| r.method == Method::Get && r.path.contains('{') && r.access != Access::Public) {
            let path = concrete_path(route, &a.ids);
            let (status, answer) = app.call("GET", &path, token, None).await;
            assert_eq!(status, 200, "{route:?} as A's administrator: {answer}");
        }
        // And nothing B tried changed A: its member, template, key and invitation stand.
        let members = app.expect(200, "GET", "/v1/members", token, None).await.to_string();
        assert!(members.contains(&a.powerless.account));
        let templates = app.expect(200, "GET", "/v1/templates", token, None).await;
        assert!(templates.to_string().contains("\"nothing\""), "{templates}");
        let keys = app.expect(200, "GET", "/v1/api-keys", Some(&a.key), None).await;
        assert!(keys["keys"][0]["revoked_at"].is_null(), "{keys}");
        let invitations = app.expect(200, "GET", "/v1/invitations", token, None).await;
        assert_eq!(invitations["invitations"][0]["status"], "pending", "{invitations}");
        let applications = app.expect(200, "GET", "/v1/applications?status=pending", token, None).await;
        assert!(applications.to_string().contains(&a.ids["application"]), "{applications}");
        let (_, listing) = app.get(&format!("/v1/listings/{}", a.ids["listing"])).await;
        assert_eq!(listing["listing"]["status"], "active", "{listing}");
        let vendor = app.expect(200, "GET", "/v1/partner/vendor", token, None).await;
        assert_eq!(vendor["id"], "p-vendor-a");
    }
}
