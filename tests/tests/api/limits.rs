//! Rate limits (429 with `Retry-After`), lockout (the same answer as a
//! wrong password), and the timing of "unknown account" against "wrong
//! password", which must not tell them apart.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, on_both_backends};

async fn log_in(app: &TestApp, login: &str, password: &str) -> reqwest::Response {
    app.send(
        "POST",
        "/v1/auth/login",
        None,
        Some(&json!({"login": login, "password": password})),
    )
    .await
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

on_both_backends! {
    async fn too_many_attempts_get_429_with_retry_after(backend: Backend) {
        let app = TestApp::spawn_with(backend, |_| {}, |c| {
            c.login_attempts_per_minute = 3;
            c.ip_attempts_per_minute = 8;
            c.lockout.max_failures = 1_000;
        })
        .await;
        app.sign_up("busy@example.com").await;

        // Per login: the fourth try in a minute (signing up logged in once)
        // is refused, right password or not.
        let mut statuses = Vec::new();
        for _ in 0..2 {
            statuses.push(log_in(&app, "busy@example.com", "Wrong-Password-1").await.status().as_u16());
        }
        assert_eq!(statuses, [401, 401]);
        let limited = log_in(&app, "busy@example.com", PASSWORD).await;
        assert_eq!(limited.status().as_u16(), 429);
        let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let (_, body) = answer(limited).await;
        assert_eq!(body["error"]["code"], "rate_limited");

        // Per address: other logins from the same address run out too.
        let mut limited = false;
        for i in 0..10 {
            let response = log_in(&app, &format!("nobody-{i}@example.com"), "Wrong-Password-1").await;
            if response.status().as_u16() == 429 {
                assert!(response.headers().contains_key("retry-after"));
                limited = true;
                break;
            }
        }
        assert!(limited, "the address was never limited");
        // Reset requests have buckets of their own, as tight.
        let reset = json!({"login": "busy@example.com"});
        for _ in 0..3 {
            app.expect(202, "POST", "/v1/auth/password-reset", None, Some(reset.clone())).await;
        }
        let limited = app.send("POST", "/v1/auth/password-reset", None, Some(&reset)).await;
        assert_eq!(limited.status().as_u16(), 429);
        assert!(limited.headers().contains_key("retry-after"));
    }

    async fn a_locked_account_answers_like_a_wrong_password(backend: Backend) {
        let app = TestApp::spawn_with(backend, |_| {}, |c| {
            c.lockout.max_failures = 3;
        })
        .await;
        app.sign_up("locked@example.com").await;
        let (status, wrong) = answer(log_in(&app, "locked@example.com", "Wrong-Password-1").await).await;
        assert_eq!(status, 401);
        let (_, unknown) = answer(log_in(&app, "ghost@example.com", "Wrong-Password-1").await).await;
        assert_eq!(unknown, wrong, "an unknown account answers like a wrong password");
        for _ in 0..2 {
            log_in(&app, "locked@example.com", "Wrong-Password-1").await;
        }
        // Locked: even the right password gets the wrong-password answer.
        let (status, locked) = answer(log_in(&app, "locked@example.com", PASSWORD).await).await;
        assert_eq!((status, &locked), (401, &wrong));
        // Other accounts are not locked with it.
        app.sign_up("free@example.com").await;
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Log-in latency with an unknown login against a known login with a
/// wrong password, interleaved, with the production argon2 cost. Without
/// the dummy hash an unknown login would answer in a fraction of the time
/// (no hash to verify), far below the 60% this allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_accounts_and_wrong_passwords_take_as_long() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        |_| {},
        |c| {
            let production = shiyun_accounts::AccountsConfig::new(c.signing_key.clone());
            c.argon2_memory_kib = production.argon2_memory_kib;
            c.argon2_iterations = production.argon2_iterations;
            c.lockout.max_failures = 1_000;
        },
    )
    .await;
    app.sign_up("timed@example.com").await;
    // Warm both paths (connections, caches) before measuring.
    for login in ["timed@example.com", "warm-up@example.com"] {
        log_in(&app, login, "Wrong-Password-1").await;
    }
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..40 {
        let started = Instant::now();
        let status = log_in(&app, &format!("ghost-{i}@example.com"), "Wrong-Password-1")
            .await
            .status();
        unknown.push(started.elapsed());
        assert_eq!(status.as_u16(), 401);
        let started = Instant::now();
        let status = log_in(&app, "timed@example.com", "Wrong-Password-1")
            .await
            .status();
        wrong.push(started.elapsed());
        assert_eq!(status.as_u16(), 401);
    }
    let (unknown, wrong) = (median(unknown), median(wrong));
    let ratio = unknown.min(wrong).as_secs_f64() / unknown.max(wrong).as_secs_f64();
    eprintln!("login medians: unknown {unknown:?}, wrong password {wrong:?}, ratio {ratio:.2}");
    assert!(
        ratio >= 0.6,
        "unknown {unknown:?} vs wrong password {wrong:?} can be told apart"
    );
}

/// Behind a trusted proxy each client address has its own budget; without
/// the setting, `X-Forwarded-For` is a header like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    async fn attempts(app: &TestApp, from: &str) -> Vec<u16> {
        let mut statuses = Vec::new();
        for i in 0..3 {
            let response = app
                .client
                .post(app.url("/v1/auth/login"))
                .header("x-forwarded-for", from)
                .json(&json!({"login": format!("who-{i}@example.com"), "password": "Wrong-Password-1"}))
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        statuses
    }
    let limited = |c: &mut shiyun_accounts::AccountsConfig| c.ip_attempts_per_minute = 2;

    let trusting =
        TestApp::spawn_with(Backend::Sqlite, |s| s.trust_forwarded_for = true, limited).await;
    assert_eq!(attempts(&trusting, "203.0.113.1").await, [401, 401, 429]);
    assert_eq!(
        attempts(&trusting, "10.0.0.1, 203.0.113.2").await,
        [401, 401, 429],
        "the last hop counts"
    );

    let direct = TestApp::spawn_with(Backend::Sqlite, |_| {}, limited).await;
    assert_eq!(attempts(&direct, "203.0.113.1").await, [401, 401, 429]);
    assert_eq!(
        attempts(&direct, "203.0.113.2").await,
        [429, 429, 429],
        "the peer address counts"
    );
}
