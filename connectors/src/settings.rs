//! Per-vendor settings: endpoint override, credentials, regions, schedule and
//! rate limit. Embedded in the server's settings under `[vendors.<id>]`.

use secrecy::SecretString;
use serde::Deserialize;
use shiyun_core::listing::Vendor;
use url::Url;

use crate::ConnectorError;

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

impl VendorSettings {
    /// The endpoint override, else `default`, checked to be a URL and without
    /// a trailing `/` (callers append paths).
    pub fn endpoint_or(&self, default: &str, vendor: Vendor) -> Result<String, ConnectorError> {
        let endpoint = self
            .endpoint
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
            .to_owned();
        parse_endpoint(&endpoint, vendor)?;
        Ok(endpoint)
    }

    /// [`VendorSettings::endpoint_or`] as a parsed URL.
    pub fn endpoint_url_or(&self, default: &str, vendor: Vendor) -> Result<Url, ConnectorError> {
        parse_endpoint(&self.endpoint_or(default, vendor)?, vendor)
    }

    /// The endpoint override, if any, checked as [`VendorSettings::endpoint_or`]
    /// does (for vendors whose default endpoint depends on the region).
    pub fn endpoint_override(&self, vendor: Vendor) -> Result<Option<String>, ConnectorError> {
        self.endpoint
            .as_deref()
            .map(|e| self.endpoint_or(e, vendor))
            .transpose()
    }

    /// The key pair (`access_key_id`, `secret_access_key`); `missing` says
    /// which settings to fill, in the vendor's words.
    pub fn credentials(
        &self,
        vendor: Vendor,
        missing: &str,
    ) -> Result<(String, SecretString), ConnectorError> {
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
            _ => Err(missing_credentials(vendor, missing)),
        }
    }

    /// The secret alone (an API key).
    pub fn secret(&self, vendor: Vendor, missing: &str) -> Result<SecretString, ConnectorError> {
        self.secret_access_key
            .clone()
            .ok_or_else(|| missing_credentials(vendor, missing))
    }

    /// The configured regions, else `defaults`.
    pub fn regions_or(&self, defaults: &[&str]) -> Vec<String> {
        or_defaults(&self.regions, defaults)
    }

    /// The configured services, else `defaults`.
    pub fn services_or(&self, defaults: &[&str]) -> Vec<String> {
        or_defaults(&self.services, defaults)
    }
}

/// `given`, or `defaults` when `given` is empty (an empty setting means the
/// connector's default set).
pub fn or_defaults(given: &[String], defaults: &[&str]) -> Vec<String> {
    if given.is_empty() {
        defaults.iter().map(|s| (*s).to_owned()).collect()
    } else {
        given.to_vec()
    }
}

fn parse_endpoint(endpoint: &str, vendor: Vendor) -> Result<Url, ConnectorError> {
    Url::parse(endpoint)
        .map_err(|e| ConnectorError::Config(format!("{vendor} endpoint `{endpoint}`: {e}")))
}

fn missing_credentials(vendor: Vendor, missing: &str) -> ConnectorError {
    ConnectorError::MissingCredentials {
        vendor,
        message: missing.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_and_trimmed() {
        let mut settings = VendorSettings::default();
        assert_eq!(
            settings
                .endpoint_or("https://api.example.com/", Vendor::Aws)
                .unwrap(),
            "https://api.example.com"
        );
        assert_eq!(settings.endpoint_override(Vendor::Kingsoft).unwrap(), None);
        settings.endpoint = Some("not a url".into());
        let error = settings
            .endpoint_or("https://api.example.com", Vendor::Gcp)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "bad connector settings: gcp endpoint `not a url`: relative URL without a base"
        );
        assert!(settings.endpoint_override(Vendor::Kingsoft).is_err());
    }

    #[test]
    fn credentials_need_both_halves_and_lists_fall_back() {
        let mut settings = VendorSettings {
            access_key_id: Some("id".into()),
            ..VendorSettings::default()
        };
        assert!(matches!(
            settings.credentials(Vendor::Alibaba, "set both"),
            Err(ConnectorError::MissingCredentials { .. })
        ));
        settings.secret_access_key = Some(SecretString::from("s"));
        assert_eq!(settings.credentials(Vendor::Alibaba, "").unwrap().0, "id");
        assert_eq!(settings.regions_or(&["a", "b"]), ["a", "b"]);
        settings.regions = vec!["c".into()];
        assert_eq!(settings.regions_or(&["a"]), ["c"]);
    }
}
