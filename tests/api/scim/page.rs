//! `/settings/scim` in headless Chromium: an admin makes the SCIM token, copies it with the
//! page's button (pasted back from the clipboard), and after a SCIM request sees when SCIM
//! last called and how it ended.

use std::time::Duration;

use fantoccini::Locator;
use reqwest::StatusCode;

use super::ScimClient;
use crate::support::browser::Browser;

#[actix_web::test]
async fn an_admin_makes_and_copies_the_scim_token_and_sees_the_last_call() {
    let s = crate::sso_e2e::start("").await;
    let b = Browser::start_bounded().await;
    b.client.goto(&s.app.url("/login")).await.unwrap();
    b.wait_for("#team_id")
        .await
        .unwrap()
        .send_keys("acme")
        .await
        .unwrap();
    b.click("form[action='/login/sso'] button[type=submit]")
        .await;
    b.idp_sign_in("alice")
        .await
        .expect("the IdP's sign-in form");
    let port = s.app.port;
    b.wait_for_url(|u| u.port() == Some(port) && u.path() == "/team")
        .await
        .unwrap();

    // The admin navigation leads to the page.
    b.click("nav a[href='/settings/scim']").await;
    let base = b.wait_for("#scim-base-url").await.unwrap();
    assert_eq!(
        base.prop("value").await.unwrap().as_deref(),
        Some(s.app.url("/scim/v2").as_str())
    );
    let text = b.wait_for("main").await.unwrap().text().await.unwrap();
    for step in [
        "SCIM connector base URL",
        "userName",
        "HTTP Header",
        "Tenant URL",
        "Secret Token",
    ] {
        assert!(text.contains(step), "{step}: {text}");
    }
    assert!(b
        .wait_for("#last-call")
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains("never"));

    b.click("#create-token").await;
    let field = b.wait_for("#scim-token").await.unwrap();
    let token = field
        .prop("value")
        .await
        .unwrap()
        .expect("the token is shown");
    assert!(token.starts_with("tpscim_"), "{token}");
    b.click("button[data-copy='scim-token']").await;
    let copied = b
        .client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::XPath(
            "//button[@data-copy='scim-token' and text()='Copied']",
        ))
        .await;
    assert!(copied.is_ok(), "the button confirms the copy");
    b.client
        .execute("const t = document.createElement('textarea'); t.id = 'pasted'; document.body.appendChild(t); return true;", vec![])
        .await
        .unwrap();
    let pasted = b.wait_for("#pasted").await.unwrap();
    pasted.send_keys("\u{E009}v\u{E000}").await.unwrap();
    assert_eq!(
        pasted.prop("value").await.unwrap().as_deref(),
        Some(token.as_str()),
        "the clipboard holds the token"
    );

    // The copied token works; the page then says when SCIM last called.
    let scim = ScimClient::new(&s.app, &token);
    assert_eq!(
        scim.get("/Users?startIndex=1&count=2").await.0,
        StatusCode::OK
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let last = loop {
        b.client.goto(&s.app.url("/settings/scim")).await.unwrap();
        let last = b
            .wait_for("#last-call")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !last.contains("never") || std::time::Instant::now() > deadline {
            break last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        last.contains("GET /Users") && last.contains("200") && last.contains("UTC"),
        "{last}"
    );
    // Shown once: the page no longer carries the token.
    let html = b.client.source().await.unwrap();
    assert!(!html.contains(&token), "the token is not shown again");
    b.close().await.unwrap();
}
