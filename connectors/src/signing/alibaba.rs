//! Alibaba Cloud signatures: V3 (`ACS3-HMAC-SHA256`, headers, for ROA and
//! RPC APIs) and the RPC V2 signature (`HMAC-SHA1`, a `Signature` query
//! parameter), which older APIs and the BSS price APIs still take.
//!
//! Checked against the "fixed parameter values" examples of Alibaba's V3 and
//! V2 signature documents, and the older ECS `DescribeRegions` example.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{
    SignableRequest, apply_headers, canonical_header_map, canonical_query_sorted, hmac_sha1,
    hmac_sha256, rfc3986_encode, set_query, sha256_hex,
};
use crate::error::ConnectorError;

/// The V3 algorithm name.
pub const ACS3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// What a V3 signature is computed for.
#[derive(Debug, Clone)]
pub struct Acs3Params<'a> {
    /// AccessKey id.
    pub access_key_id: &'a str,
    /// AccessKey secret (the HMAC key as is; V2 appends `&`, V3 does not).
    pub access_key_secret: &'a SecretString,
    /// `x-acs-action` (`RunInstances`).
    pub action: &'a str,
    /// `x-acs-version` (`2014-05-26`).
    pub version: &'a str,
    /// `x-acs-date`.
    pub date: DateTime<Utc>,
    /// `x-acs-signature-nonce`: unique per request ([`super::new_nonce`]).
    pub nonce: &'a str,
}

/// Result of a V3 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3Signing {
    /// Hex SHA-256 of the body (`x-acs-content-sha256`).
    pub content_sha256: String,
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// Hex signature.
    pub signature: String,
    /// `host;x-acs-action;…`.
    pub signed_headers: String,
    /// The `Authorization` header value.
    pub authorization: String,
    /// Headers to add: the `x-acs-*` headers and `Authorization`.
    pub headers: Vec<(String, String)>,
}

/// Signs `request` with V3. Of `request.headers`, `host`, `content-type` and
/// any `x-acs-*` (e.g. `x-acs-security-token`) are signed; the `x-acs-*`
/// headers of `params` are added. The canonical query is sorted and RFC 3986
/// encoded.
pub fn acs3_sign(request: &SignableRequest, params: &Acs3Params<'_>) -> Acs3Signing {
    let content_sha256 = sha256_hex(&request.body);
    let own = [
        ("x-acs-action", params.action.to_owned()),
        ("x-acs-version", params.version.to_owned()),
        (
            "x-acs-date",
            params.date.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("x-acs-signature-nonce", params.nonce.to_owned()),
        ("x-acs-content-sha256", content_sha256.clone()),
    ];
    let mut signed: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            (name == "host" || name == "content-type" || name.starts_with("x-acs-"))
                && !own.iter().any(|(o, _)| *o == name)
        })
        .cloned()
        .collect();
    signed.extend(own.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
    let canonical_headers = canonical_header_map(&signed);
    let signed_headers = canonical_headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let header_block: String = canonical_headers
        .iter()
        .map(|(n, v)| format!("{n}:{v}\n"))
        .collect();
    let canonical_uri = if request.path.is_empty() {
        "/"
    } else {
        &request.path
    };
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_uri,
        canonical_query_sorted(&request.query),
        header_block,
        signed_headers,
        content_sha256
    );
    let string_to_sign = format!(
        "{ACS3_ALGORITHM}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let signature = hex::encode(hmac_sha256(
        params.access_key_secret.expose_secret().as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let authorization = format!(
        "{ACS3_ALGORITHM} Credential={},SignedHeaders={signed_headers},Signature={signature}",
        params.access_key_id
    );
    let mut headers: Vec<(String, String)> = own
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect();
    headers.push(("Authorization".to_owned(), authorization.clone()));
    Acs3Signing {
        content_sha256,
        canonical_request,
        string_to_sign,
        signature,
        signed_headers,
        authorization,
        headers,
    }
}

/// Signs a built request in place with V3.
pub fn acs3_sign_request(
    request: &mut reqwest::Request,
    params: &Acs3Params<'_>,
) -> Result<Acs3Signing, ConnectorError> {
    let parts = SignableRequest::from_request(request)?;
    let signing = acs3_sign(&parts, params);
    apply_headers(request, &signing.headers)?;
    Ok(signing)
}

/// Result of an RPC V2 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcV2Signature {
    /// The sorted, encoded parameters (`AccessKeyId=…&Action=…`).
    pub canonicalized_query: String,
    /// `GET&%2F&<encoded canonicalized query>`.
    pub string_to_sign: String,
    /// Base64 HMAC-SHA1 under `secret + "&"`; percent-encode it in a URL.
    pub signature: String,
}

/// The RPC V2 signature of `parameters` (every request parameter, the
/// common ones included, `Signature` excluded) for `http_method`.
pub fn rpc_v2_sign(
    http_method: &str,
    parameters: &[(String, String)],
    access_key_secret: &SecretString,
) -> RpcV2Signature {
    let canonicalized_query = canonical_query_sorted(parameters);
    let string_to_sign = format!(
        "{}&{}&{}",
        http_method.to_ascii_uppercase(),
        rfc3986_encode("/"),
        rfc3986_encode(&canonicalized_query)
    );
    let key = format!("{}&", access_key_secret.expose_secret());
    let signature = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha1(key.as_bytes(), string_to_sign.as_bytes()));
    RpcV2Signature {
        canonicalized_query,
        string_to_sign,
        signature,
    }
}

/// The common parameters of an RPC V2 call.
#[derive(Debug, Clone)]
pub struct RpcV2Params<'a> {
    /// AccessKey id.
    pub access_key_id: &'a str,
    /// AccessKey secret.
    pub access_key_secret: &'a SecretString,
    /// `Action`.
    pub action: &'a str,
    /// `Version` (`2014-05-26`).
    pub version: &'a str,
    /// `Timestamp`.
    pub timestamp: DateTime<Utc>,
    /// `SignatureNonce`: unique per request ([`super::new_nonce`]).
    pub nonce: &'a str,
}

/// Every parameter of an RPC V2 call, `Signature` last: the API's own
/// parameters plus the common ones (`Format=JSON`, `SignatureMethod=HMAC-SHA1`,
/// `SignatureVersion=1.0`, …).
pub fn rpc_v2_parameters(
    http_method: &str,
    params: &RpcV2Params<'_>,
    api_parameters: &[(String, String)],
) -> (Vec<(String, String)>, RpcV2Signature) {
    let mut all: Vec<(String, String)> = api_parameters.to_vec();
    for (name, value) in [
        ("AccessKeyId", params.access_key_id.to_owned()),
        ("Action", params.action.to_owned()),
        ("Format", "JSON".to_owned()),
        ("SignatureMethod", "HMAC-SHA1".to_owned()),
        ("SignatureNonce", params.nonce.to_owned()),
        ("SignatureVersion", "1.0".to_owned()),
        (
            "Timestamp",
            params.timestamp.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("Version", params.version.to_owned()),
    ] {
        all.retain(|(n, _)| n != name);
        all.push((name.to_owned(), value));
    }
    all.retain(|(n, _)| n != "Signature");
    let signature = rpc_v2_sign(http_method, &all, params.access_key_secret);
    all.push(("Signature".to_owned(), signature.signature.clone()));
    (all, signature)
}

/// Signs a built GET request in place with V2: its query parameters are the
/// API's parameters; the query is replaced by all parameters and `Signature`.
pub fn rpc_v2_sign_request(
    request: &mut reqwest::Request,
    params: &RpcV2Params<'_>,
) -> Result<RpcV2Signature, ConnectorError> {
    let api_parameters: Vec<(String, String)> = request
        .url()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (all, signature) = rpc_v2_parameters(request.method().as_str(), params, &api_parameters);
    set_query(request, &all);
    Ok(signature)
}
