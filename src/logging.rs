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

/// Installs the process's logger. The filter was checked with the config; an error here is
/// one `tracing` itself finds.
pub fn init(log: &LogSettings) -> Result<LogGuard, String> {
    let ansi = std::io::stderr().is_terminal();
    let filter = EnvFilter::builder()
        .parse(&log.filter)
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
