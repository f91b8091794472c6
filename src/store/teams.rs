//! Teams: the config file's teams synced in at start, plus teams made from the shell.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now, StoreError};
use crate::config::TeamConfig;

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub source: String,
}

/// Upserts the teams of the config file so users, tokens and audit rows can refer to them.
pub fn sync_from_config(
    conn: &mut Connection,
    teams: &[TeamConfig],
    source: &str,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    for t in teams {
        tx.execute(
            "INSERT INTO teams (id, name, source, issuer, client_id, admin_email, email_domains,
                                provisioning, admin_groups, trust_email, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, source = excluded.source,
                issuer = excluded.issuer, client_id = excluded.client_id,
                admin_email = excluded.admin_email, email_domains = excluded.email_domains,
                provisioning = excluded.provisioning, admin_groups = excluded.admin_groups,
                trust_email = excluded.trust_email",
            params![
                t.id.as_str(),
                t.name,
                source,
                t.issuer_str(),
                t.client_id,
                t.admin_email.as_ref().map(|e| e.as_str().to_string()),
                serde_json::to_string(&t.email_domains).unwrap_or_else(|_| "[]".into()),
                t.provisioning.as_str(),
                serde_json::to_string(&t.admin_groups).unwrap_or_else(|_| "[]".into()),
                t.trust_email,
                now(),
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<TeamRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, name, source FROM teams WHERE id = ?1",
            [id],
            |r| {
                Ok(TeamRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    source: r.get(2)?,
                })
            },
        )
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<TeamRow>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, name, source FROM teams ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(TeamRow {
                id: r.get(0)?,
                name: r.get(1)?,
                source: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
