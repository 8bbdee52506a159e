//! The user centre's records, as the store keeps them and the API shows them.
//! Secrets (password hashes, token hashes) are never part of these types'
//! JSON; the store hands them over separately.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::tenancy::ids::{
    AccountId, ApiKeyId, ApplicationId, EnterpriseId, InvitationId, ProjectId, SessionId,
    TemplateId, Tenant,
};

/// What a person logs in with: a verified-or-not email address or phone
/// number, normalised (email lowercased and trimmed; phone as `+<digits>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum LoginIdentifier {
    /// An email address.
    Email(String),
    /// A phone number in E.164 form (`+8613800138000`).
    Phone(String),
}

impl LoginIdentifier {
    /// Reads what a person typed: an address with `@` is an email, else a phone number.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.contains('@') {
            let email = text.to_lowercase();
            let (local, domain) = email
                .split_once('@')
                .ok_or_else(|| ValidationError::new("login", "is not an email address"))?;
            let plausible = !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && email.len() <= 254
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@');
            if plausible {
                Ok(LoginIdentifier::Email(email))
            } else {
                Err(ValidationError::new("login", "is not an email address"))
            }
        } else {
            let digits: String = text
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
                .collect();
            let number = digits.strip_prefix('+').unwrap_or(&digits);
            if (6..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit()) {
                Ok(LoginIdentifier::Phone(format!("+{number}")))
            } else {
                Err(ValidationError::new(
                    "login",
                    "is neither an email address nor a phone number (+ and 6 to 15 digits)",
                ))
            }
        }
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        match self {
            LoginIdentifier::Email(s) | LoginIdentifier::Phone(s) => s,
        }
    }

    /// Which channel it is.
    pub fn channel(&self) -> Channel {
        match self {
            LoginIdentifier::Email(_) => Channel::Email,
            LoginIdentifier::Phone(_) => Channel::Phone,
        }
    }
}

/// Where codes are sent.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email.
    Email,
    /// Phone (SMS).
    Phone,
}

/// A person's account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Email address, normalised.
    pub email: Option<String>,
    /// When the email address was confirmed with a code.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Phone number, E.164.
    pub phone: Option<String>,
    /// When the phone number was confirmed with a code.
    pub phone_verified_at: Option<DateTime<Utc>>,
    /// Name shown to others.
    pub display_name: String,
    /// A platform operator (the marketplace's own staff).
    pub operator: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A new account, with its password already hashed.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The account.
    pub account: Account,
    /// The argon2id PHC string.
    pub password_hash: String,
}

/// Failed log-ins counted against one login identifier (whether or not an
/// account has it, so a lockout does not tell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Failures in the current window.
    pub failures: u32,
    /// Locked until then, if locked.
    pub locked_until: Option<DateTime<Utc>>,
}

/// When repeated failures lock an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that lock.
    pub max_failures: u32,
    /// Failures older than this are forgotten.
    pub window: chrono::Duration,
    /// How long a lock lasts.
    pub lock_for: chrono::Duration,
}

/// Which identity a request acts as.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "enterprise")]
pub enum Identity {
    /// The account's personal space.
    Personal,
    /// An employee of this enterprise.
    Enterprise(EnterpriseId),
}

impl Identity {
    /// The tenant this identity acts for.
    pub fn tenant(&self, account: &AccountId) -> Tenant {
        match self {
            Identity::Personal => Tenant::Personal(account.clone()),
            Identity::Enterprise(id) => Tenant::Enterprise(id.clone()),
        }
    }
}

/// A log-in session: the family of refresh tokens issued from one log-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Id (carried in access tokens as `sid`).
    pub id: SessionId,
    /// Whose.
    pub account: AccountId,
    /// The identity its tokens act as.
    pub identity: Identity,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// No refresh after this, whatever happens.
    pub expires_at: DateTime<Utc>,
    /// Revoked (log-out, replay, password change).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One refresh token of a session, by the SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// SHA-256 (hex) of the token text.
    pub hash: String,
    /// Its session.
    pub session: SessionId,
    /// Issued.
    pub issued_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// It was current: it is now used, and `next` is current.
    Rotated(Session),
    /// It had been used before: the whole session is now revoked.
    Replayed(SessionId),
    /// Unknown, expired, or its session is revoked or expired.
    Refused,
}

/// What a one-time code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodePurpose {
    /// Reset a forgotten password (a long token sent by email).
    PasswordReset,
    /// Confirm an email address or phone number ("security binding").
    Confirm(Channel),
}

impl CodePurpose {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::PasswordReset => "password_reset",
            CodePurpose::Confirm(Channel::Email) => "confirm_email",
            CodePurpose::Confirm(Channel::Phone) => "confirm_phone",
        }
    }
}

/// A single-use code, by the SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeCode {
    /// What it is for.
    pub purpose: CodePurpose,
    /// For whom.
    pub account: AccountId,
    /// Where it was sent (the address or number being confirmed).
    pub target: String,
    /// SHA-256 (hex) of the code.
    pub hash: String,
    /// Expires.
    pub expires_at: DateTime<Utc>,
}

/// What presenting a one-time code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeUse {
    /// It was valid and is now used.
    Consumed(OneTimeCode),
    /// Unknown, used, expired, or superseded by a newer code.
    Refused,
}

/// An enterprise.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    /// Id.
    pub id: EnterpriseId,
    /// Name, unique across the marketplace.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// An account's membership of an enterprise.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The enterprise.
    pub enterprise: EnterpriseId,
    /// The account.
    pub account: AccountId,
    /// Its permission template.
    pub template: TemplateId,
    /// The one administrator (holds `tpl_owner`).
    pub is_admin: bool,
    /// Joined.
    pub joined_at: DateTime<Utc>,
}

/// Where an application or invitation stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved (application) or accepted (invitation).
    Approved,
    /// Rejected (application) or revoked (invitation).
    Rejected,
}

impl RequestStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        [
            RequestStatus::Pending,
            RequestStatus::Approved,
            RequestStatus::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| {
            ValidationError::new(
                "status",
                format!("`{text}` is not one of pending, approved, rejected"),
            )
        })
    }
}

/// An individual's application to join an enterprise.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Id.
    pub id: ApplicationId,
    /// The enterprise applied to.
    pub enterprise: EnterpriseId,
    /// Who applies.
    pub account: AccountId,
    /// What they wrote.
    pub message: String,
    /// Where it stands.
    pub status: RequestStatus,
    /// Filed.
    pub created_at: DateTime<Utc>,
    /// Who decided.
    pub decided_by: Option<AccountId>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
}

/// An enterprise's invitation to an email address.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Id.
    pub id: InvitationId,
    /// The inviting enterprise.
    pub enterprise: EnterpriseId,
    /// The invited address, normalised.
    pub email: String,
    /// The template the member will get.
    pub template: TemplateId,
    /// Who invited.
    pub invited_by: AccountId,
    /// Where it stands.
    pub status: RequestStatus,
    /// Sent.
    pub created_at: DateTime<Utc>,
    /// Not acceptable after this.
    pub expires_at: DateTime<Utc>,
}

/// A project inside an enterprise.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Id.
    pub id: ProjectId,
    /// The enterprise.
    pub enterprise: EnterpriseId,
    /// Name, unique within the enterprise.
    pub name: String,
    /// Who created it.
    pub created_by: AccountId,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Its members.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<AccountId>))]
    pub members: BTreeSet<AccountId>,
}

/// An API key: a machine's credential for one enterprise and one template.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Id, the public part of the key's text.
    pub id: ApiKeyId,
    /// The enterprise it acts for.
    pub enterprise: EnterpriseId,
    /// Its permissions.
    pub template: TemplateId,
    /// The project it belongs to, if any (for project data scopes).
    pub project: Option<ProjectId>,
    /// A label.
    pub name: String,
    /// Who created it.
    pub created_by: AccountId,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Refused after this, if set.
    pub expires_at: Option<DateTime<Utc>>,
    /// Refused since then, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last accepted use (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// One entry of the append-only audit log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Order of appending; the cursor.
    pub seq: u64,
    /// The tenant it belongs to; absent for platform events (operator work).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub tenant: Option<Tenant>,
    /// Who acted, when known (absent for a failed log-in to no account).
    pub actor: Option<AccountId>,
    /// What happened (`login.succeeded`, `member.removed`, `key.created`).
    pub action: String,
    /// What it happened to (an id or a login identifier).
    pub subject: String,
    /// The caller's IP address.
    pub ip: Option<String>,
    /// More, as JSON.
    pub detail: serde_json::Value,
    /// When.
    pub at: DateTime<Utc>,
}

/// An audit event before it is appended (the store gives the `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// See [`AuditEvent::tenant`].
    pub tenant: Option<Tenant>,
    /// See [`AuditEvent::actor`].
    pub actor: Option<AccountId>,
    /// See [`AuditEvent::action`].
    pub action: String,
    /// See [`AuditEvent::subject`].
    pub subject: String,
    /// See [`AuditEvent::ip`].
    pub ip: Option<String>,
    /// See [`AuditEvent::detail`].
    pub detail: serde_json::Value,
    /// See [`AuditEvent::at`].
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_identifiers_are_normalised() {
        assert_eq!(
            LoginIdentifier::parse(" Li.Lei@Example.COM ").unwrap(),
            LoginIdentifier::Email("li.lei@example.com".into())
        );
        assert_eq!(
            LoginIdentifier::parse("+86 138-0013-8000").unwrap(),
            LoginIdentifier::Phone("+8613800138000".into())
        );
        for bad in [
            "",
            "@example.com",
            "a@b",
            "a@.com",
            "12",
            "abc",
            "a b@c.com",
        ] {
            assert!(LoginIdentifier::parse(bad).is_err(), "{bad}");
        }
    }
}
