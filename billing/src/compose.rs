//! One invoice's lines and totals for one subscription period.
//!
//! Pure: usage comes through a callback, so the engine decides where events
//! live. The rules, each stated by a test in `tests/kernel_compose.rs` named
//! after it:
//!
//! - **Phases split the period.** A plan change effective on a day splits
//!   the period there and the change day counts in the NEW plan. Each
//!   segment's usage is rated with that segment's plan (tiers restart per
//!   segment): one `usage` line per (segment, charge), rounded once.
//! - **Arrears fee prorated by days.** A `pay_in: arrears` plan bills its fee
//!   for each segment, prorated by segment days over the FULL period's days
//!   (the whole calendar period for a partial first period) with
//!   [`allocate`], so an unsplit period bills exactly the fee and pieces of
//!   one plan add up to it.
//! - **Advance fee for the next period.** A `pay_in: advance` plan bills on
//!   the invoice closing period P the fee of the NEXT period (the line spans
//!   that period; prorated if it is partial), unless the subscription ends
//!   within P. The zero-length opening period bills the first real period's
//!   fee.
//! - **Upgrade proration.** Where a phase starts inside P, an advance plan
//!   being left gets a `proration_credit` (negative) for the days from the
//!   change to the end of P, and an advance plan being entered a
//!   `proration_charge` for the same days, both as one side of an
//!   [`allocate`] of the fee billed for P over P's days. Two advance plans
//!   with the same fee give no lines. A downgrade at the next period start
//!   is just a phase there: nothing to prorate.
//! - **Minimum commitment.** Per segment, prorated like the fee: if the
//!   segment's fee share (billed now or in advance) plus its usage lines are
//!   below it, a `minimum_commitment` line for the difference.
//! - **Totals.** `subtotal` is the exact sum of the rounded lines. Coupons
//!   apply in order to what remains (`subtotal − discount so far`), never
//!   below zero: `percent_off` (a percentage, `"10"` = 10 %) of the
//!   remainder rounded once, `amount_off` capped at the remainder. A coupon
//!   applies while [`coupon_index`] `< periods`. `tax = round((subtotal −
//!   discount) × tax_rate)`, also when negative: a credit reverses tax.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_core::ValidationError;
use shiyun_core::billing::{InvoiceLine, PlanPhase, UsagePoint, check_code};
use shiyun_core::money::{Currency, Money, MoneyError, RoundingMode};

use crate::charge::{MeterUsage, Rated, rate};
use crate::error::BillingError;
use crate::period::{Period, days_between, full_period_days, period_for, period_index};
use crate::plan::{PayIn, Plan, dec_str_opt};
use crate::proration::allocate;

/// A discount on a subscription's invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coupon {
    /// Its code.
    pub code: String,
    /// A percentage of what remains (`"10"` = 10 %); exactly one of this and `amount_off`.
    #[serde(with = "dec_str_opt", default)]
    pub percent_off: Option<Decimal>,
    /// A fixed amount, capped at what remains.
    #[serde(with = "dec_str_opt", default)]
    pub amount_off: Option<Decimal>,
    /// For how many periods from the subscription's first (`null`: forever).
    #[serde(default)]
    pub periods: Option<u32>,
}

impl Coupon {
    /// Checks the code, that exactly one discount is set and in range, and
    /// that `periods` (when set) is at least 1.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_code(&self.code, "code")?;
        match (self.percent_off, self.amount_off) {
            (Some(p), None) => {
                if p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED {
                    return Err(ValidationError::new(
                        "percent_off",
                        "must be above 0 and at most 100",
                    ));
                }
            }
            (None, Some(a)) => {
                if a <= Decimal::ZERO {
                    return Err(ValidationError::new("amount_off", "must be above zero"));
                }
            }
            _ => {
                return Err(ValidationError::new(
                    "percent_off",
                    "exactly one of percent_off and amount_off must be set",
                ));
            }
        }
        if self.periods == Some(0) {
            return Err(ValidationError::new("periods", "must be at least 1"));
        }
        Ok(())
    }
}

/// Parses a subscription's coupons (a JSON array; empty text is no coupon).
/// Errors carry the coupon's index (`coupons[1].percent_off`).
pub fn parse_coupons(json: &str) -> Result<Vec<Coupon>, ValidationError> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<serde_json::Value> = serde_json::from_str(json)
        .map_err(|e| ValidationError::new("coupons", format!("not a JSON array: {e}")))?;
    let mut coupons = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("coupons[{i}]");
        let coupon: Coupon = serde_json::from_value(item)
            .map_err(|e| ValidationError::new(at.clone(), e.to_string()))?;
        coupon.validate().map_err(|e| e.within(&at))?;
        coupons.push(coupon);
    }
    Ok(coupons)
}

/// Everything about a subscription that billing reads.
#[derive(Debug, Clone, Copy)]
pub struct Terms<'a> {
    /// Every plan the phases name, by code.
    pub plans: &'a BTreeMap<String, Plan>,
    /// Ordered by `starts_on`; `phases[0].starts_on` is the anchor.
    pub phases: &'a [PlanPhase],
    /// Last day in force (inclusive), if cancelled.
    pub ends_on: Option<NaiveDate>,
    /// The customer's timezone.
    pub timezone: Tz,
    /// Tax as a fraction (`0.06` = 6 %).
    pub tax_rate: Decimal,
    /// Applied in order.
    pub coupons: &'a [Coupon],
}

impl<'a> Terms<'a> {
    /// The subscription's first day.
    pub fn anchor(&self) -> Result<NaiveDate, BillingError> {
        self.phases
            .first()
            .map(|p| p.starts_on)
            .ok_or_else(|| ValidationError::new("phases", "must have at least one phase").into())
    }

    /// The plan in force on local day `day` (the first plan before the anchor).
    pub fn plan_on(&self, day: NaiveDate) -> Result<&'a Plan, BillingError> {
        let phase = self
            .phases
            .iter()
            .rev()
            .find(|p| p.starts_on <= day)
            .or_else(|| self.phases.first())
            .ok_or_else(|| ValidationError::new("phases", "must have at least one phase"))?;
        self.plans
            .get(&phase.plan)
            .ok_or_else(|| BillingError::NotFound {
                entity: "plan",
                id: phase.plan.clone(),
            })
    }

    /// Checks phases (present, strictly ordered, plans known, one currency),
    /// `ends_on` (not before the anchor) and the tax rate (not negative).
    pub fn check(&self) -> Result<Currency, BillingError> {
        let anchor = self.anchor()?;
        let mut currency = None;
        for (i, phase) in self.phases.iter().enumerate() {
            if i > 0 && phase.starts_on <= self.phases[i - 1].starts_on {
                return Err(ValidationError::new(
                    format!("phases[{i}].starts_on"),
                    "must be after the previous phase's",
                )
                .into());
            }
            let plan = self
                .plans
                .get(&phase.plan)
                .ok_or_else(|| BillingError::NotFound {
                    entity: "plan",
                    id: phase.plan.clone(),
                })?;
            match currency {
                None => currency = Some(plan.currency),
                Some(c) if c != plan.currency => {
                    return Err(ValidationError::new(
                        format!("phases[{i}].plan"),
                        "every phase's plan must be in the same currency",
                    )
                    .into());
                }
                Some(_) => {}
            }
        }
        if let Some(end) = self.ends_on
            && end < anchor
        {
            return Err(ValidationError::new("ends_on", "must not be before the start").into());
        }
        if self.tax_rate.is_sign_negative() && !self.tax_rate.is_zero() {
            return Err(ValidationError::new("tax_rate", "must not be negative").into());
        }
        currency
            .ok_or_else(|| ValidationError::new("phases", "must have at least one phase").into())
    }

    /// The period that starts on `day`: up to the next boundary of the plan
    /// in force that day, cut at `ends_on`.
    fn period_from(&self, day: NaiveDate) -> Result<Period, BillingError> {
        let anchor = self.anchor()?;
        let plan = self.plan_on(day)?;
        let full = period_for(anchor, plan.interval, plan.billing_time, self.timezone, day);
        let mut end = full.end_day;
        if let Some(last) = self.ends_on
            && let Some(after) = last.succ_opt()
        {
            end = end.min(after);
        }
        Ok(Period::new(day, end.max(day), self.timezone))
    }

    /// Days of the full period of `plan` holding `day`.
    fn full_days(&self, plan: &Plan, day: NaiveDate) -> Result<u64, BillingError> {
        Ok(full_period_days(
            self.anchor()?,
            plan.interval,
            plan.billing_time,
            day,
        ))
    }
}

/// One stretch of a period on one plan.
struct Segment<'a> {
    first_day: NaiveDate,
    end_day: NaiveDate,
    plan: &'a Plan,
}

impl Segment<'_> {
    fn days(&self) -> u64 {
        days_between(self.first_day, self.end_day)
    }
}

/// An invoice's lines and totals, all rounded to the minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Composition {
    /// Currency of every amount.
    pub currency: Currency,
    /// The lines, positions from 0.
    pub lines: Vec<InvoiceLine>,
    /// Exact sum of the lines.
    pub subtotal: Decimal,
    /// Coupons, at most the subtotal (0 when it is not positive).
    pub discount: Decimal,
    /// `round((subtotal − discount) × tax_rate)`.
    pub tax: Decimal,
}

impl Composition {
    /// `subtotal − discount + tax`.
    pub fn total(&self) -> Decimal {
        self.subtotal
            .saturating_sub(self.discount)
            .saturating_add(self.tax)
    }
}

/// The opening period: for a `pay_in: advance` plan a ZERO-LENGTH period at
/// the anchor's midnight (its invoice bills the first period's fee at once);
/// for arrears the first real period.
pub fn first_period(terms: &Terms) -> Result<Period, BillingError> {
    terms.check()?;
    let anchor = terms.anchor()?;
    let plan = terms.plan_on(anchor)?;
    match plan.pay_in {
        PayIn::Advance => Ok(Period::new(anchor, anchor, terms.timezone)),
        PayIn::Arrears => terms.period_from(anchor),
    }
}

/// The period after `after`, or `None` once past `ends_on`. Its length
/// comes from the plan in force on its first day.
pub fn next_period(terms: &Terms, after: &Period) -> Result<Option<Period>, BillingError> {
    let day = after.end_day;
    if let Some(last) = terms.ends_on
        && day > last
    {
        return Ok(None);
    }
    terms.period_from(day).map(Some)
}

/// Which period's coupons apply to the invoice closing `period`: the index
/// of the period whose recurring fee that invoice bills. Arrears: the period
/// itself; advance: the next one (the opening invoice is 0), so a coupon for
/// `n` periods discounts exactly `n` fees either way.
pub fn coupon_index(terms: &Terms, period: &Period) -> Result<u32, BillingError> {
    if period.is_empty() {
        return Ok(0);
    }
    let plan = terms.plan_on(period.first_day)?;
    let index = period_index(
        terms.anchor()?,
        plan.interval,
        plan.billing_time,
        terms.timezone,
        period,
    );
    Ok(match plan.pay_in {
        PayIn::Arrears => index,
        PayIn::Advance => index.saturating_add(1),
    })
}

fn overflow() -> BillingError {
    BillingError::Money(MoneyError::Overflow)
}

fn round(amount: Decimal, currency: Currency) -> Decimal {
    Money::new(amount, currency)
        .round(RoundingMode::HalfUp)
        .amount()
}

/// `amount` for `days` of a `full`-day period: one side of an [`allocate`]
/// (exactly the rounded amount when `days == full`).
fn prorated(
    amount: Decimal,
    currency: Currency,
    days: u64,
    full: u64,
) -> Result<Decimal, BillingError> {
    if full == 0 || days == 0 {
        return Ok(Decimal::ZERO);
    }
    if days > full {
        // Only where a phase's interval is shorter than the period's.
        let share = amount
            .checked_mul(Decimal::from(days))
            .and_then(|a| a.checked_div(Decimal::from(full)))
            .ok_or_else(overflow)?;
        return Ok(round(share, currency));
    }
    let pieces = allocate(Money::new(amount, currency), &[days, full - days])?;
    Ok(pieces.first().map_or(Decimal::ZERO, Money::amount))
}

/// Each segment's share of a per-period amount (fee or commitment) of its
/// plan, by days over that plan's full period. Segments of one plan are
/// allocated together so their pieces add up to its amount.
fn shares(
    terms: &Terms,
    currency: Currency,
    segments: &[Segment],
    pick: impl Fn(&Plan) -> Option<Decimal>,
) -> Result<Vec<Option<Decimal>>, BillingError> {
    let mut out = vec![None; segments.len()];
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (j, seg) in segments.iter().enumerate() {
        groups.entry(seg.plan.code.as_str()).or_default().push(j);
    }
    for members in groups.values() {
        let Some(first) = members.first().map(|j| &segments[*j]) else {
            continue;
        };
        let Some(amount) = pick(first.plan) else {
            continue;
        };
        let full = terms.full_days(first.plan, first.first_day)?;
        let days: Vec<u64> = members.iter().map(|j| segments[*j].days()).collect();
        let used: u64 = days.iter().sum();
        if used <= full && full > 0 {
            let mut weights = days.clone();
            weights.push(full - used);
            let pieces = allocate(Money::new(amount, currency), &weights)?;
            for (k, j) in members.iter().enumerate() {
                out[*j] = Some(pieces[k].amount());
            }
        } else {
            for (k, j) in members.iter().enumerate() {
                out[*j] = Some(prorated(amount, currency, days[k], full)?);
            }
        }
    }
    Ok(out)
}

struct LineBuilder {
    currency: Currency,
    lines: Vec<InvoiceLine>,
}

impl LineBuilder {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: &str,
        description: String,
        meter: Option<&str>,
        plan: &Plan,
        quantity: Decimal,
        amount: Decimal,
        span: (DateTime<Utc>, DateTime<Utc>),
        detail: serde_json::Value,
    ) -> Result<(), BillingError> {
        let position = u32::try_from(self.lines.len()).map_err(|_| overflow())?;
        self.lines.push(InvoiceLine {
            position,
            kind: kind.to_owned(),
            description,
            meter: meter.map(str::to_owned),
            plan: Some(plan.code.clone()),
            quantity,
            amount: round(amount, self.currency),
            period_start: span.0,
            period_end: span.1,
            adjusts: None,
            detail,
        });
        Ok(())
    }
}

/// The usage line amount of `plan`'s charge on `meter` (rounded once) and
/// how it came about; `None` if the plan has no charge on that meter. For
/// the engine's late-event adjustments.
pub fn usage_amount(
    plan: &Plan,
    meter: &str,
    usage: &MeterUsage,
) -> Result<Option<(Decimal, Rated)>, BillingError> {
    let Some(charge) = plan.charge(meter) else {
        return Ok(None);
    };
    let rated = rate(&charge.model, usage)?;
    Ok(Some((round(rated.amount, plan.currency), rated)))
}

/// The invoice for `period` of the subscription `terms` describes: its lines
/// (see the module's rules) and totals. `usage(meter, from, to)` answers a
/// meter's usage over `[from, to)`.
#[allow(clippy::type_complexity)] // the callback's signature is the engine's contract
pub fn compose(
    terms: &Terms,
    period: &Period,
    usage: &mut dyn FnMut(&str, DateTime<Utc>, DateTime<Utc>) -> Result<MeterUsage, BillingError>,
) -> Result<Composition, BillingError> {
    let currency = terms.check()?;
    let tz = terms.timezone;
    let mut out = LineBuilder {
        currency,
        lines: Vec::new(),
    };

    if !period.is_empty() {
        let segments = split(terms, period)?;
        let fees = shares(terms, currency, &segments, |p| p.recurring_fee)?;
        let minimums = shares(terms, currency, &segments, |p| p.minimum_commitment)?;
        for (j, seg) in segments.iter().enumerate() {
            let span = (
                crate::period::local_midnight(seg.first_day, tz),
                crate::period::local_midnight(seg.end_day, tz),
            );
            let full = terms.full_days(seg.plan, seg.first_day)?;
            let mut value = Decimal::ZERO;
            if let Some(fee) = fees[j] {
                value = fee;
                if seg.plan.pay_in == PayIn::Arrears {
                    out.push(
                        "recurring_fee",
                        format!("{} fee", seg.plan.name),
                        None,
                        seg.plan,
                        Decimal::from(seg.days()),
                        fee,
                        span,
                        serde_json::json!({
                            "fee": seg.plan.recurring_fee.map(|f| f.to_string()),
                            "days": seg.days(),
                            "period_days": full,
                        }),
                    )?;
                }
            }
            for charge in &seg.plan.charges {
                let used = usage(&charge.meter, span.0, span.1)?;
                let rated = rate(&charge.model, &used)?;
                let amount = round(rated.amount, currency);
                value = value.checked_add(amount).ok_or_else(overflow)?;
                out.push(
                    "usage",
                    charge.name.clone().unwrap_or_else(|| charge.meter.clone()),
                    Some(&charge.meter),
                    seg.plan,
                    used.quantity,
                    amount,
                    span,
                    usage_detail(charge, &rated, used.quantity, amount, currency),
                )?;
            }
            if let Some(minimum) = minimums[j]
                && value < minimum
            {
                out.push(
                    "minimum_commitment",
                    format!("{} minimum commitment", seg.plan.name),
                    None,
                    seg.plan,
                    Decimal::from(seg.days()),
                    minimum - value,
                    span,
                    serde_json::json!({
                        "minimum": minimum.to_string(),
                        "billed": value.to_string(),
                        "days": seg.days(),
                        "period_days": full,
                    }),
                )?;
            }
        }
        prorate_changes(terms, currency, period, &segments, &mut out)?;
    }

    if let Some(next) = next_period(terms, period)?
        && !next.is_empty()
    {
        let plan = terms.plan_on(next.first_day)?;
        if plan.pay_in == PayIn::Advance
            && let Some(fee) = plan.recurring_fee
        {
            let full = terms.full_days(plan, next.first_day)?;
            let amount = prorated(fee, currency, next.days(), full)?;
            out.push(
                "recurring_fee",
                format!("{} fee", plan.name),
                None,
                plan,
                Decimal::from(next.days()),
                amount,
                (next.start, next.end),
                serde_json::json!({
                    "fee": fee.to_string(),
                    "days": next.days(),
                    "period_days": full,
                    "in_advance": true,
                }),
            )?;
        }
    }

    totals(terms, period, currency, out.lines)
}

/// The period cut at each phase start inside it; the change day belongs to
/// the new plan.
fn split<'a>(terms: &Terms<'a>, period: &Period) -> Result<Vec<Segment<'a>>, BillingError> {
    let mut cuts = vec![period.first_day];
    cuts.extend(
        terms
            .phases
            .iter()
            .map(|p| p.starts_on)
            .filter(|d| period.first_day < *d && *d < period.end_day),
    );
    cuts.push(period.end_day);
    cuts.windows(2)
        .map(|w| {
            Ok(Segment {
                first_day: w[0],
                end_day: w[1],
                plan: terms.plan_on(w[0])?,
            })
        })
        .collect()
}

/// The fee an advance plan bills for `period` (prorated if partial).
fn advance_fee(
    terms: &Terms,
    currency: Currency,
    plan: &Plan,
    period: &Period,
) -> Result<Option<Decimal>, BillingError> {
    let Some(fee) = plan.recurring_fee else {
        return Ok(None);
    };
    let full = terms.full_days(plan, period.first_day)?;
    prorated(fee, currency, period.days(), full).map(Some)
}

fn prorate_changes(
    terms: &Terms,
    currency: Currency,
    period: &Period,
    segments: &[Segment],
    out: &mut LineBuilder,
) -> Result<(), BillingError> {
    let total_days = period.days();
    for pair in segments.windows(2) {
        let (old, new) = (pair[0].plan, pair[1].plan);
        let is_advance = |p: &Plan| p.pay_in == PayIn::Advance && p.recurring_fee.is_some();
        if is_advance(old) && is_advance(new) && old.recurring_fee == new.recurring_fee {
            continue;
        }
        let rest = days_between(pair[1].first_day, period.end_day);
        let used = total_days - rest;
        let span = (
            crate::period::local_midnight(pair[1].first_day, terms.timezone),
            period.end,
        );
        let detail = |billed: Decimal| {
            serde_json::json!({
                "billed_for_period": billed.to_string(),
                "days": rest,
                "period_days": total_days,
            })
        };
        if is_advance(old)
            && let Some(billed) = advance_fee(terms, currency, old, period)?
        {
            let pieces = allocate(Money::new(billed, currency), &[used, rest])?;
            let credit = pieces.get(1).map_or(Decimal::ZERO, Money::amount);
            out.push(
                "proration_credit",
                format!("{} unused days", old.name),
                None,
                old,
                Decimal::from(rest),
                -credit,
                span,
                detail(billed),
            )?;
        }
        if is_advance(new)
            && let Some(billed) = advance_fee(terms, currency, new, period)?
        {
            let pieces = allocate(Money::new(billed, currency), &[used, rest])?;
            let charge = pieces.get(1).map_or(Decimal::ZERO, Money::amount);
            out.push(
                "proration_charge",
                format!("{} remaining days", new.name),
                None,
                new,
                Decimal::from(rest),
                charge,
                span,
                detail(billed),
            )?;
        }
    }
    Ok(())
}

/// Subtotal, coupons and tax of `lines` for `period`: what [`compose`]
/// ends with, and what the engine reruns after adding adjustment lines.
pub fn totals(
    terms: &Terms,
    period: &Period,
    currency: Currency,
    lines: Vec<InvoiceLine>,
) -> Result<Composition, BillingError> {
    let mut subtotal = Decimal::ZERO;
    for line in &lines {
        subtotal = subtotal.checked_add(line.amount).ok_or_else(overflow)?;
    }
    let index = coupon_index(terms, period)?;
    let mut discount = Decimal::ZERO;
    for coupon in terms.coupons {
        if coupon.periods.is_some_and(|n| index >= n) {
            continue;
        }
        let remaining = subtotal - discount;
        if remaining <= Decimal::ZERO {
            break;
        }
        let off = match (coupon.percent_off, coupon.amount_off) {
            (Some(p), _) => round(
                remaining.checked_mul(p).ok_or_else(overflow)? / Decimal::ONE_HUNDRED,
                currency,
            ),
            (None, Some(a)) => round(a, currency),
            (None, None) => Decimal::ZERO,
        };
        discount += off.clamp(Decimal::ZERO, remaining);
    }
    let taxable = subtotal - discount;
    let tax = round(
        taxable.checked_mul(terms.tax_rate).ok_or_else(overflow)?,
        currency,
    );
    Ok(Composition {
        currency,
        lines,
        subtotal,
        discount,
        tax,
    })
}

/// A gauge's integral over `[from, to)` in value × seconds: each point's
/// value holds from its timestamp until the next point's (a point before
/// `from` holds from `from`; before the first point the gauge is 0),
/// microsecond-exact (`value × micros / 1_000_000`). Saturates instead of
/// overflowing.
pub fn weighted_sum(points: &[UsagePoint], from: DateTime<Utc>, to: DateTime<Utc>) -> Decimal {
    let mut sorted: Vec<&UsagePoint> = points.iter().collect();
    sorted.sort_by_key(|p| p.timestamp);
    let mut total = Decimal::ZERO;
    for (i, point) in sorted.iter().enumerate() {
        let start = point.timestamp.max(from);
        let end = sorted.get(i + 1).map_or(to, |next| next.timestamp.min(to));
        if end <= start {
            continue;
        }
        let micros = (end - start).num_microseconds().unwrap_or(i64::MAX);
        let seconds = Decimal::new(micros, 6);
        total = total.saturating_add(point.value.saturating_mul(seconds));
    }
    total
}

/// A usage line's detail: the model and tiers applied, and for a resold
/// resource the vendor's cost and the margin (`amount − cost`, each rounded
/// once, so cost + margin is the line's amount to the cent).
fn usage_detail(
    charge: &crate::plan::Charge,
    rated: &Rated,
    quantity: Decimal,
    amount: Decimal,
    currency: Currency,
) -> serde_json::Value {
    let mut detail = serde_json::json!({
        "model": charge.model.as_str(),
        "tiers": serde_json::to_value(&rated.tiers).unwrap_or_default(),
    });
    if let Some(resale) = &charge.resale {
        let cost = round(quantity.saturating_mul(resale.unit_cost), currency);
        detail["resale"] = serde_json::json!({
            "vendor": resale.vendor,
            "category": resale.category,
            "unit_cost": resale.unit_cost.to_string(),
            "cost": cost.to_string(),
            "margin": (amount - cost).to_string(),
            "sale": amount.to_string(),
        });
    }
    detail
}
