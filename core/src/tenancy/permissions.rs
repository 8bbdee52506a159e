//! Feature permissions (named actions), data scopes (which rows of a tenant
//! a member sees) and permission templates (a named set of both).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::tenancy::ids::{EnterpriseId, TemplateId};

macro_rules! permissions {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// A named action a route or a library call needs. The text form
        /// (`catalog:write`) is the public API.
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Permission {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)*
        }

        impl Permission {
            /// Every permission, in a stable order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            /// The text form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $text,)*
                }
            }
        }
    };
}

permissions! {
    /// Read the catalog beyond the public storefront (the change feed).
    CatalogRead => "catalog:read",
    /// Publish and change the enterprise's own partner listings.
    CatalogWrite => "catalog:write",
    /// See orders and subscriptions.
    OrdersRead => "orders:read",
    /// Place orders.
    OrdersCreate => "orders:create",
    /// Read metered usage.
    UsageRead => "usage:read",
    /// Report usage events.
    UsageWrite => "usage:write",
    /// Define the enterprise's own price plans.
    PlansManage => "plans:manage",
    /// Read invoices.
    InvoicesRead => "billing:invoices:read",
    /// Export invoices and usage.
    InvoicesExport => "billing:invoices:export",
    /// Read wallet balances and ledgers.
    WalletsRead => "wallets:read",
    /// Top up wallets.
    WalletsTopup => "wallets:topup",
    /// See the enterprise's members, applications and invitations.
    MembersRead => "members:read",
    /// Approve, invite, remove members and give them templates.
    MembersManage => "members:manage",
    /// Create, change and delete the enterprise's own templates.
    TemplatesManage => "templates:manage",
    /// See projects.
    ProjectsRead => "projects:read",
    /// Create projects and change their members.
    ProjectsManage => "projects:manage",
    /// Create, list and revoke API keys.
    KeysManage => "keys:manage",
    /// Read the enterprise's audit log.
    AuditRead => "audit:read",
    /// Read deployments.
    DeploymentsRead => "deployments:read",
    /// Deploy and change applications.
    DeploymentsWrite => "deployments:write",
}

impl Permission {
    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Permission::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| {
                ValidationError::new("permissions", format!("unknown permission `{text}`"))
            })
    }

    /// Whether the action only reads.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Permission::CatalogRead
                | Permission::OrdersRead
                | Permission::UsageRead
                | Permission::InvoicesRead
                | Permission::WalletsRead
                | Permission::MembersRead
                | Permission::ProjectsRead
                | Permission::AuditRead
                | Permission::DeploymentsRead
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Permission {
    /// What a person may do in their personal space: buy, pay and deploy
    /// for themselves. Running staff, templates, keys and a partner catalog
    /// needs an enterprise.
    pub const PERSONAL: &'static [Permission] = &[
        Permission::CatalogRead,
        Permission::OrdersRead,
        Permission::OrdersCreate,
        Permission::UsageRead,
        Permission::InvoicesRead,
        Permission::InvoicesExport,
        Permission::WalletsRead,
        Permission::WalletsTopup,
        Permission::DeploymentsRead,
        Permission::DeploymentsWrite,
        // Their own security log: log-ins, failed log-ins, password changes.
        Permission::AuditRead,
    ];
}

/// Which of a tenant's rows a member sees and changes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataScope {
    /// Every row of the enterprise.
    All,
    /// Rows of the projects the member belongs to (and their own).
    Projects,
    /// Only rows the member created.
    Own,
}

impl DataScope {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            DataScope::All => "all",
            DataScope::Projects => "projects",
            DataScope::Own => "own",
        }
    }

    /// The narrower of two scopes (`own` is narrower than `projects`,
    /// which is narrower than `all`).
    pub fn narrowest(self, other: DataScope) -> DataScope {
        // Declared from widest to narrowest.
        self.max(other)
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        [DataScope::All, DataScope::Projects, DataScope::Own]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                ValidationError::new(
                    "data_scope",
                    format!("`{text}` is not one of all, projects, own"),
                )
            })
    }
}

/// The built-in templates every enterprise has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltInTemplate {
    /// The administrator: everything. Exactly one member holds it.
    Owner,
    /// Everything but transferring the administrator role.
    Admin,
    /// Money: orders, invoices, exports, wallets, usage, read-only elsewhere.
    Finance,
    /// Builds and runs things in their projects.
    Developer,
    /// Reads what their projects hold.
    Viewer,
}

impl BuiltInTemplate {
    /// Every built-in template.
    pub const ALL: [BuiltInTemplate; 5] = [
        BuiltInTemplate::Owner,
        BuiltInTemplate::Admin,
        BuiltInTemplate::Finance,
        BuiltInTemplate::Developer,
        BuiltInTemplate::Viewer,
    ];

    /// The short name (`owner`).
    pub fn name(self) -> &'static str {
        match self {
            BuiltInTemplate::Owner => "owner",
            BuiltInTemplate::Admin => "admin",
            BuiltInTemplate::Finance => "finance",
            BuiltInTemplate::Developer => "developer",
            BuiltInTemplate::Viewer => "viewer",
        }
    }

    /// The fixed id (`tpl_owner`).
    pub fn id(self) -> TemplateId {
        TemplateId::built_in(self.name())
    }

    /// The built-in template with this id.
    pub fn from_id(id: &TemplateId) -> Option<Self> {
        BuiltInTemplate::ALL.into_iter().find(|t| t.id() == *id)
    }

    /// The template itself.
    pub fn template(self) -> Template {
        use Permission as P;
        let (permissions, data_scope): (Vec<Permission>, DataScope) = match self {
            BuiltInTemplate::Owner | BuiltInTemplate::Admin => {
                (Permission::ALL.to_vec(), DataScope::All)
            }
            BuiltInTemplate::Finance => (
                vec![
                    P::CatalogRead,
                    P::OrdersRead,
                    P::OrdersCreate,
                    P::UsageRead,
                    P::PlansManage,
                    P::InvoicesRead,
                    P::InvoicesExport,
                    P::WalletsRead,
                    P::WalletsTopup,
                    P::MembersRead,
                    P::ProjectsRead,
                ],
                DataScope::All,
            ),
            BuiltInTemplate::Developer => (
                vec![
                    P::CatalogRead,
                    P::OrdersRead,
                    P::OrdersCreate,
                    P::UsageRead,
                    P::UsageWrite,
                    P::ProjectsRead,
                    P::DeploymentsRead,
                    P::DeploymentsWrite,
                ],
                DataScope::Projects,
            ),
            BuiltInTemplate::Viewer => (
                Permission::ALL
                    .iter()
                    .copied()
                    .filter(|p| p.is_read_only() && *p != P::AuditRead)
                    .collect(),
                DataScope::Projects,
            ),
        };
        Template {
            id: self.id(),
            enterprise: None,
            name: self.name().to_owned(),
            permissions: permissions.into_iter().collect(),
            data_scope,
        }
    }
}

/// A named set of feature permissions plus a data scope. Built-in ones have
/// no enterprise; an enterprise's own ones name it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Id (`tpl_owner` for the built-in ones).
    pub id: TemplateId,
    /// The enterprise that defined it; absent for built-in templates.
    pub enterprise: Option<EnterpriseId>,
    /// Name, unique within the enterprise.
    pub name: String,
    /// Feature permissions.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Permission>))]
    pub permissions: BTreeSet<Permission>,
    /// Which rows members with it see.
    pub data_scope: DataScope,
}

impl Template {
    /// Whether it grants `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_through_their_text() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()).unwrap(), *p);
            assert_eq!(
                serde_json::to_string(p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert!(Permission::parse("catalog:delete").is_err());
    }

    #[test]
    fn the_narrowest_scope_wins() {
        use DataScope::*;
        assert_eq!(All.narrowest(Projects), Projects);
        assert_eq!(Own.narrowest(All), Own);
        assert_eq!(Projects.narrowest(Own), Own);
        assert_eq!(All.narrowest(All), All);
    }

    #[test]
    fn built_in_templates_keep_their_shape() {
        let owner = BuiltInTemplate::Owner.template();
        assert!(Permission::ALL.iter().all(|p| owner.allows(*p)));
        let viewer = BuiltInTemplate::Viewer.template();
        assert!(viewer.permissions.iter().all(|p| p.is_read_only()));
        assert!(!viewer.allows(Permission::AuditRead));
        let developer = BuiltInTemplate::Developer.template();
        assert_eq!(developer.data_scope, DataScope::Projects);
        assert!(!developer.allows(Permission::MembersManage));
        for t in BuiltInTemplate::ALL {
            assert_eq!(BuiltInTemplate::from_id(&t.id()), Some(t));
        }
    }
}
