//! Starting the app in-process on a random loopback port, and a browser-like client
//! (cookies kept, redirects not followed) with helpers for forms and sign-in.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;

use reqwest::header::LOCATION;
use reqwest::{Client, Response, StatusCode};
use teamportal::app::{Application, Extras};
use teamportal::config;

pub struct TestApp {
    pub base: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub db_path: PathBuf,
}

/// Starts teamportal with `[server]`/`[database]` set for the test and `extra` TOML
/// (teams, billing, security) appended.
pub async fn spawn_app(extra: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    spawn_app_in(dir, extra).await
}

pub async fn spawn_app_in(dir: tempfile::TempDir, extra: &str) -> TestApp {
    spawn_app_tuned(dir, extra, |_, _| {}).await
}

/// Like `spawn_app_in`, with what the config file cannot set (internal timings, test knobs
/// in `Extras`) changed by `tune` before the app is built.
pub async fn spawn_app_tuned(
    dir: tempfile::TempDir,
    extra: &str,
    tune: impl FnOnce(&mut config::Settings, &mut Extras),
) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let db_path = dir.path().join("portal.db");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\nworkers = 1\n\
         [database]\npath = {:?}\n{extra}",
        db_path.display().to_string()
    );
    let raw = config::parse(&text).expect("test config parses");
    let mut settings = config::validate(raw, dir.path(), &|_| None).expect("test config is valid");
    let mut extras = Extras {
        listener: Some(listener),
        ..Extras::default()
    };
    tune(&mut settings, &mut extras);
    let app = Application::build_with(settings, extras).expect("app builds");
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        dir,
        db_path,
    }
}

/// A browser: its own cookie jar, redirects not followed.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn location(resp: &Response) -> String {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The value of the first `csrf_token` hidden field in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("page has a CSRF field");
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_string()
}

/// Reads a value of a query parameter of an absolute URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn text(&self, client: &Client, path: &str) -> (StatusCode, String) {
        let r = self.get(client, path).await;
        let s = r.status();
        (s, r.text().await.expect("body"))
    }

    /// The CSRF token this client's session holds, read from `page`.
    pub async fn csrf(&self, client: &Client, page: &str) -> String {
        let (_, body) = self.text(client, page).await;
        csrf_in(&body)
    }

    pub async fn post(&self, client: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// POSTs a form with the session's CSRF token (read from `/team` when signed in, else `/login`).
    pub async fn post_csrf(&self, client: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        let page = if self.get(client, "/team").await.status() == StatusCode::OK {
            "/team"
        } else {
            "/login"
        };
        let token = self.csrf(client, page).await;
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(form);
        self.post(client, path, &all).await
    }

    /// Starts SP-initiated sign-in through the login form; returns the IdP authorize URL.
    pub async fn start_sso(&self, client: &Client, team_or_email: &str) -> String {
        let token = self.csrf(client, "/login").await;
        let resp = self
            .post(
                client,
                "/login/sso",
                &[("csrf_token", &token), ("team_id", team_or_email)],
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "login/sso redirects to the IdP"
        );
        location(&resp)
    }

    /// Opens a database connection to check what was stored.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db_path).expect("open db")
    }

    /// `columns` of the user with this email in `team`, read with `map`; panics when the
    /// user is not there.
    pub fn user<T>(
        &self,
        team: &str,
        email: &str,
        columns: &str,
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> T {
        self.db()
            .query_row(
                &format!("SELECT {columns} FROM users WHERE team_id = ?1 AND email = ?2"),
                [team, email],
                map,
            )
            .unwrap_or_else(|e| panic!("{email} has an account in {team}: {e}"))
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db()
            .query_row(sql, [], |r| r.get(0))
            .expect("count query")
    }
}

/// Writes `<dir>/shell.toml` (database `portal.db` plus `extra`) and makes team `shellco`
/// with `teamportal admin create-team`, the secret passed through the environment as an
/// operator would; returns the config file.
pub fn create_shell_team(
    dir: &std::path::Path,
    extra: &str,
    issuer: &str,
    client_id: &str,
    admin_email: &str,
    secret: &str,
) -> PathBuf {
    let cfg = dir.join("shell.toml");
    std::fs::write(&cfg, format!("[database]\npath = \"portal.db\"\n{extra}")).expect("cfg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_teamportal"))
        .env_remove("TEAMPORTAL_CONFIG")
        .env("RUST_LOG", "warn")
        .env("TEAMPORTAL_CLIENT_SECRET", secret)
        .arg("--config")
        .arg(&cfg)
        .args([
            "admin",
            "create-team",
            "--id",
            "shellco",
            "--name",
            "Shell Co",
        ])
        .args(["--issuer", issuer, "--client-id", client_id])
        .args(["--admin-email", admin_email])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("create-team runs");
    assert!(
        out.status.success(),
        "create-team: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cfg
}
