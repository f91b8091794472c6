//! Ending a user's access: the one place sessions are deleted on purpose. Removal (and SCIM
//! deactivation through it), an admin's "end sessions", the sessions page and back-channel
//! logout all come here, inside the caller's transaction. Every signed-in request confirms
//! its session row in the store (`users::for_live_session`; a connection's memo of that
//! read lasts only while the database is unchanged, `store::memo`), so once the transaction
//! has committed, no request with those sessions succeeds.

use rusqlite::{params, Connection};

use super::audit::{self, Action, Actor};
use super::users::{self, ChangeError};
use super::StoreError;

/// Which sessions to end. Each is scoped to the team, so no id from another team matches.
#[derive(Debug, Clone)]
pub enum Sessions {
    /// Every session of one user.
    AllOf { user_id: i64 },
    /// One session of one user, by its public id.
    One { user_id: i64, public_id: String },
    /// Every session of one user but the one with this key hash.
    OthersOf { user_id: i64, keep: Vec<u8> },
    /// The sessions an IdP names by its `sid` (of the user `subject` when given). With a
    /// `subject`, that user's sessions without a sid end too: sessions from before sids were
    /// kept, or from an ID token that carried none, cannot be told apart from the named one.
    Sid {
        issuer: String,
        sid: String,
        subject: Option<String>,
    },
    /// Every session of the user the IdP knows as `subject`.
    Subject { issuer: String, subject: String },
}

/// Deletes the chosen sessions of `team_id`'s users; returns how many ended.
pub fn end_sessions(
    conn: &Connection,
    team_id: &str,
    which: &Sessions,
) -> Result<usize, StoreError> {
    const IN_TEAM: &str = "user_id IN (SELECT id FROM users WHERE team_id = ?1";
    let n = match which {
        Sessions::AllOf { user_id } => conn.execute(
            &format!("DELETE FROM sessions WHERE {IN_TEAM} AND id = ?2)"),
            params![team_id, user_id],
        )?,
        Sessions::One { user_id, public_id } => conn.execute(
            &format!("DELETE FROM sessions WHERE public_id = ?3 AND {IN_TEAM} AND id = ?2)"),
            params![team_id, user_id, public_id],
        )?,
        Sessions::OthersOf { user_id, keep } => conn.execute(
            &format!("DELETE FROM sessions WHERE key_hash <> ?3 AND {IN_TEAM} AND id = ?2)"),
            params![team_id, user_id, keep],
        )?,
        Sessions::Sid {
            issuer,
            sid,
            subject,
        } => conn.execute(
            &format!(
                "DELETE FROM sessions WHERE (sid = ?3 OR (sid IS NULL AND ?4 IS NOT NULL))
                   AND {IN_TEAM} AND issuer = ?2 AND (?4 IS NULL OR subject = ?4))"
            ),
            params![team_id, issuer, sid, subject],
        )?,
        Sessions::Subject { issuer, subject } => conn.execute(
            &format!("DELETE FROM sessions WHERE {IN_TEAM} AND issuer = ?2 AND subject = ?3)"),
            params![team_id, issuer, subject],
        )?,
    };
    Ok(n)
}

/// Ends sessions and writes `action`'s audit row (target, and how many ended) in one
/// transaction; returns how many ended.
pub fn end_audited(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    which: &Sessions,
    (action, target): (Action, &str),
) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let n = end_sessions(&tx, team_id, which)?;
    if n == 0 && matches!(which, Sessions::One { .. }) {
        // No such session of this user (another user's id, or one already ended): the
        // request answers 404 and leaves no trace; the transaction rolls back on drop.
        return Ok(0);
    }
    audit::record(
        &tx,
        team_id,
        actor,
        action,
        target,
        &format!("{n} session(s) ended"),
    )?;
    tx.commit()?;
    Ok(n)
}

/// An admin ends every session of a member of their team (404 for anyone else's id).
pub fn end_member_sessions(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    target: i64,
) -> Result<usize, ChangeError> {
    let user = users::get_in_team(conn, team_id, target)?.ok_or(ChangeError::NotFound)?;
    Ok(end_audited(
        conn,
        team_id,
        actor,
        &Sessions::AllOf { user_id: user.id },
        (Action::SessionsEnded, &user.email),
    )?)
}

/// What a valid back-channel logout token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Logout {
    Ended(usize),
    /// Its `jti` was used before: nothing ended.
    Replayed,
    /// The team holds as many unexpired jtis as it may: nothing ended.
    Full,
}

/// A logout token that passed every other check: records its `jti` (until `jti_until`),
/// ends the sessions it names and audits it, in one transaction; a replay changes nothing.
pub fn end_by_logout_token(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    (jti, jti_until): (&str, i64),
    which: &Sessions,
    target: &str,
) -> Result<Logout, StoreError> {
    let tx = conn.transaction()?;
    match super::logout_jtis::record(&tx, team_id, jti, jti_until)? {
        super::logout_jtis::Seen::First => {}
        super::logout_jtis::Seen::Replayed => return Ok(Logout::Replayed),
        super::logout_jtis::Seen::Full => return Ok(Logout::Full),
    }
    let n = end_sessions(&tx, team_id, which)?;
    audit::record(
        &tx,
        team_id,
        actor,
        Action::BackchannelLogout,
        target,
        &format!("{n} session(s) ended"),
    )?;
    tx.commit()?;
    Ok(Logout::Ended(n))
}
