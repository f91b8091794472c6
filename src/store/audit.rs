//! The audit log: who did what, to whom, when and from where. Rows are written in the same
//! transaction as the change they describe.

use rusqlite::{params, Connection};

use super::{now, StoreError};

/// Who is acting: a signed-in user, the shell, or an anonymous visitor (sign-in refusals).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub label: String,
    pub ip: String,
}

impl Actor {
    pub fn shell() -> Actor {
        Actor {
            user_id: None,
            label: "shell".into(),
            ip: String::new(),
        }
    }
}

pub fn record(
    conn: &Connection,
    team_id: &str,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit (team_id, at, actor_id, actor, action, target, detail, ip)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            team_id,
            now(),
            actor.user_id,
            actor.label,
            action,
            target,
            detail,
            actor.ip
        ],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip: String,
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub action: Option<String>,
    pub person: Option<String>,
}

/// Newest first, `per_page` rows from `offset`, scoped to one team.
pub fn list(
    conn: &Connection,
    team_id: &str,
    filter: &Filter,
    offset: i64,
    per_page: i64,
) -> Result<(Vec<Entry>, i64), StoreError> {
    let action = filter.action.clone().unwrap_or_default();
    let person = filter
        .person
        .clone()
        .map(|p| format!("%{}%", escape_like(&p)))
        .unwrap_or_default();
    let where_sql = "team_id = ?1
        AND (?2 = '' OR action = ?2)
        AND (?3 = '' OR actor LIKE ?3 ESCAPE '\\' OR target LIKE ?3 ESCAPE '\\')";
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM audit WHERE {where_sql}"),
        params![team_id, action, person],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT id, at, actor, action, target, detail, ip FROM audit WHERE {where_sql}
         ORDER BY id DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let rows = stmt
        .query_map(params![team_id, action, person, per_page, offset], |r| {
            Ok(Entry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: r.get(5)?,
                ip: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

pub fn actions(conn: &Connection, team_id: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT DISTINCT action FROM audit WHERE team_id = ?1 ORDER BY action")?;
    let rows = stmt
        .query_map([team_id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
