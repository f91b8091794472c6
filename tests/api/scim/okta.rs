//! The requests Okta's SCIM client sends, in its order: test connector, assign (filter, then
//! create), import, profile push (GET then full PUT), deactivate and reactivate (path-less
//! PATCH), and Push Groups (create, add, remove, rename, delete).

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{assert_error, audit_actions, Portal};

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[actix_web::test]
async fn oktas_test_connector_and_a_user_lifecycle_in_oktas_order() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;

    // Test connector: a page of two, then a random userName that is not there.
    let (status, list) = scim.get("/Users?startIndex=1&count=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(
        (
            list["totalResults"].as_i64(),
            list["startIndex"].as_i64(),
            list["itemsPerPage"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(list["Resources"][0]["userName"], "alice@acme.test");
    assert_eq!(
        list["Resources"][0]["active"], true,
        "the first listed user is active"
    );
    let (status, empty) = scim
        .get("/Users?filter=userName%20eq%20%22qw1xz9%40example.com%22&startIndex=1&count=100")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            empty["totalResults"].as_i64(),
            empty["Resources"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );

    // Assign: not found by userName, then created with the password Okta sends.
    let (_, none) = scim
        .get("/Users?filter=userName%20eq%20%22ann%40acme.test%22")
        .await;
    assert_eq!(none["totalResults"], 0);
    let (status, ann) = scim
        .post("/Users", &super::okta_user("Ann@Acme.test", "Ann", "Lee"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    let id = ann["id"].as_str().expect("id").to_string();
    assert_eq!(ann["userName"], "ann@acme.test", "lowercased");
    assert_eq!(ann["name"]["givenName"], "Ann");
    assert_eq!(ann["active"], true);
    assert_eq!(ann["meta"]["resourceType"], "User");
    assert!(ann["meta"]["location"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/scim/v2/Users/{id}")));
    assert!(
        ann.get("password").is_none(),
        "the password is never returned"
    );
    assert!(
        !ann.to_string().contains("1mp0ssible"),
        "nor kept anywhere in the answer"
    );
    let (issuer, last_login, joined): (String, Option<i64>, String) = p.app.user(
        "acme",
        "ann@acme.test",
        "issuer, last_login_at, joined_via",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    assert_eq!(
        (issuer.as_str(), last_login, joined.as_str()),
        ("", None, "scim"),
        "provisioned, no IdP identity yet"
    );
    let stored = p.app.db().query_row("SELECT count(*) FROM scim_users s JOIN users u ON u.id = s.user_id WHERE u.email = 'ann@acme.test' AND s.external_id = '00u13'", [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(stored, 1, "externalId is stored");
    assert_eq!(p.app.count("SELECT count(*) FROM audit WHERE instr(detail, '1mp0ssible') OR instr(target, '1mp0ssible')"), 0);

    // A second POST of the same userName: 409 uniqueness, nothing more made.
    let (status, dup) = scim
        .post("/Users", &super::okta_user("ann@acme.test", "Ann", "Lee"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&dup, "409", Some("uniqueness"));
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'ann@acme.test'"),
        1
    );

    // Get, and filter case-insensitively.
    let (status, got) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(
        (status, &got["userName"]),
        (StatusCode::OK, &json!("ann@acme.test"))
    );
    let (_, found) = scim
        .get("/Users?filter=userName%20eq%20%22ANN%40acme.TEST%22&startIndex=1&count=100")
        .await;
    assert_eq!(
        (
            found["totalResults"].as_i64(),
            found["Resources"][0]["id"].as_str()
        ),
        (Some(1), Some(id.as_str()))
    );

    // Profile push: GET, then a full PUT echoing id, meta and groups.
    let mut put = got.clone();
    put["name"]["familyName"] = json!("Lee-Smith");
    put["displayName"] = json!("Ann Lee-Smith");
    let (status, after) = scim.put(&format!("/Users/{id}"), &put).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["name"]["familyName"], "Lee-Smith");
    assert_eq!(
        p.app
            .user("acme", "ann@acme.test", "name", |r| r.get::<_, String>(0)),
        "Ann Lee-Smith"
    );

    // Deactivate: Okta's path-less replace.
    let (status, off) = scim
        .patch(
            &format!("/Users/{id}"),
            &patch(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(
        (status, &off["active"]),
        (StatusCode::OK, &json!(false)),
        "{off}"
    );
    assert!(!p
        .app
        .user("acme", "ann@acme.test", "active", |r| r.get::<_, bool>(0)));
    // Still found, by id and by filter (Okta re-activates through them).
    assert_eq!(scim.get(&format!("/Users/{id}")).await.1["active"], false);
    let (_, found) = scim
        .get("/Users?filter=userName%20eq%20%22ann%40acme.test%22")
        .await;
    assert_eq!(
        (
            found["totalResults"].as_i64(),
            &found["Resources"][0]["active"]
        ),
        (Some(1), &json!(false))
    );

    // Reactivate.
    let (status, on) = scim
        .patch(
            &format!("/Users/{id}"),
            &patch(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!((status, &on["active"]), (StatusCode::OK, &json!(true)));
    assert!(p
        .app
        .user("acme", "ann@acme.test", "active", |r| r.get::<_, bool>(0)));

    // Custom app integrations deactivate with a PUT; a re-POST of a deactivated user
    // restores it in place.
    let mut put_off = on.clone();
    put_off["active"] = json!(false);
    assert_eq!(
        scim.put(&format!("/Users/{id}"), &put_off).await.1["active"],
        false
    );
    let (status, back) = scim
        .post("/Users", &super::okta_user("ann@acme.test", "Ann", "Lee"))
        .await;
    assert_eq!(
        (status, back["id"].as_str(), &back["active"]),
        (StatusCode::CREATED, Some(id.as_str()), &json!(true))
    );
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'ann@acme.test'"),
        1,
        "the same member"
    );

    // An unknown id: 404 with a detail.
    let (status, missing) = scim.get("/Users/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&missing, "404", None);

    let actions: Vec<String> = audit_actions(&p.app, "acme")
        .into_iter()
        .filter(|(actor, _, _)| actor == "SCIM")
        .map(|(_, a, _)| a)
        .collect();
    for want in [
        "scim_user_created",
        "scim_user_updated",
        "member_removed",
        "member_restored",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} audited as SCIM: {actions:?}"
        );
    }
}

#[actix_web::test]
async fn import_pages_by_100_with_integer_counts_in_a_stable_order() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    for i in 0..150 {
        scim.create_user(&format!("u{i:03}@acme.test"), "U", &format!("{i}"))
            .await;
    }
    let mut seen = Vec::new();
    for start in [1, 101] {
        let (status, page) = scim
            .get(&format!("/Users?startIndex={start}&count=100"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["totalResults"], 151);
        assert_eq!(page["startIndex"], start);
        let n = page["Resources"].as_array().unwrap().len();
        assert_eq!(page["itemsPerPage"], n as i64);
        seen.extend(
            page["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(seen.len(), 151);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), 151, "no user twice across pages");
    // count is bounded to 200; a bad number is 400.
    let (_, big) = scim.get("/Users?count=5000").await;
    assert_eq!(big["itemsPerPage"], 151);
    let (status, bad) = scim.get("/Users?startIndex=one").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&bad, "400", Some("invalidValue"));
    let (status, bad) = scim.get("/Users?filter=userName%20co%20%22u0%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&bad, "400", Some("invalidFilter"));
    let (status, bad) = scim.get("/Users?filter=nickName%20eq%20%22x%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&bad, "400", Some("invalidFilter"));
    // and / or of the supported filters.
    let (_, both) = scim.get("/Users?filter=userName%20eq%20%22u001%40acme.test%22%20or%20emails.value%20eq%20%22U002%40acme.test%22").await;
    assert_eq!(both["totalResults"], 2);
}

#[actix_web::test]
async fn push_groups_create_add_remove_rename_delete_and_admin_groups_grant_admin() {
    let p = Portal::acme("admin_groups = [\"portal-admins\"]").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let ann = scim.create_user("ann@acme.test", "Ann", "Lee").await;
    let bob = scim.create_user("bob@acme.test", "Bob", "Ray").await;
    // Admin rights from a group apply to accounts someone has signed in to.
    p.sign_in("acme", "ann@acme.test").await;
    p.sign_in("acme", "bob@acme.test").await;
    let role = |email: &str| {
        p.app.user("acme", email, "role, role_source", |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
    };

    // Test connector with Push Groups, then the push: create with no members.
    let (status, _) = scim.get("/Groups?startIndex=1&count=2").await;
    assert_eq!(status, StatusCode::OK);
    let (status, g) = scim.post("/Groups", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": []})).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let (status, dup) = scim
        .post(
            "/Groups",
            &json!({"displayName": "engineering", "members": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&dup, "409", Some("uniqueness"));

    // Add members (Okta sends the rename-shaped replace with every membership change).
    let (status, g) = scim
        .patch(&format!("/Groups/{gid}"), &patch(json!([
            {"op": "replace", "value": {"id": gid, "displayName": "Engineering"}},
            {"op": "add", "path": "members", "value": [{"value": ann, "display": "ann@acme.test"}, {"value": bob, "display": "bob@acme.test"}]}
        ])))
        .await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        role("ann@acme.test"),
        ("member".into(), "default".into()),
        "Engineering grants nothing"
    );
    let (_, ann_res) = scim.get(&format!("/Users/{ann}")).await;
    assert_eq!(ann_res["groups"][0]["display"], "Engineering");

    // Rename into admin_groups: both become admins with source groups.
    let (status, g) = scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "portal-admins"}}]),
            ),
        )
        .await;
    assert_eq!(
        (status, &g["displayName"]),
        (StatusCode::OK, &json!("portal-admins"))
    );
    assert_eq!(role("ann@acme.test"), ("admin".into(), "groups".into()));
    assert_eq!(role("bob@acme.test"), ("admin".into(), "groups".into()));

    // Remove Bob with Okta's filtered path: he loses what the group gave.
    let (status, g) = scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    assert_eq!(role("bob@acme.test"), ("member".into(), "default".into()));

    // Alice is admin by admin_email; adding and removing her never demotes her.
    let alice = p
        .app
        .user("acme", "alice@acme.test", "id", |r| r.get::<_, i64>(0))
        .to_string();
    scim.patch(
        &format!("/Groups/{gid}"),
        &patch(json!([{"op": "add", "path": "members", "value": [{"value": alice}]}])),
    )
    .await;
    scim.patch(
        &format!("/Groups/{gid}"),
        &patch(json!([{"op": "remove", "path": format!("members[value eq \"{alice}\"]")}])),
    )
    .await;
    assert_eq!(
        role("alice@acme.test"),
        ("admin".into(), "admin_email".into())
    );

    // Filter by displayName; full replace of members; delete.
    let (_, byname) = scim
        .get("/Groups?filter=displayName%20eq%20%22portal-admins%22")
        .await;
    assert_eq!(
        (
            byname["totalResults"].as_i64(),
            byname["Resources"][0]["id"].as_str()
        ),
        (Some(1), Some(gid.as_str()))
    );
    let (status, _) = scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(json!([{"op": "replace", "path": "members", "value": [{"value": bob}]}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(role("ann@acme.test"), ("member".into(), "default".into()));
    assert_eq!(role("bob@acme.test"), ("admin".into(), "groups".into()));
    let (status, body) = scim.delete(&format!("/Groups/{gid}")).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(
        role("bob@acme.test"),
        ("member".into(), "default".into()),
        "deleting the group takes back what it gave"
    );
    assert_eq!(
        scim.get(&format!("/Groups/{gid}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(p.app.count("SELECT count(*) FROM scim_groups"), 0);
    assert_eq!(p.app.count("SELECT count(*) FROM scim_group_members"), 0);
    let actions: Vec<String> = audit_actions(&p.app, "acme")
        .into_iter()
        .filter(|(a, _, _)| a == "SCIM")
        .map(|(_, a, _)| a)
        .collect();
    for want in [
        "scim_group_created",
        "scim_group_updated",
        "scim_group_deleted",
        "role_changed",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want}: {actions:?}");
    }
}

#[actix_web::test]
async fn a_pushed_admin_group_never_demotes_the_last_admin() {
    let p = Portal::acme("admin_groups = [\"portal-admins\"]").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let ann = scim.create_user("ann@acme.test", "Ann", "Lee").await;
    p.sign_in("acme", "ann@acme.test").await;
    let (_, g) = scim
        .post(
            "/Groups",
            &json!({"displayName": "portal-admins", "members": [{"value": ann}]}),
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    // Ann is the groups admin; Alice (admin_email) is removed by SCIM, leaving Ann the last.
    let alice = p
        .app
        .user("acme", "alice@acme.test", "id", |r| r.get::<_, i64>(0));
    let (status, _) = scim.delete(&format!("/Users/{alice}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(json!([{"op": "remove", "path": "members"}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        p.app
            .user("acme", "ann@acme.test", "role", |r| r.get::<_, String>(0)),
        "admin",
        "the last admin stays admin"
    );
    // And removing the last admin is refused with 409, changing nothing.
    let (status, body) = scim
        .patch(
            &format!("/Users/{ann}"),
            &patch(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "409", None);
    assert!(p
        .app
        .user("acme", "ann@acme.test", "active", |r| r.get::<_, bool>(0)));
}

#[actix_web::test]
async fn discovery_documents_publish_only_what_is_stored() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let (status, spc) = scim.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            spc["patch"]["supported"].as_bool(),
            spc["bulk"]["supported"].as_bool(),
            spc["filter"]["supported"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );
    let (_, types) = scim.get("/ResourceTypes").await;
    assert_eq!(types["totalResults"], 2);
    let (_, schemas) = scim.get("/Schemas").await;
    let user = &schemas["Resources"][0];
    let names: Vec<&str> = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "userName",
            "externalId",
            "name",
            "displayName",
            "emails",
            "active",
            "groups"
        ]
    );
    let groups = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "groups")
        .unwrap();
    assert_eq!(groups["mutability"], "readOnly");
    let (status, one) = scim
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
        .await;
    assert_eq!((status, &one["name"]), (StatusCode::OK, &json!("Group")));
    let (status, body) = scim.get("/Nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "404", None);
}
