//! The narrow trait every cluster call goes through, and the shapes it
//! speaks. [`crate::kube::KubeCluster`] implements it over `kube::Client`
//! (a real API server, or the in-process [`crate::fake::FakeApiServer`]);
//! the engine knows nothing else of Kubernetes.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use serde::{Deserialize, Serialize};

/// One rendered object. Serialises as the object itself (with
/// `apiVersion` and `kind`), as it is applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Manifest {
    /// A project's namespace.
    Namespace(Namespace),
    /// A project's quota.
    ResourceQuota(ResourceQuota),
    /// A project's default container limits.
    LimitRange(LimitRange),
    /// A project's isolation from other tenants.
    NetworkPolicy(NetworkPolicy),
    /// An application's plain environment and config files.
    ConfigMap(ConfigMap),
    /// An application's secret environment.
    Secret(Secret),
    /// An application's pods.
    Deployment(Box<Deployment>),
    /// An application's in-cluster address.
    Service(Service),
    /// An application's external access.
    Ingress(Ingress),
    /// An application's autoscaler.
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    /// A build.
    Job(Box<Job>),
}

impl Manifest {
    /// The object's kind (`Deployment`).
    pub fn kind(&self) -> &'static str {
        match self {
            Manifest::Namespace(_) => "Namespace",
            Manifest::ResourceQuota(_) => "ResourceQuota",
            Manifest::LimitRange(_) => "LimitRange",
            Manifest::NetworkPolicy(_) => "NetworkPolicy",
            Manifest::ConfigMap(_) => "ConfigMap",
            Manifest::Secret(_) => "Secret",
            Manifest::Deployment(_) => "Deployment",
            Manifest::Service(_) => "Service",
            Manifest::Ingress(_) => "Ingress",
            Manifest::HorizontalPodAutoscaler(_) => "HorizontalPodAutoscaler",
            Manifest::Job(_) => "Job",
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            Manifest::Namespace(o) => &o.metadata,
            Manifest::ResourceQuota(o) => &o.metadata,
            Manifest::LimitRange(o) => &o.metadata,
            Manifest::NetworkPolicy(o) => &o.metadata,
            Manifest::ConfigMap(o) => &o.metadata,
            Manifest::Secret(o) => &o.metadata,
            Manifest::Deployment(o) => &o.metadata,
            Manifest::Service(o) => &o.metadata,
            Manifest::Ingress(o) => &o.metadata,
            Manifest::HorizontalPodAutoscaler(o) => &o.metadata,
            Manifest::Job(o) => &o.metadata,
        }
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The object's namespace (none for a Namespace).
    pub fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }
}

/// A cluster call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The API server answered with an error status.
    #[error("the cluster refused {what}: {code} {message}")]
    Api {
        /// What was asked (`apply Deployment shop/web`).
        what: String,
        /// HTTP status.
        code: u16,
        /// The API server's message.
        message: String,
    },
    /// The object does not exist.
    #[error("{0} not found in the cluster")]
    NotFound(String),
    /// The cluster could not be reached or answered nonsense.
    #[error("cluster unreachable: {0}")]
    Unreachable(String),
    /// The credentials or URL could not make a client.
    #[error("cluster configuration: {0}")]
    Config(String),
}

/// A Deployment's rollout, read from the API server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutProgress {
    /// `metadata.generation`.
    pub generation: i64,
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// `spec.replicas` (for an autoscaled Deployment, what the HPA set).
    pub desired: i32,
    /// `status.updatedReplicas`.
    pub updated: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// `status.replicas` (old and new pods together).
    pub total: i32,
    /// The `Progressing` condition's reason was `ProgressDeadlineExceeded`.
    pub deadline_exceeded: bool,
}

impl RolloutProgress {
    /// Whether every replica runs the current template and is available.
    pub fn complete(&self) -> bool {
        self.observed_generation >= self.generation
            && self.updated == self.desired
            && self.available == self.desired
            && self.total == self.desired
    }
}

/// One pod of an application.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodStatus {
    /// Pod name.
    pub name: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: String,
    /// All containers ready.
    pub ready: bool,
    /// Container restarts.
    pub restarts: i32,
    /// The release its Deployment ran when it was made (its label), if any.
    pub release: Option<String>,
    /// The running image's id (with its digest) once known.
    pub image_id: Option<String>,
}

/// A recent cluster event about an application.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    /// When it last happened.
    pub at: Option<DateTime<Utc>>,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// Short reason (`ScalingReplicaSet`).
    pub reason: String,
    /// The message.
    pub message: String,
    /// The object it is about (`Pod/web-5d9c…`).
    pub object: String,
}

/// An application's live status, from the watch-fed cache.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStatus {
    /// The cache has caught up with the cluster at least once.
    pub synced: bool,
    /// The Deployment exists.
    pub found: bool,
    /// Desired replicas.
    pub desired: i32,
    /// Ready replicas.
    pub ready: i32,
    /// Replicas on the current template.
    pub updated: i32,
    /// Available replicas.
    pub available: i32,
    /// The release label on the Deployment.
    pub release: Option<String>,
    /// Its pods.
    pub pods: Vec<PodStatus>,
    /// Recent events, newest first (at most 20).
    pub events: Vec<EventLine>,
}

/// Which log lines to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// The container (the application's only one by default).
    pub container: Option<String>,
    /// Lines from the end.
    pub tail_lines: Option<i64>,
    /// Keep streaming new lines.
    pub follow: bool,
    /// The previous container's logs (after a restart).
    pub previous: bool,
}

/// A stream of log bytes.
pub type LogStream = Pin<Box<dyn Stream<Item = Result<Bytes, ClusterError>> + Send>>;

/// A build Job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Not finished.
    Running,
    /// Completed.
    Succeeded,
    /// Failed (out of retries).
    Failed,
}

/// Everything the platform asks of one cluster.
#[async_trait]
pub trait ClusterApi: Send + Sync {
    /// Server-side apply of one object under [`crate::model::FIELD_MANAGER`],
    /// forced (the platform owns the fields it renders).
    async fn apply(&self, manifest: &Manifest) -> Result<(), ClusterError>;

    /// Sets a Deployment's replicas through the scale subresource.
    async fn scale(
        &self,
        namespace: &str,
        deployment: &str,
        replicas: i32,
    ) -> Result<(), ClusterError>;

    /// A Deployment's rollout progress, read from the API server (not the
    /// cache: the engine waits on it). `None` when it does not exist.
    async fn rollout(
        &self,
        namespace: &str,
        deployment: &str,
    ) -> Result<Option<RolloutProgress>, ClusterError>;

    /// Deletes every object of the kinds the platform renders in
    /// `namespace` matching the label selector (`shiyun.io/app=app_…`);
    /// returns how many were deleted.
    async fn delete_labelled(&self, namespace: &str, selector: &str)
    -> Result<usize, ClusterError>;

    /// Deletes one object of a rendered kind (`Ingress`) if it exists;
    /// returns whether it did.
    async fn delete(&self, kind: &str, namespace: &str, name: &str) -> Result<bool, ClusterError>;

    /// Deletes a namespace and everything in it.
    async fn delete_namespace(&self, namespace: &str) -> Result<(), ClusterError>;

    /// An application's live status from the watch-fed cache: never a list
    /// call per request.
    fn status(&self, namespace: &str, app: &shiyun_core::deploy::AppId) -> LiveStatus;

    /// Streams a pod's log.
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<LogStream, ClusterError>;

    /// A Job's state; `None` when it does not exist.
    async fn job(&self, namespace: &str, name: &str) -> Result<Option<JobState>, ClusterError>;

    /// The pods a Job made (for its logs), by name.
    async fn job_pods(&self, namespace: &str, name: &str) -> Result<Vec<String>, ClusterError>;
}
