//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`), in both forms: the
//! `Authorization` header and the presigned URL (`X-Amz-*` query
//! parameters). Kingsoft Cloud's OpenAPI signs with the same algorithm (its
//! SDK uses AWS4Auth with service `kec`, region `cn-beijing-6`, …), so its
//! connector uses this module too.
//!
//! Checked against the aws-c-auth SigV4 test suite (38 cases × 2 forms).

use chrono::{DateTime, Utc};
use percent_encoding::utf8_percent_encode;
use secrecy::{ExposeSecret, SecretString};

use super::{
    RFC3986, SignableRequest, apply_headers, canonical_header_map, canonical_query_sorted,
    hmac_sha256, set_query, sha256_hex,
};
use crate::error::ConnectorError;

/// The algorithm name.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// AWS (or Kingsoft) credentials.
#[derive(Debug, Clone)]
pub struct AwsCredentials {
    /// Access key id (`AKIDEXAMPLE`); not secret, it appears in requests.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: SecretString,
    /// Session token of temporary credentials, sent as `X-Amz-Security-Token`.
    pub session_token: Option<SecretString>,
}

impl AwsCredentials {
    /// Long-term credentials (no session token).
    pub fn new(access_key_id: impl Into<String>, secret_access_key: SecretString) -> Self {
        AwsCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key,
            session_token: None,
        }
    }
}

/// What a SigV4 signature is computed for.
#[derive(Debug, Clone)]
pub struct SigV4Params<'a> {
    /// The credentials.
    pub credentials: &'a AwsCredentials,
    /// Region (`us-east-1`; Kingsoft `cn-beijing-6`).
    pub region: &'a str,
    /// Service (`pricing`; Kingsoft `kec`).
    pub service: &'a str,
    /// Signing time; the request is valid for a few minutes around it.
    pub time: DateTime<Utc>,
    /// Normalise the path (remove `.`/`..` segments, collapse `//`) before
    /// signing: true for every service but S3.
    pub normalize_path: bool,
    /// Add and sign an `x-amz-content-sha256` header (header form only).
    pub sign_body: bool,
    /// Send the session token without signing it (a few services want this).
    pub omit_session_token: bool,
}

impl<'a> SigV4Params<'a> {
    /// The usual parameters: normalised path, no body-hash header, session token signed.
    pub fn new(
        credentials: &'a AwsCredentials,
        region: &'a str,
        service: &'a str,
        time: DateTime<Utc>,
    ) -> Self {
        SigV4Params {
            credentials,
            region,
            service,
            time,
            normalize_path: true,
            sign_body: false,
            omit_session_token: false,
        }
    }

    fn amz_date(&self) -> String {
        self.time.format("%Y%m%dT%H%M%SZ").to_string()
    }

    fn short_date(&self) -> String {
        self.time.format("%Y%m%d").to_string()
    }

    /// `<date>/<region>/<service>/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.short_date(),
            self.region,
            self.service
        )
    }
}

/// The intermediate and final values of one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Signature {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// Hex signature.
    pub signature: String,
    /// `host;x-amz-date;…`.
    pub signed_headers: String,
    /// `<date>/<region>/<service>/aws4_request`.
    pub credential_scope: String,
}

/// Result of the header form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSigning {
    /// The signature and its intermediate strings.
    pub signature: SigV4Signature,
    /// The `Authorization` header value.
    pub authorization: String,
    /// Headers to add, in order: `X-Amz-Security-Token` (when a token is
    /// set), `X-Amz-Date`, `x-amz-content-sha256` (with `sign_body`),
    /// `Authorization`.
    pub headers: Vec<(String, String)>,
}

/// Result of the presigned (query) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySigning {
    /// The signature and its intermediate strings.
    pub signature: SigV4Signature,
    /// Query parameters to append (decoded), in order: `X-Amz-Algorithm`,
    /// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders`,
    /// `X-Amz-Expires`, `X-Amz-Security-Token` (when set), `X-Amz-Signature`.
    pub query: Vec<(String, String)>,
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &SecretString, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_secret = format!("AWS4{}", secret.expose_secret());
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// RFC 3986 `remove_dot_segments` plus collapsing of empty segments, keeping
/// a trailing slash.
pub fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    let mut normalized = format!("/{}", out.join("/"));
    if trailing && !out.is_empty() {
        normalized.push('/');
    }
    normalized
}

/// The canonical URI: the (optionally normalised) path with every byte but
/// unreserved characters and `/` percent-encoded. A `%` already in the path
/// becomes `%25`: AWS encodes the wire path a second time for all services
/// but S3.
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let path = if normalize {
        normalize_path(path)
    } else {
        path.to_owned()
    };
    path.split('/')
        .map(|segment| utf8_percent_encode(segment, RFC3986).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Headers this module sets itself: ignored in the input so that signing
/// twice does not sign stale values.
fn is_own_header(name: &str) -> bool {
    [
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
    ]
    .iter()
    .any(|own| name.eq_ignore_ascii_case(own))
}

fn compute(
    request: &SignableRequest,
    params: &SigV4Params<'_>,
    headers: &[(String, String)],
    query: &[(String, String)],
) -> SigV4Signature {
    let canonical_headers = canonical_header_map(headers);
    let signed_headers = canonical_headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let header_block: String = canonical_headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_uri(&request.path, params.normalize_path),
        canonical_query_sorted(query),
        header_block,
        signed_headers,
        sha256_hex(&request.body),
    );
    let credential_scope = params.credential_scope();
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        params.amz_date(),
        credential_scope,
        sha256_hex(canonical_request.as_bytes())
    );
    let key = signing_key(
        &params.credentials.secret_access_key,
        &params.short_date(),
        params.region,
        params.service,
    );
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    SigV4Signature {
        canonical_request,
        string_to_sign,
        signature,
        signed_headers,
        credential_scope,
    }
}

/// Signs `request` in the `Authorization` header form. `request.headers`
/// are all signed; include `host`.
pub fn sign_headers(request: &SignableRequest, params: &SigV4Params<'_>) -> HeaderSigning {
    let amz_date = params.amz_date();
    let token = params
        .credentials
        .session_token
        .as_ref()
        .map(|t| t.expose_secret().to_owned());
    let mut signed: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(name, _)| !is_own_header(name))
        .cloned()
        .collect();
    signed.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = &token
        && !params.omit_session_token
    {
        signed.push(("x-amz-security-token".into(), token.clone()));
    }
    let body_hash = sha256_hex(&request.body);
    if params.sign_body {
        signed.push(("x-amz-content-sha256".into(), body_hash.clone()));
    }
    let signature = compute(request, params, &signed, &request.query);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
        params.credentials.access_key_id,
        signature.credential_scope,
        signature.signed_headers,
        signature.signature
    );
    let mut headers = Vec::new();
    if let Some(token) = token {
        headers.push(("X-Amz-Security-Token".to_owned(), token));
    }
    headers.push(("X-Amz-Date".to_owned(), amz_date));
    if params.sign_body {
        headers.push(("x-amz-content-sha256".to_owned(), body_hash));
    }
    headers.push(("Authorization".to_owned(), authorization.clone()));
    HeaderSigning {
        signature,
        authorization,
        headers,
    }
}

/// Signs `request` as a presigned URL valid for `expires_in_seconds`.
/// `request.headers` are all signed; include `host`.
pub fn presign_query(
    request: &SignableRequest,
    params: &SigV4Params<'_>,
    expires_in_seconds: u64,
) -> QuerySigning {
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(name, _)| !is_own_header(name))
        .cloned()
        .collect();
    let signed_headers = canonical_header_map(&headers)
        .into_iter()
        .map(|(name, _)| name)
        .collect::<Vec<_>>()
        .join(";");
    let credential = format!(
        "{}/{}",
        params.credentials.access_key_id,
        params.credential_scope()
    );
    let token = params
        .credentials
        .session_token
        .as_ref()
        .map(|t| t.expose_secret().to_owned());
    let mut added = vec![
        ("X-Amz-Algorithm".to_owned(), ALGORITHM.to_owned()),
        ("X-Amz-Credential".to_owned(), credential),
        ("X-Amz-Date".to_owned(), params.amz_date()),
        ("X-Amz-SignedHeaders".to_owned(), signed_headers),
        ("X-Amz-Expires".to_owned(), expires_in_seconds.to_string()),
    ];
    let mut query: Vec<(String, String)> = request.query.clone();
    query.extend(added.iter().cloned());
    if let Some(token) = &token {
        // With `omit_session_token` the token rides along unsigned.
        if !params.omit_session_token {
            query.push(("X-Amz-Security-Token".to_owned(), token.clone()));
        }
        added.push(("X-Amz-Security-Token".to_owned(), token.clone()));
    }
    let signature = compute(request, params, &headers, &query);
    added.push(("X-Amz-Signature".to_owned(), signature.signature.clone()));
    QuerySigning {
        signature,
        query: added,
    }
}

/// Signs a built request in place (header form): reads its method, URL,
/// headers and body, and sets `X-Amz-Date`, `Authorization` and the others.
pub fn sign_request(
    request: &mut reqwest::Request,
    params: &SigV4Params<'_>,
) -> Result<HeaderSigning, ConnectorError> {
    let parts = SignableRequest::from_request(request)?;
    let signing = sign_headers(&parts, params);
    apply_headers(request, &signing.headers)?;
    Ok(signing)
}

/// Presigns a built request in place: appends the `X-Amz-*` parameters to its query.
pub fn presign_request(
    request: &mut reqwest::Request,
    params: &SigV4Params<'_>,
    expires_in_seconds: u64,
) -> Result<QuerySigning, ConnectorError> {
    let parts = SignableRequest::from_request(request)?;
    let signing = presign_query(&parts, params, expires_in_seconds);
    let mut query = parts.query;
    query.extend(signing.query.iter().cloned());
    set_query(request, &query);
    Ok(signing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_like_the_suite() {
        assert_eq!(normalize_path("/example/.."), "/");
        assert_eq!(normalize_path("/example1/example2/../.."), "/");
        assert_eq!(normalize_path("/./"), "/");
        assert_eq!(normalize_path("//"), "/");
        assert_eq!(normalize_path("/./example"), "/example");
        assert_eq!(normalize_path("//example//"), "/example/");
        assert_eq!(canonical_uri("/example space/", false), "/example%20space/");
        assert_eq!(canonical_uri("/a%20b", true), "/a%2520b");
        assert_eq!(canonical_uri("", true), "/");
    }

    #[test]
    fn signing_a_reqwest_request_sets_the_headers() {
        let creds = AwsCredentials::new("AKIDEXAMPLE", SecretString::from("secret"));
        let time = DateTime::parse_from_rfc3339("2015-08-30T12:36:00Z")
            .unwrap()
            .to_utc();
        let params = SigV4Params::new(&creds, "us-east-1", "pricing", time);
        let mut request = reqwest::Client::new()
            .post("https://api.pricing.us-east-1.amazonaws.com/")
            .header("content-type", "application/x-amz-json-1.1")
            .body("{}")
            .build()
            .unwrap();
        let signing = sign_request(&mut request, &params).unwrap();
        assert_eq!(
            signing.signature.signed_headers,
            "content-type;host;x-amz-date"
        );
        let auth = request.headers()["authorization"].to_str().unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/pricing/aws4_request"
        ));
        assert_eq!(request.headers()["x-amz-date"], "20150830T123600Z");
        // Signing again gives the same result: our own headers are not re-signed.
        let again = sign_request(&mut request, &params).unwrap();
        assert_eq!(again.signature, signing.signature);
    }
}
