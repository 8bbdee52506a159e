//! Renders the objects a project and a release become. Pure: the same
//! input gives the same objects, byte for byte (golden snapshots hold it).

use std::collections::BTreeMap;

use crate::cluster::Manifest;
use crate::model::{ProjectTarget, RenderInput};

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
    pub repository: String,
    /// Branch, tag or commit (default `main`).
    #[serde(default = "default_revision")]
    pub revision: String,
    /// Directory of the repository to build (default the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_dir: Option<String>,
}

fn default_revision() -> String {
    "main".to_owned()
}

/// The labels every object of an application carries.
pub fn app_labels(target: &ProjectTarget, app: &shiyun_core::deploy::AppId, name: &str) -> BTreeMap<String, String> {
    todo!("render helper")
}

/// A project's objects: its Namespace, ResourceQuota, LimitRange and the
/// NetworkPolicy that refuses other tenants' namespaces.
pub fn project(target: &ProjectTarget) -> Vec<Manifest> {
    todo!("render helper")
}

/// An application's objects for one release, in apply order: ConfigMap,
/// Secret, Service (when it has ports), Deployment, Ingress (when it has
/// rules), HorizontalPodAutoscaler (when it autoscales).
pub fn application(input: &RenderInput<'_>) -> Vec<Manifest> {
    todo!("render helper")
}

/// The kinds an application may own that `rendered` lacks: the engine
/// deletes them (an Ingress dropped from the spec, an HPA after a switch to
/// fixed replicas).
pub fn stale_kinds(rendered: &[Manifest]) -> Vec<&'static str> {
    todo!("render helper")
}

/// A build's Job: runs the builder image against the source and pushes
/// `image`.
pub fn build_job(
    target: &ProjectTarget,
    app: &shiyun_core::deploy::AppId,
    app_name: &str,
    job_name: &str,
    source: &BuildSource,
    image: &str,
    settings: &BuildSettings,
) -> Manifest {
    todo!("render helper")
}
