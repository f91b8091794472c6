//! Pushed groups (Okta's Push Groups, Entra's group provisioning): their members, and the
//! admin rights that membership of a group named in `admin_groups` grants.

use std::collections::BTreeSet;

use rusqlite::{params, Connection, OptionalExtension, Row, ToSql, Transaction};

use super::listing::{filter_sql, id_arg};
use super::{immediate, Result};
use crate::domain::text::strip_unsafe;
use crate::scim::filter::Filter;
use crate::scim::patch::GroupState;
use crate::scim::Refusal;
use crate::store::audit::{self, Action, Actor};
use crate::store::users;
use crate::store::{now, StoreError};

#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub id: i64,
    pub state: GroupState,
    /// Members with their emails, for `display`.
    pub members: Vec<(i64, String)>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn group_members(
    conn: &Connection,
    group_id: i64,
) -> std::result::Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.email FROM scim_group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = ?1 ORDER BY u.id",
    )?;
    let rows = stmt
        .query_map([group_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(rows)
}

const GROUP_SELECT: &str =
    "SELECT g.id, g.display_name, g.external_id, g.created_at, g.updated_at FROM scim_groups g";

fn group_from_row(r: &Row<'_>) -> rusqlite::Result<StoredGroup> {
    Ok(StoredGroup {
        id: r.get(0)?,
        state: GroupState {
            display_name: r.get(1)?,
            external_id: r.get(2)?,
            members: Default::default(),
        },
        members: Vec::new(),
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

fn with_members(
    conn: &Connection,
    mut g: StoredGroup,
) -> std::result::Result<StoredGroup, StoreError> {
    g.members = group_members(conn, g.id)?;
    g.state.members = g.members.iter().map(|(id, _)| *id).collect();
    Ok(g)
}

pub fn get_group(
    conn: &Connection,
    team_id: &str,
    id: i64,
) -> std::result::Result<Option<StoredGroup>, StoreError> {
    let found = conn
        .query_row(
            &format!("{GROUP_SELECT} WHERE g.id = ?1 AND g.team_id = ?2"),
            params![id, team_id],
            group_from_row,
        )
        .optional()?;
    found.map(|g| with_members(conn, g)).transpose()
}

fn group_column(attr: &str, value: &str, args: &mut Vec<Box<dyn ToSql>>) -> Option<String> {
    let sql = match attr {
        "displayname" => {
            args.push(Box::new(value.to_string()));
            "g.display_name = ? COLLATE NOCASE"
        }
        "externalid" => {
            args.push(Box::new(value.to_string()));
            "g.external_id = ?"
        }
        "id" => {
            args.push(Box::new(id_arg(value)));
            "g.id = ?"
        }
        "members.value" | "members" => {
            args.push(Box::new(id_arg(value)));
            "EXISTS (SELECT 1 FROM scim_group_members m WHERE m.group_id = g.id AND m.user_id = ?)"
        }
        _ => return None,
    };
    Some(sql.to_string())
}

/// One page of the team's groups; `members` left out when `excluded` (Okta's import asks so).
pub fn list_groups(
    conn: &Connection,
    team_id: &str,
    filter: Option<&Filter>,
    start: i64,
    count: i64,
    with_member_list: bool,
) -> Result<(i64, Vec<StoredGroup>)> {
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(team_id.to_string())];
    let cond = match filter {
        Some(f) => filter_sql(f, &group_column, &mut args)?,
        None => "1".into(),
    };
    let refs: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM scim_groups g WHERE g.team_id = ? AND {cond}"),
        &refs[..],
        |r| r.get(0),
    )?;
    let sql = format!(
        "{GROUP_SELECT} WHERE g.team_id = ? AND {cond} ORDER BY g.id LIMIT {count} OFFSET {}",
        start - 1
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(&refs[..], group_from_row)?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let rows = if with_member_list {
        rows.into_iter()
            .map(|g| with_members(conn, g))
            .collect::<std::result::Result<Vec<_>, _>>()?
    } else {
        rows
    };
    Ok((total, rows))
}

fn check_group_name(conn: &Connection, team_id: &str, name: &str, except: i64) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Refusal::invalid_value("displayName is required.").into());
    }
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM scim_groups WHERE team_id = ?1 AND display_name = ?2 COLLATE NOCASE AND id <> ?3)",
        params![team_id, name, except],
        |r| r.get(0),
    )?;
    if taken {
        return Err(Refusal::uniqueness(format!("A group named {name:?} already exists.")).into());
    }
    Ok(())
}

/// Writes a group's members: only users of this team that SCIM has not deleted; ids from
/// elsewhere are ignored. Returns every user whose membership changed.
fn set_members(
    conn: &Connection,
    team_id: &str,
    group_id: i64,
    want: &BTreeSet<i64>,
) -> std::result::Result<Vec<i64>, StoreError> {
    let have: BTreeSet<i64> = group_members(conn, group_id)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut changed = Vec::new();
    for id in have.difference(want) {
        conn.execute(
            "DELETE FROM scim_group_members WHERE group_id = ?1 AND user_id = ?2",
            params![group_id, id],
        )?;
        changed.push(*id);
    }
    for id in want.difference(&have) {
        let added = conn.execute(
            "INSERT OR IGNORE INTO scim_group_members (group_id, user_id)
             SELECT ?1, u.id FROM users u LEFT JOIN scim_users s ON s.user_id = u.id
             WHERE u.id = ?2 AND u.team_id = ?3 AND NOT coalesce(s.deleted, 0)",
            params![group_id, id, team_id],
        )?;
        if added > 0 {
            changed.push(*id);
        }
    }
    Ok(changed)
}

/// Whether SCIM pushed this user into a group named in the team's `admin_groups`.
pub fn in_admin_group(
    conn: &Connection,
    team_id: &str,
    user_id: i64,
) -> std::result::Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM scim_group_members m JOIN scim_groups g ON g.id = m.group_id
             WHERE m.user_id = ?1 AND g.team_id = ?2 AND g.display_name IN
                 (SELECT value FROM json_each((SELECT admin_groups FROM teams WHERE id = ?2))))",
        params![user_id, team_id],
        |r| r.get(0),
    )?)
}

/// Grants or takes back admin from group membership, as the `groups` claim does at sign-in:
/// admin with source `groups` for members of a group named in `admin_groups`; taken back only
/// from `groups` admins, and never from the last admin.
pub(super) fn sync_admins(
    conn: &Connection,
    team_id: &str,
    actor: &Actor,
    user_ids: &[i64],
) -> std::result::Result<(), StoreError> {
    for &uid in user_ids {
        let Some(user) = users::get_in_team(conn, team_id, uid)? else {
            continue;
        };
        // Nobody has signed in to it yet: its admin-group membership applies when it links
        // (with a verified email), never to a placeholder.
        if !user.active || !user.linked {
            continue;
        }
        let in_admin_group = in_admin_group(conn, team_id, uid)?;
        use crate::domain::{Role, RoleSource};
        if in_admin_group && user.role == Role::Member {
            users::change_role(
                conn,
                team_id,
                actor,
                &user,
                (Role::Admin, RoleSource::Groups),
                "member -> admin (SCIM group in admin_groups)",
            )?;
        } else if !in_admin_group
            && user.role == Role::Admin
            && user.role_source == RoleSource::Groups
        {
            let admins = users::active_admins(conn, team_id)?;
            if admins > 1 {
                users::change_role(
                    conn,
                    team_id,
                    actor,
                    &user,
                    (Role::Member, RoleSource::Default),
                    "admin -> member (left SCIM admin group)",
                )?;
            }
        }
    }
    Ok(())
}

pub fn create_group(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    state: &GroupState,
) -> Result<i64> {
    state.check_lengths(None)?;
    immediate(conn, |tx| {
        let name = strip_unsafe(&state.display_name);
        check_group_name(tx, team_id, &name, -1)?;
        let t = now();
        tx.execute(
            "INSERT INTO scim_groups (team_id, display_name, external_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![team_id, name, state.external_id, t],
        )?;
        let id = tx.last_insert_rowid();
        let changed = set_members(tx, team_id, id, &state.members)?;
        audit::record(
            tx,
            team_id,
            actor,
            Action::ScimGroupCreated,
            &name,
            &format!("{} member(s)", changed.len()),
        )?;
        sync_admins(tx, team_id, actor, &changed)?;
        Ok(id)
    })
}

/// PUT, and PATCH once applied: the group becomes `state`; admin rights follow.
pub fn replace_group(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    id: i64,
    state: &GroupState,
) -> Result<()> {
    immediate(conn, |tx| {
        replace_group_in(tx, team_id, actor, id, state)?;
        Ok(())
    })
}

/// PATCH: loads the group, applies the operations and writes the result in one immediate
/// transaction, so concurrent PATCHes cannot lose a member change.
pub fn patch_group(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    id: i64,
    apply: impl FnOnce(&mut GroupState) -> std::result::Result<(), Refusal>,
) -> Result<()> {
    immediate(conn, |tx| {
        let mut state = get_group(tx, team_id, id)?
            .ok_or_else(Refusal::not_found)?
            .state;
        apply(&mut state)?;
        replace_group_in(tx, team_id, actor, id, &state)?;
        Ok(())
    })
}

fn replace_group_in(
    tx: &Transaction<'_>,
    team_id: &str,
    actor: &Actor,
    id: i64,
    state: &GroupState,
) -> Result<()> {
    let current = get_group(tx, team_id, id)?.ok_or_else(Refusal::not_found)?;
    state.check_lengths(Some(&current.state))?;
    let name = strip_unsafe(&state.display_name);
    check_group_name(tx, team_id, &name, id)?;
    tx.execute(
        "UPDATE scim_groups SET display_name = ?2, external_id = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, name, state.external_id, now()],
    )?;
    let mut affected = set_members(tx, team_id, id, &state.members)?;
    let renamed = current.state.display_name != name;
    if renamed {
        // A rename can move the whole group in or out of `admin_groups`.
        affected.extend(current.state.members.iter().chain(state.members.iter()));
        affected.sort_unstable();
        affected.dedup();
    }
    let detail = if renamed {
        format!("renamed from {:?}", current.state.display_name)
    } else {
        "members changed".to_string()
    };
    if renamed || !affected.is_empty() || current.state.external_id != state.external_id {
        audit::record(tx, team_id, actor, Action::ScimGroupUpdated, &name, &detail)?;
    }
    sync_admins(tx, team_id, actor, &affected)?;
    Ok(())
}

pub fn delete_group(conn: &mut Connection, team_id: &str, actor: &Actor, id: i64) -> Result<()> {
    immediate(conn, |tx| {
        let current = get_group(tx, team_id, id)?.ok_or_else(Refusal::not_found)?;
        tx.execute("DELETE FROM scim_group_members WHERE group_id = ?1", [id])?;
        tx.execute("DELETE FROM scim_groups WHERE id = ?1", [id])?;
        audit::record(
            tx,
            team_id,
            actor,
            Action::ScimGroupDeleted,
            &current.state.display_name,
            "",
        )?;
        let former: Vec<i64> = current.state.members.iter().copied().collect();
        sync_admins(tx, team_id, actor, &former)?;
        Ok(())
    })
}
