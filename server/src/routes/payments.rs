//! Payments: Stripe's webhook, a tenant paying its own invoice or topping
//! up its wallet, and an operator refunding a paid invoice. The rules are
//! `shiyun-payments`'s; these handlers extract, call and answer.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use shiyun_core::Money;
use shiyun_core::billing::payments::{AttemptStatus, PaymentAttempt, PaymentPurpose};
use shiyun_core::billing::{CreditNoteId, InvoiceId};
use shiyun_core::money::{Currency, parse_plain_decimal};
use shiyun_payments::{
    PaymentError, ProviderStatus, RefundInput, RefundOutcome, StartedPayment, WebhookOutcome,
};
use utoipa::ToSchema;
use validator::Validate;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorEnvelope};
use crate::validation::ValidJson;

impl From<PaymentError> for ApiError {
    fn from(err: PaymentError) -> Self {
        ApiError::from_coded(&err)
    }
}

// ---------------------------------------------------------------- webhook

/// The answer to a webhook delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// Always true: the delivery was taken.
    pub received: bool,
    /// `processed`, `already_processed` (a redelivery: nothing changed) or
    /// `ignored` (not about a payment of ours).
    #[schema(value_type = String)]
    pub outcome: WebhookOutcome,
}

/// Stripe's webhook endpoint. The `Stripe-Signature` header must sign the
/// raw body with the endpoint's secret, at most the configured tolerance
/// from now; else 400 (and the refusal is logged). Each event is applied
/// once: a redelivery answers 200 and changes nothing.
#[utoipa::path(post, path = "/v1/webhooks/stripe", tag = "billing",
    request_body(content = Object, content_type = "application/json", description = "a Stripe event, as Stripe sends it"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`")),
    responses(
        (status = 200, description = "processed now or before", body = WebhookReceipt),
        (status = 400, description = "a bad or stale signature, or not an event", body = ErrorEnvelope),
        (status = 404, description = "stripe is not this server's payment provider", body = ErrorEnvelope),
        (status = 503, description = "a store is unavailable", body = ErrorEnvelope),
    ))]
pub async fn receive_stripe_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let signature = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    if signature.is_none() {
        tracing::warn!(reason = "missing", "stripe webhook refused");
        return Err(ApiError::invalid(
            "stripe-signature",
            "the Stripe-Signature header is required",
        ));
    }
    match state
        .payments
        .stripe_webhook(signature, &body, Utc::now())
        .await
    {
        Ok(outcome) => Ok(HttpResponse::Ok().json(WebhookReceipt {
            received: true,
            outcome,
        })),
        Err(PaymentError::Signature(error)) => {
            tracing::warn!(reason = error.reason(), %error, "stripe webhook refused");
            Err(PaymentError::Signature(error).into())
        }
        // Without Stripe as the provider there is no webhook endpoint.
        Err(PaymentError::NotConfigured(message)) => Err(ApiError::new(
            shiyun_core::error::ErrorCode::NotFound,
            message,
        )),
        Err(error) => Err(error.into()),
    }
}

// ---------------------------------------------------------------- payments

/// A payment attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// Its id.
    pub id: String,
    /// What it pays for.
    pub purpose: PaymentPurpose,
    /// Amount and currency.
    #[schema(value_type = Object)]
    pub amount: Money,
    /// The provider (`stripe`, `manual`).
    pub provider: String,
    /// The provider's id of the payment (`pi_…`).
    pub provider_reference: String,
    /// Where it stands.
    pub status: AttemptStatus,
    /// Dunning retries made.
    pub retries: u32,
    /// When the next retry is due.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// When started.
    pub created_at: DateTime<Utc>,
}

impl From<PaymentAttempt> for AttemptView {
    fn from(a: PaymentAttempt) -> Self {
        AttemptView {
            id: a.id.to_string(),
            purpose: a.purpose,
            amount: a.amount,
            provider: a.provider,
            provider_reference: a.provider_reference,
            status: a.status,
            retries: a.retries,
            next_retry_at: a.next_retry_at,
            created_at: a.created_at,
        }
    }
}

/// A payment to complete.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// The attempt.
    pub attempt: AttemptView,
    /// Where the provider's payment stands: `requires_action` (the customer
    /// confirms it, with `client_secret` and Stripe.js), `processing`,
    /// `succeeded`, `failed`, `canceled`.
    pub provider_status: String,
    /// What Stripe.js confirms the payment with; only for the paying
    /// customer, never logged. None for a bank transfer or once paid.
    pub client_secret: Option<String>,
}

fn provider_status(status: ProviderStatus) -> &'static str {
    match status {
        ProviderStatus::RequiresAction => "requires_action",
        ProviderStatus::Processing => "processing",
        ProviderStatus::Succeeded => "succeeded",
        ProviderStatus::Failed => "failed",
        ProviderStatus::Canceled => "canceled",
    }
}

impl From<StartedPayment> for PaymentView {
    fn from(p: StartedPayment) -> Self {
        PaymentView {
            attempt: p.attempt.into(),
            provider_status: provider_status(p.status).to_owned(),
            client_secret: p.client_secret.map(|s| s.expose_secret().to_owned()),
        }
    }
}

/// Starts paying one of the caller's tenant's finalised invoices through
/// the provider. Again while unpaid, it answers the same payment (with its
/// client secret), never a second one.
#[utoipa::path(post, path = "/v1/invoices/{invoice}/payments", tag = "billing",
    params(("invoice" = InvoiceId, Path, description = "invoice id")),
    responses(
        (status = 200, description = "the payment to complete", body = PaymentView),
        (status = 400, description = "not an invoice id", body = ErrorEnvelope),
        (status = 404, description = "no such invoice of the caller's", body = ErrorEnvelope),
        (status = 409, description = "paid, voided, or nothing to pay; or the provider refused", body = ErrorEnvelope),
        (status = 503, description = "the provider is unavailable", body = ErrorEnvelope),
    ))]
pub async fn pay_invoice(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let invoice = InvoiceId::parse(&path)?;
    let tenant = caller.0.tenant.as_str().to_owned();
    let started = state
        .payments
        .pay_invoice(&tenant, &invoice, Utc::now())
        .await?;
    Ok(HttpResponse::Ok().json(PaymentView::from(started)))
}

/// Body of `POST /v1/wallets/{currency}/top-ups`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct TopUpBody {
    /// Amount in the wallet's currency (`"100.00"`), positive, at most the
    /// currency's decimal places.
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,3})?$")]
    pub amount: String,
    /// The caller's key: the same key again answers the same payment.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub idempotency_key: String,
}

/// Starts a top-up of the caller's tenant's wallet in `currency`. Once the
/// provider reports it paid, the wallet is credited once.
#[utoipa::path(post, path = "/v1/wallets/{currency}/top-ups", tag = "billing",
    params(("currency" = String, Path, description = "ISO 4217 code (`CNY`)")),
    request_body = TopUpBody,
    responses(
        (status = 200, description = "the payment to complete", body = PaymentView),
        (status = 400, description = "invalid currency or amount", body = ErrorEnvelope),
        (status = 404, description = "the tenant is not a billing customer", body = ErrorEnvelope),
        (status = 422, description = "the key was used with another amount", body = ErrorEnvelope),
        (status = 503, description = "the provider or wallets are unavailable", body = ErrorEnvelope),
    ))]
pub async fn top_up_wallet(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    ValidJson(body): ValidJson<TopUpBody>,
) -> ApiResult<HttpResponse> {
    let currency = Currency::parse(&path)?;
    let amount = parse_plain_decimal(&body.amount)
        .map_err(|_| ApiError::invalid("amount", "must be a plain decimal string"))?;
    let tenant = caller.0.tenant.as_str().to_owned();
    let started = state
        .payments
        .top_up(
            &tenant,
            Money::new(amount, currency),
            &body.idempotency_key,
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(PaymentView::from(started)))
}

// ---------------------------------------------------------------- refunds

/// Body of `POST /v1/billing/invoices/{invoice}/refunds`: an amount and a
/// reason (a new credit note), or a credit note issued before (to repeat
/// a refund the provider did not make).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// Amount refunded, in the invoice's currency (`"12.50"`).
    #[schema(pattern = "^[0-9]{1,12}(\\.[0-9]{1,3})?$")]
    pub amount: Option<String>,
    /// Why (the credit note's reason).
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
    /// A credit note of the invoice to refund instead.
    #[schema(value_type = Option<String>)]
    pub credit_note: Option<String>,
}

/// A refund made.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    /// The credit note it pays out.
    #[schema(value_type = Object)]
    pub credit_note: shiyun_core::billing::CreditNote,
    /// The provider's refund; null when the invoice was paid outside the
    /// provider (finance transfers the money back).
    #[schema(value_type = Option<Object>)]
    pub refund: Option<shiyun_core::billing::payments::PaymentRefund>,
}

impl From<RefundOutcome> for RefundView {
    fn from(r: RefundOutcome) -> Self {
        RefundView {
            credit_note: r.credit_note,
            refund: r.refund,
        }
    }
}

/// Refunds (part of) a paid invoice: a credit note documents it and the
/// provider pays it back, keyed by the credit note's id.
#[utoipa::path(post, path = "/v1/billing/invoices/{invoice}/refunds", tag = "billing",
    params(("invoice" = InvoiceId, Path, description = "invoice id")),
    request_body = RefundBody,
    responses(
        (status = 201, description = "refunded", body = RefundView),
        (status = 400, description = "invalid amount, or neither an amount and reason nor a credit note", body = ErrorEnvelope),
        (status = 404, description = "no such invoice or credit note", body = ErrorEnvelope),
        (status = 409, description = "not paid, more than its total, or the provider refused", body = ErrorEnvelope),
        (status = 503, description = "the provider is unavailable", body = ErrorEnvelope),
    ))]
pub async fn refund_invoice(
    state: web::Data<AppState>,
    path: web::Path<String>,
    ValidJson(body): ValidJson<RefundBody>,
) -> ApiResult<HttpResponse> {
    let invoice = InvoiceId::parse(&path)?;
    let input = match (body.amount, body.reason, body.credit_note) {
        (Some(amount), Some(reason), None) => RefundInput::New {
            amount: parse_plain_decimal(&amount)
                .map_err(|_| ApiError::invalid("amount", "must be a plain decimal string"))?,
            reason,
        },
        (None, None, Some(note)) => RefundInput::CreditNote(CreditNoteId::parse(&note)?),
        _ => {
            return Err(ApiError::invalid(
                "body",
                "give `amount` and `reason`, or `credit_note` alone",
            ));
        }
    };
    let refunded = state
        .payments
        .refund_invoice(&invoice, input, Utc::now())
        .await?;
    Ok(HttpResponse::Created().json(RefundView::from(refunded)))
}
