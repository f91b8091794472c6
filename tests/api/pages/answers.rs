//! The answers of the team and tokens pages through real HTTP.

use reqwest::StatusCode;

use crate::helpers::{csrf_in, location, TestApp};
use crate::tokens::{acme, create, sign_in, verify};

fn user_id(app: &TestApp, email: &str) -> i64 {
    app.user("acme", email, "id", |r| r.get(0))
}

/// The one-time confirmation a page shows, if any.
pub(super) fn flash(page: &str) -> Option<String> {
    let start = page.find("id=\"flash\"")?;
    let text = &page[page[start..].find('>')? + start + 1..];
    Some(text[..text.find("</p>")?].to_string())
}

#[actix_web::test]
async fn a_role_change_answers_303_to_the_list_with_its_search_and_page_and_says_so_once() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    let bob = user_id(&app, "bob@acme.com");

    // The row's form carries the list's search back.
    let (_, page) = app.text(&alice, "/team?q=bob").await;
    assert!(page.contains("name=\"back_q\" value=\"bob\""), "{page}");
    let r = app
        .post_csrf(
            &alice,
            &format!("/team/members/{bob}/role"),
            &[("role", "admin"), ("back_q", "bob"), ("back_page", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/team?q=bob");
    assert_eq!(
        app.user("acme", "bob@acme.com", "role", |r| r.get::<_, String>(0)),
        "admin"
    );
    let (_, page) = app.text(&alice, "/team?q=bob").await;
    let said = flash(&page).expect("a confirmation on the page it lands on");
    assert!(said.ends_with("is now an admin."), "{said}");
    assert!(
        page.contains(&format!("role=\"status\">{said}")),
        "a live region"
    );
    let (_, again) = app.text(&alice, "/team?q=bob").await;
    assert_eq!(flash(&again), None, "said once");

    // Page and search both come back; nothing but the list is a way back.
    let r = app
        .post_csrf(
            &alice,
            &format!("/team/members/{bob}/role"),
            &[("role", "member"), ("back_q", "b o"), ("back_page", "2")],
        )
        .await;
    assert_eq!(location(&r), "/team?q=b+o&page=2");
    let r = app
        .post_csrf(
            &alice,
            &format!("/team/members/{bob}/role"),
            &[("role", "admin"), ("back_page", "//evil.test")],
        )
        .await;
    assert_eq!(location(&r), "/team");
}

#[actix_web::test]
async fn remove_and_revoke_ask_first_on_a_page_that_changes_nothing_until_its_form_is_sent() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let bob = sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    let carol = sign_in(&app, &idp, "acme", "c", "carol@acme.com").await;
    let bob_id = user_id(&app, "bob@acme.com");
    let active =
        |app: &TestApp| app.user("acme", "bob@acme.com", "active", |r| r.get::<_, bool>(0));

    // The team page's Remove leads to a page; opening it changes nothing.
    let (_, team) = app.text(&alice, "/team?q=bo").await;
    let confirm = format!("/team/members/{bob_id}/remove/confirm?q=bo");
    assert!(team.contains(&format!("href=\"{confirm}\"")), "{team}");
    let (status, page) = app.text(&alice, &confirm).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("action=\"/team/members/{bob_id}/remove\"")));
    assert!(page.contains("name=\"back_q\" value=\"bo\"") && page.contains("Cancel"));
    assert!(active(&app), "asking removes no one");
    assert_eq!(app.get(&bob, "/team").await.status(), StatusCode::OK);
    // Members cannot open it; an unknown member is not there.
    assert_eq!(
        app.get(&carol, &confirm).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&alice, "/team/members/999999/remove/confirm")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // The page's own form removes, and the list says so where it came from.
    let mut form = vec![("csrf_token".to_string(), csrf_in(&page))];
    form.push(("back_q".into(), "bo".into()));
    let r = alice
        .post(app.url(&format!("/team/members/{bob_id}/remove")))
        .form(&form)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/team?q=bo");
    assert!(!active(&app));
    let (_, team) = app.text(&alice, "/team?q=bo").await;
    assert!(
        flash(&team).is_some_and(|f| f.contains("was removed")),
        "{team}"
    );

    // Revoke: the creator's confirmation page changes nothing; another member may not open it.
    let (id, secret) = create(&app, &carol, &[("name", "ci-deploy")]).await;
    let (_, tokens) = app.text(&carol, "/tokens").await;
    let confirm = format!("/tokens/{id}/revoke/confirm");
    assert!(tokens.contains(&format!("href=\"{confirm}\"")), "{tokens}");
    assert!(
        tokens.contains("Revoke<span class=\"vh\"> ci-deploy</span>"),
        "named per row"
    );
    let (status, page) = app.text(&carol, &confirm).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("action=\"/tokens/{id}/revoke\"")));
    assert_eq!(
        verify(&app, &secret).await.status(),
        StatusCode::OK,
        "still verifies"
    );
    let other = sign_in(&app, &idp, "acme", "d", "dan@acme.com").await;
    assert_eq!(
        app.get(&other, &confirm).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = carol
        .post(app.url(&format!("/tokens/{id}/revoke")))
        .form(&[("csrf_token", csrf_in(&page))])
        .send()
        .await
        .expect("POST");
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/tokens".to_string())
    );
    assert_eq!(
        verify(&app, &secret).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (_, tokens) = app.text(&carol, "/tokens").await;
    assert!(
        flash(&tokens).is_some_and(|f| f.contains("ci-deploy is revoked")),
        "{tokens}"
    );
}

#[actix_web::test]
async fn a_created_token_is_shown_once_after_the_redirect_and_a_reload_creates_no_second_one() {
    let (app, idp) = acme("").await;
    let bob = sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    let csrf = app.csrf(&bob, "/tokens").await;
    let r = app
        .post(
            &bob,
            "/tokens",
            &[("csrf_token", csrf.as_str()), ("name", "once")],
        )
        .await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/tokens".to_string())
    );
    assert!(!location(&r).contains("tp_"), "never in a URL");
    let (_, page) = app.text(&bob, "/tokens").await;
    let (_, secret) = crate::tokens::shown_secret(&page);
    assert_eq!(verify(&app, &secret).await.status(), StatusCode::OK);
    // The browser's reload after post/redirect/get is a GET: one token, the secret gone.
    let (_, reloaded) = app.text(&bob, "/tokens").await;
    assert!(!reloaded.contains(&secret));
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens WHERE name = 'once'"),
        1
    );
    // The session row in the database holds no plaintext secret while it waits.
    let bytes = std::fs::read(&app.db_path).unwrap_or_default();
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

#[actix_web::test]
async fn a_refused_form_comes_back_with_what_was_typed_and_the_reason_next_to_the_field() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let r = app
        .post_csrf(
            &alice,
            "/tokens",
            &[
                ("name", "ci deploy"),
                ("expires_in_days", "0"),
                ("personal", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.expect("body");
    assert!(
        page.contains("id=\"token_name\""),
        "the form, not an error page"
    );
    assert!(
        page.contains("value=\"ci deploy\"") && page.contains("value=\"0\""),
        "{page}"
    );
    assert!(
        page.contains("aria-describedby=\"token_expiry_error\""),
        "{page}"
    );
    assert!(page.contains("id=\"token_expiry_error\""));
    assert!(
        page.contains("name=\"personal\" value=\"on\" checked"),
        "{page}"
    );
    assert_eq!(app.count("SELECT count(*) FROM api_tokens"), 0);

    let r = app
        .post_csrf(&alice, "/team/invites", &[("email", "not an email")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.expect("body");
    assert!(page.contains("value=\"not an email\""), "{page}");
    assert!(page.contains("aria-describedby=\"invite_email_error\""));
    let r = app
        .post_csrf(&alice, "/team/invites", &[("email", "alice@acme.com")])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("id=\"invite_email_error\""));
    assert_eq!(app.count("SELECT count(*) FROM invites"), 0);
}

#[actix_web::test]
async fn a_deep_link_is_kept_through_the_sign_in_form_and_off_site_targets_are_dropped() {
    let (app, idp) = acme("").await;
    sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let c = crate::helpers::browser();
    let r = app.get(&c, "/billing?month=2026-11").await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/login".to_string())
    );
    let (_, login) = app.text(&c, "/login").await;
    assert!(
        login.contains("name=\"return_to\" value=\"/billing?month=2026-11\""),
        "{login}"
    );
    let r = sign_in_from(&app, &idp, &c, &login, "/billing?month=2026-11").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&r).ends_with("/billing?month=2026-11"),
        "{}",
        location(&r)
    );

    // Elsewhere is never a way back: the sign-in lands on /team.
    for evil in [
        "//evil.test/x",
        "https://evil.test/",
        "/\\evil.test",
        "http://127.0.0.1:1/team",
    ] {
        let c = crate::helpers::browser();
        let (_, login) = app
            .text(&c, &format!("/login?return_to={}", urlencode(evil)))
            .await;
        assert!(!login.contains("name=\"return_to\""), "{evil}: {login}");
        let r = sign_in_from(&app, &idp, &c, &login, evil).await;
        assert_eq!(location(&r), "/team", "{evil}");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Sends the Corporate SSO form of the login page `login` for acme with `return_to`, and lets
/// the IdP sign Alice in: the callback's answer.
async fn sign_in_from(
    app: &TestApp,
    idp: &crate::support::fake_idp::FakeIdp,
    c: &reqwest::Client,
    login: &str,
    return_to: &str,
) -> reqwest::Response {
    let csrf = csrf_in(login);
    let form = [
        ("csrf_token", csrf.as_str()),
        ("team_id", "acme"),
        ("return_to", return_to),
    ];
    let r = app.post(c, "/login/sso", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "to the IdP");
    idp.finish(
        app,
        c,
        "acme",
        &location(&r),
        ("a", "alice@acme.com"),
        |_| {},
    )
    .await
}
