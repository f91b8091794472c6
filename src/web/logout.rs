//! `POST /logout`: ends the session, and for a team with `idp_logout = true` whose IdP
//! publishes an `end_session_endpoint`, sends the browser there (OIDC RP-Initiated Logout)
//! with the session's ID token as `id_token_hint`; the IdP sends it back to `/login`.

use actix_session::Session;
use actix_web::{web, HttpResponse};

use crate::error::Result;
use crate::session::TypedSession;
use crate::sso::logout::end_session_url;
use crate::state::AppState;
use crate::store::sessions::{self, ID_TOKEN_CONTEXT};
use crate::store::users;

use super::extract::CsrfForm;
use super::login::see_other;

pub async fn logout(
    state: web::Data<AppState>,
    session: Session,
    _form: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let typed = TypedSession(&session);
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
        return Ok(see_other("/login"));
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
            return Ok(see_other(&format!("/login?signed_out={team_id}")));
        };
        let base = state.settings.server.base();
        match end_session_url(&state.sso, &team, &base, Some(&hint)).await {
            Ok(Some(url)) => return Ok(see_other(url.as_str())),
            Ok(None) => {}
            // Signed out of the portal either way; the sign-in page says so.
            Err(e) => {
                tracing::warn!(team = %team.id, error = %e, "sign-out could not reach the identity provider's end-session endpoint")
            }
        }
    }
    Ok(see_other(&format!("/login?signed_out={team_id}")))
}
