//! [`ClusterApi`] over `kube::Client`: server-side apply under the
//! platform's field manager, the scale subresource, rollout reads, label
//! deletes, logs and Jobs; and a watch-fed cache (reflectors of managed
//! Deployments and Pods, and of Events) that answers status reads without
//! an API call.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{AsyncReadExt, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, LimitRange, Namespace, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shiyun_core::deploy::AppId;
use tokio::task::AbortHandle;

use crate::cluster::{
    ClusterApi, ClusterError, EventLine, JobState, LiveStatus, LogOptions, LogStream, Manifest,
    PodStatus, RolloutProgress,
};
use crate::model::{APP_LABEL, FIELD_MANAGER, MANAGED_BY, RELEASE_LABEL};

/// Events kept per status answer.
const MAX_EVENTS: usize = 20;

/// One cluster, reached through a `kube::Client`.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    cache: Option<Arc<Cache>>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("cached", &self.cache.is_some())
            .field("synced", &self.synced())
            .finish()
    }
}

/// The reflector stores and the tasks that feed them (stopped with the last
/// handle).
struct Cache {
    deployments: Store<Deployment>,
    pods: Store<Pod>,
    events: Store<Event>,
    synced: [Arc<AtomicBool>; 3],
    tasks: Vec<AbortHandle>,
    /// Bumped after every change any store takes.
    generation: Arc<AtomicU64>,
    /// Every application's status by (namespace, app id), as of a
    /// generation: rebuilt once after changes, so a read is a lookup.
    index: Mutex<Option<(u64, Arc<StatusIndex>)>>,
}

/// Live statuses by (namespace, app id).
type StatusIndex = HashMap<(String, String), LiveStatus>;

impl Cache {
    /// The index as of now, rebuilt when a store changed since it was made.
    fn index(&self) -> Arc<StatusIndex> {
        let generation = self.generation.load(Ordering::Acquire);
        let mut slot = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((built, index)) = slot.as_ref()
            && *built == generation
        {
            return index.clone();
        }
        // Changes landing during the rebuild bump the generation again, so
        // the next read rebuilds: an index is never newer than its number.
        let index = Arc::new(self.build_index());
        *slot = Some((generation, index.clone()));
        index
    }

    fn build_index(&self) -> StatusIndex {
        let mut index = StatusIndex::new();
        // (namespace, Deployment name) → the application's key, for events.
        let mut owners: HashMap<(String, String), (String, String)> = HashMap::new();
        for deployment in self.deployments.state() {
            let Some(key) = app_key(&deployment.metadata) else {
                continue;
            };
            let name = deployment.metadata.name.clone().unwrap_or_default();
            let current = deployment.status.clone().unwrap_or_default();
            let status = LiveStatus {
                synced: false,
                found: true,
                desired: deployment
                    .spec
                    .as_ref()
                    .and_then(|s| s.replicas)
                    .unwrap_or(1),
                ready: current.ready_replicas.unwrap_or(0),
                updated: current.updated_replicas.unwrap_or(0),
                available: current.available_replicas.unwrap_or(0),
                release: deployment
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(RELEASE_LABEL).cloned()),
                pods: Vec::new(),
                events: Vec::new(),
            };
            owners.insert((key.0.clone(), name), key.clone());
            index.insert(key, status);
        }
        for pod in self.pods.state() {
            if let Some(status) = app_key(&pod.metadata).and_then(|key| index.get_mut(&key)) {
                status.pods.push(pod_status(&pod));
            }
        }
        let mut events: HashMap<(String, String), Vec<Arc<Event>>> = HashMap::new();
        for event in self.events.state() {
            let involved = &event.involved_object;
            let (Some(namespace), Some(name)) = (
                event.metadata.namespace.as_deref(),
                involved.name.as_deref(),
            ) else {
                continue;
            };
            // A ReplicaSet is `<deployment>-<hash>`, a pod `<deployment>-<hash>-<id>`.
            let deployment = match involved.kind.as_deref() {
                Some("Deployment") => Some(name),
                Some("ReplicaSet") => name.rsplit_once('-').map(|(d, _)| d),
                Some("Pod") => name
                    .rsplit_once('-')
                    .and_then(|(rs, _)| rs.rsplit_once('-'))
                    .map(|(d, _)| d),
                _ => None,
            };
            if let Some(key) =
                deployment.and_then(|d| owners.get(&(namespace.to_owned(), d.to_owned())))
            {
                events.entry(key.clone()).or_default().push(event);
            }
        }
        for (key, mut list) in events {
            let Some(status) = index.get_mut(&key) else {
                continue;
            };
            list.sort_by_key(|e| std::cmp::Reverse(event_order(e)));
            status.events = list
                .iter()
                .take(MAX_EVENTS)
                .map(|e| event_line(e))
                .collect();
        }
        for status in index.values_mut() {
            status.pods.sort_by(|a, b| a.name.cmp(&b.name));
        }
        index
    }
}

/// (namespace, app id) of an object carrying the application label.
fn app_key(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<(String, String)> {
    let app = meta.labels.as_ref()?.get(APP_LABEL)?;
    Some((meta.namespace.clone()?, app.clone()))
}

/// Newest first: the event's time, then its resourceVersion.
fn event_order(event: &Event) -> (Option<chrono::DateTime<chrono::Utc>>, u64) {
    let version = event
        .metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    (event_time(event), version)
}

fn event_line(event: &Event) -> EventLine {
    EventLine {
        at: event_time(event),
        kind: event.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: event.reason.clone().unwrap_or_default(),
        message: event.message.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            event.involved_object.kind.as_deref().unwrap_or_default(),
            event.involved_object.name.as_deref().unwrap_or_default()
        ),
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Spawns a reflector of `api` (with a label selector or none) into a store.
fn spawn_reflector<K>(
    api: Api<K>,
    labels: Option<String>,
    synced: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
) -> (Store<K>, AbortHandle)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let mut config = watcher::Config::default();
    if let Some(labels) = labels {
        config = config.labels(&labels);
    }
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            // The reflector has written the change to the store by now.
            generation.fetch_add(1, Ordering::AcqRel);
            match event {
                Ok(watcher::Event::InitDone) => synced.store(true, Ordering::Release),
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, "cluster cache watch error (retrying)"),
            }
        }
    });
    (reader, task.abort_handle())
}

/// Maps a kube error for `what` (`apply Deployment shop/web`).
fn cluster_error(what: impl Into<String>, error: kube::Error) -> ClusterError {
    let what = what.into();
    match error {
        kube::Error::Api(status) if status.code == 404 => ClusterError::NotFound(what),
        kube::Error::Api(status) => ClusterError::Api {
            what,
            code: status.code,
            message: if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            },
        },
        other => ClusterError::Unreachable(format!("{what}: {other}")),
    }
}

fn config_error(error: impl std::fmt::Display) -> ClusterError {
    ClusterError::Config(error.to_string())
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

fn labelled(selector: &str) -> ListParams {
    ListParams::default().labels(selector)
}

impl KubeCluster {
    /// A cluster over `client`, with its status cache: reflectors of the
    /// platform's Deployments and Pods and of all Events, spawned on the
    /// current tokio runtime (stopped when the last clone is dropped).
    pub fn new(client: Client) -> KubeCluster {
        let synced = [
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        ];
        let managed = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
        let generation = Arc::new(AtomicU64::new(0));
        let (deployments, t1) = spawn_reflector(
            Api::<Deployment>::all(client.clone()),
            Some(managed.clone()),
            synced[0].clone(),
            generation.clone(),
        );
        let (pods, t2) = spawn_reflector(
            Api::<Pod>::all(client.clone()),
            Some(managed),
            synced[1].clone(),
            generation.clone(),
        );
        let (events, t3) = spawn_reflector(
            Api::<Event>::all(client.clone()),
            None,
            synced[2].clone(),
            generation.clone(),
        );
        KubeCluster {
            client,
            cache: Some(Arc::new(Cache {
                deployments,
                pods,
                events,
                synced,
                tasks: vec![t1, t2, t3],
                generation,
                index: Mutex::new(None),
            })),
        }
    }

    /// A cluster without the status cache, for one-shot calls (a connection
    /// check, a tool): [`ClusterApi::status`] answers unsynced and empty.
    pub fn without_cache(client: Client) -> KubeCluster {
        KubeCluster {
            client,
            cache: None,
        }
    }

    /// A cluster from kubeconfig text (its current context).
    pub async fn connect_kubeconfig(yaml: &str) -> Result<KubeCluster, ClusterError> {
        let kubeconfig = Kubeconfig::from_yaml(yaml).map_err(config_error)?;
        Self::from_kubeconfig(kubeconfig).await
    }

    /// A cluster from its API URL and a bearer token, trusting `ca_pem`
    /// (PEM certificates) when given, else the system's roots.
    pub async fn connect_token(
        api_url: &str,
        token: &str,
        ca_pem: Option<&str>,
    ) -> Result<KubeCluster, ClusterError> {
        use base64::Engine as _;
        let uri: http::Uri = api_url.parse().map_err(config_error)?;
        if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.host().is_none() {
            return Err(ClusterError::Config(format!(
                "{api_url:?} is not an http(s) URL"
            )));
        }
        let mut cluster = serde_json::json!({ "server": api_url });
        if let Some(pem) = ca_pem {
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ClusterError::Config(
                    "the CA is not a PEM certificate".into(),
                ));
            }
            cluster["certificate-authority-data"] =
                serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(pem));
        }
        let kubeconfig: Kubeconfig = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "cluster", "cluster": cluster }],
            "users": [{ "name": "shiyun", "user": { "token": token } }],
            "contexts": [{ "name": "shiyun", "context": { "cluster": "cluster", "user": "shiyun" } }],
            "current-context": "shiyun",
        }))
        .map_err(config_error)?;
        Self::from_kubeconfig(kubeconfig).await
    }

    async fn from_kubeconfig(kubeconfig: Kubeconfig) -> Result<KubeCluster, ClusterError> {
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(config_error)?;
        // The client puts the token in a header as it is built, and panics
        // on one that cannot be a header value: refuse it here instead.
        if let Some(token) = &config.auth_info.token {
            use secrecy::ExposeSecret as _;
            let token = token.expose_secret();
            if token.trim().is_empty()
                || http::HeaderValue::from_str(&format!("Bearer {token}")).is_err()
            {
                return Err(ClusterError::Config(
                    "the token is not a bearer token (visible ASCII, no line breaks)".into(),
                ));
            }
        }
        let client = Client::try_from(config).map_err(config_error)?;
        Ok(KubeCluster::new(client))
    }

    /// The client calls go through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether every store of the cache has had its initial list.
    pub fn synced(&self) -> bool {
        self.cache
            .as_ref()
            .is_some_and(|c| c.synced.iter().all(|s| s.load(Ordering::Acquire)))
    }

    /// Waits until the cache is synced; false when `timeout` passes first
    /// (or there is no cache).
    pub async fn wait_synced(&self, timeout: Duration) -> bool {
        if self.cache.is_none() {
            return false;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            if self.synced() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(
                pause.min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            )
            .await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    async fn apply_namespaced<K>(&self, object: &K) -> Result<(), ClusterError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        let what = format!(
            "apply {} {}/{}",
            K::kind(&()),
            object.meta().namespace.as_deref().unwrap_or(""),
            name
        );
        let Some(namespace) = object.meta().namespace.as_deref() else {
            return Err(ClusterError::Api {
                what,
                code: 400,
                message: "the object has no namespace".into(),
            });
        };
        let api = Api::<K>::namespaced(self.client.clone(), namespace);
        api.patch(&name, &apply_params(), &Patch::Apply(object))
            .await
            .map(|_| ())
            .map_err(|e| cluster_error(what, e))
    }

    async fn delete_one<K>(&self, namespace: &str, name: &str) -> Result<bool, ClusterError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let what = format!("delete {} {namespace}/{name}", K::kind(&()));
        match Api::<K>::namespaced(self.client.clone(), namespace)
            .delete(name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(e) => Err(cluster_error(what, e)),
        }
    }

    async fn delete_selected<K>(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<usize, ClusterError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let what = format!("delete {} in {namespace} matching {selector}", K::kind(&()));
        let api = Api::<K>::namespaced(self.client.clone(), namespace);
        let listed = api
            .list(&labelled(selector))
            .await
            .map_err(|e| cluster_error(what.clone(), e))?;
        if listed.items.is_empty() {
            return Ok(0);
        }
        match api
            .delete_collection(&DeleteParams::background(), &labelled(selector))
            .await
        {
            Ok(either) => Ok(either
                .map_left(|list| list.items.len())
                .left_or(listed.items.len())),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(0),
            Err(e) => Err(cluster_error(what, e)),
        }
    }
}

fn pod_status(pod: &Pod) -> PodStatus {
    let status = pod.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    PodStatus {
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into()),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        restarts: containers.iter().map(|c| c.restart_count).sum(),
        release: pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(RELEASE_LABEL).cloned()),
        image_id: containers
            .first()
            .map(|c| c.image_id.clone())
            .filter(|id| !id.is_empty()),
    }
}

fn event_time(event: &Event) -> Option<chrono::DateTime<chrono::Utc>> {
    let micro = event.event_time.as_ref().map(|t| t.0);
    let stamp = event
        .last_timestamp
        .as_ref()
        .or(event.first_timestamp.as_ref())
        .or(event.metadata.creation_timestamp.as_ref())
        .map(|t| t.0);
    micro.or(stamp).and_then(|t| {
        chrono::DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
    })
}

#[async_trait]
impl ClusterApi for KubeCluster {
    async fn apply(&self, manifest: &Manifest) -> Result<(), ClusterError> {
        match manifest {
            Manifest::Namespace(ns) => {
                let name = ns.metadata.name.clone().unwrap_or_default();
                Api::<Namespace>::all(self.client.clone())
                    .patch(&name, &apply_params(), &Patch::Apply(ns))
                    .await
                    .map(|_| ())
                    .map_err(|e| cluster_error(format!("apply Namespace {name}"), e))
            }
            Manifest::ResourceQuota(o) => self.apply_namespaced::<ResourceQuota>(o).await,
            Manifest::LimitRange(o) => self.apply_namespaced::<LimitRange>(o).await,
            Manifest::NetworkPolicy(o) => self.apply_namespaced::<NetworkPolicy>(o).await,
            Manifest::ConfigMap(o) => self.apply_namespaced::<ConfigMap>(o).await,
            Manifest::Secret(o) => self.apply_namespaced::<Secret>(o).await,
            Manifest::Deployment(o) => self.apply_namespaced::<Deployment>(o).await,
            Manifest::Service(o) => self.apply_namespaced::<Service>(o).await,
            Manifest::Ingress(o) => self.apply_namespaced::<Ingress>(o).await,
            Manifest::HorizontalPodAutoscaler(o) => {
                self.apply_namespaced::<HorizontalPodAutoscaler>(o).await
            }
            Manifest::Job(o) => self.apply_namespaced::<Job>(o).await,
        }
    }

    async fn scale(
        &self,
        namespace: &str,
        deployment: &str,
        replicas: i32,
    ) -> Result<(), ClusterError> {
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let patch = serde_json::json!({ "spec": { "replicas": replicas } });
        Api::<Deployment>::namespaced(self.client.clone(), namespace)
            .patch_scale(deployment, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| cluster_error(format!("scale Deployment {namespace}/{deployment}"), e))
    }

    async fn rollout(
        &self,
        namespace: &str,
        deployment: &str,
    ) -> Result<Option<RolloutProgress>, ClusterError> {
        let found = Api::<Deployment>::namespaced(self.client.clone(), namespace)
            .get_opt(deployment)
            .await
            .map_err(|e| cluster_error(format!("read Deployment {namespace}/{deployment}"), e))?;
        Ok(found.map(|d| {
            let status = d.status.unwrap_or_default();
            RolloutProgress {
                generation: d.metadata.generation.unwrap_or(0),
                observed_generation: status.observed_generation.unwrap_or(0),
                desired: d.spec.and_then(|s| s.replicas).unwrap_or(1),
                updated: status.updated_replicas.unwrap_or(0),
                ready: status.ready_replicas.unwrap_or(0),
                available: status.available_replicas.unwrap_or(0),
                total: status.replicas.unwrap_or(0),
                deadline_exceeded: status.conditions.unwrap_or_default().iter().any(|c| {
                    c.type_ == "Progressing"
                        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
                }),
            }
        }))
    }

    async fn delete_labelled(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<usize, ClusterError> {
        let mut count = 0;
        count += self.delete_selected::<Ingress>(namespace, selector).await?;
        count += self
            .delete_selected::<HorizontalPodAutoscaler>(namespace, selector)
            .await?;
        count += self.delete_selected::<Service>(namespace, selector).await?;
        count += self
            .delete_selected::<Deployment>(namespace, selector)
            .await?;
        count += self.delete_selected::<Job>(namespace, selector).await?;
        count += self
            .delete_selected::<ConfigMap>(namespace, selector)
            .await?;
        count += self.delete_selected::<Secret>(namespace, selector).await?;
        Ok(count)
    }

    async fn delete(&self, kind: &str, namespace: &str, name: &str) -> Result<bool, ClusterError> {
        match kind {
            "ConfigMap" => self.delete_one::<ConfigMap>(namespace, name).await,
            "Secret" => self.delete_one::<Secret>(namespace, name).await,
            "Service" => self.delete_one::<Service>(namespace, name).await,
            "Deployment" => self.delete_one::<Deployment>(namespace, name).await,
            "Ingress" => self.delete_one::<Ingress>(namespace, name).await,
            "HorizontalPodAutoscaler" => {
                self.delete_one::<HorizontalPodAutoscaler>(namespace, name)
                    .await
            }
            "Job" => self.delete_one::<Job>(namespace, name).await,
            "NetworkPolicy" => self.delete_one::<NetworkPolicy>(namespace, name).await,
            "ResourceQuota" => self.delete_one::<ResourceQuota>(namespace, name).await,
            "LimitRange" => self.delete_one::<LimitRange>(namespace, name).await,
            other => Err(ClusterError::Api {
                what: format!("delete {other} {namespace}/{name}"),
                code: 400,
                message: format!("{other} is not a kind the platform renders"),
            }),
        }
    }

    async fn delete_namespace(&self, namespace: &str) -> Result<(), ClusterError> {
        match Api::<Namespace>::all(self.client.clone())
            .delete(namespace, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(cluster_error(format!("delete Namespace {namespace}"), e)),
        }
    }

    fn status(&self, namespace: &str, app: &AppId) -> LiveStatus {
        let Some(cache) = &self.cache else {
            return LiveStatus::default();
        };
        let mut status = cache
            .index()
            .get(&(namespace.to_owned(), app.as_str().to_owned()))
            .cloned()
            .unwrap_or_default();
        status.synced = self.synced();
        status
    }

    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<LogStream, ClusterError> {
        let params = LogParams {
            container: options.container.clone(),
            follow: options.follow,
            previous: options.previous,
            tail_lines: options.tail_lines,
            ..LogParams::default()
        };
        let what = format!("logs of Pod {namespace}/{pod}");
        let reader = Api::<Pod>::namespaced(self.client.clone(), namespace)
            .log_stream(pod, &params)
            .await
            .map_err(|e| cluster_error(what.clone(), e))?;
        let reader = Box::pin(reader);
        let stream = futures::stream::unfold(Some(reader), move |reader| {
            let what = what.clone();
            async move {
                let mut reader = reader?;
                let mut buffer = vec![0u8; 16 * 1024];
                match reader.read(&mut buffer).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buffer.truncate(n);
                        Some((Ok(Bytes::from(buffer)), Some(reader)))
                    }
                    Err(e) => Some((Err(ClusterError::Unreachable(format!("{what}: {e}"))), None)),
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn job(&self, namespace: &str, name: &str) -> Result<Option<JobState>, ClusterError> {
        let found = Api::<Job>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(|e| cluster_error(format!("read Job {namespace}/{name}"), e))?;
        Ok(found.map(|job| {
            let status = job.status.unwrap_or_default();
            let condition = |kind: &str| {
                status
                    .conditions
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.status == "True"))
            };
            if condition("Failed") {
                JobState::Failed
            } else if condition("Complete") || status.succeeded.unwrap_or(0) > 0 {
                JobState::Succeeded
            } else {
                JobState::Running
            }
        }))
    }

    async fn job_pods(&self, namespace: &str, name: &str) -> Result<Vec<String>, ClusterError> {
        let pods = Api::<Pod>::namespaced(self.client.clone(), namespace)
            .list(&labelled(&format!("job-name={name}")))
            .await
            .map_err(|e| cluster_error(format!("list pods of Job {namespace}/{name}"), e))?;
        let mut names: Vec<String> = pods
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        names.sort();
        Ok(names)
    }
}
