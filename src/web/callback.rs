//! The SSO callback: where the IdP sends the browser back, the sign-in's checks and their
//! outcome (a session, a confirmation, or a refusal page), and the refusal of posted ID tokens.

use std::net::IpAddr;

use actix_session::Session;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::config::TeamConfig;
use crate::error::{AppError, Result};
use crate::metrics::SignInOutcome;
use crate::session::TypedSession;
use crate::sso::{self, CallbackParams, SsoError};
use crate::state::AppState;
use crate::store::users::{self, Identity, User};

use super::client_ip::client_ip;
use super::confirm;
use super::extract::is_utf8_form;
use super::login::{known_team, see_other};

pub async fn sso_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let team = known_team(&state, &path)?;
    let unreadable = |why: &str| {
        AppError::Sso(SsoError::Invalid(format!(
            "The sign-in response could not be read{why}."
        )))
    };
    // Text that is not UTF-8 would reach the IdP's token endpoint as U+FFFD: refused here.
    let query = req.query_string();
    if !is_utf8_form(query.as_bytes()) {
        return Err(unreadable(": it holds text that is not valid UTF-8"));
    }
    let params: CallbackParams = serde_urlencoded::from_str(query).map_err(|_| unreadable(""))?;
    let typed = TypedSession(&session);
    let base = state.settings.server.base();
    let peer = client_ip(&req, &state.settings.server.trusted_proxies);
    let ip = peer.to_string();

    let refused = |e: SsoError| {
        let (state, team) = (state.clone(), team.clone());
        async move {
            record_refusal(&state, &team, peer, &e).await;
            let e = AppError::from(e);
            count_sign_in(&state, SignInOutcome::of(&e));
            e
        }
    };
    let pending = match sso::take_pending(
        &state.store,
        team.id.as_str(),
        state.browser_cookies.binding(&req),
        &params,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return Err(refused(e).await),
    };
    if pending.purpose == crate::store::logins::LoginPurpose::Test {
        return super::settings::finish_test(&state, &session, &team, pending, params).await;
    }
    let finished = match sso::finish(&state.sso, &base, &team, pending, params).await {
        Ok(f) => f,
        Err(e) => return Err(refused(e).await),
    };
    req.extensions_mut()
        .insert(super::server_timing::IdpTime(finished.idp_time));
    let identity = finished.identity;
    // Only a sign-in started by a link can have been forced on this browser by another site;
    // one started from the portal's own form carried its CSRF token and switches directly.
    let someone_else = if finished.from_form {
        None
    } else {
        confirm::signed_in_as_someone_else(&state, &typed, &team, &identity).await?
    };
    if let Some(me) = someone_else {
        let idp_session = (
            finished.sid,
            super::sessions::seal_id_token(&state, &finished.id_token),
        );
        return Ok(confirm::hold_for_confirmation(
            &req,
            &state,
            &typed,
            (&me, &team),
            identity,
            finished.return_to,
            idp_session,
        ));
    }
    let user = admit(&state, &team, identity, ip)
        .await
        .inspect_err(|e| count_sign_in(&state, SignInOutcome::of(e)))?;
    count_sign_in(&state, SignInOutcome::Ok);
    let sealed = super::sessions::seal_id_token(&state, &finished.id_token);
    typed.sign_in(
        user.id,
        &super::sessions::origin(&req, &state, finished.sid, sealed),
    );
    let to = finished.return_to.unwrap_or_else(|| "/team".into());
    Ok(see_other(&to))
}

pub(super) fn count_sign_in(state: &AppState, outcome: SignInOutcome) {
    if let Some(m) = &state.metrics {
        m.sign_in(outcome);
    }
}

/// Creates or updates the account of a verified identity and records the sign-in.
pub(super) async fn admit(
    state: &AppState,
    team: &TeamConfig,
    identity: Identity,
    ip: String,
) -> Result<User> {
    let policy = users::Policy {
        team_id: team.id.as_str().to_string(),
        admin_email: team.admin_email.clone(),
        provisioning: team.provisioning,
        admin_groups: team.admin_groups.clone(),
    };
    Ok(state
        .store
        .run(move |c| users::sign_in(c, &policy, &identity, &ip))
        .await?)
}

/// Refusals by a check are audited (who tried is unknown, so the actor is the address),
/// rate-limited and aggregated per address: anyone can send a bad callback.
async fn record_refusal(state: &AppState, team: &TeamConfig, ip: IpAddr, e: &SsoError) {
    if !matches!(
        e,
        SsoError::Invalid(_)
            | SsoError::AccessDenied(_)
            | SsoError::EmailNotVerified
            | SsoError::NoEmail
    ) {
        return;
    }
    let detail = e.to_string();
    super::audit::record_refusal(
        state,
        team.id.as_str(),
        ip,
        "anonymous",
        crate::domain::AuditAction::SignInRefused,
        "",
        &detail,
    )
    .await;
}

/// Okta's "Okta Simplified" tile mode posts an unsolicited ID token here: refused.
pub async fn sso_callback_post(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    known_team(&state, &path)?;
    Err(AppError::Sso(SsoError::Invalid(
        "teamportal does not accept ID tokens posted without a sign-in it started. In Okta, set the app's login flow to \"Redirect to app to initiate login (OIDC Compliant)\" with the Initiate login URI shown on the SSO settings page.".into(),
    )))
}
