//! Search input from the address bar is text, not bytes for the database: control
//! characters are dropped before the team list is searched.

use reqwest::StatusCode;

use crate::helpers::{browser, spawn_app};
use crate::support::fake_idp::FakeIdp;

#[actix_web::test]
async fn a_team_search_with_a_nul_or_other_controls_answers_200_and_changes_nothing() {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml("acme", "admin_email = \"alice@acme.com\"")).await;
    let alice = browser();
    let r = idp
        .sign_in(&app, &alice, "acme", "u1", "alice@acme.com")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "alice signs in");
    idp.sign_in(&app, &browser(), "acme", "u2", "bob@acme.com")
        .await;
    let before = app.count("SELECT count(*) FROM users") + app.count("SELECT count(*) FROM audit");

    // Only controls: no filter at all, so everyone is listed.
    let (status, page) = app.text(&alice, "/team?q=%00").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("bob@acme.com"), "{page}");
    // Controls around a real query: the query without them.
    let (status, page) = app.text(&alice, "/team?q=b%00o%1Bb%0A").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("bob@acme.com"), "{page}");

    // The audit log's filters are search input too.
    let (status, page) = app.text(&alice, "/audit?person=%00").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, page) = app.text(&alice, "/audit?person=al%00ice").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        !page.contains("Nothing recorded that matches."),
        "the filter is the name without the NUL: {page}"
    );

    assert_eq!(
        app.count("SELECT count(*) FROM users") + app.count("SELECT count(*) FROM audit"),
        before,
        "a search changes nothing"
    );
}
