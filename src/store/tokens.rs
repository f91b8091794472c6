//! Shared API tokens: metadata, the SHA-256 of the secret for lookup, and the secret
//! encrypted with the instance key so members can reveal it later.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::audit::{self, Actor};
use super::{now, StoreError};

#[derive(Debug, Clone)]
pub struct Token {
    pub id: i64,
    pub team_id: String,
    pub name: String,
    pub prefix: String,
    pub created_by: i64,
    pub creator: String,
    pub personal: bool,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl Token {
    pub fn status(&self, at: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| e <= at) {
            "expired"
        } else {
            "active"
        }
    }
}

/// What verification needs to know about an active token, loaded into memory.
#[derive(Debug, Clone)]
pub struct Verifiable {
    pub id: i64,
    pub team_id: String,
    pub name: String,
    pub expires_at: Option<i64>,
}

const COLUMNS: &str =
    "t.id, t.team_id, t.name, t.prefix, t.created_by, coalesce(u.email, ''), t.personal,
    t.created_at, t.expires_at, t.revoked_at, t.last_used_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Token> {
    Ok(Token {
        id: r.get(0)?,
        team_id: r.get(1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        created_by: r.get(4)?,
        creator: r.get(5)?,
        personal: r.get(6)?,
        created_at: r.get(7)?,
        expires_at: r.get(8)?,
        revoked_at: r.get(9)?,
        last_used_at: r.get(10)?,
    })
}

pub struct NewToken<'a> {
    pub team_id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a [u8],
    pub secret_enc: &'a [u8],
    pub personal: bool,
    pub expires_at: Option<i64>,
}

pub fn insert(
    conn: &mut Connection,
    actor: &Actor,
    creator: i64,
    t: &NewToken<'_>,
) -> Result<i64, StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO api_tokens (team_id, name, prefix, secret_hash, secret_enc, created_by, personal, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![t.team_id, t.name, t.prefix, t.secret_hash, t.secret_enc, creator, t.personal, now(), t.expires_at],
    )?;
    let id = tx.last_insert_rowid();
    let kind = if t.personal { "personal" } else { "shared" };
    audit::record(
        &tx,
        t.team_id,
        actor,
        "token_created",
        &format!("{} (#{id})", t.name),
        kind,
    )?;
    tx.commit()?;
    Ok(id)
}

/// The team's tokens as `viewer` may see them: personal tokens of others only for admins.
pub fn list(
    conn: &Connection,
    team_id: &str,
    viewer: i64,
    viewer_is_admin: bool,
) -> Result<Vec<Token>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by
         WHERE t.team_id = ?1 AND (NOT t.personal OR t.created_by = ?2 OR ?3)
         ORDER BY t.revoked_at IS NOT NULL, t.id DESC"
    ))?;
    let rows = stmt
        .query_map(params![team_id, viewer, viewer_is_admin], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn get(conn: &Connection, team_id: &str, id: i64) -> Result<Option<Token>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by WHERE t.id = ?1 AND t.team_id = ?2"),
            params![id, team_id],
            from_row,
        )
        .optional()?)
}

/// The encrypted secret and its hash, with an audit row saying who revealed it.
pub fn reveal(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    token: &Token,
) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    let tx = conn.transaction()?;
    let enc: (Vec<u8>, Vec<u8>) = tx.query_row(
        "SELECT secret_enc, secret_hash FROM api_tokens WHERE id = ?1 AND team_id = ?2",
        params![token.id, team_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    audit::record(
        &tx,
        team_id,
        actor,
        "token_revealed",
        &format!("{} (#{})", token.name, token.id),
        "",
    )?;
    tx.commit()?;
    Ok(enc)
}

pub fn revoke(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    token: &Token,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "UPDATE api_tokens SET revoked_at = ?3, revoked_by = ?4 WHERE id = ?1 AND team_id = ?2 AND revoked_at IS NULL",
        params![token.id, team_id, now(), actor.user_id],
    )?;
    if n == 1 {
        audit::record(
            &tx,
            team_id,
            actor,
            "token_revoked",
            &format!("{} (#{})", token.name, token.id),
            "",
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Every token that may still verify, keyed by secret hash, for the in-memory index.
pub fn verifiable(conn: &Connection) -> Result<Vec<(Vec<u8>, Verifiable)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT t.secret_hash, t.id, t.team_id, t.name, t.expires_at FROM api_tokens t
         JOIN users u ON u.id = t.created_by
         WHERE t.revoked_at IS NULL AND (NOT t.personal OR u.active)",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                Verifiable {
                    id: r.get(1)?,
                    team_id: r.get(2)?,
                    name: r.get(3)?,
                    expires_at: r.get(4)?,
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<Verifiable>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT t.id, t.team_id, t.name, t.expires_at FROM api_tokens t
             JOIN users u ON u.id = t.created_by
             WHERE t.secret_hash = ?1 AND t.revoked_at IS NULL AND (NOT t.personal OR u.active)",
            [hash],
            |r| {
                Ok(Verifiable {
                    id: r.get(0)?,
                    team_id: r.get(1)?,
                    name: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            },
        )
        .optional()?)
}
