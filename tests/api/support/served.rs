//! The real `teamportal` binary as a process: a free loopback port, `serve` until it answers
//! `/healthz`, a plain-socket GET, a graceful SIGTERM stop, and file modes.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A GET over a plain socket: the whole answer.
pub fn raw_get(port: u16, path: &str, bearer: Option<&str>) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// `cmd` (a `serve`) started with stderr piped, once `/healthz` on `port` answers 200;
/// panics with its stderr when it exits or does not answer within 30 s.
pub fn serve_healthy(mut cmd: Command, port: u16) -> Child {
    let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spawn");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if raw_get(port, "/healthz", None).is_ok_and(|r| r.starts_with("HTTP/1.1 200")) {
            return child;
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!(
        "serve did not answer /healthz:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGTERM (the graceful stop), then the exit status and everything it wrote to stderr.
pub fn sigterm(child: Child) -> (ExitStatus, String) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let out = child.wait_with_output().expect("wait");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A file's permission bits; panics when it is not there.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{} exists: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
