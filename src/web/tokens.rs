//! Shared API tokens: list, create (secret shown once, revealable later), reveal, revoke.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::domain::token_access::Viewer;
use crate::domain::{TokenId, UserId};
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::store::now;
use crate::store::tokens;
use crate::views;

use super::acting::acting;
use super::extract::{CsrfForm, CurrentUser};

async fn render(
    state: &AppState,
    me: &CurrentUser,
    page: i64,
    shown: Option<(i64, String)>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse> {
    let (team, who, admin) = (me.team().to_string(), viewer(me), me.user.is_admin());
    let (list, more) = state
        .store
        .run(move |c| tokens::list(c, &team, who, page))
        .await?;
    let portal_url = state.settings.server.base();
    let body = views::tokens::page(
        &me.chrome("/tokens"),
        &views::tokens::Listing {
            team_id: me.team(),
            portal_url: &portal_url,
            me: me.user.id,
            is_admin: admin,
            tokens: &list,
            page,
            more,
        },
        shown.as_ref(),
        now(),
    );
    Ok(super::respond::html_status(status, body))
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

pub async fn tokens_page(
    state: web::Data<AppState>,
    me: CurrentUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    let page = match query.page.as_deref().map(str::parse::<i64>) {
        None => 1,
        Some(Ok(n)) if (1..=1_000_000).contains(&n) => n,
        Some(_) => {
            return Err(AppError::BadRequest(
                "page must be a whole number from 1.".into(),
            ))
        }
    };
    render(&state, &me, page, None, actix_web::http::StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in_days: String,
    personal: Option<String>,
}

pub async fn create(
    state: web::Data<AppState>,
    me: CurrentUser,
    form: CsrfForm<CreateForm>,
) -> Result<HttpResponse> {
    let f = form.0;
    let name = crate::domain::tokens::clean_name(&f.name).ok_or_else(|| {
        AppError::BadRequest(
            "A token name is 1 to 64 characters (control and bidi-format characters are dropped)."
                .into(),
        )
    })?;
    let expires_at = match f.expires_in_days.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => Some(now() + n * 86_400),
            _ => return Err(AppError::BadRequest("expires_in_days must be a whole number of days from 1 to 3650, or empty for no expiry.".into())),
        },
    };
    let personal = matches!(f.personal.as_deref(), Some("on" | "true" | "1" | "yes"));
    let (actor, sealer, team, creator) = (
        me.actor(),
        state.sealer.clone(),
        me.team().to_string(),
        me.user.id,
    );
    let issued = state
        .store
        .run(move |c| {
            crate::tokens::issue(
                c,
                &sealer,
                &actor,
                &crate::tokens::Request {
                    team_id: &team,
                    creator,
                    name: &name,
                    personal,
                    expires_at,
                },
            )
        })
        .await?;
    state.tokens.catch_up_with(&state.store).await?;
    let (id, secret) = (issued.id, issued.secret);
    render(
        &state,
        &me,
        1,
        Some((id, secret)),
        actix_web::http::StatusCode::CREATED,
    )
    .await
}

/// The signed-in member as the token access policy sees them.
fn viewer(me: &CurrentUser) -> Viewer {
    Viewer {
        id: UserId(me.user.id),
        admin: me.user.is_admin(),
    }
}

pub async fn reveal(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let (who, id) = (viewer(&me), TokenId(path.into_inner()));
    let (token, (sealed, hash)) = acting(&state, &me, move |c, team, actor| {
        tokens::reveal(c, team, actor, who, id)
    })
    .await?;
    let secret =
        crate::tokens::unseal(&state.sealer, me.team(), &hash, &sealed).ok_or_else(|| {
            AppError::internal("a token secret could not be decrypted with this instance key")
        })?;
    render(
        &state,
        &me,
        1,
        Some((token.id, secret)),
        actix_web::http::StatusCode::OK,
    )
    .await
}

pub async fn revoke(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let (who, id) = (viewer(&me), TokenId(path.into_inner()));
    acting(&state, &me, move |c, team, actor| {
        tokens::revoke(c, team, actor, who, id)
    })
    .await?;
    // Out of the index before the response: once this returns, the token no longer verifies.
    state.tokens.catch_up_with(&state.store).await?;
    Ok(super::respond::see_other("/tokens"))
}
