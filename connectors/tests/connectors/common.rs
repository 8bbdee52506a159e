//! Shared test helpers: where the shared vendor fixtures are, import
//! contexts, fast-retry clients, fault-injecting responders and page draining.
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use shiyun_connectors::http::{RetryConfig, VendorClient};
use shiyun_connectors::{Connector, FetchedPage, ImportContext, VendorSettings};
use shiyun_core::listing::Vendor;
use wiremock::{Request, Respond, ResponseTemplate};

/// `../shared/fixtures` beside the repository root, or `FIXTURES_DIR`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FIXTURES_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// The bytes of `vendors/<vendor>/<file>`; fails the test when missing, so a
/// missing fixture folder is never a silent pass.
pub fn vendor_fixture(vendor: &str, file: &str) -> Vec<u8> {
    let path = fixtures_dir().join("vendors").join(vendor).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The parsed signing vectors.
pub fn signing_vectors() -> serde_json::Value {
    let path = fixtures_dir().join("signing-vectors.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// An import context fetched at a fixed time, with no parameters.
pub(crate) fn ctx() -> ImportContext {
    ImportContext::at(
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc(),
    )
}

/// Answers with `inner`, except that the calls numbered in `faults` (from 0)
/// get that HTTP status with `Retry-After: 0`.
pub(crate) struct WithFaults<F> {
    calls: AtomicUsize,
    faults: Vec<(usize, u16)>,
    inner: F,
}

impl<F> WithFaults<F> {
    pub(crate) fn new(faults: &[(usize, u16)], inner: F) -> Self {
        WithFaults {
            calls: AtomicUsize::new(0),
            faults: faults.to_vec(),
            inner,
        }
    }
}

impl<F: Fn(&Request) -> ResponseTemplate + Send + Sync + 'static> Respond for WithFaults<F> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some((_, status)) = self.faults.iter().find(|(i, _)| *i == n) {
            return ResponseTemplate::new(*status)
                .insert_header("Retry-After", "0")
                .set_body_string(r#"{"message":"try again"}"#);
        }
        (self.inner)(request)
    }
}

/// Fetches pages until the connector says there is no next one.
pub(crate) async fn drain(connector: &dyn Connector) -> Vec<FetchedPage> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = connector.fetch_page(token.as_deref()).await.unwrap();
        token = page.next_token.clone();
        pages.push(page);
        if token.is_none() || pages.len() > 50 {
            return pages;
        }
    }
}

/// Settings pointing at `endpoint`, with no rate limit to speak of.
pub(crate) fn settings_for(endpoint: &str) -> VendorSettings {
    VendorSettings {
        endpoint: Some(endpoint.to_owned()),
        max_retries: Some(4),
        timeout_seconds: Some(10),
        requests_per_second: Some(1000),
        ..VendorSettings::default()
    }
}

/// A client of `vendor` with millisecond backoff and the settings' retries
/// (3 when unset).
pub(crate) fn fast_client(vendor: Vendor, settings: &VendorSettings) -> VendorClient {
    VendorClient::new(vendor, settings)
        .unwrap()
        .with_retry(RetryConfig {
            max_retries: settings.max_retries.unwrap_or(3),
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(1),
        })
}

/// An import context fetched at 2025-01-02T03:04:05Z with request `params`
/// (the vendors whose price answers do not repeat the request).
pub(crate) fn params_ctx(params: &[(&str, &str)]) -> ImportContext {
    ImportContext {
        fetched_at: Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}
