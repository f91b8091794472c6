//! Checks of one `[[teams]]` entry: Team ID, issuer, client secret source, emails, groups.

use std::path::{Path, PathBuf};

use url::Url;

use super::*;
use crate::domain::domains::{normalise_list, DOMAIN_RULE};

pub(super) fn check_team(
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

    let email_domains = normalise_list(&raw.email_domains).unwrap_or_else(|bad| {
        for d in bad {
            errors.push(k("email_domains"), &d, DOMAIN_RULE);
        }
        Vec::new()
    });

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
        browser_managed: false,
    })
}

pub(super) fn secret_from(
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
