//! Prepaid wallets of the marketplace's customers (each tenant, `acc_…` or
//! `ent_…`, under its own id). A tenant reads its wallets and ledger and
//! sets its low-balance threshold and automatic top-up; the floor (an
//! allowed overdraft) is the operator's, as are credits and debits. The
//! rules are `shiyun-billing`'s wallets; these handlers extract, call and
//! answer. A debit that takes a wallet below its owner's threshold mails
//! the tenant through the user centre's outbox.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shiyun_billing::BillingError;
use shiyun_billing::wallet::{CreditRequest, DebitReport, DebitRequest};
use shiyun_core::billing::SubscriptionId;
use shiyun_core::billing::wallet::{
    AutoTopUp, CreditKind, LedgerKind, LedgerPosting, Wallet, WalletSettings,
};
use shiyun_core::money::{Currency, Money, parse_plain_decimal};
use shiyun_core::tenancy::Tenant;
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::validation::{ValidJson, ValidQuery};

/// Runs one wallet call on a blocking thread (the store is synchronous).
async fn walleted<T, F>(call: F) -> ApiResult<T>
where
    F: FnOnce() -> Result<T, BillingError> + Send + 'static,
    T: Send + 'static,
{
    Ok(web::block(call).await??)
}

fn currency(code: &str) -> Result<Currency, ApiError> {
    Currency::parse(code)
        .map_err(|_| ApiError::invalid("currency", format!("`{code}` is not a known currency")))
}

fn decimal(field: &str, text: &str) -> Result<Decimal, ApiError> {
    parse_plain_decimal(text)
        .map_err(|_| ApiError::invalid(field, "must be a plain decimal string"))
}

// ---------------------------------------------------------------- views

/// A prepaid wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletView {
    /// The customer (tenant id).
    pub customer: String,
    /// Its currency.
    pub currency: String,
    /// The balance: the sum of the wallet's ledger postings.
    #[schema(value_type = Object)]
    pub balance: Money,
    /// Floor, low-balance threshold and automatic top-up.
    pub settings: WalletSettings,
    /// When an automatic top-up last fired.
    pub last_auto_top_up_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// When the balance or settings last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Wallet> for WalletView {
    fn from(w: Wallet) -> Self {
        WalletView {
            customer: w.customer,
            currency: w.currency.to_string(),
            balance: w.balance,
            settings: w.settings,
            last_auto_top_up_at: w.last_auto_top_up_at,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// Every wallet of a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletList {
    /// By currency.
    pub wallets: Vec<WalletView>,
}

/// One ledger posting.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostingView {
    /// Order of writing.
    pub seq: i64,
    /// The transaction (its postings sum to zero).
    pub transaction: String,
    /// The transaction's idempotency key.
    pub key: String,
    /// What the transaction was.
    pub kind: LedgerKind,
    /// `wallet`, `cash`, `promotions`, `prepaid_applied` or `breakage`.
    pub account: String,
    /// Signed amount.
    #[schema(value_type = Object)]
    pub amount: Money,
    /// The credit touched.
    pub credit: Option<String>,
    /// The subscription a debit paid for.
    pub subscription: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<LedgerPosting> for PostingView {
    fn from(p: LedgerPosting) -> Self {
        PostingView {
            seq: p.seq,
            transaction: p.transaction.to_string(),
            key: p.key,
            kind: p.kind,
            account: p.account,
            amount: p.amount,
            credit: p.credit.map(|c| c.to_string()),
            subscription: p.subscription.map(|s| s.to_string()),
            at: p.at,
        }
    }
}

/// A page of ledger postings.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerPage {
    /// In order of writing.
    pub postings: Vec<PostingView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Query of `GET /v1/wallets/{currency}/ledger`.
#[derive(Debug, Deserialize, ToSchema, Validate, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// The previous page's `next_cursor`.
    #[validate(length(min = 1, max = 20))]
    #[param(min_length = 1, max_length = 20)]
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

// ---------------------------------------------------------------- a tenant's own

/// The caller's tenant's wallets.
#[utoipa::path(get, path = "/v1/wallets", tag = "wallets",
    responses((status = 200, body = WalletList)))]
pub async fn list_my_wallets(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let wallets = state.wallets.clone();
    let own = caller.0.tenant.as_str().to_owned();
    let list = walleted(move || wallets.wallets_of(&own)).await?;
    Ok(HttpResponse::Ok().json(WalletList {
        wallets: list.into_iter().map(WalletView::from).collect(),
    }))
}

/// The ledger of the caller's tenant's wallet in one currency, in order of
/// writing.
#[utoipa::path(get, path = "/v1/wallets/{currency}/ledger", tag = "wallets",
    params(("currency" = String, Path, description = "ISO 4217 code"), LedgerQuery),
    responses(
        (status = 200, body = LedgerPage),
        (status = 400, description = "unknown currency or invalid query", body = ErrorEnvelope),
    ))]
pub async fn list_my_ledger(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidQuery(query): ValidQuery<LedgerQuery>,
) -> ApiResult<HttpResponse> {
    let currency = currency(&path)?;
    let limit = query.limit.unwrap_or(50);
    let after = match &query.cursor {
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|c| *c >= 0)
            .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this list gave"))?,
        None => 0,
    };
    let wallets = state.wallets.clone();
    let own = caller.0.tenant.as_str().to_owned();
    // The ledger is per customer; a page is filled from its postings in
    // this currency, reading on while other currencies fill the store's pages.
    let (postings, next) = walleted(move || {
        let mut found = Vec::new();
        let mut after = after;
        loop {
            let page = wallets.ledger(Some(&own), after, 500)?;
            let full = page.len() == 500;
            for p in page {
                after = p.seq;
                if p.amount.currency() == currency {
                    found.push(p);
                    if found.len() > limit as usize {
                        return Ok((found, true));
                    }
                }
            }
            if !full {
                return Ok((found, false));
            }
        }
    })
    .await?;
    let mut postings = postings;
    let next_cursor = if next {
        postings.truncate(limit as usize);
        postings.last().map(|p| p.seq.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(LedgerPage {
        postings: postings.into_iter().map(PostingView::from).collect(),
        next_cursor,
    }))
}

/// Body of `PUT /v1/wallets/{currency}/settings`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct MySettingsBody {
    /// Mail me when a debit takes the balance below this (decimal string;
    /// absent: never).
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,6})?$")]
    pub low_balance_threshold: Option<String>,
    /// Automatic top-up (absent: off).
    pub auto_top_up: Option<AutoTopUp>,
}

/// Sets the caller's tenant's low-balance threshold and automatic top-up
/// for one currency (creating the wallet). The floor stays as the
/// operator set it.
#[utoipa::path(put, path = "/v1/wallets/{currency}/settings", tag = "wallets",
    params(("currency" = String, Path, description = "ISO 4217 code")),
    request_body = MySettingsBody,
    responses(
        (status = 200, body = WalletView),
        (status = 400, description = "invalid settings", body = ErrorEnvelope),
        (status = 404, description = "the tenant is not a billing customer", body = ErrorEnvelope),
    ))]
pub async fn put_my_wallet_settings(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidJson(body): ValidJson<MySettingsBody>,
) -> ApiResult<HttpResponse> {
    let currency = currency(&path)?;
    let threshold = body
        .low_balance_threshold
        .as_deref()
        .map(|t| decimal("low_balance_threshold", t))
        .transpose()?;
    let wallets = state.wallets.clone();
    let own = caller.0.tenant.as_str().to_owned();
    let wallet = walleted(move || {
        let floor = wallets
            .wallet(&own, currency)?
            .map_or(Decimal::ZERO, |w| w.settings.floor);
        let settings = WalletSettings {
            floor,
            low_balance_threshold: threshold,
            auto_top_up: body.auto_top_up,
        };
        wallets.settings(&own, currency, &settings, Utc::now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(WalletView::from(wallet)))
}

// ---------------------------------------------------------------- operators

/// Path of a customer's wallet.
type WalletPath = web::Path<(String, String)>;

/// Body of `PUT /v1/billing/customers/{customer}/wallets/{currency}/settings`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// The lowest balance a debit may leave: `"0"`, or a negative overdraft.
    #[schema(pattern = "^-?[0-9]{1,12}(\\.[0-9]{1,6})?$")]
    pub floor: String,
    /// Mail the customer when a debit takes the balance below this.
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,6})?$")]
    pub low_balance_threshold: Option<String>,
    /// Automatic top-up (absent: off).
    pub auto_top_up: Option<AutoTopUp>,
}

/// Sets every setting of a customer's wallet, the floor (an allowed
/// overdraft) included (creating the wallet).
#[utoipa::path(put, path = "/v1/billing/customers/{customer}/wallets/{currency}/settings", tag = "wallets",
    params(("customer" = String, Path, description = "the customer's external id"),
           ("currency" = String, Path, description = "ISO 4217 code")),
    request_body = SettingsBody,
    responses(
        (status = 200, body = WalletView),
        (status = 400, description = "invalid settings", body = ErrorEnvelope),
        (status = 404, description = "no such customer", body = ErrorEnvelope),
    ))]
pub async fn put_wallet_settings(
    state: web::Data<AppState>,
    path: WalletPath,
    ValidJson(body): ValidJson<SettingsBody>,
) -> ApiResult<HttpResponse> {
    let (customer, code) = path.into_inner();
    let currency = currency(&code)?;
    let settings = WalletSettings {
        floor: decimal("floor", &body.floor)?,
        low_balance_threshold: body
            .low_balance_threshold
            .as_deref()
            .map(|t| decimal("low_balance_threshold", t))
            .transpose()?,
        auto_top_up: body.auto_top_up,
    };
    let wallets = state.wallets.clone();
    let wallet =
        walleted(move || wallets.settings(&customer, currency, &settings, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(WalletView::from(wallet)))
}

/// Body of `POST /v1/billing/customers/{customer}/wallets/{currency}/credits`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreditBody {
    /// `top_up` (paid) or `grant` (promotional).
    pub kind: CreditKind,
    /// Amount in the path's currency (decimal string).
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,6})?$")]
    pub amount: String,
    /// Lower is used first (default: top-ups 100, grants 0).
    pub priority: Option<i32>,
    /// When the unused remainder expires (it becomes breakage).
    pub expires_at: Option<DateTime<Utc>>,
    /// Idempotency key: the same request again answers 200.
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub key: String,
    /// The payment behind a top-up.
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub reference: Option<String>,
}

/// Credits a customer's wallet: a paid top-up or a promotional grant
/// (creating the wallet). A credit first repays any overdraft.
#[utoipa::path(post, path = "/v1/billing/customers/{customer}/wallets/{currency}/credits", tag = "wallets",
    params(("customer" = String, Path, description = "the customer's external id"),
           ("currency" = String, Path, description = "ISO 4217 code")),
    request_body = CreditBody,
    responses(
        (status = 201, description = "credited", body = WalletView),
        (status = 200, description = "credited before under this key, alike", body = WalletView),
        (status = 400, description = "invalid credit", body = ErrorEnvelope),
        (status = 404, description = "no such customer", body = ErrorEnvelope),
        (status = 422, description = "the key was used for another request (`idempotency_conflict`)", body = ErrorEnvelope),
    ))]
pub async fn credit_wallet(
    state: web::Data<AppState>,
    path: WalletPath,
    ValidJson(body): ValidJson<CreditBody>,
) -> ApiResult<HttpResponse> {
    let (customer, code) = path.into_inner();
    let currency = currency(&code)?;
    let request = CreditRequest {
        kind: body.kind,
        amount: Money::new(decimal("amount", &body.amount)?, currency),
        priority: body.priority,
        expires_at: body.expires_at,
        key: body.key,
        reference: body.reference,
    };
    let wallets = state.wallets.clone();
    let market = state.market.clone();
    let outcome = walleted(move || {
        let now = Utc::now();
        let outcome = wallets.credit(&customer, &request, now)?;
        // A top-up resumes the orders that were suspended at the floor.
        market.resume_funded(&customer, now)?;
        Ok(outcome)
    })
    .await?;
    let replay = outcome.is_replay();
    let view = WalletView::from(outcome.into_inner());
    Ok(if replay {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

/// Body of `POST /v1/billing/customers/{customer}/wallets/{currency}/debits`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct DebitBody {
    /// Amount in the path's currency (decimal string).
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,6})?$")]
    pub amount: String,
    /// Idempotency key (a usage event's): the same request again answers 200.
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub key: String,
    /// The subscription the usage belongs to.
    #[schema(value_type = Option<String>)]
    pub subscription: Option<SubscriptionId>,
    /// Human text.
    #[validate(length(max = 255))]
    #[schema(max_length = 255)]
    pub description: Option<String>,
}

/// One credit a debit drew from.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrawView {
    /// The credit.
    pub credit: String,
    /// How much (decimal string).
    pub amount: String,
}

/// What a debit did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DebitView {
    /// The ledger transaction.
    pub transaction: String,
    /// The balance before.
    #[schema(value_type = Object)]
    pub balance_before: Money,
    /// The balance after.
    #[schema(value_type = Object)]
    pub balance_after: Money,
    /// The credits drawn, in the order used (beyond them: the overdraft).
    pub drawn: Vec<DrawView>,
    /// The same request was taken before; nothing changed now.
    pub replayed: bool,
    /// This debit crossed the owner's low-balance threshold (they are mailed).
    pub low_balance: bool,
    /// A threshold automatic top-up this debit triggered.
    #[schema(value_type = Option<Object>)]
    pub auto_top_up: Option<Money>,
}

impl From<&DebitReport> for DebitView {
    fn from(r: &DebitReport) -> Self {
        DebitView {
            transaction: r.debited.transaction.to_string(),
            balance_before: r.debited.balance_before,
            balance_after: r.debited.balance_after,
            drawn: r
                .debited
                .drawn
                .iter()
                .map(|(credit, amount)| DrawView {
                    credit: credit.to_string(),
                    amount: amount.normalize().to_string(),
                })
                .collect(),
            replayed: r.replayed,
            low_balance: r.low_balance,
            auto_top_up: r.auto_top_up,
        }
    }
}

/// Debits a customer's wallet: usage paid as it arrives. Refused with 402
/// `insufficient_balance` when the balance would cross the wallet's floor
/// (a customer with no wallet has nothing to spend). A debit that takes the
/// balance below the owner's low-balance threshold mails the tenant.
#[utoipa::path(post, path = "/v1/billing/customers/{customer}/wallets/{currency}/debits", tag = "wallets",
    params(("customer" = String, Path, description = "the customer's external id"),
           ("currency" = String, Path, description = "ISO 4217 code")),
    request_body = DebitBody,
    responses(
        (status = 201, description = "debited", body = DebitView),
        (status = 200, description = "debited before under this key, alike", body = DebitView),
        (status = 400, description = "invalid debit", body = ErrorEnvelope),
        (status = 402, description = "the balance would cross the floor (`insufficient_balance`)", body = ErrorEnvelope),
        (status = 422, description = "the key was used for another request (`idempotency_conflict`)", body = ErrorEnvelope),
    ))]
pub async fn debit_wallet(
    state: web::Data<AppState>,
    path: WalletPath,
    ValidJson(body): ValidJson<DebitBody>,
) -> ApiResult<HttpResponse> {
    let (customer, code) = path.into_inner();
    let currency = currency(&code)?;
    let request = DebitRequest {
        amount: Money::new(decimal("amount", &body.amount)?, currency),
        key: body.key,
        subscription: body.subscription,
        description: body.description.unwrap_or_default(),
    };
    let wallets = state.wallets.clone();
    let report = walleted(move || wallets.debit(&customer, &request, Utc::now())).await?;
    if report.low_balance
        && let Some(threshold) = report.wallet.settings.low_balance_threshold
    {
        notify_low_balance(
            &state,
            &report.wallet.customer,
            report.debited.balance_after,
            threshold,
        )
        .await;
    }
    if let Some(amount) = report.auto_top_up {
        // No payment provider is plugged in yet: the answer says it is due.
        tracing::info!(customer = %report.wallet.customer, %amount, "automatic top-up due");
    }
    let view = DebitView::from(&report);
    Ok(if report.replayed {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}

/// Mails a wallet's tenant that a debit took its balance below the
/// threshold; a failure is logged, the debit stands.
pub(crate) async fn notify_low_balance(
    state: &AppState,
    customer: &str,
    balance: Money,
    threshold: Decimal,
) {
    let Ok(tenant) = Tenant::parse(customer) else {
        // A customer that is not a tenant has no one to mail.
        return;
    };
    let users = state.users.clone();
    let currency = balance.currency().to_string();
    let amount = balance.amount().to_string();
    let threshold = threshold.normalize().to_string();
    let sent =
        web::block(move || users.notify_low_balance(&tenant, &currency, &amount, &threshold)).await;
    match sent {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            tracing::info!(%customer, "low balance: no confirmed contact to mail");
        }
        Ok(Err(error)) => {
            tracing::warn!(%customer, %error, "low-balance notice not sent");
        }
        Err(error) => {
            tracing::warn!(%customer, %error, "low-balance notice not sent");
        }
    }
}
