//! A real nginx (Debian's package) with `auth_request` in front of a small upstream, on
//! loopback: the portal's verify endpoint decides who reaches the upstream. The generated
//! config has the shape docs/forward-auth.md recommends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::*;

const NGINX: &str = "/usr/sbin/nginx";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// nginx in the foreground with everything (pid, logs, temp files) in its own directory.
struct Nginx {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

/// The config: the protected site on `front`, a stand-in upstream on `upstream` that
/// echoes the team it was told about, and the portal's verify endpoint for team `acme` as
/// the auth request.
fn config(dir: &Path, front: u16, upstream: u16, portal: u16) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    server {{
        listen 127.0.0.1:{front};

        location / {{
            auth_request /_teamportal_verify;
            auth_request_set $team_id $upstream_http_x_team_id;
            auth_request_set $token_name $upstream_http_x_token_name;
            proxy_set_header X-Team-Id $team_id;
            proxy_set_header X-Token-Name $token_name;
            proxy_pass http://127.0.0.1:{upstream};
        }}

        location = /_teamportal_verify {{
            internal;
            proxy_pass http://127.0.0.1:{portal}/api/v1/verify?team=acme;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Authorization $http_authorization;
            proxy_set_header X-Original-URI $request_uri;
        }}
    }}

    server {{
        listen 127.0.0.1:{upstream};
        location / {{
            return 200 "upstream ok: team $http_x_team_id, token $http_x_token_name\n";
        }}
    }}
}}
"#
    )
}

impl Nginx {
    fn start(portal: u16) -> Nginx {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: run tests/run to install nginx-light (the forward-auth test needs a real nginx)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        // nginx's workers drop root privileges; let them reach their temp directories.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let (port, upstream) = (free_port(), free_port());
        let conf: PathBuf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config(dir.path(), port, upstream, portal)).expect("nginx.conf");
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut n = Nginx { dir, child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = n.child.try_wait() {
                panic!("nginx exited with {status}: {}", n.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nginx did not listen within 20 s: {}",
                n.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: graceful stop of the master and its worker.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGQUIT,
        );
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn nginx_auth_request_passes_a_valid_token_to_the_upstream_and_stops_revoked_missing_and_other_teams_ones(
) {
    let idp = FakeIdp::start().await;
    let teams = format!(
        "{}{}",
        idp.team_toml("acme", "admin_email = \"alice@acme.com\""),
        idp.team_toml("beta", "admin_email = \"bert@beta.com\"")
    );
    let app = spawn_app(&teams).await;
    let alice = sign_in(&app, &idp, "acme", "a", "alice@acme.com").await;
    let bert = sign_in(&app, &idp, "beta", "z", "bert@beta.com").await;
    let (id, secret) = create(&app, &alice, &[("name", "edge")]).await;
    let (_, other_team) = create(&app, &bert, &[("name", "beta-edge")]).await;
    let nginx = Nginx::start(app.port);
    let client = reqwest::Client::new();

    let r = client
        .get(nginx.url("/reports/q3"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("through nginx");
    assert_eq!(r.status(), StatusCode::OK, "{}", nginx.log());
    assert_eq!(
        r.text().await.expect("body"),
        "upstream ok: team acme, token edge\n"
    );

    let r = client
        .get(nginx.url("/reports/q3"))
        .send()
        .await
        .expect("no token");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&r, "www-authenticate").starts_with("Bearer"),
        "nginx passes the challenge on"
    );
    assert!(!r.text().await.expect("body").contains("upstream ok"));

    // A valid token of another team: the service is acme's, so nginx passes on the 403.
    let r = client
        .get(nginx.url("/reports/q3"))
        .bearer_auth(&other_team)
        .send()
        .await
        .expect("another team's token");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", nginx.log());
    assert!(!r.text().await.expect("body").contains("upstream ok"));

    assert_eq!(
        revoke(&app, &alice, id).await.status(),
        StatusCode::SEE_OTHER
    );
    let r = client
        .get(nginx.url("/reports/q3"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("revoked token");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!r.text().await.expect("body").contains("upstream ok"));
}
