//! Cluster credentials and application secrets encrypted at rest:
//! AES-256-GCM under a key from the settings, a fresh random nonce per
//! value. The sealed text is `v1:` and the base64 of nonce ‖ ciphertext ‖ tag.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "v1:";

/// Why a value could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The key is not 32 bytes of hex or base64.
    #[error("the sealing key must be 32 bytes, as 64 hex digits or base64")]
    BadKey,
    /// The sealed text is damaged, or sealed under another key.
    #[error("the sealed value cannot be opened with this key")]
    Unreadable,
    /// The system's random source failed.
    #[error("no randomness for a nonce")]
    NoRandomness,
}

/// Seals and opens values under one key.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer over a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        let unbound = match UnboundKey::new(&AES_256_GCM, key) {
            Ok(unbound) => unbound,
            // AES-256-GCM takes every 32-byte key.
            Err(_) => unreachable!("a 32-byte key is an AES-256 key"),
        };
        Sealer {
            key: std::sync::Arc::new(LessSafeKey::new(unbound)),
            random: SystemRandom::new(),
        }
    }

    /// A sealer over a key written as 64 hex digits or base64 of 32 bytes.
    pub fn from_text(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| STANDARD.decode(text).ok())
            .ok_or(SealError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Sealer::new(&key))
    }

    /// Encrypts `plain`.
    pub fn seal(&self, plain: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::NoRandomness)?;
        let mut buffer = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut buffer,
            )
            .map_err(|_| SealError::Unreadable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts what [`Sealer::seal`] made.
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .ok_or(SealError::Unreadable)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Unreadable);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Unreadable)?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .map_err(|_| SealError::Unreadable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_under_its_key_and_never_repeats() {
        let sealer = Sealer::new(&[7u8; 32]);
        let a = sealer.seal("token-abc").unwrap();
        let b = sealer.seal("token-abc").unwrap();
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(!a.contains("token-abc"));
        assert_eq!(sealer.open(&a).unwrap(), "token-abc");
        let other = Sealer::new(&[8u8; 32]);
        assert_eq!(other.open(&a), Err(SealError::Unreadable));
        let mut damaged = a.clone();
        damaged.pop();
        damaged.push('A');
        assert_eq!(sealer.open(&damaged), Err(SealError::Unreadable));
        assert_eq!(sealer.open("plain"), Err(SealError::Unreadable));
    }

    #[test]
    fn keys_are_read_from_hex_or_base64() {
        let hex_key = "11".repeat(32);
        let sealed = Sealer::from_text(&hex_key).unwrap().seal("x").unwrap();
        let b64 = STANDARD.encode([0x11u8; 32]);
        assert_eq!(Sealer::from_text(&b64).unwrap().open(&sealed).unwrap(), "x");
        assert_eq!(Sealer::from_text("short").unwrap_err(), SealError::BadKey);
    }
}
