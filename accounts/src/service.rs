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
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::json;
use shiyun_core::error::ValidationError;
use shiyun_core::store::StoreError;
use shiyun_core::tenancy::{
    Account, AccountId, ApiKey, ApiKeyId, Application, ApplicationId, AuditEvent, BuiltInTemplate,
    Channel, CodePurpose, CodeUse, Credential, DataScope, Enterprise, EnterpriseId, Identity,
    Invitation, InvitationId, LoginIdentifier, Member, NewAccount, NewAuditEvent, OneTimeCode,
    Permission, Principal, Project, ProjectId, PurgeReport, RefreshToken, RequestStatus, Rotation,
    Session, SessionId, Template, TemplateId, Tenant, UserCentreStore,
};

use crate::clock::{Clock, SystemClock};
use crate::config::AccountsConfig;
use crate::error::AccountError;
use crate::limits::{Attempt, Limits};
use crate::mail::Notifier;
use crate::notices;
use crate::password::{self, Hasher};
use crate::tokens::{self, AccessClaims, ApiKeyText, TokenKeys};

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

/// The rules' state shared by the clones of one user centre.
struct Rules {
    hasher: Hasher,
    /// `None` only when no key could be had at all: no tokens then.
    keys: Option<TokenKeys>,
    limits: Limits,
}

impl Rules {
    fn keys(&self) -> AccountResult<&TokenKeys> {
        self.keys
            .as_ref()
            .ok_or_else(|| AccountError::Store(StoreError::Internal("no token signing key".into())))
    }
}

/// The user centre over one store.
#[derive(Clone)]
pub struct UserCentre {
    store: Arc<dyn UserCentreStore>,
    config: Arc<AccountsConfig>,
    notifier: Arc<dyn Notifier>,
    rules: Arc<Rules>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for UserCentre {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCentre").finish_non_exhaustive()
    }
}

/// Most enterprises a directory search answers.
const DIRECTORY_LIMIT: u32 = 20;
/// Most audit events one read answers.
const AUDIT_LIMIT: u32 = 500;
/// How long an expired, accepted or revoked invitation stays listed after
/// its expiry, so an administrator still sees what became of it.
pub const INVITATION_RETENTION: chrono::Duration = chrono::Duration::days(30);

impl UserCentre {
    /// A user centre over `store`, sending through `notifier`.
    ///
    /// A configuration that [`AccountsConfig::check`] refuses is logged as an
    /// error and replaced where it must be (a random signing key, the default
    /// argon2 parameters); call [`UserCentre::try_new`] to fail instead.
    pub fn new(
        store: Arc<dyn UserCentreStore>,
        config: AccountsConfig,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        match Self::try_new(store.clone(), config.clone(), notifier.clone()) {
            Ok(centre) => centre,
            Err(error) => {
                tracing::error!(%error, "user centre settings refused; tokens are signed with a random key and passwords hashed with the default parameters");
                let mut fallback = config;
                let hasher = Hasher::with_default_params();
                (fallback.argon2_memory_kib, fallback.argon2_iterations) = hasher.cost();
                // Tokens signed now die with this process; better than a guessable key.
                let keys = tokens::random_token("")
                    .and_then(|key| TokenKeys::new(key.as_bytes(), &[]))
                    .ok();
                fallback.previous_signing_keys.clear();
                let limits = Limits::new(
                    fallback.ip_attempts_per_minute,
                    fallback.login_attempts_per_minute,
                );
                UserCentre {
                    store,
                    config: Arc::new(fallback),
                    notifier,
                    rules: Arc::new(Rules {
                        hasher,
                        keys,
                        limits,
                    }),
                    clock: Arc::new(SystemClock),
                }
            }
        }
    }

    /// A user centre over `store`, or why its settings are refused.
    pub fn try_new(
        store: Arc<dyn UserCentreStore>,
        config: AccountsConfig,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Self, ValidationError> {
        config.check()?;
        let hasher = Hasher::new(config.argon2_memory_kib, config.argon2_iterations)
            .map_err(|e| ValidationError::new("argon2", e.to_string()))?;
        let previous: Vec<&[u8]> = config
            .previous_signing_keys
            .iter()
            .map(|k| k.expose_secret().as_bytes())
            .collect();
        let keys = TokenKeys::new(config.signing_key.expose_secret().as_bytes(), &previous)
            .map_err(|e| ValidationError::new("signing_key", e.to_string()))?;
        let limits = Limits::new(
            config.ip_attempts_per_minute,
            config.login_attempts_per_minute,
        );
        Ok(UserCentre {
            store,
            config: Arc::new(config),
            notifier,
            rules: Arc::new(Rules {
                hasher,
                keys: Some(keys),
                limits,
            }),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same user centre reading the time from `clock` (tests move it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Its settings.
    pub fn config(&self) -> &AccountsConfig {
        &self.config
    }

    /// Deletes the rows that can no longer be used as of now (dead codes
    /// and refresh tokens, expired sessions, lapsed throttles, invitations
    /// past [`INVITATION_RETENTION`]); a blocking call for a housekeeping
    /// task. The audit log is kept.
    pub fn purge_expired(&self) -> AccountResult<PurgeReport> {
        let now = self.now();
        let invitations_before = now
            .checked_sub_signed(INVITATION_RETENTION)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(self.store.purge_expired(now, invitations_before)?)
    }

    // ---- accounts and sessions ----

    /// Registers an account. Answers the same whether or not the login is
    /// taken (a taken one gets a notice instead), and sends a confirmation code.
    pub fn register(
        &self,
        login: &str,
        password: &str,
        display_name: Option<&str>,
        _ctx: &CallContext,
    ) -> AccountResult<()> {
        let login = LoginIdentifier::parse(login)?;
        password::check_policy(password, &[&login])?;
        let display_name = match display_name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => check_name("display_name", name, 64)?,
            None => default_display_name(&login),
        };
        // Hash on both paths, and let the store's uniqueness rule tell a
        // taken login, so both paths do the same work up to the answer.
        let hash = self.hash(password)?;
        let now = self.now();
        let account = Account {
            id: AccountId::from_random(tokens::random_bytes()?),
            email: match &login {
                LoginIdentifier::Email(e) => Some(e.clone()),
                LoginIdentifier::Phone(_) => None,
            },
            email_verified_at: None,
            phone: match &login {
                LoginIdentifier::Phone(p) => Some(p.clone()),
                LoginIdentifier::Email(_) => None,
            },
            phone_verified_at: None,
            display_name,
            operator: false,
            created_at: now,
        };
        let created = match self.store.create_account(&NewAccount {
            account,
            password_hash: hash,
        }) {
            Ok(created) => created,
            Err(StoreError::AlreadyExists { .. }) => {
                self.notifier.send(notices::already_registered(&login));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        self.send_code(&created.id, login.channel(), login.as_str())
    }

    /// Logs in: a token pair acting as the personal identity.
    ///
    /// A login identifier (not an account: unknown ones count too) is locked
    /// after the configured number of failures; a locked one answers
    /// `BadCredentials` like a wrong password, after the same argon2 work.
    /// Attempts are also limited per IP and per identifier in memory
    /// (`RateLimited`).
    pub fn login(
        &self,
        login: &str,
        password: &str,
        ctx: &CallContext,
    ) -> AccountResult<TokenPair> {
        let login = LoginIdentifier::parse(login)?;
        let key = login.as_str();
        self.rules.limits.check(Attempt::Login, ctx.ip, key)?;
        let now = self.now();
        let locked = self.store.login_throttle(key, now)?.locked_until.is_some();
        let found = self.store.find_credentials(&login)?;
        let verified = match &found {
            Some((_, hash)) => self.rules.hasher.verify(password, hash),
            None => {
                self.rules.hasher.verify_dummy(password);
                false
            }
        };
        let account = match found {
            Some((account, _)) if verified && !locked => account,
            found => {
                self.store
                    .note_login_failure(key, now, &self.config.lockout)?;
                let account = found.map(|(a, _)| a.id);
                self.audit(
                    account.clone().map(Tenant::Personal),
                    account.as_ref(),
                    "login.failed",
                    key,
                    ctx,
                    json!({ "reason": if locked { "locked" } else { "credentials" } }),
                )?;
                return Err(AccountError::BadCredentials);
            }
        };
        self.store.clear_login_failures(key)?;
        let pair = self.start_session(&account.id, Identity::Personal, now, None)?;
        self.audit(
            Some(Tenant::Personal(account.id.clone())),
            Some(&account.id),
            "login.succeeded",
            key,
            ctx,
            json!({}),
        )?;
        Ok(pair)
    }

    /// Rotates a refresh token.
    pub fn refresh(&self, refresh_token: &str, ctx: &CallContext) -> AccountResult<TokenPair> {
        let presented = refresh_token.trim();
        if !tokens::has_token_shape(presented, tokens::REFRESH_PREFIX) {
            return Err(unauthenticated("malformed refresh token"));
        }
        let now = self.now();
        let (text, next) = self.new_refresh_token(
            // The store takes the session from the presented token.
            &SessionId::from_random([0; 16]),
            now,
        )?;
        match self
            .store
            .rotate_refresh(&tokens::sha256_hex(presented), &next, now)?
        {
            Rotation::Rotated(mut session) => {
                if self.store.get_account(&session.account)?.is_none() {
                    return Err(unauthenticated("account gone"));
                }
                // A member removed meanwhile continues as their personal self.
                if let Identity::Enterprise(e) = &session.identity
                    && self.store.member_access(e, &session.account)?.is_none()
                {
                    self.store
                        .set_session_identity(&session.id, &Identity::Personal)?;
                    session.identity = Identity::Personal;
                }
                self.pair(&session, text, now)
            }
            Rotation::Replayed(id) => {
                let account = self.store.get_session(&id)?.map(|s| s.account);
                self.audit(
                    account.clone().map(Tenant::Personal),
                    account.as_ref(),
                    "session.replayed",
                    id.as_str(),
                    ctx,
                    json!({ "revoked": true }),
                )?;
                tracing::warn!(session = %id, "a used refresh token came back; the session is revoked");
                Err(unauthenticated("refresh token replayed"))
            }
            Rotation::Refused => Err(unauthenticated("refresh token unknown, expired or revoked")),
        }
    }

    /// Ends the caller's session.
    pub fn logout(&self, caller: &Principal, ctx: &CallContext) -> AccountResult<()> {
        let session = session_of(caller)?;
        self.store.revoke_session(session, self.now())?;
        self.audit(
            Some(Tenant::Personal(caller.account.clone())),
            Some(&caller.account),
            "logout",
            session.as_str(),
            ctx,
            json!({}),
        )
    }

    /// Resolves a bearer token (access token or API key) to the caller.
    pub fn authenticate(&self, bearer: &str, _ctx: &CallContext) -> AccountResult<Principal> {
        let bearer = bearer.trim();
        if bearer.starts_with(tokens::API_KEY_PREFIX) {
            return self.authenticate_key(bearer);
        }
        let now = self.now();
        let claims = self
            .rules
            .keys()?
            .verify(bearer, now.timestamp())
            .map_err(unauthenticated)?;
        let account_id =
            AccountId::parse(&claims.sub).map_err(|_| unauthenticated("bad subject claim"))?;
        let session_id =
            SessionId::parse(&claims.sid).map_err(|_| unauthenticated("bad session claim"))?;
        let identity = parse_idn(&claims.idn).ok_or(unauthenticated("bad identity claim"))?;
        let session = self
            .store
            .get_session(&session_id)?
            .ok_or(unauthenticated("session unknown"))?;
        if session.revoked_at.is_some() {
            return Err(unauthenticated("session revoked"));
        }
        if session.expires_at <= now {
            return Err(unauthenticated("session expired"));
        }
        if session.account != account_id {
            return Err(unauthenticated("session of another account"));
        }
        if session.identity != identity {
            return Err(unauthenticated("session switched identity"));
        }
        let account = self
            .store
            .get_account(&account_id)?
            .ok_or(unauthenticated("account gone"))?;
        let credential = Credential::Session(session_id);
        match identity {
            Identity::Personal => Ok(Principal {
                tenant: Tenant::Personal(account.id.clone()),
                account: account.id,
                credential,
                permissions: Permission::PERSONAL.iter().copied().collect(),
                data_scope: DataScope::All,
                projects: BTreeSet::new(),
                operator: account.operator,
            }),
            Identity::Enterprise(enterprise) => {
                let access = self
                    .store
                    .member_access(&enterprise, &account.id)?
                    .ok_or(unauthenticated("no longer a member"))?;
                Ok(Principal {
                    account: account.id,
                    credential,
                    tenant: Tenant::Enterprise(enterprise),
                    permissions: access.template.permissions,
                    data_scope: access.template.data_scope,
                    projects: access.projects,
                    operator: account.operator,
                })
            }
        }
    }

    fn authenticate_key(&self, bearer: &str) -> AccountResult<Principal> {
        let text = ApiKeyText::parse(bearer).ok_or(unauthenticated("malformed API key"))?;
        let presented = tokens::sha256_hex(&text.secret);
        let (key, stored) = self
            .store
            .api_key_credentials(&text.id)?
            .ok_or(unauthenticated("API key unknown"))?;
        if !tokens::constant_time_eq(&presented, &stored) {
            return Err(unauthenticated("API key secret wrong"));
        }
        let now = self.now();
        if key.revoked_at.is_some() {
            return Err(unauthenticated("API key revoked"));
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(unauthenticated("API key expired"));
        }
        if self.store.get_enterprise(&key.enterprise)?.is_none() {
            return Err(unauthenticated("API key of an enterprise that is gone"));
        }
        // Removal revokes a member's keys; this also refuses a key that was
        // created while its creator was being removed.
        let creator = self
            .store
            .member_access(&key.enterprise, &key.created_by)?
            .ok_or(unauthenticated("API key of a former member"))?;
        let template = self
            .store
            .get_template(&key.enterprise, &key.template)?
            .ok_or(unauthenticated("API key template gone"))?;
        if let Err(error) = self.store.touch_api_key(&key.id, now) {
            tracing::warn!(key = %key.id, %error, "could not note an API key's use");
        }
        // A key never does more than its creator may do now: a creator
        // demoted since keeps no old powers through a key.
        let permissions = template
            .permissions
            .intersection(&creator.template.permissions)
            .copied()
            .collect();
        let data_scope = template.data_scope.narrowest(creator.template.data_scope);
        let projects = match key.project {
            Some(project) => [project].into(),
            None if data_scope == DataScope::Projects => creator.projects,
            None => Default::default(),
        };
        Ok(Principal {
            account: key.created_by,
            credential: Credential::ApiKey(key.id),
            tenant: Tenant::Enterprise(key.enterprise),
            permissions,
            data_scope,
            projects,
            operator: false,
        })
    }

    /// The caller's account and identities.
    pub fn me(&self, caller: &Principal) -> AccountResult<Me> {
        let account = self
            .store
            .get_account(&caller.account)?
            .ok_or(unauthenticated("account gone"))?;
        let enterprises = self.store.memberships_of(&caller.account)?;
        Ok(Me {
            account,
            identity: match &caller.tenant {
                Tenant::Personal(_) => Identity::Personal,
                Tenant::Enterprise(e) => Identity::Enterprise(e.clone()),
            },
            permissions: caller.permissions.clone(),
            data_scope: caller.data_scope,
            enterprises,
        })
    }

    /// Switches the caller's session to another identity; new tokens.
    ///
    /// The session's identity changes in the store (so the old access
    /// token, naming the old identity, stops working), and a new session
    /// with the same end of life carries the new token pair; the old
    /// session and its refresh token are revoked. (The store hands out a
    /// session's next refresh token only against the current one, which
    /// this call is not given.)
    pub fn switch_identity(
        &self,
        caller: &Principal,
        identity: Identity,
        ctx: &CallContext,
    ) -> AccountResult<TokenPair> {
        let session_id = session_of(caller)?;
        if let Identity::Enterprise(e) = &identity
            && self.store.member_access(e, &caller.account)?.is_none()
        {
            return Err(AccountError::Forbidden(
                "you are not a member of that enterprise".into(),
            ));
        }
        let now = self.now();
        let session = self
            .store
            .get_session(session_id)?
            .filter(|s| s.revoked_at.is_none() && s.expires_at > now)
            .ok_or(unauthenticated("session ended"))?;
        self.store.set_session_identity(session_id, &identity)?;
        let pair = self.start_session(
            &caller.account,
            identity.clone(),
            session.created_at,
            Some(session.expires_at),
        )?;
        self.store.revoke_session(session_id, now)?;
        // Kept by the tenant switched into: an enterprise sees who enters it.
        self.audit(
            Some(identity.tenant(&caller.account)),
            Some(&caller.account),
            "identity.switched",
            session_id.as_str(),
            ctx,
            json!({ "identity": identity }),
        )?;
        Ok(pair)
    }

    /// Changes the password; other sessions end.
    pub fn change_password(
        &self,
        caller: &Principal,
        current: &str,
        new: &str,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        let session = session_of(caller)?;
        let account = self
            .store
            .get_account(&caller.account)?
            .ok_or(unauthenticated("account gone"))?;
        let logins = logins_of(&account);
        let login = logins
            .first()
            .ok_or(unauthenticated("account without a login"))?;
        // A stolen access token must not become a password-guessing oracle.
        self.rules
            .limits
            .check(Attempt::Login, ctx.ip, login.as_str())?;
        let (_, hash) = self
            .store
            .find_credentials(login)?
            .filter(|(a, _)| a.id == account.id)
            .ok_or(unauthenticated("account gone"))?;
        if !self.rules.hasher.verify(current, &hash) {
            return Err(AccountError::BadCredentials);
        }
        password::check_policy(new, &logins.iter().collect::<Vec<_>>())?;
        let hash = self.hash(new)?;
        let now = self.now();
        self.store
            .set_password(&account.id, &hash, Some(session), now)?;
        self.notifier.send(notices::password_changed(login));
        self.audit(
            Some(Tenant::Personal(account.id.clone())),
            Some(&account.id),
            "password.changed",
            account.id.as_str(),
            ctx,
            json!({}),
        )
    }

    /// Sends a reset token if the login has an account; answers the same either way.
    pub fn request_password_reset(&self, login: &str, ctx: &CallContext) -> AccountResult<()> {
        let login = LoginIdentifier::parse(login)?;
        self.rules
            .limits
            .check(Attempt::Send, ctx.ip, login.as_str())?;
        let Some((account, _)) = self.store.find_credentials(&login)? else {
            return Ok(());
        };
        let token = tokens::random_token(tokens::RESET_PREFIX)?;
        let now = self.now();
        self.store.issue_code(
            &OneTimeCode {
                purpose: CodePurpose::PasswordReset,
                account: account.id,
                target: login.as_str().to_owned(),
                hash: tokens::sha256_hex(&token),
                expires_at: now + self.config.reset_ttl,
            },
            now,
        )?;
        self.notifier.send(notices::password_reset(
            &login,
            &token,
            self.config.reset_ttl,
        ));
        Ok(())
    }

    /// Sets a new password with a reset token; every session ends.
    ///
    /// The rules that need no account (length, common passwords) are checked
    /// before the token is used; the one that does (not the login) after, so
    /// a password equal to the login uses the token up.
    pub fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        let token = token.trim();
        if !tokens::has_token_shape(token, tokens::RESET_PREFIX) {
            return Err(unauthenticated("malformed reset token"));
        }
        password::check_policy(new_password, &[])?;
        let now = self.now();
        let code = match self.store.consume_code(
            CodePurpose::PasswordReset,
            None,
            &tokens::sha256_hex(token),
            1,
            now,
        )? {
            CodeUse::Consumed(code) => code,
            CodeUse::Refused => {
                return Err(unauthenticated("reset token unknown, used or expired"));
            }
        };
        let account = self
            .store
            .get_account(&code.account)?
            .ok_or(unauthenticated("account gone"))?;
        let logins = logins_of(&account);
        password::check_policy(new_password, &logins.iter().collect::<Vec<_>>())?;
        let hash = self.hash(new_password)?;
        self.store.set_password(&account.id, &hash, None, now)?;
        // Whoever holds the reset token owns the login: lift its lockout.
        for login in &logins {
            self.store.clear_login_failures(login.as_str())?;
        }
        if let Some(login) = logins.first() {
            self.notifier.send(notices::password_changed(login));
        }
        self.audit(
            Some(Tenant::Personal(account.id.clone())),
            Some(&account.id),
            "password.reset",
            account.id.as_str(),
            ctx,
            json!({}),
        )
    }

    /// Sends a code to confirm `target` as the caller's email or phone.
    pub fn start_binding(
        &self,
        caller: &Principal,
        channel: Channel,
        target: &str,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        session_of(caller)?;
        let target = LoginIdentifier::parse(target)
            .map_err(|e| ValidationError::new("target", e.message()))?;
        if target.channel() != channel {
            return Err(ValidationError::new(
                "target",
                match channel {
                    Channel::Email => "is not an email address",
                    Channel::Phone => "is not a phone number",
                },
            )
            .into());
        }
        self.rules
            .limits
            .check(Attempt::Send, ctx.ip, target.as_str())?;
        self.send_code(&caller.account, channel, target.as_str())
    }

    /// Confirms the code; the target becomes the account's confirmed email or phone.
    pub fn confirm_binding(
        &self,
        caller: &Principal,
        channel: Channel,
        code: &str,
        ctx: &CallContext,
    ) -> AccountResult<Account> {
        session_of(caller)?;
        let code = code.trim();
        if !tokens::is_six_digit_code(code) {
            return Err(ValidationError::new("code", "is not a six-digit code").into());
        }
        let now = self.now();
        let used = self.store.consume_code(
            CodePurpose::Confirm(channel),
            Some(&caller.account),
            &tokens::sha256_hex(code),
            self.config.code_max_attempts,
            now,
        )?;
        let CodeUse::Consumed(used) = used else {
            return Err(ValidationError::new("code", "is wrong, used or expired").into());
        };
        let account = self
            .store
            .bind_channel(&caller.account, channel, &used.target, now)
            .map_err(|e| match e {
                StoreError::AlreadyExists { .. } => AccountError::Conflict(
                    "that address or number belongs to another account".into(),
                ),
                e => e.into(),
            })?;
        self.audit(
            Some(Tenant::Personal(caller.account.clone())),
            Some(&caller.account),
            "account.bound",
            caller.account.as_str(),
            ctx,
            json!({ "channel": channel }),
        )?;
        Ok(account)
    }

    /// Creates a platform operator account (CLI), or makes an existing
    /// account one when the password matches.
    ///
    /// A new operator's login counts as confirmed: whoever runs the command
    /// administers the installation.
    pub fn create_operator(
        &self,
        login: &str,
        password: &str,
        display_name: &str,
    ) -> AccountResult<Account> {
        let login = LoginIdentifier::parse(login)?;
        let now = self.now();
        let account = match self.store.find_credentials(&login)? {
            Some((account, hash)) => {
                if !self.rules.hasher.verify(password, &hash) {
                    return Err(AccountError::BadCredentials);
                }
                account
            }
            None => {
                password::check_policy(password, &[&login])?;
                let display_name = match display_name.trim() {
                    "" => default_display_name(&login),
                    name => check_name("display_name", name, 64)?,
                };
                let (email, phone) = match &login {
                    LoginIdentifier::Email(e) => (Some(e.clone()), None),
                    LoginIdentifier::Phone(p) => (None, Some(p.clone())),
                };
                self.store.create_account(&NewAccount {
                    account: Account {
                        id: AccountId::from_random(tokens::random_bytes()?),
                        email_verified_at: email.as_ref().map(|_| now),
                        phone_verified_at: phone.as_ref().map(|_| now),
                        email,
                        phone,
                        display_name,
                        operator: false,
                        created_at: now,
                    },
                    password_hash: self.hash(password)?,
                })?
            }
        };
        self.store.set_operator(&account.id, true)?;
        self.audit(
            None,
            Some(&account.id),
            "operator.created",
            account.id.as_str(),
            &CallContext::default(),
            json!({ "login": login.as_str() }),
        )?;
        Ok(Account {
            operator: true,
            ..account
        })
    }

    /// Gives an operator account a new password and ends its sessions
    /// (the CLI's demo, which prints a fresh password on every run). Only an
    /// operator's password can be set this way; whoever runs the CLI holds
    /// the database already.
    pub fn reset_operator_password(&self, login: &str, password: &str) -> AccountResult<Account> {
        let login = LoginIdentifier::parse(login)?;
        let (account, _) = self
            .store
            .find_credentials(&login)?
            .filter(|(account, _)| account.operator)
            .ok_or_else(|| {
                AccountError::Forbidden(format!("`{}` is not an operator account", login.as_str()))
            })?;
        password::check_policy(password, &[&login])?;
        let now = self.now();
        self.store
            .set_password(&account.id, &self.hash(password)?, None, now)?;
        self.audit(
            None,
            Some(&account.id),
            "operator.password_reset",
            account.id.as_str(),
            &CallContext::default(),
            json!({ "login": login.as_str() }),
        )?;
        Ok(account)
    }

    // ---- enterprises and staff ----

    /// Creates an enterprise; the caller becomes its administrator.
    pub fn create_enterprise(
        &self,
        caller: &Principal,
        name: &str,
        ctx: &CallContext,
    ) -> AccountResult<Enterprise> {
        session_of(caller)?;
        let enterprise = Enterprise {
            id: EnterpriseId::from_random(tokens::random_bytes()?),
            name: check_name("name", name, 100)?,
            created_at: self.now(),
        };
        self.store
            .create_enterprise(&enterprise, &caller.account)
            .map_err(|e| match e {
                StoreError::AlreadyExists { .. } => {
                    AccountError::Conflict("an enterprise of that name exists".into())
                }
                e => e.into(),
            })?;
        self.audit(
            Some(Tenant::Enterprise(enterprise.id.clone())),
            Some(&caller.account),
            "enterprise.created",
            enterprise.id.as_str(),
            ctx,
            json!({ "name": enterprise.name }),
        )?;
        Ok(enterprise)
    }

    /// Enterprises by name, to apply to.
    pub fn find_enterprises(
        &self,
        _caller: &Principal,
        text: &str,
    ) -> AccountResult<Vec<Enterprise>> {
        let text = text.trim();
        if text.chars().count() > 100 {
            return Err(ValidationError::new("q", "must have at most 100 characters").into());
        }
        Ok(self.store.find_enterprises(text, DIRECTORY_LIMIT)?)
    }

    /// Applies to join an enterprise.
    pub fn apply(
        &self,
        caller: &Principal,
        enterprise: &EnterpriseId,
        message: &str,
        ctx: &CallContext,
    ) -> AccountResult<Application> {
        session_of(caller)?;
        let message = message.trim();
        if message.chars().count() > 1000 {
            return Err(
                ValidationError::new("message", "must have at most 1000 characters").into(),
            );
        }
        if self.store.get_enterprise(enterprise)?.is_none() {
            return Err(not_found("enterprise", enterprise.as_str()));
        }
        let application = Application {
            id: ApplicationId::from_random(tokens::random_bytes()?),
            enterprise: enterprise.clone(),
            account: caller.account.clone(),
            message: message.to_owned(),
            status: RequestStatus::Pending,
            created_at: self.now(),
            decided_by: None,
            decided_at: None,
        };
        self.store.create_application(&application)?;
        self.audit(
            Some(Tenant::Enterprise(enterprise.clone())),
            Some(&caller.account),
            "application.filed",
            application.id.as_str(),
            ctx,
            json!({ "account": caller.account }),
        )?;
        Ok(application)
    }

    /// The caller's own applications.
    pub fn my_applications(&self, caller: &Principal) -> AccountResult<Vec<Application>> {
        Ok(self.store.applications_of(&caller.account)?)
    }

    /// The caller's enterprise's applications.
    pub fn list_applications(
        &self,
        caller: &Principal,
        status: Option<RequestStatus>,
    ) -> AccountResult<Vec<Application>> {
        let enterprise = enterprise_of(caller, Permission::MembersRead)?;
        Ok(self.store.list_applications(enterprise, status)?)
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
        let enterprise = enterprise_of(caller, Permission::MembersManage)?;
        let template = template.unwrap_or_else(|| BuiltInTemplate::Viewer.id());
        if approve {
            self.grantable(caller, enterprise, &template)?;
        }
        let decided = self.store.decide_application(
            enterprise,
            id,
            approve,
            &template,
            &caller.account,
            self.now(),
        )?;
        self.tenant_audit(
            caller,
            if approve {
                "application.approved"
            } else {
                "application.rejected"
            },
            id.as_str(),
            ctx,
            json!({ "account": decided.account, "template": approve.then_some(&template) }),
        )?;
        Ok(decided)
    }

    /// Invites an email address; the token goes out by email.
    pub fn invite(
        &self,
        caller: &Principal,
        email: &str,
        template: TemplateId,
        ctx: &CallContext,
    ) -> AccountResult<Invitation> {
        let enterprise = enterprise_of(caller, Permission::MembersManage)?;
        let email = match LoginIdentifier::parse(email) {
            Ok(LoginIdentifier::Email(email)) => email,
            _ => return Err(ValidationError::new("email", "is not an email address").into()),
        };
        let granted = self.grantable(caller, enterprise, &template)?;
        let name = self
            .store
            .get_enterprise(enterprise)?
            .ok_or_else(|| not_found("enterprise", enterprise.as_str()))?
            .name;
        let token = tokens::random_token(tokens::INVITATION_PREFIX)?;
        let now = self.now();
        let invitation = Invitation {
            id: InvitationId::from_random(tokens::random_bytes()?),
            enterprise: enterprise.clone(),
            email: email.clone(),
            template,
            invited_by: caller.account.clone(),
            status: RequestStatus::Pending,
            created_at: now,
            expires_at: now + self.config.invitation_ttl,
        };
        self.store
            .create_invitation(&invitation, &tokens::sha256_hex(&token))?;
        self.notifier.send(notices::invitation(
            &email,
            &name,
            &granted.name,
            &token,
            invitation.expires_at,
        ));
        self.tenant_audit(
            caller,
            "invitation.sent",
            invitation.id.as_str(),
            ctx,
            json!({ "email": email, "template": invitation.template }),
        )?;
        Ok(invitation)
    }

    /// The caller's enterprise's invitations.
    pub fn list_invitations(&self, caller: &Principal) -> AccountResult<Vec<Invitation>> {
        let enterprise = enterprise_of(caller, Permission::MembersRead)?;
        Ok(self.store.list_invitations(enterprise)?)
    }

    /// Withdraws an invitation.
    pub fn revoke_invitation(
        &self,
        caller: &Principal,
        id: &InvitationId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        let enterprise = enterprise_of(caller, Permission::MembersManage)?;
        self.store.revoke_invitation(enterprise, id)?;
        self.tenant_audit(caller, "invitation.revoked", id.as_str(), ctx, json!({}))
    }

    /// Accepts an invitation sent to the caller's confirmed email.
    pub fn accept_invitation(
        &self,
        caller: &Principal,
        token: &str,
        ctx: &CallContext,
    ) -> AccountResult<Member> {
        session_of(caller)?;
        let token = token.trim();
        if !tokens::has_token_shape(token, tokens::INVITATION_PREFIX) {
            return Err(ValidationError::new("token", "is not an invitation token").into());
        }
        let account = self
            .store
            .get_account(&caller.account)?
            .ok_or(unauthenticated("account gone"))?;
        let email = match (&account.email, account.email_verified_at) {
            (Some(email), Some(_)) => email.clone(),
            _ => {
                return Err(AccountError::Forbidden(
                    "confirm your email address before accepting an invitation".into(),
                ));
            }
        };
        let member = self.store.accept_invitation(
            &tokens::sha256_hex(token),
            &account.id,
            &email,
            self.now(),
        )?;
        self.audit(
            Some(Tenant::Enterprise(member.enterprise.clone())),
            Some(&account.id),
            "invitation.accepted",
            account.id.as_str(),
            ctx,
            json!({ "email": email, "template": member.template }),
        )?;
        Ok(member)
    }

    /// The caller's enterprise's members.
    pub fn list_members(&self, caller: &Principal) -> AccountResult<Vec<Member>> {
        let enterprise = enterprise_of(caller, Permission::MembersRead)?;
        Ok(self.store.list_members(enterprise)?)
    }

    /// Gives a member another template.
    pub fn set_member_template(
        &self,
        caller: &Principal,
        account: &AccountId,
        template: &TemplateId,
        ctx: &CallContext,
    ) -> AccountResult<Member> {
        let enterprise = enterprise_of(caller, Permission::MembersManage)?;
        self.grantable(caller, enterprise, template)?;
        let member = self
            .store
            .set_member_template(enterprise, account, template)?;
        self.tenant_audit(
            caller,
            "member.template_changed",
            account.as_str(),
            ctx,
            json!({ "template": template }),
        )?;
        Ok(member)
    }

    /// Removes a member.
    pub fn remove_member(
        &self,
        caller: &Principal,
        account: &AccountId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        let enterprise = enterprise_of(caller, Permission::MembersManage)?;
        self.store.remove_member(enterprise, account, self.now())?;
        self.tenant_audit(caller, "member.removed", account.as_str(), ctx, json!({}))
    }

    /// Leaves an enterprise (not as its administrator).
    pub fn leave(
        &self,
        caller: &Principal,
        enterprise: &EnterpriseId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        session_of(caller)?;
        let access = self
            .store
            .member_access(enterprise, &caller.account)?
            .ok_or_else(|| not_found("enterprise", enterprise.as_str()))?;
        if access.member.is_admin {
            return Err(AccountError::Conflict(
                "the administrator cannot leave; transfer the role first".into(),
            ));
        }
        self.store
            .remove_member(enterprise, &caller.account, self.now())?;
        self.audit(
            Some(Tenant::Enterprise(enterprise.clone())),
            Some(&caller.account),
            "member.left",
            caller.account.as_str(),
            ctx,
            json!({}),
        )
    }

    /// Hands the administrator role to another member; the caller becomes `admin`.
    pub fn transfer_admin(
        &self,
        caller: &Principal,
        to: &AccountId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        let enterprise = enterprise_of(caller, Permission::MembersManage)?;
        if matches!(caller.credential, Credential::ApiKey(_)) {
            return Err(AccountError::Forbidden(
                "only the administrator in person can hand the role over".into(),
            ));
        }
        let is_admin = self
            .store
            .member_access(enterprise, &caller.account)?
            .is_some_and(|a| a.member.is_admin);
        if !is_admin {
            return Err(AccountError::Forbidden(
                "only the administrator can hand the role over".into(),
            ));
        }
        if *to == caller.account {
            return Err(ValidationError::new("to", "is already the administrator").into());
        }
        self.store.transfer_admin(
            enterprise,
            &caller.account,
            to,
            &BuiltInTemplate::Admin.id(),
        )?;
        self.tenant_audit(
            caller,
            "admin.transferred",
            to.as_str(),
            ctx,
            json!({ "from": caller.account, "to": to }),
        )
    }

    // ---- projects ----

    /// Creates a project in the caller's enterprise.
    pub fn create_project(
        &self,
        caller: &Principal,
        name: &str,
        ctx: &CallContext,
    ) -> AccountResult<Project> {
        let enterprise = enterprise_of(caller, Permission::ProjectsManage)?;
        let project = Project {
            id: ProjectId::from_random(tokens::random_bytes()?),
            enterprise: enterprise.clone(),
            name: check_name("name", name, 64)?,
            created_by: caller.account.clone(),
            created_at: self.now(),
            members: [caller.account.clone()].into(),
        };
        self.store.create_project(&project).map_err(|e| match e {
            StoreError::AlreadyExists { .. } => {
                AccountError::Conflict("a project of that name exists".into())
            }
            e => e.into(),
        })?;
        self.tenant_audit(
            caller,
            "project.created",
            project.id.as_str(),
            ctx,
            json!({ "name": project.name }),
        )?;
        Ok(project)
    }

    /// The projects the caller's data scope sees.
    pub fn list_projects(&self, caller: &Principal) -> AccountResult<Vec<Project>> {
        enterprise_of(caller, Permission::ProjectsRead)?;
        Ok(self.store.list_projects(&caller.scope())?)
    }

    /// One project in scope.
    pub fn get_project(&self, caller: &Principal, id: &ProjectId) -> AccountResult<Project> {
        enterprise_of(caller, Permission::ProjectsRead)?;
        self.store
            .get_project(&caller.scope(), id)?
            .ok_or_else(|| not_found("project", id.as_str()))
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
        let enterprise = enterprise_of(caller, Permission::ProjectsManage)?;
        // Only projects the caller's scope sees.
        if self.store.get_project(&caller.scope(), project)?.is_none() {
            return Err(not_found("project", project.as_str()));
        }
        let changed = self
            .store
            .set_project_member(enterprise, project, account, member)?;
        self.tenant_audit(
            caller,
            if member {
                "project.member_added"
            } else {
                "project.member_removed"
            },
            project.as_str(),
            ctx,
            json!({ "account": account }),
        )?;
        Ok(changed)
    }

    // ---- templates ----

    /// Built-in and own templates.
    pub fn list_templates(&self, caller: &Principal) -> AccountResult<Vec<Template>> {
        let enterprise = enterprise_of(caller, Permission::MembersRead)?;
        Ok(self.store.list_templates(enterprise)?)
    }

    /// Creates an own template.
    pub fn create_template(
        &self,
        caller: &Principal,
        spec: TemplateSpec,
        ctx: &CallContext,
    ) -> AccountResult<Template> {
        let enterprise = enterprise_of(caller, Permission::TemplatesManage)?;
        let template = Template {
            id: TemplateId::from_random(tokens::random_bytes()?),
            enterprise: Some(enterprise.clone()),
            name: check_template_name(&spec.name)?,
            permissions: spec.permissions,
            data_scope: spec.data_scope,
        };
        may_grant(caller, &template)?;
        self.store.create_template(&template).map_err(|e| match e {
            StoreError::AlreadyExists { .. } => {
                AccountError::Conflict("a template of that name exists".into())
            }
            e => e.into(),
        })?;
        self.tenant_audit(
            caller,
            "template.created",
            template.id.as_str(),
            ctx,
            template_detail(&template),
        )?;
        Ok(template)
    }

    /// Replaces an own template.
    pub fn update_template(
        &self,
        caller: &Principal,
        id: &TemplateId,
        spec: TemplateSpec,
        ctx: &CallContext,
    ) -> AccountResult<Template> {
        let enterprise = enterprise_of(caller, Permission::TemplatesManage)?;
        if BuiltInTemplate::from_id(id).is_some() {
            return Err(AccountError::Forbidden(
                "built-in templates cannot be changed".into(),
            ));
        }
        let existing = self
            .store
            .get_template(enterprise, id)?
            .filter(|t| t.enterprise.as_ref() == Some(enterprise))
            .ok_or_else(|| not_found("template", id.as_str()))?;
        // Its holders gain what it gains: the caller must hold that already.
        may_grant(caller, &existing)?;
        let template = Template {
            id: existing.id,
            enterprise: existing.enterprise,
            name: check_template_name(&spec.name)?,
            permissions: spec.permissions,
            data_scope: spec.data_scope,
        };
        may_grant(caller, &template)?;
        self.store.update_template(&template).map_err(|e| match e {
            StoreError::AlreadyExists { .. } => {
                AccountError::Conflict("a template of that name exists".into())
            }
            e => e.into(),
        })?;
        self.tenant_audit(
            caller,
            "template.updated",
            template.id.as_str(),
            ctx,
            template_detail(&template),
        )?;
        Ok(template)
    }

    /// Deletes an own template no one uses.
    pub fn delete_template(
        &self,
        caller: &Principal,
        id: &TemplateId,
        ctx: &CallContext,
    ) -> AccountResult<()> {
        let enterprise = enterprise_of(caller, Permission::TemplatesManage)?;
        if BuiltInTemplate::from_id(id).is_some() {
            return Err(AccountError::Forbidden(
                "built-in templates cannot be deleted".into(),
            ));
        }
        self.store.delete_template(enterprise, id)?;
        self.tenant_audit(caller, "template.deleted", id.as_str(), ctx, json!({}))
    }

    // ---- API keys ----

    /// Creates a key for the caller's enterprise; the secret is in the answer only.
    ///
    /// The key's template may not grant a permission or a data scope the
    /// caller lacks; its project must be one the caller sees; its expiry
    /// must lie ahead.
    pub fn create_api_key(
        &self,
        caller: &Principal,
        new: NewApiKey,
        ctx: &CallContext,
    ) -> AccountResult<CreatedKey> {
        let enterprise = enterprise_of(caller, Permission::KeysManage)?;
        let name = check_name("name", &new.name, 64)?;
        if new.template == BuiltInTemplate::Owner.id() {
            return Err(ValidationError::new(
                "template",
                "the owner template is the administrator's; give a key `tpl_admin`",
            )
            .into());
        }
        self.grantable(caller, enterprise, &new.template)?;
        if let Some(project) = &new.project
            && self.store.get_project(&caller.scope(), project)?.is_none()
        {
            return Err(not_found("project", project.as_str()));
        }
        let now = self.now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(ValidationError::new("expires_at", "must be in the future").into());
        }
        let text = ApiKeyText::generate()?;
        let key = ApiKey {
            id: text.id.clone(),
            enterprise: enterprise.clone(),
            template: new.template,
            project: new.project,
            name,
            created_by: caller.account.clone(),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        self.store
            .create_api_key(&key, &tokens::sha256_hex(&text.secret))?;
        self.tenant_audit(
            caller,
            "key.created",
            key.id.as_str(),
            ctx,
            json!({ "name": key.name, "template": key.template, "project": key.project, "expires_at": key.expires_at }),
        )?;
        Ok(CreatedKey {
            key,
            secret: text.text(),
        })
    }

    /// The keys the caller's scope sees.
    pub fn list_api_keys(&self, caller: &Principal) -> AccountResult<Vec<ApiKey>> {
        enterprise_of(caller, Permission::KeysManage)?;
        Ok(self.store.list_api_keys(&caller.scope())?)
    }

    /// Revokes a key.
    pub fn revoke_api_key(
        &self,
        caller: &Principal,
        id: &ApiKeyId,
        ctx: &CallContext,
    ) -> AccountResult<ApiKey> {
        enterprise_of(caller, Permission::KeysManage)?;
        let key = self.store.revoke_api_key(&caller.scope(), id, self.now())?;
        self.tenant_audit(caller, "key.revoked", id.as_str(), ctx, json!({}))?;
        Ok(key)
    }

    // ---- audit ----

    /// The audit log of the caller's tenant (operators: `platform` for platform events).
    pub fn list_audit(
        &self,
        caller: &Principal,
        after: u64,
        limit: u32,
    ) -> AccountResult<Vec<AuditEvent>> {
        // An enterprise's log, or a person's own security log.
        if !caller.allows(Permission::AuditRead) {
            return Err(AccountError::Forbidden(
                "reading the audit log needs `audit:read`".into(),
            ));
        }
        Ok(self
            .store
            .list_audit(Some(&caller.tenant), after, audit_limit(limit))?)
    }

    /// Platform events (operator work, failed log-ins to no account): for a
    /// session of an operator only.
    pub fn list_platform_audit(
        &self,
        caller: &Principal,
        after: u64,
        limit: u32,
    ) -> AccountResult<Vec<AuditEvent>> {
        if !caller.operator || !matches!(caller.credential, Credential::Session(_)) {
            return Err(AccountError::Forbidden("operators only".into()));
        }
        Ok(self.store.list_audit(None, after, audit_limit(limit))?)
    }

    /// Tells `tenant` that its prepaid wallet in `currency` fell below
    /// `threshold` (amounts as decimal text). Returns whether anyone was
    /// found to tell: the account itself or an enterprise's administrator.
    pub fn notify_low_balance(
        &self,
        tenant: &Tenant,
        currency: &str,
        balance: &str,
        threshold: &str,
    ) -> AccountResult<bool> {
        self.notify_tenant(tenant, |channel, to| {
            notices::low_balance(channel, to, currency, balance, threshold)
        })
    }

    /// Sends a notice to whoever speaks for `tenant`: the account itself,
    /// or an enterprise's administrator; at a confirmed email address, else
    /// a confirmed phone number. `notice` writes it for that channel and
    /// address. Returns whether anyone was found to send it to.
    fn notify_tenant(
        &self,
        tenant: &Tenant,
        notice: impl FnOnce(Channel, &str) -> crate::mail::Notice,
    ) -> AccountResult<bool> {
        let account = match tenant {
            Tenant::Personal(id) => id.clone(),
            Tenant::Enterprise(id) => match self
                .store
                .list_members(id)?
                .into_iter()
                .find(|m| m.is_admin)
            {
                Some(admin) => admin.account,
                None => return Ok(false),
            },
        };
        let Some(account) = self.store.get_account(&account)? else {
            return Ok(false);
        };
        let contact = match (&account.email, account.email_verified_at) {
            (Some(email), Some(_)) => Some((Channel::Email, email.clone())),
            _ => match (&account.phone, account.phone_verified_at) {
                (Some(phone), Some(_)) => Some((Channel::Phone, phone.clone())),
                _ => None,
            },
        };
        let Some((channel, to)) = contact else {
            return Ok(false);
        };
        self.notifier.send(notice(channel, &to));
        Ok(true)
    }

    // ---- helpers ----

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn hash(&self, password: &str) -> AccountResult<String> {
        self.rules.hasher.hash(password).map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            AccountError::Store(StoreError::Internal("password hashing failed".into()))
        })
    }

    /// Issues a six-digit code confirming `target` for `account` and sends it there.
    fn send_code(&self, account: &AccountId, channel: Channel, target: &str) -> AccountResult<()> {
        let code = tokens::six_digit_code()?;
        let now = self.now();
        self.store.issue_code(
            &OneTimeCode {
                purpose: CodePurpose::Confirm(channel),
                account: account.clone(),
                target: target.to_owned(),
                hash: tokens::sha256_hex(&code),
                expires_at: now + self.config.code_ttl,
            },
            now,
        )?;
        self.notifier.send(notices::confirmation_code(
            channel,
            target,
            &code,
            self.config.code_ttl,
        ));
        Ok(())
    }

    fn new_refresh_token(
        &self,
        session: &SessionId,
        now: DateTime<Utc>,
    ) -> AccountResult<(String, RefreshToken)> {
        let text = tokens::random_token(tokens::REFRESH_PREFIX)?;
        let record = RefreshToken {
            hash: tokens::sha256_hex(&text),
            session: session.clone(),
            issued_at: now,
            expires_at: now + self.config.refresh_ttl,
        };
        Ok((text, record))
    }

    /// A new session (ending at `ends`, or after the maximum age) and its
    /// first token pair.
    fn start_session(
        &self,
        account: &AccountId,
        identity: Identity,
        created_at: DateTime<Utc>,
        ends: Option<DateTime<Utc>>,
    ) -> AccountResult<TokenPair> {
        let now = self.now();
        let session = Session {
            id: SessionId::from_random(tokens::random_bytes()?),
            account: account.clone(),
            identity,
            created_at,
            expires_at: ends.unwrap_or(now + self.config.session_max_age),
            revoked_at: None,
        };
        let (text, mut first) = self.new_refresh_token(&session.id, now)?;
        first.expires_at = first.expires_at.min(session.expires_at);
        self.store.create_session(&session, &first)?;
        self.pair(&session, text, now)
    }

    fn pair(
        &self,
        session: &Session,
        refresh_token: String,
        now: DateTime<Utc>,
    ) -> AccountResult<TokenPair> {
        let claims = AccessClaims {
            iss: tokens::ISSUER.to_owned(),
            sub: session.account.to_string(),
            sid: session.id.to_string(),
            idn: idn(&session.identity).to_owned(),
            iat: now.timestamp(),
            exp: (now + self.config.access_ttl).timestamp(),
        };
        Ok(TokenPair {
            access_token: self.rules.keys()?.sign(&claims)?,
            token_type: "Bearer",
            expires_in: self.config.access_ttl.num_seconds(),
            refresh_token,
            identity: session.identity.clone(),
        })
    }

    /// The template `id` of the caller's enterprise, if the caller may give
    /// it to someone (or something): not the administrator's `owner`, and
    /// nothing the caller does not hold itself.
    fn grantable(
        &self,
        caller: &Principal,
        enterprise: &EnterpriseId,
        id: &TemplateId,
    ) -> AccountResult<Template> {
        if *id == BuiltInTemplate::Owner.id() {
            return Err(ValidationError::new(
                "template",
                "the owner template comes only with the administrator role",
            )
            .into());
        }
        let template = self
            .store
            .get_template(enterprise, id)?
            .ok_or_else(|| not_found("template", id.as_str()))?;
        may_grant(caller, &template)?;
        Ok(template)
    }

    fn audit(
        &self,
        tenant: Option<Tenant>,
        actor: Option<&AccountId>,
        action: &str,
        subject: &str,
        ctx: &CallContext,
        detail: serde_json::Value,
    ) -> AccountResult<()> {
        self.store.append_audit(&NewAuditEvent {
            tenant,
            actor: actor.cloned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            ip: ctx.ip.map(|ip| ip.to_string()),
            detail,
            at: self.now(),
        })?;
        Ok(())
    }

    /// An event in the caller's tenant, by the caller (with the key, if one acted).
    fn tenant_audit(
        &self,
        caller: &Principal,
        action: &str,
        subject: &str,
        ctx: &CallContext,
        mut detail: serde_json::Value,
    ) -> AccountResult<()> {
        if let (Credential::ApiKey(key), Some(map)) = (&caller.credential, detail.as_object_mut()) {
            map.insert("key".into(), json!(key));
        }
        self.audit(
            Some(caller.tenant.clone()),
            Some(&caller.account),
            action,
            subject,
            ctx,
            detail,
        )
    }
}

fn unauthenticated(reason: &'static str) -> AccountError {
    AccountError::Unauthenticated { reason }
}

fn not_found(entity: &'static str, id: &str) -> AccountError {
    AccountError::Store(StoreError::NotFound {
        entity,
        id: id.to_owned(),
    })
}

/// The session behind the caller; keys are refused (`Forbidden`).
fn session_of(caller: &Principal) -> AccountResult<&SessionId> {
    match &caller.credential {
        Credential::Session(id) => Ok(id),
        Credential::ApiKey(_) => Err(AccountError::Forbidden(
            "this needs a person's session, not an API key".into(),
        )),
    }
}

/// The caller's enterprise, if it acts as one and holds `permission` there
/// (the route table checks the permission first; a library caller gets the
/// same rule).
fn enterprise_of(caller: &Principal, permission: Permission) -> AccountResult<&EnterpriseId> {
    let Tenant::Enterprise(enterprise) = &caller.tenant else {
        return Err(AccountError::Forbidden(
            "this needs an enterprise identity; switch to one first".into(),
        ));
    };
    if !caller.allows(permission) {
        return Err(AccountError::Forbidden(format!(
            "this needs the `{permission}` permission"
        )));
    }
    Ok(enterprise)
}

fn scope_breadth(scope: DataScope) -> u8 {
    match scope {
        DataScope::Own => 0,
        DataScope::Projects => 1,
        DataScope::All => 2,
    }
}

/// Whether the caller holds everything `template` grants.
fn may_grant(caller: &Principal, template: &Template) -> AccountResult<()> {
    if let Some(missing) = template
        .permissions
        .iter()
        .find(|p| !caller.permissions.contains(p))
    {
        return Err(AccountError::Forbidden(format!(
            "the template grants `{missing}`, which you do not hold"
        )));
    }
    if scope_breadth(template.data_scope) > scope_breadth(caller.data_scope) {
        return Err(AccountError::Forbidden(
            "the template sees more data than you do".into(),
        ));
    }
    Ok(())
}

fn template_detail(template: &Template) -> serde_json::Value {
    json!({
        "name": template.name,
        "permissions": template.permissions,
        "data_scope": template.data_scope,
    })
}

/// A trimmed name of 1 to `max` characters without control characters.
fn check_name(field: &str, text: &str, max: usize) -> Result<String, ValidationError> {
    let text = text.trim();
    let count = text.chars().count();
    if count == 0 {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if count > max {
        return Err(ValidationError::new(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

/// A template name: 1–64 characters, and not a built-in template's name
/// (taken, like an own template's: a conflict, not bad input).
fn check_template_name(name: &str) -> AccountResult<String> {
    let name = check_name("name", name, 64)?;
    if BuiltInTemplate::ALL
        .iter()
        .any(|t| t.name().eq_ignore_ascii_case(&name))
    {
        return Err(AccountError::Conflict(format!(
            "`{name}` is the name of a built-in template"
        )));
    }
    Ok(name)
}

fn default_display_name(login: &LoginIdentifier) -> String {
    match login {
        LoginIdentifier::Email(email) => email
            .split_once('@')
            .map(|(local, _)| local)
            .unwrap_or(email)
            .chars()
            .take(64)
            .collect(),
        // Only the last digits: a display name is seen by others.
        LoginIdentifier::Phone(phone) => {
            let tail: String = phone.chars().rev().take(4).collect();
            format!("user-{}", tail.chars().rev().collect::<String>())
        }
    }
}

/// The account's login identifiers, email first.
fn logins_of(account: &Account) -> Vec<LoginIdentifier> {
    account
        .email
        .iter()
        .map(|e| LoginIdentifier::Email(e.clone()))
        .chain(
            account
                .phone
                .iter()
                .map(|p| LoginIdentifier::Phone(p.clone())),
        )
        .collect()
}

fn idn(identity: &Identity) -> &str {
    match identity {
        Identity::Personal => tokens::PERSONAL_IDN,
        Identity::Enterprise(e) => e.as_str(),
    }
}

fn parse_idn(text: &str) -> Option<Identity> {
    if text == tokens::PERSONAL_IDN {
        Some(Identity::Personal)
    } else {
        EnterpriseId::parse(text).ok().map(Identity::Enterprise)
    }
}

fn audit_limit(limit: u32) -> u32 {
    match limit {
        0 => 100,
        n => n.min(AUDIT_LIMIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shiyun_core::tenancy::ApiKeyId;

    fn principal(tenant: Tenant, permissions: &[Permission], scope: DataScope) -> Principal {
        let account = AccountId::from_random([1; 16]);
        Principal {
            account,
            credential: Credential::Session(SessionId::from_random([2; 16])),
            tenant,
            permissions: permissions.iter().copied().collect(),
            data_scope: scope,
            projects: BTreeSet::new(),
            operator: false,
        }
    }

    #[test]
    fn enterprise_calls_refuse_personal_identities_and_missing_permissions() {
        let me = AccountId::from_random([1; 16]);
        let personal = principal(Tenant::Personal(me), Permission::PERSONAL, DataScope::All);
        assert!(matches!(
            enterprise_of(&personal, Permission::CatalogRead),
            Err(AccountError::Forbidden(_))
        ));
        let ent = EnterpriseId::from_random([3; 16]);
        let viewer = principal(
            Tenant::Enterprise(ent.clone()),
            &[Permission::MembersRead],
            DataScope::Projects,
        );
        assert_eq!(
            enterprise_of(&viewer, Permission::MembersRead).unwrap(),
            &ent
        );
        assert!(enterprise_of(&viewer, Permission::MembersManage).is_err());
    }

    #[test]
    fn nobody_grants_more_than_they_hold() {
        let ent = EnterpriseId::from_random([3; 16]);
        let manager = principal(
            Tenant::Enterprise(ent),
            &[Permission::MembersManage, Permission::CatalogRead],
            DataScope::Projects,
        );
        let mut template = BuiltInTemplate::Viewer.template();
        template.permissions = [Permission::CatalogRead].into();
        template.data_scope = DataScope::Own;
        assert!(may_grant(&manager, &template).is_ok());
        template.data_scope = DataScope::Projects;
        assert!(may_grant(&manager, &template).is_ok());
        template.data_scope = DataScope::All;
        assert!(may_grant(&manager, &template).is_err());
        template.data_scope = DataScope::Own;
        template.permissions.insert(Permission::KeysManage);
        let err = may_grant(&manager, &template).unwrap_err();
        assert!(err.to_string().contains("keys:manage"), "{err}");
    }

    #[test]
    fn keys_are_refused_where_a_session_is_needed() {
        let mut caller = principal(
            Tenant::Personal(AccountId::from_random([1; 16])),
            &[],
            DataScope::All,
        );
        assert!(session_of(&caller).is_ok());
        caller.credential = Credential::ApiKey(ApiKeyId::from_random([4; 16]));
        assert!(matches!(
            session_of(&caller),
            Err(AccountError::Forbidden(_))
        ));
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(check_name("name", "  云栖科技 ", 64).unwrap(), "云栖科技");
        assert!(check_name("name", "   ", 64).is_err());
        assert!(check_name("name", &"名".repeat(64), 64).is_ok());
        assert!(check_name("name", &"名".repeat(65), 64).is_err());
        assert!(check_name("name", "a\u{7}b", 64).is_err());
        assert!(check_template_name("Billing team").is_ok());
        assert!(check_template_name("Owner").is_err());
        assert!(check_template_name("viewer").is_err());
    }

    #[test]
    fn identities_round_trip_through_the_idn_claim() {
        let ent = EnterpriseId::from_random([9; 16]);
        for identity in [Identity::Personal, Identity::Enterprise(ent)] {
            assert_eq!(parse_idn(idn(&identity)), Some(identity));
        }
        assert_eq!(parse_idn("acc_01"), None);
        assert_eq!(parse_idn(""), None);
    }

    #[test]
    fn display_names_default_without_revealing_a_whole_number() {
        let email = LoginIdentifier::parse("Li.Lei@example.com").unwrap();
        assert_eq!(default_display_name(&email), "li.lei");
        let phone = LoginIdentifier::parse("+8613800138000").unwrap();
        assert_eq!(default_display_name(&phone), "user-8000");
    }

    #[test]
    fn settings_are_checked() {
        let good = AccountsConfig::new("k".repeat(32).into());
        assert!(good.check().is_ok());
        let short = AccountsConfig::new("short".to_owned().into());
        assert_eq!(short.check().unwrap_err().field_name(), "signing_key");
        let mut zero = good.clone();
        zero.access_ttl = chrono::Duration::zero();
        assert_eq!(zero.check().unwrap_err().field_name(), "access_ttl");
        let mut weak = good.clone();
        weak.argon2_memory_kib = 1;
        assert_eq!(weak.check().unwrap_err().field_name(), "argon2");
        assert_eq!(audit_limit(0), 100);
        assert_eq!(audit_limit(10_000), AUDIT_LIMIT);
    }
}
