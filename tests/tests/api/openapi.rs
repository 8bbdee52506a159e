//! The OpenAPI document is generated from the real handlers; a snapshot pins it.

use crate::helpers::{Backend, TestApp};

/// Tags every operation may carry, and the ones the user centre brings.
const TAGS: &[&str] = &[
    "health",
    "listings",
    "catalog",
    "auth",
    "me",
    "enterprises",
    "members",
    "projects",
    "templates",
    "api-keys",
    "audit",
    "partner",
    "search",
    "billing",
    "market",
    "wallets",
    "deploy",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_stable() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/listings",
        "/v1/listings/{id}",
        "/v1/listings/batch",
        "/v1/changes",
        "/healthz",
        "/readyz",
        "/v1/auth/login",
        "/v1/me",
        "/v1/members",
        "/v1/api-keys",
        "/v1/search",
        "/v1/listings/{id}/equivalents",
        "/v1/fx-rates",
        "/v1/usage/events",
        "/v1/billing/preview",
        "/v1/exports/journal",
        "/v1/orders",
        "/v1/reports/margin",
        "/v1/apps/{app}/rollback",
        "/v1/deployments/cost",
    ] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
    for item in paths.values() {
        for op in item.as_object().unwrap().values() {
            for tag in op["tags"].as_array().unwrap() {
                assert!(TAGS.contains(&tag.as_str().unwrap()), "unknown tag {tag}");
            }
        }
    }
    for schema in [
        "TokenPair",
        "Me",
        "CreatedKey",
        "Member",
        "Template",
        "ApiKey",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert!(
        doc["components"]["schemas"]["Listing"].is_object()
            || doc["components"]["schemas"]["ListingData"].is_object()
    );
    insta::assert_json_snapshot!("openapi", doc);
}

/// Every bound the document declares on a query parameter is the bound the
/// server enforces: the edge values are accepted, one past them is refused
/// with the parameter named in the envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_query_bounds_are_the_enforced_ones() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.seed_demo(3);
    // An operator acting for an enterprise it runs may call every GET route.
    let mut operator = app.operator().await;
    app.found_enterprise(&mut operator, "Bounds Inc").await;
    let token = Some(operator.access.as_str());
    app.expect(
        200,
        "PUT",
        "/v1/partner/vendor",
        token,
        Some(serde_json::json!({"slug": "bounds", "name_zh": "边界", "name_en": "Bounds"})),
    )
    .await;
    let (_, doc) = app.get("/openapi.json").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(parameters) = item["get"]["parameters"].as_array() else {
            continue;
        };
        for parameter in parameters.iter().filter(|p| p["in"] == "query") {
            let name = parameter["name"].as_str().unwrap();
            let schema = &parameter["schema"];
            let mut cases: Vec<(String, bool)> = Vec::new();
            if let Some(min) = schema["minimum"].as_i64() {
                cases.push((min.to_string(), true));
                cases.push(((min - 1).to_string(), false));
            }
            if let Some(max) = schema["maximum"].as_i64() {
                cases.push((max.to_string(), true));
                cases.push(((max + 1).to_string(), false));
            }
            if let Some(min) = schema["minLength"].as_u64() {
                cases.push(("a".repeat(min as usize), true));
                if min > 0 {
                    cases.push(("a".repeat(min as usize - 1), false));
                }
            }
            if let Some(max) = schema["maxLength"].as_u64() {
                cases.push(("a".repeat(max as usize), true));
                cases.push(("a".repeat(max as usize + 1), false));
            }
            for (value, valid) in cases {
                if path.contains('{') {
                    continue;
                }
                let (status, body) = app
                    .call("GET", &format!("{path}?{name}={value}"), token, None)
                    .await;
                if valid {
                    assert_eq!(status, 200, "{path}?{name}={value}: {body}");
                } else {
                    assert_eq!(status, 400, "{path}?{name}={value}: {body}");
                    assert_eq!(body["error"]["field"], name, "{path}?{name}={value}");
                }
                checked += 1;
            }
        }
    }
    // limit ×6 routes (4 each), after ×3 (2 each), region (4), q (2).
    assert!(checked >= 36, "only {checked} bounds checked");
}
