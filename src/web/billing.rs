//! Billing for admins: the month's statement with a daily chart, and the CSV export.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::domain::billing::{self, Month};
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::store::{now, statements, usage};
use crate::views;

use super::extract::{Admin, LateQuery};

#[derive(Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

fn month_of(q: &MonthQuery) -> Result<Month> {
    match q.month.as_deref().filter(|m| !m.is_empty()) {
        None => Ok(Month::of_now(now())),
        Some(m) => Month::parse(m).ok_or_else(|| {
            AppError::BadRequest("month must be written YYYY-MM, e.g. 2026-11.".into())
        }),
    }
}

pub async fn billing_page(
    state: web::Data<AppState>,
    admin: Admin,
    q: LateQuery<MonthQuery>,
) -> Result<HttpResponse> {
    let month = month_of(&q.checked()?)?;
    let (team, billing) = (admin.0.team().to_string(), state.settings.billing.clone());
    let (statement, months) = state
        .store
        .run(
            move |c| -> std::result::Result<_, crate::store::StoreError> {
                Ok((
                    statements::statement(c, &team, month, &billing.prices())?,
                    statements::statement_months(c, &team)?,
                ))
            },
        )
        .await?;
    let body = views::billing::page(
        &admin.0.chrome("/billing"),
        &statement,
        &months,
        Month::of_now(now()),
    );
    Ok(super::respond::html(body))
}

pub async fn usage_csv(
    state: web::Data<AppState>,
    admin: Admin,
    q: LateQuery<MonthQuery>,
) -> Result<HttpResponse> {
    let month = month_of(&q.checked()?)?;
    let team = admin.0.team().to_string();
    let days = month.days();
    let (first, last) = (
        days.first().cloned().unwrap_or_default(),
        days.last().cloned().unwrap_or_default(),
    );
    let rows = state
        .store
        .run(move |c| usage::daily(c, &team, &first, &last))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"usage-{}-{month}.csv\"",
                admin.0.team()
            ),
        ))
        .body(billing::csv(&rows)))
}
