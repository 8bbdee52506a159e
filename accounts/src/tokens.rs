//! Tokens: random secrets and their SHA-256, confirmation codes, API key
//! texts, and signed access tokens (JWT HS256).
//!
//! Formats: refresh tokens `syr_…`, reset tokens `syp_…`, invitation tokens
//! `syi_…` and API key secrets are 32 random bytes in url-safe base64 (43
//! characters). Only the SHA-256 (hex) of any of them is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shiyun_core::store::StoreError;
use shiyun_core::tenancy::ApiKeyId;
use subtle::ConstantTimeEq;

use crate::error::AccountError;

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "syr_";
/// Prefix of password reset tokens.
pub const RESET_PREFIX: &str = "syp_";
/// Prefix of invitation tokens.
pub const INVITATION_PREFIX: &str = "syi_";
/// Prefix of API key texts (`sy_key_…_<secret>`).
pub const API_KEY_PREFIX: &str = "sy_";
/// Characters of a random secret (32 bytes in unpadded base64).
pub const SECRET_LEN: usize = 43;
/// The `iss` claim of access tokens.
pub const ISSUER: &str = "shiyun";

fn no_randomness(e: getrandom::Error) -> AccountError {
    tracing::error!(error = %e, "the system's random source failed");
    AccountError::Store(StoreError::Internal(
        "the system's random source failed".into(),
    ))
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], AccountError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(no_randomness)?;
    Ok(bytes)
}

/// `prefix` and 32 random bytes in url-safe base64 (43 characters).
pub fn random_token(prefix: &str) -> Result<String, AccountError> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A six-digit confirmation code, uniform over 000000–999999.
pub fn six_digit_code() -> Result<String, AccountError> {
    // Reject the top of the u32 range so every code is equally likely.
    const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
    loop {
        let n = u32::from_le_bytes(random_bytes()?);
        if n < LIMIT {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// Whether `text` has the shape of a six-digit code.
pub fn is_six_digit_code(text: &str) -> bool {
    text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit())
}

/// SHA-256 of `text`, lowercase hex: what the store keeps of a token.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Compares two hashes (or secrets) in time that does not depend on where
/// they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Whether `text` is `prefix` followed by a random secret's 43 characters.
pub fn has_token_shape(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(is_secret_shape)
}

fn is_secret_shape(secret: &str) -> bool {
    secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The parts of an API key's text `sy_<key id>_<secret>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyText {
    /// The key's id, looked up in the store.
    pub id: ApiKeyId,
    /// The secret, whose SHA-256 is compared with the stored one.
    pub secret: String,
}

impl ApiKeyText {
    /// A new key: a fresh id and secret.
    pub fn generate() -> Result<Self, AccountError> {
        Ok(ApiKeyText {
            id: ApiKeyId::from_random(random_bytes()?),
            secret: random_token("")?,
        })
    }

    /// Reads a bearer text; `None` unless it is exactly an API key's shape.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(API_KEY_PREFIX)?;
        // The id is `key_` and [0-9a-z]; the secret (which may hold `_`) follows the next `_`.
        let id_len =
            ApiKeyId::PREFIX.len() + 1 + rest.get(ApiKeyId::PREFIX.len() + 1..)?.find('_')?;
        let id = ApiKeyId::parse(rest.get(..id_len)?).ok()?;
        let secret = rest.get(id_len + 1..)?;
        is_secret_shape(secret).then(|| ApiKeyText {
            id,
            secret: secret.to_owned(),
        })
    }

    /// The bearer text.
    pub fn text(&self) -> String {
        format!("{API_KEY_PREFIX}{}_{}", self.id, self.secret)
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Always `shiyun`.
    pub iss: String,
    /// The account id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// The identity: `personal` or an enterprise id.
    pub idn: String,
    /// Issued (Unix seconds).
    pub iat: i64,
    /// Expires (Unix seconds).
    pub exp: i64,
}

/// The `idn` claim of the personal identity.
pub const PERSONAL_IDN: &str = "personal";

/// Why an access token was refused (for logs; the caller hears only
/// "unauthenticated").
pub type Refusal = &'static str;

struct VerifyKey {
    kid: String,
    key: DecodingKey,
}

/// The keys access tokens are signed with (the current one) and verified
/// with (the current one, then earlier ones during a rotation).
pub struct TokenKeys {
    kid: String,
    signing: EncodingKey,
    verifying: Vec<VerifyKey>,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .field("keys", &self.verifying.len())
            .finish_non_exhaustive()
    }
}

/// The key id of a signing key: the first 8 hex digits of its SHA-256.
pub fn key_id(key: &[u8]) -> String {
    let mut kid = hex::encode(Sha256::digest(key));
    kid.truncate(8);
    kid
}

impl TokenKeys {
    /// Keys from the current secret and earlier ones. Empty secrets are refused.
    pub fn new(current: &[u8], previous: &[&[u8]]) -> Result<Self, AccountError> {
        // One provider is chosen by this crate's features; should another
        // crate enable a second one, fall back to ours instead of failing later.
        if CryptoProvider::try_get_default().is_none() {
            let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        }
        let bad_key = |_| {
            AccountError::Store(StoreError::Internal(
                "the token signing key is empty".into(),
            ))
        };
        let signing = EncodingKey::from_secret(current).map_err(bad_key)?;
        let mut verifying = Vec::with_capacity(1 + previous.len());
        for secret in std::iter::once(current).chain(previous.iter().copied()) {
            verifying.push(VerifyKey {
                kid: key_id(secret),
                key: DecodingKey::from_secret(secret).map_err(bad_key)?,
            });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Expiry is checked against the user centre's clock, not the system's.
        validation.validate_exp = false;
        validation.leeway = 0;
        Ok(TokenKeys {
            kid: key_id(current),
            signing,
            verifying,
            validation,
        })
    }

    /// The id of the current key (the `kid` header of new tokens).
    pub fn current_kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` with the current key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, AccountError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing).map_err(|e| {
            AccountError::Store(StoreError::Internal(format!(
                "signing an access token: {e}"
            )))
        })
    }

    /// Verifies a token's signature (with the key its `kid` names, current or
    /// earlier), issuer and expiry at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed access token")?;
        if header.alg != Algorithm::HS256 {
            return Err("access token algorithm is not HS256");
        }
        let keys: Vec<&VerifyKey> = match &header.kid {
            Some(kid) => self.verifying.iter().filter(|k| &k.kid == kid).collect(),
            None => self.verifying.iter().collect(),
        };
        if keys.is_empty() {
            return Err("access token signed with an unknown key");
        }
        let mut refusal = "access token signature does not verify";
        for key in keys {
            match jsonwebtoken::decode::<AccessClaims>(token, &key.key, &self.validation) {
                Ok(data) => {
                    let claims = data.claims;
                    if claims.exp <= now {
                        return Err("access token expired");
                    }
                    return Ok(claims);
                }
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind;
                    match e.kind() {
                        ErrorKind::InvalidSignature => {}
                        ErrorKind::InvalidIssuer => return Err("access token issuer is wrong"),
                        _ => refusal = "malformed access token",
                    }
                }
            }
        }
        Err(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OLD: &[u8] = b"an older key of thirty-two bytes!";
    const OTHER: &[u8] = b"someone else's key, 32 bytes long";

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            sub: "acc_01".into(),
            sid: "ses_01".into(),
            idn: PERSONAL_IDN.into(),
            iat: 1_000,
            exp,
        }
    }

    #[test]
    fn random_tokens_have_their_shape() {
        let a = random_token(REFRESH_PREFIX).unwrap();
        let b = random_token(REFRESH_PREFIX).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + SECRET_LEN);
        assert!(has_token_shape(&a, REFRESH_PREFIX));
        assert!(!has_token_shape(&a, RESET_PREFIX));
        assert!(!has_token_shape("syr_short", REFRESH_PREFIX));
        assert!(!has_token_shape(&format!("{a}x"), REFRESH_PREFIX));
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let code = six_digit_code().unwrap();
            assert!(is_six_digit_code(&code), "{code}");
        }
        assert!(!is_six_digit_code("12345"));
        assert!(!is_six_digit_code("12345a"));
        assert!(!is_six_digit_code("١٢٣٤٥٦"));
    }

    #[test]
    fn hashes_are_sha256_hex_and_compare_exactly() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn api_key_texts_round_trip_and_refuse_other_shapes() {
        let key = ApiKeyText::generate().unwrap();
        let text = key.text();
        assert!(text.starts_with("sy_key_"), "{text}");
        assert_eq!(ApiKeyText::parse(&text), Some(key.clone()));

        // A secret holding `_` and `-` still parses.
        let id = ApiKeyId::from_random([7; 16]);
        let secret = format!("_-{}", "a".repeat(SECRET_LEN - 2));
        let parsed = ApiKeyText::parse(&format!("sy_{id}_{secret}")).unwrap();
        assert_eq!(parsed.id, id);
        assert_eq!(parsed.secret, secret);

        for bad in [
            "",
            "sy_",
            "sy_key_",
            "sy_key_abc",
            "sy_key_abc_",
            &format!("sy_key_abc_{}", "a".repeat(SECRET_LEN - 1)),
            &format!("sy_key_abc_{}", "a".repeat(SECRET_LEN + 1)),
            &format!("sy_key_ABC_{}", "a".repeat(SECRET_LEN)),
            &format!("sy_acc_abc_{}", "a".repeat(SECRET_LEN)),
            &format!("sy_key_abc_{}!", "a".repeat(SECRET_LEN - 1)),
            &format!("xy_key_abc_{}", "a".repeat(SECRET_LEN)),
        ] {
            assert_eq!(ApiKeyText::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn access_tokens_verify_until_they_expire() {
        let keys = TokenKeys::new(KEY, &[]).unwrap();
        let token = keys.sign(&claims(2_000)).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key_id(KEY).as_str()));
        assert_eq!(key_id(KEY).len(), 8);
        assert_eq!(keys.verify(&token, 1_999).unwrap(), claims(2_000));
        assert_eq!(keys.verify(&token, 2_000), Err("access token expired"));
        assert_eq!(keys.verify(&token, 9_999), Err("access token expired"));
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let keys = TokenKeys::new(KEY, &[]).unwrap();
        let token = keys.sign(&claims(2_000)).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims(2_000);
        forged.sub = "acc_02".into();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{}.{}", parts[0], body, parts[2]);
        assert!(keys.verify(&tampered, 1_500).is_err());

        // A flipped signature character.
        let mut sig = parts[2].to_owned();
        let last = if sig.ends_with('A') { "B" } else { "A" };
        sig.replace_range(sig.len() - 1.., last);
        assert!(
            keys.verify(&format!("{}.{}.{sig}", parts[0], parts[1]), 1_500)
                .is_err()
        );

        // An unsigned token ("alg": "none").
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(
            keys.verify(&format!("{none_header}.{}.", parts[1]), 1_500)
                .is_err()
        );
    }

    #[test]
    fn tokens_signed_with_another_key_are_refused() {
        let keys = TokenKeys::new(KEY, &[]).unwrap();
        let theirs = TokenKeys::new(OTHER, &[]).unwrap();
        let token = theirs.sign(&claims(2_000)).unwrap();
        assert_eq!(
            keys.verify(&token, 1_500),
            Err("access token signed with an unknown key")
        );

        // Their token relabelled with our kid still fails on the signature.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.current_kid().to_owned());
        let relabelled = jsonwebtoken::encode(
            &header,
            &claims(2_000),
            &EncodingKey::from_secret(OTHER).unwrap(),
        )
        .unwrap();
        assert_eq!(
            keys.verify(&relabelled, 1_500),
            Err("access token signature does not verify")
        );
    }

    #[test]
    fn a_previous_key_is_still_accepted_after_rotation() {
        let before = TokenKeys::new(OLD, &[]).unwrap();
        let old_token = before.sign(&claims(2_000)).unwrap();
        let after = TokenKeys::new(KEY, &[OLD]).unwrap();
        assert_eq!(after.verify(&old_token, 1_500).unwrap(), claims(2_000));
        // New tokens carry the new key's id.
        let new_token = after.sign(&claims(2_000)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token)
                .unwrap()
                .kid
                .as_deref(),
            Some(key_id(KEY).as_str())
        );
        // Once the old key is dropped its tokens stop working.
        let later = TokenKeys::new(KEY, &[]).unwrap();
        assert!(later.verify(&old_token, 1_500).is_err());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let keys = TokenKeys::new(KEY, &[]).unwrap();
        for bad in [
            "",
            "abc",
            "a.b.c",
            "a.b",
            "....",
            "eyJhbGciOiJIUzI1NiJ9.e30.x",
        ] {
            assert!(keys.verify(bad, 1_500).is_err(), "{bad}");
        }
        // Right key, wrong issuer.
        let mut wrong = claims(2_000);
        wrong.iss = "someone".into();
        let token = keys.sign(&wrong).unwrap();
        assert_eq!(
            keys.verify(&token, 1_500),
            Err("access token issuer is wrong")
        );
        // Right key, claims missing.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.current_kid().to_owned());
        let bare = jsonwebtoken::encode(
            &header,
            &serde_json::json!({"iss": "shiyun", "sub": "acc_01", "exp": 2_000}),
            &EncodingKey::from_secret(KEY).unwrap(),
        )
        .unwrap();
        assert_eq!(keys.verify(&bare, 1_500), Err("malformed access token"));
        assert!(TokenKeys::new(b"", &[]).is_err());
    }
}
