//! `/scim/v2/Users`: team members as SCIM users. `active: false` and DELETE end access as an
//! admin's removal does; the token index catches up before the answer, so a deactivated
//! member's personal tokens stop verifying once it has returned.

use actix_web::{web, HttpResponse};
use rusqlite::Connection;

use crate::scim::patch::{apply_user, UserAttrs};
use crate::scim::types::{GroupRef, Meta, NameOut, PatchOp, UserInput, UserResource};
use crate::state::AppState;
use crate::store::scim::{self as store, Created, ScimStoreError, StoredUser};
use crate::store::StoreError;

use super::resource::{changed, id_of, rfc3339, show, ListQuery, Resource, Target};
use super::wire::{ScimBody, ScimCaller, ScimError};

impl Resource for StoredUser {
    type Out = UserResource;
    const ENDS_ACCESS: bool = true;

    fn find(c: &Connection, team: &str, id: i64) -> Result<Option<Self>, StoreError> {
        store::get_user(c, team, id)
    }

    fn list(c: &Connection, team: &str, q: &ListQuery) -> Result<(i64, Vec<Self>), ScimStoreError> {
        store::list_users(c, team, q.filter.as_ref(), q.start, q.count)
    }

    fn render(self, base: &str) -> UserResource {
        let location = format!("{base}/Users/{}", self.id);
        let a = self.attrs;
        UserResource {
            schemas: UserResource::SCHEMAS,
            id: self.id.to_string(),
            external_id: a.external_id,
            user_name: a.user_name,
            name: NameOut {
                given_name: a.given_name,
                family_name: a.family_name,
                formatted: a.formatted,
            },
            display_name: a.display_name,
            emails: a.emails,
            active: a.active,
            groups: self
                .groups
                .into_iter()
                .map(|(id, display)| GroupRef {
                    value: id.to_string(),
                    display,
                })
                .collect(),
            meta: Meta {
                resource_type: "User",
                created: rfc3339(self.created_at),
                last_modified: rfc3339(self.updated_at),
                location,
            },
        }
    }

    fn patch(c: &mut Connection, at: &Target, ops: &[PatchOp]) -> Result<(), ScimStoreError> {
        store::patch_user(c, &at.team, &at.actor, at.id, |u| apply_user(u, ops))
    }

    fn delete(c: &mut Connection, at: &Target) -> Result<(), ScimStoreError> {
        store::delete_user(c, &at.team, &at.actor, at.id)
    }

    fn location(out: &UserResource) -> &str {
        &out.meta.location
    }
}

pub async fn create(
    state: web::Data<AppState>,
    caller: ScimCaller,
    body: ScimBody<UserInput>,
) -> Result<HttpResponse, ScimError> {
    let attrs = UserAttrs::from_input(body.0);
    let (team, actor) = (caller.team_id.clone(), caller.actor());
    let created = state
        .store
        .run(move |c| store::create_user(c, &team, &actor, &attrs))
        .await;
    state.tokens.catch_up_with(&state.store).await?;
    let id = match created? {
        Created::New(id) | Created::Restored(id) => id,
    };
    show::<StoredUser>(&state, caller.team_id, id, true).await
}

pub async fn put(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
    body: ScimBody<UserInput>,
) -> Result<HttpResponse, ScimError> {
    let id = id_of(&path)?;
    // A PUT without `active` leaves it as it is (not a reactivation), read in the write's
    // transaction.
    let keep_active = body.0.active.is_none();
    let new = UserAttrs::from_input(body.0);
    let (team, actor) = (caller.team_id.clone(), caller.actor());
    let done = state
        .store
        .run(move |c| {
            store::patch_user(c, &team, &actor, id, move |u| {
                let active = if keep_active { u.active } else { new.active };
                *u = new;
                u.active = active;
                Ok(())
            })
        })
        .await;
    changed::<StoredUser>(&state, &caller, Some(id), done).await
}
