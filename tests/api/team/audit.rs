//! The audit log: every team action is recorded with who, what, on whom and from where,
//! newest first, paged, and filtered by action and by person.

use reqwest::StatusCode;

use super::Portal;

/// One row of the audit table.
#[derive(Debug, PartialEq)]
struct Entry {
    who: String,
    action: String,
    on: String,
    detail: String,
    from: String,
}

fn entries(page: &str) -> Vec<Entry> {
    let Some(body) = page.split("<tbody>").nth(1) else {
        return Vec::new();
    };
    let body = body.split("</tbody>").next().unwrap_or_default();
    body.split("<tr>")
        .skip(1)
        .map(|tr| {
            // Each cell: its attributes and its text.
            let cells: Vec<(String, String)> = tr
                .split("<td")
                .skip(1)
                .map(|td| {
                    let (attrs, rest) = td.split_once('>').unwrap_or_default();
                    let text = rest.split("</td>").next().unwrap_or_default();
                    (attrs.to_string(), text.to_string())
                })
                .collect();
            assert_eq!(cells.len(), 6, "when, who, action, on, details, from: {tr}");
            // The action cell says it in words; the code stays in `data-action`.
            let (attrs, label) = &cells[2];
            let action = attrs
                .split("data-action=\"")
                .nth(1)
                .and_then(|a| a.split('"').next())
                .unwrap_or_else(|| panic!("the action's code: {tr}"))
                .to_string();
            assert!(
                !label.is_empty() && !label.contains('_') && label != &action,
                "the action in words, not its code: {tr}"
            );
            Entry {
                who: cells[1].1.clone(),
                action,
                on: cells[3].1.clone(),
                detail: cells[4].1.clone(),
                from: cells[5].1.clone(),
            }
        })
        .collect()
}

fn actions(rows: &[Entry]) -> Vec<&str> {
    rows.iter().map(|e| e.action.as_str()).collect()
}

#[actix_web::test]
async fn each_team_action_is_audited_newest_first_with_actor_target_and_address() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    p.sign_in("acme", "bob@acme.test").await;
    p.sign_in("acme", "carol@acme.test").await;
    let (b, c) = (
        p.id("acme", "bob@acme.test"),
        p.id("acme", "carol@acme.test"),
    );

    p.set_role(&alice, b, "admin").await;
    p.set_role(&alice, b, "member").await;
    p.act_ok(&alice, &format!("/team/members/{c}/remove"), &[])
        .await;
    let (refused, _) = p.attempt("acme", "carol@acme.test").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    p.act_ok(&alice, &format!("/team/members/{c}/restore"), &[])
        .await;
    p.act_ok(&alice, "/team/invites", &[("email", "dan@acme.test")])
        .await;
    let invite = p.pending_invite("acme", "dan@acme.test");
    p.act_ok(&alice, &format!("/team/invites/{invite}/cancel"), &[])
        .await;

    let page = p.page(&alice, "/audit").await;
    for shown in [
        "<td data-action=\"account_created\">Account created</td>",
        "<td data-action=\"role_changed\">Role changed</td>",
        "<td data-action=\"invite_cancelled\">Invitation cancelled</td>",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(page.contains("<option value=\"role_changed\">Role changed</option>"));
    let rows = entries(&page);
    let alice_did = |action: &str, on: &str, detail: &str| Entry {
        who: "alice@acme.test".into(),
        action: action.into(),
        on: on.into(),
        detail: detail.into(),
        from: "127.0.0.1".into(),
    };
    assert_eq!(
        rows[..7],
        [
            alice_did("invite_cancelled", "dan@acme.test", ""),
            alice_did("invite_created", "dan@acme.test", ""),
            alice_did("member_restored", "carol@acme.test", ""),
            Entry {
                who: "carol@acme.test".into(),
                action: "sign_in_refused".into(),
                on: "carol@acme.test".into(),
                detail: "removed from the team".into(),
                from: "127.0.0.1".into(),
            },
            alice_did(
                "member_removed",
                "carol@acme.test",
                "0 personal tokens revoked"
            ),
            alice_did("role_changed", "bob@acme.test", "admin -&gt; member"),
            alice_did("role_changed", "bob@acme.test", "member -&gt; admin"),
        ],
        "newest first: {rows:#?}"
    );
    assert_eq!(
        actions(&rows[7..]),
        [
            "sign_in",
            "account_created",
            "sign_in",
            "account_created",
            "sign_in",
            "account_created"
        ],
        "the sign-ins and new accounts came first"
    );
    assert_eq!(
        rows.last().map(|e| (e.who.as_str(), e.on.as_str())),
        Some(("alice@acme.test", "alice@acme.test"))
    );
}

#[actix_web::test]
async fn the_audit_log_filters_by_action_and_by_person() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    p.sign_in("acme", "bob@acme.test").await;
    p.sign_in("acme", "carol@acme.test").await;
    let (b, c) = (
        p.id("acme", "bob@acme.test"),
        p.id("acme", "carol@acme.test"),
    );
    p.set_role(&alice, b, "admin").await;
    p.act_ok(&alice, &format!("/team/members/{c}/remove"), &[])
        .await;
    p.act_ok(&alice, &format!("/team/members/{c}/restore"), &[])
        .await;

    let rows = entries(&p.page(&alice, "/audit?action=role_changed").await);
    assert_eq!(actions(&rows), ["role_changed"], "{rows:#?}");
    assert_eq!(rows[0].on, "bob@acme.test");

    let rows = entries(&p.page(&alice, "/audit?person=CAROL").await);
    assert_eq!(
        actions(&rows),
        [
            "member_restored",
            "member_removed",
            "sign_in",
            "account_created"
        ],
        "everything done by or to Carol, and nothing else: {rows:#?}"
    );
    assert!(rows
        .iter()
        .all(|e| e.who.contains("carol") || e.on.contains("carol")));

    let rows = entries(&p.page(&alice, "/audit?action=sign_in&person=bob").await);
    assert_eq!(actions(&rows), ["sign_in"]);
    assert_eq!(rows[0].who, "bob@acme.test");

    let page = p
        .page(&alice, "/audit?action=member_removed&person=bob")
        .await;
    assert!(entries(&page).is_empty() && page.contains("Nothing recorded that matches."));
    let page = p.page(&alice, "/audit?person=%25").await;
    assert!(entries(&page).is_empty(), "% is searched for literally");
    let page = p.page(&alice, "/audit").await;
    for action in [
        "role_changed",
        "member_removed",
        "member_restored",
        "sign_in",
    ] {
        assert!(
            page.contains(&format!("<option value=\"{action}\">")),
            "the action filter offers {action}"
        );
    }
}

#[actix_web::test]
async fn the_audit_log_pages_fifty_entries_at_a_time_and_members_cannot_open_it() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    assert_eq!(p.status(&bob, "/audit").await, StatusCode::FORBIDDEN);
    let token = p.app.csrf(&alice, "/team").await;
    for i in 0..28 {
        let email = format!("guest{i:02}@acme.test");
        let resp = p
            .app
            .post(
                &alice,
                "/team/invites",
                &[("csrf_token", &token), ("email", &email)],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    }
    // 4 from the sign-ins, 28 invitations: 32; 28 cancellations: 60.
    for i in 0..28 {
        let id = p.pending_invite("acme", &format!("guest{i:02}@acme.test"));
        let resp = p
            .app
            .post(
                &alice,
                &format!("/team/invites/{id}/cancel"),
                &[("csrf_token", &token)],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    }

    let first = p.page(&alice, "/audit").await;
    let rows = entries(&first);
    assert_eq!(rows.len(), 50);
    assert!(first.contains("Page 1 of 2") && first.contains("href=\"/audit?page=2\""));
    assert_eq!(
        (rows[0].action.as_str(), rows[0].on.as_str()),
        ("invite_cancelled", "guest27@acme.test")
    );
    let second = entries(&p.page(&alice, "/audit?page=2").await);
    assert_eq!(second.len(), 10);
    assert_eq!(
        actions(&second[6..]),
        ["sign_in", "account_created", "sign_in", "account_created"],
        "the oldest entries come last"
    );
    let filtered = p.page(&alice, "/audit?action=invite_created&page=1").await;
    assert_eq!(entries(&filtered).len(), 28);
    assert!(!filtered.contains("Page 1 of"), "one page of invitations");
}
