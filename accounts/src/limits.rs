//! Attempt limits for log-in and for calls that send messages (password
//! reset, bindings): a token bucket per IP address and one per login
//! identifier.
//!
//! The buckets live in this process's memory: each server instance counts
//! its own attempts, so behind a load balancer of N instances a client may
//! make up to N times the quota. The lockout after repeated failed log-ins
//! is kept in the store instead (see [`crate::UserCentre::login`]), so it
//! holds across instances and restarts.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::AccountError;

/// What is being attempted; each kind has its own buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A log-in (or a password check by a signed-in caller).
    Login,
    /// A call that sends a message: a reset request, a binding code.
    Send,
}

/// One quota applied per key.
struct Buckets<K: Clone + std::hash::Hash + Eq> {
    limiter: DefaultKeyedRateLimiter<K>,
}

impl<K: Clone + std::hash::Hash + Eq> Buckets<K> {
    fn per_minute(n: u32) -> Self {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Buckets {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)),
        }
    }

    /// `Err(seconds to wait)` when the key's bucket is empty.
    fn check(&self, key: &K) -> Result<(), u64> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            // Round up: "retry in 0 s" would invite an immediate retry.
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The in-memory rate limits of one user centre.
pub struct Limits {
    login_ip: Buckets<IpAddr>,
    login_id: Buckets<String>,
    send_ip: Buckets<IpAddr>,
    send_id: Buckets<String>,
    checks: AtomicU64,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").finish_non_exhaustive()
    }
}

/// Checks between sweeps of buckets that are full again (which hold no
/// information), so memory stays bounded by recent traffic.
const SWEEP_EVERY: u64 = 4096;

impl Limits {
    /// `per_ip` attempts per minute per IP address and `per_identifier` per
    /// login identifier, for each kind of attempt (a zero counts as one).
    pub fn new(per_ip: u32, per_identifier: u32) -> Self {
        Limits {
            login_ip: Buckets::per_minute(per_ip),
            login_id: Buckets::per_minute(per_identifier),
            send_ip: Buckets::per_minute(per_ip),
            send_id: Buckets::per_minute(per_identifier),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one attempt from the IP's bucket (when the IP is known) and the
    /// identifier's; `RateLimited` when either is empty.
    pub fn check(
        &self,
        attempt: Attempt,
        ip: Option<IpAddr>,
        identifier: &str,
    ) -> Result<(), AccountError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for b in [&self.login_ip, &self.send_ip] {
                b.forget_idle();
            }
            for b in [&self.login_id, &self.send_id] {
                b.forget_idle();
            }
        }
        let (by_ip, by_id) = match attempt {
            Attempt::Login => (&self.login_ip, &self.login_id),
            Attempt::Send => (&self.send_ip, &self.send_id),
        };
        let limited = |retry_after_seconds| AccountError::RateLimited {
            retry_after_seconds,
        };
        if let Some(ip) = ip {
            by_ip.check(&ip).map_err(limited)?;
        }
        by_id.check(&identifier.to_owned()).map_err(limited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    fn limited(r: Result<(), AccountError>) -> bool {
        match r {
            Err(AccountError::RateLimited {
                retry_after_seconds,
            }) => {
                assert!(
                    (1..=60).contains(&retry_after_seconds),
                    "{retry_after_seconds}"
                );
                true
            }
            Ok(()) => false,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn an_identifier_gets_its_quota_then_waits() {
        let limits = Limits::new(100, 3);
        for i in 0..3 {
            assert!(!limited(limits.check(
                Attempt::Login,
                ip(i),
                "a@example.com"
            )));
        }
        // From yet another address: the identifier's bucket is empty.
        assert!(limited(limits.check(
            Attempt::Login,
            ip(9),
            "a@example.com"
        )));
        // Other identifiers and the other kind of attempt are untouched.
        assert!(!limited(limits.check(
            Attempt::Login,
            ip(9),
            "b@example.com"
        )));
        assert!(!limited(limits.check(
            Attempt::Send,
            ip(9),
            "a@example.com"
        )));
    }

    #[test]
    fn an_ip_gets_its_quota_across_identifiers() {
        let limits = Limits::new(2, 100);
        assert!(!limited(limits.check(
            Attempt::Login,
            ip(1),
            "a@example.com"
        )));
        assert!(!limited(limits.check(
            Attempt::Login,
            ip(1),
            "b@example.com"
        )));
        assert!(limited(limits.check(
            Attempt::Login,
            ip(1),
            "c@example.com"
        )));
        assert!(!limited(limits.check(
            Attempt::Login,
            ip(2),
            "c@example.com"
        )));
        // Without a known IP only the identifier counts.
        assert!(!limited(limits.check(
            Attempt::Login,
            None,
            "d@example.com"
        )));
    }
}
