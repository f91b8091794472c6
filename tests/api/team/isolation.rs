//! Two teams on one portal: an admin of one can neither see nor change anything of the
//! other through any route of the team page or the audit log.

use reqwest::StatusCode;

use super::{emails, Portal};

#[actix_web::test]
async fn an_admin_of_one_team_can_neither_see_nor_change_anything_of_another_team() {
    let p = Portal::start(&[
        ("acme", "admin_email = \"alice@acme.test\""),
        (
            "acme-ops",
            "admin_email = \"olga@ops.test\"\nprovisioning = \"invite\"",
        ),
    ])
    .await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    p.sign_in("acme", "bob@acme.test").await;

    // The other team: an admin, a member, a removed member and a pending invitation.
    let olga = p.sign_in("acme-ops", "olga@ops.test").await;
    for email in ["bea@ops.test", "ron@ops.test", "ivy@ops.test"] {
        p.act_ok(&olga, "/team/invites", &[("email", email)]).await;
    }
    p.sign_in("acme-ops", "bea@ops.test").await;
    p.sign_in("acme-ops", "ron@ops.test").await;
    let (o, bea, ron) = (
        p.id("acme-ops", "olga@ops.test"),
        p.id("acme-ops", "bea@ops.test"),
        p.id("acme-ops", "ron@ops.test"),
    );
    p.act_ok(&olga, &format!("/team/members/{ron}/remove"), &[])
        .await;
    let ivy = p.pending_invite("acme-ops", "ivy@ops.test");
    let before = p.state_of("acme-ops");

    // Nothing of theirs on Alice's pages.
    for path in [
        "/team",
        "/team?q=ops.test",
        "/team?q=bea",
        "/team?page=2",
        "/audit",
        "/audit?person=olga",
        "/audit?action=member_removed",
        "/audit?action=invite_created",
    ] {
        let page = p.page(&alice, path).await;
        for theirs in [
            "olga@ops.test",
            "bea@ops.test",
            "ron@ops.test",
            "ivy@ops.test",
        ] {
            assert!(
                !page.contains(theirs),
                "{path} shows nothing of acme-ops: {page}"
            );
        }
    }
    assert_eq!(
        emails(&p.page(&alice, "/team").await),
        ["alice@acme.test", "bob@acme.test"]
    );
    assert!(
        !p.page(&alice, "/audit")
            .await
            .contains("value=\"member_removed\""),
        "the action filter offers only her team's actions"
    );

    // Nothing of theirs can be changed by her: every id of theirs is unknown here.
    let attempts = [
        (format!("/team/members/{bea}/role"), vec![("role", "admin")]),
        (format!("/team/members/{o}/role"), vec![("role", "member")]),
        (format!("/team/members/{bea}/remove"), vec![]),
        (format!("/team/members/{o}/remove"), vec![]),
        (format!("/team/members/{ron}/restore"), vec![]),
        (format!("/team/invites/{ivy}/cancel"), vec![]),
    ];
    for (path, form) in &attempts {
        let resp = p.act(&alice, path, form).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "POST {path}");
    }
    // Inviting one of their people invites them to her own team only.
    p.act_ok(&alice, "/team/invites", &[("email", "ivy@ops.test")])
        .await;
    assert_ne!(p.pending_invite("acme", "ivy@ops.test"), ivy);
    assert_eq!(
        p.state_of("acme-ops"),
        before,
        "nothing of acme-ops changed"
    );
    assert!(!p.page(&olga, "/team").await.contains("acme.test"));
    assert!(!p.page(&olga, "/audit").await.contains("alice@acme.test"));

    // The same requests from their own admin work: the ids were real.
    for (path, form) in &attempts[..1] {
        p.act_ok(&olga, path, form).await;
    }
    p.act_ok(&olga, &format!("/team/members/{ron}/restore"), &[])
        .await;
    p.act_ok(&olga, &format!("/team/invites/{ivy}/cancel"), &[])
        .await;
    p.act_ok(&olga, &format!("/team/members/{bea}/remove"), &[])
        .await;
    assert_eq!(p.role("acme-ops", "bea@ops.test").0, "admin");
    assert!(!p.is_active("acme-ops", "bea@ops.test"));
    assert!(p.is_active("acme-ops", "ron@ops.test"));
    assert_ne!(p.state_of("acme-ops"), before);
}
