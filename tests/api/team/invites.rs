//! Invitations to an invite-only team, end to end through the real IdP: invite, the pending
//! list, cancel, sign-in with the invited email in any case, and re-inviting a removed member.

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;
use crate::sso_e2e::{start, Sso};

async fn team_page(app: &TestApp, client: &Client) -> String {
    let (status, body) = app.text(client, "/team").await;
    assert_eq!(status, StatusCode::OK, "the team page opens: {body}");
    body
}

/// The "Invitations" section of an admin's team page.
fn invitations(page: &str) -> &str {
    let start = page
        .find("<section class=\"invites\">")
        .unwrap_or_else(|| panic!("an admin's page lists invitations: {page}"));
    let end = page[start..].find("</section>").expect("section ends") + start;
    &page[start..end]
}

fn pending_id(s: &Sso, email: &str) -> i64 {
    s.app
        .db()
        .query_row(
            "SELECT id FROM invites WHERE team_id = 'acme' AND email = ?1
               AND accepted_at IS NULL AND cancelled_at IS NULL",
            [email],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{email} has a pending invitation: {e}"))
}

fn accounts_of(s: &Sso, email: &str) -> i64 {
    s.app.count(&format!(
        "SELECT count(*) FROM users WHERE team_id = 'acme' AND email = '{email}'"
    ))
}

async fn invite(s: &Sso, admin: &Client, email: &str) {
    let resp = s
        .app
        .post_csrf(admin, "/team/invites", &[("email", email)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "inviting {email}");
}

#[actix_web::test]
async fn invited_people_sign_in_through_the_idp_whatever_the_case_of_their_email_and_cancelled_ones_cannot(
) {
    let s = start("provisioning = \"invite\"").await;
    s.idp
        .set_account(
            "carol",
            json!({"email": "Carol@ACME.com", "email_verified": true, "name": "Carol Crossteam"}),
        )
        .await
        .unwrap();
    let alice = s.sign_in("acme", "alice").await;

    invite(&s, &alice, "Dave@Acme.COM").await;
    invite(&s, &alice, "dave@acme.com").await;
    invite(&s, &alice, "carol@acme.com").await;
    invite(&s, &alice, "bob@acme.com").await;
    assert_eq!(
        s.app
            .count("SELECT count(*) FROM invites WHERE email = 'dave@acme.com'"),
        1,
        "inviting twice keeps one invitation, stored in lowercase"
    );
    let page = team_page(&s.app, &alice).await;
    let pending = invitations(&page);
    for email in ["bob@acme.com", "carol@acme.com", "dave@acme.com"] {
        assert!(
            pending.contains(&format!("{email} — invited by alice@acme.com")),
            "{email} is pending: {pending}"
        );
    }

    let bob_invite = pending_id(&s, "bob@acme.com");
    assert!(pending.contains(&format!("action=\"/team/invites/{bob_invite}/cancel\"")));
    let resp = s
        .app
        .post_csrf(&alice, &format!("/team/invites/{bob_invite}/cancel"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = s
        .app
        .post_csrf(&alice, &format!("/team/invites/{bob_invite}/cancel"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "cancelled already");
    assert!(!invitations(&team_page(&s.app, &alice).await).contains("bob@acme.com"));
    let (resp, _) = s.attempt("acme", "bob").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("invite"));
    assert_eq!(accounts_of(&s, "bob@acme.com"), 0, "no account");

    // Invited in another case than the IdP sends, both ways round.
    let dave = s.sign_in("acme", "dave").await;
    let carol = s.sign_in("acme", "carol").await;
    assert!(team_page(&s.app, &dave).await.contains("dave@acme.com"));
    assert!(team_page(&s.app, &carol).await.contains("carol@acme.com"));
    assert_eq!(
        s.app.count(
            "SELECT count(*) FROM users WHERE team_id = 'acme' AND joined_via = 'invite'
               AND role = 'member' AND email IN ('dave@acme.com', 'carol@acme.com')"
        ),
        2
    );
    let page = team_page(&s.app, &alice).await;
    assert!(
        !invitations(&page).contains("@acme.com —"),
        "accepted invitations are no longer pending: {}",
        invitations(&page)
    );
    assert!(page.contains("joined by invitation"), "{page}");
}

#[actix_web::test]
async fn a_removed_member_of_an_invite_only_team_comes_back_only_when_invited_again() {
    let s = start("provisioning = \"invite\"").await;
    let alice = s.sign_in("acme", "alice").await;
    invite(&s, &alice, "dave@acme.com").await;
    let dave = s.sign_in("acme", "dave").await;
    let d = s.user_id("acme", "dave@acme.com");

    let resp = s
        .app
        .post_csrf(&alice, &format!("/team/members/{d}/remove"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        s.app.get(&dave, "/team").await.status(),
        StatusCode::SEE_OTHER
    );
    let page = team_page(&s.app, &alice).await;
    assert!(
        page.contains("or invite them again"),
        "the page says how they come back: {page}"
    );
    let (resp, _) = s.attempt("acme", "dave").await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "removed, not re-invited"
    );

    invite(&s, &alice, "dave@acme.com").await;
    let dave = s.sign_in("acme", "dave").await;
    assert!(team_page(&s.app, &dave).await.contains("dave@acme.com"));
    assert_eq!(s.user_id("acme", "dave@acme.com"), d, "the same account");
    assert_eq!(accounts_of(&s, "dave@acme.com"), 1);
    assert_eq!(
        s.app.count(
            "SELECT count(*) FROM invites WHERE accepted_at IS NULL AND cancelled_at IS NULL"
        ),
        0,
        "the new invitation was used"
    );
}

#[actix_web::test]
async fn a_removed_admin_invited_back_returns_as_a_member_as_an_admins_restore_would() {
    let s = start("provisioning = \"invite\"").await;
    let alice = s.sign_in("acme", "alice").await;
    invite(&s, &alice, "dave@acme.com").await;
    s.sign_in("acme", "dave").await;
    let d = s.user_id("acme", "dave@acme.com");
    let resp = s
        .app
        .post_csrf(
            &alice,
            &format!("/team/members/{d}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = s
        .app
        .post_csrf(&alice, &format!("/team/members/{d}/remove"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    invite(&s, &alice, "dave@acme.com").await;
    let dave = s.sign_in("acme", "dave").await;
    assert_eq!(s.user_id("acme", "dave@acme.com"), d, "the same account");
    assert_eq!(
        s.app.count(&format!(
            "SELECT count(*) FROM users WHERE id = {d} AND active AND role = 'member' AND role_source = 'default'"
        )),
        1,
        "removal ended the admin rights; the invitation gives back membership only"
    );
    assert_eq!(
        s.app.get(&dave, "/billing").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[actix_web::test]
async fn inviting_an_active_member_answers_409_and_leaves_no_invitation_behind() {
    let s = start("provisioning = \"invite\"").await;
    let alice = s.sign_in("acme", "alice").await;
    invite(&s, &alice, "bob@acme.com").await;
    s.sign_in("acme", "bob").await;
    let audit_before = s.app.count("SELECT count(*) FROM audit");

    let resp = s
        .app
        .post_csrf(&alice, "/team/invites", &[("email", "BOB@acme.com")])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body = resp.text().await.expect("body");
    assert!(body.contains("already an active member"), "{body}");
    assert_eq!(
        s.app.count(
            "SELECT count(*) FROM invites WHERE email = 'bob@acme.com' AND accepted_at IS NULL AND cancelled_at IS NULL"
        ),
        0,
        "no pending invitation for a member"
    );
    assert_eq!(s.app.count("SELECT count(*) FROM audit"), audit_before);
    assert!(!invitations(&team_page(&s.app, &alice).await).contains("bob@acme.com"));
}
