//! Marketplace money: orders of listings (price snapshot, FX lock, margin
//! rule), customers' own resources, margin rules, service-fee contracts,
//! account standing, and the gross-margin report. The rules are
//! `shiyun_billing::market`'s; these handlers extract, call and answer.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shiyun_billing::BillingError;
use shiyun_billing::market::{
    ContractRequest, MarginRow, OrderListing, OrderRequest, OwnResourceRequest, UnitCost,
};
use shiyun_core::billing::market::{
    AccountStanding, ContractId, MarginRuleId, MarginScope, Markup, OrderId, ProvisioningState,
};
use shiyun_core::listing::ListingId;
use shiyun_core::listing::{BillingMode, Listing, PriceComponent};
use shiyun_core::store::StoreResult;
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::validation::{ValidJson, ValidQuery};

/// Runs one marketplace call on a blocking thread (the store is synchronous).
async fn marketed<T, F>(call: F) -> ApiResult<T>
where
    F: FnOnce() -> Result<T, BillingError> + Send + 'static,
    T: Send + 'static,
{
    Ok(web::block(call).await??)
}

fn random_bytes() -> [u8; 16] {
    crate::billing::random_id_bytes()
}

/// The price component an order meters: the on-demand price, else the
/// first flat price the listing has.
fn metered_component(listing: &Listing) -> Option<&PriceComponent> {
    listing
        .prices()
        .iter()
        .find(|p| p.billing_mode() == BillingMode::OnDemand && p.tiers().is_empty())
        .or_else(|| listing.prices().iter().find(|p| p.tiers().is_empty()))
}

/// What an order needs of a catalog listing. The platform's cost is the
/// component's cost where the vendor gave one, else its list price (early
/// on the platform resells at the vendor's price).
pub(crate) fn order_listing(listing: &Listing) -> Result<OrderListing, ApiError> {
    let component = metered_component(listing)
        .ok_or_else(|| ApiError::invalid("listing", "the listing has no flat price to order at"))?;
    let title = listing
        .name()
        .en
        .clone()
        .or_else(|| listing.name().zh.clone())
        .unwrap_or_else(|| listing.id().as_str().to_owned());
    Ok(OrderListing {
        id: listing.id().as_str().to_owned(),
        vendor: listing.vendor().id().to_owned(),
        category: listing.category().as_str().to_owned(),
        title,
        region: Some(listing.region().code.clone()),
        cost: UnitCost {
            unit: serde_json::to_value(component.unit())
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "unit".to_owned()),
            cost: component.cost().unwrap_or_else(|| component.amount()),
            list: Some(component.amount()),
        },
    })
}

// ---------------------------------------------------------------- orders

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// The order, with its price snapshot and provisioning state.
    #[schema(value_type = Object)]
    pub order: shiyun_core::billing::market::Order,
}

/// A tenant's view of an order: the price it pays, never the platform's
/// cost or margin.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyOrderView {
    /// The order.
    #[schema(value_type = Object)]
    pub order: serde_json::Value,
}

/// Drops the platform's cost, FX and margin from an order a tenant reads.
fn customer_view(order: &shiyun_core::billing::market::Order) -> serde_json::Value {
    let mut value = serde_json::to_value(order).unwrap_or(serde_json::Value::Null);
    if let Some(price) = value.get_mut("price").and_then(|p| p.as_object_mut()) {
        for private in [
            "cost",
            "cost_converted",
            "fx_rate",
            "fx_as_of",
            "margin",
            "margin_rule",
        ] {
            price.remove(private);
        }
    }
    value
}

/// Buys a listing for the caller's tenant: the price is quoted and locked
/// (vendor cost, FX rate, margin rule, sale price), and the order becomes a
/// subscription its usage is billed on. Report usage on the order's
/// `meter` with a `quantity` property in the listing's unit. A prepaid
/// order is paid from the wallet as usage arrives. The same idempotency
/// key again answers 200 with the first order.
#[utoipa::path(post, path = "/v1/orders", tag = "market", request_body = OrderRequest,
    responses(
        (status = 201, description = "placed", body = MyOrderView),
        (status = 200, description = "placed before under this key", body = MyOrderView),
        (status = 400, description = "invalid order", body = ErrorEnvelope),
        (status = 404, description = "no such listing", body = ErrorEnvelope),
    ))]
pub async fn create_order(
    state: web::Data<AppState>,
    caller: Caller,
    web::Json(request): web::Json<OrderRequest>,
) -> ApiResult<HttpResponse> {
    let listing_id = ListingId::parse(&request.listing).map_err(|e| e.within("listing"))?;
    let listings = state.listings.clone();
    let found: Option<Listing> =
        web::block(move || -> StoreResult<Option<Listing>> { listings.get_listing(&listing_id) })
            .await??;
    let listing = found.ok_or_else(|| {
        ApiError::new(
            shiyun_core::error::ErrorCode::NotFound,
            format!("listing `{}` not found", request.listing),
        )
        .with_field("listing")
    })?;
    let ordered = order_listing(&listing)?;
    let fx = crate::search::current_fx(&state).await?;
    let market = state.market.clone();
    let customer = caller.0.tenant.as_str().to_owned();
    let timezone = state.settings.billing.default_timezone.clone();
    let outcome = marketed(move || {
        market.place_order(&customer, &timezone, &request, &ordered, &fx, Utc::now())
    })
    .await?;
    let replay = outcome.is_replay();
    let view = MyOrderView {
        order: customer_view(&outcome.into_inner()),
    };
    Ok(if replay {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

/// The caller's tenant's orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyOrderList {
    /// Newest first.
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<serde_json::Value>,
}

/// The caller's tenant's orders, newest first.
#[utoipa::path(get, path = "/v1/orders", tag = "market",
    responses((status = 200, body = MyOrderList)))]
pub async fn list_my_orders(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let customer = caller.0.tenant.as_str().to_owned();
    let orders = marketed(move || market.orders(Some(&customer))).await?;
    Ok(HttpResponse::Ok().json(MyOrderList {
        orders: orders.iter().map(customer_view).collect(),
    }))
}

/// One of the caller's tenant's orders.
#[utoipa::path(get, path = "/v1/orders/{order}", tag = "market",
    params(("order" = OrderId, Path, description = "the order's id")),
    responses(
        (status = 200, body = MyOrderView),
        (status = 400, description = "not an order id", body = ErrorEnvelope),
        (status = 404, description = "no such order for this tenant", body = ErrorEnvelope),
    ))]
pub async fn get_my_order(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = OrderId::parse(&path.into_inner()).map_err(|e| e.within("order"))?;
    let market = state.market.clone();
    let shown = id.clone();
    let order = marketed(move || market.order(&id)).await?;
    if order.customer != caller.0.tenant.as_str() {
        return Err(ApiError::new(
            shiyun_core::error::ErrorCode::NotFound,
            format!("order `{shown}` not found"),
        ));
    }
    Ok(HttpResponse::Ok().json(MyOrderView {
        order: customer_view(&order),
    }))
}

/// Every order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    /// Newest first.
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<shiyun_core::billing::market::Order>,
}

/// Every customer's orders with their full price snapshots (operators).
#[utoipa::path(get, path = "/v1/billing/orders", tag = "market",
    responses((status = 200, body = OrderList)))]
pub async fn list_orders(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let orders = marketed(move || market.orders(None)).await?;
    Ok(HttpResponse::Ok().json(OrderList { orders }))
}

/// Body of `POST /v1/billing/orders/{order}/provisioning`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningBody {
    /// The new state: `active`, `failed` or `cancelled`.
    pub state: ProvisioningState,
}

/// Moves an order's provisioning state (operators): `pending` → `active`,
/// `failed` or `cancelled`; `active` → `cancelled`. Failing or cancelling
/// ends its subscription today.
#[utoipa::path(post, path = "/v1/billing/orders/{order}/provisioning", tag = "market",
    params(("order" = OrderId, Path, description = "the order's id")),
    request_body = ProvisioningBody,
    responses(
        (status = 200, body = OrderView),
        (status = 400, description = "not an order id, or not a state", body = ErrorEnvelope),
        (status = 404, description = "no such order", body = ErrorEnvelope),
        (status = 409, description = "not a move the order can make", body = ErrorEnvelope),
    ))]
pub async fn set_provisioning(
    state: web::Data<AppState>,
    path: web::Path<String>,
    ValidJson(body): ValidJson<ProvisioningBody>,
) -> ApiResult<HttpResponse> {
    let id = OrderId::parse(&path.into_inner()).map_err(|e| e.within("order"))?;
    let market = state.market.clone();
    let order = marketed(move || market.set_provisioning(&id, body.state, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(OrderView { order }))
}

// ---------------------------------------------------------------- own resources

/// A resource the customer brought.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnResourceView {
    /// The resource and the meter its usage is reported on.
    #[schema(value_type = Object)]
    pub resource: shiyun_core::billing::market::OwnResource,
}

/// Registers a resource the caller's tenant bought elsewhere. The platform
/// manages and meters it (report usage on its `meter`), never resells it:
/// it carries no resale margin. The same vendor and vendor resource id
/// again answers 200 with the first registration.
#[utoipa::path(post, path = "/v1/resources", tag = "market", request_body = OwnResourceRequest,
    responses(
        (status = 201, description = "registered", body = OwnResourceView),
        (status = 200, description = "registered before", body = OwnResourceView),
        (status = 400, description = "invalid resource", body = ErrorEnvelope),
    ))]
pub async fn register_resource(
    state: web::Data<AppState>,
    caller: Caller,
    web::Json(request): web::Json<OwnResourceRequest>,
) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let customer = caller.0.tenant.as_str().to_owned();
    let timezone = state.settings.billing.default_timezone.clone();
    let outcome =
        marketed(move || market.register_resource(&customer, &timezone, &request, Utc::now()))
            .await?;
    let replay = outcome.is_replay();
    let view = OwnResourceView {
        resource: outcome.into_inner(),
    };
    Ok(if replay {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

/// The caller's tenant's own resources.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnResourceList {
    /// Oldest first.
    #[schema(value_type = Vec<Object>)]
    pub resources: Vec<shiyun_core::billing::market::OwnResource>,
}

/// The caller's tenant's own resources.
#[utoipa::path(get, path = "/v1/resources", tag = "market",
    responses((status = 200, body = OwnResourceList)))]
pub async fn list_resources(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let customer = caller.0.tenant.as_str().to_owned();
    let resources = marketed(move || market.own_resources(&customer)).await?;
    Ok(HttpResponse::Ok().json(OwnResourceList { resources }))
}

// ---------------------------------------------------------------- margin rules

/// Body of `POST /v1/billing/margin-rules`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct MarginRuleBody {
    /// What it applies to (every field optional; none: everything).
    #[serde(default)]
    pub scope: MarginScope,
    /// The markup: `{"type":"percent","percent":"12.5"}` or
    /// `{"type":"fixed_per_unit","amount":{"amount":"0.01","currency":"CNY"}}`.
    pub markup: Markup,
}

/// A margin rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarginRuleView {
    /// The rule.
    #[schema(value_type = Object)]
    pub rule: shiyun_core::billing::market::MarginRule,
}

/// Every margin rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarginRuleList {
    /// Oldest first, retired ones included.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<shiyun_core::billing::market::MarginRule>,
}

/// Adds a cost-plus margin rule (operators). The most specific matching
/// rule prices an order (customer, then listing, then category, then
/// vendor); the minimum margin always holds.
#[utoipa::path(post, path = "/v1/billing/margin-rules", tag = "market",
    request_body = MarginRuleBody,
    responses(
        (status = 201, body = MarginRuleView),
        (status = 400, description = "invalid rule", body = ErrorEnvelope),
    ))]
pub async fn create_margin_rule(
    state: web::Data<AppState>,
    ValidJson(body): ValidJson<MarginRuleBody>,
) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let rule = marketed(move || {
        market.add_margin_rule(
            MarginRuleId::from_random(random_bytes()),
            body.scope,
            body.markup,
            Utc::now(),
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(MarginRuleView { rule }))
}

/// Every margin rule (operators).
#[utoipa::path(get, path = "/v1/billing/margin-rules", tag = "market",
    responses((status = 200, body = MarginRuleList)))]
pub async fn list_margin_rules(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let rules = marketed(move || market.margin_rules()).await?;
    Ok(HttpResponse::Ok().json(MarginRuleList { rules }))
}

/// Retires a margin rule (operators): orders placed under it keep it.
#[utoipa::path(post, path = "/v1/billing/margin-rules/{rule}/retire", tag = "market",
    params(("rule" = MarginRuleId, Path, description = "the rule's id")),
    responses(
        (status = 200, body = MarginRuleView),
        (status = 400, description = "not a rule id", body = ErrorEnvelope),
        (status = 404, description = "no such rule", body = ErrorEnvelope),
    ))]
pub async fn retire_margin_rule(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = MarginRuleId::parse(&path.into_inner()).map_err(|e| e.within("rule"))?;
    let market = state.market.clone();
    let rule = marketed(move || market.retire_margin_rule(&id, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(MarginRuleView { rule }))
}

// ---------------------------------------------------------------- contracts

/// A service-fee contract.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractView {
    /// The contract; `subscription` is set once charging has started.
    #[schema(value_type = Object)]
    pub contract: shiyun_core::billing::market::ServiceContract,
}

/// Contracts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractList {
    /// Oldest first.
    #[schema(value_type = Vec<Object>)]
    pub contracts: Vec<shiyun_core::billing::market::ServiceContract>,
}

/// Enters a service-fee contract (operators): monthly or yearly, prepaid by
/// default. One waived until stable charges nothing until the account is
/// marked stable, then from the next period on. Its fees are invoiced by
/// the bill run like any subscription.
#[utoipa::path(post, path = "/v1/billing/contracts", tag = "market",
    request_body = ContractRequest,
    responses(
        (status = 201, body = ContractView),
        (status = 400, description = "invalid contract", body = ErrorEnvelope),
        (status = 404, description = "no such customer", body = ErrorEnvelope),
    ))]
pub async fn create_contract(
    state: web::Data<AppState>,
    web::Json(request): web::Json<ContractRequest>,
) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let contract = marketed(move || {
        market.create_contract(
            ContractId::from_random(random_bytes()),
            &request,
            Utc::now(),
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(ContractView { contract }))
}

/// Every contract (operators).
#[utoipa::path(get, path = "/v1/billing/contracts", tag = "market",
    responses((status = 200, body = ContractList)))]
pub async fn list_contracts(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let contracts = marketed(move || market.contracts(None)).await?;
    Ok(HttpResponse::Ok().json(ContractList { contracts }))
}

/// The caller's tenant's contracts.
#[utoipa::path(get, path = "/v1/contracts", tag = "market",
    responses((status = 200, body = ContractList)))]
pub async fn list_my_contracts(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let customer = caller.0.tenant.as_str().to_owned();
    let contracts = marketed(move || market.contracts(Some(&customer))).await?;
    Ok(HttpResponse::Ok().json(ContractList { contracts }))
}

// ---------------------------------------------------------------- standing

/// An account's standing and the contracts that started charging.
#[derive(Debug, Serialize, ToSchema)]
pub struct StandingView {
    /// Stable and overdue marks.
    pub standing: AccountStanding,
    /// Contracts whose charging this call started.
    #[schema(value_type = Vec<Object>)]
    pub started: Vec<shiyun_core::billing::market::ServiceContract>,
}

/// Marks a customer's applications migrated and stable (operators):
/// contracts waived until stable charge from their next period on.
#[utoipa::path(post, path = "/v1/billing/customers/{customer}/stable", tag = "market",
    params(("customer" = String, Path, description = "the customer's external id")),
    responses(
        (status = 200, body = StandingView),
        (status = 404, description = "no such customer", body = ErrorEnvelope),
    ))]
pub async fn mark_customer_stable(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let customer = path.into_inner();
    let (standing, started) = marketed(move || market.mark_stable(&customer, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(StandingView { standing, started }))
}

/// Marks the caller's tenant's applications migrated and stable: contracts
/// waived until stable charge from their next period on.
#[utoipa::path(post, path = "/v1/standing/stable", tag = "market",
    responses(
        (status = 200, body = StandingView),
        (status = 404, description = "the tenant is not a billing customer yet", body = ErrorEnvelope),
    ))]
pub async fn mark_me_stable(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let customer = caller.0.tenant.as_str().to_owned();
    let (standing, started) = marketed(move || market.mark_stable(&customer, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(StandingView { standing, started }))
}

/// The caller's tenant's standing.
#[utoipa::path(get, path = "/v1/standing", tag = "market",
    responses((status = 200, body = AccountStanding)))]
pub async fn get_my_standing(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let market = state.market.clone();
    let customer = caller.0.tenant.as_str().to_owned();
    let standing = marketed(move || market.standing(&customer)).await?;
    Ok(HttpResponse::Ok().json(standing))
}

// ---------------------------------------------------------------- margin report

/// Query of `GET /v1/reports/margin`.
#[derive(Debug, Deserialize, ToSchema, Validate, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MarginQuery {
    /// Invoices whose period ends at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Invoices whose period ends before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// `json` (the default) or `csv`.
    #[validate(length(min = 1, max = 8))]
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// Gross margin by vendor and category.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarginReport {
    /// One row per vendor, category and currency.
    pub rows: Vec<MarginRow>,
}

/// Gross margin by vendor and category over issued invoices (operators):
/// cost, margin and sale as their invoice lines show them.
#[utoipa::path(get, path = "/v1/reports/margin", tag = "market", params(MarginQuery),
    responses(
        (status = 200, description = "JSON, or CSV with `format=csv`",
            content((MarginReport = "application/json"), (String = "text/csv"))),
        (status = 400, description = "invalid query", body = ErrorEnvelope),
    ))]
pub async fn margin_report(
    state: web::Data<AppState>,
    ValidQuery(query): ValidQuery<MarginQuery>,
) -> ApiResult<HttpResponse> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "must be `json` or `csv`")),
    };
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(ApiError::invalid("to", "must not be before `from`"));
    }
    let market = state.market.clone();
    let rows = marketed(move || market.margin_report(query.from, query.to)).await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(MarginReport { rows }));
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "vendor",
        "category",
        "currency",
        "lines",
        "quantity",
        "cost",
        "margin",
        "sale",
        "margin_percent",
    ];
    let failed = |e: csv::Error| {
        ApiError::new(
            shiyun_core::error::ErrorCode::Internal,
            format!("margin CSV: {e}"),
        )
    };
    writer.write_record(header).map_err(failed)?;
    for row in &rows {
        writer
            .write_record([
                row.vendor.clone(),
                row.category.clone(),
                row.currency.code().to_owned(),
                row.lines.to_string(),
                row.quantity.to_string(),
                row.cost.to_string(),
                row.margin.to_string(),
                row.sale.to_string(),
                row.margin_percent
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ])
            .map_err(failed)?;
    }
    let body = writer.into_inner().map_err(|e| {
        ApiError::new(
            shiyun_core::error::ErrorCode::Internal,
            format!("margin CSV: {e}"),
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .body(body))
}
