//! `POST /logout`: ends the session, and for a team with `idp_logout = true` whose IdP
//! publishes an `end_session_endpoint`, sends the browser there (OIDC RP-Initiated Logout)
//! with the session's ID token as `id_token_hint`; the IdP sends it back to `/login`.
//! Either way the answer is a 303 to exactly where DESIGN.md says; the sign-in page learns
//! that someone has just signed out from a short-lived cookie (see [`SIGNED_OUT`]).

use actix_session::Session;
use actix_web::cookie::time::Duration;
use actix_web::cookie::Cookie;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{AppError, Result};
use crate::session::TypedSession;
use crate::sso::logout::end_session_url;
use crate::state::AppState;
use crate::store::sessions::{self, ID_TOKEN_CONTEXT};
use crate::store::users;

use super::extract::CsrfForm;
use super::login::see_other;

/// The one-time notice for the sign-in page after a sign-out, scoped to `/login`: the team
/// whose IdP the page may offer to sign out of too, or [`NO_LINK`] (the browser went through
/// the IdP's end-session endpoint already, or the session had no team left). Not a secret and never trusted: a
/// forged one shows its own browser a notice and, at most, a team's public sign-out link.
pub const SIGNED_OUT: &str = "teamportal-signed-out";
/// Not a Team ID (those have no `.`).
pub const NO_LINK: &str = ".";

fn signed_out(state: &AppState, value: &str) -> Cookie<'static> {
    super::return_to::for_login(
        SIGNED_OUT,
        value.to_string(),
        state.settings.server.is_https(),
        Duration::minutes(5),
    )
}

/// The notice's removal, once the sign-in page has shown it.
pub fn shown() -> Cookie<'static> {
    super::return_to::removal_at_login(SIGNED_OUT)
}

/// The notice the sign-in page should show, if a sign-out just sent the browser there.
pub fn notice(req: &HttpRequest) -> Option<String> {
    req.cookie(SIGNED_OUT).map(|c| c.value().to_string())
}

fn to_login(state: &AppState, notice: &str) -> HttpResponse {
    let mut r = see_other("/login");
    // Only fails for an invalid cookie, and this one is built from a Team ID.
    let _ = r.add_cookie(&signed_out(state, notice));
    r
}

pub async fn logout(
    state: web::Data<AppState>,
    session: Session,
    form: std::result::Result<CsrfForm<serde::de::IgnoredAny>, AppError>,
) -> Result<HttpResponse> {
    let typed = TypedSession(&session);
    // A session that has already ended (it expired, another tab signed out) has nothing to
    // end and no CSRF token to match: the stale tab's "Sign out" lands on the sign-in page,
    // as it would have, and a forged post changes nothing.
    if typed.user_id().is_none() {
        typed.sign_out();
        return Ok(see_other("/login"));
    }
    form?;
    let found = match typed.user_id().zip(typed.row()) {
        Some((uid, row)) => {
            state
                .store
                .read(
                    move |c| -> std::result::Result<_, crate::store::StoreError> {
                        // Only a live session of an active user: one revoked meanwhile (its
                        // row gone) or of someone removed signs out here and goes nowhere.
                        let team = users::for_live_session(c, uid, &row)?.map(|(u, _)| u.team_id);
                        Ok(team.map(|t| (t, sessions::sealed_id_token(c, &row))))
                    },
                )
                .await?
        }
        None => None,
    };
    typed.sign_out();
    let Some((team_id, sealed)) = found else {
        return Ok(to_login(&state, NO_LINK));
    };
    if let Some(team) = state.sso.get(&team_id).filter(|t| t.idp_logout) {
        let hint = sealed
            .ok()
            .flatten()
            .and_then(|s| state.sealer.open(&s, ID_TOKEN_CONTEXT))
            .and_then(|t| String::from_utf8(t).ok());
        // Without the session's ID token (a break-glass sign-in, a session from before they
        // were kept) the IdP could not tell whose session to end: not sent there at all.
        let Some(hint) = hint else {
            return Ok(to_login(&state, &team_id));
        };
        let base = state.settings.server.base();
        match end_session_url(&state.sso, &team, &base, Some(&hint)).await {
            Ok(Some(url)) => {
                let mut r = see_other(url.as_str());
                let _ = r.add_cookie(&signed_out(&state, NO_LINK));
                return Ok(r);
            }
            Ok(None) => {}
            // Signed out of the portal either way; the sign-in page says so.
            Err(e) => {
                tracing::warn!(team = %team.id, error = %e, "sign-out could not reach the identity provider's end-session endpoint")
            }
        }
    }
    Ok(to_login(&state, &team_id))
}
