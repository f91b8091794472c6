//! Login CSRF: a browser already signed in that is made to finish a sign-in as someone else
//! (another team's IdP account, or another user of its own team) through a link
//! (`/sso/{team}/login`, `/sso/{team}/initiate`) is asked first, on a page with one POST
//! form; until it confirms, its session, the accounts and the audit log stay as they were.
//! Signing in again as oneself asks nothing, nor does a sign-in started from the portal's
//! own form (`POST /login/sso`, which needs the browser's CSRF token).

use reqwest::{Client, Response, StatusCode};

use crate::helpers::{browser, csrf_in, location, spawn_app, TestApp};
use crate::support::fake_idp::FakeIdp;

struct Two {
    app: TestApp,
    acme: FakeIdp,
    /// The IdP of a team whose admin is hostile to Acme's members.
    evil: FakeIdp,
}

async fn two_teams() -> Two {
    let (acme, evil) = (FakeIdp::start().await, FakeIdp::start().await);
    let app = spawn_app(&format!(
        "{}{}",
        acme.team_toml("acme", ""),
        evil.team_toml("evil", "")
    ))
    .await;
    Two { app, acme, evil }
}

/// Alice, signed in to Acme.
async fn alice(t: &Two) -> Client {
    let alice = browser();
    let r = t
        .acme
        .sign_in(&t.app, &alice, "acme", "alice", "alice@acme.test")
        .await;
    assert_eq!(location(&r), "/team");
    alice
}

/// What the store says about who is who: accounts, audit rows, and whose sessions exist.
fn snapshot(app: &TestApp) -> (i64, i64, String) {
    let who: String = app
        .db()
        .query_row(
            "SELECT coalesce(group_concat(u.email, ','), '') FROM sessions s JOIN users u ON u.id = s.user_id",
            [],
            |r| r.get(0),
        )
        .expect("sessions");
    (
        app.count("SELECT count(*) FROM users"),
        app.count("SELECT count(*) FROM audit"),
        who,
    )
}

/// The team page's heading names whom the browser is signed in as.
async fn signed_in_as(app: &TestApp, c: &Client) -> Option<String> {
    let (status, body) = app.text(c, "/team").await;
    if status != StatusCode::OK {
        return None;
    }
    ["alice@acme.test", "bob@acme.test", "mallory@evil.test"]
        .into_iter()
        .find(|e| body.contains(&format!("title=\"{e}\"")))
        .map(String::from)
}

/// The confirmation page: 200, one POST form, naming both people; its (csrf, hold).
async fn confirmation(r: Response, now: &str, then: &str) -> (String, String) {
    assert_eq!(r.status(), StatusCode::OK, "asked before switching");
    let body = r.text().await.expect("body");
    assert_eq!(body.matches("<form").count(), 1, "one form: {body}");
    assert!(
        body.contains("method=\"post\" action=\"/login/confirm\""),
        "{body}"
    );
    assert!(body.contains(now) && body.contains(then), "{body}");
    let marker = "name=\"hold\" value=\"";
    let start = body.find(marker).expect("hold field") + marker.len();
    let end = body[start..].find('"').expect("quote") + start;
    (csrf_in(&body), body[start..end].to_string())
}

/// Alice, signed in to Acme, with a sign-in page she opened before (a tab left open): the
/// browser's anonymous CSRF token that page's form carries.
async fn alice_with_an_open_sign_in_page(t: &Two) -> (Client, String) {
    let alice = browser();
    let token = t.app.csrf(&alice, "/login").await;
    let r = t
        .acme
        .sign_in(&t.app, &alice, "acme", "alice", "alice@acme.test")
        .await;
    assert_eq!(location(&r), "/team");
    (alice, token)
}

/// Starts a sign-in from the portal's own form (`POST /login/sso` with the browser's
/// anonymous CSRF token) and has `idp` complete it; the portal's answer to the callback.
async fn sign_in_from_form(
    app: &TestApp,
    idp: &FakeIdp,
    (c, token): &(Client, String),
    team: &str,
    (sub, email): (&str, &str),
) -> Response {
    let r = app
        .post(c, "/login/sso", &[("csrf_token", token), ("team_id", team)])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the form starts the sign-in"
    );
    idp.finish(app, c, team, &location(&r), (sub, email), |_| {})
        .await
}

async fn answer(app: &TestApp, c: &Client, csrf: &str, hold: &str, decision: &str) -> Response {
    app.post(
        c,
        "/login/confirm",
        &[("csrf_token", csrf), ("hold", hold), ("decision", decision)],
    )
    .await
}

#[actix_web::test]
async fn a_forced_sign_in_into_another_team_asks_first_and_cancelling_keeps_the_session() {
    let t = two_teams().await;
    let alice = alice(&t).await;
    let before = snapshot(&t.app);

    // A cross-site link sends Alice's browser to Evil's sign-in; Evil's IdP completes it
    // with the attacker's own account.
    let r = t
        .evil
        .sign_in(&t.app, &alice, "evil", "mallory", "mallory@evil.test")
        .await;
    let (csrf, hold) = confirmation(r, "alice@acme.test", "mallory@evil.test").await;
    assert_eq!(snapshot(&t.app), before, "nothing changed yet");
    assert_eq!(
        signed_in_as(&t.app, &alice).await.as_deref(),
        Some("alice@acme.test")
    );

    let r = answer(&t.app, &alice, &csrf, &hold, "stay").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/team");
    assert_eq!(
        signed_in_as(&t.app, &alice).await.as_deref(),
        Some("alice@acme.test")
    );
    assert_eq!(snapshot(&t.app), before);

    // The cancelled sign-in cannot be confirmed afterwards.
    let r = answer(&t.app, &alice, &csrf, &hold, "switch").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        signed_in_as(&t.app, &alice).await.as_deref(),
        Some("alice@acme.test")
    );
    assert_eq!(snapshot(&t.app), before);
}

#[actix_web::test]
async fn the_confirmation_needs_its_csrf_token_and_its_hold() {
    let t = two_teams().await;
    let alice = alice(&t).await;
    let before = snapshot(&t.app);
    let r = t
        .evil
        .sign_in(&t.app, &alice, "evil", "mallory", "mallory@evil.test")
        .await;
    let (csrf, hold) = confirmation(r, "alice@acme.test", "mallory@evil.test").await;

    // A cross-site form cannot know the token; nor does another hold id switch anything.
    for (token, hold_id, status) in [
        ("", hold.as_str(), StatusCode::FORBIDDEN),
        ("forged", hold.as_str(), StatusCode::FORBIDDEN),
        (csrf.as_str(), "other", StatusCode::BAD_REQUEST),
    ] {
        let r = answer(&t.app, &alice, token, hold_id, "switch").await;
        assert_eq!(r.status(), status, "token {token:?}, hold {hold_id:?}");
        assert_eq!(
            signed_in_as(&t.app, &alice).await.as_deref(),
            Some("alice@acme.test")
        );
        assert_eq!(snapshot(&t.app), before);
    }
}

#[actix_web::test]
async fn confirming_the_switch_replaces_the_session() {
    let t = two_teams().await;
    let alice = alice(&t).await;
    let r = t
        .evil
        .sign_in(&t.app, &alice, "evil", "mallory", "mallory@evil.test")
        .await;
    let (csrf, hold) = confirmation(r, "alice@acme.test", "mallory@evil.test").await;
    let r = answer(&t.app, &alice, &csrf, &hold, "switch").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/team");
    assert_eq!(
        signed_in_as(&t.app, &alice).await.as_deref(),
        Some("mallory@evil.test")
    );
    let (users, _, sessions) = snapshot(&t.app);
    assert_eq!(users, 2);
    assert_eq!(
        sessions, "mallory@evil.test",
        "Alice's session was replaced"
    );
}

#[actix_web::test]
async fn another_user_of_the_same_team_asks_first_but_the_same_user_does_not() {
    let t = two_teams().await;
    let alice = alice(&t).await;
    let before = snapshot(&t.app);
    let r = t
        .acme
        .sign_in(&t.app, &alice, "acme", "bob", "bob@acme.test")
        .await;
    let (csrf, hold) = confirmation(r, "alice@acme.test", "bob@acme.test").await;
    assert_eq!(snapshot(&t.app), before);
    let r = answer(&t.app, &alice, &csrf, &hold, "stay").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Alice signing in again as herself: straight in, with a new session.
    let r = t
        .acme
        .sign_in(&t.app, &alice, "acme", "alice", "alice@acme.test")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/team");
    assert_eq!(
        signed_in_as(&t.app, &alice).await.as_deref(),
        Some("alice@acme.test")
    );
    let (users, _, sessions) = snapshot(&t.app);
    assert_eq!((users, sessions.as_str()), (1, "alice@acme.test"));
}

#[actix_web::test]
async fn a_sign_in_started_from_the_portal_form_switches_at_once_but_a_link_still_asks() {
    let t = two_teams().await;

    // Into another team, from the form: 303, no confirmation page, a new session.
    let to_evil = alice_with_an_open_sign_in_page(&t).await;
    let r = sign_in_from_form(
        &t.app,
        &t.evil,
        &to_evil,
        "evil",
        ("mallory", "mallory@evil.test"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "no confirmation page");
    assert_eq!(location(&r), "/team");
    assert_eq!(
        signed_in_as(&t.app, &to_evil.0).await.as_deref(),
        Some("mallory@evil.test")
    );
    let (users, _, sessions) = snapshot(&t.app);
    assert_eq!((users, sessions.as_str()), (2, "mallory@evil.test"));

    // As another user of the same team, from the form: switched directly too.
    let to_bob = alice_with_an_open_sign_in_page(&t).await;
    let r = sign_in_from_form(&t.app, &t.acme, &to_bob, "acme", ("bob", "bob@acme.test")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "no confirmation page");
    assert_eq!(location(&r), "/team");
    assert_eq!(
        signed_in_as(&t.app, &to_bob.0).await.as_deref(),
        Some("bob@acme.test")
    );

    // The same switches through a link still ask first and change nothing until answered.
    let by_link = alice(&t).await;
    let before = snapshot(&t.app);
    let r = t
        .evil
        .sign_in(&t.app, &by_link, "evil", "mallory", "mallory@evil.test")
        .await;
    confirmation(r, "alice@acme.test", "mallory@evil.test").await;
    let r = t
        .acme
        .sign_in(&t.app, &by_link, "acme", "bob", "bob@acme.test")
        .await;
    confirmation(r, "alice@acme.test", "bob@acme.test").await;
    let start = t
        .app
        .get(
            &by_link,
            &format!("/sso/evil/initiate?iss={}", urlencode(&t.evil.issuer)),
        )
        .await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "initiate starts");
    let r = t
        .evil
        .finish(
            &t.app,
            &by_link,
            "evil",
            &location(&start),
            ("mallory", "mallory@evil.test"),
            |_| {},
        )
        .await;
    confirmation(r, "alice@acme.test", "mallory@evil.test").await;
    assert_eq!(snapshot(&t.app), before, "nothing changed yet");
    assert_eq!(
        signed_in_as(&t.app, &by_link).await.as_deref(),
        Some("alice@acme.test")
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
