//! The flush thread: writes the meter's counters every second (and the last ones at
//! shutdown, see `Application::run_until_stopped`), keeps the verification index following
//! changes other processes made, and does the store's housekeeping.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::index::TokenIndex;
use super::meter::Meter;
use crate::store::{Store, StoreError};

pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Flushes between two counts of active sessions for the metrics (five seconds).
const SESSIONS_EVERY: u64 = 5;
/// How often the token index looks for tokens another process (`admin create-token`) wrote:
/// one single-row read, so a shell-made token verifies within a fifth of a second while an
/// unknown token still never reaches the database.
pub const INDEX_POLL: Duration = Duration::from_millis(200);

/// When to log a failure that repeats every second (a database outage): the 1st, 2nd, 4th,
/// 8th... failure in a row, at most every 512th after that, so an outage of an hour writes
/// about twenty lines, not 3,600.
#[derive(Debug, Default)]
struct LogBackoff {
    in_a_row: u64,
}

impl LogBackoff {
    /// Counts a failure; `Some(failures in a row)` when this one is to be logged.
    fn failed(&mut self) -> Option<u64> {
        self.in_a_row += 1;
        let n = self.in_a_row;
        (n.is_power_of_two() || n.is_multiple_of(512)).then_some(n)
    }

    /// Counts a success; true when it ends a run of failures.
    fn recovered(&mut self) -> bool {
        std::mem::take(&mut self.in_a_row) > 0
    }
}

/// Runs the periodic flush, the token index's catch-up with changes made by other processes
/// and housekeeping on its own thread until `stop` is set.
pub fn spawn_flusher(
    meter: Arc<Meter>,
    index: Arc<TokenIndex>,
    store: Store,
    stop: Arc<AtomicBool>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("usage-flush".into())
        .spawn(move || {
            let mut ticks: u64 = 0;
            let mut index_failing = false;
            let mut flushed_at = std::time::Instant::now();
            let mut flush_failures = LogBackoff::default();
            while !stop.load(Ordering::Relaxed) {
                std::thread::park_timeout(INDEX_POLL);
                if flushed_at.elapsed() >= FLUSH_INTERVAL {
                    flushed_at = std::time::Instant::now();
                    let flushed = meter.flush(&store);
                    if let Some(m) = &metrics {
                        m.flushed(flushed_at.elapsed(), flushed.is_ok());
                        // One indexed count every few seconds, rather than any work per request.
                        if ticks.is_multiple_of(SESSIONS_EVERY) {
                            if let Ok(n) = store.run_blocking(|c| {
                                crate::store::sessions::count_active(c, crate::store::now())
                            }) {
                                m.set_active_sessions(n);
                            }
                        }
                    }
                    match flushed {
                        Ok(()) => {
                            if flush_failures.recovered() {
                                tracing::info!("usage counters are written again");
                            }
                        }
                        Err(e) => {
                            if let Some(failures) = flush_failures.failed() {
                                tracing::error!(error = %e, failures, "could not write usage counters; they stay in memory and are retried every second");
                            }
                        }
                    }
                    ticks += 1;
                    if ticks.is_multiple_of(600) {
                        let _ = store.run_blocking(|c| -> Result<(), StoreError> {
                            crate::store::sessions::purge_expired(c)?;
                            crate::store::logins::purge_expired(c)?;
                            crate::store::logout_jtis::purge_expired(c)?;
                            Ok(())
                        });
                    }
                }
                // Logged once per outage, not every second.
                match store.run_blocking(|c| index.catch_up(c)) {
                    Ok(_) if index_failing => {
                        index_failing = false;
                        tracing::info!("token index follows the store again");
                    }
                    Ok(_) => {}
                    Err(e) if !index_failing => {
                        index_failing = true;
                        tracing::error!(error = %e, "could not read token changes; will retry");
                    }
                    Err(_) => {}
                }
            }
        })
        .expect("the flush thread starts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_that_repeats_every_second_is_logged_ever_more_rarely() {
        let mut b = LogBackoff::default();
        let logged: Vec<u64> = (0..3600).filter_map(|_| b.failed()).collect();
        assert_eq!(&logged[..6], &[1, 2, 4, 8, 16, 32]);
        assert!(
            logged.len() < 20,
            "{} lines for an hour: {logged:?}",
            logged.len()
        );
        assert!(b.recovered());
        assert!(!b.recovered());
        assert_eq!(b.failed(), Some(1), "a new outage is logged at once");
    }
}
