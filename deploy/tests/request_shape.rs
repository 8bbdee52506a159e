//! The exact HTTP requests `KubeCluster` sends: a mock tower service stands
//! in for the API server, checks each request and answers it.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use futures::TryStreamExt;
use http::{Request, Response};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::client::Body;
use serde_json::{Value, json};
use shiyun_deploy::cluster::{ClusterApi, ClusterError, JobState, LogOptions, Manifest};
use shiyun_deploy::kube::KubeCluster;
use tower_test::mock::{self, Handle};

type MockHandle = Handle<Request<Body>, Response<Body>>;

/// One request, taken apart.
struct Seen {
    method: String,
    path: String,
    query: HashMap<String, String>,
    content_type: Option<String>,
    body: Value,
}

fn query_of(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                k.to_owned(),
                v.replace("%2F", "/")
                    .replace("%3D", "=")
                    .replace("%2C", ","),
            )
        })
        .collect()
}

/// Runs `call` against a mock server and answers its requests in order with
/// `answers` (status, JSON or text body); returns what was asked and the result.
async fn drive<T, F>(
    answers: Vec<(u16, String)>,
    call: impl FnOnce(KubeCluster) -> F,
) -> (Vec<Seen>, T)
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (service, mut handle): (_, MockHandle) = mock::pair();
    let cluster = KubeCluster::without_cache(kube::Client::new(service, "default"));
    let task = tokio::spawn(call(cluster));
    let mut seen = Vec::new();
    for (code, body) in answers {
        let (request, respond) = handle.next_request().await.expect("a request");
        let (parts, request_body) = request.into_parts();
        let bytes = request_body.collect_bytes().await.unwrap();
        seen.push(Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: query_of(parts.uri.query().unwrap_or_default()),
            content_type: parts
                .headers
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        });
        respond.send_response(
            Response::builder()
                .status(code)
                .body(Body::from(body.into_bytes()))
                .unwrap(),
        );
    }
    let result = task.await.unwrap();
    (seen, result)
}

fn ok(value: Value) -> (u16, String) {
    (200, value.to_string())
}

fn status(code: u16, reason: &str) -> (u16, String) {
    (code, json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": format!("{reason} here")}).to_string())
}

fn assert_apply(seen: &Seen, path: &str, kind: &str) {
    assert_eq!(seen.method, "PATCH");
    assert_eq!(seen.path, path);
    assert_eq!(
        seen.query.get("fieldManager").map(String::as_str),
        Some("shiyun")
    );
    assert_eq!(seen.query.get("force").map(String::as_str), Some("true"));
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(seen.body["kind"], kind);
}

fn deployment_json(generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation, "resourceVersion": "7"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [{"name": "app"}]}}},
        "status": status,
    })
}

#[tokio::test]
async fn apply_is_a_forced_server_side_apply_by_shiyun() {
    let deployment = Manifest::Deployment(Box::new(Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("shop".into()),
            labels: Some(BTreeMap::from([("a".into(), "b".into())])),
            ..ObjectMeta::default()
        },
        ..Deployment::default()
    }));
    let (seen, result) = drive(vec![ok(deployment_json(1, json!({})))], |c| async move {
        c.apply(&deployment).await
    })
    .await;
    result.unwrap();
    assert_apply(
        &seen[0],
        "/apis/apps/v1/namespaces/shop/deployments/web",
        "Deployment",
    );
    assert_eq!(seen[0].body["apiVersion"], "apps/v1");
    assert_eq!(seen[0].body["metadata"]["labels"]["a"], "b");

    let namespace = Manifest::Namespace(Namespace {
        metadata: ObjectMeta {
            name: Some("shop".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    });
    let answer = ok(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}));
    let (seen, result) = drive(vec![answer], |c| async move { c.apply(&namespace).await }).await;
    result.unwrap();
    assert_apply(&seen[0], "/api/v1/namespaces/shop", "Namespace");

    // Refusals keep the server's code and message.
    let namespace = Manifest::Namespace(Namespace {
        metadata: ObjectMeta {
            name: Some("shop".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    });
    let (_, result) = drive(vec![status(422, "Invalid")], |c| async move {
        c.apply(&namespace).await
    })
    .await;
    match result {
        Err(ClusterError::Api {
            code: 422,
            message,
            what,
        }) => {
            assert_eq!(message, "Invalid here");
            assert_eq!(what, "apply Namespace shop");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn scale_patches_the_scale_subresource() {
    let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 3}, "status": {"replicas": 1}});
    let (seen, result) = drive(vec![ok(scale)], |c| async move {
        c.scale("shop", "web", 3).await
    })
    .await;
    result.unwrap();
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(
        seen[0].path,
        "/apis/apps/v1/namespaces/shop/deployments/web/scale"
    );
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        seen[0].query.get("fieldManager").map(String::as_str),
        Some("shiyun")
    );
    assert!(!seen[0].query.contains_key("force"));
    assert_eq!(seen[0].body, json!({"spec": {"replicas": 3}}));

    let (_, result) = drive(vec![status(404, "NotFound")], |c| async move {
        c.scale("shop", "web", 3).await
    })
    .await;
    assert!(matches!(result, Err(ClusterError::NotFound(_))));
}

#[tokio::test]
async fn rollout_reads_the_deployment() {
    let answer = deployment_json(
        4,
        json!({
            "observedGeneration": 4, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
        }),
    );
    let (seen, result) = drive(vec![ok(answer)], |c| async move {
        c.rollout("shop", "web").await
    })
    .await;
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].path,
        "/apis/apps/v1/namespaces/shop/deployments/web"
    );
    let progress = result.unwrap().unwrap();
    assert_eq!(
        (
            progress.generation,
            progress.observed_generation,
            progress.desired
        ),
        (4, 4, 3)
    );
    assert_eq!(
        (
            progress.updated,
            progress.ready,
            progress.available,
            progress.total
        ),
        (2, 3, 3, 4)
    );
    assert!(progress.deadline_exceeded);
    assert!(!progress.complete());

    let (_, result) = drive(vec![status(404, "NotFound")], |c| async move {
        c.rollout("shop", "web").await
    })
    .await;
    assert_eq!(result.unwrap(), None);
    let (_, result) = drive(vec![status(500, "InternalError")], |c| async move {
        c.rollout("shop", "web").await
    })
    .await;
    assert!(matches!(result, Err(ClusterError::Api { code: 500, .. })));
}

#[tokio::test]
async fn delete_by_name_with_background_propagation() {
    let gone = ok(
        json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200, "metadata": {}}),
    );
    let (seen, result) = drive(vec![gone], |c| async move {
        c.delete("Ingress", "shop", "web").await
    })
    .await;
    assert!(result.unwrap());
    assert_eq!(seen[0].method, "DELETE");
    assert_eq!(
        seen[0].path,
        "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web"
    );
    assert_eq!(seen[0].body["propagationPolicy"], "Background");

    let (_, result) = drive(vec![status(404, "NotFound")], |c| async move {
        c.delete("HorizontalPodAutoscaler", "shop", "web").await
    })
    .await;
    assert!(!result.unwrap());

    let (seen, result) = drive(
        vec![ok(
            json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "shop"}}),
        )],
        |c| async move { c.delete_namespace("shop").await },
    )
    .await;
    result.unwrap();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("DELETE", "/api/v1/namespaces/shop")
    );
}

#[tokio::test]
async fn delete_labelled_lists_then_deletes_each_kind_with_objects() {
    let list = |kind: &str, api_version: &str, names: &[&str]| {
        ok(json!({
            "kind": format!("{kind}List"), "apiVersion": api_version, "metadata": {"resourceVersion": "9"},
            "items": names.iter().map(|n| json!({"kind": kind, "apiVersion": api_version, "metadata": {"name": n, "namespace": "shop"}})).collect::<Vec<_>>(),
        }))
    };
    let answers = vec![
        list("Ingress", "networking.k8s.io/v1", &[]),
        list("HorizontalPodAutoscaler", "autoscaling/v2", &[]),
        list("Service", "v1", &["web"]),
        list("Service", "v1", &["web"]),
        list("Deployment", "apps/v1", &["web"]),
        list("Deployment", "apps/v1", &["web"]),
        list("Job", "batch/v1", &[]),
        list("ConfigMap", "v1", &["web", "web-files"]),
        list("ConfigMap", "v1", &["web", "web-files"]),
        list("Secret", "v1", &[]),
    ];
    let (seen, result) = drive(answers, |c| async move {
        c.delete_labelled("shop", "shiyun.io/app=app_web").await
    })
    .await;
    assert_eq!(result.unwrap(), 4);
    let expected = [
        (
            "GET",
            "/apis/networking.k8s.io/v1/namespaces/shop/ingresses",
        ),
        (
            "GET",
            "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers",
        ),
        ("GET", "/api/v1/namespaces/shop/services"),
        ("DELETE", "/api/v1/namespaces/shop/services"),
        ("GET", "/apis/apps/v1/namespaces/shop/deployments"),
        ("DELETE", "/apis/apps/v1/namespaces/shop/deployments"),
        ("GET", "/apis/batch/v1/namespaces/shop/jobs"),
        ("GET", "/api/v1/namespaces/shop/configmaps"),
        ("DELETE", "/api/v1/namespaces/shop/configmaps"),
        ("GET", "/api/v1/namespaces/shop/secrets"),
    ];
    assert_eq!(seen.len(), expected.len());
    for (request, (method, path)) in seen.iter().zip(expected) {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            (method, path)
        );
        assert_eq!(
            request.query.get("labelSelector").map(String::as_str),
            Some("shiyun.io/app=app_web"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn logs_stream_the_log_subresource() {
    let answers = vec![(200, "line one\nline two\n".to_owned())];
    let options = LogOptions {
        container: Some("app".into()),
        tail_lines: Some(10),
        follow: true,
        previous: false,
    };
    let (seen, result) = drive(answers, |c| async move {
        let stream = c.logs("shop", "web-1", &options).await?;
        let chunks: Vec<bytes::Bytes> = stream.try_collect().await?;
        Ok::<_, ClusterError>(String::from_utf8(chunks.concat()).unwrap())
    })
    .await;
    assert_eq!(result.unwrap(), "line one\nline two\n");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/api/v1/namespaces/shop/pods/web-1/log");
    assert_eq!(
        seen[0].query.get("container").map(String::as_str),
        Some("app")
    );
    assert_eq!(
        seen[0].query.get("tailLines").map(String::as_str),
        Some("10")
    );
    assert_eq!(
        seen[0].query.get("follow").map(String::as_str),
        Some("true")
    );
    assert!(!seen[0].query.contains_key("previous"));
}

#[tokio::test]
async fn job_state_and_pods() {
    let job = |status: Value| {
        ok(
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "build-1", "namespace": "shop"}, "status": status}),
        )
    };
    let cases = [
        (json!({"active": 1}), JobState::Running),
        (
            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
            JobState::Succeeded,
        ),
        (
            json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}),
            JobState::Failed,
        ),
    ];
    for (status, expected) in cases {
        let (seen, result) = drive(vec![job(status)], |c| async move {
            c.job("shop", "build-1").await
        })
        .await;
        assert_eq!(result.unwrap(), Some(expected));
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path.as_str()),
            ("GET", "/apis/batch/v1/namespaces/shop/jobs/build-1")
        );
    }
    let pods = ok(
        json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "3"}, "items": [
            {"metadata": {"name": "build-1-b"}}, {"metadata": {"name": "build-1-a"}},
        ]}),
    );
    let (seen, result) = drive(vec![pods], |c| async move {
        c.job_pods("shop", "build-1").await
    })
    .await;
    assert_eq!(result.unwrap(), ["build-1-a", "build-1-b"]);
    assert_eq!(seen[0].path, "/api/v1/namespaces/shop/pods");
    assert_eq!(
        seen[0].query.get("labelSelector").map(String::as_str),
        Some("job-name=build-1")
    );
}

#[tokio::test]
async fn the_cache_lists_managed_deployments_and_pods_and_all_events() {
    let (service, mut handle): (_, MockHandle) = mock::pair();
    let cluster = KubeCluster::new(kube::Client::new(service, "default"));
    let mut paths = BTreeMap::new();
    for _ in 0..3 {
        let (request, respond) = handle.next_request().await.expect("a list request");
        let query = query_of(request.uri().query().unwrap_or_default());
        assert_eq!(request.method(), "GET");
        assert!(!query.contains_key("watch"), "lists come first");
        paths.insert(
            request.uri().path().to_owned(),
            query.get("labelSelector").cloned(),
        );
        let kind = if request.uri().path().contains("deployments") {
            "DeploymentList"
        } else if request.uri().path().contains("pods") {
            "PodList"
        } else {
            "EventList"
        };
        let body = json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "5"}, "items": []});
        respond.send_response(
            Response::builder()
                .body(Body::from(body.to_string().into_bytes()))
                .unwrap(),
        );
    }
    let managed = Some("app.kubernetes.io/managed-by=shiyun".to_owned());
    assert_eq!(
        paths,
        BTreeMap::from([
            ("/api/v1/events".to_owned(), None),
            ("/api/v1/pods".to_owned(), managed.clone()),
            ("/apis/apps/v1/deployments".to_owned(), managed),
        ])
    );
    // Then each store watches from the listed version.
    for _ in 0..3 {
        let (request, _respond) = handle.next_request().await.expect("a watch request");
        let query = query_of(request.uri().query().unwrap_or_default());
        assert_eq!(query.get("watch").map(String::as_str), Some("true"));
        assert_eq!(query.get("resourceVersion").map(String::as_str), Some("5"));
    }
    assert!(cluster.wait_synced(std::time::Duration::from_secs(5)).await);
}
