//! What `/Users` and `/Groups` share: a [`Resource`] says how one kind is found, listed and
//! put on the wire, and the handlers here read, list and answer after a change for either.

use actix_web::http::header::{HeaderValue, LOCATION};
use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde::Serialize;

use crate::scim::types::{ListResponse, PatchOp, PatchRequest};
use crate::scim::{filter, paging, Refusal};
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::scim::ScimStoreError;
use crate::store::StoreError;

use super::super::extract::is_utf8_form;
use super::base_url;
use super::wire::{scim_json, ScimBody, ScimCaller, ScimError};

/// One kind of SCIM resource as its handlers need it.
pub trait Resource: Sized + Send + 'static {
    /// The wire form.
    type Out: Serialize;
    /// A change to it can end access (a user's deactivation revokes personal tokens): the
    /// token index catches up before the answer, whatever the change's outcome.
    const ENDS_ACCESS: bool;
    /// One in `team` by id; `None` when absent or in another team.
    fn find(c: &Connection, team: &str, id: i64) -> Result<Option<Self>, StoreError>;
    /// One page of the team's, and how many match in all.
    fn list(c: &Connection, team: &str, q: &ListQuery) -> Result<(i64, Vec<Self>), ScimStoreError>;
    /// The wire form, its `meta.location` under `base`.
    fn render(self, base: &str) -> Self::Out;
    fn location(out: &Self::Out) -> &str;
    /// PATCH: the operations applied and written in one transaction.
    fn patch(c: &mut Connection, at: &Target, ops: &[PatchOp]) -> Result<(), ScimStoreError>;
    fn delete(c: &mut Connection, at: &Target) -> Result<(), ScimStoreError>;
}

/// A change's target: the caller's team, its audit actor, and the resource's id.
pub struct Target {
    pub team: String,
    pub actor: Actor,
    pub id: i64,
}

impl Target {
    fn of(caller: &ScimCaller, id: i64) -> Self {
        Target {
            team: caller.team_id.clone(),
            actor: caller.actor(),
            id,
        }
    }
}

pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `startIndex`, `count` and `filter` of a list request; bad numbers are 400 `invalidValue`.
pub struct ListQuery {
    pub filter: Option<filter::Filter>,
    pub start: i64,
    pub count: i64,
    pub excluded: String,
}

pub fn list_query(req: &HttpRequest) -> Result<ListQuery, ScimError> {
    // A filter of U+FFFD for bytes that are not UTF-8 would look for what no one sent.
    for pair in req.query_string().split('&') {
        if is_utf8_form(pair.as_bytes()) {
            continue;
        }
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        return Err(if name.eq_ignore_ascii_case("filter") {
            Refusal::invalid_filter("The filter is not UTF-8.")
        } else {
            Refusal::invalid_value("The query string is not UTF-8.")
        }
        .into());
    }
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

/// A resource id from the path: ids are server-issued integers, anything else is not found.
pub fn id_of(path: &str) -> Result<i64, ScimError> {
    path.parse().map_err(|_| Refusal::not_found().into())
}

pub async fn load<R: Resource>(state: &AppState, team: String, id: i64) -> Result<R, ScimError> {
    state
        .store
        .read(move |c| R::find(c, &team, id))
        .await?
        .ok_or_else(|| Refusal::not_found().into())
}

/// The resource as stored now: 200, or 201 with its `Location` when it was just created.
pub async fn show<R: Resource>(
    state: &AppState,
    team: String,
    id: i64,
    created: bool,
) -> Result<HttpResponse, ScimError> {
    let out = load::<R>(state, team, id).await?.render(&base_url(state));
    if !created {
        return Ok(scim_json(200, &out));
    }
    let mut resp = scim_json(201, &out);
    if let Ok(v) = HeaderValue::from_str(R::location(&out)) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

/// After a change that `done` reports: the token index caught up when the change can end
/// access, then the error or the resource as stored (`None`: it was deleted, 204).
pub async fn changed<R: Resource>(
    state: &AppState,
    caller: &ScimCaller,
    id: Option<i64>,
    done: Result<(), ScimStoreError>,
) -> Result<HttpResponse, ScimError> {
    if R::ENDS_ACCESS {
        state.tokens.catch_up_with(&state.store).await?;
    }
    done?;
    match id {
        Some(id) => show::<R>(state, caller.team_id.clone(), id, false).await,
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// `GET /{Resources}/{id}`.
pub async fn get<R: Resource>(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    show::<R>(&state, caller.team_id, id_of(&path)?, false).await
}

/// `GET /{Resources}`: one page, filtered.
pub async fn list<R: Resource>(
    state: web::Data<AppState>,
    caller: ScimCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let q = list_query(&req)?;
    let (team, start) = (caller.team_id, q.start);
    let (total, found) = state.store.read(move |c| R::list(c, &team, &q)).await?;
    let base = base_url(&state);
    let resources: Vec<R::Out> = found.into_iter().map(|r| r.render(&base)).collect();
    Ok(scim_json(200, &ListResponse::new(total, start, resources)))
}

/// `PATCH /{Resources}/{id}`.
pub async fn patch<R: Resource>(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
    body: ScimBody<PatchRequest>,
) -> Result<HttpResponse, ScimError> {
    let id = id_of(&path)?;
    let ops = body.0.operations;
    let at = Target::of(&caller, id);
    let done = state.store.run(move |c| R::patch(c, &at, &ops)).await;
    changed::<R>(&state, &caller, Some(id), done).await
}

/// `DELETE /{Resources}/{id}`: 204.
pub async fn delete<R: Resource>(
    state: web::Data<AppState>,
    caller: ScimCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = id_of(&path)?;
    let at = Target::of(&caller, id);
    let done = state.store.run(move |c| R::delete(c, &at)).await;
    changed::<R>(&state, &caller, None, done).await
}
