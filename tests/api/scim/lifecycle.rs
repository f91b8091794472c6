//! A provisioned member's life: shown on `/team` as "provisioned, not signed in yet",
//! admitted on an invite-only team and linked at the first verified sign-in (the same
//! member), refused once deactivated; and the shell's `admin create-scim-token`.

use reqwest::StatusCode;
use serde_json::json;

use super::{Portal, ScimClient};

/// The `/team` row of the member with SCIM id (the account's id) `id`.
fn row_of<'p>(page: &'p str, id: &str) -> &'p str {
    let start = page
        .find(&format!("data-user-id=\"{id}\""))
        .unwrap_or_else(|| panic!("member {id} is listed: {page}"));
    let len = page[start..].find("</tr>").expect("the row ends");
    &page[start..start + len]
}

#[actix_web::test]
async fn a_provisioned_member_is_listed_then_admitted_on_an_invite_only_team_and_linked() {
    let p = Portal::acme("provisioning = \"invite\"").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let id = scim.create_user("dan@acme.test", "Dan", "Doe").await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let page = p.app.text(&alice, "/team").await.1;
    let row = row_of(&page, &id);
    assert!(
        row.contains("Dan Doe") && row.contains("provisioned, not signed in yet"),
        "{row}"
    );

    // No invitation: SCIM's provisioning admits him; the sign-in links the same member.
    let dan = p.sign_in("acme", "dan@acme.test").await;
    let (uid, issuer, subject, last): (i64, String, String, Option<i64>) = p.app.user(
        "acme",
        "dan@acme.test",
        "id, issuer, subject, last_login_at",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    );
    assert_eq!(uid.to_string(), id, "the provisioned member, not a new one");
    assert_eq!(
        (issuer, subject.as_str()),
        (p.idp.issuer.clone(), "sub-dan@acme.test")
    );
    assert!(last.is_some());
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'dan@acme.test'"),
        1
    );
    let page = p.app.text(&dan, "/team").await.1;
    assert!(!page.contains("provisioned, not signed in yet"), "{page}");
    // The admin still sees how he came: by SCIM, not by an invitation nobody sent.
    let page = p.app.text(&alice, "/team").await.1;
    let row = row_of(&page, &id);
    assert!(
        row.contains("provisioned by SCIM") && !row.contains("invitation"),
        "{row}"
    );
    assert_eq!(p.app.count("SELECT count(*) FROM audit WHERE action = 'scim_user_linked' AND target = 'dan@acme.test'"), 1);
    // SCIM still knows him by the same id.
    let (status, res) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(
        (status, &res["userName"]),
        (StatusCode::OK, &json!("dan@acme.test"))
    );
}

#[actix_web::test]
async fn a_member_deactivated_before_signing_in_is_refused() {
    let p = Portal::acme("").await;
    let scim = p.scim("acme", "alice@acme.test").await;
    let id = scim.create_user("erin@acme.test", "Erin", "E").await;
    let off = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    assert_eq!(
        scim.patch(&format!("/Users/{id}"), &off).await.0,
        StatusCode::OK
    );
    let (r, client) = p.attempt("acme", "erin@acme.test", |_| {}).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        p.app.get(&client, "/team").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        p.app
            .count("SELECT count(*) FROM users WHERE email = 'erin@acme.test'"),
        1,
        "no second account"
    );
}

#[actix_web::test]
async fn the_shell_prints_a_scim_token_once_and_the_previous_one_stops() {
    let p = Portal::acme("").await;
    let first = p.scim("acme", "alice@acme.test").await;
    assert_eq!(first.get("/Users").await.0, StatusCode::OK);
    let cfg = p.app.dir.path().join("shell.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\npath = {:?}\n",
            p.app.db_path.display().to_string()
        ),
    )
    .unwrap();
    let run = |team: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_teamportal"))
            .env_remove("TEAMPORTAL_CONFIG")
            .env("RUST_LOG", "warn")
            .arg("--config")
            .arg(&cfg)
            .args(["admin", "create-scim-token", "--team", team])
            .output()
            .expect("runs")
    };
    let out = run("acme");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("tpscim_") && token.len() >= 43, "{token}");
    // A fresh connection: the command blocked this test's thread (and the in-process server
    // on it) long enough for the server to close the kept-alive one.
    let first = first.with_token(&first.token);
    assert_eq!(
        first.get("/Users").await.0,
        StatusCode::UNAUTHORIZED,
        "the previous token stopped"
    );
    assert_eq!(
        ScimClient::new(&p.app, &token).get("/Users").await.0,
        StatusCode::OK
    );
    let out = run("nope");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}
