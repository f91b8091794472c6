//! Roles, where a role came from, and the rule that a team always keeps an admin.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a user has their role: the config's `admin_email`, a person's decision (`manual`,
/// from the team page or the shell), the IdP's `groups`, or the default for new members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSource {
    AdminEmail,
    Manual,
    Groups,
    Default,
}

impl RoleSource {
    pub fn parse(s: &str) -> Option<RoleSource> {
        match s {
            "admin_email" => Some(RoleSource::AdminEmail),
            "manual" => Some(RoleSource::Manual),
            "groups" => Some(RoleSource::Groups),
            "default" => Some(RoleSource::Default),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RoleSource::AdminEmail => "admin_email",
            RoleSource::Manual => "manual",
            RoleSource::Groups => "groups",
            RoleSource::Default => "default",
        }
    }
    /// Where the role came from, in words (the team page, the audit log).
    pub fn label(self) -> &'static str {
        match self {
            RoleSource::AdminEmail => "the team's admin email",
            RoleSource::Manual => "set by an admin",
            RoleSource::Groups => "from identity provider groups",
            RoleSource::Default => "the default role",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("This is the team's last admin. A team always keeps at least one admin: make someone else an admin first.")]
    LastAdmin,
}

/// May a user whose current role is `current` lose admin rights (demotion or removal),
/// given `active_admins` admins in the team including them?
pub fn check_role_change(
    current: Role,
    new: Option<Role>,
    active_admins: i64,
) -> Result<(), RuleError> {
    let loses_admin = current == Role::Admin && new != Some(Role::Admin);
    if loses_admin && active_admins <= 1 {
        return Err(RuleError::LastAdmin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_admin_cannot_be_demoted_or_removed() {
        assert_eq!(
            check_role_change(Role::Admin, Some(Role::Member), 1),
            Err(RuleError::LastAdmin)
        );
        assert_eq!(
            check_role_change(Role::Admin, None, 1),
            Err(RuleError::LastAdmin)
        );
        assert_eq!(
            check_role_change(Role::Admin, Some(Role::Member), 2),
            Ok(())
        );
        assert_eq!(check_role_change(Role::Admin, Some(Role::Admin), 1), Ok(()));
        assert_eq!(check_role_change(Role::Member, None, 1), Ok(()));
        assert_eq!(
            check_role_change(Role::Member, Some(Role::Admin), 0),
            Ok(())
        );
    }
}
