//! The confirmation pages of ending sessions and of rotating or revoking the SCIM token: each
//! changes nothing until its one POST is sent, others cannot open it (a member 403, another
//! user's session 404), and the POST answers 303 with a one-time `role="status"` message.

use reqwest::{Client, StatusCode};

use super::answers::flash;
use crate::helpers::{csrf_in, location, TestApp};
use crate::logout::sessions::listed;
use crate::logout::{acme, live_sessions, signed_in, works};
use crate::scim::{new_token, Portal, ScimClient};

/// Sends the form of the confirmation page `page` (its CSRF token) to `action`.
async fn confirm(app: &TestApp, client: &Client, page: &str, action: &str) -> reqwest::Response {
    assert!(
        page.contains(&format!("action=\"{action}\"")),
        "the page's form makes the POST: {page}"
    );
    client
        .post(app.url(action))
        .form(&[("csrf_token", csrf_in(page))])
        .send()
        .await
        .expect("POST")
}

/// `r` answered 303 to `/sessions`, which then says `said` once; its page.
async fn back_to_sessions_saying(
    app: &TestApp,
    client: &Client,
    r: reqwest::Response,
    said: &str,
) -> String {
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/sessions".into())
    );
    let (_, page) = app.text(client, "/sessions").await;
    assert_eq!(flash(&page).as_deref(), Some(said), "{page}");
    page
}

#[actix_web::test]
async fn ending_a_session_or_all_others_asks_first_and_says_what_it_did_once() {
    let (app, idp) = acme().await;
    let laptop = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let phone = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let tablet = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let carol = signed_in(&app, &idp, "acme", ("u-carol", "carol@acme.com"), None).await;
    let (sessions, page) = listed(&app, &laptop).await;
    let other = sessions.iter().find(|s| !s.1).expect("another").0.clone();
    let ask = format!("/sessions/{other}/revoke/confirm");
    assert!(page.contains(&format!("href=\"{ask}\"")), "{page}");
    assert!(page.contains("href=\"/sessions/revoke-others/confirm\""));

    // Asking ends nothing; another user's session is not theirs to see.
    let (status, page) = app.text(&laptop, &ask).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("End the session of ") && page.contains("Cancel"),
        "{page}"
    );
    assert_eq!(live_sessions(&app), 4, "asking ends nothing");
    assert_eq!(app.get(&carol, &ask).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&laptop, "/sessions/no-such-session/revoke/confirm")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(live_sessions(&app), 4);
    assert!(works(&app, &phone).await && works(&app, &tablet).await);

    let r = confirm(&app, &laptop, &page, &format!("/sessions/{other}/revoke")).await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/sessions".into())
    );
    assert_eq!(live_sessions(&app), 3);
    let (_, page) = app.text(&laptop, "/sessions").await;
    let said = flash(&page).expect("said on the page it lands on");
    assert!(
        said.starts_with("The session of ")
            && said.ends_with("was ended: that browser is signed out."),
        "{said}"
    );
    assert!(page.contains("role=\"status\""));
    let (_, again) = app.text(&laptop, "/sessions").await;
    assert_eq!(flash(&again), None, "said once");

    // All others: one left besides this one, in the singular.
    let (status, page) = app.text(&laptop, "/sessions/revoke-others/confirm").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("You have 1 other session:"), "{page}");
    assert_eq!(live_sessions(&app), 3, "asking ends nothing");
    let r = confirm(&app, &laptop, &page, "/sessions/revoke-others").await;
    back_to_sessions_saying(
        &app,
        &laptop,
        r,
        "Ended 1 other session: only this browser is signed in now.",
    )
    .await;
    assert!(works(&app, &laptop).await && works(&app, &carol).await);
    assert!(!works(&app, &phone).await && !works(&app, &tablet).await);

    // With none left there is nothing to ask: back to the list, which says so.
    let r = app.get(&laptop, "/sessions/revoke-others/confirm").await;
    let page = back_to_sessions_saying(
        &app,
        &laptop,
        r,
        "You have no other sessions: only this browser is signed in.",
    )
    .await;
    assert!(
        !page.contains("href=\"/sessions/revoke-others/confirm\""),
        "{page}"
    );
    assert_eq!(live_sessions(&app), 2, "nothing ended");

    // A visitor with no session is sent to sign in, and nothing is ended.
    let r = app
        .get(
            &crate::helpers::browser(),
            "/sessions/revoke-others/confirm",
        )
        .await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/login".into())
    );
    assert_eq!(live_sessions(&app), 2);
}

#[actix_web::test]
async fn an_admins_end_sessions_answers_303_to_the_list_with_its_search_and_says_so() {
    let (app, idp) = acme().await;
    let alice = signed_in(&app, &idp, "acme", ("u-alice", "alice@acme.com"), None).await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let bob_id: i64 = app.user("acme", "bob@acme.com", "id", |r| r.get(0));
    let (_, page) = app
        .text(
            &alice,
            &format!("/team/members/{bob_id}/sessions/revoke/confirm?q=bo"),
        )
        .await;
    let r = alice
        .post(app.url(&format!("/team/members/{bob_id}/sessions/revoke")))
        .form(&[("csrf_token", csrf_in(&page)), ("back_q", "bo".into())])
        .send()
        .await
        .expect("POST");
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/team?q=bo".into())
    );
    assert!(!works(&app, &bob).await);
    let (_, team) = app.text(&alice, "/team?q=bo").await;
    let said = flash(&team).expect("said");
    assert!(
        said.starts_with("Ended 1 session of ") && said.contains("signed out everywhere"),
        "{said}"
    );
}

#[actix_web::test]
async fn rotating_and_revoking_the_scim_token_ask_first_and_a_new_token_is_shown_once_after_a_redirect(
) {
    let p = Portal::acme("").await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let app = &p.app;
    // No token yet: nothing to revoke; the page creates one in one step.
    assert_eq!(
        app.get(&alice, "/settings/scim/token/revoke/confirm")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let first = new_token(app, &alice).await;
    let (_, page) = app.text(&alice, "/settings/scim").await;
    assert!(
        !page.contains(&first),
        "shown once: a reload does not show it"
    );
    assert!(
        page.contains("href=\"/settings/scim/token/confirm\""),
        "{page}"
    );
    assert!(page.contains("href=\"/settings/scim/token/revoke/confirm\""));
    let scim = ScimClient::new(app, &first);
    let tokens = || app.count("SELECT count(*) FROM scim_tokens");
    let audit = || app.count("SELECT count(*) FROM audit WHERE action LIKE 'scim_token%'");
    let audited = audit();

    // Members cannot open either page; the admin's changes nothing.
    for ask in [
        "/settings/scim/token/confirm",
        "/settings/scim/token/revoke/confirm",
    ] {
        assert_eq!(
            app.get(&bob, ask).await.status(),
            StatusCode::FORBIDDEN,
            "{ask}"
        );
        let (status, page) = app.text(&alice, ask).await;
        assert_eq!(status, StatusCode::OK, "{ask}");
        assert!(
            page.contains("Cancel") && page.contains("the SCIM token?"),
            "{page}"
        );
    }
    assert_eq!(
        scim.get("/Users").await.0,
        StatusCode::OK,
        "the token still works"
    );
    assert_eq!((tokens(), audit()), (1, audited), "nothing changed");

    // Rotate from its page: 303, the new token once on the page after it, the old one refused.
    let (_, page) = app.text(&alice, "/settings/scim/token/confirm").await;
    let r = confirm(app, &alice, &page, "/settings/scim/token").await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/settings/scim".into())
    );
    let r = app.get(&alice, "/settings/scim").await;
    assert_eq!(crate::tokens::header(&r, "cache-control"), "no-store");
    let page = r.text().await.expect("page");
    let second = crate::tokens::attr_after(&page, "id=\"scim-token\"", "value").expect("shown");
    assert_ne!(second, first);
    assert!(
        flash(&page).is_some_and(|f| f.starts_with("The SCIM token was rotated")),
        "{page}"
    );
    assert_eq!(scim.get("/Users").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scim.with_token(&second).get("/Users").await.0,
        StatusCode::OK
    );
    let (_, reloaded) = app.text(&alice, "/settings/scim").await;
    assert!(
        !reloaded.contains(&second) && flash(&reloaded).is_none(),
        "once"
    );

    // Revoke from its page.
    let (_, page) = app
        .text(&alice, "/settings/scim/token/revoke/confirm")
        .await;
    let r = confirm(app, &alice, &page, "/settings/scim/token/revoke").await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/settings/scim".into())
    );
    assert_eq!(tokens(), 0);
    assert_eq!(
        scim.with_token(&second).get("/Users").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, page) = app.text(&alice, "/settings/scim").await;
    assert_eq!(
        flash(&page).as_deref(),
        Some("The SCIM token was revoked: SCIM requests now answer 401.")
    );
}

#[actix_web::test]
async fn an_api_token_and_a_scim_token_waiting_at_once_each_show_only_on_their_own_page() {
    let p = Portal::acme("").await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let app = &p.app;
    // Both made, neither redirect followed yet: both secrets wait in the one session.
    let csrf = app.csrf(&alice, "/settings/scim").await;
    let r = app
        .post(&alice, "/settings/scim/token", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = app.post_csrf(&alice, "/tokens", &[("name", "ci")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let (_, tokens_page) = app.text(&alice, "/tokens").await;
    let (_, api_secret) = crate::tokens::shown_secret(&tokens_page);
    assert!(!tokens_page.contains("id=\"scim-token\""), "{tokens_page}");
    let (_, scim_page) = app.text(&alice, "/settings/scim").await;
    let scim_secret = crate::tokens::attr_after(&scim_page, "id=\"scim-token\"", "value")
        .expect("the SCIM page shows its own token");
    assert!(
        !scim_page.contains(&api_secret),
        "no API token on the SCIM page"
    );
    assert!(
        !tokens_page.contains(&scim_secret),
        "no SCIM token on the tokens page"
    );
    assert_ne!(api_secret, scim_secret);
}
