//! The invoice preview: what a plan would charge for a period, given raw
//! events or quantities per meter, without storing anything. Finance uses
//! it to check a plan before publishing it.
//!
//! The period is billed as the one period of a subscription that starts on
//! `from` and ends the day before `to`, with the recurring fee in arrears
//! (prorated by day when the period is shorter than the plan's), so the
//! preview shows every charge of that period on one invoice whether the plan
//! is paid in advance or in arrears.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shiyun_core::billing::{Aggregation, InvoiceLine, Meter, PlanPhase, UsagePoint};
use shiyun_core::{Currency, Money, ValidationError};

use crate::BillingError;
use crate::charge::MeterUsage;
use crate::compose::{self, Coupon, Terms};
use crate::events::property_decimal;
use crate::period::{self, Period};
use crate::plan::{ChargeModel, PayIn, Plan};

/// One raw event of a preview (no customer; the key, when given, makes a
/// repeated event count once).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewEvent {
    /// Optional key: a repeated key counts once (the first wins).
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Customer (ignored; accepted so stored events can be replayed as they are).
    #[serde(default)]
    pub customer: Option<String>,
    /// The meter's code.
    pub meter: String,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// Properties.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub properties: serde_json::Map<String, Value>,
}

/// Usage for a preview: raw events, or quantities per meter.
#[derive(Debug, Clone, PartialEq)]
pub enum PreviewUsage {
    /// Raw events, aggregated by each meter's rule.
    Events(Vec<PreviewEvent>),
    /// A quantity per meter code (percentage charges read it as the total amount).
    Quantities(BTreeMap<String, Decimal>),
}

/// What to preview.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewRequest {
    /// The plan.
    pub plan: Plan,
    /// First day of the period.
    pub from: NaiveDate,
    /// Day after the period.
    pub to: NaiveDate,
    /// Timezone of the days (`UTC` by default).
    pub timezone: String,
    /// Tax rate as a fraction.
    pub tax_rate: Decimal,
    /// Coupons.
    pub coupons: Vec<Coupon>,
    /// The meters the plan's charges read.
    pub meters: BTreeMap<String, Meter>,
    /// The usage.
    pub usage: PreviewUsage,
}

/// The invoice a preview would issue.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewInvoice {
    /// The plan's code.
    pub plan: String,
    /// The currency.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    /// Start of the period (UTC instant of local midnight).
    pub period_start: DateTime<Utc>,
    /// End of the period.
    pub period_end: DateTime<Utc>,
    /// Lines, each with the tiers applied in `detail`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub lines: Vec<InvoiceLine>,
    /// Sum of the lines.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub subtotal: Money,
    /// Coupons.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub discount: Money,
    /// Tax.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub tax: Money,
    /// Credits (credit notes, prepaid): none in a preview.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credits: Money,
    /// What the customer would owe.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub total: Money,
    /// Events dated outside the period, left out.
    pub events_outside_period: u64,
    /// Events whose key repeated an earlier one, counted once.
    pub duplicate_events: u64,
}

/// Computes a preview.
pub fn preview(request: &PreviewRequest) -> Result<PreviewInvoice, BillingError> {
    let mut plan = request.plan.clone();
    plan.validate()?;
    if request.to <= request.from {
        return Err(ValidationError::new("to", "must be after `from`").into());
    }
    let tz = period::parse_timezone(&request.timezone)?;
    for (i, charge) in plan.charges.iter().enumerate() {
        if !request.meters.contains_key(&charge.meter) {
            return Err(ValidationError::new(
                format!("plan.charges[{i}].meter"),
                format!("no meter `{}`", charge.meter),
            )
            .into());
        }
    }
    plan.pay_in = PayIn::Arrears;
    let period = Period {
        start: period::local_midnight(request.from, tz),
        end: period::local_midnight(request.to, tz),
        first_day: request.from,
        end_day: request.to,
    };
    let (per_meter, outside, duplicates) = match &request.usage {
        PreviewUsage::Quantities(quantities) => {
            for meter in quantities.keys() {
                if !request.meters.contains_key(meter) {
                    return Err(ValidationError::new(
                        format!("quantities.{meter}"),
                        "is not a meter of the plan",
                    )
                    .into());
                }
            }
            let usage = quantities
                .iter()
                .map(|(meter, quantity)| {
                    (
                        meter.clone(),
                        MeterUsage {
                            quantity: *quantity,
                            events: 0,
                            amounts: Vec::new(),
                        },
                    )
                })
                .collect();
            (usage, 0, 0)
        }
        PreviewUsage::Events(events) => aggregate_events(events, &request.meters, &period)?,
    };
    let plans = BTreeMap::from([(plan.code.clone(), plan.clone())]);
    let phases = [PlanPhase {
        plan: plan.code.clone(),
        starts_on: request.from,
    }];
    let terms = Terms {
        plans: &plans,
        phases: &phases,
        ends_on: request.to.pred_opt(),
        timezone: tz,
        tax_rate: request.tax_rate,
        coupons: &request.coupons,
    };
    let composition = compose::compose(&terms, &period, &mut |meter, _, _| {
        Ok(per_meter.get(meter).cloned().unwrap_or_default())
    })?;
    let currency = composition.currency;
    let money = |amount| Money::new(amount, currency);
    let total = composition.subtotal - composition.discount + composition.tax;
    Ok(PreviewInvoice {
        plan: plan.code,
        currency,
        period_start: period.start,
        period_end: period.end,
        lines: composition.lines,
        subtotal: money(composition.subtotal),
        discount: money(composition.discount),
        tax: money(composition.tax),
        credits: money(Decimal::ZERO),
        total: money(total),
        events_outside_period: outside,
        duplicate_events: duplicates,
    })
}

/// Aggregates raw events per meter in memory, by the same rules as the
/// store: events in `[start, end)`, a repeated key counted once, values in
/// (timestamp, key, position) order.
fn aggregate_events(
    events: &[PreviewEvent],
    meters: &BTreeMap<String, Meter>,
    period: &Period,
) -> Result<(BTreeMap<String, MeterUsage>, u64, u64), BillingError> {
    let mut seen = BTreeSet::new();
    let mut outside = 0;
    let mut duplicates = 0;
    // meter → (timestamp, key, position, value, distinct)
    type Row = (
        DateTime<Utc>,
        String,
        usize,
        Option<Decimal>,
        Option<String>,
    );
    let mut rows: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for (i, event) in events.iter().enumerate() {
        let within = |e: ValidationError| e.within(&format!("events[{i}]"));
        let meter = meters.get(&event.meter).ok_or_else(|| {
            within(ValidationError::new(
                "meter",
                format!("no meter `{}`", event.meter),
            ))
        })?;
        if let Some(key) = &event.idempotency_key
            && !seen.insert(key.clone())
        {
            duplicates += 1;
            continue;
        }
        if event.timestamp < period.start || event.timestamp >= period.end {
            outside += 1;
            continue;
        }
        let (value, distinct) = match (&meter.property, meter.aggregation) {
            (_, Aggregation::Count) | (None, _) => (None, None),
            (Some(property), aggregation) => {
                let field = format!("properties.{property}");
                let raw = event.properties.get(property).ok_or_else(|| {
                    within(ValidationError::new(&field, "is required by the meter"))
                })?;
                if aggregation == Aggregation::UniqueCount {
                    let text = match raw {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (None, Some(text))
                } else {
                    (Some(property_decimal(raw, &field).map_err(within)?), None)
                }
            }
        };
        let key = event.idempotency_key.clone().unwrap_or_default();
        rows.entry(event.meter.clone()).or_default().push((
            event.timestamp,
            key,
            i,
            value,
            distinct,
        ));
    }
    let mut usage = BTreeMap::new();
    for (code, mut list) in rows {
        list.sort();
        let meter = &meters[&code];
        let values: Vec<Decimal> = list.iter().filter_map(|r| r.3).collect();
        let quantity = match meter.aggregation {
            Aggregation::Count => Decimal::from(list.len()),
            Aggregation::Sum => values.iter().copied().sum(),
            Aggregation::Max => values.iter().copied().max().unwrap_or_default(),
            Aggregation::UniqueCount => Decimal::from(
                list.iter()
                    .filter_map(|r| r.4.as_ref())
                    .collect::<BTreeSet<_>>()
                    .len(),
            ),
            Aggregation::Latest => values.last().copied().unwrap_or_default(),
            Aggregation::WeightedSum => {
                let points: Vec<UsagePoint> = list
                    .iter()
                    .filter_map(|r| {
                        r.3.map(|value| UsagePoint {
                            timestamp: r.0,
                            value,
                        })
                    })
                    .collect();
                compose::weighted_sum(&points, period.start, period.end)
            }
        };
        usage.insert(
            code,
            MeterUsage {
                quantity,
                events: list.len() as u64,
                amounts: values,
            },
        );
    }
    Ok((usage, outside, duplicates))
}

/// Whether a plan rates a meter from each event's amount (the two
/// percentage models), so callers read the events and not just the total.
pub fn charges_per_event(plan: &Plan, meter: &str) -> bool {
    plan.charges.iter().any(|c| {
        c.meter == meter
            && matches!(
                c.model,
                ChargeModel::Percentage { .. } | ChargeModel::GraduatedPercentage { .. }
            )
    })
}

/// A customer's stored usage so far, priced by a published plan: the
/// quantity of each meter the plan charges over `[from, to)` (UTC days, up
/// to the committed watermark), and the invoice the plan would issue for
/// it. Nothing is stored. A running-cost view, not an invoice: the bill run
/// still rates the period as usual.
pub fn stored_usage_preview(
    billing: &crate::Billing,
    plan_code: &str,
    customer: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(BTreeMap<String, Decimal>, PreviewInvoice), BillingError> {
    use chrono::TimeZone;
    let plan = billing.plan(plan_code)?;
    let meters = billing.meters()?;
    let midnight =
        |day: NaiveDate| Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
    let issuer = billing.id()?.clone();
    let store = billing.store();
    let aggregates = store.aggregate_usage(
        &issuer,
        &shiyun_core::billing::UsageWindow {
            from: midnight(from),
            to: midnight(to),
            after_batch: 0,
            up_to_batch: store.usage_watermark(&issuer)?,
            customer: Some(customer.to_owned()),
        },
    )?;
    let mut quantities = BTreeMap::new();
    for charge in &plan.charges {
        let Some(meter) = meters.get(&charge.meter) else {
            continue;
        };
        let quantity = aggregates
            .iter()
            .find(|a| a.meter == charge.meter)
            .map(|a| crate::engine::quantity_of(meter.aggregation, a))
            .unwrap_or_default();
        quantities.insert(charge.meter.clone(), quantity);
    }
    let invoice = preview(&PreviewRequest {
        plan,
        from,
        to,
        timezone: "UTC".to_owned(),
        tax_rate: Decimal::ZERO,
        coupons: Vec::new(),
        meters,
        usage: PreviewUsage::Quantities(quantities.clone()),
    })?;
    Ok((quantities, invoice))
}
