//! `/scim/v2/Groups`: Okta's Push Groups and Entra's group provisioning. Membership of a group
//! named in the team's `admin_groups` grants admin (source `groups`), as the claim does.

use actix_web::http::header::LOCATION;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::scim::patch::{apply_group, GroupState};
use crate::scim::types::{GroupInput, GroupResource, ListResponse, MemberOut, Meta, PatchRequest};
use crate::scim::Refusal;
use crate::state::AppState;
use crate::store::scim::{self as store, StoredGroup};

use super::base_url;
use super::users::{list_query, rfc3339};
use super::wire::{scim_json, ScimBody, ScimCaller, ScimError};

fn resource(base: &str, g: StoredGroup) -> GroupResource {
    GroupResource {
        schemas: GroupResource::SCHEMAS,
        id: g.id.to_string(),
        external_id: g.state.external_id,
        display_name: g.state.display_name,
        members: g
            .members
            .into_iter()
            .map(|(id, display)| MemberOut {
                value: id.to_string(),
                display,
            })
            .collect(),
        meta: Meta {
            resource_type: "Group",
            created: rfc3339(g.created_at),
            last_modified: rfc3339(g.updated_at),
            location: format!("{base}/Groups/{}", g.id),
        },
    }
}

fn id_of(path: &str) -> Result<i64, ScimError> {
    path.parse().map_err(|_| Refusal::not_found().into())
}

async fn load(state: &AppState, team: String, id: i64) -> Result<StoredGroup, ScimError> {
    state
        .store
        .read(move |c| store::get_group(c, &team, id))
        .await?
        .ok_or_else(|| Refusal::not_found().into())
}

pub async fn list(
    state: web::Data<AppState>,
    caller: ScimCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let q = list_query(&req)?;
    let with_members = !q.excluded.contains("members");
    let team = caller.team_id;
    let (start, count) = (q.start, q.count);
    let (total, groups) = state
        .store
        .read(move |c| store::list_groups(c, &team, q.filter.as_ref(), start, count, with_members))
        .await?;
    let base = base_url(&state);
    let resources: Vec<GroupResource> = groups.into_iter().map(|g| resource(&base, g)).collect();
    Ok(scim_json(200, &ListResponse::new(total, start, resources)))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let g = load(&state, caller.team_id, id_of(&path)?).await?;
    Ok(scim_json(200, &resource(&base_url(&state), g)))
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
    let r = resource(&base_url(&state), load(&state, caller.team_id, id).await?);
    let mut resp = scim_json(201, &r);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&r.meta.location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

async fn replace(
    state: &AppState,
    caller: &ScimCaller,
    id: i64,
    group: GroupState,
) -> Result<HttpResponse, ScimError> {
    let (team, actor) = (caller.team_id.clone(), caller.actor());
    state
        .store
        .run(move |c| store::replace_group(c, &team, &actor, id, &group))
        .await?;
    let g = load(state, caller.team_id.clone(), id).await?;
    Ok(scim_json(200, &resource(&base_url(state), g)))
}

pub async fn put(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
    body: ScimBody<GroupInput>,
) -> Result<HttpResponse, ScimError> {
    let id = id_of(&path)?;
    load(&state, caller.team_id.clone(), id).await?;
    replace(&state, &caller, id, GroupState::from_input(body.0)?).await
}

pub async fn patch(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
    body: ScimBody<PatchRequest>,
) -> Result<HttpResponse, ScimError> {
    let id = id_of(&path)?;
    let ops = body.0.operations;
    let (team, actor) = (caller.team_id.clone(), caller.actor());
    state
        .store
        .run(move |c| store::patch_group(c, &team, &actor, id, |g| apply_group(g, &ops)))
        .await?;
    let g = load(&state, caller.team_id.clone(), id).await?;
    Ok(scim_json(200, &resource(&base_url(&state), g)))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = id_of(&path)?;
    let (team, actor) = (caller.team_id.clone(), caller.actor());
    state
        .store
        .run(move |c| store::delete_group(c, &team, &actor, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
