//! Render and apply 1,000 applications against the in-process API server,
//! then read their status from the watch-fed cache under 200 concurrent
//! readers. Baselines in the same run: the same objects sent as raw
//! server-side-apply requests straight to the fake's service (no rendering,
//! no `kube::Client`), and status read by a GET of the Deployment per
//! request (what the cache spares the API server).
//!
//! `cargo bench -p shiyun-deploy --bench deploy` (`DEPLOY_BENCH_APPS` to change 1000).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use shiyun_core::deploy::AppId;
use shiyun_core::tenancy::{EnterpriseId, ProjectId, Tenant};
use shiyun_deploy::cluster::ClusterApi;
use shiyun_deploy::fake::FakeApiServer;
use shiyun_deploy::kube::KubeCluster;
use shiyun_deploy::model::{AppSpec, ProjectQuota, ProjectTarget, RenderInput};
use shiyun_deploy::render;
use tower::{Service, ServiceExt};

fn spec(i: usize) -> AppSpec {
    serde_json::from_value(serde_json::json!({
        "image": format!("registry.example.com/bench/app:{i}"),
        "ports": [{"name": "http", "port": 8080}],
        "env": {"INDEX": i.to_string()},
        "config_files": [{"path": "/etc/app/app.toml", "content": format!("index = {i}\n")}],
        "resources": {"cpu_millicores": 250, "memory_mib": 256},
        "scale": {"mode": "fixed", "replicas": 2},
        "health": {"http_path": "/healthz", "port": 8080},
    }))
    .unwrap()
}

fn targets(count: usize) -> Vec<(ProjectTarget, AppId, String)> {
    (0..count)
        .map(|i| {
            let project = ProjectId::from_random([(i % 10) as u8; 16]);
            let target = ProjectTarget {
                tenant: Tenant::Enterprise(EnterpriseId::from_random([(i % 10) as u8 + 100; 16])),
                namespace: shiyun_deploy::model::namespace_of(&project),
                project,
                quota: ProjectQuota::default(),
            };
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            (target, AppId::from_random(id), format!("app-{i}"))
        })
        .collect()
}

fn manifests(count: usize) -> Vec<(String, Vec<shiyun_deploy::cluster::Manifest>)> {
    let mut all = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, (target, id, name)) in targets(count).iter().enumerate() {
        let mut objects = Vec::new();
        if seen.insert(target.namespace.clone()) {
            objects.extend(render::project(target));
        }
        let spec = spec(i);
        objects.extend(render::application(&RenderInput {
            target,
            app: id,
            name,
            release: 1,
            spec: &spec,
            replicas: 2,
            autoscale_bounds: None,
            dependencies: &[],
            restarted_at: None,
        }));
        all.push((target.namespace.clone(), objects));
    }
    all
}

/// The API path of an object, as kube would address it.
fn path_of(manifest: &shiyun_deploy::cluster::Manifest) -> String {
    let (prefix, plural) = match manifest.kind() {
        "Namespace" => ("/api/v1", "namespaces"),
        "ResourceQuota" => ("/api/v1", "resourcequotas"),
        "LimitRange" => ("/api/v1", "limitranges"),
        "ConfigMap" => ("/api/v1", "configmaps"),
        "Secret" => ("/api/v1", "secrets"),
        "Service" => ("/api/v1", "services"),
        "NetworkPolicy" => ("/apis/networking.k8s.io/v1", "networkpolicies"),
        "Ingress" => ("/apis/networking.k8s.io/v1", "ingresses"),
        "Deployment" => ("/apis/apps/v1", "deployments"),
        "HorizontalPodAutoscaler" => ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
        _ => ("/apis/batch/v1", "jobs"),
    };
    match manifest.namespace() {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}/{}", manifest.name()),
        None => format!("{prefix}/{plural}/{}", manifest.name()),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count: usize = std::env::var("DEPLOY_BENCH_APPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);

    // Baseline: raw apply requests straight into a fresh fake's service.
    let raw = manifests(count);
    let mut fake = FakeApiServer::new();
    let started = Instant::now();
    let mut requests = 0usize;
    for (_, objects) in &raw {
        for manifest in objects {
            let body = serde_json::to_vec(manifest).unwrap();
            let request = http::Request::builder()
                .method("PATCH")
                .uri(format!(
                    "{}?fieldManager=shiyun&force=true",
                    path_of(manifest)
                ))
                .header("content-type", "application/apply-patch+yaml")
                .body(kube::client::Body::from(body))
                .unwrap();
            let response = fake.ready().await.unwrap().call(request).await.unwrap();
            assert!(
                response.status().is_success(),
                "{} {}",
                path_of(manifest),
                response.status()
            );
            requests += 1;
        }
    }
    let raw_took = started.elapsed();

    // Through the platform: render, then apply with kube::Client.
    let fake = FakeApiServer::new();
    let cluster = Arc::new(KubeCluster::new(kube::Client::new(fake.clone(), "default")));
    let started = Instant::now();
    let rendered = manifests(count);
    let render_took = started.elapsed();
    for (_, objects) in &rendered {
        for manifest in objects {
            cluster.apply(manifest).await.unwrap();
        }
    }
    let platform_took = started.elapsed();
    println!("apps = {count} apps");
    println!("objects = {requests} objects");
    println!(
        "render = {:.0} apps/s",
        count as f64 / render_took.as_secs_f64()
    );
    println!(
        "render_and_apply = {:.0} apps/s",
        count as f64 / platform_took.as_secs_f64()
    );
    println!(
        "raw_apply_baseline = {:.0} apps/s",
        count as f64 / raw_took.as_secs_f64()
    );
    println!(
        "apply_ratio = {:.2} x",
        raw_took.as_secs_f64() / platform_took.as_secs_f64()
    );

    // Status: 200 concurrent readers, from the cache and by a GET each.
    assert!(
        cluster.wait_synced(Duration::from_secs(60)).await,
        "the cache never synced"
    );
    let ids: Arc<Vec<(String, AppId, String)>> = Arc::new(
        targets(count)
            .into_iter()
            .map(|(t, id, name)| (t.namespace, id, name))
            .collect(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.status(&ids[count - 1].0, &ids[count - 1].1).ready < 2 {
        assert!(Instant::now() < deadline, "the cache never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let readers = 200;
    let per_reader = 200;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for r in 0..readers {
        let (cluster, ids) = (cluster.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut found = 0;
            for i in 0..per_reader {
                let (ns, id, _) = &ids[(r * per_reader + i) % ids.len()];
                if cluster.status(ns, id).found {
                    found += 1;
                }
            }
            found
        }));
    }
    let mut found = 0;
    for task in tasks {
        found += task.await.unwrap();
    }
    let cache_took = started.elapsed();
    assert_eq!(
        found,
        readers * per_reader,
        "every status read finds its app"
    );

    let client = kube::Client::new(fake.clone(), "default");
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per_reader_get = 20;
    for r in 0..readers {
        let (client, ids) = (client.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_reader_get {
                let (ns, _, name) = &ids[(r * per_reader_get + i) % ids.len()];
                let api: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), ns);
                api.get(name).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let get_took = started.elapsed();
    let cache_rate = (readers * per_reader) as f64 / cache_took.as_secs_f64();
    let get_rate = (readers * per_reader_get) as f64 / get_took.as_secs_f64();
    println!("status_readers = {readers} tasks");
    println!("status_from_cache = {cache_rate:.0} reads/s");
    println!("status_by_get_baseline = {get_rate:.0} reads/s");
    println!("status_ratio = {:.1} x", cache_rate / get_rate);
}
