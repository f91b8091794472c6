//! Role changes on the team page: both ways with immediate effect, the server-side checks
//! (admin of this team, CSRF, the last admin) and recovery from the shell.

use std::process::{Command, Stdio};

use reqwest::StatusCode;

use super::Portal;

#[actix_web::test]
async fn promoting_a_member_applies_on_their_next_request_and_demoting_takes_it_back() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let b = p.id("acme", "bob@acme.test");
    for page in ["/audit", "/billing", "/settings/sso"] {
        assert_eq!(p.status(&bob, page).await, StatusCode::FORBIDDEN, "{page}");
    }

    p.set_role(&alice, b, "admin").await;
    assert_eq!(
        p.role("acme", "bob@acme.test"),
        ("admin".into(), "manual".into())
    );
    // The same session of Bob's, not signed in again.
    for page in ["/audit", "/billing", "/settings/sso"] {
        assert_eq!(p.status(&bob, page).await, StatusCode::OK, "{page}");
    }
    let page = p.page(&bob, "/team").await;
    assert!(
        page.contains("href=\"/audit\"") && page.contains("action=\"/team/members/"),
        "Bob now sees the admin navigation and controls"
    );

    p.set_role(&alice, b, "member").await;
    assert_eq!(
        p.role("acme", "bob@acme.test"),
        ("member".into(), "manual".into())
    );
    for page in ["/audit", "/billing", "/settings/sso"] {
        assert_eq!(p.status(&bob, page).await, StatusCode::FORBIDDEN, "{page}");
    }
    assert!(!p.page(&bob, "/team").await.contains("action=\"/team/"));
}

#[actix_web::test]
async fn a_member_posting_any_admin_form_gets_403_and_nothing_changes() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    p.sign_in("acme", "carol@acme.test").await;
    p.sign_in("acme", "dave@acme.test").await;
    let (a, b, c, d) = (
        p.id("acme", "alice@acme.test"),
        p.id("acme", "bob@acme.test"),
        p.id("acme", "carol@acme.test"),
        p.id("acme", "dave@acme.test"),
    );
    p.act_ok(&alice, &format!("/team/members/{d}/remove"), &[])
        .await;
    p.act_ok(&alice, "/team/invites", &[("email", "erin@acme.test")])
        .await;
    let invite = p.pending_invite("acme", "erin@acme.test");
    let before = p.state_of("acme");

    for (path, form) in [
        (format!("/team/members/{b}/role"), vec![("role", "admin")]),
        (format!("/team/members/{a}/role"), vec![("role", "member")]),
        (format!("/team/members/{c}/remove"), vec![]),
        (format!("/team/members/{a}/remove"), vec![]),
        (format!("/team/members/{d}/restore"), vec![]),
        (
            "/team/invites".to_string(),
            vec![("email", "mallory@acme.test")],
        ),
        (format!("/team/invites/{invite}/cancel"), vec![]),
    ] {
        let resp = p.act(&bob, &path, &form).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "POST {path}");
        assert!(
            resp.text().await.unwrap().contains("Only team admins"),
            "the page says why"
        );
    }

    assert_eq!(p.state_of("acme"), before, "nothing changed");
    assert_eq!(p.role("acme", "bob@acme.test").0, "member");
}

#[actix_web::test]
async fn demoting_or_removing_the_last_admin_answers_409_saying_why_and_changes_nothing() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    p.sign_in("acme", "carol@acme.test").await;
    let (a, b, c) = (
        p.id("acme", "alice@acme.test"),
        p.id("acme", "bob@acme.test"),
        p.id("acme", "carol@acme.test"),
    );
    let last_admin_refused = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("last admin") && body.contains("make someone else an admin first"),
            "the page says why: {body}"
        );
        // Said on the team list itself, as an alert, not on an error page that loses it.
        let alert = body
            .split("id=\"refusal\"")
            .nth(1)
            .and_then(|rest| rest.split("</p>").next())
            .unwrap_or_else(|| panic!("the refusal is an alert on the list: {body}"));
        assert!(
            alert.contains("role=\"alert\"") && alert.contains("last admin"),
            "{alert}"
        );
        assert!(body.contains("id=\"q\""), "the team list: {body}");
    };

    let before = p.state_of("acme");
    last_admin_refused(
        p.act(
            &alice,
            &format!("/team/members/{a}/role"),
            &[("role", "member")],
        )
        .await,
    )
    .await;
    last_admin_refused(
        p.act(&alice, &format!("/team/members/{a}/remove"), &[])
            .await,
    )
    .await;
    assert_eq!(p.state_of("acme"), before, "nothing changed");
    assert_eq!(p.status(&alice, "/audit").await, StatusCode::OK);

    // With a second admin, Alice may step down; then Bob is the last one.
    p.set_role(&alice, b, "admin").await;
    p.set_role(&alice, a, "member").await;
    assert_eq!(p.role("acme", "alice@acme.test").0, "member");
    assert_eq!(p.status(&alice, "/audit").await, StatusCode::FORBIDDEN);

    // A removed admin does not count: Carol is made admin, then removed.
    p.set_role(&bob, c, "admin").await;
    p.act_ok(&bob, &format!("/team/members/{c}/remove"), &[])
        .await;
    let before = p.state_of("acme");
    last_admin_refused(
        p.act(
            &bob,
            &format!("/team/members/{b}/role"),
            &[("role", "member")],
        )
        .await,
    )
    .await;
    last_admin_refused(p.act(&bob, &format!("/team/members/{b}/remove"), &[]).await).await;
    assert_eq!(p.state_of("acme"), before, "nothing changed");
    assert_eq!(p.role("acme", "bob@acme.test").0, "admin");
    let line = p.counts_line("acme");
    assert_eq!(line, "2 active members, 1 admin, 1 removed.");
    assert!(
        p.page(&bob, "/team").await.contains(&line),
        "the page's counts"
    );
}

#[actix_web::test]
async fn admin_forms_without_or_with_a_wrong_csrf_token_are_refused_and_change_nothing() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let b = p.id("acme", "bob@acme.test");
    let bobs_token = p.app.csrf(&bob, "/team").await;
    let role = format!("/team/members/{b}/role");
    let remove = format!("/team/members/{b}/remove");
    let before = p.state_of("acme");

    for token in [None, Some("wrong"), Some(""), Some(bobs_token.as_str())] {
        for (path, field) in [
            (role.as_str(), ("role", "admin")),
            (remove.as_str(), ("x", "")),
            ("/team/invites", ("email", "erin@acme.test")),
        ] {
            let mut form = vec![field];
            if let Some(t) = token {
                form.push(("csrf_token", t));
            }
            let resp = p.app.post(&alice, path, &form).await;
            assert_eq!(
                resp.status(),
                StatusCode::FORBIDDEN,
                "{path} with {token:?}"
            );
            assert!(resp.text().await.unwrap().contains("security token"));
        }
    }
    assert_eq!(p.state_of("acme"), before, "nothing changed");

    // Alice's own token is accepted: the refusals above were about the token alone.
    let token = p.app.csrf(&alice, "/team").await;
    let resp = p
        .app
        .post(&alice, &role, &[("csrf_token", &token), ("role", "admin")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(p.role("acme", "bob@acme.test").0, "admin");
}

#[actix_web::test]
async fn the_shell_lists_admins_and_promotes_a_member_with_an_audit_entry_from_the_shell() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let config = p.app.dir.path().join("shell.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = {:?}\n{}",
            p.app.db_path.display().to_string(),
            p.idp.team_toml("acme", "admin_email = \"alice@acme.test\"")
        ),
    )
    .expect("config");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_teamportal"))
            .env_remove("TEAMPORTAL_CONFIG")
            .env("RUST_LOG", "warn")
            .arg("admin")
            .args(args)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .expect("teamportal runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    let (ok, out, err) = run(&["list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("acme (Team acme)") && out.contains("  admin: alice@acme.test"),
        "{out}"
    );
    assert!(
        !out.contains("bob@acme.test"),
        "members are not listed: {out}"
    );

    // Alice has the team page open: its rows are now kept in the portal's memory.
    let b = p.id("acme", "bob@acme.test");
    assert!(super::row(&p.page(&alice, "/team").await, b).contains("Make admin"));

    let (ok, out, err) = run(&["promote", "Bob@Acme.test", "--team", "acme"]);
    assert!(ok, "{err}");
    let page = p.page(&alice, "/team").await;
    let r = super::row(&page, b);
    assert!(
        r.contains("Make member") && r.contains("set by an admin"),
        "the shell's change shows on the next view of the team page: {r}"
    );
    assert!(
        out.contains("bob@acme.test is now an admin of acme"),
        "{out}"
    );
    assert_eq!(
        p.role("acme", "bob@acme.test"),
        ("admin".into(), "manual".into())
    );
    assert_eq!(
        p.status(&bob, "/audit").await,
        StatusCode::OK,
        "on Bob's next request"
    );
    let (_, out, _) = run(&["list"]);
    assert!(out.contains("  admin: bob@acme.test"), "{out}");
    let log = p.page(&alice, "/audit?action=role_changed").await;
    assert!(
        log.contains("<td>shell</td>") && log.contains("<td>bob@acme.test</td>"),
        "audited as done from the shell: {log}"
    );

    let before = p.state_of("acme");
    let (ok, _, err) = run(&["promote", "nobody@acme.test", "--team", "acme"]);
    assert!(!ok && err.contains("nobody@acme.test"), "{err}");
    let (ok, _, _) = run(&["promote", "bob@acme.test", "--team", "other"]);
    assert!(!ok, "no such member in another team");
    assert_eq!(p.state_of("acme"), before, "nothing changed");
}

#[actix_web::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin_and_the_other_gets_409_never_an_error(
) {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let (a, b) = (
        p.id("acme", "alice@acme.test"),
        p.id("acme", "bob@acme.test"),
    );
    let (alice_token, bob_token) = (
        p.app.csrf(&alice, "/team").await,
        p.app.csrf(&bob, "/team").await,
    );
    let (demote_bob, demote_alice) = (
        format!("/team/members/{b}/role"),
        format!("/team/members/{a}/role"),
    );
    let by_alice = [("csrf_token", alice_token.as_str()), ("role", "member")];
    let by_bob = [("csrf_token", bob_token.as_str()), ("role", "member")];

    // The race is narrow: many rounds make a wrong answer all but certain to show.
    for round in 0..100 {
        p.app
            .db()
            .execute(
                "UPDATE users SET role = 'admin', role_source = 'manual' WHERE team_id = 'acme'",
                [],
            )
            .expect("both admins again");
        let (first, second) = tokio::join!(
            p.app.post(&alice, &demote_bob, &by_alice),
            p.app.post(&bob, &demote_alice, &by_bob)
        );
        let mut answers = [first.status(), second.status()];
        answers.sort();
        // The loser either still got in as an admin and meets the last-admin rule (409), or
        // was already a member when their request was checked (403).
        assert!(
            answers == [StatusCode::SEE_OTHER, StatusCode::FORBIDDEN]
                || answers == [StatusCode::SEE_OTHER, StatusCode::CONFLICT],
            "round {round}: {answers:?}"
        );
        assert_eq!(
            p.app
                .count("SELECT count(*) FROM users WHERE team_id = 'acme' AND role = 'admin'"),
            1,
            "round {round}: exactly one admin left"
        );
    }
}

#[actix_web::test]
async fn a_refused_change_answers_the_list_it_came_from_with_its_search_kept() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    p.sign_in("acme", "bob@acme.test").await;
    let a = p.id("acme", "alice@acme.test");
    let before = p.state_of("acme");
    let resp = p
        .act(
            &alice,
            &format!("/team/members/{a}/role"),
            &[("role", "member"), ("back_q", "bob")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("input id=\"q\" type=\"search\" name=\"q\" value=\"bob\""),
        "the search is kept: {body}"
    );
    assert!(
        body.contains("bob@acme.test"),
        "the list as searched: {body}"
    );
    assert!(!body.contains("alice@acme.test\"") || body.contains("role=\"alert\""));
    assert_eq!(p.state_of("acme"), before, "nothing changed");
}
