//! actix-session's storage backend over the `sessions` table, with a short-lived cache of
//! loaded sessions in front of it (see [`super::cache`]).

use std::collections::HashMap;
use std::sync::Arc;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::cache::SessionCache;
use super::{ORIGIN, ROW, USER_ID};
use crate::crypto;
use crate::store::{now, sessions, Store, StoreError};

pub(super) type State = HashMap<String, String>;

#[derive(Clone)]
pub struct SqliteSessionStore {
    store: Store,
    idle: i64,
    max: i64,
    cache: Arc<SessionCache>,
}

impl SqliteSessionStore {
    pub fn new(store: Store, idle: time::Duration, max: time::Duration) -> Self {
        SqliteSessionStore {
            store,
            idle: idle.whole_seconds(),
            max: max.whole_seconds(),
            cache: Arc::default(),
        }
    }

    /// Remembers `state` as the session `row`'s, marked with the row for the user check.
    fn remember(&self, row: Vec<u8>, mut state: State) -> State {
        let encoded = serde_json::Value::from(URL_SAFE_NO_PAD.encode(&row)).to_string();
        state.insert(ROW.to_string(), encoded);
        let t = now();
        let until = t + sessions::slide_slack(self.idle);
        self.cache.put(row, state.clone(), until, t);
        state
    }
}

fn hash(key: &SessionKey) -> Vec<u8> {
    crypto::sha256(key.as_ref().as_bytes()).to_vec()
}

pub(super) fn decode_row(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A fresh key that no row is stored under: what a session that ended meanwhile gets.
fn unbacked_key() -> Result<SessionKey, anyhow::Error> {
    crypto::random_string(32)
        .try_into()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn user_of(state: &State) -> Option<i64> {
    state
        .get(USER_ID)
        .and_then(|v| serde_json::from_str(v).ok())
}

/// The state as stored: without the row marker, which is derived from the key on load.
fn stored_text(mut state: State) -> Result<String, serde_json::Error> {
    state.remove(ROW);
    serde_json::to_string(&state)
}

/// Takes a new sign-in's origin out of the state: it goes to the row's columns (the sealed
/// ID token is not copied into every load of the session).
fn take_origin(state: &mut State) -> Option<sessions::Origin> {
    let text = state.remove(ORIGIN)?;
    serde_json::from_str(&text).ok()
}

impl SessionStore for SqliteSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let row = hash(session_key);
        if let Some(state) = self.cache.get(&row, now()) {
            return Ok(Some(state));
        }
        let (h, idle, max) = (row.clone(), self.idle, self.max);
        let raw = self
            .store
            .run(move |c| sessions::load(c, &h, idle, max))
            .await
            .map_err(|e: StoreError| LoadError::Other(e.into()))?;
        let Some(text) = raw else {
            self.cache.remove(&row);
            return Ok(None);
        };
        let state: State =
            serde_json::from_str(&text).map_err(|e| LoadError::Deserialization(e.into()))?;
        Ok(Some(self.remember(row, state)))
    }

    async fn save(&self, mut state: State, _ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key: SessionKey = crypto::random_string(32)
            .try_into()
            .map_err(|e| SaveError::Other(anyhow::anyhow!("{e}")))?;
        let uid = user_of(&state);
        let origin = take_origin(&mut state);
        let text = stored_text(state.clone()).map_err(|e| SaveError::Serialization(e.into()))?;
        let (row, limits) = (hash(&key), (self.idle, self.max));
        let h = row.clone();
        self.store
            .run(move |c| sessions::insert(c, &h, uid, &text, limits, origin.as_ref()))
            .await
            .map_err(|e: StoreError| SaveError::Other(e.into()))?;
        self.remember(row, state);
        Ok(key)
    }

    async fn update(
        &self,
        key: SessionKey,
        mut state: State,
        _ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        // A sign-in renews the session, so its origin goes through `save`; should one ever
        // reach an update, it is dropped rather than stored in the state.
        take_origin(&mut state);
        let uid = user_of(&state);
        let text = stored_text(state.clone()).map_err(|e| UpdateError::Serialization(e.into()))?;
        let (row, idle, max) = (hash(&key), self.idle, self.max);
        let h = row.clone();
        let found = self
            .store
            .run(move |c| sessions::update(c, &h, uid, &text, idle, max))
            .await
            .map_err(|e: StoreError| UpdateError::Other(e.into()))?;
        if found {
            self.remember(row, state);
            Ok(key)
        } else {
            // The row was revoked or expired meanwhile (a request racing a revoke): the
            // session ends. Saving the state again would write a new signed-in row and hand
            // the browser its cookie, bringing a revoked session back; the browser gets a key
            // with no row behind it instead, which loads as no session.
            self.cache.remove(&row);
            unbacked_key().map_err(UpdateError::Other)
        }
    }

    /// Nothing to do: loading the session already slid its expiry (`sessions::load`), which
    /// spares every request a second trip to the store.
    async fn update_ttl(&self, _key: &SessionKey, _ttl: &Duration) -> Result<(), anyhow::Error> {
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let row = hash(key);
        self.cache.remove(&row);
        self.store.run(move |c| sessions::delete(c, &row)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::CSRF;

    fn count(store: &Store, sql: &str) -> i64 {
        let conn = store.pool().get().expect("conn");
        conn.query_row(sql, [], |r| r.get(0)).expect("count")
    }

    /// A request that raced a revoke (its keep-alive refresh reaches `update` after the row
    /// was deleted) must not bring the session back under a new key.
    #[actix_web::test]
    async fn an_update_after_the_row_was_revoked_writes_no_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db"), 2).expect("store");
        store
            .pool()
            .get()
            .expect("conn")
            .execute_batch(
                "INSERT INTO teams (id, name, source, issuer, client_id, created_at)
                     VALUES ('acme', 'Acme', 'config', 'https://idp', 'c', 0);
                 INSERT INTO users (id, team_id, issuer, subject, email, role, role_source, joined_via, created_at)
                     VALUES (1, 'acme', 'https://idp', 's', 'a@acme.com', 'admin', 'manual', 'jit', 0),
                            (2, 'acme', 'https://idp', 't', 'b@acme.com', 'member', 'manual', 'jit', 0);",
            )
            .expect("seed");
        let sessions = SqliteSessionStore::new(
            store.clone(),
            time::Duration::hours(12),
            time::Duration::days(7),
        );
        let state = State::from([
            (USER_ID.to_string(), "1".to_string()),
            (CSRF.to_string(), "\"t\"".to_string()),
        ]);
        let ttl = Duration::hours(12);
        let key = sessions.save(state.clone(), &ttl).await.expect("save");
        assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 1);
        // The row is live for its own user only: a state naming another user does not pass.
        {
            let conn = store.pool().get().expect("conn");
            let live = |uid| crate::store::users::for_live_session(&conn, uid, &hash(&key));
            assert!(live(1).expect("query").is_some());
            assert!(live(2).expect("query").is_none(), "not another user's row");
        }

        // Revoked meanwhile, from anywhere.
        store
            .pool()
            .get()
            .expect("conn")
            .execute_batch("DELETE FROM sessions")
            .expect("revoke");
        let new_key = sessions.update(key, state, &ttl).await.expect("update");
        assert_eq!(
            count(&store, "SELECT count(*) FROM sessions"),
            0,
            "no row was written for the revoked session"
        );
        assert!(sessions.load(&new_key).await.expect("load").is_none());
    }
}
