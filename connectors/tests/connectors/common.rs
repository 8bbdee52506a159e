//! Shared test helpers: where the shared vendor fixtures are, import
//! contexts, fast-retry clients, fault-injecting responders and page draining.
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::DateTime;
use secrecy::SecretString;
use shiyun_connectors::http::{RetryConfig, VendorClient};
use shiyun_connectors::{
    Connector, ConnectorError, FetchedPage, ImportContext, VendorSettings, connector_for,
};
use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::listing::{Listing, Vendor};
use shiyun_core::money::Money;
use shiyun_core::store::RecordRejection;
use wiremock::{MockBuilder, MockServer, Request, Respond, ResponseTemplate};

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

/// Everything a live sync fetched, page by page and all together.
pub(crate) struct Drained {
    /// The pages as fetched.
    pub pages: Vec<FetchedPage>,
    /// The listings of all pages, in order.
    pub listings: Vec<Listing>,
    /// The rejections of all pages, in order.
    pub rejections: Vec<RecordRejection>,
    /// The next-page tokens the pages handed out, in order.
    pub tokens: Vec<String>,
}

impl Drained {
    /// The SKUs of all listings, in order.
    pub(crate) fn skus(&self) -> Vec<&str> {
        self.listings.iter().map(Listing::vendor_sku).collect()
    }

    /// The listing with vendor SKU `sku`; fails the test naming the SKUs there are.
    pub(crate) fn listing(&self, sku: &str) -> &Listing {
        find_listing(&self.listings, sku)
    }
}

/// Fetches pages from the start until the connector says there is no next
/// one (at most 51, so a connector that never stops fails the page count).
pub(crate) async fn drain_all(connector: &dyn Connector) -> Drained {
    let mut drained = Drained {
        pages: Vec::new(),
        listings: Vec::new(),
        rejections: Vec::new(),
        tokens: Vec::new(),
    };
    let mut token: Option<String> = None;
    loop {
        let page = connector.fetch_page(token.as_deref()).await.unwrap();
        drained.listings.extend(page.listings.iter().cloned());
        drained.rejections.extend(page.rejections.iter().cloned());
        drained.tokens.extend(page.next_token.iter().cloned());
        token = page.next_token.clone();
        drained.pages.push(page);
        if token.is_none() || drained.pages.len() > 50 {
            return drained;
        }
    }
}

/// The listing with vendor SKU `sku`; fails the test naming the SKUs there are.
pub(crate) fn find_listing<'a>(listings: &'a [Listing], sku: &str) -> &'a Listing {
    listings
        .iter()
        .find(|l| l.vendor_sku() == sku)
        .unwrap_or_else(|| {
            panic!(
                "no listing {sku} among {:?}",
                listings.iter().map(Listing::vendor_sku).collect::<Vec<_>>()
            )
        })
}

/// The reason of the rejection of `key`; fails the test naming all rejections.
pub(crate) fn rejection_reason<'a>(rejections: &'a [RecordRejection], key: &str) -> &'a str {
    &rejections
        .iter()
        .find(|r| r.vendor_key == key)
        .unwrap_or_else(|| panic!("{key}: {rejections:?}"))
        .reason
}

/// Asserts `money` is exactly `amount` (scale included, as written) of `currency`.
#[track_caller]
pub(crate) fn assert_money(money: Money, amount: &str, currency: &str) {
    assert_amount(money, amount);
    assert_eq!(money.currency().code(), currency, "{amount}");
}

/// Asserts `money`'s amount is exactly `amount`, scale included (`"13.60"` is not `"13.6"`).
#[track_caller]
pub(crate) fn assert_amount(money: Money, amount: &str) {
    assert_eq!(money.amount().to_string(), amount);
}

/// The page of `result`, asserting it rejected nothing.
#[track_caller]
pub(crate) fn clean_page(result: Result<FetchedPage, ConnectorError>) -> FetchedPage {
    let page = result.unwrap();
    assert!(page.rejections.is_empty(), "{:?}", page.rejections);
    page
}

/// Asserts `listing` is `sku` of `vendor` in `category` and `service`, in
/// region `region` of `geography`.
#[track_caller]
pub(crate) fn assert_identity(
    listing: &Listing,
    vendor: Vendor,
    sku: &str,
    category: &str,
    service: &str,
    region: &str,
    geography: &str,
) {
    assert_eq!(listing.vendor(), vendor);
    assert_eq!(listing.vendor_sku(), sku);
    assert_eq!(listing.category().as_str(), category);
    assert_eq!(listing.service(), service);
    assert_eq!(listing.region().code, region);
    assert_eq!(listing.region().geography.to_string(), geography);
}

/// Asserts `err` is a malformed page.
#[track_caller]
pub(crate) fn assert_malformed(err: &ConnectorError) {
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err}");
}

/// Asserts `err` is a malformed page whose message names `what` (a missing parameter).
#[track_caller]
pub(crate) fn assert_malformed_naming(err: &ConnectorError, what: &str) {
    assert_malformed(err);
    assert!(err.to_string().contains(what), "{err}");
}

/// Asserts `err` asks for the request parameter `key`, as the caller's input to fix.
#[track_caller]
pub(crate) fn assert_missing_parameter(err: &ConnectorError, key: &str) {
    assert!(
        matches!(err, ConnectorError::MissingParameter { key: k, .. } if k == key),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("--param {key}=")),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}

/// Asserts `err` says the vendor refused the credentials.
#[track_caller]
pub(crate) fn assert_credentials_rejected(err: &ConnectorError) {
    assert!(
        matches!(err, ConnectorError::CredentialsRejected { .. }),
        "{err}"
    );
}

// ---------------------------------------------------------------- live vendors

/// Answers the first request `given` matches with `status` (a 429 says
/// `Retry-After: 0`); it goes before the answers of [`mount_answer`].
pub(crate) async fn mount_fault_once(server: &MockServer, given: MockBuilder, status: u16) {
    let mut fault = ResponseTemplate::new(status);
    if status == 429 {
        fault = fault.insert_header("Retry-After", "0");
    }
    given
        .respond_with(fault)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
}

/// Answers every request `given` matches with `answer`, once the faults of
/// [`mount_fault_once`] are spent.
pub(crate) async fn mount_answer(
    server: &MockServer,
    given: MockBuilder,
    answer: impl Respond + 'static,
) {
    given
        .respond_with(answer)
        .with_priority(2)
        .mount(server)
        .await;
}

/// The query of `request` by name.
pub(crate) fn query_map(request: &Request) -> BTreeMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

/// Asserts every request carries `header` starting with `prefix` and containing each of `parts`.
#[track_caller]
pub(crate) fn assert_all_signed(requests: &[Request], header: &str, prefix: &str, parts: &[&str]) {
    for request in requests {
        let value = request
            .headers
            .get(header)
            .unwrap_or_else(|| panic!("no {header} on {}", request.url))
            .to_str()
            .unwrap();
        assert!(value.starts_with(prefix), "{value}");
        for part in parts {
            assert!(value.contains(part), "{part} not in {value}");
        }
    }
}

/// Settings pointing at `endpoint` with an access key pair and nothing else.
pub(crate) fn keyed_settings(endpoint: &str, key_id: &str, secret: &str) -> VendorSettings {
    VendorSettings {
        endpoint: Some(endpoint.to_owned()),
        access_key_id: Some(key_id.to_owned()),
        secret_access_key: Some(SecretString::from(secret)),
        ..VendorSettings::default()
    }
}

/// The live connector of `vendor` on a [`fast_client`].
pub(crate) fn live_connector(vendor: Vendor, settings: &VendorSettings) -> Box<dyn Connector> {
    connector_for(vendor, settings, fast_client(vendor, settings)).unwrap()
}

/// Why the live connector of `vendor` cannot be made from `settings`.
pub(crate) fn connector_error(vendor: Vendor, settings: &VendorSettings) -> ConnectorError {
    match connector_for(vendor, settings, fast_client(vendor, settings)) {
        Ok(_) => panic!("{vendor:?} connector made from {settings:?}"),
        Err(err) => err,
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

/// [`ctx`] with request `params` (for the vendors whose price answers do
/// not repeat the request).
pub(crate) fn ctx_with(params: &[(&str, &str)]) -> ImportContext {
    ImportContext {
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..ctx()
    }
}

/// Asserts no text of `listings` glues a Latin word to a Chinese one, and
/// that each has a name and a description in both languages.
#[track_caller]
pub(crate) fn assert_texts_clean(listings: &[Listing]) {
    assert!(!listings.is_empty(), "no listings to check");
    for listing in listings {
        for text in [
            &listing.name().zh,
            &listing.name().en,
            &listing.description().zh,
            &listing.description().en,
        ] {
            let text = text
                .as_deref()
                .unwrap_or_else(|| panic!("{} lacks a name or description", listing.vendor_sku()));
            assert!(
                !shiyun_core::listing::text::has_glued_words(text),
                "glued words in {text:?}"
            );
        }
    }
}

/// Asserts `listing`'s names say its vendor and its city in both
/// languages, and its descriptions say them too.
#[track_caller]
pub(crate) fn assert_names_vendor_and_city(listing: &Listing, city_zh: &str, city_en: &str) {
    let vendor = listing.vendor().builtin().unwrap();
    let name_zh = listing.name().zh.as_deref().unwrap_or_default();
    let name_en = listing.name().en.as_deref().unwrap_or_default();
    let description_zh = listing.description().zh.as_deref().unwrap_or_default();
    let description_en = listing.description().en.as_deref().unwrap_or_default();
    for (text, vendor_name, city) in [
        (name_zh, vendor.name_zh(), city_zh),
        (name_en, vendor.name_en(), city_en),
        (description_zh, vendor.name_zh(), city_zh),
        (description_en, vendor.name_en(), city_en),
    ] {
        assert!(text.contains(vendor_name), "{vendor_name} not in {text:?}");
        assert!(text.contains(city), "{city} not in {text:?}");
    }
}

/// Asserts the page kept its listing in `code`, a region the geography does
/// not know, under that code and without names.
#[track_caller]
pub(crate) fn assert_kept_unknown_region(page: &FetchedPage, code: &str) {
    let listing = page
        .listings
        .iter()
        .find(|l| l.region().code == code)
        .unwrap_or_else(|| panic!("no listing in {code}: {:?}", page.rejections));
    assert!(listing.region().name.is_empty());
    // The sync notes it once (the page's pass through the geography).
    assert_eq!(
        shiyun_core::geography::place(listing.vendor().builtin().unwrap(), code),
        shiyun_core::geography::Placement::Unknown
    );
    assert!(
        !page.rejections.iter().any(|r| r.reason.contains(code)),
        "{:?}",
        page.rejections
    );
}
