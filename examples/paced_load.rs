//! An open-loop HTTP/1.1 load client for the benchmarks' fixed-rate runs, lean enough that the
//! server, not the client, sets the tail it reports.
//!
//!   cargo run --release --example paced_load -- URL RATE CONNECTIONS SECONDS ['Name: value'...]
//!
//! Request `i` is due at `start + i / RATE`; it goes out on the first keep-alive connection
//! that is free at or after that moment, and its latency runs from when it was due, not from
//! when it was sent (wrk2's correction of coordinated omission): a server that stalls is
//! charged for every request that waited behind the stall. Prints one line,
//! `rps p50_ms p99_ms non_2xx`.
//!
//! Why not oha alone (`benches/verify.sh` runs both): oha paces with tokio's timers, which
//! fire once a millisecond, so at 48,000 req/s it sends bursts of 48 and its corrected p99
//! against the bare no-op was 16 ms with the server half idle. Here one thread spins on its own
//! core (the benches pin it there), polls every socket without blocking and sends each request
//! the moment it is due.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream as StdStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Target {
    addr: String,
    request: Vec<u8>,
}

fn parse_args() -> Result<(Target, f64, usize, f64), String> {
    let usage = "usage: paced_load URL RATE CONNECTIONS SECONDS ['Name: value'...]";
    let mut args = std::env::args().skip(1);
    let mut next = |what: &str| args.next().ok_or(format!("missing {what}; {usage}"));
    let url = next("URL")?;
    let number = |what: &str, v: String| -> Result<f64, String> {
        v.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n > 0.0)
            .ok_or(format!("{what} must be a positive number, not {v:?}"))
    };
    let rate = number("RATE", next("RATE")?)?;
    let conns = next("CONNECTIONS")?;
    let conns = conns
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(format!(
            "CONNECTIONS must be a whole number of at least 1, not {conns:?}"
        ))?;
    let secs = number("SECONDS", next("SECONDS")?)?;
    let headers: Vec<String> = args.collect();
    let rest = url
        .strip_prefix("http://")
        .ok_or(format!("only http:// URLs, not {url:?}"))?;
    let (addr, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for h in &headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let target = Target {
        addr: addr.to_string(),
        request: request.into_bytes(),
    };
    Ok((target, rate, conns, secs))
}

/// One keep-alive connection and the request it has out, if any.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// When the request on this connection was due.
    due: Option<Instant>,
}

/// The length of the complete response at the start of `buf` and its status, once it is all
/// there. Every answer the benches measure carries a `Content-Length`.
fn complete_response(buf: &[u8]) -> Result<Option<(usize, u16)>, String> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "response head not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(format!("not an HTTP status line: {head:?}"))?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or("a response without Content-Length")?;
    let total = head_end + 4 + length;
    Ok((buf.len() >= total).then_some((total, status)))
}

fn connect(addr: &str, poll: &Poll, token: usize) -> io::Result<Conn> {
    let sock = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other(format!("{addr} resolves to nothing")))?;
    let std = StdStream::connect(sock)?;
    std.set_nodelay(true)?;
    std.set_nonblocking(true)?;
    let mut stream = TcpStream::from_std(std);
    poll.registry()
        .register(&mut stream, Token(token), Interest::READABLE)?;
    Ok(Conn {
        stream,
        buf: Vec::with_capacity(64 * 1024),
        due: None,
    })
}

fn run(target: &Target, rate: f64, conns: usize, secs: f64) -> Result<(), String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut pool = (0..conns)
        .map(|i| connect(&target.addr, &poll, i))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("cannot connect to {}: {e}", target.addr))?;
    // Taken in turn, so no connection sits idle long enough for the server's keep-alive
    // timeout to close it.
    let mut free: VecDeque<usize> = (0..conns).collect();
    let total = (rate * secs) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut latencies: Vec<u64> = Vec::with_capacity(total as usize);
    let mut non_2xx = 0u64;
    let mut events = Events::with_capacity(conns);
    let mut chunk = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let (mut sent, mut last_done) = (0u64, start);
    let give_up = start + Duration::from_secs_f64(secs) + Duration::from_secs(30);
    while sent < total || free.len() < conns {
        let now = Instant::now();
        if now > give_up {
            return Err(format!(
                "30 s after the run, {} requests were still out and {} not sent",
                conns - free.len(),
                total - sent
            ));
        }
        while sent < total && !free.is_empty() {
            let due = start + interval.mul_f64(sent as f64);
            if due > now {
                break;
            }
            let c = free.pop_front().expect("checked not empty");
            let conn = &mut pool[c];
            // A request of a few hundred bytes fits an empty socket buffer whole.
            match conn.stream.write(&target.request) {
                Ok(n) if n == target.request.len() => {}
                Ok(n) => return Err(format!("request written short ({n} bytes)")),
                Err(e) => return Err(format!("writing a request: {e}")),
            }
            conn.due = Some(due);
            sent += 1;
        }
        poll.poll(&mut events, Some(Duration::ZERO))
            .map_err(|e| e.to_string())?;
        for event in events.iter() {
            let c = event.token().0;
            let conn = &mut pool[c];
            let mut closed = false;
            loop {
                match conn.stream.read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => conn.buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("reading a response: {e}")),
                }
            }
            if let Some((len, status)) = complete_response(&conn.buf)? {
                conn.buf.drain(..len);
                if !conn.buf.is_empty() {
                    return Err("bytes after a whole response, before the next request".into());
                }
                // An idle connection's answer nobody asked for is the server's goodbye (actix
                // sends 408 to a connection that sent nothing within its request timeout and
                // closes it): not a measurement.
                if let Some(due) = conn.due.take() {
                    let done = Instant::now();
                    latencies.push(done.duration_since(due).as_nanos() as u64);
                    if !(200..300).contains(&status) {
                        non_2xx += 1;
                    }
                    last_done = done;
                    free.push_back(c);
                }
            }
            if closed {
                // An idle connection the server let go (its keep-alive timeout) is opened
                // again; one that closes with a request out fails the run.
                if conn.due.is_some() {
                    return Err("the server closed a connection with a request out".into());
                }
                poll.registry()
                    .deregister(&mut conn.stream)
                    .map_err(|e| e.to_string())?;
                *conn = connect(&target.addr, &poll, c)
                    .map_err(|e| format!("reconnecting to {}: {e}", target.addr))?;
            }
        }
        std::hint::spin_loop();
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1e6
    };
    let rps = latencies.len() as f64 / last_done.duration_since(start).as_secs_f64();
    println!("{rps:.0} {:.3} {:.3} {non_2xx}", at(0.5), at(0.99));
    Ok(())
}

fn main() {
    let outcome = parse_args().and_then(|(target, rate, conns, secs)| {
        if rate * secs < 1.0 {
            return Err("RATE x SECONDS is less than one request".into());
        }
        run(&target, rate, conns, secs)
    });
    if let Err(e) = outcome {
        eprintln!("paced_load: {e}");
        std::process::exit(2);
    }
}

#[cfg(test)]
mod tests {
    use super::complete_response;

    #[test]
    fn a_response_is_complete_once_its_body_is_there() {
        let whole = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\nnoHTTP/1.1";
        assert_eq!(complete_response(whole), Ok(Some((whole.len() - 8, 401))));
        assert_eq!(complete_response(&whole[..40]), Ok(None));
        assert_eq!(complete_response(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        assert!(complete_response(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }
}
