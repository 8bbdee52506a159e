//! Tencent Cloud API signature v3 (`TC3-HMAC-SHA256`).
//!
//! Checked against the worked example of Tencent's "Signature v3" document
//! (CVM `DescribeInstances`, ap-guangzhou).

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{
    SignableRequest, apply_headers, hmac_sha256, rfc3986_encode, sha256_hex, trim_header_value,
};
use crate::error::ConnectorError;

/// The algorithm name.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// What a TC3 signature is computed for.
#[derive(Debug, Clone)]
pub struct Tc3Params<'a> {
    /// SecretId (appears in the `Authorization` header).
    pub secret_id: &'a str,
    /// SecretKey.
    pub secret_key: &'a SecretString,
    /// Service (`cvm`, `billing`); also the first label of the host.
    pub service: &'a str,
    /// Request time, Unix seconds. The credential scope uses its UTC date.
    pub timestamp: i64,
}

/// The intermediate and final values of one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Signature {
    /// Hex SHA-256 of the body.
    pub hashed_request_payload: String,
    /// The canonical request.
    pub canonical_request: String,
    /// `<date>/<service>/tc3_request`.
    pub credential_scope: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// Hex signature.
    pub signature: String,
    /// `content-type;host`.
    pub signed_headers: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// The UTC date (`2019-02-25`) of a Unix timestamp.
fn utc_date(timestamp: i64) -> String {
    DateTime::<Utc>::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// Signs `request`. Every header in `request.headers` is signed (Tencent
/// expects `content-type` and `host`, optionally `x-tc-action`); names and
/// values are lower-cased as the document says. The canonical query is the
/// request's query in order (empty for POST).
pub fn sign(request: &SignableRequest, params: &Tc3Params<'_>) -> Tc3Signature {
    let hashed_request_payload = sha256_hex(&request.body);
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.trim().to_ascii_lowercase(),
                trim_header_value(v).to_ascii_lowercase(),
            )
        })
        .collect();
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let header_block: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let canonical_query = request
        .query
        .iter()
        .map(|(k, v)| format!("{}={}", rfc3986_encode(k), rfc3986_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_uri = if request.path.is_empty() {
        "/"
    } else {
        &request.path
    };
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_uri,
        canonical_query,
        header_block,
        signed_headers,
        hashed_request_payload
    );
    let date = utc_date(params.timestamp);
    let credential_scope = format!("{date}/{}/tc3_request", params.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        params.timestamp,
        credential_scope,
        sha256_hex(canonical_request.as_bytes())
    );
    let secret_date = hmac_sha256(
        format!("TC3{}", params.secret_key.expose_secret()).as_bytes(),
        date.as_bytes(),
    );
    let secret_service = hmac_sha256(&secret_date, params.service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    let signature = hex::encode(hmac_sha256(&secret_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        params.secret_id
    );
    Tc3Signature {
        hashed_request_payload,
        canonical_request,
        credential_scope,
        string_to_sign,
        signature,
        signed_headers,
        authorization,
    }
}

/// The Tencent API call a request makes, sent as `X-TC-*` headers.
#[derive(Debug, Clone)]
pub struct Tc3Call<'a> {
    /// `X-TC-Action` (`DescribeInstances`).
    pub action: &'a str,
    /// `X-TC-Version` (`2017-03-12`).
    pub version: &'a str,
    /// `X-TC-Region`; `None` for global APIs.
    pub region: Option<&'a str>,
    /// `X-TC-Language` (`zh-CN`, `en-US`); `None` for the default.
    pub language: Option<&'a str>,
}

/// Signs a built request in place: signs `content-type` and `host` (the
/// request should carry `content-type`, e.g. from `.json(..)`), then sets
/// `Authorization`, `X-TC-Action`, `X-TC-Timestamp`, `X-TC-Version` and,
/// when given, `X-TC-Region` and `X-TC-Language`.
pub fn sign_request(
    request: &mut reqwest::Request,
    params: &Tc3Params<'_>,
    call: &Tc3Call<'_>,
) -> Result<Tc3Signature, ConnectorError> {
    let mut parts = SignableRequest::from_request(request)?;
    parts
        .headers
        .retain(|(n, _)| n.eq_ignore_ascii_case("host") || n.eq_ignore_ascii_case("content-type"));
    let signature = sign(&parts, params);
    let mut headers = vec![
        ("Authorization".to_owned(), signature.authorization.clone()),
        ("X-TC-Action".to_owned(), call.action.to_owned()),
        ("X-TC-Timestamp".to_owned(), params.timestamp.to_string()),
        ("X-TC-Version".to_owned(), call.version.to_owned()),
    ];
    if let Some(region) = call.region {
        headers.push(("X-TC-Region".to_owned(), region.to_owned()));
    }
    if let Some(language) = call.language {
        headers.push(("X-TC-Language".to_owned(), language.to_owned()));
    }
    apply_headers(request, &headers)?;
    Ok(signature)
}
