//! Teams whose SSO settings live in the database (made with `teamportal admin create-team`)
//! rather than the config file: turning stored records into live settings, parsing the
//! settings form (issuers off the public internet refused), and describing changes for the
//! audit log with secrets masked.

use std::net::IpAddr;

use crate::config::{check_issuer, ClientAuth, Provisioning, Secret, TeamConfig};
use crate::crypto::Sealer;
use crate::domain::net::is_public_ip;
use crate::domain::{Email, TeamId};
use crate::store::teams::{ShellTeam, SsoRecord};

/// Sealed client secrets are bound to their team.
pub fn secret_context(team: &str) -> String {
    format!("client-secret:{team}")
}

/// Live settings for a stored team with the SSO values of `sso` (its current, pending or
/// just-applied record), or `None` when the secret cannot be opened (a different instance
/// key).
pub fn to_config(sealer: &Sealer, team: &ShellTeam, sso: &SsoRecord) -> Option<TeamConfig> {
    let secret = sealer.open(&sso.client_secret_enc, &secret_context(&team.id))?;
    Some(TeamConfig {
        id: TeamId::parse(&team.id).ok()?,
        name: team.name.clone(),
        issuer: url::Url::parse(&sso.issuer).ok()?,
        client_id: sso.client_id.clone(),
        client_secret: Secret::new(String::from_utf8(secret).ok()?),
        client_auth: ClientAuth::Basic,
        admin_email: team.admin_email.as_deref().and_then(Email::parse),
        email_domains: sso.email_domains.clone(),
        provisioning: Provisioning::parse(&sso.provisioning).unwrap_or(Provisioning::Jit),
        admin_groups: sso.admin_groups.clone(),
        trust_email: sso.trust_email,
        idp_logout: sso.idp_logout,
        browser_managed: true,
    })
}

/// A stored team's live settings.
pub fn shell_team_config(sealer: &Sealer, t: &ShellTeam) -> Option<TeamConfig> {
    to_config(sealer, t, &t.sso)
}

/// The settings form as submitted.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub client_id: String,
    /// Empty keeps the current secret.
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub provisioning: String,
    #[serde(default)]
    pub admin_groups: String,
    pub trust_email: Option<String>,
    pub idp_logout: Option<String>,
}

fn list(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// A problem with the form: the name of the field it concerns (as the form sends it) and
/// what to do about it.
pub type FieldError = (&'static str, String);

/// Validates the form into a record; every problem is listed with its field. The email
/// domains stay the operator's (`admin set-domains`): a team admin cannot route another
/// team's sign-ins.
pub fn parse_form(
    sealer: &Sealer,
    team: &str,
    form: &SettingsForm,
    current: &SsoRecord,
) -> Result<SsoRecord, Vec<FieldError>> {
    let mut errors = Vec::new();
    let issuer = match check_issuer(form.issuer.trim()) {
        Ok(u) => crate::config::issuer_string(&u),
        Err(rule) => {
            errors.push((
                "issuer",
                format!("Issuer {:?}: {rule}.", form.issuer.trim()),
            ));
            String::new()
        }
    };
    let client_id = form.client_id.trim().to_string();
    if client_id.is_empty() || client_id.len() > 256 {
        errors.push(("client_id", "Client ID is required.".into()));
    }
    let provisioning = match Provisioning::parse(form.provisioning.trim()) {
        Some(p) => p.as_str().to_string(),
        None => {
            errors.push(("provisioning", "Provisioning must be jit or invite.".into()));
            String::new()
        }
    };
    let admin_groups = list(&form.admin_groups);
    let secret = form.client_secret.trim();
    if secret.len() > 1024 {
        errors.push(("client_secret", "The client secret is too long.".into()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let client_secret_enc = if secret.is_empty() {
        current.client_secret_enc.clone()
    } else {
        sealer.seal(secret.as_bytes(), &secret_context(team))
    };
    Ok(SsoRecord {
        issuer,
        client_id,
        client_secret_enc,
        provisioning,
        email_domains: current.email_domains.clone(),
        admin_groups,
        trust_email: matches!(form.trust_email.as_deref(), Some("on" | "true" | "1")),
        idp_logout: matches!(form.idp_logout.as_deref(), Some("on" | "true" | "1")),
    })
}

/// Refuses an issuer typed in the browser whose host is, or resolves to, an address off the
/// public internet (loopback, private, link-local, unspecified...): the admin of one team
/// must not make the portal fetch from the machine it runs on or its private network.
/// Every resolved address must be public, so a name with one public and one private address
/// is refused too. The message never says which address a name resolved to (that would
/// answer DNS questions about the private network).
pub async fn check_issuer_address(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|_| format!("Issuer {issuer:?} is not a URL."))?;
    let refused = || {
        format!(
            "Issuer {issuer:?}: its host is on a loopback, private or link-local address. \
             Issuers entered here must be on the public internet (the operator may allow \
             others with [security] allow_private_issuers = true)."
        )
    };
    let addresses: Vec<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(url::Host::Domain(name)) => super::reach::resolve(name).await.map_err(|_| {
            format!("Issuer {issuer:?}: its host name does not resolve to an address.")
        })?,
        None => return Err(format!("Issuer {issuer:?} has no host.")),
    };
    if addresses.is_empty() {
        return Err(format!(
            "Issuer {issuer:?}: its host name does not resolve to an address."
        ));
    }
    if addresses.into_iter().all(is_public_ip) {
        Ok(())
    } else {
        Err(refused())
    }
}

/// "field: old -> new" for each change, secrets shown only as changed or not.
pub fn describe_change(old: &SsoRecord, new: &SsoRecord) -> String {
    let mut parts = Vec::new();
    let mut diff = |name: &str, a: String, b: String| {
        if a != b {
            parts.push(format!("{name}: {a} -> {b}"));
        }
    };
    diff("issuer", old.issuer.clone(), new.issuer.clone());
    diff("client_id", old.client_id.clone(), new.client_id.clone());
    diff(
        "provisioning",
        old.provisioning.clone(),
        new.provisioning.clone(),
    );
    diff(
        "admin_groups",
        old.admin_groups.join(","),
        new.admin_groups.join(","),
    );
    diff(
        "trust_email",
        old.trust_email.to_string(),
        new.trust_email.to_string(),
    );
    diff(
        "idp_logout",
        old.idp_logout.to_string(),
        new.idp_logout.to_string(),
    );
    if old.client_secret_enc != new.client_secret_enc {
        parts.push("client_secret: *** -> *** (changed)".into());
    }
    if parts.is_empty() {
        "no change".into()
    } else {
        parts.join("; ")
    }
}
