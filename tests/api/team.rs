//! The team page and what admins do there (issue 4): member and admin views, search and
//! paging, role changes, removal and restore, invitations, the audit log, the shell's
//! recovery commands and isolation between teams. Most tests sign in through the fake IdP
//! (fast, fully controlled); the invitation flow runs end to end against the real one.
//! Every refused action is checked in the store to have changed nothing.

mod audit;
mod caches;
mod gzip;
mod invites;
mod isolation;
mod removal;
mod roles;

use reqwest::{Client, Response, StatusCode};
use rusqlite::params;
use serde_json::json;

use crate::helpers::{browser, location, spawn_app, TestApp};
use crate::support::fake_idp::FakeIdp;

/// How the team page marks the signed-in person's own row.
const YOU: &str = "<span class=\"badge\">you</span>";

/// A portal whose teams all sign in through one fake IdP.
struct Portal {
    app: TestApp,
    idp: FakeIdp,
}

impl Portal {
    /// One `[[teams]]` per `(Team ID, extra TOML)`.
    async fn start(teams: &[(&str, &str)]) -> Portal {
        let idp = FakeIdp::start().await;
        let toml: String = teams
            .iter()
            .map(|(id, extra)| idp.team_toml(id, extra))
            .collect();
        let app = spawn_app(&toml).await;
        Portal { app, idp }
    }

    /// Team `acme`, whose `admin_email` is alice@acme.test.
    async fn acme() -> Portal {
        Portal::start(&[("acme", "admin_email = \"alice@acme.test\"")]).await
    }

    /// A fresh browser signs in to `team` as the person with `email` (their IdP subject is
    /// the lowercase email, their name the capitalised local part); the callback's answer.
    async fn attempt(&self, team: &str, email: &str) -> (Response, Client) {
        let client = browser();
        let start = self.app.get(&client, &format!("/sso/{team}/login")).await;
        assert_eq!(start.status(), StatusCode::SEE_OTHER, "sign-in starts");
        let resp = self
            .idp
            .finish(
                &self.app,
                &client,
                team,
                &location(&start),
                (&email.to_lowercase(), email),
                |claims| claims["name"] = json!(name_of(email)),
            )
            .await;
        (resp, client)
    }

    /// A sign-in that must land on `/team`; the signed-in browser.
    async fn sign_in(&self, team: &str, email: &str) -> Client {
        let (resp, client) = self.attempt(team, email).await;
        let (status, to) = (resp.status(), location(&resp));
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(
            (status, to.as_str()),
            (StatusCode::SEE_OTHER, "/team"),
            "{email} signs in to {team}: {body}"
        );
        client
    }

    /// A page that must open; its HTML.
    async fn page(&self, client: &Client, path: &str) -> String {
        let (status, body) = self.app.text(client, path).await;
        assert_eq!(status, StatusCode::OK, "{path} opens: {body}");
        body
    }

    async fn status(&self, client: &Client, path: &str) -> StatusCode {
        self.app.get(client, path).await.status()
    }

    /// POSTs a form with the session's CSRF token.
    async fn act(&self, client: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        self.app.post_csrf(client, path, form).await
    }

    /// An admin's role toggle that must succeed.
    async fn set_role(&self, admin: &Client, id: i64, role: &str) {
        self.act_ok(
            admin,
            &format!("/team/members/{id}/role"),
            &[("role", role)],
        )
        .await;
    }

    /// An admin action that must succeed: 303 back to `/team`.
    async fn act_ok(&self, client: &Client, path: &str, form: &[(&str, &str)]) {
        let resp = self.act(client, path, form).await;
        let (status, to) = (resp.status(), location(&resp));
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(
            (status, to.as_str()),
            (StatusCode::SEE_OTHER, "/team"),
            "POST {path} {form:?}: {body}"
        );
    }

    fn id(&self, team: &str, email: &str) -> i64 {
        self.app.user(team, email, "id", |r| r.get(0))
    }

    /// `(role, role_source)` as stored.
    fn role(&self, team: &str, email: &str) -> (String, String) {
        self.app.user(team, email, "role, role_source", |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    fn is_active(&self, team: &str, email: &str) -> bool {
        self.app.user(team, email, "active", |r| r.get(0))
    }

    fn sessions_of(&self, user_id: i64) -> i64 {
        self.app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = {user_id}"
        ))
    }

    /// The id of the pending invitation for `email` in `team`.
    fn pending_invite(&self, team: &str, email: &str) -> i64 {
        self.app
            .db()
            .query_row(
                "SELECT id FROM invites WHERE team_id = ?1 AND email = ?2
                   AND accepted_at IS NULL AND cancelled_at IS NULL",
                [team, email],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{email} has a pending invitation to {team}: {e}"))
    }

    /// Everything an admin action could change in `team` (members, roles, invitations,
    /// tokens, audit rows), to compare before and after a refused request.
    fn state_of(&self, team: &str) -> String {
        let db = self.app.db();
        let dump = |sql: &str| -> Vec<String> {
            let mut stmt = db.prepare(sql).expect("prepare");
            let n = stmt.column_count();
            stmt.query_map([team], |r| {
                (0..n)
                    .map(|i| {
                        r.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map(|cols| cols.join("|"))
            })
            .expect("query")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("rows")
        };
        [
            dump("SELECT id, email, role, role_source, active, removed_at FROM users WHERE team_id = ?1 ORDER BY id"),
            dump("SELECT id, email, invited_by, accepted_at, cancelled_at FROM invites WHERE team_id = ?1 ORDER BY id"),
            dump("SELECT id, revoked_at FROM api_tokens WHERE team_id = ?1 ORDER BY id"),
            dump("SELECT id, actor, action, target FROM audit WHERE team_id = ?1 ORDER BY id"),
        ]
        .map(|rows| rows.join("\n"))
        .join("\n--\n")
    }

    /// The team page's line of counts, as recounted from the users table.
    fn counts_line(&self, team: &str) -> String {
        let (members, admins, removed): (i64, i64, i64) = self
            .app
            .db()
            .query_row(
                "SELECT coalesce(sum(active), 0), coalesce(sum(active AND role = 'admin'), 0),
                        coalesce(sum(NOT active), 0)
                 FROM users WHERE team_id = ?1",
                [team],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("recount");
        let plural =
            |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let (members, admins) = (
            plural(members, "active member", "active members"),
            plural(admins, "admin", "admins"),
        );
        match removed {
            0 => format!("{members}, {admins}."),
            n => format!("{members}, {admins}, {n} removed."),
        }
    }

    /// Members created directly in the store, in this order, as `(email, name)`.
    fn seed(&self, team: &str, people: &[(String, String)]) {
        let mut db = self.app.db();
        let tx = db.transaction().expect("tx");
        for (email, name) in people {
            tx.execute(
                "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source,
                                    joined_via, created_at)
                 VALUES (?1, ?2, ?3, ?3, ?4, 'member', 'default', 'jit', 0)",
                params![team, self.idp.issuer, email, name],
            )
            .expect("seed a member");
        }
        tx.commit().expect("commit");
    }
}

/// "bob@acme.test" -> "Bob".
fn name_of(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    let mut chars = local.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The team page's `<tr>` for user `id`.
fn row(page: &str, id: i64) -> &str {
    let start = page
        .find(&format!("<tr data-user-id=\"{id}\">"))
        .unwrap_or_else(|| panic!("user {id} has a row: {page}"));
    let end = page[start..].find("</tr>").expect("row ends") + start;
    &page[start..end]
}

/// The emails in the team page's rows, top to bottom.
fn emails(page: &str) -> Vec<String> {
    page.split("<tr data-user-id=")
        .skip(1)
        .map(|r| {
            r.split("<td>")
                .nth(2)
                .and_then(|td| td.split("</td>").next())
                .expect("a row has an email cell")
                .to_string()
        })
        .collect()
}

#[actix_web::test]
async fn members_see_the_team_read_only_and_admins_see_controls_on_every_row_with_their_own_marked()
{
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let bob = p.sign_in("acme", "bob@acme.test").await;
    p.sign_in("acme", "carol@acme.test").await;
    let (a, b, c) = (
        p.id("acme", "alice@acme.test"),
        p.id("acme", "bob@acme.test"),
        p.id("acme", "carol@acme.test"),
    );
    p.act_ok(&alice, "/team/invites", &[("email", "dan@acme.test")])
        .await;

    let page = p.page(&bob, "/team").await;
    for who in ["alice@acme.test", "bob@acme.test", "carol@acme.test"] {
        assert!(page.contains(who), "{who} is listed: {page}");
    }
    assert!(page.contains("3 active members, 1 admin."), "{page}");
    assert!(
        !page.contains("action=\"/team/"),
        "no role, remove, restore or invite form for a member: {page}"
    );
    assert!(
        !page.contains("dan@acme.test"),
        "members do not see pending invitations"
    );
    assert!(row(&page, b).contains(YOU), "{page}");
    assert!(!row(&page, a).contains(YOU) && !row(&page, c).contains(YOU));
    assert_eq!(page.matches(YOU).count(), 1);
    assert!(
        !page.contains("href=\"/audit\""),
        "no admin navigation for a member"
    );

    let page = p.page(&alice, "/team").await;
    assert!(row(&page, a).contains(YOU) && !row(&page, b).contains(YOU));
    for (id, offered) in [(a, "member"), (b, "admin"), (c, "admin")] {
        let r = row(&page, id);
        assert!(
            r.contains(&format!("action=\"/team/members/{id}/role\""))
                && r.contains(&format!("name=\"role\" value=\"{offered}\""))
                && r.contains(&format!("href=\"/team/members/{id}/remove/confirm\""))
                && r.contains("name=\"csrf_token\""),
            "user {id} can be made {offered} or removed (after a confirmation): {r}"
        );
    }
    assert!(
        row(&page, a).contains("the team's admin email"),
        "the role's source is shown in words"
    );
    assert!(row(&page, b).contains("joined on first sign-in"), "{page}");
    assert!(page.contains("action=\"/team/invites\"") && page.contains("dan@acme.test"));
    assert!(page.contains("href=\"/audit\""), "admin navigation");
}

#[actix_web::test]
async fn the_list_pages_fifty_at_a_time_in_a_stable_name_order_and_searches_names_and_emails() {
    let p = Portal::acme().await;
    let alice = p.sign_in("acme", "alice@acme.test").await;
    let pats: Vec<String> = (1..=120).map(|i| format!("pat{i:03}@acme.test")).collect();
    let mut people: Vec<(String, String)> = pats
        .iter()
        .map(|e| (e.clone(), "Pat Example".to_string()))
        .collect();
    people.push(("zoe@acme.test".into(), "Zoe Zebra".into()));
    people.push(("aaron@acme.test".into(), "aaron lowercase".into()));
    p.seed("acme", &people);

    // Names compare without case; people of the same name keep the order they joined in.
    let mut expected = vec!["aaron@acme.test".to_string(), "alice@acme.test".into()];
    expected.extend(pats.iter().cloned());
    expected.push("zoe@acme.test".into());
    let mut listed = Vec::new();
    for n in 1..=3 {
        let page = p.page(&alice, &format!("/team?page={n}")).await;
        assert!(page.contains(&format!("Page {n} of 3")), "{page}");
        assert!(
            page.contains("123 active members, 1 admin."),
            "counts are of the whole team"
        );
        let rows = emails(&page);
        assert_eq!(rows.len(), if n < 3 { 50 } else { 23 }, "page {n}");
        listed.extend(rows);
    }
    assert_eq!(listed, expected, "every member once, in a stable order");
    let first = p.page(&alice, "/team").await;
    assert_eq!(emails(&first), expected[..50], "page 1 is the default");
    assert!(first.contains("href=\"/team?page=2\""), "{first}");

    let page = p.page(&alice, "/team?q=ZEBRA").await;
    assert_eq!(emails(&page), ["zoe@acme.test"], "by name, any case");
    let page = p.page(&alice, "/team?q=PAT1").await;
    assert_eq!(emails(&page), pats[99..], "by email, any case");
    let page = p.page(&alice, "/team?q=example&page=2").await;
    assert_eq!(emails(&page), pats[50..100], "results are paged too");
    assert!(page.contains("Page 2 of 3"), "{page}");
    assert!(
        page.contains("href=\"/team?q=example&amp;page=3\""),
        "the next page keeps the search: {page}"
    );
    let page = p.page(&alice, "/team?q=oe%20Zeb").await;
    assert_eq!(emails(&page), ["zoe@acme.test"], "across the space");
    let page = p.page(&alice, "/team?q=zoe%22%20OR%20%22pat").await;
    assert!(
        emails(&page).is_empty(),
        "quotes and operators are searched for literally"
    );
    for wildcard in ["%25", "_"] {
        let page = p.page(&alice, &format!("/team?q={wildcard}")).await;
        assert!(
            emails(&page).is_empty() && page.contains("No member matches."),
            "{wildcard} is searched for literally, not as a wildcard"
        );
    }
    let page = p.page(&alice, "/team?page=9").await;
    assert!(emails(&page).is_empty(), "past the last page: no rows");
}
