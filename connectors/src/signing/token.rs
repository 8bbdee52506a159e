//! Vendors whose catalog calls are not signed: an API key in the query
//! (GCP Cloud Billing Catalog), a bearer token (IBM Cloud IAM, GCP OAuth),
//! or nothing at all (Azure Retail Prices). Kept here so every credential
//! touches a request in one module.

use secrecy::{ExposeSecret, SecretString};

use crate::error::ConnectorError;

/// Appends `name=<key>` to the query (GCP: `key`).
pub fn apply_api_key_query(request: &mut reqwest::Request, name: &str, key: &SecretString) {
    request
        .url_mut()
        .query_pairs_mut()
        .append_pair(name, key.expose_secret());
}

/// Sets `Authorization: Bearer <token>`, marked sensitive so it is not
/// printed by reqwest's or hyper's debug output.
pub fn apply_bearer(
    request: &mut reqwest::Request,
    token: &SecretString,
) -> Result<(), ConnectorError> {
    let mut value =
        reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| {
                ConnectorError::Config("the bearer token is not a valid header value".into())
            })?;
    value.set_sensitive(true);
    request
        .headers_mut()
        .insert(reqwest::header::AUTHORIZATION, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_and_bearer_land_where_the_vendors_read_them() {
        let mut request = reqwest::Client::new()
            .get("https://cloudbilling.googleapis.com/v1/services?pageSize=5000")
            .build()
            .unwrap();
        apply_api_key_query(&mut request, "key", &SecretString::from("k y"));
        assert_eq!(request.url().query(), Some("pageSize=5000&key=k+y"));
        apply_bearer(&mut request, &SecretString::from("tok")).unwrap();
        let auth = &request.headers()["authorization"];
        assert!(auth.is_sensitive());
        assert_eq!(auth, "Bearer tok");
    }
}
