//! The verification hot path's state: an in-memory index of verifiable tokens, the only
//! thing verification consults, and usage counters batched in memory and flushed to the store
//! every second and at shutdown.
//!
//! The index follows the database in one order: every change that matters to it raises the
//! store's token version in the changing transaction (see migration 0007), and the index
//! applies, one catch-up at a time, the rows stamped above the version it applied last. A
//! handler that changes tokens catches up before it answers; a change made by another process
//! (`admin create-token`) arrives through the same catch-up, polled every second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use rusqlite::Connection;

use crate::domain::text::header_safe;
use crate::store::tokens::{self, Verifiable};
use crate::store::usage::{self, CounterKey};
use crate::store::{now, Store, StoreError};

pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Flushes between two counts of active sessions for the metrics (five seconds).
const SESSIONS_EVERY: u64 = 5;
/// How often the token index looks for tokens another process (`admin create-token`) wrote:
/// one single-row read, so a shell-made token verifies within a fifth of a second while an
/// unknown token still never reaches the database.
pub const INDEX_POLL: Duration = Duration::from_millis(200);

/// A token as verification answers for it, with its header values built once.
pub struct Indexed {
    pub token: Verifiable,
    pub team_header: HeaderValue,
    pub name_header: HeaderValue,
}

impl Indexed {
    fn new(token: Verifiable) -> Indexed {
        Indexed {
            team_header: safe_header(&token.team_id),
            name_header: safe_header(&token.name),
            token,
        }
    }
}

/// `header_safe` leaves printable ASCII only, which every header value accepts.
fn safe_header(value: &str) -> HeaderValue {
    HeaderValue::from_str(&header_safe(value)).unwrap_or(HeaderValue::from_static("-"))
}

/// Token secret hash -> what verification answers with.
pub struct TokenIndex {
    map: RwLock<HashMap<[u8; 32], Arc<Indexed>>>,
    /// The store's token version the map reflects. Holding this lock is what makes catch-ups
    /// one at a time: each reads a snapshot no older than the one applied before it, so a
    /// slow catch-up can never put back a token that a later one took out.
    applied: Mutex<i64>,
}

impl Default for TokenIndex {
    fn default() -> Self {
        TokenIndex {
            map: RwLock::default(),
            // Below any version: the first catch-up reads every token.
            applied: Mutex::new(-1),
        }
    }
}

impl TokenIndex {
    /// Applies what changed in the store since the last catch-up; an unchanged token version
    /// costs one single-row read. True when something was applied.
    pub fn catch_up(&self, conn: &Connection) -> Result<bool, StoreError> {
        let mut applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(changes) = tokens::changes_since(conn, *applied)? else {
            return Ok(false);
        };
        // Built before taking the map's lock: verification waits only for the swap-ins.
        let updates: Vec<([u8; 32], Option<Arc<Indexed>>)> = changes
            .rows
            .into_iter()
            .filter_map(|c| {
                let hash = <[u8; 32]>::try_from(c.hash.as_slice()).ok()?;
                Some((hash, c.live.then(|| Arc::new(Indexed::new(c.token)))))
            })
            .collect();
        {
            let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
            for (hash, entry) in updates {
                match entry {
                    Some(e) => map.insert(hash, e),
                    None => map.remove(&hash),
                };
            }
        }
        *applied = changes.version;
        Ok(true)
    }

    /// [`TokenIndex::catch_up`] off the executor, for handlers that just changed tokens.
    pub async fn catch_up_with(self: &Arc<Self>, store: &Store) -> Result<(), StoreError> {
        let index = self.clone();
        store.run(move |c| index.catch_up(c).map(|_| ())).await
    }

    /// The token for this secret hash, if it is still valid at `at`.
    pub fn lookup(&self, hash: &[u8; 32], at: i64) -> Option<Arc<Indexed>> {
        let m = self.map.read().ok()?;
        let v = m.get(hash)?;
        if v.token.expires_at.is_some_and(|e| e <= at) {
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

    #[test]
    fn the_index_applies_only_what_changed_and_skips_a_catch_up_when_nothing_did() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db"), 2).expect("store");
        let conn = store.pool().get().expect("conn");
        conn.execute_batch(
            "INSERT INTO teams (id, name, source, issuer, client_id, created_at)
                 VALUES ('acme', 'Acme', 'config', 'https://idp', 'c', 0);
             INSERT INTO users (id, team_id, issuer, subject, email, role, role_source, joined_via, created_at)
                 VALUES (1, 'acme', 'https://idp', 's', 'a@acme.com', 'admin', 'manual', 'jit', 0);
             INSERT INTO api_tokens (id, team_id, name, prefix, secret_hash, secret_enc, created_by, personal, created_at)
                 VALUES (7, 'acme', 'ci', 'tp_', zeroblob(32), x'00', 1, 1, 0);",
        )
        .expect("seed");
        let index = TokenIndex::default();
        let hash = [0u8; 32];
        assert!(index.catch_up(&conn).expect("first"));
        assert_eq!(index.lookup(&hash, 0).map(|t| t.token.id), Some(7));
        assert!(!index.catch_up(&conn).expect("no-op"), "nothing changed");
        // The creator's removal alone takes a personal token out; a rename comes through.
        conn.execute_batch("UPDATE users SET active = 0 WHERE id = 1")
            .expect("remove");
        assert!(index.catch_up(&conn).expect("removal"));
        assert!(index.lookup(&hash, 0).is_none());
        conn.execute_batch("UPDATE users SET active = 1 WHERE id = 1; UPDATE api_tokens SET name = 'deploy' WHERE id = 7")
            .expect("restore");
        assert!(index.catch_up(&conn).expect("restore"));
        assert_eq!(
            index
                .lookup(&hash, 0)
                .map(|t| t.token.name.clone())
                .as_deref(),
            Some("deploy")
        );
        // last_used_at (written every second by the flush) is no change to follow.
        conn.execute_batch("UPDATE api_tokens SET last_used_at = 5 WHERE id = 7")
            .expect("used");
        assert!(!index.catch_up(&conn).expect("last used"));
        conn.execute_batch("UPDATE api_tokens SET revoked_at = 9 WHERE id = 7")
            .expect("revoke");
        assert!(index.catch_up(&conn).expect("revoke"));
        assert!(index.lookup(&hash, 0).is_none());
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
