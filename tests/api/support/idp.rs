//! The test identity provider: a real OpenID Provider (`tests/idp/server.mjs`, npm's
//! `oidc-provider`) on a random loopback port, steered through its `/__control` endpoints,
//! and a scripted user who signs in on it over plain HTTP.
// Shared by many tests; each test uses only some of the helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

// Waits, not measurements: on a loaded 2-core machine dozens of node IdPs start at once,
// and 20 s was sometimes not enough for one of them. Rarely one never prints READY at all
// (seen twice at once in a CI run: alive, its log holding only oidc-provider's runtime
// warning, silent for 180 s), so a start that is silent for the first wait is killed and
// tried once more; the test fails only when the second start is silent too.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_TIMEOUT_AGAIN: Duration = Duration::from_secs(120);
const MAX_HOPS: usize = 20;

/// A running `tests/idp/server.mjs`. Killed on drop; its log is printed when a test panics.
pub struct TestIdp {
    /// `http://127.0.0.1:<port>`: the issuer, equal to discovery's `issuer`.
    pub issuer: String,
    config: Value,
    child: Option<Child>,
    // Closing it also makes the IdP exit, should the kill ever miss.
    stdin: Option<ChildStdin>,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

/// A process's scheduler state and the kernel function it waits in, from /proc.
fn process_state(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let state = status
        .lines()
        .find(|l| l.starts_with("State:"))
        .unwrap_or("State: gone");
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    format!("pid {pid}, {state}, waiting in {wchan:?}")
}

fn repo_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl TestIdp {
    /// Starts the IdP with `config` (see `tests/idp/server.mjs` for its shape: `clients`,
    /// `accounts`, `thin_id_token`) and waits for it to serve.
    pub fn start(config: Value) -> anyhow::Result<TestIdp> {
        let mut idp = TestIdp {
            issuer: String::new(),
            config,
            child: None,
            stdin: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            dir: tempfile::tempdir().context("creating a temp dir for the test IdP")?,
        };
        idp.spawn()?;
        Ok(idp)
    }

    /// Starts a stopped IdP again on the same port, so with the same issuer, from the
    /// original config: new signing key, no sessions, accounts and clients set at run time
    /// forgotten (like a real IdP restarting without persistence).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let port = reqwest::Url::parse(&self.issuer)?
            .port()
            .context("the issuer has a port")?;
        self.config["port"] = json!(port);
        self.spawn()
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        match self.spawn_once(READY_TIMEOUT) {
            Ok(()) => Ok(()),
            Err(first) => {
                eprintln!("{first:#}\nstarting the test IdP once more");
                self.spawn_once(READY_TIMEOUT_AGAIN)
                    .with_context(|| format!("after a first start that failed: {first:#}"))
            }
        }
    }

    fn spawn_once(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let idp_dir = repo_dir().join("tests/idp");
        if !idp_dir
            .join("node_modules/oidc-provider/package.json")
            .is_file()
        {
            bail!(
                "the test IdP's packages are not installed ({}/node_modules is missing): \
                 run `tests/run`, which installs them (npm ci in tests/idp)",
                idp_dir.display()
            );
        }

        let config_path = self.dir.path().join("idp.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&self.config)?)?;
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.log_path())?;

        let mut child = Command::new("node")
            .arg(idp_dir.join("server.mjs"))
            .arg(&config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context(
                "starting `node tests/idp/server.mjs` (is Node.js installed? run `tests/run`)",
            )?;

        let stdout = child.stdout.take().expect("stdout is piped");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(issuer) = line.strip_prefix("READY ") {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(issuer.trim().to_owned());
                    }
                }
            }
        });
        self.stdin = child.stdin.take();
        self.child = Some(child);

        // Disconnected (the IdP exited) or timed out: either way, no READY.
        match ready_rx.recv_timeout(timeout) {
            Ok(issuer) => {
                self.issuer = issuer;
                Ok(())
            }
            Err(_) => {
                // What the silent process was doing, for the next time it happens.
                let state = self.child.as_ref().map(|c| process_state(c.id()));
                self.stop();
                bail!(
                    "the test IdP did not print READY within {timeout:?} ({}); its log:\n{}",
                    state.unwrap_or_default(),
                    self.log()
                )
            }
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("idp.log")
    }

    /// `issuer` + `path`, e.g. `idp.url("/.well-known/openid-configuration")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Everything the IdP logged so far (one line per request, plus errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    async fn control(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = self.url(path);
        let request = match body {
            Some(body) => self.http.post(&url).json(body),
            None => self.http.get(&url),
        };
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {url}"))?;
        let status = response.status();
        let value: Value = response
            .json()
            .await
            .with_context(|| format!("reading {url}"))?;
        if !status.is_success() {
            bail!("{url} answered {status}: {value}");
        }
        Ok(value)
    }

    /// Signs with a new RS256 key from now on; the JWKS lists only the new key. Returns its kid.
    pub async fn rotate_keys(&self) -> anyhow::Result<String> {
        let answer = self
            .control("/__control/rotate-keys", Some(&json!({})))
            .await?;
        answer["kid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("rotate-keys answered without a kid: {answer}"))
    }

    /// Adds or replaces an account (`claims`: email, email_verified, name, groups, ...).
    pub async fn set_account(&self, id: &str, claims: Value) -> anyhow::Result<()> {
        self.control(
            "/__control/account",
            Some(&json!({ "id": id, "claims": claims })),
        )
        .await
        .map(drop)
    }

    /// Adds or replaces a client (`client_id`, `client_secret`, `redirect_uris`, ...), e.g.
    /// once the portal's port, and so its redirect URI, is known.
    pub async fn set_client(&self, client: Value) -> anyhow::Result<()> {
        self.control("/__control/client", Some(&client))
            .await
            .map(drop)
    }

    /// The requests the IdP served since start or the last reset (control requests excluded),
    /// each `{"method", "path", "query": {name: value}}`.
    pub async fn requests(&self) -> anyhow::Result<Vec<Value>> {
        let value = self.control("/__control/requests", None).await?;
        serde_json::from_value(value).context("parsing the IdP's request log")
    }

    /// How many requests for `path` (e.g. `/token`, `/me`, `/jwks`) the IdP served.
    pub async fn count_requests(&self, path: &str) -> anyhow::Result<usize> {
        Ok(self
            .requests()
            .await?
            .iter()
            .filter(|r| r["path"] == path)
            .count())
    }

    pub async fn reset_requests(&self) -> anyhow::Result<()> {
        self.control("/__control/requests/reset", Some(&json!({})))
            .await
            .map(drop)
    }

    /// Makes the IdP misbehave on `path`: `fault` is `{"status", "body", "headers",
    /// "delay_ms", "times"}` (all optional; status 0 drops the connection; no status with a
    /// delay serves normally after the delay; times defaults to every request).
    pub async fn fault(&self, path: &str, mut fault: Value) -> anyhow::Result<()> {
        fault["path"] = json!(path);
        self.control("/__control/fault", Some(&fault))
            .await
            .map(drop)
    }

    pub async fn clear_faults(&self) -> anyhow::Result<()> {
        self.control("/__control/fault", Some(&json!({ "clear": true })))
            .await
            .map(drop)
    }

    /// Kills the IdP (to simulate it going down). `issuer` stays as it was.
    pub fn stop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "--- test IdP {} log (last lines) ---", self.issuer);
            for line in tail.into_iter().rev() {
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

/// What the scripted user does on the IdP's sign-in page.
enum Interaction<'a> {
    Login(&'a str),
    Abort,
}

/// Signs `account` in at the IdP: GETs `authorize_url`, follows the IdP's own redirects, posts
/// the sign-in form (skipped when the IdP already has a session), and returns the first
/// redirect that leaves the IdP's origin: the relying party's callback URL with
/// `code`, `state` and `iss` (or `error`). `client` must not follow redirects and must keep
/// cookies.
pub async fn idp_login(
    client: &reqwest::Client,
    authorize_url: &str,
    account: &str,
) -> anyhow::Result<reqwest::Url> {
    drive(client, authorize_url, Interaction::Login(account)).await
}

/// Like [`idp_login`], but the user cancels on the sign-in page, so the IdP answers the
/// relying party with `error=access_denied` (like Okta's "user is not assigned").
pub async fn idp_abort(
    client: &reqwest::Client,
    authorize_url: &str,
) -> anyhow::Result<reqwest::Url> {
    drive(client, authorize_url, Interaction::Abort).await
}

async fn drive(
    client: &reqwest::Client,
    authorize_url: &str,
    interaction: Interaction<'_>,
) -> anyhow::Result<reqwest::Url> {
    let start = reqwest::Url::parse(authorize_url).context("parsing the authorize URL")?;
    let origin = start.origin();
    let mut response = client.get(start.clone()).send().await?;
    let mut submitted = false;

    for _ in 0..MAX_HOPS {
        let url = response.url().clone();
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .ok_or_else(|| anyhow!("{status} from {url} without a Location"))?
                .to_str()?;
            let next = url.join(location)?;
            if next.origin() != origin {
                return Ok(next);
            }
            response = client.get(next).send().await?;
            continue;
        }

        let body = response.text().await?;
        let on_sign_in_page = status.is_success()
            && url.path().starts_with("/interaction/")
            && body.contains("id=\"login\"");
        if !on_sign_in_page {
            bail!("the IdP answered {status} at {url}:\n{body}");
        }
        if submitted {
            bail!("the IdP refused the sign-in at {url}:\n{body}");
        }
        submitted = true;
        let base = url.as_str().trim_end_matches('/');
        response = match interaction {
            Interaction::Login(account) => {
                client
                    .post(format!("{base}/login"))
                    .form(&[("login", account)])
                    .send()
                    .await?
            }
            Interaction::Abort => client.post(format!("{base}/abort")).send().await?,
        };
    }
    bail!("more than {MAX_HOPS} redirects at the IdP starting from {start}")
}

#[tokio::test]
async fn the_test_idp_serves_discovery_and_rotates_its_signing_key() {
    let idp = TestIdp::start(json!({
        "clients": [],
        "accounts": {},
    }))
    .expect("the test IdP starts");
    let http = reqwest::Client::new();

    let discovery: Value = http
        .get(idp.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], idp.issuer.as_str());

    let jwks_uri = discovery["jwks_uri"].as_str().unwrap().to_owned();
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = kids(
        http.get(&jwks_uri)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );
    let new_kid = idp.rotate_keys().await.unwrap();
    let after = kids(
        http.get(&jwks_uri)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap(),
    );

    assert_eq!(before.len(), 1);
    assert_eq!(after, vec![new_kid.clone()]);
    assert_ne!(before[0], new_kid);
}
