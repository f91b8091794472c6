//! A team's IdP is trusted for that team's identities only. For a browser-managed team (made
//! with `admin create-team`) its admin chooses the IdP, so: the IdP's metadata cannot send
//! browsers off its own host, the browser form cannot point the portal at private
//! addresses, and anonymous error pages tell nobody the IdP's URLs or statuses. For every
//! team, an ID token issued to another client (`azp`) is refused.

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::{browser, create_shell_team, location, spawn_app, spawn_app_in, TestApp};
use crate::support::fake_idp::{FakeIdp, CLIENT_ID};

/// A browser-managed team `shellco` on a fake IdP, admin alice@shell.test; `security` is
/// the `[security]` table's body.
async fn shell_team(idp: &FakeIdp, security: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = format!("[security]\n{security}");
    create_shell_team(
        dir.path(),
        &extra,
        &idp.issuer,
        CLIENT_ID,
        "alice@shell.test",
        "right-secret",
    );
    idp.with(|s| s.client_secret = Some("right-secret".into()));
    spawn_app_in(dir, &extra).await
}

/// The store holds no pending sign-in, account or session.
fn assert_nothing_stored(app: &TestApp) {
    assert_eq!(
        app.count("SELECT count(*) FROM sso_logins"),
        0,
        "no pending sign-in"
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), 0, "no account");
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE user_id IS NOT NULL"),
        0,
        "no signed-in session"
    );
}

/// A page for anyone names no IdP address, port or upstream status.
fn assert_no_idp_internals(page: &str, idp: &FakeIdp, status: &str) {
    let port = idp.issuer.rsplit(':').next().expect("port");
    for leak in [idp.issuer.as_str(), port, "evil.test", "127.0.0.1", status] {
        assert!(!page.contains(leak), "the page shows {leak:?}: {page}");
    }
}

#[actix_web::test]
async fn a_browser_managed_teams_idp_cannot_send_browsers_off_its_host() {
    let cases = [
        ("authorization_endpoint", "https://evil.test/authorize"),
        // The right host over plain http, from an issuer that is not loopback, is covered
        // by the unit tests; from a loopback issuer, another loopback host is still another.
        ("authorization_endpoint", "http://127.0.0.2:9/authorize"),
        ("end_session_endpoint", "https://evil.test/logout"),
    ];
    for (field, url) in cases {
        let idp = FakeIdp::start().await;
        idp.with(|s| {
            s.discovery_overrides.insert(field.into(), json!(url));
        });
        let app = shell_team(&idp, "").await;
        let c = browser();
        for r in [
            app.get(&c, "/sso/shellco/login").await,
            c.get(app.url("/sso/shellco/initiate"))
                .query(&[("iss", idp.issuer.as_str())])
                .send()
                .await
                .expect("initiate"),
        ] {
            assert_eq!(r.status(), StatusCode::BAD_GATEWAY, "{field} {url}");
            assert!(location(&r).is_empty(), "no redirect for {field} {url}");
            let page = r.text().await.expect("body");
            assert!(
                page.contains("would send your browser to another site"),
                "the page says why: {page}"
            );
            assert_no_idp_internals(&page, &idp, "no status");
        }
        assert_nothing_stored(&app);
    }
}

#[actix_web::test]
async fn a_browser_managed_team_on_a_well_behaved_loopback_idp_still_signs_in() {
    let idp = FakeIdp::start().await;
    let app = shell_team(&idp, "").await;
    let r = idp
        .sign_in(&app, &browser(), "shellco", "a", "alice@shell.test")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/team");
}

async fn post_settings(app: &TestApp, admin: &Client, issuer: &str) -> reqwest::Response {
    let token = app.csrf(admin, "/settings/sso").await;
    app.post(
        admin,
        "/settings/sso",
        &[
            ("csrf_token", token.as_str()),
            ("issuer", issuer),
            ("client_id", CLIENT_ID),
            ("client_secret", ""),
            ("provisioning", "jit"),
            ("email_domains", ""),
            ("admin_groups", ""),
        ],
    )
    .await
}

#[actix_web::test]
async fn browser_entered_issuers_on_private_addresses_are_refused_and_nothing_is_saved() {
    let idp = FakeIdp::start().await;
    let app = shell_team(&idp, "").await;
    let admin = browser();
    let r = idp
        .sign_in(&app, &admin, "shellco", "a", "alice@shell.test")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the admin signs in");
    let port = idp.issuer.rsplit(':').next().expect("port");
    let teams_before = app.count("SELECT count(*) FROM teams WHERE id = 'shellco'");
    let audit_before = app.count("SELECT count(*) FROM audit");
    let fetches_before = idp.with(|s| s.discovery_calls);

    let localhost = format!("http://localhost:{port}");
    let refused = [
        idp.issuer.as_str(), // the loopback issuer the operator made the team with
        localhost.as_str(),  // a name that resolves to loopback
        "https://10.0.0.1",
        "https://172.16.5.4/oauth2/default",
        "https://192.168.1.10",
        "https://169.254.169.254",
        "https://100.64.0.1",
        "https://0.0.0.0",
        "https://2130706433", // 127.0.0.1 written as a number
        "https://[::1]",
        "https://[fe80::1]",
        "https://[fd00::1]",
        "https://[::ffff:127.0.0.1]",
    ];
    for issuer in refused {
        let r = post_settings(&app, &admin, issuer).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{issuer}");
        assert!(location(&r).is_empty(), "no test sign-in for {issuer}");
        let page = r.text().await.expect("body");
        assert!(
            page.contains("private or link-local") && page.contains("allow_private_issuers"),
            "a clear form error for {issuer}: {page}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM sso_pending"),
        0,
        "nothing saved"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM teams WHERE id = 'shellco' AND issuer = '{}'",
            idp.issuer
        )),
        teams_before,
        "the team's settings are unchanged"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit"),
        audit_before,
        "nothing audited"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sso_logins"),
        0,
        "no test sign-in"
    );
    assert_eq!(
        idp.with(|s| s.discovery_calls),
        fetches_before,
        "the refused issuers were never fetched"
    );
}

#[actix_web::test]
async fn the_operator_may_allow_private_issuers_in_the_browser() {
    let idp = FakeIdp::start().await;
    let app = shell_team(&idp, "allow_private_issuers = true\n").await;
    let admin = browser();
    idp.sign_in(&app, &admin, "shellco", "a", "alice@shell.test")
        .await;
    let r = post_settings(&app, &admin, &idp.issuer).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "off to the test sign-in");
    assert!(location(&r).starts_with(&format!("{}/authorize?", idp.issuer)));
    assert_eq!(app.count("SELECT count(*) FROM sso_pending"), 1);
}

#[actix_web::test]
async fn anonymous_error_pages_show_no_idp_url_port_or_status_but_admins_see_the_cause() {
    // A config-file team whose IdP refuses discovery: the visitor learns that SSO is
    // misconfigured, not where the IdP is or what it answered.
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml("acme", "")).await;
    idp.with(|s| s.discovery_status = Some(403));
    let r = app.get(&browser(), "/sso/acme/login").await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    let page = r.text().await.expect("body");
    assert!(page.contains("misconfigured"), "{page}");
    assert_no_idp_internals(&page, &idp, "403");

    // The token endpoint answering 404 at the callback: the same for the visitor...
    let idp = FakeIdp::start().await;
    let app = shell_team(&idp, "allow_private_issuers = true\n").await;
    let admin = browser();
    idp.sign_in(&app, &admin, "shellco", "a", "alice@shell.test")
        .await;
    idp.with(|s| s.token_status = Some(404));
    let visitor = browser();
    let r = idp
        .sign_in(&app, &visitor, "shellco", "b", "bob@shell.test")
        .await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    let page = r.text().await.expect("body");
    assert_no_idp_internals(&page, &idp, "404");
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'bob@shell.test'"),
        0,
        "no account"
    );

    // ...while the admin testing settings on that IdP sees which endpoint answered what.
    let r = post_settings(&app, &admin, &idp.issuer).await;
    let r = idp
        .finish(
            &app,
            &admin,
            "shellco",
            &location(&r),
            ("a", "alice@shell.test"),
            |_| {},
        )
        .await;
    assert_eq!(location(&r), "/settings/sso");
    let (_, page) = app.text(&admin, "/settings/sso").await;
    assert!(page.contains("The test sign-in failed"), "{page}");
    assert!(
        page.contains(&format!("{}/token answered 404", idp.issuer)),
        "the admin sees the cause: {page}"
    );
}

#[actix_web::test]
async fn an_id_token_issued_to_another_client_azp_is_refused() {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml("acme", "")).await;
    let c = browser();
    let start = app.get(&c, "/sso/acme/login").await;
    let r = idp
        .finish(
            &app,
            &c,
            "acme",
            &location(&start),
            ("u1", "bob@acme.test"),
            |claims| claims["azp"] = json!("another-client"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.expect("body");
    assert!(page.contains("azp"), "the page says why: {page}");
    assert_eq!(
        app.get(&c, "/team").await.status(),
        StatusCode::SEE_OTHER,
        "no session"
    );
    assert_nothing_stored(&app);

    // An azp naming this portal's client is fine.
    let c = browser();
    let start = app.get(&c, "/sso/acme/login").await;
    let r = idp
        .finish(
            &app,
            &c,
            "acme",
            &location(&start),
            ("u1", "bob@acme.test"),
            |claims| claims["azp"] = json!(CLIENT_ID),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) FROM users"), 1);
}
