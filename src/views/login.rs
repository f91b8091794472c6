//! The Corporate SSO page.

use maud::{html, Markup};

use super::form::{error_id, field_error, said_on, Refusal};

pub struct LoginView<'a> {
    pub csrf: &'a str,
    pub value: &'a str,
    pub error: Option<&'a str>,
    /// The page to land on after sign-in, carried by the form.
    pub return_to: Option<&'a str>,
    pub no_teams: bool,
    pub password_login: bool,
    pub demo: Option<&'a [(String, String)]>,
    pub signed_out: bool,
    pub idp_logout: Option<&'a str>,
    /// A refused break-glass sign-in: its form is shown open with what was typed.
    pub password: Option<PasswordRefused<'a>>,
}

/// The break-glass field a refusal is said next to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PasswordField {
    TeamId,
    Email,
    Password,
}

/// A break-glass sign-in refused just now: the Team ID and email as typed (never the
/// password) and why.
pub struct PasswordRefused<'a> {
    pub team_id: &'a str,
    pub email: &'a str,
    pub refusal: Refusal<'a, PasswordField>,
}

pub fn page(v: &LoginView<'_>) -> Markup {
    super::page(
        "Sign in",
        None,
        html! {
            section.login {
                h1 { "Sign in" }
                @if v.signed_out {
                    p.banner.ok role="status" {
                        "You are signed out of teamportal."
                        @if let Some(url) = v.idp_logout {
                            " " a href=(url) { "Sign out of your identity provider too" }
                        }
                    }
                }
                @if v.no_teams {
                    p.banner.warn { "No team is configured yet. An operator adds one under [[teams]] in the config file (see sample.toml) and restarts teamportal." }
                }
                h2 { "Corporate SSO" }
                form method="post" action="/login/sso" {
                    (super::csrf_field(v.csrf))
                    @if let Some(to) = v.return_to {
                        input type="hidden" name="return_to" value=(to);
                    }
                    label for="team_id" { "Team ID or work email" }
                    input #team_id name="team_id" type="text" required autofocus value=(v.value)
                        autocomplete="organization" autocapitalize="none" spellcheck="false"
                        aria-invalid=[v.error.map(|_| "true")]
                        aria-describedby=@if v.error.is_some() { "team_id_error team_id_help" } @else { "team_id_help" };
                    (field_error("team_id", v.error))
                    p #team_id_help .muted { "Your Team ID looks like " code { "acme" } " or " code { "acme-eng" } ". Ask your admin if you do not know it." }
                    button type="submit" { "Continue with SSO" }
                }
                @if let Some(accounts) = v.demo {
                    aside.demo {
                        h2 { "Demo" }
                        p { "This is the demo portal with a built-in demo identity provider. Team ID: " code { "demo" }
                            " (set up in the config file), or " code { "demo-lab" } " (browser-managed: its admin edits and tests its SSO settings)." }
                        ul { @for (role, email) in accounts { li { (role) ": " code { (email) } } } }
                    }
                }
                @if v.password_login {
                    (break_glass(v))
                }
            }
        },
    )
}

/// The confirmation a browser signed in as one person sees before a sign-in as another
/// replaces its session (a sign-in it did not start itself would otherwise switch it
/// unseen).
pub struct ConfirmView<'a> {
    pub csrf: &'a str,
    pub hold: &'a str,
    pub now_email: &'a str,
    pub now_team: &'a str,
    pub then_email: &'a str,
    pub then_team: &'a str,
}

pub fn confirm_page(v: &ConfirmView<'_>) -> Markup {
    super::page(
        "Switch account?",
        None,
        html! {
            section.login {
                h1 { "Switch account?" }
                p { "You are signed in as " strong { (v.now_email) } " in " strong { (v.now_team) } "." }
                p { "A sign-in just finished as " strong { (v.then_email) } " in " strong { (v.then_team) } ". "
                    "If you did not start it yourself, someone may be trying to make you use their account: stay as you are." }
                form method="post" action="/login/confirm" {
                    (super::csrf_field(v.csrf))
                    input type="hidden" name="hold" value=(v.hold);
                    button type="submit" name="decision" value="stay" { "Stay signed in as " (v.now_email) }
                    " "
                    button type="submit" name="decision" value="switch" { "Switch to " (v.then_email) }
                }
            }
        },
    )
}

/// The break-glass form, open with what was typed and the reason next to its field when a
/// sign-in was just refused.
fn break_glass(v: &LoginView<'_>) -> Markup {
    let r = v.password.as_ref();
    let refusal = r.map(|r| &r.refusal);
    let said = |id: &str, f: PasswordField| {
        let error = said_on(refusal, f);
        (error, error.map(|_| error_id(id)))
    };
    let (team_error, team_described) = said("pw_team", PasswordField::TeamId);
    let (email_error, email_described) = said("pw_email", PasswordField::Email);
    let (password_error, password_described) = said("pw_password", PasswordField::Password);
    html! {
        details.break-glass open[r.is_some()] {
            summary { "Break-glass admin sign-in" }
            form method="post" action="/login/password" {
                (super::csrf_field(v.csrf))
                label for="pw_team" { "Team ID" }
                input #pw_team name="team_id" type="text" required value=[r.map(|r| r.team_id)]
                    aria-invalid=[team_error.map(|_| "true")] aria-describedby=[team_described.as_deref()];
                (field_error("pw_team", team_error))
                label for="pw_email" { "Email" }
                input #pw_email name="email" type="email" required autocomplete="username" value=[r.map(|r| r.email)]
                    aria-invalid=[email_error.map(|_| "true")] aria-describedby=[email_described.as_deref()];
                (field_error("pw_email", email_error))
                label for="pw_password" { "Password" }
                input #pw_password name="password" type="password" required autocomplete="current-password"
                    aria-invalid=[password_error.map(|_| "true")] aria-describedby=[password_described.as_deref()];
                (field_error("pw_password", password_error))
                button type="submit" { "Sign in with password" }
            }
        }
    }
}
