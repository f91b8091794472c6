//! What the portal keeps in memory to serve `/team` cheaply (the session cache, the page of
//! members read at a list version, the rows rendered per view) never outlives a change to who
//! may see what: every cache is warmed first, then a change is made from another process
//! (straight in the database, no word to the running portal), and the next request shows it.

use reqwest::StatusCode;

use super::{row, Portal};
use crate::helpers::location;

#[actix_web::test]
async fn a_demotion_or_removal_from_another_process_shows_on_the_next_request_despite_warm_caches()
{
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let carol = p.sign_in("acme", "carol@acme.test").await;
    let (b, c) = (
        p.id("acme", "bob@acme.test"),
        p.id("acme", "carol@acme.test"),
    );
    p.set_role(&alice, c, "admin").await;
    // Warm: Carol's and Alice's admin view of the rows, Bob's member view, every session.
    for _ in 0..3 {
        assert!(p
            .page(&carol, "/team")
            .await
            .contains("action=\"/team/members/"));
        assert!(p
            .page(&alice, "/team")
            .await
            .contains("action=\"/team/members/"));
        assert_eq!(p.status(&bob, "/team").await, StatusCode::OK);
    }

    // Another process demotes Carol.
    p.app
        .db()
        .execute(
            "UPDATE users SET role = 'member', role_source = 'manual' WHERE id = ?1",
            [c],
        )
        .expect("demote");
    let page = p.page(&carol, "/team").await;
    assert!(
        !page.contains("action=\"/team/"),
        "Carol gets the member view at once"
    );
    assert!(!page.contains("href=\"/audit\""));
    assert_eq!(p.status(&carol, "/audit").await, StatusCode::FORBIDDEN);
    let resp = p
        .act(
            &carol,
            &format!("/team/members/{b}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        p.role("acme", "bob@acme.test").0,
        "member",
        "nothing changed"
    );
    // Alice's cached page of the list follows the change too.
    let r = row(&p.page(&alice, "/team").await, c).to_string();
    assert!(r.contains("Make admin"), "{r}");

    // Another process deactivates Bob without touching his session rows.
    p.app
        .db()
        .execute("UPDATE users SET active = 0 WHERE id = ?1", [b])
        .expect("deactivate");
    assert_eq!(p.sessions_of(b), 1, "his session row is still there");
    let resp = p.app.get(&bob, "/team").await;
    assert_eq!(
        (resp.status(), location(&resp)),
        (StatusCode::SEE_OTHER, "/login".to_string()),
        "a removed member's warm session does not let him in"
    );
    assert_eq!(p.status(&bob, "/tokens").await, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_session_that_expired_meanwhile_stops_even_while_its_state_is_cached() {
    let p = Portal::acme().await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let b = p.id("acme", "bob@acme.test");
    for _ in 0..3 {
        assert_eq!(p.status(&bob, "/team").await, StatusCode::OK);
    }
    // Its idle or absolute limit passed (as if the clock had moved on).
    p.app
        .db()
        .execute("UPDATE sessions SET expires_at = 0 WHERE user_id = ?1", [b])
        .expect("expire");
    let resp = p.app.get(&bob, "/team").await;
    assert_eq!(
        (resp.status(), location(&resp)),
        (StatusCode::SEE_OTHER, "/login".to_string())
    );
}

#[actix_web::test]
async fn a_page_read_in_the_blocking_pool_and_its_next_view_from_the_caches_are_the_same() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let b = p.id("acme", "bob@acme.test");
    let set_bob = |role: &str| {
        p.app
            .db()
            .execute(
                "UPDATE users SET role = ?1 WHERE id = ?2",
                rusqlite::params![role, b],
            )
            .expect("role");
    };
    for (who, role, want) in [
        (&alice, "admin", "Make member"),
        (&bob, "member", "Make admin"),
    ] {
        // A change from another process: the next view of the page reads the list in the
        // blocking pool (the cached page is stale); the one after confirms the session and
        // takes the page on the worker thread.
        set_bob(role);
        let first = p.page(who, "/team").await;
        let next = p.page(who, "/team").await;
        assert_eq!(first, next);
        assert!(next.contains("alice@acme.test") && next.contains("bob@acme.test"));
        let r = row(&p.page(&alice, "/team").await, b).to_string();
        assert!(r.contains(want), "{r}");
    }

    // More pending invitations than a read on the worker thread lists: all of them, each time.
    let team_invites = |n: usize| {
        for i in 0..n {
            p.app
                .db()
                .execute(
                    "INSERT INTO invites (team_id, email, invited_by, created_at)
                     VALUES ('acme', ?1, NULL, 0)",
                    [format!("invited.{i:03}@acme.test")],
                )
                .expect("invite");
        }
    };
    team_invites(150);
    for _ in 0..2 {
        let page = p.page(&alice, "/team").await;
        assert_eq!(page.matches("/cancel\"").count(), 150);
        assert!(page.contains("invited.149@acme.test"));
    }
}

#[actix_web::test]
async fn counts_and_invitations_changed_by_another_process_show_on_the_next_view_of_a_warm_page() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    // Warm: the page, its rows, and what the connection that reads it remembers of the
    // session, the counts and the invitations. Each view is the same page.
    let warm = || async {
        let first = p.page(&alice, "/team").await;
        for _ in 0..3 {
            assert_eq!(
                p.page(&alice, "/team").await,
                first,
                "a warm page is the same"
            );
        }
        first
    };
    let page = warm().await;
    assert!(page.contains(&p.counts_line("acme")));
    assert!(!page.contains("shell.invited@acme.test"));

    // Another process invites someone (the list of members is unchanged, so the page's
    // rows stay cached): no word to the running portal.
    let db = p.app.db();
    db.execute(
        "INSERT INTO invites (team_id, email, invited_by, created_at)
         VALUES ('acme', 'shell.invited@acme.test', NULL, 0)",
        [],
    )
    .expect("an invitation");
    assert!(p
        .page(&alice, "/team")
        .await
        .contains("shell.invited@acme.test"));
    assert!(warm().await.contains("shell.invited@acme.test"));

    // Adds a member.
    db.execute(
        "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source, joined_via, created_at)
         SELECT team_id, issuer, 'from-shell', 'shell.member@acme.test', 'Shell Member', 'member', 'default', 'jit', 0
         FROM users WHERE team_id = 'acme' LIMIT 1",
        [],
    )
    .expect("a member added");
    let line = p.counts_line("acme");
    assert!(
        p.page(&alice, "/team").await.contains(&line),
        "{line} at once"
    );
    assert!(warm().await.contains(&line));

    // And cancels the invitation.
    db.execute(
        "UPDATE invites SET cancelled_at = 1 WHERE email = 'shell.invited@acme.test'",
        [],
    )
    .expect("cancelled");
    assert!(!p
        .page(&alice, "/team")
        .await
        .contains("shell.invited@acme.test"));
}
