//! The marketplace's payments: the provider of the settings over the
//! server's stores, and the scheduled dunning runs.

use std::sync::Arc;

use chrono::Utc;
use shiyun_billing::Billing;
use shiyun_core::billing::payments::PaymentStore;
use shiyun_core::store::JobLock;
use shiyun_payments::{
    DunningPolicy, DunningReport, ManualProvider, PaymentError, PaymentProvider, Payments,
    StripeProvider,
};

use crate::settings::Settings;

/// The job lock's name for dunning runs: one runs at a time across instances.
pub const DUNNING_JOB: &str = "payments.dunning";

/// The payments of `billing`'s issuer as `settings` configure them. The
/// settings were validated at load, so Stripe's client builds; should it
/// not, payments fall back to manual and say so in the log.
pub fn marketplace(
    store: Arc<dyn PaymentStore>,
    billing: Billing,
    settings: &Settings,
) -> Payments {
    let manual = || -> Arc<dyn PaymentProvider> { Arc::new(ManualProvider::new(billing.clone())) };
    let provider = match settings.stripe() {
        Ok(Some(stripe)) => match StripeProvider::new(&stripe) {
            Ok(provider) => Arc::new(provider) as Arc<dyn PaymentProvider>,
            Err(error) => {
                tracing::error!(%error, "stripe is misconfigured; payments are manual");
                manual()
            }
        },
        Ok(None) => manual(),
        Err(error) => {
            tracing::error!(%error, "stripe is misconfigured; payments are manual");
            manual()
        }
    };
    let policy = settings.dunning_policy().unwrap_or_else(|error| {
        tracing::error!(%error, "dunning schedule refused; the default one applies");
        DunningPolicy::default()
    });
    let mut payments = Payments::new(
        billing,
        store,
        provider,
        policy,
        Arc::new(crate::billing::random_id_bytes),
    );
    if let Ok(Some(webhook)) = settings.stripe_webhook() {
        payments = payments.with_stripe_webhook(webhook);
    }
    payments
}

/// A dunning run now, under the job lock; `None` when another run holds it.
pub async fn locked_dunning_run(
    payments: &Payments,
    locks: Arc<dyn JobLock>,
) -> Result<Option<DunningReport>, PaymentError> {
    let guard = tokio::task::spawn_blocking(move || {
        let guard = locks.try_lock_job(DUNNING_JOB)?;
        Ok::<_, PaymentError>(guard)
    })
    .await
    .map_err(|e| {
        PaymentError::Store(shiyun_core::store::StoreError::Internal(format!(
            "the job lock stopped: {e}"
        )))
    })??;
    let Some(guard) = guard else {
        return Ok(None);
    };
    let report = payments.run_dunning(Utc::now()).await;
    // Released on a blocking thread: dropping may touch the database.
    let _ = tokio::task::spawn_blocking(move || drop(guard)).await;
    report.map(Some)
}

/// Runs dunning on the settings' schedule while the server runs, each run
/// under the job lock so one instance runs it; aborting the task stops it
/// between runs.
pub async fn run_dunning(payments: Payments, locks: Arc<dyn JobLock>, settings: Settings) {
    let schedule = match settings.dunning_schedule() {
        Ok(schedule) => schedule,
        Err(error) => {
            tracing::error!(%error, "dunning not scheduled");
            return;
        }
    };
    loop {
        let Some(next) = schedule.upcoming(Utc).next() else {
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        match locked_dunning_run(&payments, locks.clone()).await {
            Ok(Some(report)) => tracing::info!(
                retried = report.retried,
                succeeded = report.succeeded,
                rescheduled = report.rescheduled,
                overdue = report.overdue,
                failures = report.failures.len(),
                "dunning run done"
            ),
            Ok(None) => tracing::debug!("another instance runs dunning"),
            Err(error) => tracing::warn!(%error, "dunning run failed"),
        }
    }
}
