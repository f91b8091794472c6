//! SSO settings for admins: the values to paste into Okta, the team's settings with a live
//! discovery check, and, for teams made from the shell, editing with "save and test" (a
//! real sign-in with the new values) before "apply".

use std::sync::Arc;

use actix_session::Session;
use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::TeamConfig;
use crate::error::{AppError, Result};
use crate::session::TypedSession;
use crate::sso::editable::{self, SettingsForm};
use crate::sso::provider::{check_browser_endpoints, Discovery};
use crate::sso::{self, CallbackParams, StartRequest};
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::logins::{LoginPurpose, PendingLogin};
use crate::store::teams::{self, Applied, Pending, ShellTeam};
use crate::store::{users, StoreError};
use crate::views;

use super::acting::acting;
use super::answer;
use super::extract::{Admin, CsrfForm};
use super::respond;

const MANAGED: &str =
    "This team's SSO is managed in the config file: change it there and restart teamportal.";

fn back() -> HttpResponse {
    respond::see_other(PAGE)
}

const PAGE: &str = "/settings/sso";

fn config_managed(state: &AppState, team: &str) -> bool {
    state.settings.teams.iter().any(|t| t.id.as_str() == team)
}

/// Changes to a team whose SSO the config file manages are refused (409).
fn ensure_editable(state: &AppState, team: &str) -> Result<()> {
    if config_managed(state, team) {
        return Err(AppError::Conflict(MANAGED.into()));
    }
    Ok(())
}

/// The stored record of a shell team and its pending settings.
async fn stored(state: &AppState, team: &str) -> Result<(Option<ShellTeam>, Option<Pending>)> {
    let team = team.to_string();
    Ok(state
        .store
        .run(move |c| -> std::result::Result<_, StoreError> {
            let shell = teams::shell_teams(c)?.into_iter().find(|t| t.id == team);
            Ok((shell, teams::pending(c, &team)?))
        })
        .await?)
}

pub async fn sso_page(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    render(&state, &admin, Refusal::none()).await
}

/// What the page says about a refused form: its status, what was entered and why, by
/// field (a success is said by the one-time message after the redirect instead).
struct Refusal<'a> {
    entered: Option<views::settings::Entered<'a>>,
    errors: Vec<editable::FieldError>,
    status: StatusCode,
}

impl Refusal<'_> {
    fn none() -> Self {
        Refusal {
            entered: None,
            errors: Vec::new(),
            status: StatusCode::OK,
        }
    }
}

/// The form as it was sent, for the page that refuses it (the secret only as "typed").
fn entered(f: &SettingsForm) -> views::settings::Entered<'_> {
    let on = |v: &Option<String>| matches!(v.as_deref(), Some("on" | "true" | "1"));
    views::settings::Entered {
        issuer: &f.issuer,
        client_id: &f.client_id,
        provisioning: &f.provisioning,
        admin_groups: &f.admin_groups,
        trust_email: on(&f.trust_email),
        idp_logout: on(&f.idp_logout),
        secret_typed: !f.client_secret.trim().is_empty(),
    }
}

/// The save form refused (400): the page again with what was typed and why.
async fn refuse_save(
    state: &AppState,
    admin: &Admin,
    form: &SettingsForm,
    errors: Vec<editable::FieldError>,
) -> Result<HttpResponse> {
    let refusal = Refusal {
        entered: Some(entered(form)),
        errors,
        status: StatusCode::BAD_REQUEST,
    };
    render(state, admin, refusal).await
}

async fn render(state: &AppState, admin: &Admin, said: Refusal<'_>) -> Result<HttpResponse> {
    let team = state.sso.get(admin.0.team()).ok_or(AppError::NotFound)?;
    let base = state.settings.server.base();
    let discovery = state
        .sso
        .providers
        .discovery(&team.issuer_str(), state.sso.reach(&team))
        .await
        .and_then(|d| {
            if team.browser_managed {
                check_browser_endpoints(&team.issuer, &d)?;
            }
            Ok(d)
        });
    let editable = !config_managed(state, admin.0.team());
    let (shell, pending) = if editable {
        stored(state, admin.0.team()).await?
    } else {
        (None, None)
    };
    let view = views::settings::SsoView {
        team: sso_team(&team),
        redirect_uri: sso::redirect_uri(&base, team.id.as_str()),
        initiate_uri: sso::initiate_uri(&base, team.id.as_str()),
        post_logout_uri: sso::logout::post_logout_redirect_uri(&base),
        backchannel_logout_uri: sso::logout::backchannel_logout_uri(&base, team.id.as_str()),
        scopes: sso::scopes(&team).join(" "),
        discovery: discovery
            .as_ref()
            .map(|d| discovery_view(d))
            .map_err(|e| e.to_string()),
        managed_in_config: !editable,
        pending: pending.as_ref().map(pending_view),
        email_domains: shell
            .as_ref()
            .map_or(&team.email_domains, |s| &s.sso.email_domains),
        entered: said.entered,
        errors: &said.errors,
    };
    let body = views::settings::page(&admin.0.chrome(PAGE), &view);
    Ok(respond::html_status(said.status, body))
}

/// What the page shows of the team's settings: never the client secret, only its mask.
fn sso_team(t: &TeamConfig) -> views::model::SsoTeam {
    views::model::SsoTeam {
        id: t.id.as_str().to_string(),
        issuer: t.issuer_str(),
        client_id: t.client_id.clone(),
        client_secret_mask: mask(t.client_secret.expose()),
        client_auth: t.client_auth.as_str(),
        provisioning: t.provisioning.as_str(),
        admin_email: t.admin_email.as_ref().map(|e| e.to_string()),
        admin_groups: t.admin_groups.clone(),
        trust_email: t.trust_email,
        idp_logout: t.idp_logout,
    }
}

fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n <= 4 {
        "••••".into()
    } else {
        format!("••••••{}", secret.chars().skip(n - 4).collect::<String>())
    }
}

fn discovery_view(d: &Discovery) -> views::model::DiscoveryView {
    let or_empty = |u: &Option<url::Url>| u.as_ref().map(|u| u.to_string()).unwrap_or_default();
    views::model::DiscoveryView {
        authorization_endpoint: d.authorization_endpoint.to_string(),
        token_endpoint: or_empty(&d.token_endpoint),
        userinfo_endpoint: or_empty(&d.userinfo_endpoint),
        jwks_uri: d.jwks_uri.to_string(),
        signing_algs: d.id_token_signing_alg_values_supported.join(", "),
    }
}

fn pending_view(p: &Pending) -> views::model::PendingView {
    views::model::PendingView {
        issuer: p.sso.issuer.clone(),
        client_id: p.sso.client_id.clone(),
        provisioning: p.sso.provisioning.clone(),
        admin_groups: p.sso.admin_groups.clone(),
        trust_email: p.sso.trust_email,
        idp_logout: p.sso.idp_logout,
        tested: p.tested_at.is_some(),
        test_error: p.test_error.clone(),
    }
}

/// Keeps the new values as pending and sends the admin through a real sign-in with them.
pub async fn save_and_test(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    form: CsrfForm<SettingsForm>,
) -> Result<HttpResponse> {
    let me = &admin.0;
    ensure_editable(&state, me.team())?;
    let (shell, _) = stored(&state, me.team()).await?;
    let shell = shell.ok_or(AppError::NotFound)?;
    let record = match editable::parse_form(&state.sealer, me.team(), &form.0, &shell.sso) {
        Ok(record) => record,
        Err(errors) => return refuse_save(&state, &admin, &form.0, errors).await,
    };
    if let Err(why) = check_issuer_allowed(&state, &record.issuer).await {
        return refuse_save(&state, &admin, &form.0, vec![("issuer", why)]).await;
    }
    let test_config = editable::to_config(&state.sealer, &shell, &record)
        .ok_or_else(|| AppError::internal("the client secret could not be sealed"))?;
    let summary = editable::describe_change(&shell.sso, &record);
    acting(&state, me, move |c, team, actor| {
        teams::save_pending(c, team, actor, &record, &summary)
    })
    .await?;
    let (browser, binding) = state
        .browser_cookies
        .binding_for_start(&req, crate::store::logins::LIFETIME_SECS);
    let started = sso::start(
        &state.sso,
        &state.store,
        &state.settings.server.base(),
        StartRequest {
            team: Arc::new(test_config),
            browser,
            purpose: LoginPurpose::Test,
            from_form: true,
            return_to: None,
            login_hint: Some(me.user.email.clone()),
        },
    )
    .await;
    match started {
        Ok(url) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, url.to_string()))
            .cookie(binding)
            .finish()),
        Err(e) => {
            record_test(&state, me.team(), me.actor(), Some(e.to_string())).await?;
            Ok(back())
        }
    }
}

/// An issuer submitted here must be on the public internet unless the operator allows
/// otherwise; that holds for a resubmitted unchanged one too, since what the form sends is
/// what the test sign-in and then every sign-in will fetch from.
async fn check_issuer_allowed(state: &AppState, issuer: &str) -> std::result::Result<(), String> {
    if state.settings.security.allow_private_issuers {
        return Ok(());
    }
    editable::check_issuer_address(issuer).await
}

async fn record_test(
    state: &AppState,
    team: &str,
    actor: Actor,
    error: Option<String>,
) -> Result<()> {
    let team = team.to_string();
    state
        .store
        .run(move |c| teams::record_test(c, &team, &actor, error.as_deref()))
        .await?;
    Ok(())
}

/// The callback of a test sign-in: passes only when it returns the admin's own verified
/// email. The admin's session is left as it was.
pub async fn finish_test(
    state: &AppState,
    session: &Session,
    team: &TeamConfig,
    login: PendingLogin,
    params: CallbackParams,
) -> Result<HttpResponse> {
    let typed = TypedSession(session);
    let (uid, row) = typed
        .user_id()
        .zip(typed.row())
        .ok_or(AppError::SignInRequired)?;
    // The session's row must be live (revoked meanwhile: signed out, as on every page).
    let Some((me, _)) = state
        .store
        .read(move |c| users::for_live_session(c, uid, &row))
        .await?
    else {
        typed.sign_out();
        return Err(AppError::SignInRequired);
    };
    let me = Some(me)
        .filter(|u| u.team_id == team.id.as_str() && u.active && u.is_admin())
        .ok_or(AppError::Forbidden(
            "Only team admins may test SSO settings.",
        ))?;
    let actor = Actor {
        user_id: Some(me.id),
        label: me.email.clone(),
        ip: String::new(),
    };
    let (shell, pending) = stored(state, team.id.as_str()).await?;
    let (shell, pending) = shell.zip(pending).ok_or(AppError::Conflict(
        "There are no pending settings to test.".into(),
    ))?;
    let config = editable::to_config(&state.sealer, &shell, &pending.sso)
        .ok_or_else(|| AppError::internal("pending client secret could not be opened"))?;
    // Checked again: the setting may have changed, or the name moved, since the save.
    let outcome = match check_issuer_allowed(state, &pending.sso.issuer).await {
        Err(refused) => Some(refused),
        Ok(()) => match sso::finish(&state.sso, &state.settings.server.base(), &config, login, params).await {
            Ok(f) if f.identity.email.as_str() == me.email => None,
            Ok(f) => Some(format!(
                "The test sign-in came back as {}, not as you ({}). Sign in to the identity provider as yourself and test again.",
                f.identity.email, me.email
            )),
            // The admin sees the cause in full (URLs, upstream status): it is their IdP.
            Err(e) => Some(e.to_string()),
        },
    };
    record_test(state, team.id.as_str(), actor, outcome).await?;
    Ok(back())
}

pub async fn apply(
    state: web::Data<AppState>,
    session: Session,
    admin: Admin,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let me = &admin.0;
    ensure_editable(&state, me.team())?;
    let applied = acting(&state, me, |c, team, actor| {
        teams::apply_pending(c, team, actor, editable::describe_change)
    })
    .await?;
    let teams::Change { before, now } = match applied {
        Applied::Done(change) => *change,
        Applied::NoSuchTeam => return Err(AppError::NotFound),
        Applied::NothingTested => {
            let refusal = Refusal {
                errors: vec![("", "Save and test the new settings first; only settings that passed a test sign-in can be applied.".into())],
                status: StatusCode::CONFLICT,
                ..Refusal::none()
            };
            return render(&state, &admin, refusal).await;
        }
    };
    let config = editable::to_config(&state.sealer, &before, &now)
        .ok_or_else(|| AppError::internal("applied client secret could not be opened"))?;
    state.sso.providers.forget(&before.sso.issuer).await;
    state.sso.providers.forget(&now.issuer).await;
    state.sso.insert(config);
    Ok(answer::done(
        &session,
        PAGE,
        "The new settings are applied: every sign-in uses them from now on.",
    ))
}

pub async fn discard(
    state: web::Data<AppState>,
    session: Session,
    admin: Admin,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let me = admin.0;
    ensure_editable(&state, me.team())?;
    acting(&state, &me, |c, team, actor| {
        teams::discard_pending(c, team, actor)
    })
    .await?;
    Ok(answer::done(
        &session,
        PAGE,
        "The pending settings were discarded; nothing changed.",
    ))
}
