//! SSO settings in the browser: read-only for config-file teams, save-and-test-then-apply
//! for teams made from the shell, secrets sealed at rest; and break-glass password sign-in.

use std::process::Command;

use reqwest::{Client, StatusCode};

use crate::helpers::{
    browser, create_shell_team, location, query_param, spawn_app, spawn_app_in, TestApp,
};
use crate::support::fake_idp::{FakeIdp, CLIENT_ID};

pub(crate) fn teamportal(config: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teamportal"));
    c.env_remove("TEAMPORTAL_CONFIG")
        .env("RUST_LOG", "warn")
        .arg("--config")
        .arg(config);
    c
}

/// Signs `email` in to `team` through the fake IdP; the callback's answer.
async fn sign_in(
    app: &TestApp,
    idp: &FakeIdp,
    client: &Client,
    team: &str,
    sub: &str,
    email: &str,
) -> reqwest::Response {
    idp.sign_in(app, client, team, sub, email).await
}

async fn callback_as(
    app: &TestApp,
    idp: &FakeIdp,
    client: &Client,
    team: &str,
    authorize: &str,
    sub: &str,
    email: &str,
) -> reqwest::Response {
    idp.finish(app, client, team, authorize, (sub, email), |_| {})
        .await
}

/// A team made with `teamportal admin create-team` (client secret "right-secret"), on an
/// instance that lets its admin enter the loopback fake IdP's issuer; `security` is more of
/// the `[security]` table.
pub(crate) async fn shell_team_app(security: &str) -> (TestApp, FakeIdp, std::path::PathBuf) {
    let extra = format!("[security]\nallow_private_issuers = true\n{security}");
    let extra = extra.as_str();
    let idp = FakeIdp::start().await;
    idp.with(|s| s.client_secret = Some("right-secret".into()));
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = create_shell_team(
        dir.path(),
        extra,
        &idp.issuer,
        CLIENT_ID,
        "alice@shell.test",
        "right-secret",
    );
    // The operator gives the team its email domain (team admins cannot).
    let out = teamportal(&cfg)
        .args(["admin", "set-domains", "shellco", "shell.test"])
        .output()
        .expect("set-domains runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app = spawn_app_in(dir, extra).await;
    (app, idp, cfg)
}

pub(crate) fn form_fields(issuer: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("issuer", issuer.to_string()),
        ("client_id", CLIENT_ID.to_string()),
        ("client_secret", secret.to_string()),
        ("provisioning", "jit".to_string()),
        ("admin_groups", String::new()),
    ]
}

pub(crate) async fn post_settings(
    app: &TestApp,
    client: &Client,
    fields: &[(&str, String)],
) -> reqwest::Response {
    let token = app.csrf(client, "/settings/sso").await;
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token)];
    form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
    app.post(client, "/settings/sso", &form).await
}

#[actix_web::test]
async fn members_get_403_and_config_teams_are_read_only() {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml("acme", "admin_email = \"alice@acme.com\"")).await;
    let admin = browser();
    assert_eq!(
        sign_in(&app, &idp, &admin, "acme", "a", "alice@acme.com")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let member = browser();
    assert_eq!(
        sign_in(&app, &idp, &member, "acme", "b", "bob@acme.com")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    assert_eq!(
        app.get(&member, "/settings/sso").await.status(),
        StatusCode::FORBIDDEN
    );
    let (status, page) = app.text(&admin, "/settings/sso").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("{}/sso/acme/callback", app.base)),
        "redirect URI to paste"
    );
    assert!(
        page.contains(&format!("{}/sso/acme/initiate", app.base)),
        "initiate login URI"
    );
    assert!(page.contains("managed in the config file"));
    assert!(!page.contains("portal-secret"), "the secret is masked");
    assert!(!page.contains("Save and test"));

    let r = post_settings(&app, &admin, &form_fields(&idp.issuer, "x")).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("managed in the config file"));
    for path in ["/settings/sso/apply", "/settings/sso/discard"] {
        assert_eq!(
            app.post_csrf(&admin, path, &[]).await.status(),
            StatusCode::CONFLICT,
            "{path}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM sso_pending"),
        0,
        "nothing changed"
    );
}

#[actix_web::test]
async fn a_wrong_secret_fails_the_test_and_the_old_settings_keep_working_then_a_right_one_applies()
{
    let (app, idp, _) = shell_team_app("").await;
    let admin = browser();
    assert_eq!(
        sign_in(&app, &idp, &admin, "shellco", "a", "alice@shell.test")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let (_, page) = app.text(&admin, "/settings/sso").await;
    assert!(page.contains("Save and test"));

    // Wrong secret: the test sign-in fails at the token endpoint.
    let r = post_settings(&app, &admin, &form_fields(&idp.issuer, "wrong-secret")).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "off to the IdP for a test sign-in"
    );
    let authorize = location(&r);
    assert_eq!(
        query_param(&authorize, "login_hint").as_deref(),
        Some("alice@shell.test")
    );
    let r = callback_as(
        &app,
        &idp,
        &admin,
        "shellco",
        &authorize,
        "a",
        "alice@shell.test",
    )
    .await;
    assert_eq!(location(&r), "/settings/sso");
    let (_, page) = app.text(&admin, "/settings/sso").await;
    assert!(page.contains("The test sign-in failed"), "{page}");
    assert!(
        page.contains("client credentials"),
        "the IdP's error in plain words"
    );
    assert_eq!(
        app.post_csrf(&admin, "/settings/sso/apply", &[])
            .await
            .status(),
        StatusCode::CONFLICT,
        "untested settings do not apply"
    );

    // Meanwhile everyone else still signs in with the current (right) secret.
    let other = browser();
    assert_eq!(
        sign_in(&app, &idp, &other, "shellco", "b", "bob@shell.test")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    // Right secret: the test passes, then apply.
    let r = post_settings(&app, &admin, &form_fields(&idp.issuer, "right-secret")).await;
    let r = callback_as(
        &app,
        &idp,
        &admin,
        "shellco",
        &location(&r),
        "a",
        "alice@shell.test",
    )
    .await;
    assert_eq!(location(&r), "/settings/sso");
    let (_, page) = app.text(&admin, "/settings/sso").await;
    assert!(page.contains("worked"), "green check: {page}");
    let r = app.post_csrf(&admin, "/settings/sso/apply", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/settings/sso");
    let (_, page) = app.text(&admin, "/settings/sso").await;
    assert!(
        page.contains("role=\"status\">The new settings are applied"),
        "said once on the page it lands on: {page}"
    );
    assert!(!app
        .text(&admin, "/settings/sso")
        .await
        .1
        .contains("are applied"));
    assert_eq!(app.count("SELECT count(*) FROM sso_pending"), 0);
    assert_eq!(app.count("SELECT count(*) FROM teams WHERE id = 'shellco' AND email_domains = '[\"shell.test\"]'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM audit WHERE action = 'sso_settings_applied' AND detail LIKE '%client_secret: *** -> ***%'"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'sso_settings_test_failed'"),
        1
    );

    // The applied settings work for the next sign-in (email domain routing included).
    let next = browser();
    let authorize = app.start_sso(&next, "carol@shell.test").await;
    let r = callback_as(
        &app,
        &idp,
        &next,
        "shellco",
        &authorize,
        "c",
        "carol@shell.test",
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Secrets are sealed: neither plaintext is anywhere in the database file.
    let bytes = std::fs::read(&app.db_path).expect("db");
    let wal = std::fs::read(app.db_path.with_extension("db-wal")).unwrap_or_default();
    for secret in ["right-secret", "wrong-secret"] {
        let needle = secret.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{secret} in db"
        );
        assert!(
            !wal.windows(needle.len()).any(|w| w == needle),
            "{secret} in wal"
        );
    }
}

#[actix_web::test]
async fn pending_settings_do_not_change_other_peoples_sign_in() {
    let (app, idp, _) = shell_team_app("").await;
    let admin = browser();
    sign_in(&app, &idp, &admin, "shellco", "a", "alice@shell.test").await;
    let mut fields = form_fields(&idp.issuer, "");
    fields[1].1 = "another-client".into();
    let r = post_settings(&app, &admin, &fields).await;
    assert_eq!(
        query_param(&location(&r), "client_id").as_deref(),
        Some("another-client"),
        "the test uses the new values"
    );
    let other = browser();
    let r = other
        .get(app.url("/sso/shellco/login"))
        .send()
        .await
        .expect("start");
    assert_eq!(
        query_param(&location(&r), "client_id").as_deref(),
        Some(CLIENT_ID),
        "everyone else keeps the old ones"
    );
}

#[actix_web::test]
async fn a_test_that_returns_someone_else_does_not_pass() {
    let (app, idp, _) = shell_team_app("").await;
    let admin = browser();
    sign_in(&app, &idp, &admin, "shellco", "a", "alice@shell.test").await;
    let r = post_settings(&app, &admin, &form_fields(&idp.issuer, "")).await;
    callback_as(
        &app,
        &idp,
        &admin,
        "shellco",
        &location(&r),
        "m",
        "mallory@shell.test",
    )
    .await;
    let (_, page) = app.text(&admin, "/settings/sso").await;
    assert!(page.contains("not as you"), "{page}");
    assert_eq!(
        app.post_csrf(&admin, "/settings/sso/apply", &[])
            .await
            .status(),
        StatusCode::CONFLICT
    );
}

#[actix_web::test]
async fn break_glass_password_sign_in_when_enabled() {
    let (app, idp, cfg) = shell_team_app("password_login = true\n").await;
    let admin = browser();
    sign_in(&app, &idp, &admin, "shellco", "a", "alice@shell.test").await;
    let out = teamportal(&cfg)
        .args([
            "admin",
            "set-password",
            "alice@shell.test",
            "--team",
            "shellco",
        ])
        .env("TEAMPORTAL_PASSWORD", "correct horse battery staple")
        .output()
        .expect("set-password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (_, login) = app.text(&browser(), "/login").await;
    assert!(
        login.contains("action=\"/login/password\""),
        "the form is shown when enabled"
    );
    let (_, team) = app.text(&admin, "/team").await;
    assert!(
        team.contains("break-glass password exists"),
        "admins see the banner"
    );

    let c = browser();
    let token = app.csrf(&c, "/login").await;
    let ok = app
        .post(
            &c,
            "/login/password",
            &[
                ("csrf_token", &token),
                ("team_id", "shellco"),
                ("email", "alice@shell.test"),
                ("password", "correct horse battery staple"),
            ],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&c, "/team").await.status(), StatusCode::OK);

    let attacker = browser();
    let token = app.csrf(&attacker, "/login").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = app
            .post(
                &attacker,
                "/login/password",
                &[
                    ("csrf_token", &token),
                    ("team_id", "shellco"),
                    ("email", "alice@shell.test"),
                    ("password", "guess"),
                ],
            )
            .await;
        statuses.push(r.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::FORBIDDEN; 5]);
    assert_eq!(
        statuses[5],
        StatusCode::TOO_MANY_REQUESTS,
        "the 6th rapid failure is rate limited"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'password_sign_in'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'password_sign_in_failed'"),
        5
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'password_sign_in_throttled'"),
        1
    );

    let out = teamportal(&cfg)
        .args([
            "admin",
            "clear-password",
            "alice@shell.test",
            "--team",
            "shellco",
        ])
        .output()
        .expect("clear-password");
    assert!(out.status.success());
    let (_, team) = app.text(&admin, "/team").await;
    assert!(!team.contains("break-glass password exists"));
}
