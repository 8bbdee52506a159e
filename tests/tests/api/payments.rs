//! Payments through HTTP against a local Stripe (`shiyun_tests::stripe`):
//! a tenant pays its invoice, Stripe's signed webhook marks it paid once,
//! bad or stale signatures are refused, failed payments are retried on the
//! dunning schedule until the account is overdue, and refunds go through
//! credit notes; a top-up credits the wallet once; every write to Stripe
//! carries an idempotency key.

use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Datelike, Duration, NaiveDate, Utc};
use rust_decimal_macros::dec;
use secrecy::SecretString;
use serde_json::{Value, json};
use shiyun_core::billing::payments::{AttemptStatus, PaymentAttemptId};
use shiyun_core::money::Currency;
use shiyun_server::settings::PaymentProviderKind;
use shiyun_tests::stripe::{FakeStripe, event, signature};

use crate::helpers::{TestApp, on_both_backends};

const WEBHOOK_SECRET: &str = "whsec_test_0123456789abcdef";

/// A server whose payments go to `stripe`, retrying failures 1, 2 and 3
/// hours after the first.
pub(crate) async fn app_with(stripe: &FakeStripe, backend: crate::helpers::Backend) -> TestApp {
    let base = stripe.base_url().to_owned();
    TestApp::spawn_with(
        backend,
        move |s| {
            s.payments.provider = PaymentProviderKind::Stripe;
            s.payments.stripe_base_url = base;
            s.payments.stripe_secret_key = Some(SecretString::from("sk_test_fake_key".to_owned()));
            s.payments.stripe_webhook_secret = Some(SecretString::from(WEBHOOK_SECRET.to_owned()));
            s.payments.dunning_retry_hours = vec![1, 2, 3];
        },
        |_| {},
    )
    .await
}

/// A tenant with one finalised invoice of 12.19 CNY; answers the tenant's
/// token, its id and the invoice.
async fn invoiced_tenant(app: &TestApp, op: &str) -> (String, String, Value) {
    let op = Some(op);
    let mut tenant = app.sign_up("payer@example.com").await;
    let enterprise = app.found_enterprise(&mut tenant, "Payer Cloud").await;
    app.expect(
        201,
        "POST",
        "/v1/billing/meters",
        op,
        Some(json!({"code": "calls", "name": "Calls", "aggregation": "count"})),
    )
    .await;
    app.expect(201, "POST", "/v1/billing/plans", op, Some(json!({"plan": {
        "code": "calls-monthly", "name": "Calls monthly", "currency": "CNY", "interval": "monthly",
        "billing_time": "calendar", "pay_in": "arrears", "recurring_fee": "11.50",
        "charges": [{"meter": "calls", "model": "standard", "unit_price": "0.5"}]
    }}))).await;
    app.expect(
        200,
        "PUT",
        &format!("/v1/billing/customers/{enterprise}"),
        op,
        Some(json!({"name": "Payer Cloud", "timezone": "UTC", "tax_rate": "0.06"})),
    )
    .await;
    let today = Utc::now().date_naive();
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let last_month = (this_month - Duration::days(1)).with_day(1).unwrap();
    app.expect(
        201,
        "POST",
        "/v1/billing/subscriptions",
        op,
        Some(json!({
            "customer": enterprise, "plan": "calls-monthly", "starts_on": last_month.to_string()
        })),
    )
    .await;
    app.expect(200, "POST", "/v1/billing/runs", op, None).await;
    let mine = app
        .expect(200, "GET", "/v1/invoices", Some(&tenant.access), None)
        .await;
    let invoice = mine["invoices"][0].clone();
    assert_eq!(
        invoice["totals"]["total"]["amount"], "12.19",
        "11.50 + 6 % tax: {mine}"
    );
    (tenant.access, enterprise, invoice)
}

/// What the server logged, from the first call on: every test process
/// logs into one buffer (nextest runs a test per process; under `cargo
/// test` tests share it, which only adds lines).
fn server_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        // Another test of this process may have set one first.
        let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber);
        log
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Posts a webhook delivery; answers the status and body.
pub(crate) async fn deliver(app: &TestApp, payload: &str, header: Option<&str>) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url("/v1/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(payload.to_owned());
    if let Some(header) = header {
        request = request.header("Stripe-Signature", header);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `payload` signed now with the endpoint's secret.
pub(crate) fn signed(payload: &str) -> String {
    signature(payload, WEBHOOK_SECRET, Utc::now().timestamp())
}

async fn invoice_of(app: &TestApp, token: &str, id: &str) -> Value {
    let mine = app
        .expect(200, "GET", "/v1/invoices", Some(token), None)
        .await;
    mine["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .unwrap()
}

on_both_backends! {
    async fn a_paid_invoice_is_marked_paid_once_by_the_signed_webhook(backend: Backend) {
        let stripe = FakeStripe::start().unwrap();
        let app = app_with(&stripe, backend).await;
        let op = app.operator().await;
        let (token, enterprise, invoice) = invoiced_tenant(&app, &op.access).await;
        let id = invoice["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/invoices/{id}/payments");

        let started = app.expect(200, "POST", &path, Some(&token), None).await;
        let pi = started["attempt"]["provider_reference"].as_str().unwrap().to_owned();
        assert!(pi.starts_with("pi_"), "{started}");
        assert_eq!(started["provider_status"], "requires_action");
        assert!(started["client_secret"].as_str().unwrap().starts_with(&format!("{pi}_secret_")));
        assert_eq!(started["attempt"]["status"], "pending");
        assert_eq!(started["attempt"]["amount"], json!({"amount": "12.19", "currency": "CNY"}));

        // Stripe saw the customer and the PaymentIntent, each under our key.
        let customers = stripe.requests_to("POST", "/v1/customers");
        assert_eq!(customers.len(), 1);
        assert_eq!(customers[0].idempotency_key.as_deref(), Some(format!("customer:{enterprise}").as_str()));
        assert_eq!(customers[0].param("metadata[shiyun_customer]"), Some(enterprise.as_str()));
        let intents = stripe.requests_to("POST", "/v1/payment_intents");
        assert_eq!(intents.len(), 1);
        assert_eq!(intents[0].idempotency_key.as_deref(), Some(format!("invoice:{id}").as_str()));
        assert_eq!((intents[0].param("amount"), intents[0].param("currency")), (Some("1219"), Some("cny")));
        assert_eq!(intents[0].param("metadata[shiyun_invoice]"), Some(id.as_str()));

        // Asking again answers the same payment: no second PaymentIntent.
        let again = app.expect(200, "POST", &path, Some(&token), None).await;
        assert_eq!(again["attempt"]["id"], started["attempt"]["id"]);
        assert_eq!(again["client_secret"], started["client_secret"]);
        assert_eq!(stripe.requests_to("POST", "/v1/payment_intents").len(), 1);
        assert_eq!(stripe.requests_to("GET", &format!("/v1/payment_intents/{pi}")).len(), 1);

        // Another tenant cannot pay (or see) it.
        let mut other = app.sign_up("other@example.com").await;
        app.found_enterprise(&mut other, "Other Cloud").await;
        let (status, err) = app.call("POST", &path, Some(&other.access), None).await;
        assert_eq!((status, &err["error"]["code"]), (404, &json!("not_found")), "{err}");

        // The customer's browser confirms; Stripe sends the signed event.
        let paid = stripe.succeed(&pi);
        let payload = event("evt_paid_1", "payment_intent.succeeded", &paid);
        let header = signed(&payload);
        let (status, receipt) = deliver(&app, &payload, Some(&header)).await;
        assert_eq!((status, &receipt["outcome"]), (200, &json!("processed")), "{receipt}");
        let after = invoice_of(&app, &token, &id).await;
        assert_eq!(after["status"], "paid", "{after}");
        assert!(after["paid_at"].is_string());

        // A redelivery (the same event, even re-signed) changes nothing.
        for header in [header.clone(), signed(&payload)] {
            let (status, receipt) = deliver(&app, &payload, Some(&header)).await;
            assert_eq!((status, &receipt["outcome"]), (200, &json!("already_processed")), "{receipt}");
        }
        assert_eq!(invoice_of(&app, &token, &id).await, after);
        let attempt = app.state.payments
            .attempt(&PaymentAttemptId::parse(started["attempt"]["id"].as_str().unwrap()).unwrap())
            .await
            .unwrap();
        assert_eq!((attempt.status, attempt.version), (AttemptStatus::Succeeded, 2));
        // Paying a paid invoice is refused.
        let (status, err) = app.call("POST", &path, Some(&token), None).await;
        assert_eq!(status, 409, "{err}");
        // An event about someone else's payment is taken and ignored.
        let stranger = event("evt_other", "payment_intent.succeeded",
            &json!({"id": "pi_elsewhere", "object": "payment_intent", "amount": 5, "currency": "usd"}));
        let (status, receipt) = deliver(&app, &stranger, Some(&signed(&stranger))).await;
        assert_eq!((status, &receipt["outcome"]), (200, &json!("ignored")), "{receipt}");

        // Refunds go through a credit note, keyed by its id at Stripe.
        let refunds = format!("/v1/billing/invoices/{id}/refunds");
        let refunded = app.expect(201, "POST", &refunds, Some(&op.access),
            Some(json!({"amount": "2.00", "reason": "one day of downtime"}))).await;
        let note = refunded["credit_note"]["id"].as_str().unwrap().to_owned();
        assert_eq!(refunded["credit_note"]["amount"], json!({"amount": "2.00", "currency": "CNY"}));
        assert_eq!(refunded["refund"]["status"], "succeeded", "{refunded}");
        let made = stripe.requests_to("POST", "/v1/refunds");
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].idempotency_key.as_deref(), Some(note.as_str()));
        assert_eq!((made[0].param("payment_intent"), made[0].param("amount")), (Some(pi.as_str()), Some("200")));
        // Repeating the refund of that credit note refunds nothing more.
        let repeated = app.expect(201, "POST", &refunds, Some(&op.access),
            Some(json!({"credit_note": note}))).await;
        assert_eq!(repeated["refund"], refunded["refund"]);
        let made = stripe.requests_to("POST", "/v1/refunds");
        assert_eq!((made.len(), made[1].replayed), (2, true), "Stripe replays the key");
        let (status, err) = app.call("POST", &refunds, Some(&op.access), Some(&json!({"amount": "1"}))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("body")), "{err}");

        // Every write to Stripe carried a key.
        for request in stripe.requests().iter().filter(|r| r.method == "POST") {
            assert!(request.idempotency_key.is_some(), "{request:?}");
        }
    }
}

on_both_backends! {
    async fn bad_or_stale_signatures_are_refused_with_400_and_logged(backend: Backend) {
        let log = server_log();
        let stripe = FakeStripe::start().unwrap();
        let app = app_with(&stripe, backend).await;
        let object = json!({"id": "pi_x", "object": "payment_intent", "amount": 5, "currency": "cny"});
        let payload = event("evt_sig", "payment_intent.succeeded", &object);
        let now = Utc::now().timestamp();
        for (header, why) in [
            (Some(signature(&payload, "whsec_someone_else", now)), "another secret"),
            (Some(signature(&payload, WEBHOOK_SECRET, now - 301)), "stale"),
            (Some(signature(&payload, WEBHOOK_SECRET, now + 3600)), "from the future"),
            (Some(signature(&format!("{payload} "), WEBHOOK_SECRET, now)), "another body"),
            (Some("t=1,v1=zz".to_owned()), "malformed"),
            (None, "unsigned"),
        ] {
            let (status, err) = deliver(&app, &payload, header.as_deref()).await;
            assert_eq!(status, 400, "{why}: {err}");
            assert_eq!(err["error"]["code"], "invalid_argument", "{why}");
            assert_eq!(err["error"]["field"], "stripe-signature", "{why}");
        }
        let (status, err) = deliver(&app, &payload, Some(&signature(&payload, WEBHOOK_SECRET, now - 301))).await;
        assert!(err["error"]["message"].as_str().unwrap().contains("tolerance"), "{status} {err}");
        let logged = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        for reason in ["mismatch", "stale", "malformed", "missing"] {
            assert!(
                logged.lines().any(|l| l.contains("WARN") && l.contains("stripe webhook refused") && l.contains(&format!("reason=\"{reason}\""))),
                "a {reason} signature is logged: {logged}"
            );
        }
        // A well-signed delivery that is not an event is refused too.
        let (status, err) = deliver(&app, "[]", Some(&signed("[]"))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("body")), "{err}");
        // The refused event was never recorded: signed properly, it is taken.
        let (status, receipt) = deliver(&app, &payload, Some(&signed(&payload))).await;
        assert_eq!((status, &receipt["outcome"]), (200, &json!("ignored")), "{receipt}");
    }
}

on_both_backends! {
    async fn failed_payments_are_retried_on_the_schedule_then_the_account_is_overdue(backend: Backend) {
        let stripe = FakeStripe::start().unwrap();
        let app = app_with(&stripe, backend).await;
        let op = app.operator().await;
        let (token, _, invoice) = invoiced_tenant(&app, &op.access).await;
        let id = invoice["id"].as_str().unwrap().to_owned();
        let started = app.expect(200, "POST", &format!("/v1/invoices/{id}/payments"), Some(&token), None).await;
        let pi = started["attempt"]["provider_reference"].as_str().unwrap().to_owned();
        let attempt_id = PaymentAttemptId::parse(started["attempt"]["id"].as_str().unwrap()).unwrap();
        let payments = app.state.payments.clone();

        // The customer's card is declined: the first retry is due an hour later.
        let declined = stripe.decline(&pi, "pm_card_chargeDeclined");
        let failed = event("evt_failed_0", "payment_intent.payment_failed", &declined);
        let (status, receipt) = deliver(&app, &failed, Some(&signed(&failed))).await;
        assert_eq!((status, &receipt["outcome"]), (200, &json!("processed")), "{receipt}");
        let attempt = payments.attempt(&attempt_id).await.unwrap();
        assert_eq!((attempt.status, attempt.retries), (AttemptStatus::RetryScheduled, 0));
        assert_eq!(attempt.payment_method.as_deref(), Some("pm_card_chargeDeclined"));
        let first = attempt.first_failed_at.unwrap();
        assert_eq!(attempt.next_retry_at, Some(first + Duration::hours(1)));
        // The same failure delivered again changes nothing.
        let (_, receipt) = deliver(&app, &failed, Some(&signed(&failed))).await;
        assert_eq!(receipt["outcome"], "already_processed");
        assert_eq!(payments.attempt(&attempt_id).await.unwrap(), attempt);

        // Nothing is due before the hour.
        let early = payments.run_dunning(first + Duration::minutes(59)).await.unwrap();
        assert_eq!(early.retried, 0, "{early:?}");
        assert!(stripe.requests_to("POST", &format!("/v1/payment_intents/{pi}/confirm")).is_empty());

        stripe.decline_next_confirms(3);
        for (retry, hours) in [(1u32, 1i64), (2, 2), (3, 3)] {
            let report = payments.run_dunning(first + Duration::hours(hours) + Duration::seconds(1)).await.unwrap();
            assert_eq!(report.retried, 1, "retry {retry}: {report:?}");
            let attempt = payments.attempt(&attempt_id).await.unwrap();
            assert_eq!(attempt.retries, retry);
            if retry < 3 {
                assert_eq!(report.rescheduled, 1, "{report:?}");
                assert_eq!(attempt.status, AttemptStatus::RetryScheduled);
                assert_eq!(attempt.next_retry_at, Some(first + Duration::hours(hours + 1)));
            } else {
                assert_eq!(report.overdue, 1, "{report:?}");
                assert_eq!((attempt.status, attempt.next_retry_at), (AttemptStatus::Failed, None));
            }
            // Each retry is an off-session confirmation under a key of its own.
            let confirms = stripe.requests_to("POST", &format!("/v1/payment_intents/{pi}/confirm"));
            let last = confirms.last().unwrap();
            assert_eq!(last.idempotency_key.as_deref(), Some(format!("invoice:{id}:retry:{retry}").as_str()));
            assert_eq!(last.param("payment_method"), Some("pm_card_chargeDeclined"));
            assert_eq!(last.param("off_session"), Some("true"));
            // Stripe's own event of that decline changes nothing more.
            let echo = event(&format!("evt_failed_{retry}"), "payment_intent.payment_failed", &stripe.intent(&pi).unwrap());
            let (_, receipt) = deliver(&app, &echo, Some(&signed(&echo))).await;
            assert_eq!(receipt["outcome"], "processed");
            assert_eq!(payments.attempt(&attempt_id).await.unwrap().retries, retry);
        }
        // The account is overdue since the last retry failed.
        let standing = app.expect(200, "GET", "/v1/standing", Some(&token), None).await;
        assert!(standing["overdue_since"].is_string(), "{standing}");
        // Given up: later runs leave it alone.
        let later = payments.run_dunning(first + Duration::hours(48)).await.unwrap();
        assert_eq!(later.retried, 0, "{later:?}");
        assert_eq!(stripe.requests_to("POST", &format!("/v1/payment_intents/{pi}/confirm")).len(), 3);
        assert_eq!(invoice_of(&app, &token, &id).await["status"], "finalized");

        // The customer still pays it themselves; the invoice is paid.
        let paid = stripe.succeed(&pi);
        let payload = event("evt_paid_late", "payment_intent.succeeded", &paid);
        let (_, receipt) = deliver(&app, &payload, Some(&signed(&payload))).await;
        assert_eq!(receipt["outcome"], "processed");
        assert_eq!(invoice_of(&app, &token, &id).await["status"], "paid");
        assert_eq!(payments.attempt(&attempt_id).await.unwrap().status, AttemptStatus::Succeeded);
        let standing = app.expect(200, "GET", "/v1/standing", Some(&token), None).await;
        assert!(standing["overdue_since"].is_null(), "paid up, no longer overdue: {standing}");
    }
}

on_both_backends! {
    async fn a_dunning_retry_that_pays_settles_the_invoice(backend: Backend) {
        let stripe = FakeStripe::start().unwrap();
        let app = app_with(&stripe, backend).await;
        let op = app.operator().await;
        let (token, _, invoice) = invoiced_tenant(&app, &op.access).await;
        let id = invoice["id"].as_str().unwrap().to_owned();
        let started = app.expect(200, "POST", &format!("/v1/invoices/{id}/payments"), Some(&token), None).await;
        let pi = started["attempt"]["provider_reference"].as_str().unwrap().to_owned();
        let declined = stripe.decline(&pi, "pm_card_visa");
        let failed = event("evt_failed", "payment_intent.payment_failed", &declined);
        deliver(&app, &failed, Some(&signed(&failed))).await;
        let report = app.state.payments.run_dunning(Utc::now() + Duration::hours(2)).await.unwrap();
        assert_eq!((report.retried, report.succeeded), (1, 1), "{report:?}");
        assert_eq!(invoice_of(&app, &token, &id).await["status"], "paid");
        // Stripe's event of that success, arriving after, changes nothing more.
        let paid = event("evt_paid", "payment_intent.succeeded", &stripe.intent(&pi).unwrap());
        let (_, receipt) = deliver(&app, &paid, Some(&signed(&paid))).await;
        assert_eq!(receipt["outcome"], "processed");
        assert_eq!(invoice_of(&app, &token, &id).await["status"], "paid");
    }
}

/// The balance of a wallet, read from the server's store.
async fn balance(app: &TestApp, customer: &str) -> Option<rust_decimal::Decimal> {
    let wallets = app.state.wallets.clone();
    let customer = customer.to_owned();
    tokio::task::spawn_blocking(move || {
        wallets
            .wallet(&customer, Currency::CNY)
            .unwrap()
            .map(|w| w.balance.amount())
    })
    .await
    .unwrap()
}

on_both_backends! {
    async fn a_top_up_is_credited_once_after_the_webhook(backend: Backend) {
        let stripe = FakeStripe::start().unwrap();
        let app = app_with(&stripe, backend).await;
        let op = app.operator().await;
        let mut tenant = app.sign_up("topper@example.com").await;
        let enterprise = app.found_enterprise(&mut tenant, "Topper Cloud").await;
        let token = Some(tenant.access.as_str());
        let body = json!({"amount": "100.00", "idempotency_key": "top-up-1"});
        // Only a billing customer has a wallet.
        let (status, err) = app.call("POST", "/v1/wallets/CNY/top-ups", token, Some(&body)).await;
        assert_eq!(status, 404, "{err}");
        app.expect(200, "PUT", &format!("/v1/billing/customers/{enterprise}"), Some(&op.access),
            Some(json!({"name": "Topper Cloud", "timezone": "UTC", "tax_rate": "0"}))).await;

        let started = app.expect(200, "POST", "/v1/wallets/CNY/top-ups", token, Some(body.clone())).await;
        assert_eq!(started["attempt"]["purpose"], json!({"type": "top_up"}));
        let pi = started["attempt"]["provider_reference"].as_str().unwrap().to_owned();
        assert!(started["client_secret"].is_string(), "{started}");
        let intents = stripe.requests_to("POST", "/v1/payment_intents");
        assert_eq!(intents.len(), 1);
        assert_eq!(intents[0].idempotency_key.as_deref(), Some(format!("top_up:{enterprise}:top-up-1").as_str()));
        assert_eq!(intents[0].param("amount"), Some("10000"));
        // The same key again is the same payment; with another amount, a conflict.
        let again = app.expect(200, "POST", "/v1/wallets/CNY/top-ups", token, Some(body)).await;
        assert_eq!(again["attempt"]["id"], started["attempt"]["id"]);
        let (status, err) = app.call("POST", "/v1/wallets/CNY/top-ups", token,
            Some(&json!({"amount": "50.00", "idempotency_key": "top-up-1"}))).await;
        assert_eq!((status, &err["error"]["code"]), (422, &json!("idempotency_conflict")), "{err}");
        for bad in [json!({"amount": "0", "idempotency_key": "k"}), json!({"amount": "1.001", "idempotency_key": "k"})] {
            let (status, err) = app.call("POST", "/v1/wallets/CNY/top-ups", token, Some(&bad)).await;
            assert_eq!((status, &err["error"]["field"]), (400, &json!("amount")), "{bad}: {err}");
        }
        assert_eq!(stripe.requests_to("POST", "/v1/payment_intents").len(), 1);
        assert_eq!(balance(&app, &enterprise).await, None, "nothing credited before the money is in");

        let paid = stripe.succeed(&pi);
        let payload = event("evt_top_up", "payment_intent.succeeded", &paid);
        let (status, receipt) = deliver(&app, &payload, Some(&signed(&payload))).await;
        assert_eq!((status, &receipt["outcome"]), (200, &json!("processed")), "{receipt}");
        assert_eq!(balance(&app, &enterprise).await, Some(dec!(100)));
        let (_, receipt) = deliver(&app, &payload, Some(&signed(&payload))).await;
        assert_eq!(receipt["outcome"], "already_processed");
        assert_eq!(balance(&app, &enterprise).await, Some(dec!(100)), "credited once");
        // Even a lost record of the event would credit once: the credit is keyed by the payment.
        let again = event("evt_top_up_resent", "payment_intent.succeeded", &paid);
        let (_, receipt) = deliver(&app, &again, Some(&signed(&again))).await;
        assert_eq!(receipt["outcome"], "processed");
        assert_eq!(balance(&app, &enterprise).await, Some(dec!(100)), "credited once");
        let replay = app.expect(200, "POST", "/v1/wallets/CNY/top-ups", token,
            Some(json!({"amount": "100.00", "idempotency_key": "top-up-1"}))).await;
        assert_eq!((&replay["attempt"]["status"], &replay["client_secret"]), (&json!("succeeded"), &Value::Null));
    }
}

on_both_backends! {
    async fn the_manual_provider_takes_no_webhooks_and_awaits_transfers(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let op = app.operator().await;
        let payload = event("evt_1", "payment_intent.succeeded", &json!({"id": "pi_1"}));
        let (status, err) = deliver(&app, &payload, Some(&signed(&payload))).await;
        assert_eq!((status, &err["error"]["code"]), (404, &json!("not_found")), "{err}");
        let mut tenant = app.sign_up("transfer@example.com").await;
        let enterprise = app.found_enterprise(&mut tenant, "Transfer Cloud").await;
        app.expect(200, "PUT", &format!("/v1/billing/customers/{enterprise}"), Some(&op.access),
            Some(json!({"name": "Transfer Cloud", "timezone": "UTC", "tax_rate": "0"}))).await;
        let started = app.expect(200, "POST", "/v1/wallets/CNY/top-ups", Some(&tenant.access),
            Some(json!({"amount": "100.00", "idempotency_key": "k1"}))).await;
        assert_eq!(started["attempt"]["provider"], "manual", "{started}");
        assert_eq!(started["provider_status"], "requires_action");
        assert!(started["client_secret"].is_null());
        assert_eq!(balance(&app, &enterprise).await, None, "a transfer is credited when it arrives");
        let (status, err) = app.call("POST", "/v1/wallets/XXQ/top-ups", Some(&tenant.access),
            Some(&json!({"amount": "100.00", "idempotency_key": "k1"}))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("currency")), "{err}");
    }
}
