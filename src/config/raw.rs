//! The config file as written: serde structs that refuse unknown keys, with defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub billing: RawBilling,
    #[serde(default)]
    pub security: RawSecurity,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub teams: Vec<RawTeam>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
    #[serde(default)]
    pub access: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub workers: Option<usize>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBilling {
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default = "default_seat_price")]
    pub seat_price: String,
    #[serde(default)]
    pub unit_prices: BTreeMap<String, String>,
    #[serde(default = "default_true")]
    pub metering: bool,
}

impl Default for RawBilling {
    fn default() -> Self {
        RawBilling {
            currency: default_currency(),
            seat_price: default_seat_price(),
            unit_prices: BTreeMap::new(),
            metering: true,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecurity {
    #[serde(default)]
    pub password_login: bool,
    pub session_idle_minutes: Option<i64>,
    pub session_max_hours: Option<i64>,
    #[serde(default)]
    pub allow_private_issuers: bool,
    pub audit_retention_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub id: Option<String>,
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub client_secret_env: Option<String>,
    pub client_auth: Option<String>,
    pub admin_email: Option<String>,
    #[serde(default)]
    pub email_domains: Vec<String>,
    pub provisioning: Option<String>,
    #[serde(default)]
    pub admin_groups: Vec<String>,
    #[serde(default)]
    pub trust_email: bool,
}

pub(super) fn default_currency() -> String {
    "USD".into()
}
pub(super) fn default_seat_price() -> String {
    "0".into()
}
pub(super) fn default_true() -> bool {
    true
}
