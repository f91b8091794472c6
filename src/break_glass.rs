//! Break-glass password sign-in for admins (argon2id), off unless configured, with
//! failures limited per (account, address) and per address, and every attempt audited.
//! There is no account-wide limit: then anyone could lock the real admin out from
//! everywhere by failing five times.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use std::net::IpAddr;

use crate::sso::ratelimit::address_label;
use crate::store::audit::{self, Action, Actor};
use crate::store::{attempts, users, Store, StoreError};

/// Failures allowed for one account from one address in a 15-minute window.
pub const MAX_FAILURES: i64 = 5;
/// Failures allowed from one address in that window, whichever accounts it tries (an
/// office behind one NAT may hold several admins).
pub const MAX_ADDRESS_FAILURES: i64 = 20;

pub enum Outcome {
    SignedIn(i64),
    Refused,
    /// Not tried: too many failures. Not audited here, since it can repeat at any rate: the
    /// caller records it (rate-limited, one row per address and minute).
    Throttled,
}

/// OWASP's recommended argon2id parameters (19 MiB, 2 iterations, 1 lane).
fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid"),
    )
}

pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// One sign-in attempt from `ip`. `email` must already be a valid address.
pub async fn attempt(
    store: &Store,
    team: &str,
    email: &str,
    password: String,
    ip: IpAddr,
) -> Result<Outcome, StoreError> {
    let (team, email) = (team.to_string(), email.to_string());
    store
        .run(move |c| {
            let from = address_label(ip);
            let pair = format!("acct:{team}:{email}@{from}");
            let address = format!("ip:{from}");
            if attempts::failures(c, &pair)? >= MAX_FAILURES
                || attempts::failures(c, &address)? >= MAX_ADDRESS_FAILURES
            {
                return Ok(Outcome::Throttled);
            }
            let actor = Actor {
                user_id: None,
                label: email.clone(),
                ip: ip.to_string(),
            };
            let team_known = crate::store::teams::get(c, &team)?.is_some();
            let found = users::password_hash(c, &team, &email)?;
            // Hash even when there is no such account, so timing does not tell.
            let ok = match &found {
                Some((_, hash)) => verify(&password, hash),
                None => {
                    let _ = verify(&password, "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2i3oW4MfjwW6wN4D1HhKXGmoD2hXZY9B7Jm5x9gLJ0M");
                    false
                }
            };
            match found.filter(|_| ok) {
                Some((user_id, _)) => {
                    // Only this pair's count is cleared: the address's stays, so a valid
                    // password for one account does not reset guessing at the others.
                    attempts::clear(c, &pair)?;
                    audit::record(c, &team, &Actor { user_id: Some(user_id), ..actor }, Action::PasswordSignIn, &email, "break-glass")?;
                    Ok(Outcome::SignedIn(user_id))
                }
                None => {
                    attempts::record_failure(c, &pair)?;
                    attempts::record_failure(c, &address)?;
                    if team_known {
                        audit::record(c, &team, &actor, Action::PasswordSignInFailed, &email, "")?;
                    }
                    Ok(Outcome::Refused)
                }
            }
        })
        .await
}
