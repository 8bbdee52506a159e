//! What a tenant asks for: an application's spec, a project's quota, and
//! the names and labels every rendered object carries. Specs are checked
//! here once; rendering and the engine trust a checked spec.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shiyun_core::ValidationError;
use shiyun_core::deploy::AppId;
use shiyun_core::tenancy::{ProjectId, Tenant};

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "shiyun";
/// Label on every object the platform owns.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "shiyun");
/// Label naming the application (its id).
pub const APP_LABEL: &str = "shiyun.io/app";
/// Label naming the tenant.
pub const TENANT_LABEL: &str = "shiyun.io/tenant";
/// Label naming the project.
pub const PROJECT_LABEL: &str = "shiyun.io/project";
/// Label naming the release a Deployment runs.
pub const RELEASE_LABEL: &str = "shiyun.io/release";
/// Pod-template annotation holding the hash of the config and secret data,
/// so a config change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "shiyun.io/config-hash";
/// Pod-template annotation a restart sets to the time asked.
pub const RESTARTED_AT_ANNOTATION: &str = "shiyun.io/restarted-at";

/// One deployable component: what a release runs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// The image reference (`registry/name:tag` or `…@sha256:…`).
    pub image: String,
    /// Overrides the image's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Ports the container listens on; the Service exposes them.
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    /// Plain environment variables (a ConfigMap).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Secret environment variables (a Secret). Never returned by the API:
    /// reads show the names only.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Files mounted from a ConfigMap.
    #[serde(default)]
    pub config_files: Vec<ConfigFile>,
    /// CPU and memory requests and limits.
    pub resources: Resources,
    /// Fixed replicas or an autoscaling rule.
    pub scale: ScaleSpec,
    /// Readiness (and liveness) probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthCheck>,
    /// Other applications of the same project this one calls: their
    /// addresses are injected as `<NAME>_HOST` and `<NAME>_PORT`.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// External access through Ingress.
    #[serde(default)]
    pub ingress: Vec<IngressRule>,
    /// How an update rolls out.
    #[serde(default)]
    pub rollout: RolloutSpec,
}

/// A container port.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    /// A DNS label, unique in the application (`http`).
    pub name: String,
    /// 1-65535.
    pub port: u16,
    /// `TCP` (default) or `UDP`.
    #[serde(default)]
    pub protocol: Protocol,
}

/// A port's protocol.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// TCP.
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
}

/// A file mounted into the container.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Absolute path in the container (`/etc/app/config.toml`).
    pub path: String,
    /// The file's text.
    pub content: String,
}

/// CPU in millicores, memory in MiB.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Requested CPU, millicores (what is metered).
    pub cpu_millicores: u32,
    /// Requested memory, MiB (what is metered).
    pub memory_mib: u32,
    /// CPU limit, millicores (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit_millicores: Option<u32>,
    /// Memory limit, MiB (default: the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_mib: Option<u32>,
}

/// Replicas: fixed, or owned by a HorizontalPodAutoscaler.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScaleSpec {
    /// A fixed number of replicas (0-100).
    Fixed {
        /// Replicas.
        replicas: u32,
    },
    /// The HPA owns the replicas between `min` and `max`, aiming at a CPU
    /// utilisation of the request.
    Auto {
        /// At least 1.
        min: u32,
        /// At most 100, at least `min`.
        max: u32,
        /// Target average CPU utilisation, percent of the request (1-100).
        cpu_percent: u32,
    },
}

/// An HTTP or TCP probe.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// HTTP GET path (`/healthz`); absent for a TCP check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_path: Option<String>,
    /// The port to probe (one of `ports`).
    pub port: u16,
    /// Seconds before the first probe (default 5).
    #[serde(default = "default_initial_delay")]
    pub initial_delay_seconds: u32,
    /// Seconds between probes (default 10).
    #[serde(default = "default_period")]
    pub period_seconds: u32,
    /// Also restart a container that fails it (a liveness probe).
    #[serde(default)]
    pub liveness: bool,
}

fn default_initial_delay() -> u32 {
    5
}

fn default_period() -> u32 {
    10
}

/// An Ingress host and path to one of the application's ports.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressRule {
    /// Host name (`shop.example.com`).
    pub host: String,
    /// Path prefix (default `/`).
    #[serde(default = "default_path")]
    pub path: String,
    /// The application's port it routes to.
    pub port: u16,
    /// A TLS secret in the namespace; absent for plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret: Option<String>,
}

fn default_path() -> String {
    "/".to_owned()
}

/// How an update rolls out.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    /// Extra pods during an update: a count or a percentage (`25%`).
    #[serde(default = "default_surge")]
    pub max_surge: String,
    /// Pods that may be unavailable during an update (`0`, `25%`).
    #[serde(default = "default_unavailable")]
    pub max_unavailable: String,
    /// Seconds the rollout may take before it counts as failed (also the
    /// Deployment's `progressDeadlineSeconds`).
    #[serde(default = "default_deadline")]
    pub deadline_seconds: u32,
    /// Roll back to the last good release when a rollout fails.
    #[serde(default)]
    pub auto_rollback: bool,
}

fn default_surge() -> String {
    "25%".to_owned()
}

fn default_unavailable() -> String {
    "0".to_owned()
}

fn default_deadline() -> u32 {
    600
}

impl Default for RolloutSpec {
    fn default() -> Self {
        RolloutSpec {
            max_surge: default_surge(),
            max_unavailable: default_unavailable(),
            deadline_seconds: default_deadline(),
            auto_rollback: false,
        }
    }
}

/// A project's quota and the default limits of its containers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectQuota {
    /// Total CPU requests, millicores.
    pub cpu_millicores: u32,
    /// Total memory requests, MiB.
    pub memory_mib: u32,
    /// Pods at most.
    pub pods: u32,
    /// Default CPU request of a container that names none, millicores.
    #[serde(default = "default_container_cpu")]
    pub default_cpu_millicores: u32,
    /// Default memory request of a container that names none, MiB.
    #[serde(default = "default_container_memory")]
    pub default_memory_mib: u32,
}

fn default_container_cpu() -> u32 {
    100
}

fn default_container_memory() -> u32 {
    128
}

impl Default for ProjectQuota {
    fn default() -> Self {
        ProjectQuota {
            cpu_millicores: 8_000,
            memory_mib: 16_384,
            pods: 50,
            default_cpu_millicores: default_container_cpu(),
            default_memory_mib: default_container_memory(),
        }
    }
}

/// Where a project lives on its cluster: what rendering needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTarget {
    /// The tenant.
    pub tenant: Tenant,
    /// The project.
    pub project: ProjectId,
    /// The namespace.
    pub namespace: String,
    /// Its quota.
    pub quota: ProjectQuota,
}

/// Another application's in-cluster address, for dependency injection.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAddress {
    /// The application's name.
    pub app: String,
    /// `<app>.<namespace>.svc.cluster.local`.
    pub host: String,
    /// Its ports.
    pub ports: Vec<PortSpec>,
}

/// Everything rendering needs to produce an application's objects for one
/// release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderInput<'a> {
    /// The project's place.
    pub target: &'a ProjectTarget,
    /// The application's id.
    pub app: &'a AppId,
    /// Its name (the objects' name).
    pub name: &'a str,
    /// The release number.
    pub release: u32,
    /// The release's spec (secrets in clear: rendering puts them in the Secret).
    pub spec: &'a AppSpec,
    /// Replicas to render when the spec is fixed-scale (a manual scale or a
    /// stop overrides the release's); ignored with autoscaling.
    pub replicas: u32,
    /// Autoscaler bounds overriding the spec's (a manual scale of an
    /// autoscaled application).
    pub autoscale_bounds: Option<(u32, u32)>,
    /// The addresses of its dependencies, by application name.
    pub dependencies: &'a [ServiceAddress],
    /// Set by a restart: written to the pod template so the pods roll.
    pub restarted_at: Option<&'a str>,
}

/// The namespace a project becomes: `shiyun-` and the project id's hex
/// (a DNS label: lowercase letters, digits and `-`).
pub fn namespace_of(project: &ProjectId) -> String {
    format!("shiyun-{}", project.as_str().replace('_', "-"))
}

/// An application's in-cluster DNS name.
pub fn service_host(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// Whether `text` is a DNS-1035 label of at most `max` bytes: lowercase
/// letters, digits and `-`, starting with a letter, not ending with `-`.
pub fn is_dns_label(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text.as_bytes()[0].is_ascii_lowercase()
        && !text.ends_with('-')
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks an application name: a DNS label of at most 40 bytes (room for
/// suffixes the cluster adds to pod names).
pub fn check_app_name(name: &str) -> Result<(), ValidationError> {
    if is_dns_label(name, 40) {
        Ok(())
    } else {
        Err(ValidationError::new(
            "name",
            "must be 1-40 lowercase letters, digits or `-`, starting with a letter and not ending with `-`",
        ))
    }
}

/// The environment variable prefix a dependency's address is injected under
/// (`orders-db` → `ORDERS_DB`).
pub fn env_prefix(app_name: &str) -> String {
    app_name.replace('-', "_").to_ascii_uppercase()
}

/// A variable name that is also a safe ConfigMap key: not starting with a
/// digit or `.`, and not in the `file-`/`file_` key space of config files.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.as_bytes()[0].is_ascii_digit()
        && !name.starts_with('.')
        && !name.starts_with("file-")
        && !name.starts_with("file_")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn is_count_or_percent(text: &str) -> bool {
    let digits = text.strip_suffix('%').unwrap_or(text);
    !digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit())
}

impl AppSpec {
    /// Checks the whole spec; the first problem is returned with its field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let image = self.image.trim();
        if image.is_empty()
            || image.len() > 512
            || image.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ValidationError::new(
                "image",
                "must be an image reference of 1-512 characters without spaces",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, port) in self.ports.iter().enumerate() {
            if !is_dns_label(&port.name, 15) {
                return Err(ValidationError::new(
                    format!("ports[{i}].name"),
                    "must be 1-15 lowercase letters, digits or `-`, starting with a letter",
                ));
            }
            if port.port == 0 {
                return Err(ValidationError::new(
                    format!("ports[{i}].port"),
                    "must be 1-65535",
                ));
            }
            if !seen.insert(port.name.clone())
                || self.ports[..i].iter().any(|p| p.port == port.port)
            {
                return Err(ValidationError::new(
                    format!("ports[{i}]"),
                    "names and port numbers must be unique",
                ));
            }
        }
        for (field, vars) in [("env", &self.env), ("secrets", &self.secrets)] {
            for (name, value) in vars {
                if !is_env_name(name) {
                    return Err(ValidationError::new(
                        format!("{field}.{name}"),
                        "must be a variable name: letters, digits, `_`, `.` or `-`, not starting with a digit, `.`, `file-` or `file_`",
                    ));
                }
                if value.len() > 32 * 1024 {
                    return Err(ValidationError::new(
                        format!("{field}.{name}"),
                        "values are at most 32 KiB",
                    ));
                }
            }
        }
        if let Some(name) = self.env.keys().find(|k| self.secrets.contains_key(*k)) {
            return Err(ValidationError::new(
                format!("secrets.{name}"),
                "is also a plain variable",
            ));
        }
        let mut paths = std::collections::BTreeSet::new();
        let mut total = 0usize;
        for (i, file) in self.config_files.iter().enumerate() {
            let valid_path = file.path.starts_with('/')
                && file.path.len() <= 255
                && !file.path.ends_with('/')
                && !file.path.split('/').any(|part| part == "..")
                && file
                    .path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
            if !valid_path {
                return Err(ValidationError::new(
                    format!("config_files[{i}].path"),
                    "must be an absolute path of letters, digits, `/`, `.`, `_` or `-`, without `..`",
                ));
            }
            if !paths.insert(file.path.clone()) {
                return Err(ValidationError::new(
                    format!("config_files[{i}].path"),
                    "is given twice",
                ));
            }
            total += file.content.len();
        }
        if total > 512 * 1024 {
            return Err(ValidationError::new(
                "config_files",
                "files are at most 512 KiB in all",
            ));
        }
        self.resources.validate()?;
        match self.scale {
            ScaleSpec::Fixed { replicas } if replicas > 100 => {
                return Err(ValidationError::new("scale.replicas", "must be 0-100"));
            }
            ScaleSpec::Auto { min, max, .. } if min == 0 || max > 100 || min > max => {
                return Err(ValidationError::new(
                    "scale",
                    "needs 1 <= min <= max <= 100",
                ));
            }
            ScaleSpec::Auto { cpu_percent, .. } if cpu_percent == 0 || cpu_percent > 100 => {
                return Err(ValidationError::new("scale.cpu_percent", "must be 1-100"));
            }
            _ => {}
        }
        if let Some(health) = &self.health {
            if !self.ports.iter().any(|p| p.port == health.port) {
                return Err(ValidationError::new(
                    "health.port",
                    "must be one of the application's ports",
                ));
            }
            if let Some(path) = &health.http_path
                && (!path.starts_with('/')
                    || path.len() > 255
                    || path.contains(char::is_whitespace))
            {
                return Err(ValidationError::new(
                    "health.http_path",
                    "must be a path starting with `/`",
                ));
            }
            if health.period_seconds == 0 || health.period_seconds > 3600 {
                return Err(ValidationError::new(
                    "health.period_seconds",
                    "must be 1-3600",
                ));
            }
            if health.initial_delay_seconds > 3600 {
                return Err(ValidationError::new(
                    "health.initial_delay_seconds",
                    "must be 0-3600",
                ));
            }
        }
        for (i, dependency) in self.dependencies.iter().enumerate() {
            if check_app_name(dependency).is_err() {
                return Err(ValidationError::new(
                    format!("dependencies[{i}]"),
                    "must be an application name",
                ));
            }
        }
        for (i, rule) in self.ingress.iter().enumerate() {
            let host_ok = rule.host.len() <= 253
                && rule.host.split('.').count() >= 2
                && rule.host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                });
            if !host_ok {
                return Err(ValidationError::new(
                    format!("ingress[{i}].host"),
                    "must be a lowercase DNS name with at least two labels",
                ));
            }
            if !rule.path.starts_with('/')
                || rule.path.len() > 255
                || rule.path.contains(char::is_whitespace)
            {
                return Err(ValidationError::new(
                    format!("ingress[{i}].path"),
                    "must be a path starting with `/`",
                ));
            }
            if !self.ports.iter().any(|p| p.port == rule.port) {
                return Err(ValidationError::new(
                    format!("ingress[{i}].port"),
                    "must be one of the application's ports",
                ));
            }
            if let Some(secret) = &rule.tls_secret
                && !is_dns_label(secret, 63)
            {
                return Err(ValidationError::new(
                    format!("ingress[{i}].tls_secret"),
                    "must be a secret name (a DNS label)",
                ));
            }
        }
        if !is_count_or_percent(&self.rollout.max_surge) {
            return Err(ValidationError::new(
                "rollout.max_surge",
                "must be a count or a percentage (`25%`)",
            ));
        }
        if !is_count_or_percent(&self.rollout.max_unavailable) {
            return Err(ValidationError::new(
                "rollout.max_unavailable",
                "must be a count or a percentage (`25%`)",
            ));
        }
        if self.rollout.max_surge.trim_end_matches('%') == "0"
            && self.rollout.max_unavailable.trim_end_matches('%') == "0"
        {
            return Err(ValidationError::new(
                "rollout",
                "max_surge and max_unavailable cannot both be 0",
            ));
        }
        if self.rollout.deadline_seconds == 0 || self.rollout.deadline_seconds > 3600 {
            return Err(ValidationError::new(
                "rollout.deadline_seconds",
                "must be 1-3600",
            ));
        }
        Ok(())
    }

    /// The replicas the release asks for when fixed; the autoscaler's
    /// minimum otherwise.
    pub fn desired_replicas(&self) -> u32 {
        match self.scale {
            ScaleSpec::Fixed { replicas } => replicas,
            ScaleSpec::Auto { min, .. } => min,
        }
    }

    /// The spec as stored and returned: secret values replaced by `***`.
    pub fn redacted(&self) -> AppSpec {
        let mut spec = self.clone();
        for value in spec.secrets.values_mut() {
            *value = "***".to_owned();
        }
        spec
    }
}

impl Resources {
    /// Requests 10m-64000m CPU and 16-262144 MiB; limits at least the requests.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(10..=64_000).contains(&self.cpu_millicores) {
            return Err(ValidationError::new(
                "resources.cpu_millicores",
                "must be 10-64000",
            ));
        }
        if !(16..=262_144).contains(&self.memory_mib) {
            return Err(ValidationError::new(
                "resources.memory_mib",
                "must be 16-262144",
            ));
        }
        if self
            .cpu_limit_millicores
            .is_some_and(|limit| limit < self.cpu_millicores || limit > 64_000)
        {
            return Err(ValidationError::new(
                "resources.cpu_limit_millicores",
                "must be at least the request and at most 64000",
            ));
        }
        if self
            .memory_limit_mib
            .is_some_and(|limit| limit < self.memory_mib || limit > 262_144)
        {
            return Err(ValidationError::new(
                "resources.memory_limit_mib",
                "must be at least the request and at most 262144",
            ));
        }
        Ok(())
    }
}

impl ProjectQuota {
    /// Positive totals, defaults within them.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.cpu_millicores == 0 || self.cpu_millicores > 1_000_000 {
            return Err(ValidationError::new(
                "quota.cpu_millicores",
                "must be 1-1000000",
            ));
        }
        if self.memory_mib == 0 || self.memory_mib > 4_194_304 {
            return Err(ValidationError::new(
                "quota.memory_mib",
                "must be 1-4194304",
            ));
        }
        if self.pods == 0 || self.pods > 10_000 {
            return Err(ValidationError::new("quota.pods", "must be 1-10000"));
        }
        if self.default_cpu_millicores == 0 || self.default_cpu_millicores > self.cpu_millicores {
            return Err(ValidationError::new(
                "quota.default_cpu_millicores",
                "must be positive and within the quota",
            ));
        }
        if self.default_memory_mib == 0 || self.default_memory_mib > self.memory_mib {
            return Err(ValidationError::new(
                "quota.default_memory_mib",
                "must be positive and within the quota",
            ));
        }
        Ok(())
    }
}
