//! `POST /sso/{team}/backchannel-logout` against tokens the test signs itself: each refusal
//! answers 400 with a JSON error, `Cache-Control: no-store`, and ends nothing; a valid token
//! ends the sessions it names (by sid, else all of that sub's), once.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{acme, live_sessions, signed_in, works};
use crate::helpers::TestApp;
use crate::support::fake_idp::{time_now, FakeIdp, CLIENT_ID};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn logout_claims(idp: &FakeIdp, sub: Option<&str>, sid: Option<&str>) -> Value {
    let now = time_now();
    let mut c = json!({
        "iss": idp.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
        "jti": teamportal::crypto::random_string(12), "events": {EVENT: {}},
    });
    if let Some(sub) = sub {
        c["sub"] = json!(sub);
    }
    if let Some(sid) = sid {
        c["sid"] = json!(sid);
    }
    c
}

async fn post(app: &TestApp, team: &str, token: &str) -> (StatusCode, Option<String>, Value) {
    let resp = reqwest::Client::new()
        .post(app.url(&format!("/sso/{team}/backchannel-logout")))
        .form(&[("logout_token", token)])
        .send()
        .await
        .expect("back-channel logout");
    let status = resp.status();
    let cache = resp
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.text().await.expect("body");
    (
        status,
        cache,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn a_valid_logout_token_ends_the_sessions_of_its_sid_only_and_is_audited() {
    let (app, idp) = acme().await;
    let laptop = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-1")).await;
    let phone = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-2")).await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE sid = 'sid-1' AND id_token_enc IS NOT NULL"),
        1,
        "the session keeps the IdP's sid and its sealed ID token"
    );

    let token = idp.sign(&logout_claims(&idp, Some("u-bob"), Some("sid-1")));
    let (status, cache, _) = post(&app, "acme", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert!(!works(&app, &laptop).await, "the session of sid-1 ended");
    assert!(works(&app, &phone).await, "the other sign-in stays");
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'backchannel_logout' AND detail = '1 session(s) ended'"),
        1
    );

    // The same token again: a replay, refused, nothing more ended.
    let (status, _, body) = post(&app, "acme", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert!(works(&app, &phone).await);
}

#[actix_web::test]
async fn an_explicit_logout_typ_is_accepted() {
    let (app, idp) = acme().await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-t")).await;
    let token = idp.sign_typed(
        &logout_claims(&idp, Some("u-bob"), Some("sid-t")),
        "logout+jwt",
    );
    assert_eq!(post(&app, "acme", &token).await.0, StatusCode::OK);
    assert!(!works(&app, &bob).await);
}

#[actix_web::test]
async fn a_logout_token_with_sid_and_sub_also_ends_that_users_sessions_without_a_sid() {
    let (app, idp) = acme().await;
    let named = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-1")).await;
    let other_sid = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-2")).await;
    // From an ID token without a sid (or from before sessions kept one).
    let no_sid = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let carol = signed_in(&app, &idp, "acme", ("u-carol", "carol@acme.com"), None).await;
    let token = idp.sign(&logout_claims(&idp, Some("u-bob"), Some("sid-1")));
    assert_eq!(post(&app, "acme", &token).await.0, StatusCode::OK);
    assert!(!works(&app, &named).await, "the named sid");
    assert!(!works(&app, &no_sid).await, "bob's session without a sid");
    assert!(
        works(&app, &other_sid).await,
        "bob's other IdP session stays"
    );
    assert!(works(&app, &carol).await, "no one else's");
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'backchannel_logout' AND detail = '2 session(s) ended'"),
        1
    );
}

#[actix_web::test]
async fn two_teams_on_the_same_issuer_one_teams_token_ends_only_its_own_sessions() {
    let idp = FakeIdp::start().await;
    let app = crate::helpers::spawn_app(&format!(
        "{}{}",
        idp.team_toml("acme", ""),
        idp.team_toml("beta", "")
    ))
    .await;
    // The same IdP identity, sid and client id in both teams.
    let in_acme = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-1")).await;
    let in_beta = signed_in(&app, &idp, "beta", ("u-bob", "bob@acme.com"), Some("sid-1")).await;
    assert_eq!(live_sessions(&app), 2);

    let token = idp.sign(&logout_claims(&idp, Some("u-bob"), Some("sid-1")));
    assert_eq!(post(&app, "acme", &token).await.0, StatusCode::OK);
    assert!(!works(&app, &in_acme).await, "acme's session ended");
    assert!(works(&app, &in_beta).await, "beta's session stays");
    // A sub-only token at acme's receiver: still nothing of beta's.
    let token = idp.sign(&logout_claims(&idp, Some("u-bob"), None));
    assert_eq!(post(&app, "acme", &token).await.0, StatusCode::OK);
    assert!(works(&app, &in_beta).await);
    assert_eq!(live_sessions(&app), 1);
}

#[actix_web::test]
async fn a_logout_token_with_only_sub_ends_every_session_of_that_user_and_no_one_elses() {
    let (app, idp) = acme().await;
    let a = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("s-a")).await;
    let b = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), None).await;
    let carol = signed_in(&app, &idp, "acme", ("u-carol", "carol@acme.com"), None).await;
    let token = idp.sign(&logout_claims(&idp, Some("u-bob"), None));
    assert_eq!(post(&app, "acme", &token).await.0, StatusCode::OK);
    assert!(!works(&app, &a).await && !works(&app, &b).await);
    assert!(works(&app, &carol).await);
}

#[actix_web::test]
async fn every_section_2_6_refusal_answers_400_with_a_json_error_and_ends_nothing() {
    let (app, idp) = acme().await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-1")).await;
    let before = live_sessions(&app);

    let valid = || logout_claims(&idp, Some("u-bob"), Some("sid-1"));
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = valid();
        change(&mut c);
        idp.sign(&c)
    };
    let replayed = idp.sign(&valid());
    let cases: Vec<(&str, String)> = vec![
        ("bad signature", idp.sign_with_other_key(&valid())),
        ("alg none", idp.unsigned(&valid())),
        (
            "wrong iss",
            with(&|c| c["iss"] = json!("https://evil.test")),
        ),
        ("wrong aud", with(&|c| c["aud"] = json!("another-client"))),
        (
            "no events",
            with(&|c| drop(c.as_object_mut().map(|o| o.remove("events")))),
        ),
        (
            "wrong event",
            with(&|c| c["events"] = json!({"urn:example:other": {}})),
        ),
        ("nonce present", with(&|c| c["nonce"] = json!("n-1"))),
        ("stale iat", with(&|c| c["iat"] = json!(time_now() - 600))),
        (
            "no jti",
            with(&|c| drop(c.as_object_mut().map(|o| o.remove("jti")))),
        ),
        (
            "neither sid nor sub",
            with(&|c| {
                let o = c.as_object_mut().expect("object");
                o.remove("sid");
                o.remove("sub");
            }),
        ),
        (
            "no exp",
            with(&|c| drop(c.as_object_mut().map(|o| o.remove("exp")))),
        ),
        (
            "event not an object",
            with(&|c| c["events"] = json!({EVENT: "logout"})),
        ),
        ("typ at+jwt", idp.sign_typed(&valid(), "at+jwt")),
        (
            "HS256 keyed with the public key",
            idp.hs256_with_public_key(&valid()),
        ),
        ("not a JWT", "not-a-token".to_string()),
        ("empty", String::new()),
    ];
    for (why, token) in &cases {
        let (status, cache, body) = post(&app, "acme", token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
        assert_eq!(cache.as_deref(), Some("no-store"), "{why}");
        assert_eq!(body["error"], "invalid_request", "{why}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{why}"
        );
        assert_eq!(live_sessions(&app), before, "{why}: nothing ended");
    }
    assert!(works(&app, &bob).await, "bob is still signed in");
    assert_eq!(
        app.count("SELECT count(*) FROM logout_jtis"),
        0,
        "refused tokens write no jti"
    );
    assert!(
        app.count("SELECT count(*) FROM audit WHERE action = 'backchannel_logout_refused'") >= 1,
        "refusals are audited"
    );

    // Replayed jti: the first use ends the session, the second is refused.
    assert_eq!(post(&app, "acme", &replayed).await.0, StatusCode::OK);
    let bob2 = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-1")).await;
    let (status, _, body) = post(&app, "acme", &replayed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "replayed jti: {body}");
    assert!(works(&app, &bob2).await, "a replay ends nothing");

    // Unknown team: as every /sso/{team}/ route, 404, with the same JSON error shape.
    let (status, cache, body) = post(&app, "nosuchteam", &idp.sign(&valid())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert_eq!(body["error"], "invalid_request");
    assert!(works(&app, &bob2).await);
}

#[actix_web::test]
async fn another_teams_idp_cannot_end_this_teams_sessions() {
    let ours = FakeIdp::start().await;
    let theirs = FakeIdp::start().await;
    let app = crate::helpers::spawn_app(&format!(
        "{}{}",
        ours.team_toml("acme", ""),
        theirs.team_toml("evil", "")
    ))
    .await;
    let bob = signed_in(
        &app,
        &ours,
        "acme",
        ("u-bob", "bob@acme.com"),
        Some("sid-1"),
    )
    .await;

    // Their IdP's token sent to our team's receiver: wrong issuer and key.
    let mut claims = logout_claims(&theirs, Some("u-bob"), Some("sid-1"));
    let token = theirs.sign(&claims);
    assert_eq!(post(&app, "acme", &token).await.0, StatusCode::BAD_REQUEST);
    // Their IdP naming our user's sub and sid at their own team's receiver: valid for their
    // team, and it ends nothing of ours.
    claims["jti"] = json!("their-own");
    assert_eq!(
        post(&app, "evil", &theirs.sign(&claims)).await.0,
        StatusCode::OK
    );
    assert!(works(&app, &bob).await);
}

#[actix_web::test]
async fn a_logout_token_signed_with_a_rotated_key_is_verified_after_one_jwks_refresh() {
    let (app, mut idp) = acme().await;
    let bob = signed_in(&app, &idp, "acme", ("u-bob", "bob@acme.com"), Some("sid-9")).await;
    idp.rotate();
    let token = idp.sign(&logout_claims(&idp, Some("u-bob"), Some("sid-9")));
    assert_eq!(post(&app, "acme", &token).await.0, StatusCode::OK);
    assert!(!works(&app, &bob).await);
}
