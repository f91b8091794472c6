//! End to end with the real `oidc-provider`: provision by SCIM, sign in by OIDC as the same
//! member, make a personal token, deactivate by SCIM -> the session is gone and the token
//! answers 401 on the very next request, sign-in is refused; re-activate -> sign-in works.

use reqwest::StatusCode;
use serde_json::json;

use super::ScimClient;
use crate::helpers::location;

#[actix_web::test]
async fn scim_deactivation_ends_a_real_sign_in_and_its_personal_token_at_once() {
    let s = crate::sso_e2e::start("").await;
    let alice = s.sign_in("acme", "alice").await;
    let token = super::new_token(&s.app, &alice).await;
    let scim = ScimClient::new(&s.app, &token);
    let id = scim.create_user("bob@acme.com", "Bob", "Builder").await;

    let bob = s.sign_in("acme", "bob").await;
    assert_eq!(
        s.user_id("acme", "bob@acme.com").to_string(),
        id,
        "the provisioned member signed in"
    );
    let (_, secret) =
        crate::tokens::create(&s.app, &bob, &[("name", "laptop"), ("personal", "on")]).await;
    assert_eq!(
        crate::tokens::verify(&s.app, &secret).await.status(),
        StatusCode::OK
    );

    let started = std::time::Instant::now();
    let (status, off) = scim
        .patch(&format!("/Users/{id}"), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]}))
        .await;
    assert_eq!((status, &off["active"]), (StatusCode::OK, &json!(false)));
    let r = s.app.get(&bob, "/team").await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/login".to_string()),
        "the session is gone"
    );
    crate::tokens::assert_refused(
        crate::tokens::verify(&s.app, &secret).await,
        "the personal token stops",
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "within a second: {:?}",
        started.elapsed()
    );
    assert_eq!(
        s.app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = {id}"
        )),
        0
    );

    let (resp, again) = s.attempt("acme", "bob").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "sign-in refused");
    assert_eq!(
        s.app.get(&again, "/team").await.status(),
        StatusCode::SEE_OTHER
    );

    let (status, on) = scim
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "replace", "value": {"active": true}}]}),
        )
        .await;
    assert_eq!((status, &on["active"]), (StatusCode::OK, &json!(true)));
    let bob = s.sign_in("acme", "bob").await;
    assert_eq!(s.app.get(&bob, "/team").await.status(), StatusCode::OK);
    assert_eq!(
        s.user_id("acme", "bob@acme.com").to_string(),
        id,
        "still the same member"
    );
    assert_eq!(
        crate::tokens::verify(&s.app, &secret).await.status(),
        StatusCode::UNAUTHORIZED,
        "a revoked token stays revoked"
    );
}
