//! SCIM provisioning's SQL: the team's SCIM token (a hash), the last SCIM call, users as
//! SCIM sees them (team members with the attributes kept in `scim_users`), pushed groups and
//! the admin rights their `admin_groups` membership grants. Every change is audited with
//! actor `SCIM` in its transaction: `token` (the token and the last call), `users`, `groups`,
//! and `listing` (filters as SQL, which both lists share).

mod groups;
mod listing;
mod token;
mod users;

pub use groups::*;
pub use token::*;
pub use users::*;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::scim::Refusal;
use crate::store::audit::Actor;
use crate::store::users::ChangeError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ScimStoreError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ScimStoreError {
    fn from(e: rusqlite::Error) -> Self {
        ScimStoreError::Store(e.into())
    }
}

impl From<ChangeError> for ScimStoreError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::NotFound => Refusal::not_found().into(),
            ChangeError::Rule(r) => Refusal::new(409, None, r.to_string()).into(),
            ChangeError::Conflict(m) => Refusal::new(409, None, m).into(),
            ChangeError::Forbidden(m) => Refusal::new(403, None, m).into(),
            ChangeError::Store(s) => ScimStoreError::Store(s),
        }
    }
}

pub(super) type Result<T> = std::result::Result<T, ScimStoreError>;

/// The audit actor of every SCIM change.
pub fn actor(ip: &str) -> Actor {
    Actor {
        user_id: None,
        label: "SCIM".into(),
        ip: ip.to_string(),
    }
}

/// One SCIM change: `change` runs in an immediate transaction (the write lock taken at once,
/// so two changes at the same moment run one after the other instead of one losing the
/// other's) that commits only when it succeeds.
pub(super) fn immediate<T>(
    conn: &mut Connection,
    change: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = change(&tx)?;
    tx.commit()?;
    Ok(out)
}
