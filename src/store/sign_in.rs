//! Sign-in: gathers what [`admission::decide`] needs inside one transaction, then writes its
//! outcome (a new account, a reactivation, a group-managed role change) with the sign-in's
//! audit rows. Refusals are audited too.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::audit::{self, Action, Actor};
use super::users::{self, User};
use super::{invites, now, StoreError};
use crate::domain::admission::{
    self, Account, Admission, Claims, Facts, Provisioned, Refusal, TeamRules,
};
use crate::domain::{Email, Provisioning, Role, RoleSource};

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
    #[error(transparent)]
    Refused(#[from] Refusal),
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
    let existing = tx
        .query_row(
            &format!(
                "SELECT {} FROM users WHERE team_id = ?1 AND issuer = ?2 AND subject = ?3",
                users::COLUMNS
            ),
            params![policy.team_id, id.issuer, id.subject],
            users::from_row,
        )
        .optional()?;
    let provisioned = match existing {
        Some(_) => None,
        None => provisioned_account(&tx, policy, id)?,
    };
    let decided = decide(&tx, policy, id, existing.as_ref(), provisioned.as_ref())?;
    let user_id = match decided {
        Ok(Admission::Link { role }) => match &provisioned {
            Some((user, _)) => link(&tx, policy, id, &actor, user, role)?,
            None => return Err(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows).into()),
        },
        Ok(admission) => apply(&tx, policy, id, &actor, existing.as_ref(), admission)?,
        Err(refusal) => {
            audit::record(
                &tx,
                &policy.team_id,
                &actor,
                Action::SignInRefused,
                id.email.as_str(),
                &refusal.to_string(),
            )?;
            tx.commit()?;
            return Err(refusal.into());
        }
    };
    let user = users::get(&tx, user_id)?
        .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
    audit::record(
        &tx,
        &policy.team_id,
        &Actor {
            user_id: Some(user.id),
            ..actor
        },
        Action::SignIn,
        &user.email,
        &format!("role {} ({})", user.role, user.role_source.label()),
    )?;
    tx.commit()?;
    Ok(user)
}

/// Reads the facts the decision needs (only those it can use) and asks the domain.
fn decide(
    tx: &Transaction<'_>,
    policy: &Policy,
    id: &Identity,
    existing: Option<&User>,
    provisioned: Option<&(User, Provisioned)>,
) -> Result<Result<Admission, Refusal>, StoreError> {
    // Whether another account has the email, and whether one of those was removed: one read.
    let (email_in_team, email_removed_in_team) = match existing {
        Some(_) => (true, false),
        None => tx.query_row(
            "SELECT count(*) > 0, coalesce(sum(NOT active), 0) > 0 FROM users
             WHERE team_id = ?1 AND email = ?2",
            params![policy.team_id, id.email.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?,
    };
    let invitation = match (policy.provisioning, existing) {
        (Provisioning::Invite, None) => {
            invites::find_pending(tx, &policy.team_id, id.email.as_str())?
        }
        (Provisioning::Invite, Some(u)) if !u.active => {
            invites::find_pending(tx, &policy.team_id, id.email.as_str())?
        }
        _ => None,
    };
    let active_admins = match existing {
        Some(_) if !policy.admin_groups.is_empty() => users::active_admins(tx, &policy.team_id)?,
        _ => 0,
    };
    Ok(admission::decide(&Facts {
        rules: TeamRules {
            admin_email: policy.admin_email.as_ref(),
            provisioning: policy.provisioning,
            admin_groups: &policy.admin_groups,
        },
        claims: Claims {
            email: &id.email,
            email_verified: id.email_verified,
            groups: id.groups.as_deref(),
        },
        account: existing.map(|u| Account {
            role: u.role,
            source: u.role_source,
            active: u.active,
        }),
        email_in_team,
        email_removed_in_team,
        invitation,
        active_admins,
        provisioned: provisioned.map(|(_, p)| *p),
    }))
}

/// The account SCIM provisioned with this email and no IdP identity yet (the oldest).
fn provisioned_account(
    tx: &Transaction<'_>,
    policy: &Policy,
    id: &Identity,
) -> Result<Option<(User, Provisioned)>, StoreError> {
    let user = tx
        .query_row(
            &format!(
                "SELECT {} FROM users WHERE team_id = ?1 AND email = ?2 AND issuer = ''
                 ORDER BY id LIMIT 1",
                users::COLUMNS
            ),
            params![policy.team_id, id.email.as_str()],
            users::from_row,
        )
        .optional()?;
    let Some(user) = user else {
        return Ok(None);
    };
    let email_shared = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE team_id = ?1 AND email = ?2 AND id <> ?3)",
        params![policy.team_id, id.email.as_str(), user.id],
        |r| r.get(0),
    )?;
    let scim_admin_group = super::scim::in_admin_group(tx, &policy.team_id, user.id)?;
    let p = Provisioned {
        role: user.role,
        active: user.active,
        email_shared,
        scim_admin_group,
    };
    Ok(Some((user, p)))
}

/// The first sign-in of a provisioned member: the account takes the sign-in's issuer and
/// subject (and its name, when the IdP sent one), and the role the link gives it: admin, or
/// member when an unverified email takes an account promoted before its first sign-in.
fn link(
    tx: &Transaction<'_>,
    policy: &Policy,
    id: &Identity,
    actor: &Actor,
    user: &User,
    role: Option<(Role, RoleSource)>,
) -> Result<i64, StoreError> {
    let name = if id.name.trim().is_empty() {
        user.name.clone()
    } else {
        id.name.clone()
    };
    tx.execute(
        "UPDATE users SET issuer = ?2, subject = ?3, name = ?4, last_login_at = ?5 WHERE id = ?1",
        params![user.id, id.issuer, id.subject, name, now()],
    )?;
    let actor = Actor {
        user_id: Some(user.id),
        ..actor.clone()
    };
    audit::record(
        tx,
        &policy.team_id,
        &actor,
        Action::ScimUserLinked,
        id.email.as_str(),
        "first sign-in of a provisioned member",
    )?;
    if let Some((role, source)) = role {
        users::set_role_row(tx, user.id, role, source)?;
        let change = match role {
            Role::Admin => "member -> admin (first sign-in of a provisioned member)",
            Role::Member => {
                "admin -> member (first sign-in of a provisioned member with an unverified email)"
            }
        };
        audit::record(
            tx,
            &policy.team_id,
            &actor,
            Action::RoleChanged,
            &user.email,
            change,
        )?;
    }
    Ok(user.id)
}

/// Writes an admission; the account's id.
fn apply(
    tx: &Transaction<'_>,
    policy: &Policy,
    id: &Identity,
    actor: &Actor,
    existing: Option<&User>,
    admission: Admission,
) -> Result<i64, StoreError> {
    let t = now();
    match (admission, existing) {
        (
            Admission::Create {
                role,
                source,
                via,
                invitation,
            },
            _,
        ) => {
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
                    via.as_str(),
                    t
                ],
            )?;
            let user_id = tx.last_insert_rowid();
            if let Some(invite_id) = invitation {
                invites::mark_accepted(tx, invite_id)?;
            }
            audit::record(
                tx,
                &policy.team_id,
                &Actor {
                    user_id: Some(user_id),
                    ..actor.clone()
                },
                Action::AccountCreated,
                id.email.as_str(),
                via.describe(),
            )?;
            Ok(user_id)
        }
        (
            Admission::Return {
                restore_with,
                groups,
            },
            Some(user),
        ) => {
            if let Some(invite_id) = restore_with {
                // Back as a member: `decide` counted them as one for the groups' change.
                users::reactivate_as_member(tx, user.id)?;
                invites::mark_accepted(tx, invite_id)?;
            }
            tx.execute(
                "UPDATE users SET email = ?2, name = ?3, last_login_at = ?4 WHERE id = ?1",
                params![user.id, id.email.as_str(), id.name, t],
            )?;
            if let Some(change) = groups {
                let (role, source) = change.role();
                users::set_role_row(tx, user.id, role, source)?;
                audit::record(
                    tx,
                    &policy.team_id,
                    actor,
                    Action::RoleChanged,
                    &user.email,
                    change.describe(),
                )?;
            }
            Ok(user.id)
        }
        // `decide` returns `Return` only for an existing account, `Link` is applied by `link`.
        (Admission::Return { .. }, None) | (Admission::Link { .. }, _) => {
            Err(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
        }
    }
}
