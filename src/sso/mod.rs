//! Single sign-on with OpenID Connect (authorization code flow, confidential client, PKCE):
//! the registry of teams' SSO settings, the IdP caches, the login flows and their errors.

mod answers;
pub mod backchannel;
pub mod demo_idp;
pub mod editable;
mod endpoints;
mod flow;
mod id_token;
mod idp_calls;
pub mod logout;
pub mod provider;
pub mod ratelimit;
mod reach;
pub mod redirect;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

pub use flow::{finish, start, take_pending, CallbackParams, Finished, StartRequest};
pub use id_token::{GroupsClaim, OidcIdToken};
pub use provider::Providers;

use crate::config::TeamConfig;

/// Why a sign-in did not happen; each maps to a status and a page in `error.rs`.
///
/// The `Display` text is the detailed cause, for the log and for admins (the SSO settings
/// page, a failed test sign-in): it may name IdP URLs and upstream status codes. Pages for
/// anyone else are built from the variant alone (and `Misconfigured`'s `public`), because an
/// IdP chosen by one team's admin must not learn anything through another visitor's page,
/// and a visitor has no use for the IdP's internals.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SsoError {
    #[error("no team with this Team ID")]
    UnknownTeam,
    #[error("the identity provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the identity provider did not answer in time")]
    Timeout,
    #[error("the identity provider is having trouble: {0}")]
    Unavailable(String),
    #[error("the identity provider is rate limiting sign-ins")]
    RateLimited,
    /// `public` is written by teamportal and safe for anyone; `detail` is the cause.
    #[error(
        "the identity provider is misconfigured: {}",
        with_detail(public, detail)
    )]
    Misconfigured {
        public: &'static str,
        detail: String,
    },
    #[error("invalid sign-in: {0}")]
    Invalid(String),
    #[error("the identity provider denied access")]
    AccessDenied(Option<String>),
    #[error("the identity provider did not confirm the email address")]
    EmailNotVerified,
    #[error("the identity provider sent no email address")]
    NoEmail,
    #[error("too many sign-in attempts from this address")]
    TooManyStarts,
}

fn with_detail(public: &str, detail: &str) -> String {
    if detail.is_empty() || detail == public {
        public.to_string()
    } else {
        format!("{public} ({detail})")
    }
}

impl SsoError {
    pub fn from_transport(e: reqwest::Error) -> SsoError {
        if e.is_timeout() {
            SsoError::Timeout
        } else {
            // For the log and admins: where, and the underlying cause (refused, DNS, TLS).
            // URLs carry no credentials (those go in headers and bodies); queries are cut.
            let mut detail = e
                .url()
                .map(|u| format!("{}: ", provider::without_query(u)))
                .unwrap_or_default();
            let mut causes = String::new();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                causes.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            detail.push_str(&e.without_url().to_string());
            detail.push_str(&causes);
            SsoError::Unreachable(detail)
        }
    }

    /// A misconfiguration with a reason anyone may read and the cause behind it.
    pub fn misconfigured(public: &'static str, detail: impl Into<String>) -> SsoError {
        SsoError::Misconfigured {
            public,
            detail: detail.into(),
        }
    }
}

/// The teams whose SSO this instance serves, by Team ID, plus the shared IdP caches.
pub struct Registry {
    teams: RwLock<BTreeMap<String, Arc<TeamConfig>>>,
    pub providers: Providers,
    /// `[security] allow_private_issuers`: browser-managed teams' IdPs may be anywhere.
    pub allow_private_issuers: bool,
}

impl Registry {
    /// What the portal's requests for `team` may reach: anything for teams the operator
    /// configured, public addresses only for a team whose admin chose its IdP. An issuer
    /// written as a loopback or private address can only have come from the operator
    /// (`admin create-team`; the browser refuses such issuers without
    /// `allow_private_issuers`), so its requests may go there.
    pub fn reach(&self, team: &TeamConfig) -> provider::Reach {
        if team.browser_managed
            && !self.allow_private_issuers
            && !provider::names_private_address(&team.issuer)
        {
            provider::Reach::PublicOnly
        } else {
            provider::Reach::Any
        }
    }

    pub fn new(teams: Vec<TeamConfig>, allow_private_issuers: bool) -> Registry {
        let registry = Registry {
            allow_private_issuers,
            teams: RwLock::new(
                teams
                    .into_iter()
                    .map(|t| (t.id.as_str().to_string(), Arc::new(t)))
                    .collect(),
            ),
            providers: Providers::new(),
        };
        registry.pin_issuers();
        registry
    }

    /// The live teams' IdP caches are never forgotten to make room for issuers under test.
    pub fn pin_issuers(&self) {
        let issuers: Vec<String> = self.all().iter().map(|t| t.issuer_str()).collect();
        self.providers.pin(issuers);
    }

    pub fn get(&self, id: &str) -> Option<Arc<TeamConfig>> {
        self.teams.read().ok()?.get(id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<TeamConfig>> {
        self.teams
            .read()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn insert(&self, team: TeamConfig) {
        if let Ok(mut t) = self.teams.write() {
            t.insert(team.id.as_str().to_string(), Arc::new(team));
        }
        self.pin_issuers();
    }
}

/// The redirect URI to register at the IdP for a team.
pub fn redirect_uri(base: &str, team: &str) -> String {
    format!("{base}/sso/{team}/callback")
}

/// The "Initiate login URI" (third-party initiated login) to register at the IdP.
pub fn initiate_uri(base: &str, team: &str) -> String {
    format!("{base}/sso/{team}/initiate")
}

/// The scopes teamportal asks for; `groups` only when the team maps groups to admins.
pub fn scopes(team: &TeamConfig) -> Vec<&'static str> {
    let mut s = vec!["openid", "email", "profile"];
    if !team.admin_groups.is_empty() {
        s.push("groups");
    }
    s
}
