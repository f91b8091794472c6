//! A hostile or broken identity provider: every check of the callback refuses with a 4xx
//! page, no session and no account; a good sign-in passes through the same code path.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{browser, location, query_param, spawn_app, TestApp};
use crate::support::fake_idp::{time_now, FakeIdp};

async fn setup(extra: &str) -> (TestApp, FakeIdp) {
    let idp = FakeIdp::start().await;
    let app = spawn_app(&idp.team_toml(
        "acme",
        &format!("admin_email = \"alice@acme.com\"\nemail_domains = [\"acme.com\"]\n{extra}"),
    ))
    .await;
    (app, idp)
}

/// Starts a sign-in; returns (state, nonce).
async fn begin(app: &TestApp, client: &Client) -> (String, String) {
    let authorize = app.start_sso(client, "acme").await;
    (
        query_param(&authorize, "state").expect("state"),
        query_param(&authorize, "nonce").expect("nonce"),
    )
}

async fn callback(app: &TestApp, client: &Client, query: &[(&str, &str)]) -> reqwest::Response {
    client
        .get(app.url("/sso/acme/callback"))
        .query(query)
        .send()
        .await
        .expect("callback")
}

/// Runs one sign-in whose ID token is `make(nonce)`; returns the callback's answer.
async fn attempt(
    app: &TestApp,
    idp: &FakeIdp,
    client: &Client,
    make: impl FnOnce(&str) -> String,
) -> reqwest::Response {
    let (state, nonce) = begin(app, client).await;
    let code = format!("code-{}", rand_suffix());
    idp.set_code(&code, &make(&nonce));
    callback(
        app,
        client,
        &[("code", &code), ("state", &state), ("iss", &idp.issuer)],
    )
    .await
}

fn rand_suffix() -> String {
    teamportal::crypto::random_string(6)
}

async fn assert_refused(
    app: &TestApp,
    client: &Client,
    resp: reqwest::Response,
    status: StatusCode,
    says: &str,
) {
    assert_eq!(resp.status(), status);
    let body = resp.text().await.expect("body");
    assert!(body.contains(says), "page should say {says:?}: {body}");
    assert_eq!(
        app.get(client, "/team").await.status(),
        StatusCode::SEE_OTHER,
        "no session"
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), 0, "no account");
}

#[actix_web::test]
async fn a_valid_id_token_signs_in_and_creates_the_account_once() {
    let (app, idp) = setup("").await;
    let client = browser();
    let resp = attempt(&app, &idp, &client, |n| {
        idp.sign(&idp.claims(n, "u1", "Bob@Acme.com"))
    })
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/team");
    let (status, body) = app.text(&client, "/team").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("bob@acme.com"), "email is lowercased");
    assert_eq!(
        idp.with(|s| s.userinfo_calls),
        0,
        "no userinfo call when the ID token has every claim"
    );

    let again = browser();
    let resp = attempt(&app, &idp, &again, |n| {
        idp.sign(&idp.claims(n, "u1", "bob@acme.com"))
    })
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("SELECT count(*) FROM users"),
        1,
        "the second sign-in reuses the account"
    );
}

#[actix_web::test]
async fn a_bad_signature_is_refused() {
    let (app, idp) = setup("").await;
    let c = browser();
    let r = attempt(&app, &idp, &c, |n| {
        idp.sign_with_other_key(&idp.claims(n, "u1", "bob@acme.com"))
    })
    .await;
    assert_refused(&app, &c, r, StatusCode::BAD_REQUEST, "signature").await;
}

#[actix_web::test]
async fn alg_none_is_refused() {
    let (app, idp) = setup("").await;
    let c = browser();
    let r = attempt(&app, &idp, &c, |n| {
        idp.unsigned(&idp.claims(n, "u1", "bob@acme.com"))
    })
    .await;
    assert_refused(&app, &c, r, StatusCode::BAD_REQUEST, "Sign-in failed").await;
}

fn tweak(mut claims: Value, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    f(claims.as_object_mut().expect("object"));
    claims
}

#[actix_web::test]
async fn wrong_iss_aud_exp_nonce_sub_and_iat_are_refused() {
    let (app, idp) = setup("").await;
    type Tweak = Box<dyn Fn(&mut serde_json::Map<String, Value>)>;
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "another identity provider",
            Box::new(|c| {
                c.insert("iss".into(), json!("http://127.0.0.1:1"));
            }),
        ),
        (
            "another application",
            Box::new(|c| {
                c.insert("aud".into(), json!("someone-else"));
            }),
        ),
        (
            "expired",
            Box::new(|c| {
                c.insert("exp".into(), json!(time_now() - 600));
                c.insert("iat".into(), json!(time_now() - 900));
            }),
        ),
        (
            "nonce",
            Box::new(|c| {
                c.insert("nonce".into(), json!("not-the-nonce"));
            }),
        ),
        (
            "malformed",
            Box::new(|c| {
                c.remove("sub");
            }),
        ),
        (
            "malformed",
            Box::new(|c| {
                c.remove("iat");
            }),
        ),
    ];
    for (says, f) in cases {
        let c = browser();
        let r = attempt(&app, &idp, &c, |n| {
            idp.sign(&tweak(idp.claims(n, "u1", "bob@acme.com"), &f))
        })
        .await;
        assert_refused(&app, &c, r, StatusCode::BAD_REQUEST, says).await;
    }
}

#[actix_web::test]
async fn an_email_marked_unverified_is_refused_with_a_page_naming_trust_email() {
    let (app, idp) = setup("").await;
    let c = browser();
    let r = attempt(&app, &idp, &c, |n| {
        idp.sign(&tweak(idp.claims(n, "u1", "bob@acme.com"), |c| {
            c.insert("email_verified".into(), json!(false));
        }))
    })
    .await;
    assert_refused(&app, &c, r, StatusCode::FORBIDDEN, "trust_email").await;
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'sign_in_refused'"),
        1,
        "the refusal is audited"
    );
}

#[actix_web::test]
async fn a_missing_email_verified_costs_exactly_one_userinfo_call() {
    let (app, idp) = setup("").await;
    let c = browser();
    let (state, nonce) = begin(&app, &c).await;
    let claims = tweak(idp.claims(&nonce, "u7", "carol@acme.com"), |c| {
        c.remove("email_verified");
    });
    idp.set_code("c7", &idp.sign(&claims));
    idp.set_userinfo(
        "c7",
        json!({"sub": "u7", "email": "carol@acme.com", "email_verified": true}),
    );
    let r = callback(
        &app,
        &c,
        &[("code", "c7"), ("state", &state), ("iss", &idp.issuer)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(idp.with(|s| (s.userinfo_calls, s.token_calls)), (1, 1));
    assert_eq!(app.count("SELECT count(*) FROM users"), 1);
}

#[actix_web::test]
async fn a_userinfo_about_someone_else_is_refused() {
    let (app, idp) = setup("").await;
    let c = browser();
    let (state, nonce) = begin(&app, &c).await;
    let claims = tweak(idp.claims(&nonce, "u8", "dan@acme.com"), |c| {
        c.remove("email_verified");
    });
    idp.set_code("c8", &idp.sign(&claims));
    idp.set_userinfo(
        "c8",
        json!({"sub": "intruder", "email": "dan@acme.com", "email_verified": true}),
    );
    let r = callback(
        &app,
        &c,
        &[("code", "c8"), ("state", &state), ("iss", &idp.issuer)],
    )
    .await;
    assert_refused(&app, &c, r, StatusCode::BAD_REQUEST, "sub mismatch").await;
}

#[actix_web::test]
async fn without_trust_email_an_unverified_admin_email_gets_nothing_and_with_it_gets_in_as_a_member(
) {
    let (app, idp) = setup("").await;
    let c = browser();
    let r = attempt(&app, &idp, &c, |n| {
        idp.sign(&tweak(idp.claims(n, "a1", "alice@acme.com"), |c| {
            c.remove("email_verified");
        }))
    })
    .await;
    // userinfo does not vouch for it either (no entry -> 401 -> the IdP misbehaves).
    assert!(r.status().is_client_error() || r.status().is_server_error());
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE role = 'admin'"),
        0
    );

    let (trusting, idp2) = setup("trust_email = true").await;
    let c2 = browser();
    let r = attempt(&trusting, &idp2, &c2, |n| {
        idp2.sign(&tweak(idp2.claims(n, "a1", "alice@acme.com"), |c| {
            c.remove("email_verified");
            c.insert("name".into(), json!("Alice"));
        }))
    })
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "trusted in");
    // Trusted in as a member: admin_email needs the IdP's own word (see trust::admin_email).
    assert_eq!(
        trusting.count("SELECT count(*) FROM users WHERE role = 'member'"),
        1
    );
    assert_eq!(
        trusting.count("SELECT count(*) FROM users WHERE role = 'admin'"),
        0
    );
}

#[actix_web::test]
async fn a_replayed_state_is_refused() {
    let (app, idp) = setup("").await;
    let c = browser();
    let (state, nonce) = begin(&app, &c).await;
    idp.set_code("r1", &idp.sign(&idp.claims(&nonce, "u1", "bob@acme.com")));
    let first = callback(
        &app,
        &c,
        &[("code", "r1"), ("state", &state), ("iss", &idp.issuer)],
    )
    .await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    idp.set_code("r2", &idp.sign(&idp.claims(&nonce, "u1", "bob@acme.com")));
    let replay = callback(
        &app,
        &c,
        &[("code", "r2"), ("state", &state), ("iss", &idp.issuer)],
    )
    .await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay
        .text()
        .await
        .expect("body")
        .contains("already been used"));
}

#[actix_web::test]
async fn a_state_from_another_browser_is_refused() {
    let (app, idp) = setup("").await;
    let victim = browser();
    let (state, nonce) = begin(&app, &victim).await;
    idp.set_code("x1", &idp.sign(&idp.claims(&nonce, "u1", "bob@acme.com")));
    let attacker = browser();
    let r = callback(
        &app,
        &attacker,
        &[("code", "x1"), ("state", &state), ("iss", &idp.issuer)],
    )
    .await;
    assert_refused(
        &app,
        &attacker,
        r,
        StatusCode::BAD_REQUEST,
        "another browser",
    )
    .await;
}

#[actix_web::test]
async fn an_rfc9207_iss_mismatch_or_absence_is_refused() {
    let (app, idp) = setup("").await;
    let c = browser();
    let (state, nonce) = begin(&app, &c).await;
    idp.set_code("i1", &idp.sign(&idp.claims(&nonce, "u1", "bob@acme.com")));
    let r = callback(
        &app,
        &c,
        &[
            ("code", "i1"),
            ("state", &state),
            ("iss", "https://evil.test"),
        ],
    )
    .await;
    assert_refused(&app, &c, r, StatusCode::BAD_REQUEST, "iss mismatch").await;

    let (state, nonce) = begin(&app, &c).await;
    idp.set_code("i2", &idp.sign(&idp.claims(&nonce, "u1", "bob@acme.com")));
    let r = callback(&app, &c, &[("code", "i2"), ("state", &state)]).await;
    assert_refused(&app, &c, r, StatusCode::BAD_REQUEST, "lacks the iss").await;
}

#[actix_web::test]
async fn an_unsolicited_id_token_posted_to_the_callback_is_refused() {
    let (app, idp) = setup("").await;
    let c = browser();
    let token = idp.sign(&idp.claims("whatever", "u1", "bob@acme.com"));
    let r = c
        .post(app.url("/sso/acme/callback"))
        .form(&[("id_token", token.as_str())])
        .send()
        .await
        .expect("post");
    assert_refused(
        &app,
        &c,
        r,
        StatusCode::BAD_REQUEST,
        "Redirect to app to initiate login",
    )
    .await;
}

#[actix_web::test]
async fn a_discovery_document_naming_another_issuer_is_refused_before_any_redirect() {
    let (app, idp) = setup("").await;
    idp.with(|s| s.discovery_issuer = Some("https://evil.test".into()));
    let c = browser();
    let token = app.csrf(&c, "/login").await;
    let r = app
        .post(
            &c,
            "/login/sso",
            &[("csrf_token", &token), ("team_id", "acme")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(location(&r).is_empty(), "no redirect to the IdP");
    assert!(r.text().await.expect("body").contains("misconfigured"));
}

#[actix_web::test]
async fn off_site_return_to_and_target_link_uri_are_never_followed() {
    let (app, idp) = setup("").await;
    let evil = [
        "https://evil.test/",
        "//evil.test",
        "/\\evil.test",
        "/%09/evil.test",
        "https:evil.test",
        "javascript:alert(1)",
        &format!("http://127.0.0.1:{}@evil.test/", app.port),
    ];
    for target in evil {
        for route in ["login", "initiate"] {
            let c = browser();
            let resp = if route == "login" {
                c.get(app.url("/sso/acme/login"))
                    .query(&[("return_to", target)])
                    .send()
                    .await
            } else {
                c.get(app.url("/sso/acme/initiate"))
                    .query(&[("iss", idp.issuer.as_str()), ("target_link_uri", target)])
                    .send()
                    .await
            }
            .expect("start");
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{route} {target}");
            let authorize = location(&resp);
            let state = query_param(&authorize, "state").expect("state");
            let nonce = query_param(&authorize, "nonce").expect("nonce");
            let code = format!("o-{}", rand_suffix());
            idp.set_code(&code, &idp.sign(&idp.claims(&nonce, "u1", "bob@acme.com")));
            let r = callback(
                &app,
                &c,
                &[("code", &code), ("state", &state), ("iss", &idp.issuer)],
            )
            .await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let to = location(&r);
            let resolved = url::Url::parse(&app.base)
                .expect("base")
                .join(&to)
                .expect("join");
            assert_eq!(
                resolved.host_str(),
                Some("127.0.0.1"),
                "{route} {target} -> {to}"
            );
            assert_eq!(resolved.port(), Some(app.port), "{route} {target} -> {to}");
        }
    }
}

#[actix_web::test]
async fn a_same_origin_return_to_is_honoured() {
    let (app, idp) = setup("").await;
    let c = browser();
    let resp = c
        .get(app.url("/sso/acme/login?return_to=/tokens"))
        .send()
        .await
        .expect("start");
    let authorize = location(&resp);
    let (state, nonce) = (
        query_param(&authorize, "state").expect("s"),
        query_param(&authorize, "nonce").expect("n"),
    );
    idp.set_code("rt", &idp.sign(&idp.claims(&nonce, "u1", "bob@acme.com")));
    let r = callback(
        &app,
        &c,
        &[("code", "rt"), ("state", &state), ("iss", &idp.issuer)],
    )
    .await;
    assert_eq!(location(&r), format!("{}/tokens", app.base));
}

#[actix_web::test]
async fn initiate_requires_the_teams_issuer_and_unknown_teams_are_404() {
    let (app, idp) = setup("").await;
    let c = browser();
    let r = app
        .get(&c, "/sso/acme/initiate?iss=https://evil.test")
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app.get(&c, "/sso/acme/initiate").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // One trailing slash more is the same issuer; two are another.
    for (iss, want) in [
        (format!("{}/", idp.issuer), StatusCode::SEE_OTHER),
        (format!("{}//", idp.issuer), StatusCode::BAD_REQUEST),
    ] {
        let r = c
            .post(app.url("/sso/acme/initiate"))
            .form(&[("iss", iss.as_str())])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), want, "{iss}");
    }
    let r = c
        .post(app.url("/sso/acme/initiate"))
        .form(&[("iss", idp.issuer.as_str()), ("login_hint", "bob@acme.com")])
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "a cross-site POST without CSRF token starts a flow"
    );
    assert_eq!(
        query_param(&location(&r), "login_hint").as_deref(),
        Some("bob@acme.com")
    );
    for path in [
        "/sso/nope/login",
        "/sso/nope/initiate",
        "/sso/nope/callback",
    ] {
        assert_eq!(
            app.get(&c, path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[actix_web::test]
async fn an_unknown_kid_refreshes_the_keys_once() {
    let (app, mut idp) = setup("").await;
    let c = browser();
    let r = attempt(&app, &idp, &c, |n| {
        idp.sign(&idp.claims(n, "u1", "bob@acme.com"))
    })
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(idp.with(|s| s.jwks_calls), 1);
    idp.rotate();
    let c2 = browser();
    let r = attempt(&app, &idp, &c2, |n| {
        idp.sign(&idp.claims(n, "u1", "bob@acme.com"))
    })
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the rotated key is fetched"
    );
    assert_eq!(idp.with(|s| s.jwks_calls), 2);
    // A token under yet another unknown kid within 10 s does not trigger another fetch.
    let c3 = browser();
    let r = attempt(&app, &idp, &c3, |n| {
        crate::support::fake_idp::sign_with(
            &crate::support::fake_idp::rsa_key(),
            "k-unknown",
            &idp.claims(n, "u1", "bob@acme.com"),
        )
    })
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(idp.with(|s| s.jwks_calls), 2, "refresh is rate limited");
}

#[actix_web::test]
async fn an_idp_that_rate_limits_or_fails_gets_a_clear_page_not_a_500() {
    let (app, idp) = setup("").await;
    for (status, expect, says) in [
        (429u16, StatusCode::SERVICE_UNAVAILABLE, "Try again shortly"),
        (500, StatusCode::SERVICE_UNAVAILABLE, "could not be reached"),
    ] {
        idp.with(|s| s.token_status = Some(status));
        let c = browser();
        let r = attempt(&app, &idp, &c, |n| {
            idp.sign(&idp.claims(n, "u1", "bob@acme.com"))
        })
        .await;
        assert_eq!(r.status(), expect);
        assert!(r.text().await.expect("body").contains(says));
    }
    assert_eq!(app.count("SELECT count(*) FROM users"), 0);
}

#[actix_web::test]
async fn access_denied_from_the_idp_says_to_ask_for_an_assignment() {
    let (app, idp) = setup("").await;
    let c = browser();
    let (state, _) = begin(&app, &c).await;
    let r = callback(
        &app,
        &c,
        &[
            ("error", "access_denied"),
            ("state", &state),
            ("iss", &idp.issuer),
        ],
    )
    .await;
    assert_refused(&app, &c, r, StatusCode::FORBIDDEN, "assign you").await;
}

#[actix_web::test]
async fn invite_only_teams_refuse_the_uninvited_but_admit_the_admin_email() {
    let (app, idp) = setup("provisioning = \"invite\"").await;
    let c = browser();
    let r = attempt(&app, &idp, &c, |n| {
        idp.sign(&idp.claims(n, "u1", "bob@acme.com"))
    })
    .await;
    assert_refused(&app, &c, r, StatusCode::FORBIDDEN, "invite").await;
    let r = attempt(&app, &idp, &c, |n| {
        idp.sign(&idp.claims(n, "a1", "alice@acme.com"))
    })
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
