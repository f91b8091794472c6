//! `POST /sso/{team}/backchannel-logout`: the IdP tells the portal a user signed out there
//! (OIDC Back-Channel Logout 1.0). 200 once the sessions it names have ended; 400 with a
//! JSON `error` and nothing ended for a token that fails a check. The sender is anonymous:
//! refusals go through the rate-limited anonymous audit writer, and only a token that
//! passed every check writes anything.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::sso::backchannel::{self, IAT_WINDOW_SECS};
use crate::sso::SsoError;
use crate::state::AppState;
use crate::store::access::{self, Logout, Sessions};
use crate::store::audit::Actor;
use crate::store::now;

use super::client_ip::client_ip;

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: Option<String>,
}

fn answer(status: StatusCode, error: Option<(&str, &str)>) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.insert_header((CACHE_CONTROL, "no-store"));
    match error {
        None => resp.finish(),
        Some((error, description)) => resp
            .insert_header((CONTENT_TYPE, "application/json"))
            .body(json!({ "error": error, "error_description": description }).to_string()),
    }
}

pub async fn backchannel_logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(team) = state.sso.get(&path) else {
        // As every /sso/{team}/... route: 404 for a Team ID nobody has.
        return answer(
            StatusCode::NOT_FOUND,
            Some(("invalid_request", "There is no team with this Team ID.")),
        );
    };
    let ip = client_ip(&req, &state.settings.server.trusted_proxies);
    let refuse = |why: String| {
        let state = state.clone();
        let team_id = team.id.as_str().to_string();
        async move {
            super::audit::record_refusal(
                &state,
                &team_id,
                ip,
                "anonymous",
                crate::domain::AuditAction::BackchannelLogoutRefused,
                "",
                &why,
            )
            .await;
            answer(StatusCode::BAD_REQUEST, Some(("invalid_request", &why)))
        }
    };
    let token = serde_urlencoded::from_bytes::<LogoutForm>(&body)
        .ok()
        .and_then(|f| f.logout_token)
        .unwrap_or_default();
    let t = now();
    let claims = match backchannel::verify(&state.sso, &team, &token, t).await {
        Ok(c) => c,
        Err(SsoError::Invalid(why)) => return refuse(why).await,
        Err(e) => {
            tracing::warn!(team = %team.id, error = %e, "back-channel logout: the identity provider's keys could not be read");
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Some((
                    "temporarily_unavailable",
                    "The identity provider's signing keys could not be read; try again.",
                )),
            );
        }
    };

    let issuer = team.issuer_str();
    let which = match (&claims.sid, &claims.sub) {
        (Some(sid), sub) => Sessions::Sid {
            issuer,
            sid: sid.clone(),
            subject: sub.clone(),
        },
        (None, Some(sub)) => Sessions::Subject {
            issuer,
            subject: sub.clone(),
        },
        (None, None) => return refuse("The logout_token names neither sid nor sub.".into()).await,
    };
    let target = match (&claims.sub, &claims.sid) {
        (Some(sub), _) => format!("sub {sub}"),
        (None, Some(sid)) => format!("sid {sid}"),
        (None, None) => String::new(),
    };
    let actor = Actor {
        user_id: None,
        label: "identity provider".into(),
        ip: ip.to_string(),
    };
    // Kept until the token could no longer pass the iat check.
    let until = claims.iat.max(t) + IAT_WINDOW_SECS + 60;
    let team_id = team.id.as_str().to_string();
    let jti = claims.jti.clone();
    let done = state
        .store
        .run(move |c| {
            access::end_by_logout_token(c, &team_id, &actor, (&jti, until), &which, &target)
        })
        .await;
    match done {
        Ok(Logout::Ended(_)) => answer(StatusCode::OK, None),
        Ok(Logout::Replayed) => refuse("The logout_token was used before (jti).".into()).await,
        Ok(Logout::Full) => {
            refuse("Too many logout tokens for this team at once; try again shortly.".into()).await
        }
        Err(e) => {
            tracing::error!(team = %team.id, error = %e, "back-channel logout: the store did not answer");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Some((
                    "temporarily_unavailable",
                    "The portal's database did not answer.",
                )),
            )
        }
    }
}
