//! The team page and what admins do there: roles, removal, restore, invitations.

use std::cell::RefCell;

use actix_session::Session;
use actix_web::http::header::{self, AcceptEncoding, Encoding, Header, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::text::strip_unsafe;
use crate::domain::Provisioning;
use crate::domain::{Email, Role};
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::store::{invites, members, users};
use crate::views;

use super::answer::{self, Back};
use super::extract::{Admin, CsrfForm, CurrentUser, Query, SignedIn};
use super::team_change::TeamChange;

pub const PER_PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct TeamQuery {
    #[serde(default)]
    q: String,
    page: Option<i64>,
}

pub async fn team_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    query: Query<TeamQuery>,
) -> Result<HttpResponse> {
    // Control characters (a NUL above all) never reach the store's search; a query of
    // nothing else is no filter.
    let q = strip_unsafe(&query.q).chars().take(100).collect::<String>();
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let data = move |me: &users::User, found, q| views::team::TeamData {
        team_id: me.team_id.clone(),
        found,
        q,
        page,
        per_page: PER_PAGE,
    };
    let quick = |c: &_, memo: &_, me: &users::User| {
        let found = members::team_page_if_cached(
            c,
            memo,
            &state.team_pages,
            &list_page(&me.team_id, me.is_admin(), &q, page),
        )?;
        Ok(found.map(|found| data(me, found, q.clone())))
    };
    let (cache, search) = (state.team_pages.clone(), q.clone());
    let slow = move |c: &_, me: &users::User| {
        let found = members::team_page(
            c,
            &cache,
            &list_page(&me.team_id, me.is_admin(), &search, page),
        )?;
        Ok(data(me, found, search))
    };
    let (me, data) = who.load_quick_or(quick, slow).await?;
    let gzip = takes_gzip(&req);
    Ok(render(&state, &me, &data, None, None, StatusCode::OK, gzip))
}

/// The browser takes gzip (`Accept-Encoding`, its q-values weighed). A browser sends the same
/// header on every request: each worker thread keeps the answer for the last one it weighed.
fn takes_gzip(req: &HttpRequest) -> bool {
    thread_local! {
        static LAST: RefCell<Option<(Vec<u8>, bool)>> = const { RefCell::new(None) };
    }
    let mut values = req.headers().get_all(header::ACCEPT_ENCODING);
    let (Some(value), None) = (values.next(), values.next()) else {
        return negotiates_gzip(req);
    };
    LAST.with_borrow_mut(|last| match last {
        Some((seen, takes)) if seen.as_slice() == value.as_bytes() => *takes,
        _ => {
            let takes = negotiates_gzip(req);
            *last = Some((value.as_bytes().to_vec(), takes));
            takes
        }
    })
}

fn negotiates_gzip(req: &HttpRequest) -> bool {
    let gzip = Encoding::gzip();
    AcceptEncoding::parse(req).is_ok_and(|accepts| {
        accepts.negotiate([gzip.clone(), Encoding::identity()].iter()) == Some(gzip)
    })
}

fn render(
    state: &AppState,
    me: &CurrentUser,
    data: &views::team::TeamData,
    invite: Option<views::team::InviteError<'_>>,
    refusal: Option<&str>,
    status: StatusCode,
    gzip: bool,
) -> HttpResponse {
    let provisioning = state
        .sso
        .get(me.team())
        .map(|t| t.provisioning)
        .unwrap_or(Provisioning::Jit);
    let mut chrome = me.chrome("/team");
    chrome.refusal = refusal;
    let body = views::team::page(
        &chrome,
        me.user.id,
        me.user.is_admin(),
        provisioning,
        data,
        &state.team_rows,
        invite,
        gzip,
    );
    let mut answer = HttpResponse::build(status);
    answer
        .content_type("text/html; charset=utf-8")
        .insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
    match body {
        views::team::Encoded::Html(html) => answer.body(html),
        views::team::Encoded::Gzip(bytes) => answer
            .insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")))
            .body(bytes),
    }
}

/// Page `page` of the team's list (`q`: a search, or empty), with the pending invitations for
/// an admin.
fn list_page<'a>(
    team_id: &'a str,
    with_invites: bool,
    q: &'a str,
    page: i64,
) -> members::PageWanted<'a> {
    members::PageWanted {
        team_id,
        with_invites,
        q,
        offset: (page - 1) * PER_PAGE,
        per_page: PER_PAGE,
    }
}

/// The invitation form again, with what was typed and why it was refused next to it.
async fn refuse_invite(
    state: &AppState,
    me: &CurrentUser,
    value: &str,
    error: &str,
    status: StatusCode,
) -> Result<HttpResponse> {
    let (team, cache) = (me.team().to_string(), state.team_pages.clone());
    let found = state
        .store
        .read(move |c| members::team_page(c, &cache, &list_page(&team, true, "", 1)))
        .await?;
    let data = views::team::TeamData {
        team_id: me.team().to_string(),
        found,
        q: String::new(),
        page: 1,
        per_page: PER_PAGE,
    };
    let invite = views::team::InviteError { value, error };
    Ok(render(state, me, &data, Some(invite), None, status, false))
}

/// A change the team's rules refuse (the last admin, a config-managed role): 409 with the
/// list it came from again, its search and page kept and the reason in an alert, rather than
/// an error page that loses the list. Nothing was changed.
async fn refuse_change<F: AsRef<Back>>(
    state: &AppState,
    change: &TeamChange<F>,
    why: &str,
) -> Result<HttpResponse> {
    let (q, page) = change.form.as_ref().list();
    let me = &change.admin;
    let (team, cache, search) = (me.team().to_string(), state.team_pages.clone(), q.clone());
    let found = state
        .store
        .read(move |c| members::team_page(c, &cache, &list_page(&team, true, &search, page)))
        .await?;
    let data = views::team::TeamData {
        team_id: me.team().to_string(),
        found,
        q,
        page,
        per_page: PER_PAGE,
    };
    Ok(render(
        state,
        me,
        &data,
        None,
        Some(why),
        StatusCode::CONFLICT,
        false,
    ))
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(flatten)]
    back: Back,
}

impl AsRef<Back> for RoleForm {
    fn as_ref(&self) -> &Back {
        &self.back
    }
}

pub async fn set_role(
    state: web::Data<AppState>,
    change: TeamChange<RoleForm>,
) -> Result<HttpResponse> {
    let role = Role::parse(&change.form.role)
        .ok_or_else(|| AppError::BadRequest("role must be \"admin\" or \"member\".".into()))?;
    let (team, actor, target) = (change.team(), change.actor(), change.target);
    let changed = state
        .store
        .run(move |c| users::set_role(c, &team, &actor, target, role))
        .await
        .map_err(AppError::from);
    let user = match changed {
        Err(AppError::Conflict(why)) => return refuse_change(&state, &change, &why).await,
        other => other?,
    };
    let now = if role == Role::Admin {
        "an admin"
    } else {
        "a member"
    };
    Ok(change.done(format!("{} is now {now}.", user.display_name())))
}

pub async fn remove(state: web::Data<AppState>, change: TeamChange<Back>) -> Result<HttpResponse> {
    // Sessions and personal tokens end in one transaction; the token index follows before
    // the answer, so nothing of theirs works once it has returned.
    let user =
        match crate::access::remove_member(&state, change.team(), change.actor(), change.target)
            .await
        {
            Err(AppError::Conflict(why)) => return refuse_change(&state, &change, &why).await,
            other => other?,
        };
    Ok(change.done(format!(
        "{} was removed: their sessions ended and their personal tokens were revoked.",
        user.display_name()
    )))
}

pub async fn restore(state: web::Data<AppState>, change: TeamChange<Back>) -> Result<HttpResponse> {
    let (team, actor, target) = (change.team(), change.actor(), change.target);
    let user = state
        .store
        .run(move |c| users::restore(c, &team, &actor, target))
        .await?;
    state.tokens.catch_up_with(&state.store).await?;
    Ok(change.done(format!(
        "{} is a member of the team again.",
        user.display_name()
    )))
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
}

pub async fn invite(
    state: web::Data<AppState>,
    session: Session,
    admin: Admin,
    form: CsrfForm<InviteForm>,
) -> Result<HttpResponse> {
    let typed = form.0.email;
    let Some(email) = Email::parse(&typed) else {
        return refuse_invite(
            &state,
            &admin.0,
            &typed,
            "Enter a valid email address to invite.",
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
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
        let why = format!(
            "{address} is already an active member of this team: there is nothing to invite."
        );
        return refuse_invite(&state, &admin.0, &typed, &why, StatusCode::CONFLICT).await;
    }
    Ok(answer::done(
        &session,
        "/team",
        format!("{address} is invited: they can sign in now."),
    ))
}

pub async fn cancel_invite(
    state: web::Data<AppState>,
    change: TeamChange<serde::de::IgnoredAny>,
) -> Result<HttpResponse> {
    let (team, actor, id) = (change.team(), change.actor(), change.target);
    let found = state
        .store
        .run(move |c| invites::cancel(c, &team, &actor, id))
        .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(change.done_at("/team", "The invitation was cancelled."))
}
