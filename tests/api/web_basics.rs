//! The web shell: health, login page, CSRF, headers, static assets, error pages, limits.

use reqwest::StatusCode;

use crate::helpers::{browser, location, spawn_app};
use crate::support::fake_idp::FakeIdp;

#[actix_web::test]
async fn healthz_answers_ok_while_the_database_answers() {
    let app = spawn_app("").await;
    let (status, body) = app.text(&browser(), "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

#[actix_web::test]
async fn healthz_answers_503_when_the_database_is_gone() {
    let app = spawn_app("").await;
    std::fs::remove_file(&app.db_path).expect("remove db");
    let (status, _) = app.text(&browser(), "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = app.text(&browser(), "/livez").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "liveness does not depend on the database"
    );
}

#[actix_web::test]
async fn root_redirects_to_login_without_a_session() {
    let app = spawn_app("").await;
    let r = app.get(&browser(), "/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    for page in ["/team", "/tokens", "/billing", "/audit", "/settings/sso"] {
        let r = app.get(&browser(), page).await;
        assert_eq!(
            (r.status(), location(&r)),
            (StatusCode::SEE_OTHER, "/login".into()),
            "{page}"
        );
    }
}

#[actix_web::test]
async fn login_renders_the_corporate_sso_form_and_says_no_team_is_configured() {
    let app = spawn_app("").await;
    let (status, body) = app.text(&browser(), "/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("action=\"/login/sso\""));
    assert!(body.contains("name=\"team_id\""));
    assert!(body.contains("name=\"csrf_token\""));
    assert!(body.contains("No team is configured yet"));
    assert!(
        !body.contains("/login/password"),
        "break-glass form is off by default"
    );
}

#[actix_web::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app("").await;
    let c = browser();
    let _ = app.csrf(&c, "/login").await;
    let before = app.count("SELECT count(*) FROM sso_logins");
    for form in [
        vec![("team_id", "acme")],
        vec![("team_id", "acme"), ("csrf_token", "forged")],
    ] {
        let r = app.post(&c, "/login/sso", &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.expect("body").contains("security token"));
    }
    assert_eq!(app.count("SELECT count(*) FROM sso_logins"), before);
}

#[actix_web::test]
async fn an_unknown_team_id_shows_the_form_again_with_the_value_kept() {
    let app = spawn_app("").await;
    let c = browser();
    let token = app.csrf(&c, "/login").await;
    let r = app
        .post(
            &c,
            "/login/sso",
            &[("csrf_token", &token), ("team_id", "nosuchteam")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.expect("body");
    assert!(body.contains("value=\"nosuchteam\""));
    assert!(body.contains("no team with this Team ID"));
}

#[actix_web::test]
async fn security_headers_are_on_every_page() {
    let app = spawn_app("").await;
    for path in ["/login", "/nope", "/healthz"] {
        let r = app.get(&browser(), path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        for part in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert!(h.get("referrer-policy").is_some());
        assert!(h.get("cross-origin-opener-policy").is_some());
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain http"
        );
    }
}

#[actix_web::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml("acme", "")).await;
    let bob = browser();
    // The sign-in page's CSRF cookie (no session before a sign-in) and the sign-in binding.
    let login = app.get(&bob, "/login").await;
    let start = app.get(&bob, "/sso/acme/login").await;
    for (resp, name) in [(&login, "teamportal-csrf="), (&start, "teamportal-login=")] {
        let cookie = set_cookie(resp, name).unwrap_or_else(|| panic!("{name} cookie"));
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    }
    let signed_in = idp
        .finish(
            &app,
            &bob,
            "acme",
            &location(&start),
            ("bob", "bob@acme.test"),
            |_| {},
        )
        .await;
    let cookie = session_cookie(&signed_in).expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

fn set_cookie(r: &reqwest::Response, prefix: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
        .map(str::to_string)
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    set_cookie(r, "teamportal=")
}

/// The cookie is not sent again with every page (that cost every request an encryption),
/// yet it never runs out while the session is used: after a tenth of the idle timeout, the
/// next page sends it again with the full idle timeout and slides the session's expiry.
#[actix_web::test]
async fn the_session_cookie_is_sent_again_only_as_often_as_it_must_to_stay_alive() {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&format!(
        "{}[security]\nsession_idle_minutes = 1\n",
        idp.team_toml("acme", "")
    ))
    .await;
    let bob = browser();
    let signed_in = idp
        .sign_in(&app, &bob, "acme", "bob", "bob@acme.test")
        .await;
    assert_eq!(location(&signed_in), "/team");
    assert!(session_cookie(&signed_in).is_some(), "sign-in sets it");

    let page = app.get(&bob, "/team").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(session_cookie(&page), None, "a page right after sign-in");
    let expiry = || app.count("SELECT max(expires_at) FROM sessions WHERE user_id IS NOT NULL");
    let before = expiry();

    // A tenth of one minute later.
    tokio::time::sleep(std::time::Duration::from_millis(7_000)).await;
    let page = app.get(&bob, "/team").await;
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = session_cookie(&page).expect("sent again");
    assert!(cookie.contains("Max-Age=60"), "{cookie}");
    assert!(expiry() >= before + 6, "the session's expiry slid");
    let page = app.get(&bob, "/team").await;
    assert_eq!(session_cookie(&page), None, "not again on the next page");
}

#[actix_web::test]
async fn static_assets_have_an_etag_and_answer_304_when_unchanged() {
    let app = spawn_app("").await;
    let c = browser();
    let r = app.get(&c, "/static/app.css").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/css"));
    assert!(r.headers()["cache-control"]
        .to_str()
        .expect("cc")
        .contains("max-age=31536000"));
    let etag = r.headers()["etag"].to_str().expect("etag").to_string();
    let r = c
        .get(app.url("/static/app.css"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        app.get(&c, "/static/nope.css").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&c, "/static/../Cargo.toml").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn an_unknown_route_gets_the_404_page() {
    let app = spawn_app("").await;
    let (status, body) = app.text(&browser(), "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Not found"));
    assert!(body.contains("<html"));
}

#[actix_web::test]
async fn an_oversized_body_gets_413() {
    let app = spawn_app("").await;
    let c = browser();
    let token = app.csrf(&c, "/login").await;
    let big = "x".repeat(200 * 1024);
    let r = app
        .post(
            &c,
            "/login/sso",
            &[("csrf_token", &token), ("team_id", &big)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[actix_web::test]
async fn password_login_is_off_by_default() {
    let app = spawn_app("").await;
    let c = browser();
    let token = app.csrf(&c, "/login").await;
    let r = app
        .post(
            &c,
            "/login/password",
            &[
                ("csrf_token", &token),
                ("team_id", "acme"),
                ("email", "a@b.c"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
