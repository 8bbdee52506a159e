//! Who is calling, resolved once per request: the account (or key), the one
//! identity it acts as, and what that identity may do and see.

use std::collections::BTreeSet;

use crate::tenancy::ids::{AccountId, ApiKeyId, ProjectId, SessionId, Tenant};
use crate::tenancy::permissions::{DataScope, Permission};

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of a log-in session.
    Session(SessionId),
    /// An API key.
    ApiKey(ApiKeyId),
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The person (for a key: the person who created it).
    pub account: AccountId,
    /// Session or key.
    pub credential: Credential,
    /// The tenant the request acts for.
    pub tenant: Tenant,
    /// What it may do there.
    pub permissions: BTreeSet<Permission>,
    /// Which rows it sees there.
    pub data_scope: DataScope,
    /// The projects it belongs to (used by the `projects` data scope).
    pub projects: BTreeSet<ProjectId>,
    /// A platform operator: may operate the catalog, vendors and syncs.
    /// Only a session of an operator account is; a key never is.
    pub operator: bool,
}

impl Principal {
    /// Whether it may do `permission` in its tenant.
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The rows of its tenant it sees, for store calls.
    pub fn scope(&self) -> RowScope {
        RowScope {
            tenant: self.tenant.clone(),
            rows: match self.data_scope {
                DataScope::All => Rows::All,
                DataScope::Projects => Rows::Projects {
                    projects: self.projects.clone(),
                    own: self.account.clone(),
                },
                DataScope::Own => Rows::Own(self.account.clone()),
            },
        }
    }
}

/// The rows of one tenant a store read may return. Every store method that
/// reads tenant data takes one; rows of other tenants are never returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowScope {
    /// The tenant.
    pub tenant: Tenant,
    /// Which of its rows.
    pub rows: Rows,
}

/// Which rows of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// All of them.
    All,
    /// Rows of these projects, and rows the account created.
    Projects {
        /// The projects.
        projects: BTreeSet<ProjectId>,
        /// The member, whose own rows are visible too.
        own: AccountId,
    },
    /// Only rows this account created.
    Own(AccountId),
}

impl RowScope {
    /// Every row of `tenant`.
    pub fn whole(tenant: Tenant) -> Self {
        RowScope {
            tenant,
            rows: Rows::All,
        }
    }

    /// Whether a row of `tenant`, created by `creator`, in `project`, is visible.
    /// Stores filter in SQL; this is the same rule for in-memory checks and tests.
    pub fn sees(&self, tenant: &Tenant, creator: &AccountId, project: Option<&ProjectId>) -> bool {
        if *tenant != self.tenant {
            return false;
        }
        match &self.rows {
            Rows::All => true,
            Rows::Own(me) => creator == me,
            Rows::Projects { projects, own } => {
                creator == own || project.is_some_and(|p| projects.contains(p))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::ids::EnterpriseId;

    #[test]
    fn scopes_hide_other_tenants_and_other_peoples_rows() {
        let ent = Tenant::Enterprise(EnterpriseId::from_random([1; 16]));
        let other = Tenant::Enterprise(EnterpriseId::from_random([2; 16]));
        let me = AccountId::from_random([3; 16]);
        let colleague = AccountId::from_random([4; 16]);
        let mine = ProjectId::from_random([5; 16]);
        let theirs = ProjectId::from_random([6; 16]);

        let all = RowScope::whole(ent.clone());
        assert!(all.sees(&ent, &colleague, None));
        assert!(!all.sees(&other, &me, None));

        let own = RowScope {
            tenant: ent.clone(),
            rows: Rows::Own(me.clone()),
        };
        assert!(own.sees(&ent, &me, Some(&theirs)));
        assert!(!own.sees(&ent, &colleague, Some(&mine)));

        let projects = RowScope {
            tenant: ent.clone(),
            rows: Rows::Projects {
                projects: [mine.clone()].into(),
                own: me.clone(),
            },
        };
        assert!(projects.sees(&ent, &colleague, Some(&mine)));
        assert!(!projects.sees(&ent, &colleague, Some(&theirs)));
        assert!(!projects.sees(&ent, &colleague, None));
        assert!(projects.sees(&ent, &me, None));
    }
}
