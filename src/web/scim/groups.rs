//! `/scim/v2/Groups`: Okta's Push Groups and Entra's group provisioning. Membership of a group
//! named in the team's `admin_groups` grants admin (source `groups`), as the claim does.

use actix_web::{web, HttpResponse};
use rusqlite::Connection;

use crate::scim::patch::{apply_group, GroupState};
use crate::scim::types::{GroupInput, GroupResource, MemberOut, Meta, PatchOp};
use crate::state::AppState;
use crate::store::scim::{self as store, ScimStoreError, StoredGroup};
use crate::store::StoreError;

use super::resource::{changed, id_of, load, rfc3339, show, ListQuery, Resource, Target};
use super::wire::{ScimBody, ScimCaller, ScimError};

impl Resource for StoredGroup {
    type Out = GroupResource;
    const ENDS_ACCESS: bool = false;

    fn find(c: &Connection, team: &str, id: i64) -> Result<Option<Self>, StoreError> {
        store::get_group(c, team, id)
    }

    fn list(c: &Connection, team: &str, q: &ListQuery) -> Result<(i64, Vec<Self>), ScimStoreError> {
        let with_members = !q.excluded.contains("members");
        store::list_groups(c, team, q.filter.as_ref(), q.start, q.count, with_members)
    }

    fn render(self, base: &str) -> GroupResource {
        GroupResource {
            schemas: GroupResource::SCHEMAS,
            id: self.id.to_string(),
            external_id: self.state.external_id,
            display_name: self.state.display_name,
            members: self
                .members
                .into_iter()
                .map(|(id, display)| MemberOut {
                    value: id.to_string(),
                    display,
                })
                .collect(),
            meta: Meta {
                resource_type: "Group",
                created: rfc3339(self.created_at),
                last_modified: rfc3339(self.updated_at),
                location: format!("{base}/Groups/{}", self.id),
            },
        }
    }

    fn patch(c: &mut Connection, at: &Target, ops: &[PatchOp]) -> Result<(), ScimStoreError> {
        store::patch_group(c, &at.team, &at.actor, at.id, |g| apply_group(g, ops))
    }

    fn delete(c: &mut Connection, at: &Target) -> Result<(), ScimStoreError> {
        store::delete_group(c, &at.team, &at.actor, at.id)
    }

    fn location(out: &GroupResource) -> &str {
        &out.meta.location
    }
}

pub async fn create(
    state: web::Data<AppState>,
    caller: ScimCaller,
    body: ScimBody<GroupInput>,
) -> Result<HttpResponse, ScimError> {
    let group = GroupState::from_input(body.0)?;
    let (team, actor) = (caller.team_id.clone(), caller.actor());
    let id = state
        .store
        .run(move |c| store::create_group(c, &team, &actor, &group))
        .await?;
    show::<StoredGroup>(&state, caller.team_id, id, true).await
}

async fn replace(
    state: &AppState,
    caller: &ScimCaller,
    id: i64,
    group: GroupState,
) -> Result<HttpResponse, ScimError> {
    let (team, actor) = (caller.team_id.clone(), caller.actor());
    let done = state
        .store
        .run(move |c| store::replace_group(c, &team, &actor, id, &group))
        .await;
    changed::<StoredGroup>(state, caller, Some(id), done).await
}

pub async fn put(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
    body: ScimBody<GroupInput>,
) -> Result<HttpResponse, ScimError> {
    let id = id_of(&path)?;
    load::<StoredGroup>(&state, caller.team_id.clone(), id).await?;
    replace(&state, &caller, id, GroupState::from_input(body.0)?).await
}
