//! Request signing for the vendors that need it.
//!
//! Each scheme is a pure function over a [`SignableRequest`] (method, path,
//! query pairs, headers, body) plus the scheme's parameters (credentials,
//! timestamp, nonce), so it can be checked against the vendors' published
//! test vectors. The result carries the intermediate strings (canonical
//! request, string to sign) for those tests, and the headers or query
//! parameters to add. Thin helpers (`sign_request` in each module) apply the
//! result to a built `reqwest::Request`; call them inside the closure given to
//! [`crate::http::VendorClient::execute`], so every retry is signed afresh
//! with a new timestamp and nonce.
//!
//! | vendor | scheme | module |
//! |---|---|---|
//! | AWS, Kingsoft | AWS SigV4 (header or presigned query) | [`aws_sigv4`] |
//! | Tencent | TC3-HMAC-SHA256 | [`tencent_tc3`] |
//! | Alibaba | ACS3-HMAC-SHA256 (V3), RPC HMAC-SHA1 (V2) | [`alibaba`] |
//! | UCloud | SHA1 of sorted parameters + private key | [`ucloud`] |
//! | CTyun | EOP (`Eop-Authorization`) | [`ctyun`] |
//! | GCP, IBM, Azure | API key, bearer token, none | [`token`] |
//!
//! Secrets are [`secrecy::SecretString`] and are exposed only inside the
//! HMAC computation; no function here logs.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

use crate::error::ConnectorError;

pub mod alibaba;
pub mod aws_sigv4;
pub mod ctyun;
pub mod tencent_tc3;
pub mod token;
pub mod ucloud;

/// The parts of an HTTP request that signatures cover.
///
/// `path` is the request path as it goes on the wire (`/`, `/a%20b`); `query`
/// holds decoded name/value pairs in request order; `headers` holds
/// name/value pairs in order, a name may repeat. Signers only read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignableRequest {
    /// HTTP method, upper case (`GET`, `POST`).
    pub method: String,
    /// Path as sent, starting with `/`.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Headers to sign, in order (include `host`).
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty when there is none).
    pub body: Vec<u8>,
}

impl SignableRequest {
    /// A request with a method and path and nothing else.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        SignableRequest {
            method: method.into(),
            path: path.into(),
            ..SignableRequest::default()
        }
    }

    /// Adds a query parameter (decoded form).
    pub fn query_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads a built `reqwest::Request`: method, path, decoded query, the
    /// headers already set on it plus `host` (with the port when it is not
    /// the scheme's default), and the body. A streaming body cannot be
    /// signed and is an error.
    pub fn from_request(request: &reqwest::Request) -> Result<Self, ConnectorError> {
        let url = request.url();
        let host = url
            .host_str()
            .ok_or_else(|| ConnectorError::Request(format!("url `{url}` has no host")))?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut headers = vec![("host".to_owned(), host)];
        for (name, value) in request.headers() {
            if name == reqwest::header::HOST {
                continue;
            }
            let value = value.to_str().map_err(|_| {
                ConnectorError::Request(format!("header `{name}` is not visible ASCII"))
            })?;
            headers.push((name.as_str().to_owned(), value.to_owned()));
        }
        let body = match request.body() {
            None => Vec::new(),
            Some(body) => body
                .as_bytes()
                .ok_or_else(|| {
                    ConnectorError::Request("a streaming request body cannot be signed".into())
                })?
                .to_vec(),
        };
        Ok(SignableRequest {
            method: request.method().as_str().to_owned(),
            path: url.path().to_owned(),
            query: url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            headers,
            body,
        })
    }
}

/// Sets headers on a built request, replacing any of the same name.
pub fn apply_headers(
    request: &mut reqwest::Request,
    headers: &[(String, String)],
) -> Result<(), ConnectorError> {
    for (name, value) in headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| ConnectorError::Request(format!("header name `{name}`: {e}")))?;
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|e| ConnectorError::Request(format!("header `{name}` value: {e}")))?;
        request.headers_mut().insert(name, value);
    }
    Ok(())
}

/// Replaces a request's query with `pairs`, encoded with [`rfc3986_encode`]
/// (not form encoding: the vendors decode `+` as a plus, not a space).
pub fn set_query(request: &mut reqwest::Request, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        request.url_mut().set_query(None);
    } else {
        let query = encode_pairs(pairs);
        request.url_mut().set_query(Some(&query));
    }
}

/// `name=value&…` with both sides RFC 3986 encoded, in the given order.
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", rfc3986_encode(k), rfc3986_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`).
pub(crate) const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes all but the RFC 3986 unreserved characters, upper-case
/// hex: space is `%20`, `*` is `%2A`, `~` stays. AWS, Alibaba and Tencent all
/// canonicalise with this.
pub fn rfc3986_encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this never fails.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// HMAC-SHA1 of `data` under `key`.
pub(crate) fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    match Hmac::<sha1::Sha1>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// A fresh random nonce (32 hex digits) for schemes that need one.
pub fn new_nonce() -> String {
    // No rand dependency: hash the clock, a counter and the process id;
    // a nonce has to be unique, not secret.
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!("{now}:{count}:{}", std::process::id());
    sha256_hex(seed.as_bytes())[..32].to_owned()
}

/// Header values are trimmed and inner runs of whitespace become one space
/// (AWS, Alibaba, Tencent canonical headers).
pub(crate) fn trim_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lower-cased header names with their values (duplicates joined by `,` in
/// order), sorted by name: the canonical header list of AWS and ACS3.
pub(crate) fn canonical_header_map(headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut map: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    for (name, value) in headers {
        map.entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(trim_header_value(value));
    }
    map.into_iter()
        .map(|(name, values)| (name, values.join(",")))
        .collect()
}

/// Sorted, RFC 3986 encoded `k=v&…`, sorted by encoded name then value.
pub(crate) fn canonical_query_sorted(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (rfc3986_encode(k), rfc3986_encode(v)))
        .collect();
    encoded.sort();
    encoded
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_keeps_only_unreserved() {
        assert_eq!(rfc3986_encode("a b*~c/é"), "a%20b%2A~c%2F%C3%A9");
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(new_nonce(), new_nonce());
        assert_eq!(new_nonce().len(), 32);
    }

    #[test]
    fn reads_a_reqwest_request() {
        let client = reqwest::Client::new();
        let request = client
            .post("http://example.com:8080/a%20b?x=1&y=a%2Fb")
            .header("content-type", "application/json")
            .body("{}")
            .build()
            .unwrap();
        let parts = SignableRequest::from_request(&request).unwrap();
        assert_eq!(parts.method, "POST");
        assert_eq!(parts.path, "/a%20b");
        assert_eq!(
            parts.query,
            vec![("x".into(), "1".into()), ("y".into(), "a/b".into())]
        );
        assert_eq!(parts.header_value("host"), Some("example.com:8080"));
        assert_eq!(parts.header_value("Content-Type"), Some("application/json"));
        assert_eq!(parts.body, b"{}");
    }
}
