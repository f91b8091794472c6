//! The trust boundary: a SCIM token is one team's IdP speaking, possibly hostile to every
//! other team. Wrong, missing, rotated and revoked tokens get 401; one team's token sees and
//! changes nothing of another's; bodies stop at 1 MiB; a provisioned email takes over no
//! account elsewhere and does not get around `email_verified`; members cannot reach the page.

use reqwest::StatusCode;
use serde_json::json;

use super::{assert_error, new_token, okta_user, Portal, ScimClient};

#[actix_web::test]
async fn missing_wrong_rotated_and_revoked_tokens_get_401_and_change_nothing() {
    let p = Portal::acme("").await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let first = new_token(&p.app, &alice).await;
    assert!(first.len() >= 43, "256 bits: {first}");
    let stored: Vec<u8> = p
        .app
        .db()
        .query_row(
            "SELECT token_hash FROM scim_tokens WHERE team_id = 'acme'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        stored,
        teamportal::crypto::sha256(first.as_bytes()).to_vec(),
        "only the hash is stored"
    );
    let scim = ScimClient::new(&p.app, &first);
    assert_eq!(scim.get("/Users").await.0, StatusCode::OK);

    let second = new_token(&p.app, &alice).await;
    assert_ne!(first, second);
    for (token, why) in [
        ("", "missing"),
        ("tpscim_wrong", "wrong"),
        (first.as_str(), "rotated"),
    ] {
        let c = scim.with_token(token);
        let (status, body) = c.post("/Users", &okta_user("x@acme.test", "X", "Y")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert_error(&body, "401", None);
        assert_eq!(
            c.get("/ServiceProviderConfig").await.0,
            StatusCode::UNAUTHORIZED,
            "{why}: discovery too"
        );
    }
    let basic = reqwest::Client::new()
        .get(format!("{}/Users", scim.base))
        .header("authorization", format!("Basic {second}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert!(crate::tokens::header(&basic, "www-authenticate").starts_with("Bearer"));
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'x@acme.test'"),
        0
    );

    let now = scim.with_token(&second);
    assert_eq!(now.get("/Users").await.0, StatusCode::OK);
    let csrf = p.app.csrf(&alice, "/settings/scim").await;
    let r = p
        .app
        .post(
            &alice,
            "/settings/scim/token/revoke",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        now.get("/Users").await.0,
        StatusCode::UNAUTHORIZED,
        "revoked stops at once"
    );
    assert_eq!(p.app.count("SELECT count(*) FROM scim_tokens"), 0);
    let actions = super::audit_actions(&p.app, "acme");
    for want in [
        "scim_token_created",
        "scim_token_rotated",
        "scim_token_revoked",
    ] {
        assert!(
            actions.iter().any(|(_, a, _)| a == want),
            "{want}: {actions:?}"
        );
    }
}

#[actix_web::test]
async fn one_teams_token_sees_and_changes_nothing_of_another_team() {
    let p = Portal::start(&[
        (
            "acme",
            "admin_email = \"alice@acme.test\"\nadmin_groups = [\"admins\"]",
        ),
        (
            "beta",
            "admin_email = \"boss@beta.test\"\nadmin_groups = [\"admins\"]",
        ),
    ])
    .await;
    let acme = p.scim("acme", "alice@acme.test").await;
    let beta = p.scim("beta", "boss@beta.test").await;
    let ann = acme.create_user("ann@acme.test", "Ann", "Lee").await;
    let (_, acme_group) = acme
        .post("/Groups", &json!({"displayName": "admins", "members": []}))
        .await;
    let acme_gid = acme_group["id"].as_str().unwrap().to_string();
    let before: (String, String, bool) =
        p.app
            .user("acme", "ann@acme.test", "name, role, active", |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            });

    let (_, list) = beta.get("/Users?count=200").await;
    let names: Vec<&str> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boss@beta.test"], "only beta's members");
    let (_, filtered) = beta
        .get("/Users?filter=userName%20eq%20%22ann%40acme.test%22")
        .await;
    assert_eq!(filtered["totalResults"], 0);
    let (_, by_id) = beta
        .get(&format!("/Users?filter=id%20eq%20%22{ann}%22"))
        .await;
    assert_eq!(by_id["totalResults"], 0);
    assert_eq!(
        beta.get(&format!("/Users/{ann}")).await.0,
        StatusCode::NOT_FOUND
    );
    let off = json!({"Operations": [{"op": "replace", "value": {"active": false, "displayName": "Pwned"}}]});
    assert_eq!(
        beta.patch(&format!("/Users/{ann}"), &off).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        beta.put(
            &format!("/Users/{ann}"),
            &okta_user("ann@acme.test", "P", "W")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        beta.delete(&format!("/Users/{ann}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        beta.get(&format!("/Groups/{acme_gid}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        beta.delete(&format!("/Groups/{acme_gid}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, groups) = beta.get("/Groups").await;
    assert_eq!(groups["totalResults"], 0);
    // Beta's own admins group naming acme's member: the foreign id is ignored.
    let (status, g) = beta
        .post(
            "/Groups",
            &json!({"displayName": "admins", "members": [{"value": ann}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "group names are per team");
    assert_eq!(g["members"], json!([]));
    let after: (String, String, bool) =
        p.app
            .user("acme", "ann@acme.test", "name, role, active", |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            });
    assert_eq!(before, after, "nothing of acme's member changed");
    assert_eq!(p.app.count("SELECT count(*) FROM audit WHERE team_id = 'acme' AND action LIKE 'scim_%' AND actor = 'SCIM'"), 2, "acme's log has only acme's SCIM changes");
}

#[actix_web::test]
async fn a_body_over_one_mebibyte_is_413_with_a_scim_error_and_creates_nothing() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let mut big = okta_user("big@acme.test", "Big", "Body");
    big["padding"] = json!("x".repeat(1024 * 1024));
    let (status, body) = scim.post("/Users", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&body, "413", None);
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'big@acme.test'"),
        0
    );
    // Just under the limit is read.
    let mut fits = okta_user("fits@acme.test", "Fits", "Body");
    fits["padding"] = json!("x".repeat(1000 * 1000));
    assert_eq!(scim.post("/Users", &fits).await.0, StatusCode::CREATED);
    let (status, body) = scim.send(reqwest::Method::POST, "/Users", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "400", Some("invalidSyntax"));
    let (status, body) = scim
        .post("/Users", &json!({"userName": "not-an-email"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "400", Some("invalidValue"));
}

#[actix_web::test]
async fn text_over_256_characters_is_400_and_keeps_nothing() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let long = "x".repeat(257);
    let mut user = okta_user("long@acme.test", "Long", "Name");
    user["displayName"] = json!(long);
    let (status, body) = scim.post("/Users", &user).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "400", Some("invalidValue"));
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("displayName"),
        "{body}"
    );
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'long@acme.test'"),
        0
    );
    // 256 is kept; a PATCH past it changes nothing.
    user["displayName"] = json!("x".repeat(256));
    let (status, created) = scim.post("/Users", &user).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let (status, body) = scim
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "name.familyName", "value": long}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "400", Some("invalidValue"));
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM scim_users WHERE family_name = 'Name'"),
        1
    );
    // A record kept from before the limit can still be deactivated as Okta does it.
    p.app
        .db()
        .execute(
            "UPDATE scim_users SET display_name = ?1",
            [&"y".repeat(300)],
        )
        .expect("a long name from before");
    let (status, body) = scim
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'long@acme.test' AND active = 0"),
        1,
        "deactivated"
    );
    let (status, body) = scim
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": long}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(p.app.count("SELECT count(*) FROM scim_groups"), 0);
}

#[actix_web::test]
async fn a_provisioned_email_takes_over_no_account_in_another_team() {
    let p = Portal::start(&[
        ("acme", "admin_email = \"alice@acme.test\""),
        ("beta", "admin_email = \"boss@beta.test\""),
    ])
    .await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let alice_id = p
        .app
        .user("acme", "alice@acme.test", "id", |r| r.get::<_, i64>(0));
    let beta = p.scim("beta", "boss@beta.test").await;
    // Beta's IdP provisions acme's admin, by email.
    let planted = beta
        .create_user("alice@acme.test", "Alice", "Impostor")
        .await;
    assert_ne!(planted, alice_id.to_string());
    // Alice's next acme sign-in is her own account, untouched.
    drop(alice);
    let _again = p.sign_in("acme", "alice@acme.test").await;
    assert_eq!(
        p.app
            .user("acme", "alice@acme.test", "id", |r| r.get::<_, i64>(0)),
        alice_id
    );
    let (role, name): (String, String) = p.app.user("acme", "alice@acme.test", "role, name", |r| {
        Ok((r.get(0)?, r.get(1)?))
    });
    assert_eq!(role, "admin");
    assert!(!name.contains("Impostor"));
    let planted_issuer: String = p
        .app
        .user("beta", "alice@acme.test", "issuer", |r| r.get(0));
    assert_eq!(
        planted_issuer, "",
        "beta's provisioned row was not linked by an acme sign-in"
    );
    assert_eq!(p.app.count("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.team_id = 'beta' AND u.email = 'alice@acme.test'"), 0);
}

#[actix_web::test]
async fn linking_a_provisioned_member_needs_a_verified_email() {
    let p = Portal::acme("provisioning = \"invite\"").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    scim.create_user("carol@acme.test", "Carol", "C").await;
    let (r, client) = p
        .attempt("acme", "carol@acme.test", |c| {
            c["email_verified"] = json!(false)
        })
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "unverified email refused"
    );
    assert!(r.text().await.unwrap().contains("trust_email"));
    assert_eq!(
        p.app.get(&client, "/team").await.status(),
        StatusCode::SEE_OTHER
    );
    let (issuer, last): (String, Option<i64>) =
        p.app
            .user("acme", "carol@acme.test", "issuer, last_login_at", |r| {
                Ok((r.get(0)?, r.get(1)?))
            });
    assert_eq!((issuer.as_str(), last), ("", None), "still not linked");
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'carol@acme.test'"),
        1
    );
}

#[actix_web::test]
async fn members_cannot_reach_the_scim_settings_and_forged_posts_change_nothing() {
    let p = Portal::acme("").await;
    let _alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    assert_eq!(
        p.app.get(&bob, "/settings/scim").await.status(),
        StatusCode::FORBIDDEN
    );
    let csrf = p.app.csrf(&bob, "/team").await;
    let r = p
        .app
        .post(&bob, "/settings/scim/token", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let anon = crate::helpers::browser();
    let r = p.app.get(&anon, "/settings/scim").await;
    assert_eq!(
        (r.status(), crate::helpers::location(&r)),
        (StatusCode::SEE_OTHER, "/login".to_string())
    );
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let r = p
        .app
        .post(&alice, "/settings/scim/token", &[("csrf_token", "forged")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "CSRF");
    assert_eq!(p.app.count("SELECT count(*) FROM scim_tokens"), 0);
}

#[actix_web::test]
async fn an_unverified_email_links_a_provisioned_account_an_admin_promoted_only_as_a_member() {
    let p = Portal::acme("trust_email = true").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let id = scim.create_user("cfo@acme.test", "Cy", "Fo").await;
    let r = p
        .app
        .post_csrf(
            &alice,
            &format!("/team/members/{id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "promoted before the first sign-in"
    );

    // Someone at the team's IdP with that email, not verified (trust_email lets them in).
    let (r, cfo) = p
        .attempt("acme", "cfo@acme.test", |c| {
            c["email_verified"] = json!(false)
        })
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "trusted in");
    let (role, issuer): (String, String) =
        p.app.user("acme", "cfo@acme.test", "role, issuer", |r| {
            Ok((r.get(0)?, r.get(1)?))
        });
    assert_eq!(
        role, "member",
        "the admin role is not carried by an unverified email"
    );
    assert!(!issuer.is_empty(), "linked");
    assert_eq!(
        p.app.get(&cfo, "/billing").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        p.app.count("SELECT count(*) FROM audit WHERE action = 'role_changed' AND detail LIKE 'admin -> member%unverified%'"),
        1,
        "audited"
    );
}

#[actix_web::test]
async fn a_list_query_that_is_not_utf8_is_400() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let (status, body) = scim.get("/Users?filter=userName%20eq%20%22%ff%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "400", Some("invalidFilter"));
    let (status, body) = scim.get("/Users?excludedAttributes=%ff").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "400", Some("invalidValue"));
    let (status, body) = scim
        .get("/Groups?filter=displayName%20eq%20%22%c3%a9%22")
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "UTF-8 is a filter like any other: {body}"
    );
}
