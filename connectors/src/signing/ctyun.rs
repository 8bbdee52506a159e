//! China Telecom Cloud (天翼云) EOP signature: the `Eop-Authorization` header.
//!
//! ```text
//! string to sign = "ctyun-eop-request-id:<id>\neop-date:<eop-date>\n" + "\n"
//!                  + <sorted query> + "\n" + hex(SHA256(body))
//! kTime = HMAC-SHA256(SK, eop-date); kAk = HMAC-SHA256(kTime, AK);
//! kDate = HMAC-SHA256(kAk, yyyyMMdd)
//! Signature = base64(HMAC-SHA256(kDate, string to sign))
//! Eop-Authorization: <AK> Headers=ctyun-eop-request-id;eop-date Signature=<Signature>
//! ```
//!
//! CTyun publishes no test vector (see `signing-vectors.json`); this follows
//! the official Go SDK (ctyun-sdk-go `ctyun-sdk-core/request.go`) and is
//! tested against an independent computation of that description.

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{SignableRequest, apply_headers, canonical_query_sorted, hmac_sha256, sha256_hex};
use crate::error::ConnectorError;

/// What an EOP signature is computed for.
#[derive(Debug, Clone)]
pub struct EopParams<'a> {
    /// Access key (AK).
    pub access_key: &'a str,
    /// Secret key (SK).
    pub secret_key: &'a SecretString,
    /// Request time. Formatted on the China Standard Time clock (UTC+8)
    /// with a literal `Z`, as the official SDKs running in China do and
    /// the gateway expects.
    pub time: DateTime<Utc>,
    /// `ctyun-eop-request-id`: unique per request ([`new_request_id`]).
    pub request_id: &'a str,
}

impl EopParams<'_> {
    /// `eop-date`: `yyyyMMddTHHmmssZ` on the UTC+8 clock (China has no DST).
    pub fn eop_date(&self) -> String {
        (self.time + TimeDelta::hours(8))
            .format("%Y%m%dT%H%M%SZ")
            .to_string()
    }
}

/// Result of an EOP signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EopSigning {
    /// The string to sign.
    pub string_to_sign: String,
    /// Base64 signature.
    pub signature: String,
    /// The `Eop-Authorization` header value.
    pub authorization: String,
    /// Headers to add: `ctyun-eop-request-id`, `eop-date`, `Eop-Authorization`.
    pub headers: Vec<(String, String)>,
}

/// A fresh request id in UUID form.
pub fn new_request_id() -> String {
    let hex = super::new_nonce();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Signs `request` (its query and body are covered; headers are not).
pub fn sign(request: &SignableRequest, params: &EopParams<'_>) -> EopSigning {
    let eop_date = params.eop_date();
    let string_to_sign = format!(
        "ctyun-eop-request-id:{}\neop-date:{}\n\n{}\n{}",
        params.request_id,
        eop_date,
        canonical_query_sorted(&request.query),
        sha256_hex(&request.body)
    );
    let k_time = hmac_sha256(
        params.secret_key.expose_secret().as_bytes(),
        eop_date.as_bytes(),
    );
    let k_ak = hmac_sha256(&k_time, params.access_key.as_bytes());
    let day = eop_date.get(..8).unwrap_or_default();
    let k_date = hmac_sha256(&k_ak, day.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(&k_date, string_to_sign.as_bytes()));
    let authorization = format!(
        "{} Headers=ctyun-eop-request-id;eop-date Signature={signature}",
        params.access_key
    );
    let headers = vec![
        (
            "ctyun-eop-request-id".to_owned(),
            params.request_id.to_owned(),
        ),
        ("eop-date".to_owned(), eop_date),
        ("Eop-Authorization".to_owned(), authorization.clone()),
    ];
    EopSigning {
        string_to_sign,
        signature,
        authorization,
        headers,
    }
}

/// Signs a built request in place.
pub fn sign_request(
    request: &mut reqwest::Request,
    params: &EopParams<'_>,
) -> Result<EopSigning, ConnectorError> {
    let parts = SignableRequest::from_request(request)?;
    let signing = sign(&parts, params);
    apply_headers(request, &signing.headers)?;
    Ok(signing)
}
