//! The team page and what admins do there: roles, removal, restore, invitations.

use actix_web::{web, HttpResponse};
use rusqlite::Connection;
use serde::Deserialize;

use crate::domain::text::strip_unsafe;
use crate::domain::Provisioning;
use crate::domain::{Email, Role};
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::users::{ChangeError, User};
use crate::store::{invites, members, users};
use crate::views;

use super::acting::acting;
use super::extract::{Admin, CsrfForm, SignedIn};
use super::respond;

pub const PER_PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct TeamQuery {
    #[serde(default)]
    q: String,
    page: Option<i64>,
}

pub async fn team_page(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<TeamQuery>,
) -> Result<HttpResponse> {
    // Control characters (a NUL above all) never reach the store's search; a query of
    // nothing else is no filter.
    let q = strip_unsafe(&query.q).chars().take(100).collect::<String>();
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let cache = state.team_pages.clone();
    let (me, data) = who
        .load_with(move |c, me| {
            let offset = (page - 1) * PER_PAGE;
            let found =
                members::team_page(c, &cache, &me.team_id, me.is_admin(), &q, offset, PER_PAGE)?;
            Ok(views::team::TeamData {
                team_id: me.team_id.clone(),
                found,
                q,
                page,
                per_page: PER_PAGE,
            })
        })
        .await?;
    let provisioning = state
        .sso
        .get(me.team())
        .map(|t| t.provisioning)
        .unwrap_or(Provisioning::Jit);
    Ok(respond::html(views::team::page(
        &me.chrome("/team"),
        me.user.id,
        me.user.is_admin(),
        provisioning,
        &data,
        &state.team_rows,
    )))
}

fn back_to_team() -> HttpResponse {
    respond::see_other("/team")
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn set_role(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    form: CsrfForm<RoleForm>,
) -> Result<HttpResponse> {
    let role = Role::parse(&form.0.role)
        .ok_or_else(|| AppError::BadRequest("role must be \"admin\" or \"member\".".into()))?;
    let target = path.into_inner();
    acting(&state, &admin.0, move |c, team, actor| {
        users::set_role(c, team, actor, target, role)
    })
    .await?;
    Ok(back_to_team())
}

pub async fn remove(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    change_membership(&state, &admin, path.into_inner(), users::remove).await
}

pub async fn restore(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    change_membership(&state, &admin, path.into_inner(), users::restore).await
}

/// Removal or restore. A removal revokes the member's personal tokens in its transaction
/// (a restore brings none back); the index follows before the answer, so they stop
/// verifying once it has returned.
async fn change_membership(
    state: &AppState,
    admin: &Admin,
    target: i64,
    change: fn(&mut Connection, &str, &Actor, i64) -> std::result::Result<User, ChangeError>,
) -> Result<HttpResponse> {
    acting(state, &admin.0, move |c, team, actor| {
        change(c, team, actor, target)
    })
    .await?;
    state.tokens.catch_up_with(&state.store).await?;
    Ok(back_to_team())
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
}

pub async fn invite(
    state: web::Data<AppState>,
    admin: Admin,
    form: CsrfForm<InviteForm>,
) -> Result<HttpResponse> {
    let email = Email::parse(&form.0.email)
        .ok_or_else(|| AppError::BadRequest("Enter a valid email address to invite.".into()))?;
    let address = email.as_str().to_string();
    let invited = acting(&state, &admin.0, move |c, team, actor| {
        invites::create(c, team, actor, email.as_str())
    })
    .await?;
    if invited == invites::Invited::AlreadyMember {
        return Err(AppError::Conflict(format!(
            "{address} is already an active member of this team: there is nothing to invite."
        )));
    }
    Ok(back_to_team())
}

pub async fn cancel_invite(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let found = acting(&state, &admin.0, move |c, team, actor| {
        invites::cancel(c, team, actor, id)
    })
    .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(back_to_team())
}
