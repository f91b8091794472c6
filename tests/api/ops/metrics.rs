//! Prometheus metrics as a scraper sees them: `[metrics] listen` serves valid Prometheus text
//! at `GET /metrics` on its own port, the counters move with traffic, routes are labelled by
//! pattern (never by the raw path), and without the section nothing more listens.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::binary::{serve, teamportal, Served};

fn config(dir: &Path, metrics: &str) -> PathBuf {
    let cfg = dir.join("teamportal.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n{metrics}\n"),
    )
    .expect("write config");
    cfg
}

fn serve_with(dir: &Path, metrics: &str) -> Served {
    let cfg = config(dir, metrics);
    let mut cmd = teamportal(dir);
    cmd.arg("--config").arg(&cfg);
    serve(cmd)
}

/// GET over a plain connection: the status and the body.
fn fetch(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"));
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The port from the start-up line "metrics are served at http://127.0.0.1:PORT/metrics".
fn metrics_port(app: &mut Served) -> u16 {
    let line = app.wait_for_line(|l| l.contains("metrics are served at"));
    let at = line.find("http://127.0.0.1:").expect("address in the line") + 17;
    line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no port in {line:?}"))
}

/// The TCP ports a process listens on, from its socket descriptors and /proc/net/tcp{,6}.
fn listening_ports(pid: u32) -> BTreeSet<u16> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|t| {
            let t = t.to_string_lossy().to_string();
            Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEX_IP:HEX_PORT, st 0A is LISTEN, column 9 the inode.
            if cols.len() > 9 && cols[3] == "0A" && inodes.contains(cols[9]) {
                let port = cols[1].rsplit(':').next().expect("port");
                ports.insert(u16::from_str_radix(port, 16).expect("hex port"));
            }
        }
    }
    ports
}

/// Checks the exposition line by line: `# HELP`/`# TYPE`/`# UNIT`/`# EOF` comments, every
/// other line `name{label="value",...} value`, and every sample's family declared by a TYPE
/// line before it. Returns the samples as (`name{labels}`, value).
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let mut typed: BTreeSet<String> = BTreeSet::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut samples = Vec::new();
    let valid_name = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines() {
        assert!(!line.is_empty(), "an empty line in:\n{text}");
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(valid_name(name), "{line}");
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "info",
                            "summary",
                            "unknown"
                        ]
                        .contains(&kind),
                        "{line}"
                    );
                    typed.insert(name.to_string());
                }
                (Some("HELP"), Some(name), Some(_)) => {
                    assert!(valid_name(name), "{line}");
                    helped.insert(name.to_string());
                }
                (Some("UNIT"), Some(name), _) => assert!(valid_name(name), "{line}"),
                (Some("EOF"), None, None) => {}
                _ => panic!("not a known comment: {line:?}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, None),
            Some((name, rest)) => (
                name,
                Some(
                    rest.strip_suffix('}')
                        .unwrap_or_else(|| panic!("unclosed labels: {line:?}")),
                ),
            ),
        };
        assert!(valid_name(name), "bad metric name: {line:?}");
        if let Some(labels) = labels {
            for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                let (key, val) = pair
                    .split_once("=\"")
                    .unwrap_or_else(|| panic!("bad label {pair:?} in {line:?}"));
                assert!(valid_name(key), "bad label name {key:?}: {line:?}");
                assert!(!val.contains('\n'), "{line:?}");
            }
            assert!(labels.ends_with('"'), "bad labels: {line:?}");
        }
        let family = ["_total", "_bucket", "_sum", "_count", "_info", "_created"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "no TYPE line before {line:?}");
        assert!(helped.contains(family), "no HELP line before {line:?}");
        samples.push((series.to_string(), value));
    }
    assert!(!samples.is_empty(), "no samples in:\n{text}");
    samples
}

fn value_of(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

fn scrape(port: u16) -> (Vec<(String, f64)>, String) {
    let (status, body) = fetch(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    (parse_exposition(&body), body)
}

#[test]
fn metrics_parse_as_prometheus_text_and_count_verifies_by_outcome_and_routes_by_pattern() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = serve_with(dir.path(), "[metrics]\nlisten = \"127.0.0.1:0\"");
    let port = metrics_port(&mut app);
    assert_ne!(port, app.port);

    let (before, _) = scrape(port);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value_of(
            &before,
            &format!("teamportal_build_info{{version=\"{version}\"}}")
        ),
        1.0
    );
    let unauthorized = "teamportal_verify_requests_total{outcome=\"unauthorized\"}";
    assert_eq!(value_of(&before, unauthorized), 0.0);
    for series in [
        "teamportal_verify_requests_total{outcome=\"ok\"}",
        "teamportal_verify_requests_total{outcome=\"wrong_team\"}",
        "teamportal_verify_requests_total{outcome=\"unavailable\"}",
        "teamportal_sign_ins_total{outcome=\"ok\"}",
        "teamportal_usage_flush_failures_total",
        "teamportal_active_sessions",
        "teamportal_db_pool_connections",
        "teamportal_db_pool_idle_connections",
    ] {
        value_of(&before, series);
    }

    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/verify", Some("tp_not-a-real-token")), 401);
    }
    // A parameterised route and a path no route matches: labelled by pattern, the raw
    // paths never appear.
    assert_eq!(app.get("/sso/nosuchteam/login", None), 404);
    assert_eq!(app.get("/no/such/thing-here", None), 404);

    let (after, body) = scrape(port);
    assert_eq!(value_of(&after, unauthorized), 3.0);
    assert_eq!(
        value_of(
            &after,
            "teamportal_http_requests_total{route=\"/api/v1/verify\",status=\"401\"}"
        ),
        3.0
    );
    assert_eq!(
        value_of(
            &after,
            "teamportal_http_request_duration_seconds_count{route=\"/api/v1/verify\"}"
        ),
        3.0
    );
    assert_eq!(
        value_of(
            &after,
            "teamportal_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/api/v1/verify\"}"
        ),
        3.0
    );
    assert_eq!(
        value_of(
            &after,
            "teamportal_http_requests_total{route=\"/sso/{team}/login\",status=\"404\"}"
        ),
        1.0
    );
    assert_eq!(
        value_of(
            &after,
            "teamportal_http_requests_total{route=\"unmatched\",status=\"404\"}"
        ),
        1.0
    );
    assert!(
        !body.contains("nosuchteam") && !body.contains("thing-here"),
        "{body}"
    );
    // The usage flush runs every second; its histogram fills without any traffic.
    let start = std::time::Instant::now();
    while value_of(
        &scrape(port).0,
        "teamportal_usage_flush_duration_seconds_count",
    ) < 1.0
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no flush"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    assert_eq!(
        listening_ports(app.child_id()),
        BTreeSet::from([app.port, port])
    );
    assert_eq!(
        fetch(app.port, "/metrics").0,
        404,
        "not on the portal's port"
    );
}

#[test]
fn without_a_metrics_section_only_the_portal_listens_and_it_has_no_metrics_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = serve_with(dir.path(), "");
    assert_eq!(listening_ports(app.child_id()), BTreeSet::from([app.port]));
    assert_eq!(fetch(app.port, "/metrics").0, 404);
    assert!(
        !app.lines().iter().any(|l| l.contains("metrics are served")),
        "{:#?}",
        app.lines()
    );
}

#[test]
fn a_bad_metrics_address_or_the_portals_own_port_is_a_config_error_naming_the_key_or_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (metrics, rule) in [
        ("listen = \"localhost\"", "must be an IP address and port"),
        ("listen = \"127.0.0.1:8080\"", "must be another port"),
    ] {
        let cfg = dir.path().join("teamportal.toml");
        std::fs::write(
            &cfg,
            format!("[server]\nlisten = \"127.0.0.1:8080\"\n[metrics]\n{metrics}\n"),
        )
        .expect("write config");
        let out = teamportal(dir.path())
            .arg("check-config")
            .arg("--config")
            .arg(&cfg)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("metrics.listen = ") && stdout.contains(rule),
            "{stdout}"
        );
    }
    let out = teamportal(dir.path())
        .arg("check-config")
        .env("TEAMPORTAL_METRICS__LISTEN", "nope")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("TEAMPORTAL_METRICS__LISTEN = \"nope\": must be an IP address"),
        "{stdout}"
    );
}

/// Sign-ins by outcome, the callback labelled by its pattern, and the active-session gauge
/// (refreshed by the flush thread, so it is waited for).
#[actix_web::test]
async fn sign_ins_are_counted_by_outcome_and_active_sessions_follow() {
    use crate::helpers::{browser, location, spawn_app_tuned};
    use crate::support::fake_idp::FakeIdp;

    let idp = FakeIdp::start().await;
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let app = spawn_app_tuned(dir, &idp.team_toml("acme", ""), |s, _| {
        s.metrics = Some(addr)
    })
    .await;
    let scrape = || async {
        let body = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        parse_exposition(&body)
    };

    let bob = browser();
    let ok = idp
        .sign_in(&app, &bob, "acme", "bob", "bob@acme.test")
        .await;
    assert_eq!(location(&ok), "/team");
    let eve = browser();
    let refused = idp
        .sign_in_with(&app, &eve, "acme", ("eve", "eve@acme.test"), |c| {
            c["email_verified"] = serde_json::json!(false)
        })
        .await;
    assert_ne!(refused.status(), reqwest::StatusCode::SEE_OTHER);

    let samples = scrape().await;
    assert_eq!(
        value_of(&samples, "teamportal_sign_ins_total{outcome=\"ok\"}"),
        1.0
    );
    assert_eq!(
        value_of(&samples, "teamportal_sign_ins_total{outcome=\"refused\"}"),
        1.0
    );
    assert_eq!(
        value_of(
            &samples,
            "teamportal_http_requests_total{route=\"/sso/{team}/callback\",status=\"303\"}"
        ),
        1.0
    );
    let start = std::time::Instant::now();
    while value_of(&scrape().await, "teamportal_active_sessions") < 1.0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "never counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
