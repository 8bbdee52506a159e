//! `KubeCluster` over the in-process API server: applies, merges, scale,
//! rollouts, the watch-fed status cache, label isolation, deletes, logs,
//! Jobs, watch resumption and error answers.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use http::Request;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, Pod, PodSpec, PodTemplateSpec, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::{Value, json};
use shiyun_core::deploy::AppId;
use shiyun_deploy::cluster::{ClusterApi, ClusterError, JobState, LogOptions, Manifest};
use shiyun_deploy::fake::{FakeApiServer, Rollouts};
use shiyun_deploy::kube::KubeCluster;
use shiyun_deploy::model::{APP_LABEL, MANAGED_BY, RELEASE_LABEL, TENANT_LABEL};
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(10);

fn app(id: &str) -> AppId {
    AppId::parse(id).unwrap()
}

fn labels(app: &str, tenant: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
        (APP_LABEL.to_owned(), app.to_owned()),
        (TENANT_LABEL.to_owned(), tenant.to_owned()),
    ])
}

fn meta(ns: &str, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

fn namespace(name: &str) -> Manifest {
    Manifest::Namespace(Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY.0.to_owned(),
                MANAGED_BY.1.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    })
}

fn deployment(
    ns: &str,
    name: &str,
    app: &str,
    tenant: &str,
    image: &str,
    replicas: Option<i32>,
) -> Manifest {
    let mut object_labels = labels(app, tenant);
    object_labels.insert(RELEASE_LABEL.into(), "1".into());
    Manifest::Deployment(Box::new(Deployment {
        metadata: meta(ns, name, object_labels.clone()),
        spec: Some(DeploymentSpec {
            replicas,
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([(APP_LABEL.to_owned(), app.to_owned())])),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(object_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "app".into(),
                        image: Some(image.into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }))
}

fn service(ns: &str, name: &str, app: &str, tenant: &str) -> Manifest {
    Manifest::Service(Service {
        metadata: meta(ns, name, labels(app, tenant)),
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([(APP_LABEL.to_owned(), app.to_owned())])),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

fn config_map(ns: &str, name: &str, app: &str, tenant: &str, data: &[(&str, &str)]) -> Manifest {
    Manifest::ConfigMap(ConfigMap {
        metadata: meta(ns, name, labels(app, tenant)),
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ConfigMap::default()
    })
}

fn job(ns: &str, name: &str, app: &str) -> Manifest {
    Manifest::Job(Box::new(Job {
        metadata: meta(ns, name, labels(app, "ten_a")),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(app, "ten_a")),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "build".into(),
                        image: Some("registry.example.com/builder:1".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }))
}

async fn cluster() -> (FakeApiServer, KubeCluster) {
    let fake = FakeApiServer::new();
    let cluster = KubeCluster::new(kube::Client::new(fake.clone(), "default"));
    assert!(
        cluster.wait_synced(WAIT).await,
        "the cache syncs against the fake"
    );
    (fake, cluster)
}

/// Polls `check` until it holds or `WAIT` passes.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn apply_app(
    cluster: &KubeCluster,
    ns: &str,
    name: &str,
    app: &str,
    tenant: &str,
    replicas: i32,
) {
    cluster
        .apply(&config_map(ns, name, app, tenant, &[("MODE", "prod")]))
        .await
        .unwrap();
    cluster
        .apply(&service(ns, name, app, tenant))
        .await
        .unwrap();
    cluster
        .apply(&deployment(
            ns,
            name,
            app,
            tenant,
            "nginx:1.27",
            Some(replicas),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn apply_creates_then_merges_and_bumps_generation_on_spec_changes() {
    let (fake, cluster) = cluster().await;
    cluster.apply(&namespace("shop")).await.unwrap();
    apply_app(&cluster, "shop", "web", "app_web", "ten_a", 2).await;

    let stored = fake.get("Deployment", "shop", "web").unwrap();
    assert_eq!(stored["metadata"]["generation"], 1);
    assert_eq!(stored["metadata"]["labels"][APP_LABEL], "app_web");
    assert_eq!(stored["metadata"]["managedFields"][0]["manager"], "shiyun");
    assert_eq!(stored["metadata"]["managedFields"][0]["operation"], "Apply");
    assert!(!stored["metadata"]["uid"].as_str().unwrap().is_empty());
    assert!(stored["metadata"]["creationTimestamp"].is_string());
    assert_eq!(
        fake.get("Service", "shop", "web").unwrap()["spec"]["ports"][0]["port"],
        80
    );
    assert_eq!(
        fake.get("ConfigMap", "shop", "web").unwrap()["data"]["MODE"],
        "prod"
    );
    assert!(fake.namespaces().contains(&"shop".to_owned()));

    // Applying the same object again changes nothing, not even the version.
    let before = fake.get("Deployment", "shop", "web").unwrap();
    cluster
        .apply(&deployment(
            "shop",
            "web",
            "app_web",
            "ten_a",
            "nginx:1.27",
            Some(2),
        ))
        .await
        .unwrap();
    assert_eq!(
        rv(&fake.get("Deployment", "shop", "web").unwrap()),
        rv(&before)
    );

    // A new image is a spec change: generation 2, a newer resourceVersion.
    cluster
        .apply(&deployment(
            "shop",
            "web",
            "app_web",
            "ten_a",
            "nginx:1.28",
            Some(2),
        ))
        .await
        .unwrap();
    let after = fake.get("Deployment", "shop", "web").unwrap();
    assert_eq!(after["metadata"]["generation"], 2);
    assert!(rv(&after) > rv(&before));
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);

    // Maps merge: a key the new apply leaves out stays (documented
    // approximation); a changed key takes the new value.
    cluster
        .apply(&config_map(
            "shop",
            "web",
            "app_web",
            "ten_a",
            &[("LEVEL", "debug")],
        ))
        .await
        .unwrap();
    let cm = fake.get("ConfigMap", "shop", "web").unwrap();
    assert_eq!(cm["data"]["MODE"], "prod");
    assert_eq!(cm["data"]["LEVEL"], "debug");
    // An explicit null deletes a key; lists replace.
    let api = Api::<ConfigMap>::namespaced(cluster.client().clone(), "shop");
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"MODE": null}})),
    )
    .await
    .unwrap();
    let cm = fake.get("ConfigMap", "shop", "web").unwrap();
    assert!(cm["data"].get("MODE").is_none());
    assert_eq!(cm["data"]["LEVEL"], "debug");

    // Every apply carried the field manager and force.
    let applies: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert!(applies.len() >= 6);
    for request in applies
        .iter()
        .filter(|r| r.content_type.as_deref() == Some("application/apply-patch+yaml"))
    {
        assert!(request.query.contains("fieldManager=shiyun"), "{request:?}");
        assert!(request.query.contains("force=true"), "{request:?}");
    }
}

#[tokio::test]
async fn scale_goes_through_the_subresource_and_the_rollout_completes() {
    let (fake, cluster) = cluster().await;
    cluster.apply(&namespace("shop")).await.unwrap();
    apply_app(&cluster, "shop", "web", "app_web", "ten_a", 2).await;
    let progress = cluster.rollout("shop", "web").await.unwrap().unwrap();
    assert!(progress.complete(), "{progress:?}");
    assert_eq!(progress.desired, 2);
    assert_eq!(fake.objects("Pod").len(), 2);

    cluster.scale("shop", "web", 4).await.unwrap();
    let scale_request = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/scale"))
        .unwrap();
    assert_eq!(scale_request.method, "PATCH");
    assert_eq!(
        scale_request.path,
        "/apis/apps/v1/namespaces/shop/deployments/web/scale"
    );
    assert_eq!(
        scale_request.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    let stored = fake.get("Deployment", "shop", "web").unwrap();
    assert_eq!(stored["spec"]["replicas"], 4);
    assert_eq!(stored["metadata"]["generation"], 2);
    let progress = cluster.rollout("shop", "web").await.unwrap().unwrap();
    assert!(progress.complete());
    assert_eq!(
        (progress.desired, progress.available, progress.total),
        (4, 4, 4)
    );
    assert_eq!(fake.objects("Pod").len(), 4);

    cluster.scale("shop", "web", 1).await.unwrap();
    assert_eq!(fake.objects("Pod").len(), 1);
    assert!(matches!(
        cluster.scale("shop", "nope", 1).await,
        Err(ClusterError::NotFound(_))
    ));
    assert_eq!(cluster.rollout("shop", "nope").await.unwrap(), None);
}

#[tokio::test]
async fn stalled_rollouts_stay_incomplete_until_resumed() {
    let (fake, cluster) = cluster().await;
    cluster.apply(&namespace("shop")).await.unwrap();
    apply_app(&cluster, "shop", "web", "app_web", "ten_a", 2).await;
    let pods_before: Vec<Value> = fake.objects("Pod");

    fake.set_rollouts(Rollouts::Stall);
    cluster
        .apply(&deployment(
            "shop",
            "web",
            "app_web",
            "ten_a",
            "nginx:1.28",
            Some(2),
        ))
        .await
        .unwrap();
    let progress = cluster.rollout("shop", "web").await.unwrap().unwrap();
    assert_eq!(progress.generation, 2);
    assert_eq!(progress.observed_generation, 2);
    assert!(!progress.complete(), "{progress:?}");
    assert!(!progress.deadline_exceeded);
    assert_eq!(fake.objects("Pod"), pods_before, "old pods keep running");

    fake.set_rollouts(Rollouts::DeadlineExceeded);
    cluster
        .apply(&deployment(
            "shop",
            "web",
            "app_web",
            "ten_a",
            "nginx:1.29",
            Some(2),
        ))
        .await
        .unwrap();
    let progress = cluster.rollout("shop", "web").await.unwrap().unwrap();
    assert!(progress.deadline_exceeded);
    assert!(!progress.complete());

    fake.set_rollouts(Rollouts::Complete);
    let progress = cluster.rollout("shop", "web").await.unwrap().unwrap();
    assert!(progress.complete(), "{progress:?}");
    let pods = fake.objects("Pod");
    assert_eq!(pods.len(), 2);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.29")
    );
}

#[tokio::test]
async fn status_comes_from_the_cache_with_pods_and_events() {
    let (fake, cluster) = cluster().await;
    let web = app("app_web");
    assert!(!cluster.status("shop", &web).found);
    cluster.apply(&namespace("shop")).await.unwrap();
    apply_app(&cluster, "shop", "web", "app_web", "ten_a", 2).await;

    eventually("two ready pods and an event", || {
        let status = cluster.status("shop", &web);
        status.ready == 2 && status.pods.len() == 2 && !status.events.is_empty()
    })
    .await;
    let status = cluster.status("shop", &web);
    assert!(status.synced && status.found);
    assert_eq!(
        (status.desired, status.updated, status.available),
        (2, 2, 2)
    );
    assert_eq!(status.release.as_deref(), Some("1"));
    for pod in &status.pods {
        assert!(pod.name.starts_with("web-"), "{pod:?}");
        assert_eq!(pod.phase, "Running");
        assert!(pod.ready);
        assert_eq!(pod.release.as_deref(), Some("1"));
        assert!(
            pod.image_id
                .as_deref()
                .unwrap()
                .starts_with("docker-pullable://nginx:1.27@sha256:")
        );
    }
    assert_eq!(status.events[0].reason, "ScalingReplicaSet");
    assert_eq!(status.events[0].object, "Deployment/web");

    // A new image: newest events first, the new replica set's scale-up on top.
    cluster
        .apply(&deployment(
            "shop",
            "web",
            "app_web",
            "ten_a",
            "nginx:1.28",
            Some(2),
        ))
        .await
        .unwrap();
    eventually("pods of the new image", || {
        let status = cluster.status("shop", &web);
        status.pods.len() == 2
            && status.pods.iter().all(|p| {
                p.image_id
                    .as_deref()
                    .is_some_and(|i| i.contains("nginx:1.28@"))
            })
            && status.events.len() >= 3
    })
    .await;
    let events = cluster.status("shop", &web).events;
    assert!(events.windows(2).all(|w| w[0].at >= w[1].at));
    assert!(
        events
            .iter()
            .any(|e| e.message.starts_with("Scaled down replica set web-"))
    );

    // Status reads never call the API server (only watches run).
    fake.clear_requests();
    for _ in 0..200 {
        assert!(cluster.status("shop", &web).found);
    }
    assert!(
        fake.requests().iter().all(|r| r.query.contains("watch=")),
        "{:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn label_selectors_keep_tenants_apart() {
    let (fake, cluster) = cluster().await;
    for ns in ["tenant-a", "tenant-b"] {
        cluster.apply(&namespace(ns)).await.unwrap();
    }
    apply_app(&cluster, "tenant-a", "web", "app_aaa", "ten_a", 2).await;
    apply_app(&cluster, "tenant-b", "web", "app_bbb", "ten_b", 1).await;

    let pods = Api::<Pod>::all(cluster.client().clone());
    let a = pods
        .list(&ListParams::default().labels(&format!("{TENANT_LABEL}=ten_a")))
        .await
        .unwrap();
    assert_eq!(a.items.len(), 2);
    assert!(
        a.items
            .iter()
            .all(|p| p.metadata.namespace.as_deref() == Some("tenant-a"))
    );
    let not_a = pods
        .list(&ListParams::default().labels(&format!("{TENANT_LABEL}!=ten_a")))
        .await
        .unwrap();
    assert_eq!(not_a.items.len(), 1);
    let in_b = Api::<Pod>::namespaced(cluster.client().clone(), "tenant-b")
        .list(&ListParams::default().labels(&format!("{APP_LABEL}=app_aaa")))
        .await
        .unwrap();
    assert!(
        in_b.items.is_empty(),
        "tenant B's namespace shows none of A's pods"
    );
    let by_name = Api::<Deployment>::all(cluster.client().clone())
        .list(
            &ListParams::default()
                .fields("metadata.name=web")
                .labels(&format!("{APP_LABEL},{TENANT_LABEL} in (ten_b)")),
        )
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    assert_eq!(
        by_name.items[0].metadata.namespace.as_deref(),
        Some("tenant-b")
    );

    eventually("both statuses", || {
        cluster.status("tenant-b", &app("app_bbb")).ready == 1
            && cluster.status("tenant-a", &app("app_aaa")).ready == 2
    })
    .await;
    // The right app in the wrong namespace is not found.
    assert!(!cluster.status("tenant-b", &app("app_aaa")).found);
    assert!(
        cluster
            .status("tenant-a", &app("app_aaa"))
            .pods
            .iter()
            .all(|p| !p.name.is_empty())
    );

    // Deleting A's app leaves B's untouched.
    let deleted = cluster
        .delete_labelled("tenant-a", &format!("{APP_LABEL}=app_aaa"))
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    assert_eq!(fake.objects("Deployment").len(), 1);
    assert_eq!(fake.objects("Pod").len(), 1);
    assert!(fake.get("Service", "tenant-b", "web").is_some());
    eventually("the cache to drop A", || {
        !cluster.status("tenant-a", &app("app_aaa")).found
    })
    .await;
    assert!(cluster.status("tenant-b", &app("app_bbb")).found);
}

#[tokio::test]
async fn deletes_by_name_and_by_namespace() {
    let (fake, cluster) = cluster().await;
    cluster.apply(&namespace("shop")).await.unwrap();
    apply_app(&cluster, "shop", "web", "app_web", "ten_a", 2).await;
    assert!(cluster.delete("Service", "shop", "web").await.unwrap());
    assert!(!cluster.delete("Service", "shop", "web").await.unwrap());
    assert!(fake.get("Service", "shop", "web").is_none());
    assert!(matches!(
        cluster.delete("Gadget", "shop", "web").await,
        Err(ClusterError::Api { code: 400, .. })
    ));
    assert_eq!(
        cluster
            .delete_labelled("shop", &format!("{APP_LABEL}=app_other"))
            .await
            .unwrap(),
        0
    );

    eventually("the app in the cache", || {
        cluster.status("shop", &app("app_web")).ready == 2
    })
    .await;
    cluster.delete_namespace("shop").await.unwrap();
    assert!(!fake.namespaces().contains(&"shop".to_owned()));
    for kind in ["Deployment", "ConfigMap", "Pod", "Event"] {
        assert!(
            fake.objects(kind)
                .iter()
                .all(|o| o["metadata"]["namespace"] != "shop"),
            "{kind} left behind"
        );
    }
    eventually("the cache to follow", || {
        let status = cluster.status("shop", &app("app_web"));
        !status.found && status.pods.is_empty()
    })
    .await;
    assert!(matches!(
        cluster.delete_namespace("shop").await,
        Err(ClusterError::NotFound(_))
    ));
    // Applying into a namespace that is gone is refused as a real server does.
    assert!(matches!(
        cluster
            .apply(&service("shop", "web", "app_web", "ten_a"))
            .await,
        Err(ClusterError::NotFound(_))
    ));
}

async fn collect(stream: shiyun_deploy::cluster::LogStream) -> String {
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    String::from_utf8(chunks.concat()).unwrap()
}

#[tokio::test]
async fn logs_tail_and_follow() {
    let (fake, cluster) = cluster().await;
    fake.set_follow_window(Duration::from_millis(300));
    cluster.apply(&namespace("shop")).await.unwrap();
    apply_app(&cluster, "shop", "web", "app_web", "ten_a", 1).await;
    let pod = fake.objects("Pod")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    fake.append_log("shop", &pod, "GET / 200");

    let all = collect(
        cluster
            .logs("shop", &pod, &LogOptions::default())
            .await
            .unwrap(),
    )
    .await;
    assert!(
        all.contains(&format!(
            "{pod}: container app started from image nginx:1.27"
        )),
        "{all}"
    );
    assert!(all.ends_with("GET / 200\n"));
    let tail = collect(
        cluster
            .logs(
                "shop",
                &pod,
                &LogOptions {
                    tail_lines: Some(1),
                    ..LogOptions::default()
                },
            )
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(tail, "GET / 200\n");

    let follower = {
        let cluster = cluster.clone();
        let pod = pod.clone();
        tokio::spawn(async move {
            let options = LogOptions {
                follow: true,
                tail_lines: Some(1),
                ..LogOptions::default()
            };
            collect(cluster.logs("shop", &pod, &options).await.unwrap()).await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    fake.append_log("shop", &pod, "GET /later 200");
    let followed = follower.await.unwrap();
    assert_eq!(followed, "GET / 200\nGET /later 200\n");

    assert!(matches!(
        cluster.logs("shop", "nope", &LogOptions::default()).await,
        Err(ClusterError::NotFound(_))
    ));
    let wrong = cluster
        .logs(
            "shop",
            &pod,
            &LogOptions {
                container: Some("sidecar".into()),
                ..LogOptions::default()
            },
        )
        .await;
    assert!(
        matches!(wrong, Err(ClusterError::Api { code: 400, .. })),
        "{:?}",
        wrong.err()
    );
}

#[tokio::test]
async fn jobs_complete_fail_or_hang() {
    let (fake, cluster) = cluster().await;
    cluster.apply(&namespace("shop")).await.unwrap();

    cluster
        .apply(&job("shop", "build-1", "app_web"))
        .await
        .unwrap();
    assert_eq!(
        cluster.job("shop", "build-1").await.unwrap(),
        Some(JobState::Succeeded)
    );
    let pods = cluster.job_pods("shop", "build-1").await.unwrap();
    assert_eq!(pods.len(), 1);
    assert!(pods[0].starts_with("build-1-"));
    let log = collect(
        cluster
            .logs("shop", &pods[0], &LogOptions::default())
            .await
            .unwrap(),
    )
    .await;
    assert!(log.contains("registry.example.com/builder:1"), "{log}");
    assert!(log.contains("finished successfully"));

    fake.fail_jobs(true);
    cluster
        .apply(&job("shop", "build-2", "app_web"))
        .await
        .unwrap();
    assert_eq!(
        cluster.job("shop", "build-2").await.unwrap(),
        Some(JobState::Failed)
    );
    fake.fail_jobs(false);

    fake.set_rollouts(Rollouts::Stall);
    cluster
        .apply(&job("shop", "build-3", "app_web"))
        .await
        .unwrap();
    assert_eq!(
        cluster.job("shop", "build-3").await.unwrap(),
        Some(JobState::Running)
    );
    let pod = &cluster.job_pods("shop", "build-3").await.unwrap()[0];
    assert_eq!(
        fake.get("Pod", "shop", pod).unwrap()["status"]["phase"],
        "Running"
    );
    fake.set_rollouts(Rollouts::Complete);
    assert_eq!(
        cluster.job("shop", "build-3").await.unwrap(),
        Some(JobState::Succeeded)
    );
    // The earlier ones keep their outcome.
    assert_eq!(
        cluster.job("shop", "build-2").await.unwrap(),
        Some(JobState::Failed)
    );
    assert_eq!(cluster.job("shop", "build-9").await.unwrap(), None);

    assert!(cluster.delete("Job", "shop", "build-1").await.unwrap());
    assert!(
        cluster
            .job_pods("shop", "build-1")
            .await
            .unwrap()
            .is_empty(),
        "its pod goes with it"
    );
}

#[tokio::test]
async fn watches_resume_after_a_resource_version_and_expire_when_too_old() {
    let fake = FakeApiServer::new();
    let client = fake.client();
    let cluster = KubeCluster::without_cache(client.clone());
    cluster.apply(&namespace("shop")).await.unwrap();
    cluster
        .apply(&config_map(
            "shop",
            "one",
            "app_web",
            "ten_a",
            &[("A", "1")],
        ))
        .await
        .unwrap();
    let from = fake.resource_version();
    cluster
        .apply(&config_map(
            "shop",
            "two",
            "app_web",
            "ten_a",
            &[("B", "2")],
        ))
        .await
        .unwrap();
    cluster
        .apply(&config_map(
            "shop",
            "one",
            "app_web",
            "ten_a",
            &[("A", "3")],
        ))
        .await
        .unwrap();

    let api = Api::<ConfigMap>::namespaced(client.clone(), "shop");
    let params = WatchParams::default().timeout(5).disable_bookmarks();
    let events: Vec<_> = api
        .watch(&params, &from.to_string())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(o) => ("ADDED".into(), o.metadata.name.clone().unwrap()),
            WatchEvent::Modified(o) => ("MODIFIED".into(), o.metadata.name.clone().unwrap()),
            other => (format!("{other:?}"), String::new()),
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ADDED".into(), "two".into()),
            ("MODIFIED".into(), "one".into())
        ]
    );

    // With bookmarks, a quiet watch ends with a bookmark at the newest version.
    let now = fake.resource_version();
    let quiet: Vec<_> = api
        .watch(&WatchParams::default().timeout(1), &now.to_string())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&quiet[..], [WatchEvent::Bookmark(b)] if b.metadata.resource_version == now.to_string())
    );

    // A watch started in a background task sees a later change.
    let waiting = tokio::spawn({
        let api = api.clone();
        async move {
            api.watch(&WatchParams::default().timeout(5), &now.to_string())
                .await
                .unwrap()
                .boxed()
                .next()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    cluster
        .apply(&config_map("shop", "three", "app_web", "ten_a", &[]))
        .await
        .unwrap();
    assert!(
        matches!(waiting.await.unwrap(), Some(Ok(WatchEvent::Added(cm))) if cm.metadata.name.as_deref() == Some("three"))
    );

    fake.set_history_limit(2);
    let expired: Vec<_> = api
        .watch(&params, &from.to_string())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&expired[..], [WatchEvent::Error(status)] if status.code == 410 && status.reason == "Expired"),
        "{expired:?}"
    );
}

async fn raw(
    fake: &FakeApiServer,
    method: &str,
    uri: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .unwrap();
    let response = fake.clone().oneshot(request).await.unwrap();
    let code = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.unwrap();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn bad_requests_get_status_bodies() {
    let fake = FakeApiServer::new();
    let json = "application/json";
    let apply = "application/apply-patch+yaml";
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#;

    let cases = [
        ("GET", "/apis/nothing/v1/gadgets", json, "", 404, "NotFound"),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/missing",
            json,
            "",
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/x/frobnicate",
            json,
            "",
            404,
            "NotFound",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x",
            apply,
            cm,
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=t",
            apply,
            "not json",
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=t",
            apply,
            r#"{"metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/y?fieldManager=t",
            apply,
            cm,
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=t",
            "application/json-patch+json",
            "[]",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/nowhere/configmaps/x?fieldManager=t",
            apply,
            cm,
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/pods?labelSelector=a%3D%3D%3Db%3D",
            json,
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/pods?fieldSelector=metadata.name",
            json,
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/pods?watch=true&resourceVersion=abc",
            json,
            "",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            "[1,2]",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json,
            r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"}}"#,
            400,
            "BadRequest",
        ),
        (
            "PUT",
            "/apis/apps/v1/namespaces/default/deployments/none/scale",
            json,
            r#"{"spec":{"replicas":1}}"#,
            404,
            "NotFound",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/pods/none",
            json,
            "",
            404,
            "NotFound",
        ),
    ];
    for (method, uri, content_type, body, code, reason) in cases {
        let (got, status) = raw(&fake, method, uri, content_type, body).await;
        assert_eq!(got, code, "{method} {uri}: {status}");
        assert_eq!(status["kind"], "Status", "{method} {uri}");
        assert_eq!(status["code"], code, "{method} {uri}");
        assert_eq!(status["reason"], reason, "{method} {uri}");
        assert!(!status["message"].as_str().unwrap().is_empty());
    }

    // Create, then conflicts: a second create, a stale replace, a non-forced
    // apply by another manager.
    let (code, _) = raw(
        &fake,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        json,
        cm,
    )
    .await;
    assert_eq!(code, 201);
    let (code, status) = raw(
        &fake,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        json,
        cm,
    )
    .await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    let stale =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","resourceVersion":"1"}}"#;
    let (code, status) = raw(
        &fake,
        "PUT",
        "/api/v1/namespaces/default/configmaps/x",
        json,
        stale,
    )
    .await;
    assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")));
    let (code, _) = raw(
        &fake,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x?fieldManager=one",
        apply,
        cm,
    )
    .await;
    assert_eq!(code, 200);
    let (code, status) = raw(
        &fake,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x?fieldManager=two",
        apply,
        cm,
    )
    .await;
    assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")));
    let (code, _) = raw(
        &fake,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x?fieldManager=two&force=true",
        apply,
        cm,
    )
    .await;
    assert_eq!(code, 200);
    let (code, version) = raw(&fake, "GET", "/version", json, "").await;
    assert_eq!((code, version["major"].as_str()), (200, Some("1")));
}

#[tokio::test]
async fn connecting_with_bad_credentials_is_a_config_error() {
    assert!(matches!(
        KubeCluster::connect_kubeconfig("not: [a kubeconfig").await,
        Err(ClusterError::Config(_))
    ));
    assert!(matches!(
        KubeCluster::connect_token("not a url", "t", None).await,
        Err(ClusterError::Config(_))
    ));
    assert!(matches!(
        KubeCluster::connect_token("https://127.0.0.1:6443", "t", Some("garbage")).await,
        Err(ClusterError::Config(_))
    ));
    // A token that cannot be a header value is refused, not a panic.
    for token in ["a\nb", "\u{0}", " "] {
        assert!(matches!(
            KubeCluster::connect_token("https://127.0.0.1:6443", token, None).await,
            Err(ClusterError::Config(_))
        ));
    }
    let cluster = KubeCluster::connect_token("https://127.0.0.1:6443", "token", None)
        .await
        .unwrap();
    assert!(!cluster.synced());
}
