//! Configuration from the environment, as containers and systemd pass it: every key as
//! `TEAMPORTAL_<SECTION>__<KEY>`, `..._FILE` for a value kept in a file, the file < the
//! environment < `serve`'s flags, and a bad value named by the variable it came from.

use super::binary::{serve, teamportal};

fn check_config(cmd: &mut std::process::Command) -> (Option<i32>, String) {
    let out = cmd.arg("check-config").output().expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const FILE: &str = r#"
[server]
listen = "127.0.0.1:9001"
public_url = "http://127.0.0.1:9001"
[database]
path = "from-file.db"
"#;

#[test]
fn environment_variables_and_file_variables_win_over_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("teamportal.toml");
    std::fs::write(&cfg, FILE).expect("write");
    let secret = dir.path().join("public_url");
    std::fs::write(&secret, "https://portal.example.com\n").expect("write");

    let (code, stdout) = check_config(teamportal(dir.path()).arg("--config").arg(&cfg));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("public URL http://127.0.0.1:9001"),
        "{stdout}"
    );

    let (code, stdout) = check_config(
        teamportal(dir.path())
            .arg("--config")
            .arg(&cfg)
            .env("TEAMPORTAL_SERVER__PUBLIC_URL_FILE", &secret)
            .env("TEAMPORTAL_DATABASE__PATH", "from-env.db")
            .env("TEAMPORTAL_SERVER__LISTEN", "127.0.0.1:9002"),
    );
    assert_eq!(code, Some(0), "{stdout}");
    let env_db = dir.path().join("from-env.db");
    assert!(
        stdout.contains(&format!(
            "listening on 127.0.0.1:9002, public URL https://portal.example.com, database {}",
            env_db.display()
        )),
        "{stdout}"
    );
}

#[test]
fn numbers_and_booleans_from_the_environment_parse_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stdout) = check_config(
        teamportal(dir.path())
            .env("TEAMPORTAL_SERVER__WORKERS", "3")
            .env("TEAMPORTAL_SECURITY__PASSWORD_LOGIN", "true")
            .env("TEAMPORTAL_SECURITY__SESSION_IDLE_MINUTES", "30")
            .env("TEAMPORTAL_BILLING__SEAT_PRICE", "10.00")
            .env("TEAMPORTAL_BILLING__METERING", "false"),
    );
    assert_eq!(code, Some(0), "{stdout}");

    let (code, stdout) = check_config(
        teamportal(dir.path()).env("TEAMPORTAL_SECURITY__SESSION_IDLE_MINUTES", "soon"),
    );
    assert_eq!(code, Some(1));
    assert!(
        stdout.starts_with("TEAMPORTAL_SECURITY__SESSION_IDLE_MINUTES = \"soon\": "),
        "{stdout}"
    );
    let (code, stdout) =
        check_config(teamportal(dir.path()).env("TEAMPORTAL_SECURITY__SESSION_IDLE_MINUTES", "0"));
    assert_eq!(code, Some(1));
    assert!(
        stdout.starts_with("TEAMPORTAL_SECURITY__SESSION_IDLE_MINUTES = \"0\": must be at least 1"),
        "{stdout}"
    );
}

#[test]
fn check_config_names_the_variable_a_bad_value_came_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("teamportal.toml");
    std::fs::write(&cfg, FILE).expect("write");
    let (code, stdout) = check_config(
        teamportal(dir.path())
            .arg("--config")
            .arg(&cfg)
            .env("TEAMPORTAL_SERVER__PUBLIC_URL", "ftp://x"),
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        stdout.trim_end(),
        "TEAMPORTAL_SERVER__PUBLIC_URL = \"ftp://x\": must start with https:// (or http:// on loopback)"
    );

    let bad = dir.path().join("bad_url");
    std::fs::write(&bad, "ftp://y\n").expect("write");
    let (code, stdout) =
        check_config(teamportal(dir.path()).env("TEAMPORTAL_SERVER__PUBLIC_URL_FILE", &bad));
    assert_eq!(code, Some(1));
    assert!(
        stdout.starts_with("TEAMPORTAL_SERVER__PUBLIC_URL_FILE = \"ftp://y\": must start with"),
        "{stdout}"
    );

    let (code, stdout) = check_config(
        teamportal(dir.path()).env("TEAMPORTAL_DATABASE__PATH_FILE", dir.path().join("nope")),
    );
    assert_eq!(code, Some(1));
    assert!(
        stdout.starts_with("TEAMPORTAL_DATABASE__PATH_FILE = ") && stdout.contains("cannot read"),
        "{stdout}"
    );

    let (code, stdout) =
        check_config(teamportal(dir.path()).env("TEAMPORTAL_SERVER__LISTNE", "127.0.0.1:1"));
    assert_eq!(code, Some(1));
    assert!(
        stdout.starts_with(
            "TEAMPORTAL_SERVER__LISTNE = \"127.0.0.1:1\": unknown key; the keys here are listen,"
        ),
        "{stdout}"
    );

    let (code, stdout) = check_config(teamportal(dir.path()).env("TEAMPORTAL_TEAMS__ID", "acme"));
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains(
            "TEAMPORTAL_TEAMS__ID = \"acme\": [[teams]] are configured in the config file only"
        ),
        "{stdout}"
    );
}

#[test]
fn serve_flags_win_over_the_environment_which_wins_over_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("teamportal.toml");
    // An address no test machine has: serving at all proves the file's listen lost.
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"192.0.2.1:9\"\n[database]\npath = \"from-file.db\"\n",
    )
    .expect("write");

    let mut cmd = teamportal(dir.path());
    cmd.arg("--config")
        .arg(&cfg)
        .env("TEAMPORTAL_SERVER__LISTEN", "127.0.0.1:0")
        .env("TEAMPORTAL_DATABASE__PATH", "from-env.db");
    let app = serve(cmd);
    assert_eq!(app.get("/healthz", None), 200);
    app.stop();
    assert!(dir.path().join("from-env.db").exists());
    assert!(!dir.path().join("from-file.db").exists());

    let mut cmd = teamportal(dir.path());
    cmd.arg("--config")
        .arg(&cfg)
        .env("TEAMPORTAL_SERVER__LISTEN", "192.0.2.1:9")
        .env("TEAMPORTAL_DATABASE__PATH", "from-env.db");
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        "from-flag.db",
    ]);
    let app = super::binary::start(cmd);
    assert_eq!(app.get("/healthz", None), 200);
    app.stop();
    assert!(dir.path().join("from-flag.db").exists());
    assert!(!dir.path().join("from-file.db").exists());
}
