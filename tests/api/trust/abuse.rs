//! What anonymous visitors can make the portal write is bounded: refusals are rate-limited
//! per address (IPv6 per /64) and aggregated per minute, break-glass input is validated
//! before anything is counted, audit rows age out, and break-glass throttling is per
//! (account, address) and per address, never account-wide.

use reqwest::{Client, StatusCode};

use crate::helpers::{browser, spawn_app, spawn_app_in, spawn_app_tuned, TestApp};
use crate::support::fake_idp::FakeIdp;

const PASSWORD: &str = "correct horse battery staple";

/// Everything sign-ins can change, as one comparable value.
fn stored(app: &TestApp) -> Vec<i64> {
    [
        "SELECT count(*) FROM users",
        // Signed-in sessions (anonymous ones are another matter: item 8's).
        "SELECT count(*) FROM sessions WHERE user_id IS NOT NULL",
        "SELECT count(*) FROM sso_logins",
        "SELECT count(*) FROM api_tokens",
        "SELECT count(*) FROM users WHERE role = 'admin' AND active",
    ]
    .iter()
    .map(|q| app.count(q))
    .collect()
}

/// A portal behind a proxy at 127.0.0.1, so a test picks the client address it sends
/// through `X-Forwarded-For`.
async fn behind_proxy(idp: &FakeIdp, extra: &str) -> TestApp {
    spawn_app_tuned(
        tempfile::tempdir().expect("tempdir"),
        &format!(
            "{extra}\n{}",
            idp.team_toml("acme", "admin_email = \"alice@acme.com\"")
        ),
        |s, _| s.server.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")],
    )
    .await
}

#[actix_web::test]
async fn two_hundred_refused_callbacks_from_one_ipv6_slash_64_leave_one_row_per_minute_with_a_count(
) {
    let idp = FakeIdp::start().await;
    let app = behind_proxy(&idp, "").await;
    let before = stored(&app);
    let c = Client::new();
    for i in 0..200 {
        let r = c
            .get(app.url("/sso/acme/callback?state=x&code=y"))
            // Any address in one /64 is one client.
            .header("X-Forwarded-For", format!("2001:db8:1:2::{:x}", i + 1))
            .send()
            .await
            .expect("callback");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let rows: Vec<(String, i64)> = {
        let db = app.db();
        let mut s = db
            .prepare("SELECT ip, repeats FROM audit WHERE action = 'sign_in_refused'")
            .expect("query");
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert!(
        !rows.is_empty() && rows.len() <= 2,
        "one row a minute: {rows:?}"
    );
    assert!(
        rows.iter().all(|(ip, _)| ip == "2001:db8:1:2::/64"),
        "{rows:?}"
    );
    let counted: i64 = rows.iter().map(|(_, n)| n).sum();
    assert!(
        (2..=60).contains(&counted),
        "the row counts the refusals it was allowed to record (at most 30 a minute): {rows:?}"
    );
    assert_eq!(app.count("SELECT count(*) FROM audit"), rows.len() as i64);

    // Another /64 is another client, with its own row.
    c.get(app.url("/sso/acme/callback?state=x&code=y"))
        .header("X-Forwarded-For", "2001:db8:1:3::1")
        .send()
        .await
        .expect("callback");
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE ip = '2001:db8:1:3::/64'"),
        1
    );
    assert_eq!(stored(&app), before, "refusals change nothing else");
}

/// Alice, an admin of acme signed in once through the IdP, with a break-glass password.
async fn alice_with_password(app: &TestApp, idp: &FakeIdp) {
    let r = idp
        .sign_in(app, &browser(), "acme", "u1", "alice@acme.com")
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "alice signs in");
    let hash = teamportal::break_glass::hash_password(PASSWORD).expect("hash");
    app.db()
        .execute(
            "UPDATE users SET password_hash = ?1 WHERE email = 'alice@acme.com'",
            [&hash],
        )
        .expect("set password");
}

async fn try_password(
    app: &TestApp,
    c: &Client,
    from: &str,
    email: &str,
    password: &str,
) -> StatusCode {
    let page = c
        .get(app.url("/login"))
        .header("X-Forwarded-For", from)
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("body");
    let csrf = crate::helpers::csrf_in(&page);
    c.post(app.url("/login/password"))
        .header("X-Forwarded-For", from)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("team_id", "acme"),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .expect("POST /login/password")
        .status()
}

#[actix_web::test]
async fn a_60_kb_email_at_break_glass_is_400_and_writes_nothing_even_when_throttled() {
    let idp = FakeIdp::start().await;
    let app = behind_proxy(&idp, "[security]\npassword_login = true").await;
    alice_with_password(&app, &idp).await;
    let huge = format!("{}@acme.com", "a".repeat(60 * 1024 - 9));
    let c = browser();
    let (audit, attempts) = (
        app.count("SELECT count(*) FROM audit"),
        app.count("SELECT count(*) FROM login_attempts"),
    );
    assert_eq!(
        try_password(&app, &c, "192.0.2.10", &huge, "guess").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit"),
        audit,
        "no audit row"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM login_attempts"),
        attempts,
        "nothing counted"
    );

    // Throttled from this address: still a 400 and nothing written for it.
    for _ in 0..5 {
        try_password(&app, &c, "192.0.2.10", "alice@acme.com", "guess").await;
    }
    assert_eq!(
        try_password(&app, &c, "192.0.2.10", "alice@acme.com", "guess").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let audit = app.count("SELECT count(*) FROM audit");
    assert_eq!(
        try_password(&app, &c, "192.0.2.10", &huge, "guess").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.count("SELECT count(*) FROM audit"), audit);
    assert_eq!(
        app.count("SELECT max(length(target) + length(detail) + length(actor)) FROM audit"),
        app.count("SELECT max(length(target) + length(detail) + length(actor)) FROM audit WHERE length(actor) < 300"),
        "no row carries the huge email"
    );
}

#[actix_web::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_admin_out_from_another() {
    let idp = FakeIdp::start().await;
    let app = behind_proxy(&idp, "[security]\npassword_login = true").await;
    alice_with_password(&app, &idp).await;
    let alice_before = app.user(
        "acme",
        "alice@acme.com",
        "role, active, password_hash",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, String>(2)?,
            ))
        },
    );
    let signed_in = "SELECT count(*) FROM sessions WHERE user_id IS NOT NULL";
    let sessions = app.count(signed_in);

    // The attacker at A guesses until throttled.
    let attacker = browser();
    let a = "2001:db8:a::1";
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(try_password(&app, &attacker, a, "alice@acme.com", "guess").await);
    }
    assert_eq!(&statuses[..5], &[StatusCode::FORBIDDEN; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count(signed_in), sessions, "no session for A");

    // Alice at B signs in with her password.
    let alice = browser();
    assert_eq!(
        try_password(&app, &alice, "198.51.100.9", "alice@acme.com", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let team = alice
        .get(app.url("/team"))
        .header("X-Forwarded-For", "198.51.100.9")
        .send()
        .await
        .expect("team");
    assert_eq!(team.status(), StatusCode::OK, "alice is in");

    // A stays throttled for this account, even with the right password, and so does the
    // rest of A's /64.
    for from in [a, "2001:db8:a::2"] {
        assert_eq!(
            try_password(&app, &browser(), from, "alice@acme.com", PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{from}"
        );
    }
    assert_eq!(
        app.user(
            "acme",
            "alice@acme.com",
            "role, active, password_hash",
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, String>(2)?,
                ))
            }
        ),
        alice_before,
        "alice's account is as it was"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit WHERE action = 'password_sign_in_failed'"),
        5
    );
    assert_eq!(
        app.count("SELECT sum(repeats) FROM audit WHERE action = 'password_sign_in_throttled'"),
        3,
        "each throttled attempt counted"
    );
    assert!(
        app.count("SELECT count(*) FROM audit WHERE action = 'password_sign_in_throttled'") <= 2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM login_attempts WHERE bucket NOT LIKE '%2001:db8:a::/64'"),
        0,
        "every counter is A's: none is account-wide"
    );
}

#[actix_web::test]
async fn one_address_failing_across_many_accounts_is_throttled_for_all_of_them() {
    let idp = FakeIdp::start().await;
    let app = behind_proxy(&idp, "[security]\npassword_login = true").await;
    alice_with_password(&app, &idp).await;
    let c = browser();
    let from = "203.0.113.5";
    for i in 0..teamportal::break_glass::MAX_ADDRESS_FAILURES {
        assert_eq!(
            try_password(&app, &c, from, &format!("user{i}@acme.com"), "guess").await,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        try_password(&app, &c, from, "alice@acme.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is throttled, whichever account it tries"
    );
    assert_eq!(
        try_password(&app, &browser(), "203.0.113.6", "alice@acme.com", PASSWORD).await,
        StatusCode::SEE_OTHER,
        "but not alice elsewhere"
    );
}

#[actix_web::test]
async fn audit_rows_past_the_retention_and_closed_attempt_windows_are_purged_at_start() {
    let first = spawn_app("[security]\naudit_retention_days = 30").await;
    first.db().execute("INSERT INTO teams (id, name, source, issuer, client_id, created_at) VALUES ('kept', 'Kept', 'shell', 'https://x.test', 'c', 0)", []).expect("team");
    let day = 86_400;
    let now = teamportal::store::now();
    for (at, action) in [(now - 31 * day, "old"), (now - 29 * day, "recent")] {
        first
            .db()
            .execute(
                "INSERT INTO audit (team_id, at, actor, action) VALUES ('kept', ?1, 'x', ?2)",
                rusqlite::params![at, action],
            )
            .expect("audit row");
    }
    for (bucket, start) in [("ip:192.0.2.1", now - 3600), ("ip:192.0.2.2", now - 60)] {
        first
            .db()
            .execute(
                "INSERT INTO login_attempts (bucket, failures, window_start) VALUES (?1, 3, ?2)",
                rusqlite::params![bucket, start],
            )
            .expect("attempt row");
    }

    let second = spawn_app_in(first.dir, "[security]\naudit_retention_days = 30").await;
    assert_eq!(
        second.count("SELECT count(*) FROM audit WHERE action = 'old'"),
        0
    );
    assert_eq!(
        second.count("SELECT count(*) FROM audit WHERE action = 'recent'"),
        1
    );
    assert_eq!(
        second.count("SELECT count(*) FROM login_attempts WHERE bucket = 'ip:192.0.2.1'"),
        0
    );
    assert_eq!(
        second.count("SELECT count(*) FROM login_attempts WHERE bucket = 'ip:192.0.2.2'"),
        1
    );
    assert_eq!(
        second.count("SELECT count(*) FROM teams WHERE id = 'kept'"),
        1,
        "nothing else goes"
    );

    // The daily purge is the same function.
    let mut db = second.db();
    db.execute(
        "INSERT INTO audit (team_id, at, actor, action) VALUES ('kept', ?1, 'x', 'old')",
        [now - 31 * day],
    )
    .expect("audit row");
    let purged = teamportal::retention::purge(&mut db, 30).expect("purge");
    assert_eq!(purged.audit, 1);
}

#[test]
fn audit_retention_days_defaults_to_400_and_must_be_at_least_1() {
    let settings = |extra: &str| {
        let raw = teamportal::config::parse(extra).expect("parses");
        teamportal::config::validate(raw, std::path::Path::new("/tmp"), &|_| None)
    };
    assert_eq!(
        settings("").expect("valid").security.audit_retention_days,
        400
    );
    let errors = settings("[security]\naudit_retention_days = 0").expect_err("invalid");
    assert!(
        errors[0]
            .to_string()
            .starts_with("security.audit_retention_days = \"0\""),
        "{errors:?}"
    );
}
