//! `idp_logout` for a team made with `admin create-team`: its admin turns it on in
//! `/settings/sso` (saved, tested, applied like every setting there), and sign-out then goes
//! to the IdP's `end_session_endpoint`, which must be on the issuer's host.

use reqwest::StatusCode;
use serde_json::json;

use super::works;
use crate::helpers::{browser, create_shell_team, location, query_param, spawn_app_in};
use crate::support::fake_idp::{FakeIdp, CLIENT_ID};

#[actix_web::test]
async fn a_browser_managed_teams_admin_turns_on_idp_logout_and_sign_out_reaches_the_idp() {
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
    let app = spawn_app_in(dir, extra).await;
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

    let r = app.post_csrf(&admin, "/logout", &[]).await;
    let to = location(&r);
    assert!(to.starts_with(&end_session), "{to}");
    assert!(query_param(&to, "id_token_hint").is_some());
    assert!(!works(&app, &admin).await);
}
