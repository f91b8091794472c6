//! Email domains belong to one team: a browser-managed team's admin cannot claim another
//! team's domain, only the operator assigns them (`admin set-domains`), a collision stops
//! the start, and an ambiguous lookup sends nobody anywhere.

use std::process::Command;

use reqwest::StatusCode;
use teamportal::app::{Application, Extras};
use teamportal::config;

use crate::helpers::{browser, create_shell_team, location, query_param, spawn_app_in, TestApp};
use crate::support::fake_idp::FakeIdp;

/// Config team `acme` (domain acme.com) and browser-managed team `shellco`, both on `idp`.
fn two_teams(idp: &FakeIdp) -> (tempfile::TempDir, String, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    // The fake IdP is on loopback: the team's admin may enter it only with this.
    let extra = format!(
        "[security]\nallow_private_issuers = true\n{}",
        idp.team_toml(
            "acme",
            "admin_email = \"alice@acme.com\"\nemail_domains = [\"acme.com\"]",
        )
    );
    let cfg = create_shell_team(
        dir.path(),
        &extra,
        &idp.issuer,
        crate::support::fake_idp::CLIENT_ID,
        "sam@shell.test",
        crate::support::fake_idp::CLIENT_SECRET,
    );
    (dir, extra, cfg)
}

fn teamportal(cfg: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teamportal"));
    c.env_remove("TEAMPORTAL_CONFIG")
        .env("RUST_LOG", "warn")
        .arg("--config")
        .arg(cfg);
    c
}

fn domains_of(app_db: &std::path::Path, team: &str) -> String {
    rusqlite::Connection::open(app_db)
        .expect("db")
        .query_row(
            "SELECT email_domains FROM teams WHERE id = ?1",
            [team],
            |r| r.get(0),
        )
        .expect("team row")
}

/// Where `POST /login/sso` with this work email sends a fresh browser: the team in the
/// authorize request's redirect URI, or the status when it sends it nowhere.
async fn route_of(app: &TestApp, email: &str) -> Result<String, StatusCode> {
    let c = browser();
    let token = app.csrf(&c, "/login").await;
    let r = app
        .post(
            &c,
            "/login/sso",
            &[("csrf_token", &token), ("team_id", email)],
        )
        .await;
    if r.status() != StatusCode::SEE_OTHER {
        return Err(r.status());
    }
    let redirect = query_param(&location(&r), "redirect_uri").expect("redirect_uri");
    Ok(redirect
        .trim_end_matches("/callback")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string())
}

#[actix_web::test]
async fn a_browser_managed_teams_admin_cannot_claim_another_teams_email_domain() {
    let idp = FakeIdp::start().await;
    let (dir, extra, _) = two_teams(&idp);
    let app = spawn_app_in(dir, &extra).await;
    let admin = browser();
    idp.sign_in(&app, &admin, "shellco", "s1", "sam@shell.test")
        .await;
    let (_, page) = app.text(&admin, "/settings/sso").await;
    assert!(
        !page.contains("name=\"email_domains\""),
        "no email domain field for the team's admin"
    );
    assert!(page.contains("admin set-domains"), "says who sets them");

    // The old form field, posted anyway, is ignored: the pending change, its test sign-in
    // and its apply all leave the team's domains alone.
    let token = app.csrf(&admin, "/settings/sso").await;
    let r = app
        .post(
            &admin,
            "/settings/sso",
            &[
                ("csrf_token", token.as_str()),
                ("issuer", idp.issuer.as_str()),
                ("client_id", crate::support::fake_idp::CLIENT_ID),
                ("client_secret", ""),
                ("provisioning", "jit"),
                ("email_domains", "acme.com"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "off to the test sign-in");
    assert_eq!(
        app.count("SELECT count(*) FROM sso_pending WHERE email_domains LIKE '%acme.com%'"),
        0
    );
    idp.finish(
        &app,
        &admin,
        "shellco",
        &location(&r),
        ("s1", "sam@shell.test"),
        |_| {},
    )
    .await;
    let r = app.post_csrf(&admin, "/settings/sso/apply", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "applied");
    assert_eq!(domains_of(&app.db_path, "shellco"), "[]");
    assert_eq!(route_of(&app, "bob@acme.com").await, Ok("acme".into()));
}

#[actix_web::test]
async fn only_the_operator_assigns_domains_and_never_one_another_team_owns() {
    let idp = FakeIdp::start().await;
    let (dir, extra, cfg) = two_teams(&idp);
    let db = dir.path().join("portal.db");

    let out = teamportal(&cfg)
        .args(["admin", "set-domains", "shellco", "acme.com"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("acme.com") && err.contains("\"acme\""),
        "{err}"
    );
    assert_eq!(domains_of(&db, "shellco"), "[]", "nothing changed");

    let out = teamportal(&cfg)
        .args(["admin", "set-domains", "acme", "acme.org"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("config file"));

    let out = teamportal(&cfg)
        .args(["admin", "set-domains", "shellco", "not a domain"])
        .output()
        .expect("runs");
    assert!(!out.status.success());

    let out = teamportal(&cfg)
        .args([
            "admin",
            "set-domains",
            "shellco",
            "Shell.Test",
            "shell.test",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(domains_of(&db, "shellco"), "[\"shell.test\"]");
    let audited: i64 = rusqlite::Connection::open(&db)
        .expect("db")
        .query_row(
            "SELECT count(*) FROM audit WHERE team_id = 'shellco' AND action = 'email_domains_set' AND detail = 'none -> shell.test'",
            [],
            |r| r.get(0),
        )
        .expect("audit");
    assert_eq!(audited, 1);

    // The running portal routes by what the operator set, and shows it read-only.
    let app = spawn_app_in(dir, &extra).await;
    assert_eq!(
        route_of(&app, "carol@shell.test").await,
        Ok("shellco".into())
    );
    assert_eq!(route_of(&app, "bob@acme.com").await, Ok("acme".into()));
    let out = teamportal(&cfg)
        .args(["admin", "set-domains", "shellco"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(
        route_of(&app, "carol@shell.test").await.is_err(),
        "cleared at once"
    );
}

#[actix_web::test]
async fn a_domain_claimed_twice_stops_the_start_and_fails_check_config_naming_both_teams() {
    let idp = FakeIdp::start().await;
    let (dir, extra, cfg) = two_teams(&idp);
    // A store written behind the portal's back (an old version, a restored backup).
    rusqlite::Connection::open(dir.path().join("portal.db"))
        .expect("db")
        .execute(
            "UPDATE teams SET email_domains = '[\"acme.com\"]' WHERE id = 'shellco'",
            [],
        )
        .expect("update");

    let out = teamportal(&cfg).arg("check-config").output().expect("runs");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("\"acme\"") && said.contains("\"shellco\"") && said.contains("acme.com"),
        "{said}"
    );

    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\npath = {:?}\n{extra}",
        dir.path().join("portal.db").display().to_string()
    );
    let settings = config::validate(config::parse(&text).expect("parses"), dir.path(), &|_| None)
        .expect("valid");
    match Application::build_with(settings, Extras::default()) {
        Ok(_) => panic!("the portal started with a domain claimed by two teams"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("\"acme\"") && e.contains("\"shellco\""), "{e}");
        }
    }
}

#[actix_web::test]
async fn an_ambiguous_domain_sends_nobody_to_either_identity_provider() {
    let idp = FakeIdp::start().await;
    let (dir, extra, _) = two_teams(&idp);
    let app = spawn_app_in(dir, &extra).await;
    assert_eq!(route_of(&app, "bob@acme.com").await, Ok("acme".into()));
    app.db()
        .execute(
            "UPDATE teams SET email_domains = '[\"acme.com\"]' WHERE id = 'shellco'",
            [],
        )
        .expect("update");
    let before = app.count("SELECT count(*) FROM sso_logins");
    let routed = route_of(&app, "bob@acme.com").await;
    assert!(
        matches!(routed, Err(s) if s.is_client_error()),
        "refused, not picked: {routed:?}"
    );
    assert_eq!(app.count("SELECT count(*) FROM sso_logins"), before);
}

#[actix_web::test]
async fn the_shell_without_the_config_cannot_give_away_a_config_teams_domain() {
    let idp = FakeIdp::start().await;
    let (dir, extra, _) = two_teams(&idp);
    // A start with the config stores acme and its domain.
    let app = spawn_app_in(dir, &extra).await;
    let bare = tempfile::tempdir().expect("tempdir");
    let cfg = bare.path().join("bare.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\npath = {:?}\n",
            app.db_path.display().to_string()
        ),
    )
    .expect("config");
    let out = teamportal(&cfg)
        .args(["admin", "set-domains", "shellco", "acme.com"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused: {err}");
    assert!(
        err.contains("acme.com") && err.contains("\"acme\""),
        "{err}"
    );
    assert_eq!(domains_of(&app.db_path, "shellco"), "[]", "nothing changed");
    // Nor can a new team take it.
    let out = teamportal(&cfg)
        .env("TEAMPORTAL_CLIENT_SECRET", "s")
        .args(["admin", "create-team", "--id", "other", "--name", "Other"])
        .args(["--issuer", "https://other.example.com", "--client-id", "c"])
        .args([
            "--admin-email",
            "o@other.example.com",
            "--email-domain",
            "acme.com",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused: {err}");
    assert!(err.contains("\"acme\""), "{err}");
    assert_eq!(
        app.count("SELECT count(*) FROM teams WHERE id = 'other'"),
        0,
        "no team made"
    );
}
