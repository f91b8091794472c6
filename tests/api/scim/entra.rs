//! The shapes Entra ID sends: test connection with random filters, capitalised ops, string
//! booleans, dotted keys in a path-less replace, `emails[type eq "work"].value`, member
//! removal with a value array and `$ref: null`, Microsoft's extension URNs, DELETE /Users.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{assert_error, Portal};

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn entra_user(upn: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "e1f7-aad-object-id",
        "userName": upn,
        "active": "True",
        "displayName": "Eve Entra",
        "emails": [{"primary": "True", "type": "work", "value": upn}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Eve Entra", "familyName": "Entra", "givenName": "Eve"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Finance", "manager": {"value": "x"}}
    })
}

#[actix_web::test]
async fn entras_user_shapes_from_test_connection_to_delete() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;

    // Test connection: random filters, empty lists (never a 404).
    for q in [
        "/Users?filter=userName+eq+%2274c6f1e2-7a40-4c71-9d0e-5b1c7b7b8e2a%22",
        "/Groups?filter=displayName+eq+%2274c6f1e2-7a40-4c71-9d0e-5b1c7b7b8e2a%22",
        "/Users?filter=externalId%20eq%20%22no-such-object%22",
    ] {
        let (status, body) = scim.get(q).await;
        assert_eq!(
            (status, &body["totalResults"]),
            (StatusCode::OK, &json!(0)),
            "{q}"
        );
    }

    let (status, eve) = scim.post("/Users", &entra_user("eve@acme.test")).await;
    assert_eq!(status, StatusCode::CREATED, "{eve}");
    let id = eve["id"].as_str().unwrap().to_string();
    assert_eq!(
        (&eve["active"], &eve["emails"][0]["primary"]),
        (&json!(true), &json!(true)),
        "real booleans go out"
    );
    let (_, by_ext) = scim
        .get("/Users?filter=externalId%20eq%20%22e1f7-aad-object-id%22")
        .await;
    assert_eq!(by_ext["Resources"][0]["id"], json!(id));

    // Capitalised ops, dotted keys, a filtered email path, an extension attribute.
    let (status, after) = scim
        .patch(&format!("/Users/{id}"), &patch(json!([
            {"op": "Replace", "value": {"name.givenName": "Evelyn", "name.familyName": "Entra-Ng", "displayName": "Evelyn Entra-Ng"}},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "Evelyn@acme.test"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Ops"}
        ])))
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(
        (&after["name"]["givenName"], &after["name"]["familyName"]),
        (&json!("Evelyn"), &json!("Entra-Ng"))
    );
    assert_eq!(after["emails"][0]["value"], "Evelyn@acme.test");
    assert_eq!(
        p.app
            .user("acme", "eve@acme.test", "name", |r| r.get::<_, String>(0)),
        "Evelyn Entra-Ng"
    );
    let (_, by_mail) = scim
        .get("/Users?filter=emails.value%20eq%20%22evelyn%40ACME.test%22")
        .await;
    assert_eq!(
        by_mail["totalResults"], 1,
        "emails.value matches without case"
    );

    // Deactivation with a string boolean on a path.
    let (status, off) = scim
        .patch(
            &format!("/Users/{id}"),
            &patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!((status, &off["active"]), (StatusCode::OK, &json!(false)));
    assert!(!p
        .app
        .user("acme", "eve@acme.test", "active", |r| r.get::<_, bool>(0)));
    let (status, bad) = scim
        .patch(
            &format!("/Users/{id}"),
            &patch(json!([{"op": "Replace", "path": "active", "value": "Maybe"}])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&bad, "400", Some("invalidValue"));
    let (status, bad) = scim
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "Frobnicate", "path": "active"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&bad, "400", Some("invalidSyntax"));

    // Entra does delete: the member is removed and the id answers 404.
    let (status, body) = scim.delete(&format!("/Users/{id}")).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, gone) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&gone, "404", None);
    let (_, list) = scim
        .get("/Users?filter=userName%20eq%20%22eve%40acme.test%22")
        .await;
    assert_eq!(list["totalResults"], 0);
    assert!(
        !p.app
            .user("acme", "eve@acme.test", "active", |r| r.get::<_, bool>(0)),
        "kept, removed"
    );
    assert_eq!(
        p.app.count(
            "SELECT count(*) FROM audit WHERE actor = 'SCIM' AND action = 'scim_user_deleted'"
        ),
        1
    );
}

#[actix_web::test]
async fn entras_group_shapes_with_extension_urns_and_value_array_removal() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let a = scim.create_user("a@acme.test", "A", "A").await;
    let b = scim.create_user("b@acme.test", "B", "B").await;
    let (status, g) = scim
        .post("/Groups", &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "grp-object-id",
            "displayName": "Finance",
            "members": [],
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group": {"description": "x"}
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let (status, g) = scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(
                json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
            ),
        )
        .await;
    assert_eq!(
        (status, g["members"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(2))
    );
    let (status, g) = scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(
                json!([{"op": "Remove", "path": "members", "value": [{"value": a, "$ref": null}]}]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        g["members"],
        json!([{"value": b, "display": "b@acme.test"}])
    );
    let (status, g) = scim
        .patch(
            &format!("/Groups/{gid}"),
            &patch(json!([{"op": "Replace", "path": "displayName", "value": "Finance EU"}])),
        )
        .await;
    assert_eq!(
        (status, &g["displayName"]),
        (StatusCode::OK, &json!("Finance EU"))
    );
    let stored: String = p
        .app
        .db()
        .query_row("SELECT display_name FROM scim_groups", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, "Finance EU");
    // A PUT replaces the whole group.
    let (status, g) = scim
        .put(
            &format!("/Groups/{gid}"),
            &json!({"displayName": "Finance", "members": [{"value": a}]}),
        )
        .await;
    assert_eq!(
        (status, g["members"][0]["value"].as_str()),
        (StatusCode::OK, Some(a.as_str()))
    );
    assert_eq!(p.app.count("SELECT count(*) FROM scim_group_members"), 1);
    // application/json bodies are read too.
    let r = reqwest::Client::new()
        .post(format!("{}/Groups", scim.base))
        .bearer_auth(&scim.token)
        .header("content-type", "application/json")
        .body(json!({"displayName": "Plain JSON"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}
