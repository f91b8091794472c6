//! The SSO settings page.

use maud::{html, Markup};

use crate::config::TeamConfig;
use crate::sso::provider::Discovery;

use super::{copyable, Chrome};

pub struct SsoView<'a> {
    pub team: &'a TeamConfig,
    pub redirect_uri: String,
    pub initiate_uri: String,
    pub scopes: String,
    pub discovery: Result<&'a Discovery, String>,
    pub managed_in_config: bool,
}

fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n <= 4 {
        "••••".into()
    } else {
        format!("••••••{}", secret.chars().skip(n - 4).collect::<String>())
    }
}

pub fn page(c: &Chrome<'_>, v: &SsoView<'_>) -> Markup {
    let t = v.team;
    super::page(
        "SSO settings",
        Some(c),
        html! {
            h1 { "SSO settings" }
            @if v.managed_in_config {
                p.banner.info { "This team's SSO is managed in the config file: change it there and restart teamportal. The page is read-only." }
            }
            section {
                h2 { "Values to paste into Okta" }
                p.muted { "Okta admin console → Applications → Create App Integration → OIDC - OpenID Connect → Web Application." }
                dl.settings {
                    dt { "Sign-in redirect URI" } dd { (copyable("redirect-uri", &v.redirect_uri)) }
                    dt { "Initiate login URI" } dd { (copyable("initiate-uri", &v.initiate_uri)) }
                    dt { "Login initiated by" } dd { "Either Okta or App; login flow: " em { "Redirect to app to initiate login (OIDC Compliant)" } }
                    dt { "Scopes requested" } dd { code { (v.scopes) } }
                    @if !t.admin_groups.is_empty() {
                        dt { "Groups claim" } dd { "Sign On tab → Groups claim type " em { "Filter" } ", name " code { "groups" } ", matches regex " code { ".*" } }
                    }
                }
            }
            section {
                h2 { "This team" }
                dl.settings {
                    dt { "Team ID" } dd { code #team-id { (t.id) } }
                    dt { "Issuer" } dd { code { (t.issuer_str()) } }
                    dt { "Client ID" } dd { code { (t.client_id) } }
                    dt { "Client secret" } dd { code { (mask(t.client_secret.expose())) } " (" (t.client_auth.as_str()) ")" }
                    dt { "Provisioning" } dd { (t.provisioning.as_str()) }
                    dt { "Admin email" } dd { (t.admin_email.as_ref().map(|e| e.to_string()).unwrap_or_else(|| "—".into())) }
                    dt { "Email domains" } dd { @if t.email_domains.is_empty() { "—" } @else { (t.email_domains.join(", ")) } }
                    dt { "Admin groups" } dd { @if t.admin_groups.is_empty() { "—" } @else { (t.admin_groups.join(", ")) } }
                    dt { "Trust unverified emails" } dd { @if t.trust_email { "yes (trust_email = true)" } @else { "no" } }
                }
            }
            section {
                h2 { "Identity provider status" }
                @match &v.discovery {
                    Ok(d) => {
                        p.banner.ok { "✓ Discovery works: the issuer answers and names itself correctly." }
                        dl.settings {
                            dt { "Authorize endpoint" } dd { code { (d.authorization_endpoint) } }
                            dt { "Token endpoint" } dd { code { (d.token_endpoint.as_ref().map(|u| u.to_string()).unwrap_or_default()) } }
                            dt { "Userinfo endpoint" } dd { code { (d.userinfo_endpoint.as_ref().map(|u| u.to_string()).unwrap_or_default()) } }
                            dt { "Keys (JWKS)" } dd { code { (d.jwks_uri) } }
                            dt { "Signing algorithms" } dd { (d.id_token_signing_alg_values_supported.join(", ")) }
                        }
                    }
                    Err(e) => { p.banner.warn role="alert" { "✗ " (e) } }
                }
            }
        },
    )
}
