//! A stateful in-process Kubernetes API server, for tests, benchmarks and
//! the demo: `kube::Client::new(fake.clone(), "default")` talks to it as to
//! a real cluster.
//!
//! It is an approximation, documented here once:
//!
//! - Objects live in memory, keyed by resource (group, version, plural),
//!   namespace and name, with a global `resourceVersion` counter, a `uid`,
//!   a `generation` (bumped when `spec` changes) and a `creationTimestamp`.
//!   A write that changes nothing keeps the resourceVersion.
//! - GET, LIST (namespaced and across namespaces, `labelSelector` with
//!   `=`, `==`, `!=`, existence, `!key`, `in` and `notin`; `fieldSelector`
//!   on any dotted path such as `metadata.name`), WATCH, POST, PUT (with a
//!   resourceVersion precondition), PATCH, DELETE and DELETE collection.
//!   `limit` is ignored: a list is one page.
//! - Server-side apply (`application/apply-patch+yaml`, the body must be
//!   JSON) requires `fieldManager`; it creates a missing object and otherwise
//!   merges: maps merge recursively, lists and scalars replace, an explicit
//!   null deletes a key. Without `force=true` an apply by a manager other
//!   than the one recorded in `managedFields` is a 409 conflict. Merge and
//!   strategic-merge patches use the same merge; JSON patches answer 415.
//!   `status` is never written through the main resource.
//! - Watches: `http::Response` bodies here are whole (the transport has no
//!   streaming body type), so a watch is answered as soon as there are
//!   events after the given resourceVersion (or when `timeoutSeconds`
//!   pass), with a trailing BOOKMARK when bookmarks are allowed; the
//!   watch then ends, as a real one does at its timeout, and
//!   `kube::runtime::watcher` resumes from the last resourceVersion. A
//!   resourceVersion older than the bounded history gets the real server's
//!   answer: an `ERROR` event with a 410 `Expired` Status.
//! - Following a log (`follow=true`) returns the lines present and those
//!   appended within the follow window ([`FakeApiServer::set_follow_window`]).
//! - Deleting a Namespace deletes everything in it at once (no
//!   `Terminating` phase); deleting a Deployment or Job deletes its pods
//!   (unless `propagationPolicy=Orphan`).
//! - A rollout simulator ([`Rollouts`]) plays the Deployment and Job
//!   controllers and the kubelet: status, pods, events and logs.
//! - Errors are `Status` objects with `code`, `reason` and `message`;
//!   nothing panics on bad input.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use http::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// How the simulated controllers treat a Deployment change and a new Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollouts {
    /// Every rollout completes at once; Jobs succeed.
    Complete,
    /// Rollouts observe the new generation but never progress; Jobs run forever.
    Stall,
    /// Like `Stall`, with the `Progressing` condition at
    /// `ProgressDeadlineExceeded`.
    DeadlineExceeded,
}

/// One request the server answered, for tests that check what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `PATCH`, …
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The raw query string (empty when none).
    pub query: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
}

/// One resource the server knows.
struct Res {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
}

impl Res {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const fn res(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Res {
    Res {
        group,
        version,
        plural,
        kind,
        namespaced,
    }
}

const RESOURCES: &[Res] = &[
    res("", "v1", "namespaces", "Namespace", false),
    res("", "v1", "configmaps", "ConfigMap", true),
    res("", "v1", "secrets", "Secret", true),
    res("", "v1", "services", "Service", true),
    res("", "v1", "pods", "Pod", true),
    res("", "v1", "events", "Event", true),
    res("", "v1", "resourcequotas", "ResourceQuota", true),
    res("", "v1", "limitranges", "LimitRange", true),
    res("apps", "v1", "deployments", "Deployment", true),
    res("apps", "v1", "replicasets", "ReplicaSet", true),
    res("networking.k8s.io", "v1", "ingresses", "Ingress", true),
    res(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
    ),
    res(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
    ),
    res("batch", "v1", "jobs", "Job", true),
];

const NAMESPACES: usize = 0;
const PODS: usize = 4;
const EVENTS: usize = 5;
const DEPLOYMENTS: usize = 8;
const JOBS: usize = 13;

fn res_index(kind_or_plural: &str) -> Option<usize> {
    RESOURCES.iter().position(|r| {
        r.kind.eq_ignore_ascii_case(kind_or_plural) || r.plural.eq_ignore_ascii_case(kind_or_plural)
    })
}

type Key = (usize, String, String);

#[derive(Clone, Copy, PartialEq, Eq)]
enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

struct Change {
    rv: u64,
    res: usize,
    namespace: String,
    kind: ChangeType,
    object: Arc<Value>,
}

struct State {
    rv: u64,
    serial: u64,
    objects: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Change>,
    history_limit: usize,
    /// The newest resourceVersion dropped from the history: a watch from
    /// before it is answered 410.
    compacted: u64,
    requests: VecDeque<RecordedRequest>,
    rollouts: Rollouts,
    fail_jobs: bool,
    logs: HashMap<(String, String), Vec<String>>,
    follow_window: Duration,
}

struct Inner {
    state: Mutex<State>,
    changes: watch::Sender<u64>,
    log_changes: watch::Sender<u64>,
}

/// The in-process API server. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct FakeApiServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer").finish_non_exhaustive()
    }
}

impl Default for FakeApiServer {
    fn default() -> Self {
        Self::new()
    }
}

const MAX_REQUESTS: usize = 100_000;

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn short_hash(text: &str, len: usize) -> String {
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    digest[..len.min(digest.len())].to_owned()
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// An error answer as a real API server writes it.
struct ApiError {
    code: u16,
    reason: &'static str,
    message: String,
}

fn err(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        code,
        reason,
        message: message.into(),
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    err(400, "BadRequest", message)
}

fn not_found(res: &Res, name: &str) -> ApiError {
    let what = if res.group.is_empty() {
        res.plural.to_owned()
    } else {
        format!("{}.{}", res.plural, res.group)
    };
    err(404, "NotFound", format!("{what} \"{name}\" not found"))
}

fn status_body(e: &ApiError) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": e.message,
        "reason": e.reason,
        "code": e.code,
    })
}

type Reply = Result<(u16, Bytes, &'static str), ApiError>;

fn json_reply(code: u16, value: &Value) -> Reply {
    Ok((code, Bytes::from(value.to_string()), "application/json"))
}

/// A label or field selector requirement.
enum Req {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

fn valid_selector_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 317
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_selector(text: &str, field: bool) -> Result<Vec<Req>, ApiError> {
    let mut reqs = Vec::new();
    let what = if field { "field" } else { "label" };
    for part in split_top_level(text) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let invalid = || {
            bad_request(format!(
                "unable to parse requirement: invalid {what} selector `{part}`"
            ))
        };
        let valid_value = |v: &str| {
            field
                || (v.len() <= 63
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        };
        let req = if let Some((key, value)) = part.split_once("!=") {
            Req::Ne(key.trim().to_owned(), value.trim().to_owned())
        } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Req::Eq(key.trim().to_owned(), value.trim().to_owned())
        } else if let Some((key, set)) = part.split_once(" notin ") {
            Req::NotIn(key.trim().to_owned(), parse_set(set).ok_or_else(invalid)?)
        } else if let Some((key, set)) = part.split_once(" in ") {
            Req::In(key.trim().to_owned(), parse_set(set).ok_or_else(invalid)?)
        } else if field {
            return Err(invalid());
        } else if let Some(key) = part.strip_prefix('!') {
            Req::NotExists(key.trim().to_owned())
        } else {
            Req::Exists(part.to_owned())
        };
        let key = match &req {
            Req::Eq(k, _) | Req::Ne(k, _) | Req::Exists(k) | Req::NotExists(k) => k,
            Req::In(k, _) | Req::NotIn(k, _) => k,
        };
        let values_ok = match &req {
            Req::Eq(_, v) | Req::Ne(_, v) => valid_value(v),
            Req::In(_, set) | Req::NotIn(_, set) => set.iter().all(|v| valid_value(v)),
            _ => true,
        };
        if !valid_selector_key(key) || !values_ok {
            return Err(invalid());
        }
        reqs.push(req);
    }
    Ok(reqs)
}

fn parse_set(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

fn matches(reqs: &[Req], lookup: impl Fn(&str) -> Option<String>) -> bool {
    reqs.iter().all(|req| match req {
        Req::Eq(k, v) => lookup(k).as_deref() == Some(v.as_str()),
        Req::Ne(k, v) => lookup(k).as_deref() != Some(v.as_str()),
        Req::Exists(k) => lookup(k).is_some(),
        Req::NotExists(k) => lookup(k).is_none(),
        Req::In(k, set) => lookup(k).is_some_and(|v| set.contains(&v)),
        Req::NotIn(k, set) => lookup(k).is_none_or(|v| !set.contains(&v)),
    })
}

struct Filter {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

impl Filter {
    fn accepts(&self, object: &Value) -> bool {
        matches(&self.labels, |key| {
            object
                .get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) && matches(&self.fields, |key| {
            let path: Vec<&str> = key.split('.').collect();
            path.iter()
                .try_fold(object, |v, k| v.get(k))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
        })
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

fn truthy(query: &HashMap<String, String>, key: &str) -> bool {
    query
        .get(key)
        .is_some_and(|v| v == "true" || v == "1" || v.is_empty())
}

/// JSON merge: maps merge recursively, everything else replaces, null deletes.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (key, value) in p {
                if value.is_null() {
                    t.remove(key);
                } else if let Some(existing) = t.get_mut(key)
                    && existing.is_object()
                    && value.is_object()
                {
                    merge(existing, value);
                } else {
                    let mut fresh = Value::Object(Map::new());
                    merge(&mut fresh, value);
                    t.insert(
                        key.clone(),
                        if value.is_object() {
                            fresh
                        } else {
                            value.clone()
                        },
                    );
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Which path a request names.
struct Target {
    res: usize,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] => (Some(*ns), {
            let mut v = vec![*plural];
            v.extend_from_slice(tail);
            v
        }),
        other => (None, other.to_vec()),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
        _ => return None,
    };
    let res = RESOURCES
        .iter()
        .position(|r| r.group == group && r.version == version && r.plural == plural)?;
    if namespace.is_some() && !RESOURCES[res].namespaced {
        return None;
    }
    Some(Target {
        res,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        sub: sub.map(str::to_owned),
    })
}

impl State {
    fn record(&mut self, res: usize, namespace: &str, kind: ChangeType, object: Arc<Value>) {
        self.history.push_back(Change {
            rv: self.rv,
            res,
            namespace: namespace.to_owned(),
            kind,
            object,
        });
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    fn namespace_exists(&self, namespace: &str) -> bool {
        self.objects
            .contains_key(&(NAMESPACES, String::new(), namespace.to_owned()))
    }

    /// Stores `object` (new or changed) under a fresh resourceVersion.
    fn store(&mut self, res: usize, namespace: &str, name: &str, mut object: Value) -> Arc<Value> {
        let key = (res, namespace.to_owned(), name.to_owned());
        let previous = self.objects.get(&key).cloned();
        self.rv += 1;
        self.serial += 1;
        let r = &RESOURCES[res];
        if let Value::Object(map) = &mut object {
            map.insert("apiVersion".into(), Value::String(r.api_version()));
            map.insert("kind".into(), Value::String(r.kind.into()));
        }
        let meta = object
            .as_object_mut()
            .map(|m| m.entry("metadata").or_insert_with(|| json!({})));
        if let Some(Value::Object(meta)) = meta {
            meta.insert("name".into(), Value::String(name.to_owned()));
            if r.namespaced {
                meta.insert("namespace".into(), Value::String(namespace.to_owned()));
            } else {
                meta.remove("namespace");
            }
            meta.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
            match &previous {
                Some(old) => {
                    for field in ["uid", "creationTimestamp"] {
                        if let Some(v) = old.get("metadata").and_then(|m| m.get(field)) {
                            meta.insert(field.into(), v.clone());
                        }
                    }
                    let old_gen = old
                        .get("metadata")
                        .and_then(|m| m.get("generation"))
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    meta.insert("generation".into(), json!(old_gen));
                }
                None => {
                    meta.insert(
                        "uid".into(),
                        Value::String(format!(
                            "{}-{}-4{}-8{}-{:012x}",
                            short_hash(name, 8),
                            short_hash(namespace, 4),
                            short_hash(r.kind, 3),
                            short_hash(&self.serial.to_string(), 3),
                            self.serial
                        )),
                    );
                    meta.insert("creationTimestamp".into(), Value::String(now()));
                    meta.insert("generation".into(), json!(1));
                }
            }
        }
        // Generation follows the spec.
        if let Some(old) = &previous
            && old.get("spec") != object.get("spec")
            && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
        {
            let next = meta.get("generation").and_then(Value::as_i64).unwrap_or(1) + 1;
            meta.insert("generation".into(), json!(next));
        }
        let object = Arc::new(object);
        self.objects.insert(key, object.clone());
        let kind = if previous.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.record(res, namespace, kind, object.clone());
        object
    }

    fn remove(&mut self, res: usize, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let object = self
            .objects
            .remove(&(res, namespace.to_owned(), name.to_owned()))?;
        self.rv += 1;
        let mut gone = (*object).clone();
        if let Some(meta) = gone.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        }
        let gone = Arc::new(gone);
        self.record(res, namespace, ChangeType::Deleted, gone.clone());
        if res == PODS {
            self.logs.remove(&(namespace.to_owned(), name.to_owned()));
        }
        Some(gone)
    }

    /// Deletes an object and what the garbage collector would delete with it.
    fn delete_cascading(
        &mut self,
        res: usize,
        namespace: &str,
        name: &str,
        orphan: bool,
    ) -> Option<Arc<Value>> {
        let gone = self.remove(res, namespace, name)?;
        if orphan {
            return Some(gone);
        }
        match res {
            NAMESPACES => {
                let doomed: Vec<Key> = self
                    .objects
                    .keys()
                    .filter(|(_, ns, _)| ns == name)
                    .cloned()
                    .collect();
                for (r, ns, n) in doomed {
                    self.remove(r, &ns, &n);
                }
            }
            DEPLOYMENTS | JOBS => {
                for pod in self.owned_pods(res, namespace, name) {
                    self.remove(PODS, namespace, &pod);
                }
            }
            _ => {}
        }
        Some(gone)
    }

    /// The pods the simulated controllers made for a Deployment or Job.
    fn owned_pods(&self, res: usize, namespace: &str, owner: &str) -> Vec<String> {
        let start = (PODS, namespace.to_owned(), String::new());
        self.objects
            .range(start..)
            .take_while(|((r, ns, _), _)| *r == PODS && ns == namespace)
            .filter(|(_, pod)| {
                let Some(reference) = pod
                    .get("metadata")
                    .and_then(|m| m.get("ownerReferences"))
                    .and_then(|o| o.get(0))
                else {
                    return false;
                };
                let kind = str_at(reference, &["kind"]).unwrap_or_default();
                let ref_name = str_at(reference, &["name"]).unwrap_or_default();
                if res == JOBS {
                    kind == "Job" && ref_name == owner
                } else {
                    kind == "ReplicaSet"
                        && ref_name
                            .strip_prefix(owner)
                            .and_then(|rest| rest.strip_prefix('-'))
                            .is_some_and(|hash| {
                                hash.len() == 10 && hash.bytes().all(|b| b.is_ascii_hexdigit())
                            })
                }
            })
            .map(|((_, _, name), _)| name.clone())
            .collect()
    }
}

fn labels_of(object: &Value) -> Map<String, Value> {
    object
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn image_id(image: &str) -> String {
    format!(
        "docker-pullable://{image}@sha256:{}",
        hex::encode(Sha256::digest(image.as_bytes()))
    )
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    let at = now();
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": at,
        "lastUpdateTime": at,
    })
}

/// How a simulated pod ends up.
#[derive(Clone, Copy)]
enum PodPhase {
    Running,
    Succeeded,
    Failed,
}

impl State {
    fn get_obj(&self, res: usize, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(&(res, namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    fn emit_event(
        &mut self,
        namespace: &str,
        involved: &Value,
        reason: &str,
        message: &str,
        warning: bool,
    ) {
        let kind = str_at(involved, &["kind"]).unwrap_or_default().to_owned();
        let name = str_at(involved, &["metadata", "name"])
            .unwrap_or_default()
            .to_owned();
        let at = now();
        let event = json!({
            "metadata": {},
            "involvedObject": {
                "kind": kind,
                "apiVersion": str_at(involved, &["apiVersion"]).unwrap_or_default(),
                "namespace": namespace,
                "name": name,
                "uid": str_at(involved, &["metadata", "uid"]).unwrap_or_default(),
            },
            "reason": reason,
            "message": message,
            "type": if warning { "Warning" } else { "Normal" },
            "source": {"component": if kind == "Job" { "job-controller" } else { "deployment-controller" }},
            "reportingComponent": if kind == "Job" { "job-controller" } else { "deployment-controller" },
            "firstTimestamp": at,
            "lastTimestamp": at,
            "count": 1,
        });
        let event_name = format!(
            "{name}.{:016x}",
            self.serial.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        self.store(EVENTS, namespace, &event_name, event);
    }

    /// Makes one pod of a template, as the kubelet would run it.
    fn make_pod(
        &mut self,
        namespace: &str,
        pod: &str,
        template: &Value,
        owner: Value,
        extra_labels: &[(&str, String)],
        phase: PodPhase,
    ) {
        let mut labels = labels_of(template);
        for (k, v) in extra_labels {
            labels.insert((*k).to_owned(), Value::String(v.clone()));
        }
        let spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        let at = now();
        let ready = matches!(phase, PodPhase::Running);
        let mut lines = Vec::new();
        let statuses: Vec<Value> = spec
            .get("containers")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let name = str_at(c, &["name"]).unwrap_or("main");
                let image = str_at(c, &["image"]).unwrap_or("unknown");
                lines.push(format!("{pod}: container {name} started from image {image}"));
                let state = match phase {
                    PodPhase::Running => json!({"running": {"startedAt": at}}),
                    PodPhase::Succeeded => json!({"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": at}}),
                    PodPhase::Failed => json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": at}}),
                };
                json!({
                    "name": name,
                    "image": image,
                    "imageID": image_id(image),
                    "ready": ready,
                    "started": ready,
                    "restartCount": 0,
                    "state": state,
                })
            })
            .collect();
        lines.push(match phase {
            PodPhase::Running => format!("{pod}: ready"),
            PodPhase::Succeeded => format!("{pod}: finished successfully"),
            PodPhase::Failed => format!("{pod}: failed with exit code 1"),
        });
        let phase_name = match phase {
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
        };
        let object = json!({
            "metadata": {"labels": labels, "ownerReferences": [owner]},
            "spec": spec,
            "status": {
                "phase": phase_name,
                "conditions": [condition("Ready", ready, if ready { "" } else { "PodCompleted" }, "")],
                "containerStatuses": statuses,
                "startTime": at,
                "podIP": format!("10.0.{}.{}", (self.serial / 250) % 250, self.serial % 250 + 1),
            },
        });
        self.store(PODS, namespace, pod, object);
        self.logs
            .insert((namespace.to_owned(), pod.to_owned()), lines);
    }

    /// The Deployment controller and the kubelet, after a Deployment changed.
    fn simulate_deployment(&mut self, namespace: &str, name: &str) {
        let Some(deployment) = self.get_obj(DEPLOYMENTS, namespace, name) else {
            return;
        };
        let generation = deployment
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let replicas = deployment
            .get("spec")
            .and_then(|s| s.get("replicas"))
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .clamp(0, 10_000);
        let template = deployment
            .get("spec")
            .and_then(|s| s.get("template"))
            .cloned()
            .unwrap_or_else(|| json!({}));
        let hash = short_hash(&template.to_string(), 10);
        let replica_set = format!("{name}-{hash}");
        let old_status = deployment
            .get("status")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let status = match self.rollouts {
            Rollouts::Complete => {
                let pods = self.owned_pods(DEPLOYMENTS, namespace, name);
                let prefix = format!("{replica_set}-");
                let mut old_sets: BTreeMap<String, usize> = BTreeMap::new();
                let mut current = 0usize;
                for pod in &pods {
                    let index = pod
                        .strip_prefix(&prefix)
                        .and_then(|i| i.parse::<i64>().ok());
                    match index {
                        Some(i) if i < replicas => current += 1,
                        Some(_) => {
                            self.remove(PODS, namespace, pod);
                        }
                        None => {
                            let set = pod
                                .rsplit_once('-')
                                .map(|(s, _)| s.to_owned())
                                .unwrap_or_default();
                            *old_sets.entry(set).or_default() += 1;
                            self.remove(PODS, namespace, pod);
                        }
                    }
                }
                let owner = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set,
                    "uid": short_hash(&format!("{namespace}/{replica_set}"), 32), "controller": true,
                });
                for i in 0..replicas {
                    let pod = format!("{replica_set}-{i}");
                    if self.get_obj(PODS, namespace, &pod).is_none() {
                        self.make_pod(
                            namespace,
                            &pod,
                            &template,
                            owner.clone(),
                            &[("pod-template-hash", hash.clone())],
                            PodPhase::Running,
                        );
                    }
                }
                let before = pods.iter().filter(|p| p.starts_with(&prefix)).count();
                if before as i64 != replicas {
                    let (verb, from) = if (before as i64) < replicas {
                        ("up", before)
                    } else {
                        ("down", before)
                    };
                    let message = format!(
                        "Scaled {verb} replica set {replica_set} from {from} to {replicas}"
                    );
                    self.emit_event(namespace, &deployment, "ScalingReplicaSet", &message, false);
                }
                for (set, count) in old_sets {
                    let message = format!("Scaled down replica set {set} from {count} to 0");
                    self.emit_event(namespace, &deployment, "ScalingReplicaSet", &message, false);
                }
                let _ = current;
                json!({
                    "observedGeneration": generation,
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "conditions": [
                        condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability."),
                        condition("Progressing", true, "NewReplicaSetAvailable", &format!("ReplicaSet \"{replica_set}\" has successfully progressed.")),
                    ],
                })
            }
            Rollouts::Stall | Rollouts::DeadlineExceeded => {
                // The new replica set never gets a pod: the pods of the
                // current template (none after a template change) are the
                // updated ones; availability stays what it was.
                let prefix = format!("{replica_set}-");
                let updated = self
                    .owned_pods(DEPLOYMENTS, namespace, name)
                    .iter()
                    .filter(|p| p.starts_with(&prefix))
                    .count();
                let mut status = old_status.clone();
                merge(
                    &mut status,
                    &json!({"observedGeneration": generation, "updatedReplicas": updated}),
                );
                let progressing = if self.rollouts == Rollouts::Stall {
                    condition(
                        "Progressing",
                        true,
                        "ReplicaSetUpdated",
                        &format!("ReplicaSet \"{replica_set}\" is progressing."),
                    )
                } else {
                    condition(
                        "Progressing",
                        false,
                        "ProgressDeadlineExceeded",
                        &format!("ReplicaSet \"{replica_set}\" has timed out progressing."),
                    )
                };
                let mut conditions: Vec<Value> = status
                    .get("conditions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| str_at(c, &["type"]) != Some("Progressing"))
                    .collect();
                conditions.push(progressing);
                merge(&mut status, &json!({"conditions": conditions}));
                status
            }
        };
        if status != old_status {
            let mut updated = (*deployment).clone();
            if let Value::Object(map) = &mut updated {
                map.insert("status".into(), status);
            }
            self.store(DEPLOYMENTS, namespace, name, updated);
        }
    }

    /// The Job controller: starts a Job's pod and, unless stalled, finishes it.
    fn simulate_job(&mut self, namespace: &str, name: &str) {
        let Some(job) = self.get_obj(JOBS, namespace, name) else {
            return;
        };
        let status = job.get("status").cloned().unwrap_or_else(|| json!({}));
        let finished = ["succeeded", "failed"]
            .iter()
            .any(|k| status.get(*k).and_then(Value::as_i64).unwrap_or(0) > 0);
        if finished {
            return;
        }
        let phase = if self.fail_jobs {
            PodPhase::Failed
        } else if self.rollouts == Rollouts::Complete {
            PodPhase::Succeeded
        } else {
            PodPhase::Running
        };
        let started = status.get("active").and_then(Value::as_i64).unwrap_or(0) > 0;
        if started && matches!(phase, PodPhase::Running) {
            return;
        }
        let uid = str_at(&job, &["metadata", "uid"])
            .unwrap_or_default()
            .to_owned();
        let pod = format!("{name}-{}", short_hash(&uid, 5));
        let template = job
            .get("spec")
            .and_then(|s| s.get("template"))
            .cloned()
            .unwrap_or_else(|| json!({}));
        let owner = json!({"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid, "controller": true});
        let labels = [
            ("job-name", name.to_owned()),
            ("batch.kubernetes.io/job-name", name.to_owned()),
            ("controller-uid", uid.clone()),
            ("batch.kubernetes.io/controller-uid", uid.clone()),
        ];
        let previous_lines = self
            .logs
            .get(&(namespace.to_owned(), pod.clone()))
            .cloned()
            .unwrap_or_default();
        self.make_pod(namespace, &pod, &template, owner, &labels, phase);
        if !previous_lines.is_empty()
            && let Some(lines) = self.logs.get_mut(&(namespace.to_owned(), pod.clone()))
        {
            let mut all = previous_lines;
            all.extend(lines.drain(..).skip(1));
            *lines = all;
        }
        if !started {
            self.emit_event(
                namespace,
                &job,
                "SuccessfulCreate",
                &format!("Created pod: {pod}"),
                false,
            );
        }
        let at = now();
        let new_status = match phase {
            PodPhase::Running => json!({"active": 1, "ready": 1, "startTime": at}),
            PodPhase::Succeeded => json!({
                "succeeded": 1, "startTime": at, "completionTime": at,
                "conditions": [
                    condition("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods"),
                    condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods"),
                ],
            }),
            PodPhase::Failed => json!({
                "failed": 1, "startTime": at,
                "conditions": [
                    condition("FailureTarget", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                    condition("Failed", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                ],
            }),
        };
        match phase {
            PodPhase::Succeeded => {
                self.emit_event(namespace, &job, "Completed", "Job completed", false)
            }
            PodPhase::Failed => self.emit_event(
                namespace,
                &job,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                true,
            ),
            PodPhase::Running => {}
        }
        let mut updated = (*job).clone();
        if let Value::Object(map) = &mut updated {
            map.insert("status".into(), new_status);
        }
        self.store(JOBS, namespace, name, updated);
    }

    fn after_write(
        &mut self,
        res: usize,
        namespace: &str,
        name: &str,
        generation_before: Option<i64>,
    ) {
        let generation_now = self.get_obj(res, namespace, name).and_then(|o| {
            o.get("metadata")
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
        });
        match res {
            DEPLOYMENTS if generation_before != generation_now => {
                self.simulate_deployment(namespace, name)
            }
            JOBS if generation_before.is_none() => self.simulate_job(namespace, name),
            _ => {}
        }
    }
}

fn generation_of(object: Option<&Arc<Value>>) -> Option<i64> {
    object.and_then(|o| {
        o.get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
    })
}

/// Removes what a client may not set on the main resource.
fn sanitize(res: usize, mut object: Value) -> Value {
    if let Value::Object(map) = &mut object {
        if res != EVENTS {
            map.remove("status");
        }
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            for field in [
                "uid",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "managedFields",
                "deletionTimestamp",
                "selfLink",
            ] {
                meta.remove(field);
            }
        }
        if RESOURCES[res].kind == "Secret"
            && let Some(Value::Object(string_data)) = map.remove("stringData")
        {
            let data = map.entry("data").or_insert_with(|| json!({}));
            for (k, v) in string_data {
                if let (Value::Object(data), Some(text)) = (&mut *data, v.as_str()) {
                    data.insert(
                        k,
                        Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
                    );
                }
            }
        }
    }
    object
}

fn with_defaults(res: usize, mut object: Value) -> Value {
    if res == DEPLOYMENTS
        && let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut)
        && spec.get("replicas").is_none_or(Value::is_null)
    {
        spec.insert("replicas".into(), json!(1));
    }
    object
}

/// Checks that a body names the object the URL names.
fn check_identity(
    res: &Res,
    namespace: Option<&str>,
    name: Option<&str>,
    body: &Value,
    require_type: bool,
) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(bad_request("the request body must be a JSON object"));
    }
    match str_at(body, &["apiVersion"]) {
        Some(v) if v != res.api_version() => {
            return Err(bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                res.api_version()
            )));
        }
        None if require_type => return Err(bad_request("apiVersion must be set")),
        _ => {}
    }
    match str_at(body, &["kind"]) {
        Some(k) if k != res.kind => {
            return Err(bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                res.kind
            )));
        }
        None if require_type => return Err(bad_request("kind must be set")),
        _ => {}
    }
    if let (Some(url), Some(given)) = (name, str_at(body, &["metadata", "name"]))
        && url != given
    {
        return Err(bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({url})"
        )));
    }
    if let (Some(url), Some(given)) = (namespace, str_at(body, &["metadata", "namespace"]))
        && url != given
    {
        return Err(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        bad_request(format!(
            "the body of the request was in an unknown format (this server reads JSON only): {e}"
        ))
    })
}

fn list_body(res: &Res, rv: u64, items: Vec<Value>) -> Value {
    json!({
        "kind": format!("{}List", res.kind),
        "apiVersion": res.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    })
}

fn scale_view(deployment: &Value) -> Value {
    let meta = deployment
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let selector = deployment
        .get("spec")
        .and_then(|s| s.get("selector"))
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": deployment.get("spec").and_then(|s| s.get("replicas")).cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": deployment.get("status").and_then(|s| s.get("replicas")).cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// A request, taken apart.
struct Call {
    method: Method,
    path: String,
    query: HashMap<String, String>,
    content_type: String,
    body: Bytes,
}

impl FakeApiServer {
    /// An empty cluster with the `default`, `kube-system` and `kube-public`
    /// namespaces, completing rollouts.
    pub fn new() -> FakeApiServer {
        let mut state = State {
            rv: 0,
            serial: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: 200_000,
            compacted: 0,
            requests: VecDeque::new(),
            rollouts: Rollouts::Complete,
            fail_jobs: false,
            logs: HashMap::new(),
            follow_window: Duration::from_millis(200),
        };
        for ns in ["default", "kube-system", "kube-public"] {
            state.store(
                NAMESPACES,
                "",
                ns,
                json!({"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
            );
        }
        FakeApiServer {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                changes: watch::Sender::new(0),
                log_changes: watch::Sender::new(0),
            }),
        }
    }

    /// A `kube::Client` over this server (default namespace `default`).
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.clone(), "default")
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn notify(&self, rv: u64) {
        self.inner.changes.send_replace(rv);
    }

    /// Switches how later Deployment changes and new Jobs play out; switching
    /// to `Complete` also completes the rollouts and Jobs left hanging.
    pub fn set_rollouts(&self, rollouts: Rollouts) {
        let rv = {
            let mut state = self.state();
            state.rollouts = rollouts;
            if rollouts == Rollouts::Complete {
                state.resume_all();
            }
            state.rv
        };
        self.notify(rv);
    }

    /// Makes later Jobs (and running ones) fail.
    pub fn fail_jobs(&self, fail: bool) {
        let rv = {
            let mut state = self.state();
            state.fail_jobs = fail;
            if fail {
                state.resume_all();
            }
            state.rv
        };
        self.notify(rv);
    }

    /// Appends a line to a pod's log (followers see it).
    pub fn append_log(&self, namespace: &str, pod: &str, line: &str) {
        self.state()
            .logs
            .entry((namespace.to_owned(), pod.to_owned()))
            .or_default()
            .push(line.to_owned());
        self.inner.log_changes.send_modify(|n| *n += 1);
    }

    /// How long a `follow=true` log request collects appended lines.
    pub fn set_follow_window(&self, window: Duration) {
        self.state().follow_window = window;
    }

    /// How many changes the watch history keeps (older resourceVersions get 410).
    pub fn set_history_limit(&self, limit: usize) {
        let mut state = self.state();
        state.history_limit = limit.max(1);
        while state.history.len() > state.history_limit {
            if let Some(old) = state.history.pop_front() {
                state.compacted = old.rv;
            }
        }
    }

    /// The current (newest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state().rv
    }

    /// Every stored object of a kind (`Deployment` or `deployments`).
    pub fn objects(&self, kind: &str) -> Vec<Value> {
        let Some(res) = res_index(kind) else {
            return Vec::new();
        };
        let state = self.state();
        state
            .objects
            .range((res, String::new(), String::new())..(res + 1, String::new(), String::new()))
            .map(|(_, v)| (**v).clone())
            .collect()
    }

    /// One stored object (`namespace` is ignored for cluster-scoped kinds).
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let res = res_index(kind)?;
        let ns = if RESOURCES[res].namespaced {
            namespace
        } else {
            ""
        };
        self.state().get_obj(res, ns, name).map(|v| (*v).clone())
    }

    /// The namespaces that exist.
    pub fn namespaces(&self) -> Vec<String> {
        self.objects("Namespace")
            .iter()
            .filter_map(|n| str_at(n, &["metadata", "name"]).map(str::to_owned))
            .collect()
    }

    /// The requests answered so far (the newest 100,000), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.iter().cloned().collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    async fn handle(&self, call: Call) -> Response<kube::client::Body> {
        let reply = self.route(call).await;
        let (code, body, content_type) = match reply {
            Ok(ok) => ok,
            Err(e) => (
                e.code,
                Bytes::from(status_body(&e).to_string()),
                "application/json",
            ),
        };
        Response::builder()
            .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header(http::header::CONTENT_TYPE, content_type)
            .body(kube::client::Body::from(body))
            .unwrap_or_else(|_| Response::new(kube::client::Body::empty()))
    }

    async fn route(&self, call: Call) -> Reply {
        if call.path == "/version" {
            return json_reply(
                200,
                &json!({
                    "major": "1", "minor": "33", "gitVersion": "v1.33.0-shiyun-fake",
                    "platform": "linux/amd64", "goVersion": "go1.24", "compiler": "gc",
                    "gitCommit": "", "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                }),
            );
        }
        let Some(target) = parse_path(&call.path) else {
            return Err(err(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        };
        let res = &RESOURCES[target.res];
        if res.namespaced && target.name.is_some() && target.namespace.is_none() {
            return Err(err(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
        let filter = || -> Result<Filter, ApiError> {
            Ok(Filter {
                labels: parse_selector(
                    call.query
                        .get("labelSelector")
                        .map(String::as_str)
                        .unwrap_or(""),
                    false,
                )?,
                fields: parse_selector(
                    call.query
                        .get("fieldSelector")
                        .map(String::as_str)
                        .unwrap_or(""),
                    true,
                )?,
            })
        };
        let ns = target.namespace.clone().unwrap_or_default();
        match (&call.method, target.name.as_deref(), target.sub.as_deref()) {
            (&Method::GET, None, None) if truthy(&call.query, "watch") => {
                self.watch(&target, filter()?, &call.query).await
            }
            (&Method::GET, None, None) => {
                let filter = filter()?;
                let state = self.state();
                let items = state.select(target.res, target.namespace.as_deref(), &filter);
                json_reply(200, &list_body(res, state.rv, items))
            }
            (&Method::GET, Some(name), None | Some("status")) => {
                match self.state().get_obj(target.res, &ns, name) {
                    Some(object) => json_reply(200, &object),
                    None => Err(not_found(res, name)),
                }
            }
            (&Method::GET, Some(name), Some("scale")) if target.res == DEPLOYMENTS => {
                match self.state().get_obj(DEPLOYMENTS, &ns, name) {
                    Some(object) => json_reply(200, &scale_view(&object)),
                    None => Err(not_found(res, name)),
                }
            }
            (&Method::PUT | &Method::PATCH, Some(name), Some("scale"))
                if target.res == DEPLOYMENTS =>
            {
                self.write_scale(&call, &ns, name)
            }
            (&Method::GET, Some(name), Some("log")) if target.res == PODS => {
                self.logs(&ns, name, &call.query).await
            }
            (&Method::POST, None, None) if !res.namespaced || target.namespace.is_some() => {
                self.create(&call, target.res, &ns)
            }
            (&Method::PUT, Some(name), None) => self.replace(&call, target.res, &ns, name),
            (&Method::PATCH, Some(name), None) => self.patch(&call, target.res, &ns, name),
            (&Method::DELETE, Some(name), None) => {
                let orphan = self.orphan(&call);
                let (gone, rv) = {
                    let mut state = self.state();
                    (
                        state.delete_cascading(target.res, &ns, name, orphan),
                        state.rv,
                    )
                };
                self.notify(rv);
                match gone {
                    Some(object) => json_reply(200, &object),
                    None => Err(not_found(res, name)),
                }
            }
            (&Method::DELETE, None, None) => {
                let filter = filter()?;
                let orphan = self.orphan(&call);
                let (items, rv) = {
                    let mut state = self.state();
                    let doomed = state.select(target.res, target.namespace.as_deref(), &filter);
                    let mut gone = Vec::new();
                    for object in doomed {
                        let name = str_at(&object, &["metadata", "name"])
                            .unwrap_or_default()
                            .to_owned();
                        let ns = str_at(&object, &["metadata", "namespace"])
                            .unwrap_or_default()
                            .to_owned();
                        if let Some(g) = state.delete_cascading(target.res, &ns, &name, orphan) {
                            gone.push((*g).clone());
                        }
                    }
                    (gone, state.rv)
                };
                self.notify(rv);
                json_reply(200, &list_body(res, rv, items))
            }
            (_, _, Some(sub)) if !matches!(sub, "status" | "scale" | "log") => Err(err(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )),
            _ => Err(err(
                405,
                "MethodNotAllowed",
                format!(
                    "the server does not allow this method on the requested resource ({} {})",
                    call.method, call.path
                ),
            )),
        }
    }

    fn orphan(&self, call: &Call) -> bool {
        let from_body = serde_json::from_slice::<Value>(&call.body)
            .ok()
            .and_then(|b| str_at(&b, &["propagationPolicy"]).map(str::to_owned));
        from_body
            .or_else(|| call.query.get("propagationPolicy").cloned())
            .as_deref()
            == Some("Orphan")
    }

    fn create(&self, call: &Call, res_i: usize, ns: &str) -> Reply {
        let res = &RESOURCES[res_i];
        let body = parse_json(&call.body)?;
        check_identity(res, res.namespaced.then_some(ns), None, &body, false)?;
        let (object, rv) = {
            let mut state = self.state();
            let name = match str_at(&body, &["metadata", "name"]) {
                Some(n) if !n.is_empty() => n.to_owned(),
                _ => match str_at(&body, &["metadata", "generateName"]) {
                    Some(prefix) => format!(
                        "{prefix}{}",
                        short_hash(&format!("{}{}", state.serial, state.rv), 5)
                    ),
                    None => {
                        return Err(err(
                            422,
                            "Invalid",
                            format!(
                                "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                                res.kind
                            ),
                        ));
                    }
                },
            };
            if res.namespaced && !state.namespace_exists(ns) {
                return Err(err(
                    404,
                    "NotFound",
                    format!("namespaces \"{ns}\" not found"),
                ));
            }
            if state.get_obj(res_i, ns, &name).is_some() {
                return Err(err(
                    409,
                    "AlreadyExists",
                    format!("{} \"{name}\" already exists", res.plural),
                ));
            }
            let object = with_defaults(
                res_i,
                if res_i == EVENTS {
                    body
                } else {
                    sanitize(res_i, body)
                },
            );
            state.store(res_i, ns, &name, object);
            state.after_write(res_i, ns, &name, None);
            (state.get_obj(res_i, ns, &name), state.rv)
        };
        self.notify(rv);
        json_reply(201, &object.unwrap_or_default())
    }

    fn replace(&self, call: &Call, res_i: usize, ns: &str, name: &str) -> Reply {
        let res = &RESOURCES[res_i];
        let body = parse_json(&call.body)?;
        check_identity(res, res.namespaced.then_some(ns), Some(name), &body, false)?;
        let (object, rv) = {
            let mut state = self.state();
            let Some(old) = state.get_obj(res_i, ns, name) else {
                return Err(not_found(res, name));
            };
            if let (Some(given), Some(current)) = (
                str_at(&body, &["metadata", "resourceVersion"]),
                str_at(&old, &["metadata", "resourceVersion"]),
            ) && given != current
            {
                return Err(err(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                        res.plural
                    ),
                ));
            }
            let mut object = with_defaults(res_i, sanitize(res_i, body));
            if let (Value::Object(map), Some(status)) = (&mut object, old.get("status")) {
                map.insert("status".into(), status.clone());
            }
            if let (Some(Value::Object(meta)), Some(fields)) = (
                object.get_mut("metadata"),
                old.get("metadata").and_then(|m| m.get("managedFields")),
            ) {
                meta.insert("managedFields".into(), fields.clone());
            }
            self.commit(&mut state, res_i, ns, name, &old, object)
        };
        self.notify(rv);
        json_reply(200, &object)
    }

    /// Stores `object` in place of `old` if it differs, and plays the controllers.
    fn commit(
        &self,
        state: &mut State,
        res_i: usize,
        ns: &str,
        name: &str,
        old: &Arc<Value>,
        mut object: Value,
    ) -> (Value, u64) {
        let mut comparable = object.clone();
        for v in [&mut object, &mut comparable] {
            if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                for field in ["uid", "creationTimestamp", "generation", "resourceVersion"] {
                    if let Some(x) = old.get("metadata").and_then(|m| m.get(field)) {
                        meta.insert(field.into(), x.clone());
                    }
                }
            }
            if let (Value::Object(map), true) = (&mut *v, true) {
                map.insert(
                    "apiVersion".into(),
                    Value::String(RESOURCES[res_i].api_version()),
                );
                map.insert("kind".into(), Value::String(RESOURCES[res_i].kind.into()));
            }
        }
        if comparable == **old {
            return ((**old).clone(), state.rv);
        }
        let generation = generation_of(Some(old));
        state.store(res_i, ns, name, object);
        state.after_write(res_i, ns, name, generation);
        let stored = state
            .get_obj(res_i, ns, name)
            .map(|v| (*v).clone())
            .unwrap_or_default();
        (stored, state.rv)
    }

    fn patch(&self, call: &Call, res_i: usize, ns: &str, name: &str) -> Reply {
        let res = &RESOURCES[res_i];
        let content_type = call
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        let apply = match content_type {
            "application/apply-patch+yaml" => true,
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => false,
            _ => {
                return Err(err(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
                    ),
                ));
            }
        };
        let manager = call
            .query
            .get("fieldManager")
            .filter(|m| !m.is_empty())
            .cloned();
        if apply && manager.is_none() {
            return Err(bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let force = truthy(&call.query, "force");
        if force && !apply {
            return Err(err(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
            ));
        }
        let body = parse_json(&call.body)?;
        check_identity(res, res.namespaced.then_some(ns), Some(name), &body, apply)?;
        let manager_entry = |manager: &str| {
            json!({
                "manager": manager, "operation": if apply { "Apply" } else { "Update" },
                "apiVersion": res.api_version(), "time": now(), "fieldsType": "FieldsV1", "fieldsV1": {},
            })
        };
        let (code, object, rv) = {
            let mut state = self.state();
            let Some(old) = state.get_obj(res_i, ns, name) else {
                if !apply {
                    return Err(not_found(res, name));
                }
                if res.namespaced && !state.namespace_exists(ns) {
                    return Err(err(
                        404,
                        "NotFound",
                        format!("namespaces \"{ns}\" not found"),
                    ));
                }
                let mut object = with_defaults(res_i, sanitize(res_i, body));
                if let (Some(Value::Object(meta)), Some(m)) = (object.get_mut("metadata"), &manager)
                {
                    meta.insert("managedFields".into(), json!([manager_entry(m)]));
                }
                state.store(res_i, ns, name, object);
                state.after_write(res_i, ns, name, None);
                let stored = state
                    .get_obj(res_i, ns, name)
                    .map(|v| (*v).clone())
                    .unwrap_or_default();
                let rv = state.rv;
                drop(state);
                self.notify(rv);
                return json_reply(201, &stored);
            };
            let mut fields: Vec<Value> = old
                .get("metadata")
                .and_then(|m| m.get("managedFields"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(m) = &manager {
                if apply && !force {
                    let others: Vec<&str> = fields
                        .iter()
                        .filter(|f| str_at(f, &["operation"]) == Some("Apply"))
                        .filter_map(|f| str_at(f, &["manager"]))
                        .filter(|other| other != m)
                        .collect();
                    if !others.is_empty() {
                        return Err(err(
                            409,
                            "Conflict",
                            format!(
                                "Apply failed with {} conflict: conflict with \"{}\"",
                                others.len(),
                                others.join("\", \"")
                            ),
                        ));
                    }
                }
                let operation = if apply { "Apply" } else { "Update" };
                let known = fields.iter().any(|f| {
                    str_at(f, &["manager"]) == Some(m)
                        && str_at(f, &["operation"]) == Some(operation)
                });
                if !known {
                    fields.push(manager_entry(m));
                }
            }
            let mut object = (*old).clone();
            merge(&mut object, &sanitize(res_i, body));
            let mut object = with_defaults(res_i, object);
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
                && !fields.is_empty()
            {
                meta.insert("managedFields".into(), Value::Array(fields));
            }
            let (object, rv) = self.commit(&mut state, res_i, ns, name, &old, object);
            (200, object, rv)
        };
        self.notify(rv);
        json_reply(code, &object)
    }

    fn write_scale(&self, call: &Call, ns: &str, name: &str) -> Reply {
        let res = &RESOURCES[DEPLOYMENTS];
        let body = parse_json(&call.body)?;
        let (object, rv) = {
            let mut state = self.state();
            let Some(old) = state.get_obj(DEPLOYMENTS, ns, name) else {
                return Err(not_found(res, name));
            };
            let mut scale = scale_view(&old);
            if call.method == Method::PUT {
                if let Some(kind) = str_at(&body, &["kind"])
                    && kind != "Scale"
                {
                    return Err(bad_request(format!(
                        "the kind in the data ({kind}) does not match the expected kind (Scale)"
                    )));
                }
                scale = body;
            } else {
                let content_type = call
                    .content_type
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim();
                if !matches!(
                    content_type,
                    "application/merge-patch+json"
                        | "application/strategic-merge-patch+json"
                        | "application/apply-patch+yaml"
                ) {
                    return Err(err(
                        415,
                        "UnsupportedMediaType",
                        format!("unsupported patch type {content_type:?}"),
                    ));
                }
                merge(&mut scale, &body);
            }
            let Some(replicas) = scale
                .get("spec")
                .and_then(|s| s.get("replicas"))
                .and_then(Value::as_i64)
                .filter(|r| (0..=i64::from(i32::MAX)).contains(r))
            else {
                return Err(err(
                    422,
                    "Invalid",
                    format!(
                        "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: must be a non-negative integer"
                    ),
                ));
            };
            let mut object = (*old).clone();
            merge(&mut object, &json!({"spec": {"replicas": replicas}}));
            let (object, rv) = self.commit(&mut state, DEPLOYMENTS, ns, name, &old, object);
            (object, rv)
        };
        self.notify(rv);
        json_reply(200, &scale_view(&object))
    }

    async fn logs(&self, ns: &str, pod: &str, query: &HashMap<String, String>) -> Reply {
        let key = (ns.to_owned(), pod.to_owned());
        let (lines, window) = {
            let state = self.state();
            let Some(object) = state.get_obj(PODS, ns, pod) else {
                return Err(not_found(&RESOURCES[PODS], pod));
            };
            let containers: Vec<String> = object
                .get("spec")
                .and_then(|s| s.get("containers"))
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| str_at(c, &["name"]).map(str::to_owned))
                .collect();
            let container = match query.get("container") {
                Some(c) if !containers.contains(c) => {
                    return Err(bad_request(format!(
                        "container {c} is not valid for pod {pod}"
                    )));
                }
                Some(c) => c.clone(),
                None if containers.len() > 1 => {
                    return Err(bad_request(format!(
                        "a container name must be specified for pod {pod}, choose one of: [{}]",
                        containers.join(" ")
                    )));
                }
                None => containers.first().cloned().unwrap_or_default(),
            };
            if truthy(query, "previous") {
                return Err(bad_request(format!(
                    "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                )));
            }
            (
                state.logs.get(&key).cloned().unwrap_or_default(),
                state.follow_window,
            )
        };
        let tail = match query.get("tailLines") {
            Some(t) => Some(
                t.parse::<usize>()
                    .map_err(|_| bad_request(format!("invalid tailLines {t:?}")))?,
            ),
            None => None,
        };
        let start = tail.map_or(0, |t| lines.len().saturating_sub(t));
        let mut out: Vec<String> = lines[start..].to_vec();
        if truthy(query, "follow") {
            let seen = lines.len();
            let mut rx = self.inner.log_changes.subscribe();
            let deadline = tokio::time::sleep(window);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => break,
                    changed = rx.changed() => if changed.is_err() { break },
                }
            }
            let state = self.state();
            if let Some(all) = state.logs.get(&key) {
                out.extend(all.iter().skip(seen).cloned());
            }
        }
        let mut text = out.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        Ok((200, Bytes::from(text), "text/plain"))
    }

    async fn watch(
        &self,
        target: &Target,
        filter: Filter,
        query: &HashMap<String, String>,
    ) -> Reply {
        let res = &RESOURCES[target.res];
        let since = match query.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => None,
            Some(rv) => Some(
                rv.parse::<u64>()
                    .map_err(|_| bad_request(format!("invalid resourceVersion {rv:?}")))?,
            ),
        };
        let timeout = match query.get("timeoutSeconds") {
            Some(t) => t
                .parse::<u64>()
                .map_err(|_| bad_request(format!("invalid timeoutSeconds {t:?}")))?,
            None => 1800,
        };
        let bookmarks = truthy(query, "allowWatchBookmarks");
        let deadline = tokio::time::sleep(Duration::from_secs(timeout.min(3600)));
        tokio::pin!(deadline);
        let mut rx = self.inner.changes.subscribe();
        let mut since = since;
        let namespace = target.namespace.as_deref();
        loop {
            let (lines, rv) = {
                let state = self.state();
                let mut lines = Vec::new();
                match since {
                    None => {
                        for object in state.select(target.res, namespace, &filter) {
                            lines.push(json!({"type": "ADDED", "object": object}).to_string());
                        }
                        since = Some(state.rv);
                    }
                    Some(from) => {
                        if from < state.compacted {
                            let gone = err(
                                410,
                                "Expired",
                                format!(
                                    "too old resource version: {from} ({})",
                                    state.compacted + 1
                                ),
                            );
                            let line =
                                json!({"type": "ERROR", "object": status_body(&gone)}).to_string();
                            return Ok((200, Bytes::from(line + "\n"), "application/json"));
                        }
                        let first = state.history.partition_point(|c| c.rv <= from);
                        for change in state.history.range(first..) {
                            if change.res == target.res
                                && namespace.is_none_or(|ns| ns == change.namespace)
                                && filter.accepts(&change.object)
                            {
                                lines.push(format!(
                                    "{{\"type\":\"{}\",\"object\":{}}}",
                                    change.kind.as_str(),
                                    change.object
                                ));
                            }
                        }
                        since = Some(state.rv);
                    }
                }
                (lines, state.rv)
            };
            let timed_out = !lines.is_empty() || {
                tokio::select! {
                    _ = &mut deadline => true,
                    changed = rx.changed() => changed.is_err(),
                }
            };
            if timed_out {
                let mut body = lines.join("\n");
                if bookmarks {
                    let bookmark = json!({"type": "BOOKMARK", "object": {
                        "kind": res.kind, "apiVersion": res.api_version(),
                        "metadata": {"resourceVersion": rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}},
                    }});
                    if !body.is_empty() {
                        body.push('\n');
                    }
                    body.push_str(&bookmark.to_string());
                }
                if !body.is_empty() {
                    body.push('\n');
                }
                return Ok((200, Bytes::from(body), "application/json"));
            }
        }
    }
}

impl State {
    /// The objects of a resource (in a namespace, or all) a filter accepts.
    fn select(&self, res: usize, namespace: Option<&str>, filter: &Filter) -> Vec<Value> {
        let (from, to) = match namespace {
            Some(ns) => (
                (res, ns.to_owned(), String::new()),
                (res, format!("{ns}\u{0}"), String::new()),
            ),
            None => (
                (res, String::new(), String::new()),
                (res + 1, String::new(), String::new()),
            ),
        };
        self.objects
            .range(from..to)
            .filter(|(_, v)| filter.accepts(v))
            .map(|(_, v)| (**v).clone())
            .collect()
    }

    /// Re-plays the controllers over every Deployment and unfinished Job.
    fn resume_all(&mut self) {
        let keys: Vec<Key> = self
            .objects
            .keys()
            .filter(|(r, _, _)| *r == DEPLOYMENTS || *r == JOBS)
            .cloned()
            .collect();
        for (r, ns, name) in keys {
            if r == DEPLOYMENTS {
                self.simulate_deployment(&ns, &name);
            } else {
                self.simulate_job(&ns, &name);
            }
        }
    }
}

impl tower::Service<Request<kube::client::Body>> for FakeApiServer {
    type Response = Response<kube::client::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<kube::client::Body>) -> Self::Future {
        let server = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let path = parts.uri.path().to_owned();
            let raw_query = parts.uri.query().unwrap_or_default().to_owned();
            let content_type = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            {
                let mut state = server.state();
                if state.requests.len() >= MAX_REQUESTS {
                    state.requests.pop_front();
                }
                state.requests.push_back(RecordedRequest {
                    method: parts.method.to_string(),
                    path: path.clone(),
                    query: raw_query.clone(),
                    content_type: content_type.clone(),
                });
            }
            let body = match body.collect_bytes().await {
                Ok(bytes) => bytes,
                Err(e) => {
                    let e = bad_request(format!("could not read the request body: {e}"));
                    return Ok(Response::builder()
                        .status(StatusCode::BAD_REQUEST)
                        .body(kube::client::Body::from(Bytes::from(
                            status_body(&e).to_string(),
                        )))
                        .unwrap_or_else(|_| Response::new(kube::client::Body::empty())));
                }
            };
            let call = Call {
                method: parts.method,
                path,
                query: parse_query(&raw_query),
                content_type: content_type.unwrap_or_default(),
                body,
            };
            Ok(server.handle(call).await)
        })
    }
}
