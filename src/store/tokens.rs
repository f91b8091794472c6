//! Shared API tokens: metadata, the SHA-256 of the secret for lookup, and the secret
//! encrypted with the instance key so members can reveal it later.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::audit::{self, Action, Actor};
use super::users::ChangeError;
use super::{now, StoreError};
use crate::domain::token_access::{Refusal, TokenAction, TokenFacts, Viewer};
use crate::domain::tokens::{check_token_limits, TokenStatus, PAGE_SIZE};
use crate::domain::{TokenId, UserId};

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
    pub fn status(&self, at: i64) -> TokenStatus {
        TokenStatus::of(self.revoked_at, self.expires_at, at)
    }

    /// What the access policy looks at.
    pub fn facts(&self) -> TokenFacts {
        TokenFacts {
            id: TokenId(self.id),
            creator: UserId(self.created_by),
            personal: self.personal,
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

/// Counts the creator's and the team's active tokens and inserts the new one in the same
/// transaction, so concurrent creates cannot pass the limits together.
pub fn insert(
    conn: &mut Connection,
    actor: &Actor,
    creator: i64,
    t: &NewToken<'_>,
) -> Result<i64, ChangeError> {
    let tx = conn.transaction()?;
    let at = now();
    let (mine, team): (i64, i64) = tx.query_row(
        "SELECT
            (SELECT count(*) FROM api_tokens WHERE created_by = ?1 AND revoked_at IS NULL
                AND (expires_at IS NULL OR expires_at > ?3)),
            (SELECT count(*) FROM api_tokens WHERE team_id = ?2 AND revoked_at IS NULL
                AND (expires_at IS NULL OR expires_at > ?3))",
        params![creator, t.team_id, at],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    check_token_limits(mine, team).map_err(|e| ChangeError::Conflict(e.message()))?;
    tx.execute(
        "INSERT INTO api_tokens (team_id, name, prefix, secret_hash, secret_enc, created_by, personal, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![t.team_id, t.name, t.prefix, t.secret_hash, t.secret_enc, creator, t.personal, at, t.expires_at],
    )?;
    let id = tx.last_insert_rowid();
    let kind = if t.personal { "personal" } else { "shared" };
    audit::record(
        &tx,
        t.team_id,
        actor,
        Action::TokenCreated,
        &format!("{} (#{id})", t.name),
        kind,
    )?;
    tx.commit()?;
    Ok(id)
}

/// [`list`]'s query. The limit is in the text, a constant of the statement: see
/// `store::plan_once` for why a bound LIMIT is costly.
static LIST_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by
         WHERE t.team_id = ?1 AND (NOT t.personal OR t.created_by = ?2 OR ?3)
         ORDER BY t.team_id, t.revoked_at IS NOT NULL, t.id DESC LIMIT {} OFFSET ?4",
        PAGE_SIZE + 1
    )
});

/// One page (1-based, [`PAGE_SIZE`] rows) of the team's tokens as `viewer` may see them:
/// personal tokens of others only for admins; active first, newest first. True when a
/// further page follows.
pub fn list(
    conn: &Connection,
    team_id: &str,
    viewer: Viewer,
    page: i64,
) -> Result<(Vec<Token>, bool), StoreError> {
    let offset = page.saturating_sub(1).saturating_mul(PAGE_SIZE);
    let mut stmt = conn.prepare_cached(&LIST_SQL)?;
    let mut rows = stmt
        .query_map(
            params![
                team_id,
                viewer.id.0,
                viewer.sees_personal_of_others(),
                offset
            ],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}

pub fn get(conn: &Connection, team_id: &str, id: TokenId) -> Result<Option<Token>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by WHERE t.id = ?1 AND t.team_id = ?2"),
            params![id.0, team_id],
            from_row,
        )
        .optional()?)
}

/// The token if `viewer` may do `action` to it; the policy's refusal otherwise.
pub fn authorized(
    conn: &Connection,
    team_id: &str,
    viewer: Viewer,
    id: TokenId,
    action: TokenAction,
) -> Result<Token, ChangeError> {
    let token = get(conn, team_id, id)?.ok_or(ChangeError::NotFound)?;
    viewer.may(action, token.facts()).map_err(|r| match r {
        Refusal::NotFound => ChangeError::NotFound,
        Refusal::Forbidden(why) => ChangeError::Forbidden(why),
    })?;
    Ok(token)
}

/// A token's encrypted secret and its secret hash.
pub type Sealed = (Vec<u8>, Vec<u8>);

/// Reveal in one transaction: the policy's check, the read of the sealed secret and the
/// audit row saying who revealed it. A revoked token has no secret to show any more
/// (`NotFound`, no audit row).
pub fn reveal(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    viewer: Viewer,
    id: TokenId,
) -> Result<(Token, Sealed), ChangeError> {
    let tx = conn.transaction()?;
    let token = authorized(&tx, team_id, viewer, id, TokenAction::Reveal)?;
    let sealed: Sealed = tx
        .query_row(
            "SELECT secret_enc, secret_hash FROM api_tokens
             WHERE id = ?1 AND team_id = ?2 AND revoked_at IS NULL",
            params![id.0, team_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or(ChangeError::NotFound)?;
    audit::record(
        &tx,
        team_id,
        actor,
        Action::TokenRevealed,
        &format!("{} (#{})", token.name, token.id),
        "",
    )?;
    tx.commit()?;
    Ok((token, sealed))
}

/// Revoke in one transaction: the policy's check, the change and its audit row. Revoking an
/// already revoked token changes nothing and writes no row.
pub fn revoke(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    viewer: Viewer,
    id: TokenId,
) -> Result<Token, ChangeError> {
    let tx = conn.transaction()?;
    let token = authorized(&tx, team_id, viewer, id, TokenAction::Revoke)?;
    let n = tx.execute(
        "UPDATE api_tokens SET revoked_at = ?3, revoked_by = ?4 WHERE id = ?1 AND team_id = ?2 AND revoked_at IS NULL",
        params![id.0, team_id, now(), actor.user_id],
    )?;
    if n == 1 {
        audit::record(
            &tx,
            team_id,
            actor,
            Action::TokenRevoked,
            &format!("{} (#{})", token.name, token.id),
            "",
        )?;
    }
    tx.commit()?;
    Ok(token)
}

/// What the token index must learn: the instance's token version and, when it differs from
/// `applied`, every token stamped above `applied` with whether it may verify now. Read in one
/// transaction, so the rows are exactly those of that version. `None` when nothing changed.
pub fn changes_since(conn: &Connection, applied: i64) -> Result<Option<Changes>, StoreError> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Deferred)?;
    let version = current_version(&tx)?;
    if version == applied {
        return Ok(None);
    }
    let rows = {
        let mut stmt = tx.prepare_cached(
            "SELECT t.secret_hash, t.id, t.team_id, t.name, t.expires_at,
                    t.revoked_at IS NULL AND (NOT t.personal OR coalesce(u.active, 0))
             FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by
             WHERE t.index_version > ?1",
        )?;
        let rows = stmt
            .query_map([applied], |r| {
                Ok(Change {
                    hash: r.get(0)?,
                    live: r.get(5)?,
                    token: Verifiable {
                        id: r.get(1)?,
                        team_id: r.get(2)?,
                        name: r.get(3)?,
                        expires_at: r.get(4)?,
                    },
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows
    };
    Ok(Some(Changes { version, rows }))
}

/// The instance's token version: raised by every change the index must follow.
pub fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT version FROM token_index_version WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}

pub struct Changes {
    pub version: i64,
    pub rows: Vec<Change>,
}

/// One token as it stands at [`Changes::version`]; `live` false means it must not verify.
pub struct Change {
    pub hash: Vec<u8>,
    pub live: bool,
    pub token: Verifiable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_tokens_is_not_prepared_again_on_the_next_view() {
        let c = crate::store::test_db(&["acme"]);
        c.execute_batch(
            "INSERT INTO users (id, team_id, issuer, subject, email, name, role, role_source, joined_via, created_at)
             VALUES (1, 'acme', 'i', 'a', 'a@acme.test', 'A', 'admin', 'manual', 'jit', 0),
                    (2, 'acme', 'i', 'b', 'b@acme.test', 'B', 'member', 'default', 'jit', 0);
             INSERT INTO api_tokens (team_id, name, prefix, secret_hash, secret_enc, created_by, personal, created_at)
             VALUES ('acme', 'ci', 'p1', x'01', x'01', 1, 0, 0),
                    ('acme', 'mine', 'p2', x'02', x'02', 2, 1, 0);",
        )
        .expect("a team with tokens");
        for (id, admin, page) in [(1, true, 1), (2, false, 1), (2, false, 2), (1, true, 3)] {
            let viewer = Viewer {
                id: UserId(id),
                admin,
            };
            list(&c, "acme", viewer, page).expect("a page");
        }
        assert_eq!(crate::store::times_prepared_again(&c, &LIST_SQL), 0);
    }
}
