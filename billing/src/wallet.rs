//! Prepaid wallets: top-ups, promotional grants, real-time debits, the
//! low-balance notice and automatic top-ups.
//!
//! Every rule that must hold under concurrency (the floor, the order credits
//! are used in, exactly-once keys, expiry) is one
//! [`WalletStore`] call that the store carries out in one transaction; this
//! service checks input, draws ids and reads what a debit means afterwards:
//! whether it crossed the low-balance threshold (balance before at or above
//! it, after below) and whether a threshold automatic top-up is due, and how
//! much ([`AutoTopUp::amount_for`]). Automatic top-ups are paid through a
//! [`TopUpSink`] (a payment provider charges the customer, then credits the
//! wallet under the key it was given); [`DirectCredit`] credits the wallet
//! at once, for money settled elsewhere and for tests.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use shiyun_core::ValidationError;
use shiyun_core::billing::wallet::{
    AutoTopUp, AutoTopUpTrigger, CreditKind, Debited, LedgerPosting, NewCredit, NewDebit, Wallet,
    WalletCredit, WalletCreditId, WalletSettings, WalletStore, WalletTransactionId,
};
use shiyun_core::billing::{IssuerId, SubscriptionId};
use shiyun_core::money::{Currency, Money};
use shiyun_core::store::Outcome;

use crate::{BillingError, IdSource};

/// The priority a top-up gets unless told: after grants.
pub const TOP_UP_PRIORITY: i32 = 100;

/// The priority a grant gets unless told: before top-ups, so promotional
/// credit (which may expire) is used before paid credit.
pub const GRANT_PRIORITY: i32 = 0;

/// Most bytes of an idempotency key, a reference or a description.
const MAX_TEXT: usize = 255;

/// Pays for an automatic top-up. The implementation charges the customer
/// (a payment provider) and credits the wallet under `key` once the money
/// is in, so a retry with the same key never credits twice.
pub trait TopUpSink: Send + Sync {
    /// Starts (or completes) a top-up of `amount` into `wallet`.
    fn top_up(&self, wallet: &Wallet, amount: Money, key: &str) -> Result<(), BillingError>;
}

/// A [`TopUpSink`] that credits the wallet at once as a paid top-up:
/// for money settled outside the platform (an invoice, a bank standing
/// order) and for tests.
#[derive(Clone)]
pub struct DirectCredit {
    wallets: Wallets,
}

impl std::fmt::Debug for DirectCredit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectCredit").finish_non_exhaustive()
    }
}

impl DirectCredit {
    /// Credits through `wallets`.
    pub fn new(wallets: Wallets) -> Self {
        DirectCredit { wallets }
    }
}

impl TopUpSink for DirectCredit {
    fn top_up(&self, wallet: &Wallet, amount: Money, key: &str) -> Result<(), BillingError> {
        // A replay (the same key again) is a success: credited once.
        let _credited = self.wallets.credit(
            &wallet.customer,
            &CreditRequest::top_up(amount, key, None),
            Utc::now(),
        )?;
        Ok(())
    }
}

/// A credit to add: a paid top-up or a promotional grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditRequest {
    /// Paid or promotional.
    pub kind: CreditKind,
    /// Amount and currency: positive, at most 6 places.
    pub amount: Money,
    /// Lower is used first (default: top-ups 100, grants 0).
    pub priority: Option<i32>,
    /// When the remainder expires (none: never).
    pub expires_at: Option<DateTime<Utc>>,
    /// Idempotency key (1-255 bytes).
    pub key: String,
    /// The payment behind a top-up.
    pub reference: Option<String>,
}

impl CreditRequest {
    /// A paid top-up that never expires.
    pub fn top_up(amount: Money, key: &str, reference: Option<String>) -> Self {
        CreditRequest {
            kind: CreditKind::TopUp,
            amount,
            priority: None,
            expires_at: None,
            key: key.to_owned(),
            reference,
        }
    }

    /// A promotional grant.
    pub fn grant(
        amount: Money,
        key: &str,
        priority: Option<i32>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        CreditRequest {
            kind: CreditKind::Grant,
            amount,
            priority,
            expires_at,
            key: key.to_owned(),
            reference: None,
        }
    }
}

/// A debit to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebitRequest {
    /// Amount and currency: positive, at most 6 places.
    pub amount: Money,
    /// Idempotency key (1-255 bytes): a usage event's key, say.
    pub key: String,
    /// The subscription the usage belongs to.
    pub subscription: Option<SubscriptionId>,
    /// Human text (at most 255 bytes).
    pub description: String,
}

/// What a debit did and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebitReport {
    /// The debit (as first taken, for a replay).
    pub debited: Debited,
    /// The same request was taken before; nothing changed now.
    pub replayed: bool,
    /// The wallet after the debit.
    pub wallet: Wallet,
    /// This debit took the balance from at or above the low-balance
    /// threshold to below it (never for a replay): notify the customer.
    pub low_balance: bool,
    /// A threshold automatic top-up this debit triggered, and how much.
    pub auto_top_up: Option<Money>,
}

impl DebitReport {
    /// The idempotency key of the automatic top-up this debit triggered:
    /// one per debit, so a retried delivery credits once.
    pub fn auto_top_up_key(&self) -> String {
        format!("auto-top-up:{}", self.debited.transaction)
    }
}

/// An interval automatic top-up that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTopUp {
    /// The wallet as it is.
    pub wallet: Wallet,
    /// How much to add (zero: nothing to do, the balance is at its target).
    pub amount: Money,
    /// Its idempotency key: the same until the top-up is marked, so a run
    /// that stopped half-way does not top up twice.
    pub key: String,
}

/// An issuer's wallets.
#[derive(Clone)]
pub struct Wallets {
    store: Arc<dyn WalletStore>,
    issuer: IssuerId,
    ids: IdSource,
}

impl std::fmt::Debug for Wallets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallets")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn check_text(text: &str, field: &str, required: bool) -> Result<(), ValidationError> {
    if (required && text.is_empty()) || text.len() > MAX_TEXT {
        let range = if required { "1-255" } else { "at most 255" };
        return Err(ValidationError::new(
            field,
            format!("must be {range} bytes"),
        ));
    }
    Ok(())
}

fn positive(amount: &Money) -> Result<(), ValidationError> {
    if amount.amount() <= Decimal::ZERO {
        return Err(ValidationError::new("amount", "must be positive"));
    }
    Ok(())
}

impl Wallets {
    /// The wallets of `issuer` (which must exist in the billing store).
    pub fn new(store: Arc<dyn WalletStore>, issuer: IssuerId, ids: IdSource) -> Self {
        Wallets { store, issuer, ids }
    }

    /// The issuer.
    pub fn issuer(&self) -> &IssuerId {
        &self.issuer
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn WalletStore> {
        &self.store
    }

    fn transaction_id(&self) -> WalletTransactionId {
        WalletTransactionId::from_random((self.ids)())
    }

    /// Adds a paid top-up. The same key and request again is a replay.
    pub fn top_up(
        &self,
        customer: &str,
        amount: Money,
        key: &str,
        reference: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Outcome<Wallet>, BillingError> {
        self.credit(customer, &CreditRequest::top_up(amount, key, reference), at)
    }

    /// Adds a promotional grant.
    pub fn grant(
        &self,
        customer: &str,
        amount: Money,
        key: &str,
        priority: Option<i32>,
        expires_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<Outcome<Wallet>, BillingError> {
        self.credit(
            customer,
            &CreditRequest::grant(amount, key, priority, expires_at),
            at,
        )
    }

    /// Adds a credit of either kind (creating the wallet if needed).
    pub fn credit(
        &self,
        customer: &str,
        request: &CreditRequest,
        at: DateTime<Utc>,
    ) -> Result<Outcome<Wallet>, BillingError> {
        positive(&request.amount)?;
        check_text(&request.key, "key", true)?;
        if let Some(reference) = &request.reference {
            check_text(reference, "reference", true)?;
        }
        if request.expires_at.is_some_and(|e| e <= at) {
            return Err(ValidationError::new("expires_at", "must be in the future").into());
        }
        let priority = request.priority.unwrap_or(match request.kind {
            CreditKind::TopUp => TOP_UP_PRIORITY,
            CreditKind::Grant => GRANT_PRIORITY,
        });
        let credit = NewCredit {
            id: WalletCreditId::from_random((self.ids)()),
            transaction: self.transaction_id(),
            customer: customer.to_owned(),
            amount: request.amount,
            kind: request.kind,
            priority,
            expires_at: request.expires_at,
            key: request.key.clone(),
            reference: request.reference.clone(),
            at,
        };
        Ok(self.store.credit_wallet(&self.issuer, &credit)?)
    }

    /// Takes a debit, refused with `insufficient_balance` when it would
    /// cross the floor, and reports what it means.
    pub fn debit(
        &self,
        customer: &str,
        request: &DebitRequest,
        at: DateTime<Utc>,
    ) -> Result<DebitReport, BillingError> {
        positive(&request.amount)?;
        check_text(&request.key, "key", true)?;
        check_text(&request.description, "description", false)?;
        let debit = NewDebit {
            transaction: self.transaction_id(),
            customer: customer.to_owned(),
            amount: request.amount,
            key: request.key.clone(),
            subscription: request.subscription.clone(),
            description: request.description.clone(),
            at,
        };
        let outcome = self.store.debit_wallet(&self.issuer, &debit)?;
        let replayed = outcome.is_replay();
        let debited = outcome.into_inner();
        let wallet = self
            .store
            .get_wallet(&self.issuer, customer, request.amount.currency())?
            .ok_or_else(|| BillingError::NotFound {
                entity: "wallet",
                id: format!("{customer} {}", request.amount.currency()),
            })?;
        let (before, after) = (
            debited.balance_before.amount(),
            debited.balance_after.amount(),
        );
        let crossed = |below: Decimal| !replayed && before >= below && after < below;
        let low_balance = wallet.settings.low_balance_threshold.is_some_and(crossed);
        let auto_top_up = match &wallet.settings.auto_top_up {
            Some(
                auto @ AutoTopUp {
                    trigger: AutoTopUpTrigger::Threshold { below },
                    ..
                },
            ) if crossed(*below) => Some(auto.amount_for(after))
                .filter(|a| *a > Decimal::ZERO)
                .map(|a| Money::new(a, wallet.currency)),
            _ => None,
        };
        Ok(DebitReport {
            debited,
            replayed,
            wallet,
            low_balance,
            auto_top_up,
        })
    }

    /// Pays the threshold automatic top-up a debit triggered through
    /// `sink`; nothing when none is due. Returns the amount asked for.
    pub fn fire_auto_top_up(
        &self,
        report: &DebitReport,
        sink: &dyn TopUpSink,
    ) -> Result<Option<Money>, BillingError> {
        let Some(amount) = report.auto_top_up else {
            return Ok(None);
        };
        sink.top_up(&report.wallet, amount, &report.auto_top_up_key())?;
        Ok(Some(amount))
    }

    /// Creates the wallet with `settings` or replaces its settings.
    pub fn settings(
        &self,
        customer: &str,
        currency: Currency,
        settings: &WalletSettings,
        at: DateTime<Utc>,
    ) -> Result<Wallet, BillingError> {
        settings.check()?;
        Ok(self
            .store
            .put_wallet_settings(&self.issuer, customer, currency, settings, at)?)
    }

    /// One wallet.
    pub fn wallet(
        &self,
        customer: &str,
        currency: Currency,
    ) -> Result<Option<Wallet>, BillingError> {
        Ok(self.store.get_wallet(&self.issuer, customer, currency)?)
    }

    /// A customer's wallets, by currency.
    pub fn wallets_of(&self, customer: &str) -> Result<Vec<Wallet>, BillingError> {
        Ok(self.store.wallets_of(&self.issuer, customer)?)
    }

    /// A customer's credits in one currency, in the order debits use them.
    pub fn credits(
        &self,
        customer: &str,
        currency: Currency,
    ) -> Result<Vec<WalletCredit>, BillingError> {
        Ok(self
            .store
            .wallet_credits(&self.issuer, customer, currency)?)
    }

    /// A page of ledger postings after `after_seq` (one customer's, or all).
    pub fn ledger(
        &self,
        customer: Option<&str>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<LedgerPosting>, BillingError> {
        Ok(self
            .store
            .ledger(&self.issuer, customer, after_seq, limit)?)
    }

    /// Expires every credit due at `at` (the sweep a schedule runs):
    /// breakage. Returns the expiry postings on `wallet`.
    pub fn expire(&self, at: DateTime<Utc>) -> Result<Vec<LedgerPosting>, BillingError> {
        let mut ids = || self.transaction_id();
        Ok(self.store.expire_credits(&self.issuer, at, &mut ids)?)
    }

    /// The interval automatic top-ups due at `now`, with their amounts.
    pub fn due_interval_top_ups(&self, now: DateTime<Utc>) -> Result<Vec<DueTopUp>, BillingError> {
        Ok(self
            .store
            .wallets_due_top_up(&self.issuer, now)?
            .into_iter()
            .filter_map(|wallet| {
                let auto = wallet.settings.auto_top_up.as_ref()?;
                let amount = Money::new(auto.amount_for(wallet.balance.amount()), wallet.currency);
                let since = wallet
                    .last_auto_top_up_at
                    .map_or_else(|| "first".to_owned(), |t| t.timestamp_micros().to_string());
                let key = format!(
                    "auto-top-up:{}:{}:{since}",
                    wallet.customer, wallet.currency
                );
                Some(DueTopUp {
                    wallet,
                    amount,
                    key,
                })
            })
            .collect())
    }

    /// Pays every due interval top-up through `sink` and marks it fired
    /// (also one with nothing to add, so the interval starts again). A
    /// failed payment is left unmarked, to be tried at the next run; the
    /// first error is returned after the others were tried.
    pub fn run_interval_top_ups(
        &self,
        now: DateTime<Utc>,
        sink: &dyn TopUpSink,
    ) -> Result<Vec<DueTopUp>, BillingError> {
        let mut fired = Vec::new();
        let mut first_error = None;
        for due in self.due_interval_top_ups(now)? {
            if !due.amount.is_zero()
                && let Err(error) = sink.top_up(&due.wallet, due.amount, &due.key)
            {
                tracing::warn!(customer = %due.wallet.customer, currency = %due.wallet.currency, %error, "automatic top-up failed");
                first_error.get_or_insert(error);
                continue;
            }
            self.store.mark_auto_top_up(
                &self.issuer,
                &due.wallet.customer,
                due.wallet.currency,
                now,
            )?;
            fired.push(due);
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(fired),
        }
    }
}
