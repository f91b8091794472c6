//! The `jti`s of back-channel logout tokens already used, so none is accepted twice. Only
//! tokens that passed every other check (signature included) are recorded, each until it
//! could no longer pass the `iat` check, and a team holds at most [`PER_TEAM`] at once: an
//! anonymous sender cannot write rows, and even the team's own IdP only a bounded number.

use rusqlite::{params, Connection};

use super::{now, StoreError};

/// Far more than any real IdP sends within the few minutes a jti is kept.
pub const PER_TEAM: i64 = 10_000;

#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    First,
    Replayed,
    /// The team holds [`PER_TEAM`] unexpired jtis already.
    Full,
}

/// Records `jti` for `team_id` until `expires_at`, unless it is there already.
pub fn record(
    conn: &Connection,
    team_id: &str,
    jti: &str,
    expires_at: i64,
) -> Result<Seen, StoreError> {
    let t = now();
    conn.execute(
        "DELETE FROM logout_jtis WHERE team_id = ?1 AND jti = ?2 AND expires_at <= ?3",
        params![team_id, jti, t],
    )?;
    let held: i64 = conn.query_row(
        "SELECT count(*) FROM logout_jtis WHERE team_id = ?1 AND expires_at > ?2",
        params![team_id, t],
        |r| r.get(0),
    )?;
    let added = conn.execute(
        "INSERT INTO logout_jtis (team_id, jti, expires_at) SELECT ?1, ?2, ?3
         WHERE ?4 < ?5 ON CONFLICT (team_id, jti) DO NOTHING",
        params![team_id, jti, expires_at, held, PER_TEAM],
    )?;
    Ok(match added {
        1 => Seen::First,
        _ if held >= PER_TEAM => {
            let exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM logout_jtis WHERE team_id = ?1 AND jti = ?2)",
                params![team_id, jti],
                |r| r.get(0),
            )?;
            if exists {
                Seen::Replayed
            } else {
                Seen::Full
            }
        }
        _ => Seen::Replayed,
    })
}

pub fn purge_expired(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM logout_jtis WHERE expires_at <= ?1", [now()])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_accepted_once_until_it_expires() {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch(
            "CREATE TABLE logout_jtis (team_id TEXT NOT NULL, jti TEXT NOT NULL,
             expires_at INTEGER NOT NULL, PRIMARY KEY (team_id, jti)) WITHOUT ROWID;",
        )
        .expect("schema");
        let later = now() + 600;
        assert_eq!(record(&conn, "a", "j1", later).expect("r"), Seen::First);
        assert_eq!(record(&conn, "a", "j1", later).expect("r"), Seen::Replayed);
        assert_eq!(record(&conn, "b", "j1", later).expect("r"), Seen::First);
        conn.execute("UPDATE logout_jtis SET expires_at = 1", [])
            .expect("age");
        assert_eq!(purge_expired(&conn).expect("purge"), 2);
        assert_eq!(record(&conn, "a", "j1", later).expect("r"), Seen::First);
    }
}
