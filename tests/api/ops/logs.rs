//! Logs as an operator reads them: one format for every line, no colour codes in a file, no
//! line per request unless the access log is on, and a level that must mean something.

use super::binary::{serve, teamportal};

fn config(dir: &std::path::Path, log: &str) -> std::path::PathBuf {
    let cfg = dir.join("teamportal.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:0\"\n[log]\n{log}\n"),
    )
    .expect("write config");
    cfg
}

/// `serve` in `dir` with this `[log]` section.
fn served(dir: &std::path::Path, log: &str) -> super::binary::Served {
    let cfg = config(dir, log);
    let mut cmd = teamportal(dir);
    cmd.arg("--config").arg(&cfg);
    serve(cmd)
}

#[test]
fn with_format_json_every_stderr_line_parses_as_json_access_lines_included() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = served(dir.path(), "format = \"json\"\naccess = true");
    assert_eq!(app.get("/healthz", None), 200);
    app.wait_for_line(|l| l.contains("/healthz"));
    let stderr = app.stop();
    let text = String::from_utf8(stderr).expect("utf-8");
    let mut access = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\nall:\n{text}"));
        if v["path"] == "/healthz" {
            assert_eq!(v["status"], 200, "{line}");
            access += 1;
        }
    }
    assert_eq!(access, 1, "{text}");
    assert!(text.contains("teamportal is serving"), "{text}");
}

#[test]
fn a_log_on_a_pipe_has_no_escape_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = served(dir.path(), "access = true");
    assert_eq!(app.get("/healthz", None), 200);
    app.wait_for_line(|l| l.contains("/healthz"));
    let stderr = app.stop();
    let text = String::from_utf8_lossy(&stderr);
    assert!(text.contains("teamportal is serving"), "{text}");
    assert!(!stderr.contains(&0x1b), "an ESC byte in:\n{text}");
}

#[test]
fn the_access_log_is_off_by_default_and_a_thousand_verifies_add_no_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = served(dir.path(), "");
    // The server announces itself before it accepts: wait for its last start-up line.
    app.wait_for_line(|l| l.contains("starting service"));
    let before = app.lines().len();
    for _ in 0..1000 {
        assert_eq!(app.get("/api/v1/verify", Some("tp_not-a-real-token")), 401);
    }
    assert_eq!(app.get("/healthz", None), 200);
    let after = app.lines();
    let stderr = app.stop();
    let text = String::from_utf8_lossy(&stderr);
    assert_eq!(after.len(), before, "new lines: {:#?}", &after[before..]);
    assert!(
        !text.contains("/api/v1/verify") && !text.contains("/healthz"),
        "{text}"
    );
}

#[test]
fn with_the_access_log_on_each_request_writes_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = served(dir.path(), "access = true");
    for _ in 0..20 {
        assert_eq!(app.get("/api/v1/verify", Some("tp_nope")), 401);
    }
    let stderr = app.stop();
    let text = String::from_utf8_lossy(&stderr);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("path=/api/v1/verify"))
        .collect();
    assert_eq!(lines.len(), 20, "{text}");
    assert!(lines.iter().all(|l| l.contains("status=401")), "{text}");
}

#[test]
fn an_invalid_level_in_the_file_or_rust_log_is_an_error_not_silently_info() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "level = \"verbose\"");
    let out = teamportal(dir.path())
        .arg("check-config")
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("log.level = \"verbose\": must be a level"),
        "{stdout}"
    );

    let cfg = config(dir.path(), "level = \"warn,teamportal=debug\"");
    let out = teamportal(dir.path())
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .env("RUST_LOG", "loud")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("RUST_LOG = \"loud\": must be a level"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("teamportal.db").exists(),
        "refused before opening the database"
    );
}

#[test]
fn with_format_json_a_refusal_to_start_is_a_json_line_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("teamportal.toml");
    // TEST-NET-1: no machine has this address, so the bind fails.
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"192.0.2.1:9\"\n[log]\nformat = \"json\"\n",
    )
    .expect("write");
    let out = teamportal(dir.path())
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .filter(|v: &serde_json::Value| v["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot listen on 192.0.2.1:9")),
        "{stderr}"
    );
}

/// Sends raw bytes on a new connection and reads what comes back.
fn raw(port: u16, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn malformed_requests_and_forged_session_cookies_from_visitors_write_no_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = served(dir.path(), "");
    app.wait_for_line(|l| l.contains("starting service"));
    for _ in 0..50 {
        let answer = raw(app.port, b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let answer = raw(
            app.port,
            b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: teamportal=forged\r\nConnection: close\r\n\r\n",
        );
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert_eq!(app.get("/healthz", None), 200);
    // Stopped, the server has written every queued line: what it wrote for the requests is
    // all there.
    let stderr = app.stop();
    let text = String::from_utf8_lossy(&stderr);
    // Each line names its target: none of the crates that wrote one per request before.
    assert!(
        !text.contains("actix_http") && !text.contains("actix_session"),
        "{text}"
    );
    assert!(
        !text.contains("stream error") && !text.contains("session cookie"),
        "{text}"
    );
}
