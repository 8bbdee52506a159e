//! Identifiers of the user centre: a prefix naming the kind, then 32
//! lowercase hex digits drawn at random (so ids neither count nor guess).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $field:literal, $pattern:literal) => {
        $(#[$doc])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = $pattern))]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id from 16 random bytes (the caller draws them: core has no IO).
            pub fn from_random(bytes: [u8; 16]) -> Self {
                $name(format!("{}_{}", $prefix, hex::encode(bytes)))
            }

            /// Parses an id, checking its prefix and characters.
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                let valid = text
                    .strip_prefix(concat!($prefix, "_"))
                    .is_some_and(|rest| {
                        !rest.is_empty()
                            && rest.len() <= 40
                            && rest.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
                    });
                if valid {
                    Ok($name(text.to_owned()))
                } else {
                    Err(ValidationError::new(
                        $field,
                        concat!("is not a ", $field, " (`", $prefix, "_` and lowercase letters or digits)"),
                    ))
                }
            }

            /// The text form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $name::parse(text)
            }
        }
    };
}
pub(crate) use prefixed_id;

prefixed_id!(
    /// A person's account.
    AccountId, "acc", "account_id", "^acc_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// An enterprise (a tenant with members).
    EnterpriseId, "ent", "enterprise_id", "^ent_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A project inside an enterprise.
    ProjectId, "prj", "project_id", "^prj_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A permission template. The built-in ones have fixed ids (`tpl_owner`).
    TemplateId, "tpl", "template_id", "^tpl_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// An API key (the public part of the key's text).
    ApiKeyId, "key", "key_id", "^key_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// A log-in session: one family of rotating refresh tokens.
    SessionId, "ses", "session_id", "^ses_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// An individual's application to join an enterprise.
    ApplicationId, "apl", "application_id", "^apl_[0-9a-z]{1,40}$"
);
prefixed_id!(
    /// An enterprise's invitation to an individual.
    InvitationId, "inv", "invitation_id", "^inv_[0-9a-z]{1,40}$"
);

/// Whose data a row is: a person's personal space or an enterprise. Stored
/// as the inner id's text; the prefix tells the two apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Tenant {
    /// An account's personal space.
    Personal(AccountId),
    /// An enterprise.
    Enterprise(EnterpriseId),
}

impl Tenant {
    /// The stored text (`acc_…` or `ent_…`).
    pub fn as_str(&self) -> &str {
        match self {
            Tenant::Personal(id) => id.as_str(),
            Tenant::Enterprise(id) => id.as_str(),
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if text.starts_with("ent_") {
            EnterpriseId::parse(text).map(Tenant::Enterprise)
        } else {
            AccountId::parse(text)
                .map(Tenant::Personal)
                .map_err(|_| ValidationError::new("tenant", "is not an account or enterprise id"))
        }
    }

    /// The enterprise, when the tenant is one.
    pub fn enterprise(&self) -> Option<&EnterpriseId> {
        match self {
            Tenant::Enterprise(id) => Some(id),
            Tenant::Personal(_) => None,
        }
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Tenant {
    type Error = ValidationError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Tenant::parse(&text)
    }
}

impl From<Tenant> for String {
    fn from(tenant: Tenant) -> String {
        tenant.as_str().to_owned()
    }
}

impl TemplateId {
    /// The fixed id of a built-in template (`tpl_owner`).
    pub(crate) fn built_in(name: &'static str) -> Self {
        TemplateId(format!("tpl_{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_prefix_and_refuse_others() {
        let id = AccountId::from_random([0xab; 16]);
        assert_eq!(id.as_str(), format!("acc_{}", "ab".repeat(16)));
        assert_eq!(AccountId::parse(id.as_str()).unwrap(), id);
        assert!(AccountId::parse("ent_abc").is_err());
        assert!(AccountId::parse("acc_").is_err());
        assert!(AccountId::parse("acc_ABC").is_err());
        assert!(AccountId::parse("acc_a-b").is_err());
    }

    #[test]
    fn a_tenant_is_told_apart_by_its_prefix() {
        let ent = EnterpriseId::from_random([1; 16]);
        let acc = AccountId::from_random([2; 16]);
        assert_eq!(
            Tenant::parse(ent.as_str()).unwrap(),
            Tenant::Enterprise(ent)
        );
        assert_eq!(Tenant::parse(acc.as_str()).unwrap(), Tenant::Personal(acc));
        assert!(Tenant::parse("prj_01").is_err());
    }
}
