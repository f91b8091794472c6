//! The confirmation pages of destructive actions (`GET {action}/confirm`): remove a
//! member, revoke a token. The action itself stays the one POST with a CSRF token.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::domain::token_access::TokenAction;
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::store::users;
use crate::views;

use super::answer::list_url;
use super::extract::{Admin, CurrentUser};

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    page: Option<i64>,
}

use super::respond::html;

/// An active member of the admin's team, or 404.
async fn active_member(state: &AppState, me: &CurrentUser, id: i64) -> Result<users::User> {
    let team = me.team().to_string();
    state
        .store
        .read(move |c| users::get_in_team(c, &team, id))
        .await?
        .filter(|u| u.active)
        .ok_or(AppError::NotFound)
}

pub async fn remove_member(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let (me, id) = (admin.0, path.into_inner());
    let user = active_member(&state, &me, id).await?;
    let name = user.display_name();
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000).to_string();
    let hidden = [("back_q", q.q.as_str()), ("back_page", page.as_str())];
    let own = if user.id == me.user.id {
        " You are removing yourself: you will be signed out."
    } else {
        ""
    };
    let explain = format!(
        "{name} ({}) loses access at once: their sessions end and their personal tokens are revoked. Tokens they shared with the team keep working. You can restore them later.{own}",
        user.email
    );
    Ok(html(views::ask::page(
        &me.chrome("/team"),
        &views::ask::Ask {
            question: &format!("Remove {name}?"),
            explain: &explain,
            action: &format!("/team/members/{id}/remove"),
            button: &format!("Remove {name}"),
            back: &list_url("/team", &q.q, q.page.unwrap_or(1)),
            hidden: &hidden,
        },
    )))
}

pub async fn end_member_sessions(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let (me, id) = (admin.0, path.into_inner());
    let user = active_member(&state, &me, id).await?;
    let name = user.display_name();
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000).to_string();
    let hidden = [("back_q", q.q.as_str()), ("back_page", page.as_str())];
    let explain = format!(
        "Every browser {name} ({}) is signed in with is signed out at once. They stay a member and may sign in again; their tokens keep working.",
        user.email
    );
    Ok(html(views::ask::page(
        &me.chrome("/team"),
        &views::ask::Ask {
            question: &format!("End every session of {name}?"),
            explain: &explain,
            action: &format!("/team/members/{id}/sessions/revoke"),
            button: &format!("End sessions of {name}"),
            back: &list_url("/team", &q.q, q.page.unwrap_or(1)),
            hidden: &hidden,
        },
    )))
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let token =
        super::tokens::authorized(&state, &me, path.into_inner(), TokenAction::Revoke).await?;
    if token.revoked_at.is_some() {
        return Err(AppError::Conflict("This token is already revoked.".into()));
    }
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000).to_string();
    let hidden = [("back_page", page.as_str())];
    let explain = format!(
        "Services using {} (created by {}) are refused from the moment you confirm. A revoked token cannot be revealed or restored.",
        token.name, token.creator
    );
    Ok(html(views::ask::page(
        &me.chrome("/tokens"),
        &views::ask::Ask {
            question: &format!("Revoke the token {}?", token.name),
            explain: &explain,
            action: &format!("/tokens/{}/revoke", token.id),
            button: &format!("Revoke {}", token.name),
            back: &list_url("/tokens", "", q.page.unwrap_or(1)),
            hidden: &hidden,
        },
    )))
}
