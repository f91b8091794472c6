//! `/sessions` (a user's own sessions: listed with started, last seen, address and browser,
//! ended one at a time or all others) and an admin's "end sessions" on `/team`.

use reqwest::{Client, StatusCode};

use super::{acme, live_sessions, signed_in, works};
use crate::helpers::{csrf_in, location, TestApp};

/// The session ids on `client`'s sessions page: (id, is this session).
pub(crate) async fn listed(app: &TestApp, client: &Client) -> (Vec<(String, bool)>, String) {
    let (status, page) = app.text(client, "/sessions").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut out = Vec::new();
    for row in page.split("<tr data-session-id=\"").skip(1) {
        let id = row.split('"').next().unwrap_or_default().to_string();
        let end = row.find("</tr>").unwrap_or(row.len());
        out.push((id, row[..end].contains("this session")));
    }
    (out, page)
}

async fn post(app: &TestApp, client: &Client, path: &str) -> reqwest::Response {
    let token = app.csrf(client, "/sessions").await;
    app.post(client, path, &[("csrf_token", &token)]).await
}

#[actix_web::test]
async fn two_browsers_see_both_sessions_and_one_ends_the_other() {
    let (app, idp) = acme().await;
    let laptop = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let phone = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;

    let (sessions, page) = listed(&app, &laptop).await;
    assert_eq!(sessions.len(), 2, "{page}");
    assert_eq!(
        sessions.iter().filter(|s| s.1).count(),
        1,
        "this one is marked"
    );
    assert!(page.contains("127.0.0.1"), "the address is shown");
    assert!(page.contains("UTC"), "started and last seen are shown");
    let other = sessions
        .iter()
        .find(|s| !s.1)
        .expect("the phone's")
        .0
        .clone();

    let r = post(&app, &laptop, &format!("/sessions/{other}/revoke")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/sessions");
    assert!(
        !works(&app, &phone).await,
        "the phone is signed out at once"
    );
    assert!(works(&app, &laptop).await);
    assert_eq!(listed(&app, &laptop).await.0.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'session_revoked'"),
        1
    );
}

#[actix_web::test]
async fn another_user_cannot_end_someone_elses_session() {
    let (app, idp) = acme().await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let carol = signed_in(&app, &idp, "acme", ("u-carol", "carol@acme.com"), None).await;
    let (bobs, _) = listed(&app, &bob).await;
    let before = live_sessions(&app);

    let r = post(&app, &carol, &format!("/sessions/{}/revoke", bobs[0].0)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(&app, &carol, "/sessions/no-such-session/revoke").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(live_sessions(&app), before, "nothing ended");
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'session_revoked'"),
        0,
        "a revoke that ended nothing writes no audit row"
    );
    assert!(works(&app, &bob).await);

    // Without the CSRF token: 403, nothing ended.
    let r = app
        .post(&bob, &format!("/sessions/{}/revoke", bobs[0].0), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(works(&app, &bob).await);
}

#[actix_web::test]
async fn ending_all_other_sessions_keeps_this_one_and_ending_this_one_signs_out() {
    let (app, idp) = acme().await;
    let a = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let b = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let c = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let carol = signed_in(&app, &idp, "acme", ("u-carol", "carol@acme.com"), None).await;

    let r = post(&app, &a, "/sessions/revoke-others").await;
    assert_eq!(location(&r), "/sessions");
    assert!(works(&app, &a).await);
    assert!(!works(&app, &b).await && !works(&app, &c).await);
    assert!(works(&app, &carol).await, "only the user's own sessions");

    let (mine, _) = listed(&app, &a).await;
    let r = post(&app, &a, &format!("/sessions/{}/revoke", mine[0].0)).await;
    assert_eq!(location(&r), "/login");
    assert!(!works(&app, &a).await);
}

#[actix_web::test]
async fn an_admin_ends_every_session_of_a_member_and_a_member_cannot() {
    let (app, idp) = acme().await;
    let alice = signed_in(&app, &idp, "acme", ("u-alice", "alice@acme.com"), None).await;
    let bob1 = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let bob2 = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let carol = signed_in(&app, &idp, "acme", ("u-carol", "carol@acme.com"), None).await;
    let bob_id: i64 = app.user("acme", "bob@acme.com", "id", |r| r.get(0));
    let alice_id: i64 = app.user("acme", "alice@acme.com", "id", |r| r.get(0));
    let path = format!("/team/members/{bob_id}/sessions/revoke");

    let (_, team_page) = app.text(&alice, "/team").await;
    // The button leads to a confirmation page whose form makes the POST.
    assert!(
        team_page.contains(&format!("href=\"{path}/confirm")),
        "the button is on /team"
    );
    let (status, ask) = app.text(&alice, &format!("{path}/confirm")).await;
    assert_eq!(status, 200);
    assert!(ask.contains(&format!("action=\"{path}\"")), "{ask}");

    // A member: 403, nothing ended.
    let before = live_sessions(&app);
    let token = csrf_in(&app.text(&carol, "/team").await.1);
    let r = app
        .post(
            &carol,
            &format!("/team/members/{alice_id}/sessions/revoke"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(live_sessions(&app), before);
    assert!(works(&app, &alice).await);

    let r = app.post_csrf(&alice, &path, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/team");
    assert!(!works(&app, &bob1).await && !works(&app, &bob2).await);
    assert!(works(&app, &alice).await && works(&app, &carol).await);
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'sessions_ended' AND target = 'bob@acme.com' AND detail = '2 session(s) ended'"),
        1
    );
    // An id that is no member of this team: 404.
    let r = app
        .post_csrf(&alice, "/team/members/999999/sessions/revoke", &[])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn an_admin_cannot_end_the_sessions_of_another_teams_member() {
    let ours = crate::support::fake_idp::FakeIdp::start().await;
    let theirs = crate::support::fake_idp::FakeIdp::start().await;
    let app = crate::helpers::spawn_app(&format!(
        "{}{}",
        ours.team_toml("acme", "admin_email = \"alice@acme.com\""),
        theirs.team_toml("other", "")
    ))
    .await;
    let alice = signed_in(&app, &ours, "acme", ("u-alice", "alice@acme.com"), None).await;
    let zed = signed_in(&app, &theirs, "other", ("u-zed", "zed@other.com"), None).await;
    let zed_id: i64 = app.user("other", "zed@other.com", "id", |r| r.get(0));
    let r = app
        .post_csrf(
            &alice,
            &format!("/team/members/{zed_id}/sessions/revoke"),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(works(&app, &zed).await);
}

#[actix_web::test]
async fn removing_a_member_ends_their_sessions_through_the_same_function() {
    let (app, idp) = acme().await;
    let alice = signed_in(&app, &idp, "acme", ("u-alice", "alice@acme.com"), None).await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("s-b")).await;
    let bob_id: i64 = app.user("acme", "bob@acme.com", "id", |r| r.get(0));
    let r = app
        .post_csrf(&alice, &format!("/team/members/{bob_id}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!works(&app, &bob).await);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = {bob_id}"
        )),
        0
    );
}

#[actix_web::test]
async fn the_sso_settings_page_shows_the_sign_out_and_back_channel_logout_uris_to_paste() {
    let (app, idp) = acme().await;
    let alice = signed_in(&app, &idp, "acme", ("u-alice", "alice@acme.com"), None).await;
    let (status, page) = app.text(&alice, "/settings/sso").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&app.url("/login")),
        "post-logout redirect URI"
    );
    assert!(
        page.contains(&app.url("/sso/acme/backchannel-logout")),
        "back-channel logout URI"
    );
    // A team from the config file, idp_logout off: the note says where it is turned on.
    assert!(
        page.contains("Used once the team sets idp_logout = true in the config file"),
        "{page}"
    );
    assert!(!page.contains("Okta session"), "no IdP is assumed");
}
