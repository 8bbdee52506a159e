//! STUB (replaced by the kernel branch).
#![allow(missing_docs, clippy::todo)]
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_core::{Currency, ValidationError};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Weekly,
    Monthly,
    Quarterly,
    Yearly,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingTime {
    Calendar,
    Anniversary,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayIn {
    Advance,
    Arrears,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ChargeModel {
    Standard { unit_price: Decimal },
    Percentage { rate: Decimal },
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub meter: String,
    pub name: Option<String>,
    #[serde(flatten)]
    pub model: ChargeModel,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub currency: Currency,
    pub interval: Interval,
    pub billing_time: BillingTime,
    pub pay_in: PayIn,
    pub recurring_fee: Option<Decimal>,
    pub minimum_commitment: Option<Decimal>,
    pub charges: Vec<Charge>,
}
impl Plan {
    pub fn parse(_json: &str) -> Result<Plan, ValidationError> {
        todo!()
    }
    pub fn validate(&self) -> Result<(), ValidationError> {
        todo!()
    }
    pub fn to_json(&self) -> String {
        todo!()
    }
}
