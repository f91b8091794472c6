//! Shared API tokens through real HTTP, with the helpers the submodules share: the tokens
//! page (`pages`), the token-authenticated API (`api`), the real binary under SIGTERM and
//! SIGKILL (`process`), and a real nginx doing forward auth (`nginx`).

mod api;
mod headers;
mod nginx;
mod pages;
mod process;

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

use crate::helpers::{browser, spawn_app, TestApp};
use crate::support::fake_idp::FakeIdp;

/// Signs `email` in to `team` through the fake IdP (the first to sign in as the team's
/// `admin_email` becomes its admin, everyone else a member).
pub(crate) async fn sign_in(
    app: &TestApp,
    idp: &FakeIdp,
    team: &str,
    sub: &str,
    email: &str,
) -> Client {
    let client = browser();
    let r = idp.sign_in(app, &client, team, sub, email).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{email} signs in");
    client
}

/// One team `acme` (admin alice) on a fresh app, with `extra` TOML appended.
pub(crate) async fn acme(extra: &str) -> (TestApp, FakeIdp) {
    let idp = FakeIdp::start().await;
    let teams = idp.team_toml("acme", "admin_email = \"alice@acme.com\"");
    let app = spawn_app(&format!("{teams}{extra}")).await;
    (app, idp)
}

/// The value of an attribute in the first element that carries `marker`.
pub(crate) fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let start = html.find(marker)?;
    let tag_end = html[start..].find('>')? + start;
    let tag = &html[start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    let end = tag[v..].find('"')? + v;
    Some(tag[v..end].to_string())
}

/// The token id and secret shown in a page's "Token secret" banner.
pub(crate) fn shown_secret(html: &str) -> (i64, String) {
    let id = attr_after(html, "id=\"new-token\"", "data-token-id")
        .and_then(|s| s.parse().ok())
        .expect("the page shows a token id");
    let secret = attr_after(html, "id=\"new-token-secret\"", "value").expect("the secret");
    (id, secret)
}

/// Creates a token on the tokens page; returns (id, secret). The POST answers 303 to
/// `/tokens` (post/redirect/get), which shows the secret once: a reload no longer does.
pub(crate) async fn create(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> (i64, String) {
    let r = app.post_csrf(client, "/tokens", form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "token created");
    assert_eq!(crate::helpers::location(&r), "/tokens");
    let (status, page) = app.text(client, "/tokens").await;
    assert_eq!(status, StatusCode::OK);
    let shown = shown_secret(&page);
    let (_, again) = app.text(client, "/tokens").await;
    assert!(!again.contains(&shown.1), "the secret is shown once");
    shown
}

pub(crate) async fn reveal(app: &TestApp, client: &Client, id: i64) -> Response {
    app.post_csrf(client, &format!("/tokens/{id}/reveal"), &[])
        .await
}

pub(crate) async fn revoke(app: &TestApp, client: &Client, id: i64) -> Response {
    app.post_csrf(client, &format!("/tokens/{id}/revoke"), &[])
        .await
}

pub(crate) async fn verify(app: &TestApp, secret: &str) -> Response {
    reqwest::Client::new()
        .get(app.url("/api/v1/verify"))
        .bearer_auth(secret)
        .send()
        .await
        .expect("verify")
}

pub(crate) async fn report(app: &TestApp, secret: &str, body: &str) -> Response {
    reqwest::Client::new()
        .post(app.url("/api/v1/usage"))
        .bearer_auth(secret)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("usage")
}

pub(crate) fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A 401 as forward-auth proxies expect it: `WWW-Authenticate: Bearer` and a JSON error.
pub(crate) async fn assert_refused(r: Response, why: &str) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{why}");
    assert!(
        header(&r, "www-authenticate").starts_with("Bearer"),
        "{why}: {:?}",
        r.headers()
    );
    let body: Value = r.json().await.expect("JSON error body");
    assert_eq!(body["error"], "invalid_token", "{why}");
}

pub(crate) fn token_ids_listed(html: &str) -> Vec<i64> {
    html.match_indices("<tr data-token-id=\"")
        .filter_map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}
