//! Passwords: the policy a new password must meet, and argon2id hashing in
//! PHC strings.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use shiyun_core::error::ValidationError;
use shiyun_core::tenancy::LoginIdentifier;

use crate::tokens;

/// Fewest characters a password may have.
pub const MIN_LENGTH: usize = 10;
/// Most characters a password may have (argon2 would take more; a cap keeps
/// a request from making the server hash megabytes).
pub const MAX_LENGTH: usize = 128;

/// Common passwords, lowercase, one a line.
const COMMON: &str = include_str!("common.txt");

fn common_set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether `password` is on the list of common passwords (ignoring case).
pub fn is_common(password: &str) -> bool {
    common_set().contains(password.to_lowercase().as_str())
}

/// Checks a new password against the policy: 10 to 128 characters, not one
/// character repeated, not a common password, and not any of `logins` (an
/// email address, its local part, or a phone number with or without `+`),
/// all compared ignoring case.
pub fn check_policy(password: &str, logins: &[&LoginIdentifier]) -> Result<(), ValidationError> {
    let refuse = |why: &str| Err(ValidationError::new("password", why));
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return refuse("must have at least 10 characters");
    }
    if length > MAX_LENGTH {
        return refuse("must have at most 128 characters");
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return refuse("must not be one character repeated");
    }
    if is_common(password) {
        return refuse("is too common; choose another");
    }
    let lower = password.to_lowercase();
    for login in logins {
        let text = login.as_str();
        let mut forms = vec![text];
        match login {
            LoginIdentifier::Email(email) => {
                if let Some((local, _)) = email.split_once('@') {
                    forms.push(local);
                }
            }
            LoginIdentifier::Phone(phone) => forms.push(phone.trim_start_matches('+')),
        }
        if forms.iter().any(|f| f.to_lowercase() == lower) {
            return refuse("must not be your login");
        }
    }
    Ok(())
}

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password with the same parameters, verified when a
    /// login is unknown so that answer takes as long as a wrong password.
    dummy: String,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Hashing failed (bad parameters, no randomness).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl Hasher {
    /// A hasher with `memory_kib` KiB and `iterations` passes, one lane.
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, HashError> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| HashError(format!("argon2 parameters: {e}")))?;
        Ok(Hasher::with_params(params))
    }

    /// A hasher with argon2's default parameters (19 MiB, 2 passes, 1 lane:
    /// OWASP's minimum for argon2id).
    pub fn with_default_params() -> Self {
        Hasher::with_params(Params::default())
    }

    fn with_params(params: Params) -> Self {
        let mut hasher = Hasher {
            params,
            dummy: String::new(),
        };
        // The dummy's answer is thrown away, so neither its password nor its
        // salt need be secret: only its cost matters.
        let salt = SaltString::encode_b64(b"shiyun-dummy-salt");
        hasher.dummy = salt
            .ok()
            .and_then(|salt| {
                hasher
                    .argon2()
                    .hash_password(b"no password is this", &salt)
                    .map(|h| h.to_string())
                    .ok()
            })
            .unwrap_or_default();
        hasher
    }

    /// Memory (KiB) and passes.
    pub fn cost(&self) -> (u32, u32) {
        (self.params.m_cost(), self.params.t_cost())
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string (`$argon2id$v=19$m=…`) of `password` with a fresh salt.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt_bytes: [u8; 16] = tokens::random_bytes().map_err(|e| HashError(e.to_string()))?;
        let salt =
            SaltString::encode_b64(&salt_bytes).map_err(|e| HashError(format!("salt: {e}")))?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches the PHC string `phc` (with the parameters
    /// the string names). A malformed string matches nothing.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => {
                // Spend the same time as a real check before refusing.
                self.verify_dummy(password);
                false
            }
        }
    }

    /// Verifies `password` against the dummy hash and forgets the answer:
    /// the work of a real check, for an unknown or locked login.
    pub fn verify_dummy(&self, password: &str) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy) {
            let _ = self.argon2().verify_password(password.as_bytes(), &parsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> LoginIdentifier {
        LoginIdentifier::parse(text).unwrap()
    }

    #[test]
    fn the_common_list_is_lowercase_and_long() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(lines.len() >= 300, "{}", lines.len());
        for line in &lines {
            assert_eq!(*line, line.to_lowercase(), "{line}");
            assert_eq!(*line, line.trim(), "{line:?}");
        }
        assert_eq!(common_set().len(), lines.len(), "no duplicates");
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        let login = email("li.lei@example.com");
        for pw in [
            "password123",
            "PassWord123",
            "QWERTYUIOP",
            "1234567890",
            "iloveyou123",
        ] {
            let err = check_policy(pw, &[&login]).unwrap_err();
            assert_eq!(err.field_name(), "password");
            assert!(err.message().contains("common"), "{pw}: {err}");
        }
        assert!(check_policy("violet-harbour-lantern", &[&login]).is_ok());
    }

    #[test]
    fn length_bounds_hold_in_characters() {
        let login = email("a@example.com");
        assert!(check_policy("Ab3$efgh9", &[&login]).is_err());
        assert!(check_policy("Ab3$efgh9k", &[&login]).is_ok());
        // Ten Chinese characters are ten characters, not thirty bytes.
        assert!(check_policy("我的密码真的很难猜到", &[&login]).is_ok());
        assert!(check_policy(&"xy".repeat(64), &[&login]).is_ok());
        assert!(check_policy(&"xy".repeat(65), &[&login]).is_err());
        assert!(check_policy("zzzzzzzzzzzz", &[&login]).is_err());
    }

    #[test]
    fn the_login_and_its_local_part_are_refused() {
        let login = email("Wang.Fang.2024@example.com");
        for pw in ["wang.fang.2024@example.com", "WANG.FANG.2024"] {
            let err = check_policy(pw, &[&login]).unwrap_err();
            assert!(err.message().contains("login"), "{pw}: {err}");
        }
        let phone = LoginIdentifier::parse("+86 138 0013 8000").unwrap();
        assert!(check_policy("8613800138000", &[&phone]).is_err());
        assert!(check_policy("+8613800138000", &[&phone]).is_err());
        assert!(check_policy("8613800138000", &[&login]).is_ok());
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let hasher = Hasher::new(1024, 1).unwrap();
        let phc = hasher.hash("violet-harbour-lantern").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(hasher.verify("violet-harbour-lantern", &phc));
        assert!(!hasher.verify("violet-harbour-lanterN", &phc));
        assert!(!hasher.verify("violet-harbour-lantern", "not a phc string"));
        // Fresh salt each time.
        assert_ne!(phc, hasher.hash("violet-harbour-lantern").unwrap());
        // A hash made with other parameters still verifies.
        let other = Hasher::new(2048, 2).unwrap();
        assert!(other.verify("violet-harbour-lantern", &phc));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let hasher = Hasher::new(1024, 1).unwrap();
        assert!(
            hasher.dummy.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{}",
            hasher.dummy
        );
        assert_eq!(Hasher::with_default_params().cost(), (19_456, 2));
    }

    #[test]
    fn bad_parameters_are_an_error() {
        assert!(Hasher::new(1, 1).is_err());
        assert!(Hasher::new(1024, 0).is_err());
    }
}
