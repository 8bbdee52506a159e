//! Rendering: golden snapshots of what projects, releases and builds
//! become, and the properties the engine relies on (config changes roll
//! pods and nothing else does, the HPA owns an autoscaled Deployment's
//! replicas, secrets stay in the Secret, every object is labelled).
//!
//! With `SHIYUN_RENDER_OUT` set, every rendered object is also written
//! there as one JSON file, for `deploy/validate-rendered` to check against
//! the Kubernetes schemas.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first surprise"
)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use shiyun_core::deploy::AppId;
use shiyun_core::tenancy::{AccountId, EnterpriseId, ProjectId, Tenant};
use shiyun_deploy::cluster::Manifest;
use shiyun_deploy::model::{
    APP_LABEL, AppSpec, CONFIG_HASH_ANNOTATION, MANAGED_BY, PROJECT_LABEL, ProjectQuota,
    ProjectTarget, RELEASE_LABEL, RESTARTED_AT_ANNOTATION, RenderInput, ServiceAddress,
    TENANT_LABEL, namespace_of, service_host,
};
use shiyun_deploy::render::{
    self, BUILD_LABEL, BuildSettings, BuildSource, config_file_key, config_hash,
};

fn target() -> ProjectTarget {
    let project = ProjectId::parse("prj_00112233445566778899aabbccddeeff").unwrap();
    ProjectTarget {
        tenant: Tenant::Enterprise(
            EnterpriseId::parse("ent_0123456789abcdef0123456789abcdef").unwrap(),
        ),
        namespace: namespace_of(&project),
        project,
        quota: ProjectQuota::default(),
    }
}

fn app_id() -> AppId {
    AppId::parse("app_fedcba9876543210fedcba9876543210").unwrap()
}

/// A spec from JSON (the model's defaults apply), checked as the API would.
fn spec(value: Value) -> AppSpec {
    let spec: AppSpec = serde_json::from_value(value).unwrap();
    spec.validate().unwrap();
    spec
}

fn minimal() -> Value {
    json!({
        "image": "registry.example.com/shop/web:1.4.2",
        "ports": [{"name": "http", "port": 8080}],
        "resources": {"cpu_millicores": 250, "memory_mib": 256},
        "scale": {"mode": "fixed", "replicas": 2}
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            base.insert(key.clone(), value.clone());
        }
    }
    base
}

fn database() -> ServiceAddress {
    let namespace = target().namespace;
    ServiceAddress {
        app: "orders-db".to_owned(),
        host: service_host("orders-db", &namespace),
        ports: vec![
            serde_json::from_value(json!({"name": "pg", "port": 5432})).unwrap(),
            serde_json::from_value(json!({"name": "metrics", "port": 9187})).unwrap(),
        ],
    }
}

fn cache() -> ServiceAddress {
    let namespace = target().namespace;
    ServiceAddress {
        app: "cache".to_owned(),
        host: service_host("cache", &namespace),
        ports: vec![serde_json::from_value(json!({"name": "redis", "port": 6379})).unwrap()],
    }
}

/// One row of the table: a spec and what the engine renders it with.
struct Case {
    name: &'static str,
    spec: AppSpec,
    replicas: u32,
    bounds: Option<(u32, u32)>,
    dependencies: Vec<ServiceAddress>,
    restarted_at: Option<&'static str>,
}

impl Case {
    fn new(name: &'static str, spec: AppSpec) -> Case {
        Case {
            name,
            replicas: spec.desired_replicas(),
            spec,
            bounds: None,
            dependencies: Vec::new(),
            restarted_at: None,
        }
    }

    fn render(&self, target: &ProjectTarget, app: &AppId) -> Vec<Manifest> {
        render::application(&RenderInput {
            target,
            app,
            name: "web",
            release: 3,
            spec: &self.spec,
            replicas: self.replicas,
            autoscale_bounds: self.bounds,
            dependencies: &self.dependencies,
            restarted_at: self.restarted_at,
        })
    }
}

fn cases() -> Vec<Case> {
    let autoscaled = json!({"mode": "auto", "min": 2, "max": 10, "cpu_percent": 70});
    vec![
        Case::new("minimal", spec(minimal())),
        Case::new(
            "autoscaled",
            spec(with(minimal(), json!({"scale": autoscaled.clone()}))),
        ),
        Case {
            bounds: Some((4, 6)),
            ..Case::new(
                "autoscaled_bounds_override",
                spec(with(minimal(), json!({"scale": autoscaled}))),
            )
        },
        Case::new(
            "config_env_secrets",
            spec(with(
                minimal(),
                json!({
                    "command": ["/bin/shop"],
                    "args": ["serve", "--config", "/etc/shop/shop.toml"],
                    "env": {"LOG_LEVEL": "info", "FEATURE_X": "on"},
                    "secrets": {"DATABASE_PASSWORD": "hunter2-s3cret", "API_TOKEN": "tok-9f8e7d"},
                    "config_files": [
                        {"path": "/etc/shop/shop.toml", "content": "[server]\nport = 8080\n"},
                        {"path": "/etc/shop/feature-flags_v2.json", "content": "{\"x\": true}\n"}
                    ],
                    "resources": {
                        "cpu_millicores": 500, "memory_mib": 512,
                        "cpu_limit_millicores": 1000, "memory_limit_mib": 1024
                    }
                }),
            )),
        ),
        Case::new(
            "ingress",
            spec(with(
                minimal(),
                json!({
                    "ports": [
                        {"name": "http", "port": 8080},
                        {"name": "admin", "port": 9090},
                        {"name": "stats", "port": 8125, "protocol": "UDP"}
                    ],
                    "ingress": [
                        {"host": "shop.example.com", "port": 8080, "tls_secret": "shop-tls"},
                        {"host": "shop.example.com", "path": "/admin", "port": 9090, "tls_secret": "shop-tls"},
                        {"host": "www.shop.example.com", "port": 8080, "tls_secret": "shop-tls"},
                        {"host": "plain.example.net", "path": "/api", "port": 8080}
                    ]
                }),
            )),
        ),
        Case::new(
            "ingress_plain",
            spec(with(
                minimal(),
                json!({"ingress": [{"host": "shop.example.com", "port": 8080}]}),
            )),
        ),
        Case {
            dependencies: vec![database(), cache()],
            ..Case::new(
                "dependencies",
                spec(with(
                    minimal(),
                    json!({"dependencies": ["orders-db", "cache"]}),
                )),
            )
        },
        Case::new(
            "health_http_liveness",
            spec(with(
                minimal(),
                json!({"health": {"http_path": "/healthz", "port": 8080, "liveness": true, "period_seconds": 15}}),
            )),
        ),
        Case::new(
            "health_tcp",
            spec(with(
                minimal(),
                json!({
                    "health": {"port": 8080, "initial_delay_seconds": 0},
                    "rollout": {"max_surge": "1", "max_unavailable": "10%", "deadline_seconds": 300}
                }),
            )),
        ),
        Case {
            restarted_at: Some("2025-03-01T12:00:00Z"),
            ..Case::new("restarted", spec(minimal()))
        },
        Case {
            replicas: 0,
            ..Case::new(
                "worker_stopped",
                spec(json!({
                    "image": "registry.example.com/shop/worker@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    "resources": {"cpu_millicores": 100, "memory_mib": 128},
                    "scale": {"mode": "fixed", "replicas": 1}
                })),
            )
        },
    ]
}

fn build_settings(push_secret: Option<&str>) -> BuildSettings {
    BuildSettings {
        builder_image: "gcr.io/kaniko-project/executor:v1.23.2".to_owned(),
        registry: "registry.example.com/shiyun".to_owned(),
        push_secret: push_secret.map(str::to_owned),
    }
}

fn build(context_dir: Option<&str>, push_secret: Option<&str>) -> Manifest {
    render::build_job(
        &target(),
        &app_id(),
        "web",
        "web-build-7",
        &BuildSource {
            repository: "https://git.example.com/shop/web.git".to_owned(),
            revision: "v1.4.2".to_owned(),
            context_dir: context_dir.map(str::to_owned),
        },
        "registry.example.com/shiyun/web:bld-7",
        &build_settings(push_secret),
    )
}

/// Writes the objects to `SHIYUN_RENDER_OUT`, when it is set.
fn write_out(group: &str, manifests: &[Manifest]) {
    let Some(dir) = std::env::var_os("SHIYUN_RENDER_OUT") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, manifest) in manifests.iter().enumerate() {
        let file = dir.join(format!(
            "{group}-{i:02}-{}-{}.json",
            manifest.kind().to_ascii_lowercase(),
            manifest.name()
        ));
        std::fs::write(file, serde_json::to_vec_pretty(manifest).unwrap()).unwrap();
    }
}

fn to_json(manifest: &Manifest) -> Value {
    serde_json::to_value(manifest).unwrap()
}

fn find<'a>(manifests: &'a [Manifest], kind: &str) -> &'a Manifest {
    manifests
        .iter()
        .find(|m| m.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

fn find_json(manifests: &[Manifest], kind: &str) -> Value {
    to_json(find(manifests, kind))
}

fn kinds(manifests: &[Manifest]) -> Vec<&'static str> {
    manifests.iter().map(Manifest::kind).collect()
}

fn pod_template(manifests: &[Manifest]) -> Value {
    find_json(manifests, "Deployment")["spec"]["template"].clone()
}

fn template_hash(manifests: &[Manifest]) -> String {
    pod_template(manifests)["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn applications_render_to_their_snapshots() {
    let target = target();
    let app = app_id();
    for case in cases() {
        let manifests = case.render(&target, &app);
        write_out(case.name, &manifests);
        insta::assert_json_snapshot!(format!("app_{}", case.name), manifests);
    }
}

#[test]
fn projects_render_to_their_snapshot() {
    let manifests = render::project(&target());
    write_out("project", &manifests);
    assert_eq!(
        kinds(&manifests),
        ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy"]
    );
    insta::assert_json_snapshot!("project", manifests);
}

#[test]
fn builds_render_to_their_snapshots() {
    let plain = build(None, None);
    let pushing = build(Some("services/web"), Some("registry-push"));
    write_out("build_plain", std::slice::from_ref(&plain));
    write_out("build_push", std::slice::from_ref(&pushing));
    insta::assert_json_snapshot!("build_plain", plain);
    insta::assert_json_snapshot!("build_push", pushing);
}

#[test]
fn applications_render_the_kinds_their_spec_asks_for_in_apply_order() {
    let target = target();
    let app = app_id();
    let by_name: Vec<(&str, Vec<&str>)> = cases()
        .iter()
        .map(|case| (case.name, kinds(&case.render(&target, &app))))
        .collect();
    let expect = |name: &str| {
        by_name
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kinds)| kinds.clone())
            .unwrap()
    };
    assert_eq!(
        expect("minimal"),
        ["ConfigMap", "Secret", "Service", "Deployment"]
    );
    assert_eq!(
        expect("autoscaled"),
        [
            "ConfigMap",
            "Secret",
            "Service",
            "Deployment",
            "HorizontalPodAutoscaler"
        ]
    );
    assert_eq!(
        expect("ingress"),
        ["ConfigMap", "Secret", "Service", "Deployment", "Ingress"]
    );
    // No ports: no Service, but the (empty) ConfigMap and Secret still are.
    assert_eq!(
        expect("worker_stopped"),
        ["ConfigMap", "Secret", "Deployment"]
    );
}

#[test]
fn stale_kinds_are_the_optional_kinds_not_rendered() {
    let target = target();
    let app = app_id();
    let all = cases();
    let case = |name: &str| all.iter().find(|c| c.name == name).unwrap();

    assert_eq!(
        render::stale_kinds(&case("minimal").render(&target, &app)),
        ["Ingress", "HorizontalPodAutoscaler"]
    );
    assert_eq!(
        render::stale_kinds(&case("worker_stopped").render(&target, &app)),
        ["Service", "Ingress", "HorizontalPodAutoscaler"]
    );
    assert_eq!(
        render::stale_kinds(&case("autoscaled").render(&target, &app)),
        ["Ingress"]
    );
    assert_eq!(
        render::stale_kinds(&case("ingress").render(&target, &app)),
        ["HorizontalPodAutoscaler"]
    );
    let everything = Case::new(
        "everything",
        spec(with(
            minimal(),
            json!({
                "scale": {"mode": "auto", "min": 1, "max": 3, "cpu_percent": 50},
                "ingress": [{"host": "shop.example.com", "port": 8080}]
            }),
        )),
    );
    assert!(render::stale_kinds(&everything.render(&target, &app)).is_empty());
}

#[test]
fn every_object_carries_the_platform_labels_name_and_namespace() {
    let target = target();
    let app = app_id();
    let tenant = target.tenant.as_str();
    let project = target.project.as_str();

    let check_project_labels = |manifest: &Manifest| {
        let labels = manifest.metadata().labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get(MANAGED_BY.0).map(String::as_str),
            Some(MANAGED_BY.1),
            "{} {}",
            manifest.kind(),
            manifest.name()
        );
        assert_eq!(labels.get(TENANT_LABEL).map(String::as_str), Some(tenant));
        assert_eq!(labels.get(PROJECT_LABEL).map(String::as_str), Some(project));
    };

    for manifest in render::project(&target) {
        check_project_labels(&manifest);
        if manifest.kind() == "Namespace" {
            assert_eq!(manifest.name(), target.namespace);
            assert_eq!(manifest.namespace(), None);
        } else {
            assert_eq!(manifest.namespace(), Some(target.namespace.as_str()));
        }
    }

    let mut applications: Vec<Manifest> = cases()
        .iter()
        .flat_map(|case| case.render(&target, &app))
        .collect();
    applications.push(build(Some("services/web"), Some("registry-push")));
    for manifest in &applications {
        check_project_labels(manifest);
        let labels = manifest.metadata().labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get(APP_LABEL).map(String::as_str),
            Some(app.as_str())
        );
        assert_eq!(
            labels.get("app.kubernetes.io/name").map(String::as_str),
            Some("web")
        );
        assert_eq!(manifest.namespace(), Some(target.namespace.as_str()));
        if manifest.kind() == "Job" {
            assert_eq!(manifest.name(), "web-build-7");
            assert_eq!(
                labels.get(BUILD_LABEL).map(String::as_str),
                Some("web-build-7")
            );
        } else {
            assert_eq!(manifest.name(), "web");
        }
    }
}

#[test]
fn the_release_label_is_on_the_deployment_and_not_on_its_pods() {
    let target = target();
    let app = app_id();
    let manifests = Case::new("minimal", spec(minimal())).render(&target, &app);
    let deployment = find_json(&manifests, "Deployment");
    assert_eq!(deployment["metadata"]["labels"][RELEASE_LABEL], "3");
    let template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    assert!(!template_labels.contains_key(RELEASE_LABEL));
    assert_eq!(template_labels[APP_LABEL], app.as_str());
    assert_eq!(
        deployment["spec"]["selector"],
        json!({"matchLabels": {APP_LABEL: app.as_str()}})
    );
    let service = find_json(&manifests, "Service");
    assert_eq!(
        service["spec"]["selector"],
        json!({APP_LABEL: app.as_str()})
    );
}

#[test]
fn an_autoscaled_deployment_leaves_its_replicas_to_the_autoscaler() {
    let target = target();
    let app = app_id();
    let all = cases();
    for name in ["autoscaled", "autoscaled_bounds_override"] {
        let case = all.iter().find(|c| c.name == name).unwrap();
        let manifests = case.render(&target, &app);
        let deployment = find_json(&manifests, "Deployment");
        assert!(
            deployment["spec"].get("replicas").is_none(),
            "{name}: {deployment}"
        );
        let hpa = find_json(&manifests, "HorizontalPodAutoscaler");
        assert_eq!(
            hpa["spec"]["scaleTargetRef"],
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})
        );
        let (min, max) = case.bounds.unwrap_or((2, 10));
        assert_eq!(hpa["spec"]["minReplicas"], min);
        assert_eq!(hpa["spec"]["maxReplicas"], max);
        assert_eq!(
            hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            70
        );
    }

    // Fixed scale: the replicas the engine asks for, not the release's.
    let mut fixed = Case::new("minimal", spec(minimal()));
    fixed.replicas = 5;
    let deployment = find_json(&fixed.render(&target, &app), "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 5);
}

#[test]
fn the_config_hash_follows_config_secrets_and_dependencies_only() {
    let target = target();
    let app = app_id();
    let base_spec = spec(with(
        minimal(),
        json!({
            "env": {"LOG_LEVEL": "info"},
            "secrets": {"DATABASE_PASSWORD": "hunter2"},
            "config_files": [{"path": "/etc/shop/shop.toml", "content": "a = 1\n"}],
            "dependencies": ["orders-db"]
        }),
    ));
    let base = Case {
        dependencies: vec![database()],
        ..Case::new("base", base_spec.clone())
    };
    let base_render = base.render(&target, &app);
    let base_hash = template_hash(&base_render);
    assert_eq!(base_hash.len(), 64);
    assert!(base_hash.bytes().all(|b| b.is_ascii_hexdigit()));

    let changed = |change: &dyn Fn(&mut Case)| {
        let mut case = Case {
            dependencies: vec![database()],
            ..Case::new("changed", base_spec.clone())
        };
        change(&mut case);
        case.render(&target, &app)
    };

    let mut variants: Vec<(&str, Vec<Manifest>)> = vec![
        (
            "env value",
            changed(&|c| {
                c.spec.env.insert("LOG_LEVEL".into(), "debug".into());
            }),
        ),
        (
            "env added",
            changed(&|c| {
                c.spec.env.insert("NEW".into(), "".into());
            }),
        ),
        (
            "secret value",
            changed(&|c| {
                c.spec
                    .secrets
                    .insert("DATABASE_PASSWORD".into(), "hunter3".into());
            }),
        ),
        (
            "config file content",
            changed(&|c| c.spec.config_files[0].content = "a = 2\n".into()),
        ),
        (
            "config file path",
            changed(&|c| c.spec.config_files[0].path = "/etc/shop/other.toml".into()),
        ),
        (
            "dependency host",
            changed(&|c| c.dependencies[0].host = "elsewhere.svc.cluster.local".into()),
        ),
        (
            "dependency port",
            changed(&|c| c.dependencies[0].ports.swap(0, 1)),
        ),
    ];
    // An env value moved into a secret of the same name is a change too.
    variants.push((
        "env becomes secret",
        changed(&|c| {
            c.spec.env.remove("LOG_LEVEL");
            c.spec.secrets.insert("LOG_LEVEL".into(), "info".into());
        }),
    ));
    let mut seen = BTreeSet::from([base_hash.clone()]);
    for (what, manifests) in &variants {
        let hash = template_hash(manifests);
        assert!(seen.insert(hash), "{what} did not change the config hash");
    }

    // Replicas, the release number and the bounds leave the pod template
    // (hash included) as it was: a scale does not roll the pods.
    let scaled = changed(&|c| c.replicas = 7);
    assert_eq!(pod_template(&scaled), pod_template(&base_render));
    let released = render::application(&RenderInput {
        target: &target,
        app: &app,
        name: "web",
        release: 4,
        spec: &base.spec,
        replicas: base.replicas,
        autoscale_bounds: None,
        dependencies: &base.dependencies,
        restarted_at: None,
    });
    assert_eq!(pod_template(&released), pod_template(&base_render));
    assert_eq!(
        config_hash(&RenderInput {
            target: &target,
            app: &app,
            name: "web",
            release: 4,
            spec: &base.spec,
            replicas: 9,
            autoscale_bounds: Some((1, 2)),
            dependencies: &base.dependencies,
            restarted_at: None,
        }),
        base_hash
    );

    // Rendering is deterministic.
    assert_eq!(
        serde_json::to_string(&base.render(&target, &app)).unwrap(),
        serde_json::to_string(&base_render).unwrap()
    );
}

#[test]
fn a_restart_annotates_the_pod_template_and_changes_nothing_else() {
    let target = target();
    let app = app_id();
    let plain = Case::new("minimal", spec(minimal())).render(&target, &app);
    let restarted = Case {
        restarted_at: Some("2025-03-01T12:00:00Z"),
        ..Case::new("restarted", spec(minimal()))
    }
    .render(&target, &app);
    let mut template = pod_template(&restarted);
    assert_eq!(
        template["metadata"]["annotations"][RESTARTED_AT_ANNOTATION],
        "2025-03-01T12:00:00Z"
    );
    assert!(
        pod_template(&plain)["metadata"]["annotations"]
            .get(RESTARTED_AT_ANNOTATION)
            .is_none()
    );
    template["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove(RESTARTED_AT_ANNOTATION);
    assert_eq!(template, pod_template(&plain));
}

#[test]
fn secrets_stay_in_the_secret_and_files_stay_out_of_the_environment() {
    let target = target();
    let app = app_id();
    let all = cases();
    let case = all.iter().find(|c| c.name == "config_env_secrets").unwrap();
    let manifests = case.render(&target, &app);

    for manifest in &manifests {
        let text = serde_json::to_string(manifest).unwrap();
        for (name, value) in &case.spec.secrets {
            if manifest.kind() != "Secret" {
                assert!(
                    !text.contains(value.as_str()),
                    "{} holds the secret {name}",
                    manifest.kind()
                );
            }
        }
    }
    let config = find_json(&manifests, "ConfigMap");
    let data = config["data"].as_object().unwrap();
    for name in case.spec.secrets.keys() {
        assert!(!data.contains_key(name));
    }
    let secret = find_json(&manifests, "Secret");
    assert_eq!(secret["type"], "Opaque");
    // Base64 on the wire; the clear text is what the spec gave.
    let Manifest::Secret(secret) = find(&manifests, "Secret") else {
        unreachable!()
    };
    let secret_data = secret.data.clone().unwrap();
    assert_eq!(secret_data.len(), case.spec.secrets.len());
    for (name, value) in &case.spec.secrets {
        assert_eq!(secret_data[name].0, value.as_bytes());
    }

    // The ConfigMap: the variables under their names, the files under
    // their keys, nothing else.
    let mut expected: BTreeSet<String> = case.spec.env.keys().cloned().collect();
    for file in &case.spec.config_files {
        let key = config_file_key(&file.path);
        assert_eq!(data[&key], file.content.as_str());
        expected.insert(key);
    }
    assert_eq!(data.keys().cloned().collect::<BTreeSet<_>>(), expected);

    // The container's variables: the plain ones and the secrets by
    // reference, never a file.
    let container = &pod_template(&manifests)["spec"]["containers"][0];
    let env = container["env"].as_array().unwrap();
    let names: BTreeSet<&str> = env.iter().map(|e| e["name"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = case
        .spec
        .env
        .keys()
        .chain(case.spec.secrets.keys())
        .map(String::as_str)
        .collect();
    assert_eq!(names, expected);
    assert!(container.get("envFrom").is_none());
    for var in env {
        let name = var["name"].as_str().unwrap();
        if case.spec.secrets.contains_key(name) {
            assert_eq!(
                var["valueFrom"]["secretKeyRef"],
                json!({"name": "web", "key": name})
            );
        } else {
            assert_eq!(
                var["valueFrom"]["configMapKeyRef"],
                json!({"name": "web", "key": name})
            );
        }
    }

    // Each file is mounted at its path from its own key.
    let mounts = container["volumeMounts"].as_array().unwrap();
    assert_eq!(mounts.len(), case.spec.config_files.len());
    for file in &case.spec.config_files {
        assert!(mounts.iter().any(|m| m["mountPath"] == file.path.as_str()
            && m["subPath"] == config_file_key(&file.path).as_str()));
    }
}

#[test]
fn dependencies_are_injected_and_the_spec_overrides_them() {
    let target = target();
    let app = app_id();
    let case = Case {
        dependencies: vec![database(), cache()],
        ..Case::new(
            "dependencies",
            spec(with(
                minimal(),
                json!({"dependencies": ["orders-db", "cache"], "env": {"CACHE_PORT": "6380"}}),
            )),
        )
    };
    let manifests = case.render(&target, &app);
    let env = pod_template(&manifests)["spec"]["containers"][0]["env"].clone();
    let value = |name: &str| {
        env.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        value("ORDERS_DB_HOST"),
        [json!({"name": "ORDERS_DB_HOST", "value": service_host("orders-db", &target.namespace)})]
    );
    assert_eq!(
        value("ORDERS_DB_PORT"),
        [json!({"name": "ORDERS_DB_PORT", "value": "5432"})]
    );
    assert_eq!(
        value("CACHE_HOST"),
        [json!({"name": "CACHE_HOST", "value": service_host("cache", &target.namespace)})]
    );
    // Named by the spec: only the ConfigMap's value, once.
    let cache_port = value("CACHE_PORT");
    assert_eq!(cache_port.len(), 1);
    assert!(cache_port[0].get("value").is_none());
    assert_eq!(
        cache_port[0]["valueFrom"]["configMapKeyRef"]["key"],
        "CACHE_PORT"
    );
}

#[test]
fn config_file_keys_are_distinct_valid_configmap_keys() {
    let paths = [
        "/a/b",
        "/a-b",
        "/a_b",
        "/a_/b",
        "/a/_b",
        "/a_-b",
        "/a/-b",
        "/a-/b",
        "/etc/app/config.toml",
        "/etc/app.config/toml",
    ];
    let long_a = format!("/{}", "a-".repeat(120));
    let long_b = format!("/{}", "a_".repeat(120));
    let mut keys = BTreeSet::new();
    for path in paths
        .iter()
        .copied()
        .chain([long_a.as_str(), long_b.as_str()])
    {
        let key = config_file_key(path);
        assert!(!key.is_empty() && key.len() <= 253, "{path}: {key}");
        assert!(!key.starts_with(".."));
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)),
            "{path}: {key}"
        );
        assert!(keys.insert(key), "{path} shares a key");
    }
    assert_eq!(
        config_file_key("/etc/app/config.toml"),
        "file-etc-app-config.toml"
    );
}

#[test]
fn the_isolation_policy_admits_the_same_tenant_and_the_ingress_controller_only() {
    let target = target();
    let manifests = render::project(&target);
    let policy = find_json(&manifests, "NetworkPolicy");
    assert_eq!(policy["metadata"]["name"], "shiyun-tenant-isolation");
    assert_eq!(policy["spec"]["podSelector"], json!({}));
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{"from": [
            {"namespaceSelector": {"matchLabels": {TENANT_LABEL: target.tenant.as_str()}}},
            {"namespaceSelector": {"matchLabels": {"shiyun.io/ingress-controller": "true"}}}
        ]}])
    );
    // The project's own namespace carries the tenant label it admits.
    let namespace = find_json(&manifests, "Namespace");
    assert_eq!(
        namespace["metadata"]["labels"][TENANT_LABEL],
        target.tenant.as_str()
    );

    // Another tenant's policy admits its own label, not this one's.
    let mut other = target.clone();
    other.tenant =
        Tenant::Personal(AccountId::parse("acc_99999999999999999999999999999999").unwrap());
    let other_policy = find_json(&render::project(&other), "NetworkPolicy");
    assert_ne!(other_policy["spec"]["ingress"], policy["spec"]["ingress"]);

    let quota = find_json(&manifests, "ResourceQuota");
    assert_eq!(
        quota["spec"]["hard"],
        json!({"pods": "50", "requests.cpu": "8000m", "requests.memory": "16384Mi"})
    );
}

#[test]
fn a_build_pod_is_not_one_of_the_applications_pods() {
    let Manifest::Job(job) = build(None, Some("registry-push")) else {
        panic!("build_job renders a Job")
    };
    let labels = job.metadata.labels.clone().unwrap();
    assert_eq!(labels[APP_LABEL], app_id().as_str());
    let spec = job.spec.clone().unwrap();
    let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
    assert!(!pod_labels.contains_key(APP_LABEL));
    assert_eq!(pod_labels[BUILD_LABEL], "web-build-7");
    assert_eq!(spec.backoff_limit, Some(0));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let env: Vec<(String, String)> = pod.containers[0]
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert!(env.contains(&("DOCKER_CONFIG".to_owned(), "/kaniko/.docker".to_owned())));
    assert!(!env.iter().any(|(name, _)| name == "SOURCE_CONTEXT_DIR"));
}
