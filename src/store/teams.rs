//! Teams: the config file's teams synced in at start, plus teams made from the shell.

use rusqlite::{params, Connection, OptionalExtension};

use super::audit::Action;
use super::{now, StoreError};
use crate::config::TeamConfig;
use crate::domain::domains::DomainClaim;
use crate::domain::TeamSource;

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub source: TeamSource,
}

fn team_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TeamRow> {
    let source: String = r.get(2)?;
    Ok(TeamRow {
        id: r.get(0)?,
        name: r.get(1)?,
        // The schema's CHECK allows no other word; a config team is the safe reading.
        source: TeamSource::parse(&source).unwrap_or(TeamSource::Config),
    })
}

/// Upserts the teams of the config file so users, tokens and audit rows can refer to them.
pub fn sync_from_config(
    conn: &mut Connection,
    teams: &[TeamConfig],
    source: TeamSource,
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
                source.as_str(),
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
            team_row,
        )
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<TeamRow>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, name, source FROM teams ORDER BY id")?;
    let rows = stmt
        .query_map([], team_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A team's SSO settings as stored for teams made from the shell (editable in the browser)
/// and for pending, untested changes. The client secret stays sealed here.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoRecord {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_enc: Vec<u8>,
    pub provisioning: String,
    pub email_domains: Vec<String>,
    pub admin_groups: Vec<String>,
    pub trust_email: bool,
    pub idp_logout: bool,
}

/// The columns of an [`SsoRecord`], in [`SsoRecord::read`]'s order: the same names in
/// `teams` and `sso_pending`.
const SSO_COLUMNS: &str = "issuer, client_id, client_secret_enc, provisioning, email_domains,
    admin_groups, trust_email, idp_logout";

impl SsoRecord {
    /// The record from [`SSO_COLUMNS`] selected from column `first` on.
    fn read(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<SsoRecord> {
        Ok(SsoRecord {
            issuer: r.get(first)?,
            client_id: r.get(first + 1)?,
            client_secret_enc: r.get(first + 2)?,
            provisioning: r.get(first + 3)?,
            email_domains: json_list(r.get(first + 4)?),
            admin_groups: json_list(r.get(first + 5)?),
            trust_email: r.get(first + 6)?,
            idp_logout: r.get(first + 7)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ShellTeam {
    pub id: String,
    pub name: String,
    pub admin_email: Option<String>,
    pub sso: SsoRecord,
}

fn json_list(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Creates a team from the shell; false when the Team ID is taken.
/// Points a stored team at another issuer and client secret (`teamportal demo` only, when
/// the demo's own provider moved to another port or secret); `false` when there is no such
/// team. Audited as the shell's doing.
pub fn repoint_shell(
    conn: &mut Connection,
    id: &str,
    issuer: &str,
    client_secret_enc: &[u8],
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "UPDATE teams SET issuer = ?2, client_secret_enc = ?3 WHERE id = ?1 AND source = 'shell'",
        params![id, issuer, client_secret_enc],
    )?;
    if n == 1 {
        super::audit::record(
            &tx,
            id,
            &super::audit::Actor::shell(),
            Action::SsoSettingsApplied,
            id,
            &format!("issuer {issuer} (the demo's provider)"),
        )?;
    }
    tx.commit()?;
    Ok(n == 1)
}

pub fn create_shell(conn: &mut Connection, t: &ShellTeam) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "INSERT INTO teams (id, name, source, issuer, client_id, client_secret_enc, admin_email,
                            email_domains, provisioning, admin_groups, trust_email, created_at)
         VALUES (?1, ?2, 'shell', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (id) DO NOTHING",
        params![
            t.id,
            t.name,
            t.sso.issuer,
            t.sso.client_id,
            t.sso.client_secret_enc,
            t.admin_email,
            to_json(&t.sso.email_domains),
            t.sso.provisioning,
            to_json(&t.sso.admin_groups),
            t.sso.trust_email,
            now()
        ],
    )?;
    if n == 1 {
        super::audit::record(
            &tx,
            &t.id,
            &super::audit::Actor::shell(),
            Action::TeamCreated,
            &t.id,
            &format!("issuer {}", t.sso.issuer),
        )?;
    }
    tx.commit()?;
    Ok(n == 1)
}

pub fn shell_teams(conn: &Connection) -> Result<Vec<ShellTeam>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, name, admin_email, {SSO_COLUMNS}
         FROM teams WHERE source = 'shell' AND client_secret_enc IS NOT NULL ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ShellTeam {
                id: r.get(0)?,
                name: r.get(1)?,
                admin_email: r.get(2)?,
                sso: SsoRecord::read(r, 3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[derive(Debug, Clone)]
pub struct Pending {
    pub sso: SsoRecord,
    pub created_by: i64,
    pub created_at: i64,
    pub tested_at: Option<i64>,
    pub test_error: Option<String>,
}

pub fn pending(conn: &Connection, team_id: &str) -> Result<Option<Pending>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {SSO_COLUMNS}, created_by, created_at, tested_at, test_error
                 FROM sso_pending WHERE team_id = ?1"
            ),
            [team_id],
            |r| {
                Ok(Pending {
                    sso: SsoRecord::read(r, 0)?,
                    created_by: r.get(8)?,
                    created_at: r.get(9)?,
                    tested_at: r.get(10)?,
                    test_error: r.get(11)?,
                })
            },
        )
        .optional()?)
}

/// Stores new settings as pending (replacing earlier pending ones); nothing applies yet.
pub fn save_pending(
    conn: &mut Connection,
    team_id: &str,
    actor: &super::audit::Actor,
    sso: &SsoRecord,
    summary: &str,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO sso_pending (team_id, issuer, client_id, client_secret_enc, provisioning,
            email_domains, admin_groups, trust_email, created_by, created_at, tested_at, test_error,
            idp_logout)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, NULL, ?11)",
        params![
            team_id,
            sso.issuer,
            sso.client_id,
            sso.client_secret_enc,
            sso.provisioning,
            to_json(&sso.email_domains),
            to_json(&sso.admin_groups),
            sso.trust_email,
            actor.user_id,
            now(),
            sso.idp_logout
        ],
    )?;
    super::audit::record(
        &tx,
        team_id,
        actor,
        Action::SsoSettingsSaved,
        team_id,
        summary,
    )?;
    tx.commit()?;
    Ok(())
}

/// Records a test sign-in's outcome (`None` error = passed).
pub fn record_test(
    conn: &mut Connection,
    team_id: &str,
    actor: &super::audit::Actor,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE sso_pending SET tested_at = CASE WHEN ?2 IS NULL THEN ?3 ELSE NULL END, test_error = ?2 WHERE team_id = ?1",
        params![team_id, error, now()],
    )?;
    let (action, detail) = match error {
        None => (Action::SsoSettingsTestPassed, String::new()),
        Some(e) => (Action::SsoSettingsTestFailed, e.to_string()),
    };
    super::audit::record(&tx, team_id, actor, action, team_id, &detail)?;
    tx.commit()?;
    Ok(())
}

pub fn discard_pending(
    conn: &mut Connection,
    team_id: &str,
    actor: &super::audit::Actor,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let n = tx.execute("DELETE FROM sso_pending WHERE team_id = ?1", [team_id])?;
    if n == 1 {
        super::audit::record(
            &tx,
            team_id,
            actor,
            Action::SsoSettingsDiscarded,
            team_id,
            "",
        )?;
    }
    tx.commit()?;
    Ok(n == 1)
}

/// What applying pending settings did.
#[derive(Debug)]
pub enum Applied {
    /// No browser-managed team has this ID.
    NoSuchTeam,
    /// Nothing pending has passed a test sign-in.
    NothingTested,
    /// The team as it stood before, and the settings it has now.
    Done(Box<Change>),
}

#[derive(Debug)]
pub struct Change {
    pub before: ShellTeam,
    pub now: SsoRecord,
}

/// Applies tested pending settings to a shell team in one transaction: reads the team and
/// its pending settings, writes them, and audits them described by `describe(old, new)`.
pub fn apply_pending(
    conn: &mut Connection,
    team_id: &str,
    actor: &super::audit::Actor,
    describe: impl FnOnce(&SsoRecord, &SsoRecord) -> String,
) -> Result<Applied, StoreError> {
    let tx = conn.transaction()?;
    let Some(before) = shell_teams(&tx)?.into_iter().find(|t| t.id == team_id) else {
        return Ok(Applied::NoSuchTeam);
    };
    let Some(p) = pending(&tx, team_id)?.filter(|p| p.tested_at.is_some()) else {
        return Ok(Applied::NothingTested);
    };
    tx.execute(
        "UPDATE teams SET issuer = ?2, client_id = ?3, client_secret_enc = ?4, provisioning = ?5,
            admin_groups = ?6, trust_email = ?7, idp_logout = ?8 WHERE id = ?1 AND source = 'shell'",
        params![
            team_id,
            p.sso.issuer,
            p.sso.client_id,
            p.sso.client_secret_enc,
            p.sso.provisioning,
            to_json(&p.sso.admin_groups),
            p.sso.trust_email,
            p.sso.idp_logout
        ],
    )?;
    tx.execute("DELETE FROM sso_pending WHERE team_id = ?1", [team_id])?;
    // Email domains are the operator's (`admin set-domains`), never a pending change's.
    let now = SsoRecord {
        email_domains: before.sso.email_domains.clone(),
        ..p.sso
    };
    let summary = describe(&before.sso, &now);
    super::audit::record(
        &tx,
        team_id,
        actor,
        Action::SsoSettingsApplied,
        team_id,
        &summary,
    )?;
    tx.commit()?;
    Ok(Applied::Done(Box::new(Change { before, now })))
}

/// Every live team's claim on email domains: the config file's teams as configured, then
/// the browser-managed teams as stored (a stored team whose ID the config file now uses is
/// the config file's). Rows of teams since dropped from the config file claim nothing.
pub fn live_domain_claims(
    conn: &Connection,
    config_teams: &[TeamConfig],
) -> Result<Vec<DomainClaim>, StoreError> {
    let mut claims: Vec<DomainClaim> = config_teams
        .iter()
        .map(|t| DomainClaim {
            team: t.id.as_str().to_string(),
            domains: t.email_domains.clone(),
        })
        .collect();
    for claim in stored_claims(conn, true)? {
        if config_teams.iter().all(|c| c.id.as_str() != claim.team) {
            claims.push(claim);
        }
    }
    Ok(claims)
}

/// The stored teams' claims, of the browser-managed teams only or of every team.
fn stored_claims(
    conn: &Connection,
    browser_managed_only: bool,
) -> Result<Vec<DomainClaim>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, email_domains FROM teams WHERE source = 'shell' OR NOT ?1 ORDER BY id",
    )?;
    let stored = stmt
        .query_map([browser_managed_only], |r| {
            Ok(DomainClaim {
                team: r.get(0)?,
                domains: json_list(r.get(1)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(stored)
}

/// Every Team ID in the database: what `teamportal demo` checks (on a read-only connection,
/// so nothing is migrated) before it writes its teams into a file.
pub fn ids(conn: &Connection) -> Result<Vec<String>, StoreError> {
    // An empty file, or one a first start left before its migrations: no team in it.
    let has_teams: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'teams')",
        [],
        |r| r.get(0),
    )?;
    if !has_teams {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT id FROM teams ORDER BY id")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}

/// The claims a shell command checks a browser-managed team's new domains against: the live
/// ones, and when the command runs without a config (the operator's shell need not have the
/// file `serve` reads), the config's teams as the last start stored them, or it could hand
/// out a config team's domain and leave `serve` refusing to start. With a config, that file
/// says which config teams are live, as for `serve`.
pub fn shell_domain_claims(
    conn: &Connection,
    config_teams: &[TeamConfig],
) -> Result<Vec<DomainClaim>, StoreError> {
    if config_teams.is_empty() {
        stored_claims(conn, false)
    } else {
        live_domain_claims(conn, config_teams)
    }
}

/// What `set_domains` did.
#[derive(Debug, PartialEq, Eq)]
pub enum SetDomains {
    /// Stored; the domains the team had before.
    Set {
        before: Vec<String>,
    },
    NoSuchTeam,
    /// The team's SSO lives in the config file: its domains are set there.
    ConfigManaged,
    /// Each wanted domain another team owns, with that team.
    Taken(Vec<(String, String)>),
}

/// The operator gives a browser-managed team its email domains (replacing the old list),
/// checked against every other live team's in the same transaction, and audited.
pub fn set_domains(
    conn: &mut Connection,
    team_id: &str,
    domains: &[String],
    config_teams: &[TeamConfig],
    actor: &super::audit::Actor,
) -> Result<SetDomains, StoreError> {
    let tx = conn.transaction()?;
    let Some(team) = get(&tx, team_id)? else {
        return Ok(SetDomains::NoSuchTeam);
    };
    if !team.source.browser_managed() || config_teams.iter().any(|c| c.id.as_str() == team_id) {
        return Ok(SetDomains::ConfigManaged);
    }
    let claims = shell_domain_claims(&tx, config_teams)?;
    let taken = crate::domain::domains::taken_by_others(&claims, team_id, domains);
    if !taken.is_empty() {
        return Ok(SetDomains::Taken(
            taken.into_iter().map(|(d, t)| (d, t.to_string())).collect(),
        ));
    }
    let before: Vec<String> = tx.query_row(
        "SELECT email_domains FROM teams WHERE id = ?1",
        [team_id],
        |r| Ok(json_list(r.get(0)?)),
    )?;
    tx.execute(
        "UPDATE teams SET email_domains = ?2 WHERE id = ?1",
        params![team_id, to_json(domains)],
    )?;
    super::audit::record(
        &tx,
        team_id,
        actor,
        Action::EmailDomainsSet,
        team_id,
        &format!("{} -> {}", list_or_none(&before), list_or_none(domains)),
    )?;
    tx.commit()?;
    Ok(SetDomains::Set { before })
}

fn list_or_none(domains: &[String]) -> String {
    if domains.is_empty() {
        "none".into()
    } else {
        domains.join(",")
    }
}
