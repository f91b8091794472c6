//! Shared API tokens: list, create (secret shown once, revealable later), reveal, revoke.

use actix_web::http::header::LOCATION;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::crypto;
use crate::error::{AppError, Result};
use crate::store::now;
use crate::store::tokens::{self, NewToken, Token, Verifiable};
use crate::views;

use super::extract::{CsrfForm, CurrentUser};

fn sealed_context(team: &str, hash: &[u8]) -> String {
    // Bind each ciphertext to its team and token so rows cannot be swapped.
    format!("api-token:{team}:{}", hex(&hash[..8]))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn render(
    state: &AppState,
    me: &CurrentUser,
    shown: Option<(i64, String)>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse> {
    let (team, viewer, admin) = (me.team().to_string(), me.user.id, me.user.is_admin());
    let list = state
        .store
        .run(move |c| tokens::list(c, &team, viewer, admin))
        .await?;
    let body = views::tokens::page(
        &me.chrome("/tokens"),
        me.user.id,
        admin,
        &list,
        shown.as_ref(),
        now(),
    );
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body.into_string()))
}

pub async fn tokens_page(state: web::Data<AppState>, me: CurrentUser) -> Result<HttpResponse> {
    render(&state, &me, None, actix_web::http::StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in_days: String,
    personal: Option<String>,
}

pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control)
}

pub async fn create(
    state: web::Data<AppState>,
    me: CurrentUser,
    form: CsrfForm<CreateForm>,
) -> Result<HttpResponse> {
    let f = form.0;
    let name = f.name.trim().to_string();
    if !valid_name(&name) {
        return Err(AppError::BadRequest(
            "A token name is 1 to 64 characters.".into(),
        ));
    }
    let expires_at = match f.expires_in_days.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => Some(now() + n * 86_400),
            _ => return Err(AppError::BadRequest("expires_in_days must be a whole number of days from 1 to 3650, or empty for no expiry.".into())),
        },
    };
    let personal = matches!(f.personal.as_deref(), Some("on" | "true" | "1" | "yes"));
    let secret = crypto::new_token_secret();
    let hash = crypto::sha256(secret.as_bytes());
    let team = me.team().to_string();
    let sealed = state
        .sealer
        .seal(secret.as_bytes(), &sealed_context(&team, &hash));
    let prefix: String = secret.chars().take(7).collect();
    let (actor, creator, name2, team2) = (me.actor(), me.user.id, name.clone(), team.clone());
    let id = state
        .store
        .run(move |c| {
            tokens::insert(
                c,
                &actor,
                creator,
                &NewToken {
                    team_id: &team2,
                    name: &name2,
                    prefix: &prefix,
                    secret_hash: &hash,
                    secret_enc: &sealed,
                    personal,
                    expires_at,
                },
            )
        })
        .await?;
    state.tokens.insert(
        hash,
        Verifiable {
            id,
            team_id: team,
            name,
            expires_at,
        },
    );
    render(
        &state,
        &me,
        Some((id, secret)),
        actix_web::http::StatusCode::CREATED,
    )
    .await
}

/// The token if `me` may see it: personal tokens exist only for their creator (404 for
/// everyone else, admins included, except that admins may revoke them).
async fn visible(
    state: &AppState,
    me: &CurrentUser,
    id: i64,
    admin_may_see_personal: bool,
) -> Result<Token> {
    let team = me.team().to_string();
    let token = state
        .store
        .run(move |c| tokens::get(c, &team, id))
        .await?
        .ok_or(AppError::NotFound)?;
    if token.personal
        && token.created_by != me.user.id
        && !(admin_may_see_personal && me.user.is_admin())
    {
        return Err(AppError::NotFound);
    }
    Ok(token)
}

pub async fn reveal(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    _f: CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let token = visible(&state, &me, path.into_inner(), false).await?;
    let (team, actor, t) = (me.team().to_string(), me.actor(), token.clone());
    let (sealed, hash) = state
        .store
        .run(move |c| tokens::reveal(c, &team, &actor, &t))
        .await?;
    let secret = state
        .sealer
        .open(&sealed, &sealed_context(me.team(), &hash))
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            AppError::Internal(
                "a token secret could not be decrypted with this instance key".into(),
            )
        })?;
    render(
        &state,
        &me,
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
    let token = visible(&state, &me, path.into_inner(), true).await?;
    if token.created_by != me.user.id && !me.user.is_admin() {
        return Err(AppError::Forbidden(
            "Only the token's creator or a team admin may revoke it.",
        ));
    }
    let (team, actor, t) = (me.team().to_string(), me.actor(), token.clone());
    state
        .store
        .run(move |c| tokens::revoke(c, &team, &actor, &t))
        .await?;
    // Out of the index before the response: once this returns, the token no longer verifies.
    state.tokens.remove_id(token.id);
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, "/tokens"))
        .finish())
}
