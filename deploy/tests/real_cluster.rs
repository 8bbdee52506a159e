//! The end states against a real cluster, opt in: `scripts/test` runs this
//! with `--ignored` when `SHIYUN_TEST_KUBECONFIG` names a kubeconfig, and
//! says it skipped it otherwise (no Kubernetes API server can run on the
//! machines the suite normally runs on, and a skipped test is not a pass).
//!
//! deploy → scale → update → a rollout that cannot complete (an image that
//! does not exist) → stop → delete, in a namespace of its own, removed at
//! the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]

use std::time::{Duration, Instant};

use shiyun_core::deploy::AppId;
use shiyun_core::tenancy::{EnterpriseId, ProjectId, Tenant};
use shiyun_deploy::cluster::{ClusterApi, Manifest};
use shiyun_deploy::kube::KubeCluster;
use shiyun_deploy::model::{APP_LABEL, AppSpec, ProjectQuota, ProjectTarget, RenderInput};
use shiyun_deploy::render;

fn spec(image: &str, deadline: u32) -> AppSpec {
    serde_json::from_value(serde_json::json!({
        "image": image,
        "ports": [{"name": "http", "port": 80}],
        "env": {"GREETING": "hello"},
        "resources": {"cpu_millicores": 50, "memory_mib": 64},
        "scale": {"mode": "fixed", "replicas": 1},
        "health": {"http_path": "/", "port": 80},
        "rollout": {"deadline_seconds": deadline},
    }))
    .unwrap()
}

fn objects(
    target: &ProjectTarget,
    app: &AppId,
    release: u32,
    spec: &AppSpec,
    replicas: u32,
) -> Vec<Manifest> {
    render::application(&RenderInput {
        target,
        app,
        name: "web",
        release,
        spec,
        replicas,
        autoscale_bounds: None,
        dependencies: &[],
        restarted_at: None,
    })
}

async fn until(
    cluster: &KubeCluster,
    target: &ProjectTarget,
    limit: Duration,
    done: impl Fn(&shiyun_deploy::cluster::RolloutProgress) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(progress) = cluster.rollout(&target.namespace, "web").await.unwrap()
            && done(&progress)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    false
}

#[tokio::test]
#[ignore = "needs a real cluster: scripts/test runs it with --ignored when SHIYUN_TEST_KUBECONFIG is set"]
async fn end_states_on_a_real_cluster() {
    let path = std::env::var("SHIYUN_TEST_KUBECONFIG").expect("SHIYUN_TEST_KUBECONFIG");
    let kubeconfig = std::fs::read_to_string(&path).unwrap();
    let cluster = KubeCluster::connect_kubeconfig(&kubeconfig).await.unwrap();
    let stamp = chrono::Utc::now().timestamp_micros() as u64;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&stamp.to_be_bytes());
    let project = ProjectId::from_random(bytes);
    let target = ProjectTarget {
        tenant: Tenant::Enterprise(EnterpriseId::from_random(bytes)),
        namespace: shiyun_deploy::model::namespace_of(&project),
        project,
        quota: ProjectQuota::default(),
    };
    let app = AppId::from_random(bytes);
    for manifest in render::project(&target) {
        cluster.apply(&manifest).await.unwrap();
    }

    // Deploy and wait for the rollout.
    let first = spec("nginx:1.27", 120);
    for manifest in objects(&target, &app, 1, &first, 1) {
        cluster.apply(&manifest).await.unwrap();
    }
    assert!(
        until(&cluster, &target, Duration::from_secs(180), |p| p
            .complete())
        .await,
        "release 1 never rolled out"
    );

    // Scale through the subresource.
    cluster.scale(&target.namespace, "web", 2).await.unwrap();
    assert!(
        until(&cluster, &target, Duration::from_secs(180), |p| p
            .complete()
            && p.desired == 2)
        .await
    );

    // Update: a config change rolls the pods.
    let mut second = first.clone();
    second.env.insert("GREETING".into(), "bonjour".into());
    for manifest in objects(&target, &app, 2, &second, 2) {
        cluster.apply(&manifest).await.unwrap();
    }
    assert!(
        until(&cluster, &target, Duration::from_secs(180), |p| p
            .complete())
        .await
    );

    // An image that does not exist never becomes ready: the deadline passes.
    let broken = spec("registry.invalid/shiyun/none:0", 10);
    for manifest in objects(&target, &app, 3, &broken, 2) {
        cluster.apply(&manifest).await.unwrap();
    }
    assert!(
        until(&cluster, &target, Duration::from_secs(120), |p| p
            .deadline_exceeded)
        .await,
        "the stalled rollout never passed its deadline"
    );

    // Stop, then delete everything the application owns.
    cluster.scale(&target.namespace, "web", 0).await.unwrap();
    let deleted = cluster
        .delete_labelled(&target.namespace, &format!("{APP_LABEL}={app}"))
        .await
        .unwrap();
    assert!(deleted >= 4, "{deleted} objects deleted");
    assert!(
        cluster
            .rollout(&target.namespace, "web")
            .await
            .unwrap()
            .is_none()
    );
    cluster.delete_namespace(&target.namespace).await.unwrap();
}
