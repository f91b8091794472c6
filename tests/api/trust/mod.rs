//! Trust boundaries: what one team, its IdP or an anonymous visitor must not reach.

mod abuse;
mod admin_email;
mod anonymous;
mod domains;
mod files;
mod idp_load;
mod login_csrf;
mod names;
mod search;
mod tenant_idp;
mod tokens;
mod transport;
