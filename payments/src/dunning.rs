//! Dunning: when a failed invoice payment is charged again, and when the
//! account becomes overdue. Pure functions of an attempt and a time; the
//! service applies what they answer.
//!
//! Retries are offsets from the first failure (`[24, 72, 168]` hours:
//! one day, three days and a week after it), so a late run does not push
//! the schedule back. After the last retry fails the attempt is `Failed`
//! and the account overdue; the customer may still pay it themselves.

use chrono::{DateTime, Duration, Utc};
use shiyun_core::ValidationError;
use shiyun_core::billing::payments::{AttemptStatus, PaymentAttempt};

/// The retry schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DunningPolicy {
    offsets: Vec<Duration>,
}

impl Default for DunningPolicy {
    /// A day, three days and a week after the first failure.
    fn default() -> Self {
        DunningPolicy {
            offsets: [24, 72, 168].into_iter().map(Duration::hours).collect(),
        }
    }
}

impl DunningPolicy {
    /// Retries at these hours after the first failure, strictly increasing,
    /// 1 to 10 of them, none beyond a year.
    pub fn from_hours(hours: &[u32]) -> Result<Self, ValidationError> {
        let field = "payments.dunning_retry_hours";
        if hours.is_empty() || hours.len() > 10 {
            return Err(ValidationError::new(field, "must list 1-10 retries"));
        }
        if hours.windows(2).any(|w| w[0] >= w[1]) || hours[0] == 0 {
            return Err(ValidationError::new(
                field,
                "must be positive and strictly increasing",
            ));
        }
        if hours.iter().any(|h| *h > 24 * 366) {
            return Err(ValidationError::new(field, "must be within a year"));
        }
        Ok(DunningPolicy {
            offsets: hours
                .iter()
                .map(|h| Duration::hours(i64::from(*h)))
                .collect(),
        })
    }

    /// How many retries the schedule makes.
    pub fn retries(&self) -> u32 {
        u32::try_from(self.offsets.len()).unwrap_or(u32::MAX)
    }

    /// The attempt after a failure reported at `at` (a webhook, or the
    /// answer to a retry) once `attempt.retries` retries were made: the
    /// next retry scheduled, or `Failed` after the last. `None` when the
    /// failure changes nothing (the attempt is paid, given up, or already
    /// waiting for its next retry).
    pub fn after_failure(
        &self,
        attempt: &PaymentAttempt,
        payment_method: Option<&str>,
        at: DateTime<Utc>,
    ) -> Option<PaymentAttempt> {
        if attempt.status != AttemptStatus::Pending {
            return None;
        }
        let first = attempt.first_failed_at.unwrap_or(at);
        let mut next = attempt.clone();
        next.first_failed_at = Some(first);
        next.updated_at = at;
        if let Some(method) = payment_method {
            next.payment_method = Some(method.to_owned());
        }
        match usize::try_from(attempt.retries)
            .ok()
            .and_then(|n| self.offsets.get(n))
        {
            Some(offset) => {
                next.status = AttemptStatus::RetryScheduled;
                // Never in the past: a retry that ran late is not repeated at once.
                next.next_retry_at = Some((first + *offset).max(at));
            }
            None => {
                next.status = AttemptStatus::Failed;
                next.next_retry_at = None;
            }
        }
        Some(next)
    }

    /// The attempt once its next retry is sent at `at`: one more retry
    /// made, waiting for the answer.
    pub fn retrying(&self, attempt: &PaymentAttempt, at: DateTime<Utc>) -> PaymentAttempt {
        let mut next = attempt.clone();
        next.status = AttemptStatus::Pending;
        next.retries = attempt.retries.saturating_add(1);
        next.next_retry_at = None;
        next.updated_at = at;
        next
    }
}

/// The attempt once paid at `at`; `None` if it was already.
pub fn succeeded(attempt: &PaymentAttempt, at: DateTime<Utc>) -> Option<PaymentAttempt> {
    if attempt.status == AttemptStatus::Succeeded {
        return None;
    }
    let mut next = attempt.clone();
    next.status = AttemptStatus::Succeeded;
    next.next_retry_at = None;
    next.updated_at = at;
    Some(next)
}

#[cfg(test)]
mod tests {
    use shiyun_core::billing::InvoiceId;
    use shiyun_core::billing::payments::{PaymentAttemptId, PaymentPurpose};
    use shiyun_core::money::{Currency, Money};

    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn attempt() -> PaymentAttempt {
        PaymentAttempt {
            id: PaymentAttemptId::parse("pa_1").unwrap(),
            customer: "acc_1".into(),
            purpose: PaymentPurpose::Invoice {
                invoice: InvoiceId::parse("in_1").unwrap(),
            },
            key: "invoice:in_1".into(),
            amount: Money::from_minor(1219, Currency::CNY),
            provider: "stripe".into(),
            provider_reference: "pi_1".into(),
            status: AttemptStatus::Pending,
            retries: 0,
            payment_method: None,
            first_failed_at: None,
            next_retry_at: None,
            version: 1,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    #[test]
    fn failures_walk_the_schedule_then_give_up() {
        let policy = DunningPolicy::from_hours(&[24, 72, 168]).unwrap();
        let failed = policy
            .after_failure(&attempt(), Some("pm_1"), at(1))
            .unwrap();
        assert_eq!(failed.status, AttemptStatus::RetryScheduled);
        assert_eq!(failed.next_retry_at, Some(at(25)));
        assert_eq!(failed.payment_method.as_deref(), Some("pm_1"));
        assert_eq!(
            policy.after_failure(&failed, None, at(2)),
            None,
            "a second failure before the retry changes nothing"
        );

        let mut current = failed;
        for (retry, due) in [(1, Some(at(73))), (2, Some(at(169))), (3, None)] {
            let sent = policy.retrying(&current, current.next_retry_at.unwrap_or(at(200)));
            assert_eq!((sent.status, sent.retries), (AttemptStatus::Pending, retry));
            current = policy.after_failure(&sent, None, sent.updated_at).unwrap();
            assert_eq!(current.next_retry_at, due, "after retry {retry}");
            assert_eq!(current.first_failed_at, Some(at(1)));
        }
        assert_eq!(current.status, AttemptStatus::Failed);
        assert_eq!(policy.after_failure(&current, None, at(300)), None);
        assert_eq!(current.payment_method.as_deref(), Some("pm_1"));
    }

    #[test]
    fn a_late_retry_is_not_rescheduled_into_the_past() {
        let policy = DunningPolicy::from_hours(&[1, 2]).unwrap();
        let failed = policy.after_failure(&attempt(), None, at(0)).unwrap();
        let sent = policy.retrying(&failed, at(10));
        let again = policy.after_failure(&sent, None, at(10)).unwrap();
        assert_eq!(again.next_retry_at, Some(at(10)));
    }

    #[test]
    fn success_is_final_and_once() {
        let paid = succeeded(&attempt(), at(3)).unwrap();
        assert_eq!(paid.status, AttemptStatus::Succeeded);
        assert_eq!(succeeded(&paid, at(4)), None);
        let policy = DunningPolicy::from_hours(&[24]).unwrap();
        assert_eq!(policy.after_failure(&paid, None, at(5)), None);
    }

    #[test]
    fn schedules_are_checked() {
        assert!(DunningPolicy::from_hours(&[]).is_err());
        assert!(DunningPolicy::from_hours(&[0, 1]).is_err());
        assert!(DunningPolicy::from_hours(&[24, 24]).is_err());
        assert!(DunningPolicy::from_hours(&[72, 24]).is_err());
        assert!(DunningPolicy::from_hours(&[24 * 367]).is_err());
        assert_eq!(DunningPolicy::from_hours(&[1, 2, 3]).unwrap().retries(), 3);
    }
}
