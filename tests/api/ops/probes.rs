//! The probes answer HEAD like GET without a body, and a known path asked with the wrong
//! method answers 405 naming the methods it has in `Allow`, while every method of the URL
//! table still reaches its handler.

use std::io::{Read, Write};
use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::helpers::{browser, spawn_app};

/// The whole response to a raw request on a fresh connection (closed by the server): an
/// HTTP client would never read a HEAD answer's body, so only the bytes tell.
pub(crate) fn raw(port: u16, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    String::from_utf8(out).expect("utf-8")
}

/// `method` on `url` (with `Authorization: bearer` when given), which must answer 405.
pub(crate) async fn refused_method(
    c: &reqwest::Client,
    method: &Method,
    url: String,
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut request = c.request(method.clone(), &url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {url}");
    r
}

fn allow(r: &reqwest::Response) -> Vec<String> {
    let mut methods: Vec<String> = r
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    methods.sort();
    methods
}

#[actix_web::test]
async fn head_on_healthz_and_livez_answers_200_like_get_without_a_body() {
    let app = spawn_app("").await;
    let c = browser();
    for path in ["/healthz", "/livez"] {
        let get = c.get(app.url(path)).send().await.expect("GET");
        assert_eq!(get.status(), StatusCode::OK, "GET {path}");
        let get_type = get.headers().get("content-type").cloned();
        assert_eq!(get.text().await.expect("body"), "ok");

        let head = c.head(app.url(path)).send().await.expect("HEAD");
        assert_eq!(head.status(), StatusCode::OK, "HEAD {path}");
        assert_eq!(head.headers().get("content-type").cloned(), get_type);
        assert!(head.bytes().await.expect("body").is_empty());

        // On the wire: the head ends the response, no body bytes follow it.
        let out = raw(
            app.port,
            &format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.ends_with("\r\n\r\n"), "no body after the head: {out:?}");
    }
}

#[actix_web::test]
async fn a_wrong_method_on_a_known_route_answers_405_with_allow() {
    let app = spawn_app("").await;
    let c = browser();
    let cases: &[(Method, &str, &[&str])] = &[
        (Method::DELETE, "/team", &["GET"]),
        (Method::GET, "/login/sso", &["POST"]),
        (Method::PUT, "/tokens", &["GET", "POST"]),
        (Method::POST, "/healthz", &["GET", "HEAD"]),
        (Method::DELETE, "/api/v1/verify", &["GET", "HEAD"]),
        (Method::GET, "/tokens/7/revoke", &["POST"]),
        (Method::DELETE, "/sso/acme/callback", &["GET", "POST"]),
        (Method::POST, "/static/app.css", &["GET"]),
    ];
    for (method, path, methods) in cases {
        let r = refused_method(&c, method, app.url(path), None).await;
        assert_eq!(allow(&r), *methods, "{method} {path}");
    }
    // An unknown path is still the 404 page, whatever the method.
    let r = c
        .delete(app.url("/no/such/page"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn every_method_in_the_url_table_still_reaches_its_handler() {
    let app = spawn_app("").await;
    let c = browser();
    // Signed out, without CSRF tokens: each handler answers in its own way (sign-in
    // redirect, CSRF refusal, 401, 404 for an unknown team...), never 405.
    let table: &[(Method, &str)] = &[
        (Method::GET, "/api/v1/verify"),
        (Method::HEAD, "/api/v1/verify"),
        (Method::POST, "/api/v1/usage"),
        (Method::GET, "/"),
        (Method::GET, "/team"),
        (Method::GET, "/tokens"),
        (Method::POST, "/tokens"),
        (Method::GET, "/billing"),
        (Method::GET, "/billing/usage.csv"),
        (Method::GET, "/settings/sso"),
        (Method::POST, "/settings/sso"),
        (Method::POST, "/settings/sso/apply"),
        (Method::POST, "/settings/sso/discard"),
        (Method::GET, "/audit"),
        (Method::POST, "/team/invites"),
        (Method::POST, "/team/members/1/role"),
        (Method::POST, "/team/members/1/remove"),
        (Method::POST, "/team/members/1/restore"),
        (Method::POST, "/team/members/1/sessions/revoke"),
        (Method::GET, "/sessions"),
        (Method::POST, "/sessions/revoke-others"),
        (Method::POST, "/sessions/abc/revoke"),
        (Method::POST, "/team/invites/1/cancel"),
        (Method::POST, "/tokens/1/reveal"),
        (Method::POST, "/tokens/1/revoke"),
        (Method::GET, "/login"),
        (Method::POST, "/login/sso"),
        (Method::POST, "/login/password"),
        (Method::POST, "/login/confirm"),
        (Method::POST, "/logout"),
        (Method::GET, "/sso/acme/login"),
        (Method::GET, "/sso/acme/initiate"),
        (Method::POST, "/sso/acme/initiate"),
        (Method::GET, "/sso/acme/callback"),
        (Method::POST, "/sso/acme/callback"),
        (Method::POST, "/sso/acme/backchannel-logout"),
        (Method::GET, "/healthz"),
        (Method::HEAD, "/healthz"),
        (Method::GET, "/livez"),
        (Method::HEAD, "/livez"),
        (Method::GET, "/static/app.css"),
    ];
    for (method, path) in table {
        let r = c
            .request(method.clone(), app.url(path))
            .form(&[("x", "y")])
            .send()
            .await
            .expect("send");
        assert_ne!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(r.headers().get("allow").is_none(), "{method} {path}");
    }
    // The pages keep what they answered before.
    assert_eq!(app.get(&c, "/team").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&c, "/login").await.status(), StatusCode::OK);
    assert_eq!(
        app.get(&c, "/static/app.css").await.status(),
        StatusCode::OK
    );
}
