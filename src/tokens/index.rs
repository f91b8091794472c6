//! The verification index: every verifiable token in memory, keyed by its secret's SHA-256,
//! with the answer verification gives for it built once. It is the only thing verification
//! consults, so an unknown token is refused without any database work.
//!
//! The index follows the database in one order: every change that matters to it raises the
//! store's token version in the changing transaction (see migration 0007), and the index
//! applies, one catch-up at a time, the rows stamped above the version it applied last. A
//! handler that changes tokens catches up before it answers; a change made by another process
//! (`admin create-token`) arrives through the same catch-up, polled by the flush thread
//! (see [`super::flush`]).

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use rusqlite::Connection;
use serde::Serialize;

use crate::domain::text::header_safe;
use crate::store::tokens::{self, Verifiable};
use crate::store::{Store, StoreError};

/// A token as verification answers for it: the headers and the JSON body are built when the
/// token enters the index, so a verified request clones reference-counted bytes and
/// formats nothing.
pub struct Indexed {
    pub token: Verifiable,
    /// The team id, shared with the meter's counters.
    pub team: Arc<str>,
    pub team_header: HeaderValue,
    pub name_header: HeaderValue,
    pub id_header: HeaderValue,
    /// `{"team_id": ..., "token_name": ..., "token_id": ...}`
    pub body: Bytes,
}

#[derive(Serialize)]
struct Verified<'a> {
    team_id: &'a str,
    token_name: &'a str,
    token_id: i64,
}

impl Indexed {
    pub fn new(token: Verifiable) -> Indexed {
        let body = serde_json::to_vec(&Verified {
            team_id: &token.team_id,
            token_name: &token.name,
            token_id: token.id,
        })
        .unwrap_or_default();
        Indexed {
            team: Arc::from(token.team_id.as_str()),
            team_header: safe_header(&token.team_id),
            name_header: safe_header(&token.name),
            id_header: HeaderValue::from(token.id),
            body: Bytes::from(body),
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
    map: RwLock<foldhash::HashMap<[u8; 32], Arc<Indexed>>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_for_a_token_is_built_once_with_safe_headers() {
        let t = Indexed::new(Verifiable {
            id: 42,
            team_id: "acme".into(),
            name: "déploy\u{202e}".into(),
            expires_at: None,
        });
        assert_eq!(t.id_header, "42");
        assert_eq!(t.team_header, "acme");
        assert!(t.name_header.to_str().is_ok_and(|v| v.is_ascii()));
        let body: serde_json::Value = serde_json::from_slice(&t.body).expect("JSON");
        assert_eq!(body["token_id"], 42);
        assert_eq!(body["team_id"], "acme");
        assert_eq!(&*t.team, "acme");
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
}
