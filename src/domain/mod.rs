//! Domain types and rules: Team IDs, emails, roles, who may do what (members, tokens),
//! admission at sign-in, billing arithmetic, audit actions. No I/O here.

pub mod admission;
mod audit_action;
pub mod billing;
pub mod domains;
mod ids;
pub mod net;
mod provisioning;
mod roles;
pub mod session_list;
pub mod team_list;
mod team_source;
pub mod text;
pub mod token_access;
pub mod tokens;
pub mod useragent;

pub use audit_action::{AuditAction, Entry as AuditEntry};
pub use ids::{valid_domain, valid_unit, Email, TeamId, TokenId, UserId};
pub use provisioning::Provisioning;
pub use roles::{check_role_change, Role, RoleSource, RuleError};
pub use team_source::TeamSource;

/// What the pages call a person: their name, or their email when the IdP sent no name.
pub fn display_name<'a>(name: &'a str, email: &'a str) -> &'a str {
    if name.is_empty() {
        email
    } else {
        name
    }
}
