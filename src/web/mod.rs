//! The web layer: the one URL table, extractors, middleware and handlers grouped by page.

pub mod acting;
pub mod answer;
pub mod api;
pub mod ask;
pub use crate::assets;
pub mod audit;
pub mod backchannel;
pub mod billing;
pub mod body_deadline;
pub mod callback;
pub mod client_ip;
pub mod confirm;
pub mod extract;
pub mod forward_auth;
pub mod health;
pub mod login;
pub mod logout;
pub mod middleware;
pub mod not_allowed;
pub mod password_login;
pub mod respond;
pub mod return_to;
pub mod scim;
pub mod scim_settings;
pub mod server_timing;
pub mod sessions;
pub mod settings;
pub mod team;
pub mod team_change;
pub mod tokens;

use actix_web::dev::fn_service;
use actix_web::{web, HttpResponse};

use crate::error::AppError;

/// The URL table, shared by the server and the tests, in two parts: the token API
/// ([`configure_api`]), served outside the pages' session middleware and headers, and the
/// pages ([`configure_pages`]). One resource per path with every method it answers. A known
/// path asked with another method answers 405 with `Allow` naming the methods (actix's
/// resource default, filled from these routes' method guards, given a body by
/// [`not_allowed`]), not the 404 a route per method would fall through to. HEAD is listed only where it is meant: probes and forward-auth;
/// other GET handlers start sign-in flows or do real work for a body HEAD drops.
///
/// Paths are tried in order and each pattern with a `{segment}` costs a regex test, so the
/// most requested come first: the forward-auth API (every request of the services behind it),
/// then the pages and the probes, then the SSO flow (once per sign-in), then assets.
pub fn configure_api(cfg: &mut web::ServiceConfig, body_timeout: std::time::Duration) {
    cfg.service(
        web::resource(forward_auth::VERIFY_PATH)
            .get(api::verify)
            .head(api::verify)
            .default_service(fn_service(not_allowed::api("GET, HEAD"))),
    )
    .service(
        web::resource("/api/v1/usage")
            // Verify reads no body, so only the report waits for one under a deadline.
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                body_deadline::body_deadline(body_timeout, req, next)
            }))
            .post(api::usage)
            .default_service(fn_service(not_allowed::api("POST"))),
    );
}

/// The pages, probes and assets: everything that goes through the session middleware.
pub fn configure_pages(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(login::root))
        .service(web::resource("/team").get(team::team_page))
        // Probes are asked every few seconds by every orchestrator and load balancer: before
        // the patterns with a `{segment}` (a regex test each; behind them, `/livez` cost
        // about 30,000 instructions of routing).
        .service(
            web::resource("/healthz")
                .get(health::healthz)
                .head(health::healthz),
        )
        .service(
            web::resource("/livez")
                .get(health::livez)
                .head(health::livez),
        )
        .service(
            web::resource("/tokens")
                .get(tokens::tokens_page)
                .post(tokens::create),
        )
        .service(web::resource("/billing").get(billing::billing_page))
        .service(web::resource("/billing/usage.csv").get(billing::usage_csv))
        .service(
            web::resource("/settings/sso")
                .get(settings::sso_page)
                .post(settings::save_and_test),
        )
        .service(web::resource("/settings/sso/apply").post(settings::apply))
        .service(web::resource("/settings/sso/discard").post(settings::discard))
        .service(web::resource("/audit").get(audit::audit_page))
        .service(web::resource("/team/invites").post(team::invite))
        .service(web::resource("/team/members/{id}/role").post(team::set_role))
        .service(web::resource("/team/members/{id}/remove").post(team::remove))
        .service(web::resource("/team/members/{id}/remove/confirm").get(ask::remove_member))
        .service(web::resource("/team/members/{id}/restore").post(team::restore))
        .service(
            web::resource("/team/members/{id}/sessions/revoke").post(sessions::end_member_sessions),
        )
        .service(
            web::resource("/team/members/{id}/sessions/revoke/confirm")
                .get(ask::end_member_sessions),
        )
        .service(web::resource("/sessions").get(sessions::sessions_page))
        .service(web::resource("/sessions/revoke-others").post(sessions::revoke_others))
        .service(web::resource("/sessions/revoke-others/confirm").get(sessions::confirm_others))
        .service(web::resource("/sessions/{id}/revoke").post(sessions::revoke))
        .service(web::resource("/sessions/{id}/revoke/confirm").get(sessions::confirm_revoke))
        .service(web::resource("/team/invites/{id}/cancel").post(team::cancel_invite))
        .service(web::resource("/tokens/{id}/reveal").post(tokens::reveal))
        .service(web::resource("/tokens/{id}/revoke").post(tokens::revoke))
        .service(web::resource("/tokens/{id}/revoke/confirm").get(ask::revoke_token))
        .service(web::resource("/login").get(login::login_page))
        .service(web::resource("/login/sso").post(login::login_sso))
        .service(web::resource("/login/password").post(password_login::login_password))
        .service(web::resource("/login/confirm").post(confirm::confirm_sign_in))
        .service(web::resource("/logout").post(logout::logout))
        .service(web::resource("/sso/{team}/login").get(login::sso_login))
        .service(
            web::resource("/sso/{team}/initiate")
                .get(login::sso_initiate_get)
                .post(login::sso_initiate_post),
        )
        .service(
            web::resource("/sso/{team}/callback")
                .get(callback::sso_callback)
                .post(callback::sso_callback_post),
        )
        .configure(scim::configure)
        .service(web::resource("/settings/scim").get(scim_settings::scim_page))
        .service(web::resource("/settings/scim/token").post(scim_settings::create_token))
        .service(web::resource("/settings/scim/token/revoke").post(scim_settings::revoke_token))
        .service(web::resource("/settings/scim/token/confirm").get(scim_settings::confirm_rotate))
        .service(
            web::resource("/settings/scim/token/revoke/confirm").get(scim_settings::confirm_revoke),
        )
        .service(
            web::resource("/sso/{team}/backchannel-logout").post(backchannel::backchannel_logout),
        )
        .service(web::resource("/static/{file:.*}").get(assets::serve));
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
