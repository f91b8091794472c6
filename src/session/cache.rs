//! Recently loaded sessions, so the requests of a busy session skip the store trip that
//! would only read the same state again.
//!
//! The cache is not an authority on whether a session is live: every request of a signed-in
//! user confirms the session row in the store in the same trip that loads the user
//! (`SignedIn::load_with` and `load_quick_or`), so a session revoked from anywhere, this
//! process or a shell command, stops at once. An entry is served for at most the store's
//! sliding slack (a minute at most), after which the next load goes to the store and slides
//! the expiry.

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::State;

/// Enough for every active session of a large team.
const CAPACITY: usize = 20_000;
/// How many of the least recently used entries go when the cache is full of live ones: an
/// eighth, so the scan that finds them is paid once per that many new sessions, not on each.
const EVICT: usize = CAPACITY / 8;

struct Entry {
    state: State,
    until: i64,
    /// When it was last put or served, in the cache's own ticks.
    used: u64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Vec<u8>, Entry>,
    tick: u64,
}

impl Entries {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Makes room for one more: drops the expired entries, and when that is not enough, the
    /// least recently used ones. A full cache thus forgets the sessions that went quiet, never
    /// the busy ones (emptying it all let a burst of new sessions push every user out).
    fn make_room(&mut self, now: i64) {
        self.map.retain(|_, e| now < e.until);
        if self.map.len() < CAPACITY {
            return;
        }
        let mut ticks: Vec<u64> = self.map.values().map(|e| e.used).collect();
        let nth = EVICT.min(ticks.len() - 1);
        let (_, oldest_kept, _) = ticks.select_nth_unstable(nth);
        let oldest_kept = *oldest_kept;
        self.map.retain(|_, e| e.used >= oldest_kept);
    }
}

#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<Entries>,
}

impl SessionCache {
    pub fn get(&self, row: &[u8], now: i64) -> Option<State> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let tick = entries.next_tick();
        let entry = entries.map.get_mut(row).filter(|e| now < e.until)?;
        entry.used = tick;
        Some(entry.state.clone())
    }

    pub fn put(&self, row: Vec<u8>, state: State, until: i64, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.map.len() >= CAPACITY && !entries.map.contains_key(&row) {
            entries.make_room(now);
        }
        let used = entries.next_tick();
        entries.map.insert(row, Entry { state, until, used });
    }

    pub fn remove(&self, row: &[u8]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.map.remove(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(v: &str) -> State {
        State::from([("uid".to_string(), v.to_string())])
    }

    #[test]
    fn serves_an_entry_until_its_time_and_forgets_removed_ones() {
        let cache = SessionCache::default();
        cache.put(b"a".to_vec(), state("1"), 100, 0);
        assert_eq!(cache.get(b"a", 99), Some(state("1")));
        assert_eq!(cache.get(b"a", 100), None, "stale at its time");
        assert_eq!(cache.get(b"b", 0), None);
        cache.remove(b"a");
        assert_eq!(cache.get(b"a", 0), None);
    }

    #[test]
    fn stays_bounded() {
        let cache = SessionCache::default();
        for i in 0..CAPACITY + 10 {
            cache.put(i.to_be_bytes().to_vec(), state("1"), 10, 0);
        }
        let len = cache.entries.lock().expect("lock").map.len();
        assert!(len <= CAPACITY, "{len} entries");
        assert_eq!(
            cache.get(&(CAPACITY + 9).to_be_bytes(), 0),
            Some(state("1"))
        );
    }

    #[test]
    fn a_full_cache_forgets_the_least_recently_used_entries_not_the_busy_ones() {
        let cache = SessionCache::default();
        let key = |i: usize| i.to_be_bytes().to_vec();
        cache.put(b"busy".to_vec(), state("busy"), 10, 0);
        for i in 0..CAPACITY - 1 {
            cache.put(key(i), state("1"), 10, 0);
            if i % 1000 == 0 {
                assert!(cache.get(b"busy", 0).is_some(), "served while in use");
            }
        }
        assert!(cache.get(b"busy", 0).is_some());
        // Full of live entries: a flood of new ones pushes out the quiet, not the busy.
        for i in CAPACITY..CAPACITY * 2 {
            cache.put(key(i), state("2"), 10, 0);
            if i % 1000 == 0 {
                assert!(cache.get(b"busy", 0).is_some(), "still there at {i}");
            }
        }
        assert_eq!(cache.get(b"busy", 0), Some(state("busy")));
        assert_eq!(cache.get(&key(0), 0), None, "the oldest quiet entry went");
        assert_eq!(cache.get(&key(CAPACITY * 2 - 1), 0), Some(state("2")));
        let len = cache.entries.lock().expect("lock").map.len();
        assert!(
            len <= CAPACITY && len > CAPACITY - EVICT - 1,
            "{len} entries"
        );
    }

    #[test]
    fn expired_entries_go_before_live_ones() {
        let cache = SessionCache::default();
        cache.put(b"live".to_vec(), state("live"), 100, 0);
        for i in 0..CAPACITY - 1 {
            cache.put(i.to_be_bytes().to_vec(), state("1"), 10, 0);
        }
        cache.put(b"new".to_vec(), state("new"), 100, 50);
        assert_eq!(cache.get(b"live", 50), Some(state("live")));
        assert_eq!(cache.entries.lock().expect("lock").map.len(), 2);
    }
}
