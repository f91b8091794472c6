//! Names an IdP sends are stored and shown without control or bidi-format characters, so a
//! name cannot read differently on the team page from what it is.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{browser, spawn_app};
use crate::support::fake_idp::FakeIdp;

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
