//! Recently loaded sessions, so the requests of a busy session skip the store trip that
//! would only read the same state again.
//!
//! The cache is not an authority on whether a session is live: every request of a signed-in
//! user confirms the session row in the store in the same trip that loads the user
//! (`SignedIn::load_with`), so a session revoked from anywhere, this process or a shell
//! command, stops at once. An entry is served for at most the store's sliding slack (a
//! minute at most), after which the next load goes to the store and slides the expiry.

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::State;

/// Enough for every active session of a large team; beyond it, the cache starts afresh.
const CAPACITY: usize = 20_000;

struct Entry {
    state: State,
    until: i64,
}

#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

impl SessionCache {
    pub fn get(&self, row: &[u8], now: i64) -> Option<State> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(row)
            .filter(|e| now < e.until)
            .map(|e| e.state.clone())
    }

    pub fn put(&self, row: Vec<u8>, state: State, until: i64, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(&row) {
            entries.retain(|_, e| now < e.until);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(row, Entry { state, until });
    }

    pub fn remove(&self, row: &[u8]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(row);
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
        let len = cache.entries.lock().expect("lock").len();
        assert!(len <= CAPACITY, "{len} entries");
        assert_eq!(
            cache.get(&(CAPACITY + 9).to_be_bytes(), 0),
            Some(state("1"))
        );
    }
}
