//! The command line and what lives on disk: check-config, serve's refusals and defaults,
//! the instance key file, migrations on restart, and online backup.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{browser, spawn_app, spawn_app_in};

fn teamportal() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teamportal"));
    c.env_remove("TEAMPORTAL_CONFIG").env("RUST_LOG", "warn");
    c
}

fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample.toml")
}

#[test]
fn the_sample_config_passes_check_config_as_shipped() {
    // Exactly as the README says: the file in place, nothing replaced.
    let out = teamportal()
        .args(["check-config", "--config"])
        .arg(sample())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("config OK"));
}

#[test]
fn check_config_prints_every_error_with_key_value_and_rule_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        r#"
[server]
public_url = "https://portal.example.com/sub"
workers = "two"
[[teams]]
id = "Acme_Eng"
isuer = "https://typo.example.com"
name = "Acme"
issuer = "http://acme.okta.com"
client_id = "0oa1"
client_secret_file = "/nonexistent/secret"
[[teams]]
id = "beta"
name = "Beta"
issuer = "https://beta.okta.com"
client_id = "0ob1"
client_secret = "s"
[[teams]]
id = "beta"
name = "Beta again"
issuer = "https://beta.okta.com"
client_id = "0ob2"
client_secret = "s"
"#,
    )
    .expect("write");
    let out = teamportal()
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "server.public_url = \"https://portal.example.com/sub\": must be an origin",
        "server.workers = \"two\": must be a whole number",
        "teams[0].isuer = \"***\": unknown key; the keys here are id, name, issuer,",
        "teams[0].id = \"Acme_Eng\": a Team ID is lowercase",
        "teams[0].issuer = \"http://acme.okta.com\": must be https",
        "teams[0].client_secret_file = \"/nonexistent/secret\": cannot read the file",
        "teams[2].id = \"beta\": another team already has this Team ID",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert_eq!(lines.len(), 7, "{stdout}");

    // serve refuses to start on the same file.
    let out = teamportal()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("teams[0].id"));
}

#[test]
fn check_config_warns_and_passes_when_the_database_is_not_one_it_can_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Not a SQLite file at all (a wrong path, a half-restored copy): only the cross-check of
    // email domains against stored teams needs it, and that is skipped, not failed.
    std::fs::write(
        dir.path().join("garbage.db"),
        b"\x00\xffthis is not a database\x01\x02".repeat(200),
    )
    .expect("write db");
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\npath = \"garbage.db\"\n",
    )
    .expect("write cfg");
    let out = teamportal()
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.starts_with("config OK"), "{stdout}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("could not check email domains against the teams stored in"))
        .unwrap_or_else(|| panic!("no warning in:\n{stderr}"));
    assert!(
        warning.contains("garbage.db") && warning.ends_with("; skipped"),
        "{warning}"
    );
}

#[test]
fn the_config_can_come_from_teamportal_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[server]\nlisten = \"nope\"\n").expect("write");
    let out = teamportal()
        .arg("check-config")
        .env("TEAMPORTAL_CONFIG", &cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("server.listen = \"nope\""));
}

#[test]
fn serve_without_a_config_uses_defaults_says_no_team_is_configured_and_answers_healthz_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = teamportal()
        .arg("serve")
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let mut ok = false;
    while started.elapsed() < Duration::from_secs(5) {
        if let Ok(r) = http_ok("http://127.0.0.1:8080/healthz") {
            ok = r;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(stderr.contains("no team is configured yet"), "{stderr}");
    assert!(
        dir.path().join("teamportal.db").exists(),
        "default database in the working directory"
    );
    if !stderr.contains("cannot listen") {
        assert!(ok, "healthz answered 200 within 5 s: {stderr}");
    }
}

/// A tiny blocking GET over std, so a plain #[test] needs no runtime.
fn http_ok(url: &str) -> std::io::Result<bool> {
    use std::io::Write;
    let u = url::Url::parse(url).map_err(std::io::Error::other)?;
    let mut s = std::net::TcpStream::connect((
        u.host_str().unwrap_or("127.0.0.1"),
        u.port().unwrap_or(80),
    ))?;
    write!(
        s,
        "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        u.path()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.starts_with("HTTP/1.1 200"))
}

#[actix_web::test]
async fn the_instance_key_is_created_0600_and_reused_and_migrations_are_idempotent() {
    let first = spawn_app("").await;
    let key = first.dir.path().join("portal.db.key");
    let mode = std::fs::metadata(&key)
        .expect("key file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let before = std::fs::read(&key).expect("read key");
    first.db().execute("INSERT INTO teams (id, name, source, issuer, client_id, created_at) VALUES ('kept', 'Kept', 'shell', 'https://x.test', 'c', 0)", []).expect("insert");
    let version: i64 = first
        .db()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");

    let second = spawn_app_in(first.dir, "").await;
    assert_eq!(
        std::fs::read(&key).expect("read key"),
        before,
        "the key is reused"
    );
    let again: i64 = second
        .db()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(again, version);
    assert_eq!(
        second.count("SELECT count(*) FROM teams WHERE id = 'kept'"),
        1,
        "data survives a restart"
    );
    assert_eq!(
        second.get(&browser(), "/healthz").await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn backup_writes_a_standalone_readable_copy_while_the_server_runs() {
    let app = spawn_app("").await;
    app.db().execute("INSERT INTO teams (id, name, source, issuer, client_id, created_at) VALUES ('t1', 'T', 'shell', 'https://x.test', 'c', 0)", []).expect("insert");
    let cfg = app.dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\npath = {:?}\n",
            app.db_path.display().to_string()
        ),
    )
    .expect("cfg");
    let dest = app.dir.path().join("copy.db");
    let out = teamportal()
        .arg("backup")
        .arg(&dest)
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !app.dir.path().join("copy.db-wal").exists(),
        "no WAL needed beside the copy"
    );
    let copy = rusqlite::Connection::open(&dest).expect("open copy");
    let ok: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(ok, "ok");
    let n: i64 = copy
        .query_row("SELECT count(*) FROM teams WHERE id = 't1'", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(n, 1);
    // An existing destination is never overwritten.
    let out = teamportal()
        .arg("backup")
        .arg(&dest)
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

#[actix_web::test]
async fn the_demo_refuses_an_instance_database_and_writes_nothing_into_it() {
    let app = spawn_app("[[teams]]\nid = \"acme\"\nname = \"Acme\"\nissuer = \"http://127.0.0.1:9/\"\nclient_id = \"c\"\nclient_secret = \"s\"\nadmin_email = \"a@acme.test\"\n").await;
    let out = teamportal()
        .args(["demo", "--listen", "127.0.0.1:0", "--database"])
        .arg(&app.db_path)
        .stdin(Stdio::null())
        .output()
        .expect("demo runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused: {err}");
    assert!(
        err.contains("not a demo database") && err.contains("acme") && err.contains("--database"),
        "{err}"
    );
    let teams = app.count("SELECT count(*) FROM teams WHERE id LIKE 'demo%'");
    assert_eq!(teams, 0, "no demo team written");

    let out = teamportal()
        .args(["demo", "--listen", "0.0.0.0:0", "--database"])
        .arg(app.db_path.with_file_name("other.db"))
        .stdin(Stdio::null())
        .output()
        .expect("demo runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
    assert!(
        !app.db_path.with_file_name("other.db").exists(),
        "no file made"
    );
}
