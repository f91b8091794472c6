//! Invitations to invite-only teams, matched by lowercase email.

use rusqlite::{params, Connection, OptionalExtension};

use super::audit::{self, Action, Actor};
use super::{now, StoreError};

pub use crate::domain::team_list::Invite;

pub fn find_pending(
    conn: &Connection,
    team_id: &str,
    email: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id FROM invites WHERE team_id = ?1 AND email = ?2
               AND accepted_at IS NULL AND cancelled_at IS NULL",
            params![team_id, email.to_lowercase()],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn mark_accepted(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE invites SET accepted_at = ?2 WHERE id = ?1",
        params![id, now()],
    )?;
    Ok(())
}

/// What inviting an email did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invited {
    New(i64),
    /// Already invited and not yet signed in: nothing changed.
    AlreadyPending(i64),
    /// An active member of the team already has this email: nothing to invite.
    AlreadyMember,
}

/// Creates a pending invitation. Inviting an already-invited email, or an active member's,
/// changes nothing; a removed member may be invited back.
pub fn create(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    email: &str,
) -> Result<Invited, StoreError> {
    let tx = conn.transaction()?;
    let member: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE team_id = ?1 AND email = ?2 AND active)",
        params![team_id, email],
        |r| r.get(0),
    )?;
    if member {
        return Ok(Invited::AlreadyMember);
    }
    if let Some(id) = find_pending(&tx, team_id, email)? {
        return Ok(Invited::AlreadyPending(id));
    }
    tx.execute(
        "INSERT INTO invites (team_id, email, invited_by, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![team_id, email, actor.user_id, now()],
    )?;
    let id = tx.last_insert_rowid();
    audit::record(&tx, team_id, actor, Action::InviteCreated, email, "")?;
    tx.commit()?;
    Ok(Invited::New(id))
}

/// Cancels a pending invitation of this team; false when there is none with that id.
pub fn cancel(
    conn: &mut Connection,
    team_id: &str,
    actor: &Actor,
    id: i64,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let email: Option<String> = tx
        .query_row(
            "UPDATE invites SET cancelled_at = ?3 WHERE id = ?1 AND team_id = ?2
               AND accepted_at IS NULL AND cancelled_at IS NULL RETURNING email",
            params![id, team_id, now()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(email) = email else {
        return Ok(false);
    };
    audit::record(&tx, team_id, actor, Action::InviteCancelled, &email, "")?;
    tx.commit()?;
    Ok(true)
}

pub fn list_pending(conn: &Connection, team_id: &str) -> Result<Vec<Invite>, StoreError> {
    pending(conn, team_id, PENDING)
}

/// The pending invitations [`list_pending_few`] lists at most.
pub const FEW: usize = 100;

/// [`list_pending`] when the team has at most [`FEW`] pending invitations (`None` when it has
/// more): a read bounded whatever admins did, for `Store::read_inline`.
pub fn list_pending_few(
    conn: &Connection,
    team_id: &str,
) -> Result<Option<Vec<Invite>>, StoreError> {
    // The limit is in the text, a constant of the statement: see `store::plan_once` for why a
    // bound LIMIT is costly.
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{PENDING} LIMIT {}", FEW + 1));
    let found = pending(conn, team_id, &SQL)?;
    Ok((found.len() <= FEW).then_some(found))
}

const PENDING: &str =
    "SELECT i.id, i.email, coalesce(u.email, 'shell'), i.created_at FROM invites i
     LEFT JOIN users u ON u.id = i.invited_by
     WHERE i.team_id = ?1 AND i.accepted_at IS NULL AND i.cancelled_at IS NULL
     ORDER BY i.email";

fn pending(conn: &Connection, team_id: &str, sql: &str) -> Result<Vec<Invite>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map([team_id], |r| {
            Ok(Invite {
                id: r.get(0)?,
                email: r.get(1)?,
                invited_by: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_few_pending_invitations_are_all_of_them_or_none() {
        let mut c = crate::store::test_db(&["t", "u"]);
        for email in ["b@t.test", "a@t.test", "c@t.test"] {
            create(&mut c, "t", &Actor::shell(), email).expect("invite");
        }
        create(&mut c, "u", &Actor::shell(), "x@u.test").expect("another team's");
        let emails = |list: Vec<Invite>| list.into_iter().map(|i| i.email).collect::<Vec<_>>();
        let all = emails(list_pending(&c, "t").expect("list"));
        assert_eq!(all, ["a@t.test", "b@t.test", "c@t.test"]);
        let few = list_pending_few(&c, "t").expect("read").expect("three");
        assert_eq!(emails(few), all);
        for i in 0..FEW - 3 {
            create(&mut c, "t", &Actor::shell(), &format!("{i}@t.test")).expect("invite");
        }
        let few = list_pending_few(&c, "t").expect("read").expect("FEW");
        assert_eq!(few.len(), FEW);
        create(&mut c, "t", &Actor::shell(), "one.more@t.test").expect("invite");
        assert!(list_pending_few(&c, "t").expect("read").is_none());
        assert_eq!(list_pending(&c, "t").expect("list").len(), FEW + 1);
        let other = list_pending_few(&c, "u").expect("read").expect("one");
        assert_eq!(emails(other), ["x@u.test"]);
    }
}
