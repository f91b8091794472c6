//! Issuing API token secrets: generation, the lookup hash and sealing with the instance
//! key, shared by the tokens page and the shell.

use rusqlite::Connection;

use crate::crypto::{self, Sealer};
use crate::store::audit::Actor;
use crate::store::tokens::{self, NewToken, Verifiable};
use crate::store::users::ChangeError;

pub struct Issued {
    pub id: i64,
    pub secret: String,
    pub hash: [u8; 32],
    pub verifiable: Verifiable,
}

pub struct Request<'a> {
    pub team_id: &'a str,
    pub creator: i64,
    pub name: &'a str,
    pub personal: bool,
    pub expires_at: Option<i64>,
}

/// Binds each ciphertext to its team and token so rows cannot be swapped.
pub fn sealed_context(team: &str, hash: &[u8]) -> String {
    let short: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("api-token:{team}:{short}")
}

pub fn issue(
    conn: &mut Connection,
    sealer: &Sealer,
    actor: &Actor,
    req: &Request<'_>,
) -> Result<Issued, ChangeError> {
    let secret = crypto::new_token_secret();
    let hash = crypto::sha256(secret.as_bytes());
    let sealed = sealer.seal(secret.as_bytes(), &sealed_context(req.team_id, &hash));
    let prefix: String = secret.chars().take(7).collect();
    let id = tokens::insert(
        conn,
        actor,
        req.creator,
        &NewToken {
            team_id: req.team_id,
            name: req.name,
            prefix: &prefix,
            secret_hash: &hash,
            secret_enc: &sealed,
            personal: req.personal,
            expires_at: req.expires_at,
        },
    )?;
    Ok(Issued {
        id,
        secret,
        hash,
        verifiable: Verifiable {
            id,
            team_id: req.team_id.to_string(),
            name: req.name.to_string(),
            expires_at: req.expires_at,
        },
    })
}

/// The plaintext secret of a sealed token, if this instance key sealed it.
pub fn unseal(sealer: &Sealer, team: &str, hash: &[u8], sealed: &[u8]) -> Option<String> {
    sealer
        .open(sealed, &sealed_context(team, hash))
        .and_then(|b| String::from_utf8(b).ok())
}
