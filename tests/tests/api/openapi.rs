//! The OpenAPI document is generated from the real handlers; a snapshot pins it.

use crate::helpers::{Backend, TestApp};

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
    ] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    assert!(
        doc["components"]["schemas"]["Listing"].is_object()
            || doc["components"]["schemas"]["ListingData"].is_object()
    );
    insta::assert_json_snapshot!("openapi", doc);
}
