//! Failure counters for break-glass password sign-in, per (account, address) and per address.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now, StoreError};

pub const WINDOW_SECS: i64 = 900;

/// Failures recorded for `bucket` in the current window.
pub fn failures(conn: &Connection, bucket: &str) -> Result<i64, StoreError> {
    let row: Option<(i64, i64)> = conn
        .query_row(
            "SELECT failures, window_start FROM login_attempts WHERE bucket = ?1",
            [bucket],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        Some((n, start)) if now() - start < WINDOW_SECS => n,
        _ => 0,
    })
}

pub fn record_failure(conn: &Connection, bucket: &str) -> Result<(), StoreError> {
    let t = now();
    conn.execute(
        "INSERT INTO login_attempts (bucket, failures, window_start) VALUES (?1, 1, ?2)
         ON CONFLICT (bucket) DO UPDATE SET
           failures = CASE WHEN ?2 - window_start >= ?3 THEN 1 ELSE failures + 1 END,
           window_start = CASE WHEN ?2 - window_start >= ?3 THEN ?2 ELSE window_start END",
        params![bucket, t, WINDOW_SECS],
    )?;
    Ok(())
}

pub fn clear(conn: &Connection, bucket: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM login_attempts WHERE bucket = ?1", [bucket])?;
    Ok(())
}

/// Deletes counters whose window has closed (they count nothing any more); how many went.
pub fn purge_expired(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM login_attempts WHERE window_start <= ?1",
        params![now() - WINDOW_SECS],
    )?)
}
