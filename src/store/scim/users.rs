//! Users as SCIM sees them: team members with the attributes kept in `scim_users`. Ending
//! and restoring access goes through `users::remove_in` / `users::restore_in`, as an admin's
//! removal does.

use rusqlite::{params, Connection, OptionalExtension, Row, ToSql, Transaction};

use super::listing::{filter_sql, id_arg};
use super::{groups, immediate, Result};
use crate::domain::text::strip_unsafe;
use crate::domain::Email;
use crate::scim::filter::Filter;
use crate::scim::patch::UserAttrs;
use crate::scim::types::EmailValue;
use crate::scim::Refusal;
use crate::store::audit::{self, Action, Actor};
use crate::store::users;
use crate::store::{now, StoreError};

#[derive(Debug, Clone)]
pub struct StoredUser {
    pub id: i64,
    pub attrs: UserAttrs,
    pub created_at: i64,
    pub updated_at: i64,
    pub groups: Vec<(i64, String)>,
}

const USER_SELECT: &str = "SELECT u.id, u.email, u.name, u.active, u.created_at, s.external_id,
        s.given_name, s.family_name, s.formatted, s.display_name, s.emails,
        coalesce(s.updated_at, u.created_at), s.user_id IS NOT NULL
    FROM users u LEFT JOIN scim_users s ON s.user_id = u.id";

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<StoredUser> {
    let email: String = r.get(1)?;
    let name: String = r.get(2)?;
    let known: bool = r.get(12)?;
    let emails: Option<String> = r.get(10)?;
    let mut emails: Vec<EmailValue> = emails
        .and_then(|e| serde_json::from_str(&e).ok())
        .unwrap_or_default();
    if emails.is_empty() {
        emails.push(EmailValue {
            value: email.clone(),
            kind: Some("work".into()),
            primary: true,
        });
    }
    let display_name: Option<String> = r.get(9)?;
    Ok(StoredUser {
        id: r.get(0)?,
        attrs: UserAttrs {
            user_name: email,
            external_id: r.get(5)?,
            given_name: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            family_name: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            formatted: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
            // A member SCIM never touched shows the name their sign-in gave.
            display_name: if known {
                display_name.unwrap_or_default()
            } else {
                name
            },
            emails,
            active: r.get(3)?,
        },
        created_at: r.get(4)?,
        updated_at: r.get(11)?,
        groups: Vec::new(),
    })
}

fn groups_of(
    conn: &Connection,
    user_id: i64,
) -> std::result::Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.id, g.display_name FROM scim_group_members m JOIN scim_groups g ON g.id = m.group_id
         WHERE m.user_id = ?1 ORDER BY g.id",
    )?;
    let rows = stmt
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A member of the team by SCIM id; `None` when absent, in another team or deleted by SCIM.
pub fn get_user(
    conn: &Connection,
    team_id: &str,
    id: i64,
) -> std::result::Result<Option<StoredUser>, StoreError> {
    let found = conn
        .query_row(
            &format!(
                "{USER_SELECT} WHERE u.id = ?1 AND u.team_id = ?2 AND NOT coalesce(s.deleted, 0)"
            ),
            params![id, team_id],
            user_from_row,
        )
        .optional()?;
    match found {
        Some(mut u) => {
            u.groups = groups_of(conn, u.id)?;
            Ok(Some(u))
        }
        None => Ok(None),
    }
}

fn user_column(attr: &str, value: &str, args: &mut Vec<Box<dyn ToSql>>) -> Option<String> {
    let sql = match attr {
        "username" => {
            args.push(Box::new(value.trim().to_lowercase()));
            "u.email = ?"
        }
        "emails.value" | "emails" => {
            args.push(Box::new(value.trim().to_lowercase()));
            args.push(Box::new(value.trim().to_lowercase()));
            "(u.email = ? OR EXISTS (SELECT 1 FROM json_each(s.emails) e WHERE lower(json_extract(e.value, '$.value')) = ?))"
        }
        "externalid" => {
            args.push(Box::new(value.to_string()));
            "s.external_id = ?"
        }
        "id" => {
            args.push(Box::new(id_arg(value)));
            "u.id = ?"
        }
        _ => return None,
    };
    Some(sql.to_string())
}

/// One page of the team's users (`start` is 1-based) and how many match in all.
pub fn list_users(
    conn: &Connection,
    team_id: &str,
    filter: Option<&Filter>,
    start: i64,
    count: i64,
) -> Result<(i64, Vec<StoredUser>)> {
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(team_id.to_string())];
    let cond = match filter {
        Some(f) => filter_sql(f, &user_column, &mut args)?,
        None => "1".into(),
    };
    let base = format!("FROM users u LEFT JOIN scim_users s ON s.user_id = u.id WHERE u.team_id = ? AND NOT coalesce(s.deleted, 0) AND {cond}");
    let refs: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let total: i64 = conn.query_row(&format!("SELECT count(*) {base}"), &refs[..], |r| r.get(0))?;
    let sql = format!(
        "{USER_SELECT} WHERE u.id IN (SELECT u.id {base} ORDER BY u.id LIMIT {count} OFFSET {})
         ORDER BY u.id",
        start - 1
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt
        .query_map(&refs[..], user_from_row)?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    for u in &mut rows {
        u.groups = groups_of(conn, u.id)?;
    }
    Ok((total, rows))
}

fn valid_email(attrs: &UserAttrs) -> Result<Email> {
    Email::parse(&attrs.user_name)
        .ok_or_else(|| Refusal::invalid_value("userName must be the work email address.").into())
}

fn emails_json(attrs: &UserAttrs) -> String {
    serde_json::to_string(&attrs.emails).unwrap_or_else(|_| "[]".into())
}

/// What an attribute write is audited as: the action, whom it names, the detail.
type Audited<'a> = (Action, &'a str, &'a str);

/// Writes member `id`'s SCIM attributes (SCIM sees them again if it had deleted them) and,
/// when the write is a change to record, its audit row, in the caller's transaction.
fn write_attrs(
    conn: &Connection,
    team_id: &str,
    actor: &Actor,
    id: i64,
    a: &UserAttrs,
    audited: Option<Audited<'_>>,
) -> Result<()> {
    let t = now();
    conn.execute(
        "INSERT INTO scim_users (user_id, team_id, external_id, given_name, family_name, formatted,
                                 display_name, emails, deleted, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9)
         ON CONFLICT (user_id) DO UPDATE SET external_id = excluded.external_id,
             given_name = excluded.given_name, family_name = excluded.family_name,
             formatted = excluded.formatted, display_name = excluded.display_name,
             emails = excluded.emails, deleted = 0, updated_at = excluded.updated_at",
        params![
            id,
            team_id,
            a.external_id.as_deref().map(strip_unsafe),
            strip_unsafe(&a.given_name),
            strip_unsafe(&a.family_name),
            strip_unsafe(&a.formatted),
            strip_unsafe(&a.display_name),
            emails_json(a),
            t
        ],
    )?;
    if let Some((action, subject, detail)) = audited {
        audit::record(conn, team_id, actor, action, subject, detail)?;
    }
    Ok(())
}

/// What POST /Users did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New(i64),
    /// A member SCIM had deactivated or deleted, restored in place (Okta re-POSTs them).
    Restored(i64),
}

/// POST /Users: a provisioned member who has not signed in yet (no IdP identity until the
/// first verified sign-in with this email links it), or a deactivated one brought back.
pub fn create_user(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    attrs: &UserAttrs,
) -> Result<Created> {
    let email = valid_email(attrs)?;
    attrs.check_lengths(None)?;
    immediate(conn, |tx| {
        let existing: Option<(i64, bool, bool)> = tx
            .query_row(
                "SELECT u.id, u.active, coalesce(s.deleted, 0) FROM users u
                 LEFT JOIN scim_users s ON s.user_id = u.id
                 WHERE u.team_id = ?1 AND u.email = ?2 ORDER BY u.active DESC, u.id LIMIT 1",
                params![team_id, email.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let created = match existing {
            Some((_, true, false)) => {
                return Err(Refusal::uniqueness(format!(
                    "A member with userName {} already exists in this team.",
                    email.as_str()
                ))
                .into())
            }
            Some((id, _, _)) => {
                let audited = (Action::ScimUserUpdated, email.as_str(), "provisioned again");
                write_attrs(tx, team_id, actor, id, attrs, Some(audited))?;
                Created::Restored(id)
            }
            None => {
                let t = now();
                let subject = format!("scim:{}", crate::crypto::random_string(16));
                tx.execute(
                    "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source,
                                        joined_via, active, created_at, removed_at)
                     VALUES (?1, '', ?2, ?3, ?4, 'member', 'default', 'scim', ?5, ?6, ?7)",
                    params![
                        team_id,
                        subject,
                        email.as_str(),
                        strip_unsafe(&attrs.shown_name()),
                        attrs.active,
                        t,
                        (!attrs.active).then_some(t)
                    ],
                )?;
                let id = tx.last_insert_rowid();
                let audited = (
                    Action::ScimUserCreated,
                    email.as_str(),
                    "provisioned, not signed in yet",
                );
                write_attrs(tx, team_id, actor, id, attrs, Some(audited))?;
                Created::New(id)
            }
        };
        if let Created::Restored(id) = created {
            if attrs.active {
                users::restore_in(tx, team_id, actor, id)?;
                // Restored as a member: an admin group they are still in grants admin again.
                groups::sync_admins(tx, team_id, actor, &[id])?;
            } else {
                users::remove_in(tx, team_id, actor, id)?;
            }
        }
        Ok(created)
    })
}

/// PUT, and PATCH once its operations are applied: `attrs` become the user's. A change of
/// `active` goes first, through the removal or restore an admin uses (sessions and personal
/// tokens end in its transaction); a refused one (the last admin) changes nothing.
pub fn replace_user(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    id: i64,
    attrs: &UserAttrs,
) -> Result<()> {
    immediate(conn, |tx| {
        replace_user_in(tx, team_id, actor, id, attrs)?;
        Ok(())
    })
}

/// PATCH: loads the user, applies the operations and writes the result in one immediate
/// transaction, so two PATCHes at once run one after the other instead of losing one.
pub fn patch_user(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    id: i64,
    apply: impl FnOnce(&mut UserAttrs) -> std::result::Result<(), Refusal>,
) -> Result<()> {
    immediate(conn, |tx| {
        let mut attrs = get_user(tx, team_id, id)?
            .ok_or_else(Refusal::not_found)?
            .attrs;
        apply(&mut attrs)?;
        replace_user_in(tx, team_id, actor, id, &attrs)?;
        Ok(())
    })
}

/// [`replace_user`] inside the caller's immediate transaction: the read, the userName check,
/// the removal or restore, the attributes, admin rights and the audit rows commit together
/// or not at all.
pub(super) fn replace_user_in(
    tx: &Transaction<'_>,
    team_id: &str,
    actor: &Actor,
    id: i64,
    attrs: &UserAttrs,
) -> Result<()> {
    let email = valid_email(attrs)?;
    let current = get_user(tx, team_id, id)?.ok_or_else(Refusal::not_found)?;
    attrs.check_lengths(Some(&current.attrs))?;
    // Two active accounts may share an email (JIT sign-ins from two IdP accounts): only a
    // change of userName is checked against the others.
    if !current.attrs.user_name.eq_ignore_ascii_case(email.as_str()) {
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM users u LEFT JOIN scim_users s ON s.user_id = u.id
                            WHERE u.team_id = ?1 AND u.email = ?2 AND u.id <> ?3 AND u.active
                              AND NOT coalesce(s.deleted, 0))",
            params![team_id, email.as_str(), id],
            |r| r.get(0),
        )?;
        if taken {
            return Err(Refusal::uniqueness(format!(
                "Another member has userName {}.",
                email.as_str()
            ))
            .into());
        }
    }
    if current.attrs.active && !attrs.active {
        users::remove_in(tx, team_id, actor, id)?;
    } else if !current.attrs.active && attrs.active {
        users::restore_in(tx, team_id, actor, id)?;
    }
    let shown = strip_unsafe(&attrs.shown_name());
    tx.execute(
        "UPDATE users SET email = ?2, name = CASE WHEN ?3 = '' THEN name ELSE ?3 END WHERE id = ?1",
        params![id, email.as_str(), shown],
    )?;
    let mut before = current.attrs.clone();
    before.active = attrs.active;
    let changed = before != *attrs;
    let audited = changed.then_some((Action::ScimUserUpdated, email.as_str(), ""));
    write_attrs(tx, team_id, actor, id, attrs, audited)?;
    if !current.attrs.active && attrs.active {
        // Restored as a member: an admin group they are still in grants admin again.
        groups::sync_admins(tx, team_id, actor, &[id])?;
    }
    Ok(())
}

/// DELETE /Users/{id}: removed as an admin removes, out of every group, and gone for SCIM.
pub fn delete_user(conn: &mut Connection, team_id: &str, actor: &Actor, id: i64) -> Result<()> {
    immediate(conn, |tx| {
        let current = get_user(tx, team_id, id)?.ok_or_else(Refusal::not_found)?;
        users::remove_in(tx, team_id, actor, id)?;
        let audited = (
            Action::ScimUserDeleted,
            current.attrs.user_name.as_str(),
            "",
        );
        write_attrs(tx, team_id, actor, id, &current.attrs, Some(audited))?;
        tx.execute("UPDATE scim_users SET deleted = 1 WHERE user_id = ?1", [id])?;
        tx.execute("DELETE FROM scim_group_members WHERE user_id = ?1", [id])?;
        Ok(())
    })
}
