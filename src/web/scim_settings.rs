//! `/settings/scim`: where an admin finds the SCIM base URL and makes, rotates or revokes the
//! team's SCIM token. The token is shown once, on the answer that made it.

use actix_web::http::header::LOCATION;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::Result;
use crate::state::AppState;
use crate::store::scim as store;
use crate::views;

use super::extract::{Admin, CsrfForm};

#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// A new SCIM token: 256 random bits, prefixed so it is recognisable in a secret store.
pub fn new_scim_token() -> String {
    format!("tpscim_{}", crate::crypto::random_string(32))
}

async fn render(
    state: &AppState,
    admin: &Admin,
    new_token: Option<&str>,
    notice: Option<&'static str>,
) -> Result<HttpResponse> {
    let team = admin.0.team().to_string();
    let status = state.store.read(move |c| store::status(c, &team)).await?;
    let admin_groups = state
        .sso
        .get(admin.0.team())
        .map(|t| t.admin_groups.clone())
        .unwrap_or_default();
    let view = views::scim::ScimView {
        base_url: super::scim::base_url(state),
        token_created_at: status.token_created_at,
        new_token,
        last_call: status
            .last_call
            .as_ref()
            .map(|(at, req, s)| (*at, req.as_str(), *s)),
        provisioned: status.provisioned,
        groups: status.groups,
        admin_groups: &admin_groups,
        notice,
    };
    let body = views::scim::page(&admin.0.chrome("/settings/scim"), &view);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The one answer carrying the token must not be kept by any cache.
        .insert_header(("Cache-Control", "no-store"))
        .body(body.into_string()))
}

pub async fn scim_page(
    state: web::Data<AppState>,
    admin: Admin,
    q: web::Query<DoneQuery>,
) -> Result<HttpResponse> {
    let notice = (q.done == "revoked")
        .then_some("The SCIM token was revoked: SCIM requests now answer 401.");
    render(&state, &admin, None, notice).await
}

pub async fn create_token(
    state: web::Data<AppState>,
    admin: Admin,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let token = new_scim_token();
    let hash = crate::crypto::sha256(token.as_bytes());
    let (team, actor) = (admin.0.team().to_string(), admin.0.actor());
    state
        .store
        .run(move |c| store::set_token(c, &team, &actor, &hash))
        .await?;
    render(
        &state,
        &admin,
        Some(&token),
        Some("A new SCIM token was made."),
    )
    .await
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    admin: Admin,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let (team, actor) = (admin.0.team().to_string(), admin.0.actor());
    state
        .store
        .run(move |c| store::revoke_token(c, &team, &actor))
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, "/settings/scim?done=revoked"))
        .finish())
}
