//! The web layer: the one URL table, extractors, middleware and handlers grouped by page.

pub mod api;
pub mod assets;
pub mod audit;
pub mod billing;
pub mod body_deadline;
pub mod client_ip;
pub mod confirm;
pub mod extract;
pub mod health;
pub mod login;
pub mod middleware;
pub mod settings;
pub mod team;
pub mod tokens;

use actix_web::{web, HttpResponse};

use crate::error::AppError;

/// The URL table, shared by the server and the tests. Routes are tried in order and each
/// pattern with a `{segment}` costs a regex test, so the most requested come first: the
/// forward-auth API (every request of the services behind it), then the pages, then the SSO
/// flow (once per sign-in), then probes and assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/verify", web::get().to(api::verify))
        .route("/api/v1/verify", web::head().to(api::verify))
        .route("/api/v1/usage", web::post().to(api::usage))
        .route("/", web::get().to(login::root))
        .route("/team", web::get().to(team::team_page))
        .route("/tokens", web::get().to(tokens::tokens_page))
        .route("/tokens", web::post().to(tokens::create))
        .route("/billing", web::get().to(billing::billing_page))
        .route("/billing/usage.csv", web::get().to(billing::usage_csv))
        .route("/settings/sso", web::get().to(settings::sso_page))
        .route("/settings/sso", web::post().to(settings::save_and_test))
        .route("/settings/sso/apply", web::post().to(settings::apply))
        .route("/settings/sso/discard", web::post().to(settings::discard))
        .route("/audit", web::get().to(audit::audit_page))
        .route("/team/invites", web::post().to(team::invite))
        .route("/team/members/{id}/role", web::post().to(team::set_role))
        .route("/team/members/{id}/remove", web::post().to(team::remove))
        .route("/team/members/{id}/restore", web::post().to(team::restore))
        .route(
            "/team/invites/{id}/cancel",
            web::post().to(team::cancel_invite),
        )
        .route("/tokens/{id}/reveal", web::post().to(tokens::reveal))
        .route("/tokens/{id}/revoke", web::post().to(tokens::revoke))
        .route("/login", web::get().to(login::login_page))
        .route("/login/sso", web::post().to(login::login_sso))
        .route("/login/password", web::post().to(login::login_password))
        .route("/login/confirm", web::post().to(confirm::confirm_sign_in))
        .route("/logout", web::post().to(login::logout))
        .route("/sso/{team}/login", web::get().to(login::sso_login))
        .route(
            "/sso/{team}/initiate",
            web::get().to(login::sso_initiate_get),
        )
        .route(
            "/sso/{team}/initiate",
            web::post().to(login::sso_initiate_post),
        )
        .route("/sso/{team}/callback", web::get().to(login::sso_callback))
        .route(
            "/sso/{team}/callback",
            web::post().to(login::sso_callback_post),
        )
        .route("/healthz", web::get().to(health::healthz))
        .route("/livez", web::get().to(health::livez))
        .route("/static/{file:.*}", web::get().to(assets::serve));
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
