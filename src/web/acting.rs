//! A change made on behalf of the signed-in member: the store call runs off the executor
//! with their team and their audit actor, so a handler names only what it changes.

use rusqlite::Connection;

use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::StoreError;

use super::extract::CurrentUser;

/// Runs `change(conn, team, actor)` in the store as `me`.
pub async fn acting<T, E, F>(state: &AppState, me: &CurrentUser, change: F) -> Result<T, E>
where
    F: FnOnce(&mut Connection, &str, &Actor) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let (team, actor) = (me.team().to_string(), me.actor());
    state.store.run(move |c| change(c, &team, &actor)).await
}
