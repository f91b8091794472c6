//! A 405 says in its body which methods the path allows, as its `Allow` header does: plain
//! text on the pages (with the pages' headers), JSON in the API's error shape on the token API;
//! HEAD gets the same status and header and no body.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{browser, spawn_app};

#[actix_web::test]
async fn a_405_on_a_page_says_in_plain_text_what_the_path_allows() {
    let app = spawn_app("").await;
    let c = browser();
    let cases: &[(Method, &str, &str)] = &[
        (Method::GET, "/logout", "POST"),
        (Method::DELETE, "/team", "GET"),
        (Method::POST, "/healthz", "GET, HEAD"),
        (Method::PUT, "/tokens", "GET, POST"),
        (Method::GET, "/tokens/7/revoke", "POST"),
    ];
    for (method, path, allow) in cases {
        let r = super::probes::refused_method(&c, method, app.url(path), None).await;
        let h = r.headers();
        let mut named: Vec<&str> = h
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(", ")
            .collect();
        named.sort_unstable();
        assert_eq!(named.join(", "), *allow, "{method} {path}");
        let header = h
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            h.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/plain; charset=utf-8"),
            "{method} {path}"
        );
        assert!(
            h.get("content-security-policy").is_some(),
            "the pages' headers stay"
        );
        let body = r.text().await.expect("body");
        assert_eq!(body, format!("{path} allows {header}."), "{method} {path}");
    }

    // HEAD on a route without it: the status and Allow, no body.
    let r = c.head(app.url("/team/invites")).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.headers().get("allow").map(|v| v.to_str().ok()),
        Some(Some("POST"))
    );
    assert_eq!(r.text().await.expect("body"), "");
    assert_head_has_no_body(&app, "/team/invites", "POST");

    // Answers that are not a 405 are untouched: the 404 page, a GET that works.
    let r = c
        .delete(app.url("/no/such/page"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get("allow").is_none());
    let r = c.get(app.url("/healthz")).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.expect("body"), "ok");
}

#[actix_web::test]
async fn a_405_on_the_token_api_is_json_in_the_apis_error_shape() {
    let app = spawn_app("").await;
    let c = browser();
    for (method, path, allow) in [
        (Method::DELETE, "/api/v1/verify", "GET, HEAD"),
        (Method::POST, "/api/v1/verify", "GET, HEAD"),
        (Method::GET, "/api/v1/usage", "POST"),
        (Method::PUT, "/api/v1/usage", "POST"),
    ] {
        let r =
            super::probes::refused_method(&c, &method, app.url(path), Some("tp_whatever")).await;
        let h = r.headers();
        assert_eq!(
            h.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        assert_eq!(
            h.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        assert_eq!(
            h.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert_eq!(
            h.get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], "method_not_allowed", "{method} {path}");
        assert_eq!(body["error_description"], format!("{path} allows {allow}."));
    }
    let r = c.head(app.url("/api/v1/usage")).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    assert_eq!(r.text().await.expect("body"), "");
    assert_head_has_no_body(&app, "/api/v1/usage", "POST");
    // The methods it has still answer as before: a made-up token is a 401, not a 405.
    let r = c
        .get(app.url("/api/v1/verify"))
        .header("Authorization", "Bearer tp_whatever")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// HEAD on `path` (which does not answer HEAD), read off the socket: a 405 with `Allow` and
/// not one byte after the headers, whatever `Content-Length` says.
fn assert_head_has_no_body(app: &crate::helpers::TestApp, path: &str, allow: &str) {
    let answer = super::probes::raw(
        app.port,
        &format!("HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    );
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("\r\nallow: {}", allow.to_ascii_lowercase())),
        "{answer}"
    );
    assert_eq!(body, "", "HEAD {path}: no body on the wire");
}
