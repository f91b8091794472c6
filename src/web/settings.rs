//! SSO settings for admins: the values to paste into Okta, the team's settings with a live
//! discovery check, and, for teams made from the shell, editing with "save and test" (a
//! real sign-in with the new values) before "apply".

use std::sync::Arc;

use actix_session::Session;
use actix_web::http::header::LOCATION;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::TeamConfig;
use crate::error::{AppError, Result};
use crate::session::TypedSession;
use crate::sso::editable::{self, SettingsForm};
use crate::sso::provider::check_browser_endpoints;
use crate::sso::{self, CallbackParams, StartRequest};
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::logins::{LoginPurpose, PendingLogin};
use crate::store::teams::{self, Applied, Pending, ShellTeam};
use crate::store::{users, StoreError};
use crate::views;

use super::acting::acting;
use super::extract::{Admin, CsrfForm};
use super::respond;

const MANAGED: &str =
    "This team's SSO is managed in the config file: change it there and restart teamportal.";

fn back() -> HttpResponse {
    back_to("/settings/sso")
}

fn back_to(location: &'static str) -> HttpResponse {
    respond::see_other(location)
}

/// `?done=` after apply or discard, so the page can say what just happened.
#[derive(serde::Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn notice(q: &DoneQuery) -> Option<&'static str> {
    match q.done.as_deref() {
        Some("applied") => {
            Some("The new settings are applied: every sign-in uses them from now on.")
        }
        Some("discarded") => Some("The pending settings were discarded; nothing changed."),
        _ => None,
    }
}

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

pub async fn sso_page(
    state: web::Data<AppState>,
    admin: Admin,
    q: web::Query<DoneQuery>,
) -> Result<HttpResponse> {
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
    let editable = !config_managed(&state, admin.0.team());
    let (shell, pending) = if editable {
        stored(&state, admin.0.team()).await?
    } else {
        (None, None)
    };
    let view = views::settings::SsoView {
        team: &team,
        redirect_uri: sso::redirect_uri(&base, team.id.as_str()),
        initiate_uri: sso::initiate_uri(&base, team.id.as_str()),
        scopes: sso::scopes(&team).join(" "),
        discovery: discovery
            .as_ref()
            .map(|d| d.as_ref())
            .map_err(|e| e.to_string()),
        managed_in_config: !editable,
        pending: pending.as_ref(),
        email_domains: shell
            .as_ref()
            .map_or(&team.email_domains, |s| &s.sso.email_domains),
        notice: notice(&q),
    };
    let body = views::settings::page(&admin.0.chrome("/settings/sso"), &view);
    Ok(respond::html(body))
}

/// Keeps the new values as pending and sends the admin through a real sign-in with them.
pub async fn save_and_test(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    form: CsrfForm<SettingsForm>,
) -> Result<HttpResponse> {
    let me = admin.0;
    ensure_editable(&state, me.team())?;
    let (shell, _) = stored(&state, me.team()).await?;
    let shell = shell.ok_or(AppError::NotFound)?;
    let record = editable::parse_form(&state.sealer, me.team(), &form.0, &shell.sso)
        .map_err(|errors| AppError::BadRequest(errors.join(" ")))?;
    check_issuer_allowed(&state, &record.issuer)
        .await
        .map_err(AppError::BadRequest)?;
    let test_config = editable::to_config(&state.sealer, &shell, &record)
        .ok_or_else(|| AppError::internal("the client secret could not be sealed"))?;
    let summary = editable::describe_change(&shell.sso, &record);
    acting(&state, &me, move |c, team, actor| {
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
    let uid = TypedSession(session)
        .user_id()
        .ok_or(AppError::SignInRequired)?;
    let team_id = team.id.as_str().to_string();
    let me = state
        .store
        .run(move |c| users::get_in_team(c, &team_id, uid))
        .await?
        .filter(|u| u.active && u.is_admin())
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
    admin: Admin,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let me = admin.0;
    ensure_editable(&state, me.team())?;
    let applied = acting(&state, &me, |c, team, actor| {
        teams::apply_pending(c, team, actor, editable::describe_change)
    })
    .await?;
    let teams::Change { before, now } = match applied {
        Applied::Done(change) => *change,
        Applied::NoSuchTeam => return Err(AppError::NotFound),
        Applied::NothingTested => return Err(AppError::Conflict("Save and test the new settings first; only settings that passed a test sign-in can be applied.".into())),
    };
    let config = editable::to_config(&state.sealer, &before, &now)
        .ok_or_else(|| AppError::internal("applied client secret could not be opened"))?;
    state.sso.providers.forget(&before.sso.issuer).await;
    state.sso.providers.forget(&now.issuer).await;
    state.sso.insert(config);
    Ok(back_to("/settings/sso?done=applied"))
}

pub async fn discard(
    state: web::Data<AppState>,
    admin: Admin,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let me = admin.0;
    ensure_editable(&state, me.team())?;
    acting(&state, &me, |c, team, actor| {
        teams::discard_pending(c, team, actor)
    })
    .await?;
    Ok(back_to("/settings/sso?done=discarded"))
}
