//! The team's SCIM token (only its hash is kept), the last SCIM call, and what the
//! settings page shows of them.

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::audit::{self, Action, Actor};
use crate::store::{now, StoreError};

/// Stores the hash of a new SCIM token for the team; the previous one stops at once. True
/// when there was a previous one.
pub fn set_token(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    hash: &[u8; 32],
) -> std::result::Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let replaced = tx.execute("DELETE FROM scim_tokens WHERE team_id = ?1", [team_id])? > 0;
    tx.execute(
        "INSERT INTO scim_tokens (team_id, token_hash, created_at) VALUES (?1, ?2, ?3)",
        params![team_id, &hash[..], now()],
    )?;
    let action = if replaced {
        Action::ScimTokenRotated
    } else {
        Action::ScimTokenCreated
    };
    audit::record(&tx, team_id, actor, action, "SCIM token", "")?;
    tx.commit()?;
    Ok(replaced)
}

/// Deletes the team's SCIM token; false when it had none.
pub fn revoke_token(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
) -> std::result::Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let gone = tx.execute("DELETE FROM scim_tokens WHERE team_id = ?1", [team_id])? > 0;
    if gone {
        audit::record(
            &tx,
            team_id,
            actor,
            Action::ScimTokenRevoked,
            "SCIM token",
            "",
        )?;
    }
    tx.commit()?;
    Ok(gone)
}

/// The team a SCIM token's hash belongs to.
pub fn team_for_token(
    conn: &Connection,
    hash: &[u8; 32],
) -> std::result::Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT team_id FROM scim_tokens WHERE token_hash = ?1")?
        .query_row([&hash[..]], |r| r.get(0))
        .optional()?)
}

pub fn record_call(
    conn: &Connection,
    team_id: &str,
    request: &str,
    status: u16,
) -> std::result::Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO scim_calls (team_id, at, request, status) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (team_id) DO UPDATE SET at = excluded.at, request = excluded.request,
             status = excluded.status",
    )?
    .execute(params![team_id, now(), request, status])?;
    Ok(())
}

/// What `/settings/scim` shows.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub token_created_at: Option<i64>,
    pub last_call: Option<(i64, String, u16)>,
    pub provisioned: i64,
    pub groups: i64,
}

pub fn status(conn: &Connection, team_id: &str) -> std::result::Result<Status, StoreError> {
    let token_created_at = conn
        .query_row(
            "SELECT created_at FROM scim_tokens WHERE team_id = ?1",
            [team_id],
            |r| r.get(0),
        )
        .optional()?;
    let last_call = conn
        .query_row(
            "SELECT at, request, status FROM scim_calls WHERE team_id = ?1",
            [team_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let provisioned = conn.query_row(
        "SELECT count(*) FROM scim_users WHERE team_id = ?1 AND NOT deleted",
        [team_id],
        |r| r.get(0),
    )?;
    let groups = conn.query_row(
        "SELECT count(*) FROM scim_groups WHERE team_id = ?1",
        [team_id],
        |r| r.get(0),
    )?;
    Ok(Status {
        token_created_at,
        last_call,
        provisioned,
        groups,
    })
}
