//! Names an IdP sends are stored and shown without control or bidi-format characters, so a
//! name cannot read differently on the team page from what it is.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{browser, spawn_app};
use crate::support::fake_idp::FakeIdp;
use crate::tokens::{acme, sign_in};

#[actix_web::test]
async fn an_idp_name_with_controls_and_bidi_overrides_is_stored_without_them() {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml("acme", "admin_email = \"alice@acme.com\"")).await;
    let c = browser();
    let r = idp
        .sign_in_with(&app, &c, "acme", ("m1", "mallory@acme.com"), |claims| {
            claims["name"] = json!("\u{202E}nimda\u{202C} Mal\u{0}lory\r\n");
        })
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let name: String = app.user("acme", "mallory@acme.com", "name", |r| r.get(0));
    assert_eq!(name, "nimda Mallory");
    let (_, page) = app.text(&c, "/team").await;
    assert!(!page.contains('\u{202E}'), "no override on the page");
}

#[actix_web::test]
async fn a_form_with_text_that_is_not_utf8_is_refused_and_stores_nothing() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a1", "alice@acme.com").await;
    let token = app.csrf(&alice, "/tokens").await;
    for body in [
        format!("csrf_token={token}&name=%ff%fe").into_bytes(),
        [format!("csrf_token={token}&name=").as_bytes(), b"\xff\xfe"].concat(),
    ] {
        let r = alice
            .post(app.url("/tokens"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.expect("page").contains("UTF-8"));
    }
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens"),
        0,
        "no token made"
    );
}

#[actix_web::test]
async fn a_query_with_text_that_is_not_utf8_is_refused() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a1", "alice@acme.com").await;
    // Percent-decoded UTF-8 is a search like any other.
    let (status, _) = app.text(&alice, "/team?q=%C3%A9").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/team?q=%ff",
        "/tokens?page=%ff",
        "/audit?page=1&x=%c3",
        "/login?return_to=%2f%ff",
    ] {
        let (status, page) = app.text(&alice, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(page.contains("not UTF-8"), "{path}: {page}");
    }
    // The IdP's answer too: its code would go on to the token endpoint as U+FFFD.
    let browser = browser();
    let (status, page) = app
        .text(&browser, "/sso/acme/callback?code=%ff&state=x")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("not valid UTF-8"), "{page}");
}
