//! `Server-Timing` on the SSO callback (what `benches/signin.sh` reads): the portal's own time
//! apart from the wait on the identity provider, and on no other page.

use crate::helpers::{browser, spawn_app};
use crate::support::fake_idp::FakeIdp;

fn durations(value: &str) -> Vec<(String, f64)> {
    value
        .split(',')
        .map(|part| {
            let (name, dur) = part.trim().split_once(";dur=").expect("name;dur=ms");
            (name.to_string(), dur.parse().expect("milliseconds"))
        })
        .collect()
}

#[actix_web::test]
async fn the_callback_says_how_long_the_portal_worked_apart_from_the_idp() {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml("acme", "")).await;
    let client = browser();

    let login = app.get(&client, "/login").await;
    assert!(login.headers().get("server-timing").is_none());

    let callback = idp
        .sign_in(&app, &client, "acme", "sub-1", "ada@acme.test")
        .await;
    let value = callback
        .headers()
        .get("server-timing")
        .expect("the callback carries Server-Timing")
        .to_str()
        .expect("ascii")
        .to_string();
    let parts = durations(&value);
    let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["app", "idp"], "{value}");
    assert!(parts.iter().all(|(_, ms)| *ms >= 0.0), "{value}");
    // The token call went to the IdP: its share is measured, not left at zero.
    assert!(parts[1].1 > 0.0, "{value}");
}
