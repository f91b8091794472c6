//! Configuration: the raw TOML file (serde, unknown keys refused) and the validated
//! [`Settings`] the rest of the program uses. Every problem is reported with the key, the
//! value and the rule, all at once, so an operator fixes the file in one pass.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::Deserialize;
use url::Url;

use crate::domain::{Email, TeamId};

mod layers;
pub use layers::{Overrides, PREFIX as ENV_PREFIX};

/// The embedded defaults `serve` runs with when no config file is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "teamportal.db";

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
    #[serde(default)]
    pub idp_logout: bool,
}

fn default_currency() -> String {
    "USD".into()
}
fn default_seat_price() -> String {
    "0".into()
}
fn default_true() -> bool {
    true
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provisioning {
    Jit,
    Invite,
}

impl Provisioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Provisioning::Jit => "jit",
            Provisioning::Invite => "invite",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jit" => Some(Provisioning::Jit),
            "invite" => Some(Provisioning::Invite),
            _ => None,
        }
    }
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
    /// Signing out also ends the IdP session (OIDC RP-Initiated Logout), when the IdP's
    /// discovery has an `end_session_endpoint`.
    pub idp_logout: bool,
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

/// One configuration problem: `key = "value": rule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub rule: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:?}: {}", self.key, self.value, self.rule)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ConfigError>),
}

/// Reads and validates the config: the file (`None`: the embedded defaults), then the
/// `TEAMPORTAL_*` environment, then `overrides`.
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Settings, LoadError> {
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    load_from(path, overrides, &vars, &cwd)
}

/// [`load`] with the environment and working directory given (for tests).
pub fn load_from(
    path: Option<&Path>,
    overrides: &Overrides,
    vars: &BTreeMap<String, String>,
    cwd: &Path,
) -> Result<Settings, LoadError> {
    let text = match path {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        ),
    };
    // The file alone first, so its unknown keys and syntax errors read as they always did.
    let from_file = match (&text, path) {
        (Some(text), Some(path)) => parse(text).map_err(|message| LoadError::Parse {
            path: path.to_path_buf(),
            message,
        })?,
        _ => RawConfig::default(),
    };
    let outside = layers::outside(vars, overrides, cwd);
    if !outside.errors.is_empty() {
        return Err(LoadError::Invalid(outside.errors));
    }
    let raw = if outside.layers.is_empty() {
        from_file
    } else {
        let mut figment = figment::Figment::new();
        if let Some(text) = &text {
            use figment::providers::Format;
            figment = figment.merge(figment::providers::Toml::string(text));
        }
        for layer in &outside.layers {
            figment = figment.merge(layer.clone());
        }
        figment
            .extract_lossy::<RawConfig>()
            .map_err(|e| LoadError::Invalid(layers::from_figment(e, &outside)))?
    };
    let base = path.and_then(Path::parent).unwrap_or(Path::new("."));
    validate(raw, base, &|name| vars.get(name).cloned()).map_err(|errors| {
        // A bad value from the environment or a flag is named by where it came from.
        LoadError::Invalid(
            errors
                .into_iter()
                .map(|mut e| {
                    if let Some(layer) = outside.origin_of(&e.key) {
                        e.key = layer.origin.clone();
                    }
                    e
                })
                .collect(),
        )
    })
}

pub fn parse(text: &str) -> Result<RawConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

struct Errors(Vec<ConfigError>);

impl Errors {
    fn push(&mut self, key: impl Into<String>, value: impl Into<String>, rule: impl Into<String>) {
        self.0.push(ConfigError {
            key: key.into(),
            value: value.into(),
            rule: rule.into(),
        });
    }
}

/// Turns raw input into settings. `base` resolves relative paths (the config file's folder);
/// `env` reads environment variables (injected so tests need not touch the process env).
pub fn validate(
    raw: RawConfig,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, Vec<ConfigError>> {
    let mut errors = Errors(Vec::new());

    let listen_raw = raw.server.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
    let listen = listen_raw.parse::<SocketAddr>().unwrap_or_else(|_| {
        errors.push(
            "server.listen",
            &listen_raw,
            "must be an IP address and port, e.g. \"127.0.0.1:8080\"",
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });

    let public_url = match raw.server.public_url {
        None => Url::parse(&format!("http://{listen}")).ok(),
        Some(value) => check_public_url(&value, &mut errors),
    }
    .unwrap_or_else(|| Url::parse("http://127.0.0.1:8080").expect("static URL parses"));

    let workers = match raw.server.workers {
        Some(0) => {
            errors.push("server.workers", "0", "must be at least 1");
            1
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };

    let mut trusted_proxies = Vec::new();
    for (i, p) in raw.server.trusted_proxies.iter().enumerate() {
        match p.parse::<IpAddr>() {
            Ok(ip) => trusted_proxies.push(ip),
            Err(_) => errors.push(
                format!("server.trusted_proxies[{i}]"),
                p,
                "must be an IP address of a reverse proxy in front of teamportal",
            ),
        }
    }

    let database = raw
        .database
        .path
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATABASE));
    let database = if database.is_absolute() {
        database
    } else {
        base.join(database)
    };

    let billing = check_billing(raw.billing, &mut errors);

    let session_idle = raw.security.session_idle_minutes.unwrap_or(12 * 60);
    if session_idle < 1 {
        errors.push(
            "security.session_idle_minutes",
            session_idle.to_string(),
            "must be at least 1",
        );
    }
    let session_max = raw.security.session_max_hours.unwrap_or(7 * 24);
    if session_max < 1 {
        errors.push(
            "security.session_max_hours",
            session_max.to_string(),
            "must be at least 1",
        );
    }
    let audit_retention_days = raw.security.audit_retention_days.unwrap_or(400);
    if !(1..=36_500).contains(&audit_retention_days) {
        errors.push(
            "security.audit_retention_days",
            audit_retention_days.to_string(),
            "must be from 1 to 36500",
        );
    }
    let security = SecuritySettings {
        password_login: raw.security.password_login,
        session_idle: time::Duration::minutes(session_idle.max(1)),
        session_max: time::Duration::hours(session_max.max(1)),
        allow_private_issuers: raw.security.allow_private_issuers,
        audit_retention_days: audit_retention_days.clamp(1, 36_500),
    };

    let log = check_log(&raw.log, env, &mut errors.0);

    let metrics = raw.metrics.listen.and_then(|value| {
        let key = "metrics.listen";
        match value.parse::<SocketAddr>() {
            Err(_) => {
                errors.push(
                    key,
                    &value,
                    "must be an IP address and port, e.g. \"127.0.0.1:9464\"",
                );
                None
            }
            // Port 0 (any free port) cannot collide; the same port on any address would.
            Ok(addr) if addr.port() != 0 && addr.port() == listen.port() => {
                errors.push(
                    key,
                    &value,
                    "must be another port than server.listen's: metrics are not served on the portal's address",
                );
                None
            }
            Ok(addr) => Some(addr),
        }
    });

    let mut teams: Vec<TeamConfig> = Vec::new();
    for (i, team) in raw.teams.into_iter().enumerate() {
        if let Some(team) = check_team(i, team, base, env, &mut errors) {
            if teams.iter().any(|t| t.id == team.id) {
                errors.push(
                    format!("teams[{i}].id"),
                    team.id.as_str(),
                    "another team already has this Team ID; each Team ID must be unique",
                );
            } else {
                teams.push(team);
            }
        }
    }
    // Email domains route a work email to one team: a domain in two teams is ambiguous.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for team in &teams {
        for d in &team.email_domains {
            if let Some(other) = seen.insert(d, team.id.as_str()) {
                errors.push(
                    format!("teams[{}].email_domains", team.id),
                    d,
                    format!(
                        "already routes to team {other:?}; a domain may belong to one team only"
                    ),
                );
            }
        }
    }

    if errors.0.is_empty() {
        Ok(Settings {
            server: ServerSettings {
                listen,
                public_url,
                workers,
                trusted_proxies,
                body_timeout: BODY_TIMEOUT,
            },
            database,
            billing,
            security,
            log,
            metrics,
            teams,
        })
    } else {
        Err(errors.0)
    }
}

/// `[log]`, with `RUST_LOG` (read through `env`) winning over `level`. A filter that names no
/// real level is refused rather than read as "info": the operator asked for something.
pub fn check_log(
    raw: &RawLog,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> LogSettings {
    let mut push = |key: &str, value: &str, rule: &str| {
        errors.push(ConfigError {
            key: key.into(),
            value: value.into(),
            rule: rule.into(),
        })
    };
    let format = match raw.format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(v) => {
            push("log.format", v, "must be \"text\" or \"json\"");
            LogFormat::Text
        }
    };
    let (key, filter) = match env("RUST_LOG").filter(|v| !v.trim().is_empty()) {
        Some(v) => ("RUST_LOG", v),
        None => (
            "log.level",
            raw.level.clone().unwrap_or_else(|| "info".into()),
        ),
    };
    if let Err(rule) = check_filter(&filter) {
        push(key, &filter, rule);
    }
    LogSettings {
        format,
        filter,
        access: raw.access,
    }
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// `tracing` reads a bare word as a target name, so "verbose" would silently mean "log
/// nothing but a target called verbose": every directive must end in a level.
fn check_filter(filter: &str) -> Result<(), &'static str> {
    const RULE: &str = "must be a level (trace, debug, info, warn, error, off) or directives \
                        such as \"info,teamportal=debug\"";
    let is_level = |l: &str| LEVELS.iter().any(|x| x.eq_ignore_ascii_case(l.trim()));
    for part in filter.split(',') {
        let level = part.rsplit_once('=').map_or(part, |(_, level)| level);
        if !is_level(level) {
            return Err(RULE);
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map(|_| ())
        .map_err(|_| RULE)
}

fn check_public_url(value: &str, errors: &mut Errors) -> Option<Url> {
    let key = "server.public_url";
    let Ok(url) = Url::parse(value) else {
        errors.push(
            key,
            value,
            "must be an absolute URL such as \"https://portal.example.com\"",
        );
        return None;
    };
    if url.scheme() != "https" && url.scheme() != "http" {
        errors.push(
            key,
            value,
            "must start with https:// (or http:// on loopback)",
        );
        return None;
    }
    if url.scheme() == "http" && !is_loopback_host(&url) {
        errors.push(key, value, "must be https unless the host is loopback");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        errors.push(
            key,
            value,
            "must be an origin without a path, query or fragment (teamportal is served at the root)",
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        errors.push(key, value, "must not contain a user name or password");
    }
    Some(url)
}

fn check_billing(raw: RawBilling, errors: &mut Errors) -> BillingSettings {
    let currency = raw.currency.trim().to_string();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        errors.push(
            "billing.currency",
            &raw.currency,
            "must be a three-letter ISO 4217 code in capitals, e.g. \"USD\"",
        );
    }
    let seat_price = price("billing.seat_price", &raw.seat_price, errors);
    let mut unit_prices = BTreeMap::new();
    for (unit, p) in &raw.unit_prices {
        if !crate::domain::valid_unit(unit) {
            errors.push(
                format!("billing.unit_prices.{unit}"),
                p,
                "unit names are 1-64 characters: lowercase letters, digits, '_', '-', '.'",
            );
        }
        unit_prices.insert(
            unit.clone(),
            price(&format!("billing.unit_prices.{unit}"), p, errors),
        );
    }
    BillingSettings {
        currency,
        seat_price,
        unit_prices,
        metering: raw.metering,
    }
}

fn price(key: &str, value: &str, errors: &mut Errors) -> Decimal {
    match value.trim().parse::<Decimal>() {
        Ok(d) if d >= Decimal::ZERO => d,
        _ => {
            errors.push(
                key,
                value,
                "must be a non-negative decimal number written as a string, e.g. \"10.00\"",
            );
            Decimal::ZERO
        }
    }
}

fn check_team(
    i: usize,
    raw: RawTeam,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Errors,
) -> Option<TeamConfig> {
    let before = errors.0.len();
    let k = |name: &str| format!("teams[{i}].{name}");

    let id = match raw.id.as_deref() {
        None => {
            errors.push(
                k("id"),
                "",
                "is required: the Team ID people type to sign in",
            );
            None
        }
        Some(v) => match TeamId::parse(v) {
            Ok(id) => Some(id),
            Err(rule) => {
                errors.push(k("id"), v, rule);
                None
            }
        },
    };
    let name = raw.name.clone().unwrap_or_default().trim().to_string();
    if name.is_empty() {
        errors.push(
            k("name"),
            raw.name.unwrap_or_default(),
            "is required: the team's display name",
        );
    }

    let issuer = match raw.issuer.as_deref() {
        None => {
            errors.push(
                k("issuer"),
                "",
                "is required: the \"issuer\" of your IdP's OpenID Provider Metadata, e.g. \"https://acme.okta.com\"",
            );
            None
        }
        Some(v) => match check_issuer(v) {
            Ok(u) => Some(u),
            Err(rule) => {
                errors.push(k("issuer"), v, rule);
                None
            }
        },
    };

    let client_id = raw.client_id.unwrap_or_default().trim().to_string();
    if client_id.is_empty() {
        errors.push(
            k("client_id"),
            "",
            "is required: the Client ID of the OIDC app in your IdP",
        );
    }

    let client_secret = secret_from(
        i,
        &raw.client_secret,
        &raw.client_secret_file,
        &raw.client_secret_env,
        base,
        env,
        errors,
    );

    let client_auth = match raw.client_auth.as_deref() {
        None | Some("client_secret_basic") => ClientAuth::Basic,
        Some("client_secret_post") => ClientAuth::Post,
        Some(v) => {
            errors.push(
                k("client_auth"),
                v,
                "must be \"client_secret_basic\" or \"client_secret_post\"",
            );
            ClientAuth::Basic
        }
    };

    let admin_email = match raw.admin_email.as_deref() {
        None => None,
        Some(v) => match Email::parse(v) {
            Some(e) => Some(e),
            None => {
                errors.push(k("admin_email"), v, "must be an email address");
                None
            }
        },
    };

    let mut email_domains = Vec::new();
    for d in &raw.email_domains {
        let norm = d.trim().to_ascii_lowercase();
        if crate::domain::valid_domain(&norm) {
            if !email_domains.contains(&norm) {
                email_domains.push(norm);
            }
        } else {
            errors.push(
                k("email_domains"),
                d,
                "must be a domain name such as \"acme.com\"",
            );
        }
    }

    let provisioning = match raw.provisioning.as_deref() {
        None => Provisioning::Jit,
        Some(v) => Provisioning::parse(v).unwrap_or_else(|| {
            errors.push(k("provisioning"), v, "must be \"jit\" or \"invite\"");
            Provisioning::Jit
        }),
    };

    let mut admin_groups = Vec::new();
    for g in raw.admin_groups {
        if g.trim().is_empty() {
            errors.push(k("admin_groups"), g, "group names must not be empty");
        } else {
            admin_groups.push(g);
        }
    }

    if errors.0.len() > before {
        return None;
    }
    Some(TeamConfig {
        id: id?,
        name,
        issuer: issuer?,
        client_id,
        client_secret: client_secret?,
        client_auth,
        admin_email,
        email_domains,
        provisioning,
        admin_groups,
        trust_email: raw.trust_email,
        idp_logout: raw.idp_logout,
        browser_managed: false,
    })
}

fn secret_from(
    i: usize,
    inline: &Option<String>,
    file: &Option<PathBuf>,
    env_name: &Option<String>,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Errors,
) -> Option<Secret> {
    let given = [inline.is_some(), file.is_some(), env_name.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    let key = format!("teams[{i}].client_secret");
    if given == 0 {
        errors.push(
            key,
            "",
            "is required: set one of client_secret, client_secret_file or client_secret_env",
        );
        return None;
    }
    if given > 1 {
        errors.push(
            key,
            "***",
            "set only one of client_secret, client_secret_file or client_secret_env",
        );
        return None;
    }
    if let Some(s) = inline {
        if s.trim().is_empty() {
            errors.push(key, "", "must not be empty");
            return None;
        }
        return Some(Secret::new(s.trim()));
    }
    if let Some(path) = file {
        let full = if path.is_absolute() {
            path.clone()
        } else {
            base.join(path)
        };
        return match std::fs::read_to_string(&full) {
            Ok(s) if !s.trim().is_empty() => Some(Secret::new(s.trim())),
            Ok(_) => {
                errors.push(
                    format!("teams[{i}].client_secret_file"),
                    full.display().to_string(),
                    "the file is empty",
                );
                None
            }
            Err(e) => {
                errors.push(
                    format!("teams[{i}].client_secret_file"),
                    full.display().to_string(),
                    format!("cannot read the file: {e}"),
                );
                None
            }
        };
    }
    if let Some(name) = env_name {
        return match env(name) {
            Some(s) if !s.trim().is_empty() => Some(Secret::new(s.trim())),
            _ => {
                errors.push(
                    format!("teams[{i}].client_secret_env"),
                    name,
                    "the environment variable is not set or empty",
                );
                None
            }
        };
    }
    None
}

/// An issuer must be https, except on loopback (for tests and the demo), with no query or
/// fragment (OIDC Discovery section 3).
pub fn check_issuer(value: &str) -> Result<Url, &'static str> {
    let url = Url::parse(value)
        .map_err(|_| "must be an absolute URL such as \"https://acme.okta.com\"")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => return Err("must be https (http is allowed only on loopback)"),
        _ => return Err("must be an https URL"),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must have a host");
    }
    Ok(url)
}

pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Settings, Vec<ConfigError>> {
        validate(
            parse(text).expect("toml"),
            Path::new("/nonexistent"),
            &|n| (n == "ACME_SECRET").then(|| "from-env".to_string()),
        )
    }

    const TEAM: &str = r#"
        [[teams]]
        id = "acme"
        name = "Acme"
        issuer = "https://acme.okta.com"
        client_id = "0oa1"
        client_secret = "s3cret"
        admin_email = "Alice@Acme.com"
    "#;

    #[test]
    fn defaults_without_a_file() {
        let s = validate(RawConfig::default(), Path::new("."), &|_| None).expect("valid");
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert!(s.database.ends_with("teamportal.db"));
        assert!(s.teams.is_empty());
        assert!(!s.server.is_https());
    }

    #[test]
    fn a_valid_team_is_accepted_and_email_is_lowercased() {
        let s = check(TEAM).expect("valid");
        let t = &s.teams[0];
        assert_eq!(t.id.as_str(), "acme");
        assert_eq!(
            t.admin_email.as_ref().map(Email::as_str),
            Some("alice@acme.com")
        );
        assert_eq!(t.issuer_str(), "https://acme.okta.com");
        assert_eq!(t.client_secret.expose(), "s3cret");
        assert!(
            !format!("{t:?}").contains("s3cret"),
            "secrets never printed"
        );
    }

    fn errors_for(text: &str) -> Vec<String> {
        check(text)
            .expect_err("invalid")
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn team_id_with_capitals_or_underscores_is_refused() {
        for bad in ["Acme", "acme_eng", "-acme", "acme-", "acme--eng", ""] {
            let errs = errors_for(&TEAM.replace("id = \"acme\"", &format!("id = {bad:?}")));
            assert!(
                errs.iter()
                    .any(|e| e.starts_with(&format!("teams[0].id = {bad:?}"))),
                "{bad}: {errs:?}"
            );
        }
    }

    #[test]
    fn non_https_issuer_outside_loopback_is_refused() {
        let errs = errors_for(&TEAM.replace("https://acme.okta.com", "http://acme.okta.com"));
        assert_eq!(errs, vec!["teams[0].issuer = \"http://acme.okta.com\": must be https (http is allowed only on loopback)"]);
        assert!(check(&TEAM.replace("https://acme.okta.com", "http://127.0.0.1:9000")).is_ok());
    }

    #[test]
    fn public_url_with_a_path_is_refused() {
        let errs = errors_for("[server]\npublic_url = \"https://example.com/portal\"\n");
        assert!(
            errs[0].starts_with(
                "server.public_url = \"https://example.com/portal\": must be an origin"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn duplicate_team_ids_are_refused() {
        let errs = errors_for(&format!("{TEAM}{TEAM}"));
        assert!(
            errs.iter()
                .any(|e| e.starts_with("teams[1].id = \"acme\": another team")),
            "{errs:?}"
        );
    }

    #[test]
    fn missing_secret_file_is_named() {
        let text = TEAM.replace(
            "client_secret = \"s3cret\"",
            "client_secret_file = \"/nope/secret\"",
        );
        let errs = errors_for(&text);
        assert!(
            errs[0].starts_with(
                "teams[0].client_secret_file = \"/nope/secret\": cannot read the file"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn secret_from_env() {
        let text = TEAM.replace(
            "client_secret = \"s3cret\"",
            "client_secret_env = \"ACME_SECRET\"",
        );
        assert_eq!(
            check(&text).expect("valid").teams[0].client_secret.expose(),
            "from-env"
        );
        let text = TEAM.replace(
            "client_secret = \"s3cret\"",
            "client_secret_env = \"UNSET\"",
        );
        assert!(errors_for(&text)[0].starts_with("teams[0].client_secret_env = \"UNSET\""));
    }

    #[test]
    fn all_errors_are_reported_at_once() {
        let text = r#"
            [server]
            listen = "nope"
            [billing]
            seat_price = "-1"
            [[teams]]
            id = "Bad_Id"
            name = "x"
            issuer = "ftp://x"
            client_id = "c"
            client_secret = "s"
            provisioning = "sometimes"
        "#;
        let errs = errors_for(text);
        assert_eq!(errs.len(), 5, "{errs:?}");
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_variable_and_its_file_twin_together_are_refused() {
        let env = vars(&[
            ("TEAMPORTAL_SERVER__LISTEN", "127.0.0.1:1"),
            ("TEAMPORTAL_SERVER__LISTEN_FILE", "/nonexistent"),
        ]);
        let Err(LoadError::Invalid(errs)) =
            load_from(None, &Overrides::default(), &env, Path::new("/"))
        else {
            panic!("refused");
        };
        assert_eq!(errs[0].key, "TEAMPORTAL_SERVER__LISTEN_FILE");
        assert!(errs[0].rule.contains("set only one"), "{errs:?}");
    }

    #[test]
    fn flags_win_over_variables_and_relative_paths_are_from_the_working_directory() {
        let env = vars(&[
            ("TEAMPORTAL_SERVER__LISTEN", "127.0.0.1:1"),
            ("TEAMPORTAL_DATABASE__PATH", "env.db"),
            ("TEAMPORTAL_CONFIG", "ignored: not a setting"),
        ]);
        let flags = Overrides {
            listen: Some("127.0.0.1:2".into()),
            database: None,
        };
        let s = load_from(None, &flags, &env, Path::new("/srv")).expect("valid");
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:2");
        assert_eq!(s.database, Path::new("/srv/env.db"));
        let flags = Overrides {
            listen: Some("nope".into()),
            database: None,
        };
        let Err(LoadError::Invalid(errs)) = load_from(None, &flags, &env, Path::new("/")) else {
            panic!("refused");
        };
        assert_eq!(
            errs[0].to_string().split(':').next(),
            Some("--listen = \"nope\"")
        );
    }

    #[test]
    fn a_log_level_must_name_a_level() {
        for ok in ["info", "WARN", "warn,teamportal=debug", "actix_server=off"] {
            assert!(check_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["verbose", "", "info,", "teamportal=loud"] {
            assert!(check_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse("[server]\nlisten = \"127.0.0.1:1\"\nlistne = 1\n").is_err());
    }
}
