//! Users: one person in one team, known by issuer + subject. Reads, role changes, removal
//! and restore, each in one transaction with its audit row; sign-in is in `store::sign_in`.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::audit::{self, Action, Actor};
use super::{now, Memo, StoreError};
use crate::domain::team_list::Member;
use crate::domain::{check_role_change, Role, RoleSource, RuleError};

// Sign-in lives in its own module; callers know it as `users::sign_in`.
pub use super::sign_in::{sign_in, Identity, Policy, SignInError};

/// A user as the store keeps them: what the team list shows of them ([`Member`]: `user.email`
/// and the rest read through) and the account's other columns.
#[derive(Debug, Clone)]
pub struct User {
    pub member: Member,
    pub team_id: String,
    pub created_at: i64,
    pub has_password: bool,
    /// Someone has signed in to the account (it has an IdP identity); `false` for an account
    /// SCIM provisioned that nobody has signed in to yet.
    pub linked: bool,
}

impl std::ops::Deref for User {
    type Target = Member;
    fn deref(&self) -> &Member {
        &self.member
    }
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

pub(super) const COLUMNS: &str = "id, team_id, email, name, role, role_source, joined_via, active, created_at, last_login_at, password_hash IS NOT NULL, issuer <> ''";

/// How many columns [`COLUMNS`] selects: a query that adds one after them reads it here.
const COLUMN_COUNT: usize = 12;

pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(4)?;
    let source: String = r.get(5)?;
    Ok(User {
        member: Member {
            id: r.get(0)?,
            email: r.get(2)?,
            name: r.get(3)?,
            role: Role::parse(&role).unwrap_or(Role::Member),
            role_source: RoleSource::parse(&source).unwrap_or(RoleSource::Default),
            joined_via: r.get(6)?,
            active: r.get(7)?,
            last_login_at: r.get(9)?,
        },
        team_id: r.get(1)?,
        created_at: r.get(8)?,
        has_password: r.get(10)?,
        linked: r.get(11)?,
    })
}

/// Any user by id; callers that act on behalf of a signed-in user use [`get_in_team`].
pub fn get(conn: &Connection, id: i64) -> Result<Option<User>, StoreError> {
    // On every request (the signed-in user is read from the store): a cached statement.
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn get_in_team(conn: &Connection, team_id: &str, id: i64) -> Result<Option<User>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?1 AND team_id = ?2"),
            params![id, team_id],
            from_row,
        )
        .optional()?)
}

pub fn find_by_email(
    conn: &Connection,
    team_id: &str,
    email: &str,
) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM users WHERE team_id = ?1 AND email = ?2 ORDER BY id"
    ))?;
    let rows = stmt
        .query_map(params![team_id, email.to_lowercase()], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Active admins who can sign in: an account SCIM provisioned and nobody has signed in to
/// yet (no issuer) is never counted, so it can never be the "last admin".
pub(super) fn active_admins(conn: &Connection, team_id: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users WHERE team_id = ?1 AND active AND role = 'admin' AND issuer <> ''",
        [team_id],
        |r| r.get(0),
    )?)
}

pub(super) fn set_role_row(
    conn: &Connection,
    id: i64,
    role: Role,
    source: RoleSource,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET role = ?2, role_source = ?3 WHERE id = ?1",
        params![id, role.as_str(), source.as_str()],
    )?;
    Ok(())
}

/// Writes `user`'s new role and where it came from, with its audit row (`detail` says what
/// changed and why), in the caller's transaction; the caller has checked the rules.
pub(super) fn change_role(
    conn: &Connection,
    team_id: &str,
    actor: &Actor,
    user: &User,
    (role, source): (Role, RoleSource),
    detail: &str,
) -> Result<(), StoreError> {
    set_role_row(conn, user.id, role, source)?;
    audit::record(
        conn,
        team_id,
        actor,
        Action::RoleChanged,
        &user.email,
        detail,
    )?;
    Ok(())
}

/// What a change to one member answers: the member as the change left them, or why not.
pub type Changed = Result<User, ChangeError>;

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such member in this team")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ChangeError {
    fn from(e: rusqlite::Error) -> Self {
        ChangeError::Store(e.into())
    }
}

/// A transaction that checks the last-admin rule before it writes. It takes the write lock
/// at once: two admins demoting each other at the same moment then run one after the other,
/// and the second sees the first's change (409) instead of failing on a stale read.
fn checked_change(conn: &mut Connection) -> Result<Transaction<'_>, rusqlite::Error> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

/// An admin (or the shell) sets a member's role. Sessions stay valid: roles are read from
/// the store on every request, so the change applies on the member's next request.
pub fn set_role(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    target: i64,
    role: Role,
) -> Changed {
    let tx = checked_change(conn)?;
    let updated = change_member(&tx, team_id, target, |user| {
        if !user.active {
            return Err(ChangeError::Conflict(
                "This member was removed; restore them before changing their role.",
            ));
        }
        check_role_change(user.role, Some(role), active_admins(&tx, team_id)?)?;
        if user.role != role || user.role_source != RoleSource::Manual {
            let detail = format!("{} -> {}", user.role, role);
            change_role(
                &tx,
                team_id,
                actor,
                user,
                (role, RoleSource::Manual),
                &detail,
            )?;
        }
        Ok(())
    })?;
    tx.commit()?;
    Ok(updated)
}

/// Deactivates a member: sessions deleted and personal tokens revoked in the same transaction.
pub fn remove(conn: &mut Connection, team_id: &str, actor: &Actor, target: i64) -> Changed {
    committed(conn, (team_id, actor, target), remove_in)
}

/// [`remove`] inside the caller's transaction (which should be immediate: it checks the
/// last-admin rule before it writes).
pub fn remove_in(tx: &Transaction<'_>, team_id: &str, actor: &Actor, target: i64) -> Changed {
    change_member(tx, team_id, target, |user| {
        if !user.active {
            return Ok(());
        }
        let counted = user.role == Role::Admin && user.linked;
        if counted {
            check_role_change(user.role, None, active_admins(tx, team_id)?)?;
        }
        let t = now();
        tx.execute(
            "UPDATE users SET active = 0, removed_at = ?2 WHERE id = ?1",
            params![user.id, t],
        )?;
        super::access::end_sessions(
            tx,
            team_id,
            &super::access::Sessions::AllOf { user_id: user.id },
        )?;
        let revoked = tx.execute(
            "UPDATE api_tokens SET revoked_at = ?2, revoked_by = ?3
             WHERE created_by = ?1 AND personal AND revoked_at IS NULL",
            params![user.id, t, actor.user_id],
        )?;
        let detail =
            crate::domain::text::count(revoked as i64, "personal token", "personal tokens")
                + " revoked";
        audit::record(
            tx,
            team_id,
            actor,
            Action::MemberRemoved,
            &user.email,
            &detail,
        )?;
        Ok(())
    })
}

/// Restores a removed member (as a member). A member SCIM deleted is provisioned again.
pub fn restore(conn: &mut Connection, team_id: &str, actor: &Actor, target: i64) -> Changed {
    committed(conn, (team_id, actor, target), restore_in)
}

/// [`restore`] inside the caller's transaction.
pub fn restore_in(tx: &Transaction<'_>, team_id: &str, actor: &Actor, target: i64) -> Changed {
    change_member(tx, team_id, target, |user| {
        if user.active {
            return Ok(());
        }
        reactivate_as_member(tx, user.id)?;
        // Restored by an admin after a SCIM DELETE: SCIM sees the member again.
        tx.execute(
            "UPDATE scim_users SET deleted = 0 WHERE user_id = ?1",
            [user.id],
        )?;
        audit::record(tx, team_id, actor, Action::MemberRestored, &user.email, "")?;
        Ok(())
    })
}

/// Makes a removed member active again, as a member: removal ended any admin rights. Both
/// ways back (an admin's restore, a new invitation) go through here.
pub(crate) fn reactivate_as_member(tx: &Transaction<'_>, id: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET active = 1, removed_at = NULL, role = 'member', role_source = 'default' WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// One change to member `target` of the team: `change` gets the member as stored and writes
/// (or refuses); the member is read back after it.
fn change_member(
    tx: &Transaction<'_>,
    team_id: &str,
    target: i64,
    change: impl FnOnce(&User) -> Result<(), ChangeError>,
) -> Changed {
    let user = get_in_team(tx, team_id, target)?.ok_or(ChangeError::NotFound)?;
    change(&user)?;
    get(tx, user.id)?.ok_or(ChangeError::NotFound)
}

/// A member change made inside a transaction of its own, committed when it succeeds.
type InTransaction = fn(&Transaction<'_>, &str, &Actor, i64) -> Changed;

fn committed(
    conn: &mut Connection,
    (team_id, actor, target): (&str, &Actor, i64),
    change: InTransaction,
) -> Changed {
    let tx = checked_change(conn)?;
    let updated = change(&tx, team_id, actor, target)?;
    tx.commit()?;
    Ok(updated)
}

/// Shell recovery: make the active member with this email an admin.
pub fn promote_by_email(conn: &mut Connection, team_id: &str, email: &str) -> Changed {
    // Of several active accounts with the email (an issuer change leaves the old one), the
    // one that signed in last: the person can reach it.
    let id = find_by_email(conn, team_id, email)?
        .into_iter()
        .filter(|u| u.active)
        .max_by_key(|u| (u.last_login_at.unwrap_or(0), u.id))
        .ok_or(ChangeError::NotFound)?
        .id;
    set_role(conn, team_id, &Actor::shell(), id, Role::Admin)
}

pub fn admins(conn: &Connection, team_id: &str) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM users WHERE team_id = ?1 AND role = 'admin' AND active ORDER BY email"
    ))?;
    let rows = stmt
        .query_map([team_id], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_password(
    conn: &mut Connection,
    team_id: &str,
    user_id: i64,
    hash: Option<&str>,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    // Clearing a password that is not set changes nothing and is not audited.
    let changed = tx.execute(
        "UPDATE users SET password_hash = ?3
         WHERE id = ?1 AND team_id = ?2 AND (?3 IS NOT NULL OR password_hash IS NOT NULL)",
        params![user_id, team_id, hash],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    let action = if hash.is_some() {
        Action::PasswordSet
    } else {
        Action::PasswordCleared
    };
    let email: String = tx.query_row("SELECT email FROM users WHERE id = ?1", [user_id], |r| {
        r.get(0)
    })?;
    audit::record(
        &tx,
        team_id,
        &Actor::shell(),
        action,
        &email,
        "break-glass password",
    )?;
    tx.commit()?;
    Ok(true)
}

pub fn password_hash(
    conn: &Connection,
    team_id: &str,
    email: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, password_hash FROM users
             WHERE team_id = ?1 AND email = ?2 AND active AND role = 'admin' AND password_hash IS NOT NULL",
            params![team_id, email],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The user a session is for, with whether their team holds a break-glass password; `None`
/// unless the session row `key_hash` is live (not signed out, revoked or expired) and the
/// user still exists and is active. One statement: it runs on every signed-in request.
pub fn for_live_session(
    conn: &Connection,
    id: i64,
    key_hash: &[u8],
) -> Result<Option<(User, bool)>, StoreError> {
    Ok(read_session(conn, id, key_hash)?.live_at(now()))
}

/// [`for_live_session`], remembered in `memo` while the database is unchanged: the requests
/// of a signed-in browser read the same rows until something is written.
pub fn for_live_session_remembered(
    conn: &Connection,
    memo: &Memo,
    id: i64,
    key_hash: &[u8],
) -> Result<Option<(User, bool)>, StoreError> {
    let read = memo.sessions.get_or(
        key_hash,
        |read| read.uid == id,
        || read_session(conn, id, key_hash),
    )?;
    Ok(read.live_at(now()))
}

/// A session row `key_hash` as [`read_session`] found it for user `uid`: the user (existing
/// and active), their team's break-glass flag and the row's expiry; `None` without such a
/// row or user. The expiry is kept as data, not asked in the query, so a remembered read
/// stays true as the clock moves on.
#[derive(Clone)]
pub struct SessionRead {
    uid: i64,
    found: Option<(User, bool, i64)>,
}

impl SessionRead {
    pub(super) fn live_at(self, now: i64) -> Option<(User, bool)> {
        let (user, break_glass, expires_at) = self.found?;
        (expires_at > now).then_some((user, break_glass))
    }
}

pub(super) fn read_session(
    conn: &Connection,
    uid: i64,
    key_hash: &[u8],
) -> Result<SessionRead, StoreError> {
    const BREAK_GLASS: usize = COLUMN_COUNT;
    const EXPIRES_AT: usize = COLUMN_COUNT + 1;
    // Asked on every signed-in request: the statement's text is built once, not formatted
    // (and hashed for the statement cache from a fresh allocation) each time. The session's
    // columns are renamed: `created_at` is also a user's.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {COLUMNS}, EXISTS (SELECT 1 FROM users p WHERE p.team_id = users.team_id AND p.password_hash IS NOT NULL),
                    session_expires_at
             FROM (SELECT user_id AS session_user, expires_at AS session_expires_at
                   FROM sessions WHERE key_hash = ?2), users
             WHERE users.id = ?1 AND users.id = session_user AND users.active = 1"
        )
    });
    let found = conn
        .prepare_cached(&SQL)?
        .query_row(params![uid, key_hash], |r| {
            Ok((from_row(r)?, r.get(BREAK_GLASS)?, r.get(EXPIRES_AT)?))
        })
        .optional()?;
    Ok(SessionRead { uid, found })
}

/// The account an IdP identity signs in as in `team_id`, when it has one.
pub fn id_for_identity(
    conn: &Connection,
    team_id: &str,
    issuer: &str,
    subject: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id FROM users WHERE team_id = ?1 AND issuer = ?2 AND subject = ?3",
            params![team_id, issuer, subject],
            |r| r.get(0),
        )
        .optional()?)
}

/// Seats billed for a month: members active at any moment of [start, end).
pub fn seats_between(
    conn: &Connection,
    team_id: &str,
    start: i64,
    end: i64,
) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users WHERE team_id = ?1 AND created_at < ?3
           AND (removed_at IS NULL OR removed_at >= ?2)",
        params![team_id, start, end],
        |r| r.get(0),
    )?)
}

/// A member created outside SSO (the demo's colleagues); they sign in like anyone else once
/// the IdP sends their issuer and subject.
pub fn insert_seeded(
    conn: &Connection,
    team_id: &str,
    issuer: &str,
    subject: &str,
    email: &str,
    name: &str,
    created_at: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source, joined_via, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'member', 'default', 'demo', ?6)",
        params![team_id, issuer, subject, email, name, created_at],
    )?;
    Ok(conn.last_insert_rowid())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_column_count_follows_the_column_list() {
        assert_eq!(super::COLUMNS.split(',').count(), super::COLUMN_COUNT);
    }
}
