//! The audit log: who did what, to whom, when and from where. Rows are written in the same
//! transaction as the change they describe. Text in a row is capped, anonymous repeats share
//! one row per minute, and rows past the retention period are deleted.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now, StoreError};
pub use crate::domain::AuditAction as Action;

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

/// The most bytes of text kept in a row's actor, target and detail: much of it comes from
/// outside (emails typed at the door, IdP error messages), and a row is no place for 60 KB.
pub const MAX_TEXT: usize = 1024;

/// `s` cut to at most [`MAX_TEXT`] bytes, at a character boundary.
fn cap(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub fn record(
    conn: &Connection,
    team_id: &str,
    actor: &Actor,
    action: Action,
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
            cap(&actor.label),
            action.as_str(),
            cap(target),
            cap(detail),
            cap(&actor.ip)
        ],
    )?;
    Ok(())
}

/// One audit row to write, for a caller that builds it before it has a connection.
pub struct Event<'a> {
    pub team_id: &'a str,
    pub actor: &'a Actor,
    pub action: Action,
    pub target: &'a str,
    pub detail: &'a str,
}

/// Records an anonymous event that may repeat (a refused callback, a throttled attempt):
/// the first from `actor.ip` for this team and action in a UTC minute is a row, the rest
/// of that minute count on it. Nothing is written for a team that does not exist.
pub fn record_repeated(conn: &mut Connection, event: &Event<'_>) -> Result<(), StoreError> {
    let Event {
        team_id,
        actor,
        action,
        target,
        detail,
    } = *event;
    let tx = conn.transaction()?;
    let team_known = tx
        .query_row("SELECT 1 FROM teams WHERE id = ?1", [team_id], |_| Ok(()))
        .optional()?
        .is_some();
    if !team_known {
        return Ok(());
    }
    let t = now();
    let minute = t - t.rem_euclid(60);
    let counted = tx.execute(
        "UPDATE audit SET repeats = repeats + 1
         WHERE id = (SELECT id FROM audit
                     WHERE team_id = ?1 AND ip = ?2 AND action = ?3 AND actor_id IS NULL
                       AND at >= ?4 AND at < ?4 + 60
                     ORDER BY id LIMIT 1)",
        params![team_id, cap(&actor.ip), action.as_str(), minute],
    )?;
    if counted == 0 {
        record(&tx, team_id, actor, action, target, detail)?;
    }
    tx.commit()?;
    Ok(())
}

/// Deletes rows recorded before `cutoff` (Unix seconds); how many went.
pub fn purge_before(conn: &Connection, cutoff: i64) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM audit WHERE at < ?1", [cutoff])?)
}

pub use crate::domain::AuditEntry as Entry;

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
    let total: i64 = conn
        .prepare_cached(&count_sql())?
        .query_row(params![team_id, action, person], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&page_sql(per_page))?;
    let rows = stmt
        .query_map(params![team_id, action, person, offset], |r| {
            Ok(Entry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: r.get(4)?,
                ip: r.get(5)?,
                repeats: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

const LIST_WHERE: &str = "team_id = ?1
    AND (?2 = '' OR action = ?2)
    AND (?3 = '' OR actor LIKE ?3 ESCAPE '\\' OR target LIKE ?3 ESCAPE '\\')";

fn count_sql() -> String {
    format!("SELECT count(*) FROM audit WHERE {LIST_WHERE}")
}

/// The page size is in the text, a constant of the statement: see `store::plan_once` for why
/// a bound LIMIT is costly.
fn page_sql(per_page: i64) -> String {
    format!(
        "SELECT at, actor, action, target, detail, ip, repeats FROM audit WHERE {LIST_WHERE}
         ORDER BY id DESC LIMIT {per_page} OFFSET ?4"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        crate::store::test_db(&["acme"])
    }

    fn anonymous(ip: &str) -> Actor {
        Actor {
            user_id: None,
            label: "anonymous".into(),
            ip: ip.into(),
        }
    }

    #[test]
    fn target_and_detail_are_stored_cut_at_1_kib_on_a_character_boundary() {
        let c = db();
        // 'é' is two bytes: 1 KiB falls inside the 513th of them in the detail.
        let (target, detail) = ("t".repeat(5_000), format!("x{}", "é".repeat(3_000)));
        record(
            &c,
            "acme",
            &anonymous("192.0.2.1"),
            Action::SignInRefused,
            &target,
            &detail,
        )
        .expect("record");
        let (t, d): (String, String) = c
            .query_row("SELECT target, detail FROM audit", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("row");
        assert_eq!(t, "t".repeat(MAX_TEXT));
        assert_eq!(d, format!("x{}", "é".repeat(511)));
        assert!(d.len() <= MAX_TEXT && detail.starts_with(&d));
    }

    #[test]
    fn a_page_of_the_log_is_not_prepared_again_on_the_next_view() {
        let c = db();
        for i in 0..30 {
            let who = anonymous(&format!("192.0.2.{i}"));
            record(
                &c,
                "acme",
                &who,
                Action::SignInRefused,
                &format!("user{i}@acme.test"),
                "",
            )
            .expect("record");
        }
        let views = [
            (None, 0),
            (None, 10),
            (Some("user1"), 0),
            (Some("user2"), 5),
        ];
        for (person, offset) in views {
            let filter = Filter {
                action: None,
                person: person.map(String::from),
            };
            list(&c, "acme", &filter, offset, 10).expect("a page");
        }
        assert_eq!(crate::store::times_prepared_again(&c, &count_sql()), 0);
        assert_eq!(crate::store::times_prepared_again(&c, &page_sql(10)), 0);
    }

    fn event<'a>(team_id: &'a str, actor: &'a Actor, action: Action, detail: &'a str) -> Event<'a> {
        Event {
            team_id,
            actor,
            action,
            target: "",
            detail,
        }
    }

    #[test]
    fn repeats_of_one_address_and_action_in_a_minute_share_a_row() {
        let mut c = db();
        for ip in ["192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2"] {
            let actor = anonymous(ip);
            let event = event("acme", &actor, Action::SignInRefused, "why");
            record_repeated(&mut c, &event).expect("record");
        }
        let actor = anonymous("192.0.2.1");
        let throttled = event("acme", &actor, Action::PasswordSignInThrottled, "");
        record_repeated(&mut c, &throttled).expect("record");
        let elsewhere = event("nope", &actor, Action::SignInRefused, "");
        record_repeated(&mut c, &elsewhere).expect("an unknown team records nothing");
        let (rows, _) = list(&c, "acme", &Filter::default(), 0, 50).expect("list");
        let mut seen: Vec<(String, String, i64)> = rows
            .into_iter()
            .map(|e| (e.ip, e.action, e.repeats))
            .collect();
        seen.sort();
        // Unless the minute turned between the writes, the first address's three are one.
        let first: i64 = seen
            .iter()
            .filter(|(ip, a, _)| ip == "192.0.2.1" && a == "sign_in_refused")
            .map(|(_, _, n)| n)
            .sum();
        assert_eq!(first, 3);
        assert!(seen.len() <= 4, "{seen:?}");
        assert!(seen.contains(&("192.0.2.2".into(), "sign_in_refused".into(), 1)));
        assert!(seen.contains(&("192.0.2.1".into(), "password_sign_in_throttled".into(), 1)));
    }

    #[test]
    fn rows_before_the_cutoff_are_purged_and_later_ones_kept() {
        let c = db();
        record(&c, "acme", &anonymous(""), Action::TeamCreated, "", "").expect("record");
        c.execute(
            "INSERT INTO audit (team_id, at, actor, action) VALUES ('acme', 1000, 'x', 'old')",
            [],
        )
        .expect("old row");
        assert_eq!(purge_before(&c, 2000).expect("purge"), 1);
        let (rows, _) = list(&c, "acme", &Filter::default(), 0, 50).expect("list");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].action, "team_created");
    }
}
