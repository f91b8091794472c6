//! Anonymous visitors create no server-side state: the sign-in page writes no session row
//! (its forms carry a signed double-submit CSRF cookie instead), a sign-in that starts costs
//! only its pending-login row, a flood of them leaves signed-in users' cached sessions alone,
//! and a pending sign-in is bound to the browser that started it without being burnt by
//! another browser presenting its state.

use futures_util::future::join_all;
use reqwest::{Client, StatusCode};

use crate::helpers::{browser, csrf_in, location, query_param, spawn_app, TestApp};
use crate::support::fake_idp::FakeIdp;

async fn app_with_idp(extra: &str) -> (TestApp, FakeIdp) {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&format!("{}{extra}", idp.team_toml("acme", ""))).await;
    (app, idp)
}

/// `n` GET requests to `path`, each from a client without cookies, `width` at a time.
async fn cookieless_gets(app: &TestApp, path: &str, n: usize, width: usize) {
    let clients: Vec<Client> = (0..width)
        .map(|_| {
            Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client")
        })
        .collect();
    let url = app.url(path);
    join_all(clients.into_iter().enumerate().map(|(i, c)| {
        let url = url.clone();
        async move {
            for _ in (i..n).step_by(width) {
                let r = c.get(&url).send().await.expect("GET");
                assert!(r.status().is_success(), "{}", r.status());
                r.bytes().await.expect("body");
            }
        }
    }))
    .await;
}

#[actix_web::test]
async fn a_thousand_cookieless_login_pages_write_no_session_row() {
    let (app, _idp) = app_with_idp("").await;
    let before = app.count("SELECT count(*) FROM sessions");
    cookieless_gets(&app, "/login", 1_000, 8).await;
    assert_eq!(app.count("SELECT count(*) FROM sessions"), before);

    // The page still carries a CSRF token, in its form and in a signed cookie.
    let c = browser();
    let r = app.get(&c, "/login").await;
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with("teamportal-csrf="))));
    let token = csrf_in(&r.text().await.expect("body"));
    assert_eq!(
        app.csrf(&c, "/login").await,
        token,
        "the same token while the cookie stays"
    );

    // Starting a sign-in costs its pending-login row, and still no session.
    let authorize = app.start_sso(&c, "acme").await;
    assert!(query_param(&authorize, "state").is_some());
    assert_eq!(app.count("SELECT count(*) FROM sso_logins"), 1);
    assert_eq!(app.count("SELECT count(*) FROM sessions"), before);
}

#[actix_web::test]
async fn a_sign_in_form_without_its_double_submit_token_is_refused_and_creates_nothing() {
    let (app, _idp) = app_with_idp("[security]\npassword_login = true\n").await;
    let victim = browser();
    let token = app.csrf(&victim, "/login").await;
    let other = browser();
    let others_token = app.csrf(&other, "/login").await;
    let unchanged = |app: &TestApp| {
        assert_eq!(app.count("SELECT count(*) FROM sessions"), 0, "no session");
        assert_eq!(
            app.count("SELECT count(*) FROM sso_logins"),
            0,
            "no sign-in"
        );
        assert_eq!(app.count("SELECT count(*) FROM login_attempts"), 0);
        assert_eq!(app.count("SELECT count(*) FROM audit"), 0);
    };

    for path in ["/login/sso", "/login/password"] {
        let fields = [
            ("team_id", "acme"),
            ("email", "alice@acme.test"),
            ("password", "wrong"),
        ];
        // No token; a made-up one; another browser's (valid, but not this browser's cookie).
        for csrf in [None, Some("forged"), Some(others_token.as_str())] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(t) = csrf {
                form.push(("csrf_token", t));
            }
            let r = app.post(&victim, path, &form).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} with {csrf:?}");
            assert!(r.text().await.expect("body").contains("security token"));
            unchanged(&app);
        }
        // A browser without the cookie, and one whose cookie is the bare token (unsigned).
        let cookieless = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        for cookie in [None, Some(format!("teamportal-csrf={token}"))] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            form.push(("csrf_token", &token));
            let mut req = cookieless.post(app.url(path)).form(&form);
            if let Some(c) = &cookie {
                req = req.header("cookie", c);
            }
            let r = req.send().await.expect("POST");
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} with {cookie:?}");
            unchanged(&app);
        }
    }

    // With its own token the form works, and still no session until a sign-in completes.
    let r = app
        .post(
            &victim,
            "/login/sso",
            &[("csrf_token", &token), ("team_id", "acme")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) FROM sso_logins"), 1);
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);
}

/// The session cache holds 20,000 sessions. Anonymous requests used to create one each, and
/// a full cache was emptied, pushing every signed-in user out with them. Observed here by
/// changing Bob's stored session behind the cache's back: while his entry is cached, his
/// pages are served from it (the entry lives for a minute after sign-in, far longer than
/// the flood takes); once it is evicted, the store's changed state is what he gets.
#[actix_web::test]
async fn a_flood_of_anonymous_requests_does_not_push_a_signed_in_session_out_of_the_cache() {
    let (app, idp) = app_with_idp("").await;
    let bob = browser();
    let r = idp
        .sign_in(&app, &bob, "acme", "bob", "bob@acme.test")
        .await;
    assert_eq!(location(&r), "/team");
    assert_eq!(app.get(&bob, "/team").await.status(), StatusCode::OK);
    // The stored state no longer says who is signed in; the cached copy still does.
    let changed = app
        .db()
        .execute(
            "UPDATE sessions SET state = '{}' WHERE user_id IS NOT NULL",
            [],
        )
        .expect("change the stored session");
    assert_eq!(changed, 1);
    assert_eq!(
        app.get(&bob, "/team").await.status(),
        StatusCode::OK,
        "cached"
    );

    cookieless_gets(&app, "/login", 20_001, 16).await;
    for path in ["/sso/acme/login", "/sso/acme/callback?state=x"] {
        cookieless_gets_any(&app, path, 50).await;
    }

    assert_eq!(
        app.get(&bob, "/team").await.status(),
        StatusCode::OK,
        "Bob's session is still served from the cache"
    );
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 1);
}

async fn cookieless_gets_any(app: &TestApp, path: &str, n: usize) {
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for _ in 0..n {
        let r = c.get(app.url(path)).send().await.expect("GET");
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
    }
}

#[actix_web::test]
async fn a_state_presented_by_another_browser_does_not_burn_the_sign_in() {
    let (app, idp) = app_with_idp("").await;
    let victim = browser();
    let start = app.get(&victim, "/sso/acme/login").await;
    let authorize = location(&start);
    let state = query_param(&authorize, "state").expect("state");
    let nonce = query_param(&authorize, "nonce").expect("nonce");
    idp.set_code(
        "a1",
        &idp.sign(&idp.claims(&nonce, "mallory", "mallory@acme.test")),
    );

    let attacker = browser();
    let _ = app.get(&attacker, "/sso/acme/login").await; // a binding of its own
    for client in [&attacker, &browser()] {
        let r = client
            .get(app.url("/sso/acme/callback"))
            .query(&[("code", "a1"), ("state", &state), ("iss", &idp.issuer)])
            .send()
            .await
            .expect("callback");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.expect("body").contains("another browser"));
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sso_logins WHERE state = '{state}'"
        )),
        1,
        "the victim's pending sign-in is still there"
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), 0);
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);

    // The victim's own sign-in still finishes.
    let r = idp
        .finish(
            &app,
            &victim,
            "acme",
            &authorize,
            ("bob", "bob@acme.test"),
            |_| {},
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/team");
    assert_eq!(app.get(&victim, "/team").await.status(), StatusCode::OK);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'bob@acme.test'"),
        1
    );
}
