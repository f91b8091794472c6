//! The sessions page (the signed-in user's own sessions, ending one or all others), an
//! admin's "end sessions" for a member, and what a new session records about where it
//! came from.

use actix_session::Session;
use actix_web::http::header::USER_AGENT;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::access;
use crate::domain::session_list::Listed;
use crate::domain::text::strip_unsafe;
use crate::domain::useragent;
use crate::error::{AppError, Result};
use crate::session::TypedSession;
use crate::state::AppState;
use crate::store::access::Sessions;
use crate::store::sessions::{self, Origin, BROWSER_MAX, ID_TOKEN_CONTEXT};
use crate::store::users;
use crate::views;

use super::answer::{self, Back};
use super::client_ip::client_ip;
use super::extract::{CsrfForm, CurrentUser, SignedIn};
use super::respond::{html, see_other};
use super::team_change::TeamChange;

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

/// The largest ID token a session keeps for sign-out's `id_token_hint`. Okta's are one to
/// a few KiB; an IdP may send up to the 1 MiB any answer is read to, and every session (and
/// its cached state) would carry that. A larger one is not kept: sign-out then ends the
/// portal session only, as for a session that has no ID token.
pub const ID_TOKEN_KEPT_MAX: usize = 16 * 1024;

/// An ID token sealed with the instance key, as a session keeps it; `None` above
/// [`ID_TOKEN_KEPT_MAX`].
pub fn seal_id_token(state: &AppState, id_token: &str) -> Option<Vec<u8>> {
    (id_token.len() <= ID_TOKEN_KEPT_MAX)
        .then(|| state.sealer.seal(id_token.as_bytes(), ID_TOKEN_CONTEXT))
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

/// The signed-in user's own sessions, the one this request came with marked.
async fn own_sessions(
    state: &AppState,
    me: &CurrentUser,
    session: &Session,
) -> Result<Vec<Listed>> {
    let row = TypedSession(session).row().unwrap_or_default();
    let user_id = me.user.id;
    Ok(state
        .store
        .read(move |c| sessions::list_for_user(c, user_id, &row))
        .await?)
}

/// One of the user's own sessions by its public id; another user's (or an unknown) is 404.
async fn own_session(
    state: &AppState,
    me: &CurrentUser,
    session: &Session,
    public_id: &str,
) -> Result<Listed> {
    if public_id.is_empty() || public_id.len() > 64 {
        return Err(AppError::NotFound);
    }
    own_sessions(state, me, session)
        .await?
        .into_iter()
        .find(|s| s.public_id == public_id)
        .ok_or(AppError::NotFound)
}

/// "Firefox on Linux at 203.0.113.9": how a session is named to its owner.
fn named(s: &Listed) -> String {
    format!("{} at {}", useragent::summary(&s.browser), s.address)
}

/// `GET /sessions/{id}/revoke/confirm`: ending a session is asked first.
pub async fn confirm_revoke(
    state: web::Data<AppState>,
    me: CurrentUser,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let s = own_session(&state, &me, &session, &path).await?;
    let (question, explain, button) = if s.current {
        (
            "Sign out here?".to_string(),
            "This browser is signed out of teamportal; your other sessions stay as they are."
                .to_string(),
            "Sign out here".to_string(),
        )
    } else {
        let name = named(&s);
        (
            format!("End the session of {name}?"),
            format!(
                "{name}, last seen {}, is signed out at once. You stay signed in here.",
                views::when(Some(s.last_seen_at))
            ),
            format!("End the session of {name}"),
        )
    };
    Ok(ask(
        &me,
        &question,
        &explain,
        &format!("/sessions/{}/revoke", s.public_id),
        &button,
    ))
}

/// `GET /sessions/revoke-others/confirm`.
pub async fn confirm_others(
    state: web::Data<AppState>,
    me: CurrentUser,
    session: Session,
) -> Result<HttpResponse> {
    let others = own_sessions(&state, &me, &session)
        .await?
        .iter()
        .filter(|s| !s.current)
        .count();
    // Nothing to ask about (the button is hidden then, but a bookmark or a second tab can
    // still get here): back to the list, saying so.
    if others == 0 {
        return Ok(answer::done(
            &session,
            "/sessions",
            "You have no other sessions: only this browser is signed in.".to_string(),
        ));
    }
    let explain = format!(
        "You have {}: every browser but this one is signed out at once. You stay signed in here.",
        other_sessions(others)
    );
    Ok(ask(
        &me,
        "End all your other sessions?",
        &explain,
        "/sessions/revoke-others",
        "End all other sessions",
    ))
}

fn other_sessions(n: usize) -> String {
    views::count(n as i64, "other session", "other sessions")
}

fn ask(
    me: &CurrentUser,
    question: &str,
    explain: &str,
    action: &str,
    button: &str,
) -> HttpResponse {
    html(views::ask::page(
        &me.chrome("/sessions"),
        &views::ask::Ask {
            question,
            explain,
            action,
            button,
            back: "/sessions",
            hidden: &[],
        },
    ))
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
    let s = own_session(&state, &me, &session, &path).await?;
    let (team, actor, user_id) = (me.team().to_string(), me.actor(), me.user.id);
    let public_id = s.public_id.clone();
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
    if s.current {
        TypedSession(&session).sign_out();
        return Ok(see_other("/login"));
    }
    Ok(answer::done(
        &session,
        "/sessions",
        format!(
            "The session of {} was ended: that browser is signed out.",
            named(&s)
        ),
    ))
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
    let ended = access::end_sessions(
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
    let said = match ended {
        0 => "There were no other sessions to end.".to_string(),
        n => format!(
            "Ended {}: only this browser is signed in now.",
            other_sessions(n)
        ),
    };
    Ok(answer::done(&session, "/sessions", said))
}

/// An admin ends every session of a member at once (`/team`'s "End sessions").
pub async fn end_member_sessions(
    state: web::Data<AppState>,
    change: TeamChange<Back>,
) -> Result<HttpResponse> {
    let (team, id) = (change.team(), change.target);
    let ended = access::end_member_sessions(&state, team.clone(), change.actor(), id).await?;
    let name = state
        .store
        .read(move |c| users::get_in_team(c, &team, id))
        .await?
        .map_or_else(
            || "the member".to_string(),
            |u| u.display_name().to_string(),
        );
    let sessions = views::count(ended as i64, "session", "sessions");
    Ok(change.done(format!(
        "Ended {sessions} of {name}: they are signed out everywhere."
    )))
}
