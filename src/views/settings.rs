//! The SSO settings page.

use maud::{html, Markup};

use super::form::{error_id, field_error};
use super::model::{DiscoveryView, PendingView, SsoTeam};
use super::{copyable, Chrome};

pub struct SsoView<'a> {
    pub team: SsoTeam,
    pub redirect_uri: String,
    pub initiate_uri: String,
    pub post_logout_uri: String,
    pub backchannel_logout_uri: String,
    pub scopes: String,
    pub discovery: Result<DiscoveryView, String>,
    pub managed_in_config: bool,
    pub pending: Option<PendingView>,
    /// The email domains the team owns now (the operator's, for a browser-managed team).
    pub email_domains: &'a [String],
    /// The form as the admin sent it, when a save was refused: shown again instead of the
    /// pending or current values.
    pub entered: Option<Entered<'a>>,
    /// Why a save or apply was refused, by the name of the field it concerns (`""`: the
    /// form as a whole).
    pub errors: &'a [(&'static str, String)],
}

/// What the admin typed into a refused form. The client secret is never sent back: only
/// whether one was typed, so the page can say it must be typed again.
pub struct Entered<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub provisioning: &'a str,
    pub admin_groups: &'a str,
    pub trust_email: bool,
    pub idp_logout: bool,
    pub secret_typed: bool,
}

pub fn page(c: &Chrome<'_>, v: &SsoView<'_>) -> Markup {
    let t = &v.team;
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
                    dt { "Sign-out redirect URI" } dd {
                        (copyable("post-logout-uri", &v.post_logout_uri))
                        small.muted #post-logout-note {
                            @if t.idp_logout {
                                "Signing out of the portal also ends the session at the team's identity provider, which then sends the browser here."
                            } @else if v.managed_in_config {
                                "Used once the team sets idp_logout = true in the config file: signing out then also ends the session at the identity provider."
                            } @else {
                                "Used once \"Signing out also ends the identity provider's session\" is turned on below."
                            }
                        }
                    }
                    dt { "Back-channel logout URI" } dd {
                        (copyable("backchannel-logout-uri", &v.backchannel_logout_uri))
                        small.muted { "Once registered at the identity provider, signing out there ends the portal sessions of that sign-in." }
                    }
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
                    dt { "Issuer" } dd { code { (t.issuer) } }
                    dt { "Client ID" } dd { code { (t.client_id) } }
                    dt { "Client secret" } dd { code { (t.client_secret_mask) } " (" (t.client_auth) ")" }
                    dt { "Provisioning" } dd { (provisioning_label(t.provisioning)) }
                    dt { "Admin email" } dd { (t.admin_email.as_deref().unwrap_or("—")) }
                    dt { "Email domains" } dd #email-domains {
                        @if v.email_domains.is_empty() { "—" } @else { (v.email_domains.join(", ")) }
                        @if !v.managed_in_config {
                            br; small.muted { "Assigned by the operator (" code { "teamportal admin set-domains " (t.id) " DOMAIN..." } "): a domain sends work-email sign-ins to this team's identity provider, so it cannot be changed here." }
                        }
                    }
                    dt { "Admin groups" } dd { @if t.admin_groups.is_empty() { "—" } @else { (t.admin_groups.join(", ")) } }
                    dt { "Trust unverified emails" } dd { @if t.trust_email { "yes (trust_email = true)" } @else { "no" } }
                    dt { "Sign-out at the IdP" } dd #idp-logout {
                        @if t.idp_logout { "yes" } @else { "no" }
                        @if v.managed_in_config { " (idp_logout = " (t.idp_logout) ")" }
                    }
                }
            }
            @if !v.managed_in_config {
                (edit_form(c, v))
            }
            section {
                h2 { "Identity provider status" }
                @match &v.discovery {
                    Ok(d) => {
                        p.banner.ok { "✓ Discovery works: the issuer answers and names itself correctly." }
                        dl.settings {
                            dt { "Authorize endpoint" } dd { code { (d.authorization_endpoint) } }
                            dt { "Token endpoint" } dd { code { (d.token_endpoint) } }
                            dt { "Userinfo endpoint" } dd { code { (d.userinfo_endpoint) } }
                            dt { "Keys (JWKS)" } dd { code { (d.jwks_uri) } }
                            dt { "Signing algorithms" } dd { (d.signing_algs) }
                        }
                    }
                    Err(e) => { p.banner.warn role="alert" { "✗ " (e) } }
                }
            }
        },
    )
}

/// `jit` and `invite` in words.
fn provisioning_label(p: &str) -> &'static str {
    match p {
        "invite" => "invited people only (invite)",
        _ => "accounts created on first sign-in (jit)",
    }
}

/// The refusal of `field`, its messages joined, if there is one.
fn error_for(errors: &[(&'static str, String)], field: &str) -> Option<String> {
    let said: Vec<&str> = errors
        .iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, e)| e.as_str())
        .collect();
    (!said.is_empty()).then(|| said.join(" "))
}

fn edit_form(c: &Chrome<'_>, v: &SsoView<'_>) -> Markup {
    let t = &v.team;
    let p = v.pending.as_ref();
    let groups_now = p.map_or_else(|| t.admin_groups.join(", "), |p| p.admin_groups.join(", "));
    let e = v.entered.as_ref();
    let issuer = e.map_or(p.map_or(t.issuer.as_str(), |p| p.issuer.as_str()), |e| {
        e.issuer
    });
    let client_id = e.map_or(
        p.map_or(t.client_id.as_str(), |p| p.client_id.as_str()),
        |e| e.client_id,
    );
    let provisioning = e.map_or(p.map_or(t.provisioning, |p| p.provisioning.as_str()), |e| {
        e.provisioning
    });
    let groups = e.map_or(groups_now.as_str(), |e| e.admin_groups);
    let trust = e.map_or(p.map_or(t.trust_email, |p| p.trust_email), |e| {
        e.trust_email
    });
    let idp_logout = e.map_or(p.map_or(t.idp_logout, |p| p.idp_logout), |e| e.idp_logout);
    let error = |field: &str| error_for(v.errors, field);
    let secret_error = error("client_secret").or_else(|| {
        e.filter(|e| e.secret_typed).map(|_| {
            "The client secret you typed is not sent back: type it again, or leave it empty to keep the current one.".to_string()
        })
    });
    let (issuer_error, client_id_error, provisioning_error, form_error) = (
        error("issuer"),
        error("client_id"),
        error("provisioning"),
        error(""),
    );
    let described = |field: &'static str, on: bool| on.then(|| error_id(field));
    html! {
        section #edit {
            h2 { "Change SSO settings" }
            p.muted { "New values are kept as pending and tested with a real sign-in as you. Until you apply them, everyone keeps signing in with the current settings." }
            @if let Some(e) = &form_error {
                p #edit_error .banner.warn role="alert" { (e) }
            }
            @if let Some(p) = &v.pending {
                @if p.tested {
                    div #test-result .banner.ok role="status" {
                        "✓ The test sign-in with the pending settings worked. "
                        form.inline method="post" action="/settings/sso/apply" {
                            (super::csrf_field(c.csrf))
                            button #apply type="submit" { "Apply" }
                        }
                    }
                } @else if let Some(e) = &p.test_error {
                    div #test-result .banner.warn role="alert" { "✗ The test sign-in failed: " (e) " The current settings stay active." }
                } @else {
                    div #test-result .banner.info { "Pending settings have not passed a test yet." }
                }
                form.inline method="post" action="/settings/sso/discard" {
                    (super::csrf_field(c.csrf))
                    button.link type="submit" { "Discard pending settings" }
                }
            }
            form method="post" action="/settings/sso" {
                (super::csrf_field(c.csrf))
                label for="issuer" { "Issuer" }
                input #issuer name="issuer" type="url" required value=(issuer)
                    aria-invalid=[issuer_error.as_ref().map(|_| "true")]
                    aria-describedby=[described("issuer", issuer_error.is_some())];
                (field_error("issuer", issuer_error.as_deref()))
                label for="client_id" { "Client ID" }
                input #client_id name="client_id" type="text" required value=(client_id)
                    aria-invalid=[client_id_error.as_ref().map(|_| "true")]
                    aria-describedby=[described("client_id", client_id_error.is_some())];
                (field_error("client_id", client_id_error.as_deref()))
                label for="client_secret" { "Client secret (leave empty to keep the current one)" }
                input #client_secret name="client_secret" type="password" autocomplete="off"
                    aria-invalid=[error("client_secret").map(|_| "true")]
                    aria-describedby=[described("client_secret", secret_error.is_some())];
                (field_error("client_secret", secret_error.as_deref()))
                label for="provisioning" { "Provisioning" }
                select #provisioning name="provisioning"
                    aria-invalid=[provisioning_error.as_ref().map(|_| "true")]
                    aria-describedby=[described("provisioning", provisioning_error.is_some())] {
                    option value="jit" selected[provisioning == "jit"] { "jit: accounts on first sign-in" }
                    option value="invite" selected[provisioning == "invite"] { "invite: invited people only" }
                }
                (field_error("provisioning", provisioning_error.as_deref()))
                label for="admin_groups" { "Admin groups (comma-separated)" }
                input #admin_groups name="admin_groups" type="text" value=(groups);
                label.check { input type="checkbox" name="trust_email" value="on" checked[trust]; " Trust emails the IdP does not mark verified" }
                label.check { input type="checkbox" name="idp_logout" value="on" checked[idp_logout]; " Signing out also ends the identity provider's session (idp_logout)" }
                button #save-and-test type="submit" { "Save and test" }
            }
        }
    }
}
