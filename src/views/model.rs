//! View models: what a page shows, as plain values the handlers fill from store rows (the
//! mapping is in the handlers), so a view never sees a row, a secret or a network type.

use crate::domain::tokens::TokenStatus;

/// One row of the tokens page.
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub creator: String,
    /// Whether the viewer created it.
    pub mine: bool,
    pub personal: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// As of the request.
    pub status: TokenStatus,
    /// What the token access policy lets the viewer do with it now.
    pub may_reveal: bool,
    pub may_revoke: bool,
}

/// One row of the audit log: the domain's entry, which holds only what people read.
pub use crate::domain::AuditEntry as AuditRow;

/// The SSO settings page's values. The client secret is only ever its mask.
pub struct SsoTeam {
    pub id: String,
    pub issuer: String,
    pub client_id: String,
    /// `••••••abcd`: the last four characters at most.
    pub client_secret_mask: String,
    pub client_auth: &'static str,
    pub provisioning: &'static str,
    pub admin_email: Option<String>,
    pub admin_groups: Vec<String>,
    pub trust_email: bool,
    pub idp_logout: bool,
}

/// What discovery found at the issuer, as the admin sees it.
pub struct DiscoveryView {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub signing_algs: String,
}

/// Settings saved but not applied yet, and how their test went.
pub struct PendingView {
    pub issuer: String,
    pub client_id: String,
    pub provisioning: String,
    pub admin_groups: Vec<String>,
    pub trust_email: bool,
    pub idp_logout: bool,
    pub tested: bool,
    pub test_error: Option<String>,
}
