//! `teamportal healthcheck`: asks the local server's `GET /healthz` over loopback, for
//! container and systemd health checks. It reads only the listen address from the config and
//! never opens the database: the server's own `/healthz` is what checks that.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::Settings;

/// Connecting, sending and reading the status line together: longer than a busy server's
/// database ping, shorter than the timeouts Docker and systemd give a check.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The status line is all we read; a server that sends more before it is not ours.
const MAX_STATUS_LINE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no answer from {addr} within {}s", TIMEOUT.as_secs())]
    Timeout { addr: SocketAddr },
    #[error("talking to {addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{addr} did not answer with HTTP")]
    NotHttp { addr: SocketAddr },
    #[error("GET http://{addr}/healthz answered {status}")]
    Unhealthy { addr: SocketAddr, status: u16 },
}

/// The command: exit 0 when the server this config describes answers 200 on `/healthz`,
/// else 1, with one line saying which.
pub fn run(settings: &Settings) -> ExitCode {
    let addr = probe_addr(settings.server.listen);
    match probe(addr) {
        Ok(()) => {
            println!("healthy: GET http://{addr}/healthz answered 200");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("teamportal: unhealthy: {e}");
            ExitCode::from(1)
        }
    }
}

/// Where to reach a server that listens on `listen`: a wildcard address is reached on the
/// loopback address of its family.
pub fn probe_addr(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `GET /healthz` on `addr`: Ok when it answers 200.
pub fn probe(addr: SocketAddr) -> Result<(), ProbeError> {
    let deadline = Instant::now() + TIMEOUT;
    let io = |source: std::io::Error| {
        if matches!(
            source.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ) {
            ProbeError::Timeout { addr }
        } else {
            ProbeError::Io { addr, source }
        }
    };
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|source| {
        if source.kind() == std::io::ErrorKind::TimedOut {
            ProbeError::Timeout { addr }
        } else {
            ProbeError::Connect { addr, source }
        }
    })?;
    stream
        .set_write_timeout(Some(remaining(deadline, addr)?))
        .map_err(io)?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: teamportal-healthcheck\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < MAX_STATUS_LINE {
        // Each read gets what is left of the one deadline, so a server that trickles bytes
        // cannot stretch the check.
        stream
            .set_read_timeout(Some(remaining(deadline, addr)?))
            .map_err(io)?;
        let n = stream.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    match status_code(&head) {
        Some(200) => Ok(()),
        Some(status) => Err(ProbeError::Unhealthy { addr, status }),
        None => Err(ProbeError::NotHttp { addr }),
    }
}

fn remaining(deadline: Instant, addr: SocketAddr) -> Result<Duration, ProbeError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(ProbeError::Timeout { addr })
    } else {
        Ok(left)
    }
}

/// The code of an HTTP/1.x status line (`HTTP/1.1 200 OK`).
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?.trim_end();
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listen_address_is_probed_on_loopback_of_its_family() {
        let p = |s: &str| probe_addr(s.parse().expect("addr")).to_string();
        assert_eq!(p("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(p("[::]:8080"), "[::1]:8080");
        assert_eq!(p("192.0.2.7:80"), "192.0.2.7:80");
        assert_eq!(p("[::1]:9000"), "[::1]:9000");
    }

    #[test]
    fn the_status_code_comes_from_an_http_status_line_only() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\nx: y\r\n"), Some(200));
        assert_eq!(
            status_code(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_code(b"HTTP/1.1 200\r\n"), Some(200));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH_9.2\r\n"), None);
        assert_eq!(status_code(b"HTTP/1.1 20"), None);
        assert_eq!(status_code(b""), None);
    }
}
