//! End-to-end in headless Chromium: the real login page and the real IdP's sign-in form, the
//! team page's role buttons, API tokens, billing, the CSP, and `teamportal demo`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::sso_e2e::{start, start_with, user_agent, Sso};
use crate::support::browser::Browser;

async fn js(b: &Browser, script: &str) -> Value {
    b.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("running {script}: {e}"))
}

/// The text of the page's `<main>`.
async fn main_text(b: &Browser) -> String {
    b.wait_for("main").await.unwrap().text().await.unwrap()
}

/// The text of `<main>` once it satisfies `done` (up to 10 s): for a form that posts back to
/// the page it is on, where the URL cannot tell the old page from the new one and the old
/// `<main>` may go stale while it is read.
async fn main_text_when(b: &Browser, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(main) = b.client.find(Locator::Css("main")).await {
            if let Ok(text) = main.text().await {
                if done(&text) {
                    return text;
                }
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

/// Whether the header shows the admin navigation (the Billing link).
async fn has_billing_link(b: &Browser) -> bool {
    b.wait_for("header nav a[href='/team']").await.unwrap();
    !b.client
        .find_all(Locator::Css("header nav a[href='/billing']"))
        .await
        .unwrap()
        .is_empty()
}

/// The HTTP status of the page the browser shows.
async fn page_status(b: &Browser) -> u64 {
    js(
        b,
        "return performance.getEntriesByType('navigation')[0].responseStatus;",
    )
    .await
    .as_u64()
    .expect("a status")
}

/// Every Content-Security-Policy violation the current document reported so far.
async fn csp_violations(b: &Browser) -> Vec<String> {
    let found = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const seen = [];
             const keep = (reports) => reports.forEach((r) =>
                 seen.push(`${r.body.effectiveDirective} blocked ${r.body.blockedURL}`));
             const observer = new ReportingObserver(keep, {types: ['csp-violation'], buffered: true});
             observer.observe();
             setTimeout(() => { keep(observer.takeRecords()); observer.disconnect(); done(seen); }, 300);",
            vec![],
        )
        .await
        .expect("reading CSP reports");
    serde_json::from_value(found).expect("a list of strings")
}

/// Signs `account` in like a person: the portal's login page, the Team ID, the IdP's form.
async fn sign_in_ui(b: &Browser, app: &TestApp, team: &str, account: &str) {
    b.client.goto(&app.url("/login")).await.unwrap();
    b.wait_for("#team_id")
        .await
        .unwrap()
        .send_keys(team)
        .await
        .unwrap();
    b.click("form[action='/login/sso'] button[type=submit]")
        .await;
    b.idp_sign_in(account)
        .await
        .expect("the IdP's sign-in form");
    let port = app.port;
    b.wait_for_url(|u| u.port() == Some(port) && u.path() == "/team")
        .await
        .expect("back on the portal's team page");
}

#[actix_web::test]
async fn signing_in_through_the_real_pages_shows_the_team_page_and_the_csp_allows_own_assets() {
    let s = start("").await;
    let b = Browser::start_bounded().await;

    b.client.goto(&s.app.url("/login")).await.unwrap();
    assert_eq!(csp_violations(&b).await, Vec::<String>::new(), "on /login");
    sign_in_ui(&b, &s.app, "acme", "bob").await;

    let text = main_text(&b).await;
    assert!(
        text.contains("bob@acme.com") && text.contains("Bob Builder"),
        "{text}"
    );

    let sheets = js(
        &b,
        "return Array.from(document.styleSheets).map((s) => [s.href, s.cssRules.length]);",
    )
    .await;
    let sheets = sheets.as_array().expect("a list");
    assert!(
        sheets.iter().any(
            |s| s[0].as_str().is_some_and(|h| h.contains("/static/app.css"))
                && s[1].as_u64() > Some(0)
        ),
        "app.css is applied: {sheets:?}"
    );
    assert_eq!(
        js(&b, "return getComputedStyle(document.body).display;").await,
        "flex",
        "a rule of app.css is in effect"
    );
    let assets = js(
        &b,
        "return performance.getEntriesByType('resource')
             .filter((e) => e.name.includes('/static/'))
             .map((e) => [new URL(e.name).pathname, e.responseStatus]);",
    )
    .await;
    for asset in ["/static/app.css", "/static/app.js"] {
        assert!(
            assets
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a[0] == asset && a[1] == 200),
            "{asset} loaded: {assets}"
        );
    }
    assert_eq!(csp_violations(&b).await, Vec::<String>::new(), "on /team");

    // The check can see a violation: an inline script is refused and reported.
    let ran = js(
        &b,
        "const s = document.createElement('script');
         s.textContent = 'window.inlineRan = true';
         document.head.appendChild(s);
         return window.inlineRan === true;",
    )
    .await;
    assert_eq!(ran, false, "the CSP blocks inline script");
    let violations = csp_violations(&b).await;
    assert!(
        violations.iter().any(|v| v.contains("script-src")),
        "{violations:?}"
    );

    b.close().await.unwrap();
}

#[actix_web::test]
async fn an_admin_promotes_a_member_who_then_sees_the_admin_navigation_until_demoted() {
    let s = start("").await;
    let member = Browser::start_bounded().await;
    sign_in_ui(&member, &s.app, "acme", "bob").await;
    assert!(!has_billing_link(&member).await);
    let admin = Browser::start_bounded().await;
    sign_in_ui(&admin, &s.app, "acme", "alice").await;
    let bob = s.user_id("acme", "bob@acme.com");
    let row = format!("tr[data-user-id='{bob}']");

    admin
        .click(&format!("{row} form[action$='/role'] button"))
        .await;
    admin
        .wait_for(&format!("{row} input[name='role'][value='member']"))
        .await
        .expect("the row now offers \"Make member\"");
    assert_eq!(
        s.role_of("acme", "bob@acme.com"),
        ("admin".into(), "manual".into())
    );

    member.client.refresh().await.unwrap();
    assert!(has_billing_link(&member).await, "Bob sees Billing");

    admin
        .click(&format!("{row} form[action$='/role'] button"))
        .await;
    admin
        .wait_for(&format!("{row} input[name='role'][value='admin']"))
        .await
        .expect("the row offers \"Make admin\" again");
    assert_eq!(s.role_of("acme", "bob@acme.com").0, "member");

    member.client.refresh().await.unwrap();
    assert!(!has_billing_link(&member).await, "Billing is gone");

    member.close().await.unwrap();
    admin.close().await.unwrap();
}

#[actix_web::test]
async fn a_member_creates_an_api_token_whose_secret_verifies() {
    let s = start("").await;
    let b = Browser::start_bounded().await;
    sign_in_ui(&b, &s.app, "acme", "bob").await;

    b.client.goto(&s.app.url("/tokens")).await.unwrap();
    b.wait_for("#token_name")
        .await
        .unwrap()
        .send_keys("ci-deploy")
        .await
        .unwrap();
    b.click("form[action='/tokens'] button[type=submit]").await;
    let secret = b
        .wait_for("#new-token-secret")
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .expect("the secret is shown");
    assert!(secret.starts_with("tp_"), "{secret}");

    let resp = user_agent()
        .get(s.app.url("/api/v1/verify"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-team-id"], "acme");
    assert_eq!(resp.headers()["x-token-name"], "ci-deploy");

    b.close().await.unwrap();
}

#[actix_web::test]
async fn the_admin_sees_billing_totals_and_a_member_gets_403_at_billing() {
    let s: Sso = start_with(
        serde_json::json!({"clients": [], "accounts": crate::sso_e2e::accounts()}),
        "[billing]\ncurrency = \"EUR\"\nseat_price = \"7.00\"",
        &[("acme", "admin_email = \"alice@acme.com\"")],
    )
    .await;
    let member = Browser::start_bounded().await;
    sign_in_ui(&member, &s.app, "acme", "bob").await;
    let admin = Browser::start_bounded().await;
    sign_in_ui(&admin, &s.app, "acme", "alice").await;

    assert!(has_billing_link(&admin).await);
    admin.click("header nav a[href='/billing']").await;
    let total = admin
        .wait_for("#billing-total")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        total.contains("14.00") && total.contains("EUR"),
        "two seats at 7.00: {total}"
    );

    assert!(!has_billing_link(&member).await);
    member.client.goto(&s.app.url("/billing")).await.unwrap();
    assert_eq!(page_status(&member).await, 403);
    assert!(main_text(&member).await.contains("Not allowed"));
    assert!(member
        .client
        .find_all(Locator::Css("#billing-total"))
        .await
        .unwrap()
        .is_empty());

    member.close().await.unwrap();
    admin.close().await.unwrap();
}

/// `teamportal demo` as a child process; killed on drop.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_web::test]
async fn the_demo_prints_its_accounts_and_signs_in_the_admin_and_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_teamportal"))
        .arg("demo")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database")
        .arg(dir.path().join("demo.db"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("teamportal demo starts");
    let stdout = child.stdout.take().expect("piped");
    let _demo = Demo(child);

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.starts_with("member:")) {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => printed.push(line),
            Err(_) => panic!("the demo did not print its accounts: {printed:?}"),
        }
    }
    assert!(printed.iter().any(|l| l == "Team ID: demo"), "{printed:?}");
    assert!(
        printed.iter().any(|l| l == "admin: admin@demo.test"),
        "{printed:?}"
    );
    assert!(
        printed.iter().any(|l| l == "member: member@demo.test"),
        "{printed:?}"
    );
    let base = format!("http://127.0.0.1:{port}");

    let b = Browser::start_bounded().await;
    for (button, email, admin) in [
        ("#as-demo-admin", "admin@demo.test", true),
        ("#as-demo-member", "member@demo.test", false),
    ] {
        b.client.goto(&format!("{base}/login")).await.unwrap();
        b.wait_for("#team_id")
            .await
            .unwrap()
            .send_keys("demo")
            .await
            .unwrap();
        b.click("form[action='/login/sso'] button[type=submit]")
            .await;
        b.click(button).await;
        b.wait_for_url(|u| u.path() == "/team")
            .await
            .expect("signed in");
        let text = main_text(&b).await;
        assert!(text.contains(email), "{text}");
        assert_eq!(has_billing_link(&b).await, admin, "{email}");
        b.click("form[action='/logout'] button").await;
        b.wait_for_url(|u| u.path() == "/login")
            .await
            .expect("signed out");
    }
    b.close().await.unwrap();
}

#[actix_web::test]
async fn signing_out_offers_the_idp_sign_out_which_comes_back_to_the_login_page() {
    let s = start("").await;
    let b = Browser::start_bounded().await;
    sign_in_ui(&b, &s.app, "acme", "bob").await;

    b.click("form[action='/logout'] button").await;
    b.wait_for_url(|u| u.path() == "/login").await.unwrap();
    let link = b
        .wait_for("a[href*='/session/end']")
        .await
        .expect("a link to sign out of the IdP too");
    let href = link.attr("href").await.unwrap().unwrap_or_default();
    assert!(href.starts_with(&s.idp.url("/")), "{href}");
    link.click().await.unwrap();
    b.click("#logout").await;
    let port = s.app.port;
    b.wait_for_url(|u| u.port() == Some(port) && u.path() == "/login")
        .await
        .expect("the IdP sends the browser back to the portal");
    assert_eq!(page_status(&b).await, 200);

    // Signed out at the IdP as well: the next sign-in asks for the account again.
    sign_in_ui(&b, &s.app, "acme", "carol").await;
    assert!(main_text(&b).await.contains("carol@acme.com"));
    b.close().await.unwrap();
}

/// A team made with `teamportal admin create-team` (so editable in the browser) on the real
/// IdP, admin alice@acme.com, client secret [`SHELL_SECRET`].
async fn shell_team_on_real_idp() -> Sso {
    const SHELL_SECRET: &str = "shell-team-secret-0123456789";
    let idp = crate::support::idp::TestIdp::start(
        serde_json::json!({"clients": [], "accounts": crate::sso_e2e::accounts()}),
    )
    .expect("the test IdP starts (run tests/run once)");
    let dir = tempfile::tempdir().unwrap();
    // The test IdP is on loopback: the admin may enter it only when the operator allows.
    let security = "[security]\nallow_private_issuers = true\n";
    crate::helpers::create_shell_team(
        dir.path(),
        security,
        &idp.issuer,
        "portal-shellco",
        "alice@acme.com",
        SHELL_SECRET,
    );
    let app = crate::helpers::spawn_app_in(dir, security).await;
    idp.set_client(serde_json::json!({
        "client_id": "portal-shellco",
        "client_secret": SHELL_SECRET,
        "redirect_uris": [app.url("/sso/shellco/callback")],
    }))
    .await
    .expect("the IdP registers the portal's client");
    Sso { app, idp }
}

/// Saves the settings form with `secret` and follows the test sign-in back to the page.
async fn save_and_test(b: &Browser, port: u16, secret: &str) -> String {
    b.wait_for("#client_secret")
        .await
        .unwrap()
        .send_keys(secret)
        .await
        .unwrap();
    js(b, "window.beforeSave = true; return true;").await;
    b.click("#save-and-test").await;
    // Off to the IdP (which may remember the admin, or ask again) and back to a new page.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let url = b.client.current_url().await.unwrap();
        if url.port() != Some(port)
            && !b
                .client
                .find_all(Locator::Css("#login"))
                .await
                .unwrap()
                .is_empty()
        {
            b.idp_sign_in("alice").await.expect("the IdP's form");
        }
        let fresh = js(
            b,
            "return window.beforeSave === undefined && document.readyState === 'complete';",
        )
        .await;
        if url.port() == Some(port) && url.path() == "/settings/sso" && fresh == true {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "stuck at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.wait_for("#test-result")
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[actix_web::test]
async fn an_admin_copies_the_redirect_uri_tests_a_wrong_secret_then_a_right_one_and_applies() {
    let s = shell_team_on_real_idp().await;
    let b = Browser::start_bounded().await;
    sign_in_ui(&b, &s.app, "shellco", "alice").await;
    b.client.goto(&s.app.url("/settings/sso")).await.unwrap();

    // Copy the redirect URI with the page's button, then paste it as a person would (with
    // the keyboard, into a text box; reading the clipboard from script needs a permission).
    b.click("button[data-copy='redirect-uri']").await;
    b.wait_for("button.copy[data-copy='redirect-uri']")
        .await
        .unwrap();
    let label = b
        .client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::XPath(
            "//button[@data-copy='redirect-uri' and text()='Copied']",
        ))
        .await
        .map(|_| "Copied")
        .unwrap_or("Copy");
    assert_eq!(label, "Copied", "the button confirms the copy");
    js(
        &b,
        "const t = document.createElement('textarea'); t.id = 'pasted';
         document.body.appendChild(t); return true;",
    )
    .await;
    let pasted = b.wait_for("#pasted").await.unwrap();
    pasted.send_keys("\u{E009}v\u{E000}").await.unwrap();
    assert_eq!(
        pasted.prop("value").await.unwrap().as_deref(),
        Some(s.app.url("/sso/shellco/callback").as_str()),
        "the clipboard holds the redirect URI"
    );

    let port = s.app.port;
    let failed = save_and_test(&b, port, "a-wrong-secret").await;
    assert!(failed.contains("failed"), "{failed}");
    assert!(
        b.client
            .find_all(Locator::Css("#apply"))
            .await
            .unwrap()
            .is_empty(),
        "nothing to apply after a failed test"
    );

    let passed = save_and_test(&b, port, "shell-team-secret-0123456789").await;
    assert!(passed.contains("worked"), "{passed}");
    b.click("#apply").await;
    let text = main_text_when(&b, |t| t.contains("applied") || t.contains("Applied")).await;
    assert!(
        text.contains("applied") || text.contains("Applied"),
        "{text}"
    );
    assert_eq!(
        b.client.current_url().await.unwrap().path(),
        "/settings/sso"
    );
    assert_eq!(s.app.count("SELECT count(*) FROM sso_pending"), 0);
    assert_eq!(
        s.app
            .count("SELECT count(*) FROM audit WHERE action = 'sso_settings_applied'"),
        1
    );
    b.close().await.unwrap();
}
