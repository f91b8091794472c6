//! `/settings/scim`: where an admin finds the SCIM base URL and makes, rotates or revokes the
//! team's SCIM token. Rotating and revoking ask first (`.../confirm`); a new token is shown
//! once, on the page the creation redirects to (kept sealed in the session until then).

use actix_session::Session;
use actix_web::{web, HttpResponse};

use crate::error::{AppError, Result};
use crate::session::{Once, TypedSession};
use crate::state::AppState;
use crate::store::scim as store;
use crate::views;

use super::answer;
use super::extract::{Admin, CsrfForm};
use super::respond::html;

const PAGE: &str = "/settings/scim";

/// A new SCIM token: 256 random bits, prefixed so it is recognisable in a secret store.
pub fn new_scim_token() -> String {
    format!("tpscim_{}", crate::crypto::random_string(32))
}

async fn status(state: &AppState, admin: &Admin) -> Result<store::Status> {
    let team = admin.0.team().to_string();
    Ok(state.store.read(move |c| store::status(c, &team)).await?)
}

pub async fn scim_page(
    state: web::Data<AppState>,
    session: Session,
    admin: Admin,
) -> Result<HttpResponse> {
    let status = status(&state, &admin).await?;
    // A token made just now: its secret, once, on the page the creation led to.
    let new_token = TypedSession(&session)
        .take_shown_token(&state.sealer, Once::ScimToken)
        .map(|(_, token)| token);
    let admin_groups = state
        .sso
        .get(admin.0.team())
        .map(|t| t.admin_groups.clone())
        .unwrap_or_default();
    let view = views::scim::ScimView {
        base_url: super::scim::base_url(&state),
        token_created_at: status.token_created_at,
        new_token: new_token.as_deref(),
        last_call: status
            .last_call
            .as_ref()
            .map(|(at, req, s)| (*at, req.as_str(), *s)),
        provisioned: status.provisioned,
        groups: status.groups,
        admin_groups: &admin_groups,
    };
    let body = views::scim::page(&admin.0.chrome(PAGE), &view);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The one answer carrying the token must not be kept by any cache.
        .insert_header(("Cache-Control", "no-store"))
        .body(body.into_string()))
}

pub async fn create_token(
    state: web::Data<AppState>,
    session: Session,
    admin: Admin,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let token = new_scim_token();
    let hash = crate::crypto::sha256(token.as_bytes());
    let (team, actor) = (admin.0.team().to_string(), admin.0.actor());
    let rotated = state
        .store
        // Whether one existed decides only the message; the store audits the change.
        .run(move |c| store::set_token(c, &team, &actor, &hash))
        .await?;
    // Post/redirect/get: a reload shows the page, never makes a second token.
    TypedSession(&session).show_token_once(&state.sealer, Once::ScimToken, 0, &token);
    let said = if rotated {
        "The SCIM token was rotated: the previous one has stopped working. Copy the new one now."
    } else {
        "A SCIM token was made. Copy it now."
    };
    Ok(answer::done(&session, PAGE, said))
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    session: Session,
    admin: Admin,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let (team, actor) = (admin.0.team().to_string(), admin.0.actor());
    state
        .store
        .run(move |c| store::revoke_token(c, &team, &actor))
        .await?;
    Ok(answer::done(
        &session,
        PAGE,
        "The SCIM token was revoked: SCIM requests now answer 401.",
    ))
}

/// `GET /settings/scim/token/confirm`: rotating ends the token the identity provider uses,
/// so it is asked first. With no token yet, the same form creates the first one.
pub async fn confirm_rotate(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let exists = status(&state, &admin).await?.token_created_at.is_some();
    let (question, explain, button) = if exists {
        (
            "Rotate the SCIM token?",
            "A new token is made and shown once. The current one stops working at once: SCIM requests from your identity provider answer 401 until you paste the new token there.",
            "Rotate the SCIM token",
        )
    } else {
        (
            "Create a SCIM token?",
            "A token is made and shown once; paste it into your identity provider's provisioning settings.",
            "Create the SCIM token",
        )
    };
    Ok(ask(
        &admin,
        question,
        explain,
        "/settings/scim/token",
        button,
    ))
}

/// `GET /settings/scim/token/revoke/confirm`; 404 when there is no token to revoke.
pub async fn confirm_revoke(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    if status(&state, &admin).await?.token_created_at.is_none() {
        return Err(AppError::NotFound);
    }
    Ok(ask(
        &admin,
        "Revoke the SCIM token?",
        "SCIM requests answer 401 from the moment you confirm, so your identity provider stops creating, updating and deactivating members here until a new token is made. Members and their sessions stay as they are.",
        "/settings/scim/token/revoke",
        "Revoke the SCIM token",
    ))
}

fn ask(admin: &Admin, question: &str, explain: &str, action: &str, button: &str) -> HttpResponse {
    html(views::ask::page(
        &admin.0.chrome(PAGE),
        &views::ask::Ask {
            question,
            explain,
            action,
            button,
            back: PAGE,
            hidden: &[],
        },
    ))
}
