//! Pending SSO sign-ins: `state`, `nonce` and the PKCE verifier, kept server-side, bound to
//! the browser that started them, single use and valid for ten minutes.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now, StoreError};

pub const LIFETIME_SECS: i64 = 600;

/// Why a sign-in was started: to sign in, or for an admin to test pending SSO settings
/// (whose callback leaves the admin's session as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginPurpose {
    SignIn,
    Test,
}

impl LoginPurpose {
    /// The stored word (`sso_logins.purpose`, which the schema holds to these two).
    pub fn as_str(self) -> &'static str {
        match self {
            LoginPurpose::SignIn => "sign_in",
            LoginPurpose::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<LoginPurpose> {
        match s {
            "sign_in" => Some(LoginPurpose::SignIn),
            "test" => Some(LoginPurpose::Test),
            _ => None,
        }
    }
}

fn purpose_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<LoginPurpose> {
    let word: String = r.get(i)?;
    LoginPurpose::parse(&word).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown sign-in purpose {word:?}").into(),
        )
    })
}

#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub state: String,
    pub team_id: String,
    pub browser: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: Option<String>,
    pub created_at: i64,
    pub purpose: LoginPurpose,
    /// Started from one of the portal's own CSRF-protected forms (`POST /login/sso`, the
    /// admin's test), not by a link another site can make the browser follow.
    pub from_form: bool,
}

pub fn insert(conn: &Connection, p: &PendingLogin) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sso_logins (state, team_id, browser, nonce, pkce_verifier, return_to, created_at, purpose, from_form)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![p.state, p.team_id, p.browser, p.nonce, p.pkce_verifier, p.return_to, p.created_at, p.purpose.as_str(), p.from_form],
    )?;
    Ok(())
}

/// What taking a pending login found.
#[derive(Debug)]
pub enum Taken {
    /// Removed, so a second use finds nothing.
    Login(PendingLogin),
    /// No pending login has this state (never issued, used, or purged).
    Unknown,
    /// It was started in another browser: left in place, so that whoever presents someone
    /// else's state cannot burn their sign-in.
    OtherBrowser,
}

/// Takes the pending login for `state` when `accept` says the browser presenting it is the
/// one that started it; only then is it removed.
pub fn take(
    conn: &Connection,
    state: &str,
    accept: impl FnOnce(&str) -> bool,
) -> Result<Taken, StoreError> {
    let browser: Option<String> = conn
        .query_row(
            "SELECT browser FROM sso_logins WHERE state = ?1",
            [state],
            |r| r.get(0),
        )
        .optional()?;
    match browser {
        None => return Ok(Taken::Unknown),
        Some(b) if !accept(&b) => return Ok(Taken::OtherBrowser),
        Some(_) => {}
    }
    // Single use even against a concurrent take in the same browser: only one DELETE returns
    // the row.
    let row = conn
        .query_row(
            "DELETE FROM sso_logins WHERE state = ?1
             RETURNING state, team_id, browser, nonce, pkce_verifier, return_to, created_at, purpose, from_form",
            [state],
            |r| {
                Ok(PendingLogin {
                    state: r.get(0)?,
                    team_id: r.get(1)?,
                    browser: r.get(2)?,
                    nonce: r.get(3)?,
                    pkce_verifier: r.get(4)?,
                    return_to: r.get(5)?,
                    created_at: r.get(6)?,
                    purpose: purpose_at(r, 7)?,
                    from_form: r.get(8)?,
                })
            },
        )
        .optional()?;
    Ok(row.map_or(Taken::Unknown, Taken::Login))
}

pub fn purge_expired(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sso_logins WHERE created_at <= ?1",
        params![now() - LIFETIME_SECS],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_browser_cannot_take_or_burn_a_pending_login() {
        let c = crate::store::test_db(&["t"]);
        let pending = PendingLogin {
            state: "s1".into(),
            team_id: "t".into(),
            browser: "mine".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            return_to: None,
            created_at: now(),
            purpose: LoginPurpose::SignIn,
            from_form: false,
        };
        insert(&c, &pending).expect("insert");

        let taken = take(&c, "s1", |b| b == "theirs").expect("take");
        assert!(matches!(taken, Taken::OtherBrowser), "{taken:?}");
        assert!(matches!(
            take(&c, "s1", |b| b == "mine").expect("take"),
            Taken::Login(p) if p.nonce == "n"
        ));
        assert!(matches!(
            take(&c, "s1", |b| b == "mine").expect("take"),
            Taken::Unknown
        ));
    }
}
