//! `teamportal healthcheck`, the real binary: exit 0 when the configured server's `/healthz`
//! answers 200, 1 when it answers otherwise or nothing listens; no database is created.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::spawn_app;

/// A config file for the command: `listen` as given, the database at `db`.
fn config(dir: &Path, listen: &str, db: &Path) -> PathBuf {
    let path = dir.join("healthcheck.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = {listen:?}\n[database]\npath = {:?}\n",
            db.display().to_string()
        ),
    )
    .expect("write config");
    path
}

/// Runs `teamportal healthcheck --config FILE` off the test's runtime, which serves the app.
async fn healthcheck(config: PathBuf) -> Output {
    actix_web::rt::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_teamportal"))
            .env_remove("TEAMPORTAL_CONFIG")
            .env("RUST_LOG", "warn")
            .arg("healthcheck")
            .arg("--config")
            .arg(config)
            .output()
            .expect("run teamportal healthcheck")
    })
    .await
    .expect("join")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[actix_web::test]
async fn healthcheck_exits_0_against_a_running_server_reached_on_loopback_for_0_0_0_0() {
    let app = spawn_app("").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("not-opened.db");
    // The server listens on 127.0.0.1; the config says 0.0.0.0, which is probed on loopback.
    let cfg = config(dir.path(), &format!("0.0.0.0:{}", app.port), &db);
    let out = healthcheck(cfg).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/healthz answered 200"),
        "{}",
        show(&out)
    );
    assert!(!db.exists(), "healthcheck opens no database");
    assert_eq!(files_in(dir.path()), ["healthcheck.toml"]);
}

#[actix_web::test]
async fn healthcheck_exits_1_when_healthz_answers_503() {
    let app = spawn_app("").await;
    // /healthz answers 503 once the database file is gone.
    std::fs::rename(&app.db_path, app.dir.path().join("moved.db")).expect("move database");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), &format!("127.0.0.1:{}", app.port), &app.db_path);
    let out = healthcheck(cfg).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("answered 503"),
        "{}",
        show(&out)
    );
    assert!(
        !app.db_path.exists(),
        "healthcheck did not recreate the database"
    );
}

#[actix_web::test]
async fn healthcheck_exits_1_with_a_message_when_nothing_listens_and_creates_no_database() {
    // A port that was just free: nothing of ours listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("teamportal.db");
    let cfg = config(dir.path(), &format!("127.0.0.1:{port}"), &db);
    let out = healthcheck(cfg).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unhealthy") && stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        show(&out)
    );
    assert_eq!(
        files_in(dir.path()),
        ["healthcheck.toml"],
        "no database, key or anything else created"
    );
}
