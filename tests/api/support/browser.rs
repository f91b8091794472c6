//! A headless Debian Chromium driven through its own chromedriver (WebDriver, fantoccini), one
//! per test so tests can run in parallel.
// Shared by many tests; each test uses only some of the helpers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "run `tests/run`, which installs Debian's chromium and \
     chromium-driver (as root: apt-get install -y --no-install-recommends chromium chromium-driver)";
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A headless Chromium session. `close()` ends it; Drop ends it too and kills chromedriver.
pub struct Browser {
    pub client: fantoccini::Client,
    session_id: Option<String>,
    closed: bool,
    // Dropped after `client`: ends chromedriver and, with it, Chromium.
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session.
    pub async fn start() -> anyhow::Result<Browser> {
        Self::start_with(&[]).await
    }

    /// `start` with more Chromium switches, e.g. `--force-dark-mode` (the pages then match
    /// `prefers-color-scheme: dark`).
    pub async fn start_with(extra_args: &[&str]) -> anyhow::Result<Browser> {
        if !Path::new(CHROMIUM).is_file() {
            bail!("{CHROMIUM} is not installed: {INSTALL_HINT}");
        }
        let chromedriver = find_chromedriver()?;

        // Another process may take the port between our probe and chromedriver's bind: retry.
        let mut attempt = 0;
        let driver = loop {
            attempt += 1;
            let driver = Driver::spawn(&chromedriver)?;
            match driver.wait_until_ready().await {
                Ok(()) => break driver,
                Err(_) if attempt < 3 => continue,
                Err(err) => return Err(err),
            }
        };

        // Plain HTTP to the loopback chromedriver. (fantoccini's `rustls()` builder needs a
        // process-wide rustls CryptoProvider, which is ambiguous when both ring and aws-lc-rs
        // are compiled in, and panics.)
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(chrome_capabilities(&driver.profile_dir(), extra_args))
            .connect(&format!("http://{}", driver.addr))
            .await
            .map_err(|err| {
                anyhow!(
                    "opening a Chromium session failed: {err}; chromedriver log:\n{}",
                    driver.log()
                )
            })?;
        let session_id = client.session_id().await.ok().flatten();
        Ok(Browser {
            client,
            session_id,
            closed: false,
            driver,
        })
    }

    /// Ends the Chromium session and chromedriver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.closed = true;
        self.client
            .clone()
            .close()
            .await
            .context("closing the Chromium session")
    }

    /// A browser whose page loads and scripts are bounded to 20 s (a hung page fails the test
    /// instead of hanging it).
    pub async fn start_bounded() -> Browser {
        let b = Browser::start().await.expect("headless Chromium starts");
        b.client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(20)),
                Some(Duration::from_secs(20)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts");
        b
    }

    /// Waits for an element and returns its text; panics naming it otherwise.
    pub async fn text_of(&self, css: &str) -> String {
        let element = self.wait_for(css).await.expect("the element is there");
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading {css}: {e}"))
    }

    /// Waits for an element and clicks it; panics naming it otherwise.
    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .expect("the element is there")
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Waits (up to 10 s) for an element, e.g. `browser.wait_for("#login")`.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => Ok(element),
            Err(err) => Err(anyhow!(
                "waiting for `{css}` at {}: {err}",
                self.current_url().await.unwrap_or_default()
            )),
        }
    }

    /// Waits (up to 10 s) until the current URL satisfies `pred`; returns it.
    pub async fn wait_for_url(&self, pred: impl Fn(&url::Url) -> bool) -> anyhow::Result<url::Url> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.client.current_url().await?;
            if pred(&url) {
                return Ok(url);
            }
            if Instant::now() > deadline {
                bail!("the browser stayed at {url}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// On the test IdP's sign-in page: types `account` and submits.
    pub async fn idp_sign_in(&self, account: &str) -> anyhow::Result<()> {
        self.wait_for("#login").await?.send_keys(account).await?;
        self.client
            .find(Locator::Css("#submit"))
            .await?
            .click()
            .await?;
        Ok(())
    }

    async fn current_url(&self) -> Option<String> {
        self.client.current_url().await.ok().map(String::from)
    }

    /// chromedriver's log so far.
    pub fn driver_log(&self) -> String {
        self.driver.log()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            if let Some(id) = &self.session_id {
                // No runtime to await on here: end the session with a plain HTTP request so that
                // chromedriver quits Chromium cleanly.
                delete_session(self.driver.addr, id);
            }
        }
    }
}

/// A chromedriver process in its own process group, with a fresh temp dir for the profile and
/// the log.
struct Driver {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Driver {
    fn spawn(chromedriver: &Path) -> anyhow::Result<Driver> {
        let dir = tempfile::tempdir().context("creating a temp dir for the browser")?;
        std::fs::create_dir(dir.path().join("profile"))?;
        let log = std::fs::File::create(dir.path().join("chromedriver.log"))?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group, so that Drop ends chromedriver and Chromium together.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        Ok(Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        })
    }

    fn profile_dir(&self) -> PathBuf {
        self.dir.path().join("profile")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }

    async fn wait_until_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let status_url = format!("http://{}/status", self.addr);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(response) = http.get(&status_url).send().await {
                if let Ok(status) = response.json::<Value>().await {
                    if status["value"]["ready"] == true {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "chromedriver did not get ready on {} within {READY_TIMEOUT:?}; its log:\n{}",
                    self.addr,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        use nix::unistd::Pid;
        // The group id is chromedriver's pid (process_group(0)); Chromium's processes are in it.
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_chromedriver() -> anyhow::Result<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("chromedriver"))
        .find(|path| path.is_file())
        .ok_or_else(|| anyhow!("chromedriver is not installed: {INSTALL_HINT}"))
}

fn chrome_capabilities(
    user_data_dir: &Path,
    extra_args: &[&str],
) -> serde_json::Map<String, Value> {
    let mut caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,900",
                format!("--user-data-dir={}", user_data_dir.display()),
            ],
        },
    });
    if let Some(args) = caps["goog:chromeOptions"]["args"].as_array_mut() {
        args.extend(extra_args.iter().map(|a| Value::from(*a)));
    }
    match caps {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// `DELETE /session/{id}` over a blocking socket (used from Drop, where nothing can be awaited).
fn delete_session(addr: SocketAddr, session_id: &str) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // chromedriver answers `Connection: close` but keeps the socket open: read one response.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        if http_response_complete(&answer) {
            break;
        }
    }
}

fn http_response_complete(answer: &[u8]) -> bool {
    let Some(header_end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let headers = String::from_utf8_lossy(&answer[..header_end]).to_ascii_lowercase();
    let body_len = headers
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|len| len.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= header_end + 4 + body_len
}

#[tokio::test]
async fn the_browser_renders_a_page_headless() {
    let browser = Browser::start().await.expect("headless Chromium starts");
    browser
        .client
        .goto("data:text/html,<h1>hi</h1>")
        .await
        .unwrap();
    let h1 = browser.wait_for("h1").await.unwrap();
    assert_eq!(h1.text().await.unwrap(), "hi");
    browser.close().await.unwrap();
}
