//! The audit log for admins: newest first, paged, filtered by action and person.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::Result;
use crate::store::audit::{self, Filter};
use crate::store::StoreError;
use crate::views;

use super::extract::Admin;

pub const PER_PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    person: Option<String>,
    page: Option<i64>,
}

pub async fn audit_page(
    state: web::Data<AppState>,
    admin: Admin,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse> {
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(100).collect::<String>())
    };
    let filter = Filter {
        action: clean(&q.action),
        person: clean(&q.person),
    };
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let (team, f) = (admin.0.team().to_string(), filter.clone());
    let (rows, total, actions) = state
        .store
        .run(move |c| -> std::result::Result<_, StoreError> {
            let (rows, total) = audit::list(c, &team, &f, (page - 1) * PER_PAGE, PER_PAGE)?;
            Ok((rows, total, audit::actions(c, &team)?))
        })
        .await?;
    let body = views::audit::page(
        &admin.0.chrome("/audit"),
        &rows,
        total,
        &actions,
        &filter,
        page,
        PER_PAGE,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body.into_string()))
}
