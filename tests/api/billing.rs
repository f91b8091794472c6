//! The billing dashboard: admins only, numbers that agree with what was metered and with the
//! CSV to the unit, UTC month boundaries, formula-safe CSV and an empty state.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;
use crate::sso_e2e::{accounts, start_with, Sso};

const PRICES: &str = "[billing]\ncurrency = \"EUR\"\nseat_price = \"10.00\"\n\
    unit_prices = { requests = \"0.0001\", gpu_seconds = \"0.002\" }\n";

/// Team `acme` (admin alice) and team `other` (admin carol) on one IdP, priced as [`PRICES`].
async fn two_teams() -> Sso {
    start_with(
        json!({"clients": [], "accounts": accounts()}),
        PRICES,
        &[
            ("acme", "admin_email = \"alice@acme.com\""),
            ("other", "admin_email = \"carol@acme.com\""),
        ],
    )
    .await
}

/// Creates a token from the tokens page and returns `(id, secret)`.
async fn create_token(app: &TestApp, client: &Client, name: &str) -> (i64, String) {
    let resp = app.post_csrf(client, "/tokens", &[("name", name)]).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "token {name:?} is created"
    );
    // Post/redirect/get: the secret is on the page the answer leads to.
    let (_, page) = app.text(client, "/tokens").await;
    let start = page.find("tp_").expect("the new secret is shown");
    let secret: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let id = app
        .db()
        .query_row("SELECT id FROM api_tokens WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .expect("token row");
    (id, secret)
}

async fn verify(app: &TestApp, http: &Client, secret: &str, times: usize) {
    for _ in 0..times {
        let r = http
            .get(app.url("/api/v1/verify"))
            .bearer_auth(secret)
            .send()
            .await
            .expect("verify");
        assert_eq!(r.status(), StatusCode::OK);
    }
}

/// Waits for the metering flush (every second) to bring a token's `unit` total to `want`.
async fn metered(app: &TestApp, token: i64, unit: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let sql = format!(
        "SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE token_id = {token} AND unit = '{unit}'"
    );
    loop {
        let got = app.count(&sql);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "metered {unit} for token {token}: {got}, want {want}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn page(app: &TestApp, client: &Client, path: &str) -> String {
    let (status, body) = app.text(client, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// The text of the billing page's total cell.
fn total_in(page: &str) -> String {
    let at = page.find("id=\"billing-total\"").expect("total cell");
    let from = page[at..].find("<strong>").expect("strong") + at + "<strong>".len();
    let to = page[from..].find("</strong>").expect("end") + from;
    page[from..to].to_string()
}

/// `(quantity, amount)` of the statement row labelled `label`.
fn statement_row(page: &str, label: &str) -> (i64, String) {
    let head = format!("<tr><td>{label}</td>");
    let at = page.find(&head).unwrap_or_else(|| panic!("row {label}")) + head.len();
    let row = &page[at..at + page[at..].find("</tr>").expect("row end")];
    let cells: Vec<&str> = row
        .split("</td>")
        .filter_map(|c| c.rsplit_once('>').map(|(_, text)| text))
        .collect();
    (cells[0].parse().expect("quantity"), cells[2].to_string())
}

fn csv_rows(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[actix_web::test]
async fn members_get_403_on_billing_and_its_csv_and_never_see_the_link() {
    let s = two_teams().await;
    let alice = s.sign_in("acme", "alice").await;
    let bob = s.sign_in("acme", "bob").await;

    let (status, body) = s.app.text(&bob, "/billing").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("admin"), "the 403 page says who may: {body}");
    assert!(!body.contains("billing-total") && !body.contains("EUR"));

    let resp = s.app.get(&bob, "/billing/usage.csv?month=2026-01").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let ctype = resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(
        ctype.starts_with("text/html"),
        "no CSV for members: {ctype}"
    );
    assert!(!resp.text().await.expect("body").contains("date,token,unit"));

    // A malformed query does not turn the member's 403 into a 400; the admin gets the 400.
    for path in [
        "/billing?month=oct",
        "/billing/usage.csv?month=oct",
        "/audit?page=x",
        "/team/members/1/remove/confirm?page=x",
        "/team/members/1/sessions/revoke/confirm?page=x",
    ] {
        assert_eq!(
            s.app.get(&bob, path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    for path in ["/billing?month=oct", "/audit?page=x"] {
        assert_eq!(
            s.app.get(&alice, path).await.status(),
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }

    let nav = |html: &str| html.contains("href=\"/billing\"");
    assert!(
        !nav(&page(&s.app, &bob, "/team").await),
        "no link for members"
    );
    assert!(
        !nav(&page(&s.app, &bob, "/tokens").await),
        "no link for members"
    );
    assert!(
        nav(&page(&s.app, &alice, "/team").await),
        "admins get the link"
    );
}

#[actix_web::test]
async fn an_admin_sees_seats_usage_and_totals_matching_what_was_metered_and_the_csv() {
    let s = two_teams().await;
    let alice = s.sign_in("acme", "alice").await;
    let bob = s.sign_in("acme", "bob").await;
    let carol = s.sign_in("other", "carol").await;
    let http = Client::new();

    let (ci, ci_secret) = create_token(&s.app, &bob, "ci-deploy").await;
    let (gpu, gpu_secret) = create_token(&s.app, &alice, "gpu-runner").await;
    verify(&s.app, &http, &ci_secret, 1_250).await;
    verify(&s.app, &http, &gpu_secret, 3).await;
    for (key, qty) in [("job-1", 600), ("job-2", 401), ("job-1", 600)] {
        let r = http
            .post(s.app.url("/api/v1/usage"))
            .bearer_auth(&gpu_secret)
            .json(&json!({"quantity": qty, "unit": "gpu_seconds", "idempotency_key": key}))
            .send()
            .await
            .expect("usage");
        assert_eq!(r.status(), StatusCode::OK);
    }
    metered(&s.app, ci, "requests", 1_250).await;
    metered(&s.app, gpu, "requests", 3).await;
    metered(&s.app, gpu, "gpu_seconds", 1_001).await;

    // Revoked tokens' past usage still counts.
    let r = s
        .app
        .post_csrf(&alice, &format!("/tokens/{ci}/revoke"), &[])
        .await;
    assert!(r.status().is_success() || r.status() == StatusCode::SEE_OTHER);
    assert!(
        s.app.count(&format!(
            "SELECT count(*) FROM api_tokens WHERE id = {ci} AND revoked_at IS NOT NULL"
        )) == 1
    );

    let billing = page(&s.app, &alice, "/billing").await;
    // 2 seats x 10.00 = 20.00; 1,253 requests x 0.0001 = 0.1253 -> 0.13;
    // 1,001 gpu_seconds x 0.002 = 2.002 -> 2.00. Total 22.13.
    assert_eq!(statement_row(&billing, "Seats (active members)").0, 2);
    assert_eq!(
        statement_row(&billing, "requests"),
        (1_253, "0.13 EUR".into())
    );
    assert_eq!(
        statement_row(&billing, "gpu_seconds"),
        (1_001, "2.00 EUR".into())
    );
    assert_eq!(total_in(&billing), "22.13 EUR");
    assert!(billing.contains("<svg"), "the daily chart is drawn");
    assert!(billing.contains("aria-label=\"Bar chart of daily requests"));
    assert!(
        billing.contains("UTC"),
        "the page states its month boundaries"
    );

    let month = teamportal::domain::billing::Month::of_now(teamportal::store::now()).to_string();
    let resp = s
        .app
        .get(&alice, &format!("/billing/usage.csv?month={month}"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/csv"));
    let csv = resp.text().await.expect("csv");
    let today = teamportal::tokens::meter::today();
    let rows = csv_rows(&csv);
    let mut want = vec![
        vec![
            today.clone(),
            "ci-deploy".into(),
            "requests".into(),
            "1250".into(),
        ],
        vec![
            today.clone(),
            "gpu-runner".into(),
            "gpu_seconds".into(),
            "1001".into(),
        ],
        vec![
            today.clone(),
            "gpu-runner".into(),
            "requests".into(),
            "3".into(),
        ],
    ];
    let mut got = rows.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{csv}");
    let csv_requests: i64 = rows
        .iter()
        .filter(|r| r[2] == "requests")
        .map(|r| r[3].parse::<i64>().expect("qty"))
        .sum();
    assert_eq!(csv_requests, statement_row(&billing, "requests").0);

    // The other team sees none of it.
    let theirs = page(&s.app, &carol, "/billing").await;
    assert!(!theirs.contains("ci-deploy") && !theirs.contains("gpu-runner"));
    assert_eq!(total_in(&theirs), "10.00 EUR", "one seat, no usage");
    let (_, their_csv) = s
        .app
        .text(&carol, &format!("/billing/usage.csv?month={month}"))
        .await;
    assert_eq!(their_csv, "date,token,unit,quantity\n");
}

/// Puts a token with usage on the given days straight into the store.
fn seed_usage(app: &TestApp, team: &str, name: &str, days: &[(&str, i64)]) {
    let db = app.db();
    let creator: i64 = db
        .query_row(
            "SELECT id FROM users WHERE team_id = ?1 ORDER BY id LIMIT 1",
            [team],
            |r| r.get(0),
        )
        .expect("a user");
    db.execute(
        "INSERT INTO api_tokens (team_id, name, prefix, secret_hash, secret_enc, created_by, created_at)
         VALUES (?1, ?2, 'tp_seed', randomblob(32), x'00', ?3, 0)",
        rusqlite::params![team, name, creator],
    )
    .expect("token");
    let token = db.last_insert_rowid();
    for (day, qty) in days {
        db.execute(
            "INSERT INTO usage_daily (team_id, token_id, day, unit, quantity) VALUES (?1, ?2, ?3, 'requests', ?4)",
            rusqlite::params![team, token, day, qty],
        )
        .expect("usage");
    }
}

#[actix_web::test]
async fn months_are_cut_at_utc_midnight_for_seats_and_usage() {
    let s = two_teams().await;
    let alice = s.sign_in("acme", "alice").await;
    let (oct_start, nov_start) = teamportal::domain::billing::Month::parse("2025-10")
        .expect("month")
        .bounds();
    let db = s.app.db();
    // Alice joined long ago; she counts in both months.
    db.execute(
        "UPDATE users SET created_at = ?1 WHERE email = 'alice@acme.com'",
        [oct_start - 86_400 * 40],
    )
    .expect("backdate");
    let person = |sub: &str, created: i64, removed: Option<i64>| {
        db.execute(
            "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source, joined_via, active, created_at, removed_at)
             VALUES ('acme', 'seed', ?1, ?1 || '@acme.com', ?1, 'member', 'default', 'jit', ?3, ?2, ?4)",
            rusqlite::params![sub, created, removed.is_none() as i64, removed],
        )
        .expect("seed user");
    };
    // Joined at the first second of November: a November seat only.
    person("nova", nov_start, None);
    // Removed at the last second of October: an October seat only.
    person("olga", oct_start - 86_400, Some(nov_start - 1));
    seed_usage(
        &s.app,
        "acme",
        "edge",
        &[
            ("2025-09-30", 1),
            ("2025-10-01", 10),
            ("2025-10-31", 200),
            ("2025-11-01", 3_000),
        ],
    );

    let oct = page(&s.app, &alice, "/billing?month=2025-10").await;
    assert_eq!(
        statement_row(&oct, "Seats (active members)").0,
        2,
        "alice, olga"
    );
    assert_eq!(statement_row(&oct, "requests").0, 210);
    assert_eq!(total_in(&oct), "20.02 EUR");
    let nov = page(&s.app, &alice, "/billing?month=2025-11").await;
    assert_eq!(
        statement_row(&nov, "Seats (active members)").0,
        2,
        "alice, nova"
    );
    assert_eq!(statement_row(&nov, "requests").0, 3_000);
    assert_eq!(total_in(&nov), "20.30 EUR");
    for listed in ["2025-09", "2025-10", "2025-11"] {
        let link = format!("<li><a href=\"/billing?month={listed}\">");
        assert!(nov.contains(&link), "statement {listed} is listed");
    }
    assert!(!nov.contains("<li><a href=\"/billing?month=2025-08\">"));

    let (_, csv) = s.app.text(&alice, "/billing/usage.csv?month=2025-10").await;
    let days: Vec<String> = csv_rows(&csv).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(days, ["2025-10-01", "2025-10-31"], "{csv}");

    let (status, body) = s.app.text(&alice, "/billing?month=2025-13").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("YYYY-MM"), "{body}");
    let (status, _) = s.app.text(&alice, "/billing/usage.csv?month=oct").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn token_names_a_spreadsheet_would_run_are_escaped_in_the_csv() {
    let s = two_teams().await;
    let alice = s.sign_in("acme", "alice").await;
    let http = Client::new();
    let names = [
        "=HYPERLINK(\"http://x\")",
        "+1+1",
        "-2",
        "@SUM(A1)",
        "plain, \"quoted\"",
        // A spreadsheet set to split at ';' would see a second cell here.
        "ci;=cmd|' /C calc'!A0",
        "a;b",
    ];
    let mut ids = Vec::new();
    for name in names {
        let (id, secret) = create_token(&s.app, &alice, name).await;
        verify(&s.app, &http, &secret, 1).await;
        ids.push(id);
    }
    for id in ids {
        metered(&s.app, id, "requests", 1).await;
    }
    let month = teamportal::domain::billing::Month::of_now(teamportal::store::now()).to_string();
    let (status, csv) = s
        .app
        .text(&alice, &format!("/billing/usage.csv?month={month}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    for cell in [
        "\"'=HYPERLINK(\"\"http://x\"\")\"",
        ",'+1+1,",
        ",'-2,",
        ",'@SUM(A1),",
        ",\"plain, \"\"quoted\"\"\",",
        ",\"'ci;=cmd|' /C calc'!A0\",",
        ",\"a;b\",",
    ] {
        assert!(csv.contains(cell), "{cell} in\n{csv}");
    }
    for line in csv.lines().skip(1) {
        let token = line.split_once(',').expect("comma").1;
        assert!(
            !token.starts_with(['=', '+', '-', '@']),
            "a cell would run as a formula: {line}"
        );
    }
}

#[actix_web::test]
async fn a_team_without_usage_shows_an_empty_state() {
    let s = two_teams().await;
    let alice = s.sign_in("acme", "alice").await;
    let billing = page(&s.app, &alice, "/billing").await;
    assert!(billing.contains("No metered usage"), "{billing}");
    assert_eq!(statement_row(&billing, "Seats (active members)").0, 1);
    assert_eq!(total_in(&billing), "10.00 EUR");
    let month = teamportal::domain::billing::Month::of_now(teamportal::store::now()).to_string();
    let (status, csv) = s
        .app
        .text(&alice, &format!("/billing/usage.csv?month={month}"))
        .await;
    assert_eq!(
        (status, csv.as_str()),
        (StatusCode::OK, "date,token,unit,quantity\n")
    );
}
