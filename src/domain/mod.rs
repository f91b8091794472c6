//! Domain types and rules: Team IDs, emails, roles and who may do what. No I/O here.

pub mod admission;
pub mod domains;
mod ids;
pub mod net;
mod roles;
pub mod text;
pub mod tokens;
pub mod useragent;

pub use ids::{valid_domain, valid_unit, Email, TeamId};
pub use roles::{check_role_change, Role, RoleSource, RuleError};

/// What the pages call a person: their name, or their email when the IdP sent no name.
pub fn display_name<'a>(name: &'a str, email: &'a str) -> &'a str {
    if name.is_empty() {
        email
    } else {
        name
    }
}
