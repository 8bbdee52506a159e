//! Settings of the user centre.

use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};
use shiyun_core::error::ValidationError;
use shiyun_core::tenancy::LockoutPolicy;

/// Settings of the user centre, with the production defaults from [`AccountsConfig::new`].
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    /// HMAC key access tokens are signed with (at least 32 bytes).
    pub signing_key: SecretString,
    /// Earlier keys, still accepted while their tokens live out (rotation).
    pub previous_signing_keys: Vec<SecretString>,
    /// Lifetime of an access token (default 15 minutes).
    pub access_ttl: Duration,
    /// Lifetime of one refresh token (default 30 days).
    pub refresh_ttl: Duration,
    /// No refresh after a session is this old (default 90 days).
    pub session_max_age: Duration,
    /// Lifetime of a password reset token (default 30 minutes).
    pub reset_ttl: Duration,
    /// Lifetime of a confirmation code (default 15 minutes).
    pub code_ttl: Duration,
    /// Wrong tries before a confirmation code stops working (default 5).
    pub code_max_attempts: u32,
    /// Lifetime of an invitation (default 7 days).
    pub invitation_ttl: Duration,
    /// Lockout of a login identifier after repeated failures (default 5 in
    /// 15 minutes lock it for 15 minutes).
    pub lockout: LockoutPolicy,
    /// Log-in and reset attempts allowed per IP address per minute (default 20).
    pub ip_attempts_per_minute: u32,
    /// Log-in and reset attempts allowed per login identifier per minute (default 10).
    pub login_attempts_per_minute: u32,
    /// argon2id memory in KiB (default 19456, OWASP's minimum).
    pub argon2_memory_kib: u32,
    /// argon2id passes (default 2).
    pub argon2_iterations: u32,
}

impl AccountsConfig {
    /// Production defaults with this signing key.
    pub fn new(signing_key: SecretString) -> Self {
        AccountsConfig {
            signing_key,
            previous_signing_keys: Vec::new(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(30),
            session_max_age: Duration::days(90),
            reset_ttl: Duration::minutes(30),
            code_ttl: Duration::minutes(15),
            code_max_attempts: 5,
            invitation_ttl: Duration::days(7),
            lockout: LockoutPolicy {
                max_failures: 5,
                window: Duration::minutes(15),
                lock_for: Duration::minutes(15),
            },
            ip_attempts_per_minute: 20,
            login_attempts_per_minute: 10,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
        }
    }
}

impl AccountsConfig {
    /// Checks the settings: a signing key of at least 32 bytes (earlier
    /// keys too), positive lifetimes, at least one attempt allowed, and
    /// argon2 parameters argon2 accepts.
    pub fn check(&self) -> Result<(), ValidationError> {
        if self.signing_key.expose_secret().len() < 32 {
            return Err(ValidationError::new(
                "signing_key",
                "must have at least 32 bytes",
            ));
        }
        if self
            .previous_signing_keys
            .iter()
            .any(|k| k.expose_secret().len() < 32)
        {
            return Err(ValidationError::new(
                "previous_signing_keys",
                "must each have at least 32 bytes",
            ));
        }
        for (field, ttl) in [
            ("access_ttl", self.access_ttl),
            ("refresh_ttl", self.refresh_ttl),
            ("session_max_age", self.session_max_age),
            ("reset_ttl", self.reset_ttl),
            ("code_ttl", self.code_ttl),
            ("invitation_ttl", self.invitation_ttl),
            ("lockout.window", self.lockout.window),
            ("lockout.lock_for", self.lockout.lock_for),
        ] {
            if ttl <= chrono::Duration::zero() {
                return Err(ValidationError::new(field, "must be positive"));
            }
        }
        for (field, n) in [
            ("code_max_attempts", self.code_max_attempts),
            ("lockout.max_failures", self.lockout.max_failures),
            ("ip_attempts_per_minute", self.ip_attempts_per_minute),
            ("login_attempts_per_minute", self.login_attempts_per_minute),
        ] {
            if n == 0 {
                return Err(ValidationError::new(field, "must be at least 1"));
            }
        }
        argon2::Params::new(self.argon2_memory_kib, self.argon2_iterations, 1, None)
            .map_err(|e| ValidationError::new("argon2", e.to_string()))?;
        Ok(())
    }
}
