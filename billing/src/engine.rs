//! The billing engine of one issuer: the rules around the store calls.
//!
//! [`Billing`] is what the server and an embedding partner use: define
//! meters and plans, put customers, ingest usage, subscribe, run bill runs,
//! finalise, correct and collect invoices.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shiyun_core::billing::{
    Aggregation, BillingStore, CreditNote, CreditNoteId, Customer, CustomerId, CustomerInput,
    FinalContent, IngestOutcome, Invoice, InvoiceId, InvoiceLine, InvoiceStatus, Issuer, IssuerId,
    LineRef, Meter, NewInvoice, PageAfter, Payment, PlanPhase, StoredPlan, Subscription,
    SubscriptionId, SubscriptionStatus, UsageAggregate, UsageWindow, check_code, scaled,
};
use shiyun_core::money::RoundingMode;
use shiyun_core::store::{Outcome, StoreError};
use shiyun_core::{Money, ValidationError};

use crate::BillingError;
use crate::charge::MeterUsage;
use crate::compose::{self, Composition, Coupon, Terms};
use crate::events::{self, EventResult, EventStatus, IngestReport, UsageEventInput};
use crate::period::{self, Period};
use crate::plan::Plan;

/// Subscriptions (and drafts) read per page of a bill run.
const RUN_PAGE: u32 = 500;

/// Passes of one bill run at most: a subscription that many periods behind
/// catches up over several runs.
const MAX_PASSES: usize = 24;

/// How many due subscriptions must share a period before the bill run reads
/// that period's usage for every customer in one aggregate.
const SHARED_WINDOW_MIN: usize = 16;

/// Usage aggregates read for every customer at once, by period.
type SharedUsage =
    HashMap<(DateTime<Utc>, DateTime<Utc>), HashMap<(String, String), UsageAggregate>>;

/// What a subscription's terms are made of besides the subscription: its
/// plans, the customer's timezone and tax rate, and its coupons.
struct TermsParts {
    plans: BTreeMap<String, Plan>,
    timezone: Tz,
    tax_rate: Decimal,
    coupons: Vec<Coupon>,
}

impl TermsParts {
    fn terms<'a>(&'a self, subscription: &'a Subscription) -> Terms<'a> {
        Terms {
            plans: &self.plans,
            phases: &subscription.phases,
            ends_on: subscription.ends_on,
            timezone: self.timezone,
            tax_rate: self.tax_rate,
            coupons: &self.coupons,
        }
    }
}

/// A fresh random id source: the caller's (the server draws from the OS).
pub type IdSource = Arc<dyn Fn() -> [u8; 16] + Send + Sync>;

/// An issuer's billing.
#[derive(Clone)]
pub struct Billing {
    store: Arc<dyn BillingStore>,
    /// The issuer as asked for; its stored settings win once read.
    issuer: Issuer,
    stored: Arc<OnceLock<Issuer>>,
    ids: IdSource,
    /// Plans never change once published, so each is read and parsed once.
    plans: Arc<Mutex<HashMap<String, Plan>>>,
    /// Meters never change either; read again only when an event names a
    /// meter not seen yet (another instance may have defined it).
    meters: Arc<Mutex<BTreeMap<String, Meter>>>,
}

impl std::fmt::Debug for Billing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Billing")
            .field("issuer", &self.issuer.id)
            .finish_non_exhaustive()
    }
}

/// A request to subscribe a customer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// The subscription's id, doubling as the idempotency key; drawn when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub id: Option<SubscriptionId>,
    /// The customer's external id.
    pub customer: String,
    /// The plan's code.
    pub plan: String,
    /// First day, in the customer's timezone.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub starts_on: NaiveDate,
    /// Coupons.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub coupons: Vec<Coupon>,
}

/// What a bill run did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillRunReport {
    /// Drafts created now.
    pub drafted: u64,
    /// Drafts that existed already (a rerun after an interruption).
    pub replayed: u64,
    /// Invoices finalised now.
    pub finalized: u64,
    /// Subscriptions or drafts that failed, with why; the run went on.
    pub failures: Vec<RunFailure>,
}

/// One failure inside a bill run.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The subscription or invoice.
    pub subject: String,
    /// The error.
    pub message: String,
}

/// Where a usage line's quantities come from while composing.
struct UsageSource<'a> {
    billing: &'a Billing,
    meters: &'a BTreeMap<String, Meter>,
    customer: &'a str,
    after_batch: i64,
    up_to_batch: i64,
    /// Aggregates read for every customer at once, by window.
    shared: &'a SharedUsage,
    /// Whether a meter's charge needs each event's value (percentage).
    per_event: &'a dyn Fn(&str) -> bool,
}

impl UsageSource<'_> {
    fn usage(
        &self,
        meter_code: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<MeterUsage, BillingError> {
        let meter = self
            .meters
            .get(meter_code)
            .ok_or_else(|| BillingError::NotFound {
                entity: "meter",
                id: meter_code.to_owned(),
            })?;
        let window = UsageWindow {
            from,
            to,
            after_batch: self.after_batch,
            up_to_batch: self.up_to_batch,
            customer: Some(self.customer.to_owned()),
        };
        let aggregate = match self.shared.get(&(from, to)) {
            Some(all) if self.after_batch == 0 => all
                .get(&(self.customer.to_owned(), meter_code.to_owned()))
                .cloned(),
            _ => self
                .billing
                .store
                .aggregate_usage(self.billing.id()?, &window)?
                .into_iter()
                .find(|a| a.meter == meter_code),
        };
        let mut usage = match aggregate {
            Some(aggregate) => MeterUsage {
                quantity: quantity_of(meter.aggregation, &aggregate),
                events: aggregate.count,
                amounts: Vec::new(),
            },
            None => MeterUsage::default(),
        };
        if meter.aggregation == Aggregation::WeightedSum {
            let points =
                self.billing
                    .store
                    .usage_points(self.billing.id()?, meter_code, &window)?;
            usage.quantity = compose::weighted_sum(&points, from, to);
        }
        if (self.per_event)(meter_code) && usage.events > 0 {
            let points =
                self.billing
                    .store
                    .usage_points(self.billing.id()?, meter_code, &window)?;
            usage.amounts = points
                .into_iter()
                .filter(|p| p.timestamp >= from)
                .map(|p| p.value)
                .collect();
        }
        Ok(usage)
    }
}

/// A meter's quantity from its aggregate (`weighted_sum` is integrated
/// from the points instead).
pub fn quantity_of(aggregation: Aggregation, aggregate: &UsageAggregate) -> Decimal {
    match aggregation {
        Aggregation::Count => Decimal::from(aggregate.count),
        Aggregation::Sum | Aggregation::WeightedSum => aggregate.sum,
        Aggregation::Max => aggregate.max.unwrap_or_default(),
        Aggregation::UniqueCount => Decimal::from(aggregate.distinct),
        Aggregation::Latest => aggregate.latest.unwrap_or_default(),
    }
}

impl Billing {
    /// The engine of `issuer`, without touching the store yet: the issuer
    /// is checked and created (or its stored settings read) on first use.
    pub fn new(store: Arc<dyn BillingStore>, issuer: Issuer, ids: IdSource) -> Self {
        Billing {
            store,
            issuer,
            stored: Arc::new(OnceLock::new()),
            ids,
            plans: Arc::default(),
            meters: Arc::default(),
        }
    }

    /// The engine of `issuer`, created in the store if new (an existing
    /// issuer keeps its stored settings).
    pub fn open(
        store: Arc<dyn BillingStore>,
        issuer: Issuer,
        ids: IdSource,
    ) -> Result<Self, BillingError> {
        let billing = Billing::new(store, issuer, ids);
        billing.issuer()?;
        Ok(billing)
    }

    /// The issuer as stored (created on the first call).
    pub fn issuer(&self) -> Result<&Issuer, BillingError> {
        if let Some(stored) = self.stored.get() {
            return Ok(stored);
        }
        let prefix = &self.issuer.invoice_prefix;
        if prefix.is_empty()
            || prefix.len() > 16
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ValidationError::new(
                "invoice_prefix",
                "must be 1-16 letters, digits or `-`",
            )
            .into());
        }
        let stored = self.store.ensure_issuer(&self.issuer)?;
        // A concurrent first call stored the same row; either value will do.
        Ok(self.stored.get_or_init(|| stored))
    }

    /// The issuer's id, once the issuer exists in the store.
    pub fn id(&self) -> Result<&IssuerId, BillingError> {
        Ok(&self.issuer()?.id)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn BillingStore> {
        &self.store
    }

    fn late_window(&self) -> Result<Duration, BillingError> {
        Ok(Duration::days(i64::from(self.issuer()?.late_window_days)))
    }

    /// Defines a meter (the same definition again is a replay).
    pub fn define_meter(&self, meter: &Meter) -> Result<Outcome<Meter>, BillingError> {
        check_code(&meter.code, "code")?;
        if meter.name.is_empty() || meter.name.len() > 200 {
            return Err(ValidationError::new("name", "must be 1-200 bytes").into());
        }
        match (&meter.property, meter.aggregation.reads_property()) {
            (None, true) => {
                return Err(ValidationError::new(
                    "property",
                    format!("is required by `{}`", meter.aggregation.as_str()),
                )
                .into());
            }
            (Some(p), _) if p.is_empty() || p.len() > 100 => {
                return Err(ValidationError::new("property", "must be 1-100 bytes").into());
            }
            _ => {}
        }
        Ok(self.store.create_meter(self.id()?, meter)?)
    }

    /// Every meter, by code.
    pub fn meters(&self) -> Result<BTreeMap<String, Meter>, BillingError> {
        let meters: BTreeMap<String, Meter> = self
            .store
            .list_meters(self.id()?)?
            .into_iter()
            .map(|m| (m.code.clone(), m))
            .collect();
        *self.meters.lock().unwrap_or_else(PoisonError::into_inner) = meters.clone();
        Ok(meters)
    }

    /// The meters, from memory when every code in `codes` is known there.
    fn meters_knowing<'a>(
        &self,
        mut codes: impl Iterator<Item = &'a str>,
    ) -> Result<BTreeMap<String, Meter>, BillingError> {
        {
            let known = self.meters.lock().unwrap_or_else(PoisonError::into_inner);
            if !known.is_empty() && codes.all(|code| known.contains_key(code)) {
                return Ok(known.clone());
            }
        }
        self.meters()
    }

    /// Publishes a plan (immutable; the same plan again is a replay). Every
    /// charge's meter must exist.
    pub fn define_plan(
        &self,
        plan: &Plan,
        now: DateTime<Utc>,
    ) -> Result<Outcome<StoredPlan>, BillingError> {
        plan.validate()?;
        let meters = self.meters()?;
        for (i, charge) in plan.charges.iter().enumerate() {
            if !meters.contains_key(&charge.meter) {
                return Err(ValidationError::new(
                    format!("charges[{i}].meter"),
                    format!("no meter `{}`", charge.meter),
                )
                .into());
            }
        }
        let stored = StoredPlan {
            code: plan.code.clone(),
            currency: plan.currency,
            body: plan.to_json(),
            created_at: now,
        };
        Ok(self.store.create_plan(self.id()?, &stored)?)
    }

    /// One plan.
    pub fn plan(&self, code: &str) -> Result<Plan, BillingError> {
        let cached = self
            .plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(code)
            .cloned();
        if let Some(plan) = cached {
            return Ok(plan);
        }
        let stored =
            self.store
                .get_plan(self.id()?, code)?
                .ok_or_else(|| BillingError::NotFound {
                    entity: "plan",
                    id: code.to_owned(),
                })?;
        let plan = Plan::parse(&stored.body).map_err(|e| {
            BillingError::Store(StoreError::Internal(format!("stored plan `{code}`: {e}")))
        })?;
        self.plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(code.to_owned(), plan.clone());
        Ok(plan)
    }

    /// Creates or updates a customer.
    pub fn put_customer(
        &self,
        input: &CustomerInput,
        now: DateTime<Utc>,
    ) -> Result<Customer, BillingError> {
        if input.external_id.is_empty() || input.external_id.len() > 255 {
            return Err(ValidationError::new("external_id", "must be 1-255 bytes").into());
        }
        period::parse_timezone(&input.timezone)?;
        if input.tax_rate < Decimal::ZERO || input.tax_rate >= Decimal::ONE {
            return Err(ValidationError::new("tax_rate", "must be a fraction in [0, 1)").into());
        }
        let id = CustomerId::from_random((self.ids)());
        Ok(self.store.put_customer(self.id()?, &id, input, now)?)
    }

    fn customer(&self, external_id: &str) -> Result<Customer, BillingError> {
        self.store
            .get_customer(self.id()?, external_id)?
            .ok_or_else(|| BillingError::NotFound {
                entity: "customer",
                id: external_id.to_owned(),
            })
    }

    /// Ingests one batch (at most [`events::MAX_BATCH`] events): each event
    /// is checked on its own; the valid ones are stored in one transaction
    /// and this returns once they are committed.
    pub fn ingest(
        &self,
        batch: &[Value],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, BillingError> {
        if batch.len() > events::MAX_BATCH {
            return Err(ValidationError::new(
                "events",
                format!("at most {} events per batch", events::MAX_BATCH),
            )
            .into());
        }
        let meters = self.meters_knowing(batch.iter().filter_map(|e| e.get("meter")?.as_str()))?;
        let late_window = self.late_window()?;
        let mut results: Vec<Option<EventResult>> = vec![None; batch.len()];
        let mut checked = Vec::with_capacity(batch.len());
        let mut positions = Vec::with_capacity(batch.len());
        for (index, raw) in batch.iter().enumerate() {
            let key = raw
                .get("idempotency_key")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let parsed = serde_json::from_value::<UsageEventInput>(raw.clone())
                .map_err(|e| ValidationError::new(serde_field(&e.to_string()), e.to_string()));
            match parsed.and_then(|event| events::check_event(&event, &meters, late_window, now)) {
                Ok(event) => {
                    checked.push(event);
                    positions.push(index);
                }
                Err(error) => results[index] = Some(events::rejected(index, key, &error)),
            }
        }
        if !checked.is_empty() {
            let outcomes = self.store.insert_usage(self.id()?, &checked, now)?;
            for ((event, index), outcome) in checked.iter().zip(&positions).zip(outcomes) {
                let key = Some(event.idempotency_key.clone());
                results[*index] = Some(match outcome {
                    IngestOutcome::Accepted => EventResult {
                        index: *index,
                        idempotency_key: key,
                        status: EventStatus::Accepted,
                        error: None,
                    },
                    IngestOutcome::Duplicate => EventResult {
                        index: *index,
                        idempotency_key: key,
                        status: EventStatus::Duplicate,
                        error: None,
                    },
                    IngestOutcome::Conflict => EventResult {
                        index: *index,
                        idempotency_key: key,
                        status: EventStatus::Conflict,
                        error: Some(events::EventError {
                            code: shiyun_core::ErrorCode::IdempotencyConflict,
                            field: Some("idempotency_key".into()),
                            message: "the key was used before with another payload; the first event stands"
                                .into(),
                        }),
                    },
                    IngestOutcome::UnknownCustomer => events::rejected(
                        *index,
                        key,
                        &BillingError::NotFound {
                            entity: "customer",
                            id: event.customer.clone(),
                        },
                    ),
                });
            }
        }
        let mut report = IngestReport::default();
        for result in results.into_iter().flatten() {
            report.push(result);
        }
        Ok(report)
    }

    /// Ingests a batch that a tenant reports about itself: events naming
    /// another customer are refused one by one (`forbidden` on `customer`),
    /// and the tenant becomes a customer (in `timezone`, untaxed) on its
    /// first event. The rest is [`Billing::ingest`].
    pub fn ingest_own(
        &self,
        batch: &[Value],
        customer: &str,
        timezone: &str,
        now: DateTime<Utc>,
    ) -> Result<IngestReport, BillingError> {
        let names_other = |event: &Value| {
            event
                .get("customer")
                .and_then(Value::as_str)
                .is_some_and(|named| named != customer)
        };
        let own: Vec<Value> = batch.iter().filter(|e| !names_other(e)).cloned().collect();
        if !own.is_empty() && self.store.get_customer(self.id()?, customer)?.is_none() {
            self.put_customer(
                &CustomerInput {
                    external_id: customer.to_owned(),
                    name: customer.to_owned(),
                    timezone: timezone.to_owned(),
                    tax_rate: Decimal::ZERO,
                },
                now,
            )?;
        }
        let mut stored = self.ingest(&own, now)?.results.into_iter();
        let mut report = IngestReport::default();
        for (index, event) in batch.iter().enumerate() {
            let result = if names_other(event) {
                Some(EventResult {
                    index,
                    idempotency_key: event
                        .get("idempotency_key")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    status: EventStatus::Rejected,
                    error: Some(events::EventError {
                        code: shiyun_core::ErrorCode::Forbidden,
                        field: Some("customer".into()),
                        message: "usage may be reported for the caller's own tenant only".into(),
                    }),
                })
            } else {
                stored.next().map(|result| EventResult { index, ..result })
            };
            report.extend(result);
        }
        Ok(report)
    }

    /// Adds prepaid credit to an existing customer; returns the balance.
    /// The amount must be positive and in the currency's minor unit.
    pub fn add_prepaid_credit(
        &self,
        customer: &str,
        amount: Money,
        now: DateTime<Utc>,
    ) -> Result<Money, BillingError> {
        if amount.is_negative() || amount.is_zero() || amount.round(RoundingMode::HalfUp) != amount
        {
            return Err(ValidationError::new(
                "amount.amount",
                "must be positive, in the currency's minor unit",
            )
            .into());
        }
        self.customer(customer)?;
        Ok(self
            .store
            .add_prepaid_credit(self.id()?, customer, amount, now)?)
    }

    /// The plans a subscription's phases name.
    fn plans_of(&self, phases: &[PlanPhase]) -> Result<BTreeMap<String, Plan>, BillingError> {
        let mut plans = BTreeMap::new();
        for phase in phases {
            if !plans.contains_key(&phase.plan) {
                plans.insert(phase.plan.clone(), self.plan(&phase.plan)?);
            }
        }
        Ok(plans)
    }

    /// Subscribes a customer to a plan from a local start date. The id is
    /// the idempotency key: the same request again is a replay.
    pub fn subscribe(
        &self,
        request: &SubscribeRequest,
        now: DateTime<Utc>,
    ) -> Result<Outcome<Subscription>, BillingError> {
        let customer = self.customer(&request.customer)?;
        let plan = self.plan(&request.plan)?;
        for (i, coupon) in request.coupons.iter().enumerate() {
            coupon
                .validate()
                .map_err(|e| e.within(&format!("coupons[{i}]")))?;
        }
        let phases = vec![PlanPhase {
            plan: plan.code.clone(),
            starts_on: request.starts_on,
        }];
        let plans = BTreeMap::from([(plan.code.clone(), plan)]);
        let tz = period::parse_timezone(&customer.timezone)?;
        let terms = Terms {
            plans: &plans,
            phases: &phases,
            ends_on: None,
            timezone: tz,
            tax_rate: customer.tax_rate,
            coupons: &request.coupons,
        };
        let first = compose::first_period(&terms)?;
        let coupons = serde_json::to_string(&request.coupons)
            .map_err(|e| ValidationError::new("coupons", e.to_string()))?;
        let subscription = Subscription {
            id: request
                .id
                .clone()
                .unwrap_or_else(|| SubscriptionId::from_random((self.ids)())),
            customer: customer.external_id,
            phases,
            ends_on: None,
            status: SubscriptionStatus::Active,
            coupons,
            next_period_start: first.start,
            next_period_end: first.end,
            version: 1,
            created_at: now,
        };
        Ok(self.store.create_subscription(self.id()?, &subscription)?)
    }

    fn subscription(&self, id: &SubscriptionId) -> Result<Subscription, BillingError> {
        self.store
            .get_subscription(self.id()?, id)?
            .ok_or_else(|| BillingError::NotFound {
                entity: "subscription",
                id: id.to_string(),
            })
    }

    /// The subscription's terms (plans, timezone, tax, coupons).
    fn terms_parts(&self, subscription: &Subscription) -> Result<TermsParts, BillingError> {
        let customer = self.customer(&subscription.customer)?;
        self.terms_parts_of(subscription, &customer)
    }

    /// [`Billing::terms_parts`] with the customer already read.
    fn terms_parts_of(
        &self,
        subscription: &Subscription,
        customer: &Customer,
    ) -> Result<TermsParts, BillingError> {
        let plans = self.plans_of(&subscription.phases)?;
        let tz = period::parse_timezone(&customer.timezone)?;
        let coupons = compose::parse_coupons(&subscription.coupons)?;
        Ok(TermsParts {
            plans,
            timezone: tz,
            tax_rate: customer.tax_rate,
            coupons,
        })
    }

    /// Moves a subscription to another plan of the same currency and
    /// interval. A plan with a higher recurring fee is an upgrade and takes
    /// effect on `today` (prorated by day, `today` counting in the new
    /// plan); any other change is a downgrade and takes effect when the
    /// current period ends.
    pub fn change_plan(
        &self,
        id: &SubscriptionId,
        plan_code: &str,
        today: NaiveDate,
    ) -> Result<Subscription, BillingError> {
        let mut subscription = self.subscription(id)?;
        if subscription.status != SubscriptionStatus::Active {
            return Err(BillingError::Conflict("the subscription has ended".into()));
        }
        let current_code = subscription
            .phases
            .last()
            .map(|p| p.plan.clone())
            .unwrap_or_default();
        let current = self.plan(&current_code)?;
        let next = self.plan(plan_code)?;
        if next.currency != current.currency || next.interval != current.interval {
            return Err(ValidationError::new(
                "plan",
                "must have the current plan's currency and interval",
            )
            .into());
        }
        let parts = self.terms_parts(&subscription)?;
        let terms = parts.terms(&subscription);
        let upgrade =
            next.recurring_fee.unwrap_or_default() > current.recurring_fee.unwrap_or_default();
        let open = open_period(&terms, &subscription)?;
        let starts_on = if upgrade {
            today.max(open.first_day)
        } else {
            open.end_day
        };
        // A later change replaces a pending one that had not started yet.
        subscription.phases.retain(|p| p.starts_on < starts_on);
        subscription.phases.push(PlanPhase {
            plan: plan_code.to_owned(),
            starts_on,
        });
        Ok(self.store.update_subscription(self.id()?, &subscription)?)
    }

    /// Cancels a subscription: its last day is `ends_on`, or the current
    /// period's last day. It is billed up to then, and no more.
    pub fn cancel(
        &self,
        id: &SubscriptionId,
        ends_on: Option<NaiveDate>,
    ) -> Result<Subscription, BillingError> {
        let mut subscription = self.subscription(id)?;
        if subscription.status != SubscriptionStatus::Active {
            return Ok(subscription);
        }
        let parts = self.terms_parts(&subscription)?;
        let terms = parts.terms(&subscription);
        let open = open_period(&terms, &subscription)?;
        let last_day = open.end_day.pred_opt().unwrap_or(open.end_day);
        let ends_on = ends_on.unwrap_or(last_day);
        let first_day = subscription.phases.first().map(|p| p.starts_on);
        if first_day.is_some_and(|first| ends_on < first) || ends_on < open.first_day {
            return Err(ValidationError::new(
                "ends_on",
                "must not be before the period still to be invoiced",
            )
            .into());
        }
        subscription.ends_on = Some(ends_on);
        subscription.phases.retain(|p| p.starts_on <= ends_on);
        // The open period now ends on the cancellation day.
        let terms = parts.terms(&subscription);
        let open = open_period(&terms, &subscription)?;
        subscription.next_period_end = open.end;
        Ok(self.store.update_subscription(self.id()?, &subscription)?)
    }

    /// Closes every period that ended by `now`: drafts its invoice and
    /// finalises the drafts whose grace period is over. Idempotent and
    /// resumable: a run stopped anywhere and run again drafts each period
    /// once. A subscription more than one period behind moves one period
    /// per pass; passes repeat until nothing is left to draft.
    pub fn bill_run(&self, now: DateTime<Utc>) -> Result<BillRunReport, BillingError> {
        let mut report = BillRunReport::default();
        let meters = self.meters()?;
        let watermark = self.store.usage_watermark(self.id()?)?;
        let grace = Duration::hours(i64::from(self.issuer()?.grace_period_hours));
        if grace.is_zero() {
            // Drafts left by an interrupted run go first, so each
            // subscription's periods are finalised in order.
            report.finalized += self.finalize_due(now, now, &mut report.failures)?;
        }
        // Usage every customer had in a period many subscriptions share,
        // read once for the whole run.
        let mut shared = SharedUsage::new();
        for _ in 0..MAX_PASSES {
            let drafted_before = report.drafted;
            let mut page = PageAfter {
                after: None,
                limit: RUN_PAGE,
            };
            loop {
                let due = self.store.due_subscriptions(self.id()?, now, &page)?;
                let Some(last) = due.last() else { break };
                page.after = Some(last.id.to_string());
                self.share_usage(&due, watermark, &mut shared)?;
                self.bill_page(&due, &meters, watermark, &shared, grace, now, &mut report)?;
            }
            if report.drafted == drafted_before {
                break;
            }
        }
        report.finalized += self.finalize_due(now - grace, now, &mut report.failures)?;
        Ok(report)
    }

    /// Drafts one page of due subscriptions in one store transaction and,
    /// with no grace period, finalises them in another. Should a page's
    /// transaction fail, its invoices are stored one by one, so one bad
    /// subscription holds back nothing else.
    #[allow(clippy::too_many_arguments)]
    fn bill_page(
        &self,
        due: &[Subscription],
        meters: &BTreeMap<String, Meter>,
        watermark: i64,
        shared: &SharedUsage,
        grace: Duration,
        now: DateTime<Utc>,
        report: &mut BillRunReport,
    ) -> Result<(), BillingError> {
        let issuer = self.id()?.clone();
        let ids: Vec<SubscriptionId> = due.iter().map(|s| s.id.clone()).collect();
        let issued = self.store.issued_watermarks(&issuer, &ids)?;
        let mut names: Vec<String> = due.iter().map(|s| s.customer.clone()).collect();
        names.sort();
        names.dedup();
        let customers: HashMap<String, Customer> = self
            .store
            .get_customers(&issuer, &names)?
            .into_iter()
            .map(|c| (c.external_id.clone(), c))
            .collect();
        let mut drafts = Vec::with_capacity(due.len());
        let mut contents = Vec::with_capacity(due.len());
        for subscription in due {
            let prepared = customers
                .get(&subscription.customer)
                .ok_or_else(|| BillingError::NotFound {
                    entity: "customer",
                    id: subscription.customer.clone(),
                })
                .and_then(|customer| {
                    let issued = IssuedHint::Known(issued.get(&subscription.id).copied());
                    self.prepare_draft(
                        subscription,
                        customer,
                        meters,
                        watermark,
                        shared,
                        issued,
                        now,
                    )
                });
            match prepared {
                Ok((draft, content)) => {
                    drafts.push(draft);
                    contents.push(content);
                }
                Err(e) => report.failures.push(RunFailure {
                    subject: subscription.id.to_string(),
                    message: e.to_string(),
                }),
            }
        }
        let outcomes: Vec<Result<Outcome<InvoiceId>, BillingError>> =
            match self.store.create_drafts(&issuer, &drafts) {
                Ok(all) => all.into_iter().map(Ok).collect(),
                Err(_) => drafts
                    .iter()
                    .map(|d| {
                        self.store
                            .create_draft(&issuer, d)
                            .map(|o| o.map(|i| i.id))
                            .map_err(BillingError::from)
                    })
                    .collect(),
            };
        let mut to_finalize = Vec::new();
        for ((outcome, draft), content) in outcomes.into_iter().zip(&drafts).zip(contents) {
            match outcome {
                Ok(Outcome::Applied(id)) => {
                    report.drafted += 1;
                    if grace.is_zero() {
                        to_finalize.push((id, content));
                    }
                }
                Ok(Outcome::Replayed(_)) => report.replayed += 1,
                Err(e) => report.failures.push(RunFailure {
                    subject: draft.subscription.to_string(),
                    message: e.to_string(),
                }),
            }
        }
        if to_finalize.is_empty() {
            return Ok(());
        }
        match self.store.finalize_invoices(&issuer, &to_finalize, now) {
            Ok(done) => report.finalized += done.iter().filter(|o| !o.is_replay()).count() as u64,
            Err(_) => {
                for (id, content) in &to_finalize {
                    match self.store.finalize_invoice(&issuer, id, content, now) {
                        Ok(o) if !o.is_replay() => report.finalized += 1,
                        Ok(_) => {}
                        Err(e) => report.failures.push(RunFailure {
                            subject: id.to_string(),
                            message: e.to_string(),
                        }),
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads, for every period that many due subscriptions share, every
    /// customer's usage in one aggregate, once per run: later pages find it
    /// in `shared`.
    fn share_usage(
        &self,
        due: &[Subscription],
        watermark: i64,
        shared: &mut SharedUsage,
    ) -> Result<(), BillingError> {
        let mut windows: HashMap<(DateTime<Utc>, DateTime<Utc>), usize> = HashMap::new();
        for s in due {
            *windows
                .entry((s.next_period_start, s.next_period_end))
                .or_default() += 1;
        }
        for ((from, to), count) in windows {
            if count < SHARED_WINDOW_MIN || from == to || shared.contains_key(&(from, to)) {
                continue;
            }
            let all = self.store.aggregate_usage(
                self.id()?,
                &UsageWindow {
                    from,
                    to,
                    after_batch: 0,
                    up_to_batch: watermark,
                    customer: None,
                },
            )?;
            shared.insert(
                (from, to),
                all.into_iter()
                    .map(|a| ((a.customer.clone(), a.meter.clone()), a))
                    .collect(),
            );
        }
        Ok(())
    }

    /// Composes a subscription's open period (with adjustments for late
    /// usage of issued periods) up to `watermark`.
    #[allow(clippy::too_many_arguments)]
    fn compose_open(
        &self,
        subscription: &Subscription,
        period: &Period,
        meters: &BTreeMap<String, Meter>,
        watermark: i64,
        shared: &SharedUsage,
        customer: &Customer,
        issued: IssuedHint,
        now: DateTime<Utc>,
    ) -> Result<Composition, BillingError> {
        let parts = self.terms_parts_of(subscription, customer)?;
        let terms = parts.terms(subscription);
        let per_event = |meter: &str| {
            parts
                .plans
                .values()
                .any(|p| crate::preview::charges_per_event(p, meter))
        };
        let source = UsageSource {
            billing: self,
            meters,
            customer: &subscription.customer,
            after_batch: 0,
            up_to_batch: watermark,
            shared,
            per_event: &per_event,
        };
        let mut composition = compose::compose(&terms, period, &mut |meter, from, to| {
            source.usage(meter, from, to)
        })?;
        // Nothing was issued since later usage arrived: nothing to adjust.
        let adjustments = match issued {
            IssuedHint::Known(None) => Vec::new(),
            IssuedHint::Known(Some(counted)) if counted >= watermark => Vec::new(),
            _ => self.late_adjustments(
                subscription,
                &parts.plans,
                meters,
                watermark,
                &per_event,
                now,
            )?,
        };
        if !adjustments.is_empty() {
            let mut lines = std::mem::take(&mut composition.lines);
            for mut line in adjustments {
                line.position = u32::try_from(lines.len()).unwrap_or(u32::MAX);
                lines.push(line);
            }
            // Discount and tax follow the new subtotal.
            composition = compose::totals(&terms, period, composition.currency, lines)?;
        }
        // Amounts come from exact quantities; a line keeps its quantity to
        // the store's six places (a gauge's value × seconds may have more).
        for line in &mut composition.lines {
            line.quantity = line
                .quantity
                .round_dp_with_strategy(scaled::SCALE, RoundingStrategy::MidpointAwayFromZero);
        }
        Ok(composition)
    }

    /// Adjustment lines for usage that arrived after an issued invoice
    /// was rated: for each of its usage lines, the charge on everything known
    /// now minus the charge on what was known when it was last rated.
    fn late_adjustments(
        &self,
        subscription: &Subscription,
        plans: &BTreeMap<String, Plan>,
        meters: &BTreeMap<String, Meter>,
        watermark: i64,
        per_event: &dyn Fn(&str) -> bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<InvoiceLine>, BillingError> {
        // Events are accepted at most a late window after they happened,
        // so an invoice ended longer ago than that (plus the longest
        // period) can get no late usage.
        let since = now - self.late_window()? - Duration::days(400);
        let issued = self
            .store
            .issued_invoices_of(self.id()?, &subscription.id, since)?;
        // Issued invoices are finalised in period order, so the latest
        // one's watermark is what every earlier period was rated up to.
        let Some(counted) = issued.iter().map(|i| i.usage_batch).max() else {
            return Ok(Vec::new());
        };
        if counted >= watermark {
            return Ok(Vec::new());
        }
        let mut lines = Vec::new();
        for invoice in &issued {
            // Anything new for this customer in the invoice's period?
            let fresh = self.store.aggregate_usage(
                self.id()?,
                &UsageWindow {
                    from: invoice.period_start,
                    to: invoice.period_end,
                    after_batch: counted,
                    up_to_batch: watermark,
                    customer: Some(subscription.customer.clone()),
                },
            )?;
            if fresh.is_empty() {
                continue;
            }
            for line in invoice.lines.iter().filter(|l| l.kind == "usage") {
                let (Some(meter), Some(plan_code)) = (&line.meter, &line.plan) else {
                    continue;
                };
                if !fresh.iter().any(|f| &f.meter == meter) {
                    continue;
                }
                let plan = match plans.get(plan_code) {
                    Some(plan) => plan.clone(),
                    None => self.plan(plan_code)?,
                };
                let read = |up_to: i64| {
                    UsageSource {
                        billing: self,
                        meters,
                        customer: &subscription.customer,
                        after_batch: 0,
                        up_to_batch: up_to,
                        shared: &HashMap::new(),
                        per_event,
                    }
                    .usage(meter, line.period_start, line.period_end)
                };
                let before = read(counted)?;
                let after = read(watermark)?;
                let old = compose::usage_amount(&plan, meter, &before)?;
                let new = compose::usage_amount(&plan, meter, &after)?;
                let (Some((old_amount, _)), Some((new_amount, rated))) = (old, new) else {
                    continue;
                };
                let delta = new_amount - old_amount;
                let units = after.quantity - before.quantity;
                if delta.is_zero() && units.is_zero() {
                    continue;
                }
                lines.push(InvoiceLine {
                    position: 0,
                    kind: "adjustment".into(),
                    description: format!(
                        "Late usage of {meter} for {} (invoice {})",
                        line.period_start.date_naive(),
                        invoice.number.as_deref().unwrap_or(invoice.id.as_str())
                    ),
                    meter: Some(meter.clone()),
                    plan: Some(plan_code.clone()),
                    quantity: units,
                    amount: delta,
                    period_start: line.period_start,
                    period_end: line.period_end,
                    adjusts: Some(LineRef {
                        invoice: invoice.id.clone(),
                        position: line.position,
                    }),
                    detail: serde_json::json!({
                        "quantity_before": before.quantity.to_string(),
                        "quantity_after": after.quantity.to_string(),
                        "amount_before": old_amount.to_string(),
                        "amount_after": new_amount.to_string(),
                        "tiers": rated.tiers,
                    }),
                });
            }
        }
        Ok(lines)
    }

    /// One subscription's draft for its open period, and its content as
    /// it would be finalised now.
    #[allow(clippy::too_many_arguments)]
    fn prepare_draft(
        &self,
        subscription: &Subscription,
        customer: &Customer,
        meters: &BTreeMap<String, Meter>,
        watermark: i64,
        shared: &SharedUsage,
        issued: IssuedHint,
        now: DateTime<Utc>,
    ) -> Result<(NewInvoice, FinalContent), BillingError> {
        let parts = self.terms_parts_of(subscription, customer)?;
        let terms = parts.terms(subscription);
        let period = open_period(&terms, subscription)?;
        let next = compose::next_period(&terms, &period)?;
        let composition = self.compose_open(
            subscription,
            &period,
            meters,
            watermark,
            shared,
            customer,
            issued,
            now,
        )?;
        let draft = NewInvoice {
            id: InvoiceId::from_random((self.ids)()),
            customer: subscription.customer.clone(),
            subscription: subscription.id.clone(),
            subscription_version: subscription.version,
            currency: composition.currency,
            period_start: period.start,
            period_end: period.end,
            next_period: next.map(|p| (p.start, p.end)),
            usage_batch: watermark,
            lines: composition.lines.clone(),
            subtotal: composition.subtotal,
            discount: composition.discount,
            tax: composition.tax,
            at: now,
        };
        let content = FinalContent {
            usage_batch: watermark,
            lines: composition.lines,
            subtotal: composition.subtotal,
            discount: composition.discount,
            tax: composition.tax,
        };
        Ok((draft, content))
    }

    /// Finalises drafts whose period ended by `ended_by`, each subscription's
    /// in period order. Returns how many were finalised.
    fn finalize_due(
        &self,
        ended_by: DateTime<Utc>,
        now: DateTime<Utc>,
        failures: &mut Vec<RunFailure>,
    ) -> Result<u64, BillingError> {
        let mut page = PageAfter {
            after: None,
            limit: RUN_PAGE,
        };
        let mut drafts = Vec::new();
        loop {
            let batch = self.store.drafts_due(self.id()?, ended_by, &page)?;
            let Some(last) = batch.last() else { break };
            page.after = Some(last.id.to_string());
            drafts.extend(
                batch
                    .into_iter()
                    .map(|d| (d.subscription.clone(), d.period_start, d.period_end, d.id)),
            );
        }
        drafts.sort();
        let mut finalized = 0;
        for (_, _, _, id) in drafts {
            match self.finalize(&id, now) {
                Ok(_) => finalized += 1,
                Err(e) => failures.push(RunFailure {
                    subject: id.to_string(),
                    message: e.to_string(),
                }),
            }
        }
        Ok(finalized)
    }

    /// Finalises a draft now: recomposes it with all usage accepted so
    /// far, applies credit notes and prepaid credit, numbers it. A draft
    /// with an earlier draft of the same subscription still open is refused
    /// (periods are finalised in order). An invoice already final is
    /// returned as it is.
    pub fn finalize(&self, id: &InvoiceId, now: DateTime<Utc>) -> Result<Invoice, BillingError> {
        let invoice = self.invoice(id)?;
        if invoice.status != InvoiceStatus::Draft {
            return Ok(invoice);
        }
        let Some(sub_id) = &invoice.subscription else {
            return Err(BillingError::Conflict(
                "the draft has no subscription".into(),
            ));
        };
        let subscription = self.subscription(sub_id)?;
        let earlier = self.store.list_invoices(
            self.id()?,
            &shiyun_core::billing::InvoiceFilter {
                customer: Some(invoice.customer.clone()),
                status: Some(InvoiceStatus::Draft),
                from: None,
                to: Some(invoice.period_end),
            },
            &PageAfter {
                after: None,
                limit: 10_000,
            },
        )?;
        if earlier.iter().any(|d| {
            d.subscription.as_ref() == Some(sub_id)
                && d.id != invoice.id
                && (d.period_start, d.period_end) < (invoice.period_start, invoice.period_end)
        }) {
            return Err(BillingError::Conflict(
                "an earlier draft of this subscription must be finalised first".into(),
            ));
        }
        let meters = self.meters()?;
        let watermark = self.store.usage_watermark(self.id()?)?;
        let parts = self.terms_parts(&subscription)?;
        let terms = parts.terms(&subscription);
        let period = period_of(&terms, &invoice)?;
        let customer = self.customer(&subscription.customer)?;
        let composition = self.compose_open(
            &subscription,
            &period,
            &meters,
            watermark,
            &HashMap::new(),
            &customer,
            IssuedHint::Unknown,
            now,
        )?;
        let content = FinalContent {
            usage_batch: watermark,
            lines: composition.lines,
            subtotal: composition.subtotal,
            discount: composition.discount,
            tax: composition.tax,
        };
        Ok(self
            .store
            .finalize_invoice(self.id()?, id, &content, now)?
            .into_inner())
    }

    /// One invoice.
    pub fn invoice(&self, id: &InvoiceId) -> Result<Invoice, BillingError> {
        self.store
            .get_invoice(self.id()?, id)?
            .ok_or_else(|| BillingError::NotFound {
                entity: "invoice",
                id: id.to_string(),
            })
    }

    /// Issues a credit note against a finalised invoice.
    pub fn credit_note(
        &self,
        invoice: &InvoiceId,
        amount: Decimal,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<CreditNote, BillingError> {
        let stored = self.invoice(invoice)?;
        let rounded = Money::new(amount, stored.currency).round(RoundingMode::HalfUp);
        if amount <= Decimal::ZERO || rounded.amount() != amount {
            return Err(ValidationError::new(
                "amount",
                format!(
                    "must be positive with at most {} decimal places",
                    stored.currency.minor_units()
                ),
            )
            .into());
        }
        if reason.is_empty() || reason.len() > 500 {
            return Err(ValidationError::new("reason", "must be 1-500 bytes").into());
        }
        let id = CreditNoteId::from_random((self.ids)());
        Ok(self
            .store
            .create_credit_note(self.id()?, &id, invoice, amount, reason, now)?)
    }

    /// Records a payment (a bank transfer) of a finalised invoice.
    pub fn record_payment(
        &self,
        invoice: &InvoiceId,
        payment: &Payment,
    ) -> Result<Outcome<Invoice>, BillingError> {
        if payment.reference.is_empty() || payment.reference.len() > 255 {
            return Err(ValidationError::new("reference", "must be 1-255 bytes").into());
        }
        Ok(self.store.record_payment(self.id()?, invoice, payment)?)
    }

    /// Voids a finalised, unpaid invoice.
    pub fn void(&self, invoice: &InvoiceId, now: DateTime<Utc>) -> Result<Invoice, BillingError> {
        Ok(self.store.void_invoice(self.id()?, invoice, now)?)
    }
}

/// What a caller knows of a subscription's issued invoices.
#[derive(Debug, Clone, Copy)]
enum IssuedHint {
    /// Not read: the store is asked.
    Unknown,
    /// The largest usage watermark of its issued invoices, if it has any.
    Known(Option<i64>),
}

/// The period a subscription will invoice next, as stored.
fn open_period(terms: &Terms, subscription: &Subscription) -> Result<Period, BillingError> {
    period_between(
        terms,
        subscription.next_period_start,
        subscription.next_period_end,
    )
}

/// The period of a draft.
fn period_of(terms: &Terms, invoice: &Invoice) -> Result<Period, BillingError> {
    period_between(terms, invoice.period_start, invoice.period_end)
}

/// A period from its stored instants, with its local days.
fn period_between(
    terms: &Terms,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Period, BillingError> {
    let first_day = start.with_timezone(&terms.timezone).date_naive();
    let end_day = end.with_timezone(&terms.timezone).date_naive();
    // Instants are local midnights; re-derive them so a stored period and
    // a computed one compare equal.
    let period = Period {
        start,
        end,
        first_day,
        end_day,
    };
    if period::local_midnight(first_day, terms.timezone) != start {
        return Err(BillingError::Store(StoreError::Internal(format!(
            "period start {start} is not a local midnight"
        ))));
    }
    Ok(period)
}

/// The field serde names in an error (`missing field `customer``), or `event`.
fn serde_field(message: &str) -> String {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.split_once(marker).map(|(_, r)| r)
            && let Some((field, _)) = rest.split_once('`')
        {
            return field.to_owned();
        }
    }
    "event".to_owned()
}
