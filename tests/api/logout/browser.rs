//! `/sessions` and sign-out in headless Chromium, against the real IdP.

use std::time::Duration;

use fantoccini::Locator;

use super::works;
use crate::support::browser::Browser;

/// The session rows shown, once there are `n` of them (up to 10 s).
async fn rows_when(b: &Browser, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut texts = Vec::new();
        if let Ok(rows) = b.client.find_all(Locator::Css("tr[data-session-id]")).await {
            for r in rows {
                texts.push(r.text().await.unwrap_or_default());
            }
        }
        if texts.len() == n || std::time::Instant::now() > deadline {
            return texts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn the_sessions_page_in_chromium_ends_another_browsers_session_and_sign_out_goes_through_the_idp(
) {
    let s = super::e2e::start().await;
    let elsewhere = s.sign_in("acme", "bob").await;
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
    b.idp_sign_in("bob").await.expect("the IdP's sign-in form");
    let port = s.app.port;
    b.wait_for_url(|u| u.port() == Some(port) && u.path() == "/team")
        .await
        .expect("signed in");

    b.click("nav a[href='/sessions']").await;
    b.wait_for_url(|u| u.path() == "/sessions").await.unwrap();
    let rows = rows_when(&b, 2).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let current: Vec<&String> = rows.iter().filter(|r| r.contains("this session")).collect();
    assert_eq!(current.len(), 1, "{rows:?}");
    assert!(
        current[0].contains("Chrome"),
        "the browser is named: {rows:?}"
    );
    assert!(rows.iter().all(|r| r.contains("127.0.0.1")), "{rows:?}");

    // End the other browser's session from this one: it asks first, then acts.
    let other = b
        .client
        .find(Locator::XPath(
            "//tr[@data-session-id][not(.//span[contains(@class,'current')])]//a[@data-confirm]",
        ))
        .await
        .expect("the other session's button");
    other.click().await.unwrap();
    let asked = b
        .client
        .get_alert_text()
        .await
        .expect("a confirmation dialog");
    assert!(asked.starts_with("End the session of "), "{asked}");
    b.client.accept_alert().await.expect("confirmed");
    let rows = rows_when(&b, 1).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        !works(&s.app, &elsewhere).await,
        "the other browser is signed out"
    );

    // Sign out: through the IdP's confirmation, back to the portal's sign-in page.
    b.click("form[action='/logout'] button").await;
    b.click("#logout").await;
    b.wait_for_url(|u| u.port() == Some(port) && u.path() == "/login")
        .await
        .expect("the IdP sends the browser back to /login");
    b.client.goto(&s.app.url("/sessions")).await.unwrap();
    b.wait_for_url(|u| u.path() == "/login")
        .await
        .expect("signed out");
    b.close().await.unwrap();
}
