//! Configuration: the raw TOML file (serde, unknown keys refused) and the validated
//! [`Settings`] the rest of the program uses. Every problem is reported with the key, the
//! value and the rule, all at once, so an operator fixes the file in one pass.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use url::Url;

// Re-exported: the config names it, and older callers import it from here.
pub use crate::domain::Provisioning;
use crate::domain::{Email, TeamId};

mod checks;
mod file;
mod layers;
mod raw;
mod settings;
mod team;
pub use checks::check_log;
use checks::*;
pub use layers::{Overrides, PREFIX as ENV_PREFIX};
pub use raw::*;
pub use settings::*;
use team::*;
pub use team::{check_issuer, is_loopback_host};

/// The embedded defaults `serve` runs with when no config file is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "teamportal.db";

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
    let base = path.and_then(Path::parent).unwrap_or(Path::new("."));
    // The file alone first, so that its own mistakes are named by its keys. Those keys are
    // then left out, and the rest goes on as if the file were right: the environment and the
    // flags still win, and every other error is still found.
    let mut mistakes = Vec::new();
    let (from_file, file_text) = match (&text, path) {
        (Some(text), Some(path)) => {
            let parsed = file::parse(text).map_err(|message| LoadError::Parse {
                path: path.to_path_buf(),
                message,
            })?;
            mistakes = parsed.mistakes;
            let Some(raw) = parsed.raw else {
                return Err(LoadError::Invalid(mistakes));
            };
            let kept = if mistakes.is_empty() {
                text.clone()
            } else {
                toml::to_string(&parsed.table).unwrap_or_default()
            };
            (raw, Some(kept))
        }
        _ => (RawConfig::default(), None),
    };
    let with_mistakes = |mut errors: Vec<ConfigError>| {
        // A key taken out as a mistake is not reported again as missing.
        errors.retain(|e| !mistakes.iter().any(|m| m.key == e.key));
        let mut all = mistakes.clone();
        all.extend(errors);
        LoadError::Invalid(all)
    };
    let outside = layers::outside(vars, overrides, cwd);
    if !outside.errors.is_empty() {
        return Err(with_mistakes(outside.errors));
    }
    let raw = if outside.layers.is_empty() {
        from_file
    } else {
        let mut figment = figment::Figment::new();
        if let Some(text) = &file_text {
            use figment::providers::Format;
            figment = figment.merge(figment::providers::Toml::string(text));
        }
        for layer in &outside.layers {
            figment = figment.merge(layer.clone());
        }
        figment
            .extract_lossy::<RawConfig>()
            .map_err(|e| with_mistakes(layers::from_figment(e, &outside)))?
    };
    let checked = validate(raw, base, &|name| vars.get(name).cloned()).map_err(|errors| {
        // A bad value from the environment or a flag is named by where it came from.
        errors
            .into_iter()
            .map(|mut e| {
                if let Some(layer) = outside.origin_of(&e.key) {
                    e.key = layer.origin.clone();
                }
                e
            })
            .collect::<Vec<_>>()
    });
    match checked {
        Ok(settings) if mistakes.is_empty() => Ok(settings),
        Ok(_) => Err(with_mistakes(Vec::new())),
        Err(errors) => Err(with_mistakes(errors)),
    }
}

/// The file's settings, or its mistakes one per line (as `check-config` prints them).
pub fn parse(text: &str) -> Result<RawConfig, String> {
    let parsed = file::parse(text)?;
    match parsed.raw {
        Some(raw) if parsed.mistakes.is_empty() => Ok(raw),
        _ => Err(parsed
            .mistakes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")),
    }
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

    let mut at_least_one = |key: &str, value: Option<i64>, default: i64| {
        let v = value.unwrap_or(default);
        if v < 1 {
            errors.push(key, v.to_string(), "must be at least 1");
        }
        v
    };
    let session_idle = at_least_one(
        "security.session_idle_minutes",
        raw.security.session_idle_minutes,
        12 * 60,
    );
    let session_max = at_least_one(
        "security.session_max_hours",
        raw.security.session_max_hours,
        7 * 24,
    );
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
    // Each kept team's place in the file, for the keys the checks below name.
    let mut places: Vec<usize> = Vec::new();
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
                places.push(i);
            }
        }
    }
    // Email domains route a work email to one team: a domain in two teams is ambiguous.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (team, i) in teams.iter().zip(&places) {
        for d in &team.email_domains {
            if let Some(other) = seen.insert(d, team.id.as_str()) {
                errors.push(
                    format!("teams[{i}].email_domains"),
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
    fn a_domain_in_two_teams_is_named_by_the_later_teams_place_in_the_file() {
        let with_domain = |id: &str| {
            TEAM.replace("id = \"acme\"", &format!("id = {id:?}"))
                .replace("admin_email", "email_domains = [\"acme.com\"]\nadmin_email")
        };
        // teams[1] is refused for its ID; the collision is teams[2]'s, named by that place.
        let text = format!(
            "{}{}{}",
            with_domain("acme"),
            TEAM.replace("id = \"acme\"", "id = \"Bad\""),
            with_domain("acme-eng")
        );
        let errs = errors_for(&text);
        assert!(
            errs.iter().any(|e| e.starts_with(
                "teams[2].email_domains = \"acme.com\": already routes to team \"acme\""
            )),
            "{errs:#?}"
        );
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
    fn with_a_mistake_in_the_file_the_environment_still_wins_and_every_error_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "[server]\npublic_url = \"https://portal.example.com/sub\"\nlistne = 1\n\
             [[teams]]\nid = \"acme\"\nname = \"Acme\"\nissuer = 5\nclient_id = \"c\"\n\
             client_secret = \"s\"\nclient_secert = \"hunter2\"\n",
        )
        .expect("write");
        let env = vars(&[
            (
                "TEAMPORTAL_SERVER__PUBLIC_URL",
                "https://portal.example.com",
            ),
            ("TEAMPORTAL_LOG__LEVEL", "bogus"),
        ]);
        let Err(LoadError::Invalid(errs)) =
            load_from(Some(&file), &Overrides::default(), &env, dir.path())
        else {
            panic!("refused");
        };
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        let has = |start: &str| lines.iter().any(|l| l.starts_with(start));
        assert!(has("server.listne = \"***\": unknown key"), "{lines:#?}");
        assert!(
            has("teams[0].issuer = \"5\": must be a string"),
            "{lines:#?}"
        );
        assert!(
            has("teams[0].client_secert = \"***\": unknown key"),
            "{lines:#?}"
        );
        assert!(has("TEAMPORTAL_LOG__LEVEL = \"bogus\""), "{lines:#?}");
        assert!(!lines.iter().any(|l| l.contains("hunter2")), "{lines:#?}");
        assert!(
            !has("server.public_url"),
            "the environment's value wins: {lines:#?}"
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("teams[0].issuer"))
                .count(),
            1,
            "reported once: {lines:#?}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse("[server]\nlisten = \"127.0.0.1:1\"\nlistne = 1\n").is_err());
    }
}
