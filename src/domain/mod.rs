//! Domain types and rules: Team IDs, emails, roles and who may do what. No I/O here.

mod ids;
mod roles;

pub use ids::{valid_domain, valid_unit, Email, TeamId};
pub use roles::{check_role_change, Role, RoleSource, RuleError};
