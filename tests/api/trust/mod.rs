//! Trust boundaries: what one team, its IdP or an anonymous visitor must not reach.

mod admin_email;
mod domains;
mod tokens;
