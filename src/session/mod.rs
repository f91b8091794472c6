//! Sessions: actix-session with a server-side store in SQLite (so a session is revoked by
//! deleting its row) and a typed wrapper so handlers never use string keys.

mod cache;
mod store;

use actix_session::Session;

use crate::crypto;

pub use store::SqliteSessionStore;

const USER_ID: &str = "uid";
const CSRF: &str = "csrf";
const BROWSER: &str = "browser";
/// Set by the store on load, never saved: which row this session is, so the store can
/// confirm it is still live in the same trip that loads the signed-in user.
const ROW: &str = "row";
/// 128 bits: the token is in every form, 100 times on an admin's team page.
const CSRF_BYTES: usize = 16;
/// When the session's cookie was last sent (unix seconds).
const RENEWED: &str = "renewed";

/// Typed access to what teamportal keeps in a session.
pub struct TypedSession<'a>(pub &'a Session);

impl TypedSession<'_> {
    pub fn user_id(&self) -> Option<i64> {
        self.0.get::<i64>(USER_ID).ok().flatten()
    }

    /// The SHA-256 of this session's key: its row in the store.
    pub fn row(&self) -> Option<Vec<u8>> {
        let text = self.0.get::<String>(ROW).ok().flatten()?;
        store::decode_row(&text)
    }

    /// Signs a user in: a new session id (no fixation) and a fresh CSRF token.
    pub fn sign_in(&self, user_id: i64) {
        self.0.renew();
        let browser = self.browser_id();
        self.0.clear();
        let _ = self.0.insert(USER_ID, user_id);
        let _ = self.0.insert(BROWSER, browser);
        let _ = self.0.insert(CSRF, crypto::random_string(CSRF_BYTES));
        let _ = self.0.insert(RENEWED, crate::store::now());
    }

    /// Keeps the browser's cookie from expiring while the session is in use. The cookie
    /// lives as long as the idle timeout and is sent only when the session's state changes
    /// (not with every response: encrypting and sending it again cost every page), so the
    /// state is changed once `every` seconds have passed since it was last sent. Saving the
    /// state also slides the session row's expiry.
    pub fn keep_alive(&self, every: i64) {
        let t = crate::store::now();
        match self.0.get::<i64>(RENEWED) {
            Ok(Some(at)) if (0..every).contains(&(t - at)) => {}
            _ => {
                let _ = self.0.insert(RENEWED, t);
            }
        }
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }

    /// The CSRF token of this session, created on first use.
    pub fn csrf_token(&self) -> String {
        if let Ok(Some(t)) = self.0.get::<String>(CSRF) {
            return t;
        }
        let t = crypto::random_string(CSRF_BYTES);
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
