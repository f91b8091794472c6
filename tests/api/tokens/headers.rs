//! The forward-auth API is served outside the pages' middleware: its answers carry the API's
//! own headers (JSON, `no-store`, `nosniff`) and none of a page's (no CSP, no session cookie),
//! on 200, 401, 403 and 503 alike, while pages keep theirs.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

fn assert_api_headers(r: &Response, what: &str) {
    assert_eq!(header(r, "cache-control"), "no-store", "{what}");
    assert_eq!(header(r, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(r, "content-type"), "application/json", "{what}");
    assert!(
        r.headers().get("content-security-policy").is_none(),
        "{what}: no page CSP"
    );
    assert!(r.headers().get("set-cookie").is_none(), "{what}: no cookie");
}

#[actix_web::test]
async fn verify_answers_carry_the_api_headers_and_never_a_pages_csp_or_session_cookie() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (id, secret) = create(&app, &alice, &[("name", "probe")]).await;
    let sessions = || app.count("SELECT count(*) FROM sessions");
    let before = sessions();

    // Sent with the signed-in browser's session cookie: the API does not look at it.
    let ok = alice
        .get(app.url("/api/v1/verify?team=acme"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("GET");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_api_headers(&ok, "200");
    assert_eq!(header(&ok, "x-token-id"), id.to_string());
    let body: Value = ok.json().await.expect("JSON");
    assert_eq!(body["team_id"], "acme");
    assert_eq!(body["token_name"], "probe");
    assert_eq!(body["token_id"], id);

    let unknown = verify(&app, "tp_unknown0000000000000000000000000000000000000").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_api_headers(&unknown, "401");
    assert_eq!(
        header(&unknown, "www-authenticate"),
        "Bearer realm=\"teamportal\", error=\"invalid_token\""
    );
    // RFC 6750 3.1: no credentials at all is challenged without an error code.
    let bare = reqwest::Client::new()
        .get(app.url("/api/v1/verify"))
        .send()
        .await
        .expect("GET");
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&bare, "www-authenticate"),
        "Bearer realm=\"teamportal\""
    );
    let basic = reqwest::Client::new()
        .get(app.url("/api/v1/verify"))
        .basic_auth("user", Some("pass"))
        .send()
        .await
        .expect("GET");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&basic, "www-authenticate"),
        "Bearer realm=\"teamportal\"",
        "another scheme is no bearer credential either"
    );
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(
        body["error_description"],
        "unknown, revoked or expired token"
    );

    let other = alice
        .get(app.url("/api/v1/verify?team=globex"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("GET");
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert_api_headers(&other, "403");
    assert!(header(&other, "x-team-id").is_empty());

    assert_eq!(sessions(), before, "verify touched no session row");
    // Pages keep their security headers.
    let page = app.get(&browser(), "/login").await;
    assert!(page.headers().get("content-security-policy").is_some());

    // Without its database the API fails closed, with the same headers.
    std::fs::remove_file(&app.db_path).expect("remove db");
    let gone = Instant::now();
    let unavailable = loop {
        let r = verify(&app, &secret).await;
        if r.status() == StatusCode::SERVICE_UNAVAILABLE || gone.elapsed() > Duration::from_secs(5)
        {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_api_headers(&unavailable, "503");
    assert_eq!(header(&unavailable, "retry-after"), "5");
}
