//! Log output. One format for every line (text or JSON, so a collector parses them all),
//! colour only when stderr is a terminal (escape codes are noise in files and journals), and
//! every line written by a background thread: a request never waits on stderr.

use std::io::IsTerminal;

use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogFormat, LogSettings};

/// The target of the access log's lines (`[log] access`).
pub const ACCESS_TARGET: &str = "teamportal::access";

/// Keeps the writer threads; dropping it flushes the lines still queued.
pub struct LogGuard(#[allow(dead_code)] Vec<tracing_appender::non_blocking::WorkerGuard>);

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

fn layer<W>(format: LogFormat, ansi: bool, writer: W) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
    }
}

/// Lines the libraries write for what a client sent, one per request: a malformed request
/// (actix-http's "stream error") or a forged session cookie (actix-session's warning). Any
/// visitor could fill the log with them, and they say nothing about the server; a filter
/// that names these crates itself keeps them. `off`, not a level, so that a quieter filter
/// (`off`, or one naming only teamportal) never gets lines from them it would not have had.
const CLIENT_NOISE: &str = "actix_http::h1::dispatcher=off,actix_session=off";

/// The filter as given, with [`CLIENT_NOISE`] quieted unless the filter names those crates.
fn with_client_noise_quiet(filter: &str) -> String {
    if filter.contains("actix_http") || filter.contains("actix_session") {
        filter.to_string()
    } else {
        format!("{filter},{CLIENT_NOISE}")
    }
}

/// Installs the process's logger. The filter was checked with the config; an error here is
/// one `tracing` itself finds.
pub fn init(log: &LogSettings) -> Result<LogGuard, String> {
    let ansi = std::io::stderr().is_terminal();
    let filter = EnvFilter::builder()
        .parse(with_client_noise_quiet(&log.filter))
        .map_err(|e| format!("invalid log level {:?}: {e}", log.filter))?;
    // Operational lines are few: a queue of 8,192 (256 KiB, room for a burst of failures)
    // rather than the default 128,000, whose slots (32 bytes each) were all written at start,
    // 4 MiB of memory faulted in before the first request (a fifth of the idle RSS). When
    // stderr drains slower than lines come (a stalled journald or docker pipe) and the queue
    // is full, lines are dropped rather than waited for: the writer runs on the request's
    // worker thread, and a flood of failure lines (an IdP that is down, many addresses
    // asking) must not stop every connection on that worker.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(8_192)
        .thread_name("teamportal-log")
        .finish(std::io::stderr());
    let mut guards = vec![guard];
    let mut layers: Vec<BoxedLayer> = vec![layer(log.format, ansi, writer)
        .with_filter(filter_fn(|m| m.target() != ACCESS_TARGET))
        .with_filter(filter)
        .boxed()];
    // The access log is what the operator turned on: it is written whatever the level.
    if log.access {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .thread_name("teamportal-access-log")
            .finish(std::io::stderr());
        guards.push(guard);
        layers.push(
            layer(log.format, ansi, writer)
                .with_filter(filter_fn(|m| m.target() == ACCESS_TARGET))
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(LogGuard(guards))
}

/// At most `per_second` lines a second of a kind that each request may write (a failed
/// request's), so a failure every request meets (an identity provider that is down, asked by
/// every visitor) cannot flood the log; the next line written says how many were left out.
pub struct Throttle {
    second: std::sync::atomic::AtomicU64,
    in_second: std::sync::atomic::AtomicU64,
    left_out: std::sync::atomic::AtomicU64,
}

impl Throttle {
    pub const fn new() -> Throttle {
        use std::sync::atomic::AtomicU64;
        Throttle {
            second: AtomicU64::new(0),
            in_second: AtomicU64::new(0),
            left_out: AtomicU64::new(0),
        }
    }

    /// `Some(lines left out since the last one written)` when this line may be written.
    pub fn allow(&self, per_second: u64, now_secs: u64) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        // Only forward: a thread with an older clock must not reset a newer second's count.
        let seen = self.second.load(Relaxed);
        if now_secs > seen
            && self
                .second
                .compare_exchange(seen, now_secs, Relaxed, Relaxed)
                .is_ok()
        {
            self.in_second.store(0, Relaxed);
        }
        if self.in_second.fetch_add(1, Relaxed) < per_second {
            Some(self.left_out.swap(0, Relaxed))
        } else {
            self.left_out.fetch_add(1, Relaxed);
            None
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_writes_a_few_lines_a_second_and_then_says_how_many_it_left_out() {
        let t = Throttle::new();
        let written: Vec<Option<u64>> = (0..5).map(|_| t.allow(2, 100)).collect();
        assert_eq!(written, [Some(0), Some(0), None, None, None]);
        assert_eq!(
            t.allow(2, 101),
            Some(3),
            "the next second's first line counts them"
        );
        assert_eq!(t.allow(2, 101), Some(0));
        assert_eq!(
            t.allow(2, 100),
            None,
            "an older second does not reset the count"
        );
    }

    #[test]
    fn client_noise_is_quieted_unless_the_filter_asks_for_it() {
        assert_eq!(
            with_client_noise_quiet("info"),
            format!("info,{CLIENT_NOISE}")
        );
        assert_eq!(
            with_client_noise_quiet("debug,actix_http=trace"),
            "debug,actix_http=trace"
        );
        assert!(EnvFilter::builder()
            .parse(with_client_noise_quiet("info,teamportal=debug"))
            .is_ok());
    }
}
