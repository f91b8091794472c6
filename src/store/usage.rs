//! Metered usage: daily counters per token and unit, and idempotent usage reports.

use rusqlite::{params, Connection};

use super::{now, StoreError};

/// One counter increment to add to `usage_daily`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterKey {
    pub team_id: String,
    pub token_id: i64,
    pub day: String,
    pub unit: String,
}

/// Adds batched counters and `last used` times in one transaction.
pub fn flush(
    conn: &mut Connection,
    counters: &[(CounterKey, i64)],
    last_used: &[(i64, i64)],
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut add = tx.prepare_cached(
            "INSERT INTO usage_daily (team_id, token_id, day, unit, quantity) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (token_id, day, unit) DO UPDATE SET quantity = quantity + excluded.quantity",
        )?;
        for (k, n) in counters {
            add.execute(params![k.team_id, k.token_id, k.day, k.unit, n])?;
        }
        let mut used = tx.prepare_cached(
            "UPDATE api_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1",
        )?;
        for (id, at) in last_used {
            used.execute(params![id, at])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// What became of a usage report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Stored,
    /// The token already sent this idempotency key: nothing counted.
    Duplicate,
    /// The unit's total for the team's month would no longer fit a counter: nothing stored.
    Overflow,
}

/// Stores a usage report once per (token, idempotency key), keeping the team's monthly total
/// per unit (which bounds every daily counter and the bill's sums) within an `i64`: SQLite
/// would otherwise turn an overflowing sum into an inexact float.
pub fn report(
    conn: &mut Connection,
    key: &CounterKey,
    idempotency_key: &str,
    quantity: i64,
) -> Result<Reported, StoreError> {
    let tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT INTO usage_reports (team_id, idempotency_key, token_id, unit, quantity, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (token_id, idempotency_key) DO NOTHING",
        params![
            key.team_id,
            idempotency_key,
            key.token_id,
            key.unit,
            quantity,
            now()
        ],
    )?;
    if inserted == 0 {
        return Ok(Reported::Duplicate);
    }
    let month = key.day.get(..8).unwrap_or_default();
    let so_far = tx.query_row(
        "SELECT coalesce(sum(quantity), 0) FROM usage_daily
         WHERE team_id = ?1 AND day BETWEEN ?2 AND ?3 AND unit = ?4",
        params![
            key.team_id,
            format!("{month}01"),
            format!("{month}31"),
            key.unit
        ],
        |r| r.get::<_, i64>(0),
    );
    let so_far = match so_far {
        Ok(n) => n,
        // sum() itself overflowed: the month is already past counting.
        Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("overflow") => {
            return Ok(Reported::Overflow)
        }
        Err(e) => return Err(e.into()),
    };
    if so_far.checked_add(quantity).is_none() {
        // Dropping the transaction rolls the report row back: nothing stored.
        return Ok(Reported::Overflow);
    }
    tx.execute(
        "INSERT INTO usage_daily (team_id, token_id, day, unit, quantity) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (token_id, day, unit) DO UPDATE SET quantity = quantity + excluded.quantity",
        params![key.team_id, key.token_id, key.day, key.unit, quantity],
    )?;
    tx.commit()?;
    Ok(Reported::Stored)
}

pub use crate::domain::billing::DailyRow;

/// Usage rows of days in [first_day, last_day] (inclusive, `YYYY-MM-DD`), ordered by day,
/// token and unit.
pub fn daily(
    conn: &Connection,
    team_id: &str,
    first_day: &str,
    last_day: &str,
) -> Result<Vec<DailyRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.day, d.token_id, coalesce(t.name, ''), d.unit, d.quantity FROM usage_daily d
         LEFT JOIN api_tokens t ON t.id = d.token_id
         WHERE d.team_id = ?1 AND d.day BETWEEN ?2 AND ?3
         ORDER BY d.day, d.token_id, d.unit",
    )?;
    let rows = stmt
        .query_map(params![team_id, first_day, last_day], |r| {
            Ok(DailyRow {
                day: r.get(0)?,
                token_id: r.get(1)?,
                token_name: r.get(2)?,
                unit: r.get(3)?,
                quantity: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The first and last day (`YYYY-MM-DD`) with any usage, if any: two index lookups, so the
/// billing page's list of statements costs the same for a year of usage as for a day.
pub fn day_range(conn: &Connection, team_id: &str) -> Result<Option<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT (SELECT min(day) FROM usage_daily WHERE team_id = ?1),
                (SELECT max(day) FROM usage_daily WHERE team_id = ?1)",
    )?;
    let (first, last): (Option<String>, Option<String>) =
        stmt.query_row([team_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(first.zip(last))
}

pub fn total(conn: &Connection, token_id: i64, unit: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT coalesce(sum(quantity), 0) FROM usage_daily WHERE token_id = ?1 AND unit = ?2",
        params![token_id, unit],
        |r| r.get(0),
    )?)
}
