//! Test support: the real OpenID Provider (npm oidc-provider), a misbehaving fake one, and
//! a headless Chromium.
pub mod browser;
pub mod fake_idp;
pub mod idp;
pub mod served;
