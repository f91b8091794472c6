//! Shared API tokens: list, create (secret shown once, revealable later), reveal, revoke.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::domain::token_access::{TokenAction, Viewer};
use crate::domain::tokens::TokenStatus;
use crate::domain::{TokenId, UserId};
use crate::error::{AppError, Result};
use crate::session::{Once, TypedSession};
use crate::state::AppState;
use crate::store::now;
use crate::store::tokens::{self, Token};
use crate::views;

use super::acting::acting;
use super::answer::{self, Back};
use super::extract::{CsrfForm, CurrentUser, LateQuery};

async fn render(
    state: &AppState,
    me: &CurrentUser,
    page: i64,
    shown: Option<(i64, String)>,
    form: Option<views::tokens::CreateForm<'_>>,
    status: StatusCode,
) -> Result<HttpResponse> {
    let (team, who) = (me.team().to_string(), viewer(me));
    let (list, more) = state
        .store
        .run(move |c| tokens::list(c, &team, who, page))
        .await?;
    let portal_url = state.settings.server.base();
    let at = now();
    let rows: Vec<_> = list
        .iter()
        .map(|t| views::model::TokenRow {
            id: t.id,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            creator: t.creator.clone(),
            mine: t.created_by == who.id.0,
            personal: t.personal,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
            status: t.status(at),
            may_reveal: t.status(at) != TokenStatus::Revoked
                && who.may(TokenAction::Reveal, t.facts()).is_ok(),
            may_revoke: t.status(at) != TokenStatus::Revoked
                && who.may(TokenAction::Revoke, t.facts()).is_ok(),
        })
        .collect();
    let body = views::tokens::page(
        &me.chrome("/tokens"),
        &views::tokens::Listing {
            team_id: me.team(),
            portal_url: &portal_url,
            is_admin: me.user.is_admin(),
            tokens: &rows,
            page,
            more,
        },
        shown.as_ref(),
        form.as_ref(),
    );
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body.into_string()))
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

pub async fn tokens_page(
    state: web::Data<AppState>,
    session: Session,
    me: CurrentUser,
    query: LateQuery<PageQuery>,
) -> Result<HttpResponse> {
    let query = query.checked()?;
    let page = match query.page.as_deref().map(str::parse::<i64>) {
        None => 1,
        Some(Ok(n)) if (1..=1_000_000).contains(&n) => n,
        Some(_) => {
            return Err(AppError::BadRequest(
                "page must be a whole number from 1.".into(),
            ))
        }
    };
    // A token created just now: its secret, once, on the page the creation led to.
    let shown = TypedSession(&session).take_shown_token(&state.sealer, Once::ApiToken);
    render(&state, &me, page, shown, None, StatusCode::OK).await
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
    session: Session,
    me: CurrentUser,
    form: CsrfForm<CreateForm>,
) -> Result<HttpResponse> {
    let f = form.0;
    let personal = matches!(f.personal.as_deref(), Some("on" | "true" | "1" | "yes"));
    // A refused form comes back with what was typed and the reason next to its field.
    let refuse = |field, error: String, status| {
        let (state, me) = (&state, &me);
        let (name, days) = (f.name.clone(), f.expires_in_days.clone());
        async move {
            let form = views::tokens::CreateForm {
                name: &name,
                expires_in_days: &days,
                personal,
                refusal: views::form::Refusal {
                    field,
                    error: &error,
                },
            };
            render(state, me, 1, None, Some(form), status).await
        }
    };
    let Some(name) = crate::domain::tokens::clean_name(&f.name) else {
        return refuse(
            views::tokens::Field::Name,
            "A token name is 1 to 64 characters (control and bidi-format characters are dropped)."
                .into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let expires_at = match f.expires_in_days.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => Some(now() + n * 86_400),
            _ => {
                return refuse(
                    views::tokens::Field::Expiry,
                    "Expiry is a whole number of days from 1 to 3650, or empty for no expiry."
                        .into(),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
        },
    };
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
        .await;
    let issued = match issued {
        Ok(issued) => issued,
        // The token limits: said next to the name, the form kept.
        Err(crate::store::users::ChangeError::Conflict(why)) => {
            return refuse(
                views::tokens::Field::Name,
                why.to_string(),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => return Err(e.into()),
    };
    state.tokens.catch_up_with(&state.store).await?;
    // Post/redirect/get: a reload shows the list, never creates a second token. The secret
    // waits sealed in the session for the one page that shows it.
    TypedSession(&session).show_token_once(
        &state.sealer,
        Once::ApiToken,
        issued.id,
        &issued.secret,
    );
    Ok(answer::done(
        &session,
        "/tokens",
        "The token was created. Copy its secret now.",
    ))
}

/// The signed-in member as the token access policy sees them.
fn viewer(me: &CurrentUser) -> Viewer {
    Viewer {
        id: UserId(me.user.id),
        admin: me.user.is_admin(),
    }
}

/// The token if `me` may do `action` to it, as the policy says (for the confirmation page).
pub(super) async fn authorized(
    state: &AppState,
    me: &CurrentUser,
    id: i64,
    action: TokenAction,
) -> Result<Token> {
    let (team, who) = (me.team().to_string(), viewer(me));
    Ok(state
        .store
        .read(move |c| tokens::authorized(c, &team, who, TokenId(id), action))
        .await?)
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
        None,
        StatusCode::OK,
    )
    .await
}

pub async fn revoke(
    state: web::Data<AppState>,
    session: Session,
    me: CurrentUser,
    path: web::Path<i64>,
    form: CsrfForm<Back>,
) -> Result<HttpResponse> {
    let (who, id) = (viewer(&me), TokenId(path.into_inner()));
    let token = acting(&state, &me, move |c, team, actor| {
        tokens::revoke(c, team, actor, who, id)
    })
    .await?;
    // Out of the index before the response: once this returns, the token no longer verifies.
    state.tokens.catch_up_with(&state.store).await?;
    Ok(answer::done(
        &session,
        &form.0.to("/tokens"),
        format!(
            "The token {} is revoked: it no longer verifies.",
            token.name
        ),
    ))
}
