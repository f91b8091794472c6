//! Trust boundaries: what one team, its IdP or an anonymous visitor must not reach.

mod admin_email;
mod anonymous;
mod domains;
mod login_csrf;
mod tokens;
