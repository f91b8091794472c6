//! SCIM 2.0 provisioning (issue 14) through real HTTP: the requests Okta and Entra ID send,
//! in their order (`okta`, `entra`), the lifecycle of a provisioned member (`lifecycle`),
//! the trust boundary between teams and tokens (`trust`), end to end with the real
//! `oidc-provider` (`e2e`) and the settings page in Chromium (`page`). Each asserts the
//! answer and the store.

mod e2e;
mod entra;
mod lifecycle;
mod okta;
mod page;
mod review;
mod trust;

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

use crate::helpers::{browser, spawn_app, TestApp};
use crate::support::fake_idp::FakeIdp;

/// A portal whose teams sign in through one fake IdP.
pub(crate) struct Portal {
    pub app: TestApp,
    pub idp: FakeIdp,
}

impl Portal {
    /// One `[[teams]]` per `(Team ID, extra TOML)`.
    pub(crate) async fn start(teams: &[(&str, &str)]) -> Portal {
        let idp = FakeIdp::start().await;
        let toml: String = teams
            .iter()
            .map(|(id, extra)| idp.team_toml(id, extra))
            .collect();
        let app = spawn_app(&toml).await;
        Portal { app, idp }
    }

    /// Team `acme` (admin alice@acme.test) with `extra` TOML.
    pub(crate) async fn acme(extra: &str) -> Portal {
        Portal::start(&[(
            "acme",
            &format!("admin_email = \"alice@acme.test\"\n{extra}"),
        )])
        .await
    }

    /// A fresh browser's sign-in to `team` as `email` (subject `sub-<email>`); the answer.
    pub(crate) async fn attempt(
        &self,
        team: &str,
        email: &str,
        adjust: impl FnOnce(&mut Value),
    ) -> (reqwest::Response, Client) {
        let client = browser();
        let r = self
            .idp
            .sign_in_with(
                &self.app,
                &client,
                team,
                (&format!("sub-{email}"), email),
                adjust,
            )
            .await;
        (r, client)
    }

    pub(crate) async fn sign_in(&self, team: &str, email: &str) -> Client {
        // A groups claim (empty) so teams with `admin_groups` need no userinfo round trip.
        let (r, client) = self
            .attempt(team, email, |c| c["groups"] = serde_json::json!([]))
            .await;
        let status = r.status();
        let to = crate::helpers::location(&r);
        let body = r.text().await.unwrap_or_default();
        assert_eq!(
            (status, to.as_str()),
            (StatusCode::SEE_OTHER, "/team"),
            "{email} signs in: {body}"
        );
        client
    }

    /// Alice signs in to `team` and makes its SCIM token.
    pub(crate) async fn scim(&self, team: &str, admin: &str) -> ScimClient {
        let alice = self.sign_in(team, admin).await;
        ScimClient::new(&self.app, &new_token(&self.app, &alice).await)
    }
}

/// Makes (or rotates) the team's SCIM token on `/settings/scim`; the token the page shows once.
pub(crate) async fn new_token(app: &TestApp, admin: &Client) -> String {
    let csrf = app.csrf(admin, "/settings/scim").await;
    let r = app
        .post(admin, "/settings/scim/token", &[("csrf_token", &csrf)])
        .await;
    // Post/redirect/get: the token waits sealed in the session for the page it leads to.
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the token is made");
    let to = crate::helpers::location(&r);
    assert_eq!(to, "/settings/scim", "never in a URL");
    let r = app.get(admin, &to).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(crate::tokens::header(&r, "cache-control"), "no-store");
    let page = r.text().await.expect("page");
    crate::tokens::attr_after(&page, "id=\"scim-token\"", "value")
        .expect("the page shows the token")
}

/// A SCIM client as Okta and Entra are: bearer token, `application/scim+json`.
pub(crate) struct ScimClient {
    http: Client,
    pub base: String,
    pub token: String,
}

impl ScimClient {
    pub(crate) fn new(app: &TestApp, token: &str) -> ScimClient {
        ScimClient {
            http: Client::new(),
            base: app.url("/scim/v2"),
            token: token.to_string(),
        }
    }

    pub(crate) fn with_token(&self, token: &str) -> ScimClient {
        ScimClient {
            http: Client::new(),
            base: self.base.clone(),
            token: token.to_string(),
        }
    }

    /// Sends `method path` with an optional JSON body; the status and the JSON answer
    /// (`Null` for an empty body). Every non-empty answer must be `application/scim+json`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json; charset=utf-8")
                .body(b.to_string());
        }
        let r = req.send().await.expect("SCIM request");
        let status = r.status();
        let ct = crate::tokens::header(&r, "content-type").to_string();
        let text = r.text().await.expect("body");
        if text.is_empty() {
            return (status, Value::Null);
        }
        assert!(
            ct.starts_with("application/scim+json"),
            "{method} {path}: content type {ct}"
        );
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        (status, v)
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }
    pub(crate) async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }
    pub(crate) async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }
    pub(crate) async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub(crate) async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// POST /Users as Okta sends it; the new id.
    pub(crate) async fn create_user(&self, email: &str, given: &str, family: &str) -> String {
        let (status, body) = self.post("/Users", &okta_user(email, given, family)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_string()
    }
}

/// Okta's POST /Users body (with the password it sends and the empty groups).
pub(crate) fn okta_user(email: &str, given: &str, family: &str) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": format!("00u{}", email.len()),
        "groups": [],
        "password": "1mp0ssible-Pa55word",
        "active": true
    })
}

/// An RFC 7644 3.12 error body with this status (a string) and `scimType`.
pub(crate) fn assert_error(body: &Value, status: &str, scim_type: Option<&str>) {
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

pub(crate) fn audit_actions(app: &TestApp, team: &str) -> Vec<(String, String, String)> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT actor, action, target FROM audit WHERE team_id = ?1 ORDER BY id")
        .expect("audit query");
    stmt.query_map([team], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows")
}
