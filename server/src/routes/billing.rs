//! Billing: usage ingest, meters, plans, customers, subscriptions, bill
//! runs, the invoice preview, invoices and finance exports. The marketplace
//! is the issuer; each tenant (`acc_…`, `ent_…`) is one of its customers
//! under its own id. The rules are `shiyun-billing`'s; these handlers
//! extract, call and answer.

use std::collections::BTreeMap;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shiyun_billing::compose::Coupon;
use shiyun_billing::events::IngestReport;
use shiyun_billing::export::{ExportFormat, ExportKind};
use shiyun_billing::plan::Plan;
use shiyun_billing::preview::{PreviewInvoice, PreviewRequest, PreviewUsage};
use shiyun_billing::{BillRunReport, Billing, BillingError, SubscribeRequest};
use shiyun_core::Money;
use shiyun_core::billing::{
    Aggregation, CustomerInput, InvoiceFilter, InvoiceId, InvoiceStatus, Meter, PageAfter, Payment,
    SubscriptionId,
};
use shiyun_core::money::parse_plain_decimal;
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::validation::{ValidJson, ValidQuery};

/// Runs one billing call on a blocking thread (the store is synchronous).
async fn billed<T, F>(call: F) -> ApiResult<T>
where
    F: FnOnce() -> Result<T, BillingError> + Send + 'static,
    T: Send + 'static,
{
    Ok(web::block(call).await??)
}

fn decimal(field: &str, text: &str) -> Result<Decimal, ApiError> {
    parse_plain_decimal(text)
        .map_err(|_| ApiError::invalid(field, "must be a plain decimal string"))
}

// ---------------------------------------------------------------- usage

/// Body of `POST /v1/usage/events`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UsageBatch {
    /// 1 to 1,000 events, each a `UsageEventInput`. Each is checked on its
    /// own, so any JSON value is taken here: one that is not a valid event
    /// is reported in `results` (`rejected`, with its code and field) and
    /// the others are stored.
    #[validate(length(min = 1, max = 1000))]
    #[schema(value_type = Vec<serde_json::Value>, min_items = 1, max_items = 1000)]
    pub events: Vec<Value>,
}

/// Records usage events, exactly once per idempotency key. Answers when
/// the accepted events are durably stored. Each event's result is in
/// `results`: `accepted`, `duplicate` (stored before; not counted again),
/// `conflict` (the key was used with another payload; the first stands) or
/// `rejected` (with the error). A caller that is not an operator reports
/// usage of its own tenant only. Usage of a prepaid order is paid from the
/// wallet as it arrives: an event the wallet cannot pay is `rejected` with
/// `insufficient_balance` and the order is suspended until a top-up.
#[utoipa::path(post, path = "/v1/usage/events", tag = "billing", request_body = UsageBatch,
    responses(
        (status = 200, description = "each event's result", body = IngestReport),
        (status = 400, description = "not a batch of 1-1000 events", body = ErrorEnvelope),
    ))]
pub async fn ingest_usage(
    state: web::Data<AppState>,
    caller: Caller,
    ValidJson(batch): ValidJson<UsageBatch>,
) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let principal = caller.0;
    let default_timezone = state.settings.billing.default_timezone.clone();
    let outcome = billed(move || {
        let now = Utc::now();
        if principal.operator {
            Ok(shiyun_billing::market::UsageOutcome {
                report: market.billing().ingest(&batch.events, now)?,
                signals: Vec::new(),
            })
        } else {
            market.report_usage(
                &batch.events,
                principal.tenant.as_str(),
                &default_timezone,
                now,
            )
        }
    })
    .await?;
    crate::billing::act_on_signals(&state, outcome.signals).await;
    Ok(HttpResponse::Ok().json(outcome.report))
}

// ---------------------------------------------------------------- meters

/// Body of `POST /v1/billing/meters`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct MeterInput {
    /// Code events name: 1-64 of `a-z 0-9 _ - .`.
    #[validate(length(min = 1, max = 64))]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$"
    )]
    pub code: String,
    /// Display name.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// How events add up.
    pub aggregation: Aggregation,
    /// The event property read; required for all but `count`.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub property: Option<String>,
}

/// A meter.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterView {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Aggregation.
    pub aggregation: Aggregation,
    /// Property read.
    pub property: Option<String>,
}

impl From<Meter> for MeterView {
    fn from(m: Meter) -> Self {
        MeterView {
            code: m.code,
            name: m.name,
            aggregation: m.aggregation,
            property: m.property,
        }
    }
}

/// Every meter.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterList {
    /// By code.
    pub meters: Vec<MeterView>,
}

/// Every meter of the marketplace.
#[utoipa::path(get, path = "/v1/billing/meters", tag = "billing",
    responses((status = 200, body = MeterList)))]
pub async fn list_meters(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let billing = state.billing.clone();
    let meters = billed(move || billing.meters()).await?;
    Ok(HttpResponse::Ok().json(MeterList {
        meters: meters.into_values().map(MeterView::from).collect(),
    }))
}

/// Defines a meter. The same definition again answers 200; the same code
/// with other settings, 409.
#[utoipa::path(post, path = "/v1/billing/meters", tag = "billing", request_body = MeterInput,
    responses(
        (status = 201, description = "created", body = MeterView),
        (status = 200, description = "defined before, alike", body = MeterView),
        (status = 400, description = "invalid meter", body = ErrorEnvelope),
        (status = 409, description = "the code is taken by another meter", body = ErrorEnvelope),
    ))]
pub async fn create_meter(
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<MeterInput>,
) -> ApiResult<HttpResponse> {
    let billing = state.billing.clone();
    let meter = Meter {
        code: input.code,
        name: input.name,
        aggregation: input.aggregation,
        property: input.property,
    };
    let outcome = billed(move || billing.define_meter(&meter)).await?;
    let replay = outcome.is_replay();
    let view = MeterView::from(outcome.into_inner());
    Ok(if replay {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

// ---------------------------------------------------------------- plans

/// A plan in the JSON plan format (see the README's "Plan format").
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// The plan.
    #[schema(value_type = Object)]
    pub plan: Value,
    /// When it was published.
    pub created_at: chrono::DateTime<Utc>,
}

/// Every plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanList {
    /// By code.
    pub plans: Vec<PlanView>,
}

/// Every published plan.
#[utoipa::path(get, path = "/v1/billing/plans", tag = "billing",
    responses((status = 200, body = PlanList)))]
pub async fn list_plans(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let billing = state.billing.clone();
    let plans = billed(move || Ok(billing.store().list_plans(billing.id()?)?)).await?;
    let plans = plans
        .into_iter()
        .map(|p| PlanView {
            plan: serde_json::from_str(&p.body).unwrap_or(Value::Null),
            created_at: p.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PlanList { plans }))
}

/// Body of `POST /v1/billing/plans`: a plan in the JSON plan format.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// The plan.
    #[schema(value_type = Object)]
    pub plan: Value,
}

/// Publishes a plan. Plans never change: new prices are a new code. The
/// same plan again answers 200; another plan under a taken code, 409.
#[utoipa::path(post, path = "/v1/billing/plans", tag = "billing", request_body = PlanInput,
    responses(
        (status = 201, description = "published", body = PlanView),
        (status = 200, description = "published before, alike", body = PlanView),
        (status = 400, description = "invalid plan (the field path says where)", body = ErrorEnvelope),
        (status = 409, description = "the code is taken by another plan", body = ErrorEnvelope),
    ))]
pub async fn create_plan(
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<PlanInput>,
) -> ApiResult<HttpResponse> {
    let plan = Plan::parse(&input.plan.to_string()).map_err(|e| e.within("plan"))?;
    let billing = state.billing.clone();
    let outcome = billed(move || billing.define_plan(&plan, Utc::now())).await?;
    let replay = outcome.is_replay();
    let stored = outcome.into_inner();
    let view = PlanView {
        plan: serde_json::from_str(&stored.body).unwrap_or(Value::Null),
        created_at: stored.created_at,
    };
    Ok(if replay {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

// ---------------------------------------------------------------- customers

/// Body of `PUT /v1/billing/customers/{customer}`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    /// Display name.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// IANA timezone (`Asia/Shanghai`); periods start at local midnight.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64, example = "Asia/Shanghai")]
    pub timezone: String,
    /// Tax rate as a fraction in [0, 1) (`"0.06"`).
    #[schema(pattern = "^0(\\.[0-9]{1,6})?$", example = "0.06")]
    pub tax_rate: String,
}

/// A customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    /// The tenant id (or the issuer's own id for it).
    pub external_id: String,
    /// Name.
    pub name: String,
    /// Timezone.
    pub timezone: String,
    /// Tax rate as a fraction.
    pub tax_rate: String,
}

/// Creates or updates the customer with this external id (a tenant id).
#[utoipa::path(put, path = "/v1/billing/customers/{customer}", tag = "billing",
    params(("customer" = String, Path, description = "the customer's external id")),
    request_body = CustomerBody,
    responses(
        (status = 200, body = CustomerView),
        (status = 400, description = "invalid customer", body = ErrorEnvelope),
    ))]
pub async fn put_customer(
    state: web::Data<AppState>,
    path: web::Path<String>,
    ValidJson(body): ValidJson<CustomerBody>,
) -> ApiResult<HttpResponse> {
    let tax_rate = decimal("tax_rate", &body.tax_rate)?;
    let input = CustomerInput {
        external_id: path.into_inner(),
        name: body.name,
        timezone: body.timezone,
        tax_rate,
    };
    let billing = state.billing.clone();
    let customer = billed(move || billing.put_customer(&input, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(CustomerView {
        external_id: customer.external_id,
        name: customer.name,
        timezone: customer.timezone,
        tax_rate: customer.tax_rate.normalize().to_string(),
    }))
}

/// Body of `POST /v1/billing/customers/{customer}/credits`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreditBody {
    /// The prepaid credit to add.
    #[schema(value_type = Object)]
    pub amount: Money,
}

/// A customer's prepaid balance in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    /// The balance after the top-up.
    #[schema(value_type = Object)]
    pub balance: Money,
}

/// Adds prepaid credit; finalised invoices in that currency draw it down.
#[utoipa::path(post, path = "/v1/billing/customers/{customer}/credits", tag = "billing",
    params(("customer" = String, Path, description = "the customer's external id")),
    request_body = CreditBody,
    responses(
        (status = 200, body = BalanceView),
        (status = 400, description = "not a positive amount in minor units", body = ErrorEnvelope),
        (status = 404, description = "no such customer", body = ErrorEnvelope),
    ))]
pub async fn add_credit(
    state: web::Data<AppState>,
    path: web::Path<String>,
    ValidJson(body): ValidJson<CreditBody>,
) -> ApiResult<HttpResponse> {
    let billing = state.billing.clone();
    let customer = path.into_inner();
    let balance =
        billed(move || billing.add_prepaid_credit(&customer, body.amount, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(BalanceView { balance }))
}

// ---------------------------------------------------------------- subscriptions

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// The subscription.
    #[schema(value_type = Object)]
    pub subscription: shiyun_core::billing::Subscription,
}

/// Subscribes a customer to a plan from a local start date. The `id`, when
/// given, is the idempotency key: the same request again answers 200.
#[utoipa::path(post, path = "/v1/billing/subscriptions", tag = "billing",
    request_body = SubscribeRequest,
    responses(
        (status = 201, body = SubscriptionView),
        (status = 200, description = "subscribed before, alike", body = SubscriptionView),
        (status = 400, description = "invalid request", body = ErrorEnvelope),
        (status = 404, description = "no such customer or plan", body = ErrorEnvelope),
        (status = 409, description = "the id is taken by another subscription", body = ErrorEnvelope),
    ))]
pub async fn create_subscription(
    state: web::Data<AppState>,
    body: web::Json<SubscribeRequest>,
) -> ApiResult<HttpResponse> {
    let billing = state.billing.clone();
    let request = body.into_inner();
    let outcome = billed(move || billing.subscribe(&request, Utc::now())).await?;
    let replay = outcome.is_replay();
    let view = SubscriptionView {
        subscription: outcome.into_inner(),
    };
    Ok(if replay {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

/// Body of `POST /v1/billing/subscriptions/{subscription}/plan`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ChangePlanBody {
    /// The new plan's code (same currency and interval).
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub plan: String,
    /// The day of the change in the customer's timezone (default: today, UTC).
    #[schema(value_type = Option<String>, format = Date)]
    pub on: Option<NaiveDate>,
}

/// Moves a subscription to another plan: an upgrade (a higher recurring
/// fee) at once, prorated by day; a downgrade at the end of the period.
#[utoipa::path(post, path = "/v1/billing/subscriptions/{subscription}/plan", tag = "billing",
    params(("subscription" = SubscriptionId, Path, description = "subscription id")),
    request_body = ChangePlanBody,
    responses(
        (status = 200, body = SubscriptionView),
        (status = 400, description = "invalid change", body = ErrorEnvelope),
        (status = 404, description = "no such subscription or plan", body = ErrorEnvelope),
        (status = 409, description = "the subscription ended or changed meanwhile", body = ErrorEnvelope),
    ))]
pub async fn change_plan(
    state: web::Data<AppState>,
    path: web::Path<String>,
    ValidJson(body): ValidJson<ChangePlanBody>,
) -> ApiResult<HttpResponse> {
    let id = SubscriptionId::parse(&path)?;
    let billing = state.billing.clone();
    let today = body.on.unwrap_or_else(|| Utc::now().date_naive());
    let subscription = billed(move || billing.change_plan(&id, &body.plan, today)).await?;
    Ok(HttpResponse::Ok().json(SubscriptionView { subscription }))
}

/// Body of `POST /v1/billing/subscriptions/{subscription}/cancel`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Last day in force (default: the current period's last day).
    #[schema(value_type = Option<String>, format = Date)]
    pub ends_on: Option<NaiveDate>,
}

/// Cancels a subscription; it is billed up to its last day.
#[utoipa::path(post, path = "/v1/billing/subscriptions/{subscription}/cancel", tag = "billing",
    params(("subscription" = SubscriptionId, Path, description = "subscription id")),
    request_body = CancelBody,
    responses(
        (status = 200, body = SubscriptionView),
        (status = 400, description = "invalid end", body = ErrorEnvelope),
        (status = 404, description = "no such subscription", body = ErrorEnvelope),
        (status = 409, description = "the subscription changed meanwhile", body = ErrorEnvelope),
    ))]
pub async fn cancel_subscription(
    state: web::Data<AppState>,
    path: web::Path<String>,
    ValidJson(body): ValidJson<CancelBody>,
) -> ApiResult<HttpResponse> {
    let id = SubscriptionId::parse(&path)?;
    let billing = state.billing.clone();
    let subscription = billed(move || billing.cancel(&id, body.ends_on)).await?;
    Ok(HttpResponse::Ok().json(SubscriptionView { subscription }))
}

// ---------------------------------------------------------------- runs and preview

/// Runs a bill run now (the schedule also runs them): closes every period
/// that has ended, drafts and finalises invoices. Safe to repeat.
#[utoipa::path(post, path = "/v1/billing/runs", tag = "billing",
    responses(
        (status = 200, body = BillRunReport),
        (status = 409, description = "a bill run is already running", body = ErrorEnvelope),
    ))]
pub async fn run_bill_run(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let billing = state.billing.clone();
    let wallets = state.wallets.clone();
    let locks = state.job_lock.clone();
    let report = billed(move || {
        crate::billing::locked_bill_run(&billing, &wallets, locks.as_ref())?
            .ok_or_else(|| BillingError::Conflict("a bill run is already running".into()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Body of `POST /v1/billing/preview`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// An inline plan in the JSON plan format…
    #[schema(value_type = Option<Object>)]
    pub plan: Option<Value>,
    /// …or a published plan's code.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub plan_code: Option<String>,
    /// First day of the period.
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// The day after the period.
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// Timezone of the days (default `UTC`).
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub timezone: Option<String>,
    /// Tax rate as a fraction (default `"0"`).
    #[schema(pattern = "^0(\\.[0-9]{1,6})?$")]
    pub tax_rate: Option<String>,
    /// Coupons.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub coupons: Vec<Coupon>,
    /// Raw events…
    #[validate(length(max = 100000))]
    #[schema(value_type = Option<Vec<shiyun_billing::preview::PreviewEvent>>)]
    pub events: Option<Vec<shiyun_billing::preview::PreviewEvent>>,
    /// …or a quantity per meter code (decimal strings).
    pub quantities: Option<BTreeMap<String, String>>,
}

/// The invoice a plan would issue for a period, from raw events or
/// quantities per meter; nothing is stored.
#[utoipa::path(post, path = "/v1/billing/preview", tag = "billing", request_body = PreviewBody,
    responses(
        (status = 200, body = PreviewInvoice),
        (status = 400, description = "invalid plan, period or usage", body = ErrorEnvelope),
        (status = 404, description = "no such plan", body = ErrorEnvelope),
    ))]
pub async fn preview_invoice(
    state: web::Data<AppState>,
    ValidJson(body): ValidJson<PreviewBody>,
) -> ApiResult<HttpResponse> {
    let usage = match (body.events, body.quantities) {
        (Some(events), None) => PreviewUsage::Events(events),
        (None, Some(quantities)) => {
            let mut parsed = BTreeMap::new();
            for (meter, text) in quantities {
                let value = decimal(&format!("quantities.{meter}"), &text)?;
                parsed.insert(meter, value);
            }
            PreviewUsage::Quantities(parsed)
        }
        (None, None) => PreviewUsage::Quantities(BTreeMap::new()),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "quantities",
                "give either events or quantities",
            ));
        }
    };
    let tax_rate = match &body.tax_rate {
        Some(text) => decimal("tax_rate", text)?,
        None => Decimal::ZERO,
    };
    let inline = match (body.plan, body.plan_code) {
        (Some(plan), None) => PlanSource::Inline(Box::new(
            Plan::parse(&plan.to_string()).map_err(|e| e.within("plan"))?,
        )),
        (None, Some(code)) => PlanSource::Published(code),
        _ => return Err(ApiError::invalid("plan", "give either plan or plan_code")),
    };
    let billing = state.billing.clone();
    let invoice = billed(move || {
        let plan = match inline {
            PlanSource::Inline(plan) => *plan,
            PlanSource::Published(code) => billing.plan(&code)?,
        };
        shiyun_billing::preview::preview(&PreviewRequest {
            plan,
            from: body.from,
            to: body.to,
            timezone: body.timezone.unwrap_or_else(|| "UTC".into()),
            tax_rate,
            coupons: body.coupons,
            meters: billing.meters()?,
            usage,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(invoice))
}

/// The plan a preview prices.
enum PlanSource {
    /// Given in the request.
    Inline(Box<Plan>),
    /// A published plan's code.
    Published(String),
}

// ---------------------------------------------------------------- invoices

/// A page of invoices.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePage {
    /// Invoices with their lines, by id.
    #[schema(value_type = Vec<Object>)]
    pub invoices: Vec<shiyun_core::billing::Invoice>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Query of the invoice lists.
#[derive(Debug, Deserialize, ToSchema, Validate, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// Only this customer.
    #[validate(length(min = 1, max = 255))]
    #[param(min_length = 1, max_length = 255)]
    pub customer: Option<String>,
    /// Only this state.
    pub status: Option<InvoiceStatusParam>,
    /// The previous page's `next_cursor`.
    #[validate(length(min = 1, max = 100))]
    #[param(min_length = 1, max_length = 100)]
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// An invoice state, as a query parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatusParam {
    /// Drafts.
    Draft,
    /// Finalised.
    Finalized,
    /// Paid.
    Paid,
    /// Voided.
    Voided,
}

impl From<InvoiceStatusParam> for InvoiceStatus {
    fn from(p: InvoiceStatusParam) -> Self {
        match p {
            InvoiceStatusParam::Draft => InvoiceStatus::Draft,
            InvoiceStatusParam::Finalized => InvoiceStatus::Finalized,
            InvoiceStatusParam::Paid => InvoiceStatus::Paid,
            InvoiceStatusParam::Voided => InvoiceStatus::Voided,
        }
    }
}

async fn invoice_page(
    state: &AppState,
    customer: Option<String>,
    query: InvoiceQuery,
    customer_view: bool,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(50);
    let billing = state.billing.clone();
    let filter = InvoiceFilter {
        customer,
        status: query.status.map(Into::into),
        from: None,
        to: None,
    };
    let page = PageAfter {
        after: query.cursor,
        limit: limit + 1,
    };
    let mut invoices = billed(move || {
        Ok(billing
            .store()
            .list_invoices(billing.id()?, &filter, &page)?)
    })
    .await?;
    let next_cursor = if invoices.len() > limit as usize {
        invoices.truncate(limit as usize);
        invoices.last().map(|i| i.id.to_string())
    } else {
        None
    };
    if customer_view {
        invoices.retain(|i| i.status != InvoiceStatus::Draft);
        // A customer sees the price it pays, never the platform's cost.
        for line in invoices.iter_mut().flat_map(|i| i.lines.iter_mut()) {
            if let Some(detail) = line.detail.as_object_mut() {
                detail.remove("resale");
            }
        }
    }
    Ok(HttpResponse::Ok().json(InvoicePage {
        invoices,
        next_cursor,
    }))
}

/// Query of `GET /v1/invoices`.
#[derive(Debug, Deserialize, ToSchema, Validate, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MyInvoiceQuery {
    /// Only this state (drafts are never shown to customers).
    pub status: Option<IssuedStatusParam>,
    /// The previous page's `next_cursor`.
    #[validate(length(min = 1, max = 100))]
    #[param(min_length = 1, max_length = 100)]
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The state of an issued invoice, as a query parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssuedStatusParam {
    /// Finalised.
    Finalized,
    /// Paid.
    Paid,
    /// Voided.
    Voided,
}

impl From<IssuedStatusParam> for InvoiceStatusParam {
    fn from(p: IssuedStatusParam) -> Self {
        match p {
            IssuedStatusParam::Finalized => InvoiceStatusParam::Finalized,
            IssuedStatusParam::Paid => InvoiceStatusParam::Paid,
            IssuedStatusParam::Voided => InvoiceStatusParam::Voided,
        }
    }
}

/// The caller's tenant's issued invoices (drafts are not shown).
#[utoipa::path(get, path = "/v1/invoices", tag = "billing",
    params(MyInvoiceQuery),
    responses(
        (status = 200, body = InvoicePage),
        (status = 400, description = "invalid query", body = ErrorEnvelope),
    ))]
pub async fn list_my_invoices(
    state: web::Data<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<MyInvoiceQuery>,
) -> ApiResult<HttpResponse> {
    let own = caller.0.tenant.as_str().to_owned();
    let query = InvoiceQuery {
        customer: None,
        status: query.status.map(Into::into),
        cursor: query.cursor,
        limit: query.limit,
    };
    invoice_page(&state, Some(own), query, true).await
}

/// Every customer's invoices, drafts included (operators).
#[utoipa::path(get, path = "/v1/billing/invoices", tag = "billing",
    params(InvoiceQuery),
    responses(
        (status = 200, body = InvoicePage),
        (status = 400, description = "invalid query", body = ErrorEnvelope),
    ))]
pub async fn list_invoices(
    state: web::Data<AppState>,
    ValidQuery(query): ValidQuery<InvoiceQuery>,
) -> ApiResult<HttpResponse> {
    let customer = query.customer.clone();
    invoice_page(&state, customer, query, false).await
}

/// One invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    /// The invoice with its lines.
    #[schema(value_type = Object)]
    pub invoice: shiyun_core::billing::Invoice,
}

/// Finalises a draft now: recomposed with all usage so far, credit notes
/// and prepaid credit applied, numbered. A final invoice answers as it is.
#[utoipa::path(post, path = "/v1/billing/invoices/{invoice}/finalize", tag = "billing",
    params(("invoice" = InvoiceId, Path, description = "invoice id")),
    responses(
        (status = 200, body = InvoiceView),
        (status = 400, description = "not an invoice id", body = ErrorEnvelope),
        (status = 404, description = "no such invoice", body = ErrorEnvelope),
        (status = 409, description = "an earlier draft of the subscription is open", body = ErrorEnvelope),
    ))]
pub async fn finalize_invoice(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = InvoiceId::parse(&path)?;
    let billing = state.billing.clone();
    let invoice = billed(move || billing.finalize(&id, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(InvoiceView { invoice }))
}

/// Voids a finalised, unpaid invoice.
#[utoipa::path(post, path = "/v1/billing/invoices/{invoice}/void", tag = "billing",
    params(("invoice" = InvoiceId, Path, description = "invoice id")),
    responses(
        (status = 200, body = InvoiceView),
        (status = 400, description = "not an invoice id", body = ErrorEnvelope),
        (status = 404, description = "no such invoice", body = ErrorEnvelope),
        (status = 409, description = "a draft, paid or voided invoice", body = ErrorEnvelope),
    ))]
pub async fn void_invoice(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = InvoiceId::parse(&path)?;
    let billing = state.billing.clone();
    let invoice = billed(move || billing.void(&id, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(InvoiceView { invoice }))
}

/// Body of `POST /v1/billing/invoices/{invoice}/payments`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// The transfer's reference: the idempotency key of the payment.
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub reference: String,
    /// The amount: the invoice's total.
    #[schema(value_type = Object)]
    pub amount: Money,
}

/// Records a manual payment (a bank transfer) of a finalised invoice. The
/// same reference again answers as before.
#[utoipa::path(post, path = "/v1/billing/invoices/{invoice}/payments", tag = "billing",
    params(("invoice" = InvoiceId, Path, description = "invoice id")),
    request_body = PaymentBody,
    responses(
        (status = 200, body = InvoiceView),
        (status = 400, description = "invalid payment", body = ErrorEnvelope),
        (status = 404, description = "no such invoice", body = ErrorEnvelope),
        (status = 409, description = "not payable, or not its total", body = ErrorEnvelope),
    ))]
pub async fn record_payment(
    state: web::Data<AppState>,
    path: web::Path<String>,
    ValidJson(body): ValidJson<PaymentBody>,
) -> ApiResult<HttpResponse> {
    let id = InvoiceId::parse(&path)?;
    let billing = state.billing.clone();
    let payment = Payment {
        reference: body.reference,
        amount: body.amount,
        at: Utc::now(),
    };
    let invoice = billed(move || billing.record_payment(&id, &payment)).await?;
    Ok(HttpResponse::Ok().json(InvoiceView {
        invoice: invoice.into_inner(),
    }))
}

/// Body of `POST /v1/billing/invoices/{invoice}/credit-notes`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreditNoteBody {
    /// Amount credited, in the invoice's currency (`"12.50"`).
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,3})?$")]
    pub amount: String,
    /// Why.
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// A credit note.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditNoteView {
    /// The credit note.
    #[schema(value_type = Object)]
    pub credit_note: shiyun_core::billing::CreditNote,
}

/// Issues a credit note against a finalised invoice; its balance reduces
/// the customer's next invoices.
#[utoipa::path(post, path = "/v1/billing/invoices/{invoice}/credit-notes", tag = "billing",
    params(("invoice" = InvoiceId, Path, description = "invoice id")),
    request_body = CreditNoteBody,
    responses(
        (status = 201, body = CreditNoteView),
        (status = 400, description = "invalid amount", body = ErrorEnvelope),
        (status = 404, description = "no such invoice", body = ErrorEnvelope),
        (status = 409, description = "a draft, or more than the invoice's total", body = ErrorEnvelope),
    ))]
pub async fn create_credit_note(
    state: web::Data<AppState>,
    path: web::Path<String>,
    ValidJson(body): ValidJson<CreditNoteBody>,
) -> ApiResult<HttpResponse> {
    let id = InvoiceId::parse(&path)?;
    let amount = decimal("amount", &body.amount)?;
    let billing = state.billing.clone();
    let credit_note =
        billed(move || billing.credit_note(&id, amount, &body.reason, Utc::now())).await?;
    Ok(HttpResponse::Created().json(CreditNoteView { credit_note }))
}

// ---------------------------------------------------------------- exports

/// Query of the exports.
#[derive(Debug, Deserialize, ToSchema, Validate, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// First day (UTC).
    #[param(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// The day after the last (UTC).
    #[param(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// `csv` (default) or `jsonl`.
    pub format: Option<ExportFormatParam>,
}

/// An export format, as a query parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormatParam {
    /// CSV with a header row.
    Csv,
    /// JSON lines.
    Jsonl,
}

async fn stream_export(
    state: &AppState,
    kind: ExportKind,
    query: ExportQuery,
) -> ApiResult<HttpResponse> {
    let format = match query.format {
        Some(ExportFormatParam::Jsonl) => ExportFormat::Jsonl,
        _ => ExportFormat::Csv,
    };
    if query.to <= query.from {
        return Err(ApiError::invalid("to", "must be after `from`"));
    }
    let from = query.from.and_time(NaiveTime::MIN).and_utc();
    let to = query.to.and_time(NaiveTime::MIN).and_utc();
    let billing: Billing = state.billing.clone();
    let ledger = state.wallets.store().clone();
    let mut export = billed(move || {
        Ok(billing
            .export(kind, format, from, to)?
            .with_wallet_ledger(ledger))
    })
    .await?;
    // The first chunk before answering, so an early failure is a proper error.
    let (first, export) = web::block(move || {
        let first = export.next();
        (first, export)
    })
    .await?;
    let first = match first {
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => return Err(e.into()),
        None => Vec::new(),
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, ApiError>>(4);
    tokio::task::spawn_blocking(move || {
        for chunk in export {
            let item = chunk.map(Bytes::from).map_err(ApiError::from);
            let failed = item.is_err();
            if sender.blocking_send(item).is_err() || failed {
                // The client left, or the export broke: stop reading.
                break;
            }
        }
    });
    let rest = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    let body = futures::StreamExt::chain(
        futures::stream::once(async move { Ok::<_, ApiError>(Bytes::from(first)) }),
        rest,
    );
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .streaming(body))
}

/// Issued invoices whose period ends in `[from, to)`, streamed as CSV or
/// JSON lines.
#[utoipa::path(get, path = "/v1/exports/invoices", tag = "billing", params(ExportQuery),
    responses(
        (status = 200, description = "the rows", content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "invalid range or format", body = ErrorEnvelope),
    ))]
pub async fn export_invoices(
    state: web::Data<AppState>,
    ValidQuery(query): ValidQuery<ExportQuery>,
) -> ApiResult<HttpResponse> {
    stream_export(&state, ExportKind::Invoices, query).await
}

/// Usage events dated in `[from, to)`, streamed as CSV or JSON lines.
#[utoipa::path(get, path = "/v1/exports/usage", tag = "billing", params(ExportQuery),
    responses(
        (status = 200, description = "the rows", content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "invalid range or format", body = ErrorEnvelope),
    ))]
pub async fn export_usage(
    state: web::Data<AppState>,
    ValidQuery(query): ValidQuery<ExportQuery>,
) -> ApiResult<HttpResponse> {
    stream_export(&state, ExportKind::Usage, query).await
}

/// Double-entry journal lines of the invoices whose period ends in
/// `[from, to)`, then of the wallet transactions dated in it (top-ups,
/// grants, debits, breakage); every entry balances.
#[utoipa::path(get, path = "/v1/exports/journal", tag = "billing", params(ExportQuery),
    responses(
        (status = 200, description = "the rows", content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "invalid range or format", body = ErrorEnvelope),
    ))]
pub async fn export_journal(
    state: web::Data<AppState>,
    ValidQuery(query): ValidQuery<ExportQuery>,
) -> ApiResult<HttpResponse> {
    stream_export(&state, ExportKind::Journal, query).await
}
