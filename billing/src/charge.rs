//! STUB (replaced by the kernel branch).
#![allow(missing_docs, clippy::todo)]
use crate::BillingError;
use crate::plan::ChargeModel;
use rust_decimal::Decimal;
use serde::Serialize;
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterUsage {
    pub quantity: Decimal,
    pub events: u64,
    pub amounts: Vec<Decimal>,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierApplied {
    pub tier: usize,
    pub units: Decimal,
    pub unit_price: Decimal,
    pub flat_fee: Decimal,
    pub amount: Decimal,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rated {
    pub amount: Decimal,
    pub tiers: Vec<TierApplied>,
}
pub fn rate(_model: &ChargeModel, _usage: &MeterUsage) -> Result<Rated, BillingError> {
    todo!()
}
