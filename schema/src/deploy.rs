//! `DeployStore` on [`Database`]: clusters and their grants, placements,
//! applications, releases, builds and the meter's watermark (see the
//! migration `…_deploy`).
//!
//! SQL is written once for both backends with the billing store's `$n`
//! helpers (`crate::billing::sql`). Specs, settings, build sources and scale
//! overrides are JSON text the store never interprets: written with
//! `serde_json` and parsed back, so a value round-trips as the deploy crate
//! wrote it.
//!
//! Tenancy is a `WHERE` clause: an application is read only by its tenant,
//! narrowed by the scope's rows (`created_by`, `project IN (…)`), so
//! another tenant's id reads as a missing one. A placement is read by its
//! tenant only; whether the caller sees the project is the service's check.
//!
//! Releases are numbered in their transaction: the application's row is
//! locked first (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE`
//! already admits one writer), so concurrent releases of one application
//! take 1, 2, 3… one after the other and never share a number (the primary
//! key `(app, version)` would refuse it anyway). The meter's watermark moves
//! only forward: the upsert changes the row only `WHERE` the new mark is
//! later.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Nullable, Text};
use serde_json::Value as Json;
use shiyun_core::deploy::{
    AppId, AppLifecycle, AppRecord, BuildId, BuildRecord, BuildStatus, ClusterId, ClusterKind,
    ClusterRecord, DeployStore, NewRelease, PlacementRecord, ReleaseRecord, ReleaseStatus,
};
use shiyun_core::store::{StoreError, StoreResult};
use shiyun_core::tenancy::{AccountId, ProjectId, RowScope, Rows, Tenant};

use crate::billing::sql::{self, Arg, args, for_update, placeholders};
use crate::db::{Database, DbConnection, Isolation, TxError};
use crate::time::{from_micros, micros};
use crate::user_centre::{read, unique_is_conflict};

/// A stored value that no longer decodes: a bug or a hand-edited row.
fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt deployment row: {what}"))
}

/// `NotFound` for `entity` `id`.
fn not_found(entity: &'static str, id: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_string(),
    }
}

/// A foreign key naming a missing row becomes `NotFound` for it; any other
/// error stays as it is.
fn missing_is_not_found(
    entity: &'static str,
    id: impl std::fmt::Display,
) -> impl FnOnce(DieselError) -> TxError {
    move |error| match error {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            TxError::Store(not_found(entity, id))
        }
        other => TxError::Diesel(other),
    }
}

/// A stored id (or tenant) parsed back.
fn id<T, E: std::fmt::Display>(
    text: &str,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> StoreResult<T> {
    parse(text).map_err(|e| corrupt(format!("{what} `{text}`: {e}")))
}

/// A stored enum's text parsed back.
fn state<T>(text: &str, what: &str, parse: impl FnOnce(&str) -> Option<T>) -> StoreResult<T> {
    parse(text).ok_or_else(|| corrupt(format!("{what} `{text}`")))
}

/// Stored JSON text parsed back.
fn json(text: &str, what: &str) -> StoreResult<Json> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("{what}: {e}")))
}

/// A stored version number (1, 2, 3…).
fn version(value: i64) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| corrupt(format!("release version {value}")))
}

/// The tenant and row filter of `scope` on `deploy_apps`, appended to a
/// `WHERE` whose arguments so far are `args` (its own are pushed after).
fn scope_filter(scope: &RowScope, args: &mut Vec<Arg>) -> String {
    args.push(Arg::from(scope.tenant.as_str()));
    let mut filter = format!(" AND tenant = ${}", args.len());
    match &scope.rows {
        Rows::All => {}
        Rows::Own(me) => {
            args.push(Arg::from(me.as_str()));
            filter.push_str(&format!(" AND created_by = ${}", args.len()));
        }
        Rows::Projects { projects, own } => {
            args.push(Arg::from(own.as_str()));
            let own_at = args.len();
            if projects.is_empty() {
                filter.push_str(&format!(" AND created_by = ${own_at}"));
            } else {
                let first = args.len() + 1;
                args.extend(projects.iter().map(|p| Arg::from(p.as_str())));
                filter.push_str(&format!(
                    " AND (created_by = ${own_at} OR project IN ({}))",
                    placeholders(first, projects.len())
                ));
            }
        }
    }
    filter
}

const CLUSTER_COLUMNS: &str =
    "id, name, kind, api_url, credential_kind, sealed_credential, created_at";

#[derive(QueryableByName)]
struct ClusterRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    api_url: String,
    #[diesel(sql_type = Text)]
    credential_kind: String,
    #[diesel(sql_type = Text)]
    sealed_credential: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl ClusterRow {
    fn into_record(self, grants: Vec<Tenant>) -> StoreResult<ClusterRecord> {
        Ok(ClusterRecord {
            id: id(&self.id, "cluster id", ClusterId::parse)?,
            name: self.name,
            kind: state(&self.kind, "cluster kind", ClusterKind::parse)?,
            api_url: self.api_url,
            credential_kind: self.credential_kind,
            sealed_credential: self.sealed_credential,
            grants,
            created_at: from_micros(self.created_at)?,
        })
    }
}

#[derive(QueryableByName)]
struct GrantRow {
    #[diesel(sql_type = Text)]
    cluster: String,
    #[diesel(sql_type = Text)]
    tenant: String,
}

const PLACEMENT_COLUMNS: &str =
    "project, tenant, cluster, namespace, settings, created_by, updated_at";

#[derive(QueryableByName)]
struct PlacementRow {
    #[diesel(sql_type = Text)]
    project: String,
    #[diesel(sql_type = Text)]
    tenant: String,
    #[diesel(sql_type = Text)]
    cluster: String,
    #[diesel(sql_type = Text)]
    namespace: String,
    #[diesel(sql_type = Text)]
    settings: String,
    #[diesel(sql_type = Text)]
    created_by: String,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
}

impl PlacementRow {
    fn into_record(self) -> StoreResult<PlacementRecord> {
        Ok(PlacementRecord {
            project: id(&self.project, "project id", ProjectId::parse)?,
            tenant: id(&self.tenant, "tenant", Tenant::parse)?,
            cluster: id(&self.cluster, "cluster id", ClusterId::parse)?,
            namespace: self.namespace,
            settings: json(&self.settings, "placement settings")?,
            created_by: id(&self.created_by, "account id", AccountId::parse)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

const APP_COLUMNS: &str = "id, tenant, project, name, created_by, state, current_release, \
                           scale_override, created_at, updated_at";

#[derive(QueryableByName)]
struct AppRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    tenant: String,
    #[diesel(sql_type = Text)]
    project: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    created_by: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    current_release: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    scale_override: Option<String>,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
}

impl AppRow {
    fn into_record(self) -> StoreResult<AppRecord> {
        Ok(AppRecord {
            id: id(&self.id, "app id", AppId::parse)?,
            tenant: id(&self.tenant, "tenant", Tenant::parse)?,
            project: id(&self.project, "project id", ProjectId::parse)?,
            name: self.name,
            created_by: id(&self.created_by, "account id", AccountId::parse)?,
            state: state(&self.state, "app state", AppLifecycle::parse)?,
            current_release: self.current_release.map(version).transpose()?,
            scale_override: self
                .scale_override
                .map(|text| json(&text, "scale override"))
                .transpose()?,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

fn apps(rows: Vec<AppRow>) -> StoreResult<Vec<AppRecord>> {
    rows.into_iter().map(AppRow::into_record).collect()
}

const RELEASE_COLUMNS: &str = "app, version, spec, rollback_of, description, status, reason, \
                               created_by, created_at, updated_at";

#[derive(QueryableByName)]
struct ReleaseRow {
    #[diesel(sql_type = Text)]
    app: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    spec: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    rollback_of: Option<i64>,
    #[diesel(sql_type = Text)]
    description: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
    #[diesel(sql_type = Text)]
    created_by: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
}

impl ReleaseRow {
    fn into_record(self) -> StoreResult<ReleaseRecord> {
        Ok(ReleaseRecord {
            app: id(&self.app, "app id", AppId::parse)?,
            version: version(self.version)?,
            spec: json(&self.spec, "release spec")?,
            rollback_of: self.rollback_of.map(version).transpose()?,
            description: self.description,
            status: state(&self.status, "release status", ReleaseStatus::parse)?,
            reason: self.reason,
            created_by: id(&self.created_by, "account id", AccountId::parse)?,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

const BUILD_COLUMNS: &str = "id, app, source, image, status, created_by, created_at, updated_at";

#[derive(QueryableByName)]
struct BuildRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    app: String,
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = Text)]
    image: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    created_by: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
}

impl BuildRow {
    fn into_record(self) -> StoreResult<BuildRecord> {
        Ok(BuildRecord {
            id: id(&self.id, "build id", BuildId::parse)?,
            app: id(&self.app, "app id", AppId::parse)?,
            source: json(&self.source, "build source")?,
            image: self.image,
            status: state(&self.status, "build status", BuildStatus::parse)?,
            created_by: id(&self.created_by, "account id", AccountId::parse)?,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

/// A row's key, read to lock the row or to learn that it exists.
#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    #[expect(dead_code, reason = "only whether a row came back matters")]
    id: String,
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// One cluster with its grants (in tenant order).
fn load_cluster(
    conn: &mut DbConnection,
    cluster: &ClusterId,
) -> Result<Option<ClusterRecord>, TxError> {
    let row: Option<ClusterRow> = sql::first(
        conn,
        &format!("SELECT {CLUSTER_COLUMNS} FROM deploy_clusters WHERE id = $1"),
        args![cluster.as_str()],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let grants: Vec<GrantRow> = sql::load(
        conn,
        "SELECT cluster, tenant FROM deploy_cluster_grants WHERE cluster = $1 ORDER BY tenant",
        args![cluster.as_str()],
    )?;
    let grants = grants
        .iter()
        .map(|g| id(&g.tenant, "tenant", Tenant::parse))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(row.into_record(grants)?))
}

fn load_release(
    conn: &mut DbConnection,
    app: &AppId,
    number: u32,
) -> Result<Option<ReleaseRecord>, TxError> {
    let row: Option<ReleaseRow> = sql::first(
        conn,
        &format!("SELECT {RELEASE_COLUMNS} FROM deploy_releases WHERE app = $1 AND version = $2"),
        args![app.as_str(), i64::from(number)],
    )?;
    Ok(row.map(ReleaseRow::into_record).transpose()?)
}

impl DeployStore for Database {
    fn create_cluster(&self, cluster: &ClusterRecord) -> StoreResult<()> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            sql::execute(
                conn,
                "INSERT INTO deploy_clusters \
                 (id, name, kind, api_url, credential_kind, sealed_credential, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                args![
                    cluster.id.as_str(),
                    &cluster.name,
                    cluster.kind.as_str(),
                    &cluster.api_url,
                    &cluster.credential_kind,
                    &cluster.sealed_credential,
                    micros(cluster.created_at)
                ],
            )?;
            for tenant in &cluster.grants {
                sql::execute(
                    conn,
                    "INSERT INTO deploy_cluster_grants (cluster, tenant) VALUES ($1, $2) \
                     ON CONFLICT (cluster, tenant) DO NOTHING",
                    args![cluster.id.as_str(), tenant.as_str()],
                )?;
            }
            Ok(())
        })
    }

    fn list_clusters(&self) -> StoreResult<Vec<ClusterRecord>> {
        read(self, |conn| {
            let rows: Vec<ClusterRow> = sql::load(
                conn,
                &format!("SELECT {CLUSTER_COLUMNS} FROM deploy_clusters ORDER BY name, id"),
                Vec::new(),
            )?;
            let grant_rows: Vec<GrantRow> = sql::load(
                conn,
                "SELECT cluster, tenant FROM deploy_cluster_grants ORDER BY cluster, tenant",
                Vec::new(),
            )?;
            let mut grants: BTreeMap<String, Vec<Tenant>> = BTreeMap::new();
            for grant in grant_rows {
                let tenant = id(&grant.tenant, "tenant", Tenant::parse)?;
                grants.entry(grant.cluster).or_default().push(tenant);
            }
            Ok(rows
                .into_iter()
                .map(|row| {
                    let granted = grants.remove(&row.id).unwrap_or_default();
                    row.into_record(granted)
                })
                .collect::<StoreResult<Vec<_>>>()?)
        })
    }

    fn get_cluster(&self, id: &ClusterId) -> StoreResult<Option<ClusterRecord>> {
        read(self, |conn| load_cluster(conn, id))
    }

    fn set_cluster_grant(
        &self,
        id: &ClusterId,
        tenant: &Tenant,
        granted: bool,
    ) -> StoreResult<ClusterRecord> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            // Locks the cluster so a grant and its read-back agree.
            let lock = for_update(conn);
            let exists: Option<Key> = sql::first(
                conn,
                &format!("SELECT id FROM deploy_clusters WHERE id = $1{lock}"),
                args![id.as_str()],
            )?;
            if exists.is_none() {
                return Err(not_found("cluster", id).into());
            }
            if granted {
                sql::execute(
                    conn,
                    "INSERT INTO deploy_cluster_grants (cluster, tenant) VALUES ($1, $2) \
                     ON CONFLICT (cluster, tenant) DO NOTHING",
                    args![id.as_str(), tenant.as_str()],
                )?;
            } else {
                sql::execute(
                    conn,
                    "DELETE FROM deploy_cluster_grants WHERE cluster = $1 AND tenant = $2",
                    args![id.as_str(), tenant.as_str()],
                )?;
            }
            load_cluster(conn, id)?.ok_or_else(|| not_found("cluster", id).into())
        })
    }

    fn put_placement(&self, placement: &PlacementRecord) -> StoreResult<PlacementRecord> {
        let settings = placement.settings.to_string();
        self.transaction(Isolation::ReadCommitted, |conn| {
            // A first placement inserts; a concurrent first placement of the
            // same project waits for this one and then finds its row below.
            let inserted = sql::execute(
                conn,
                "INSERT INTO deploy_placements \
                 (project, tenant, cluster, namespace, settings, created_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project) DO NOTHING",
                args![
                    placement.project.as_str(),
                    placement.tenant.as_str(),
                    placement.cluster.as_str(),
                    &placement.namespace,
                    &settings,
                    placement.created_by.as_str(),
                    micros(placement.updated_at)
                ],
            )
            .map_err(|e| match e {
                DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                    TxError::Store(not_found("cluster", &placement.cluster))
                }
                other => unique_is_conflict("the namespace is taken on the cluster")(other),
            })?;
            if inserted == 1 {
                return Ok(placement.clone());
            }
            let lock = for_update(conn);
            let stored: Option<PlacementRow> = sql::first(
                conn,
                &format!(
                    "SELECT {PLACEMENT_COLUMNS} FROM deploy_placements WHERE project = $1{lock}"
                ),
                args![placement.project.as_str()],
            )?;
            let Some(stored) = stored else {
                return Err(StoreError::Internal(
                    "a placement collided but no placement holds its project".into(),
                )
                .into());
            };
            let mut stored = stored.into_record()?;
            if stored.cluster != placement.cluster {
                return Err(StoreError::Conflict(
                    "the project is placed on another cluster".into(),
                )
                .into());
            }
            sql::execute(
                conn,
                "UPDATE deploy_placements SET settings = $2, updated_at = $3 WHERE project = $1",
                args![
                    placement.project.as_str(),
                    &settings,
                    micros(placement.updated_at)
                ],
            )?;
            stored.settings = placement.settings.clone();
            stored.updated_at = placement.updated_at;
            Ok(stored)
        })
    }

    fn get_placement(
        &self,
        scope: &RowScope,
        project: &ProjectId,
    ) -> StoreResult<Option<PlacementRecord>> {
        read(self, |conn| {
            let row: Option<PlacementRow> = sql::first(
                conn,
                &format!(
                    "SELECT {PLACEMENT_COLUMNS} FROM deploy_placements \
                     WHERE project = $1 AND tenant = $2"
                ),
                args![project.as_str(), scope.tenant.as_str()],
            )?;
            Ok(row.map(PlacementRow::into_record).transpose()?)
        })
    }

    fn create_app(&self, app: &AppRecord) -> StoreResult<()> {
        let scale_override = app.scale_override.as_ref().map(Json::to_string);
        self.transaction(Isolation::ReadCommitted, |conn| {
            sql::execute(
                conn,
                "INSERT INTO deploy_apps (id, tenant, project, name, created_by, state, \
                 current_release, scale_override, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                args![
                    app.id.as_str(),
                    app.tenant.as_str(),
                    app.project.as_str(),
                    &app.name,
                    app.created_by.as_str(),
                    app.state.as_str(),
                    app.current_release.map(i64::from),
                    scale_override.clone(),
                    micros(app.created_at),
                    micros(app.updated_at)
                ],
            )?;
            Ok(())
        })
    }

    fn get_app(&self, scope: &RowScope, id: &AppId) -> StoreResult<Option<AppRecord>> {
        read(self, |conn| {
            let mut args = args![id.as_str()];
            let filter = scope_filter(scope, &mut args);
            let row: Option<AppRow> = sql::first(
                conn,
                &format!("SELECT {APP_COLUMNS} FROM deploy_apps WHERE id = $1{filter}"),
                args,
            )?;
            Ok(row.map(AppRow::into_record).transpose()?)
        })
    }

    fn get_app_unscoped(&self, id: &AppId) -> StoreResult<Option<AppRecord>> {
        read(self, |conn| {
            let row: Option<AppRow> = sql::first(
                conn,
                &format!("SELECT {APP_COLUMNS} FROM deploy_apps WHERE id = $1"),
                args![id.as_str()],
            )?;
            Ok(row.map(AppRow::into_record).transpose()?)
        })
    }

    fn list_apps(
        &self,
        scope: &RowScope,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<AppRecord>> {
        read(self, |conn| {
            let mut args = args![project.map(ProjectId::as_str)];
            let filter = scope_filter(scope, &mut args);
            let rows: Vec<AppRow> = sql::load(
                conn,
                &format!(
                    "SELECT {APP_COLUMNS} FROM deploy_apps \
                     WHERE state <> 'deleted' AND ($1 IS NULL OR project = $1){filter} \
                     ORDER BY name, id"
                ),
                args,
            )?;
            Ok(apps(rows)?)
        })
    }

    fn list_running_apps(&self) -> StoreResult<Vec<AppRecord>> {
        read(self, |conn| {
            let rows: Vec<AppRow> = sql::load(
                conn,
                &format!("SELECT {APP_COLUMNS} FROM deploy_apps WHERE state = $1 ORDER BY id"),
                args![AppLifecycle::Running.as_str()],
            )?;
            Ok(apps(rows)?)
        })
    }

    fn update_app(&self, app: &AppRecord) -> StoreResult<()> {
        let scale_override = app.scale_override.as_ref().map(Json::to_string);
        self.transaction(Isolation::ReadCommitted, |conn| {
            let changed = sql::execute(
                conn,
                "UPDATE deploy_apps SET state = $2, current_release = $3, scale_override = $4, \
                 updated_at = $5 WHERE id = $1",
                args![
                    app.id.as_str(),
                    app.state.as_str(),
                    app.current_release.map(i64::from),
                    scale_override.clone(),
                    micros(app.updated_at)
                ],
            )?;
            if changed == 0 {
                return Err(not_found("app", &app.id).into());
            }
            Ok(())
        })
    }

    fn add_release(&self, release: &NewRelease) -> StoreResult<ReleaseRecord> {
        let spec = release.spec.to_string();
        self.transaction(Isolation::ReadCommitted, |conn| {
            // The application's row lock orders concurrent releases of it.
            let lock = for_update(conn);
            let app: Option<Key> = sql::first(
                conn,
                &format!("SELECT id FROM deploy_apps WHERE id = $1{lock}"),
                args![release.app.as_str()],
            )?;
            if app.is_none() {
                return Err(not_found("app", &release.app).into());
            }
            let last: Option<Number> = sql::first(
                conn,
                "SELECT COALESCE(MAX(version), 0) AS value FROM deploy_releases WHERE app = $1",
                args![release.app.as_str()],
            )?;
            let number = version(last.map_or(0, |n| n.value) + 1)?;
            let record = ReleaseRecord {
                app: release.app.clone(),
                version: number,
                spec: release.spec.clone(),
                rollback_of: release.rollback_of,
                description: release.description.clone(),
                status: ReleaseStatus::Pending,
                reason: None,
                created_by: release.created_by.clone(),
                created_at: release.created_at,
                updated_at: release.created_at,
            };
            sql::execute(
                conn,
                "INSERT INTO deploy_releases (app, version, spec, rollback_of, description, \
                 status, reason, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $8)",
                args![
                    release.app.as_str(),
                    i64::from(number),
                    &spec,
                    release.rollback_of.map(i64::from),
                    &release.description,
                    ReleaseStatus::Pending.as_str(),
                    release.created_by.as_str(),
                    micros(release.created_at)
                ],
            )?;
            sql::execute(
                conn,
                "UPDATE deploy_apps SET current_release = $2, updated_at = $3 WHERE id = $1",
                args![
                    release.app.as_str(),
                    i64::from(number),
                    micros(release.created_at)
                ],
            )?;
            Ok(record)
        })
    }

    fn set_release_status(
        &self,
        app: &AppId,
        version: u32,
        status: ReleaseStatus,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<ReleaseRecord> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            let changed = sql::execute(
                conn,
                "UPDATE deploy_releases SET status = $3, reason = $4, updated_at = $5 \
                 WHERE app = $1 AND version = $2",
                args![
                    app.as_str(),
                    i64::from(version),
                    status.as_str(),
                    reason,
                    micros(at)
                ],
            )?;
            if changed == 0 {
                return Err(not_found("release", format!("{app}/{version}")).into());
            }
            load_release(conn, app, version)?
                .ok_or_else(|| not_found("release", format!("{app}/{version}")).into())
        })
    }

    fn get_release(&self, app: &AppId, version: u32) -> StoreResult<Option<ReleaseRecord>> {
        read(self, |conn| load_release(conn, app, version))
    }

    fn list_releases(&self, app: &AppId) -> StoreResult<Vec<ReleaseRecord>> {
        read(self, |conn| {
            let rows: Vec<ReleaseRow> = sql::load(
                conn,
                &format!(
                    "SELECT {RELEASE_COLUMNS} FROM deploy_releases WHERE app = $1 \
                     ORDER BY version DESC"
                ),
                args![app.as_str()],
            )?;
            Ok(rows
                .into_iter()
                .map(ReleaseRow::into_record)
                .collect::<StoreResult<Vec<_>>>()?)
        })
    }

    fn create_build(&self, build: &BuildRecord) -> StoreResult<()> {
        let source = build.source.to_string();
        self.transaction(Isolation::ReadCommitted, |conn| {
            sql::execute(
                conn,
                "INSERT INTO deploy_builds \
                 (id, app, source, image, status, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                args![
                    build.id.as_str(),
                    build.app.as_str(),
                    &source,
                    &build.image,
                    build.status.as_str(),
                    build.created_by.as_str(),
                    micros(build.created_at),
                    micros(build.updated_at)
                ],
            )
            .map_err(missing_is_not_found("app", &build.app))?;
            Ok(())
        })
    }

    fn set_build_status(
        &self,
        id: &BuildId,
        status: BuildStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<BuildRecord> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            let row: Option<BuildRow> = sql::first(
                conn,
                &format!(
                    "UPDATE deploy_builds SET status = $2, updated_at = $3 WHERE id = $1 \
                     RETURNING {BUILD_COLUMNS}"
                ),
                args![id.as_str(), status.as_str(), micros(at)],
            )?;
            match row {
                Some(row) => Ok(row.into_record()?),
                None => Err(not_found("build", id).into()),
            }
        })
    }

    fn get_build(&self, app: &AppId, id: &BuildId) -> StoreResult<Option<BuildRecord>> {
        read(self, |conn| {
            let row: Option<BuildRow> = sql::first(
                conn,
                &format!("SELECT {BUILD_COLUMNS} FROM deploy_builds WHERE id = $1 AND app = $2"),
                args![id.as_str(), app.as_str()],
            )?;
            Ok(row.map(BuildRow::into_record).transpose()?)
        })
    }

    fn meter_mark(&self, app: &AppId) -> StoreResult<Option<DateTime<Utc>>> {
        read(self, |conn| {
            let row: Option<Number> = sql::first(
                conn,
                "SELECT mark AS value FROM deploy_meter_marks WHERE app = $1",
                args![app.as_str()],
            )?;
            Ok(row.map(|r| from_micros(r.value)).transpose()?)
        })
    }

    fn set_meter_mark(&self, app: &AppId, until: DateTime<Utc>) -> StoreResult<()> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            sql::execute(
                conn,
                "INSERT INTO deploy_meter_marks (app, mark) VALUES ($1, $2) \
                 ON CONFLICT (app) DO UPDATE SET mark = excluded.mark \
                 WHERE deploy_meter_marks.mark < excluded.mark",
                args![app.as_str(), micros(until)],
            )
            .map_err(missing_is_not_found("app", app))?;
            Ok(())
        })
    }
}
