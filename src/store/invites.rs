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
    // SQLite reads a negative LIMIT as none.
    pending(conn, team_id, -1)
}

/// [`list_pending`] when the team has at most `most` pending invitations (`None` when it has
/// more): a read bounded whatever admins did, for `Store::read_inline`.
pub fn list_pending_up_to(
    conn: &Connection,
    team_id: &str,
    most: usize,
) -> Result<Option<Vec<Invite>>, StoreError> {
    let limit = i64::try_from(most).unwrap_or(i64::MAX).saturating_add(1);
    let found = pending(conn, team_id, limit)?;
    Ok((found.len() <= most).then_some(found))
}

fn pending(conn: &Connection, team_id: &str, limit: i64) -> Result<Vec<Invite>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, i.email, coalesce(u.email, 'shell'), i.created_at FROM invites i
         LEFT JOIN users u ON u.id = i.invited_by
         WHERE i.team_id = ?1 AND i.accepted_at IS NULL AND i.cancelled_at IS NULL
         ORDER BY i.email LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![team_id, limit], |r| {
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
    fn a_capped_list_is_the_whole_list_or_none() {
        let mut c = crate::store::test_db(&["t", "u"]);
        for email in ["b@t.test", "a@t.test", "c@t.test"] {
            create(&mut c, "t", &Actor::shell(), email).expect("invite");
        }
        create(&mut c, "u", &Actor::shell(), "x@u.test").expect("another team's");
        let all: Vec<String> = list_pending(&c, "t")
            .expect("list")
            .into_iter()
            .map(|i| i.email)
            .collect();
        assert_eq!(all, ["a@t.test", "b@t.test", "c@t.test"]);
        let capped = list_pending_up_to(&c, "t", 3)
            .expect("read")
            .expect("three");
        assert_eq!(capped.len(), 3);
        assert!(list_pending_up_to(&c, "t", 2).expect("read").is_none());
        assert_eq!(
            list_pending_up_to(&c, "u", 1)
                .expect("read")
                .expect("one")
                .len(),
            1
        );
    }
}
