//! The audit log for admins: newest first, paged, filtered by action and person; and the
//! one way anonymous refusals reach it.

use std::net::IpAddr;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::domain::text::strip_unsafe;
use crate::error::Result;
use crate::sso::ratelimit::address_label;
use crate::state::AppState;
use crate::store::audit::{self, Actor, Filter};
use crate::store::StoreError;
use crate::views;

use super::extract::{Admin, LateQuery};

pub const PER_PAGE: i64 = 50;

/// Refusals of anonymous visitors (a bad callback, a throttled break-glass attempt) cost
/// the visitor nothing, so they reach the store at most at this rate per address (IPv6 per
/// /64), and those of one minute, address and action share one row with a count.
pub const REFUSALS_PER_MINUTE: u32 = 30;

/// Audits an anonymous refusal from `ip` in `team` (nothing for an unknown team). A failure
/// to write is logged, never shown: the visitor's answer is the refusal either way.
pub async fn record_refusal(
    state: &AppState,
    team: &str,
    ip: IpAddr,
    who: &str,
    action: crate::domain::AuditAction,
    target: &str,
    detail: &str,
) {
    if !state.refusal_limiter.allow(ip) {
        return;
    }
    let actor = Actor {
        user_id: None,
        label: who.to_string(),
        ip: address_label(ip),
    };
    let (team, target, detail) = (team.to_string(), target.to_string(), detail.to_string());
    let written: std::result::Result<(), StoreError> = state
        .store
        .run(move |c| {
            let event = audit::Event {
                team_id: &team,
                actor: &actor,
                action,
                target: &target,
                detail: &detail,
            };
            audit::record_repeated(c, &event)
        })
        .await;
    if let Err(err) = written {
        tracing::warn!(error = %err, action = action.as_str(), "could not audit a refusal");
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    person: Option<String>,
    page: Option<i64>,
}

pub async fn audit_page(
    state: web::Data<AppState>,
    admin: Admin,
    q: LateQuery<AuditQuery>,
) -> Result<HttpResponse> {
    let q = q.checked()?;
    // Search input, as on the team page: no control characters.
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(strip_unsafe)
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
        (filter.action.as_deref(), filter.person.as_deref()),
        page,
        PER_PAGE,
    );
    Ok(super::respond::html(body))
}
