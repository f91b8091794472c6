//! The sessions page (the signed-in user's own sessions, ending one or all others), an
//! admin's "end sessions" for a member, and what a new session records about where it
//! came from.

use actix_session::Session;
use actix_web::http::header::USER_AGENT;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::access;
use crate::domain::text::strip_unsafe;
use crate::error::{AppError, Result};
use crate::session::TypedSession;
use crate::state::AppState;
use crate::store::access::Sessions;
use crate::store::sessions::{self, Origin, BROWSER_MAX, ID_TOKEN_CONTEXT};
use crate::views;

use super::client_ip::client_ip;
use super::extract::{Admin, CsrfForm, CurrentUser, SignedIn};
use super::login::see_other;

/// What a new session keeps: the address and browser it was signed in from, and the IdP's
/// `sid` and sealed ID token when it came from SSO.
pub fn origin(
    req: &HttpRequest,
    state: &AppState,
    sid: Option<String>,
    id_token_enc: Option<Vec<u8>>,
) -> Origin {
    let browser = req
        .headers()
        .get(USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .map(|ua| strip_unsafe(&ua).chars().take(BROWSER_MAX).collect())
        .unwrap_or_default();
    Origin {
        address: client_ip(req, &state.settings.server.trusted_proxies).to_string(),
        browser,
        sid,
        id_token_enc,
    }
}

/// An ID token sealed with the instance key, as a session keeps it.
pub fn seal_id_token(state: &AppState, id_token: &str) -> Vec<u8> {
    state.sealer.seal(id_token.as_bytes(), ID_TOKEN_CONTEXT)
}

pub async fn sessions_page(who: SignedIn, session: Session) -> Result<HttpResponse> {
    let row = TypedSession(&session).row().unwrap_or_default();
    let (me, list) = who
        .load_with(move |c, me| sessions::list_for_user(c, me.id, &row))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(views::sessions::page(&me.chrome("/sessions"), &list).into_string()))
}

/// Ends one of the user's own sessions; another user's (or an unknown) id answers 404.
/// Ending the current one signs this browser out.
pub async fn revoke(
    state: web::Data<AppState>,
    me: CurrentUser,
    session: Session,
    path: web::Path<String>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let public_id = path.into_inner();
    if public_id.is_empty() || public_id.len() > 64 {
        return Err(AppError::NotFound);
    }
    let typed = TypedSession(&session);
    let row = typed.row().unwrap_or_default();
    let (team, actor, user_id) = (me.team().to_string(), me.actor(), me.user.id);
    let current = {
        let public_id = public_id.clone();
        state
            .store
            .read(move |c| sessions::list_for_user(c, user_id, &row))
            .await?
            .into_iter()
            .any(|s| s.current && s.public_id == public_id)
    };
    let ended = access::end_sessions(
        &state,
        team,
        actor,
        Sessions::One { user_id, public_id },
        crate::domain::AuditAction::SessionRevoked,
        me.user.email.clone(),
    )
    .await?;
    if ended == 0 {
        return Err(AppError::NotFound);
    }
    if current {
        typed.sign_out();
        return Ok(see_other("/login"));
    }
    Ok(see_other("/sessions"))
}

/// Ends every session of the user but this one.
pub async fn revoke_others(
    state: web::Data<AppState>,
    me: CurrentUser,
    session: Session,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let keep = TypedSession(&session)
        .row()
        .ok_or(AppError::SignInRequired)?;
    access::end_sessions(
        &state,
        me.team().to_string(),
        me.actor(),
        Sessions::OthersOf {
            user_id: me.user.id,
            keep,
        },
        crate::domain::AuditAction::OtherSessionsRevoked,
        me.user.email.clone(),
    )
    .await?;
    Ok(see_other("/sessions"))
}

/// An admin ends every session of a member at once (`/team`'s "End sessions").
pub async fn end_member_sessions(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let me = admin.0;
    access::end_member_sessions(&state, me.team().to_string(), me.actor(), path.into_inner())
        .await?;
    Ok(see_other("/team"))
}
