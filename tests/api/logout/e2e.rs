//! Logout against the real `oidc-provider` with `rpInitiatedLogout` and `backchannelLogout`
//! on: signing out of the portal reaches the IdP and comes back to `/login`; signing out at
//! the IdP ends the portal session through back-channel logout.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode, Url};
use serde_json::{json, Value};

use super::works;
use crate::helpers::{location, query_param};
use crate::sso_e2e::{accounts, start_with, Sso};

const SECRET: &str = "e2e-client-secret-for-tests-only-0123456789";

/// Team `acme` with `idp_logout = true`, its client registered for both logout kinds.
pub(super) async fn start() -> Sso {
    let s = start_with(
        json!({"clients": [], "accounts": accounts()}),
        "",
        &[(
            "acme",
            "admin_email = \"alice@acme.com\"\nidp_logout = true",
        )],
    )
    .await;
    s.idp
        .set_client(json!({
            "client_id": "portal-acme",
            "client_secret": SECRET,
            "redirect_uris": [s.app.url("/sso/acme/callback")],
            "post_logout_redirect_uris": [s.app.url("/login")],
            "backchannel_logout_uri": s.app.url("/sso/acme/backchannel-logout"),
            "backchannel_logout_session_required": true,
        }))
        .await
        .expect("the IdP registers the portal's client with its logout URIs");
    s
}

/// On the IdP's "sign out?" page at `url`: confirms with "yes"; returns where the IdP sends
/// the browser then.
async fn confirm_idp_logout(client: &Client, url: &str) -> Url {
    let page_resp = client.get(url).send().await.expect("IdP end-session");
    let page_url = page_resp.url().clone();
    let status = page_resp.status();
    let page = page_resp.text().await.expect("page");
    assert_eq!(status, StatusCode::OK, "the IdP asks to confirm: {page}");
    let action = page
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the logout form's action");
    let xsrf = page
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the logout form's xsrf");
    let resp = client
        .post(page_url.join(action).expect("action URL"))
        .form(&[("xsrf", xsrf), ("logout", "yes")])
        .send()
        .await
        .expect("confirm logout");
    assert!(resp.status().is_redirection(), "{}", resp.status());
    page_url.join(&location(&resp)).expect("redirect URL")
}

#[actix_web::test]
async fn sign_out_reaches_the_idp_with_the_id_token_hint_and_comes_back_to_login() {
    let s = start().await;
    let alice = s.sign_in("acme", "alice").await;
    assert_eq!(
        s.app.count(
            "SELECT count(*) FROM sessions WHERE sid IS NOT NULL AND id_token_enc IS NOT NULL"
        ),
        1,
        "the session keeps the IdP's sid and sealed ID token"
    );

    let r = s.app.post_csrf(&alice, "/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let discovery: Value = reqwest::get(s.idp.url("/.well-known/openid-configuration"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let end_session = discovery["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint");
    assert!(to.starts_with(end_session), "{to} goes to {end_session}");
    assert!(query_param(&to, "id_token_hint").is_some_and(|h| h.split('.').count() == 3));
    assert_eq!(
        query_param(&to, "client_id").as_deref(),
        Some("portal-acme")
    );
    assert_eq!(
        query_param(&to, "post_logout_redirect_uri"),
        Some(s.app.url("/login"))
    );
    let state = query_param(&to, "state").expect("state");
    assert!(
        !works(&s.app, &alice).await,
        "the portal session ended before the IdP was asked"
    );

    let back = confirm_idp_logout(&alice, &to).await;
    assert_eq!(
        back.as_str().split('?').next(),
        Some(s.app.url("/login").as_str())
    );
    assert_eq!(query_param(back.as_str(), "state"), Some(state));
    let login = alice.get(back).send().await.expect("login page");
    assert_eq!(login.status(), StatusCode::OK);

    // The IdP session is gone too: signing in again asks for the account.
    let authorize = s.app.start_sso(&alice, "acme").await;
    let at_idp = alice.get(&authorize).send().await.expect("authorize");
    assert!(
        location(&at_idp).contains("/interaction/"),
        "the IdP asks again: {}",
        location(&at_idp)
    );
}

#[actix_web::test]
async fn signing_out_at_the_idp_ends_the_portal_session_within_a_second() {
    let s = start().await;
    let alice = s.sign_in("acme", "alice").await;
    let bob = s.sign_in("acme", "bob").await;
    assert!(works(&s.app, &alice).await);

    let discovery: Value = reqwest::get(s.idp.url("/.well-known/openid-configuration"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let end_session = discovery["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint");
    // Alice signs out at the IdP itself (no portal involved): its back-channel call ends her
    // portal session.
    confirm_idp_logout(&alice, end_session).await;
    let deadline = Instant::now() + Duration::from_secs(1);
    while works(&s.app, &alice).await {
        assert!(
            Instant::now() < deadline,
            "the portal session still works a second later; IdP log:\n{}",
            s.idp.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(works(&s.app, &bob).await, "bob's session is his own");
    assert_eq!(
        s.app.count("SELECT count(*) FROM audit WHERE action = 'backchannel_logout' AND detail = '1 session(s) ended'"),
        1
    );
}

#[actix_web::test]
async fn without_idp_logout_sign_out_stays_in_the_portal() {
    let s = start_with(
        json!({"clients": [], "accounts": accounts()}),
        "",
        &[("acme", "admin_email = \"alice@acme.com\"")],
    )
    .await;
    let alice = s.sign_in("acme", "alice").await;
    let r = s.app.post_csrf(&alice, "/logout", &[]).await;
    assert_eq!(location(&r), "/login");
    assert!(!works(&s.app, &alice).await);
}
