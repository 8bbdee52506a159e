//! Prepaid wallets: one per customer and currency, kept as a double-entry,
//! append-only ledger.
//!
//! Every wallet transaction is two or more postings that sum to zero. The
//! customer's money is the account `wallet`; the other side names where it
//! came from or went:
//!
//! | transaction | `wallet` | other side |
//! |---|---|---|
//! | top-up (paid) | +A | `cash` −A |
//! | grant (promotional) | +A | `promotions` −A |
//! | debit (usage paid from the wallet) | −A | `prepaid_applied` +A |
//! | expiry of a credit's remainder | −R | `breakage` +R |
//!
//! A debit moves money into the customer's applied-prepaid balance (the
//! billing store's prepaid credit), which the invoice of the period draws
//! at finalisation: so wallet debits equal the prepaid credit invoices
//! apply (plus what is still waiting for the next invoice).
//!
//! The floor rule (`balance − amount ≥ floor`) and the order credits are
//! used in (priority, then earliest expiry, then first in) are decided by
//! the store inside the debit's own transaction, never in application code.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{IssuerId, SubscriptionId};
use crate::error::ValidationError;
use crate::money::{Currency, Money};
use crate::store::{Outcome, StoreResult};
use crate::tenancy::ids::prefixed_id;

prefixed_id!(
    /// One wallet transaction (a top-up, grant, debit or expiry).
    WalletTransactionId, "wtx", "transaction_id", "^wtx_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// One credit in a wallet: a paid top-up or a promotional grant.
    WalletCreditId, "wcr", "credit_id", "^wcr_[0-9a-z]{1,40}$"
);

/// Where a credit came from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    /// Paid for (cash came in): never expires unless given an expiry.
    TopUp,
    /// Promotional: usually expires; unused remainders are breakage.
    Grant,
}

impl CreditKind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            CreditKind::TopUp => "top_up",
            CreditKind::Grant => "grant",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text {
            "top_up" => Ok(CreditKind::TopUp),
            "grant" => Ok(CreditKind::Grant),
            _ => Err(ValidationError::new(
                "kind",
                format!("unknown credit kind `{text}`"),
            )),
        }
    }

    /// The counter-account of a credit of this kind.
    pub fn source_account(self) -> &'static str {
        match self {
            CreditKind::TopUp => account::CASH,
            CreditKind::Grant => account::PROMOTIONS,
        }
    }
}

/// The ledger's account names.
pub mod account {
    /// The customer's spendable money.
    pub const WALLET: &str = "wallet";
    /// Cash received for top-ups.
    pub const CASH: &str = "cash";
    /// Promotional credit given away.
    pub const PROMOTIONS: &str = "promotions";
    /// Money moved out of the wallet to pay for usage; invoices draw it.
    pub const PREPAID_APPLIED: &str = "prepaid_applied";
    /// Expired credit never used: recognised as revenue (breakage).
    pub const BREAKAGE: &str = "breakage";
}

/// What a ledger transaction was.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// A paid top-up.
    TopUp,
    /// A promotional grant.
    Grant,
    /// Usage paid from the wallet.
    Debit,
    /// A credit's unused remainder expired.
    Expiry,
}

impl LedgerKind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::TopUp => "top_up",
            LedgerKind::Grant => "grant",
            LedgerKind::Debit => "debit",
            LedgerKind::Expiry => "expiry",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        [
            LedgerKind::TopUp,
            LedgerKind::Grant,
            LedgerKind::Debit,
            LedgerKind::Expiry,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| ValidationError::new("kind", format!("unknown ledger kind `{text}`")))
    }
}

/// When an automatic top-up fires.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AutoTopUpTrigger {
    /// When a debit takes the balance below this amount.
    Threshold {
        /// The amount (decimal string).
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        below: Decimal,
    },
    /// Every so many days, from the last automatic top-up (or the settings' change).
    Interval {
        /// Days between top-ups (1–366).
        days: u32,
    },
}

/// How much an automatic top-up adds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AutoTopUpAmount {
    /// Always this amount.
    Fixed {
        /// The amount (decimal string).
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        amount: Decimal,
    },
    /// Enough to bring the balance up to this target (nothing if it is there).
    UpTo {
        /// The target balance (decimal string).
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        target: Decimal,
    },
}

/// Automatic top-up settings.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoTopUp {
    /// When it fires.
    pub trigger: AutoTopUpTrigger,
    /// How much it adds.
    pub amount: AutoTopUpAmount,
}

impl AutoTopUp {
    /// The amount to add to a wallet holding `balance` (zero: nothing to do).
    pub fn amount_for(&self, balance: Decimal) -> Decimal {
        match &self.amount {
            AutoTopUpAmount::Fixed { amount } => *amount,
            AutoTopUpAmount::UpTo { target } => (*target - balance).max(Decimal::ZERO),
        }
    }
}

/// A wallet's settings, as an operator or the customer sets them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletSettings {
    /// The lowest balance a debit may leave: 0, or a negative overdraft.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub floor: Decimal,
    /// Notify when a debit takes the balance below this (none: never).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub low_balance_threshold: Option<Decimal>,
    /// Automatic top-up (none: off).
    pub auto_top_up: Option<AutoTopUp>,
}

impl Default for WalletSettings {
    fn default() -> Self {
        WalletSettings {
            floor: Decimal::ZERO,
            low_balance_threshold: None,
            auto_top_up: None,
        }
    }
}

impl WalletSettings {
    /// Checks the settings: floor ≤ 0, amounts positive, at most 6 places.
    pub fn check(&self) -> Result<(), ValidationError> {
        if self.floor > Decimal::ZERO {
            return Err(ValidationError::new(
                "floor",
                "must be 0 or negative (an allowed overdraft)",
            ));
        }
        let places = |d: Decimal, field: &'static str| {
            if d.normalize().scale() > 6 {
                Err(ValidationError::new(
                    field,
                    "has more than 6 decimal places",
                ))
            } else {
                Ok(())
            }
        };
        places(self.floor, "floor")?;
        if let Some(t) = self.low_balance_threshold {
            places(t, "low_balance_threshold")?;
        }
        if let Some(auto) = &self.auto_top_up {
            match &auto.trigger {
                AutoTopUpTrigger::Threshold { below } => {
                    places(*below, "auto_top_up.trigger.below")?
                }
                AutoTopUpTrigger::Interval { days } => {
                    if !(1..=366).contains(days) {
                        return Err(ValidationError::new(
                            "auto_top_up.trigger.days",
                            "must be 1-366",
                        ));
                    }
                }
            }
            let (amount, field) = match &auto.amount {
                AutoTopUpAmount::Fixed { amount } => (*amount, "auto_top_up.amount.amount"),
                AutoTopUpAmount::UpTo { target } => (*target, "auto_top_up.amount.target"),
            };
            if amount <= Decimal::ZERO {
                return Err(ValidationError::new(field, "must be positive"));
            }
            places(amount, field)?;
        }
        Ok(())
    }
}

/// A wallet as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    /// The customer's external id.
    pub customer: String,
    /// The wallet's currency.
    pub currency: Currency,
    /// The balance: always the sum of the ledger's `wallet` postings.
    pub balance: Money,
    /// Settings.
    pub settings: WalletSettings,
    /// When an automatic top-up last fired.
    pub last_auto_top_up_at: Option<DateTime<Utc>>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When the balance or settings last changed.
    pub updated_at: DateTime<Utc>,
}

/// A credit in a wallet and what is left of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletCredit {
    /// Its id.
    pub id: WalletCreditId,
    /// The customer's external id.
    pub customer: String,
    /// Paid or promotional.
    pub kind: CreditKind,
    /// Lower numbers are used first.
    pub priority: i32,
    /// When the remainder expires (none: never).
    pub expires_at: Option<DateTime<Utc>>,
    /// The amount credited.
    pub amount: Money,
    /// Not yet used (or expired).
    pub remaining: Money,
    /// The payment behind a top-up (a PaymentIntent, a bank reference).
    pub reference: Option<String>,
    /// When credited.
    pub created_at: DateTime<Utc>,
    /// When its remainder expired, if it did.
    pub expired_at: Option<DateTime<Utc>>,
}

/// A credit to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredit {
    /// Its id (drawn by the caller).
    pub id: WalletCreditId,
    /// The ledger transaction's id (drawn by the caller).
    pub transaction: WalletTransactionId,
    /// The customer's external id (must exist).
    pub customer: String,
    /// Amount and currency: positive, at most 6 places.
    pub amount: Money,
    /// Paid or promotional.
    pub kind: CreditKind,
    /// Lower numbers are used first (top-ups default to 100, grants to 0).
    pub priority: i32,
    /// When the remainder expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Idempotency key, unique per issuer among wallet transactions.
    pub key: String,
    /// The payment behind it.
    pub reference: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A debit to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDebit {
    /// The ledger transaction's id (drawn by the caller).
    pub transaction: WalletTransactionId,
    /// The customer's external id.
    pub customer: String,
    /// Amount and currency: positive, at most 6 places.
    pub amount: Money,
    /// Idempotency key, unique per issuer among wallet transactions (a
    /// usage event's key, say).
    pub key: String,
    /// The subscription the usage belongs to.
    pub subscription: Option<SubscriptionId>,
    /// Human text.
    pub description: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a debit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debited {
    /// The ledger transaction.
    pub transaction: WalletTransactionId,
    /// The balance before.
    pub balance_before: Money,
    /// The balance after.
    pub balance_after: Money,
    /// The credits drawn, in the order used, with the amount from each.
    pub drawn: Vec<(WalletCreditId, Decimal)>,
}

/// One posting of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerPosting {
    /// Order of writing, per issuer.
    pub seq: i64,
    /// The transaction it belongs to (its postings sum to zero).
    pub transaction: WalletTransactionId,
    /// The transaction's idempotency key.
    pub key: String,
    /// What the transaction was.
    pub kind: LedgerKind,
    /// The customer's external id.
    pub customer: String,
    /// Account (see [`account`]).
    pub account: String,
    /// Signed amount.
    pub amount: Money,
    /// The credit touched, for top-ups, grants, debits (one posting per credit drawn) and expiries.
    pub credit: Option<WalletCreditId>,
    /// The subscription a debit paid for.
    pub subscription: Option<SubscriptionId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Wallet storage: every rule that must hold under concurrency is one
/// store transaction.
pub trait WalletStore: Send + Sync {
    /// Creates the wallet with these settings, or replaces its settings.
    /// The customer must exist (`StoreError::NotFound`).
    fn put_wallet_settings(
        &self,
        issuer: &IssuerId,
        customer: &str,
        currency: Currency,
        settings: &WalletSettings,
        at: DateTime<Utc>,
    ) -> StoreResult<Wallet>;

    /// One wallet.
    fn get_wallet(
        &self,
        issuer: &IssuerId,
        customer: &str,
        currency: Currency,
    ) -> StoreResult<Option<Wallet>>;

    /// Every wallet of a customer, by currency.
    fn wallets_of(&self, issuer: &IssuerId, customer: &str) -> StoreResult<Vec<Wallet>>;

    /// In one transaction: adds the credit (creating the wallet with
    /// default settings if needed), posts `wallet` +A against the kind's
    /// source account, and appends `wallet.credited` to the audit chain.
    /// The same key with the same content is [`Outcome::Replayed`]
    /// (returning the wallet as it is now); another content is
    /// `StoreError::IdempotencyConflict`.
    fn credit_wallet(&self, issuer: &IssuerId, credit: &NewCredit) -> StoreResult<Outcome<Wallet>>;

    /// In one transaction: expires the customer's credits whose expiry is
    /// at or before `debit.at` (breakage postings), locks the wallet, and if
    /// `balance − amount ≥ floor` draws the amount from credits by
    /// priority, then earliest expiry (never last), then first in, posts
    /// `wallet` −A against `prepaid_applied`, adds A to the customer's
    /// prepaid credit that invoices draw, and appends `wallet.debited`.
    /// Else nothing but the expiries is written and the answer is
    /// `StoreError::InsufficientBalance`. A missing wallet is
    /// `StoreError::InsufficientBalance` too. The same key with the same
    /// content is [`Outcome::Replayed`]; another content is
    /// `StoreError::IdempotencyConflict`.
    fn debit_wallet(&self, issuer: &IssuerId, debit: &NewDebit) -> StoreResult<Outcome<Debited>>;

    /// Expires every credit of the issuer whose expiry is at or before
    /// `at` and that still has a remainder: one `expiry` transaction each
    /// (`wallet` −R, `breakage` +R), with `transaction` ids drawn from
    /// `ids`. Returns the expiry postings on `wallet`.
    fn expire_credits(
        &self,
        issuer: &IssuerId,
        at: DateTime<Utc>,
        ids: &mut dyn FnMut() -> WalletTransactionId,
    ) -> StoreResult<Vec<LedgerPosting>>;

    /// A customer's credits in one currency, in the order a debit uses them
    /// (expired ones last).
    fn wallet_credits(
        &self,
        issuer: &IssuerId,
        customer: &str,
        currency: Currency,
    ) -> StoreResult<Vec<WalletCredit>>;

    /// A page of the issuer's ledger postings with `seq > after_seq`, by
    /// seq; only one customer's when `customer` is given.
    fn ledger(
        &self,
        issuer: &IssuerId,
        customer: Option<&str>,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<LedgerPosting>>;

    /// Wallets with an interval automatic top-up due at `now` (never fired,
    /// or fired `days` or more before), by customer then currency.
    fn wallets_due_top_up(&self, issuer: &IssuerId, now: DateTime<Utc>)
    -> StoreResult<Vec<Wallet>>;

    /// Records that an automatic top-up fired for the wallet at `at`.
    fn mark_auto_top_up(
        &self,
        issuer: &IssuerId,
        customer: &str,
        currency: Currency,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}
