//! A local Stripe for tests: an HTTP server on 127.0.0.1 answering the
//! endpoints the platform calls with Stripe's documented response shapes,
//! and signed webhook deliveries in Stripe's scheme.
//!
//! Like Stripe, it replays the first answer to a repeated `Idempotency-Key`
//! (and refuses the key with other parameters), and it records every
//! request with its key so a test can check what was sent. A test plays
//! the customer's browser with [`FakeStripe::succeed`] and
//! [`FakeStripe::decline`], and makes off-session retries decline with
//! [`FakeStripe::decline_next_confirms`].
//!
//! Answered: `POST /v1/customers`, `POST /v1/payment_intents`,
//! `GET /v1/payment_intents/{id}`, `POST /v1/payment_intents/{id}/confirm`
//! and `POST /v1/refunds`.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `GET`, `POST`.
    pub method: String,
    /// `/v1/payment_intents`.
    pub path: String,
    /// Its `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// Its form parameters, in order.
    pub form: Vec<(String, String)>,
    /// Whether the answer was a replay of an earlier one with the same key.
    pub replayed: bool,
}

impl Recorded {
    /// The value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The first answer to an idempotency key, and what it was asked.
#[derive(Clone)]
struct Answer {
    /// `POST /v1/…`.
    target: String,
    /// The parameters, sorted.
    params: Vec<(String, String)>,
    status: u16,
    body: Value,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    answers: HashMap<String, Answer>,
    intents: BTreeMap<String, Value>,
    declines: u32,
    counter: u64,
}

impl State {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_3Fake{:012}", self.counter)
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn metadata(form: &[(String, String)]) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in form {
        if let Some(name) = key
            .strip_prefix("metadata[")
            .and_then(|k| k.strip_suffix(']'))
        {
            map.insert(name.to_owned(), Value::String(value.clone()));
        }
    }
    Value::Object(map)
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"type": kind, "code": code, "message": message,
            "doc_url": format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"))}}),
    )
}

/// A card payment method as Stripe documents it.
fn card(id: &str, customer: Option<&str>) -> Value {
    json!({
        "id": id, "object": "payment_method", "allow_redisplay": "unspecified",
        "billing_details": {"address": {"city": null, "country": null, "line1": null,
            "line2": null, "postal_code": null, "state": null},
            "email": null, "name": null, "phone": null},
        "card": {"brand": "visa", "checks": {"address_line1_check": null,
            "address_postal_code_check": null, "cvc_check": "pass"},
            "country": "US", "display_brand": "visa", "exp_month": 8, "exp_year": 2030,
            "fingerprint": "Xt5EWLLDS7FJjR1c", "funding": "credit", "generated_from": null,
            "last4": "4242", "networks": {"available": ["visa"], "preferred": null},
            "three_d_secure_usage": {"supported": true}, "wallet": null},
        "created": now(), "customer": customer, "livemode": false, "metadata": {},
        "type": "card"
    })
}

/// A PaymentIntent as Stripe documents it, freshly created.
fn new_intent(id: &str, form: &[(String, String)]) -> Value {
    let amount: i64 = param(form, "amount")
        .and_then(|a| a.parse().ok())
        .unwrap_or_default();
    json!({
        "id": id, "object": "payment_intent",
        "amount": amount, "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": 0, "application": null, "application_fee_amount": null,
        "automatic_payment_methods": null, "canceled_at": null, "cancellation_reason": null,
        "capture_method": "automatic",
        "client_secret": format!("{id}_secret_fAkEsEcReT{:08}", amount.unsigned_abs() % 100_000_000),
        "confirmation_method": "automatic", "created": now(),
        "currency": param(form, "currency").unwrap_or("usd"),
        "customer": param(form, "customer"), "description": param(form, "description"),
        "last_payment_error": null, "latest_charge": null, "livemode": false,
        "metadata": metadata(form), "next_action": null, "on_behalf_of": null,
        "payment_method": null, "payment_method_configuration_details": null,
        "payment_method_options": {}, "payment_method_types": ["card"],
        "processing": null, "receipt_email": null, "review": null,
        "setup_future_usage": null, "shipping": null, "source": null,
        "statement_descriptor": null, "statement_descriptor_suffix": null,
        "status": "requires_payment_method", "transfer_data": null, "transfer_group": null
    })
}

fn succeed_intent(intent: &mut Value, method: &str, charge: &str) {
    intent["status"] = json!("succeeded");
    intent["amount_received"] = intent["amount"].clone();
    intent["payment_method"] = json!(method);
    intent["latest_charge"] = json!(charge);
    intent["last_payment_error"] = Value::Null;
}

fn decline_intent(intent: &mut Value, method: &str, charge: &str) {
    let customer = intent["customer"].as_str().map(str::to_owned);
    intent["status"] = json!("requires_payment_method");
    intent["payment_method"] = Value::Null;
    intent["latest_charge"] = json!(charge);
    intent["last_payment_error"] = json!({
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
        "charge": charge, "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card has insufficient funds.",
        "payment_method": card(method, customer.as_deref())
    });
}

fn answer(state: &mut State, method: &str, path: &str, form: &[(String, String)]) -> (u16, Value) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["v1", "customers"]) => {
            let id = state.next_id("cus");
            (
                200,
                json!({
                    "id": id, "object": "customer", "address": null, "balance": 0,
                    "created": now(), "currency": null, "default_source": null,
                    "delinquent": false, "description": null, "email": param(form, "email"),
                    "invoice_prefix": "FAKE0001", "invoice_settings": {"custom_fields": null,
                        "default_payment_method": null, "footer": null, "rendering_options": null},
                    "livemode": false, "metadata": metadata(form), "name": param(form, "name"),
                    "next_invoice_sequence": 1, "phone": null, "preferred_locales": [],
                    "shipping": null, "tax_exempt": "none", "test_clock": null
                }),
            )
        }
        ("POST", ["v1", "payment_intents"]) => {
            if param(form, "amount").is_none() || param(form, "currency").is_none() {
                return error(
                    400,
                    "invalid_request_error",
                    "parameter_missing",
                    "Missing required param: amount.",
                );
            }
            let id = state.next_id("pi");
            let intent = new_intent(&id, form);
            state.intents.insert(id, intent.clone());
            (200, intent)
        }
        ("GET", ["v1", "payment_intents", id]) => match state.intents.get(*id) {
            Some(intent) => (200, intent.clone()),
            None => error(
                404,
                "invalid_request_error",
                "resource_missing",
                "No such payment_intent",
            ),
        },
        ("POST", ["v1", "payment_intents", id, "confirm"]) => {
            let charge = state.next_id("ch");
            let decline = state.declines > 0;
            if decline {
                state.declines -= 1;
            }
            let Some(intent) = state.intents.get_mut(*id) else {
                return error(
                    404,
                    "invalid_request_error",
                    "resource_missing",
                    "No such payment_intent",
                );
            };
            let method = param(form, "payment_method")
                .unwrap_or("pm_card_visa")
                .to_owned();
            if decline {
                decline_intent(intent, &method, &charge);
                let mut refused = error(
                    402,
                    "card_error",
                    "card_declined",
                    "Your card has insufficient funds.",
                );
                refused.1["error"]["decline_code"] = json!("insufficient_funds");
                refused.1["error"]["charge"] = json!(charge);
                refused.1["error"]["payment_intent"] = intent.clone();
                refused.1["error"]["payment_method"] =
                    intent["last_payment_error"]["payment_method"].clone();
                refused
            } else {
                succeed_intent(intent, &method, &charge);
                (200, intent.clone())
            }
        }
        ("POST", ["v1", "refunds"]) => {
            let Some(intent) = param(form, "payment_intent")
                .and_then(|id| state.intents.get(id))
                .cloned()
            else {
                return error(
                    400,
                    "invalid_request_error",
                    "resource_missing",
                    "No such payment_intent",
                );
            };
            if intent["status"] != "succeeded" {
                return error(
                    400,
                    "invalid_request_error",
                    "charge_not_refundable",
                    "This PaymentIntent has no successful charge to refund.",
                );
            }
            let amount = param(form, "amount")
                .and_then(|a| a.parse::<i64>().ok())
                .unwrap_or_else(|| intent["amount"].as_i64().unwrap_or_default());
            if amount > intent["amount"].as_i64().unwrap_or_default() {
                return error(
                    400,
                    "invalid_request_error",
                    "amount_too_large",
                    "Refund amount is greater than the charge amount.",
                );
            }
            let id = state.next_id("re");
            (
                200,
                json!({
                    "id": id, "object": "refund", "amount": amount,
                    "balance_transaction": state.next_id("txn"), "charge": intent["latest_charge"],
                    "created": now(), "currency": intent["currency"], "destination_details": null,
                    "metadata": metadata(form), "payment_intent": intent["id"], "reason": null,
                    "receipt_number": null, "source_transfer_reversal": null,
                    "status": "succeeded", "transfer_reversal": null
                }),
            )
        }
        _ => error(
            404,
            "invalid_request_error",
            "resource_missing",
            &format!("Unrecognized request URL ({method}: {path})"),
        ),
    }
}

async fn handle(
    req: HttpRequest,
    form: Option<web::Form<Vec<(String, String)>>>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let method = req.method().as_str().to_owned();
    let path = req.path().to_owned();
    let form = form.map(web::Form::into_inner).unwrap_or_default();
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer sk_"));
    let mut state = lock(&state);
    let mut replayed = false;
    let (status, body) = if !authorized {
        error(
            401,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided.",
        )
    } else {
        let target = format!("{method} {path}");
        // Stripe compares parameters, not their order (metadata is a map).
        let mut params = form.clone();
        params.sort();
        match key.as_ref().and_then(|k| state.answers.get(k)).cloned() {
            Some(first) if first.target == target && first.params == params => {
                replayed = true;
                (first.status, first.body)
            }
            Some(_) => error(
                400,
                "idempotency_error",
                "idempotency_key_in_use",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            ),
            None => {
                let (status, body) = answer(&mut state, &method, &path, &form);
                if let Some(key) = &key {
                    state.answers.insert(
                        key.clone(),
                        Answer {
                            target,
                            params,
                            status,
                            body: body.clone(),
                        },
                    );
                }
                (status, body)
            }
        }
    };
    state.requests.push(Recorded {
        method,
        path,
        idempotency_key: key,
        form,
        replayed,
    });
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    );
    if replayed {
        response.insert_header(("idempotent-replayed", "true"));
    }
    response.json(body)
}

/// The running fake; stopped on drop.
pub struct FakeStripe {
    base: String,
    state: Shared,
    handle: ServerHandle,
}

impl FakeStripe {
    /// Starts it on a free port of 127.0.0.1 (inside a tokio runtime).
    pub fn start() -> std::io::Result<FakeStripe> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let state: Shared = Arc::default();
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(handle))
        })
        .workers(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(FakeStripe {
            base,
            state,
            handle,
        })
    }

    /// Its base URL (`http://127.0.0.1:port`), the `stripe_base_url` setting.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// The requests to one method and path (`POST`, `/v1/payment_intents`).
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// One PaymentIntent as it stands.
    pub fn intent(&self, id: &str) -> Option<Value> {
        lock(&self.state).intents.get(id).cloned()
    }

    /// The next `n` confirmations (off-session retries) are declined.
    pub fn decline_next_confirms(&self, n: u32) {
        lock(&self.state).declines = n;
    }

    /// The customer's browser paid the PaymentIntent: it is `succeeded`.
    /// Answers it, as the `payment_intent.succeeded` event carries it.
    pub fn succeed(&self, id: &str) -> Value {
        let mut state = lock(&self.state);
        let charge = state.next_id("ch");
        let intent = state.intents.entry(id.to_owned()).or_default();
        succeed_intent(intent, "pm_card_visa", &charge);
        intent.clone()
    }

    /// The customer's card was declined: the PaymentIntent wants another
    /// payment method. Answers it, as `payment_intent.payment_failed` carries it.
    pub fn decline(&self, id: &str, payment_method: &str) -> Value {
        let mut state = lock(&self.state);
        let charge = state.next_id("ch");
        let intent = state.intents.entry(id.to_owned()).or_default();
        decline_intent(intent, payment_method, &charge);
        intent.clone()
    }

    /// Stops the server.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        // Stopping is a future; without a runtime to run it on the server
        // ends with the test's runtime anyway.
        let handle = self.handle.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { handle.stop(false).await });
        }
    }
}

/// A webhook event's JSON as Stripe sends it, about `object`.
pub fn event(id: &str, kind: &str, object: &Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2025-03-31.basil",
        "created": now(), "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind, "data": {"object": object}
    })
    .to_string()
}

/// The `Stripe-Signature` header of `payload` signed with `secret` at
/// `timestamp`: HMAC-SHA256 over `"{timestamp}.{payload}"`, `t=…,v1=…`.
/// Written apart from the server's own signing code, so a test of one
/// checks the other.
pub fn signature(payload: &str, secret: &str, timestamp: i64) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return format!("t={timestamp},v1=");
    };
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}
