//! The instance key, backups, the schema guard and start/stop hygiene, through the real
//! binary: a missing or wrong key refuses to start and creates nothing, a backup with its
//! key restores into a fresh directory, an older binary refuses a newer schema, `admin`
//! creates no database, the first start logs no error, a failed last flush exits non-zero.

use crate::support::served::{free_port, mode, raw_get, serve_healthy, sigterm};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn teamportal() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teamportal"));
    c.env_remove("TEAMPORTAL_CONFIG")
        .env_remove("TEAMPORTAL_CLIENT_SECRET")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    c
}

/// `<dir>/c.toml` with database `portal.db` (relative to the config) on `port`.
fn config(dir: &Path, port: u16) -> PathBuf {
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\nworkers = 1\n[database]\npath = \"portal.db\"\n"),
    )
    .expect("cfg");
    cfg
}

fn run(cfg: &Path, args: &[&str]) -> Output {
    teamportal()
        .arg("--config")
        .arg(cfg)
        .args(args)
        .output()
        .expect("run")
}

/// `serve` on `cfg` until `/healthz` on `port` answers 200.
fn serve(cfg: &Path, port: u16) -> Child {
    let mut cmd = teamportal();
    cmd.args(["serve", "--config"]).arg(cfg);
    serve_healthy(cmd, port)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const SECRET: &str = "the-client-secret";

/// `admin create-team ID`, the first command of a new instance; its client secret is sealed.
fn create_team(cfg: &Path, id: &str) -> Output {
    create_team_at(cfg, id, &format!("https://{id}.example.com"))
}

/// `admin create-team ID` with its IdP at `issuer`.
fn create_team_at(cfg: &Path, id: &str, issuer: &str) -> Output {
    teamportal()
        .arg("--config")
        .arg(cfg)
        .env("TEAMPORTAL_CLIENT_SECRET", SECRET)
        .args(["admin", "create-team", "--id", id, "--name", "Shell Co"])
        .args(["--issuer", issuer, "--client-id", "c1"])
        .args(["--admin-email", &format!("ada@{id}.example.com")])
        .output()
        .expect("create-team")
}

/// A new instance as an operator starts one from the shell: `admin create-team` (its client
/// secret sealed with the new key), one member, and a token from `admin create-token`.
/// Returns the token's secret.
fn instance_with_sealed_data(dir: &Path, cfg: &Path) -> String {
    let out = create_team(cfg, "shellco");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "create-team: {stderr}");
    assert!(
        stderr.contains("created a new database at") && stderr.contains("portal.db"),
        "create-team says it created the database: {stderr}"
    );
    let db = rusqlite::Connection::open(dir.join("portal.db")).expect("open db");
    teamportal::store::users::insert_seeded(
        &db,
        "shellco",
        "https://shellco.example.com",
        "ada",
        "ada@shellco.example.com",
        "Ada",
        teamportal::store::now(),
    )
    .expect("a member to record as the token's creator");
    drop(db);
    let out = run(
        cfg,
        &[
            "admin",
            "create-token",
            "--team",
            "shellco",
            "--name",
            "ci",
            "--creator",
            "ada@shellco.example.com",
        ],
    );
    assert!(out.status.success(), "create-token: {}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_string();
    assert!(secret.starts_with("tp_"), "{secret}");
    secret
}

#[test]
fn serve_refuses_to_start_without_the_key_that_sealed_the_data_and_creates_no_new_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = config(dir.path(), port);
    instance_with_sealed_data(dir.path(), &cfg);
    let key = dir.path().join("portal.db.key");
    let kept = dir.path().join("kept.key");
    std::fs::rename(&key, &kept).expect("move the key away");
    let before = listing(dir.path());

    let out = run(&cfg, &["serve"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("instance key file {} is missing", key.display()))
            && stderr.contains("Restore the key file from your backup"),
        "names the file and what to do: {stderr}"
    );
    assert!(!key.exists(), "no new key was made");
    assert_eq!(listing(dir.path()), before, "nothing was created");
    assert!(
        raw_get(port, "/healthz", None).is_err(),
        "nothing listens on the port"
    );

    // `admin create-token` would seal a new token with a new key: refused the same way.
    let out = run(
        &cfg,
        &["admin", "create-token", "--team", "shellco", "--name", "x"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is missing"),
        "{}",
        text(&out.stderr)
    );
    assert!(!key.exists(), "no new key was made by admin either");

    // With the key back, it starts.
    std::fs::rename(&kept, &key).expect("restore the key");
    let (status, _) = sigterm(serve(&cfg, port));
    assert!(status.success());
}

#[test]
fn serve_refuses_to_start_with_a_key_that_did_not_seal_the_data_and_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = config(dir.path(), port);
    instance_with_sealed_data(dir.path(), &cfg);
    let key = dir.path().join("portal.db.key");
    // Another instance's key, as after restoring the wrong file.
    let other = tempfile::tempdir().expect("tempdir");
    let out = create_team(&config(other.path(), free_port()), "otherco");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let wrong = std::fs::read(other.path().join("portal.db.key")).expect("other key");
    std::fs::write(&key, &wrong).expect("swap the key");
    let before = listing(dir.path());

    let out = run(&cfg, &["serve"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "instance key file {} is not the key that sealed the data",
            key.display()
        )) && stderr.contains("Put back the key file that belongs to this database"),
        "names the file and what to do: {stderr}"
    );
    assert_eq!(
        std::fs::read(&key).expect("key"),
        wrong,
        "the key file is untouched"
    );
    assert_eq!(listing(dir.path()), before, "nothing was created");
}

#[test]
fn a_backup_with_its_key_restores_into_a_fresh_directory_where_the_token_still_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = config(dir.path(), port);
    let token = instance_with_sealed_data(dir.path(), &cfg);

    // Online, while the server runs.
    let server = serve(&cfg, port);
    let shelf = tempfile::tempdir().expect("tempdir");
    let dest = shelf.path().join("nightly.db");
    let out = run(&cfg, &["backup", dest.to_str().expect("utf-8")]);
    assert!(out.status.success(), "backup: {}", text(&out.stderr));
    let dest_key = shelf.path().join("nightly.db.key");
    assert_eq!(mode(&dest), 0o600);
    assert_eq!(mode(&dest_key), 0o600);
    assert_eq!(
        std::fs::read(&dest_key).expect("backup key"),
        std::fs::read(dir.path().join("portal.db.key")).expect("key"),
    );
    let (status, _) = sigterm(server);
    assert!(status.success());

    // The README's restore: DEST to the database path, DEST.key beside it as <db>.key.
    let fresh = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&dest, fresh.path().join("portal.db")).expect("copy db");
    std::fs::copy(&dest_key, fresh.path().join("portal.db.key")).expect("copy key");
    let port = free_port();
    let cfg = config(fresh.path(), port);
    let server = serve(&cfg, port);
    let answer = raw_get(port, "/api/v1/verify", Some(&token)).expect("verify");
    let unknown = raw_get(port, "/api/v1/verify", Some("tp_not-a-token")).expect("verify");
    let (status, stderr) = sigterm(server);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}\n{stderr}");
    assert!(
        answer.to_ascii_lowercase().contains("x-team-id: shellco"),
        "{answer}"
    );
    assert!(unknown.starts_with("HTTP/1.1 401"), "{unknown}");
    assert!(status.success(), "{stderr}");
    assert!(
        !stderr.contains("no team is configured yet"),
        "the restored browser-managed team counts as a team: {stderr}"
    );

    // A backup never overwrites a key file either.
    let dest2 = shelf.path().join("again.db");
    std::fs::write(shelf.path().join("again.db.key"), "someone's file").expect("write");
    let out = run(&cfg, &["backup", dest2.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dest2.exists());
}

#[test]
fn a_binary_older_than_the_database_schema_refuses_to_start_naming_both_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), free_port());
    let out = create_team(&cfg, "newco");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = rusqlite::Connection::open(dir.path().join("portal.db")).expect("open");
    let known: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    let newer = known + 7;
    db.pragma_update(None, "user_version", newer)
        .expect("as a newer release would leave it");
    drop(db);

    for args in [&["serve"][..], &["admin", "list"][..]] {
        let out = run(&cfg, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("schema is version {newer}"))
                && stderr.contains(&format!("(version {known})")),
            "{args:?} names both versions: {stderr}"
        );
    }
    let db = rusqlite::Connection::open(dir.path().join("portal.db")).expect("open");
    let after: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(after, newer, "left as it was");
}

#[test]
fn a_refused_first_create_team_leaves_no_database_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), free_port());
    let before = listing(dir.path());
    // Not https: refused as the config file's check would refuse it.
    let out = create_team_at(&cfg, "shellco", "http://shellco.example.com");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("https"), "says why: {stderr}");
    assert!(!stderr.contains("created a new database"), "{stderr}");
    assert_eq!(
        listing(dir.path()),
        before,
        "no empty instance left: {stderr}"
    );
    // Corrected, it makes the instance.
    let out = create_team(&cfg, "shellco");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("portal.db").exists());
}

#[test]
fn admin_commands_on_a_missing_database_refuse_naming_the_path_and_create_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), free_port());
    let before = listing(dir.path());
    for args in [
        &["admin", "list"][..],
        &["admin", "promote", "a@b.example.com", "--team", "acme"][..],
        &["admin", "create-token", "--team", "acme", "--name", "ci"][..],
    ] {
        let out = run(&cfg, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "there is no database at {}",
                dir.path().join("portal.db").display()
            )),
            "{args:?} names the path: {stderr}"
        );
        assert_eq!(listing(dir.path()), before, "{args:?} created nothing");
    }
}

#[test]
fn a_clean_first_start_logs_no_error_and_names_its_address_database_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    // The default worker count (the CPUs): a pool of several connections on a new file.
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\npath = \"portal.db\"\n"),
    )
    .expect("cfg");
    let (status, stderr) = sigterm(serve(&cfg, port));
    assert!(status.success(), "{stderr}");
    assert!(
        !stderr.contains("ERROR"),
        "no error on a first start:\n{stderr}"
    );
    let db = dir.path().join("portal.db");
    let line = stderr
        .lines()
        .find(|l| l.contains("teamportal is serving"))
        .unwrap_or_else(|| panic!("no start line:\n{stderr}"));
    assert!(
        line.contains(&format!("http://127.0.0.1:{port}"))
            && line.contains(&format!("database {}", db.display()))
            && line.contains(&format!("instance key {}.key", db.display())),
        "{line}"
    );
    assert!(stderr.contains("no team is configured yet"), "{stderr}");
}

#[test]
fn serve_exits_non_zero_when_the_last_usage_flush_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = config(dir.path(), port);
    let server = serve(&cfg, port);
    // The database file taken away under the server: nothing written now would survive.
    std::fs::rename(dir.path().join("portal.db"), dir.path().join("moved.db")).expect("move");
    let (status, stderr) = sigterm(server);
    assert!(!status.success(), "exit status {status}:\n{stderr}");
    assert!(
        stderr.contains("could not write the last usage counters"),
        "{stderr}"
    );
}

#[test]
fn create_team_makes_the_database_folder_as_serve_does_and_team_commands_name_an_unknown_team() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[database]\npath = \"state/portal.db\"\n").expect("cfg");
    let out = create_team(&cfg, "shellco");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("state/portal.db").exists());
    assert_eq!(mode(&dir.path().join("state/portal.db")), 0o600);

    for args in [
        &["admin", "promote", "a@b.example.com", "--team", "nosuch"][..],
        &["admin", "create-token", "--team", "nosuch", "--name", "ci"][..],
        &["admin", "create-scim-token", "--team", "nosuch"][..],
        &[
            "admin",
            "clear-password",
            "a@b.example.com",
            "--team",
            "nosuch",
        ][..],
        &["admin", "set-domains", "nosuch", "x.example.com"][..],
    ] {
        let out = run(&cfg, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("there is no team \"nosuch\""),
            "{args:?}: {stderr}"
        );
    }
    // A negative expiry is a number out of range, not a flag.
    let out = run(
        &cfg,
        &[
            "admin",
            "create-token",
            "--team",
            "shellco",
            "--name",
            "ci",
            "--expires-in-days",
            "-1",
        ],
    );
    assert!(
        text(&out.stderr).contains("from 1 to 3650"),
        "{}",
        text(&out.stderr)
    );
    // The first SCIM token replaces nothing, and says so.
    let out = run(&cfg, &["admin", "create-scim-token", "--team", "shellco"]);
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("previous"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&cfg, &["admin", "create-scim-token", "--team", "shellco"]);
    assert!(text(&out.stderr).contains("previous SCIM token no longer works"));
}
