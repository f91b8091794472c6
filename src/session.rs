//! Sessions: actix-session with a server-side store in SQLite (so a session is revoked by
//! deleting its row) and a typed wrapper so handlers never use string keys.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_session::Session;
use actix_web::cookie::time::Duration;

use crate::crypto;
use crate::store::{sessions, Store, StoreError};

type State = HashMap<String, String>;

const USER_ID: &str = "uid";
const CSRF: &str = "csrf";
const BROWSER: &str = "browser";

/// actix-session storage backend over the `sessions` table.
#[derive(Clone)]
pub struct SqliteSessionStore {
    store: Store,
    idle: i64,
    max: i64,
}

impl SqliteSessionStore {
    pub fn new(store: Store, idle: time::Duration, max: time::Duration) -> Self {
        SqliteSessionStore {
            store,
            idle: idle.whole_seconds(),
            max: max.whole_seconds(),
        }
    }
}

fn hash(key: &SessionKey) -> Vec<u8> {
    crypto::sha256(key.as_ref().as_bytes()).to_vec()
}

fn user_of(state: &State) -> Option<i64> {
    state
        .get(USER_ID)
        .and_then(|v| serde_json::from_str(v).ok())
}

impl SessionStore for SqliteSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let (h, idle, max) = (hash(session_key), self.idle, self.max);
        let raw = self
            .store
            .run(move |c| sessions::load(c, &h, idle, max))
            .await
            .map_err(|e: StoreError| LoadError::Other(e.into()))?;
        match raw {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(&self, state: State, _ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key: SessionKey = crypto::random_string(32)
            .try_into()
            .map_err(|e| SaveError::Other(anyhow::anyhow!("{e}")))?;
        let text = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let (h, uid, idle, max) = (hash(&key), user_of(&state), self.idle, self.max);
        self.store
            .run(move |c| sessions::insert(c, &h, uid, &text, idle, max))
            .await
            .map_err(|e: StoreError| SaveError::Other(e.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let text =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let (h, uid, idle, max) = (hash(&key), user_of(&state), self.idle, self.max);
        let found = self
            .store
            .run(move |c| sessions::update(c, &h, uid, &text, idle, max))
            .await
            .map_err(|e: StoreError| UpdateError::Other(e.into()))?;
        if found {
            Ok(key)
        } else {
            // The row was revoked or expired meanwhile: start a fresh session instead of
            // resurrecting the old one.
            self.save(state, ttl)
                .await
                .map_err(|e| UpdateError::Other(anyhow::anyhow!(e.to_string())))
        }
    }

    /// Nothing to do: loading the session already slid its expiry (`sessions::load`), which
    /// spares every request a second trip to the store.
    async fn update_ttl(&self, _key: &SessionKey, _ttl: &Duration) -> Result<(), anyhow::Error> {
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let h = hash(key);
        self.store.run(move |c| sessions::delete(c, &h)).await?;
        Ok(())
    }
}

/// Typed access to what teamportal keeps in a session.
pub struct TypedSession<'a>(pub &'a Session);

impl TypedSession<'_> {
    pub fn user_id(&self) -> Option<i64> {
        self.0.get::<i64>(USER_ID).ok().flatten()
    }

    /// Signs a user in: a new session id (no fixation) and a fresh CSRF token.
    pub fn sign_in(&self, user_id: i64) {
        self.0.renew();
        let browser = self.browser_id();
        self.0.clear();
        let _ = self.0.insert(USER_ID, user_id);
        let _ = self.0.insert(BROWSER, browser);
        let _ = self.0.insert(CSRF, crypto::random_string(24));
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }

    /// The CSRF token of this session, created on first use.
    pub fn csrf_token(&self) -> String {
        if let Ok(Some(t)) = self.0.get::<String>(CSRF) {
            return t;
        }
        let t = crypto::random_string(24);
        let _ = self.0.insert(CSRF, &t);
        t
    }

    pub fn csrf_matches(&self, given: &str) -> bool {
        match self.0.get::<String>(CSRF) {
            Ok(Some(t)) => !given.is_empty() && crypto::same(&t, given),
            _ => false,
        }
    }

    /// A random id for this browser, to bind pending SSO sign-ins to it.
    pub fn browser_id(&self) -> String {
        if let Ok(Some(b)) = self.0.get::<String>(BROWSER) {
            return b;
        }
        let b = crypto::random_string(24);
        let _ = self.0.insert(BROWSER, &b);
        b
    }

    pub fn has_browser_id(&self) -> Option<String> {
        self.0.get::<String>(BROWSER).ok().flatten()
    }
}
