//! Break-glass password sign-in for admins (argon2id), off unless configured, with
//! failures limited per account and per address and every attempt audited.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::store::audit::{self, Actor};
use crate::store::{attempts, users, Store, StoreError};

/// Failures allowed per account and per address in a 15-minute window.
pub const MAX_FAILURES: i64 = 5;

pub enum Outcome {
    SignedIn(i64),
    Refused,
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

pub async fn attempt(
    store: &Store,
    team: &str,
    email: &str,
    password: String,
    ip: &str,
) -> Result<Outcome, StoreError> {
    let (team, email, ip) = (team.to_string(), email.to_string(), ip.to_string());
    store
        .run(move |c| {
            let account = format!("acct:{team}:{email}");
            let address = format!("ip:{ip}");
            let actor = Actor {
                user_id: None,
                label: email.clone(),
                ip: ip.clone(),
            };
            let team_known = crate::store::teams::get(c, &team)?.is_some();
            if attempts::failures(c, &account)? >= MAX_FAILURES || attempts::failures(c, &address)? >= MAX_FAILURES {
                if team_known {
                    audit::record(c, &team, &actor, "password_sign_in_throttled", &email, "")?;
                }
                return Ok(Outcome::Throttled);
            }
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
                    attempts::clear(c, &account)?;
                    audit::record(c, &team, &Actor { user_id: Some(user_id), ..actor }, "password_sign_in", &email, "break-glass")?;
                    Ok(Outcome::SignedIn(user_id))
                }
                None => {
                    attempts::record_failure(c, &account)?;
                    attempts::record_failure(c, &address)?;
                    if team_known {
                        audit::record(c, &team, &actor, "password_sign_in_failed", &email, "")?;
                    }
                    Ok(Outcome::Refused)
                }
            }
        })
        .await
}
