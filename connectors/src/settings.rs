//! Per-vendor settings: endpoint override, credentials, regions, schedule and
//! rate limit. Embedded in the server's settings under `[vendors.<id>]`.

use secrecy::SecretString;
use serde::Deserialize;

/// Settings of one vendor's connector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorSettings {
    /// Base URL replacing the vendor's public endpoint (tests point it at a local server).
    pub endpoint: Option<String>,
    /// Access key id (AWS, Alibaba, Tencent SecretId, UCloud PublicKey, CTyun, Kingsoft, IBM API key id).
    pub access_key_id: Option<String>,
    /// Secret key or API key; never logged.
    pub secret_access_key: Option<SecretString>,
    /// Regions to sync; empty means the connector's default set.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Services or product codes to sync; empty means the connector's default set.
    #[serde(default)]
    pub services: Vec<String>,
    /// Cron expression (seconds first, as the `cron` crate reads it) for scheduled syncs.
    pub schedule: Option<String>,
    /// Requests per second allowed against the vendor.
    pub requests_per_second: Option<u32>,
    /// Per-request timeout in seconds.
    pub timeout_seconds: Option<u64>,
    /// Retries on 429 and 5xx before a page fails.
    pub max_retries: Option<u32>,
}
