//! The shared HTTP client (retries, Retry-After, timeouts, credentials,
//! rate limit) against wiremock on 127.0.0.1.

#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use shiyun_connectors::http::{BuildRequest, RetryConfig, VendorClient, VendorResponse, Verdict};
use shiyun_connectors::{ConnectorError, VendorSettings};
use shiyun_core::listing::Vendor;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(max_retries: u32) -> VendorClient {
    VendorClient::new(Vendor::Aws, &VendorSettings::default())
        .unwrap()
        .with_retry(RetryConfig {
            max_retries,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        })
}

/// The delays a client asked to wait between attempts, recorded instead of
/// slept: tests check the waits without a clock.
#[derive(Clone, Default)]
struct Delays(Arc<Mutex<Vec<Duration>>>);

impl Delays {
    /// `client`, recording its waits here.
    fn on(&self, client: VendorClient) -> VendorClient {
        let delays = Arc::clone(&self.0);
        client.with_sleeper(Arc::new(move |delay| {
            delays.lock().unwrap().push(delay);
            Box::pin(async {})
        }))
    }

    fn asked(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// A build closure that counts its calls and stamps each attempt, as a
/// signer stamps a fresh timestamp.
fn counted_get(
    url: String,
    calls: &AtomicUsize,
) -> impl Fn(&reqwest::Client) -> Result<reqwest::Request, ConnectorError> + Send + Sync + '_ {
    move |http: &reqwest::Client| {
        let attempt = calls.fetch_add(1, Ordering::SeqCst);
        http.get(&url)
            .header("x-attempt", attempt.to_string())
            .build_request()
    }
}

/// GETs `<server>/x` on a [`client`] with `max_retries`, counting attempts in `calls`.
async fn get_x(
    server: &MockServer,
    max_retries: u32,
    calls: &AtomicUsize,
) -> Result<VendorResponse, ConnectorError> {
    client(max_retries)
        .execute(counted_get(format!("{}/x", server.uri()), calls))
        .await
}

/// A local server answering every GET with `first`'s answers once each, in
/// order, then with `then`.
async fn answering<const N: usize>(
    first: [ResponseTemplate; N],
    then: ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    for answer in first {
        Mock::given(method("GET"))
            .respond_with(answer)
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(then)
        .mount(&server)
        .await;
    server
}

/// What a GET on a [`client`] with `max_retries` fails with against a server
/// always answering `answer`, and how many requests reached the server.
async fn failure_of(answer: ResponseTemplate, max_retries: u32) -> (ConnectorError, usize) {
    let server = answering([], answer).await;
    let calls = AtomicUsize::new(0);
    let err = get_x(&server, max_retries, &calls).await.unwrap_err();
    (err, received(&server).await.len())
}

async fn received(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

#[tokio::test]
async fn http_redirects_are_not_followed() {
    // A redirect would carry query-string keys to wherever it points.
    let server = answering(
        [],
        ResponseTemplate::new(302).insert_header("location", "/elsewhere?key=secret"),
    )
    .await;
    let calls = AtomicUsize::new(0);
    let err = get_x(&server, 2, &calls).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Http { status: 302, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("redirected to /elsewhere"), "{message}");
    assert!(!message.contains("secret"), "no query in errors: {message}");
    let paths: Vec<String> = received(&server)
        .await
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/x"], "the redirect target was never asked");
}

#[tokio::test]
async fn http_429_with_retry_after_then_200() {
    let server = answering(
        [ResponseTemplate::new(429).insert_header("Retry-After", "1")],
        ResponseTemplate::new(200).set_body_string("ok"),
    )
    .await;
    let calls = AtomicUsize::new(0);
    let delays = Delays::default();
    let response = delays
        .on(client(3))
        .execute(counted_get(format!("{}/prices", server.uri()), &calls))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"ok");
    // Retry-After: 1 wins over the 2 ms backoff.
    assert_eq!(delays.asked(), [Duration::from_secs(1)]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn http_500_and_503_then_200_rebuilds_each_attempt() {
    let busy = |status| ResponseTemplate::new(status).set_body_string("busy");
    let server = answering(
        [busy(500), busy(503)],
        ResponseTemplate::new(200).set_body_string("{}"),
    )
    .await;
    let calls = AtomicUsize::new(0);
    let response = get_x(&server, 5, &calls).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let attempts: Vec<String> = received(&server)
        .await
        .iter()
        .map(|r| r.headers["x-attempt"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        attempts,
        ["0", "1", "2"],
        "each attempt is built (and signed) afresh"
    );
}

#[tokio::test]
async fn http_401_and_403_are_credentials_rejected_without_retry() {
    for status in [401, 403] {
        let (err, requests) = failure_of(
            ResponseTemplate::new(status).set_body_string(
                r#"{"message":"The security token included in the request is invalid."}"#,
            ),
            5,
        )
        .await;
        let ConnectorError::CredentialsRejected { vendor, message } = err else {
            panic!("expected CredentialsRejected, got {err:?}");
        };
        assert_eq!(vendor, Vendor::Aws);
        assert!(message.contains("security token"), "{message}");
        assert_eq!(requests, 1, "HTTP {status} is not retried");
    }
}

#[tokio::test]
async fn http_retries_exhausted_is_the_last_error() {
    let (err, requests) = failure_of(
        ResponseTemplate::new(503).set_body_string("Service Unavailable"),
        2,
    )
    .await;
    let ConnectorError::Http {
        status, message, ..
    } = err
    else {
        panic!("expected Http, got {err:?}");
    };
    assert_eq!((status, message.as_str()), (503, "Service Unavailable"));
    assert_eq!(requests, 3, "the first attempt and 2 retries");
}

#[tokio::test]
async fn http_other_4xx_fail_at_once_with_a_body_excerpt() {
    let long = format!(
        "{{\"Code\":\"InvalidParameter\",\"pad\":\"{}\"}}",
        "x".repeat(4000)
    );
    let (err, requests) = failure_of(ResponseTemplate::new(400).set_body_string(long), 5).await;
    let ConnectorError::Http {
        status: 400,
        message,
        ..
    } = err
    else {
        panic!("expected Http 400, got {err:?}");
    };
    assert!(message.starts_with("{\"Code\":\"InvalidParameter\""));
    assert!(
        message.chars().count() < 600,
        "an excerpt, not the whole body"
    );
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn http_retry_after_beyond_the_cap_fails_instead_of_waiting() {
    let server = answering(
        [],
        ResponseTemplate::new(429).insert_header("Retry-After", "3600"),
    )
    .await;
    let calls = AtomicUsize::new(0);
    let delays = Delays::default();
    let err = delays
        .on(client(5))
        .execute(counted_get(format!("{}/x", server.uri()), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Http { status: 429, .. }),
        "{err:?}"
    );
    assert!(delays.asked().is_empty(), "{:?}", delays.asked());
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn http_connection_errors_are_retried_then_transport() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let calls = AtomicUsize::new(0);
    let err = client(2)
        .execute(counted_get(format!("http://127.0.0.1:{port}/x"), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Transport {
                vendor: Vendor::Aws,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn http_timeouts_are_retried_transport_errors() {
    // The vendor would answer 200 after 30 s: without the 1 s timeout the
    // request succeeds (slowly) and the test fails on its outcome, with no
    // upper bound on the time it took.
    let server = answering(
        [],
        ResponseTemplate::new(200).set_delay(Duration::from_secs(30)),
    )
    .await;
    let settings = VendorSettings {
        timeout_seconds: Some(1),
        ..VendorSettings::default()
    };
    let client = VendorClient::new(Vendor::Ucloud, &settings)
        .unwrap()
        .with_retry(RetryConfig {
            max_retries: 1,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(2),
            max_retry_after: Duration::from_secs(1),
        });
    assert_eq!(client.timeout(), Duration::from_secs(1));
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    let err = client
        .execute(counted_get(format!("{}/slow", server.uri()), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Transport {
                vendor: Vendor::Ucloud,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2),
        "two whole timeouts: {elapsed:?}"
    );
}

#[tokio::test]
async fn http_stream_checks_status_and_leaves_the_body_to_read() {
    let body = "sku,price\n".repeat(100_000);
    let server = answering(
        [ResponseTemplate::new(502)],
        ResponseTemplate::new(200).set_body_string(body.clone()),
    )
    .await;
    let calls = AtomicUsize::new(0);
    let response = client(3)
        .execute_stream(counted_get(format!("{}/offers.csv", server.uri()), &calls))
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total, body.len());
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A 401 on the stream form is the same error.
    let server = answering([], ResponseTemplate::new(401)).await;
    let err = client(3)
        .execute_stream(counted_get(format!("{}/offers.csv", server.uri()), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::CredentialsRejected { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_classifier_reads_vendor_envelopes() {
    // Tencent-style: HTTP 200 with a throttling code, then success.
    let server = answering(
        [ResponseTemplate::new(200)
            .set_body_string(r#"{"Response":{"Error":{"Code":"RequestLimitExceeded"}}}"#)],
        ResponseTemplate::new(200)
            .set_body_string(r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure"}}}"#),
    )
    .await;
    let classifier: shiyun_connectors::http::Classifier = Arc::new(|vendor, response| {
        let body = String::from_utf8_lossy(&response.body);
        if body.contains("RequestLimitExceeded") {
            Some(Verdict::Retry)
        } else if body.contains("AuthFailure") {
            Some(Verdict::Fail(ConnectorError::CredentialsRejected {
                vendor,
                message: "AuthFailure.SignatureFailure".into(),
            }))
        } else {
            None
        }
    });
    let calls = AtomicUsize::new(0);
    let err = client(3)
        .with_classifier(classifier)
        .execute(counted_get(format!("{}/x", server.uri()), &calls))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::CredentialsRejected { .. }),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn http_rate_limit_spaces_requests() {
    let server = answering([], ResponseTemplate::new(200)).await;
    let settings = VendorSettings {
        requests_per_second: Some(4),
        ..VendorSettings::default()
    };
    let client = VendorClient::new(Vendor::Gcp, &settings).unwrap();
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    for _ in 0..8 {
        client
            .execute(counted_get(format!("{}/x", server.uri()), &calls))
            .await
            .unwrap();
    }
    // A burst of 4, then one every 250 ms: the last of 8 goes out at ~1 s.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(received(&server).await.len(), 8);
}
