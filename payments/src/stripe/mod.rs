//! Stripe through `async-stripe` (1.0 release candidate; customers,
//! PaymentIntents and refunds only): transport, authentication, the base
//! URL and idempotency keys here; Stripe's JSON into our types in
//! [`transformers`].
//!
//! Every write carries an `Idempotency-Key` (`RequestStrategy::Idempotent`)
//! derived from the platform's own key: the customer's external id, the
//! attempt's key, `{attempt key}:retry:{n}` for the n-th dunning retry, the
//! credit note's id for a refund. A request repeated after a timeout so
//! gets Stripe's first answer instead of a second charge.

pub mod transformers;

use std::collections::HashMap;
use std::time::Duration;

use ::stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use stripe_core::customer::CreateCustomer;
use stripe_core::payment_intent::{
    ConfirmPaymentIntent, ConfirmPaymentIntentOffSession, CreatePaymentIntent,
    RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;

use crate::PaymentError;
use crate::provider::{
    CustomerRef, PaymentProvider, PaymentRequest, ProviderPayment, ProviderRefund, RefundRequest,
};
use crate::webhook;
use transformers::StripeEvent;

/// The provider's name as stored.
pub const STRIPE: &str = "stripe";

/// Stripe's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

/// How long one request to Stripe may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to reach Stripe.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// The API's base URL (`https://api.stripe.com`; a local server in tests).
    pub base_url: String,
    /// The secret API key (`sk_…`).
    pub secret_key: SecretString,
}

/// Stripe as a payment provider.
#[derive(Debug, Clone)]
pub struct StripeProvider {
    client: Client,
}

impl StripeProvider {
    /// A client of the API at `settings.base_url`.
    pub fn new(settings: &StripeSettings) -> Result<Self, PaymentError> {
        let secret = settings.secret_key.expose_secret();
        if secret.trim().is_empty() {
            return Err(shiyun_core::ValidationError::new(
                "payments.stripe_secret_key",
                "must be set when the provider is stripe",
            )
            .into());
        }
        let base = settings.base_url.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(shiyun_core::ValidationError::new(
                "payments.stripe_base_url",
                "must be an http(s) URL",
            )
            .into());
        }
        // The client appends `v1/…` to the base as written.
        let client = ClientBuilder::new(secret)
            .url(format!("{base}/"))
            .timeout(REQUEST_TIMEOUT)
            .app_info("shiyun", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
            .build()
            .map_err(|e| {
                shiyun_core::ValidationError::new("payments.stripe_base_url", e.to_string())
            })?;
        Ok(StripeProvider { client })
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, PaymentError> {
    let key = IdempotencyKey::new(key).map_err(|e| {
        shiyun_core::ValidationError::new("idempotency_key", e.to_string().to_lowercase())
    })?;
    Ok(RequestStrategy::Idempotent(key))
}

fn metadata(pairs: impl IntoIterator<Item = (String, String)>) -> HashMap<String, String> {
    pairs.into_iter().collect()
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        STRIPE
    }

    async fn ensure_customer(&self, customer: &CustomerRef) -> Result<String, PaymentError> {
        let created = CreateCustomer::new()
            .name(customer.name.clone())
            .metadata(metadata([(
                "shiyun_customer".to_owned(),
                customer.external_id.clone(),
            )]))
            .customize()
            .request_strategy(idempotent(&format!("customer:{}", customer.external_id))?)
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        Ok(created.id.as_str().to_owned())
    }

    async fn start_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<ProviderPayment, PaymentError> {
        let minor = transformers::minor_units(&request.amount)?;
        let intent =
            CreatePaymentIntent::new(minor, transformers::currency(request.amount.currency()))
                .customer(request.customer.clone())
                .description(request.description.clone())
                .metadata(metadata(request.metadata.clone()))
                .customize()
                .request_strategy(idempotent(&request.key)?)
                .send(&self.client)
                .await
                .map_err(transformers::error)?;
        transformers::payment(intent)
    }

    async fn payment(&self, reference: &str) -> Result<ProviderPayment, PaymentError> {
        let intent = RetrievePaymentIntent::new(reference)
            .customize()
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        transformers::payment(intent)
    }

    async fn retry_payment(
        &self,
        reference: &str,
        payment_method: Option<&str>,
        key: &str,
    ) -> Result<ProviderPayment, PaymentError> {
        let mut confirm = ConfirmPaymentIntent::new(reference)
            .off_session(ConfirmPaymentIntentOffSession::Bool(true));
        if let Some(method) = payment_method {
            confirm = confirm.payment_method(method.to_owned());
        }
        let answer = confirm
            .customize()
            .request_strategy(idempotent(key)?)
            .send(&self.client)
            .await;
        match answer {
            Ok(intent) => transformers::payment(intent),
            Err(error) => transformers::declined(reference, payment_method, error),
        }
    }

    async fn refund(&self, request: &RefundRequest) -> Result<ProviderRefund, PaymentError> {
        let refund = CreateRefund::new()
            .payment_intent(request.payment.clone())
            .amount(transformers::minor_units(&request.amount)?)
            .metadata(metadata([
                ("shiyun_credit_note".to_owned(), request.key.clone()),
                ("shiyun_reason".to_owned(), request.reason.clone()),
            ]))
            .customize()
            .request_strategy(idempotent(&request.key)?)
            .send(&self.client)
            .await
            .map_err(transformers::error)?;
        transformers::refund(refund, request.amount.currency())
    }
}

/// The webhook endpoint's settings.
#[derive(Debug, Clone)]
pub struct StripeWebhook {
    /// The endpoint's signing secret (`whsec_…`).
    pub secret: SecretString,
    /// How far a signature's timestamp may be from now.
    pub tolerance: Duration,
}

impl StripeWebhook {
    /// Verifies the `Stripe-Signature` header over the raw body, then reads
    /// the event.
    pub fn event(
        &self,
        signature: Option<&str>,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<StripeEvent, PaymentError> {
        webhook::verify(
            signature,
            payload,
            self.secret.expose_secret().as_bytes(),
            self.tolerance,
            now,
        )?;
        transformers::event(payload)
    }
}
