//! The one HTTP client every connector uses: timeouts, a per-vendor rate
//! limit, and retries with jittered backoff on 429 and 5xx honouring
//! `Retry-After`. Requests are rebuilt (and so re-signed) for every attempt,
//! because signatures carry timestamps and nonces: that is why this is a
//! hand-written loop and not reqwest-retry's middleware, which replays one
//! built request. The delays come from `retry-policies`' exponential
//! backoff with full jitter, the same policy reqwest-retry uses.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use retry_policies::policies::ExponentialBackoff;
use retry_policies::{Jitter, RetryDecision, RetryPolicy};
use shiyun_core::listing::Vendor;

use crate::error::ConnectorError;
use crate::settings::VendorSettings;

/// Per-request timeout when the settings name none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest response body `execute` keeps in memory.
pub const MAX_BUFFERED_BODY: usize = 256 * 1024 * 1024;
/// Requests per second when the settings name none.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 10;
/// Retries after the first attempt when the settings name none.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// How many bytes of an error body an error message quotes.
const BODY_EXCERPT: usize = 512;

/// A vendor's HTTP response after retries: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct VendorResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl VendorResponse {
    /// The body as text, lossily (for messages).
    pub fn body_excerpt(&self) -> String {
        excerpt(&self.body)
    }
}

/// What a vendor-specific check decides about a response (see
/// [`VendorClient::with_classifier`]).
#[derive(Debug)]
pub enum Verdict {
    /// Hand it to the caller as a success.
    Accept,
    /// Retry it like a 5xx (a vendor's throttling code in a 200 or 400 body).
    Retry,
    /// Fail with this error, no retry (e.g. an auth error code in a 400 body).
    Fail(ConnectorError),
}

/// A vendor's own reading of a buffered response, consulted before the
/// status rules; `None` leaves the decision to them.
pub type Classifier = Arc<dyn Fn(Vendor, &VendorResponse) -> Option<Verdict> + Send + Sync>;

/// Waits out a delay between attempts. The client sleeps on the tokio timer
/// unless given another ([`VendorClient::with_sleeper`]), so tests can see
/// the delays asked for without waiting them out.
pub type Sleeper = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// Backoff between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Delay before the first retry (before jitter); doubles each retry.
    pub base_delay: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; a vendor asking for longer fails the
    /// request instead of parking a sync for an hour.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryConfig {
    fn policy(&self) -> ExponentialBackoff {
        let max = self.max_delay.max(self.base_delay);
        ExponentialBackoff::builder()
            .retry_bounds(self.base_delay, max)
            .jitter(Jitter::Full)
            .build_with_max_retries(self.max_retries)
    }
}

/// HTTP client of one vendor. Cloning shares the connection pool and the
/// rate limit.
#[derive(Clone)]
pub struct VendorClient {
    vendor: Vendor,
    http: reqwest::Client,
    limiter: Arc<DefaultDirectRateLimiter>,
    timeout: Duration,
    retry: RetryConfig,
    classifier: Option<Classifier>,
    sleeper: Option<Sleeper>,
}

impl std::fmt::Debug for VendorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorClient")
            .field("vendor", &self.vendor)
            .field("retry", &self.retry)
            .field("classifier", &self.classifier.is_some())
            .finish_non_exhaustive()
    }
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T),
    Retry {
        retry_after: Option<Duration>,
        error: ConnectorError,
    },
    Fail(ConnectorError),
}

impl VendorClient {
    /// A client for `vendor` with the limits of `settings` (timeout, requests
    /// per second, retries; defaults 30 s, 10/s, 5).
    pub fn new(vendor: Vendor, settings: &VendorSettings) -> Result<Self, ConnectorError> {
        let timeout = settings
            .timeout_seconds
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        if timeout.is_zero() {
            return Err(ConnectorError::Config(format!(
                "{vendor}: timeout_seconds must be above 0"
            )));
        }
        let rps = settings
            .requests_per_second
            .unwrap_or(DEFAULT_REQUESTS_PER_SECOND);
        let rps = NonZeroU32::new(rps).ok_or_else(|| {
            ConnectorError::Config(format!("{vendor}: requests_per_second must be above 0"))
        })?;
        // No client-wide total timeout: it would cut off a multi-GB bulk
        // download. `execute` sets one per request; streams rely on the read
        // timeout, which fires only when the vendor stalls.
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .read_timeout(timeout)
            .user_agent(concat!("shiyun-connectors/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry query-string keys (GCP's `key=`) to
            // another host; vendor APIs answer where they are asked.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConnectorError::Request(format!("cannot make the http client: {e}")))?;
        let retry = RetryConfig {
            max_retries: settings.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            ..RetryConfig::default()
        };
        Ok(VendorClient {
            vendor,
            http,
            limiter: Arc::new(RateLimiter::direct(Quota::per_second(rps))),
            timeout,
            retry,
            classifier: None,
            sleeper: None,
        })
    }

    /// The same client with other backoff delays (tests use milliseconds).
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The same client with a vendor-specific response check, for vendors
    /// that report throttling or bad credentials in the body (Tencent
    /// answers 200 with `Error.Code`, Alibaba 400 with `Code`).
    pub fn with_classifier(mut self, classifier: Classifier) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// The same client waiting between attempts with `sleeper` instead of
    /// the tokio timer.
    pub fn with_sleeper(mut self, sleeper: Sleeper) -> Self {
        self.sleeper = Some(sleeper);
        self
    }

    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.vendor
    }

    /// The per-request timeout (`timeout_seconds`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The backoff in use.
    pub fn retry_config(&self) -> RetryConfig {
        self.retry
    }

    /// Sends the request that `build` makes (called again for each attempt,
    /// so sign inside it) and reads the whole body. Retries 429, 5xx and
    /// transport failures; 401/403 are [`ConnectorError::CredentialsRejected`];
    /// other 4xx are [`ConnectorError::Http`] with a body excerpt.
    pub async fn execute<F>(&self, build: F) -> Result<VendorResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::Request, ConnectorError> + Send + Sync,
    {
        self.run(&build, Some(self.timeout), |response| self.buffer(response))
            .await
    }

    /// Like [`VendorClient::execute`] but returns the response once its
    /// status is a success, leaving the body unread: for multi-GB bulk files
    /// read with `bytes_stream()` or `chunk()`. A failure while reading the
    /// body is the caller's to handle (no retry mid-stream).
    pub async fn execute_stream<F>(&self, build: F) -> Result<reqwest::Response, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::Request, ConnectorError> + Send + Sync,
    {
        self.run(&build, None, |response| async move {
            if response.status().is_success() {
                Attempt::Done(response)
            } else {
                match self.buffer(response).await {
                    Attempt::Done(_) => Attempt::Fail(ConnectorError::Transport {
                        vendor: self.vendor,
                        message: "unexpected response status".into(),
                    }),
                    Attempt::Retry { retry_after, error } => Attempt::Retry { retry_after, error },
                    Attempt::Fail(error) => Attempt::Fail(error),
                }
            }
        })
        .await
    }

    /// The retry loop shared by both forms.
    async fn run<T, F, R, Fut>(
        &self,
        build: &F,
        total_timeout: Option<Duration>,
        finish: R,
    ) -> Result<T, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::Request, ConnectorError> + Send + Sync,
        R: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let policy = self.retry.policy();
        let started = SystemTime::now();
        let mut retries: u32 = 0;
        loop {
            self.limiter.until_ready().await;
            let mut request = build(&self.http)?;
            if request.timeout().is_none() {
                *request.timeout_mut() = total_timeout;
            }
            let outcome = match self.http.execute(request).await {
                Ok(response) => finish(response).await,
                Err(e) => self.transport_failure(&e),
            };
            let (retry_after, error) = match outcome {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { retry_after, error } => (retry_after, error),
            };
            let delay = match policy.should_retry(started, retries) {
                RetryDecision::DoNotRetry => return Err(error),
                RetryDecision::Retry { execute_after } => execute_after
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO),
            };
            let delay = match retry_after {
                Some(wait) if wait > self.retry.max_retry_after => return Err(error),
                // The vendor's own wait wins over our guess.
                Some(wait) => wait,
                None => delay,
            };
            retries += 1;
            tracing::warn!(
                vendor = %self.vendor,
                retry = retries,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "retrying vendor request"
            );
            match &self.sleeper {
                Some(sleep) => sleep(delay).await,
                None => tokio::time::sleep(delay).await,
            }
        }
    }

    fn transport_failure<T>(&self, e: &reqwest::Error) -> Attempt<T> {
        // reqwest's message names no credentials: signatures travel in headers,
        // and the one query-string key (GCP) is stripped by `without_url`.
        let message = strip_url(e);
        let error = ConnectorError::Transport {
            vendor: self.vendor,
            message,
        };
        if e.is_builder() || e.is_redirect() {
            Attempt::Fail(error)
        } else {
            Attempt::Retry {
                retry_after: None,
                error,
            }
        }
    }

    /// Reads the body and decides by the classifier, then by status.
    async fn buffer(&self, response: reqwest::Response) -> Attempt<VendorResponse> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut response = response;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BUFFERED_BODY {
                        // API pages are kilobytes to megabytes; bulk files
                        // go through `execute_stream` instead.
                        return Attempt::Fail(ConnectorError::Malformed {
                            vendor: self.vendor,
                            message: format!(
                                "response body over {} MiB; stream it instead",
                                MAX_BUFFERED_BODY / (1024 * 1024)
                            ),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return self.transport_failure(&e),
            }
        }
        let response = VendorResponse {
            status,
            headers,
            body,
        };
        if let Some(classifier) = &self.classifier {
            match classifier(self.vendor, &response) {
                Some(Verdict::Accept) => return Attempt::Done(response),
                Some(Verdict::Fail(error)) => return Attempt::Fail(error),
                Some(Verdict::Retry) => {
                    return Attempt::Retry {
                        retry_after: retry_after(&response.headers, Utc::now()),
                        error: self.http_error(&response),
                    };
                }
                None => {}
            }
        }
        match status {
            // Redirects are not followed (see `new`): a 3xx is an error that
            // names where the endpoint moved.
            200..=299 => Attempt::Done(response),
            401 | 403 => Attempt::Fail(ConnectorError::CredentialsRejected {
                vendor: self.vendor,
                message: format!("HTTP {status}: {}", response.body_excerpt()),
            }),
            408 | 429 | 500..=599 => Attempt::Retry {
                retry_after: retry_after(&response.headers, Utc::now()),
                error: self.http_error(&response),
            },
            _ => Attempt::Fail(self.http_error(&response)),
        }
    }

    fn http_error(&self, response: &VendorResponse) -> ConnectorError {
        let location = response
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            // Keep the path only: a query may carry a key.
            .map(|l| l.split('?').next().unwrap_or_default().to_owned());
        let message = match location {
            Some(to) if (300..400).contains(&response.status) => {
                format!("redirected to {to}; set the vendor endpoint to where it moved")
            }
            _ => response.body_excerpt(),
        };
        ConnectorError::Http {
            vendor: self.vendor,
            status: response.status,
            message,
        }
    }
}

/// Builds a request, failing as [`ConnectorError::Request`]: a request the
/// connector cannot build is its own bug, not the caller's input.
pub trait BuildRequest {
    /// The built request.
    fn build_request(self) -> Result<reqwest::Request, ConnectorError>;
}

impl BuildRequest for reqwest::RequestBuilder {
    fn build_request(self) -> Result<reqwest::Request, ConnectorError> {
        self.build()
            .map_err(|e| ConnectorError::Request(strip_url(&e)))
    }
}

fn strip_url(e: &reqwest::Error) -> String {
    // `reqwest::Error::without_url` takes the error by value; rebuild the
    // message without it instead.
    let text = e.to_string();
    match e.url() {
        Some(url) => text.replace(url.as_str(), "<url>"),
        None => text,
    }
}

/// The first [`BODY_EXCERPT`] bytes of a body as text, whitespace collapsed.
fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(BODY_EXCERPT)];
    let text = String::from_utf8_lossy(cut);
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > BODY_EXCERPT {
        out.push('…');
    }
    if out.is_empty() {
        "(empty body)".to_owned()
    } else {
        out
    }
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date
/// (RFC 9110), measured from `now`; a date in the past means no wait.
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?.to_utc();
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:30Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn settings_are_checked() {
        let zero_rate = VendorSettings {
            requests_per_second: Some(0),
            ..VendorSettings::default()
        };
        assert!(matches!(
            VendorClient::new(Vendor::Aws, &zero_rate),
            Err(ConnectorError::Config(_))
        ));
        let zero_timeout = VendorSettings {
            timeout_seconds: Some(0),
            ..VendorSettings::default()
        };
        assert!(matches!(
            VendorClient::new(Vendor::Aws, &zero_timeout),
            Err(ConnectorError::Config(_))
        ));
        let client = VendorClient::new(Vendor::Aws, &VendorSettings::default()).unwrap();
        assert_eq!(client.retry_config().max_retries, DEFAULT_MAX_RETRIES);
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt(b"  a \n b "), "a b");
        assert_eq!(excerpt(b""), "(empty body)");
        assert!(excerpt(&[b'x'; 2000]).chars().count() <= BODY_EXCERPT + 1);
    }
}
