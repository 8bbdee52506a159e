//! Webhook signatures in Stripe's documented scheme: the
//! `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`,
//! each `v1` an HMAC-SHA256 of `"{t}.{payload}"` keyed with the endpoint's
//! signing secret (several while a secret is being rolled).
//!
//! Written here on `hmac`, `sha2` and `subtle` rather than taken from
//! `async-stripe-webhook`, which would build every Stripe event type for
//! one HMAC. Signatures are compared in constant time; a timestamp more
//! than the tolerance in the past (a replay of an old delivery) or in the
//! future (a forged or skewed clock) is refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's default tolerance.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Why a webhook's signature was refused. The messages are stable: they
/// reach the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("the webhook has no signature header")]
    Missing,
    /// The header is not `t=…,v1=…`.
    #[error("the webhook signature header is malformed: {0}")]
    Malformed(&'static str),
    /// The timestamp is outside the tolerance.
    #[error("the webhook timestamp is {seconds} s from now, beyond the {tolerance} s tolerance")]
    Stale {
        /// Signed age in seconds (negative: in the future).
        seconds: i64,
        /// The tolerance in seconds.
        tolerance: u64,
    },
    /// No `v1` signature matches the payload.
    #[error("no webhook signature matches the payload")]
    Mismatch,
}

impl SignatureError {
    /// A short stable name for logs (`missing`, `malformed`, `stale`, `mismatch`).
    pub fn reason(&self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Malformed(_) => "malformed",
            SignatureError::Stale { .. } => "stale",
            SignatureError::Mismatch => "mismatch",
        }
    }
}

struct Header {
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

fn parse_header(header: &str) -> Result<Header, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(SignatureError::Malformed("an element is not `key=value`"));
        };
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed("`t` is not a number"))?,
                );
            }
            // A signature that is not hex cannot match; others may.
            "v1" => signatures.extend(hex::decode(value).ok()),
            // Other schemes (`v0`, test-mode signatures) are not ours.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no `t` timestamp"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no `v1` signature"));
    }
    Ok(Header {
        timestamp,
        signatures,
    })
}

/// The HMAC of `"{timestamp}.{payload}"`; `None` never happens (HMAC
/// takes keys of any length) but is not unwrapped.
fn mac(secret: &[u8], timestamp: i64, payload: &[u8]) -> Option<Vec<u8>> {
    let mut mac = HmacSha256::new_from_slice(secret).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    Some(mac.finalize().into_bytes().to_vec())
}

/// Checks `header` (a `Stripe-Signature` value) against the raw `payload`
/// and the endpoint's `secret` at `now`. Answers the signed timestamp.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &[u8],
    tolerance: Duration,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, SignatureError> {
    let header = parse_header(header.ok_or(SignatureError::Missing)?)?;
    let age = now.timestamp().saturating_sub(header.timestamp);
    let limit = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if age.saturating_abs() > limit {
        return Err(SignatureError::Stale {
            seconds: age,
            tolerance: tolerance.as_secs(),
        });
    }
    let expected = mac(secret, header.timestamp, payload).ok_or(SignatureError::Mismatch)?;
    // Every candidate is compared, so the time taken tells nothing about
    // which one (if any) matched, nor how much of it.
    let matched = header
        .signatures
        .iter()
        .fold(subtle::Choice::from(0), |found, candidate| {
            found | expected.as_slice().ct_eq(candidate)
        });
    if bool::from(matched) {
        DateTime::from_timestamp(header.timestamp, 0)
            .ok_or(SignatureError::Malformed("`t` is out of range"))
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `Stripe-Signature` header Stripe would send for `payload` signed
/// with `secret` at `timestamp`: tests and local tools sign with it.
pub fn sign(payload: &[u8], secret: &[u8], timestamp: i64) -> String {
    let signature = mac(secret, timestamp, payload).unwrap_or_default();
    format!("t={timestamp},v1={}", hex::encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const PAYLOAD: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn check(header: &str, now: i64) -> Result<DateTime<Utc>, SignatureError> {
        verify(Some(header), PAYLOAD, SECRET, DEFAULT_TOLERANCE, at(now))
    }

    #[test]
    fn a_good_signature_verifies_and_answers_its_time() {
        let header = sign(PAYLOAD, SECRET, 1_800_000_000);
        assert_eq!(check(&header, 1_800_000_010), Ok(at(1_800_000_000)));
    }

    #[test]
    fn the_hmac_is_over_timestamp_dot_payload() {
        // Computed independently: HMAC-SHA256("whsec_test_secret", "1800000000." + payload).
        let mut mac = HmacSha256::new_from_slice(SECRET).unwrap();
        mac.update(b"1800000000.");
        mac.update(PAYLOAD);
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            sign(PAYLOAD, SECRET, 1_800_000_000),
            format!("t=1800000000,v1={expected}")
        );
    }

    #[test]
    fn a_bad_signature_or_another_payload_or_secret_is_a_mismatch() {
        let header = sign(PAYLOAD, SECRET, 1_800_000_000);
        let now = at(1_800_000_000);
        assert_eq!(
            verify(Some(&header), b"{}", SECRET, DEFAULT_TOLERANCE, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                Some(&header),
                PAYLOAD,
                b"whsec_other",
                DEFAULT_TOLERANCE,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        let zeros = format!("t=1800000000,v1={}", "0".repeat(64));
        assert_eq!(check(&zeros, 1_800_000_000), Err(SignatureError::Mismatch));
        let short = "t=1800000000,v1=abcd";
        assert_eq!(check(short, 1_800_000_000), Err(SignatureError::Mismatch));
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let header = sign(PAYLOAD, SECRET, 1_800_000_000);
        assert_eq!(check(&header, 1_800_000_300), Ok(at(1_800_000_000)));
        assert_eq!(
            check(&header, 1_800_000_301),
            Err(SignatureError::Stale {
                seconds: 301,
                tolerance: 300
            })
        );
        assert_eq!(
            check(&header, 1_799_999_000),
            Err(SignatureError::Stale {
                seconds: -1000,
                tolerance: 300
            })
        );
        assert_eq!(check(&header, 1_799_999_700), Ok(at(1_800_000_000)));
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let good = sign(PAYLOAD, SECRET, 1_800_000_000);
        let good_v1 = good.split_once(",v1=").unwrap().1;
        let header = format!(
            "t=1800000000,v1={},v0=ffff,v1=nothex,v1={good_v1}",
            "1".repeat(64)
        );
        assert_eq!(check(&header, 1_800_000_000), Ok(at(1_800_000_000)));
        let rolled = format!("t=1800000000,v1={good_v1},v1={}", "2".repeat(64));
        assert_eq!(check(&rolled, 1_800_000_000), Ok(at(1_800_000_000)));
    }

    #[test]
    fn malformed_or_missing_headers_are_refused() {
        assert_eq!(
            verify(None, PAYLOAD, SECRET, DEFAULT_TOLERANCE, at(0)),
            Err(SignatureError::Missing)
        );
        for header in ["", "t=1800000000", "v1=abcd", "t=soon,v1=abcd", "garbage"] {
            assert!(
                matches!(
                    check(header, 1_800_000_000),
                    Err(SignatureError::Malformed(_))
                ),
                "{header}"
            );
        }
    }
}
