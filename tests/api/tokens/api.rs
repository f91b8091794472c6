//! The token-authenticated API: verify (GET and HEAD), hostile Authorization headers,
//! usage reports, metering within two seconds, and failing closed without the store.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

#[actix_web::test]
async fn head_verify_answers_like_get_with_the_same_headers_and_no_body() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (id, secret) = create(&app, &alice, &[("name", "probe")]).await;
    let r = reqwest::Client::new()
        .head(app.url("/api/v1/verify"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("HEAD");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-team-id"), "acme");
    assert_eq!(header(&r, "x-token-id"), id.to_string());
    assert!(r.bytes().await.expect("body").is_empty());
    let r = reqwest::Client::new()
        .head(app.url("/api/v1/verify"))
        .bearer_auth("tp_unknown0000000000000000000000000000000000000")
        .send()
        .await
        .expect("HEAD");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").starts_with("Bearer"));
}

/// Sends a raw HTTP/1.1 request (any bytes in the headers) and returns the status code.
fn raw_status(port: u16, header_lines: &[u8]) -> u16 {
    let mut req =
        b"GET /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
    req.extend_from_slice(header_lines);
    req.extend_from_slice(b"\r\n");
    let head = raw_exchange(port, &req);
    head.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {head:?}"))
}

#[actix_web::test]
async fn malformed_authorization_headers_answer_401_or_400_and_never_500() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (_, secret) = create(&app, &alice, &[("name", "good")]).await;
    let huge = format!("Authorization: Bearer tp_{}\r\n", "A".repeat(30 * 1024));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no header", b"".to_vec()),
        ("empty", b"Authorization: \r\n".to_vec()),
        (
            "no scheme",
            format!("Authorization: {secret}\r\n").into_bytes(),
        ),
        ("scheme only", b"Authorization: Bearer\r\n".to_vec()),
        ("\"Bearer \" only", b"Authorization: Bearer \r\n".to_vec()),
        (
            "Basic",
            b"Authorization: Basic YWxpY2U6c2VjcmV0\r\n".to_vec(),
        ),
        (
            "not a tp_ token",
            b"Authorization: Bearer abc.def.ghi\r\n".to_vec(),
        ),
        (
            "unknown token",
            b"Authorization: Bearer tp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n".to_vec(),
        ),
        ("30 KB", huge.into_bytes()),
        (
            "non-UTF-8",
            b"Authorization: Bearer tp_\xff\xfe\xc3\x28abc\r\n".to_vec(),
        ),
        (
            "control bytes",
            b"Authorization: Bearer tp_\x01\x02\r\n".to_vec(),
        ),
        (
            "two headers",
            format!("Authorization: Bearer {secret}\r\nAuthorization: Bearer {secret}\r\n")
                .into_bytes(),
        ),
        (
            "valid token with a suffix",
            format!("Authorization: Bearer {secret}x!\r\n").into_bytes(),
        ),
    ];
    let port = app.port;
    for (what, lines) in cases {
        let status = tokio::task::spawn_blocking(move || raw_status(port, &lines))
            .await
            .expect("task");
        assert!(
            status == 401 || status == 400,
            "{what}: expected 401 or 400, got {status}"
        );
    }
    // Through a normal client, the 401s carry the Bearer challenge.
    let r = reqwest::Client::new()
        .get(app.url("/api/v1/verify"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer tp_\xff\xfe").expect("obs-text"),
        )
        .send()
        .await
        .expect("verify");
    assert_refused(r, "non-UTF-8").await;
    assert_eq!(
        verify(&app, &secret).await.status(),
        StatusCode::OK,
        "still serving"
    );
}

#[actix_web::test]
async fn a_usage_report_sent_twice_with_one_idempotency_key_counts_once_and_bad_reports_get_400() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (id, secret) = create(&app, &alice, &[("name", "worker")]).await;
    let body = r#"{"quantity": 7, "unit": "gpu_seconds", "idempotency_key": "job-42"}"#;

    let first = report(&app, &secret, body).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        first.json::<Value>().await.expect("JSON")["duplicate"],
        false
    );
    let again = report(&app, &secret, body).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        again.json::<Value>().await.expect("JSON")["duplicate"],
        true
    );
    assert_eq!(
        app.count("SELECT count(*) FROM usage_reports WHERE idempotency_key = 'job-42'"),
        1
    );
    assert_eq!(
        app.count(&format!("SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE token_id = {id} AND unit = 'gpu_seconds'")),
        7
    );

    for bad in [
        "not json",
        "{}",
        r#"{"quantity": 0, "unit": "gpu_seconds", "idempotency_key": "a"}"#,
        r#"{"quantity": -3, "unit": "gpu_seconds", "idempotency_key": "b"}"#,
        r#"{"quantity": 1.5, "unit": "gpu_seconds", "idempotency_key": "c"}"#,
        r#"{"quantity": 1, "unit": "GPU Seconds!", "idempotency_key": "d"}"#,
        r#"{"quantity": 1, "unit": "gpu_seconds", "idempotency_key": ""}"#,
        r#"{"quantity": 1, "unit": "gpu_seconds"}"#,
    ] {
        let r = report(&app, &secret, bad).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_refused(
        report(&app, "tp_nope", body).await,
        "usage needs a valid token",
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM usage_reports"),
        1,
        "nothing else stored"
    );

    // Usage reports are never counted as verified requests.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM usage_daily WHERE token_id = {id} AND unit = 'requests'"
        )),
        0
    );
}

#[actix_web::test]
async fn verified_requests_reach_the_store_within_two_seconds_with_last_used() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (id, secret) = create(&app, &alice, &[("name", "counted")]).await;
    for _ in 0..25 {
        assert_eq!(verify(&app, &secret).await.status(), StatusCode::OK);
    }
    let sent = Instant::now();
    let counted = format!(
        "SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE token_id = {id} AND unit = 'requests'"
    );
    while app.count(&counted) < 25 && sent.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.count(&counted), 25, "within {:?}", sent.elapsed());
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM api_tokens WHERE id = {id} AND last_used_at IS NOT NULL"
        )),
        1
    );
}

#[actix_web::test]
async fn a_token_made_from_the_shell_while_the_server_runs_verifies_within_about_a_second() {
    let (app, idp) = acme("").await;
    sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let cfg = app.dir.path().join("shell.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\npath = {:?}\n{}",
            app.db_path.display().to_string(),
            idp.team_toml("acme", "admin_email = \"alice@acme.com\"")
        ),
    )
    .expect("cfg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_teamportal"))
        .env_remove("TEAMPORTAL_CONFIG")
        .env("RUST_LOG", "warn")
        .args([
            "admin",
            "create-token",
            "--team",
            "acme",
            "--name",
            "from-shell",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .expect("create-token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    // The index learns of tokens written by another process from the store's token version,
    // polled every second: no request reads the database for it.
    let made = Instant::now();
    let mut r = verify(&app, &secret).await;
    while r.status() == StatusCode::UNAUTHORIZED && made.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        r = verify(&app, &secret).await;
    }
    assert_eq!(
        (r.status(), header(&r, "x-token-name")),
        (StatusCode::OK, "from-shell"),
        "after {:?}",
        made.elapsed()
    );
}

#[actix_web::test]
async fn verify_and_usage_fail_closed_with_503_when_the_store_is_gone() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (_, secret) = create(&app, &alice, &[("name", "doomed")]).await;
    assert_eq!(verify(&app, &secret).await.status(), StatusCode::OK);

    std::fs::remove_file(&app.db_path).expect("remove db");
    // Usage reports are written before the answer: refused at once.
    let r = report(
        &app,
        &secret,
        r#"{"quantity": 1, "unit": "jobs", "idempotency_key": "x"}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Verification answers from memory and learns of the loss at the next flush (1 s).
    let gone = Instant::now();
    let mut last = StatusCode::OK;
    while gone.elapsed() < Duration::from_secs(5) {
        last = verify(&app, &secret).await.status();
        assert!(
            last == StatusCode::OK || last == StatusCode::SERVICE_UNAVAILABLE,
            "never anything but 200 or 503: {last}"
        );
        if last == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last, StatusCode::SERVICE_UNAVAILABLE, "fails closed");
    let elapsed = gone.elapsed();
    assert!(
        elapsed < Duration::from_millis(2500),
        "within about one flush: {elapsed:?}"
    );
    for _ in 0..5 {
        let r = verify(&app, &secret).await;
        assert_eq!(
            r.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "and stays closed"
        );
        assert!(header(&r, "x-team-id").is_empty());
    }
}

#[actix_web::test]
async fn an_oversized_usage_report_answers_as_the_api_does_and_only_after_the_token() {
    let (app, idp) = acme("").await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let (_, secret) = create(&app, &alice, &[("name", "ci")]).await;
    let big = format!(
        "{{\"quantity\": 1, \"unit\": \"builds\", \"idempotency_key\": \"{}\"}}",
        "k".repeat(70 * 1024)
    );
    // Without a token: refused as any anonymous API call is, whatever the body.
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/usage"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = report(&app, &secret, &big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(header(&r, "cache-control"), "no-store");
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(app.count("SELECT count(*) FROM usage_reports"), 0);
    // A report of ordinary size is still stored.
    let r = report(
        &app,
        &secret,
        r#"{"quantity": 2, "unit": "builds", "idempotency_key": "b-1"}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// The bytes a proxy reads back for raw request bytes, up to the server's close.
fn raw_exchange(port: u16, request: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Each answer on the connection with its `Date` header taken out and its header names
/// lowercased and sorted (their order is the header map's), values as sent.
fn raw_answers(port: u16, request: &str) -> Vec<String> {
    let text = raw_exchange(port, request.as_bytes());
    text.split("HTTP/1.")
        .filter(|a| !a.is_empty())
        .map(|answer| {
            let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
            let mut lines = head.lines();
            let status = lines.next().unwrap_or_default().to_owned();
            let mut headers: Vec<String> = lines
                .filter_map(|l| l.split_once(':'))
                .filter(|(name, _)| !name.eq_ignore_ascii_case("date"))
                .map(|(name, value)| format!("{}:{value}", name.to_ascii_lowercase()))
                .collect();
            headers.sort();
            format!("HTTP/1.{status}\n{}\n\n{body}", headers.join("\n"))
        })
        .collect()
}

#[actix_web::test]
async fn verify_answers_the_same_bytes_before_the_router_as_through_it() {
    // Without the access log, GET and HEAD of the exact path are answered before the
    // application's router (`web::forward_auth`); with it, every request takes the router.
    let (short, idp) = acme("").await;
    let (routed, idp2) = acme("[log]\naccess = true\n").await;
    let mut secrets = Vec::new();
    for (app, idp) in [(&short, &idp), (&routed, &idp2)] {
        let alice = sign_in(app, idp, "acme", "a", "alice@acme.com").await;
        let (id, secret) = create(app, &alice, &[("name", "probe")]).await;
        assert_eq!(id, 1, "the same token id on both");
        secrets.push(secret);
    }
    let unknown = "tp_unknown000000000000000000000000000000000";
    let requests = |secret: &str| {
        let auth = format!("Authorization: Bearer {secret}\r\n");
        let get = |target: &str, more: &str| {
            format!("GET {target} HTTP/1.1\r\nHost: x\r\n{more}Connection: close\r\n\r\n")
        };
        vec![
            (get("/api/v1/verify", &auth), vec!["200"]),
            (format!("HEAD /api/v1/verify HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"), vec!["200"]),
            (get("/api/v1/verify?team=acme&x=1", &auth), vec!["200"]),
            (get("/api/v1/verify?team=other", &auth), vec!["403"]),
            (get("/api/v1/%76erify", &auth), vec!["200"]),
            (get("http://elsewhere/api/v1/verify", &auth), vec!["200"]),
            (get("/api/v1/verify/", &auth), vec!["404"]),
            (format!("GET /api/v1/verify HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\nConnection: close\r\n\r\nhello"), vec!["200"]),
            (format!("GET /api/v1/verify HTTP/1.0\r\n{auth}\r\n"), vec!["200"]),
            // Two on one kept-alive connection, the second a refusal.
            (format!(
                "GET /api/v1/verify HTTP/1.1\r\nHost: x\r\n{auth}\r\n\
                 GET /api/v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {unknown}\r\nConnection: close\r\n\r\n"
            ), vec!["200", "401"]),
            (format!("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"), vec!["405"]),
            (get("/api/v1/verify", &format!("{auth}{auth}")), vec!["401"]),
            (get("/api/v1/verify", &format!("Authorization: Bearer {unknown}\r\n")), vec!["401"]),
            (get("/api/v1/verify", "Authorization: Basic YTpi\r\n"), vec!["401"]),
            (get("/api/v1/verify", ""), vec!["401"]),
        ]
    };
    for ((a, statuses), (b, _)) in requests(&secrets[0]).iter().zip(requests(&secrets[1])) {
        let (x, y) = (raw_answers(short.port, a), raw_answers(routed.port, &b));
        assert_eq!(x, y, "{a}");
        let got: Vec<&str> = x.iter().map(|r| &r[9..12]).collect();
        assert_eq!(&got, statuses, "{a}: {x:#?}");
    }
}
