//! `POST /logout` with `idp_logout = true`, against a fake IdP whose discovery the test
//! controls: the hint is the session's own ID token (kept sealed, never in clear), and an
//! IdP without `end_session_endpoint` leaves sign-out in the portal.

use reqwest::StatusCode;
use serde_json::json;

use super::{signed_in, works};
use crate::helpers::{location, query_param, spawn_app};
use crate::support::fake_idp::{FakeIdp, CLIENT_ID};

#[actix_web::test]
async fn the_id_token_hint_is_the_sessions_own_id_token_which_the_database_keeps_sealed() {
    let idp = FakeIdp::start().await;
    let end_session = format!("{}/logout", idp.issuer);
    idp.with(|s| {
        s.discovery_overrides
            .insert("end_session_endpoint".into(), json!(end_session))
    });
    let app = spawn_app(&idp.team_toml("acme", "idp_logout = true")).await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let sealed: Vec<u8> = app
        .db()
        .query_row("SELECT id_token_enc FROM sessions", [], |r| r.get(0))
        .expect("the session keeps its ID token");

    let r = app.post_csrf(&bob, "/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(to.starts_with(&end_session), "{to}");
    // The hint is the ID token the IdP signed for this sign-in; the database never held it
    // in clear.
    let hint = query_param(&to, "id_token_hint").expect("id_token_hint");
    let payload = hint.split('.').nth(1).expect("payload");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("claims");
    assert_eq!(claims["sub"], "u-bob");
    assert_eq!(claims["iss"], idp.issuer.as_str());
    assert!(
        claims["nonce"].is_string(),
        "an ID token, not anything else"
    );
    assert!(
        !String::from_utf8_lossy(&sealed).contains(payload) && sealed.len() > hint.len(),
        "sealed, not in clear"
    );
    assert_eq!(query_param(&to, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        query_param(&to, "post_logout_redirect_uri"),
        Some(app.url("/login"))
    );
    assert!(query_param(&to, "state").is_some_and(|s| s.len() >= 16));
    assert!(!works(&app, &bob).await);
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);
}

#[actix_web::test]
async fn with_idp_logout_but_no_end_session_endpoint_sign_out_lands_on_login() {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml("acme", "idp_logout = true")).await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let r = app.post_csrf(&bob, "/logout", &[]).await;
    assert_eq!(location(&r), "/login");
    assert!(!works(&app, &bob).await);
    // The sign-in page says so once; a reload is the plain sign-in page.
    let (_, page) = app.text(&bob, "/login").await;
    assert!(page.contains("You are signed out"), "{page}");
    let (_, page) = app.text(&bob, "/login").await;
    assert!(!page.contains("You are signed out"), "{page}");
}

/// A team with `idp_logout = true` whose IdP publishes an `end_session_endpoint`.
async fn with_end_session() -> (FakeIdp, crate::helpers::TestApp, String) {
    let idp = FakeIdp::start().await;
    let end_session = format!("{}/logout", idp.issuer);
    idp.with(|s| {
        s.discovery_overrides
            .insert("end_session_endpoint".into(), json!(end_session))
    });
    let app = spawn_app(&idp.team_toml("acme", "idp_logout = true")).await;
    (idp, app, end_session)
}

#[actix_web::test]
async fn a_session_without_its_id_token_signs_out_in_the_portal_not_at_the_idp() {
    let (idp, app, end_session) = with_end_session().await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    // As a session from before ID tokens were kept, or a break-glass sign-in.
    app.db()
        .execute("UPDATE sessions SET id_token_enc = NULL", [])
        .expect("forget the ID token");
    let r = app.post_csrf(&bob, "/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(!to.starts_with(&end_session), "{to}");
    assert!(to.starts_with("/login"), "{to}");
    assert!(!works(&app, &bob).await);
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);
}

#[actix_web::test]
async fn signing_out_a_session_revoked_meanwhile_does_not_go_to_the_idp() {
    let (idp, app, end_session) = with_end_session().await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let token = app.csrf(&bob, "/team").await;
    // Revoked from elsewhere (the row is gone) while this browser still holds its cookie.
    app.db()
        .execute("DELETE FROM sessions", [])
        .expect("revoke");
    let r = app.post(&bob, "/logout", &[("csrf_token", &token)]).await;
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        !to.starts_with(&end_session),
        "a revoked session is not sent to the IdP: {to}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sessions"),
        0,
        "nothing written"
    );
}

#[actix_web::test]
async fn a_forged_sign_out_ends_nothing_and_one_without_a_session_lands_on_login() {
    let (app, idp) = super::acme().await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let forged: [&[(&str, &str)]; 2] = [&[], &[("csrf_token", "forged")]];
    for form in forged {
        let r = app.post(&bob, "/logout", form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{form:?}");
        assert!(works(&app, &bob).await, "a forged sign-out ends nothing");
    }
    // A tab whose session already ended (signed out in another tab) posts its old page's
    // token: nothing to end, and it lands on the sign-in page rather than an error.
    let carol = signed_in(&app, &idp, "acme", ("u-carol", "carol@acme.com"), None).await;
    let old_page = app.csrf(&carol, "/team").await;
    let r = app.post_csrf(&carol, "/logout", &[]).await;
    assert_eq!(location(&r), "/login");
    let r = app
        .post(&carol, "/logout", &[("csrf_token", &old_page)])
        .await;
    assert_eq!(
        (r.status(), location(&r).as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    // And a browser that never had a session, whatever it posts.
    let stranger = crate::helpers::browser();
    let r = app
        .post(&stranger, "/logout", &[("csrf_token", "forged")])
        .await;
    assert_eq!(location(&r), "/login");
    assert!(works(&app, &bob).await);
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE user_id IS NOT NULL"),
        1
    );
}

#[actix_web::test]
async fn an_id_token_too_large_to_keep_signs_in_but_signs_out_in_the_portal_only() {
    let (idp, app, end_session) = with_end_session().await;
    // 20 KiB of claims: the sign-in works, the session does not carry the token.
    let bob = crate::helpers::browser();
    let r = idp
        .sign_in_with(&app, &bob, "acme", ("u-bob", "bob@acme.com"), |c| {
            c["padding"] = json!("x".repeat(20 * 1024));
        })
        .await;
    assert_eq!(location(&r), "/team");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM sessions WHERE user_id IS NOT NULL AND id_token_enc IS NULL"
        ),
        1,
        "signed in, the ID token not kept"
    );
    let r = app.post_csrf(&bob, "/logout", &[]).await;
    assert_eq!(location(&r), "/login", "not sent to {end_session}");
    assert!(!works(&app, &bob).await);
}
