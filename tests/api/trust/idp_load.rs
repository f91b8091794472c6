//! What an IdP can cost the instance: every answer is read up to 1 MiB; discovery and JWKS
//! fetches are single-flight per issuer, failures are remembered for a few seconds, an
//! expired discovery is served while one refresh runs, and the anonymous signed-out page
//! never makes the portal call an IdP.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::{browser, location, query_param, spawn_app, spawn_app_tuned, TestApp};
use crate::support::fake_idp::FakeIdp;

async fn config_team(idp: &FakeIdp) -> TestApp {
    spawn_app(&idp.team_toml("acme", "")).await
}

/// Like `helpers::spawn_app`, with discovery trusted for `ttl` only.
async fn spawn_with_discovery_ttl(extra: &str, ttl: Duration) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    spawn_app_tuned(dir, extra, |_, extras| extras.discovery_ttl = Some(ttl)).await
}

/// Waits until `done` holds (a guard against hanging, not a measurement).
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting until {what}");
}

/// A sign-in start from the login form in a fresh browser: (browser, answer).
async fn start(app: &TestApp) -> (Client, reqwest::Response) {
    let c = browser();
    let token = app.csrf(&c, "/login").await;
    let r = app
        .post(
            &c,
            "/login/sso",
            &[("csrf_token", &token), ("team_id", "acme")],
        )
        .await;
    (c, r)
}

/// Holds discovery until it has been asked once, lets the other sign-ins queue behind that
/// fetch for a moment (the assertions hold however they interleave), then answers it.
async fn release_after_first_fetch(idp: &FakeIdp) {
    until("discovery is asked", || {
        idp.with(|s| s.discovery_calls) >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    idp.release_discovery();
}

fn assert_no_sign_in(app: &TestApp) {
    assert_eq!(app.count("SELECT count(*) FROM users"), 0, "no account");
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE user_id IS NOT NULL"),
        0,
        "no signed-in session"
    );
}

const TWO_MIB: usize = 2 * 1024 * 1024;

#[actix_web::test]
async fn every_idp_answer_is_read_up_to_1_mib() {
    for endpoint in ["discovery", "jwks", "token", "userinfo"] {
        let idp = FakeIdp::start().await;
        let app = config_team(&idp).await;
        idp.with(|s| s.padding.insert(endpoint, TWO_MIB));
        let c = browser();
        let start = app.get(&c, "/sso/acme/login").await;
        let r = if endpoint == "discovery" {
            start
        } else {
            assert_eq!(start.status(), StatusCode::SEE_OTHER, "{endpoint}");
            let authorize = location(&start);
            let nonce = query_param(&authorize, "nonce").expect("nonce");
            let state = query_param(&authorize, "state").expect("state");
            // Without email_verified in the ID token the portal asks userinfo.
            let mut claims = idp.claims(&nonce, "u1", "bob@acme.test");
            claims
                .as_object_mut()
                .expect("claims")
                .remove("email_verified");
            idp.set_code("big", &idp.sign(&claims));
            idp.set_userinfo(
                "big",
                json!({"sub": "u1", "email": "bob@acme.test", "email_verified": true}),
            );
            c.get(app.url("/sso/acme/callback"))
                .query(&[("code", "big"), ("state", &state), ("iss", &idp.issuer)])
                .send()
                .await
                .expect("callback")
        };
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY, "{endpoint}");
        assert!(location(&r).is_empty(), "no redirect after {endpoint}");
        let page = r.text().await.expect("body");
        assert!(
            page.contains("the identity provider's answer is too large"),
            "{endpoint}: {page}"
        );
        assert_no_sign_in(&app);
        if endpoint == "discovery" {
            assert_eq!(app.count("SELECT count(*) FROM sso_logins"), 0);
        }
    }

    // Under the limit, a padded document is fine.
    let idp = FakeIdp::start().await;
    let app = config_team(&idp).await;
    idp.with(|s| s.padding.insert("discovery", 512 * 1024));
    let r = idp
        .sign_in(&app, &browser(), "acme", "u1", "bob@acme.test")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn twenty_concurrent_sign_in_starts_share_one_discovery_fetch() {
    let idp = FakeIdp::start().await;
    let app = config_team(&idp).await;
    idp.hold_discovery();
    let (answers, ()) = tokio::join!(
        join_all((0..20).map(|_| start(&app))),
        release_after_first_fetch(&idp)
    );
    for (_, r) in &answers {
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(location(r).starts_with(&format!("{}/authorize?", idp.issuer)));
    }
    assert_eq!(
        idp.with(|s| s.discovery_calls),
        1,
        "one fetch for 20 sign-ins"
    );
    assert_eq!(app.count("SELECT count(*) FROM sso_logins"), 20);
}

#[actix_web::test]
async fn a_failing_discovery_is_asked_once_not_by_every_sign_in() {
    let idp = FakeIdp::start().await;
    let app = config_team(&idp).await;
    idp.with(|s| s.discovery_status = Some(500));
    idp.hold_discovery();
    let (answers, ()) = tokio::join!(
        join_all((0..20).map(|_| start(&app))),
        release_after_first_fetch(&idp)
    );
    for (_, r) in &answers {
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(location(r).is_empty());
    }
    for _ in 0..5 {
        let (_, r) = start(&app).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(
        idp.with(|s| s.discovery_calls),
        1,
        "the failure is remembered, not asked again by each of 25 sign-ins"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sso_logins"),
        0,
        "nothing pending"
    );
    assert_no_sign_in(&app);
}

#[actix_web::test]
async fn a_failing_jwks_is_asked_once_by_concurrent_callbacks() {
    let idp = FakeIdp::start().await;
    let app = config_team(&idp).await;
    idp.with(|s| s.jwks_status = Some(500));
    let mut started = Vec::new();
    for _ in 0..10 {
        let (c, r) = start(&app).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        started.push((c, location(&r)));
    }
    let (idp, app) = (&idp, &app);
    let answers = join_all(started.iter().enumerate().map(|(i, (c, authorize))| {
        let sub = format!("u{i}");
        async move {
            idp.finish(app, c, "acme", authorize, (&sub, "bob@acme.test"), |_| {})
                .await
        }
    }))
    .await;
    for r in &answers {
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(
        idp.with(|s| s.jwks_calls),
        1,
        "one JWKS fetch for 10 callbacks"
    );
    assert_no_sign_in(app);
}

#[actix_web::test]
async fn an_expired_discovery_is_served_while_one_refresh_runs() {
    let idp = FakeIdp::start().await;
    // Discovery expires at once, so every sign-in after the first finds a stale copy.
    let app = spawn_with_discovery_ttl(&idp.team_toml("acme", ""), Duration::ZERO).await;
    let (_, r) = start(&app).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(idp.with(|s| s.discovery_calls), 1);

    // The refresh hangs at the IdP; sign-ins go on with the stale copy meanwhile.
    idp.hold_discovery();
    let (_, r) = start(&app).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "served while refreshing");
    until("the refresh reaches the IdP", || {
        idp.with(|s| s.discovery_calls) == 2
    })
    .await;
    for _ in 0..5 {
        let (_, r) = start(&app).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(location(&r).starts_with(&format!("{}/authorize?", idp.issuer)));
    }
    assert_eq!(
        idp.with(|s| s.discovery_calls),
        2,
        "one refresh at a time, however many sign-ins find the copy stale"
    );
    idp.release_discovery();
}

#[actix_web::test]
async fn the_signed_out_page_never_fetches_discovery() {
    let idp = FakeIdp::start().await;
    idp.with(|s| {
        s.discovery_overrides.insert(
            "end_session_endpoint".into(),
            json!(format!("{}/logout", idp.issuer)),
        );
    });
    let app = config_team(&idp).await;
    // An anonymous visitor can forge the signed-out notice's cookie; it asks no IdP either.
    let anonymous = browser();
    let r = anonymous
        .get(app.url("/login"))
        .header(reqwest::header::COOKIE, "teamportal-signed-out=acme")
        .send()
        .await
        .expect("GET /login");
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("body");
    assert!(page.contains("You are signed out"), "{page}");
    assert!(!page.contains("Sign out of your identity provider"));
    assert_eq!(
        idp.with(|s| s.discovery_calls),
        0,
        "an anonymous page asks no IdP"
    );

    // After a sign-in the cached discovery gives the link, still without a fetch.
    let c = browser();
    let r = idp.sign_in(&app, &c, "acme", "u1", "bob@acme.test").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(idp.with(|s| s.discovery_calls), 1);
    let r = app.post_csrf(&c, "/logout", &[]).await;
    assert_eq!(location(&r), "/login");
    let (_, page) = app.text(&c, "/login").await;
    assert!(
        page.contains(&format!("href=\"{}/logout?", idp.issuer)),
        "{page}"
    );
    assert_eq!(idp.with(|s| s.discovery_calls), 1);
}

#[actix_web::test]
async fn a_jwks_of_more_than_64_keys_is_refused_with_a_clear_page() {
    let idp = FakeIdp::start().await;
    let app = config_team(&idp).await;
    idp.with(|s| {
        let key = s.jwks[0].clone();
        s.jwks = (0..65)
            .map(|i| {
                let mut k = key.clone();
                k["kid"] = json!(format!("k{i}"));
                k
            })
            .collect();
    });
    let c = browser();
    let r = idp.sign_in(&app, &c, "acme", "u1", "bob@acme.test").await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    let page = r.text().await.expect("body");
    assert!(page.contains("too many signing keys"), "{page}");
    assert_no_sign_in(&app);
}
