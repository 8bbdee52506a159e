//! The deployment platform's stored records and the store trait
//! `shiyun-schema` implements: clusters and the tenants granted them,
//! projects placed on a cluster, applications, their immutable releases,
//! builds, and the meter's watermark. The rules (rendering, rollouts,
//! rollbacks, metering) live in `shiyun-deploy`; specs are stored as the
//! JSON that crate writes, so the store never interprets them.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::store::StoreResult;
use crate::tenancy::ids::prefixed_id;
use crate::tenancy::{AccountId, ProjectId, RowScope, Tenant};

prefixed_id!(
    /// A registered Kubernetes cluster.
    ClusterId, "cls", "cluster_id", "^cls_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// An application: one deployable component of a project.
    AppId, "app", "app_id", "^app_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A build of an application from its code repository.
    BuildId, "bld", "build_id", "^bld_[0-9a-z]{1,40}$"
);

/// How the platform reaches a cluster.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterKind {
    /// A real API server at `api_url`, with a kubeconfig or a bearer token.
    Kubernetes,
    /// The in-process simulated API server (the demo and the tests): it
    /// keeps objects and completes rollouts, and runs no containers.
    Simulated,
}

impl ClusterKind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterKind::Kubernetes => "kubernetes",
            ClusterKind::Simulated => "simulated",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        [ClusterKind::Kubernetes, ClusterKind::Simulated]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A registered cluster. The credential is sealed (encrypted with the
/// settings' key) before it reaches the store and is never returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// Id.
    pub id: ClusterId,
    /// Unique name.
    pub name: String,
    /// Real or simulated.
    pub kind: ClusterKind,
    /// The API server's URL.
    pub api_url: String,
    /// `kubeconfig` or `token`.
    pub credential_kind: String,
    /// The sealed credential (nonce and ciphertext, base64).
    pub sealed_credential: String,
    /// Tenants that may deploy to it.
    pub grants: Vec<Tenant>,
    /// Registered.
    pub created_at: DateTime<Utc>,
}

/// A project placed on a cluster: its namespace and quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementRecord {
    /// The project.
    pub project: ProjectId,
    /// Its tenant.
    pub tenant: Tenant,
    /// The cluster.
    pub cluster: ClusterId,
    /// The namespace it became.
    pub namespace: String,
    /// The quota and default limits, as `shiyun-deploy` writes them.
    pub settings: serde_json::Value,
    /// Placed by.
    pub created_by: AccountId,
    /// Placed (or last changed).
    pub updated_at: DateTime<Utc>,
}

/// An application's lifecycle state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppLifecycle {
    /// Running at its release's (or its manual) scale.
    Running,
    /// Scaled to zero; its objects are kept.
    Stopped,
    /// Everything it owned was deleted.
    Deleted,
}

impl AppLifecycle {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            AppLifecycle::Running => "running",
            AppLifecycle::Stopped => "stopped",
            AppLifecycle::Deleted => "deleted",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        [
            AppLifecycle::Running,
            AppLifecycle::Stopped,
            AppLifecycle::Deleted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// An application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// Id.
    pub id: AppId,
    /// Its tenant.
    pub tenant: Tenant,
    /// Its project.
    pub project: ProjectId,
    /// Name, unique in the project (a DNS label).
    pub name: String,
    /// Who created it.
    pub created_by: AccountId,
    /// Lifecycle state.
    pub state: AppLifecycle,
    /// The release the cluster is meant to run.
    pub current_release: Option<u32>,
    /// Scale set by hand after the release (replicas, or the autoscaler's
    /// bounds), as `shiyun-deploy` writes it; `null` when the release's own.
    pub scale_override: Option<serde_json::Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A release's rollout state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatus {
    /// Applied; the rollout is in progress.
    Pending,
    /// Every replica runs this release.
    Succeeded,
    /// The rollout did not complete by its deadline, or applying failed.
    Failed,
    /// A later release replaced it.
    Superseded,
}

impl ReleaseStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Succeeded => "succeeded",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::Superseded => "superseded",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        [
            ReleaseStatus::Pending,
            ReleaseStatus::Succeeded,
            ReleaseStatus::Failed,
            ReleaseStatus::Superseded,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A release to add: the store numbers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRelease {
    /// The application.
    pub app: AppId,
    /// The whole spec (image, digest, config, scale), as `shiyun-deploy` writes it.
    pub spec: serde_json::Value,
    /// The release it copies, for a rollback.
    pub rollback_of: Option<u32>,
    /// Why it was made (`deploy`, `rollback`, `automatic rollback of 4`).
    pub description: String,
    /// Who made it.
    pub created_by: AccountId,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An immutable release: only its status and reason change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// The application.
    pub app: AppId,
    /// 1, 2, 3… per application.
    pub version: u32,
    /// The whole spec.
    pub spec: serde_json::Value,
    /// The release it copies, for a rollback.
    pub rollback_of: Option<u32>,
    /// Why it was made.
    pub description: String,
    /// Rollout state.
    pub status: ReleaseStatus,
    /// Why it failed, when it did.
    pub reason: Option<String>,
    /// Who made it.
    pub created_by: AccountId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
}

/// A build's state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    /// The Job runs.
    Running,
    /// The image was pushed.
    Succeeded,
    /// The Job failed.
    Failed,
}

impl BuildStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Running => "running",
            BuildStatus::Succeeded => "succeeded",
            BuildStatus::Failed => "failed",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<Self> {
        [
            BuildStatus::Running,
            BuildStatus::Succeeded,
            BuildStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A build of an application from a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// Id.
    pub id: BuildId,
    /// The application.
    pub app: AppId,
    /// The repository and revision, as `shiyun-deploy` writes them.
    pub source: serde_json::Value,
    /// The image it pushes.
    pub image: String,
    /// State.
    pub status: BuildStatus,
    /// Who started it.
    pub created_by: AccountId,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The deployment platform's storage. Reads of tenant data take the
/// caller's [`RowScope`]; the meter and the rollout watcher, which act for
/// the platform, use the unscoped reads.
pub trait DeployStore: Send + Sync {
    /// Registers a cluster. A taken name is `AlreadyExists`.
    fn create_cluster(&self, cluster: &ClusterRecord) -> StoreResult<()>;
    /// Every cluster, by name.
    fn list_clusters(&self) -> StoreResult<Vec<ClusterRecord>>;
    /// One cluster.
    fn get_cluster(&self, id: &ClusterId) -> StoreResult<Option<ClusterRecord>>;
    /// Grants (`granted`) or withdraws a tenant's use of a cluster; returns
    /// the cluster. Repeating either is harmless.
    fn set_cluster_grant(
        &self,
        id: &ClusterId,
        tenant: &Tenant,
        granted: bool,
    ) -> StoreResult<ClusterRecord>;

    /// Places a project, or changes its settings. A project stays on the
    /// cluster it was first placed on: another cluster is `Conflict`.
    fn put_placement(&self, placement: &PlacementRecord) -> StoreResult<PlacementRecord>;
    /// A project's placement, if its tenant is the scope's.
    fn get_placement(
        &self,
        scope: &RowScope,
        project: &ProjectId,
    ) -> StoreResult<Option<PlacementRecord>>;

    /// Creates an application. A taken name in the project is `AlreadyExists`.
    fn create_app(&self, app: &AppRecord) -> StoreResult<()>;
    /// One application the scope sees (deleted ones included).
    fn get_app(&self, scope: &RowScope, id: &AppId) -> StoreResult<Option<AppRecord>>;
    /// One application, for the platform's own work.
    fn get_app_unscoped(&self, id: &AppId) -> StoreResult<Option<AppRecord>>;
    /// The applications the scope sees, in one project or all, by name;
    /// deleted ones left out.
    fn list_apps(
        &self,
        scope: &RowScope,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<AppRecord>>;
    /// Every running application of every tenant, for the meter.
    fn list_running_apps(&self) -> StoreResult<Vec<AppRecord>>;
    /// Writes an application's state, current release, scale override and
    /// `updated_at`.
    fn update_app(&self, app: &AppRecord) -> StoreResult<()>;

    /// Adds a release numbered one above the application's last, and makes
    /// it the application's current release, in one transaction.
    fn add_release(&self, release: &NewRelease) -> StoreResult<ReleaseRecord>;
    /// Sets a release's status and reason.
    fn set_release_status(
        &self,
        app: &AppId,
        version: u32,
        status: ReleaseStatus,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<ReleaseRecord>;
    /// One release.
    fn get_release(&self, app: &AppId, version: u32) -> StoreResult<Option<ReleaseRecord>>;
    /// An application's releases, newest first.
    fn list_releases(&self, app: &AppId) -> StoreResult<Vec<ReleaseRecord>>;

    /// Records a build.
    fn create_build(&self, build: &BuildRecord) -> StoreResult<()>;
    /// Sets a build's status.
    fn set_build_status(
        &self,
        id: &BuildId,
        status: BuildStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<BuildRecord>;
    /// One build of an application.
    fn get_build(&self, app: &AppId, id: &BuildId) -> StoreResult<Option<BuildRecord>>;

    /// The minute up to which an application's usage was reported (exclusive).
    fn meter_mark(&self, app: &AppId) -> StoreResult<Option<DateTime<Utc>>>;
    /// Moves the meter's watermark forward (never back).
    fn set_meter_mark(&self, app: &AppId, until: DateTime<Utc>) -> StoreResult<()>;
}
