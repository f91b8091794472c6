//! Validated settings the rest of the program reads, secrets wrapped so they never print.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use rust_decimal::Decimal;
use url::Url;

use super::*;

/// A secret value (OIDC client secret). Never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: PathBuf,
    pub billing: BillingSettings,
    pub security: SecuritySettings,
    pub log: LogSettings,
    /// Where Prometheus scrapes `GET /metrics`: its own address; `None` (the default): off.
    pub metrics: Option<SocketAddr>,
    pub teams: Vec<TeamConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A checked `tracing` filter: `RUST_LOG` when set, else `[log] level`, else "info".
    pub filter: String,
    /// One line per request (off by default: forward-auth traffic would flood the log).
    pub access: bool,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Origin the browser sees; redirect URIs are built from it. No path.
    pub public_url: Url,
    pub workers: usize,
    pub trusted_proxies: Vec<IpAddr>,
    /// How long a request's body may take to arrive after its headers. Not a config key:
    /// the contract says 10 s; tests shorten it to see the deadline without waiting.
    pub body_timeout: std::time::Duration,
}

/// See [`ServerSettings::body_timeout`].
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl ServerSettings {
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
    /// `public_url` without the trailing slash, for building absolute URLs.
    pub fn base(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }
}

#[derive(Debug, Clone)]
pub struct BillingSettings {
    pub currency: String,
    pub seat_price: Decimal,
    pub unit_prices: BTreeMap<String, Decimal>,
    pub metering: bool,
}

impl BillingSettings {
    pub fn prices(&self) -> crate::domain::billing::Prices<'_> {
        crate::domain::billing::Prices {
            currency: &self.currency,
            seat_price: self.seat_price,
            unit_prices: &self.unit_prices,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub password_login: bool,
    pub session_idle: time::Duration,
    pub session_max: time::Duration,
    /// Issuers typed in the browser may be on loopback, private or link-local addresses.
    pub allow_private_issuers: bool,
    /// Audit rows older than this are deleted (daily, and at start).
    pub audit_retention_days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
}

impl ClientAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
        }
    }
}

/// One team's SSO and membership settings, validated.
#[derive(Debug, Clone)]
pub struct TeamConfig {
    pub id: TeamId,
    pub name: String,
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub client_auth: ClientAuth,
    pub admin_email: Option<Email>,
    pub email_domains: Vec<String>,
    pub provisioning: Provisioning,
    pub admin_groups: Vec<String>,
    pub trust_email: bool,
    /// Made with `admin create-team`, so its admin chose the IdP: the IdP is trusted for
    /// that team's identities only, and its metadata is held to stricter rules.
    pub browser_managed: bool,
}

impl TeamConfig {
    /// The issuer exactly as configured (and as the metadata's `issuer` must say).
    pub fn issuer_str(&self) -> String {
        issuer_string(&self.issuer)
    }
}

/// `Url` adds a trailing slash to a bare origin; an issuer is compared as the IdP writes it.
pub fn issuer_string(url: &Url) -> String {
    let s = url.as_str();
    if url.path() == "/" && url.query().is_none() {
        s.trim_end_matches('/').to_string()
    } else {
        s.to_string()
    }
}
