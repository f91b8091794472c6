//! SSO settings for admins: what to paste into Okta, and the team's current settings with
//! a live discovery check.

use actix_web::{web, HttpResponse};

use crate::app::AppState;
use crate::error::{AppError, Result};
use crate::sso;
use crate::views;

use super::extract::Admin;

pub async fn sso_page(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let team = state.sso.get(admin.0.team()).ok_or(AppError::NotFound)?;
    let base = state.settings.server.base();
    let discovery = state.sso.providers.discovery(&team.issuer_str()).await;
    let view = views::settings::SsoView {
        team: &team,
        redirect_uri: sso::redirect_uri(&base, team.id.as_str()),
        initiate_uri: sso::initiate_uri(&base, team.id.as_str()),
        scopes: sso::scopes(&team).join(" "),
        discovery: discovery
            .as_ref()
            .map(|d| d.as_ref())
            .map_err(|e| e.to_string()),
        managed_in_config: true,
    };
    let body = views::settings::page(&admin.0.chrome("/settings/sso"), &view);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body.into_string()))
}
