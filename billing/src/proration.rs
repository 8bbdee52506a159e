//! STUB (replaced by the kernel branch).
#![allow(missing_docs, clippy::todo)]
use crate::BillingError;
use shiyun_core::Money;
pub fn allocate(_total: Money, _weights: &[u64]) -> Result<Vec<Money>, BillingError> {
    todo!()
}
