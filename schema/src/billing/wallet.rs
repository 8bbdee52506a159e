//! Placeholder until the wallet store lands (replaced wholesale).

use chrono::{DateTime, Utc};
use shiyun_core::billing::IssuerId;
use shiyun_core::billing::wallet::{
    Debited, LedgerPosting, NewCredit, NewDebit, Wallet, WalletCredit, WalletSettings, WalletStore,
    WalletTransactionId,
};
use shiyun_core::money::Currency;
use shiyun_core::store::{Outcome, StoreError, StoreResult};

use crate::db::Database;

fn pending() -> StoreError {
    StoreError::Internal("wallets are not built yet".into())
}

impl WalletStore for Database {
    fn put_wallet_settings(
        &self,
        _: &IssuerId,
        _: &str,
        _: Currency,
        _: &WalletSettings,
        _: DateTime<Utc>,
    ) -> StoreResult<Wallet> {
        Err(pending())
    }
    fn get_wallet(&self, _: &IssuerId, _: &str, _: Currency) -> StoreResult<Option<Wallet>> {
        Ok(None)
    }
    fn wallets_of(&self, _: &IssuerId, _: &str) -> StoreResult<Vec<Wallet>> {
        Ok(Vec::new())
    }
    fn credit_wallet(&self, _: &IssuerId, _: &NewCredit) -> StoreResult<Outcome<Wallet>> {
        Err(pending())
    }
    fn debit_wallet(&self, _: &IssuerId, _: &NewDebit) -> StoreResult<Outcome<Debited>> {
        Err(pending())
    }
    fn expire_credits(
        &self,
        _: &IssuerId,
        _: DateTime<Utc>,
        _: &mut dyn FnMut() -> WalletTransactionId,
    ) -> StoreResult<Vec<LedgerPosting>> {
        Ok(Vec::new())
    }
    fn wallet_credits(&self, _: &IssuerId, _: &str, _: Currency) -> StoreResult<Vec<WalletCredit>> {
        Ok(Vec::new())
    }
    fn ledger(
        &self,
        _: &IssuerId,
        _: Option<&str>,
        _: i64,
        _: u32,
    ) -> StoreResult<Vec<LedgerPosting>> {
        Ok(Vec::new())
    }
    fn wallets_due_top_up(&self, _: &IssuerId, _: DateTime<Utc>) -> StoreResult<Vec<Wallet>> {
        Ok(Vec::new())
    }
    fn mark_auto_top_up(
        &self,
        _: &IssuerId,
        _: &str,
        _: Currency,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        Err(pending())
    }
}
