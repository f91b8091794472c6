//! The instance key's check value and the question whether the database holds anything
//! sealed with that key (API token secrets, client secrets of browser-managed teams).

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;

/// The recorded check value, if any key has been recorded yet.
pub fn get(conn: &Connection) -> Result<Option<Vec<u8>>, StoreError> {
    // A database from before version 10, read without migrating (`backup`), has no table.
    let table: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'instance_key_check'",
        [],
        |r| r.get(0),
    )?;
    if table == 0 {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT check_value FROM instance_key_check WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// Records `value` unless a check value is already there; returns the one that stands.
pub fn record(conn: &mut Connection, value: &[u8]) -> Result<Vec<u8>, StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO instance_key_check (id, check_value, created_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO NOTHING",
        params![value, super::now()],
    )?;
    let standing = tx.query_row(
        "SELECT check_value FROM instance_key_check WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok(standing)
}

/// One sealed value and the context it was sealed under, or none when nothing is sealed.
pub enum Sealed {
    Token {
        team: String,
        hash: Vec<u8>,
        sealed: Vec<u8>,
    },
    ClientSecret {
        team: String,
        sealed: Vec<u8>,
    },
}

/// Any one sealed value in the database: enough to tell whether a key opens them (a
/// database from before the check value existed) and whether a missing key matters.
pub fn any_sealed(conn: &Connection) -> Result<Option<Sealed>, StoreError> {
    let token = conn
        .query_row(
            "SELECT team_id, secret_hash, secret_enc FROM api_tokens ORDER BY id LIMIT 1",
            [],
            |r| {
                Ok(Sealed::Token {
                    team: r.get(0)?,
                    hash: r.get(1)?,
                    sealed: r.get(2)?,
                })
            },
        )
        .optional()?;
    if token.is_some() {
        return Ok(token);
    }
    let secret = conn
        .query_row(
            "SELECT id, client_secret_enc FROM teams WHERE client_secret_enc IS NOT NULL
             UNION ALL SELECT team_id, client_secret_enc FROM sso_pending LIMIT 1",
            [],
            |r| {
                Ok(Sealed::ClientSecret {
                    team: r.get(0)?,
                    sealed: r.get(1)?,
                })
            },
        )
        .optional()?;
    Ok(secret)
}
