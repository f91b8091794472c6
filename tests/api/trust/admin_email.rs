//! `admin_email` makes only the first account with that email an admin, and only when the
//! IdP says the email is verified: another IdP account (a second `sub`, or the person
//! re-created at the IdP after their removal) claiming the email is an ordinary member.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{browser, spawn_app, TestApp};
use crate::support::fake_idp::FakeIdp;

async fn portal(extra: &str) -> (TestApp, FakeIdp) {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml(
        "acme",
        &format!("admin_email = \"alice@acme.com\"\n{extra}"),
    ))
    .await;
    (app, idp)
}

fn roles_of(app: &TestApp, email: &str) -> Vec<(String, String, String)> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT subject, role, role_source FROM users WHERE email = ?1 ORDER BY id")
        .expect("prepare");
    stmt.query_map([email], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn role(sub: &str, role: &str, source: &str) -> (String, String, String) {
    (sub.into(), role.into(), source.into())
}

#[actix_web::test]
async fn a_second_idp_account_with_the_admin_email_is_a_member() {
    let (app, idp) = portal("").await;
    let first = browser();
    let r = idp
        .sign_in(&app, &first, "acme", "a1", "alice@acme.com")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second = browser();
    let r = idp
        .sign_in(&app, &second, "acme", "a2", "Alice@Acme.com")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "admitted");
    assert_eq!(
        roles_of(&app, "alice@acme.com"),
        vec![
            role("a1", "admin", "admin_email"),
            role("a2", "member", "default")
        ]
    );
    assert_eq!(
        app.get(&second, "/billing").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[actix_web::test]
async fn the_admin_email_recreated_at_the_idp_after_removal_does_not_come_back_as_admin() {
    let (app, idp) = portal("").await;
    let alice = browser();
    idp.sign_in(&app, &alice, "acme", "a1", "alice@acme.com")
        .await;
    let bob = browser();
    idp.sign_in(&app, &bob, "acme", "b1", "bob@acme.com").await;
    let id_of = |email: &str| app.user("acme", email, "id", |r| r.get::<_, i64>(0));
    let (alice_id, bob_id) = (id_of("alice@acme.com"), id_of("bob@acme.com"));
    let r = app
        .post_csrf(
            &alice,
            &format!("/team/members/{bob_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = app
        .post_csrf(&bob, &format!("/team/members/{alice_id}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The IdP re-creates "alice" under a new subject.
    let again = browser();
    let r = idp
        .sign_in(&app, &again, "acme", "a9", "alice@acme.com")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        roles_of(&app, "alice@acme.com")[1],
        role("a9", "member", "default")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1"),
        1,
        "only bob"
    );
}

#[actix_web::test]
async fn trust_email_admits_an_unverified_admin_email_only_as_a_member() {
    let (app, idp) = portal("trust_email = true").await;
    let c = browser();
    let r = idp
        .sign_in_with(&app, &c, "acme", ("a1", "alice@acme.com"), |claims| {
            claims["email_verified"] = json!(false);
        })
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "trusted in");
    assert_eq!(
        roles_of(&app, "alice@acme.com"),
        vec![role("a1", "member", "default")]
    );

    // The same with no email_verified at all: userinfo is asked, and without its word the
    // account stays a member.
    let c = browser();
    let r = idp
        .sign_in_with(&app, &c, "acme", ("a2", "alice@acme.com"), |claims| {
            claims
                .as_object_mut()
                .expect("object")
                .remove("email_verified");
        })
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE role = 'admin'"),
        0
    );
}

#[actix_web::test]
async fn on_an_invite_only_team_a_second_account_with_the_admin_email_enters_as_a_member() {
    // After an issuer change, say: the admin's new IdP account has a new subject.
    let (app, idp) = portal("provisioning = \"invite\"").await;
    let first = browser();
    let r = idp
        .sign_in(&app, &first, "acme", "a1", "alice@acme.com")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second = browser();
    let r = idp
        .sign_in(&app, &second, "acme", "a2", "alice@acme.com")
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the admin_email may always sign in"
    );
    assert_eq!(
        roles_of(&app, "alice@acme.com"),
        vec![
            role("a1", "admin", "admin_email"),
            role("a2", "member", "default")
        ]
    );
    // Not past a removal: once an account with the email is removed, a new one needs an
    // invitation like anyone else.
    let a2 = app.count("SELECT id FROM users WHERE subject = 'a2'");
    let r = app
        .post_csrf(&first, &format!("/team/members/{a2}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = idp
        .sign_in(&app, &browser(), "acme", "a3", "alice@acme.com")
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        roles_of(&app, "alice@acme.com").len(),
        2,
        "no third account"
    );
    // Not on an email the IdP did not verify, even with trust_email: that needs an invitation.
    let (app, idp) = portal("provisioning = \"invite\"\ntrust_email = true").await;
    let r = idp
        .sign_in(&app, &browser(), "acme", "a1", "alice@acme.com")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = idp
        .sign_in_with(&app, &browser(), "acme", ("a2", "alice@acme.com"), |c| {
            c["email_verified"] = json!(false);
        })
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        roles_of(&app, "alice@acme.com").len(),
        1,
        "no second account"
    );
}
