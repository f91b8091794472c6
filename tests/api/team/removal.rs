//! Removing a member ends their sessions at once and refuses their sign-in; an admin of a
//! JIT team restores them.

use reqwest::StatusCode;

use super::{row, Portal};
use crate::helpers::location;

#[actix_web::test]
async fn removal_ends_the_members_session_at_once_and_refuses_their_sign_in_until_restored() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let bob_elsewhere = p.sign_in("acme", "bob@acme.test").await;
    let b = p.id("acme", "bob@acme.test");
    assert_eq!(p.sessions_of(b), 2, "Bob is signed in twice");
    assert_eq!(p.status(&bob, "/tokens").await, StatusCode::OK);

    p.act_ok(&alice, &format!("/team/members/{b}/remove"), &[])
        .await;

    assert!(!p.is_active("acme", "bob@acme.test"));
    assert_eq!(p.sessions_of(b), 0, "his sessions are deleted");
    for (client, page) in [(&bob, "/team"), (&bob_elsewhere, "/tokens")] {
        let resp = p.app.get(client, page).await;
        assert_eq!(
            (resp.status(), location(&resp)),
            (StatusCode::SEE_OTHER, "/login".to_string()),
            "{page}: his next request goes to the sign-in page"
        );
    }
    let (resp, again) = p.attempt("acme", "bob@acme.test").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("removed"));
    assert_eq!(p.status(&again, "/team").await, StatusCode::SEE_OTHER);
    assert_eq!(p.sessions_of(b), 0, "no session from the refused sign-in");

    // The admin sees him as removed, with a way back and no role toggle.
    let page = p.page(&alice, "/team").await;
    assert!(
        page.contains("1 active member, 1 admin, 1 removed."),
        "{page}"
    );
    let r = row(&page, b);
    assert!(r.contains("removed") && r.contains(&format!("action=\"/team/members/{b}/restore\"")));
    assert!(!r.contains("/role\"") && !r.contains("/remove\""), "{r}");
    let resp = p
        .act(
            &alice,
            &format!("/team/members/{b}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CONFLICT,
        "restore before a role change"
    );
    assert!(!p.is_active("acme", "bob@acme.test"));

    p.act_ok(&alice, &format!("/team/members/{b}/restore"), &[])
        .await;
    assert!(p.is_active("acme", "bob@acme.test"));
    let bob = p.sign_in("acme", "bob@acme.test").await;
    assert_eq!(p.id("acme", "bob@acme.test"), b, "the same account");
    assert!(super::row(&p.page(&bob, "/team").await, b).contains(super::YOU));
    assert_eq!(p.sessions_of(b), 1);
}

#[actix_web::test]
async fn a_removed_admin_is_restored_as_a_member() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let carol = p.sign_in("acme", "carol@acme.test").await;
    let c = p.id("acme", "carol@acme.test");
    p.set_role(&alice, c, "admin").await;
    assert_eq!(p.status(&carol, "/audit").await, StatusCode::OK);

    p.act_ok(&alice, &format!("/team/members/{c}/remove"), &[])
        .await;
    assert_eq!(p.status(&carol, "/audit").await, StatusCode::SEE_OTHER);
    p.act_ok(&alice, &format!("/team/members/{c}/restore"), &[])
        .await;

    assert_eq!(
        p.role("acme", "carol@acme.test"),
        ("member".into(), "default".into())
    );
    let carol = p.sign_in("acme", "carol@acme.test").await;
    assert_eq!(p.status(&carol, "/audit").await, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_restored_member_does_not_get_their_old_sessions_back() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let b = p.id("acme", "bob@acme.test");
    // Used just before: the portal holds his session in its cache.
    assert_eq!(p.status(&bob, "/team").await, StatusCode::OK);

    p.act_ok(&alice, &format!("/team/members/{b}/remove"), &[])
        .await;
    p.act_ok(&alice, &format!("/team/members/{b}/restore"), &[])
        .await;

    assert!(p.is_active("acme", "bob@acme.test"));
    let resp = p.app.get(&bob, "/team").await;
    assert_eq!(
        (resp.status(), location(&resp)),
        (StatusCode::SEE_OTHER, "/login".to_string()),
        "restoring the account does not revive the session removal revoked"
    );
    assert_eq!(p.sessions_of(b), 0);
}

#[actix_web::test]
async fn a_session_deleted_from_the_store_by_another_process_stops_at_the_next_request() {
    let p = Portal::acme().await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    let b = p.id("acme", "bob@acme.test");
    let csrf = p.app.csrf(&bob, "/tokens").await;
    assert_eq!(p.status(&bob, "/team").await, StatusCode::OK);

    // What a shell command or a second process would do: no word to the running portal.
    p.app
        .db()
        .execute("DELETE FROM sessions WHERE user_id = ?1", [b])
        .expect("delete");

    let resp = p.app.get(&bob, "/tokens").await;
    assert_eq!(
        (resp.status(), location(&resp)),
        (StatusCode::SEE_OTHER, "/login".to_string())
    );
    let before = p.app.count("SELECT count(*) FROM api_tokens");
    let resp = p
        .app
        .post(&bob, "/tokens", &[("csrf_token", &csrf), ("name", "late")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    assert_eq!(
        p.app.count("SELECT count(*) FROM api_tokens"),
        before,
        "nothing created"
    );
}
