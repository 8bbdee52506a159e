//! Bad input of every kind gets the one JSON envelope with a 4xx status; a
//! snapshot pins the envelopes.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, on_both_backends};

async fn envelope(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let error = &body["error"];
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "{body}"
    );
    assert!(error.as_object().unwrap().contains_key("field"), "{body}");
    (status, body)
}

async fn all_bad_inputs(app: &TestApp, operator: &str) -> Vec<(String, u16, Value)> {
    let c = &app.client;
    let batch = app.url("/v1/listings/batch");
    let valid =
        serde_json::to_value(shiyun_core::demo::DemoCatalog::new(1, 1).next().unwrap()).unwrap();
    let mut negative = valid.clone();
    negative["prices"][0]["amount"]["amount"] = json!("-1.00");
    let mut unknown_currency = valid.clone();
    unknown_currency["prices"][0]["amount"]["currency"] = json!("XYZ");
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("unknown route", c.get(app.url("/v1/nothing-here"))),
        ("wrong method", c.delete(app.url("/v1/listings"))),
        ("wrong method on the batch path", c.put(&batch)),
        (
            "id that is not an id",
            c.get(app.url("/v1/listings/not-an-id")),
        ),
        (
            "id of a missing listing",
            c.get(app.url("/v1/listings/aws_0123456789abcdef0123")),
        ),
        (
            "unknown vendor",
            c.get(app.url("/v1/listings?vendor=oracle")),
        ),
        (
            "unknown category",
            c.get(app.url("/v1/listings?category=weather.vm")),
        ),
        ("unknown status", c.get(app.url("/v1/listings?status=sold"))),
        ("limit out of range", c.get(app.url("/v1/listings?limit=0"))),
        (
            "limit above the page size",
            c.get(app.url("/v1/listings?limit=501")),
        ),
        ("empty category", c.get(app.url("/v1/listings?category="))),
        ("empty vendor", c.get(app.url("/v1/listings?vendor="))),
        ("empty region", c.get(app.url("/v1/listings?region="))),
        (
            "region too long",
            c.get(app.url(&format!("/v1/listings?region={}", "r".repeat(65)))),
        ),
        (
            "region with a control character",
            c.get(app.url("/v1/listings?region=cn%00hangzhou")),
        ),
        (
            "several bad parameters name the first in order",
            c.get(app.url(&format!("/v1/listings?region={}&limit=0", "r".repeat(65)))),
        ),
        (
            "GET on the batch path",
            c.get(app.url("/v1/listings/batch")),
        ),
        (
            "limit not a number",
            c.get(app.url("/v1/listings?limit=ten")),
        ),
        (
            "unknown query parameter",
            c.get(app.url("/v1/listings?colour=red")),
        ),
        ("bad cursor", c.get(app.url("/v1/listings?cursor=zzz"))),
        (
            "bad change feed limit",
            c.get(app.url("/v1/changes?limit=100000"))
                .bearer_auth(operator),
        ),
        (
            "negative change feed position",
            c.get(app.url("/v1/changes?after=-1")).bearer_auth(operator),
        ),
        (
            "sync runs limit out of range",
            c.get(app.url("/v1/sync-runs?limit=201"))
                .bearer_auth(operator),
        ),
        (
            "sync runs of an unknown vendor",
            c.get(app.url("/v1/sync-runs?vendor=oracle"))
                .bearer_auth(operator),
        ),
        (
            "batch without token",
            c.post(&batch).json(&json!({"listings": [valid.clone()]})),
        ),
        (
            "malformed batch without token",
            c.post(&batch)
                .header("content-type", "application/json")
                .body("{\"listings\": [}"),
        ),
        (
            "batch with wrong token",
            c.post(&batch)
                .bearer_auth("nope")
                .json(&json!({"listings": [valid.clone()]})),
        ),
        (
            "malformed json",
            c.post(&batch)
                .bearer_auth(operator)
                .header("content-type", "application/json")
                .body("{\"listings\": [}"),
        ),
        (
            "not json",
            c.post(&batch)
                .bearer_auth(operator)
                .header("content-type", "text/plain")
                .body("hello"),
        ),
        ("no body at all", c.post(&batch).bearer_auth(operator)),
        (
            "unknown body field",
            c.post(&batch)
                .bearer_auth(operator)
                .json(&json!({"listings": [], "extra": 1})),
        ),
        (
            "empty batch",
            c.post(&batch)
                .bearer_auth(operator)
                .json(&json!({"listings": []})),
        ),
        (
            "negative price",
            c.post(&batch)
                .bearer_auth(operator)
                .json(&json!({"listings": [valid.clone(), negative]})),
        ),
        (
            "unknown currency",
            c.post(&batch)
                .bearer_auth(operator)
                .json(&json!({"listings": [unknown_currency]})),
        ),
        (
            "oversized body",
            c.post(&batch)
                .bearer_auth(operator)
                .header("content-type", "application/json")
                .body(format!(
                    "{{\"listings\": [], \"pad\": \"{}\"}}",
                    "x".repeat(70 * 1024)
                )),
        ),
    ];
    let mut results = Vec::new();
    for (name, request) in cases {
        let (status, body) = envelope(request.send().await.unwrap()).await;
        results.push((name.to_owned(), status, body));
    }
    results
}

on_both_backends! {
    async fn bad_input_gets_the_envelope_and_loses_nothing(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.seed_demo(20);
        let operator = app.operator().await;
        let results = all_bad_inputs(&app, &operator.access).await;
        for (name, status, body) in &results {
            assert!((400..500).contains(status), "{name}: {status} {body}");
        }
        // The same envelopes on both backends; the snapshot pins them.
        let snapshot: Vec<Value> = results
            .iter()
            .map(|(name, status, body)| json!({"case": name, "status": status, "body": body}))
            .collect();
        insta::assert_json_snapshot!("bad_input_envelopes", snapshot);

        let wrong = app.client.delete(app.url("/v1/listings/batch")).send().await.unwrap();
        assert_eq!(wrong.status().as_u16(), 405);
        assert_eq!(wrong.headers()["allow"], "POST");
        let wrong = app.client.get(app.url("/v1/listings/batch")).send().await.unwrap();
        assert_eq!(wrong.status().as_u16(), 405);
        assert_eq!(wrong.headers()["allow"], "POST");
        let wrong = app.client.post(app.url("/v1/listings/aws_0123456789abcdef0123")).send().await.unwrap();
        assert_eq!(wrong.status().as_u16(), 405);
        assert_eq!(wrong.headers()["allow"], "GET");

        // Nothing was lost or half-written by the rejected batches.
        let (status, page) = app.get("/v1/listings?status=any&limit=500").await;
        assert_eq!(status, 200);
        assert_eq!(page["items"].as_array().unwrap().len(), 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_writes_are_for_operators_only() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let person = app.sign_up("someone@example.com").await;
    let response = app
        .client
        .post(app.url("/v1/listings/batch"))
        .bearer_auth(&person.access)
        .json(&json!({"listings": []}))
        .send()
        .await
        .unwrap();
    let (status, body) = envelope(response).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "forbidden");

    let response = app
        .client
        .post(app.url("/v1/listings/batch"))
        .json(&json!({"listings": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, body) = envelope(response).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_unavailable_not_a_hang() {
    let app = TestApp::spawn(Backend::PostgresOwnRole).await;
    app.seed_demo(5);
    assert_eq!(app.get("/readyz").await.0, 200);
    app.db.cut_off();

    // The test database's pool waits 500 ms for a connection; a hang would
    // run into this guard instead of answering at all.
    let guard = std::time::Duration::from_secs(120);
    for path in ["/readyz", "/v1/listings"] {
        let (status, body) = tokio::time::timeout(guard, app.get(path))
            .await
            .unwrap_or_else(|_| panic!("{path} hung"));
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &json!("unavailable")),
            "{path}: {body}"
        );
    }
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.0, 200);
}
