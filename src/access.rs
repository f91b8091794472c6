//! Ending a user's access from a request: the store change (sessions ended through
//! [`store::access`], in one transaction with its audit row) and, when it revoked tokens, the
//! token index brought up to date before returning. So once one of these has returned,
//! nothing of what ended still works: no session (each request confirms its row) and no
//! revoked token.

use crate::error::AppError;
use crate::state::AppState;
use crate::store::access::{self, Sessions};
use crate::store::audit::Actor;
use crate::store::users::{self, User};

/// Deactivates a member (an admin's removal, SCIM's `active: false` or `DELETE`): their
/// sessions end and their personal tokens are revoked in the same transaction.
pub async fn remove_member(
    state: &AppState,
    team: String,
    actor: Actor,
    target: i64,
) -> Result<User, AppError> {
    let user = state
        .store
        .run(move |c| users::remove(c, &team, &actor, target))
        .await?;
    state.tokens.catch_up_with(&state.store).await?;
    Ok(user)
}

/// Ends the chosen sessions of `team`, audited as `action` on `target`; how many ended.
pub async fn end_sessions(
    state: &AppState,
    team: String,
    actor: Actor,
    which: Sessions,
    action: crate::domain::AuditAction,
    target: String,
) -> Result<usize, AppError> {
    Ok(state
        .store
        .run(move |c| access::end_audited(c, &team, &actor, &which, (action, &target)))
        .await?)
}

/// An admin ends every session of a member of their team; 404 for an id not in it.
pub async fn end_member_sessions(
    state: &AppState,
    team: String,
    actor: Actor,
    target: i64,
) -> Result<usize, AppError> {
    Ok(state
        .store
        .run(move |c| access::end_member_sessions(c, &team, &actor, target))
        .await?)
}
