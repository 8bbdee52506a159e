//! The user centre's storage traits, implemented by `shiyun-schema` on SQLite
//! and PostgreSQL. Every method that reads tenant data takes the tenant (or
//! a [`RowScope`]); a row of another tenant answers as if it did not exist.
//! A rule that must hold atomically (rotating a refresh token, transferring
//! the administrator, approving an application) is one method.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::store::StoreResult;
use crate::tenancy::ids::{
    AccountId, ApiKeyId, ApplicationId, EnterpriseId, InvitationId, ProjectId, SessionId,
    TemplateId, Tenant,
};
use crate::tenancy::permissions::Template;
use crate::tenancy::principal::RowScope;
use crate::tenancy::records::{
    Account, ApiKey, Application, AuditEvent, Channel, CodePurpose, CodeUse, Enterprise, Identity,
    Invitation, LockoutPolicy, LoginIdentifier, LoginThrottle, Member, NewAccount, NewAuditEvent,
    OneTimeCode, Project, RefreshToken, RequestStatus, Rotation, Session,
};

/// Accounts, their credentials, one-time codes and log-in throttling.
pub trait AccountStore: Send + Sync {
    /// Stores a new account. `AlreadyExists` when its email or phone is taken.
    fn create_account(&self, new: &NewAccount) -> StoreResult<Account>;
    /// The account with this email or phone, and its password hash.
    fn find_credentials(&self, login: &LoginIdentifier) -> StoreResult<Option<(Account, String)>>;
    /// One account.
    fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>>;
    /// Replaces the password hash and, in the same transaction, revokes every
    /// session of the account but `keep`.
    fn set_password(
        &self,
        id: &AccountId,
        password_hash: &str,
        keep: Option<&SessionId>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Binds `target` as the account's confirmed email or phone (replacing
    /// the old one). `AlreadyExists` when another account has it.
    fn bind_channel(
        &self,
        id: &AccountId,
        channel: Channel,
        target: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Account>;
    /// Makes the account a platform operator, or not.
    fn set_operator(&self, id: &AccountId, operator: bool) -> StoreResult<()>;

    /// Counts a failed log-in against `key` (a login identifier or an IP),
    /// forgetting failures older than the policy's window, and locks it at
    /// the policy's limit. Returns the state after counting.
    fn note_login_failure(
        &self,
        key: &str,
        at: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> StoreResult<LoginThrottle>;
    /// The throttle state of `key` at `at` (a lapsed lock reads as none).
    fn login_throttle(&self, key: &str, at: DateTime<Utc>) -> StoreResult<LoginThrottle>;
    /// Forgets the failures of `key` (after a successful log-in).
    fn clear_login_failures(&self, key: &str) -> StoreResult<()>;

    /// Stores a one-time code; earlier unused codes of the same purpose for
    /// the same account stop working.
    fn issue_code(&self, code: &OneTimeCode, at: DateTime<Utc>) -> StoreResult<()>;
    /// Uses a code once. With `account`, the account's current code of that
    /// purpose is checked against `hash`, and after `max_attempts` wrong
    /// tries it stops working; without, the code is found by its hash (long
    /// reset tokens). Expired, used or superseded codes are refused.
    fn consume_code(
        &self,
        purpose: CodePurpose,
        account: Option<&AccountId>,
        hash: &str,
        max_attempts: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<CodeUse>;
}

/// Log-in sessions and their rotating refresh tokens.
pub trait SessionStore: Send + Sync {
    /// Starts a session with its first refresh token.
    fn create_session(&self, session: &Session, first: &RefreshToken) -> StoreResult<()>;
    /// One session.
    fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>>;
    /// Presents a refresh token (by hash). If it is the session's current
    /// one and nothing is expired or revoked, it becomes used and `next`
    /// (whose `session` is ignored and taken from the presented token's)
    /// becomes current. If it was used before, the session is revoked.
    fn rotate_refresh(
        &self,
        presented_hash: &str,
        next: &RefreshToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Rotation>;
    /// Changes the identity the session's tokens act as.
    fn set_session_identity(&self, id: &SessionId, identity: &Identity) -> StoreResult<()>;
    /// Revokes one session (log-out). Revoking twice is not an error.
    fn revoke_session(&self, id: &SessionId, at: DateTime<Utc>) -> StoreResult<()>;
}

/// What a member may do in an enterprise, read in one go per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccess {
    /// The membership.
    pub member: Member,
    /// Its template (built-in or the enterprise's own).
    pub template: Template,
    /// The projects it belongs to.
    pub projects: BTreeSet<ProjectId>,
}

/// Enterprises, members, applications, invitations, projects and templates.
pub trait TenancyStore: Send + Sync {
    /// Creates an enterprise with `admin` as its administrator
    /// (`tpl_owner`). `AlreadyExists` when the name is taken.
    fn create_enterprise(&self, enterprise: &Enterprise, admin: &AccountId) -> StoreResult<Member>;
    /// One enterprise.
    fn get_enterprise(&self, id: &EnterpriseId) -> StoreResult<Option<Enterprise>>;
    /// Enterprises whose name contains `text` (case-insensitive), for an
    /// individual looking for one to apply to.
    fn find_enterprises(&self, text: &str, limit: u32) -> StoreResult<Vec<Enterprise>>;
    /// The enterprises an account belongs to, with its membership.
    fn memberships_of(&self, account: &AccountId) -> StoreResult<Vec<(Enterprise, Member)>>;
    /// An account's membership, template and projects in one enterprise.
    fn member_access(
        &self,
        enterprise: &EnterpriseId,
        account: &AccountId,
    ) -> StoreResult<Option<MemberAccess>>;
    /// The enterprise's members.
    fn list_members(&self, enterprise: &EnterpriseId) -> StoreResult<Vec<Member>>;
    /// Gives a member another template. `NotFound` for a non-member or a
    /// template the enterprise does not have; `Conflict` for the
    /// administrator, who keeps `tpl_owner`.
    fn set_member_template(
        &self,
        enterprise: &EnterpriseId,
        account: &AccountId,
        template: &TemplateId,
    ) -> StoreResult<Member>;
    /// Removes a member (staff removal, or leaving), with its project
    /// memberships, and revokes the API keys it created. `Conflict` for the
    /// administrator: the last administrator cannot leave.
    fn remove_member(
        &self,
        enterprise: &EnterpriseId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Makes `to` the administrator and gives `from` the `then` template, if
    /// `from` is the administrator when the transaction runs (`Conflict`
    /// otherwise, so of two concurrent transfers one fails). `NotFound` when
    /// `to` is not a member.
    fn transfer_admin(
        &self,
        enterprise: &EnterpriseId,
        from: &AccountId,
        to: &AccountId,
        then: &TemplateId,
    ) -> StoreResult<()>;

    /// Files an application. `Conflict` when the account is already a
    /// member or has a pending application there.
    fn create_application(&self, application: &Application) -> StoreResult<()>;
    /// The enterprise's applications, newest first, optionally by status.
    fn list_applications(
        &self,
        enterprise: &EnterpriseId,
        status: Option<RequestStatus>,
    ) -> StoreResult<Vec<Application>>;
    /// An account's own applications, newest first.
    fn applications_of(&self, account: &AccountId) -> StoreResult<Vec<Application>>;
    /// Approves (adding the member with `template`) or rejects a pending
    /// application of this enterprise. `NotFound` for another enterprise's
    /// application, `Conflict` when it is no longer pending.
    fn decide_application(
        &self,
        enterprise: &EnterpriseId,
        id: &ApplicationId,
        approve: bool,
        template: &TemplateId,
        by: &AccountId,
        at: DateTime<Utc>,
    ) -> StoreResult<Application>;

    /// Stores an invitation with the SHA-256 of its token.
    fn create_invitation(&self, invitation: &Invitation, token_hash: &str) -> StoreResult<()>;
    /// The enterprise's invitations, newest first.
    fn list_invitations(&self, enterprise: &EnterpriseId) -> StoreResult<Vec<Invitation>>;
    /// Accepts the pending, unexpired invitation with this token hash for
    /// `account`, whose confirmed email must be the invited one; adds the
    /// member. `NotFound` otherwise (no detail: the token is a secret).
    fn accept_invitation(
        &self,
        token_hash: &str,
        account: &AccountId,
        email: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Member>;
    /// Withdraws a pending invitation of this enterprise.
    fn revoke_invitation(&self, enterprise: &EnterpriseId, id: &InvitationId) -> StoreResult<()>;

    /// Creates a project (its creator becomes a member). `AlreadyExists`
    /// when the enterprise has one of that name.
    fn create_project(&self, project: &Project) -> StoreResult<()>;
    /// The projects `scope` sees: all, the member's, or those it created.
    fn list_projects(&self, scope: &RowScope) -> StoreResult<Vec<Project>>;
    /// One project, if `scope` sees it.
    fn get_project(&self, scope: &RowScope, id: &ProjectId) -> StoreResult<Option<Project>>;
    /// Adds (`true`) or removes a member of the enterprise to or from a
    /// project of the enterprise. `NotFound` when either is not there.
    fn set_project_member(
        &self,
        enterprise: &EnterpriseId,
        project: &ProjectId,
        account: &AccountId,
        member: bool,
    ) -> StoreResult<Project>;

    /// Stores an enterprise's own template. `AlreadyExists` on its name.
    fn create_template(&self, template: &Template) -> StoreResult<()>;
    /// Replaces an enterprise's own template (not a built-in one).
    fn update_template(&self, template: &Template) -> StoreResult<()>;
    /// Deletes an enterprise's own template. `Conflict` while members or
    /// keys use it.
    fn delete_template(&self, enterprise: &EnterpriseId, id: &TemplateId) -> StoreResult<()>;
    /// A template the enterprise can use: built-in or its own.
    fn get_template(
        &self,
        enterprise: &EnterpriseId,
        id: &TemplateId,
    ) -> StoreResult<Option<Template>>;
    /// The built-in templates, then the enterprise's own.
    fn list_templates(&self, enterprise: &EnterpriseId) -> StoreResult<Vec<Template>>;
}

/// API keys.
pub trait ApiKeyStore: Send + Sync {
    /// Stores a key with the SHA-256 of its secret.
    fn create_api_key(&self, key: &ApiKey, secret_hash: &str) -> StoreResult<()>;
    /// A key and its secret hash, to authenticate a request.
    fn api_key_credentials(&self, id: &ApiKeyId) -> StoreResult<Option<(ApiKey, String)>>;
    /// The keys `scope` sees (all, its projects', or those it created).
    fn list_api_keys(&self, scope: &RowScope) -> StoreResult<Vec<ApiKey>>;
    /// Revokes a key `scope` sees; `NotFound` otherwise. Revoking twice
    /// keeps the first time.
    fn revoke_api_key(
        &self,
        scope: &RowScope,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> StoreResult<ApiKey>;
    /// Notes a use, if the last noted one is older than a minute.
    fn touch_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> StoreResult<()>;
}

/// The append-only audit log.
pub trait AuditLog: Send + Sync {
    /// Appends an event; returns its `seq`.
    fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<u64>;
    /// Events of one tenant (or, with `None`, platform events), after
    /// `after`, oldest first.
    fn list_audit(
        &self,
        tenant: Option<&Tenant>,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
}

/// How many dead rows one [`UserCentreHousekeeping::purge_expired`] deleted,
/// per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// One-time codes and reset tokens.
    pub codes: u64,
    /// Refresh tokens.
    pub refresh_tokens: u64,
    /// Sessions.
    pub sessions: u64,
    /// Log-in throttle rows.
    pub login_throttles: u64,
    /// Invitations.
    pub invitations: u64,
}

impl PurgeReport {
    /// All rows deleted.
    pub fn total(&self) -> u64 {
        self.codes + self.refresh_tokens + self.sessions + self.login_throttles + self.invitations
    }
}

/// Deleting user-centre rows that can never be used again.
pub trait UserCentreHousekeeping: Send + Sync {
    /// Deletes, in one transaction, what is dead as of `before`:
    /// - one-time codes that are used, superseded or expired, unless an
    ///   older code of the same account and purpose is still live (only the
    ///   newest code works, so deleting a newer one could revive it);
    /// - refresh tokens of revoked or expired sessions, and used tokens
    ///   that have expired (a used token kept until then still reveals a
    ///   replay);
    /// - expired sessions (with their tokens);
    /// - throttle rows whose failures have all lapsed and whose lock ended;
    /// - invitations that expired at or before `invitations_before` (the
    ///   caller's retention; capped at `before`, so a pending invitation
    ///   goes only once expired), whatever their status.
    ///
    /// Never a live session's current token, a live code or a pending
    /// unexpired invitation; the audit log is never touched. A second call
    /// with the same times deletes nothing.
    fn purge_expired(
        &self,
        before: DateTime<Utc>,
        invitations_before: DateTime<Utc>,
    ) -> StoreResult<PurgeReport>;
}

/// Every user-centre store in one, for services that need several.
pub trait UserCentreStore:
    AccountStore + SessionStore + TenancyStore + ApiKeyStore + AuditLog + UserCentreHousekeeping
{
}

impl<T> UserCentreStore for T where
    T: AccountStore + SessionStore + TenancyStore + ApiKeyStore + AuditLog + UserCentreHousekeeping
{
}
