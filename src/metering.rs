//! The verification hot path's state: an in-memory index of verifiable tokens (kept exact:
//! every change goes through the store first, then here, before the response) and usage
//! counters batched in memory and flushed to the store every second and at shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::store::tokens::{self, Verifiable};
use crate::store::usage::{self, CounterKey};
use crate::store::{now, Store, StoreError};

pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Token secret hash -> what verification answers with.
#[derive(Default)]
pub struct TokenIndex {
    map: RwLock<HashMap<[u8; 32], Arc<Verifiable>>>,
}

impl TokenIndex {
    /// Replaces the index with what the store says (at start and after bulk changes).
    pub fn reload(&self, store: &Store) -> Result<(), StoreError> {
        let rows = store.run_blocking(|c| tokens::verifiable(c))?;
        let fresh: HashMap<[u8; 32], Arc<Verifiable>> = rows
            .into_iter()
            .filter_map(|(h, v)| Some((<[u8; 32]>::try_from(h.as_slice()).ok()?, Arc::new(v))))
            .collect();
        if let Ok(mut m) = self.map.write() {
            *m = fresh;
        }
        Ok(())
    }

    pub fn insert(&self, hash: [u8; 32], v: Verifiable) {
        if let Ok(mut m) = self.map.write() {
            m.insert(hash, Arc::new(v));
        }
    }

    pub fn remove_id(&self, id: i64) {
        if let Ok(mut m) = self.map.write() {
            m.retain(|_, v| v.id != id);
        }
    }

    /// The token for this secret hash, if it is still valid at `at`.
    pub fn lookup(&self, hash: &[u8; 32], at: i64) -> Option<Arc<Verifiable>> {
        let m = self.map.read().ok()?;
        let v = m.get(hash)?;
        if v.expires_at.is_some_and(|e| e <= at) {
            return None;
        }
        Some(v.clone())
    }
}

/// (token id, UTC day number since the epoch).
type DayKey = (i64, i64);

/// Per-token, per-UTC-day counts of verified requests not yet in the store.
pub struct Meter {
    enabled: bool,
    pending: Mutex<HashMap<DayKey, (i64, Arc<str>)>>,
    last_used: Mutex<HashMap<i64, i64>>,
    healthy: AtomicBool,
}

impl Meter {
    pub fn new(enabled: bool) -> Meter {
        Meter {
            enabled,
            pending: Mutex::new(HashMap::new()),
            last_used: Mutex::new(HashMap::new()),
            healthy: AtomicBool::new(true),
        }
    }

    /// False after a flush failed: verification then fails closed until the store answers.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn record(&self, token: &Verifiable, at: i64) {
        if let Ok(mut l) = self.last_used.lock() {
            l.insert(token.id, at);
        }
        if !self.enabled {
            return;
        }
        if let Ok(mut p) = self.pending.lock() {
            let e = p
                .entry((token.id, at.div_euclid(86_400)))
                .or_insert_with(|| (0, Arc::from(token.team_id.as_str())));
            e.0 += 1;
        }
    }

    /// Writes everything pending in one transaction; on failure the counts are put back.
    /// A missing database file counts as a failure (see [`Store::file_present`]), so
    /// verification fails closed instead of metering into a deleted file.
    pub fn flush(&self, store: &Store) -> Result<(), StoreError> {
        if let Err(e) = store.file_present() {
            self.healthy.store(false, Ordering::Relaxed);
            return Err(e);
        }
        let pending = self
            .pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        let last_used = self
            .last_used
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        if pending.is_empty() && last_used.is_empty() {
            return store
                .run_blocking(|c| crate::store::ping(c))
                .inspect(|_| self.healthy.store(true, Ordering::Relaxed));
        }
        let counters: Vec<(CounterKey, i64)> = pending
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
        let used: Vec<(i64, i64)> = last_used.iter().map(|(k, v)| (*k, *v)).collect();
        match store.run_blocking(|c| usage::flush(c, &counters, &used)) {
            Ok(()) => {
                self.healthy.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Relaxed);
                if let Ok(mut p) = self.pending.lock() {
                    for (k, (n, team)) in pending {
                        p.entry(k).or_insert((0, team)).0 += n;
                    }
                }
                if let Ok(mut l) = self.last_used.lock() {
                    for (k, v) in last_used {
                        l.entry(k).or_insert(v);
                    }
                }
                Err(e)
            }
        }
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

/// Runs the periodic flush (and housekeeping) on its own thread until `stop` is set.
pub fn spawn_flusher(
    meter: Arc<Meter>,
    store: Store,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("usage-flush".into())
        .spawn(move || {
            let mut ticks: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::park_timeout(FLUSH_INTERVAL);
                if let Err(e) = meter.flush(&store) {
                    tracing::error!(error = %e, "could not write usage counters; will retry");
                }
                ticks += 1;
                if ticks.is_multiple_of(600) {
                    let _ = store.run_blocking(|c| -> Result<(), StoreError> {
                        crate::store::sessions::purge_expired(c)?;
                        crate::store::logins::purge_expired(c)?;
                        Ok(())
                    });
                }
            }
        })
        .expect("the flush thread starts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_strings_are_utc_dates() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(20_000), "2024-10-04");
        // 2025-12-01T00:00:00Z is 1_764_547_200: its last second before is still November.
        assert_eq!(day_of(1_764_547_199), "2025-11-30");
        assert_eq!(day_of(1_764_547_200), "2025-12-01");
        let (start, end) = crate::billing::Month::parse("2025-11")
            .expect("month")
            .bounds();
        assert_eq!(
            (day_of(start), day_of(end - 1)),
            ("2025-11-01".into(), "2025-11-30".into())
        );
    }
}
