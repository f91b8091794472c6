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
use super::extract::{Admin, CurrentUser, LateQuery};

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

/// What is asked about a member on the team page.
enum MemberAction {
    Remove,
    EndSessions,
}

/// The question about an active member of the admin's team, its form making the action's POST
/// with the list's search and page to come back to.
async fn ask_about_member(
    state: &AppState,
    admin: Admin,
    id: i64,
    q: &ListQuery,
    action: MemberAction,
) -> Result<HttpResponse> {
    let me = admin.0;
    let user = active_member(state, &me, id).await?;
    let (name, email) = (user.display_name(), &user.email);
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000).to_string();
    let hidden = [("back_q", q.q.as_str()), ("back_page", page.as_str())];
    let (question, explain, path, button) = match action {
        MemberAction::Remove => {
            let own = if user.id == me.user.id {
                " You are removing yourself: you will be signed out."
            } else {
                ""
            };
            (
                format!("Remove {name}?"),
                format!("{name} ({email}) loses access at once: their sessions end and their personal tokens are revoked. Tokens they shared with the team keep working. You can restore them later.{own}"),
                format!("/team/members/{id}/remove"),
                format!("Remove {name}"),
            )
        }
        MemberAction::EndSessions => (
            format!("End every session of {name}?"),
            format!("Every browser {name} ({email}) is signed in with is signed out at once. They stay a member and may sign in again; their tokens keep working."),
            format!("/team/members/{id}/sessions/revoke"),
            format!("End sessions of {name}"),
        ),
    };
    Ok(html(views::ask::page(
        &me.chrome("/team"),
        &views::ask::Ask {
            question: &question,
            explain: &explain,
            action: &path,
            button: &button,
            back: &list_url("/team", &q.q, q.page.unwrap_or(1)),
            hidden: &hidden,
        },
    )))
}

pub async fn remove_member(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    q: LateQuery<ListQuery>,
) -> Result<HttpResponse> {
    let q = q.checked()?;
    ask_about_member(&state, admin, path.into_inner(), &q, MemberAction::Remove).await
}

pub async fn end_member_sessions(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<i64>,
    q: LateQuery<ListQuery>,
) -> Result<HttpResponse> {
    let q = q.checked()?;
    ask_about_member(
        &state,
        admin,
        path.into_inner(),
        &q,
        MemberAction::EndSessions,
    )
    .await
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    q: LateQuery<ListQuery>,
) -> Result<HttpResponse> {
    let token =
        super::tokens::authorized(&state, &me, path.into_inner(), TokenAction::Revoke).await?;
    let q = q.checked()?;
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
