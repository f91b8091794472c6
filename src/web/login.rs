//! Signing in: the Corporate SSO form and SP- and IdP-initiated flows (the callback is in
//! `callback`, break-glass password sign-in in `password_login`).

use std::sync::Arc;

use actix_session::Session;
use actix_web::cookie::Cookie;
use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::config::TeamConfig;
use crate::domain::{domains, Email, TeamId};
use crate::error::{AppError, Result};
use crate::session::TypedSession;
use crate::sso::{self, redirect, SsoError, StartRequest};
use crate::state::AppState;
use crate::store::logins;
use crate::store::teams;
use crate::views;

use super::client_ip::client_ip;
use super::extract::{AnonCsrfForm, Query};
use super::logout;
use super::return_to;

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}

pub async fn root(session: Session) -> HttpResponse {
    if TypedSession(&session).user_id().is_some() {
        see_other("/team")
    } else {
        see_other("/login")
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// The sign-in page. For a visitor who is not signed in it writes nothing server-side: its
/// forms' CSRF token is the browser's signed cookie (see [`AnonCsrfForm`]).
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    q: Query<LoginQuery>,
) -> Result<HttpResponse> {
    if TypedSession(&session).user_id().is_some() {
        return Ok(see_other("/team"));
    }
    let signed_out = logout::notice(&req);
    let idp_logout = match signed_out.as_deref().and_then(|t| state.sso.get(t)) {
        Some(team) => idp_logout_url(&state, &team).await,
        None => None,
    };
    let return_to = if signed_out.is_some() {
        None
    } else {
        return_to::for_login_page(
            &state.settings.server.public_url,
            &req,
            q.return_to.as_deref(),
        )
    };
    let mut page = login_form_page(
        &req,
        &state,
        LoginForm {
            status: StatusCode::OK,
            value: "",
            error: None,
            return_to: return_to.as_deref(),
            password: None,
        },
        signed_out.is_some(),
        idp_logout.as_deref(),
    );
    if signed_out.is_some() {
        // Shown once: a reload is an ordinary sign-in page.
        let _ = page.add_cookie(&logout::shown());
    }
    Ok(page)
}

/// What the sign-in form shows: as first opened, or again with what was typed and why it
/// was refused.
pub(super) struct LoginForm<'a> {
    pub status: StatusCode,
    pub value: &'a str,
    pub error: Option<&'a str>,
    pub return_to: Option<&'a str>,
    /// A refused break-glass sign-in: that form opened again with what was typed.
    pub password: Option<views::login::PasswordRefused<'a>>,
}

pub(super) fn login_form_page(
    req: &HttpRequest,
    state: &AppState,
    form: LoginForm<'_>,
    signed_out: bool,
    idp_logout: Option<&str>,
) -> HttpResponse {
    let (csrf, cookie) = state.browser_cookies.csrf_for_form(req);
    let LoginForm {
        status,
        value,
        error,
        return_to,
        password,
    } = form;
    let body = views::login::page(&views::login::LoginView {
        csrf: &csrf,
        value,
        error,
        return_to,
        no_teams: state.sso.all().is_empty(),
        password_login: state.settings.security.password_login,
        demo: state.demo_accounts.as_deref(),
        signed_out,
        idp_logout,
        password,
    })
    .into_string();
    html_with_cookie(status, body, cookie)
}

pub(super) fn html_with_cookie(
    status: StatusCode,
    body: String,
    cookie: Option<Cookie<'static>>,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.content_type("text/html; charset=utf-8");
    if let Some(c) = cookie {
        resp.cookie(c);
    }
    resp.body(body)
}

/// The IdP's end-session link for the signed-out page, from cached discovery only: this
/// page is anonymous, so visiting it must never make the portal call an IdP.
async fn idp_logout_url(state: &AppState, team: &TeamConfig) -> Option<String> {
    let d = state.sso.providers.cached_discovery(&team.issuer_str())?;
    if team.browser_managed {
        sso::provider::check_browser_endpoints(&team.issuer, &d).ok()?;
    }
    let mut url = d.end_session_endpoint.clone()?;
    url.query_pairs_mut()
        .append_pair("client_id", &team.client_id)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/login", state.settings.server.base()),
        );
    Some(url.to_string())
}

#[derive(Deserialize)]
pub struct SsoForm {
    #[serde(default)]
    team_id: String,
    /// The page to land on after sign-in (same origin only).
    return_to: Option<String>,
}

/// Finds the team for what was typed: a Team ID, or a work email whose domain one live team
/// owns (read from the store, so the operator's `admin set-domains` counts at once).
async fn resolve_team(
    state: &AppState,
    typed: &str,
) -> Result<std::result::Result<Arc<TeamConfig>, &'static str>> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(Err("Enter your Team ID or your work email."));
    }
    if typed.contains('@') {
        let Some(email) = Email::parse(typed) else {
            return Ok(Err("That does not look like an email address."));
        };
        let settings = state.settings.clone();
        let claims = state
            .store
            .run(move |c| teams::live_domain_claims(c, &settings.teams))
            .await?;
        return Ok(match domains::route(&claims, email.domain()) {
            domains::Route::Team(id) => state
                .sso
                .get(id)
                .ok_or("No team signs in with this email domain. Enter your Team ID instead."),
            domains::Route::NoTeam => {
                Err("No team signs in with this email domain. Enter your Team ID instead.")
            }
            domains::Route::Ambiguous(owners) => {
                tracing::error!(domain = email.domain(), teams = ?owners, "an email domain is claimed by more than one team; sign-in by email is refused for it");
                Err("Sign-in by email is not available for this domain. Enter your Team ID instead.")
            }
        });
    }
    let id = typed.to_ascii_lowercase();
    if TeamId::parse(&id).is_err() {
        return Ok(Err(
            "A Team ID is lowercase letters and digits in dash-separated parts, e.g. acme or acme-eng.",
        ));
    }
    Ok(state
        .sso
        .get(&id)
        .ok_or("There is no team with this Team ID. Check the spelling, or ask your admin."))
}

pub async fn login_sso(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: AnonCsrfForm<SsoForm>,
) -> Result<HttpResponse> {
    let typed_value = form.0.team_id;
    let public_url = &state.settings.server.public_url;
    let return_path = form
        .0
        .return_to
        .as_deref()
        .and_then(|r| return_to::own_path(public_url, r));
    let team = match resolve_team(&state, &typed_value).await? {
        Ok(team) => team,
        Err(message) => {
            let status = if typed_value.trim().is_empty() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::NOT_FOUND
            };
            return Ok(login_form_page(
                &req,
                &state,
                LoginForm {
                    status,
                    value: &typed_value,
                    error: Some(message),
                    return_to: return_path.as_deref(),
                    password: None,
                },
                false,
                None,
            ));
        }
    };
    let login_hint = typed_value
        .contains('@')
        .then(|| typed_value.trim().to_string());
    let back = return_path
        .as_deref()
        .and_then(|p| redirect::same_origin(public_url, p))
        .map(String::from);
    let mut started = begin(&req, &state, team, Origin::Form, back, login_hint).await?;
    // Used: the remembered page goes with this sign-in and no other.
    let _ = started.add_removal_cookie(&return_to::forget());
    Ok(started)
}

/// How a sign-in was started: from the portal's own sign-in form (`POST /login/sso`, which
/// needs the browser's CSRF token), or by a link another site can make a browser follow
/// (`/sso/{team}/login`, `/sso/{team}/initiate`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Form,
    Link,
}

/// Starts the authorization code flow and redirects the browser to the IdP. The pending
/// sign-in is bound to the browser by its binding cookie, not by a session: starting a
/// sign-in costs one short-lived pending-login row and no session.
async fn begin(
    req: &HttpRequest,
    state: &AppState,
    team: Arc<TeamConfig>,
    origin: Origin,
    return_to: Option<String>,
    login_hint: Option<String>,
) -> Result<HttpResponse> {
    let ip = client_ip(req, &state.settings.server.trusted_proxies);
    if !state.login_limiter.allow(ip) {
        return Err(SsoError::TooManyStarts.into());
    }
    let (browser, binding) = state
        .browser_cookies
        .binding_for_start(req, logins::LIFETIME_SECS);
    let base = state.settings.server.base();
    let url = sso::start(
        &state.sso,
        &state.store,
        &base,
        StartRequest {
            team,
            browser,
            purpose: crate::store::logins::LoginPurpose::SignIn,
            from_form: origin == Origin::Form,
            return_to,
            login_hint,
        },
    )
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, url.as_str()))
        .cookie(binding)
        .finish())
}

pub(super) fn known_team(state: &AppState, team: &str) -> Result<Arc<TeamConfig>> {
    state
        .sso
        .get(team)
        .ok_or(AppError::Sso(SsoError::UnknownTeam))
}

#[derive(Deserialize)]
pub struct SsoLoginQuery {
    return_to: Option<String>,
}

pub async fn sso_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: Query<SsoLoginQuery>,
) -> Result<HttpResponse> {
    let team = known_team(&state, &path)?;
    let return_to = q
        .return_to
        .as_deref()
        .and_then(|r| redirect::same_origin(&state.settings.server.public_url, r))
        .map(String::from);
    begin(&req, &state, team, Origin::Link, return_to, None).await
}

/// OIDC Core section 4, third-party initiated login (Okta's "Initiate login URI").
#[derive(Deserialize, Default)]
pub struct InitiateParams {
    iss: Option<String>,
    login_hint: Option<String>,
    target_link_uri: Option<String>,
}

async fn initiate(
    req: HttpRequest,
    state: web::Data<AppState>,
    team: String,
    p: InitiateParams,
) -> Result<HttpResponse> {
    let team = known_team(&state, &team)?;
    let issuer = team.issuer_str();
    match p.iss.as_deref() {
        // Equal, up to the one trailing slash Okta's dashboard may add or drop.
        Some(iss)
            if iss == issuer
                || iss.strip_suffix('/') == Some(issuer.as_str())
                || issuer.strip_suffix('/') == Some(iss) => {}
        Some(_) => return Err(AppError::BadRequest(
            "This sign-in link names another identity provider (iss) than the one this team uses."
                .into(),
        )),
        None => {
            return Err(AppError::BadRequest(
                "This sign-in link lacks the iss parameter.".into(),
            ))
        }
    }
    let return_to = p
        .target_link_uri
        .as_deref()
        .and_then(|r| redirect::same_origin(&state.settings.server.public_url, r))
        .map(String::from);
    begin(&req, &state, team, Origin::Link, return_to, p.login_hint).await
}

pub async fn sso_initiate_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: Query<InitiateParams>,
) -> Result<HttpResponse> {
    initiate(req, state, path.into_inner(), q.into_inner()).await
}

/// The auto-submitted cross-site POST variant: no CSRF token, since it only starts a fresh flow.
pub async fn sso_initiate_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let p: InitiateParams = serde_urlencoded::from_bytes(&body)
        .map_err(|_| AppError::BadRequest("The sign-in request could not be read.".into()))?;
    initiate(req, state, path.into_inner(), p).await
}
