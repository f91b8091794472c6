//! Sessions: actix-session with a server-side store in SQLite (so a session is revoked by
//! deleting its row) and a typed wrapper so handlers never use string keys. A browser that
//! is not signed in has no session: its forms and pending sign-ins use [`BrowserCookies`].

mod browser;
mod cache;
mod flash;
mod store;

use actix_session::Session;
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::store::sessions::Origin;

pub use browser::BrowserCookies;
pub use flash::Once;
pub use store::SqliteSessionStore;

const USER_ID: &str = "uid";
const CSRF: &str = "csrf";
/// A finished sign-in as someone else, waiting for this browser to confirm it.
const HELD: &str = "held_sign_in";
/// Set by the store on load, never saved: which row this session is, so the store can
/// confirm it is still live in the same trip that loads the signed-in user.
const ROW: &str = "row";
/// 128 bits: the token is in every form, 100 times on an admin's team page.
const CSRF_BYTES: usize = 16;
/// When the session's cookie was last sent (unix seconds).
const RENEWED: &str = "renewed";
/// Where a new sign-in came from ([`crate::store::sessions::Origin`]): taken out of the state
/// by the store when it saves the new session, and written to the row's own columns.
const ORIGIN: &str = "origin";

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

    /// Signs a user in: a new session id (no fixation) and a fresh CSRF token; `origin` is
    /// kept with the new session's row.
    pub fn sign_in(&self, user_id: i64, origin: &Origin) {
        self.0.renew();
        self.0.clear();
        let _ = self.0.insert(USER_ID, user_id);
        let _ = self.0.insert(ORIGIN, origin);
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

    /// Keeps a finished sign-in as another user until the browser confirms or cancels it;
    /// it replaces one held before.
    pub fn hold_sign_in(&self, held: &HeldSignIn) {
        let _ = self.0.insert(HELD, held);
    }

    /// The sign-in held for confirmation, if any (left in place).
    pub fn held_sign_in(&self) -> Option<HeldSignIn> {
        self.0.get::<HeldSignIn>(HELD).ok().flatten()
    }

    /// Forgets the held sign-in; the session stays signed in as before.
    pub fn drop_held_sign_in(&self) {
        let _ = self.0.remove(HELD);
    }
}

/// A sign-in that completed in a browser already signed in as someone else: the verified
/// identity, kept in that browser's session (nowhere else) until it is confirmed, so a
/// sign-in forced on the browser cannot replace its session unseen. Nothing about it is in
/// the store until then: no account, no audit row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldSignIn {
    /// Random: the confirmation form names the hold it was shown for, so a sign-in held
    /// later (in another tab, or forced meanwhile) is not what a click confirms.
    pub id: String,
    pub team_id: String,
    pub issuer: String,
    pub subject: String,
    pub email: String,
    /// The IdP's own `email_verified` (what `admin_email` needs).
    #[serde(default)]
    pub email_verified: bool,
    pub name: String,
    pub groups: Option<Vec<String>>,
    pub return_to: Option<String>,
    /// The IdP's `sid` and the sealed ID token, kept with the session once confirmed.
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub id_token_enc: Option<Vec<u8>>,
    /// Unix seconds; a hold is confirmed within a pending sign-in's lifetime or not at all.
    pub held_at: i64,
}
