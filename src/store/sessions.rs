//! Server-side session rows. The cookie carries only a random key; the row is found by the
//! key's SHA-256, so a copy of the database does not hand out live sessions.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now, StoreError};

pub fn load(conn: &Connection, key_hash: &[u8]) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT state FROM sessions WHERE key_hash = ?1 AND expires_at > ?2",
            params![key_hash, now()],
            |r| r.get(0),
        )
        .optional()?)
}

/// Inserts a new session row; its absolute expiry is fixed from now.
pub fn insert(
    conn: &Connection,
    key_hash: &[u8],
    user_id: Option<i64>,
    state: &str,
    idle: i64,
    max: i64,
) -> Result<(), StoreError> {
    let t = now();
    conn.execute(
        "INSERT INTO sessions (key_hash, user_id, state, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![key_hash, user_id, state, t, t + idle.min(max)],
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
        "UPDATE sessions SET state = ?2, user_id = ?3, expires_at = min(?4, created_at + ?5)
         WHERE key_hash = ?1 AND expires_at > ?6",
        params![key_hash, state, user_id, t + idle, max, t],
    )?;
    Ok(n == 1)
}

pub fn touch(conn: &Connection, key_hash: &[u8], idle: i64, max: i64) -> Result<(), StoreError> {
    let t = now();
    conn.execute(
        "UPDATE sessions SET expires_at = min(?2, created_at + ?3) WHERE key_hash = ?1 AND expires_at > ?4",
        params![key_hash, t + idle, max, t],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, key_hash: &[u8]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sessions WHERE key_hash = ?1", [key_hash])?;
    Ok(())
}

pub fn delete_for_user(conn: &Connection, user_id: i64) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?)
}

pub fn count_for_user(conn: &Connection, user_id: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM sessions WHERE user_id = ?1",
        [user_id],
        |r| r.get(0),
    )?)
}

pub fn purge_expired(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now()])?)
}
