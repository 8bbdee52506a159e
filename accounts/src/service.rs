//! The user centre's calls. Each takes the caller's [`Principal`] (resolved
//! by [`UserCentre::authenticate`]) where it acts for a tenant, and a
//! [`CallContext`] for audit and rate limits.
//!
//! Feature permissions are enforced before these calls by the server's route
//! table; the calls still check what only they can know (the caller is in an
//! enterprise, the row is in the caller's scope, the administrator rules).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use shiyun_core::tenancy::{
    Account, AccountId, ApiKey, ApiKeyId, Application, ApplicationId, AuditEvent, Channel,
    DataScope, Enterprise, EnterpriseId, Identity, Invitation, InvitationId, Member, Permission,
    Principal, Project, ProjectId, RequestStatus, Template, TemplateId, UserCentreStore,
};

use crate::config::AccountsConfig;
use crate::error::AccountError;
use crate::mail::Notifier;

/// Result of a user-centre call.
pub type AccountResult<T> = Result<T, AccountError>;

/// Where a call comes from.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The caller's IP address.
    pub ip: Option<IpAddr>,
}

/// Tokens given at log-in, refresh and identity switch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    /// Bearer token for requests (a signed JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Single-use token for `POST /v1/auth/refresh`.
    pub refresh_token: String,
    /// The identity the tokens act as.
    pub identity: Identity,
}

/// The caller's account, identities and current identity.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    /// The account.
    pub account: Account,
    /// The identity this request acts as.
    pub identity: Identity,
    /// Permissions of that identity.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Permission>))]
    pub permissions: BTreeSet<Permission>,
    /// Its data scope.
    pub data_scope: DataScope,
    /// The enterprises the account can switch to, with its membership.
    pub enterprises: Vec<(Enterprise, Member)>,
}

/// A template to create or replace.
#[derive(Debug, Clone)]
pub struct TemplateSpec {
    /// Name, unique within the enterprise.
    pub name: String,
    /// Feature permissions.
    pub permissions: BTreeSet<Permission>,
    /// Data scope.
    pub data_scope: DataScope,
}

/// An API key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// A label.
    pub name: String,
    /// The template it acts with.
    pub template: TemplateId,
    /// Its project, if any.
    pub project: Option<ProjectId>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new key: its record, and its secret text, shown once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    /// The key.
    pub key: ApiKey,
    /// The bearer token (`sy_key_…`); only its hash is kept.
    pub secret: String,
}

/// The user centre over one store.
#[derive(Clone)]
pub struct UserCentre {
    store: Arc<dyn UserCentreStore>,
    config: Arc<AccountsConfig>,
    notifier: Arc<dyn Notifier>,
}

impl UserCentre {
    /// A user centre over `store`, sending through `notifier`.
    pub fn new(
        store: Arc<dyn UserCentreStore>,
        config: AccountsConfig,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        UserCentre {
            store,
            config: Arc::new(config),
            notifier,
        }
    }

    // ---- accounts and sessions ----

    /// Registers an account. Answers the same whether or not the login is
    /// taken (a taken one gets a notice instead), and sends a confirmation code.
    pub fn register(
        &self,
        login: &str,
        password: &str,
        display_name: Option<&str>,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }
    /// Logs in: a token pair acting as the personal identity.
    pub fn login(
        &self,
        login: &str,
        password: &str,
        ctx: &CallContext,
    ) -> AccountResult<TokenPair> {
        unimplemented!()
    }
    /// Rotates a refresh token.
    pub fn refresh(&self, refresh_token: &str, ctx: &CallContext) -> AccountResult<TokenPair> {
        unimplemented!()
    }
    /// Ends the caller's session.
    pub fn logout(&self, caller: &Principal, ctx: &CallContext) -> AccountResult<()> {
        unimplemented!()
    }
    /// Resolves a bearer token (access token or API key) to the caller.
    pub fn authenticate(&self, bearer: &str, ctx: &CallContext) -> AccountResult<Principal> {
        unimplemented!()
    }
    /// The caller's account and identities.
    pub fn me(&self, caller: &Principal) -> AccountResult<Me> {
        unimplemented!()
    }
    /// Switches the caller's session to another identity; new tokens.
    pub fn switch_identity(
        &self,
        caller: &Principal,
        identity: Identity,
        ctx: &CallContext,
    ) -> AccountResult<TokenPair> {
        unimplemented!()
    }
    /// Changes the password; other sessions end.
    pub fn change_password(
        &self,
        caller: &Principal,
        current: &str,
        new: &str,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }
    /// Sends a reset token if the login has an account; answers the same either way.
    pub fn request_password_reset(&self, login: &str, ctx: &CallContext) -> AccountResult<()> {
        unimplemented!()
    }
    /// Sets a new password with a reset token; every session ends.
    pub fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }
    /// Sends a code to confirm `target` as the caller's email or phone.
    pub fn start_binding(
        &self,
        caller: &Principal,
        channel: Channel,
        target: &str,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }
    /// Confirms the code; the target becomes the account's confirmed email or phone.
    pub fn confirm_binding(
        &self,
        caller: &Principal,
        channel: Channel,
        code: &str,
        ctx: &CallContext,
    ) -> AccountResult<Account> {
        unimplemented!()
    }
    /// Creates a platform operator account (CLI), or makes an existing
    /// account one when the password matches.
    pub fn create_operator(
        &self,
        login: &str,
        password: &str,
        display_name: &str,
    ) -> AccountResult<Account> {
        unimplemented!()
    }

    // ---- enterprises and staff ----

    /// Creates an enterprise; the caller becomes its administrator.
    pub fn create_enterprise(
        &self,
        caller: &Principal,
        name: &str,
        ctx: &CallContext,
    ) -> AccountResult<Enterprise> {
        unimplemented!()
    }
    /// Enterprises by name, to apply to.
    pub fn find_enterprises(
        &self,
        caller: &Principal,
        text: &str,
    ) -> AccountResult<Vec<Enterprise>> {
        unimplemented!()
    }
    /// Applies to join an enterprise.
    pub fn apply(
        &self,
        caller: &Principal,
        enterprise: &EnterpriseId,
        message: &str,
        ctx: &CallContext,
    ) -> AccountResult<Application> {
        unimplemented!()
    }
    /// The caller's own applications.
    pub fn my_applications(&self, caller: &Principal) -> AccountResult<Vec<Application>> {
        unimplemented!()
    }
    /// The caller's enterprise's applications.
    pub fn list_applications(
        &self,
        caller: &Principal,
        status: Option<RequestStatus>,
    ) -> AccountResult<Vec<Application>> {
        unimplemented!()
    }
    /// Approves (with a template, default viewer) or rejects an application.
    pub fn decide_application(
        &self,
        caller: &Principal,
        id: &ApplicationId,
        approve: bool,
        template: Option<TemplateId>,
        ctx: &CallContext,
    ) -> AccountResult<Application> {
        unimplemented!()
    }
    /// Invites an email address; the token goes out by email.
    pub fn invite(
        &self,
        caller: &Principal,
        email: &str,
        template: TemplateId,
        ctx: &CallContext,
    ) -> AccountResult<Invitation> {
        unimplemented!()
    }
    /// The caller's enterprise's invitations.
    pub fn list_invitations(&self, caller: &Principal) -> AccountResult<Vec<Invitation>> {
        unimplemented!()
    }
    /// Withdraws an invitation.
    pub fn revoke_invitation(
        &self,
        caller: &Principal,
        id: &InvitationId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }
    /// Accepts an invitation sent to the caller's confirmed email.
    pub fn accept_invitation(
        &self,
        caller: &Principal,
        token: &str,
        ctx: &CallContext,
    ) -> AccountResult<Member> {
        unimplemented!()
    }
    /// The caller's enterprise's members.
    pub fn list_members(&self, caller: &Principal) -> AccountResult<Vec<Member>> {
        unimplemented!()
    }
    /// Gives a member another template.
    pub fn set_member_template(
        &self,
        caller: &Principal,
        account: &AccountId,
        template: &TemplateId,
        ctx: &CallContext,
    ) -> AccountResult<Member> {
        unimplemented!()
    }
    /// Removes a member.
    pub fn remove_member(
        &self,
        caller: &Principal,
        account: &AccountId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }
    /// Leaves an enterprise (not as its administrator).
    pub fn leave(
        &self,
        caller: &Principal,
        enterprise: &EnterpriseId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }
    /// Hands the administrator role to another member; the caller becomes `admin`.
    pub fn transfer_admin(
        &self,
        caller: &Principal,
        to: &AccountId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }

    // ---- projects ----

    /// Creates a project in the caller's enterprise.
    pub fn create_project(
        &self,
        caller: &Principal,
        name: &str,
        ctx: &CallContext,
    ) -> AccountResult<Project> {
        unimplemented!()
    }
    /// The projects the caller's data scope sees.
    pub fn list_projects(&self, caller: &Principal) -> AccountResult<Vec<Project>> {
        unimplemented!()
    }
    /// One project in scope.
    pub fn get_project(&self, caller: &Principal, id: &ProjectId) -> AccountResult<Project> {
        unimplemented!()
    }
    /// Adds or removes a project member.
    pub fn set_project_member(
        &self,
        caller: &Principal,
        project: &ProjectId,
        account: &AccountId,
        member: bool,
        ctx: &CallContext,
    ) -> AccountResult<Project> {
        unimplemented!()
    }

    // ---- templates ----

    /// Built-in and own templates.
    pub fn list_templates(&self, caller: &Principal) -> AccountResult<Vec<Template>> {
        unimplemented!()
    }
    /// Creates an own template.
    pub fn create_template(
        &self,
        caller: &Principal,
        spec: TemplateSpec,
        ctx: &CallContext,
    ) -> AccountResult<Template> {
        unimplemented!()
    }
    /// Replaces an own template.
    pub fn update_template(
        &self,
        caller: &Principal,
        id: &TemplateId,
        spec: TemplateSpec,
        ctx: &CallContext,
    ) -> AccountResult<Template> {
        unimplemented!()
    }
    /// Deletes an own template no one uses.
    pub fn delete_template(
        &self,
        caller: &Principal,
        id: &TemplateId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        unimplemented!()
    }

    // ---- API keys ----

    /// Creates a key for the caller's enterprise; the secret is in the answer only.
    pub fn create_api_key(
        &self,
        caller: &Principal,
        new: NewApiKey,
        ctx: &CallContext,
    ) -> AccountResult<CreatedKey> {
        unimplemented!()
    }
    /// The keys the caller's scope sees.
    pub fn list_api_keys(&self, caller: &Principal) -> AccountResult<Vec<ApiKey>> {
        unimplemented!()
    }
    /// Revokes a key.
    pub fn revoke_api_key(
        &self,
        caller: &Principal,
        id: &ApiKeyId,
        ctx: &CallContext,
    ) -> AccountResult<ApiKey> {
        unimplemented!()
    }

    // ---- audit ----

    /// The audit log of the caller's tenant (operators: `platform` for platform events).
    pub fn list_audit(
        &self,
        caller: &Principal,
        after: u64,
        limit: u32,
    ) -> AccountResult<Vec<AuditEvent>> {
        unimplemented!()
    }
}
