//! Marketplace money through HTTP, as a new user meets it: register,
//! search the storefront, order a listing, report usage, and read the
//! invoice; operators set margin rules, move provisioning, enter service
//! contracts and read the gross-margin report in JSON and CSV.
//!
//! Periods close at real month ends, so where a test needs an invoice now
//! it runs the marketplace's bill run as of the next month through the
//! server's own engine (as a test clock would), then goes back to HTTP.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use shiyun_core::listing::{BillingMode, Listing, ListingStatus};

use crate::helpers::{TestApp, on_both_backends};

/// The first month start after today.
fn next_month() -> chrono::DateTime<Utc> {
    let today = Utc::now().date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let next = first.checked_add_months(chrono::Months::new(1)).unwrap();
    next.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::days(1)
}

/// A seeded listing the storefront finds that has a flat on-demand price.
async fn storefront_listing(app: &TestApp) -> (Listing, Value) {
    let seeded = app.seed_demo(200);
    let orderable: Vec<&Listing> = seeded
        .iter()
        .filter(|l| {
            l.status() == ListingStatus::Active
                && l.prices()
                    .iter()
                    .any(|p| p.billing_mode() == BillingMode::OnDemand && p.tiers().is_empty())
        })
        .collect();
    assert!(!orderable.is_empty(), "the demo has on-demand listings");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, body) = app.get("/v1/search?limit=100").await;
        assert_eq!(status, 200, "{body}");
        if let Some(hit) = body["hits"].as_array().unwrap().iter().find(|hit| {
            orderable
                .iter()
                .any(|l| hit["id"].as_str() == Some(l.id().as_str()))
        }) {
            let listing = orderable
                .iter()
                .find(|l| hit["id"].as_str() == Some(l.id().as_str()))
                .unwrap();
            return ((*listing).clone(), hit.clone());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "search never showed the demo: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

on_both_backends! {
    async fn a_new_user_orders_postpaid_and_finance_sees_the_margin(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let operator = app.operator().await;
        let op = Some(operator.access.as_str());
        let (listing, hit) = storefront_listing(&app).await;
        let vendor = listing.vendor().id().to_owned();

        // Operators mark the vendor up 10 %, and this listing 25 %.
        app.expect(201, "POST", "/v1/billing/margin-rules", op, Some(json!({
            "scope": {"vendor": vendor}, "markup": {"type": "percent", "percent": "10"}
        }))).await;
        app.expect(201, "POST", "/v1/billing/margin-rules", op, Some(json!({
            "scope": {"listing": listing.id().as_str()}, "markup": {"type": "percent", "percent": "25"}
        }))).await;
        let (status, err) = app.call("POST", "/v1/billing/margin-rules", op, Some(&json!({
            "markup": {"type": "percent", "percent": "-1"}
        }))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("markup.percent")), "{err}");

        let mut buyer = app.sign_up("buyer@example.com").await;
        let tenant = app.found_enterprise(&mut buyer, "Buyer Cloud").await;
        let token = Some(buyer.access.as_str());
        let body = json!({"listing": hit["id"], "quantity": "2", "payment_mode": "postpaid",
                          "idempotency_key": "first-order"});
        let placed = app.expect(201, "POST", "/v1/orders", token, Some(body.clone())).await;
        let order = &placed["order"];
        // The buyer sees the price it pays, never the platform's cost or margin.
        for private in ["cost", "cost_converted", "margin", "margin_rule", "fx_rate"] {
            assert!(order["price"].get(private).is_none(), "{private} shown: {order}");
        }
        assert_eq!(order["provisioning"], "pending");
        let again = app.expect(200, "POST", "/v1/orders", token, Some(body)).await;
        assert_eq!(again["order"]["id"], order["id"], "the key answers the first order");
        let (status, err) = app.call("POST", "/v1/orders", token, Some(&json!({
            "listing": hit["id"], "quantity": "0", "payment_mode": "postpaid", "idempotency_key": "zero"
        }))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("quantity")), "{err}");
        let real = hit["id"].as_str().unwrap();
        let missing = format!("{}{}", &real[..real.len() - 1], if real.ends_with('a') { 'b' } else { 'a' });
        let (status, err) = app.call("POST", "/v1/orders", token, Some(&json!({
            "listing": missing, "quantity": "1", "payment_mode": "postpaid", "idempotency_key": "x"
        }))).await;
        assert_eq!((status, &err["error"]["field"]), (404, &json!("listing")), "{err}");

        // Operators see the snapshot whole: cost × FX + 25 % (the listing's rule).
        let all = app.expect(200, "GET", "/v1/billing/orders", op, None).await;
        let snapshot = &all["orders"][0]["price"];
        let cost: rust_decimal::Decimal = snapshot["cost_converted"]["amount"].as_str().unwrap().parse().unwrap();
        let sale: rust_decimal::Decimal = snapshot["sale"]["amount"].as_str().unwrap().parse().unwrap();
        let exact = cost * rust_decimal_macros::dec!(1.25);
        assert!(sale >= exact && sale - exact < rust_decimal_macros::dec!(0.000001), "{snapshot}");

        let id = order["id"].as_str().unwrap();
        let moved = app.expect(200, "POST", &format!("/v1/billing/orders/{id}/provisioning"), op,
            Some(json!({"state": "active"}))).await;
        assert_eq!(moved["order"]["provisioning"], "active");
        let (status, _) = app.call("POST", &format!("/v1/billing/orders/{id}/provisioning"), op,
            Some(&json!({"state": "failed"}))).await;
        assert_eq!(status, 409, "an active order cannot fail");
        let mine = app.expect(200, "GET", &format!("/v1/orders/{id}"), token, None).await;
        assert_eq!(mine["order"]["provisioning"], "active");

        // Ten hours of usage on the order's meter.
        let meter = order["meter"].as_str().unwrap();
        let when = (Utc::now() - Duration::minutes(1)).to_rfc3339();
        let report = app.expect(200, "POST", "/v1/usage/events", token, Some(json!({"events": [
            {"idempotency_key": "h-1", "customer": tenant, "meter": meter, "timestamp": when,
             "properties": {"quantity": "4"}},
            {"idempotency_key": "h-2", "customer": tenant, "meter": meter, "timestamp": when,
             "properties": {"quantity": "6"}},
        ]}))).await;
        assert_eq!(report["accepted"], 2, "{report}");

        // The month closes.
        let state = app.state.clone();
        let run = tokio::task::spawn_blocking(move || state.market.billing().bill_run(next_month()))
            .await
            .unwrap()
            .unwrap();
        assert!(run.finalized >= 1, "{run:?}");
        let invoices = app.expect(200, "GET", "/v1/invoices", token, None).await;
        let invoice = &invoices["invoices"][0];
        let line = &invoice["lines"][0];
        let expected = (sale * rust_decimal::Decimal::from(10)).round_dp(2);
        assert_eq!(line["amount"], json!(expected.to_string()), "{invoice}");
        assert!(line["detail"].get("resale").is_none(), "the buyer never sees the cost: {line}");
        let issued = app.expect(200, "GET", &format!("/v1/billing/invoices?customer={tenant}"), op, None).await;
        let finance_line = &issued["invoices"][0]["lines"][0];
        assert_eq!(finance_line["detail"]["resale"]["vendor"], json!(vendor));
        assert_eq!(finance_line["detail"]["resale"]["sale"], json!(expected.to_string()));

        let report = app.expect(200, "GET", "/v1/reports/margin", op, None).await;
        let row = report["rows"].as_array().unwrap().iter()
            .find(|r| r["vendor"] == json!(vendor)).unwrap().clone();
        assert_eq!(row["sale"], json!(expected.to_string()));
        let cost_total: rust_decimal::Decimal = row["cost"].as_str().unwrap().parse().unwrap();
        let margin_total: rust_decimal::Decimal = row["margin"].as_str().unwrap().parse().unwrap();
        assert_eq!(cost_total + margin_total, expected);
        assert_eq!(cost_total, (cost * rust_decimal::Decimal::from(10)).round_dp(2));
        let response = app.client.get(app.url("/v1/reports/margin?format=csv"))
            .bearer_auth(&operator.access).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let csv = response.text().await.unwrap();
        assert!(csv.starts_with("vendor,category,currency,lines,quantity,cost,margin,sale,margin_percent\n"), "{csv}");
        assert!(csv.contains(&format!("{vendor},")), "{csv}");
        let (status, err) = app.call("GET", "/v1/reports/margin?format=xml", op, None).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("format")), "{err}");
        let (status, _) = app.call("GET", "/v1/reports/margin", token, None).await;
        assert_eq!(status, 403, "finance only");
    }

    async fn own_resources_and_stable_contracts(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let op = app.operator().await;
        let op = Some(op.access.as_str());
        let mut tenant = app.sign_up("migrating@example.com").await;
        let enterprise = app.found_enterprise(&mut tenant, "Migrating Co").await;
        let token = Some(tenant.access.as_str());

        let body = json!({"vendor": "aws", "vendor_resource_id": "i-0abc", "region": "us-east-1", "name": "legacy web"});
        let resource = app.expect(201, "POST", "/v1/resources", token, Some(body.clone())).await;
        app.expect(200, "POST", "/v1/resources", token, Some(body)).await;
        let (status, err) = app.call("POST", "/v1/resources", token, Some(&json!({"vendor": "", "vendor_resource_id": "x"}))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("vendor")), "{err}");
        let listed = app.expect(200, "GET", "/v1/resources", token, None).await;
        assert_eq!(listed["resources"].as_array().unwrap().len(), 1);
        assert_eq!(listed["resources"][0]["id"], resource["resource"]["id"]);

        let starts = Utc::now().date_naive() - Duration::days(40);
        let contract = app.expect(201, "POST", "/v1/billing/contracts", op, Some(json!({
            "customer": enterprise, "interval": "monthly",
            "amount": {"amount": "500", "currency": "CNY"}, "starts_on": starts,
            "waived_until_stable": true
        }))).await;
        assert!(contract["contract"]["subscription"].is_null(), "waived: nothing charged yet");
        let mine = app.expect(200, "GET", "/v1/contracts", token, None).await;
        assert_eq!(mine["contracts"].as_array().unwrap().len(), 1);

        let stable = app.expect(200, "POST", "/v1/standing/stable", token, None).await;
        assert!(stable["standing"]["stable_since"].is_string());
        let started = &stable["started"][0];
        let from: NaiveDate = serde_json::from_value(started["charging_from"].clone()).unwrap();
        assert!(from > Utc::now().date_naive() - Duration::days(1), "charging starts at the next period: {from}");
        assert!(from <= Utc::now().date_naive() + Duration::days(31));
        let standing = app.expect(200, "GET", "/v1/standing", token, None).await;
        assert_eq!(standing["stable_since"], stable["standing"]["stable_since"]);
    }
}

/// The wallet balance a tenant reads over HTTP (none before its first credit).
async fn wallet_balance(app: &TestApp, token: Option<&str>) -> Option<rust_decimal::Decimal> {
    let wallets = app.expect(200, "GET", "/v1/wallets", token, None).await;
    wallets["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["currency"] == "CNY")
        .map(|w| {
            let amount = if w["balance"].is_object() {
                &w["balance"]["amount"]
            } else {
                &w["balance"]
            };
            amount.as_str().unwrap().parse().unwrap()
        })
}

/// A top-up paid through Stripe: started by the tenant, confirmed by
/// Stripe's signed webhook.
async fn top_up_through_stripe(
    app: &TestApp,
    stripe: &shiyun_tests::stripe::FakeStripe,
    token: Option<&str>,
    amount: &str,
    key: &str,
) {
    let started = app
        .expect(
            200,
            "POST",
            "/v1/wallets/CNY/top-ups",
            token,
            Some(json!({"amount": amount, "idempotency_key": key})),
        )
        .await;
    let intent = started["attempt"]["provider_reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = stripe.succeed(&intent);
    let payload =
        shiyun_tests::stripe::event(&format!("evt_{key}"), "payment_intent.succeeded", &paid);
    let (status, receipt) =
        crate::payments::deliver(app, &payload, Some(&crate::payments::signed(&payload))).await;
    assert_eq!(
        (status, &receipt["outcome"]),
        (200, &json!("processed")),
        "{receipt}"
    );
}

on_both_backends! {
    async fn a_new_user_prepays_runs_dry_resumes_and_pays_postpaid_through_stripe(backend: Backend) {
        let stripe = shiyun_tests::stripe::FakeStripe::start().unwrap();
        let app = crate::payments::app_with(&stripe, backend).await;
        let (_, hit) = storefront_listing(&app).await;

        // 1. Register, search a listing, order it prepaid, top up the wallet.
        let mut buyer = app.sign_up("prepaid@example.com").await;
        let tenant = app.found_enterprise(&mut buyer, "Prepaid Cloud").await;
        let token = Some(buyer.access.as_str());
        let placed = app.expect(201, "POST", "/v1/orders", token, Some(json!({
            "listing": hit["id"], "quantity": "1", "payment_mode": "prepaid", "idempotency_key": "prepaid-1"
        }))).await;
        let order = placed["order"].clone();
        let id = order["id"].as_str().unwrap().to_owned();
        let meter = order["meter"].as_str().unwrap().to_owned();
        let sale: rust_decimal::Decimal = order["price"]["sale"]["amount"].as_str().unwrap().parse().unwrap();
        assert!(sale > rust_decimal::Decimal::ZERO);
        top_up_through_stripe(&app, &stripe, token, "10.00", "first").await;
        assert_eq!(wallet_balance(&app, token).await, Some(rust_decimal_macros::dec!(10)));
        app.expect(200, "PUT", "/v1/wallets/CNY/settings", token, Some(json!({"low_balance_threshold": "5"}))).await;

        // 2. Usage: the balance falls, then the floor stops it and suspends the order.
        let when = (Utc::now() - Duration::minutes(1)).to_rfc3339();
        let hours = |budget: rust_decimal::Decimal| (budget / sale).floor();
        let first = hours(rust_decimal_macros::dec!(8)).max(rust_decimal::Decimal::ONE);
        let usage = |key: &str, quantity: rust_decimal::Decimal| json!({"events": [{
            "idempotency_key": key, "customer": tenant, "meter": meter, "timestamp": when,
            "properties": {"quantity": quantity.to_string()}
        }]});
        let report = app.expect(200, "POST", "/v1/usage/events", token, Some(usage("u-1", first))).await;
        assert_eq!(report["accepted"], 1, "{report}");
        let left = wallet_balance(&app, token).await.unwrap();
        assert_eq!(left, rust_decimal_macros::dec!(10) - (first * sale).round_dp(6));
        if left < rust_decimal_macros::dec!(5) {
            // The notice is sent after the answer: wait for it to be the
            // newest message (the address's confirmation came first).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let mail = app.mail_to("prepaid@example.com").await;
                if mail.contains("running low") || mail.contains("fell below") {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "no low-balance mail: {mail}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let too_much = hours(left) + rust_decimal::Decimal::ONE;
        let report = app.expect(200, "POST", "/v1/usage/events", token, Some(usage("u-2", too_much))).await;
        assert_eq!(report["results"][0]["status"], "rejected", "{report}");
        assert_eq!(report["results"][0]["error"]["code"], "insufficient_balance", "{report}");
        let suspended = app.expect(200, "GET", &format!("/v1/orders/{id}"), token, None).await;
        assert_eq!(suspended["order"]["suspended"], true);
        assert_eq!(wallet_balance(&app, token).await, Some(left), "nothing was billed into debt");

        // 3. Top up again: the order resumes and the same usage goes through.
        top_up_through_stripe(&app, &stripe, token, "20.00", "second").await;
        let resumed = app.expect(200, "GET", &format!("/v1/orders/{id}"), token, None).await;
        assert_eq!(resumed["order"]["suspended"], false);
        let report = app.expect(200, "POST", "/v1/usage/events", token, Some(usage("u-2", too_much))).await;
        assert_eq!(report["accepted"], 1, "{report}");
        let ledger = app.expect(200, "GET", "/v1/wallets/CNY/ledger", token, None).await;
        assert!(ledger.to_string().contains("usage:u-2"), "{ledger}");

        // 4. A postpaid order: the invoice, the Stripe payment, paid after the webhook.
        let postpaid = app.expect(201, "POST", "/v1/orders", token, Some(json!({
            "listing": hit["id"], "quantity": "1", "payment_mode": "postpaid", "idempotency_key": "postpaid-1"
        }))).await;
        let post_meter = postpaid["order"]["meter"].as_str().unwrap().to_owned();
        let report = app.expect(200, "POST", "/v1/usage/events", token, Some(json!({"events": [{
            "idempotency_key": "p-1", "customer": tenant, "meter": post_meter, "timestamp": when,
            "properties": {"quantity": "100"}
        }]}))).await;
        assert_eq!(report["accepted"], 1, "{report}");
        let state = app.state.clone();
        tokio::task::spawn_blocking(move || state.market.billing().bill_run(next_month()))
            .await
            .unwrap()
            .unwrap();
        let invoices = app.expect(200, "GET", "/v1/invoices", token, None).await;
        let due = invoices["invoices"].as_array().unwrap().iter()
            .find(|i| i["lines"].as_array().unwrap().iter().any(|l| l["meter"] == json!(post_meter)))
            .cloned()
            .unwrap();
        assert_eq!(due["status"], "finalized", "{due}");
        let invoice = due["id"].as_str().unwrap().to_owned();
        let started = app.expect(200, "POST", &format!("/v1/invoices/{invoice}/payments"), token, None).await;
        let intent = started["attempt"]["provider_reference"].as_str().unwrap().to_owned();
        let paid = stripe.succeed(&intent);
        let payload = shiyun_tests::stripe::event("evt_postpaid", "payment_intent.succeeded", &paid);
        let (status, _) = crate::payments::deliver(&app, &payload, Some(&crate::payments::signed(&payload))).await;
        assert_eq!(status, 200);
        let after = app.expect(200, "GET", "/v1/invoices", token, None).await;
        let settled = after["invoices"].as_array().unwrap().iter().find(|i| i["id"] == json!(invoice)).unwrap();
        assert_eq!(settled["status"], "paid", "{settled}");
    }
}
