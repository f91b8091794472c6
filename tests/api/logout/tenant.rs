//! `idp_logout` for a team made with `admin create-team`: its admin turns it on in
//! `/settings/sso` (saved, tested, applied like every setting there), and sign-out then goes
//! to the IdP's `end_session_endpoint`, which must be on the issuer's host.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::json;

use super::works;
use crate::helpers::{browser, create_shell_team, location, query_param, spawn_app_tuned, TestApp};
use crate::support::fake_idp::{FakeIdp, CLIENT_ID};

/// Team `shellco` made from the shell on a fake IdP whose discovery names an on-host
/// `end_session_endpoint`; its admin alice turns `idp_logout` on in `/settings/sso`.
/// `discovery_ttl`: how long the portal trusts discovery.
async fn with_idp_logout(discovery_ttl: Option<Duration>) -> (TestApp, FakeIdp, Client, String) {
    let extra = "[security]\nallow_private_issuers = true\n";
    let idp = FakeIdp::start().await;
    let end_session = format!("{}/logout", idp.issuer);
    idp.with(|s| {
        s.client_secret = Some("right-secret".into());
        s.discovery_overrides
            .insert("end_session_endpoint".into(), json!(end_session));
    });
    let dir = tempfile::tempdir().expect("tempdir");
    create_shell_team(
        dir.path(),
        extra,
        &idp.issuer,
        CLIENT_ID,
        "alice@shell.test",
        "right-secret",
    );
    let app = spawn_app_tuned(dir, extra, |_, e| e.discovery_ttl = discovery_ttl).await;
    let admin = browser();
    let r = idp
        .sign_in(&app, &admin, "shellco", "a", "alice@shell.test")
        .await;
    assert_eq!(location(&r), "/team");

    // Off by default: sign-out stays in the portal.
    let (_, page) = app.text(&admin, "/settings/sso").await;
    assert!(
        page.contains("name=\"idp_logout\""),
        "the setting is on the form"
    );
    assert!(!page.contains("name=\"idp_logout\" value=\"on\" checked"));
    // The note is about this team's form, not a config file it has no access to.
    assert!(
        page.contains("is turned on below"),
        "the note points at the setting on this page"
    );
    assert!(!page.contains("in the config file: signing out"));

    let token = app.csrf(&admin, "/settings/sso").await;
    let r = app
        .post(
            &admin,
            "/settings/sso",
            &[
                ("csrf_token", token.as_str()),
                ("issuer", idp.issuer.as_str()),
                ("client_id", CLIENT_ID),
                ("client_secret", ""),
                ("provisioning", "jit"),
                ("admin_groups", ""),
                ("idp_logout", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "off to the test sign-in");
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
    let r = app.post_csrf(&admin, "/settings/sso/apply", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("SELECT idp_logout FROM teams WHERE id = 'shellco'"),
        1
    );
    assert!(
        app.count("SELECT count(*) FROM audit WHERE action = 'sso_settings_applied' AND detail LIKE '%idp_logout: false -> true%'") == 1,
        "the change is audited"
    );
    (app, idp, admin, end_session)
}

#[actix_web::test]
async fn a_browser_managed_teams_admin_turns_on_idp_logout_and_sign_out_reaches_the_idp() {
    let (app, _idp, admin, end_session) = with_idp_logout(None).await;
    let r = app.post_csrf(&admin, "/logout", &[]).await;
    let to = location(&r);
    assert!(to.starts_with(&end_session), "{to}");
    assert!(query_param(&to, "id_token_hint").is_some());
    assert!(!works(&app, &admin).await);
}

#[actix_web::test]
async fn an_end_session_endpoint_off_the_issuers_host_is_never_where_sign_out_sends_a_browser() {
    let (app, idp, admin, _) = with_idp_logout(Some(Duration::ZERO)).await;
    // The IdP's metadata changes after the sign-in: its end-session endpoint moves elsewhere.
    idp.with(|s| {
        s.discovery_overrides.insert(
            "end_session_endpoint".into(),
            json!("https://evil.test/logout"),
        )
    });
    // Discovery is refreshed in the background; the settings page shows once the new copy is in.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = app.text(&admin, "/settings/sso").await;
        if !page.contains("Discovery works") {
            break;
        }
        assert!(Instant::now() < deadline, "discovery was never refreshed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = app.post_csrf(&admin, "/logout", &[]).await;
    assert_eq!(location(&r), "/login");
    assert!(
        !works(&app, &admin).await,
        "signed out of the portal all the same"
    );
}
