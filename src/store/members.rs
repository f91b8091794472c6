//! The team list: one page of members in a stable order, search on name and email, and the
//! team's counts. This is the most visited page of a team of 10,000, so each of its queries
//! reads one index: the counts row kept by triggers, the covering `users_team_list` index
//! for a page of the list, the trigram index for a search (migrations 4 and 5). Pages
//! without a search are also kept in memory while the team's list version stands
//! (migration 6, [`PageCache`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{named_params, Connection, OptionalExtension, Row};

use super::invites;
use super::{audit, Memo, StoreError};
pub use crate::domain::team_list::{Counts, Member, TeamPage};
use crate::domain::{Role, RoleSource};

/// The columns of [`Member`], all in the `users_team_list` index.
const COLUMNS: &str =
    "u.id, u.email, u.name, u.role, u.role_source, u.joined_via, u.active, u.last_login_at";

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
        .prepare_cached(
            "SELECT members, admins, removed, list_version FROM team_counts WHERE team_id = ?1",
        )?
        .query_row([team_id], |r| {
            Ok(Counts {
                members: r.get(0)?,
                admins: r.get(1)?,
                removed: r.get(2)?,
                list_version: r.get(3)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// A page of the team list without a search. The page size is written into the SQL, a
/// constant of the statement: see `store::plan_once` for why a bound LIMIT is costly.
fn page_sql(per_page: i64) -> String {
    format!(
        "SELECT {COLUMNS} FROM users u WHERE u.team_id = :team
         ORDER BY u.name COLLATE NOCASE, u.id LIMIT {per_page} OFFSET :offset"
    )
}

const BY_TRIGRAMS: &str =
    "FROM (SELECT rowid AS rid FROM users_search WHERE users_search MATCH :q) s
     CROSS JOIN users u ON u.id = s.rid WHERE u.team_id = :team";

const BY_SCAN: &str = "FROM users u WHERE u.team_id = :team
     AND (lower(u.name) LIKE :q ESCAPE '\\' OR u.email LIKE :q ESCAPE '\\')";

/// The ids of a search's matches in list order; `from` is its FROM and WHERE.
fn matches_sql(from: &str) -> String {
    format!("SELECT u.id {from} ORDER BY u.name COLLATE NOCASE, u.id")
}

/// One page of the team list, ordered by name then id (stable), filtered by `q` on name and
/// email (substring, any case); with the number of members that match. `counts` are the
/// team's, read in the same transaction: without a filter they give the total.
fn list(
    conn: &Connection,
    team_id: &str,
    counts: &Counts,
    q: &str,
    offset: i64,
    per_page: i64,
) -> Result<(Vec<Member>, i64), StoreError> {
    if q.is_empty() {
        let rows = conn
            .prepare_cached(&page_sql(per_page))?
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
        (BY_TRIGRAMS, format!("\"{}\"", q.replace('"', "\"\"")))
    } else {
        // Too short for trigrams: scan the team.
        (
            BY_SCAN,
            format!("%{}%", audit::escape_like(&q.to_lowercase())),
        )
    };
    // The matches are found once, in list order, as ids only: their number is the total, and
    // the page's rows are then read by id. (Sorting whole rows, with the total counted beside
    // each, cost twice as much: SQLite copied every match into two temporary tables.)
    let ids = conn
        .prepare_cached(&matches_sql(from))?
        .query_map(named_params! {":team": team_id, ":q": filter}, |r| {
            r.get::<_, i64>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_id =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users u WHERE u.id = ?1"))?;
    let rows = ids
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(per_page).unwrap_or(0))
        .map(|id| by_id.query_row([id], from_row))
        .collect::<Result<Vec<_>, _>>()?;
    let total = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    Ok((rows, total))
}

/// Which page of a team's list is asked for, and whether its pending invitations with it.
pub struct PageWanted<'a> {
    pub team_id: &'a str,
    pub with_invites: bool,
    /// A search on names and emails; empty for none.
    pub q: &'a str,
    pub offset: i64,
    pub per_page: i64,
}

pub fn team_page(
    conn: &Connection,
    cache: &PageCache,
    wanted: &PageWanted<'_>,
) -> Result<TeamPage, StoreError> {
    let counts = counts(conn, wanted.team_id)?;
    let (rows, total) = list_cached(conn, cache, wanted, &counts)?;
    let invites = match wanted.with_invites {
        true => invites::list_pending(conn, wanted.team_id)?,
        false => Vec::new(),
    };
    Ok(TeamPage {
        counts,
        rows,
        total,
        invites,
    })
}

/// [`team_page`] when it is a short read: no search, the page in `cache` at the team's
/// current list version, and a few pending invitations (`invites::FEW`). `None` otherwise:
/// the list read may scan the team (`Store::read_inline` takes only short reads). The
/// counts and invitations are remembered in `memo` while the database is unchanged.
pub fn team_page_if_cached(
    conn: &Connection,
    memo: &Memo,
    cache: &PageCache,
    wanted: &PageWanted<'_>,
) -> Result<Option<TeamPage>, StoreError> {
    if !wanted.q.is_empty() {
        return Ok(None);
    }
    let team = wanted.team_id;
    let counts = memo.counts.get_or(team, |_| true, || counts(conn, team))?;
    let Some((rows, total)) = cached_rows(cache, wanted, &counts) else {
        return Ok(None);
    };
    // A team with more invitations has its page read in the blocking pool.
    let invites = match wanted.with_invites {
        true => memo
            .invites
            .get_or(team, |_| true, || invites::list_pending_few(conn, team))?,
        false => Some(Vec::new()),
    };
    Ok(invites.map(|invites| TeamPage {
        counts,
        rows,
        total,
        invites,
    }))
}

/// Pages of team lists without a search, each with the team's list version it was read at.
/// A page is served from here only when the version read in the caller's transaction is the
/// same, so any change, from this process or a shell command, shows on the next view.
#[derive(Default)]
pub struct PageCache {
    pages: Mutex<HashMap<PageKey, CachedPage>>,
}

/// Team, offset, page size.
type PageKey = (String, i64, i64);

struct CachedPage {
    list_version: i64,
    rows: Arc<Vec<Member>>,
}

/// Pages kept at most: the first pages of many teams, or many pages of a few.
const CACHED_PAGES: usize = 1_000;

impl PageCache {
    fn get(&self, key: &PageKey, list_version: i64) -> Option<Arc<Vec<Member>>> {
        let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        match pages.get(key) {
            Some(page) if page.list_version == list_version => Some(page.rows.clone()),
            _ => None,
        }
    }

    fn put(&self, key: PageKey, list_version: i64, rows: Arc<Vec<Member>>) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= CACHED_PAGES {
            pages.clear();
        }
        pages.insert(key, CachedPage { list_version, rows });
    }
}

/// [`list`], served from `cache` when the page was read at the same list version; `counts`
/// must have been read in the same transaction.
fn list_cached(
    conn: &Connection,
    cache: &PageCache,
    wanted: &PageWanted<'_>,
    counts: &Counts,
) -> Result<(Arc<Vec<Member>>, i64), StoreError> {
    let &PageWanted {
        team_id,
        q,
        offset,
        per_page,
        ..
    } = wanted;
    if !q.is_empty() {
        let (rows, total) = list(conn, team_id, counts, q, offset, per_page)?;
        return Ok((Arc::new(rows), total));
    }
    if let Some(cached) = cached_rows(cache, wanted, counts) {
        return Ok(cached);
    }
    let (rows, _) = list(conn, team_id, counts, q, offset, per_page)?;
    let rows = Arc::new(rows);
    cache.put(page_key(wanted), counts.list_version, rows.clone());
    Ok((rows, counts.members + counts.removed))
}

/// The page of the list without a search, from `cache` when it holds it at `counts`' list
/// version, with the list's length.
fn cached_rows(
    cache: &PageCache,
    wanted: &PageWanted<'_>,
    counts: &Counts,
) -> Option<(Arc<Vec<Member>>, i64)> {
    let rows = cache.get(&page_key(wanted), counts.list_version)?;
    Some((rows, counts.members + counts.removed))
}

fn page_key(wanted: &PageWanted<'_>) -> PageKey {
    (wanted.team_id.to_string(), wanted.offset, wanted.per_page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        crate::store::test_db(&["t", "u"])
    }

    fn add(c: &Connection, team: &str, name: &str) {
        c.execute(
            "INSERT INTO users (team_id, issuer, subject, email, name, role, role_source, joined_via, created_at)
             VALUES (?1, 'https://idp.test', ?2, lower(?2) || '@t.test', ?2, 'member', 'default', 'jit', 0)",
            [team, name],
        )
        .expect("user");
    }

    fn shown(rows: &[Member]) -> Vec<String> {
        rows.iter()
            .map(|m| {
                format!(
                    "{} {} {} {} {} {} {:?}",
                    m.name,
                    m.email,
                    m.role,
                    m.role_source.as_str(),
                    m.joined_via,
                    m.active,
                    m.last_login_at
                )
            })
            .collect()
    }

    /// The first page through the cache, checked against a fresh read.
    fn first_page(c: &Connection, cache: &PageCache, team: &str) -> Vec<String> {
        let counts = counts(c, team).expect("counts");
        let wanted = PageWanted {
            team_id: team,
            with_invites: false,
            q: "",
            offset: 0,
            per_page: 50,
        };
        let (rows, total) = list_cached(c, cache, &wanted, &counts).expect("list");
        let fresh = list(c, team, &counts, "", 0, 50).expect("list").0;
        assert_eq!(shown(&rows), shown(&fresh), "the cache served a stale page");
        assert_eq!(total as usize, rows.len());
        shown(&rows)
    }

    #[test]
    fn a_page_or_a_search_is_not_prepared_again_on_the_next_view() {
        let c = store();
        for name in ["Ada", "Bob", "Carol", "Dan", "Eve"] {
            add(&c, "t", name);
        }
        let counts = counts(&c, "t").expect("counts");
        for (q, offset) in [("", 0), ("", 2), ("car", 0), ("eve", 0), ("a", 0), ("b", 0)] {
            list(&c, "t", &counts, q, offset, 2).expect("a page");
        }
        for sql in [page_sql(2), matches_sql(BY_TRIGRAMS), matches_sql(BY_SCAN)] {
            assert_eq!(crate::store::times_prepared_again(&c, &sql), 0, "{sql}");
        }
    }

    #[test]
    fn a_cached_page_is_read_again_after_any_change_to_what_it_shows() {
        let c = store();
        let cache = PageCache::default();
        add(&c, "t", "Bob");
        assert_eq!(first_page(&c, &cache, "t").len(), 1);
        for sql in [
            "UPDATE users SET role = 'admin' WHERE name = 'Bob'",
            "UPDATE users SET role_source = 'manual' WHERE name = 'Bob'",
            "UPDATE users SET name = 'Robert' WHERE name = 'Bob'",
            "UPDATE users SET email = 'rob@t.test' WHERE name = 'Robert'",
            "UPDATE users SET joined_via = 'invite' WHERE name = 'Robert'",
            "UPDATE users SET active = 0 WHERE name = 'Robert'",
            "UPDATE users SET last_login_at = 5 WHERE name = 'Robert'",
        ] {
            let version = counts(&c, "t").expect("counts").list_version;
            c.execute(sql, []).expect(sql);
            assert!(
                counts(&c, "t").expect("counts").list_version > version,
                "{sql}"
            );
            first_page(&c, &cache, "t");
        }
        add(&c, "t", "Ada");
        assert_eq!(first_page(&c, &cache, "t").len(), 2);

        // Another team's changes leave this team's version alone.
        let version = counts(&c, "t").expect("counts").list_version;
        add(&c, "u", "Zoe");
        assert_eq!(counts(&c, "t").expect("counts").list_version, version);
        assert_eq!(first_page(&c, &cache, "u").len(), 1);
    }
}
