//! The real binary under load: every verified request is in the store after a graceful
//! SIGTERM, and SIGKILL at random moments loses nothing acknowledged but the last flush
//! interval's request counts, and never corrupts the database.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rand::Rng;
use reqwest::StatusCode;

use teamportal::tokens::flush::FLUSH_INTERVAL;

fn teamportal(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teamportal"));
    c.env_remove("TEAMPORTAL_CONFIG")
        .env("RUST_LOG", "warn")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A portal run as its own process (`teamportal serve --config FILE`) on a database in a
/// temporary directory, with team `acme`, one member and one token made from the shell.
struct Portal {
    dir: tempfile::TempDir,
    config: PathBuf,
    db: PathBuf,
    port: u16,
    secret: String,
    token_id: i64,
    child: Option<Child>,
}

impl Portal {
    fn new() -> Portal {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("teamportal.toml");
        let db = dir.path().join("portal.db");
        let mut p = Portal {
            dir,
            config,
            db,
            port: 0,
            secret: String::new(),
            token_id: 0,
            child: None,
        };
        p.write_config();
        // `admin` commands never create a database: make the empty one a first `serve` would.
        // Then any admin command records the config's team; there is no shell command that
        // adds a person (they arrive by SSO), so the test adds one row.
        drop(teamportal::store::Store::open(&p.db, 1).expect("create the database"));
        p.admin(&["list"]);
        p.sql(
            "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source, joined_via, created_at)
             VALUES ('acme', 'http://127.0.0.1:9', 'alice', 'alice@acme.com', 'Alice', 'admin', 'manual', 'shell', 0)",
        );
        p.secret = p.admin(&["create-token", "--team", "acme", "--name", "load"]);
        p.token_id = p.count("SELECT id FROM api_tokens WHERE name = 'load'");
        p
    }

    /// A fresh port in the config for each start.
    fn write_config(&mut self) {
        self.port = free_port();
        let port = self.port;
        std::fs::write(
            &self.config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\nworkers = 2\n\
                 [database]\npath = \"portal.db\"\n\
                 [[teams]]\nid = \"acme\"\nname = \"Acme\"\nissuer = \"http://127.0.0.1:9\"\n\
                 client_id = \"c\"\nclient_secret = \"s\"\nadmin_email = \"alice@acme.com\"\n"
            ),
        )
        .expect("config");
    }

    /// Runs `teamportal admin ARGS`; its stdout, trimmed.
    fn admin(&self, args: &[&str]) -> String {
        let out = teamportal(&self.config)
            .arg("admin")
            .args(args)
            .output()
            .expect("run teamportal admin");
        assert!(
            out.status.success(),
            "teamportal admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }

    fn sql(&self, sql: &str) {
        rusqlite::Connection::open(&self.db)
            .expect("open")
            .execute(sql, [])
            .expect("sql");
    }

    fn count(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(&self.db)
            .expect("open")
            .query_row(sql, [], |r| r.get(0))
            .expect("query")
    }

    fn metered(&self) -> i64 {
        self.count(&format!(
            "SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE token_id = {} AND unit = 'requests'",
            self.token_id
        ))
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Starts `serve` and waits until it answers /livez.
    async fn start(&mut self) {
        self.write_config();
        let log = std::fs::File::create(self.dir.path().join("serve.log")).expect("log");
        let child = teamportal(&self.config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn serve");
        self.child = Some(child);
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = client.get(self.url("/livez")).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("serve exited with {status}: {}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("serve did not answer /livez within 30 s: {}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn signal(&self, signal: Signal) {
        let pid = self.child.as_ref().expect("running").id();
        kill(Pid::from_raw(pid as i32), signal).expect("signal");
    }

    /// Waits for the process to exit; its exit status.
    async fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not exit within {limit:?}: {}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_verifies_are_all_in_the_store_after_sigterm() {
    const N: usize = 10_000;
    let mut portal = Portal::new();
    portal.start().await;
    let client = reqwest::Client::new();
    let (url, secret) = (portal.url("/api/v1/verify"), portal.secret.clone());
    let statuses: Vec<u16> = stream::iter(0..N)
        .map(|_| {
            let req = client.get(&url).bearer_auth(&secret).send();
            async move { req.await.map(|r| r.status().as_u16()).unwrap_or(0) }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, N, "every verify answered 200");
    drop(client);
    let before = portal.metered();

    portal.signal(Signal::SIGTERM);
    let status = portal.wait(Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "graceful exit: {status}: {}",
        portal.log()
    );
    assert_eq!(
        portal.metered(),
        N as i64,
        "requests sent = requests metered ({before} were in the store before SIGTERM)"
    );
    assert_eq!(
        portal.count(&format!(
            "SELECT count(*) FROM api_tokens WHERE id = {} AND last_used_at IS NOT NULL",
            portal.token_id
        )),
        1
    );
}

/// What one crash iteration's load saw, as the client saw it.
#[derive(Default)]
struct Load {
    /// Verifies sent (answered or not).
    sent: AtomicU64,
    /// When each 200 to a verify arrived.
    verified_at: Mutex<Vec<Instant>>,
    /// Idempotency keys and quantities of usage reports answered 200.
    reported: Mutex<Vec<(String, i64)>>,
}

async fn verifier(
    client: reqwest::Client,
    url: String,
    secret: String,
    load: Arc<Load>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        load.sent.fetch_add(1, Ordering::Relaxed);
        match client.get(&url).bearer_auth(&secret).send().await {
            Ok(r) if r.status() == StatusCode::OK => {
                let at = Instant::now();
                load.verified_at.lock().expect("lock").push(at);
            }
            Ok(r) => panic!("verify answered {} under load", r.status()),
            Err(_) => break, // killed
        }
    }
}

async fn reporter(
    client: reqwest::Client,
    url: String,
    secret: String,
    prefix: String,
    load: Arc<Load>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let key = format!("{prefix}-{n}");
        let quantity = (n % 7) + 1;
        let body = serde_json::json!({"quantity": quantity, "unit": "crash_units", "idempotency_key": key});
        match client
            .post(&url)
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status() == StatusCode::OK => {
                load.reported.lock().expect("lock").push((key, quantity));
            }
            Ok(r) => panic!("usage answered {} under load", r.status()),
            Err(_) => break,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_under_load_loses_no_acknowledged_report_and_at_most_one_flush_of_counts(
) {
    const ITERATIONS: usize = 30;
    // Counts wait in memory for at most one flush interval; the flush itself and a busy
    // two-core machine get half a second on top.
    let window = FLUSH_INTERVAL + Duration::from_millis(500);
    let mut portal = Portal::new();
    let mut rng = rand::thread_rng();
    let mut total_acked_reports = 0;
    for i in 0..ITERATIONS {
        let before = portal.metered();
        portal.start().await;
        let load = Arc::new(Load::default());
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for _ in 0..12 {
            tasks.push(tokio::spawn(verifier(
                client.clone(),
                portal.url("/api/v1/verify"),
                portal.secret.clone(),
                load.clone(),
                stop.clone(),
            )));
        }
        for w in 0..4 {
            tasks.push(tokio::spawn(reporter(
                client.clone(),
                portal.url("/api/v1/usage"),
                portal.secret.clone(),
                format!("it{i}-w{w}"),
                load.clone(),
                stop.clone(),
            )));
        }
        let delay = Duration::from_millis(rng.gen_range(500..3000));
        tokio::time::sleep(delay).await;
        let killed_at = Instant::now();
        portal.signal(Signal::SIGKILL);
        stop.store(true, Ordering::Relaxed);
        portal.wait(Duration::from_secs(10)).await;
        for t in tasks {
            t.await.expect("load task");
        }

        let context = format!("iteration {i}, killed {delay:?} into the load");
        let db = rusqlite::Connection::open(&portal.db).expect("open after crash");
        let integrity: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(integrity, "ok", "{context}");

        let reported = std::mem::take(&mut *load.reported.lock().expect("lock"));
        let mut present = db
            .prepare("SELECT quantity FROM usage_reports WHERE token_id IN (SELECT id FROM api_tokens WHERE team_id = 'acme') AND idempotency_key = ?1")
            .expect("prepare");
        for (key, quantity) in &reported {
            let stored: i64 = present
                .query_row([key], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{context}: acknowledged report {key} is missing: {e}"));
            assert_eq!(stored, *quantity, "{context}: {key}");
        }
        total_acked_reports += reported.len();
        let (reports, daily): (i64, i64) = db
            .query_row(
                "SELECT (SELECT coalesce(sum(quantity), 0) FROM usage_reports WHERE unit = 'crash_units'),
                        (SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE unit = 'crash_units')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("sums");
        assert_eq!(
            reports, daily,
            "{context}: reports and daily totals commit together"
        );

        let metered = portal.metered() - before;
        let sent = load.sent.load(Ordering::Relaxed) as i64;
        let verified_at = load.verified_at.lock().expect("lock");
        let acked = verified_at.len() as i64;
        let recent = verified_at
            .iter()
            .filter(|t| killed_at.saturating_duration_since(**t) < window)
            .count() as i64;
        // For the log: how long before the kill the oldest unmetered answer came (taking
        // answers to be metered in the order they arrived).
        let mut sorted = verified_at.clone();
        sorted.sort();
        let age = sorted
            .get(metered.max(0) as usize)
            .map(|t| killed_at.saturating_duration_since(*t));
        eprintln!("{context}: loss age {age:?} metered {metered}, acknowledged {acked} ({recent} in the last {window:?}), sent {sent}, reports {}", reported.len());
        assert!(
            metered <= sent,
            "{context}: {metered} metered but only {sent} verifies were sent"
        );
        assert!(
            metered >= acked - recent,
            "{context}: {metered} metered of {acked} acknowledged; only the {recent} answered in the last {window:?} may be missing"
        );
    }
    assert!(total_acked_reports > 0, "the load reached the usage API");
}
