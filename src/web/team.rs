//! The team page and what admins do there: roles, removal, restore, invitations.

use actix_web::http::header::LOCATION;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::config::Provisioning;
use crate::domain::text::strip_unsafe;
use crate::domain::{Email, Role};
use crate::error::{AppError, Result};
use crate::store::{invites, members, users};
use crate::views;

use super::extract::{Admin, CsrfForm, SignedIn};

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
    Ok(html(views::team::page(
        &me.chrome("/team"),
        me.user.id,
        me.user.is_admin(),
        provisioning,
        &data,
        &state.team_rows,
    )))
}

fn html(m: maud::Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(m.into_string())
}

fn back_to_team() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, "/team"))
        .finish()
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
    let (team, actor, target) = (
        admin.0.team().to_string(),
        admin.0.actor(),
        path.into_inner(),
    );
    state
        .store
        .run(move |c| users::set_role(c, &team, &actor, target, role))
        .await?;
    Ok(back_to_team())
}

pub async fn remove(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let (team, actor, target) = (
        admin.0.team().to_string(),
        admin.0.actor(),
        path.into_inner(),
    );
    // Sessions and personal tokens end in one transaction; the token index follows before
    // the answer, so nothing of theirs works once it has returned.
    crate::access::remove_member(&state, team, actor, target).await?;
    Ok(back_to_team())
}

pub async fn restore(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let (team, actor, target) = (
        admin.0.team().to_string(),
        admin.0.actor(),
        path.into_inner(),
    );
    state
        .store
        .run(move |c| users::restore(c, &team, &actor, target))
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
    let (team, actor, address) = (
        admin.0.team().to_string(),
        admin.0.actor(),
        email.as_str().to_string(),
    );
    let invited = state
        .store
        .run(move |c| invites::create(c, &team, &actor, email.as_str()))
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
    let (team, actor, id) = (
        admin.0.team().to_string(),
        admin.0.actor(),
        path.into_inner(),
    );
    let found = state
        .store
        .run(move |c| invites::cancel(c, &team, &actor, id))
        .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(back_to_team())
}
