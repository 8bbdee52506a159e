//! `ApiKeyStore` on [`Database`]. Keys are read through the caller's
//! [`RowScope`] in SQL: all of the enterprise's, those of its projects plus
//! those it created, or only those it created.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use shiyun_core::store::{StoreError, StoreResult};
use shiyun_core::tenancy::{
    AccountId, ApiKey, ApiKeyId, ApiKeyStore, EnterpriseId, ProjectId, RowScope, Rows, TemplateId,
};

use crate::db::{Database, Db, Isolation, map_diesel};
use crate::schema::{api_keys, projects};
use crate::tenancy::{require_enterprise, usable_template};
use crate::time::{from_micros, micros};
use crate::user_centre::{decode, not_found, opt_time, read};

/// How often a key's use is written down at most.
const TOUCH_EVERY_MICROS: i64 = 60_000_000;

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys)]
struct KeyRecord {
    id: String,
    enterprise_id: String,
    template_id: String,
    project_id: Option<String>,
    name: String,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl TryFrom<KeyRecord> for ApiKey {
    type Error = StoreError;

    fn try_from(r: KeyRecord) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: decode(&r.id, ApiKeyId::parse)?,
            enterprise: decode(&r.enterprise_id, EnterpriseId::parse)?,
            template: decode(&r.template_id, TemplateId::parse)?,
            project: r
                .project_id
                .as_deref()
                .map(|p| decode(p, ProjectId::parse))
                .transpose()?,
            name: r.name,
            created_by: decode(&r.created_by, AccountId::parse)?,
            created_at: from_micros(r.created_at)?,
            expires_at: opt_time(r.expires_at)?,
            revoked_at: opt_time(r.revoked_at)?,
            last_used_at: opt_time(r.last_used_at)?,
        })
    }
}

/// The keys `scope` sees, as a query to narrow further; `None` for a
/// personal space, which has no keys.
fn visible_keys(scope: &RowScope) -> Option<api_keys::BoxedQuery<'_, Db>> {
    let enterprise = scope.tenant.enterprise()?;
    let query = api_keys::table
        .filter(api_keys::enterprise_id.eq(enterprise.as_str()))
        .into_boxed();
    Some(match &scope.rows {
        Rows::All => query,
        Rows::Own(me) => query.filter(api_keys::created_by.eq(me.as_str())),
        Rows::Projects { projects, own } => {
            let ids: Vec<&str> = projects.iter().map(ProjectId::as_str).collect();
            // A key without a project is seen only by its creator here.
            query.filter(
                api_keys::project_id
                    .eq_any(ids)
                    .or(api_keys::created_by.eq(own.as_str())),
            )
        }
    })
}

impl ApiKeyStore for Database {
    fn create_api_key(&self, key: &ApiKey, secret_hash: &str) -> StoreResult<()> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            require_enterprise(conn, &key.enterprise)?;
            if usable_template(conn, &key.enterprise, &key.template, true)?.is_none() {
                return Err(not_found("template", &key.template).into());
            }
            if let Some(project) = &key.project {
                let n: i64 = projects::table
                    .find(project.as_str())
                    .filter(projects::enterprise_id.eq(key.enterprise.as_str()))
                    .count()
                    .get_result(conn)?;
                if n == 0 {
                    return Err(not_found("project", project).into());
                }
            }
            diesel::insert_into(api_keys::table)
                .values((
                    api_keys::id.eq(key.id.as_str()),
                    api_keys::enterprise_id.eq(key.enterprise.as_str()),
                    api_keys::template_id.eq(key.template.as_str()),
                    api_keys::project_id.eq(key.project.as_ref().map(ProjectId::as_str)),
                    api_keys::name.eq(&key.name),
                    api_keys::created_by.eq(key.created_by.as_str()),
                    api_keys::secret_hash.eq(secret_hash),
                    api_keys::created_at.eq(micros(key.created_at)),
                    api_keys::expires_at.eq(key.expires_at.map(micros)),
                    api_keys::revoked_at.eq(key.revoked_at.map(micros)),
                    api_keys::last_used_at.eq(key.last_used_at.map(micros)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    fn api_key_credentials(&self, id: &ApiKeyId) -> StoreResult<Option<(ApiKey, String)>> {
        let mut conn = self.conn()?;
        let found: Option<(KeyRecord, String)> = api_keys::table
            .find(id.as_str())
            .select((KeyRecord::as_select(), api_keys::secret_hash))
            .first(&mut *conn)
            .optional()
            .map_err(map_diesel)?;
        found
            .map(|(record, hash)| Ok((ApiKey::try_from(record)?, hash)))
            .transpose()
    }

    fn list_api_keys(&self, scope: &RowScope) -> StoreResult<Vec<ApiKey>> {
        let Some(query) = visible_keys(scope) else {
            return Ok(Vec::new());
        };
        read(self, |conn| {
            let found: Vec<KeyRecord> = query
                .order((api_keys::created_at, api_keys::id))
                .select(KeyRecord::as_select())
                .load(conn)?;
            Ok(found
                .into_iter()
                .map(ApiKey::try_from)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn revoke_api_key(
        &self,
        scope: &RowScope,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> StoreResult<ApiKey> {
        let now = micros(at);
        self.transaction(Isolation::ReadCommitted, |conn| {
            let seen: Option<String> = match visible_keys(scope) {
                Some(query) => query
                    .filter(api_keys::id.eq(id.as_str()))
                    .select(api_keys::id)
                    .first(conn)
                    .optional()?,
                None => None,
            };
            if seen.is_none() {
                return Err(not_found("API key", id).into());
            }
            // Revoking twice keeps the first time.
            diesel::update(api_keys::table.find(id.as_str()))
                .filter(api_keys::revoked_at.is_null())
                .set(api_keys::revoked_at.eq(Some(now)))
                .execute(conn)?;
            let key: KeyRecord = api_keys::table
                .find(id.as_str())
                .select(KeyRecord::as_select())
                .first(conn)?;
            Ok(ApiKey::try_from(key)?)
        })
    }

    fn touch_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        let now = micros(at);
        let mut conn = self.conn()?;
        diesel::update(api_keys::table.find(id.as_str()))
            .filter(
                api_keys::last_used_at
                    .is_null()
                    .or(api_keys::last_used_at.lt(now - TOUCH_EVERY_MICROS)),
            )
            .set(api_keys::last_used_at.eq(Some(now)))
            .execute(&mut *conn)
            .map_err(map_diesel)?;
        Ok(())
    }
}
