//! What review found: a SCIM change commits whole or not at all, a placeholder account never
//! holds admin, the token is checked before the body is read.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{assert_error, Portal, ScimClient};

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn ids_with_email(p: &Portal, email: &str) -> Vec<i64> {
    let db = p.app.db();
    let mut stmt = db
        .prepare(
            "SELECT id FROM users WHERE team_id = 'acme' AND email = ?1 AND active ORDER BY id",
        )
        .expect("query");
    stmt.query_map([email], |r| r.get(0))
        .expect("rows")
        .collect::<Result<Vec<i64>, _>>()
        .expect("rows")
}

#[actix_web::test]
async fn deactivating_one_of_two_accounts_sharing_an_email_answers_200_and_stops_its_token() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    // Two IdP accounts with one email: two active members (JIT).
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let (r, _) = p
        .attempt("acme", "bob@acme.test", |c| {
            c["sub"] = json!("sub-bob-second")
        })
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let ids = ids_with_email(&p, "bob@acme.test");
    assert_eq!(ids.len(), 2, "two active accounts share the email");
    let (_, secret) =
        crate::tokens::create(&p.app, &bob, &[("name", "laptop"), ("personal", "on")]).await;
    assert_eq!(
        crate::tokens::verify(&p.app, &secret).await.status(),
        StatusCode::OK
    );

    let (status, body) = scim
        .patch(
            &format!("/Users/{}", ids[0]),
            &patch(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(
        (status, &body["active"]),
        (StatusCode::OK, &json!(false)),
        "{body}"
    );
    crate::tokens::assert_refused(
        crate::tokens::verify(&p.app, &secret).await,
        "the personal token stops with the answer",
    )
    .await;
    assert_eq!(ids_with_email(&p, "bob@acme.test"), vec![ids[1]]);
}

#[actix_web::test]
async fn a_refused_change_commits_nothing() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let ann = scim.create_user("ann@acme.test", "Ann", "Lee").await;
    scim.create_user("cat@acme.test", "Cat", "Ray").await;
    // Ann deactivated and renamed to Cat's userName at once: 409, and Ann stays active.
    let (status, body) = scim
        .patch(
            &format!("/Users/{ann}"),
            &patch(
                json!([{"op": "replace", "value": {"active": false, "userName": "cat@acme.test"}}]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "409", Some("uniqueness"));
    assert!(p
        .app
        .user("acme", "ann@acme.test", "active", |r| r.get::<_, bool>(0)));
}

#[actix_web::test]
async fn an_unlinked_member_in_an_admin_group_is_no_admin_until_a_verified_sign_in() {
    let p = Portal::acme("admin_groups = [\"portal-admins\"]\ntrust_email = true").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let ann = scim.create_user("ann@acme.test", "Ann", "Lee").await;
    let (status, _) = scim
        .post(
            "/Groups",
            &json!({"displayName": "portal-admins", "members": [{"value": ann}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let role = |email: &str| p.app.user("acme", email, "role", |r| r.get::<_, String>(0));
    assert_eq!(
        role("ann@acme.test"),
        "member",
        "a placeholder is never admin"
    );

    // Alice is the only admin who can sign in: SCIM cannot remove her.
    let alice = p
        .app
        .user("acme", "alice@acme.test", "id", |r| r.get::<_, i64>(0));
    let (status, body) = scim.delete(&format!("/Users/{alice}")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(p
        .app
        .user("acme", "alice@acme.test", "active", |r| r.get::<_, bool>(0)));

    // trust_email lets an unverified email link, as a member only.
    let (r, _) = p
        .attempt("acme", "ann@acme.test", |c| {
            c["email_verified"] = json!(false);
            c["groups"] = json!([]);
        })
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(role("ann@acme.test"), "member");
    assert_eq!(
        ids_with_email(&p, "ann@acme.test").len(),
        1,
        "linked, not a second account"
    );
    let dan = scim.create_user("dan@acme.test", "Dan", "Oak").await;
    let (_, g) = scim.get("/Groups").await;
    let gid = g["Resources"][0]["id"].as_str().unwrap().to_string();
    scim.patch(
        &format!("/Groups/{gid}"),
        &patch(json!([{"op": "add", "path": "members", "value": [{"value": dan}]}])),
    )
    .await;
    let (r, _) = p
        .attempt("acme", "dan@acme.test", |c| {
            if let Some(o) = c.as_object_mut() {
                o.remove("email_verified");
            }
            c["groups"] = json!([]);
        })
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "no email_verified claim");
    assert_eq!(role("dan@acme.test"), "member");

    // A verified first sign-in carries the admin group.
    let eve = scim.create_user("eve@acme.test", "Eve", "Fox").await;
    let (_, g) = scim.get("/Groups").await;
    let gid = g["Resources"][0]["id"].as_str().unwrap().to_string();
    scim.patch(
        &format!("/Groups/{gid}"),
        &patch(json!([{"op": "add", "path": "members", "value": [{"value": eve}]}])),
    )
    .await;
    assert_eq!(role("eve@acme.test"), "member");
    p.sign_in("acme", "eve@acme.test").await;
    assert_eq!(role("eve@acme.test"), "admin");
}

#[actix_web::test]
async fn no_token_with_an_oversized_body_is_401() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let big = "x".repeat(2 * 1024 * 1024);
    let r = reqwest::Client::new()
        .post(format!("{}/Users", scim.base))
        .header("content-type", "application/scim+json")
        .body(big)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A wrong token with a body that is not JSON: 401, not 400.
    let r = reqwest::Client::new()
        .post(format!("{}/Users", scim.base))
        .bearer_auth("tpscim_wrong")
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = ScimClient::new(&p.app, "tpscim_wrong").get("/Users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_wrong_method_answers_a_scim_405_and_put_without_active_keeps_it() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let ann = scim.create_user("ann@acme.test", "Ann", "Lee").await;
    for (method, path) in [
        (reqwest::Method::DELETE, "/Users".to_string()),
        (reqwest::Method::POST, format!("/Users/{ann}")),
        (reqwest::Method::PUT, "/Groups".to_string()),
    ] {
        let (status, body) = scim.send(method.clone(), &path, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_error(&body, "405", None);
    }
    let (status, _) = ScimClient::new(&p.app, "")
        .send(reqwest::Method::DELETE, "/Users", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token first");

    scim.patch(
        &format!("/Users/{ann}"),
        &patch(json!([{"op": "replace", "value": {"active": false}}])),
    )
    .await;
    let mut put = super::okta_user("ann@acme.test", "Ann", "Lee-Smith");
    put.as_object_mut().map(|o| o.remove("active"));
    let (status, body) = scim.put(&format!("/Users/{ann}"), &put).await;
    assert_eq!(
        (status, &body["active"]),
        (StatusCode::OK, &json!(false)),
        "{body}"
    );
    assert_eq!(body["name"]["familyName"], "Lee-Smith");
    assert!(!p
        .app
        .user("acme", "ann@acme.test", "active", |r| r.get::<_, bool>(0)));
}

#[actix_web::test]
async fn a_group_request_naming_more_than_1000_members_is_400() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let many: Vec<Value> = (1..=1001)
        .map(|i| json!({"value": i.to_string()}))
        .collect();
    let (status, body) = scim
        .post("/Groups", &json!({"displayName": "big", "members": many}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "400", Some("invalidValue"));
    assert_eq!(p.app.count("SELECT count(*) FROM scim_groups"), 0);
}

#[actix_web::test]
async fn a_member_scim_deleted_then_restored_by_an_admin_is_seen_by_scim_again() {
    let p = Portal::acme("").await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let scim = ScimClient::new(&p.app, &super::new_token(&p.app, &alice).await);
    let ann = scim.create_user("ann@acme.test", "Ann", "Lee").await;
    assert_eq!(
        scim.delete(&format!("/Users/{ann}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        scim.get(&format!("/Users/{ann}")).await.0,
        StatusCode::NOT_FOUND
    );
    let r = p
        .app
        .post_csrf(&alice, &format!("/team/members/{ann}/restore"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, body) = scim.get(&format!("/Users/{ann}")).await;
    assert_eq!(
        (status, &body["active"]),
        (StatusCode::OK, &json!(true)),
        "{body}"
    );
    assert_eq!(
        p.app.count(&format!(
            "SELECT count(*) FROM scim_users WHERE user_id = {ann} AND deleted"
        )),
        0
    );
}
