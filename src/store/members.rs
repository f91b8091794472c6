//! The team list: one page of members in a stable order, search on name and email, and the
//! team's counts. This is the most visited page of a team of 10,000, so each of its queries
//! reads one index: the counts row kept by triggers, the covering `users_team_list` index
//! for a page of the list, the trigram index for a search (migrations 4 and 5).

use rusqlite::{named_params, Connection, OptionalExtension, Row};

use super::{audit, StoreError};
use crate::domain::{Role, RoleSource};

#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub members: i64,
    pub admins: i64,
    pub removed: i64,
}

/// A row of the team list: what the page shows of a member, nothing more (a full
/// [`super::users::User`] would read the table row beside the index).
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub role_source: RoleSource,
    pub joined_via: String,
    pub active: bool,
    pub last_login_at: Option<i64>,
}

impl Member {
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.email
        } else {
            &self.name
        }
    }
}

/// The columns of [`Member`], all in the `users_team_list` index.
const COLUMNS: &str =
    "u.id, u.email, u.name, u.role, u.role_source, u.joined_via, u.active, u.last_login_at";
/// How many columns [`COLUMNS`] selects (the index of anything selected after them).
const COLUMN_COUNT: usize = 8;

fn from_row(r: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(r.get_ref(3)?.as_str()?).unwrap_or(Role::Member),
        role_source: RoleSource::parse(r.get_ref(4)?.as_str()?).unwrap_or(RoleSource::Default),
        joined_via: r.get(5)?,
        active: r.get(6)?,
        last_login_at: r.get(7)?,
    })
}

/// The team's counts, kept up to date by triggers on `users` (migration 4): reading them
/// costs the same for 10 members as for 10,000.
pub fn counts(conn: &Connection, team_id: &str) -> Result<Counts, StoreError> {
    Ok(conn
        .prepare_cached("SELECT members, admins, removed FROM team_counts WHERE team_id = ?1")?
        .query_row([team_id], |r| {
            Ok(Counts {
                members: r.get(0)?,
                admins: r.get(1)?,
                removed: r.get(2)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// One page of the team list, ordered by name then id (stable), filtered by `q` on name and
/// email (substring, any case); with the number of members that match. `counts` are the
/// team's, read in the same transaction: without a filter they give the total.
pub fn list(
    conn: &Connection,
    team_id: &str,
    counts: &Counts,
    q: &str,
    offset: i64,
    per_page: i64,
) -> Result<(Vec<Member>, i64), StoreError> {
    // The page size is written into the SQL: SQLite re-plans a statement whenever a bound
    // LIMIT changes, which rusqlite's rebinding on every execution would cause each time.
    let order = format!("ORDER BY u.name COLLATE NOCASE, u.id LIMIT {per_page} OFFSET :offset");
    if q.is_empty() {
        let rows = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM users u WHERE u.team_id = :team {order}"
            ))?
            .query_map(
                named_params! {":team": team_id, ":offset": offset},
                from_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((rows, counts.members + counts.removed));
    }
    let (from, filter) = if q.chars().count() >= 3 {
        // The trigram index finds the matches (the query as one quoted phrase: a substring);
        // the join keeps those of this team.
        (
            "FROM (SELECT rowid AS rid FROM users_search WHERE users_search MATCH :q) s
             CROSS JOIN users u ON u.id = s.rid WHERE u.team_id = :team",
            format!("\"{}\"", q.replace('"', "\"\"")),
        )
    } else {
        // Too short for trigrams: scan the team.
        (
            "FROM users u WHERE u.team_id = :team
               AND (lower(u.name) LIKE :q ESCAPE '\\' OR u.email LIKE :q ESCAPE '\\')",
            format!("%{}%", audit::escape_like(&q.to_lowercase())),
        )
    };
    // The matches are found once: the page and, beside each row, how many matched in all.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, count(*) OVER () {from} {order}"
    ))?;
    let mut found =
        stmt.query(named_params! {":team": team_id, ":q": filter, ":offset": offset})?;
    let (mut rows, mut total) = (Vec::new(), None);
    while let Some(r) = found.next()? {
        total = Some(r.get::<_, i64>(COLUMN_COUNT)?);
        rows.push(from_row(r)?);
    }
    drop(found);
    let total = match total {
        Some(n) => n,
        None if offset == 0 => 0,
        // A page past the end: count the matches on their own.
        None => conn
            .prepare_cached(&format!("SELECT count(*) {from}"))?
            .query_row(named_params! {":team": team_id, ":q": filter}, |r| r.get(0))?,
    };
    Ok((rows, total))
}
