//! Shiyun's deployment platform: a tenant's projects become namespaces on
//! the clusters it is granted, and its applications run there from
//! immutable releases it can roll back to in one call; what runs is metered
//! into the billing engine.
//!
//! - [`model`]: application specs, project quotas, names and labels;
//! - [`render`]: the Kubernetes objects a project and a release become (pure);
//! - [`cluster`]: the narrow [`cluster::ClusterApi`] trait every cluster call goes through;
//! - [`kube`]: that trait over `kube::Client`, with the watch-fed status cache;
//! - [`fake`]: a stateful in-process API server, for tests, benchmarks and the demo;
//! - [`seal`]: cluster credentials and secrets encrypted at rest;
//! - [`engine`]: clusters, placements, deploys, scale, rollouts, rollbacks, builds;
//! - [`meter`]: vCPU and memory usage events per replica and minute.
//!
//! `kube` and `k8s-openapi` are used in this crate only. The crate enables
//! no Kubernetes version feature of `k8s-openapi`: the binary that embeds it
//! does (Shiyun's targets 1.33).

pub mod cluster;
pub mod engine;
pub mod fake;
pub mod kube;
pub mod meter;
pub mod model;
pub mod render;
pub mod seal;
