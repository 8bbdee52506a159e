//! Billing through HTTP: an operator sets up meters, a plan, a customer and
//! a subscription; a tenant reports its own usage (per-event answers); the
//! bill run issues the invoice the tenant then reads; exports stream; the
//! preview prices a plan.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_both_backends};

fn plan(code: &str, fee: &str) -> Value {
    json!({"plan": {
        "code": code, "name": "Calls monthly", "currency": "CNY", "interval": "monthly",
        "billing_time": "calendar", "pay_in": "arrears", "recurring_fee": fee,
        "charges": [{"meter": "calls", "model": "standard", "unit_price": "0.5"}]
    }})
}

on_both_backends! {
    async fn usage_in_invoices_out(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.max_body_bytes = 1024 * 1024, |_| {}).await;
        let op = app.operator().await;
        let op = Some(op.access.as_str());
        let mut tenant = app.sign_up("tenant@example.com").await;
        let enterprise = app.found_enterprise(&mut tenant, "Tenant Cloud").await;
        let mut other = app.sign_up("other@example.com").await;
        app.found_enterprise(&mut other, "Other Cloud").await;

        app.expect(201, "POST", "/v1/billing/meters", op, Some(json!({"code": "calls", "name": "Calls", "aggregation": "count"}))).await;
        app.expect(200, "POST", "/v1/billing/meters", op, Some(json!({"code": "calls", "name": "Calls", "aggregation": "count"}))).await;
        let (status, err) = app.call("POST", "/v1/billing/meters", op, Some(&json!({"code": "gb", "name": "GB", "aggregation": "sum"}))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("property")), "{err}");

        app.expect(201, "POST", "/v1/billing/plans", op, Some(plan("calls-monthly", "10"))).await;
        app.expect(200, "POST", "/v1/billing/plans", op, Some(plan("calls-monthly", "10"))).await;
        let (status, _) = app.call("POST", "/v1/billing/plans", op, Some(&plan("calls-monthly", "11"))).await;
        assert_eq!(status, 409, "plans never change");
        let mut bad = plan("bad", "1");
        bad["plan"]["charges"][0] = json!({"meter": "calls", "model": "graduated", "tiers": [
            {"up_to": "10", "unit_price": "1", "flat_fee": "0"},
            {"up_to": "5", "unit_price": "1", "flat_fee": "0"}]});
        let (status, err) = app.call("POST", "/v1/billing/plans", op, Some(&bad)).await;
        assert_eq!(status, 400, "{err}");
        assert!(err["error"]["field"].as_str().unwrap().starts_with("plan.charges[0].tiers"), "{err}");

        // The previous calendar month (UTC) has ended; usage just before this month is in it.
        let today = Utc::now().date_naive();
        let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
        let last_month = (this_month - Duration::days(1)).with_day(1).unwrap();
        app.expect(200, "PUT", &format!("/v1/billing/customers/{enterprise}"), op,
            Some(json!({"name": "Tenant Cloud", "timezone": "UTC", "tax_rate": "0.06"}))).await;
        app.expect(201, "POST", "/v1/billing/subscriptions", op, Some(json!({
            "customer": enterprise, "plan": "calls-monthly", "starts_on": last_month.to_string()
        }))).await;

        let at = (this_month.and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::hours(1)).to_rfc3339();
        let event = |key: &str, customer: &str| json!({
            "idempotency_key": key, "customer": customer, "meter": "calls", "timestamp": at, "properties": {}
        });
        let token = Some(tenant.access.as_str());
        let batch = json!({"events": [event("a", &enterprise), event("b", &enterprise), event("c", &enterprise), event("d", "someone-else"), {"customer": enterprise}]});
        let report = app.expect(200, "POST", "/v1/usage/events", token, Some(batch.clone())).await;
        assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(3), Some(2)), "{report}");
        assert_eq!(report["results"][3]["error"]["code"], "forbidden", "{report}");
        assert_eq!(report["results"][4]["error"]["field"], "idempotency_key", "{report}");
        let again = app.expect(200, "POST", "/v1/usage/events", token, Some(batch)).await;
        assert_eq!(again["duplicates"], 3, "{again}");
        let too_many: Vec<Value> = (0..1001).map(|i| event(&format!("x{i}"), &enterprise)).collect();
        let (status, err) = app.call("POST", "/v1/usage/events", token, Some(&json!({"events": too_many}))).await;
        assert_eq!(status, 400, "{err}");

        let run = app.expect(200, "POST", "/v1/billing/runs", op, None).await;
        assert_eq!((run["drafted"].as_u64(), run["finalized"].as_u64()), (Some(1), Some(1)), "{run}");
        let mine = app.expect(200, "GET", "/v1/invoices", token, None).await;
        let invoices = mine["invoices"].as_array().unwrap();
        assert_eq!(invoices.len(), 1, "{mine}");
        let invoice = &invoices[0];
        assert_eq!(invoice["number"], "SY-000001");
        let usage = invoice["lines"].as_array().unwrap().iter().find(|l| l["kind"] == "usage").unwrap();
        assert_eq!((usage["quantity"].as_str(), usage["amount"].as_str()), (Some("3"), Some("1.50")), "{usage}");
        assert_eq!(invoice["totals"]["total"]["amount"], "12.19", "10 + 1.50, 6 % tax: {invoice}");
        let theirs = app.expect(200, "GET", "/v1/invoices", Some(other.access.as_str()), None).await;
        assert_eq!(theirs["invoices"], json!([]), "{theirs}");

        let range = format!("from={last_month}&to={}", this_month + Duration::days(1));
        let response = app.send("GET", &format!("/v1/exports/invoices?{range}&format=csv"), op, None).await;
        assert_eq!(response.status().as_u16(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let csv = response.text().await.unwrap();
        assert_eq!(csv.lines().count(), 2, "{csv}");
        assert!(csv.contains("SY-000001"), "{csv}");
        let response = app.send("GET", &format!("/v1/exports/usage?{range}&format=jsonl"), op, None).await;
        assert_eq!(response.text().await.unwrap().lines().count(), 3);
        let (status, err) = app.call("GET", &format!("/v1/exports/journal?from={this_month}&to={last_month}"), op, None).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("to")), "{err}");

        let preview = app.expect(200, "POST", "/v1/billing/preview", op, Some(json!({
            "plan_code": "calls-monthly", "from": "2026-01-01", "to": "2026-02-01",
            "tax_rate": "0.06", "quantities": {"calls": "4"}
        }))).await;
        assert_eq!(preview["total"], json!({"amount": "12.72", "currency": "CNY"}), "{preview}");
        let inline = app.expect(200, "POST", "/v1/billing/preview", op, Some(json!({
            "plan": plan("draft-plan", "20")["plan"], "from": "2026-01-01", "to": "2026-02-01",
            "events": [{"meter": "calls", "timestamp": "2026-01-05T00:00:00Z"},
                       {"meter": "calls", "timestamp": "2026-01-06T00:00:00Z", "idempotency_key": "k"},
                       {"meter": "calls", "timestamp": "2026-01-06T00:00:00Z", "idempotency_key": "k"}]
        }))).await;
        assert_eq!(inline["total"]["amount"], "21.00", "{inline}");
        assert_eq!(inline["duplicate_events"], 1, "{inline}");
    }
}

on_both_backends! {
    async fn the_schedule_runs_bill_runs_under_the_job_lock(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let op = app.operator().await;
        let op = Some(op.access.as_str());
        app.expect(201, "POST", "/v1/billing/meters", op, Some(json!({"code": "calls", "name": "Calls", "aggregation": "count"}))).await;
        app.expect(201, "POST", "/v1/billing/plans", op, Some(plan("calls-monthly", "10"))).await;
        app.expect(200, "PUT", "/v1/billing/customers/c1", op,
            Some(json!({"name": "C1", "timezone": "UTC", "tax_rate": "0"}))).await;
        // Last calendar month has ended: one period is due.
        let today = Utc::now().date_naive();
        let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
        let last_month = (this_month - Duration::days(1)).with_day(1).unwrap();
        app.expect(201, "POST", "/v1/billing/subscriptions", op,
            Some(json!({"customer": "c1", "plan": "calls-monthly", "starts_on": last_month.to_string()}))).await;

        // Another instance holds the lock: the scheduled run waits its turn.
        let held = shiyun_core::store::JobLock::try_lock_job(
            app.state.job_lock.as_ref(), shiyun_server::billing::BILL_RUN_JOB,
        ).unwrap().unwrap();
        let mut settings = shiyun_server::settings::Settings::defaults().unwrap();
        settings.billing.bill_run_schedule = "* * * * * *".into();
        let schedule = tokio::spawn(shiyun_server::billing::run_bill_runs(
            app.state.billing.clone(), app.state.wallets.clone(), app.state.job_lock.clone(), settings,
        ));
        tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
        let none = app.expect(200, "GET", "/v1/billing/invoices", op, None).await;
        assert_eq!(none["invoices"], json!([]), "the lock is held: {none}");
        drop(held);
        let mut invoices = Value::Null;
        for _ in 0..100 {
            invoices = app.expect(200, "GET", "/v1/billing/invoices", op, None).await;
            // Drafted and finalised in two transactions: wait for the second.
            if invoices["invoices"][0]["status"] == "finalized" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        schedule.abort();
        assert_eq!(invoices["invoices"].as_array().map(Vec::len), Some(1), "{invoices}");
        let first = &invoices["invoices"][0];
        assert_eq!((&first["number"], &first["status"]), (&json!("SY-000001"), &json!("finalized")), "{invoices}");
    }
}
