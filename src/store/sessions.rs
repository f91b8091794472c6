//! Server-side session rows. The cookie carries only a random key; the row is found by the
//! key's SHA-256, so a copy of the database does not hand out live sessions.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{now, StoreError};

/// Where a signed-in session came from, written with its row when it is created: what
/// `/sessions` shows and what logout needs. Carried in the session's state from the sign-in
/// to the store's save, never stored in the state itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub address: String,
    /// The User-Agent, stripped of control characters and cut to [`BROWSER_MAX`] characters.
    pub browser: String,
    /// The IdP's `sid` claim, for back-channel logout.
    pub sid: Option<String>,
    /// The ID token, sealed with the instance key under [`ID_TOKEN_CONTEXT`].
    pub id_token_enc: Option<Vec<u8>>,
}

pub const BROWSER_MAX: usize = 256;
/// The associated data a session's ID token is sealed under.
pub const ID_TOKEN_CONTEXT: &str = "session id_token";

/// A live session's state. Loading means the session is in use, so its idle expiry slides
/// here too, in the same trip to the store. Sliding is a write: it is done only once the
/// expiry would move by more than a minute (a hundredth of the idle time when shorter), so
/// the requests of a busy session cost no write each.
pub fn load(
    conn: &Connection,
    key_hash: &[u8],
    idle: i64,
    max: i64,
) -> Result<Option<String>, StoreError> {
    let t = now();
    let slack = slide_slack(idle);
    let row: Option<(String, bool)> = conn
        .prepare_cached(
            "SELECT state, expires_at < min(?3, created_at + ?4) - ?5 FROM sessions
             WHERE key_hash = ?1 AND expires_at > ?2",
        )?
        .query_row(params![key_hash, t, t + idle, max, slack], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((state, due)) = row else {
        return Ok(None);
    };
    if due {
        // The same write records when it was last seen: to the slack, which is what the
        // sessions page shows ("last seen" to the minute).
        conn.prepare_cached(
            "UPDATE sessions SET expires_at = min(?2, created_at + ?3), last_seen_at = ?4 WHERE key_hash = ?1 AND expires_at > ?4",
        )?
        .execute(params![key_hash, t + idle, max, t])?;
    }
    Ok(Some(state))
}

/// How far the idle expiry may lag before loading a session slides it: a minute, or a
/// hundredth of the idle time when that is shorter.
pub fn slide_slack(idle: i64) -> i64 {
    (idle / 100).min(60)
}

/// Inserts a new session row with a fresh public id; its absolute expiry is fixed from now.
pub fn insert(
    conn: &Connection,
    key_hash: &[u8],
    user_id: Option<i64>,
    state: &str,
    (idle, max): (i64, i64),
    origin: Option<&Origin>,
) -> Result<(), StoreError> {
    let t = now();
    let o = origin.cloned().unwrap_or_default();
    conn.execute(
        "INSERT INTO sessions (key_hash, user_id, state, created_at, expires_at, public_id,
                               last_seen_at, address, browser, sid, id_token_enc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4, ?7, ?8, ?9, ?10)",
        params![
            key_hash,
            user_id,
            state,
            t,
            t + idle.min(max),
            crate::crypto::random_string(12),
            o.address,
            o.browser,
            o.sid,
            o.id_token_enc
        ],
    )?;
    Ok(())
}

/// Updates the state and slides the idle expiry, never past the absolute limit.
/// Returns false when the row is gone (revoked or expired).
pub fn update(
    conn: &Connection,
    key_hash: &[u8],
    user_id: Option<i64>,
    state: &str,
    idle: i64,
    max: i64,
) -> Result<bool, StoreError> {
    let t = now();
    let n = conn.execute(
        "UPDATE sessions SET state = ?2, user_id = ?3, expires_at = min(?4, created_at + ?5),
                             last_seen_at = ?6
         WHERE key_hash = ?1 AND expires_at > ?6",
        params![key_hash, state, user_id, t + idle, max, t],
    )?;
    Ok(n == 1)
}

pub fn delete(conn: &Connection, key_hash: &[u8]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sessions WHERE key_hash = ?1", [key_hash])?;
    Ok(())
}

pub use crate::domain::session_list::Listed;

/// The user's live sessions, the most recently used first.
pub fn list_for_user(
    conn: &Connection,
    user_id: i64,
    current: &[u8],
) -> Result<Vec<Listed>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT public_id, created_at, coalesce(last_seen_at, created_at), address, browser,
                key_hash = ?2
         FROM sessions WHERE user_id = ?1 AND expires_at > ?3 AND public_id IS NOT NULL
         ORDER BY coalesce(last_seen_at, created_at) DESC, created_at DESC",
    )?;
    let rows = stmt
        .query_map(params![user_id, current, now()], |r| {
            Ok(Listed {
                public_id: r.get(0)?,
                created_at: r.get(1)?,
                last_seen_at: r.get(2)?,
                address: r.get(3)?,
                browser: r.get(4)?,
                current: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The sealed ID token a live session was created from, when it kept one.
pub fn sealed_id_token(conn: &Connection, key_hash: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id_token_enc FROM sessions WHERE key_hash = ?1 AND expires_at > ?2",
            params![key_hash, now()],
            |r| r.get::<_, Option<Vec<u8>>>(0),
        )
        .optional()?
        .flatten())
}

pub fn count_for_user(conn: &Connection, user_id: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM sessions WHERE user_id = ?1",
        [user_id],
        |r| r.get(0),
    )?)
}

/// Signed-in sessions that have not expired (a range over the expiry index).
pub fn count_active(conn: &Connection, at: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM sessions WHERE expires_at > ?1 AND user_id IS NOT NULL",
        [at],
        |r| r.get(0),
    )?)
}

pub fn purge_expired(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now()])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiry(conn: &Connection) -> i64 {
        conn.query_row("SELECT expires_at FROM sessions", [], |r| r.get(0))
            .expect("one session")
    }

    #[test]
    fn loading_slides_the_idle_expiry_only_when_it_would_move_by_more_than_the_slack() {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch(
            "CREATE TABLE sessions (key_hash BLOB PRIMARY KEY, user_id INTEGER, state TEXT NOT NULL,
                                    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                                    public_id TEXT, last_seen_at INTEGER, address TEXT, browser TEXT,
                                    sid TEXT, id_token_enc BLOB);",
        )
        .expect("schema");
        let (idle, max) = (12 * 3600, 7 * 24 * 3600);
        insert(&conn, b"k", Some(1), "{}", (idle, max), None).expect("insert");
        let fresh = expiry(&conn);

        // Within the minute of slack: no write.
        conn.execute("UPDATE sessions SET expires_at = expires_at - 30", [])
            .expect("age");
        load(&conn, b"k", idle, max).expect("load");
        assert_eq!(expiry(&conn), fresh - 30);

        // Older than that: slid to now + idle.
        conn.execute("UPDATE sessions SET expires_at = expires_at - 90", [])
            .expect("age");
        load(&conn, b"k", idle, max).expect("load");
        assert!(expiry(&conn) >= fresh, "slid forward");

        // Never past the absolute limit, and an expired session stays expired.
        conn.execute(
            "UPDATE sessions SET created_at = created_at - ?1, expires_at = ?2",
            [max - idle / 2, now() + idle / 2 - 600],
        )
        .expect("age");
        let created: i64 = conn
            .query_row("SELECT created_at FROM sessions", [], |r| r.get(0))
            .expect("created");
        load(&conn, b"k", idle, max).expect("load");
        assert_eq!(expiry(&conn), created + max);
        conn.execute("UPDATE sessions SET expires_at = ?1", [now() - 1])
            .expect("expire");
        load(&conn, b"k", idle, max).expect("load");
        assert_eq!(expiry(&conn), now() - 1);
        assert_eq!(load(&conn, b"k", idle, max).expect("load"), None);
    }
}
