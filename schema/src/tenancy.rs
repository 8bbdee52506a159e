//! `TenancyStore` on [`Database`]: enterprises, members, applications,
//! invitations, projects and templates. Every read of an enterprise's rows
//! filters by the enterprise (or the caller's [`RowScope`]) in SQL; a row of
//! another enterprise answers `NotFound`, exactly as a missing one.
//!
//! The one-administrator rule is the partial unique index
//! `members_one_admin`; the methods that move the role or remove members
//! write guarded on `is_admin`, so concurrent calls cannot leave an
//! enterprise with none.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use shiyun_core::Detail;
use shiyun_core::store::{StoreError, StoreResult};
use shiyun_core::tenancy::{
    AccountId, Application, ApplicationId, BuiltInTemplate, DataScope, Enterprise, EnterpriseId,
    Invitation, InvitationId, Member, MemberAccess, Permission, Project, ProjectId, RequestStatus,
    RowScope, Rows, Template, TemplateId, TenancyStore,
};

use crate::db::{Database, Db, DbConnection, Isolation, TxError};
use crate::schema::{
    api_keys, applications, enterprises, invitations, members, project_members, projects, templates,
};
use crate::time::{from_micros, micros};
use crate::user_centre::{corrupt, decode, not_found, opt_time, pg_lock, read, unique_is_conflict};

const PENDING: &str = "pending";

/// Why the owner template cannot be handed out.
const OWNER_IS_THE_ADMINS: &str = "the owner template belongs to the administrator alone; transfer the administrator role instead";

#[derive(Queryable, Selectable)]
#[diesel(table_name = enterprises)]
struct EnterpriseRecord {
    id: String,
    name: String,
    created_at: i64,
}

impl TryFrom<EnterpriseRecord> for Enterprise {
    type Error = StoreError;

    fn try_from(r: EnterpriseRecord) -> StoreResult<Enterprise> {
        Ok(Enterprise {
            id: decode(&r.id, EnterpriseId::parse)?,
            name: r.name,
            created_at: from_micros(r.created_at)?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = members)]
pub(crate) struct MemberRecord {
    enterprise_id: String,
    account_id: String,
    template_id: String,
    is_admin: bool,
    joined_at: i64,
}

impl MemberRecord {
    fn new(
        enterprise: &EnterpriseId,
        account: &AccountId,
        template: &TemplateId,
        is_admin: bool,
        at: i64,
    ) -> Self {
        MemberRecord {
            enterprise_id: enterprise.as_str().to_owned(),
            account_id: account.as_str().to_owned(),
            template_id: template.as_str().to_owned(),
            is_admin,
            joined_at: at,
        }
    }
}

impl TryFrom<MemberRecord> for Member {
    type Error = StoreError;

    fn try_from(r: MemberRecord) -> StoreResult<Member> {
        Ok(Member {
            enterprise: decode(&r.enterprise_id, EnterpriseId::parse)?,
            account: decode(&r.account_id, AccountId::parse)?,
            template: decode(&r.template_id, TemplateId::parse)?,
            is_admin: r.is_admin,
            joined_at: from_micros(r.joined_at)?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = applications)]
struct ApplicationRecord {
    id: String,
    enterprise_id: String,
    account_id: String,
    message: String,
    status: String,
    created_at: i64,
    decided_by: Option<String>,
    decided_at: Option<i64>,
}

impl TryFrom<ApplicationRecord> for Application {
    type Error = StoreError;

    fn try_from(r: ApplicationRecord) -> StoreResult<Application> {
        Ok(Application {
            id: decode(&r.id, ApplicationId::parse)?,
            enterprise: decode(&r.enterprise_id, EnterpriseId::parse)?,
            account: decode(&r.account_id, AccountId::parse)?,
            message: r.message,
            status: decode(&r.status, RequestStatus::parse)?,
            created_at: from_micros(r.created_at)?,
            decided_by: r
                .decided_by
                .as_deref()
                .map(|by| decode(by, AccountId::parse))
                .transpose()?,
            decided_at: opt_time(r.decided_at)?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = invitations)]
struct InvitationRecord {
    id: String,
    enterprise_id: String,
    email: String,
    template_id: String,
    invited_by: String,
    status: String,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<InvitationRecord> for Invitation {
    type Error = StoreError;

    fn try_from(r: InvitationRecord) -> StoreResult<Invitation> {
        Ok(Invitation {
            id: decode(&r.id, InvitationId::parse)?,
            enterprise: decode(&r.enterprise_id, EnterpriseId::parse)?,
            email: r.email,
            template: decode(&r.template_id, TemplateId::parse)?,
            invited_by: decode(&r.invited_by, AccountId::parse)?,
            status: decode(&r.status, RequestStatus::parse)?,
            created_at: from_micros(r.created_at)?,
            expires_at: from_micros(r.expires_at)?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = projects)]
struct ProjectRecord {
    id: String,
    enterprise_id: String,
    name: String,
    created_by: String,
    created_at: i64,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = templates)]
struct TemplateRecord {
    id: String,
    enterprise_id: String,
    name: String,
    permissions: String,
    data_scope: String,
}

impl TemplateRecord {
    fn new(template: &Template) -> StoreResult<Self> {
        let enterprise = template.enterprise.as_ref().ok_or_else(|| {
            shiyun_core::ValidationError::new(
                "template.enterprise",
                "an enterprise's own template names its enterprise",
            )
        })?;
        Ok(TemplateRecord {
            id: template.id.as_str().to_owned(),
            enterprise_id: enterprise.as_str().to_owned(),
            name: template.name.clone(),
            permissions: serde_json::to_string(&template.permissions)
                .map_err(|e| StoreError::Internal(format!("cannot serialise permissions: {e}")))?,
            data_scope: template.data_scope.as_str().to_owned(),
        })
    }
}

impl TryFrom<TemplateRecord> for Template {
    type Error = StoreError;

    fn try_from(r: TemplateRecord) -> StoreResult<Template> {
        let permissions: BTreeSet<Permission> = serde_json::from_str(&r.permissions)
            .map_err(|e| corrupt(format!("permissions of template {}: {e}", r.id)))?;
        Ok(Template {
            id: decode(&r.id, TemplateId::parse)?,
            enterprise: Some(decode(&r.enterprise_id, EnterpriseId::parse)?),
            name: r.name,
            permissions,
            data_scope: decode(&r.data_scope, DataScope::parse)?,
        })
    }
}

/// A template `enterprise` may use: a built-in one, or its own. With
/// `lock`, the own template's row is held (`FOR SHARE` on PostgreSQL) until
/// the transaction ends, so a concurrent `delete_template` either waits and
/// then sees the new use, or has deleted it and this finds none.
pub(crate) fn usable_template(
    conn: &mut DbConnection,
    enterprise: &EnterpriseId,
    id: &TemplateId,
    lock: bool,
) -> Result<Option<Template>, TxError> {
    if let Some(built_in) = BuiltInTemplate::from_id(id) {
        return Ok(Some(built_in.template()));
    }
    if lock {
        pg_lock(
            conn,
            "SELECT id FROM templates WHERE id = $1 AND enterprise_id = $2 FOR SHARE",
            &[id.as_str(), enterprise.as_str()],
        )?;
    }
    let found: Option<TemplateRecord> = templates::table
        .find(id.as_str())
        .filter(templates::enterprise_id.eq(enterprise.as_str()))
        .select(TemplateRecord::as_select())
        .first(conn)
        .optional()?;
    Ok(found.map(Template::try_from).transpose()?)
}

/// A template a member may be given: the enterprise has it, and it is not
/// the administrator's.
fn member_template(
    conn: &mut DbConnection,
    enterprise: &EnterpriseId,
    id: &TemplateId,
) -> Result<Template, TxError> {
    if *id == BuiltInTemplate::Owner.id() {
        return Err(StoreError::Conflict(OWNER_IS_THE_ADMINS.into()).into());
    }
    usable_template(conn, enterprise, id, true)?.ok_or_else(|| not_found("template", id).into())
}

/// `NotFound` unless the enterprise exists.
pub(crate) fn require_enterprise(
    conn: &mut DbConnection,
    enterprise: &EnterpriseId,
) -> Result<(), TxError> {
    let n: i64 = enterprises::table
        .find(enterprise.as_str())
        .count()
        .get_result(conn)?;
    if n == 0 {
        return Err(not_found("enterprise", enterprise).into());
    }
    Ok(())
}

fn is_member(
    conn: &mut DbConnection,
    enterprise: &EnterpriseId,
    account: &AccountId,
) -> QueryResult<bool> {
    let n: i64 = members::table
        .find((enterprise.as_str(), account.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The projects `scope` sees, as a query to narrow further; `None` for a
/// personal space, which has no projects.
pub(crate) fn visible_projects(scope: &RowScope) -> Option<projects::BoxedQuery<'_, Db>> {
    let enterprise = scope.tenant.enterprise()?;
    let query = projects::table
        .filter(projects::enterprise_id.eq(enterprise.as_str()))
        .into_boxed();
    Some(match &scope.rows {
        Rows::All => query,
        Rows::Own(me) => query.filter(projects::created_by.eq(me.as_str())),
        Rows::Projects { projects, own } => {
            let ids: Vec<&str> = projects.iter().map(ProjectId::as_str).collect();
            query.filter(
                projects::id
                    .eq_any(ids)
                    .or(projects::created_by.eq(own.as_str())),
            )
        }
    })
}

/// Projects with their members.
fn with_members(
    conn: &mut DbConnection,
    records: Vec<ProjectRecord>,
) -> Result<Vec<Project>, TxError> {
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let rows: Vec<(String, String)> = project_members::table
        .filter(project_members::project_id.eq_any(&ids))
        .select((project_members::project_id, project_members::account_id))
        .load(conn)?;
    let mut members: BTreeMap<String, BTreeSet<AccountId>> = BTreeMap::new();
    for (project, account) in rows {
        members
            .entry(project)
            .or_default()
            .insert(decode(&account, AccountId::parse)?);
    }
    records
        .into_iter()
        .map(|r| {
            Ok(Project {
                id: decode(&r.id, ProjectId::parse)?,
                enterprise: decode(&r.enterprise_id, EnterpriseId::parse)?,
                members: members.remove(&r.id).unwrap_or_default(),
                name: r.name,
                created_by: decode(&r.created_by, AccountId::parse)?,
                created_at: from_micros(r.created_at)?,
            })
        })
        .collect()
}

/// One project of the enterprise, with its members.
fn project_of(
    conn: &mut DbConnection,
    enterprise: &EnterpriseId,
    id: &ProjectId,
) -> Result<Option<Project>, TxError> {
    let found: Option<ProjectRecord> = projects::table
        .find(id.as_str())
        .filter(projects::enterprise_id.eq(enterprise.as_str()))
        .select(ProjectRecord::as_select())
        .first(conn)
        .optional()?;
    Ok(with_members(conn, found.into_iter().collect())?.pop())
}

/// The lowercased name enterprises are unique and searched by.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// `text` as a `LIKE` pattern matching it anywhere, `\` escaping.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl TenancyStore for Database {
    fn create_enterprise(&self, enterprise: &Enterprise, admin: &AccountId) -> StoreResult<Member> {
        let at = micros(enterprise.created_at);
        self.transaction(Isolation::ReadCommitted, |conn| {
            diesel::insert_into(enterprises::table)
                .values((
                    enterprises::id.eq(enterprise.id.as_str()),
                    enterprises::name.eq(&enterprise.name),
                    enterprises::name_key.eq(name_key(&enterprise.name)),
                    enterprises::created_at.eq(at),
                ))
                .execute(conn)?;
            let owner = MemberRecord::new(
                &enterprise.id,
                admin,
                &BuiltInTemplate::Owner.id(),
                true,
                at,
            );
            diesel::insert_into(members::table)
                .values(&owner)
                .execute(conn)?;
            Ok(Member::try_from(owner)?)
        })
    }

    fn get_enterprise(&self, id: &EnterpriseId) -> StoreResult<Option<Enterprise>> {
        read(self, |conn| {
            let found: Option<EnterpriseRecord> = enterprises::table
                .find(id.as_str())
                .select(EnterpriseRecord::as_select())
                .first(conn)
                .optional()?;
            Ok(found.map(Enterprise::try_from).transpose()?)
        })
    }

    fn find_enterprises(&self, text: &str, limit: u32) -> StoreResult<Vec<Enterprise>> {
        let pattern = contains_pattern(&name_key(text));
        read(self, |conn| {
            let found: Vec<EnterpriseRecord> = enterprises::table
                .filter(enterprises::name_key.like(&pattern).escape('\\'))
                .order((enterprises::name_key, enterprises::id))
                .limit(i64::from(limit))
                .select(EnterpriseRecord::as_select())
                .load(conn)?;
            Ok(found
                .into_iter()
                .map(Enterprise::try_from)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn memberships_of(&self, account: &AccountId) -> StoreResult<Vec<(Enterprise, Member)>> {
        read(self, |conn| {
            let found: Vec<(EnterpriseRecord, MemberRecord)> = members::table
                .inner_join(enterprises::table)
                .filter(members::account_id.eq(account.as_str()))
                .order((members::joined_at, members::enterprise_id))
                .select((EnterpriseRecord::as_select(), MemberRecord::as_select()))
                .load(conn)?;
            Ok(found
                .into_iter()
                .map(|(e, m)| Ok((Enterprise::try_from(e)?, Member::try_from(m)?)))
                .collect::<StoreResult<_>>()?)
        })
    }

    fn member_access(
        &self,
        enterprise: &EnterpriseId,
        account: &AccountId,
    ) -> StoreResult<Option<MemberAccess>> {
        read(self, |conn| {
            let found: Option<MemberRecord> = members::table
                .find((enterprise.as_str(), account.as_str()))
                .select(MemberRecord::as_select())
                .first(conn)
                .optional()?;
            let Some(member) = found else {
                return Ok(None);
            };
            let member = Member::try_from(member)?;
            let template =
                usable_template(conn, enterprise, &member.template, false)?.ok_or_else(|| {
                    corrupt(format!(
                        "member {} of {enterprise} has template {}, which it does not have",
                        member.account, member.template
                    ))
                })?;
            let ids: Vec<String> = project_members::table
                .inner_join(projects::table)
                .filter(projects::enterprise_id.eq(enterprise.as_str()))
                .filter(project_members::account_id.eq(account.as_str()))
                .select(project_members::project_id)
                .load(conn)?;
            let projects = ids
                .iter()
                .map(|id| decode(id, ProjectId::parse))
                .collect::<StoreResult<_>>()?;
            Ok(Some(MemberAccess {
                member,
                template,
                projects,
            }))
        })
    }

    fn list_members(&self, enterprise: &EnterpriseId) -> StoreResult<Vec<Member>> {
        read(self, |conn| {
            let found: Vec<MemberRecord> = members::table
                .filter(members::enterprise_id.eq(enterprise.as_str()))
                .order((members::joined_at, members::account_id))
                .select(MemberRecord::as_select())
                .load(conn)?;
            Ok(found
                .into_iter()
                .map(Member::try_from)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn set_member_template(
        &self,
        enterprise: &EnterpriseId,
        account: &AccountId,
        template: &TemplateId,
    ) -> StoreResult<Member> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            if !is_member(conn, enterprise, account)? {
                return Err(not_found("member", account).into());
            }
            member_template(conn, enterprise, template)?;
            // Guarded on `is_admin`: a concurrent transfer that made this
            // member the administrator wins, and this call conflicts.
            let row = members::table.find((enterprise.as_str(), account.as_str()));
            let updated = diesel::update(row)
                .filter(members::is_admin.eq(false))
                .set(members::template_id.eq(template.as_str()))
                .execute(conn)?;
            let member: Option<MemberRecord> = row
                .select(MemberRecord::as_select())
                .first(conn)
                .optional()?;
            match (updated, member) {
                (1, Some(member)) => Ok(Member::try_from(member)?),
                (_, Some(_)) => Err(StoreError::Conflict(
                    "the administrator keeps the owner template".into(),
                )
                .into()),
                (_, None) => Err(not_found("member", account).into()),
            }
        })
    }

    fn remove_member(
        &self,
        enterprise: &EnterpriseId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = micros(at);
        self.transaction(Isolation::ReadCommitted, |conn| {
            let removed =
                diesel::delete(members::table.find((enterprise.as_str(), account.as_str())))
                    .filter(members::is_admin.eq(false))
                    .execute(conn)?;
            if removed == 0 {
                return Err(if is_member(conn, enterprise, account)? {
                    StoreError::Conflict(
                        "the administrator cannot leave or be removed; transfer the role first"
                            .into(),
                    )
                } else {
                    not_found("member", account)
                }
                .into());
            }
            let of_enterprise = projects::table
                .filter(projects::enterprise_id.eq(enterprise.as_str()))
                .select(projects::id);
            diesel::delete(
                project_members::table
                    .filter(project_members::account_id.eq(account.as_str()))
                    .filter(project_members::project_id.eq_any(of_enterprise)),
            )
            .execute(conn)?;
            diesel::update(
                api_keys::table
                    .filter(api_keys::enterprise_id.eq(enterprise.as_str()))
                    .filter(api_keys::created_by.eq(account.as_str()))
                    .filter(api_keys::revoked_at.is_null()),
            )
            .set(api_keys::revoked_at.eq(Some(now)))
            .execute(conn)?;
            Ok(())
        })
    }

    fn transfer_admin(
        &self,
        enterprise: &EnterpriseId,
        from: &AccountId,
        to: &AccountId,
        then: &TemplateId,
    ) -> StoreResult<()> {
        let not_admin = || {
            TxError::Store(StoreError::Conflict(format!(
                "{from} is not the administrator of {enterprise}"
            )))
        };
        self.transaction(Isolation::ReadCommitted, |conn| {
            if from == to {
                let admin: i64 = members::table
                    .find((enterprise.as_str(), from.as_str()))
                    .filter(members::is_admin.eq(true))
                    .count()
                    .get_result(conn)?;
                return if admin == 1 { Ok(()) } else { Err(not_admin()) };
            }
            member_template(conn, enterprise, then)?;
            // Guarded: of two concurrent transfers the second waits for the
            // first's row lock, then finds `from` no longer the
            // administrator and changes nothing.
            let demoted = diesel::update(members::table.find((enterprise.as_str(), from.as_str())))
                .filter(members::is_admin.eq(true))
                .set((
                    members::is_admin.eq(false),
                    members::template_id.eq(then.as_str()),
                ))
                .execute(conn)?;
            if demoted == 0 {
                return Err(not_admin());
            }
            let promoted = diesel::update(members::table.find((enterprise.as_str(), to.as_str())))
                .set((
                    members::is_admin.eq(true),
                    members::template_id.eq(BuiltInTemplate::Owner.id().as_str().to_owned()),
                ))
                .execute(conn)?;
            if promoted == 0 {
                // Rolls the demotion back with it.
                return Err(not_found("member", to).into());
            }
            Ok(())
        })
    }

    fn create_application(&self, application: &Application) -> StoreResult<()> {
        let row = ApplicationRecord {
            id: application.id.as_str().to_owned(),
            enterprise_id: application.enterprise.as_str().to_owned(),
            account_id: application.account.as_str().to_owned(),
            message: application.message.clone(),
            status: application.status.as_str().to_owned(),
            created_at: micros(application.created_at),
            decided_by: application
                .decided_by
                .as_ref()
                .map(|by| by.as_str().to_owned()),
            decided_at: application.decided_at.map(micros),
        };
        self.transaction(Isolation::ReadCommitted, |conn| {
            require_enterprise(conn, &application.enterprise)?;
            if is_member(conn, &application.enterprise, &application.account)? {
                return Err(
                    StoreError::Conflict("already a member of this enterprise".into()).into(),
                );
            }
            diesel::insert_into(applications::table)
                .values(&row)
                .execute(conn)
                .map_err(unique_is_conflict(
                    "an application to this enterprise is already pending",
                ))?;
            Ok(())
        })
    }

    fn list_applications(
        &self,
        enterprise: &EnterpriseId,
        status: Option<RequestStatus>,
    ) -> StoreResult<Vec<Application>> {
        read(self, |conn| {
            let mut query = applications::table
                .filter(applications::enterprise_id.eq(enterprise.as_str()))
                .order((applications::created_at.desc(), applications::id.desc()))
                .select(ApplicationRecord::as_select())
                .into_boxed();
            if let Some(status) = status {
                query = query.filter(applications::status.eq(status.as_str()));
            }
            let found: Vec<ApplicationRecord> = query.load(conn)?;
            Ok(found
                .into_iter()
                .map(Application::try_from)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn applications_of(&self, account: &AccountId) -> StoreResult<Vec<Application>> {
        read(self, |conn| {
            let found: Vec<ApplicationRecord> = applications::table
                .filter(applications::account_id.eq(account.as_str()))
                .order((applications::created_at.desc(), applications::id.desc()))
                .select(ApplicationRecord::as_select())
                .load(conn)?;
            Ok(found
                .into_iter()
                .map(Application::try_from)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn decide_application(
        &self,
        enterprise: &EnterpriseId,
        id: &ApplicationId,
        approve: bool,
        template: &TemplateId,
        by: &AccountId,
        at: DateTime<Utc>,
    ) -> StoreResult<Application> {
        let now = micros(at);
        let status = if approve {
            RequestStatus::Approved
        } else {
            RequestStatus::Rejected
        };
        let no_longer_pending = || {
            TxError::Store(StoreError::Conflict(
                "the application is no longer pending".into(),
            ))
        };
        self.transaction(Isolation::ReadCommitted, |conn| {
            let found: Option<ApplicationRecord> = applications::table
                .find(id.as_str())
                .filter(applications::enterprise_id.eq(enterprise.as_str()))
                .select(ApplicationRecord::as_select())
                .first(conn)
                .optional()?;
            let Some(application) = found else {
                return Err(not_found("application", id).into());
            };
            if application.status != PENDING {
                return Err(no_longer_pending());
            }
            let account = decode(&application.account_id, AccountId::parse)?;
            if approve {
                member_template(conn, enterprise, template)?;
                if is_member(conn, enterprise, &account)? {
                    return Err(
                        StoreError::Conflict("already a member of this enterprise".into()).into(),
                    );
                }
            }
            let row = applications::table.find(id.as_str());
            let decided = diesel::update(row)
                .filter(applications::status.eq(PENDING))
                .set((
                    applications::status.eq(status.as_str()),
                    applications::decided_by.eq(Some(by.as_str())),
                    applications::decided_at.eq(Some(now)),
                ))
                .execute(conn)?;
            if decided == 0 {
                return Err(no_longer_pending());
            }
            if approve {
                diesel::insert_into(members::table)
                    .values(MemberRecord::new(
                        enterprise, &account, template, false, now,
                    ))
                    .execute(conn)
                    .map_err(unique_is_conflict("already a member of this enterprise"))?;
            }
            let decided: ApplicationRecord =
                row.select(ApplicationRecord::as_select()).first(conn)?;
            Ok(Application::try_from(decided)?)
        })
    }

    fn create_invitation(&self, invitation: &Invitation, token_hash: &str) -> StoreResult<()> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            require_enterprise(conn, &invitation.enterprise)?;
            member_template(conn, &invitation.enterprise, &invitation.template)?;
            diesel::insert_into(invitations::table)
                .values((
                    invitations::id.eq(invitation.id.as_str()),
                    invitations::enterprise_id.eq(invitation.enterprise.as_str()),
                    invitations::email.eq(&invitation.email),
                    invitations::template_id.eq(invitation.template.as_str()),
                    invitations::invited_by.eq(invitation.invited_by.as_str()),
                    invitations::status.eq(invitation.status.as_str()),
                    invitations::token_hash.eq(token_hash),
                    invitations::created_at.eq(micros(invitation.created_at)),
                    invitations::expires_at.eq(micros(invitation.expires_at)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    fn list_invitations(&self, enterprise: &EnterpriseId) -> StoreResult<Vec<Invitation>> {
        read(self, |conn| {
            let found: Vec<InvitationRecord> = invitations::table
                .filter(invitations::enterprise_id.eq(enterprise.as_str()))
                .order((invitations::created_at.desc(), invitations::id.desc()))
                .select(InvitationRecord::as_select())
                .load(conn)?;
            Ok(found
                .into_iter()
                .map(Invitation::try_from)
                .collect::<StoreResult<_>>()?)
        })
    }

    fn accept_invitation(
        &self,
        token_hash: &str,
        account: &AccountId,
        email: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Member> {
        let now = micros(at);
        let email = email.trim().to_lowercase();
        // The token is a secret: whatever is wrong with it reads alike.
        let refused = || TxError::Store(not_found("invitation", "syi_…"));
        self.transaction(Isolation::ReadCommitted, |conn| {
            let found: Option<InvitationRecord> = invitations::table
                .filter(invitations::token_hash.eq(token_hash))
                .select(InvitationRecord::as_select())
                .first(conn)
                .optional()?;
            let Some(invitation) = found else {
                return Err(refused());
            };
            if invitation.status != PENDING
                || invitation.expires_at <= now
                || invitation.email.to_lowercase() != email
            {
                return Err(refused());
            }
            let enterprise = decode(&invitation.enterprise_id, EnterpriseId::parse)?;
            let template = decode(&invitation.template_id, TemplateId::parse)?;
            if usable_template(conn, &enterprise, &template, true)?.is_none() {
                return Err(refused());
            }
            if is_member(conn, &enterprise, account)? {
                return Err(
                    StoreError::Conflict("already a member of this enterprise".into()).into(),
                );
            }
            let accepted = diesel::update(invitations::table.find(&invitation.id))
                .filter(invitations::status.eq(PENDING))
                .set(invitations::status.eq(RequestStatus::Approved.as_str()))
                .execute(conn)?;
            if accepted == 0 {
                return Err(refused());
            }
            let member = MemberRecord::new(&enterprise, account, &template, false, now);
            diesel::insert_into(members::table)
                .values(&member)
                .execute(conn)
                .map_err(unique_is_conflict("already a member of this enterprise"))?;
            Ok(Member::try_from(member)?)
        })
    }

    fn revoke_invitation(&self, enterprise: &EnterpriseId, id: &InvitationId) -> StoreResult<()> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            let of_enterprise = invitations::table
                .find(id.as_str())
                .filter(invitations::enterprise_id.eq(enterprise.as_str()));
            let revoked = diesel::update(of_enterprise)
                .filter(invitations::status.eq(PENDING))
                .set(invitations::status.eq(RequestStatus::Rejected.as_str()))
                .execute(conn)?;
            if revoked == 0 {
                let exists: i64 = of_enterprise.count().get_result(conn)?;
                return Err(if exists == 0 {
                    not_found("invitation", id)
                } else {
                    StoreError::Conflict("the invitation is no longer pending".into())
                }
                .into());
            }
            Ok(())
        })
    }

    fn create_project(&self, project: &Project) -> StoreResult<()> {
        let row = ProjectRecord {
            id: project.id.as_str().to_owned(),
            enterprise_id: project.enterprise.as_str().to_owned(),
            name: project.name.clone(),
            created_by: project.created_by.as_str().to_owned(),
            created_at: micros(project.created_at),
        };
        let mut people: BTreeSet<&AccountId> = project.members.iter().collect();
        people.insert(&project.created_by);
        self.transaction(Isolation::ReadCommitted, |conn| {
            require_enterprise(conn, &project.enterprise)?;
            for person in &people {
                if !is_member(conn, &project.enterprise, person)? {
                    return Err(not_found("member", person).into());
                }
            }
            diesel::insert_into(projects::table)
                .values(&row)
                .execute(conn)?;
            for person in &people {
                diesel::insert_into(project_members::table)
                    .values((
                        project_members::project_id.eq(project.id.as_str()),
                        project_members::account_id.eq(person.as_str()),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    fn list_projects(&self, scope: &RowScope) -> StoreResult<Vec<Project>> {
        let Some(query) = visible_projects(scope) else {
            return Ok(Vec::new());
        };
        read(self, |conn| {
            let found: Vec<ProjectRecord> = query
                .order((projects::name, projects::id))
                .select(ProjectRecord::as_select())
                .load(conn)?;
            with_members(conn, found)
        })
    }

    fn get_project(&self, scope: &RowScope, id: &ProjectId) -> StoreResult<Option<Project>> {
        let Some(query) = visible_projects(scope) else {
            return Ok(None);
        };
        read(self, |conn| {
            let found: Option<ProjectRecord> = query
                .filter(projects::id.eq(id.as_str()))
                .select(ProjectRecord::as_select())
                .first(conn)
                .optional()?;
            Ok(with_members(conn, found.into_iter().collect())?.pop())
        })
    }

    fn set_project_member(
        &self,
        enterprise: &EnterpriseId,
        project: &ProjectId,
        account: &AccountId,
        member: bool,
    ) -> StoreResult<Project> {
        self.transaction(Isolation::ReadCommitted, |conn| {
            if project_of(conn, enterprise, project)?.is_none() {
                return Err(not_found("project", project).into());
            }
            if !is_member(conn, enterprise, account)? {
                return Err(not_found("member", account).into());
            }
            if member {
                // Adding twice, or concurrently, is one membership.
                diesel::sql_query(
                    "INSERT INTO project_members (project_id, account_id) VALUES ($1, $2) \
                     ON CONFLICT (project_id, account_id) DO NOTHING",
                )
                .bind::<Text, _>(project.as_str())
                .bind::<Text, _>(account.as_str())
                .execute(conn)?;
            } else {
                diesel::delete(project_members::table.find((project.as_str(), account.as_str())))
                    .execute(conn)?;
            }
            project_of(conn, enterprise, project)?
                .ok_or_else(|| not_found("project", project).into())
        })
    }

    fn create_template(&self, template: &Template) -> StoreResult<()> {
        let row = TemplateRecord::new(template)?;
        let built_in = BuiltInTemplate::ALL
            .iter()
            .any(|b| b.id() == template.id || b.name().eq_ignore_ascii_case(template.name.trim()));
        if built_in {
            return Err(StoreError::AlreadyExists {
                detail: Detail::new("the id or name of a built-in template"),
            });
        }
        self.transaction(Isolation::ReadCommitted, |conn| {
            let enterprise = decode(&row.enterprise_id, EnterpriseId::parse)?;
            require_enterprise(conn, &enterprise)?;
            diesel::insert_into(templates::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
    }

    fn update_template(&self, template: &Template) -> StoreResult<()> {
        if BuiltInTemplate::from_id(&template.id).is_some() {
            return Err(StoreError::Conflict(
                "built-in templates cannot be changed".into(),
            ));
        }
        let row = TemplateRecord::new(template)?;
        if BuiltInTemplate::ALL
            .iter()
            .any(|b| b.name().eq_ignore_ascii_case(template.name.trim()))
        {
            return Err(StoreError::AlreadyExists {
                detail: Detail::new("the name of a built-in template"),
            });
        }
        self.transaction(Isolation::ReadCommitted, |conn| {
            let updated = diesel::update(
                templates::table
                    .find(&row.id)
                    .filter(templates::enterprise_id.eq(&row.enterprise_id)),
            )
            .set(&row)
            .execute(conn)?;
            if updated == 0 {
                return Err(not_found("template", &template.id).into());
            }
            Ok(())
        })
    }

    fn delete_template(&self, enterprise: &EnterpriseId, id: &TemplateId) -> StoreResult<()> {
        if BuiltInTemplate::from_id(id).is_some() {
            return Err(StoreError::Conflict(
                "built-in templates cannot be deleted".into(),
            ));
        }
        self.transaction(Isolation::ReadCommitted, |conn| {
            // Delete first: the row lock makes concurrent assignments (which
            // hold it `FOR SHARE`) finish before the checks below read.
            let deleted = diesel::delete(
                templates::table
                    .find(id.as_str())
                    .filter(templates::enterprise_id.eq(enterprise.as_str())),
            )
            .execute(conn)?;
            if deleted == 0 {
                return Err(not_found("template", id).into());
            }
            let members: i64 = members::table
                .filter(members::enterprise_id.eq(enterprise.as_str()))
                .filter(members::template_id.eq(id.as_str()))
                .count()
                .get_result(conn)?;
            let keys: i64 = api_keys::table
                .filter(api_keys::enterprise_id.eq(enterprise.as_str()))
                .filter(api_keys::template_id.eq(id.as_str()))
                .filter(api_keys::revoked_at.is_null())
                .count()
                .get_result(conn)?;
            // A pending invitation would make a member with it on acceptance.
            let invitations: i64 = invitations::table
                .filter(invitations::enterprise_id.eq(enterprise.as_str()))
                .filter(invitations::template_id.eq(id.as_str()))
                .filter(invitations::status.eq(PENDING))
                .count()
                .get_result(conn)?;
            if members + keys + invitations > 0 {
                // Rolls the delete back.
                return Err(StoreError::Conflict(format!(
                    "template {id} is in use by {members} member(s), {keys} key(s) and \
                     {invitations} pending invitation(s)"
                ))
                .into());
            }
            Ok(())
        })
    }

    fn get_template(
        &self,
        enterprise: &EnterpriseId,
        id: &TemplateId,
    ) -> StoreResult<Option<Template>> {
        read(self, |conn| usable_template(conn, enterprise, id, false))
    }

    fn list_templates(&self, enterprise: &EnterpriseId) -> StoreResult<Vec<Template>> {
        let mut all: Vec<Template> = BuiltInTemplate::ALL.iter().map(|b| b.template()).collect();
        let own: Vec<TemplateRecord> = read(self, |conn| {
            Ok(templates::table
                .filter(templates::enterprise_id.eq(enterprise.as_str()))
                .order((templates::name, templates::id))
                .select(TemplateRecord::as_select())
                .load(conn)?)
        })?;
        for record in own {
            all.push(record.try_into()?);
        }
        Ok(all)
    }
}
