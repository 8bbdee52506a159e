//! The deployment platform through HTTP, as a customer meets it: an
//! operator registers a cluster and grants it; the customer places a
//! project, deploys an application from an image, reads its status,
//! address and logs, scales it, updates it, rolls it back in one call,
//! sees a stalled rollout fail and roll back by itself, stops, starts and
//! deletes it, and finds its running cost in the invoice preview.
//!
//! The cluster is the simulated one: the in-process API server behind
//! `kube::Client` (no Kubernetes API server runs on these machines). The
//! same tests run against a real cluster where `SHIYUN_TEST_KUBECONFIG` is
//! set (see `real_cluster_opt_in`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use shiyun_core::deploy::ClusterId;
use shiyun_deploy::fake::Rollouts;
use shiyun_deploy::meter::{Meter as UsageMeter, UsageSink};
use shiyun_server::deploy::BillingSink;

use crate::helpers::{Person, TestApp, on_both_backends};

fn spec(image: &str, replicas: u32, log_level: &str) -> Value {
    json!({
        "image": image,
        "ports": [{"name": "http", "port": 8080}],
        "env": {"LOG_LEVEL": log_level},
        "secrets": {"DATABASE_PASSWORD": "s3cret-value"},
        "config_files": [{"path": "/etc/web/app.toml", "content": "workers = 4\n"}],
        "resources": {"cpu_millicores": 250, "memory_mib": 512},
        "scale": {"mode": "fixed", "replicas": replicas},
        "health": {"http_path": "/healthz", "port": 8080},
        "ingress": [{"host": "shop.example.com", "port": 8080, "tls_secret": "shop-tls"}],
    })
}

/// Polls the application's status until `check` holds (the cache follows
/// the cluster's watch), or fails after ten seconds.
async fn status_until(
    app: &TestApp,
    person: &Person,
    id: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app
            .expect(
                200,
                "GET",
                &format!("/v1/apps/{id}/status"),
                Some(&person.access),
                None,
            )
            .await;
        if check(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "status never matched: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn release_until(
    app: &TestApp,
    person: &Person,
    id: &str,
    version: u64,
    wanted: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let release = app
            .expect(
                200,
                "GET",
                &format!("/v1/apps/{id}/releases/{version}"),
                Some(&person.access),
                None,
            )
            .await;
        if release["status"] == wanted {
            return release;
        }
        assert!(
            Instant::now() < deadline,
            "release {version} never became {wanted}: {release}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An operator's simulated cluster granted to `tenant`.
async fn granted_cluster(app: &TestApp, tenant: &str) -> String {
    let operator = app.operator().await;
    let op = Some(operator.access.as_str());
    let cluster = app
        .expect(
            201,
            "POST",
            "/v1/clusters",
            op,
            Some(json!({"name": "sim-1", "kind": "simulated"})),
        )
        .await;
    let id = cluster["id"].as_str().unwrap().to_owned();
    assert!(cluster.get("credential").is_none() && cluster.get("sealed_credential").is_none());
    let granted = app
        .expect(
            200,
            "PUT",
            &format!("/v1/clusters/{id}/grants/{tenant}"),
            op,
            None,
        )
        .await;
    assert_eq!(granted["grants"], json!([tenant]));
    id
}

/// A person in an enterprise of their own with one project on the cluster.
async fn placed_project(
    app: &TestApp,
    login: &str,
    cluster: Option<&str>,
) -> (Person, String, String) {
    let mut person = app.sign_up(login).await;
    let enterprise = app
        .found_enterprise(&mut person, &format!("{login} corp"))
        .await;
    let project = app
        .expect(
            201,
            "POST",
            "/v1/projects",
            Some(&person.access),
            Some(json!({"name": "shop"})),
        )
        .await;
    let project = project["id"].as_str().unwrap().to_owned();
    if let Some(cluster) = cluster {
        let placed = app
            .expect(
                200,
                "PUT",
                &format!("/v1/projects/{project}/placement"),
                Some(&person.access),
                Some(json!({"cluster": cluster, "quota": {"cpu_millicores": 4000, "memory_mib": 8192, "pods": 20}})),
            )
            .await;
        assert!(
            placed["namespace"]
                .as_str()
                .unwrap()
                .starts_with("shiyun-prj-")
        );
    }
    (person, enterprise, project)
}

on_both_backends! {
    async fn a_customer_deploys_scales_updates_rolls_back_and_sees_the_cost(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.deploy.rollout_poll_ms = 20, |_| {}).await;
        // The tenant exists before the operator grants it the cluster.
        let mut alice = app.sign_up("alice@deploy.test").await;
        let tenant = app.found_enterprise(&mut alice, "Alice Shop").await;
        let cluster = granted_cluster(&app, &tenant).await;
        let me = Some(alice.access.as_str());
        let project = app
            .expect(201, "POST", "/v1/projects", me, Some(json!({"name": "shop"})))
            .await["id"].as_str().unwrap().to_owned();

        // Not placed yet: deploying is refused and says why.
        let (status, err) = app
            .call("POST", &format!("/v1/projects/{project}/apps"), me,
                  Some(&json!({"name": "web", "spec": spec("registry.example.com/shop/web:1.0", 2, "info")})))
            .await;
        assert_eq!((status, err["error"]["code"].as_str()), (409, Some("conflict")), "{err}");

        let placement = app
            .expect(200, "PUT", &format!("/v1/projects/{project}/placement"), me, Some(json!({"cluster": cluster})))
            .await;
        let namespace = placement["namespace"].as_str().unwrap().to_owned();

        // Bad specs are refused field by field, and nothing is created.
        let mut bad = spec("registry.example.com/shop/web:1.0", 2, "info");
        bad["resources"]["cpu_millicores"] = json!(5);
        let (status, err) = app
            .call("POST", &format!("/v1/projects/{project}/apps"), me, Some(&json!({"name": "web", "spec": bad})))
            .await;
        assert_eq!((status, err["error"]["field"].as_str()), (400, Some("resources.cpu_millicores")), "{err}");
        let (status, err) = app
            .call("POST", &format!("/v1/projects/{project}/apps"), me,
                  Some(&json!({"name": "Web_1", "spec": spec("img", 1, "info")})))
            .await;
        assert_eq!((status, err["error"]["field"].as_str()), (400, Some("name")), "{err}");

        // Deploy from an image: release 1 rolls out.
        let created = app
            .expect(201, "POST", &format!("/v1/projects/{project}/apps?wait=true"), me,
                    Some(json!({"name": "web", "spec": spec("registry.example.com/shop/web:1.0", 2, "info")})))
            .await;
        let id = created["app"]["id"].as_str().unwrap().to_owned();
        assert_eq!(created["release"]["version"], 1);
        assert_eq!(created["release"]["status"], "succeeded", "{created}");
        assert_eq!(created["release"]["spec"]["secrets"]["DATABASE_PASSWORD"], "***");

        // Its address, URL and spec, secrets hidden.
        let view = app.expect(200, "GET", &format!("/v1/apps/{id}"), me, None).await;
        assert_eq!(view["address"]["host"], format!("web.{namespace}.svc.cluster.local"));
        assert_eq!(view["address"]["ports"][0]["port"], 8080);
        assert_eq!(view["urls"], json!(["https://shop.example.com/"]));
        assert!(!view.to_string().contains("s3cret-value"), "a secret leaked: {view}");

        // Status from the watch-fed cache: two ready pods on release 1.
        let status = status_until(&app, &alice, &id, |s| s["live"]["ready"] == 2 && s["live"]["pods"].as_array().is_some_and(|p| p.len() == 2)).await;
        assert_eq!(status["live"]["release"], "1");
        let pod = status["live"]["pods"][0]["name"].as_str().unwrap().to_owned();

        // Its log.
        let logs = app.send("GET", &format!("/v1/apps/{id}/logs?pod={pod}&tail=50"), me, None).await;
        assert_eq!(logs.status().as_u16(), 200);
        let text = logs.text().await.unwrap();
        assert!(!text.is_empty(), "the pod's log is empty");
        let (status, err) = app.call("GET", &format!("/v1/apps/{id}/logs?pod=nope"), me, None).await;
        assert_eq!(status, 404, "{err}");

        // Scale out by hand through the scale subresource.
        let scaled = app.expect(200, "POST", &format!("/v1/apps/{id}/scale"), me, Some(json!({"replicas": 3}))).await;
        assert_eq!(scaled["scale_override"]["replicas"], 3);
        status_until(&app, &alice, &id, |s| s["live"]["ready"] == 3).await;
        let (status, err) = app.call("POST", &format!("/v1/apps/{id}/scale"), me, Some(&json!({"min": 1, "max": 3}))).await;
        assert_eq!(status, 400, "a fixed-scale app takes replicas: {err}");

        // Update: release 2 with another log level; release 1 is superseded.
        let mut second = spec("registry.example.com/shop/web:1.1", 2, "debug");
        second["secrets"]["DATABASE_PASSWORD"] = json!("***");
        let release = app
            .expect(201, "POST", &format!("/v1/apps/{id}/releases?wait=true"), me, Some(second))
            .await;
        assert_eq!((release["version"].as_u64(), release["status"].as_str()), (Some(2), Some("succeeded")), "{release}");
        release_until(&app, &alice, &id, 1, "superseded").await;
        let diff = app.expect(200, "GET", &format!("/v1/apps/{id}/compare?from=1&to=2"), me, None).await;
        let paths: Vec<&str> = diff["changes"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
        assert_eq!(paths, vec!["env.LOG_LEVEL", "image"], "{diff}");
        // The release resets the manual scale.
        status_until(&app, &alice, &id, |s| s["live"]["ready"] == 2 && s["live"]["release"] == "2").await;

        // Roll back in one call: release 3 copies release 1.
        let rolled = app
            .expect(201, "POST", &format!("/v1/apps/{id}/rollback?wait=true"), me, Some(json!({})))
            .await;
        assert_eq!(rolled["version"], 3);
        assert_eq!(rolled["rollback_of"], 1);
        assert_eq!(rolled["spec"]["env"]["LOG_LEVEL"], "info");
        assert_eq!(rolled["spec"]["image"], "registry.example.com/shop/web:1.0");
        assert_eq!(rolled["status"], "succeeded", "{rolled}");

        // A rollout that stalls fails at its deadline and rolls back by itself.
        let fake = app.state.deploy.simulated(&ClusterId::parse(&cluster).unwrap()).unwrap();
        fake.set_rollouts(Rollouts::Stall);
        let mut broken = spec("registry.example.com/shop/web:2.0-broken", 2, "info");
        broken["rollout"] = json!({"deadline_seconds": 1, "auto_rollback": true});
        let failed = app
            .expect(201, "POST", &format!("/v1/apps/{id}/releases?wait=true"), me, Some(broken))
            .await;
        assert_eq!((failed["version"].as_u64(), failed["status"].as_str()), (Some(4), Some("failed")), "{failed}");
        assert!(failed["reason"].as_str().unwrap().contains("1 s"), "{failed}");
        let history = app.expect(200, "GET", &format!("/v1/apps/{id}/releases"), me, None).await;
        let newest = &history["releases"][0];
        assert_eq!(newest["version"], 5, "{history}");
        assert_eq!(newest["rollback_of"], 3);
        assert!(newest["description"].as_str().unwrap().starts_with("automatic rollback of v4"));
        fake.set_rollouts(Rollouts::Complete);
        app.expect(200, "POST", &format!("/v1/apps/{id}/restart"), me, None).await;
        release_until(&app, &alice, &id, 5, "succeeded").await;

        // Stop keeps the objects at 0 replicas; start brings them back.
        let stopped = app.expect(200, "POST", &format!("/v1/apps/{id}/stop"), me, None).await;
        assert_eq!(stopped["state"], "stopped");
        status_until(&app, &alice, &id, |s| s["live"]["found"] == true && s["live"]["desired"] == 0 && s["live"]["ready"] == 0).await;
        let (status, _) = app.call("POST", &format!("/v1/apps/{id}/scale"), me, Some(&json!({"replicas": 2}))).await;
        assert_eq!(status, 409);
        app.expect(200, "POST", &format!("/v1/apps/{id}/start"), me, None).await;
        status_until(&app, &alice, &id, |s| s["live"]["ready"] == 2).await;

        // What ran is metered: the meter reports the last minutes, and a
        // meter started again over the same minutes adds nothing.
        let settings = Arc::new(app.state.settings.as_ref().clone());
        // Ten hours on (the meter catches up a day at most here), so the
        // month's preview is worth more than a rounding.
        let mut meter = shiyun_server::deploy::meter(app.state.deploy.clone(), app.state.billing.clone(), settings.clone());
        meter.max_catch_up_minutes = 24 * 60;
        let now = Utc::now() + chrono::Duration::hours(10);
        let report = meter.tick(now).await.unwrap();
        assert!(report.failures.is_empty(), "{report:?}");
        assert!(report.minutes >= 600, "{report:?}");
        assert_eq!(report.events, report.minutes * 2, "a vCPU and a memory event per minute");
        let cost = app.expect(200, "GET", "/v1/deployments/cost", me, None).await;
        let vcpu: f64 = cost["usage"]["deploy_vcpu_minutes"].as_str().unwrap().parse().unwrap();
        assert_eq!(vcpu, report.minutes as f64 * 0.5, "2 × 0.25 vCPU a minute: {cost}");
        assert_eq!(cost["usage"]["deploy_memory_mib_minutes"].as_str().unwrap().parse::<f64>().unwrap(), vcpu / 0.5 * 1024.0, "{cost}");
        let total: f64 = cost["invoice"]["total"]["amount"].as_str().unwrap().parse().unwrap();
        assert!(total > 0.0, "the preview charges for what ran: {cost}");
        // 0.12 a vCPU-hour and 0.015 a GiB-hour: 0.001 + 0.00025 a minute.
        assert_eq!(total, (report.minutes as f64 * 0.00125 * 100.0).round() / 100.0, "{cost}");
        let mut restarted = shiyun_server::deploy::meter(app.state.deploy.clone(), app.state.billing.clone(), settings);
        restarted.max_catch_up_minutes = 24 * 60;
        let again = restarted.tick(now).await.unwrap();
        assert_eq!(again.events, 0, "the watermark holds: {again:?}");
        let after = app.expect(200, "GET", "/v1/deployments/cost", me, None).await;
        assert_eq!(after["usage"], cost["usage"], "a restarted meter counted a minute twice");

        // Killed after billing stored a pass but before the watermark moved:
        // the next meter sends those minutes again and billing takes them as
        // duplicates.
        struct KilledAfterReport(BillingSink);
        impl UsageSink for KilledAfterReport {
            fn report(&self, customer: &str, events: &[Value], now: chrono::DateTime<Utc>) -> Result<(), String> {
                self.0.report(customer, events, now)?;
                Err("killed before the watermark moved".into())
            }
        }
        let later = now + chrono::Duration::minutes(30);
        let sink = BillingSink::new(app.state.billing.clone(), Arc::new(app.state.settings.as_ref().clone()));
        let mut killed = UsageMeter::new(app.state.deploy.clone(), Arc::new(KilledAfterReport(sink)));
        killed.max_catch_up_minutes = 24 * 60;
        let report = killed.tick(later).await.unwrap();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        let stored = app.expect(200, "GET", "/v1/deployments/cost", me, None).await;
        let minutes = |cost: &Value| cost["usage"]["deploy_vcpu_minutes"].as_str().unwrap().parse::<f64>().unwrap() / 0.5;
        assert_eq!(minutes(&stored), minutes(&cost) + 30.0, "{stored}");
        let mut next = shiyun_server::deploy::meter(app.state.deploy.clone(), app.state.billing.clone(), Arc::new(app.state.settings.as_ref().clone()));
        next.max_catch_up_minutes = 24 * 60;
        let resent = next.tick(later).await.unwrap();
        assert_eq!((resent.minutes, resent.failures.len()), (30, 0), "the 30 minutes are sent again: {resent:?}");
        let final_cost = app.expect(200, "GET", "/v1/deployments/cost", me, None).await;
        assert_eq!(final_cost["usage"], stored["usage"], "a resent minute was counted twice");

        // Delete removes everything the application owned.
        let deleted = app.expect(200, "DELETE", &format!("/v1/apps/{id}"), me, None).await;
        assert!(deleted["objects"].as_u64().unwrap() >= 5, "{deleted}");
        let listed = app.expect(200, "GET", "/v1/apps", me, None).await;
        assert_eq!(listed["apps"], json!([]));
        let (status, _) = app.call("POST", &format!("/v1/apps/{id}/restart"), me, None).await;
        assert_eq!(status, 404);
        assert!(fake.get("Deployment", &namespace, "web").is_none(), "the Deployment is gone");
    }

    async fn autoscaling_owns_replicas_dependencies_find_each_other_and_builds_deploy(backend: Backend) {
        let app = TestApp::spawn_with(
            backend,
            |s| {
                s.deploy.rollout_poll_ms = 20;
                s.deploy.builder_image = Some("registry.example.com/builder:1".into());
                s.deploy.registry = Some("registry.example.com/apps".into());
            },
            |_| {},
        )
        .await;
        let mut carol = app.sign_up("carol@deploy.test").await;
        let tenant = app.found_enterprise(&mut carol, "Carol Co").await;
        let cluster = granted_cluster(&app, &tenant).await;
        let me = Some(carol.access.as_str());
        let project = app.expect(201, "POST", "/v1/projects", me, Some(json!({"name": "svc"}))).await["id"].as_str().unwrap().to_owned();
        let placed = app.expect(200, "PUT", &format!("/v1/projects/{project}/placement"), me, Some(json!({"cluster": cluster}))).await;
        let namespace = placed["namespace"].as_str().unwrap().to_owned();
        let fake = app.state.deploy.simulated(&ClusterId::parse(&cluster).unwrap()).unwrap();

        // A database, then an API that depends on it and autoscales.
        let mut db = spec("postgres:16", 1, "info");
        db["ports"] = json!([{"name": "pg", "port": 5432}]);
        db["health"] = json!({"port": 5432});
        db["ingress"] = json!([]);
        app.expect(201, "POST", &format!("/v1/projects/{project}/apps?wait=true"), me, Some(json!({"name": "orders-db", "spec": db}))).await;
        let mut api = spec("registry.example.com/orders/api:1", 1, "info");
        api["scale"] = json!({"mode": "auto", "min": 2, "max": 6, "cpu_percent": 70});
        api["dependencies"] = json!(["orders-db"]);
        let (status, err) = app
            .call("POST", &format!("/v1/projects/{project}/apps"), me,
                  Some(&json!({"name": "bad", "spec": {"image": "x:1", "resources": {"cpu_millicores": 100, "memory_mib": 64},
                       "scale": {"mode": "fixed", "replicas": 1}, "dependencies": ["nope"]}})))
            .await;
        assert_eq!((status, err["error"]["field"].as_str()), (400, Some("dependencies[0]")), "{err}");
        let created = app
            .expect(201, "POST", &format!("/v1/projects/{project}/apps?wait=true"), me, Some(json!({"name": "orders-api", "spec": api})))
            .await;
        let id = created["app"]["id"].as_str().unwrap().to_owned();

        // The dependency's address is in the environment.
        let deployment = fake.get("Deployment", &namespace, "orders-api").unwrap();
        let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
        assert!(env.contains(&format!("orders-db.{namespace}.svc.cluster.local")), "{env}");
        assert!(env.contains("ORDERS_DB_HOST") && env.contains("ORDERS_DB_PORT") && env.contains("5432"), "{env}");

        // The HPA owns the replicas (the render tests hold that the
        // Deployment leaves them out; the API server defaults them).
        let hpa = fake.get("HorizontalPodAutoscaler", &namespace, "orders-api").unwrap();
        assert_eq!((hpa["spec"]["minReplicas"].as_i64(), hpa["spec"]["maxReplicas"].as_i64()), (Some(2), Some(6)));

        // A manual scale moves the HPA's bounds, not the Deployment.
        let scaled = app.expect(200, "POST", &format!("/v1/apps/{id}/scale"), me, Some(json!({"min": 3, "max": 8}))).await;
        assert_eq!((scaled["scale_override"]["min"].as_u64(), scaled["scale_override"]["max"].as_u64()), (Some(3), Some(8)));
        let hpa = fake.get("HorizontalPodAutoscaler", &namespace, "orders-api").unwrap();
        assert_eq!((hpa["spec"]["minReplicas"].as_i64(), hpa["spec"]["maxReplicas"].as_i64()), (Some(3), Some(8)), "{hpa}");
        let (status, err) = app.call("POST", &format!("/v1/apps/{id}/scale"), me, Some(&json!({"min": 5, "max": 2}))).await;
        assert_eq!(status, 400, "{err}");
        let touched_scale = fake
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/deployments/orders-api/scale"));
        assert!(!touched_scale, "a manual scale of an autoscaled app went to the Deployment");

        // Stopping removes the HPA (it cannot go to zero) and keeps the rest.
        app.expect(200, "POST", &format!("/v1/apps/{id}/stop"), me, None).await;
        assert!(fake.get("HorizontalPodAutoscaler", &namespace, "orders-api").is_none());
        assert!(fake.get("Service", &namespace, "orders-api").is_some());
        app.expect(200, "POST", &format!("/v1/apps/{id}/start"), me, None).await;
        assert!(fake.get("HorizontalPodAutoscaler", &namespace, "orders-api").is_some());

        // A build from a repository: a Job, its log, then a release of its image.
        let build = app
            .expect(201, "POST", &format!("/v1/apps/{id}/builds"), me,
                    Some(json!({"repository": "https://git.example.com/orders/api.git", "revision": "v2"})))
            .await;
        let build_id = build["id"].as_str().unwrap().to_owned();
        let job = fake.objects("Job");
        assert_eq!(job.len(), 1);
        assert!(job[0].to_string().contains("https://git.example.com/orders/api.git"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = app.expect(200, "GET", &format!("/v1/apps/{id}/builds/{build_id}"), me, None).await;
            if state["status"] == "succeeded" {
                break;
            }
            assert!(Instant::now() < deadline, "the build never finished: {state}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = app.send("GET", &format!("/v1/apps/{id}/builds/{build_id}/logs"), me, None).await;
        assert_eq!(log.status().as_u16(), 200);
        let release = app
            .expect(201, "POST", &format!("/v1/apps/{id}/builds/{build_id}/deploy?wait=true"), me, None)
            .await;
        assert_eq!(release["spec"]["image"], build["image"]);
        assert_eq!(release["status"], "succeeded", "{release}");
        let (status, _) = app
            .call("POST", &format!("/v1/apps/{id}/builds"), me, Some(&json!({"repository": "git@example.com:x.git"})))
            .await;
        assert_eq!(status, 400, "only https repositories");
    }

    async fn tenants_never_see_each_others_clusters_projects_or_apps(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.deploy.rollout_poll_ms = 20, |_| {}).await;
        let mut alice = app.sign_up("alice@iso.test").await;
        let tenant = app.found_enterprise(&mut alice, "Alice Iso").await;
        let cluster = granted_cluster(&app, &tenant).await;
        let me = Some(alice.access.as_str());
        let project = app.expect(201, "POST", "/v1/projects", me, Some(json!({"name": "p"}))).await["id"].as_str().unwrap().to_owned();
        app.expect(200, "PUT", &format!("/v1/projects/{project}/placement"), me, Some(json!({"cluster": cluster}))).await;
        let created = app
            .expect(201, "POST", &format!("/v1/projects/{project}/apps?wait=true"), me,
                    Some(json!({"name": "api", "spec": spec("img:1", 1, "info")})))
            .await;
        let id = created["app"]["id"].as_str().unwrap().to_owned();

        // Bob's enterprise is not granted the cluster.
        let (bob, _, bob_project) = placed_project(&app, "bob@iso.test", None).await;
        let bob_token = Some(bob.access.as_str());
        let (status, err) = app
            .call("PUT", &format!("/v1/projects/{bob_project}/placement"), bob_token, Some(&json!({"cluster": cluster})))
            .await;
        assert_eq!((status, err["error"]["code"].as_str()), (403, Some("forbidden")), "{err}");
        let clusters = app.expect(200, "GET", "/v1/clusters", bob_token, None).await;
        assert_eq!(clusters["clusters"], json!([]));
        let mine = app.expect(200, "GET", "/v1/clusters", me, None).await;
        assert_eq!(mine["clusters"][0]["id"], cluster);
        assert_eq!(mine["clusters"][0]["grants"], json!([]), "tenants do not see grant lists");

        // Alice's project and application are invisible to Bob.
        for path in [
            format!("/v1/apps/{id}"),
            format!("/v1/apps/{id}/status"),
            format!("/v1/apps/{id}/releases"),
            format!("/v1/projects/{project}/apps"),
            format!("/v1/projects/{project}/placement"),
        ] {
            let (status, body) = app.call("GET", &path, bob_token, None).await;
            assert_eq!(status, 404, "{path}: {body}");
        }
        for (method, path) in [("POST", format!("/v1/apps/{id}/stop")), ("DELETE", format!("/v1/apps/{id}"))] {
            let (status, body) = app.call(method, &path, bob_token, Some(&json!({}))).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
        }
        let listed = app.expect(200, "GET", "/v1/apps", bob_token, None).await;
        assert_eq!(listed["apps"], json!([]));

        // In the cluster, Alice's namespace is labelled with her tenant and
        // its policy admits only her tenant's namespaces.
        let fake = app.state.deploy.simulated(&ClusterId::parse(&cluster).unwrap()).unwrap();
        let namespace = format!("shiyun-{}", project.replace('_', "-"));
        let ns = fake.get("Namespace", "", &namespace).unwrap();
        assert_eq!(ns["metadata"]["labels"]["shiyun.io/tenant"], tenant);
        let policy = fake.get("NetworkPolicy", &namespace, "shiyun-tenant-isolation").unwrap();
        assert!(policy.to_string().contains(&tenant), "{policy}");
    }
}
