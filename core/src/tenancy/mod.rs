//! The user centre's domain: accounts, sessions, enterprises (tenants),
//! projects, feature permissions, data scopes, permission templates, API
//! keys and the audit log, with the storage traits `shiyun-schema`
//! implements. The rules that use them (hashing, tokens, flows) live in
//! `shiyun-accounts`.

pub mod ids;
pub mod permissions;
pub mod principal;
pub mod records;
pub mod store;

pub use ids::{
    AccountId, ApiKeyId, ApplicationId, EnterpriseId, InvitationId, ProjectId, SessionId,
    TemplateId, Tenant,
};
pub use permissions::{BuiltInTemplate, DataScope, Permission, Template};
pub use principal::{Credential, Principal, RowScope, Rows};
pub use records::*;
pub use store::*;
