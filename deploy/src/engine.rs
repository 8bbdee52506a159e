//! The deployment platform's rules over the store and the clusters:
//! clusters and grants, projects placed as namespaces, applications and
//! their immutable releases, rollouts watched to a deadline, one-call
//! rollback, scale, stop, start, restart, delete, builds, status and logs.
//!
//! The database is the source of truth: every change is written to the
//! store first, then rendered and applied; a simulated cluster that starts
//! empty (after a restart of the process) is reconciled from the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shiyun_core::ValidationError;
use shiyun_core::deploy::{
    AppId, AppLifecycle, AppRecord, BuildId, BuildRecord, BuildStatus, ClusterId, ClusterKind,
    ClusterRecord, DeployStore, NewRelease, PlacementRecord, ReleaseRecord, ReleaseStatus,
};
use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::store::StoreError;
use shiyun_core::tenancy::{AccountId, ProjectId, RowScope, Tenant};

use crate::cluster::{ClusterApi, ClusterError, JobState, LiveStatus, LogOptions, LogStream};
use crate::model::{
    APP_LABEL, AppSpec, ProjectQuota, ProjectTarget, RenderInput, ScaleSpec, ServiceAddress,
    check_app_name, namespace_of, service_host,
};
use crate::render::{self, BuildSettings, BuildSource};
use crate::seal::{SealError, Sealer};

/// Everything a deployment call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Bad input.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A named thing does not exist (or is not the caller's to see).
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// Kind of thing.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// The caller may not use it (a cluster not granted to the tenant).
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the application's state.
    #[error("{0}")]
    Conflict(String),
    /// The cluster refused or could not be reached.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A sealed value could not be opened (the key changed).
    #[error(transparent)]
    Seal(#[from] SealError),
}

impl CodedError for DeployError {
    fn code(&self) -> ErrorCode {
        match self {
            DeployError::Invalid(e) => e.code(),
            DeployError::Store(e) => e.code(),
            DeployError::NotFound { .. } => ErrorCode::NotFound,
            DeployError::Forbidden(_) => ErrorCode::Forbidden,
            DeployError::Conflict(_) => ErrorCode::Conflict,
            DeployError::Cluster(ClusterError::Config(_)) => ErrorCode::InvalidArgument,
            DeployError::Cluster(_) => ErrorCode::Unavailable,
            DeployError::Seal(_) => ErrorCode::Internal,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            DeployError::Invalid(e) => Some(e.field_name()),
            DeployError::Cluster(ClusterError::Config(_)) => Some("credential"),
            _ => None,
        }
    }
}

/// Result of a deployment call.
pub type DeployResult<T> = Result<T, DeployError>;

/// Makes the cluster client of a registered cluster.
#[async_trait::async_trait]
pub trait ClusterConnector: Send + Sync {
    /// Connects (no request to the API server is made yet). `credential`
    /// is opened.
    async fn connect(
        &self,
        record: &ClusterRecord,
        credential: &str,
    ) -> Result<Arc<dyn ClusterApi>, ClusterError>;

    /// The in-process API server behind a simulated cluster this connector
    /// made, for tests and the demo to steer (rollouts, logs).
    fn simulated(&self, _id: &ClusterId) -> Option<crate::fake::FakeApiServer> {
        None
    }
}

/// Connects real clusters with `kube`, and simulated ones to a fresh
/// in-process API server.
#[derive(Clone, Default)]
pub struct KubeConnector {
    fakes: Arc<Mutex<HashMap<ClusterId, crate::fake::FakeApiServer>>>,
}

impl std::fmt::Debug for KubeConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeConnector(..)")
    }
}

#[async_trait::async_trait]
impl ClusterConnector for KubeConnector {
    async fn connect(
        &self,
        record: &ClusterRecord,
        credential: &str,
    ) -> Result<Arc<dyn ClusterApi>, ClusterError> {
        match record.kind {
            ClusterKind::Simulated => {
                let fake = crate::fake::FakeApiServer::new();
                self.fakes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(record.id.clone(), fake.clone());
                let client = ::kube::Client::new(fake, "default");
                Ok(Arc::new(crate::kube::KubeCluster::new(client)))
            }
            ClusterKind::Kubernetes => {
                let cluster = if record.credential_kind == "kubeconfig" {
                    crate::kube::KubeCluster::connect_kubeconfig(credential).await?
                } else {
                    crate::kube::KubeCluster::connect_token(&record.api_url, credential, None)
                        .await?
                };
                Ok(Arc::new(cluster))
            }
        }
    }

    fn simulated(&self, id: &ClusterId) -> Option<crate::fake::FakeApiServer> {
        self.fakes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }
}

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    /// How often a rollout's progress is read.
    pub rollout_poll: Duration,
    /// Where builds run and push; `None` turns builds off.
    pub builds: Option<BuildSettings>,
}

impl Default for DeploySettings {
    fn default() -> Self {
        DeploySettings {
            rollout_poll: Duration::from_millis(500),
            builds: None,
        }
    }
}

/// A cluster as the API shows it: never its credential.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ClusterId,
    /// Name.
    pub name: String,
    /// Real or simulated.
    pub kind: ClusterKind,
    /// API server URL.
    pub api_url: String,
    /// `kubeconfig` or `token`.
    pub credential_kind: String,
    /// Tenants granted it (operators only; empty for a tenant's view).
    pub grants: Vec<String>,
    /// Registered.
    pub created_at: DateTime<Utc>,
}

impl ClusterView {
    fn of(record: &ClusterRecord, with_grants: bool) -> Self {
        ClusterView {
            id: record.id.clone(),
            name: record.name.clone(),
            kind: record.kind,
            api_url: record.api_url.clone(),
            credential_kind: record.credential_kind.clone(),
            grants: if with_grants {
                record
                    .grants
                    .iter()
                    .map(|t| t.as_str().to_owned())
                    .collect()
            } else {
                Vec::new()
            },
            created_at: record.created_at,
        }
    }
}

/// A cluster to register.
#[derive(Debug, Clone)]
pub struct NewCluster {
    /// Unique name.
    pub name: String,
    /// Real or simulated.
    pub kind: ClusterKind,
    /// API server URL (for a kubeconfig, the URL it names wins).
    pub api_url: String,
    /// `kubeconfig` or `token`.
    pub credential_kind: String,
    /// The kubeconfig text or bearer token.
    pub credential: String,
}

/// Where a project runs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementView {
    /// The project.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub project: ProjectId,
    /// The cluster.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub cluster: ClusterId,
    /// Its namespace.
    pub namespace: String,
    /// Quota and default limits.
    pub quota: ProjectQuota,
    /// Placed or last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a release stores: the spec (secret values sealed) and the image
/// digest when the reference pins one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredRelease {
    spec: AppSpec,
    image_digest: Option<String>,
}

/// A release as the API shows it (secret values hidden).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseView {
    /// The application.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub app: AppId,
    /// 1, 2, 3…
    pub version: u32,
    /// The spec it runs.
    pub spec: AppSpec,
    /// The image's digest when the reference pins one (`sha256:…`).
    pub image_digest: Option<String>,
    /// The release it copies, for a rollback.
    pub rollback_of: Option<u32>,
    /// Why it was made.
    pub description: String,
    /// Rollout state.
    pub status: ReleaseStatus,
    /// Why it failed.
    pub reason: Option<String>,
    /// Who made it.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_by: AccountId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
}

/// A manual scale, stored on the application until the next release.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    /// Replicas (for an autoscaled application: its minimum and maximum both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// The autoscaler's minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// The autoscaler's maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

/// An application as the API shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppView {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: AppId,
    /// Its project.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub project: ProjectId,
    /// Name.
    pub name: String,
    /// Lifecycle state.
    pub state: AppLifecycle,
    /// The release it runs.
    pub current_release: Option<u32>,
    /// That release's status.
    pub release_status: Option<ReleaseStatus>,
    /// The current spec (secret values hidden).
    pub spec: Option<AppSpec>,
    /// A manual scale in force.
    pub scale_override: Option<ScaleRequest>,
    /// Its in-cluster address.
    pub address: Option<ServiceAddress>,
    /// Its external URLs (from its Ingress rules).
    pub urls: Vec<String>,
    /// Who created it.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_by: AccountId,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// An application's live status.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    /// The application.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub app: AppId,
    /// Lifecycle state.
    pub state: AppLifecycle,
    /// The release it should run.
    pub current_release: Option<u32>,
    /// From the cluster's watch-fed cache.
    pub live: LiveStatus,
}

/// One difference between two releases' specs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecChange {
    /// JSON path (`resources.cpu_millicores`, `env.LOG_LEVEL`).
    pub path: String,
    /// In the first release (absent: not there).
    pub from: Option<Value>,
    /// In the second.
    pub to: Option<Value>,
}

/// A build as the API shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildView {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: BuildId,
    /// The application.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub app: AppId,
    /// What it builds.
    pub source: BuildSource,
    /// The image it pushes.
    pub image: String,
    /// State.
    pub status: BuildStatus,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Who asks: the scope of rows they see and the account acting.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The rows the caller sees.
    pub scope: RowScope,
    /// The account acting.
    pub account: AccountId,
}

/// The deployment platform.
#[derive(Clone)]
pub struct Deployer {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn DeployStore>,
    sealer: Sealer,
    connector: Arc<dyn ClusterConnector>,
    clusters: Mutex<HashMap<ClusterId, Arc<dyn ClusterApi>>>,
    settings: DeploySettings,
    ids: fn() -> [u8; 16],
    /// Rollout watchers running in the background, joined by tests and shutdown.
    watchers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The runtime clusters are connected on (the one current at `new`).
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deployer(..)")
    }
}

fn not_found(entity: &'static str, id: impl ToString) -> DeployError {
    DeployError::NotFound {
        entity,
        id: id.to_string(),
    }
}

impl Deployer {
    /// The platform over a store, with credentials sealed by `sealer`,
    /// clusters connected by `connector` and fresh ids from `ids`.
    pub fn new(
        store: Arc<dyn DeployStore>,
        sealer: Sealer,
        connector: Arc<dyn ClusterConnector>,
        settings: DeploySettings,
        ids: fn() -> [u8; 16],
    ) -> Self {
        Deployer {
            inner: Arc::new(Inner {
                store,
                sealer,
                connector,
                clusters: Mutex::new(HashMap::new()),
                settings,
                ids,
                watchers: Mutex::new(Vec::new()),
                runtime: tokio::runtime::Handle::try_current().ok(),
            }),
        }
    }

    /// Connects on the runtime the deployer was made on: a cluster's watch
    /// tasks then live there, not on whichever HTTP worker asked first.
    async fn connect(
        &self,
        record: &ClusterRecord,
        credential: &str,
    ) -> DeployResult<Arc<dyn ClusterApi>> {
        let connector = self.inner.connector.clone();
        let (record, credential) = (record.clone(), credential.to_owned());
        let connecting = async move { connector.connect(&record, &credential).await };
        let connected = match &self.inner.runtime {
            Some(runtime) => runtime
                .spawn(connecting)
                .await
                .map_err(|e| ClusterError::Unreachable(format!("connecting: {e}")))?,
            None => connecting.await,
        };
        Ok(connected?)
    }

    /// The in-process API server of a simulated cluster, once connected.
    pub fn simulated(&self, id: &ClusterId) -> Option<crate::fake::FakeApiServer> {
        self.inner.connector.simulated(id)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn DeployStore> {
        &self.inner.store
    }

    /// Runs a store call on a blocking thread.
    async fn db<T, F>(&self, call: F) -> DeployResult<T>
    where
        F: FnOnce(&dyn DeployStore) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .map_err(|e| DeployError::Store(StoreError::Internal(format!("store task: {e}"))))?
            .map_err(DeployError::from)
    }

    // ------------------------------------------------------------ clusters

    /// Registers a cluster (operators). The credential is sealed before it
    /// is stored; a kubeconfig or URL that cannot make a client is refused.
    pub async fn register_cluster(
        &self,
        new: NewCluster,
        now: DateTime<Utc>,
    ) -> DeployResult<ClusterView> {
        if !crate::model::is_dns_label(&new.name, 63) {
            return Err(ValidationError::new(
                "name",
                "must be 1-63 lowercase letters, digits or `-`, starting with a letter",
            )
            .into());
        }
        if !matches!(new.credential_kind.as_str(), "kubeconfig" | "token") {
            return Err(
                ValidationError::new("credential_kind", "must be `kubeconfig` or `token`").into(),
            );
        }
        if new.kind == ClusterKind::Kubernetes {
            let url_ok = new.api_url.starts_with("https://") || new.api_url.starts_with("http://");
            if !url_ok || new.api_url.len() > 512 {
                return Err(ValidationError::new("api_url", "must be an http(s) URL").into());
            }
            if new.credential.trim().is_empty() || new.credential.len() > 256 * 1024 {
                return Err(ValidationError::new("credential", "must be 1 byte to 256 KiB").into());
            }
        }
        let record = ClusterRecord {
            id: ClusterId::from_random((self.inner.ids)()),
            name: new.name,
            kind: new.kind,
            api_url: new.api_url,
            credential_kind: new.credential_kind,
            sealed_credential: self.inner.sealer.seal(&new.credential)?,
            grants: Vec::new(),
            created_at: now,
        };
        // Proves the credential makes a client before anything is stored.
        let client = self.connect(&record, &new.credential).await?;
        let stored = record.clone();
        self.db(move |s| s.create_cluster(&stored))
            .await
            .map_err(|e| match e {
                DeployError::Store(StoreError::AlreadyExists { .. }) => {
                    DeployError::Conflict(format!("a cluster is named `{}` already", record.name))
                }
                other => other,
            })?;
        self.inner
            .clusters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.id.clone(), client);
        Ok(ClusterView::of(&record, true))
    }

    /// Every cluster (operators), with grants.
    pub async fn list_clusters(&self) -> DeployResult<Vec<ClusterView>> {
        let records = self.db(|s| s.list_clusters()).await?;
        Ok(records.iter().map(|r| ClusterView::of(r, true)).collect())
    }

    /// The clusters a tenant is granted.
    pub async fn clusters_of(&self, tenant: &Tenant) -> DeployResult<Vec<ClusterView>> {
        let records = self.db(|s| s.list_clusters()).await?;
        Ok(records
            .iter()
            .filter(|r| r.grants.contains(tenant))
            .map(|r| ClusterView::of(r, false))
            .collect())
    }

    /// Grants or withdraws a tenant's use of a cluster (operators).
    pub async fn grant(
        &self,
        cluster: &ClusterId,
        tenant: &Tenant,
        granted: bool,
    ) -> DeployResult<ClusterView> {
        let (id, tenant) = (cluster.clone(), tenant.clone());
        let record = self
            .db(move |s| s.set_cluster_grant(&id, &tenant, granted))
            .await?;
        Ok(ClusterView::of(&record, true))
    }

    /// The connected client of a cluster, connecting (and, for a simulated
    /// cluster, reconciling from the store) on first use.
    pub async fn cluster(&self, id: &ClusterId) -> DeployResult<Arc<dyn ClusterApi>> {
        if let Some(client) = self
            .inner
            .clusters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(client.clone());
        }
        let key = id.clone();
        let record = self
            .db(move |s| s.get_cluster(&key))
            .await?
            .ok_or_else(|| not_found("cluster", id))?;
        let credential = self.inner.sealer.open(&record.sealed_credential)?;
        let client = self.connect(&record, &credential).await?;
        let client = {
            let mut clusters = self
                .inner
                .clusters
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            clusters.entry(id.clone()).or_insert(client).clone()
        };
        Ok(client)
    }

    /// Applies every running application on a simulated cluster again:
    /// the in-process API server starts empty with the process, while the
    /// store remembers what should run. Returns the applications applied.
    pub async fn reconcile_simulated(&self) -> DeployResult<usize> {
        let apps = self.db(|s| s.list_running_apps()).await?;
        let mut applied = 0;
        for app in apps {
            let scope = RowScope::whole(app.tenant.clone());
            let project = app.project.clone();
            let Some(placement) = self.db(move |s| s.get_placement(&scope, &project)).await? else {
                continue;
            };
            let key = placement.cluster.clone();
            let simulated = self
                .db(move |s| s.get_cluster(&key))
                .await?
                .is_some_and(|c| c.kind == ClusterKind::Simulated);
            if !simulated || app.current_release.is_none() {
                continue;
            }
            let client = self.cluster(&placement.cluster).await?;
            for manifest in render::project(&target_of(&placement)?) {
                client.apply(&manifest).await?;
            }
            self.apply_current(&app, None).await?;
            applied += 1;
        }
        Ok(applied)
    }

    // ---------------------------------------------------------- placements

    /// Places a project on a cluster its tenant is granted (or changes its
    /// quota): the namespace, quota, limits and isolation policy are applied.
    /// `project_tenant` is the project's tenant, checked by the caller.
    pub async fn place_project(
        &self,
        actor: &Actor,
        project: &ProjectId,
        cluster: &ClusterId,
        quota: ProjectQuota,
        now: DateTime<Utc>,
    ) -> DeployResult<PlacementView> {
        quota.validate()?;
        let key = cluster.clone();
        let record = self
            .db(move |s| s.get_cluster(&key))
            .await?
            .ok_or_else(|| not_found("cluster", cluster))?;
        if !record.grants.contains(&actor.scope.tenant) {
            return Err(DeployError::Forbidden(format!(
                "cluster `{cluster}` is not granted to this tenant"
            )));
        }
        let placement = PlacementRecord {
            project: project.clone(),
            tenant: actor.scope.tenant.clone(),
            cluster: cluster.clone(),
            namespace: namespace_of(project),
            settings: serde_json::to_value(quota)
                .map_err(|e| StoreError::Internal(e.to_string()))?,
            created_by: actor.account.clone(),
            updated_at: now,
        };
        let stored = self
            .db(move |s| s.put_placement(&placement))
            .await
            .map_err(|e| match e {
                DeployError::Store(StoreError::Conflict(message)) => DeployError::Conflict(message),
                other => other,
            })?;
        let target = target_of(&stored)?;
        let client = self.cluster(cluster).await?;
        for manifest in render::project(&target) {
            client.apply(&manifest).await?;
        }
        Ok(placement_view(&stored, target.quota))
    }

    /// A project's placement, if any.
    pub async fn placement(
        &self,
        actor: &Actor,
        project: &ProjectId,
    ) -> DeployResult<PlacementView> {
        let (scope, key) = (actor.scope.clone(), project.clone());
        let stored = self
            .db(move |s| s.get_placement(&scope, &key))
            .await?
            .ok_or_else(|| not_found("placement of project", project))?;
        let target = target_of(&stored)?;
        Ok(placement_view(&stored, target.quota))
    }

    // --------------------------------------------------------- applications

    /// Creates an application in a placed project and rolls out its first
    /// release. With `wait`, returns once the rollout ends.
    pub async fn create_app(
        &self,
        actor: &Actor,
        project: &ProjectId,
        name: &str,
        spec: AppSpec,
        wait: bool,
        now: DateTime<Utc>,
    ) -> DeployResult<(AppView, ReleaseView)> {
        check_app_name(name)?;
        spec.validate()?;
        let (scope, key) = (actor.scope.clone(), project.clone());
        self.db(move |s| s.get_placement(&scope, &key))
            .await?
            .ok_or_else(|| {
                DeployError::Conflict(format!(
                    "project `{project}` is not placed on a cluster yet (PUT /v1/projects/{project}/placement)"
                ))
            })?;
        let app = AppRecord {
            id: AppId::from_random((self.inner.ids)()),
            tenant: actor.scope.tenant.clone(),
            project: project.clone(),
            name: name.to_owned(),
            created_by: actor.account.clone(),
            state: AppLifecycle::Running,
            current_release: None,
            scale_override: None,
            created_at: now,
            updated_at: now,
        };
        self.check_dependencies(actor, &app, &spec).await?;
        let stored = app.clone();
        self.db(move |s| s.create_app(&stored))
            .await
            .map_err(|e| match e {
                DeployError::Store(StoreError::AlreadyExists { .. }) => DeployError::Conflict(
                    format!("project `{project}` has an application named `{name}` already"),
                ),
                other => other,
            })?;
        let release = self
            .release(actor, &app, spec, None, "deploy".to_owned(), wait, now)
            .await?;
        let app = self.app_record(actor, &app.id).await?;
        Ok((self.view(&app).await?, release))
    }

    /// Deploys a new spec of an application as a new release.
    pub async fn deploy(
        &self,
        actor: &Actor,
        id: &AppId,
        spec: AppSpec,
        wait: bool,
        now: DateTime<Utc>,
    ) -> DeployResult<ReleaseView> {
        spec.validate()?;
        let app = self.live_app(actor, id).await?;
        self.check_dependencies(actor, &app, &spec).await?;
        let spec = self.keep_hidden_secrets(&app, spec).await?;
        self.release(actor, &app, spec, None, "deploy".to_owned(), wait, now)
            .await
    }

    /// Rolls back in one call: a new release copying `to`, or the newest
    /// release before the current one that ran successfully.
    pub async fn rollback(
        &self,
        actor: &Actor,
        id: &AppId,
        to: Option<u32>,
        wait: bool,
        now: DateTime<Utc>,
    ) -> DeployResult<ReleaseView> {
        let app = self.live_app(actor, id).await?;
        let releases = self.releases_of(&app.id).await?;
        let current = app.current_release.unwrap_or(0);
        let target = match to {
            Some(version) => releases
                .iter()
                .find(|r| r.version == version)
                .ok_or_else(|| not_found("release", format!("{id} v{version}")))?,
            None => releases
                .iter()
                .find(|r| {
                    r.version < current
                        && matches!(
                            r.status,
                            ReleaseStatus::Succeeded | ReleaseStatus::Superseded
                        )
                })
                .ok_or_else(|| {
                    DeployError::Conflict(
                        "no earlier release ran successfully to roll back to".into(),
                    )
                })?,
        };
        let stored: StoredRelease = parse_release(target)?;
        let version = target.version;
        self.release_stored(
            actor,
            &app,
            stored,
            Some(version),
            format!("rollback to v{version}"),
            wait,
            now,
        )
        .await
    }

    /// Scales by hand. A fixed-scale application goes through the scale
    /// subresource; an autoscaled one has its autoscaler's bounds changed
    /// (the autoscaler owns its replicas). Kept until the next release.
    pub async fn scale(
        &self,
        actor: &Actor,
        id: &AppId,
        request: ScaleRequest,
        now: DateTime<Utc>,
    ) -> DeployResult<AppView> {
        let mut app = self.live_app(actor, id).await?;
        if app.state == AppLifecycle::Stopped {
            return Err(DeployError::Conflict(
                "the application is stopped; start it before scaling".into(),
            ));
        }
        let release = self.current(&app).await?;
        let stored = parse_release(&release)?;
        let request = match (stored.spec.scale, request) {
            (
                ScaleSpec::Fixed { .. },
                ScaleRequest {
                    replicas: Some(n),
                    min: None,
                    max: None,
                },
            ) => {
                if n > 100 {
                    return Err(ValidationError::new("replicas", "must be 0-100").into());
                }
                ScaleRequest {
                    replicas: Some(n),
                    min: None,
                    max: None,
                }
            }
            (ScaleSpec::Fixed { .. }, _) => {
                return Err(ValidationError::new(
                    "replicas",
                    "a fixed-scale application takes `replicas` only",
                )
                .into());
            }
            (
                ScaleSpec::Auto { .. },
                ScaleRequest {
                    replicas: Some(n),
                    min: None,
                    max: None,
                },
            ) => ScaleRequest {
                replicas: None,
                min: Some(n),
                max: Some(n),
            },
            (
                ScaleSpec::Auto { .. },
                ScaleRequest {
                    replicas: None,
                    min: Some(min),
                    max: Some(max),
                },
            ) => ScaleRequest {
                replicas: None,
                min: Some(min),
                max: Some(max),
            },
            (ScaleSpec::Auto { .. }, _) => {
                return Err(ValidationError::new(
                    "min",
                    "an autoscaled application takes `min` and `max` (or `replicas` for both)",
                )
                .into());
            }
        };
        if let (Some(min), Some(max)) = (request.min, request.max)
            && (min == 0 || max > 100 || min > max)
        {
            return Err(ValidationError::new("min", "needs 1 <= min <= max <= 100").into());
        }
        let (client, target) = self.target(&app).await?;
        match request.replicas {
            Some(replicas) => {
                client
                    .scale(
                        &target.namespace,
                        &app.name,
                        i32::try_from(replicas).unwrap_or(100),
                    )
                    .await?;
            }
            None => {
                app.scale_override = Some(to_json(&request)?);
                let manifests = self.render(&app, &release, &target, None).await?;
                for manifest in manifests
                    .iter()
                    .filter(|m| m.kind() == "HorizontalPodAutoscaler")
                {
                    client.apply(manifest).await?;
                }
            }
        }
        app.scale_override = Some(to_json(&request)?);
        app.updated_at = now;
        self.save(&app).await?;
        self.view(&app).await
    }

    /// Stops: replicas to 0 (an autoscaler is removed first: it cannot go
    /// to 0); every other object is kept.
    pub async fn stop(
        &self,
        actor: &Actor,
        id: &AppId,
        now: DateTime<Utc>,
    ) -> DeployResult<AppView> {
        let mut app = self.live_app(actor, id).await?;
        let (client, target) = self.target(&app).await?;
        client
            .delete("HorizontalPodAutoscaler", &target.namespace, &app.name)
            .await?;
        client.scale(&target.namespace, &app.name, 0).await?;
        app.state = AppLifecycle::Stopped;
        app.updated_at = now;
        self.save(&app).await?;
        self.view(&app).await
    }

    /// Starts a stopped application at its release's (or manual) scale.
    pub async fn start(
        &self,
        actor: &Actor,
        id: &AppId,
        now: DateTime<Utc>,
    ) -> DeployResult<AppView> {
        let mut app = self.live_app(actor, id).await?;
        app.state = AppLifecycle::Running;
        app.updated_at = now;
        self.save(&app).await?;
        self.apply_current(&app, None).await?;
        self.view(&app).await
    }

    /// Restarts every pod (a rolling restart through the pod template).
    pub async fn restart(
        &self,
        actor: &Actor,
        id: &AppId,
        now: DateTime<Utc>,
    ) -> DeployResult<AppView> {
        let app = self.live_app(actor, id).await?;
        if app.state == AppLifecycle::Stopped {
            return Err(DeployError::Conflict("the application is stopped".into()));
        }
        self.apply_current(&app, Some(now.to_rfc3339())).await?;
        self.view(&app).await
    }

    /// Deletes everything the application owns in the cluster (found by
    /// its label); its record and releases stay, marked deleted.
    pub async fn delete(
        &self,
        actor: &Actor,
        id: &AppId,
        now: DateTime<Utc>,
    ) -> DeployResult<usize> {
        let mut app = self.live_app(actor, id).await?;
        let (client, target) = self.target(&app).await?;
        let deleted = client
            .delete_labelled(&target.namespace, &format!("{APP_LABEL}={}", app.id))
            .await?;
        app.state = AppLifecycle::Deleted;
        app.updated_at = now;
        self.save(&app).await?;
        Ok(deleted)
    }

    /// One application.
    pub async fn get(&self, actor: &Actor, id: &AppId) -> DeployResult<AppView> {
        let app = self.app_record(actor, id).await?;
        self.view(&app).await
    }

    /// The applications the caller sees, in a project or all.
    pub async fn list(
        &self,
        actor: &Actor,
        project: Option<&ProjectId>,
    ) -> DeployResult<Vec<AppView>> {
        let (scope, project) = (actor.scope.clone(), project.cloned());
        let apps = self
            .db(move |s| s.list_apps(&scope, project.as_ref()))
            .await?;
        let mut views = Vec::with_capacity(apps.len());
        for app in &apps {
            views.push(self.view(app).await?);
        }
        Ok(views)
    }

    /// Live status from the cluster's cache.
    pub async fn status(&self, actor: &Actor, id: &AppId) -> DeployResult<StatusView> {
        let app = self.app_record(actor, id).await?;
        let live = if app.state == AppLifecycle::Deleted {
            LiveStatus::default()
        } else {
            let (client, target) = self.target(&app).await?;
            client.status(&target.namespace, &app.id)
        };
        Ok(StatusView {
            app: app.id.clone(),
            state: app.state,
            current_release: app.current_release,
            live,
        })
    }

    /// Live status for the platform's own work (the meter).
    pub async fn live_status(&self, app: &AppRecord) -> DeployResult<LiveStatus> {
        let (client, target) = self.target(app).await?;
        Ok(client.status(&target.namespace, &app.id))
    }

    /// Streams a pod's log; the pod must be the application's (default:
    /// its first pod).
    pub async fn logs(
        &self,
        actor: &Actor,
        id: &AppId,
        pod: Option<&str>,
        options: &LogOptions,
    ) -> DeployResult<LogStream> {
        let app = self.live_app(actor, id).await?;
        let (client, target) = self.target(&app).await?;
        let live = client.status(&target.namespace, &app.id);
        let pod = match pod {
            Some(name) => live
                .pods
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.name.clone())
                .ok_or_else(|| not_found("pod", name))?,
            None => live
                .pods
                .first()
                .map(|p| p.name.clone())
                .ok_or_else(|| DeployError::Conflict("the application has no pods".into()))?,
        };
        Ok(client.logs(&target.namespace, &pod, options).await?)
    }

    /// An application's releases, newest first.
    pub async fn releases(&self, actor: &Actor, id: &AppId) -> DeployResult<Vec<ReleaseView>> {
        let app = self.app_record(actor, id).await?;
        self.releases_of(&app.id)
            .await?
            .iter()
            .map(release_view)
            .collect()
    }

    /// One release.
    pub async fn release_of(
        &self,
        actor: &Actor,
        id: &AppId,
        version: u32,
    ) -> DeployResult<ReleaseView> {
        let app = self.app_record(actor, id).await?;
        let key = app.id.clone();
        let release = self
            .db(move |s| s.get_release(&key, version))
            .await?
            .ok_or_else(|| not_found("release", format!("{id} v{version}")))?;
        release_view(&release)
    }

    /// What changed from release `from` to release `to`; by default the
    /// current release against the one before it (release 0 is nothing, so
    /// release 1 shows every field as added). Answers the two versions.
    pub async fn compare(
        &self,
        actor: &Actor,
        id: &AppId,
        from: Option<u32>,
        to: Option<u32>,
    ) -> DeployResult<(u32, u32, Vec<SpecChange>)> {
        let to = match to {
            Some(to) => to,
            None => self
                .app_record(actor, id)
                .await?
                .current_release
                .ok_or_else(|| {
                    DeployError::Conflict("the application has no release yet".into())
                })?,
        };
        let from = from.unwrap_or(to.saturating_sub(1));
        // Release 0 is "nothing yet": every field of `to` shows as added.
        let a = match from {
            0 => Value::Object(serde_json::Map::new()),
            version => to_json(&self.release_of(actor, id, version).await?.spec)?,
        };
        let b = to_json(&self.release_of(actor, id, to).await?.spec)?;
        let mut changes = Vec::new();
        diff("", Some(&a), Some(&b), &mut changes);
        Ok((from, to, changes))
    }

    // -------------------------------------------------------------- builds

    /// Starts a build of the application from a repository: a Job that
    /// runs the builder image and pushes to the registry of the settings.
    pub async fn start_build(
        &self,
        actor: &Actor,
        id: &AppId,
        source: BuildSource,
        now: DateTime<Utc>,
    ) -> DeployResult<BuildView> {
        // Another tenant's application is not found, whatever the settings.
        let app = self.live_app(actor, id).await?;
        let settings = self.inner.settings.builds.clone().ok_or_else(|| {
            DeployError::Conflict(
                "builds are not configured (deploy.builder_image, deploy.registry)".into(),
            )
        })?;
        if !source.repository.starts_with("https://")
            || source.repository.len() > 512
            || source.repository.contains(char::is_whitespace)
        {
            return Err(ValidationError::new("repository", "must be an https:// URL").into());
        }
        if source.revision.is_empty()
            || source.revision.len() > 255
            || source.revision.contains(char::is_whitespace)
        {
            return Err(ValidationError::new("revision", "must be a branch, tag or commit").into());
        }
        let (client, target) = self.target(&app).await?;
        let build_id = BuildId::from_random((self.inner.ids)());
        let job_name = build_id.as_str().replace('_', "-");
        let image = format!(
            "{}/{}/{}:{}",
            settings.registry.trim_end_matches('/'),
            target.namespace,
            app.name,
            job_name
        );
        let job = render::build_job(
            &target, &app.id, &app.name, &job_name, &source, &image, &settings,
        );
        let record = BuildRecord {
            id: build_id,
            app: app.id.clone(),
            source: to_json(&source)?,
            image,
            status: BuildStatus::Running,
            created_by: actor.account.clone(),
            created_at: now,
            updated_at: now,
        };
        let stored = record.clone();
        self.db(move |s| s.create_build(&stored)).await?;
        client.apply(&job).await?;
        build_view(&record)
    }

    /// A build, its state read from its Job.
    pub async fn build(
        &self,
        actor: &Actor,
        id: &AppId,
        build: &BuildId,
    ) -> DeployResult<BuildView> {
        let app = self.app_record(actor, id).await?;
        let (key, build_key) = (app.id.clone(), build.clone());
        let mut record = self
            .db(move |s| s.get_build(&key, &build_key))
            .await?
            .ok_or_else(|| not_found("build", build))?;
        if record.status == BuildStatus::Running && app.state != AppLifecycle::Deleted {
            let (client, target) = self.target(&app).await?;
            let state = client
                .job(&target.namespace, &build.as_str().replace('_', "-"))
                .await?;
            let status = match state {
                Some(JobState::Succeeded) => Some(BuildStatus::Succeeded),
                Some(JobState::Failed) | None => Some(BuildStatus::Failed),
                Some(JobState::Running) => None,
            };
            if let Some(status) = status {
                let build_key = build.clone();
                let now = Utc::now();
                record = self
                    .db(move |s| s.set_build_status(&build_key, status, now))
                    .await?;
            }
        }
        build_view(&record)
    }

    /// Streams a build's log (its Job's pod).
    pub async fn build_logs(
        &self,
        actor: &Actor,
        id: &AppId,
        build: &BuildId,
        follow: bool,
    ) -> DeployResult<LogStream> {
        let view = self.build(actor, id, build).await?;
        let app = self.app_record(actor, id).await?;
        let (client, target) = self.target(&app).await?;
        let job = view.id.as_str().replace('_', "-");
        let pods = client.job_pods(&target.namespace, &job).await?;
        let pod = pods
            .first()
            .ok_or_else(|| DeployError::Conflict("the build has no pod yet".into()))?;
        let options = LogOptions {
            follow,
            ..LogOptions::default()
        };
        Ok(client.logs(&target.namespace, pod, &options).await?)
    }

    /// Deploys a successful build's image as a new release of the current spec.
    pub async fn deploy_build(
        &self,
        actor: &Actor,
        id: &AppId,
        build: &BuildId,
        wait: bool,
        now: DateTime<Utc>,
    ) -> DeployResult<ReleaseView> {
        let view = self.build(actor, id, build).await?;
        if view.status != BuildStatus::Succeeded {
            return Err(DeployError::Conflict(format!(
                "build `{build}` has not succeeded"
            )));
        }
        let app = self.live_app(actor, id).await?;
        let current = self.current(&app).await?;
        let mut stored = parse_release(&current)?;
        stored.spec.image = view.image.clone();
        stored.image_digest = digest_of(&view.image);
        self.release_stored(
            actor,
            &app,
            stored,
            None,
            format!("deploy build {build}"),
            wait,
            now,
        )
        .await
    }

    // ------------------------------------------------------------ internals

    async fn app_record(&self, actor: &Actor, id: &AppId) -> DeployResult<AppRecord> {
        let (scope, key) = (actor.scope.clone(), id.clone());
        self.db(move |s| s.get_app(&scope, &key))
            .await?
            .ok_or_else(|| not_found("application", id))
    }

    /// An application that is not deleted.
    async fn live_app(&self, actor: &Actor, id: &AppId) -> DeployResult<AppRecord> {
        let app = self.app_record(actor, id).await?;
        if app.state == AppLifecycle::Deleted {
            return Err(not_found("application", id));
        }
        Ok(app)
    }

    /// Writes an application's state, release, scale and `updated_at`.
    async fn save(&self, app: &AppRecord) -> DeployResult<()> {
        let stored = app.clone();
        self.db(move |s| s.update_app(&stored)).await
    }

    async fn releases_of(&self, id: &AppId) -> DeployResult<Vec<ReleaseRecord>> {
        let key = id.clone();
        self.db(move |s| s.list_releases(&key)).await
    }

    async fn current(&self, app: &AppRecord) -> DeployResult<ReleaseRecord> {
        let version = app
            .current_release
            .ok_or_else(|| DeployError::Conflict("the application has no release yet".into()))?;
        let key = app.id.clone();
        self.db(move |s| s.get_release(&key, version))
            .await?
            .ok_or_else(|| not_found("release", format!("{} v{version}", app.id)))
    }

    async fn target(&self, app: &AppRecord) -> DeployResult<(Arc<dyn ClusterApi>, ProjectTarget)> {
        let scope = RowScope::whole(app.tenant.clone());
        let project = app.project.clone();
        let placement = self
            .db(move |s| s.get_placement(&scope, &project))
            .await?
            .ok_or_else(|| not_found("placement of project", &app.project))?;
        let client = self.cluster(&placement.cluster).await?;
        Ok((client, target_of(&placement)?))
    }

    /// Dependencies must be other live applications of the same project.
    async fn check_dependencies(
        &self,
        actor: &Actor,
        app: &AppRecord,
        spec: &AppSpec,
    ) -> DeployResult<()> {
        if spec.dependencies.is_empty() {
            return Ok(());
        }
        let scope = RowScope::whole(actor.scope.tenant.clone());
        let project = app.project.clone();
        let apps = self
            .db(move |s| s.list_apps(&scope, Some(&project)))
            .await?;
        for (i, name) in spec.dependencies.iter().enumerate() {
            if *name == app.name || !apps.iter().any(|a| a.name == *name) {
                return Err(ValidationError::new(
                    format!("dependencies[{i}]"),
                    format!("`{name}` is not another application of this project"),
                )
                .into());
            }
        }
        Ok(())
    }

    /// A spec sent back with `***` secret values keeps the stored values.
    async fn keep_hidden_secrets(
        &self,
        app: &AppRecord,
        mut spec: AppSpec,
    ) -> DeployResult<AppSpec> {
        if !spec.secrets.values().any(|v| v == "***") || app.current_release.is_none() {
            return Ok(spec);
        }
        let current = parse_release(&self.current(app).await?)?;
        for (name, value) in spec.secrets.iter_mut() {
            if value == "***"
                && let Some(sealed) = current.spec.secrets.get(name)
            {
                *value = self.inner.sealer.open(sealed)?;
            }
        }
        Ok(spec)
    }

    #[allow(clippy::too_many_arguments)]
    async fn release(
        &self,
        actor: &Actor,
        app: &AppRecord,
        spec: AppSpec,
        rollback_of: Option<u32>,
        description: String,
        wait: bool,
        now: DateTime<Utc>,
    ) -> DeployResult<ReleaseView> {
        let mut sealed = spec;
        for value in sealed.secrets.values_mut() {
            *value = self.inner.sealer.seal(value)?;
        }
        let stored = StoredRelease {
            image_digest: digest_of(&sealed.image),
            spec: sealed,
        };
        self.release_stored(actor, app, stored, rollback_of, description, wait, now)
            .await
    }

    /// Stores a release and rolls it out. Boxed as a `Send` future: a
    /// failed rollout's automatic rollback calls it again from the watcher.
    #[allow(clippy::too_many_arguments)]
    fn release_stored<'a>(
        &'a self,
        actor: &'a Actor,
        app: &'a AppRecord,
        stored: StoredRelease,
        rollback_of: Option<u32>,
        description: String,
        wait: bool,
        now: DateTime<Utc>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = DeployResult<ReleaseView>> + Send + 'a>>
    {
        Box::pin(async move {
            let new = NewRelease {
                app: app.id.clone(),
                spec: to_json(&stored)?,
                rollback_of,
                description,
                created_by: actor.account.clone(),
                created_at: now,
            };
            let release = self.db(move |s| s.add_release(&new)).await?;
            // A release resets a manual scale: the release is the source of truth.
            let mut app = app.clone();
            app.current_release = Some(release.version);
            app.scale_override = None;
            app.updated_at = now;
            self.save(&app).await?;
            let outcome = self.roll_out(&app, &release, wait).await?;
            release_view(&outcome)
        })
    }

    /// Renders the release for the application's state and scale.
    async fn render(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        target: &ProjectTarget,
        restarted_at: Option<&str>,
    ) -> DeployResult<Vec<crate::cluster::Manifest>> {
        let mut stored = parse_release(release)?;
        for value in stored.spec.secrets.values_mut() {
            *value = self.inner.sealer.open(value)?;
        }
        let dependencies = self.addresses(app, &stored.spec, target).await?;
        let manual: Option<ScaleRequest> = app
            .scale_override
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let replicas = match (app.state, manual) {
            (AppLifecycle::Stopped | AppLifecycle::Deleted, _) => 0,
            (
                _,
                Some(ScaleRequest {
                    replicas: Some(n), ..
                }),
            ) => n,
            _ => stored.spec.desired_replicas(),
        };
        let bounds = manual.and_then(|m| Some((m.min?, m.max?)));
        let mut manifests = render::application(&RenderInput {
            target,
            app: &app.id,
            name: &app.name,
            release: release.version,
            spec: &stored.spec,
            replicas,
            autoscale_bounds: bounds,
            dependencies: &dependencies,
            restarted_at,
        });
        if app.state == AppLifecycle::Stopped {
            // A stopped application keeps no autoscaler: it would scale it up.
            manifests.retain(|m| m.kind() != "HorizontalPodAutoscaler");
        }
        Ok(manifests)
    }

    async fn addresses(
        &self,
        app: &AppRecord,
        spec: &AppSpec,
        target: &ProjectTarget,
    ) -> DeployResult<Vec<ServiceAddress>> {
        if spec.dependencies.is_empty() {
            return Ok(Vec::new());
        }
        let scope = RowScope::whole(app.tenant.clone());
        let project = app.project.clone();
        let apps = self
            .db(move |s| s.list_apps(&scope, Some(&project)))
            .await?;
        let mut addresses = Vec::new();
        for name in &spec.dependencies {
            let Some(dependency) = apps.iter().find(|a| a.name == *name) else {
                continue;
            };
            let ports = match dependency.current_release {
                Some(_) => parse_release(&self.current(dependency).await?)?.spec.ports,
                None => Vec::new(),
            };
            addresses.push(ServiceAddress {
                app: name.clone(),
                host: service_host(name, &target.namespace),
                ports,
            });
        }
        Ok(addresses)
    }

    /// Applies the current release again (start, restart, reconcile).
    async fn apply_current(
        &self,
        app: &AppRecord,
        restarted_at: Option<String>,
    ) -> DeployResult<()> {
        let release = self.current(app).await?;
        let (client, target) = self.target(app).await?;
        let manifests = self
            .render(app, &release, &target, restarted_at.as_deref())
            .await?;
        for manifest in &manifests {
            client.apply(manifest).await?;
        }
        Ok(())
    }

    /// Applies a release and watches its rollout (in the background unless
    /// `wait`). An apply that fails marks the release failed.
    async fn roll_out(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        wait: bool,
    ) -> DeployResult<ReleaseRecord> {
        let (client, target) = self.target(app).await?;
        let applied: DeployResult<()> = async {
            let manifests = self.render(app, release, &target, None).await?;
            for manifest in &manifests {
                client.apply(manifest).await?;
            }
            for kind in render::stale_kinds(&manifests) {
                client.delete(kind, &target.namespace, &app.name).await?;
            }
            Ok(())
        }
        .await;
        if let Err(error) = applied {
            let (key, version, reason) = (app.id.clone(), release.version, error.to_string());
            self.db(move |s| {
                s.set_release_status(
                    &key,
                    version,
                    ReleaseStatus::Failed,
                    Some(&reason),
                    Utc::now(),
                )
            })
            .await?;
            return Err(error);
        }
        let watcher = self.clone();
        let pending = release.clone();
        let (app, release) = (app.clone(), release.clone());
        if wait {
            return watcher.watch(app, release, client, target).await;
        }
        let handle = tokio::spawn(async move {
            if let Err(error) = watcher.watch(app, release, client, target).await {
                tracing::warn!(%error, "rollout watch failed");
            }
        });
        let mut watchers = self
            .inner
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        watchers.retain(|h| !h.is_finished());
        watchers.push(handle);
        Ok(pending)
    }

    /// Waits for every background rollout watch to end (tests, shutdown).
    pub async fn settle(&self) {
        loop {
            let handles: Vec<_> = self
                .inner
                .watchers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .drain(..)
                .collect();
            if handles.is_empty() {
                return;
            }
            for handle in handles {
                let _ = handle.await;
            }
        }
    }

    /// Watches a rollout to its deadline: success supersedes the releases
    /// before it; failure marks it failed and, when the spec asks, rolls
    /// back to the newest release that ran successfully.
    async fn watch(
        &self,
        app: AppRecord,
        release: ReleaseRecord,
        client: Arc<dyn ClusterApi>,
        target: ProjectTarget,
    ) -> DeployResult<ReleaseRecord> {
        let stored = parse_release(&release)?;
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(u64::from(stored.spec.rollout.deadline_seconds));
        let failure = loop {
            // A newer release took over: this one is superseded, not failed.
            let key = app.id.clone();
            let latest = self.db(move |s| s.get_app_unscoped(&key)).await?;
            if latest.as_ref().is_some_and(|a| {
                a.current_release != Some(release.version) || a.state == AppLifecycle::Deleted
            }) {
                return self
                    .set_status(&app.id, release.version, ReleaseStatus::Superseded, None)
                    .await;
            }
            match client.rollout(&target.namespace, &app.name).await {
                Ok(Some(progress)) if progress.complete() => break None,
                Ok(Some(progress)) if progress.deadline_exceeded => {
                    break Some("the Deployment exceeded its progress deadline".to_owned());
                }
                Ok(None) => break Some("the Deployment is gone".to_owned()),
                Ok(Some(_)) => {}
                Err(error) => tracing::warn!(%error, app = %app.id, "reading the rollout failed"),
            }
            if tokio::time::Instant::now() >= deadline {
                break Some(format!(
                    "the rollout did not complete within {} s",
                    stored.spec.rollout.deadline_seconds
                ));
            }
            tokio::time::sleep(self.inner.settings.rollout_poll).await;
        };
        match failure {
            None => {
                let earlier = self.releases_of(&app.id).await?;
                for older in earlier
                    .iter()
                    .filter(|r| r.version < release.version && r.status == ReleaseStatus::Succeeded)
                {
                    self.set_status(&app.id, older.version, ReleaseStatus::Superseded, None)
                        .await?;
                }
                self.set_status(&app.id, release.version, ReleaseStatus::Succeeded, None)
                    .await
            }
            Some(reason) => {
                tracing::warn!(app = %app.id, version = release.version, %reason, "rollout failed");
                let failed = self
                    .set_status(
                        &app.id,
                        release.version,
                        ReleaseStatus::Failed,
                        Some(reason),
                    )
                    .await?;
                if stored.spec.rollout.auto_rollback {
                    let releases = self.releases_of(&app.id).await?;
                    if let Some(good) = releases.iter().find(|r| {
                        r.version < release.version
                            && matches!(
                                r.status,
                                ReleaseStatus::Succeeded | ReleaseStatus::Superseded
                            )
                    }) {
                        let actor = Actor {
                            scope: RowScope::whole(app.tenant.clone()),
                            account: release.created_by.clone(),
                        };
                        let copy = parse_release(good)?;
                        let version = good.version;
                        let key = app.id.clone();
                        let latest = self
                            .db(move |s| s.get_app_unscoped(&key))
                            .await?
                            .unwrap_or(app);
                        self.release_stored(
                            &actor,
                            &latest,
                            copy,
                            Some(version),
                            format!("automatic rollback of v{} to v{version}", release.version),
                            false,
                            Utc::now(),
                        )
                        .await?;
                    }
                }
                Ok(failed)
            }
        }
    }

    async fn set_status(
        &self,
        app: &AppId,
        version: u32,
        status: ReleaseStatus,
        reason: Option<String>,
    ) -> DeployResult<ReleaseRecord> {
        let key = app.clone();
        self.db(move |s| s.set_release_status(&key, version, status, reason.as_deref(), Utc::now()))
            .await
    }

    async fn view(&self, app: &AppRecord) -> DeployResult<AppView> {
        let release = match app.current_release {
            Some(_) => Some(self.current(app).await?),
            None => None,
        };
        let stored = release.as_ref().map(parse_release).transpose()?;
        let namespace = namespace_of(&app.project);
        let address = stored.as_ref().map(|s| ServiceAddress {
            app: app.name.clone(),
            host: service_host(&app.name, &namespace),
            ports: s.spec.ports.clone(),
        });
        let urls = stored
            .as_ref()
            .map(|s| {
                s.spec
                    .ingress
                    .iter()
                    .map(|rule| {
                        let scheme = if rule.tls_secret.is_some() {
                            "https"
                        } else {
                            "http"
                        };
                        format!("{scheme}://{}{}", rule.host, rule.path)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(AppView {
            id: app.id.clone(),
            project: app.project.clone(),
            name: app.name.clone(),
            state: app.state,
            current_release: app.current_release,
            release_status: release.as_ref().map(|r| r.status),
            spec: stored.map(|s| s.spec.redacted()),
            scale_override: app
                .scale_override
                .as_ref()
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
            address,
            urls,
            created_by: app.created_by.clone(),
            created_at: app.created_at,
            updated_at: app.updated_at,
        })
    }
}

fn to_json(value: &impl Serialize) -> DeployResult<Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Internal(e.to_string()).into())
}

fn parse_release(release: &ReleaseRecord) -> DeployResult<StoredRelease> {
    serde_json::from_value(release.spec.clone()).map_err(|e| {
        StoreError::Internal(format!(
            "stored release {} v{}: {e}",
            release.app, release.version
        ))
        .into()
    })
}

fn release_view(release: &ReleaseRecord) -> DeployResult<ReleaseView> {
    let stored = parse_release(release)?;
    Ok(ReleaseView {
        app: release.app.clone(),
        version: release.version,
        spec: stored.spec.redacted(),
        image_digest: stored.image_digest,
        rollback_of: release.rollback_of,
        description: release.description.clone(),
        status: release.status,
        reason: release.reason.clone(),
        created_by: release.created_by.clone(),
        created_at: release.created_at,
        updated_at: release.updated_at,
    })
}

fn build_view(build: &BuildRecord) -> DeployResult<BuildView> {
    Ok(BuildView {
        id: build.id.clone(),
        app: build.app.clone(),
        source: serde_json::from_value(build.source.clone())
            .map_err(|e| StoreError::Internal(format!("stored build {}: {e}", build.id)))?,
        image: build.image.clone(),
        status: build.status,
        created_at: build.created_at,
        updated_at: build.updated_at,
    })
}

fn target_of(placement: &PlacementRecord) -> DeployResult<ProjectTarget> {
    let quota: ProjectQuota = serde_json::from_value(placement.settings.clone()).map_err(|e| {
        StoreError::Internal(format!("stored placement of {}: {e}", placement.project))
    })?;
    Ok(ProjectTarget {
        tenant: placement.tenant.clone(),
        project: placement.project.clone(),
        namespace: placement.namespace.clone(),
        quota,
    })
}

fn placement_view(placement: &PlacementRecord, quota: ProjectQuota) -> PlacementView {
    PlacementView {
        project: placement.project.clone(),
        cluster: placement.cluster.clone(),
        namespace: placement.namespace.clone(),
        quota,
        updated_at: placement.updated_at,
    }
}

/// The digest an image reference pins (`…@sha256:…`), if any.
fn digest_of(image: &str) -> Option<String> {
    image.split_once('@').map(|(_, digest)| digest.to_owned())
}

/// Collects the differences between two JSON values, by path.
fn diff(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<SpecChange>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff(&child, x.get(key), y.get(key), out);
            }
        }
        (x, y) if x == y => {}
        (x, y) => out.push(SpecChange {
            path: path.to_owned(),
            from: x.cloned(),
            to: y.cloned(),
        }),
    }
}
