//! The marketplace's billing: the default issuer over the server's store,
//! and the scheduled bill runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use shiyun_billing::wallet::Wallets;
use shiyun_billing::{BillRunReport, Billing, BillingError};
use shiyun_core::billing::wallet::WalletStore;
use shiyun_core::billing::{BillingStore, Issuer, IssuerId};
use shiyun_core::store::JobLock;

use crate::settings::Settings;

/// The job lock's name for bill runs: one runs at a time across instances.
pub const BILL_RUN_JOB: &str = "billing.bill_run";

/// 32 random bytes for a key that lives as long as the process.
pub(crate) fn random_key_bytes() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&random_id_bytes());
    key[16..].copy_from_slice(&random_id_bytes());
    key
}

/// 16 random bytes for ids. The OS's source never fails on the platforms
/// served; should it, a clock-and-counter mix still gives distinct ids.
pub(crate) fn random_id_bytes() -> [u8; 16] {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let count = FALLBACK.fetch_add(1, Ordering::Relaxed);
        bytes[..8].copy_from_slice(&nanos.to_be_bytes());
        bytes[8..].copy_from_slice(&count.to_be_bytes());
    }
    bytes
}

/// The marketplace issuer of `settings` over `store` (created on first use).
pub fn marketplace(store: Arc<dyn BillingStore>, settings: &Settings) -> Billing {
    let issuer = Issuer {
        id: IssuerId::marketplace(),
        name: settings.billing.issuer_name.clone(),
        invoice_prefix: settings.billing.invoice_prefix.clone(),
        grace_period_hours: settings.billing.grace_period_hours,
        late_window_days: settings.billing.late_window_days,
    };
    Billing::new(store, issuer, Arc::new(random_id_bytes))
}

/// The marketplace issuer's prepaid wallets over `store`.
pub fn marketplace_wallets(store: Arc<dyn WalletStore>) -> Wallets {
    Wallets::new(store, IssuerId::marketplace(), Arc::new(random_id_bytes))
}

/// A bill run now, under the job lock; `None` when another run holds it.
/// Expired wallet credits are swept first, so their breakage is in the
/// ledger before the period's invoices.
pub fn locked_bill_run(
    billing: &Billing,
    wallets: &Wallets,
    locks: &dyn JobLock,
) -> Result<Option<BillRunReport>, BillingError> {
    let Some(_guard) = locks.try_lock_job(BILL_RUN_JOB)? else {
        return Ok(None);
    };
    let now = Utc::now();
    let expired = wallets.expire(now)?;
    if !expired.is_empty() {
        tracing::info!(expired = expired.len(), "wallet credits expired");
    }
    billing.bill_run(now).map(Some)
}

/// Runs bill runs on the settings' schedule while the server runs, each
/// under the job lock so one instance runs it; aborting the task stops it
/// between runs.
pub async fn run_bill_runs(
    billing: Billing,
    wallets: Wallets,
    locks: Arc<dyn JobLock>,
    settings: Settings,
) {
    let schedule = match settings.bill_run_schedule() {
        Ok(schedule) => schedule,
        Err(error) => {
            tracing::error!(%error, "bill runs not scheduled");
            return;
        }
    };
    loop {
        let Some(next) = schedule.upcoming(Utc).next() else {
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let billing = billing.clone();
        let wallets = wallets.clone();
        let locks = locks.clone();
        let ran = tokio::task::spawn_blocking(move || {
            locked_bill_run(&billing, &wallets, locks.as_ref())
        })
        .await;
        match ran {
            Ok(Ok(Some(report))) => tracing::info!(
                drafted = report.drafted,
                replayed = report.replayed,
                finalized = report.finalized,
                failures = report.failures.len(),
                "bill run done"
            ),
            Ok(Ok(None)) => tracing::debug!("another instance runs the bill run"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "bill run failed")
            }
            Err(error) => tracing::error!(%error, "bill run stopped abnormally"),
        }
    }
}

/// Acts on what paying usage from wallets signalled: low-balance notices,
/// threshold automatic top-ups, suspensions (logged for operators).
pub async fn act_on_signals(
    state: &crate::app::AppState,
    signals: Vec<shiyun_billing::market::WalletSignal>,
) {
    use shiyun_billing::market::WalletSignal;
    for signal in signals {
        match signal {
            WalletSignal::LowBalance {
                customer,
                balance,
                threshold,
            } => {
                crate::routes::wallets::notify_low_balance(
                    state,
                    &customer,
                    balance,
                    threshold.amount(),
                )
                .await;
            }
            WalletSignal::AutoTopUp {
                customer,
                amount,
                key,
            } => {
                // Charged through the payment provider; the webhook credits it.
                match state
                    .payments
                    .top_up(&customer, amount, &key, chrono::Utc::now())
                    .await
                {
                    Ok(_) => tracing::info!(%customer, %amount, "automatic top-up started"),
                    Err(error) => {
                        tracing::warn!(%customer, %amount, %error, "automatic top-up not started");
                    }
                }
            }
            WalletSignal::Suspended { order } => {
                tracing::info!(%order, "order suspended: its wallet reached the floor");
            }
        }
    }
}
