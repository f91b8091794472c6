//! End-to-end sign-in against a real OpenID Provider (npm `oidc-provider`, see
//! `tests/idp/server.mjs`): SP- and IdP-initiated flows, accounts on first sign-in,
//! invitations, several teams on one IdP, key rotation, an IdP that goes away, thin ID
//! tokens, access denied and group-managed admin roles.

use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{location, query_param, spawn_app, TestApp};
use crate::support::idp::{idp_abort, idp_login, TestIdp};

const SECRET: &str = "e2e-client-secret-for-tests-only-0123456789";

/// A portal and the real IdP its teams sign in with.
pub(crate) struct Sso {
    pub app: TestApp,
    pub idp: TestIdp,
}

/// The people the IdP knows (account id -> claims).
pub(crate) fn accounts() -> Value {
    let person =
        |email: &str, name: &str| json!({"email": email, "email_verified": true, "name": name});
    json!({
        "alice": person("alice@acme.com", "Alice Admin"),
        "bob": person("bob@acme.com", "Bob Builder"),
        "carol": person("carol@acme.com", "Carol Crossteam"),
        "dave": person("dave@acme.com", "Dave Newcomer"),
        "sam": person("sam@acme.com", "Sam Sales"),
    })
}

/// Starts the IdP (`idp_config` without clients), then the portal with one `[[teams]]` per
/// `(team id, extra TOML)` on that IdP (client id `portal-<team>`), then registers each
/// team's client with the portal's redirect URI. `preamble` is TOML before the teams.
pub(crate) async fn start_with(idp_config: Value, preamble: &str, teams: &[(&str, &str)]) -> Sso {
    let idp = TestIdp::start(idp_config).expect("the test IdP starts (run tests/run once)");
    let mut toml = format!("{preamble}\n");
    for (team, extra) in teams {
        toml.push_str(&format!(
            "[[teams]]\nid = \"{team}\"\nname = \"Team {team}\"\nissuer = \"{}\"\n\
             client_id = \"portal-{team}\"\nclient_secret = \"{SECRET}\"\n{extra}\n",
            idp.issuer
        ));
    }
    let app = spawn_app(&toml).await;
    for (team, _) in teams {
        idp.set_client(json!({
            "client_id": format!("portal-{team}"),
            "client_secret": SECRET,
            "redirect_uris": [app.url(&format!("/sso/{team}/callback"))],
            "post_logout_redirect_uris": [app.url("/login")],
        }))
        .await
        .expect("the IdP registers the portal's client");
    }
    Sso { app, idp }
}

/// One team `acme` (admin alice@acme.com) plus `extra` TOML, on an IdP with [`accounts`].
pub(crate) async fn start(extra: &str) -> Sso {
    start_with(
        json!({"clients": [], "accounts": accounts()}),
        "",
        &[(
            "acme",
            &format!("admin_email = \"alice@acme.com\"\n{extra}"),
        )],
    )
    .await
}

/// A browser-like client (own cookies, redirects not followed) whose every request is
/// bounded in time.
pub(crate) fn user_agent() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Drives `account` through the IdP from `authorize` and returns the portal's answer to the
/// callback.
pub(crate) async fn finish_at_idp(
    client: &Client,
    authorize: &str,
    account: &str,
) -> (Response, String) {
    let callback = idp_login(client, authorize, account)
        .await
        .expect("the IdP signs the account in and redirects back");
    let url = callback.to_string();
    let resp = client.get(callback).send().await.expect("callback");
    (resp, url)
}

impl Sso {
    /// SP-initiated sign-in from a fresh browser by Team ID or work email; returns the
    /// portal's answer to the callback and the browser.
    pub(crate) async fn attempt(&self, team_or_email: &str, account: &str) -> (Response, Client) {
        let client = user_agent();
        let authorize = self.app.start_sso(&client, team_or_email).await;
        let (resp, _) = finish_at_idp(&client, &authorize, account).await;
        (resp, client)
    }

    /// A sign-in that must land on `/team`; returns the signed-in browser.
    pub(crate) async fn sign_in(&self, team_or_email: &str, account: &str) -> Client {
        let (resp, client) = self.attempt(team_or_email, account).await;
        let status = resp.status();
        let to = location(&resp);
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(
            (status, to.as_str()),
            (StatusCode::SEE_OTHER, "/team"),
            "{account} signs in to {team_or_email}: {body}"
        );
        client
    }

    /// `(role, role_source)` of the user with this email in `team`.
    pub(crate) fn role_of(&self, team: &str, email: &str) -> (String, String) {
        self.app.user(team, email, "role, role_source", |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    pub(crate) fn user_id(&self, team: &str, email: &str) -> i64 {
        self.app.user(team, email, "id", |r| r.get(0))
    }

    fn users_with_email(&self, email: &str) -> i64 {
        self.app.count(&format!(
            "SELECT count(*) FROM users WHERE email = '{email}'"
        ))
    }
}

async fn team_page(app: &TestApp, client: &Client) -> String {
    let (status, body) = app.text(client, "/team").await;
    assert_eq!(status, StatusCode::OK, "the team page opens: {body}");
    body
}

async fn assert_signed_out(app: &TestApp, client: &Client) {
    assert_eq!(
        app.get(client, "/team").await.status(),
        StatusCode::SEE_OTHER,
        "no session"
    );
}

#[actix_web::test]
async fn signing_in_by_team_id_lands_on_the_team_page_showing_the_user() {
    let s = start("").await;
    s.idp.reset_requests().await.unwrap();

    let client = s.sign_in("acme", "bob").await;

    let page = team_page(&s.app, &client).await;
    assert!(page.contains("bob@acme.com"), "{page}");
    assert!(page.contains("Bob Builder"), "{page}");
    assert_eq!(
        s.idp.count_requests("/token").await.unwrap(),
        1,
        "one code exchange"
    );
    assert_eq!(
        s.idp.count_requests("/me").await.unwrap(),
        0,
        "no userinfo call when the ID token carries every claim"
    );
}

#[actix_web::test]
async fn a_replayed_callback_is_refused_and_creates_nothing_more() {
    let s = start("").await;
    let client = user_agent();
    let authorize = s.app.start_sso(&client, "acme").await;
    let (resp, callback) = finish_at_idp(&client, &authorize, "bob").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let replay = user_agent();
    let resp = replay.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_signed_out(&s.app, &replay).await;
    let resp = client.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "single use");
    assert_eq!(s.app.count("SELECT count(*) FROM users"), 1);
}

#[actix_web::test]
async fn a_bookmarked_team_login_returns_to_a_same_origin_return_to_only() {
    let s = start("").await;
    for (return_to, lands) in [
        ("/tokens".to_string(), s.app.url("/tokens")),
        ("https://evil.example/".to_string(), "/team".to_string()),
    ] {
        let client = user_agent();
        let resp = client
            .get(s.app.url("/sso/acme/login"))
            .query(&[("return_to", &return_to)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let (resp, _) = finish_at_idp(&client, &location(&resp), "bob").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), lands, "return_to {return_to}");
    }
    let (status, _) = s.app.text(&user_agent(), "/sso/nope/login").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown team");
}

#[actix_web::test]
async fn signing_in_by_work_email_finds_the_team_and_passes_the_email_as_login_hint() {
    let s = start("email_domains = [\"acme.com\"]").await;
    let client = user_agent();

    let authorize = s.app.start_sso(&client, "Bob@Acme.com").await;
    assert_eq!(
        query_param(&authorize, "client_id").as_deref(),
        Some("portal-acme")
    );
    assert!(query_param(&authorize, "login_hint")
        .is_some_and(|h| h.eq_ignore_ascii_case("bob@acme.com")));
    let (resp, _) = finish_at_idp(&client, &authorize, "bob").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/team");

    let page = team_page(&s.app, &client).await;
    assert!(page.contains("bob@acme.com"), "{page}");
}

/// Starts a third-party initiated login; returns the IdP authorize URL it redirects to.
async fn initiate(s: &Sso, client: &Client, post: bool, extra: &[(&str, &str)]) -> String {
    let mut params = vec![("iss", s.idp.issuer.as_str())];
    params.extend_from_slice(extra);
    let url = s.app.url("/sso/acme/initiate");
    let resp = if post {
        client.post(url).form(&params).send().await
    } else {
        client.get(url).query(&params).send().await
    }
    .expect("initiate");
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "initiate redirects to the IdP"
    );
    let authorize = location(&resp);
    assert!(
        authorize.starts_with(&s.idp.url("/")),
        "to the team's IdP: {authorize}"
    );
    authorize
}

#[actix_web::test]
async fn idp_initiated_sign_in_by_get_goes_through_the_idp_to_the_team_page_with_the_login_hint() {
    let s = start("").await;
    let client = user_agent();

    let authorize = initiate(&s, &client, false, &[("login_hint", "bob@acme.com")]).await;
    assert_eq!(
        query_param(&authorize, "login_hint").as_deref(),
        Some("bob@acme.com")
    );
    let (resp, _) = finish_at_idp(&client, &authorize, "bob").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/team");
    assert!(team_page(&s.app, &client).await.contains("bob@acme.com"));

    let at_idp = s.idp.requests().await.unwrap();
    assert!(
        at_idp
            .iter()
            .any(|r| r["path"] == "/auth" && r["query"]["login_hint"] == "bob@acme.com"),
        "the IdP received the login_hint: {at_idp:?}"
    );
}

#[actix_web::test]
async fn idp_initiated_sign_in_by_post_works_and_honours_a_same_origin_target_link_uri() {
    let s = start("").await;
    let client = user_agent();
    let target = s.app.url("/tokens?from=tile");

    let authorize = initiate(&s, &client, true, &[("target_link_uri", &target)]).await;
    let (resp, _) = finish_at_idp(&client, &authorize, "bob").await;

    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), target);
    let (status, _) = s.app.text(&client, "/tokens?from=tile").await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn idp_initiated_sign_in_ignores_an_off_site_target_link_uri() {
    let s = start("").await;
    for evil in [
        "https://evil.example/steal",
        "//evil.example/steal",
        "http://127.0.0.1:1/elsewhere",
    ] {
        let client = user_agent();
        let authorize = initiate(&s, &client, false, &[("target_link_uri", evil)]).await;
        let (resp, _) = finish_at_idp(&client, &authorize, "bob").await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/team", "{evil} is not followed");
    }
}

#[actix_web::test]
async fn idp_initiated_sign_in_naming_another_issuer_is_refused_before_any_redirect() {
    let s = start("").await;
    let client = user_agent();
    s.idp.reset_requests().await.unwrap();

    let resp = client
        .get(s.app.url("/sso/acme/initiate"))
        .query(&[("iss", "https://evil.example")])
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("iss"));
    assert_eq!(s.idp.requests().await.unwrap().len(), 0);
}

#[actix_web::test]
async fn the_account_is_created_once_and_admin_email_gets_admin_while_others_are_members() {
    let s = start("").await;

    s.sign_in("acme", "alice").await;
    s.sign_in("acme", "bob").await;
    assert_eq!(s.app.count("SELECT count(*) FROM users"), 2);

    // Second sign-ins, from new browsers: the same accounts.
    s.sign_in("acme", "bob").await;
    let alice = s.sign_in("acme", "alice").await;
    assert_eq!(
        s.app.count("SELECT count(*) FROM users"),
        2,
        "second sign-ins reuse the accounts"
    );

    assert_eq!(
        s.role_of("acme", "alice@acme.com"),
        ("admin".into(), "admin_email".into())
    );
    assert_eq!(s.role_of("acme", "bob@acme.com").0, "member");
    let page = team_page(&s.app, &alice).await;
    assert!(page.contains("alice@acme.com") && page.contains("bob@acme.com"));
}

#[actix_web::test]
async fn an_invite_only_team_refuses_the_uninvited_and_admits_the_invited() {
    let s = start("provisioning = \"invite\"").await;

    let (resp, dave) = s.attempt("acme", "dave").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.text().await.unwrap();
    assert!(body.contains("invite"), "the page says why: {body}");
    assert_signed_out(&s.app, &dave).await;
    assert_eq!(s.users_with_email("dave@acme.com"), 0, "no account");

    // The admin_email may always sign in; she invites Dave.
    let alice = s.sign_in("acme", "alice").await;
    let resp = s
        .app
        .post_csrf(&alice, "/team/invites", &[("email", "dave@acme.com")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let dave = s.sign_in("acme", "dave").await;
    assert!(team_page(&s.app, &dave).await.contains("dave@acme.com"));
    assert_eq!(s.users_with_email("dave@acme.com"), 1);
    assert_eq!(
        s.app.count(
            "SELECT count(*) FROM users WHERE email = 'dave@acme.com' AND joined_via = 'invite' AND role = 'member'"
        ),
        1
    );
    // Still nobody else.
    let (resp, _) = s.attempt("acme", "bob").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.users_with_email("bob@acme.com"), 0);
}

#[actix_web::test]
async fn two_teams_on_one_idp_stay_isolated() {
    let s = start_with(
        json!({"clients": [], "accounts": accounts()}),
        "",
        &[
            ("acme-eng", "admin_email = \"alice@acme.com\""),
            ("acme-sales", "admin_email = \"sam@acme.com\""),
        ],
    )
    .await;

    let alice = s.sign_in("acme-eng", "alice").await;
    let sam = s.sign_in("acme-sales", "sam").await;
    let carol_eng = s.sign_in("acme-eng", "carol").await;
    let carol_sales = s.sign_in("acme-sales", "carol").await;

    let eng = team_page(&s.app, &alice).await;
    assert!(eng.contains("alice@acme.com") && eng.contains("carol@acme.com"));
    assert!(
        !eng.contains("sam@acme.com"),
        "no sales member on eng's page"
    );
    let sales = team_page(&s.app, &sam).await;
    assert!(sales.contains("sam@acme.com") && sales.contains("carol@acme.com"));
    assert!(
        !sales.contains("alice@acme.com"),
        "no eng member on sales' page"
    );
    assert!(team_page(&s.app, &carol_eng)
        .await
        .contains("Team acme-eng"));
    assert!(team_page(&s.app, &carol_sales)
        .await
        .contains("Team acme-sales"));

    assert_eq!(
        s.app.count(
            "SELECT count(DISTINCT id) FROM users WHERE subject = 'carol' AND team_id IN ('acme-eng', 'acme-sales')"
        ),
        2,
        "the same person in two teams is two users"
    );
    assert_eq!(s.role_of("acme-eng", "carol@acme.com").0, "member");
    assert_eq!(s.role_of("acme-sales", "carol@acme.com").0, "member");

    // An eng admin cannot act on a sales member.
    let sam_id = s.user_id("acme-sales", "sam@acme.com");
    let resp = s
        .app
        .post_csrf(
            &alice,
            &format!("/team/members/{sam_id}/role"),
            &[("role", "member")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.role_of("acme-sales", "sam@acme.com").0, "admin");
}

#[actix_web::test]
async fn an_idp_key_rotation_does_not_break_the_next_sign_in() {
    let s = start("").await;
    s.sign_in("acme", "alice").await;

    let kid = s.idp.rotate_keys().await.unwrap();
    assert!(!kid.is_empty());
    let bob = s.sign_in("acme", "bob").await;
    assert!(team_page(&s.app, &bob).await.contains("bob@acme.com"));
    s.sign_in("acme", "carol").await;

    assert_eq!(
        s.idp.count_requests("/jwks").await.unwrap(),
        2,
        "the first fetch, then one refresh for the new kid"
    );
}

#[actix_web::test]
async fn a_stopped_idp_gives_a_clear_502_page_while_the_portal_stays_up() {
    let mut s = start("").await;
    s.idp.stop();
    let client = user_agent();

    let token = s.app.csrf(&client, "/login").await;
    let resp = s
        .app
        .post(
            &client,
            "/login/sso",
            &[("csrf_token", &token), ("team_id", "acme")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("Identity provider unavailable") && body.contains("could not be reached"),
        "{body}"
    );

    let (status, body) = s.app.text(&client, "/sso/acme/login").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let resp = client
        .get(s.app.url("/sso/acme/initiate"))
        .query(&[("iss", s.idp.issuer.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);

    let (status, body) = s.app.text(&client, "/healthz").await;
    assert_eq!((status, body.trim()), (StatusCode::OK, "ok"));
    assert_eq!(s.app.text(&client, "/login").await.0, StatusCode::OK);
}

#[actix_web::test]
async fn an_idp_going_down_mid_sign_in_gives_502_and_sign_in_works_again_once_it_is_back() {
    let mut s = start("").await;
    let alice = s.sign_in("acme", "alice").await;

    let bob = user_agent();
    let authorize = s.app.start_sso(&bob, "acme").await;
    let callback = idp_login(&bob, &authorize, "bob").await.unwrap();
    s.idp.stop();
    let resp = bob.get(callback).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Identity provider unavailable"));
    assert_signed_out(&s.app, &bob).await;
    assert_eq!(s.users_with_email("bob@acme.com"), 0);
    assert!(
        team_page(&s.app, &alice).await.contains("alice@acme.com"),
        "signed-in people keep working"
    );

    // Back, with a new signing key and without the clients registered at run time.
    s.idp.restart().unwrap();
    s.idp
        .set_client(json!({
            "client_id": "portal-acme",
            "client_secret": SECRET,
            "redirect_uris": [s.app.url("/sso/acme/callback")],
        }))
        .await
        .unwrap();
    s.idp
        .set_account("bob", accounts()["bob"].clone())
        .await
        .unwrap();
    s.sign_in("acme", "bob").await;
}

#[actix_web::test]
async fn thin_id_tokens_cost_exactly_one_userinfo_call() {
    let s = start_with(
        json!({"clients": [], "accounts": accounts(), "thin_id_token": true}),
        "",
        &[("acme", "admin_email = \"alice@acme.com\"")],
    )
    .await;
    let discovery: Value = reqwest::get(s.idp.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let userinfo_path = reqwest::Url::parse(discovery["userinfo_endpoint"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();
    s.idp.reset_requests().await.unwrap();

    let bob = s.sign_in("acme", "bob").await;

    let page = team_page(&s.app, &bob).await;
    assert!(
        page.contains("bob@acme.com") && page.contains("Bob Builder"),
        "{page}"
    );
    assert_eq!(s.idp.count_requests(&userinfo_path).await.unwrap(), 1);
    assert_eq!(s.idp.count_requests("/token").await.unwrap(), 1);
}

#[actix_web::test]
async fn with_thin_id_tokens_the_groups_come_from_userinfo_in_the_same_single_call() {
    let mut people = accounts();
    people["grace"] = json!({"email": "grace@acme.com", "email_verified": true,
                             "name": "Grace Group", "groups": ["portal-admins"]});
    let s = start_with(
        json!({"clients": [], "accounts": people, "thin_id_token": true}),
        "",
        &[("acme", "admin_groups = [\"portal-admins\"]")],
    )
    .await;
    s.idp.reset_requests().await.unwrap();

    s.sign_in("acme", "grace").await;
    s.sign_in("acme", "bob").await;

    assert_eq!(
        s.role_of("acme", "grace@acme.com"),
        ("admin".into(), "groups".into())
    );
    assert_eq!(s.role_of("acme", "bob@acme.com").0, "member");
    assert_eq!(
        s.idp.count_requests("/me").await.unwrap(),
        2,
        "one per sign-in"
    );
}

#[actix_web::test]
async fn an_unverified_or_missing_email_is_refused_unless_the_team_trusts_emails() {
    let mut people = accounts();
    people["uma"] =
        json!({"email": "uma@acme.com", "email_verified": false, "name": "Uma Unverified"});
    people["nora"] = json!({"name": "Nora No-Email"});
    let s = start_with(
        json!({"clients": [], "accounts": people}),
        "",
        &[("acme", ""), ("acme-trusting", "trust_email = true")],
    )
    .await;

    let (resp, uma) = s.attempt("acme", "uma").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("trust_email"));
    assert_signed_out(&s.app, &uma).await;
    let (resp, _) = s.attempt("acme", "nora").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("email"));
    assert_eq!(s.app.count("SELECT count(*) FROM users"), 0);

    s.sign_in("acme-trusting", "uma").await;
    let (resp, _) = s.attempt("acme-trusting", "nora").await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "no email at all: refused"
    );
    assert_eq!(s.app.count("SELECT count(*) FROM users"), 1);
}

#[actix_web::test]
async fn access_denied_at_the_idp_gives_a_403_page_that_says_to_ask_the_okta_admin() {
    let s = start("").await;
    let client = user_agent();
    let authorize = s.app.start_sso(&client, "acme").await;

    let callback = idp_abort(&client, &authorize).await.unwrap();
    assert_eq!(
        query_param(callback.as_str(), "error").as_deref(),
        Some("access_denied")
    );
    let resp = client.get(callback).send().await.unwrap();

    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("Okta admin") && body.contains("assign"),
        "{body}"
    );
    assert_signed_out(&s.app, &client).await;
    assert_eq!(s.app.count("SELECT count(*) FROM users"), 0);
}

#[actix_web::test]
async fn admin_groups_grant_and_take_back_admin_but_never_the_last_admin_nor_a_manual_one() {
    let mut people = accounts();
    people["grace"] = json!({"email": "grace@acme.com", "email_verified": true,
                             "name": "Grace Group", "groups": ["staff", "portal-admins"]});
    people["hank"] = json!({"email": "hank@acme.com", "email_verified": true,
                            "name": "Hank Manual", "groups": ["staff"]});
    let s = start_with(
        json!({"clients": [], "accounts": people.clone()}),
        "",
        &[(
            "acme",
            "admin_email = \"alice@acme.com\"\nadmin_groups = [\"portal-admins\"]",
        )],
    )
    .await;
    let grace_left = json!({"email": "grace@acme.com", "email_verified": true,
                            "name": "Grace Group", "groups": ["staff"]});

    // The groups claim makes Grace admin on her first sign-in.
    let authorize = s.app.start_sso(&user_agent(), "acme").await;
    assert!(
        query_param(&authorize, "scope").is_some_and(|sc| sc.split(' ').any(|x| x == "groups")),
        "the groups scope is asked for: {authorize}"
    );
    s.sign_in("acme", "grace").await;
    assert_eq!(
        s.role_of("acme", "grace@acme.com"),
        ("admin".into(), "groups".into())
    );

    // She leaves the group while she is the only admin: she stays admin.
    s.idp
        .set_account("grace", grace_left.clone())
        .await
        .unwrap();
    s.sign_in("acme", "grace").await;
    assert_eq!(
        s.role_of("acme", "grace@acme.com").0,
        "admin",
        "the last admin stays"
    );

    // With another admin around, the next sign-in takes back what the groups granted.
    let alice = s.sign_in("acme", "alice").await;
    s.sign_in("acme", "grace").await;
    assert_eq!(s.role_of("acme", "grace@acme.com").0, "member");

    // Back in the group: admin again.
    s.idp
        .set_account("grace", people["grace"].clone())
        .await
        .unwrap();
    s.sign_in("acme", "grace").await;
    assert_eq!(
        s.role_of("acme", "grace@acme.com"),
        ("admin".into(), "groups".into())
    );

    // A manual admin outside the group is never demoted by the sync.
    s.sign_in("acme", "hank").await;
    let hank = s.user_id("acme", "hank@acme.com");
    let resp = s
        .app
        .post_csrf(
            &alice,
            &format!("/team/members/{hank}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        s.role_of("acme", "hank@acme.com"),
        ("admin".into(), "manual".into())
    );
    s.sign_in("acme", "hank").await;
    s.sign_in("acme", "hank").await;
    assert_eq!(
        s.role_of("acme", "hank@acme.com"),
        ("admin".into(), "manual".into())
    );
}
