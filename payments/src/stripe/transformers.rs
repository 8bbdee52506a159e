//! Stripe's shapes into the platform's: amounts in minor units,
//! PaymentIntent statuses, declines, refunds and webhook events.

use ::stripe::StripeError;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use shiyun_core::ValidationError;
use shiyun_core::money::{Currency, Money, RoundingMode};
use stripe_core::{PaymentIntent, PaymentIntentStatus, Refund};

use super::STRIPE;
use crate::PaymentError;
use crate::provider::{ProviderPayment, ProviderRefund, ProviderStatus};

/// An amount in the currency's minor units, as Stripe takes it; an amount
/// with more places than the currency has is refused, never rounded.
pub fn minor_units(amount: &Money) -> Result<i64, PaymentError> {
    let exact = amount.round(RoundingMode::HalfUp).amount() == amount.amount();
    match amount.to_minor() {
        Some(minor) if exact && minor > 0 => Ok(minor),
        _ => Err(ValidationError::new(
            "amount",
            format!(
                "must be positive with at most {} decimal places",
                amount.currency().minor_units()
            ),
        )
        .into()),
    }
}

/// Stripe's currency of ours (Stripe writes codes in lower case).
pub fn currency(currency: Currency) -> stripe_types::Currency {
    let Ok(code) = currency.code().to_ascii_lowercase().parse();
    code
}

fn currency_of(code: &stripe_types::Currency) -> Result<Currency, PaymentError> {
    let text = match code {
        stripe_types::Currency::Unknown(text) => text.clone(),
        known => known.to_string(),
    };
    Currency::parse(&text.to_ascii_uppercase()).map_err(|_| PaymentError::ProviderRefused {
        provider: STRIPE,
        message: format!("answered in an unknown currency `{text}`"),
    })
}

/// Where a PaymentIntent stands, in our words.
pub fn status(status: &PaymentIntentStatus) -> ProviderStatus {
    match status {
        PaymentIntentStatus::Succeeded => ProviderStatus::Succeeded,
        PaymentIntentStatus::Processing | PaymentIntentStatus::RequiresCapture => {
            ProviderStatus::Processing
        }
        PaymentIntentStatus::Canceled => ProviderStatus::Canceled,
        // The customer must act; so too for a status Stripe adds later.
        _ => ProviderStatus::RequiresAction,
    }
}

/// A PaymentIntent as a provider payment.
pub fn payment(intent: PaymentIntent) -> Result<ProviderPayment, PaymentError> {
    let status = status(&intent.status);
    let payment_method = intent.payment_method.as_ref().map(|m| m.id().to_string());
    let failure = intent
        .last_payment_error
        .as_ref()
        .and_then(|e| e.decline_code.clone().or_else(|| e.message.clone()));
    Ok(ProviderPayment {
        reference: intent.id.as_str().to_owned(),
        status,
        client_secret: intent.client_secret.map(SecretString::from),
        payment_method,
        failure,
    })
}

/// A refund as a provider refund.
pub fn refund(refund: Refund, asked: Currency) -> Result<ProviderRefund, PaymentError> {
    let currency = currency_of(&refund.currency)?;
    if currency != asked {
        return Err(PaymentError::ProviderRefused {
            provider: STRIPE,
            message: format!("refunded in {currency}, not {asked}"),
        });
    }
    Ok(ProviderRefund {
        reference: refund.id.as_str().to_owned(),
        status: refund.status.unwrap_or_else(|| "pending".to_owned()),
        amount: Money::from_minor(refund.amount, currency),
    })
}

/// A Stripe error in our words: a 4xx Stripe answered is refused (the same
/// request will fail again), anything else is unavailable.
pub fn error(error: StripeError) -> PaymentError {
    match error {
        StripeError::Stripe(api, status) if (400..500).contains(&status) && status != 429 => {
            PaymentError::ProviderRefused {
                provider: STRIPE,
                message: api
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("status {status}")),
            }
        }
        StripeError::Stripe(api, status) => PaymentError::ProviderUnavailable {
            provider: STRIPE,
            message: format!(
                "status {status}: {}",
                api.message.as_deref().unwrap_or("no message")
            ),
        },
        other => PaymentError::ProviderUnavailable {
            provider: STRIPE,
            message: other.to_string(),
        },
    }
}

/// The answer to an off-session confirmation that failed: a card error
/// (402) is a declined payment, anything else an error.
pub fn declined(
    reference: &str,
    payment_method: Option<&str>,
    failure: StripeError,
) -> Result<ProviderPayment, PaymentError> {
    match failure {
        StripeError::Stripe(api, 402) => Ok(ProviderPayment {
            reference: api
                .payment_intent
                .as_ref()
                .map_or_else(|| reference.to_owned(), |i| i.id.as_str().to_owned()),
            status: ProviderStatus::Failed,
            client_secret: None,
            payment_method: api
                .payment_method
                .as_ref()
                .map(|m| m.id.as_str().to_owned())
                .or_else(|| payment_method.map(str::to_owned)),
            failure: api
                .decline_code
                .clone()
                .or_else(|| api.message.clone())
                .or_else(|| Some("card_declined".to_owned())),
        }),
        other => Err(error(other)),
    }
}

/// A webhook event: the parts the platform reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    /// `evt_…`.
    pub id: String,
    /// `payment_intent.succeeded`, …
    pub kind: String,
    /// When Stripe created it.
    pub created: DateTime<Utc>,
    /// The object's id (`pi_…`).
    pub object_id: String,
    /// The PaymentIntent, for `payment_intent.*` events.
    pub intent: Option<IntentEvent>,
}

/// A PaymentIntent as an event carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentEvent {
    /// `pi_…`.
    pub id: String,
    /// What it asks.
    pub amount: Money,
    /// The payment method that was charged or failed, if any.
    pub payment_method: Option<String>,
    /// The decline code or message of the last failure.
    pub failure: Option<String>,
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct RawIntent {
    id: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    payment_method: Option<serde_json::Value>,
    #[serde(default)]
    last_payment_error: Option<RawPaymentError>,
}

#[derive(Deserialize)]
struct RawPaymentError {
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    payment_method: Option<serde_json::Value>,
}

/// A payment method given as its id or as the expanded object.
fn method_id(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(id) => Some(id.clone()),
        serde_json::Value::Object(object) => object
            .get("id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

fn unreadable(what: impl std::fmt::Display) -> PaymentError {
    ValidationError::new("body", format!("not a Stripe event: {what}")).into()
}

/// Reads a webhook event's JSON (after its signature was checked).
pub fn event(payload: &[u8]) -> Result<StripeEvent, PaymentError> {
    let raw: RawEvent = serde_json::from_slice(payload).map_err(unreadable)?;
    let created = DateTime::from_timestamp(raw.created, 0)
        .ok_or_else(|| unreadable("`created` is out of range"))?;
    let object_id = raw
        .data
        .object
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let intent = if raw.kind.starts_with("payment_intent.") {
        let intent: RawIntent = serde_json::from_value(raw.data.object).map_err(unreadable)?;
        let currency = Currency::parse(&intent.currency.to_ascii_uppercase())
            .map_err(|_| unreadable(format!("unknown currency `{}`", intent.currency)))?;
        let failure = intent.last_payment_error.as_ref().and_then(|e| {
            e.decline_code
                .clone()
                .or_else(|| e.code.clone())
                .or_else(|| e.message.clone())
        });
        let payment_method = intent
            .payment_method
            .as_ref()
            .and_then(method_id)
            .or_else(|| {
                intent
                    .last_payment_error
                    .as_ref()
                    .and_then(|e| e.payment_method.as_ref())
                    .and_then(method_id)
            });
        Some(IntentEvent {
            id: intent.id,
            amount: Money::from_minor(intent.amount, currency),
            payment_method,
            failure,
        })
    } else {
        None
    };
    Ok(StripeEvent {
        id: raw.id,
        kind: raw.kind,
        created,
        object_id,
        intent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn amounts_go_in_minor_units_exactly() {
        assert_eq!(
            minor_units(&Money::new(dec!(12.19), Currency::CNY)).unwrap(),
            1219
        );
        assert_eq!(
            minor_units(&Money::new(dec!(500), Currency::JPY)).unwrap(),
            500
        );
        assert_eq!(
            minor_units(&Money::new(dec!(1.234), Currency::KWD)).unwrap(),
            1234
        );
        assert!(minor_units(&Money::new(dec!(12.191), Currency::CNY)).is_err());
        assert!(minor_units(&Money::new(dec!(0), Currency::CNY)).is_err());
        assert!(minor_units(&Money::new(dec!(-1), Currency::CNY)).is_err());
        assert_eq!(currency(Currency::CNY), stripe_types::Currency::CNY);
    }

    #[test]
    fn payment_intent_events_are_read() {
        let payload = br#"{
          "id": "evt_1", "object": "event", "type": "payment_intent.payment_failed",
          "created": 1800000000, "livemode": false, "api_version": "2025-03-31.basil",
          "data": {"object": {
            "id": "pi_1", "object": "payment_intent", "amount": 1219, "currency": "cny",
            "status": "requires_payment_method", "payment_method": null,
            "last_payment_error": {"type": "card_error", "code": "card_declined",
              "decline_code": "insufficient_funds", "payment_method": {"id": "pm_1", "object": "payment_method"}}
          }}
        }"#;
        let event = event(payload).unwrap();
        assert_eq!(event.kind, "payment_intent.payment_failed");
        assert_eq!(event.object_id, "pi_1");
        let intent = event.intent.unwrap();
        assert_eq!(intent.amount, Money::new(dec!(12.19), Currency::CNY));
        assert_eq!(intent.payment_method.as_deref(), Some("pm_1"));
        assert_eq!(intent.failure.as_deref(), Some("insufficient_funds"));
        assert!(super::event(b"{}").is_err());
        let other = br#"{"id": "evt_2", "type": "customer.created", "created": 1800000000,
            "data": {"object": {"id": "cus_1", "object": "customer"}}}"#;
        assert_eq!(super::event(other).unwrap().intent, None);
    }
}
