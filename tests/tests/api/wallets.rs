//! Prepaid wallets through HTTP: an operator credits a tenant's wallet and
//! debits it; a debit past the floor is 402 `insufficient_balance`; the
//! tenant reads its wallet and ledger, sets its threshold but not its
//! floor, and is mailed when a debit takes it below the threshold.

use serde_json::json;

use crate::helpers::{TestApp, on_both_backends};

on_both_backends! {
    async fn credits_debits_the_floor_and_the_low_balance_mail(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let op = app.operator().await;
        let op = Some(op.access.as_str());
        let tenant = app.sign_up("wallet-owner@example.com").await;
        let me = tenant.account.clone();
        let token = Some(tenant.access.as_str());
        let wallet = |rest: &str| format!("/v1/billing/customers/{me}/wallets/CNY/{rest}");

        // Not a customer yet: no wallets, and nothing to credit.
        let empty = app.expect(200, "GET", "/v1/wallets", token, None).await;
        assert_eq!(empty["wallets"], json!([]), "{empty}");
        let top_up = json!({"kind": "top_up", "amount": "50.00", "key": "pay-1", "reference": "pi_1"});
        let (status, err) = app.call("POST", &wallet("credits"), op, Some(&top_up)).await;
        assert_eq!((status, &err["error"]["code"]), (404, &json!("not_found")), "{err}");
        app.expect(200, "PUT", &format!("/v1/billing/customers/{me}"), op,
            Some(json!({"name": "Wallet Owner", "timezone": "UTC", "tax_rate": "0"}))).await;

        let credited = app.expect(201, "POST", &wallet("credits"), op, Some(top_up.clone())).await;
        assert_eq!(credited["balance"], json!({"amount": "50.00", "currency": "CNY"}), "{credited}");
        let again = app.expect(200, "POST", &wallet("credits"), op, Some(top_up)).await;
        assert_eq!(again["balance"]["amount"], "50.00", "a replay credits nothing: {again}");
        let (status, err) = app.call("POST", &wallet("credits"), op,
            Some(&json!({"kind": "top_up", "amount": "60", "key": "pay-1"}))).await;
        assert_eq!((status, &err["error"]["code"]), (422, &json!("idempotency_conflict")), "{err}");
        app.expect(201, "POST", &wallet("credits"), op, Some(json!({
            "kind": "grant", "amount": "5", "key": "promo-1", "expires_at": "2099-01-01T00:00:00Z"
        }))).await;

        // The tenant sets its threshold; it cannot give itself an overdraft.
        let settings = app.expect(200, "PUT", "/v1/wallets/CNY/settings", token,
            Some(json!({"low_balance_threshold": "20"}))).await;
        assert_eq!(settings["settings"]["low_balance_threshold"], "20", "{settings}");
        let (status, err) = app.call("PUT", "/v1/wallets/CNY/settings", token,
            Some(&json!({"floor": "-100"}))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("body")), "{err}");
        let (status, _) = app.call("PUT", &wallet("settings"), token, Some(&json!({"floor": "-100"}))).await;
        assert_eq!(status, 403, "the floor is the operator's");

        // 55 → 40: above the threshold, no mail; the grant goes first.
        let debit = |key: &str, amount: &str| json!({"amount": amount, "key": key, "description": "GPU minutes"});
        let first = app.expect(201, "POST", &wallet("debits"), op, Some(debit("use-1", "15"))).await;
        assert_eq!(first["balance_after"]["amount"], "40.00", "{first}");
        assert_eq!(first["drawn"].as_array().unwrap().len(), 2, "grant, then top-up: {first}");
        assert_eq!(first["low_balance"], false);
        // 40 → 12.5: crosses 20, the owner is mailed.
        let second = app.expect(201, "POST", &wallet("debits"), op, Some(debit("use-2", "27.5"))).await;
        assert_eq!((second["balance_after"]["amount"].as_str(), second["low_balance"].as_bool()),
            (Some("12.50"), Some(true)), "{second}");
        assert_eq!(app.mailed("wallet-owner@example.com", "balance").await, "12.50 CNY");
        let replay = app.expect(200, "POST", &wallet("debits"), op, Some(debit("use-2", "27.5"))).await;
        assert_eq!((replay["replayed"].as_bool(), replay["transaction"].clone()),
            (Some(true), second["transaction"].clone()), "{replay}");

        // Past the floor: 402 with a stable code, and nothing taken.
        let (status, err) = app.call("POST", &wallet("debits"), op, Some(&debit("use-3", "12.51"))).await;
        assert_eq!(status, 402, "{err}");
        assert_eq!(err["error"]["code"], "insufficient_balance", "{err}");
        let (status, err) = app.call("POST", &wallet("debits"), op, Some(&debit("use-4", "-1"))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("amount")), "{err}");
        let (status, err) = app.call("POST", "/v1/billing/customers/nobody/wallets/XYZ/debits", op,
            Some(&debit("use-5", "1"))).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("currency")), "{err}");
        let (status, err) = app.call("POST", "/v1/billing/customers/nobody/wallets/CNY/debits", op,
            Some(&debit("use-6", "1"))).await;
        assert_eq!((status, &err["error"]["code"]), (402, &json!("insufficient_balance")), "no wallet: {err}");

        // The operator allows an overdraft of 10; the tenant's own settings keep it.
        app.expect(200, "PUT", &wallet("settings"), op,
            Some(json!({"floor": "-10", "low_balance_threshold": "20"}))).await;
        let kept = app.expect(200, "PUT", "/v1/wallets/CNY/settings", token,
            Some(json!({"low_balance_threshold": "5"}))).await;
        assert_eq!(kept["settings"]["floor"], "-10", "{kept}");
        let over = app.expect(201, "POST", &wallet("debits"), op, Some(debit("use-7", "22.5"))).await;
        assert_eq!(over["balance_after"]["amount"], "-10.00", "{over}");
        let (status, _) = app.call("POST", &wallet("debits"), op, Some(&debit("use-8", "0.01"))).await;
        assert_eq!(status, 402);

        // The tenant reads its wallet and its ledger, page by page.
        let mine = app.expect(200, "GET", "/v1/wallets", token, None).await;
        assert_eq!(mine["wallets"][0]["balance"]["amount"], "-10.00", "{mine}");
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/wallets/CNY/ledger?limit=4&cursor={c}"),
                None => "/v1/wallets/CNY/ledger?limit=4".to_owned(),
            };
            let page = app.expect(200, "GET", &path, token, None).await;
            seen.extend(page["postings"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let sum = |account: &str| -> rust_decimal::Decimal {
            seen.iter()
                .filter(|p| p["account"] == account)
                .map(|p| p["amount"]["amount"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap())
                .sum()
        };
        assert_eq!(sum("wallet"), rust_decimal_macros::dec!(-10), "the ledger sums to the balance");
        assert_eq!(sum("prepaid_applied"), rust_decimal_macros::dec!(65));
        let (status, err) = app.call("GET", "/v1/wallets/CNY/ledger?cursor=x", token, None).await;
        assert_eq!((status, &err["error"]["field"]), (400, &json!("cursor")), "{err}");
        // Another tenant sees none of it.
        let other = app.sign_up("someone-else@example.com").await;
        let theirs = app.expect(200, "GET", "/v1/wallets/CNY/ledger", Some(other.access.as_str()), None).await;
        assert_eq!(theirs["postings"], json!([]), "{theirs}");
    }
}
