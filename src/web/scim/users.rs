//! `/scim/v2/Users`: team members as SCIM users. `active: false` and DELETE end access as an
//! admin's removal does; the token index catches up before the answer, so a deactivated
//! member's personal tokens stop verifying once it has returned.

use actix_web::http::header::LOCATION;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::scim::patch::{apply_user, UserAttrs};
use crate::scim::types::{GroupRef, Meta, NameOut, PatchRequest, UserInput, UserResource};
use crate::scim::{filter, paging, Refusal};
use crate::state::AppState;
use crate::store::scim::{self as store, Created, ScimStoreError, StoredUser};

use super::base_url;
use super::wire::{scim_json, ScimBody, ScimCaller, ScimError};

pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn resource(base: &str, u: StoredUser) -> UserResource {
    let location = format!("{base}/Users/{}", u.id);
    let a = u.attrs;
    UserResource {
        schemas: UserResource::SCHEMAS,
        id: u.id.to_string(),
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
        groups: u
            .groups
            .into_iter()
            .map(|(id, display)| GroupRef {
                value: id.to_string(),
                display,
            })
            .collect(),
        meta: Meta {
            resource_type: "User",
            created: rfc3339(u.created_at),
            last_modified: rfc3339(u.updated_at),
            location,
        },
    }
}

/// `startIndex`, `count` and `filter` of a list request; bad numbers are 400 `invalidValue`.
pub struct ListQuery {
    pub filter: Option<filter::Filter>,
    pub start: i64,
    pub count: i64,
    pub excluded: String,
}

pub fn list_query(req: &HttpRequest) -> Result<ListQuery, ScimError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| Refusal::invalid_value("The query string is not valid."))?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let number = |k: &str| -> Result<Option<i64>, ScimError> {
        get(k)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| Refusal::invalid_value(format!("{k} must be an integer.")).into())
            })
            .transpose()
    };
    let (start, count) = paging(number("startIndex")?, number("count")?);
    let filter = match get("filter") {
        Some(f) if !f.trim().is_empty() => Some(filter::parse(&f)?),
        _ => None,
    };
    Ok(ListQuery {
        filter,
        start,
        count,
        excluded: get("excludedAttributes")
            .unwrap_or_default()
            .to_ascii_lowercase(),
    })
}

pub async fn list(
    state: web::Data<AppState>,
    caller: ScimCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let q = list_query(&req)?;
    let team = caller.team_id;
    let (start, count) = (q.start, q.count);
    let (total, users) = state
        .store
        .read(move |c| store::list_users(c, &team, q.filter.as_ref(), start, count))
        .await?;
    let base = base_url(&state);
    let resources: Vec<UserResource> = users.into_iter().map(|u| resource(&base, u)).collect();
    Ok(scim_json(
        200,
        &crate::scim::types::ListResponse::new(total, start, resources),
    ))
}

async fn load(state: &AppState, team: String, id: i64) -> Result<StoredUser, ScimError> {
    state
        .store
        .read(move |c| store::get_user(c, &team, id))
        .await?
        .ok_or_else(|| Refusal::not_found().into())
}

fn id_of(path: &str) -> Result<i64, ScimError> {
    path.parse().map_err(|_| Refusal::not_found().into())
}

pub async fn get(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let u = load(&state, caller.team_id, id_of(&path)?).await?;
    Ok(scim_json(200, &resource(&base_url(&state), u)))
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
    let u = load(&state, caller.team_id, id).await?;
    let r = resource(&base_url(&state), u);
    let mut resp = scim_json(201, &r);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&r.meta.location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

/// After a change: the token index follows before the answer, whatever the outcome (a
/// deactivation revoked personal tokens), then the user as stored.
async fn answer(
    state: &AppState,
    caller: &ScimCaller,
    id: i64,
    done: Result<(), ScimStoreError>,
) -> Result<HttpResponse, ScimError> {
    state.tokens.catch_up_with(&state.store).await?;
    done?;
    let u = load(state, caller.team_id.clone(), id).await?;
    Ok(scim_json(200, &resource(&base_url(state), u)))
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
    answer(&state, &caller, id, done).await
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
    let done = state
        .store
        .run(move |c| store::patch_user(c, &team, &actor, id, |u| apply_user(u, &ops)))
        .await;
    answer(&state, &caller, id, done).await
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = id_of(&path)?;
    let (team, actor) = (caller.team_id.clone(), caller.actor());
    let done = state
        .store
        .run(move |c| store::delete_user(c, &team, &actor, id))
        .await;
    state.tokens.catch_up_with(&state.store).await?;
    done?;
    Ok(HttpResponse::NoContent().finish())
}
