//! Every file teamportal creates is the operator's alone (0600): the database with its WAL
//! and SHM, the instance key, and backups, whatever umask the caller started it with.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::served::{self, free_port, mode};

fn teamportal() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teamportal"));
    c.env_remove("TEAMPORTAL_CONFIG").env("RUST_LOG", "warn");
    c
}

#[test]
fn serve_and_backup_create_the_database_its_wal_and_shm_the_key_and_the_backup_0600() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\npath = \"portal.db\"\n"),
    )
    .expect("cfg");
    // The parent's umask is the permissive default of most shells (022): without its own,
    // teamportal's files would come out 0644.
    let child = serve_healthy(&cfg, port);
    let db = dir.path().join("portal.db");
    let files = [
        db.clone(),
        dir.path().join("portal.db-wal"),
        dir.path().join("portal.db-shm"),
        dir.path().join("portal.db.key"),
    ];
    // Read while the server runs: the WAL and SHM exist only while a connection is open.
    let modes: Vec<(String, u32)> = files
        .iter()
        .map(|f| (f.display().to_string(), mode(f)))
        .collect();

    let dest = dir.path().join("copy.db");
    let backup = teamportal()
        .arg("backup")
        .arg(&dest)
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("backup runs");
    stop(child);

    for (file, m) in modes {
        assert_eq!(m, 0o600, "{file} is {m:o}");
    }
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert_eq!(mode(&dest), 0o600, "the backup is {:o}", mode(&dest));
}

/// `teamportal serve` on `cfg`, once it answers /healthz on `port`.
fn serve_healthy(cfg: &Path, port: u16) -> std::process::Child {
    let mut cmd = teamportal();
    cmd.args(["serve", "--config"]).arg(cfg);
    served::serve_healthy(cmd, port)
}

/// SIGTERM, the graceful stop: the last connection closing removes the WAL and SHM.
fn stop(mut child: std::process::Child) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if child.try_wait().expect("wait").is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve did not stop on SIGTERM");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

#[test]
fn serve_and_backup_make_an_older_installs_0644_database_wal_shm_and_key_0600() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\npath = \"portal.db\"\n"),
    )
    .expect("cfg");
    let db = dir.path().join("portal.db");
    let wal = dir.path().join("portal.db-wal");
    let shm = dir.path().join("portal.db-shm");
    let key = dir.path().join("portal.db.key");

    // A real install, then the modes a version without its own umask left under a 022 shell
    // (or a restore with plain `cp`).
    stop(serve_healthy(&cfg, port));
    for f in [&db, &wal, &shm, &key] {
        if f.exists() {
            chmod(f, 0o644);
        }
    }
    assert_eq!(mode(&db), 0o644, "precondition");
    assert_eq!(mode(&key), 0o644, "precondition");

    // SQLite gives a new WAL and SHM the database file's mode: left alone, 0644 again.
    let child = serve_healthy(&cfg, port);
    let running: Vec<(String, u32)> = [&db, &wal, &shm, &key]
        .iter()
        .map(|f| (f.display().to_string(), mode(f)))
        .collect();
    stop(child);
    for (file, m) in running {
        assert_eq!(m, 0o600, "while serving, {file} is {m:o}");
    }

    // The same with a WAL and SHM left behind at 0644 (a crash), through `backup`.
    chmod(&db, 0o644);
    chmod(&key, 0o644);
    for f in [&wal, &shm] {
        std::fs::File::create(f).expect("stale file");
        chmod(f, 0o644);
    }
    let out = teamportal()
        .arg("backup")
        .arg(dir.path().join("copy.db"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("backup runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [&db, &wal, &shm, &key] {
        if f.exists() {
            assert_eq!(
                mode(f),
                0o600,
                "after backup, {} is {:o}",
                f.display(),
                mode(f)
            );
        }
    }
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&key), 0o600);
}
