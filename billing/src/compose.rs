//! STUB (replaced by the kernel branch).
#![allow(missing_docs, clippy::todo)]
use crate::BillingError;
use crate::charge::{MeterUsage, Rated};
use crate::period::Period;
use crate::plan::Plan;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_core::billing::{InvoiceLine, PlanPhase, UsagePoint};
use shiyun_core::{Currency, ValidationError};
use std::collections::BTreeMap;
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub code: String,
    pub percent_off: Option<Decimal>,
    pub amount_off: Option<Decimal>,
    pub periods: Option<u32>,
}
pub fn parse_coupons(_json: &str) -> Result<Vec<Coupon>, ValidationError> {
    todo!()
}
pub struct Terms<'a> {
    pub plans: &'a BTreeMap<String, Plan>,
    pub phases: &'a [PlanPhase],
    pub ends_on: Option<NaiveDate>,
    pub timezone: Tz,
    pub tax_rate: Decimal,
    pub coupons: &'a [Coupon],
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composition {
    pub currency: Currency,
    pub lines: Vec<InvoiceLine>,
    pub subtotal: Decimal,
    pub discount: Decimal,
    pub tax: Decimal,
}
pub fn first_period(_terms: &Terms) -> Result<Period, BillingError> {
    todo!()
}
pub fn next_period(_terms: &Terms, _after: &Period) -> Result<Option<Period>, BillingError> {
    todo!()
}
pub fn compose(
    _terms: &Terms,
    _period: &Period,
    _usage: &mut dyn FnMut(&str, DateTime<Utc>, DateTime<Utc>) -> Result<MeterUsage, BillingError>,
) -> Result<Composition, BillingError> {
    todo!()
}
pub fn usage_amount(
    _plan: &Plan,
    _meter: &str,
    _usage: &MeterUsage,
) -> Result<Option<(Decimal, Rated)>, BillingError> {
    todo!()
}
pub fn weighted_sum(_points: &[UsagePoint], _from: DateTime<Utc>, _to: DateTime<Utc>) -> Decimal {
    todo!()
}
pub fn totals(
    _terms: &Terms,
    _period: &Period,
    _currency: Currency,
    _subtotal: Decimal,
) -> Result<(Decimal, Decimal), BillingError> {
    todo!()
}
