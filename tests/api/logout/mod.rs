//! Logout and sessions: back-channel logout tokens from a controllable IdP (every section
//! 2.6 refusal ends nothing), the sessions page and an admin's "end sessions", and the
//! whole round trip against the real `oidc-provider` with its logout features on.

mod backchannel;
mod browser;
mod e2e;
mod rp_logout;
pub(crate) mod sessions;
mod tenant;

use reqwest::{Client, StatusCode};

use crate::helpers::{browser, TestApp};
use crate::support::fake_idp::FakeIdp;

/// A portal with team `acme` (admin alice@acme.com) on a fake IdP.
pub(crate) async fn acme() -> (TestApp, FakeIdp) {
    let idp = FakeIdp::start().await;
    let app =
        crate::helpers::spawn_app(&idp.team_toml("acme", "admin_email = \"alice@acme.com\"")).await;
    (app, idp)
}

/// A fresh browser signed in to `team` as `sub`/`email`, its ID token carrying `sid`.
pub(crate) async fn signed_in(
    app: &TestApp,
    idp: &FakeIdp,
    team: &str,
    (sub, email): (&str, &str),
    sid: Option<&str>,
) -> Client {
    let client = browser();
    let sid = sid.map(str::to_string);
    let resp = idp
        .sign_in_with(app, &client, team, (sub, email), move |c| {
            if let Some(sid) = sid {
                c["sid"] = serde_json::json!(sid);
            }
        })
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{email} signs in");
    assert_eq!(crate::helpers::location(&resp), "/team");
    client
}

/// Whether `client`'s session still opens `/team`.
pub(crate) async fn works(app: &TestApp, client: &Client) -> bool {
    app.get(client, "/team").await.status() == StatusCode::OK
}

pub(crate) fn live_sessions(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM sessions WHERE user_id IS NOT NULL")
}
