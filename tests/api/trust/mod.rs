//! Trust boundaries: what one team, its IdP or an anonymous visitor must not reach.

mod admin_email;
mod anonymous;
mod domains;
mod idp_load;
mod login_csrf;
mod tenant_idp;
mod tokens;
