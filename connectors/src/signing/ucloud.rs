//! UCloud API signature: SHA-1 (hex) of every request parameter sorted by
//! name and concatenated as `name` + `value` (no separators, no escaping),
//! followed by the private key. Sent as the `Signature` parameter next to
//! `PublicKey`.
//!
//! Checked against the example of UCloud's "签名算法" document.

use secrecy::{ExposeSecret, SecretString};
use sha1::{Digest, Sha1};

/// Result of a UCloud signature.
#[derive(Debug, Clone)]
pub struct UcloudSignature {
    /// The sorted parameters concatenated, then the private key. It holds the
    /// private key, hence a secret (tests expose it to compare).
    pub string_to_sign: SecretString,
    /// Hex SHA-1.
    pub signature: String,
}

/// Signs `parameters` (every request parameter, `PublicKey` included,
/// `Signature` excluded; values as text, see [`param_text`]).
pub fn sign(parameters: &[(String, String)], private_key: &SecretString) -> UcloudSignature {
    let mut sorted: Vec<&(String, String)> = parameters
        .iter()
        .filter(|(n, _)| n != "Signature")
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text: String = sorted.iter().map(|(n, v)| format!("{n}{v}")).collect();
    text.push_str(private_key.expose_secret());
    let signature = hex::encode(Sha1::digest(text.as_bytes()));
    UcloudSignature {
        string_to_sign: SecretString::from(text),
        signature,
    }
}

/// The text UCloud signs for a JSON parameter value: strings as they are,
/// `true`/`false`, integers plainly, floats without a zero fraction
/// (`42.0` → `42`) and never in scientific notation. `None` for arrays,
/// objects and null, which UCloud flattens into `Name.0`, `Name.1` keys.
pub fn param_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                return Some(n.to_string());
            }
            // Exact decimal of the JSON text, normalised: `42.0` → `42`, `1e-7` → `0.0000001`.
            crate::decimal::decimal_from_json_text(&n.to_string())
                .ok()
                .map(|d| d.normalize().to_string())
        }
        _ => None,
    }
}

/// All parameters to send: `parameters` plus `PublicKey` and `Signature`.
pub fn signed_parameters(
    parameters: &[(String, String)],
    public_key: &str,
    private_key: &SecretString,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = parameters
        .iter()
        .filter(|(n, _)| n != "PublicKey" && n != "Signature")
        .cloned()
        .collect();
    all.push(("PublicKey".to_owned(), public_key.to_owned()));
    let signature = sign(&all, private_key);
    all.push(("Signature".to_owned(), signature.signature));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_become_ucloud_text() {
        assert_eq!(param_text(&serde_json::json!(10)).as_deref(), Some("10"));
        assert_eq!(param_text(&serde_json::json!(42.0)).as_deref(), Some("42"));
        assert_eq!(param_text(&serde_json::json!(0.5)).as_deref(), Some("0.5"));
        assert_eq!(
            param_text(&serde_json::json!(true)).as_deref(),
            Some("true")
        );
        assert_eq!(
            param_text(&serde_json::json!("cn-bj2")).as_deref(),
            Some("cn-bj2")
        );
        assert_eq!(param_text(&serde_json::json!([1])), None);
    }

    #[test]
    fn signed_parameters_end_with_the_signature() {
        let key = SecretString::from("k");
        let all = signed_parameters(&[("Action".into(), "X".into())], "pub", &key);
        assert_eq!(all[1], ("PublicKey".into(), "pub".into()));
        assert_eq!(all[2].0, "Signature");
        assert_eq!(all[2].1, sign(&all[..2], &key).signature);
    }
}
