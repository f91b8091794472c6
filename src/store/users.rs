//! Users: one person in one team, known by issuer + subject. Sign-in (accounts on first
//! sign-in, invitations, `admin_email`, group-managed roles), role changes, removal and
//! restore, each in one transaction with its audit row.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::audit::{self, Actor};
use super::{invites, now, sessions, StoreError};
use crate::config::Provisioning;
use crate::domain::{check_role_change, Email, Role, RoleSource, RuleError};

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub team_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub role_source: RoleSource,
    pub joined_via: String,
    pub active: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub has_password: bool,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    pub fn display_name(&self) -> &str {
        crate::domain::display_name(&self.name, &self.email)
    }
}

const COLUMNS: &str = "id, team_id, email, name, role, role_source, joined_via, active, created_at, last_login_at, password_hash IS NOT NULL";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(4)?;
    let source: String = r.get(5)?;
    Ok(User {
        id: r.get(0)?,
        team_id: r.get(1)?,
        email: r.get(2)?,
        name: r.get(3)?,
        role: Role::parse(&role).unwrap_or(Role::Member),
        role_source: RoleSource::parse(&source).unwrap_or(RoleSource::Default),
        joined_via: r.get(6)?,
        active: r.get(7)?,
        created_at: r.get(8)?,
        last_login_at: r.get(9)?,
        has_password: r.get(10)?,
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

fn active_admins(conn: &Connection, team_id: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users WHERE team_id = ?1 AND active AND role = 'admin'",
        [team_id],
        |r| r.get(0),
    )?)
}

/// What the team's config says about admitting and promoting people at sign-in.
#[derive(Debug, Clone)]
pub struct Policy {
    pub team_id: String,
    pub admin_email: Option<Email>,
    pub provisioning: Provisioning,
    pub admin_groups: Vec<String>,
}

/// The verified identity from an SSO sign-in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Email,
    /// The IdP itself said `email_verified: true` (not merely trusted by `trust_email`).
    pub email_verified: bool,
    pub name: String,
    /// `None` when the IdP sent no `groups` claim: group-managed roles are left alone.
    pub groups: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("not invited")]
    NotInvited,
    #[error("removed from the team")]
    Removed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SignInError {
    fn from(e: rusqlite::Error) -> Self {
        SignInError::Store(e.into())
    }
}

/// Admits (or refuses) a verified identity: creates the account on first sign-in, applies
/// `admin_email` and `admin_groups`, and records the sign-in. Refusals are audited too.
pub fn sign_in(
    conn: &mut Connection,
    policy: &Policy,
    id: &Identity,
    ip: &str,
) -> Result<User, SignInError> {
    let tx = conn.transaction()?;
    let actor = Actor {
        user_id: None,
        label: id.email.to_string(),
        ip: ip.to_string(),
    };
    let result = admit(&tx, policy, id, &actor);
    match result {
        Ok(user_id) => {
            let user = get(&tx, user_id)?
                .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
            audit::record(
                &tx,
                &policy.team_id,
                &Actor {
                    user_id: Some(user.id),
                    ..actor
                },
                "sign_in",
                &user.email,
                &format!("role {} ({})", user.role, user.role_source.as_str()),
            )?;
            tx.commit()?;
            Ok(user)
        }
        Err(SignInError::Store(e)) => Err(SignInError::Store(e)),
        Err(refusal) => {
            audit::record(
                &tx,
                &policy.team_id,
                &actor,
                "sign_in_refused",
                id.email.as_str(),
                &refusal.to_string(),
            )?;
            tx.commit()?;
            Err(refusal)
        }
    }
}

fn in_admin_groups(policy: &Policy, id: &Identity) -> Option<bool> {
    if policy.admin_groups.is_empty() {
        return None;
    }
    let groups = id.groups.as_ref()?;
    Some(groups.iter().any(|g| policy.admin_groups.contains(g)))
}

fn admit(
    tx: &Transaction<'_>,
    policy: &Policy,
    id: &Identity,
    actor: &Actor,
) -> Result<i64, SignInError> {
    let t = now();
    let existing: Option<User> = tx
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM users WHERE team_id = ?1 AND issuer = ?2 AND subject = ?3"
            ),
            params![policy.team_id, id.issuer, id.subject],
            from_row,
        )
        .optional()?;
    let group_admin = in_admin_groups(policy, id);

    let Some(user) = existing else {
        if let Some(user_id) = link_provisioned(tx, policy, id, actor, group_admin)? {
            return Ok(user_id);
        }
        let email_taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE team_id = ?1 AND email = ?2)",
            params![policy.team_id, id.email.as_str()],
            |r| r.get(0),
        )?;
        let is_admin_email = crate::domain::admission::admin_email_applies(
            policy.admin_email.as_ref(),
            &id.email,
            id.email_verified,
            email_taken,
        );
        let invite = if policy.provisioning == Provisioning::Invite && !is_admin_email {
            Some(
                invites::find_pending(tx, &policy.team_id, id.email.as_str())?
                    .ok_or(SignInError::NotInvited)?,
            )
        } else {
            None
        };
        let (role, source) = if is_admin_email {
            (Role::Admin, RoleSource::AdminEmail)
        } else if group_admin == Some(true) {
            (Role::Admin, RoleSource::Groups)
        } else {
            (Role::Member, RoleSource::Default)
        };
        tx.execute(
            "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source, joined_via,
                                created_at, last_login_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            params![
                policy.team_id,
                id.issuer,
                id.subject,
                id.email.as_str(),
                id.name,
                role.as_str(),
                source.as_str(),
                if invite.is_some() { "invite" } else { "jit" },
                t
            ],
        )?;
        let user_id = tx.last_insert_rowid();
        if let Some(invite_id) = invite {
            invites::mark_accepted(tx, invite_id)?;
        }
        audit::record(
            tx,
            &policy.team_id,
            &Actor {
                user_id: Some(user_id),
                ..actor.clone()
            },
            "account_created",
            id.email.as_str(),
            &format!(
                "joined via {}",
                if invite.is_some() {
                    "invitation"
                } else {
                    "JIT"
                }
            ),
        )?;
        return Ok(user_id);
    };

    if !user.active {
        // A removed member comes back only through a new invitation on an invite-only team.
        let invite = match policy.provisioning {
            Provisioning::Invite => invites::find_pending(tx, &policy.team_id, id.email.as_str())?,
            Provisioning::Jit => None,
        };
        let Some(invite_id) = invite else {
            return Err(SignInError::Removed);
        };
        tx.execute(
            "UPDATE users SET active = 1, removed_at = NULL WHERE id = ?1",
            [user.id],
        )?;
        invites::mark_accepted(tx, invite_id)?;
    }

    tx.execute(
        "UPDATE users SET email = ?2, name = ?3, last_login_at = ?4 WHERE id = ?1",
        params![user.id, id.email.as_str(), id.name, t],
    )?;
    match group_admin {
        Some(true) if user.role == Role::Member => {
            set_role_row(tx, user.id, Role::Admin, RoleSource::Groups)?;
            audit::record(
                tx,
                &policy.team_id,
                actor,
                "role_changed",
                &user.email,
                "member -> admin (admin_groups)",
            )?;
        }
        // Take back only what the groups granted, and never the last admin.
        Some(false)
            if user.role == Role::Admin
                && user.role_source == RoleSource::Groups
                && active_admins(tx, &policy.team_id)? > 1 =>
        {
            set_role_row(tx, user.id, Role::Member, RoleSource::Default)?;
            audit::record(
                tx,
                &policy.team_id,
                actor,
                "role_changed",
                &user.email,
                "admin -> member (left admin_groups)",
            )?;
        }
        _ => {}
    }
    Ok(user.id)
}

/// The first sign-in of a member SCIM provisioned: the account with this email and no IdP
/// identity yet takes the sign-in's issuer and subject. Only this team's account, only for an
/// email that passed the team's email trust (checked before admission), and a member SCIM
/// deactivated stays refused. `None` when there is nothing to link.
fn link_provisioned(
    tx: &Transaction<'_>,
    policy: &Policy,
    id: &Identity,
    actor: &Actor,
    group_admin: Option<bool>,
) -> Result<Option<i64>, SignInError> {
    let provisioned: Option<User> = tx
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM users WHERE team_id = ?1 AND email = ?2 AND issuer = ''
                 ORDER BY id LIMIT 1"
            ),
            params![policy.team_id, id.email.as_str()],
            from_row,
        )
        .optional()?;
    let Some(user) = provisioned else {
        return Ok(None);
    };
    if !user.active {
        return Err(SignInError::Removed);
    }
    let others_with_email: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE team_id = ?1 AND email = ?2 AND id <> ?3)",
        params![policy.team_id, id.email.as_str(), user.id],
        |r| r.get(0),
    )?;
    let is_admin_email = crate::domain::admission::admin_email_applies(
        policy.admin_email.as_ref(),
        &id.email,
        id.email_verified,
        others_with_email,
    );
    let name = if id.name.trim().is_empty() {
        user.name.clone()
    } else {
        id.name.clone()
    };
    tx.execute(
        "UPDATE users SET issuer = ?2, subject = ?3, name = ?4, last_login_at = ?5 WHERE id = ?1",
        params![user.id, id.issuer, id.subject, name, now()],
    )?;
    if user.role == Role::Member && (is_admin_email || group_admin == Some(true)) {
        let source = if is_admin_email {
            RoleSource::AdminEmail
        } else {
            RoleSource::Groups
        };
        set_role_row(tx, user.id, Role::Admin, source)?;
    }
    audit::record(
        tx,
        &policy.team_id,
        &Actor {
            user_id: Some(user.id),
            ..actor.clone()
        },
        "scim_user_linked",
        id.email.as_str(),
        "first sign-in of a provisioned member",
    )?;
    Ok(Some(user.id))
}

fn set_role_row(
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

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such member in this team")]
    NotFound,
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
) -> Result<User, ChangeError> {
    let tx = checked_change(conn)?;
    let user = get_in_team(&tx, team_id, target)?.ok_or(ChangeError::NotFound)?;
    if !user.active {
        return Err(ChangeError::Conflict(
            "This member was removed; restore them before changing their role.",
        ));
    }
    check_role_change(user.role, Some(role), active_admins(&tx, team_id)?)?;
    if user.role != role || user.role_source != RoleSource::Manual {
        set_role_row(&tx, user.id, role, RoleSource::Manual)?;
        audit::record(
            &tx,
            team_id,
            actor,
            "role_changed",
            &user.email,
            &format!("{} -> {}", user.role, role),
        )?;
    }
    let updated = get(&tx, user.id)?.ok_or(ChangeError::NotFound)?;
    tx.commit()?;
    Ok(updated)
}

/// Deactivates a member: sessions deleted and personal tokens revoked in the same transaction.
pub fn remove(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    target: i64,
) -> Result<User, ChangeError> {
    let tx = checked_change(conn)?;
    let user = get_in_team(&tx, team_id, target)?.ok_or(ChangeError::NotFound)?;
    if !user.active {
        return Ok(user);
    }
    check_role_change(user.role, None, active_admins(&tx, team_id)?)?;
    let t = now();
    tx.execute(
        "UPDATE users SET active = 0, removed_at = ?2 WHERE id = ?1",
        params![user.id, t],
    )?;
    sessions::delete_for_user(&tx, user.id)?;
    let revoked = tx.execute(
        "UPDATE api_tokens SET revoked_at = ?2, revoked_by = ?3
         WHERE created_by = ?1 AND personal AND revoked_at IS NULL",
        params![user.id, t, actor.user_id],
    )?;
    audit::record(
        &tx,
        team_id,
        actor,
        "member_removed",
        &user.email,
        &format!("{revoked} personal token(s) revoked"),
    )?;
    let updated = get(&tx, user.id)?.ok_or(ChangeError::NotFound)?;
    tx.commit()?;
    Ok(updated)
}

pub fn restore(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    target: i64,
) -> Result<User, ChangeError> {
    let tx = conn.transaction()?;
    let user = get_in_team(&tx, team_id, target)?.ok_or(ChangeError::NotFound)?;
    if !user.active {
        // A restored admin comes back as a member: removal ended their admin rights.
        tx.execute(
            "UPDATE users SET active = 1, removed_at = NULL, role = 'member', role_source = 'default' WHERE id = ?1",
            [user.id],
        )?;
        audit::record(&tx, team_id, actor, "member_restored", &user.email, "")?;
    }
    let updated = get(&tx, user.id)?.ok_or(ChangeError::NotFound)?;
    tx.commit()?;
    Ok(updated)
}

/// Shell recovery: make the active member with this email an admin.
pub fn promote_by_email(
    conn: &mut Connection,
    team_id: &str,
    email: &str,
) -> Result<User, ChangeError> {
    let id = find_by_email(conn, team_id, email)?
        .into_iter()
        .find(|u| u.active)
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
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND team_id = ?2",
        params![user_id, team_id, hash],
    )?;
    let action = if hash.is_some() {
        "password_set"
    } else {
        "password_cleared"
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
    Ok(())
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
    const BREAK_GLASS: usize = 11;
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, EXISTS (SELECT 1 FROM users p WHERE p.team_id = users.team_id AND p.password_hash IS NOT NULL)
             FROM users
             WHERE id = ?1 AND active = 1
               AND EXISTS (SELECT 1 FROM sessions WHERE key_hash = ?2 AND expires_at > ?3)"
        ))?
        .query_row(params![id, key_hash, now()], |r| {
            Ok((from_row(r)?, r.get(BREAK_GLASS)?))
        })
        .optional()?)
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
