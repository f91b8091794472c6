//! Login CSRF: a browser already signed in that finishes a sign-in as someone else, started
//! by a link (`/sso/{team}/login`, `/sso/{team}/initiate`), is asked before its session is
//! replaced. The finished sign-in waits in that browser's session
//! (and nowhere else) until the browser answers the one form of the confirmation page.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::config::TeamConfig;
use crate::crypto;
use crate::domain::Email;
use crate::error::{AppError, Result};
use crate::session::{HeldSignIn, TypedSession};
use crate::state::AppState;
use crate::store::users::{self, Identity, User};
use crate::store::{logins, now};
use crate::views;

use super::callback::admit;
use super::client_ip::client_ip;
use super::extract::AnonCsrfForm;
use super::login::{html_with_cookie, known_team, see_other};

/// Who this browser is signed in as, when a sign-in as `identity` would make it someone
/// else (another user of its team, or anyone in another team). A browser can be made to
/// finish a sign-in it never meant (a cross-site link to `/sso/{team}/login` or `initiate`
/// that the attacker's IdP account completes), so the callback asks this before switching
/// a signed-in browser to another person, for sign-ins started by such a link. One started
/// from the portal's own form (`POST /login/sso`, with the browser's CSRF token) cannot be
/// forced cross-site and is not asked about. Signing in again as oneself asks nothing.
pub(super) async fn signed_in_as_someone_else(
    state: &AppState,
    typed: &TypedSession<'_>,
    team: &TeamConfig,
    identity: &Identity,
) -> Result<Option<User>> {
    let Some((uid, row)) = typed.user_id().zip(typed.row()) else {
        return Ok(None);
    };
    let (team_id, issuer, subject) = (
        team.id.as_str().to_string(),
        identity.issuer.clone(),
        identity.subject.clone(),
    );
    Ok(state
        .store
        .read(
            move |c| -> std::result::Result<_, crate::store::StoreError> {
                // A session that is no longer live signs nobody in: nothing to protect.
                let Some((me, _)) = users::for_live_session(c, uid, &row)? else {
                    return Ok(None);
                };
                let target = users::id_for_identity(c, &team_id, &issuer, &subject)?;
                Ok((target != Some(me.id)).then_some(me))
            },
        )
        .await?)
}

/// Keeps the finished sign-in in the browser's session and asks whether to switch; until
/// then nothing changes: the session stays `me`'s, no account is made, nothing is audited.
pub(super) fn hold_for_confirmation(
    req: &HttpRequest,
    state: &AppState,
    typed: &TypedSession<'_>,
    (me, team): (&User, &TeamConfig),
    identity: Identity,
    return_to: Option<String>,
    (sid, id_token_enc): (Option<String>, Option<Vec<u8>>),
) -> HttpResponse {
    let held = HeldSignIn {
        id: crypto::random_string(16),
        team_id: team.id.as_str().to_string(),
        issuer: identity.issuer,
        subject: identity.subject,
        email: identity.email.to_string(),
        email_verified: identity.email_verified,
        name: identity.name,
        // Only what admission reads: whether one of them is an admin group. The rest of a
        // long list would sit in the session state for nothing.
        groups: identity.groups.map(|groups| {
            groups
                .into_iter()
                .filter(|g| team.admin_groups.contains(g))
                .collect()
        }),
        return_to,
        sid,
        id_token_enc,
        held_at: now(),
    };
    typed.hold_sign_in(&held);
    let now_team = state
        .sso
        .get(&me.team_id)
        .map(|t| t.name.clone())
        .unwrap_or_else(|| me.team_id.clone());
    let (csrf, cookie) = state.browser_cookies.csrf_for_form(req);
    let body = views::login::confirm_page(&views::login::ConfirmView {
        csrf: &csrf,
        hold: &held.id,
        now_email: &me.email,
        now_team: &now_team,
        then_email: &held.email,
        then_team: &team.name,
    })
    .into_string();
    html_with_cookie(StatusCode::OK, body, cookie)
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Switch,
    Stay,
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    hold: String,
    decision: Decision,
}

/// The answer to the switch-account page: `switch` signs in as the held identity (a new
/// session), `stay` forgets it and keeps the session as it was.
pub async fn confirm_sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: AnonCsrfForm<ConfirmForm>,
) -> Result<HttpResponse> {
    let typed = TypedSession(&session);
    let form = form.0;
    let held = typed
        .held_sign_in()
        .filter(|h| !form.hold.is_empty() && crypto::same(&h.id, &form.hold))
        .ok_or_else(|| {
            AppError::BadRequest(
                "No sign-in is waiting for your confirmation here: it was answered, replaced or has expired. Start the sign-in again if you meant it.".into(),
            )
        })?;
    typed.drop_held_sign_in();
    if matches!(form.decision, Decision::Stay) {
        return Ok(see_other("/team"));
    }
    if now() - held.held_at > logins::LIFETIME_SECS {
        return Err(AppError::BadRequest(
            "This sign-in waited more than 10 minutes for confirmation and has expired. Start it again.".into(),
        ));
    }
    let team = known_team(&state, &held.team_id)?;
    let email = Email::parse(&held.email)
        .ok_or_else(|| AppError::BadRequest("The held sign-in is not valid.".into()))?;
    let identity = Identity {
        issuer: held.issuer,
        subject: held.subject,
        email,
        email_verified: held.email_verified,
        name: held.name,
        groups: held.groups,
    };
    let ip = client_ip(&req, &state.settings.server.trusted_proxies).to_string();
    let user = admit(&state, &team, identity, ip).await?;
    typed.sign_in(
        user.id,
        &super::sessions::origin(&req, &state, held.sid, held.id_token_enc),
    );
    Ok(see_other(held.return_to.as_deref().unwrap_or("/team")))
}
