//! The tokens page: create, reveal (audited), revoke by creator or admin, personal tokens,
//! expiry, and teams that never see each other's tokens.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::helpers::{spawn_app, spawn_app_in};
use crate::support::fake_idp::FakeIdp;

#[actix_web::test]
async fn a_token_verifies_after_create_and_reveal_and_answers_401_as_soon_as_its_creator_revokes_it(
) {
    let (app, idp) = acme("").await;
    let bob = sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    let (id, secret) = create(&app, &bob, &[("name", "deploy bot")]).await;
    assert!(secret.starts_with("tp_") && secret.len() >= 46, "{secret}");

    // Reveal shows the same secret again and is audited as bob's doing.
    let r = reveal(&app, &bob, id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        shown_secret(&r.text().await.expect("body")),
        (id, secret.clone())
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit WHERE action = 'token_revealed' AND team_id = 'acme'
             AND actor_id = (SELECT id FROM users WHERE email = 'bob@acme.com') AND target LIKE '%#{id})'"
        )),
        1
    );

    let r = verify(&app, &secret).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-team-id"), "acme");
    assert_eq!(header(&r, "x-token-name"), "deploy bot");
    assert_eq!(header(&r, "x-token-id"), id.to_string());
    assert_eq!(header(&r, "cache-control"), "no-store");
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"team_id": "acme", "token_name": "deploy bot", "token_id": id})
    );

    let r = revoke(&app, &bob, id).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the creator may revoke");
    assert_refused(verify(&app, &secret).await, "revoked").await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM api_tokens WHERE id = {id} AND revoked_at IS NOT NULL"
        )),
        1
    );
    let (_, page) = app.text(&bob, "/tokens").await;
    assert!(page.contains("status revoked"), "listed as revoked");

    // The plaintext secret is nowhere in the database files (sealed at rest).
    for file in [app.db_path.clone(), app.db_path.with_extension("db-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the plaintext secret",
            file.display()
        );
    }
}

#[actix_web::test]
async fn an_expiring_token_is_listed_with_its_expiry_and_stops_verifying_the_moment_it_expires() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let before = teamportal::store::now();
    let (id, secret) = create(&app, &alice, &[("name", "short"), ("expires_in_days", "1")]).await;
    let expires: i64 = app
        .db()
        .query_row(
            &format!("SELECT expires_at FROM api_tokens WHERE id = {id}"),
            [],
            |r| r.get(0),
        )
        .expect("expiry");
    assert!(
        (before + 86_400..=before + 86_400 + 5).contains(&expires),
        "one day from now"
    );
    assert_eq!(verify(&app, &secret).await.status(), StatusCode::OK);

    // Nobody waits a day: move the expiry to two seconds from now and restart on the same
    // database, so the server learns the new expiry the way it learns every token at start.
    let soon = teamportal::store::now() + 2;
    app.db()
        .execute(
            &format!("UPDATE api_tokens SET expires_at = {soon} WHERE id = {id}"),
            [],
        )
        .expect("update");
    let app = spawn_app_in(
        app.dir,
        &idp.team_toml("acme", "admin_email = \"alice@acme.com\""),
    )
    .await;
    assert_eq!(
        verify(&app, &secret).await.status(),
        StatusCode::OK,
        "not yet expired"
    );
    while teamportal::store::now() < soon {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_refused(verify(&app, &secret).await, "expired").await;

    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (_, page) = app.text(&alice, "/tokens").await;
    assert!(page.contains("status expired"), "listed as expired");
}

#[actix_web::test]
async fn a_personal_token_is_hidden_from_other_members_and_admins_only_see_and_revoke_it() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let bob = sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    let carol = sign_in(&app, &idp, "acme", "c", "carol@acme.com").await;
    let (id, secret) = create(&app, &bob, &[("name", "bob-laptop"), ("personal", "on")]).await;

    let (_, page) = app.text(&bob, "/tokens").await;
    assert!(token_ids_listed(&page).contains(&id), "its creator sees it");
    let (_, page) = app.text(&carol, "/tokens").await;
    assert!(!token_ids_listed(&page).contains(&id) && !page.contains("bob-laptop"));
    assert_eq!(
        reveal(&app, &carol, id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        revoke(&app, &carol, id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        reveal(&app, &bob, id).await.status(),
        StatusCode::OK,
        "its creator reveals it"
    );

    // It verifies and bills as the team's.
    let r = verify(&app, &secret).await;
    assert_eq!(
        (r.status(), header(&r, "x-team-id")),
        (StatusCode::OK, "acme")
    );

    // Admins see that it exists, cannot read it, may revoke it.
    let (_, page) = app.text(&alice, "/tokens").await;
    assert!(
        token_ids_listed(&page).contains(&id),
        "admins see it exists"
    );
    assert_eq!(
        reveal(&app, &alice, id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'token_revealed' AND actor_id = (SELECT id FROM users WHERE email = 'alice@acme.com')"),
        0
    );
    assert_eq!(
        revoke(&app, &alice, id).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_refused(verify(&app, &secret).await, "revoked by an admin").await;
}

#[actix_web::test]
async fn a_member_cannot_revoke_another_members_token_and_nothing_changes_but_an_admin_can() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let bob = sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    let carol = sign_in(&app, &idp, "acme", "c", "carol@acme.com").await;
    let (id, secret) = create(&app, &bob, &[("name", "shared-ci")]).await;

    // A shared token: carol sees and may reveal it, but not revoke it.
    assert_eq!(reveal(&app, &carol, id).await.status(), StatusCode::OK);
    assert_eq!(
        revoke(&app, &carol, id).await.status(),
        StatusCode::FORBIDDEN
    );
    let unrevoked =
        format!("SELECT count(*) FROM api_tokens WHERE id = {id} AND revoked_at IS NULL");
    assert_eq!(app.count(&unrevoked), 1, "unchanged in the store");
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'token_revoked'"),
        0
    );
    assert_eq!(verify(&app, &secret).await.status(), StatusCode::OK);

    assert_eq!(
        revoke(&app, &alice, id).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_refused(verify(&app, &secret).await, "revoked by an admin").await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM api_tokens WHERE id = {id}
             AND revoked_by = (SELECT id FROM users WHERE email = 'alice@acme.com')"
        )),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'token_revoked' AND team_id = 'acme'"),
        1
    );
}

#[actix_web::test]
async fn tokens_never_cross_teams_not_in_the_list_nor_reveal_nor_revoke_nor_verify_headers() {
    let idp = FakeIdp::start().await;
    let teams = format!(
        "{}{}",
        idp.team_toml("acme", "admin_email = \"alice@acme.com\""),
        idp.team_toml("beta", "admin_email = \"bert@beta.com\"")
    );
    let app = spawn_app(&teams).await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let bert = sign_in(&app, &idp, "beta", "z", "bert@beta.com").await;
    let (a_id, a_secret) = create(&app, &alice, &[("name", "acme-only")]).await;
    let (b_id, b_secret) = create(&app, &bert, &[("name", "beta-only")]).await;

    let (_, page) = app.text(&bert, "/tokens").await;
    assert_eq!(
        token_ids_listed(&page),
        vec![b_id],
        "beta's admin lists only beta's token"
    );
    assert_eq!(
        reveal(&app, &bert, a_id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        revoke(&app, &bert, a_id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        revoke(&app, &alice, b_id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL"),
        0
    );

    let r = verify(&app, &a_secret).await;
    assert_eq!(
        (r.status(), header(&r, "x-team-id")),
        (StatusCode::OK, "acme")
    );
    let r = verify(&app, &b_secret).await;
    assert_eq!(
        (r.status(), header(&r, "x-team-id")),
        (StatusCode::OK, "beta")
    );

    // Usage reported with beta's token is beta's, even with a key acme already used.
    for secret in [&a_secret, &b_secret] {
        let r = report(
            &app,
            secret,
            r#"{"quantity": 3, "unit": "jobs", "idempotency_key": "k1"}"#,
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM usage_daily WHERE unit = 'jobs' AND team_id = 'beta' AND token_id = {b_id} AND quantity = 3")),
        1
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM usage_daily WHERE unit = 'jobs' AND team_id = 'acme' AND token_id = {a_id} AND quantity = 3")),
        1
    );
}

#[actix_web::test]
async fn removing_a_member_stops_their_personal_tokens_at_once_while_their_shared_tokens_keep_working(
) {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let bob = sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    let (_, personal) = create(&app, &bob, &[("name", "bob-own"), ("personal", "on")]).await;
    let (_, shared) = create(&app, &bob, &[("name", "team-ci")]).await;
    assert_eq!(verify(&app, &personal).await.status(), StatusCode::OK);

    let bob_id = app.count("SELECT id FROM users WHERE email = 'bob@acme.com'");
    let r = app
        .post_csrf(&alice, &format!("/team/members/{bob_id}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_refused(
        verify(&app, &personal).await,
        "personal token of a removed member",
    )
    .await;
    assert_eq!(
        verify(&app, &shared).await.status(),
        StatusCode::OK,
        "shared tokens belong to the team"
    );
}
