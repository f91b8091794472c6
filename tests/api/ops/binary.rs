//! The real `teamportal` binary, served in a temporary folder, with its stderr collected
//! line by line while it runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary with no config or log settings inherited from the test's environment.
pub fn teamportal(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teamportal"));
    c.current_dir(dir)
        .env_remove("TEAMPORTAL_CONFIG")
        .env_remove("RUST_LOG");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TEAMPORTAL_") {
            c.env_remove(name);
        }
    }
    c
}

pub struct Served {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<Vec<u8>>>,
    pub port: u16,
}

/// Starts `serve` and waits for its start line, which carries the port it bound.
pub fn serve(mut cmd: Command) -> Served {
    cmd.arg("serve");
    start(cmd)
}

/// [`serve`] for a command that already names `serve` and its flags.
pub fn start(mut cmd: Command) -> Served {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn teamportal");
    let stderr = child.stderr.take().expect("stderr");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        let mut raw = Vec::new();
        let mut r = BufReader::new(stderr);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    raw.extend_from_slice(&line);
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    sink.lock().expect("lines").push(text);
                }
            }
        }
        raw
    });
    let mut served = Served {
        child,
        lines,
        reader: Some(reader),
        port: 0,
    };
    let line = served.wait_for_line(|l| l.contains("teamportal is serving"));
    served.port = port_in(&line).unwrap_or_else(|| panic!("no port in {line:?}"));
    served
}

fn port_in(line: &str) -> Option<u16> {
    for marker in ["port=", "\"port\":"] {
        if let Some(at) = line.find(marker) {
            let digits: String = line[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            return digits.parse().ok();
        }
    }
    None
}

impl Served {
    pub fn child_id(&self) -> u32 {
        self.child.id()
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits (up to a generous 20 s, for a loaded machine) for a line that matches.
    pub fn wait_for_line(&mut self, want: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| want(l)) {
                return l;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("teamportal exited ({status}): {:#?}", self.lines());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the line never came: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GET on the served port; the status code.
    pub fn get(&self, path: &str, bearer: Option<&str>) -> u16 {
        http_get(self.port, path, bearer)
    }

    /// SIGTERM, wait for the exit, and everything it wrote to stderr.
    pub fn stop(mut self) -> Vec<u8> {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
        self.reader
            .take()
            .expect("reader")
            .join()
            .expect("reader thread")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET over std (one connection per request), so a #[test] needs no runtime.
pub fn http_get(port: u16, path: &str, bearer: Option<&str>) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"))
}
