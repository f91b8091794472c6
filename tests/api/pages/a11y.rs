//! Every page in headless Chromium, as the demo's admin, its member and an anonymous
//! visitor, light and dark: axe-core (from npm, pinned in tests/idp) finds no serious or
//! critical violation, and each page is saved as a screenshot in `target/screenshots/`.
//! Then what a person does there: confirmations, post/redirect/get, a phone's width.
//!
//! The pages are one list, [`PAGES`]: a new page is one more line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::wd::TimeoutConfiguration;
use fantoccini::Locator;
use serde_json::Value;

use crate::support::browser::Browser;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Anonymous,
    Admin,
    Member,
    /// The admin of `demo-lab`, the demo's browser-managed team.
    LabAdmin,
}

/// `(name, path, who)`: `{member}` is a colleague's user id, `{token}` the shared token's id,
/// `{session}` the signed-in browser's own session.
const PAGES: &[(&str, &str, Who)] = &[
    ("login", "/login", Who::Anonymous),
    (
        "login-deep-link",
        "/login?return_to=/billing",
        Who::Anonymous,
    ),
    ("not-found", "/no-such-page", Who::Anonymous),
    ("unknown-team", "/sso/no-such-team/login", Who::Anonymous),
    ("team", "/team", Who::Admin),
    ("team-search", "/team?q=a", Who::Admin),
    ("tokens", "/tokens", Who::Admin),
    ("billing", "/billing", Who::Admin),
    ("sso-settings", "/settings/sso", Who::Admin),
    ("audit", "/audit", Who::Admin),
    ("sessions", "/sessions", Who::Admin),
    ("scim-settings", "/settings/scim", Who::Admin),
    ("member-sessions", "/sessions", Who::Member),
    (
        "end-sessions-confirm",
        "/team/members/{member}/sessions/revoke/confirm",
        Who::Admin,
    ),
    (
        "remove-confirm",
        "/team/members/{member}/remove/confirm",
        Who::Admin,
    ),
    (
        "revoke-confirm",
        "/tokens/{token}/revoke/confirm",
        Who::Admin,
    ),
    (
        "session-end-confirm",
        "/sessions/{session}/revoke/confirm",
        Who::Admin,
    ),
    (
        "sessions-others-confirm",
        "/sessions/revoke-others/confirm",
        Who::Admin,
    ),
    (
        "scim-rotate-confirm",
        "/settings/scim/token/confirm",
        Who::Admin,
    ),
    (
        "scim-revoke-confirm",
        "/settings/scim/token/revoke/confirm",
        Who::Admin,
    ),
    ("team", "/team", Who::Member),
    ("tokens", "/tokens", Who::Member),
    ("forbidden", "/billing", Who::Member),
    ("lab-sso-settings", "/settings/sso", Who::LabAdmin),
];

/// The demo (`teamportal demo`), in this process on a free loopback port.
pub(super) struct Demo {
    base: String,
    db: PathBuf,
    _dir: tempfile::TempDir,
}

pub(super) fn start_demo() -> Demo {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let (app, base) = teamportal::sso::demo_idp::build(teamportal::sso::demo_idp::DemoOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database: db.clone(),
    })
    .expect("the demo builds");
    actix_web::rt::spawn(app.run_until_stopped());
    Demo {
        base,
        db,
        _dir: dir,
    }
}

impl Demo {
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(super) fn one(&self, sql: &str) -> i64 {
        self.value(sql)
    }

    fn value<T: rusqlite::types::FromSql>(&self, sql: &str) -> T {
        rusqlite::Connection::open(&self.db)
            .expect("open")
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

pub(super) async fn open(dark: bool) -> Browser {
    let args: &[&str] = if dark { &["--force-dark-mode"] } else { &[] };
    let b = Browser::start_with(args)
        .await
        .expect("headless Chromium starts");
    b.client
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(30)),
            Some(Duration::from_secs(30)),
            Some(Duration::ZERO),
        ))
        .await
        .expect("timeouts");
    b
}

pub(super) async fn js(b: &Browser, script: &str) -> Value {
    b.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("running {script}: {e}"))
}

pub(super) fn axe_source() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idp/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run tests/run, which runs npm ci in tests/idp)",
            path.display()
        )
    })
}

/// The serious and critical violations axe-core finds on the current page (WCAG 2.1 A/AA
/// rules and axe's best practices), one line per rule with the elements.
pub(super) async fn axe(b: &Browser, source: &str) -> Vec<String> {
    b.client
        .execute(source, vec![])
        .await
        .expect("axe-core loads into the page");
    let found = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then((r) => done(
                 r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
             ), (e) => done([`axe failed: ${e}`]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    serde_json::from_value(found).expect("a list of strings")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("target/screenshots");
    dir
}

/// Saves the whole page (the window grown to the document's height for the shot).
pub(super) async fn shoot(b: &Browser, name: &str) {
    let (w, h) = (1280, 900);
    let tall = js(b, "return document.documentElement.scrollHeight;")
        .await
        .as_u64()
        .unwrap_or(h as u64)
        .clamp(h as u64, 6_000) as u32;
    b.client.set_window_size(w, tall).await.expect("resize");
    let png = b.client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
    b.client.set_window_size(w, h).await.expect("resize back");
}

/// Signs in through the login page and the demo identity provider's page (checked with
/// axe on the way) as `account` (`demo-admin`, `demo-member`).
pub(super) async fn sign_in(
    b: &Browser,
    demo: &Demo,
    account: &str,
    axe_src: &str,
    theme: &str,
    seen: &mut Vec<String>,
) {
    sign_in_to(b, demo, "demo", account, axe_src, theme, seen).await;
}

/// `sign_in` to `team` (`demo` or `demo-lab`).
pub(super) async fn sign_in_to(
    b: &Browser,
    demo: &Demo,
    team: &str,
    account: &str,
    axe_src: &str,
    theme: &str,
    seen: &mut Vec<String>,
) {
    b.client.goto(&demo.url("/login")).await.expect("login");
    b.wait_for("#team_id")
        .await
        .expect("form")
        .send_keys(team)
        .await
        .expect("type");
    b.click("form[action='/login/sso'] button[type=submit]")
        .await;
    b.wait_for(&format!("#as-{account}"))
        .await
        .expect("the demo IdP's page");
    for v in axe(b, axe_src).await {
        seen.push(format!("{theme} demo-idp: {v}"));
    }
    shoot(b, &format!("demo-idp-{theme}")).await;
    b.click(&format!("#as-{account}")).await;
    b.wait_for_url(|u| u.path() == "/team")
        .await
        .expect("signed in");
}

/// From the team page (error pages have no header to sign out from).
pub(super) async fn sign_out(b: &Browser, demo: &Demo) {
    b.client.goto(&demo.url("/team")).await.expect("goto");
    b.click("form[action='/logout'] button").await;
    b.wait_for_url(|u| u.path() == "/login")
        .await
        .expect("signed out");
}

async fn page_background(b: &Browser) -> String {
    js(
        b,
        "return getComputedStyle(document.documentElement).backgroundColor;",
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// The browser of the demo admin's second session (see [`add_a_phone`]).
const PHONE: &str = "a phone";

/// A second session of the signed-in demo admin, as if from a phone.
fn add_a_phone(demo: &Demo) {
    demo.one(&format!(
        "INSERT INTO sessions (key_hash, user_id, state, created_at, expires_at, public_id, last_seen_at, browser)
         SELECT randomblob(32), id, '{{}}', unixepoch(), unixepoch() + 3600, lower(hex(randomblob(12))), unixepoch(), '{PHONE}'
         FROM users WHERE team_id = 'demo' AND email = 'admin@demo.test' RETURNING 1"
    ));
}

#[actix_web::test]
async fn every_page_passes_axe_for_admin_member_and_visitor_in_light_and_dark_and_is_screenshot() {
    let demo = start_demo();
    let axe_src = axe_source();
    let member = demo.one("SELECT id FROM users WHERE email = 'alan@demo.test'");
    let token = demo.one("SELECT min(id) FROM api_tokens WHERE team_id = 'demo'");
    // The SCIM token's confirmation pages ask about a token that exists.
    demo.one("INSERT INTO scim_tokens VALUES ('demo', randomblob(32), unixepoch()) RETURNING 1");
    let mut violations = Vec::new();
    let mut backgrounds = Vec::new();
    for (theme, dark) in [("light", false), ("dark", true)] {
        let b = open(dark).await;
        for who in [Who::Anonymous, Who::Admin, Who::Member, Who::LabAdmin] {
            match who {
                Who::Anonymous => {}
                Who::LabAdmin => {
                    sign_in_to(
                        &b,
                        &demo,
                        "demo-lab",
                        "demo-admin",
                        &axe_src,
                        theme,
                        &mut violations,
                    )
                    .await
                }
                Who::Admin => {
                    sign_in(&b, &demo, "demo-admin", &axe_src, theme, &mut violations).await;
                    // "End all other sessions" asks only when there is another: a phone.
                    add_a_phone(&demo);
                }
                Who::Member => {
                    sign_in(&b, &demo, "demo-member", &axe_src, theme, &mut violations).await
                }
            }
            for (name, path, _) in PAGES.iter().filter(|p| p.2 == who) {
                let mut path = path
                    .replace("{member}", &member.to_string())
                    .replace("{token}", &token.to_string());
                if path.contains("{session}") {
                    // The browser's own session: the newest but the phone's.
                    let newest: String = demo.value(&format!(
                        "SELECT public_id FROM sessions WHERE user_id IS NOT NULL AND browser <> '{PHONE}' ORDER BY rowid DESC LIMIT 1",
                    ));
                    path = path.replace("{session}", &newest);
                }
                b.client.goto(&demo.url(&path)).await.expect("goto");
                b.wait_for("main")
                    .await
                    .unwrap_or_else(|e| panic!("{path}: {e}"));
                for v in axe(&b, &axe_src).await {
                    violations.push(format!("{theme} {who:?} {path}: {v}"));
                }
                let who_name = format!("{who:?}").to_lowercase();
                shoot(&b, &format!("{who_name}-{name}-{theme}")).await;
                if *name == "team" && who == Who::Admin {
                    backgrounds.push(page_background(&b).await);
                    // The check can fail: a button without a name is a critical violation.
                    js(&b, "const x = document.createElement('button'); x.id = 'nameless'; document.querySelector('main').appendChild(x); return true;").await;
                    let found = axe(&b, &axe_src).await;
                    assert!(
                        found.iter().any(|v| v.contains("button-name")),
                        "axe sees violations: {found:?}"
                    );
                }
            }
            if who != Who::Anonymous {
                sign_out(&b, &demo).await;
            }
        }
        b.close().await.expect("close");
    }
    assert_eq!(
        violations,
        Vec::<String>::new(),
        "no serious or critical violation"
    );
    assert_eq!(backgrounds.len(), 2);
    assert_ne!(
        backgrounds[0], backgrounds[1],
        "dark mode changes the page colours"
    );
    assert_eq!(backgrounds[0], "rgb(255, 255, 255)");
}

#[actix_web::test]
async fn in_the_browser_actions_confirm_first_answer_once_keep_the_search_and_fit_a_phone() {
    let demo = start_demo();
    let b = open(false).await;
    let mut ignored = Vec::new();
    sign_in(
        &b,
        &demo,
        "demo-admin",
        &axe_source(),
        "light",
        &mut ignored,
    )
    .await;
    let alan = demo.one("SELECT id FROM users WHERE email = 'alan@demo.test'");
    let active = |demo: &Demo| demo.one(&format!("SELECT active FROM users WHERE id = {alan}"));
    let row = format!("tr[data-user-id='{alan}']");

    // A role change from a search comes back to the search, saying what it did once.
    b.client
        .goto(&demo.url("/team?q=alan"))
        .await
        .expect("goto");
    b.click(&format!("{row} form[action$='/role'] button"))
        .await;
    let flash = b.text_of("#flash[role=status]").await;
    assert!(flash.contains("Alan Turing is now an admin"), "{flash}");
    let url = b.client.current_url().await.expect("url");
    assert_eq!((url.path(), url.query()), ("/team", Some("q=alan")));
    b.client.refresh().await.expect("reload");
    b.wait_for(&row).await.expect("the list");
    assert!(
        b.client
            .find_all(Locator::Css("#flash"))
            .await
            .expect("find")
            .is_empty(),
        "said once"
    );

    // Remove asks first: dismissed, nothing happens; the page without script asks too.
    b.click(&format!("{row} a[data-confirm]")).await;
    let asked = b
        .client
        .get_alert_text()
        .await
        .expect("a confirmation dialog");
    assert_eq!(asked, "Remove Alan Turing?");
    b.client.dismiss_alert().await.expect("dismiss");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(active(&demo), 1, "nothing until confirmed");
    assert_eq!(b.client.current_url().await.expect("url").path(), "/team");
    js(&b, "document.querySelectorAll('a[data-confirm]').forEach((a) => a.removeAttribute('data-confirm')); return true;").await;
    b.click(&format!("{row} a.button.danger")).await;
    b.wait_for_url(|u| u.path().ends_with("/remove/confirm"))
        .await
        .expect("the confirmation page");
    assert_eq!(active(&demo), 1, "the confirmation page changes nothing");
    b.click("section.ask button[type=submit]").await;
    b.wait_for_url(|u| u.path() == "/team")
        .await
        .expect("back to the list");
    let flash = b.text_of("#flash").await;
    assert!(flash.contains("Alan Turing was removed"), "{flash}");
    assert_eq!(active(&demo), 0);

    // Revoke asks first too.
    let token = demo.one("SELECT min(id) FROM api_tokens WHERE team_id = 'demo'");
    b.client.goto(&demo.url("/tokens")).await.expect("goto");
    b.click(&format!("tr[data-token-id='{token}'] a[data-confirm]"))
        .await;
    b.client.dismiss_alert().await.expect("dismiss");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        demo.one(&format!(
            "SELECT revoked_at IS NULL FROM api_tokens WHERE id = {token}"
        )),
        1
    );

    // A token created, then the page reloaded: one token, its secret shown once.
    b.wait_for("#token_name")
        .await
        .expect("form")
        .send_keys("from-the-browser")
        .await
        .expect("type");
    b.click("form[action='/tokens'] button[type=submit]").await;
    let secret = b
        .wait_for("#new-token-secret")
        .await
        .expect("shown")
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    assert!(secret.starts_with("tp_"));
    assert_eq!(b.client.current_url().await.expect("url").path(), "/tokens");
    b.client.refresh().await.expect("reload");
    b.wait_for("#token_name").await.expect("the page");
    assert!(b
        .client
        .find_all(Locator::Css("#new-token-secret"))
        .await
        .expect("find")
        .is_empty());
    assert_eq!(
        demo.one("SELECT count(*) FROM api_tokens WHERE name = 'from-the-browser'"),
        1
    );

    // A refused form keeps what was typed (the browser's own checks are off, as an old
    // browser's would be).
    js(
        &b,
        "document.querySelector(\"form[action='/tokens']\").noValidate = true; return true;",
    )
    .await;
    b.wait_for("#token_name")
        .await
        .expect("form")
        .send_keys("kept-name")
        .await
        .expect("type");
    b.wait_for("#token_expiry")
        .await
        .expect("field")
        .send_keys("0")
        .await
        .expect("type");
    b.click("form[action='/tokens'] button[type=submit]").await;
    b.wait_for("#token_expiry_error")
        .await
        .expect("the reason next to the field");
    let kept = b
        .wait_for("#token_name")
        .await
        .expect("field")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("kept-name"));

    // A phone: no horizontal scroll on the team and tokens pages.
    b.client.set_window_size(375, 800).await.expect("narrow");
    for path in ["/team", "/tokens", "/billing", "/audit", "/settings/sso"] {
        b.client.goto(&demo.url(path)).await.expect("goto");
        b.wait_for("main").await.expect("main");
        let fits = js(
            &b,
            "return [document.documentElement.scrollWidth, window.innerWidth];",
        )
        .await;
        let (scroll, inner) = (fits[0].as_u64().unwrap_or(0), fits[1].as_u64().unwrap_or(0));
        assert!(inner <= 400, "the window is a phone's: {inner}");
        assert!(
            scroll <= inner,
            "{path} scrolls sideways at {inner} px: {scroll}"
        );
        shoot_narrow(&b, &format!("phone{}", path.replace('/', "-"))).await;
    }
    b.close().await.expect("close");
}

async fn shoot_narrow(b: &Browser, name: &str) {
    let png = b.client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write");
}

#[actix_web::test]
async fn a_deep_link_survives_sign_in_in_the_browser() {
    let demo = start_demo();
    let b = open(false).await;
    b.client
        .goto(&demo.url("/billing?month=2026-11"))
        .await
        .expect("goto");
    b.wait_for_url(|u| u.path() == "/login")
        .await
        .expect("sent to sign in");
    b.wait_for("#team_id")
        .await
        .expect("form")
        .send_keys("demo")
        .await
        .expect("type");
    b.click("form[action='/login/sso'] button[type=submit]")
        .await;
    b.click("#as-demo-admin").await;
    let url = b
        .wait_for_url(|u| u.path() == "/billing")
        .await
        .expect("back at the deep link");
    assert_eq!(url.query(), Some("month=2026-11"));
    b.close().await.expect("close");
}

#[actix_web::test]
async fn the_demos_browser_managed_team_edits_and_tests_its_sso_settings_and_bills_two_tokens() {
    let demo = start_demo();
    let b = open(false).await;
    let mut ignored = Vec::new();
    sign_in_to(
        &b,
        &demo,
        "demo-lab",
        "demo-admin",
        &axe_source(),
        "light",
        &mut ignored,
    )
    .await;
    b.client
        .goto(&demo.url("/settings/sso"))
        .await
        .expect("goto");
    b.wait_for("#save-and-test")
        .await
        .expect("an editable team");
    b.wait_for("#admin_groups")
        .await
        .expect("field")
        .send_keys("lab-admins")
        .await
        .expect("type");
    b.click("#save-and-test").await;
    // The test sign-in goes through the demo provider and back to the settings page.
    b.click("#as-demo-admin").await;
    b.wait_for_url(|u| u.path() == "/settings/sso")
        .await
        .expect("back");
    let result = b.text_of("#test-result").await;
    assert!(result.contains("worked"), "{result}");
    b.click("#apply").await;
    let said = b.text_of("#flash[role=status]").await;
    assert!(said.contains("applied"), "{said}");
    assert_eq!(
        demo.one(
            "SELECT count(*) FROM teams WHERE id = 'demo-lab' AND admin_groups LIKE '%lab-admins%'"
        ),
        1
    );
    sign_out(&b, &demo).await;

    // The first team's billing: a month of usage on two tokens, in two units.
    sign_in(
        &b,
        &demo,
        "demo-admin",
        &axe_source(),
        "light",
        &mut ignored,
    )
    .await;
    assert_eq!(
        demo.one("SELECT count(DISTINCT token_id) FROM usage_daily WHERE team_id = 'demo'"),
        2
    );
    b.client.goto(&demo.url("/billing")).await.expect("goto");
    b.wait_for("#chart-requests")
        .await
        .expect("the requests chart");
    b.close().await.expect("close");
}
