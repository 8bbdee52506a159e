//! Renders the objects a project and a release become. Pure: the same
//! input gives the same objects, byte for byte (golden snapshots hold it).
//!
//! Every map is a `BTreeMap` and every list follows the spec's order, so
//! nothing depends on a clock, a random draw or hash-map iteration.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapKeySelector, ConfigMapVolumeSource, Container, ContainerPort, EnvVar,
    EnvVarSource, HTTPGetAction, KeyToPath, LimitRange, LimitRangeItem, LimitRangeSpec, Namespace,
    PodSpec, PodTemplateSpec, Probe, ResourceQuota, ResourceQuotaSpec, ResourceRequirements,
    Secret, SecretKeySelector, SecretVolumeSource, Service, ServicePort, ServiceSpec,
    TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyIngressRule,
    NetworkPolicyPeer, NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};
use shiyun_core::deploy::AppId;

use crate::cluster::Manifest;
use crate::model::{
    APP_LABEL, AppSpec, CONFIG_HASH_ANNOTATION, HealthCheck, MANAGED_BY, PROJECT_LABEL,
    ProjectTarget, Protocol, RELEASE_LABEL, RESTARTED_AT_ANNOTATION, RenderInput, ScaleSpec,
    TENANT_LABEL, env_prefix,
};

/// Where builds run and push.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildSettings {
    /// The builder image (it clones `SOURCE_REPOSITORY` at
    /// `SOURCE_REVISION` and pushes `OUTPUT_IMAGE`).
    pub builder_image: String,
    /// The registry images are pushed to (`registry.example.com/shiyun`).
    pub registry: String,
    /// A docker-config Secret in the project's namespace for pushing, if any.
    pub push_secret: Option<String>,
}

/// What a build builds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSource {
    /// `https://` URL of a git repository.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^https://[^\\s]+$", max_length = 512)
    )]
    pub repository: String,
    /// Branch, tag or commit (default `main`).
    #[serde(default = "default_revision")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[^\\s]+$", min_length = 1, max_length = 255)
    )]
    pub revision: String,
    /// Directory of the repository to build (default the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_dir: Option<String>,
}

fn default_revision() -> String {
    "main".to_owned()
}

/// The fixed name of a project's ResourceQuota.
pub const QUOTA_NAME: &str = "shiyun-quota";
/// The fixed name of a project's LimitRange.
pub const LIMITS_NAME: &str = "shiyun-limits";
/// The fixed name of a project's NetworkPolicy.
pub const ISOLATION_POLICY_NAME: &str = "shiyun-tenant-isolation";
/// Label an operator puts on the ingress controller's namespace so its
/// traffic passes every project's isolation policy.
pub const INGRESS_CONTROLLER_LABEL: &str = "shiyun.io/ingress-controller";
/// Label naming the build a Job (and its pod) runs.
pub const BUILD_LABEL: &str = "shiyun.io/build";
/// The name of an application's only container.
pub const APP_CONTAINER: &str = "app";
/// The name of a build Job's only container.
pub const BUILDER_CONTAINER: &str = "builder";
/// Where a build's push credentials are mounted (`config.json` inside;
/// `DOCKER_CONFIG` points there, the place Kaniko reads by default).
pub const DOCKER_CONFIG_DIR: &str = "/kaniko/.docker";

/// The key of a `kubernetes.io/dockerconfigjson` Secret.
const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
/// The volume the config files are mounted from.
const CONFIG_VOLUME: &str = "config";
/// The volume a build's push credentials are mounted from.
const PUSH_SECRET_VOLUME: &str = "push-secret";
/// A ConfigMap key is at most this long.
const MAX_CONFIG_KEY: usize = 253;

/// Pod security level enforced on every project namespace: `baseline`
/// refuses privileged pods, host namespaces and host paths while still
/// letting images run as root (many do, and so does the builder).
const POD_SECURITY_LEVEL: &str = "baseline";

/// A build's CPU request, millicores (counted against the project quota).
const BUILD_CPU_MILLICORES: u32 = 500;
/// A build's memory request, MiB: image builds need far more than the
/// LimitRange's container default would give them.
const BUILD_MEMORY_MIB: u32 = 1024;
/// A build's memory limit, MiB.
const BUILD_MEMORY_LIMIT_MIB: u32 = 2048;
/// Seconds a finished build Job (and its pod, for logs) is kept.
const BUILD_TTL_SECONDS: i32 = 86_400;
/// Seconds a build may run before it is killed.
const BUILD_DEADLINE_SECONDS: i64 = 3_600;

/// The labels every object of a project carries: managed-by, tenant and
/// project.
pub fn project_labels(target: &ProjectTarget) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
        (TENANT_LABEL.to_owned(), target.tenant.as_str().to_owned()),
        (PROJECT_LABEL.to_owned(), target.project.as_str().to_owned()),
    ])
}

/// The labels every object of an application carries.
pub fn app_labels(target: &ProjectTarget, app: &AppId, name: &str) -> BTreeMap<String, String> {
    let mut labels = project_labels(target);
    labels.insert("app.kubernetes.io/name".to_owned(), name.to_owned());
    labels.insert(APP_LABEL.to_owned(), app.as_str().to_owned());
    labels
}

/// The label selector of every object of an application
/// (`shiyun.io/app=app_…`), as [`crate::cluster::ClusterApi::delete_labelled`] takes it.
pub fn app_selector(app: &AppId) -> String {
    format!("{APP_LABEL}={}", app.as_str())
}

/// A project's objects: its Namespace, ResourceQuota, LimitRange and the
/// NetworkPolicy that refuses other tenants' namespaces.
pub fn project(target: &ProjectTarget) -> Vec<Manifest> {
    let labels = project_labels(target);
    let quota = &target.quota;

    let mut namespace_labels = labels.clone();
    namespace_labels.insert(
        "pod-security.kubernetes.io/enforce".to_owned(),
        POD_SECURITY_LEVEL.to_owned(),
    );
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(target.namespace.clone()),
            labels: Some(namespace_labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };

    let resource_quota = ResourceQuota {
        metadata: meta(QUOTA_NAME, target, labels.clone()),
        spec: Some(ResourceQuotaSpec {
            hard: Some(BTreeMap::from([
                ("pods".to_owned(), Quantity(quota.pods.to_string())),
                ("requests.cpu".to_owned(), cpu(quota.cpu_millicores)),
                ("requests.memory".to_owned(), memory(quota.memory_mib)),
            ])),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    };

    // A quota on requests makes every pod name its requests; the defaults
    // give one to a container that names none. Memory gets a default limit
    // equal to its request (an unbounded container could starve the node);
    // CPU gets none, as for applications.
    let limit_range = LimitRange {
        metadata: meta(LIMITS_NAME, target, labels.clone()),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_owned(),
                default_request: Some(BTreeMap::from([
                    ("cpu".to_owned(), cpu(quota.default_cpu_millicores)),
                    ("memory".to_owned(), memory(quota.default_memory_mib)),
                ])),
                default: Some(BTreeMap::from([(
                    "memory".to_owned(),
                    memory(quota.default_memory_mib),
                )])),
                ..LimitRangeItem::default()
            }],
        }),
    };

    // Tenant isolation. The policy selects every pod of the namespace and
    // admits ingress only from
    // - namespaces labelled with the same tenant (this project's own
    //   namespace and the tenant's other projects; the platform alone
    //   labels namespaces, so a tenant cannot claim another's label), and
    // - namespaces labelled `shiyun.io/ingress-controller=true`, which the
    //   operator puts on the ingress controller's namespace so Ingress
    //   traffic still reaches the Services.
    // Any other namespace (another tenant's) is refused. Egress is not
    // restricted (builds clone repositories, applications call out), and
    // kubelet probes come from the node, which policies do not govern.
    let isolation = NetworkPolicy {
        metadata: meta(ISOLATION_POLICY_NAME, target, labels),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![
                    namespace_peer(TENANT_LABEL, target.tenant.as_str()),
                    namespace_peer(INGRESS_CONTROLLER_LABEL, "true"),
                ]),
                ports: None,
            }]),
            egress: None,
        }),
    };

    vec![
        Manifest::Namespace(namespace),
        Manifest::ResourceQuota(resource_quota),
        Manifest::LimitRange(limit_range),
        Manifest::NetworkPolicy(isolation),
    ]
}

/// The ConfigMap key a config file is stored under: `file` followed by
/// the path with `/` written `-`, `-` written `_-` and `_` written `__`
/// (`/etc/app/config.toml` → `file-etc-app-config.toml`). The escaping
/// keeps distinct paths on distinct keys. A key that would pass the 253
/// bytes a ConfigMap key may have becomes `file_sha256_` and the path's
/// hash instead (an escaped key never has `_s`, so the two never meet).
pub fn config_file_key(path: &str) -> String {
    let mut key = String::with_capacity(path.len() + 8);
    key.push_str("file");
    for c in path.chars() {
        match c {
            '/' => key.push('-'),
            '-' => key.push_str("_-"),
            '_' => key.push_str("__"),
            other => key.push(other),
        }
    }
    if key.len() > MAX_CONFIG_KEY {
        format!(
            "file_sha256_{}",
            hex::encode(Sha256::digest(path.as_bytes()))
        )
    } else {
        key
    }
}

/// The environment variables a release's dependencies become, by name:
/// `<PREFIX>_HOST` (the dependency's in-cluster name) and `<PREFIX>_PORT`
/// (its first port, when it has one).
pub fn dependency_env(input: &RenderInput<'_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for dependency in input.dependencies {
        let prefix = env_prefix(&dependency.app);
        env.insert(format!("{prefix}_HOST"), dependency.host.clone());
        if let Some(port) = dependency.ports.first() {
            env.insert(format!("{prefix}_PORT"), port.port.to_string());
        }
    }
    // A variable the spec names itself wins over an injected one.
    env.retain(|name, _| {
        !input.spec.env.contains_key(name) && !input.spec.secrets.contains_key(name)
    });
    env
}

/// The ConfigMap's data: the plain variables under their names and each
/// config file under [`config_file_key`].
fn config_data(spec: &AppSpec) -> BTreeMap<String, String> {
    let mut data = spec.env.clone();
    for file in &spec.config_files {
        data.insert(config_file_key(&file.path), file.content.clone());
    }
    data
}

/// The hash written to the pod template: SHA-256 (hex) of the ConfigMap
/// data, the Secret data and the injected dependency variables, each entry
/// length-prefixed so no two inputs share an encoding. Any change to them
/// changes the template and rolls the pods; replicas and the release
/// number do not enter it.
pub fn config_hash(input: &RenderInput<'_>) -> String {
    let mut hasher = Sha256::new();
    let sections = [
        ("config", config_data(input.spec)),
        ("secret", input.spec.secrets.clone()),
        ("dependencies", dependency_env(input)),
    ];
    for (section, entries) in &sections {
        hash_field(&mut hasher, section.as_bytes());
        hasher.update((entries.len() as u64).to_le_bytes());
        for (key, value) in entries {
            hash_field(&mut hasher, key.as_bytes());
            hash_field(&mut hasher, value.as_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

fn hash_field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// An application's objects for one release, in apply order: ConfigMap,
/// Secret, Service (when it has ports), Deployment, Ingress (when it has
/// rules), HorizontalPodAutoscaler (when it autoscales).
pub fn application(input: &RenderInput<'_>) -> Vec<Manifest> {
    let labels = app_labels(input.target, input.app, input.name);
    let spec = input.spec;
    let mut out = Vec::with_capacity(6);

    // Both are rendered even when empty, so the container's references
    // always resolve and a variable removed from the spec leaves them.
    out.push(Manifest::ConfigMap(ConfigMap {
        metadata: meta(input.name, input.target, labels.clone()),
        data: Some(config_data(spec)),
        ..ConfigMap::default()
    }));
    out.push(Manifest::Secret(Secret {
        metadata: meta(input.name, input.target, labels.clone()),
        type_: Some("Opaque".to_owned()),
        data: Some(
            spec.secrets
                .iter()
                .map(|(name, value)| (name.clone(), ByteString(value.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }));

    if !spec.ports.is_empty() {
        out.push(Manifest::Service(Service {
            metadata: meta(input.name, input.target, labels.clone()),
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                selector: Some(selector_labels(input.app)),
                ports: Some(
                    spec.ports
                        .iter()
                        .map(|port| ServicePort {
                            name: Some(port.name.clone()),
                            port: i32::from(port.port),
                            target_port: Some(IntOrString::Int(i32::from(port.port))),
                            protocol: Some(protocol(port.protocol)),
                            ..ServicePort::default()
                        })
                        .collect(),
                ),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }));
    }

    out.push(Manifest::Deployment(Box::new(deployment(input, &labels))));

    if !spec.ingress.is_empty() {
        out.push(Manifest::Ingress(ingress(input, &labels)));
    }

    if let ScaleSpec::Auto {
        min,
        max,
        cpu_percent,
    } = spec.scale
    {
        let (min, max) = input.autoscale_bounds.unwrap_or((min, max));
        out.push(Manifest::HorizontalPodAutoscaler(HorizontalPodAutoscaler {
            metadata: meta(input.name, input.target, labels),
            spec: Some(HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".to_owned()),
                    kind: "Deployment".to_owned(),
                    name: input.name.to_owned(),
                },
                min_replicas: Some(int(min)),
                max_replicas: int(max),
                metrics: Some(vec![MetricSpec {
                    type_: "Resource".to_owned(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".to_owned(),
                        target: MetricTarget {
                            type_: "Utilization".to_owned(),
                            average_utilization: Some(int(cpu_percent)),
                            ..MetricTarget::default()
                        },
                    }),
                    ..MetricSpec::default()
                }]),
                behavior: None,
            }),
            ..HorizontalPodAutoscaler::default()
        }));
    }

    out
}

fn deployment(input: &RenderInput<'_>, labels: &BTreeMap<String, String>) -> Deployment {
    let spec = input.spec;

    // The release label is on the Deployment only: on the template it
    // would roll the pods on a release that changes nothing they run (a
    // scale).
    let mut deployment_labels = labels.clone();
    deployment_labels.insert(RELEASE_LABEL.to_owned(), input.release.to_string());

    let mut annotations = BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_owned(), config_hash(input))]);
    if let Some(at) = input.restarted_at {
        annotations.insert(RESTARTED_AT_ANNOTATION.to_owned(), at.to_owned());
    }

    // Replicas are left out when the HPA owns them: an applied value would
    // fight it on every release.
    let replicas = match spec.scale {
        ScaleSpec::Fixed { .. } => Some(int(input.replicas)),
        ScaleSpec::Auto { .. } => None,
    };

    Deployment {
        metadata: meta(input.name, input.target, deployment_labels),
        spec: Some(DeploymentSpec {
            replicas,
            selector: LabelSelector {
                match_labels: Some(selector_labels(input.app)),
                match_expressions: None,
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(count_or_percent(&spec.rollout.max_surge)),
                    max_unavailable: Some(count_or_percent(&spec.rollout.max_unavailable)),
                }),
            }),
            progress_deadline_seconds: Some(int(spec.rollout.deadline_seconds)),
            revision_history_limit: Some(10),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(input)),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn pod_spec(input: &RenderInput<'_>) -> PodSpec {
    let spec = input.spec;

    // Each variable is its own reference to the ConfigMap or Secret key (not
    // `envFrom`, which would also turn the config files' keys into
    // variables); the dependencies' addresses are plain values.
    let mut env: Vec<EnvVar> = Vec::new();
    for name in spec.env.keys() {
        env.push(EnvVar {
            name: name.clone(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: input.name.to_owned(),
                    key: name.clone(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
            value: None,
        });
    }
    for name in spec.secrets.keys() {
        env.push(EnvVar {
            name: name.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: input.name.to_owned(),
                    key: name.clone(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
            value: None,
        });
    }
    for (name, value) in dependency_env(input) {
        env.push(EnvVar {
            name,
            value: Some(value),
            value_from: None,
        });
    }

    // Config files: one volume projecting only the files' keys, each
    // mounted at its path through `subPath`. Subpath mounts do not follow
    // ConfigMap updates; the config hash rolls the pods instead.
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    if !spec.config_files.is_empty() {
        let mut items = Vec::new();
        for file in &spec.config_files {
            let key = config_file_key(&file.path);
            items.push(KeyToPath {
                key: key.clone(),
                path: key.clone(),
                mode: None,
            });
            mounts.push(VolumeMount {
                name: CONFIG_VOLUME.to_owned(),
                mount_path: file.path.clone(),
                sub_path: Some(key),
                read_only: Some(true),
                ..VolumeMount::default()
            });
        }
        volumes.push(Volume {
            name: CONFIG_VOLUME.to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: input.name.to_owned(),
                items: Some(items),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }

    let resources = &spec.resources;
    let mut limits = BTreeMap::from([(
        "memory".to_owned(),
        memory(resources.memory_limit_mib.unwrap_or(resources.memory_mib)),
    )]);
    if let Some(limit) = resources.cpu_limit_millicores {
        limits.insert("cpu".to_owned(), cpu(limit));
    }

    let container = Container {
        name: APP_CONTAINER.to_owned(),
        image: Some(spec.image.clone()),
        command: spec.command.clone(),
        args: spec.args.clone(),
        ports: non_empty(
            spec.ports
                .iter()
                .map(|port| ContainerPort {
                    name: Some(port.name.clone()),
                    container_port: i32::from(port.port),
                    protocol: Some(protocol(port.protocol)),
                    ..ContainerPort::default()
                })
                .collect(),
        ),
        env: non_empty(env),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), cpu(resources.cpu_millicores)),
                ("memory".to_owned(), memory(resources.memory_mib)),
            ])),
            limits: Some(limits),
            claims: None,
        }),
        readiness_probe: spec.health.as_ref().map(probe),
        liveness_probe: spec
            .health
            .as_ref()
            .filter(|health| health.liveness)
            .map(probe),
        volume_mounts: non_empty(mounts),
        ..Container::default()
    };

    PodSpec {
        containers: vec![container],
        volumes: non_empty(volumes),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        ..PodSpec::default()
    }
}

fn probe(health: &HealthCheck) -> Probe {
    let port = IntOrString::Int(i32::from(health.port));
    let (http_get, tcp_socket) = match &health.http_path {
        Some(path) => (
            Some(HTTPGetAction {
                path: Some(path.clone()),
                port,
                ..HTTPGetAction::default()
            }),
            None,
        ),
        None => (None, Some(TCPSocketAction { port, host: None })),
    };
    Probe {
        http_get,
        tcp_socket,
        initial_delay_seconds: Some(int(health.initial_delay_seconds)),
        period_seconds: Some(int(health.period_seconds)),
        ..Probe::default()
    }
}

fn ingress(input: &RenderInput<'_>, labels: &BTreeMap<String, String>) -> Ingress {
    // One rule per host (in the order hosts first appear) with its paths in
    // spec order; one TLS entry per secret with the hosts it serves.
    let mut rules: Vec<IngressRule> = Vec::new();
    let mut tls: Vec<IngressTLS> = Vec::new();
    for rule in &input.spec.ingress {
        let path = HTTPIngressPath {
            path: Some(rule.path.clone()),
            path_type: "Prefix".to_owned(),
            backend: IngressBackend {
                service: Some(IngressServiceBackend {
                    name: input.name.to_owned(),
                    port: Some(ServiceBackendPort {
                        number: Some(i32::from(rule.port)),
                        name: None,
                    }),
                }),
                resource: None,
            },
        };
        match rules
            .iter_mut()
            .find(|r| r.host.as_deref() == Some(rule.host.as_str()))
        {
            Some(existing) => {
                if let Some(http) = existing.http.as_mut() {
                    http.paths.push(path);
                }
            }
            None => rules.push(IngressRule {
                host: Some(rule.host.clone()),
                http: Some(HTTPIngressRuleValue { paths: vec![path] }),
            }),
        }
        if let Some(secret) = &rule.tls_secret {
            match tls
                .iter_mut()
                .find(|t| t.secret_name.as_deref() == Some(secret.as_str()))
            {
                Some(entry) => {
                    let hosts = entry.hosts.get_or_insert_with(Vec::new);
                    if !hosts.contains(&rule.host) {
                        hosts.push(rule.host.clone());
                    }
                }
                None => tls.push(IngressTLS {
                    hosts: Some(vec![rule.host.clone()]),
                    secret_name: Some(secret.clone()),
                }),
            }
        }
    }
    Ingress {
        metadata: meta(input.name, input.target, labels.clone()),
        spec: Some(IngressSpec {
            // Unset: the cluster's default IngressClass serves it.
            ingress_class_name: None,
            rules: Some(rules),
            tls: non_empty(tls),
            default_backend: None,
        }),
        ..Ingress::default()
    }
}

/// The kinds an application may own that `rendered` lacks: the engine
/// deletes them (an Ingress dropped from the spec, an HPA after a switch to
/// fixed replicas).
pub fn stale_kinds(rendered: &[Manifest]) -> Vec<&'static str> {
    ["Service", "Ingress", "HorizontalPodAutoscaler"]
        .into_iter()
        .filter(|kind| !rendered.iter().any(|m| m.kind() == *kind))
        .collect()
}

/// A build's Job: runs the builder image against the source and pushes
/// `image`.
///
/// The builder reads `SOURCE_REPOSITORY`, `SOURCE_REVISION`,
/// `SOURCE_CONTEXT_DIR` (when a directory is given) and `OUTPUT_IMAGE`.
/// With a push secret (a `kubernetes.io/dockerconfigjson` Secret), its
/// `.dockerconfigjson` is mounted as `config.json` in [`DOCKER_CONFIG_DIR`]
/// and `DOCKER_CONFIG` names that directory, which Kaniko and the docker
/// tooling both read. The Job runs once (no retries), is killed after an
/// hour and removed a day after it finishes.
///
/// The Job carries the application's labels (so deleting the application
/// deletes its builds) and [`BUILD_LABEL`]; its pod does not carry
/// [`APP_LABEL`], or the application's Service would send it traffic and
/// its status would count it among the application's pods.
pub fn build_job(
    target: &ProjectTarget,
    app: &AppId,
    app_name: &str,
    job_name: &str,
    source: &BuildSource,
    image: &str,
    settings: &BuildSettings,
) -> Manifest {
    let mut labels = app_labels(target, app, app_name);
    labels.insert(BUILD_LABEL.to_owned(), job_name.to_owned());
    let mut pod_labels = labels.clone();
    pod_labels.remove(APP_LABEL);

    let mut env = vec![
        plain_env("SOURCE_REPOSITORY", &source.repository),
        plain_env("SOURCE_REVISION", &source.revision),
    ];
    if let Some(dir) = &source.context_dir {
        env.push(plain_env("SOURCE_CONTEXT_DIR", dir));
    }
    env.push(plain_env("OUTPUT_IMAGE", image));

    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    if let Some(secret) = &settings.push_secret {
        env.push(plain_env("DOCKER_CONFIG", DOCKER_CONFIG_DIR));
        volumes.push(Volume {
            name: PUSH_SECRET_VOLUME.to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                items: Some(vec![KeyToPath {
                    key: DOCKER_CONFIG_JSON_KEY.to_owned(),
                    path: "config.json".to_owned(),
                    mode: None,
                }]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: PUSH_SECRET_VOLUME.to_owned(),
            mount_path: DOCKER_CONFIG_DIR.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }

    let container = Container {
        name: BUILDER_CONTAINER.to_owned(),
        image: Some(settings.builder_image.clone()),
        env: Some(env),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), cpu(BUILD_CPU_MILLICORES)),
                ("memory".to_owned(), memory(BUILD_MEMORY_MIB)),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".to_owned(),
                memory(BUILD_MEMORY_LIMIT_MIB),
            )])),
            claims: None,
        }),
        volume_mounts: non_empty(mounts),
        ..Container::default()
    };

    Manifest::Job(Box::new(Job {
        metadata: meta(job_name, target, labels),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(BUILD_TTL_SECONDS),
            active_deadline_seconds: Some(BUILD_DEADLINE_SECONDS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    volumes: non_empty(volumes),
                    restart_policy: Some("Never".to_owned()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }))
}

fn meta(name: &str, target: &ProjectTarget, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(target.namespace.clone()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

fn selector_labels(app: &AppId) -> BTreeMap<String, String> {
    BTreeMap::from([(APP_LABEL.to_owned(), app.as_str().to_owned())])
}

fn namespace_peer(label: &str, value: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(label.to_owned(), value.to_owned())])),
            match_expressions: None,
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    }
}

fn cpu(millicores: u32) -> Quantity {
    Quantity(format!("{millicores}m"))
}

fn memory(mib: u32) -> Quantity {
    Quantity(format!("{mib}Mi"))
}

fn protocol(protocol: Protocol) -> String {
    match protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
    .to_owned()
}

/// A checked spec's numbers are small; saturate rather than wrap anyway.
fn int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// `"25%"` stays a percentage string; a bare count becomes an integer.
fn count_or_percent(text: &str) -> IntOrString {
    match text.parse::<i32>() {
        Ok(count) => IntOrString::Int(count),
        Err(_) => IntOrString::String(text.to_owned()),
    }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    if items.is_empty() { None } else { Some(items) }
}
