//! The meter: per-token, per-UTC-day counts of verified requests and each token's last use,
//! kept in memory and written to the store by the flush thread every second and at shutdown
//! (see [`super::flush`]).
//!
//! Verification records from every worker thread at once, so the counters are sharded by
//! thread: each thread takes its own shard's lock, which no other worker contends for; only
//! the once-a-second flush visits every shard.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::store::usage::{self, CounterKey};
use crate::store::{now, Store, StoreError};

/// More shards than a machine running one portal has workers; threads past that share.
const SHARDS: usize = 16;

/// (token id, UTC day number since the epoch).
type DayKey = (i64, i64);

#[derive(Default)]
struct Shard {
    pending: foldhash::HashMap<DayKey, (i64, Arc<str>)>,
    last_used: foldhash::HashMap<i64, i64>,
}

/// Each shard on cache lines of its own, so two workers' counters never share one.
#[repr(align(128))]
#[derive(Default)]
struct Padded(Mutex<Shard>);

/// The shard of the calling thread: threads are dealt shards in turn as they first record.
fn this_threads_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    MINE.with(|m| *m)
}

/// Per-token, per-UTC-day counts of verified requests not yet in the store.
pub struct Meter {
    enabled: bool,
    shards: Box<[Padded]>,
    healthy: AtomicBool,
}

impl Meter {
    pub fn new(enabled: bool) -> Meter {
        Meter {
            enabled,
            shards: (0..SHARDS).map(|_| Padded::default()).collect(),
            healthy: AtomicBool::new(true),
        }
    }

    /// False after a flush failed: verification then fails closed until the store answers.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Counts one verified request of `token_id` (team `team`) at `at`. Allocates only for a
    /// token's first request of a day on this thread.
    pub fn record(&self, token_id: i64, team: &Arc<str>, at: i64) {
        let mut shard = self.shards[this_threads_shard()]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shard.used(token_id, at);
        if self.enabled {
            shard
                .pending
                .entry((token_id, at.div_euclid(86_400)))
                .or_insert_with(|| (0, team.clone()))
                .0 += 1;
        }
    }

    /// Everything the shards hold, merged, leaving them empty.
    fn take(&self) -> Shard {
        let mut all = Shard::default();
        for s in self.shards.iter() {
            let taken = std::mem::take(&mut *s.0.lock().unwrap_or_else(PoisonError::into_inner));
            all.merge(taken);
        }
        all
    }

    /// Writes everything pending in one transaction; on failure the counts are put back.
    /// A missing database file counts as a failure (see [`Store::file_present`]), so
    /// verification fails closed instead of metering into a deleted file.
    pub fn flush(&self, store: &Store) -> Result<(), StoreError> {
        if let Err(e) = store.file_present() {
            self.healthy.store(false, Ordering::Relaxed);
            return Err(e);
        }
        let taken = self.take();
        if taken.pending.is_empty() && taken.last_used.is_empty() {
            return store
                .run_blocking(|c| crate::store::ping(c))
                .inspect(|_| self.healthy.store(true, Ordering::Relaxed));
        }
        let counters: Vec<(CounterKey, i64)> = taken
            .pending
            .iter()
            .map(|((token_id, day), (n, team))| {
                (
                    CounterKey {
                        team_id: team.to_string(),
                        token_id: *token_id,
                        day: day_string(*day),
                        unit: "requests".into(),
                    },
                    *n,
                )
            })
            .collect();
        let used: Vec<(i64, i64)> = taken.last_used.iter().map(|(k, v)| (*k, *v)).collect();
        match store.run_blocking(|c| usage::flush(c, &counters, &used)) {
            Ok(()) => {
                self.healthy.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Relaxed);
                // Back into one shard: the next flush visits them all anyway.
                self.shards[0]
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .merge(taken);
                Err(e)
            }
        }
    }
}

impl Shard {
    fn merge(&mut self, other: Shard) {
        for (k, (n, team)) in other.pending {
            self.pending.entry(k).or_insert((0, team)).0 += n;
        }
        for (k, at) in other.last_used {
            self.used(k, at);
        }
    }

    /// Notes a use of `token_id` at `at`. Threads past SHARDS share a shard, and one may record
    /// an earlier second after another recorded a later one: the last use is the latest
    /// second, not the last one written.
    fn used(&mut self, token_id: i64, at: i64) {
        let last = self.last_used.entry(token_id).or_insert(at);
        *last = (*last).max(at);
    }
}

/// `YYYY-MM-DD` of a day number since the Unix epoch (UTC).
pub fn day_string(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

pub fn today() -> String {
    day_of(now())
}

/// The UTC date (`YYYY-MM-DD`) a Unix time falls on: usage is counted per UTC day, so a
/// month's statement holds exactly the requests made within its UTC bounds.
pub fn day_of(ts: i64) -> String {
    day_string(ts.div_euclid(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up_in_one_take() {
        let meter = Arc::new(Meter::new(true));
        let team: Arc<str> = Arc::from("acme");
        let threads: Vec<_> = (0..SHARDS + 3)
            .map(|i| {
                let (meter, team) = (meter.clone(), team.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        meter.record(7, &team, 86_400 + i as i64);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let taken = meter.take();
        assert_eq!(
            taken.pending.get(&(7, 1)).map(|c| c.0),
            Some(100 * (SHARDS as i64 + 3))
        );
        assert_eq!(taken.last_used.get(&7), Some(&(86_400 + SHARDS as i64 + 2)));
        assert!(meter.take().pending.is_empty(), "taking empties the shards");
    }

    #[test]
    fn metering_off_keeps_last_use_only() {
        let meter = Meter::new(false);
        meter.record(7, &Arc::from("acme"), 5);
        let taken = meter.take();
        assert!(taken.pending.is_empty());
        assert_eq!(taken.last_used.get(&7), Some(&5));
    }

    #[test]
    fn day_strings_are_utc_dates() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(20_000), "2024-10-04");
        // 2025-12-01T00:00:00Z is 1_764_547_200: its last second before is still November.
        assert_eq!(day_of(1_764_547_199), "2025-11-30");
        assert_eq!(day_of(1_764_547_200), "2025-12-01");
        let (start, end) = crate::domain::billing::Month::parse("2025-11")
            .expect("month")
            .bounds();
        assert_eq!(
            (day_of(start), day_of(end - 1)),
            ("2025-11-01".into(), "2025-11-30".into())
        );
    }
}
