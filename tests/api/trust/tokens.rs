//! Tokens inside their bounds: forward auth bound to a team, an index that never brings a
//! revoked token back and never asks the store about unknown ones, usage that cannot be
//! forged or overflowed, token limits and a paged list, safe names, no reveal once revoked.

use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};
use crate::support::fake_idp::FakeIdp;
use crate::tokens::{
    acme, assert_refused, create, header, report, reveal, revoke, sign_in, token_ids_listed, verify,
};

async fn verify_for(app: &TestApp, secret: &str, query: &str) -> Response {
    reqwest::Client::new()
        .get(app.url(&format!("/api/v1/verify{query}")))
        .bearer_auth(secret)
        .send()
        .await
        .expect("verify")
}

/// Waits (up to 5 s, polling) until `sql` counts at least `n`; returns the count.
async fn eventually_at_least(app: &TestApp, sql: &str, n: i64) -> i64 {
    let start = Instant::now();
    while app.count(sql) < n && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.count(sql)
}

/// Teams `acme` (admin alice) and `beta` (admin bert) on one instance.
async fn two_teams() -> (TestApp, FakeIdp, Client, Client) {
    let idp = FakeIdp::start().await;
    let teams = format!(
        "{}{}",
        idp.team_toml("acme", "admin_email = \"alice@acme.com\""),
        idp.team_toml("beta", "admin_email = \"bert@beta.com\"")
    );
    let app = spawn_app(&teams).await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let bert = sign_in(&app, &idp, "beta", "z", "bert@beta.com").await;
    (app, idp, alice, bert)
}

// Item 2: forward auth bound to a team.
#[actix_web::test]
async fn verify_with_team_refuses_a_valid_token_of_another_or_unknown_team_with_403_and_meters_nothing(
) {
    let (app, _idp, alice, bert) = two_teams().await;
    let (a_id, a_secret) = create(&app, &alice, &[("name", "acme-svc")]).await;
    let (b_id, _) = create(&app, &bert, &[("name", "beta-svc")]).await;

    for query in [
        "?team=beta",
        "?team=nosuchteam",
        "?team=",
        "?team=ACME",
        "?team=acme&team=beta",
        "?team=beta&team=acme",
    ] {
        let r = verify_for(&app, &a_secret, query).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{query}");
        assert_eq!(header(&r, "cache-control"), "no-store", "{query}");
        assert!(header(&r, "x-team-id").is_empty(), "{query}: no identity");
        assert!(header(&r, "x-token-name").is_empty(), "{query}");
        let body: Value = r.json().await.expect("JSON error");
        assert_eq!(body["error"], "wrong_team", "{query}");
        assert!(
            !body.to_string().contains("acme-svc"),
            "{query}: says nothing about the token: {body}"
        );
    }
    // The 401 rules for bad tokens are unchanged, with or without `team`.
    for query in ["?team=acme", "?team=beta", ""] {
        assert_refused(
            verify_for(&app, "tp_unknown00000000000000000000000000000000000", query).await,
            query,
        )
        .await;
    }

    // The right team (and no team at all) still verifies, and only those answers meter.
    let r = verify_for(&app, &a_secret, "?team=acme").await;
    assert_eq!(
        (r.status(), header(&r, "x-team-id")),
        (StatusCode::OK, "acme")
    );
    assert_eq!(verify(&app, &a_secret).await.status(), StatusCode::OK);
    let metered =
        format!("SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE token_id = {a_id}");
    // Every 403 came before these two 200s: a flush that holds them holds any 403 too.
    assert_eq!(
        eventually_at_least(&app, &metered, 2).await,
        2,
        "403s meter nothing"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM usage_daily WHERE token_id = {b_id}"
        )),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM usage_reports"), 0);

    // The tokens page's proxy example passes the team too.
    let (_, page) = app.text(&alice, "/tokens").await;
    assert!(
        page.contains(&format!("proxy_pass {}/api/v1/verify?team=acme;", app.base)),
        "{page}"
    );
}

// Item 11: a revoke that commits while a member removal brings the index up to date must not
// be undone by that removal, even when the index is large.
#[actix_web::test]
async fn a_revoked_token_stays_revoked_while_member_removals_update_a_large_index_concurrently() {
    let idp = FakeIdp::start().await;
    let teams = format!(
        "{}{}",
        idp.team_toml("acme", "admin_email = \"alice@acme.com\""),
        idp.team_toml("bulk", "admin_email = \"owner@bulk.com\"")
    );
    let app = spawn_app(&teams).await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    sign_in(&app, &idp, "bulk", "o", "owner@bulk.com").await;
    let bob = app.count("SELECT id FROM users WHERE email = 'bob@acme.com'");
    let owner = app.count("SELECT id FROM users WHERE email = 'owner@bulk.com'");
    // A large index: 150,000 verifiable tokens of another team, written as another process
    // would write them.
    // Off the test's own thread: on a loaded machine the insert takes seconds, and a blocked
    // thread would not see the server close the client's idle keep-alive connection (5 s),
    // so the next request would go out on a dead one.
    let db = app.db();
    tokio::task::spawn_blocking(move || {
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
             INSERT INTO api_tokens (team_id, name, prefix, secret_hash, secret_enc, created_by, personal, created_at)
             SELECT 'bulk', 'bulk-' || i, 'tp_bulk', randomblob(32), x'00', ?1, 0, 0 FROM n",
            [owner],
        )
    })
    .await
    .expect("insert thread")
    .expect("bulk tokens");
    let csrf = app.csrf(&alice, "/team").await;

    for round in 0..6 {
        let (id, secret) = create(&app, &alice, &[("name", &format!("race-{round}"))]).await;
        assert_eq!(verify(&app, &secret).await.status(), StatusCode::OK);
        let remove_path = format!("/team/members/{bob}/remove");
        let remove_form = [("csrf_token", csrf.as_str())];
        let remove = app.post(&alice, &remove_path, &remove_form);
        let revoke_it = async {
            tokio::task::yield_now().await;
            let r = app
                .post(
                    &alice,
                    &format!("/tokens/{id}/revoke"),
                    &[("csrf_token", csrf.as_str())],
                )
                .await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "round {round}: revoked");
            // From the moment the revoke has returned, the token never verifies again.
            for _ in 0..20 {
                assert_refused(
                    verify(&app, &secret).await,
                    &format!("round {round}: right after the revoke"),
                )
                .await;
            }
        };
        let verifying = async {
            for _ in 0..20 {
                let s = verify(&app, &secret).await.status();
                assert!(s == StatusCode::OK || s == StatusCode::UNAUTHORIZED, "{s}");
            }
        };
        let (removed, (), ()) = tokio::join!(remove, revoke_it, verifying);
        assert_eq!(removed.status(), StatusCode::SEE_OTHER, "round {round}");
        assert_refused(
            verify(&app, &secret).await,
            &format!("round {round}: after the removal's index update too"),
        )
        .await;
        let r = app
            .post(
                &alice,
                &format!("/team/members/{bob}/restore"),
                &[("csrf_token", csrf.as_str())],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    // Nothing came back in the store either: every race token is revoked, once.
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens WHERE team_id = 'acme' AND revoked_at IS NULL"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'token_revoked'"),
        6
    );
}

// Item 12: the index is authoritative; an unknown token never costs a database read.
#[actix_web::test]
async fn unknown_tokens_are_refused_from_memory_even_when_the_token_table_cannot_be_read() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (id, secret) = create(&app, &alice, &[("name", "known")]).await;
    let before = app.count("SELECT count(*) FROM audit");

    // Any read of the token table now fails; the rest of the database answers (so usage
    // flushes and health stay good).
    app.db()
        .execute_batch("ALTER TABLE api_tokens RENAME TO api_tokens_away")
        .expect("rename");
    for i in 0..20 {
        let unknown = format!("tp_{i:0>43}");
        assert_refused(
            verify(&app, &unknown).await,
            "an unknown token is a 401 without the store",
        )
        .await;
    }
    app.db()
        .execute_batch("ALTER TABLE api_tokens_away RENAME TO api_tokens")
        .expect("rename back");

    let r = verify(&app, &secret).await;
    assert_eq!(
        (r.status(), header(&r, "x-token-name")),
        (StatusCode::OK, "known")
    );
    assert_eq!(app.count("SELECT count(*) FROM api_tokens"), 1);
    assert_eq!(app.count("SELECT count(*) FROM audit"), before);
    let metered =
        format!("SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE token_id = {id}");
    assert_eq!(
        eventually_at_least(&app, &metered, 1).await,
        1,
        "only the known token's 200 was metered"
    );
}

// Item 13: usage reports cannot add verified requests, pre-empt another token's key, or
// overflow a counter.
#[actix_web::test]
async fn usage_reports_reserve_requests_scope_keys_per_token_and_refuse_sums_that_overflow() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (a_id, a) = create(&app, &alice, &[("name", "worker-a")]).await;
    let (b_id, b) = create(&app, &alice, &[("name", "worker-b")]).await;

    let r = report(
        &app,
        &a,
        r#"{"quantity": 1000000000000, "unit": "requests", "idempotency_key": "bill-me"}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("JSON");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("reserved"),
        "{body}"
    );
    assert_eq!(app.count("SELECT count(*) FROM usage_reports"), 0);
    assert_eq!(app.count("SELECT count(*) FROM usage_daily"), 0);

    let job = |q: i64, key: &str| {
        format!(r#"{{"quantity": {q}, "unit": "jobs", "idempotency_key": "{key}"}}"#)
    };
    // Token A uses key k first; token B's own k is its own report.
    for (secret, q, duplicate) in [(&a, 3, false), (&b, 4, false), (&a, 3, true), (&b, 4, true)] {
        let r = report(&app, secret, &job(q, "k")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<Value>().await.expect("JSON")["duplicate"],
            duplicate
        );
    }
    let jobs_of = |id: i64| {
        format!("SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE token_id = {id} AND unit = 'jobs'")
    };
    assert_eq!(app.count(&jobs_of(a_id)), 3, "A's repeat counted nothing");
    assert_eq!(
        app.count(&jobs_of(b_id)),
        4,
        "B's report was not pre-empted"
    );
    assert_eq!(app.count("SELECT count(*) FROM usage_reports"), 2);

    // A month's total close to the counter's limit: one more report would overflow it.
    let near = i64::MAX - 10;
    app.db()
        .execute(
            &format!("UPDATE usage_daily SET quantity = {near} WHERE token_id = {a_id} AND unit = 'jobs'"),
            [],
        )
        .expect("seed");
    for (secret, key) in [(&a, "huge-a"), (&b, "huge-b")] {
        let r = report(&app, secret, &job(1_000_000, key)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{key}");
    }
    assert_eq!(app.count(&jobs_of(a_id)), near, "nothing added");
    assert_eq!(app.count(&jobs_of(b_id)), 4);
    assert_eq!(
        app.count("SELECT count(*) FROM usage_daily WHERE typeof(quantity) <> 'integer'"),
        0,
        "no counter became an inexact float"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM usage_reports"),
        2,
        "no refused report was kept"
    );
}

/// Inserts `n` active shared tokens of `team` created by user `creator`, as another process
/// would.
fn seed_tokens(app: &TestApp, team: &str, creator: i64, n: i64) {
    app.db()
        .execute(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?3)
             INSERT INTO api_tokens (team_id, name, prefix, secret_hash, secret_enc, created_by, personal, created_at)
             SELECT ?1, 'seeded-' || i, 'tp_seed', randomblob(32), x'00', ?2, 0, 0 FROM s",
            rusqlite::params![team, creator, n],
        )
        .expect("seed tokens");
}

// Item 14: token limits, checked in the creating transaction, and a paged list.
#[actix_web::test]
async fn members_hold_at_most_100_active_tokens_teams_1000_and_the_list_pages_by_50() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let bob = sign_in(&app, &idp, "acme", "b", "bob@acme.com").await;
    sign_in(&app, &idp, "acme", "c", "carol@acme.com").await;
    let user = |email: &str| app.count(&format!("SELECT id FROM users WHERE email = '{email}'"));
    seed_tokens(&app, "acme", user("alice@acme.com"), 97);
    // A revoked and an expired token do not count.
    seed_tokens(&app, "acme", user("alice@acme.com"), 2);
    app.db()
        .execute_batch(
            "UPDATE api_tokens SET revoked_at = 1 WHERE id = (SELECT max(id) FROM api_tokens);
             UPDATE api_tokens SET expires_at = 1 WHERE id = (SELECT max(id) - 1 FROM api_tokens);",
        )
        .expect("revoke and expire one each");

    // Five creates at once with room for three: exactly three pass.
    let csrf = app.csrf(&alice, "/tokens").await;
    let names: Vec<String> = (0..5).map(|i| format!("burst-{i}")).collect();
    let forms: Vec<[(&str, &str); 2]> = names
        .iter()
        .map(|n| [("csrf_token", csrf.as_str()), ("name", n.as_str())])
        .collect();
    let attempts = forms.iter().map(|f| app.post(&alice, "/tokens", f));
    let answers = futures_util::future::join_all(attempts).await;
    let mut statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT
        ]
    );
    let active_of = |id: i64| {
        format!("SELECT count(*) FROM api_tokens WHERE created_by = {id} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > unixepoch())")
    };
    assert_eq!(app.count(&active_of(user("alice@acme.com"))), 100);
    let r = app
        .post(
            &alice,
            "/tokens",
            &[("csrf_token", csrf.as_str()), ("name", "one-more")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("body").contains("100 active tokens"));
    assert_eq!(app.count(&active_of(user("alice@acme.com"))), 100);
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens WHERE name = 'one-more'"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'token_created'"),
        3,
        "refused creates leave no audit row"
    );

    // The list: 50 a page, newest first, with next/previous links.
    let (s, first) = app.text(&alice, "/tokens").await;
    assert_eq!(s, StatusCode::OK);
    let (_, second) = app.text(&alice, "/tokens?page=2").await;
    let (_, third) = app.text(&alice, "/tokens?page=3").await;
    let (p1, p2, p3) = (
        token_ids_listed(&first),
        token_ids_listed(&second),
        token_ids_listed(&third),
    );
    assert_eq!((p1.len(), p2.len(), p3.len()), (50, 50, 2), "102 tokens");
    assert!(p1.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert!(p1.iter().all(|id| !p2.contains(id)));
    assert!(first.contains("href=\"/tokens?page=2\"") && !first.contains("page=0"));
    assert!(
        second.contains("href=\"/tokens?page=1\"") && second.contains("href=\"/tokens?page=3\"")
    );
    assert!(!third.contains("href=\"/tokens?page=4\""));
    assert_eq!(
        app.get(&alice, "/tokens?page=zero").await.status(),
        StatusCode::BAD_REQUEST
    );

    // The team limit: carol holds 900 more; bob, with none of his own, is refused.
    seed_tokens(&app, "acme", user("carol@acme.com"), 900);
    let bob_csrf = app.csrf(&bob, "/tokens").await;
    let r = app
        .post(
            &bob,
            "/tokens",
            &[("csrf_token", bob_csrf.as_str()), ("name", "bobs")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("1,000 active tokens"));
    assert_eq!(app.count(&active_of(user("bob@acme.com"))), 0);
    // Revoking one makes room.
    let freed = p1[0];
    assert_eq!(
        revoke(&app, &alice, freed).await.status(),
        StatusCode::SEE_OTHER
    );
    let r = app
        .post(
            &bob,
            "/tokens",
            &[("csrf_token", bob_csrf.as_str()), ("name", "bobs")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

// Item 16 (token names): control and bidi-format characters are dropped, and the header
// carries printable ASCII only.
#[actix_web::test]
async fn token_names_lose_control_and_bidi_characters_and_x_token_name_is_percent_encoded() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (id, secret) = create(
        &app,
        &alice,
        &[("name", " Zoë\u{202E} déploy\u{0} 50%\u{2066}")],
    )
    .await;
    assert_eq!(
        app.db()
            .query_row("SELECT name FROM api_tokens WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .expect("name"),
        "Zoë déploy 50%"
    );
    let r = verify(&app, &secret).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-token-name"), "Zo%C3%AB d%C3%A9ploy 50%25");
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(
        body["token_name"], "Zoë déploy 50%",
        "the body is unencoded"
    );

    // A name made only of such characters is no name.
    let before = app.count("SELECT count(*) FROM api_tokens");
    let r = app
        .post_csrf(&alice, "/tokens", &[("name", "\u{202E}\u{200F}\t")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT count(*) FROM api_tokens"), before);
}

// Item 18 (reveal): a revoked token's secret is gone for good.
#[actix_web::test]
async fn revealing_a_revoked_token_answers_404_and_writes_no_audit_row() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (id, secret) = create(&app, &alice, &[("name", "old")]).await;
    assert_eq!(
        revoke(&app, &alice, id).await.status(),
        StatusCode::SEE_OTHER
    );
    let r = reveal(&app, &alice, id).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.text().await.expect("body").contains(&secret));
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'token_revealed'"),
        0
    );
    let (_, page) = app.text(&alice, "/tokens").await;
    assert!(!page.contains(&secret));
}
