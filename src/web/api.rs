//! The token-authenticated API: forward-auth verification (the hot path: one SHA-256, one
//! in-memory lookup, one counter bump; no database work) and usage reports.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::crypto;
use crate::domain::valid_unit;
use crate::metering::today;
use crate::metrics::VerifyOutcome;
use crate::state::AppState;
use std::sync::Arc;

use crate::metering::Indexed;
use crate::store::usage::{self, CounterKey, Reported};
use crate::store::{now, StoreError};

/// The unit verify meters; reports may not add to it.
const RESERVED_UNIT: &str = "requests";

fn unauthorized(why: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"teamportal\", error=\"invalid_token\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "invalid_token", "error_description": why }))
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "5"))
        .json(json!({ "error": "unavailable", "error_description": "the token store is not answering" }))
}

/// The bearer token from `Authorization`, if well-formed.
fn bearer(req: &HttpRequest) -> Result<&str, &'static str> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let value = values.next().ok_or("missing Authorization header")?;
    if values.next().is_some() {
        return Err("more than one Authorization header");
    }
    let value = value
        .to_str()
        .map_err(|_| "Authorization header is not ASCII")?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("Authorization must be \"Bearer <token>\"")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("Authorization must use the Bearer scheme");
    }
    let token = token.trim();
    if !token.starts_with(crypto::TOKEN_PREFIX)
        || token.len() > 128
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("malformed token");
    }
    Ok(token)
}

/// The token behind the request's bearer secret, and the time it was checked at. The
/// in-memory index is authoritative (tokens made elsewhere reach it within a fifth of a second,
/// see [`crate::metering`]): a miss is a 401 without any database work, so a flood of made-up
/// tokens costs one hash each. A known token is refused with 503 while usage cannot be
/// written (fail closed).
fn authenticate(state: &AppState, req: &HttpRequest) -> Result<(Arc<Indexed>, i64), Refusal> {
    let token = bearer(req).map_err(Refusal::Unauthorized)?;
    let hash = crypto::sha256(token.as_bytes());
    let at = now();
    let found = state
        .tokens
        .lookup(&hash, at)
        .ok_or(Refusal::Unauthorized("unknown, revoked or expired token"))?;
    if !state.meter.healthy() {
        return Err(Refusal::Unavailable);
    }
    Ok((found, at))
}

/// Why a request's token was not accepted.
enum Refusal {
    Unauthorized(&'static str),
    Unavailable,
}

impl Refusal {
    fn response(self) -> HttpResponse {
        match self {
            Refusal::Unauthorized(why) => unauthorized(why),
            Refusal::Unavailable => unavailable(),
        }
    }
}

/// 403 for a valid token of another team than the proxy asked for with `?team=`.
fn wrong_team() -> HttpResponse {
    HttpResponse::Forbidden()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "error": "wrong_team",
            "error_description": "this token does not belong to the team this service is for"
        }))
}

/// True when the query names a team (`?team=ID`, every occurrence counts) other than
/// `team_id`; an unknown or empty ID is simply another team.
fn asks_for_another_team(req: &HttpRequest, team_id: &str) -> bool {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "team" && v != team_id)
}

const X_TEAM_ID: HeaderName = HeaderName::from_static("x-team-id");
const X_TOKEN_NAME: HeaderName = HeaderName::from_static("x-token-name");
const X_TOKEN_ID: HeaderName = HeaderName::from_static("x-token-id");

#[derive(Serialize)]
struct Verified<'a> {
    team_id: &'a str,
    token_name: &'a str,
    token_id: i64,
}

pub async fn verify(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let count = |outcome| {
        if let Some(m) = &state.metrics {
            m.verify(outcome)
        }
    };
    let (found, at) = match authenticate(&state, &req) {
        Ok(t) => t,
        Err(refusal) => {
            count(match refusal {
                Refusal::Unauthorized(_) => VerifyOutcome::Unauthorized,
                Refusal::Unavailable => VerifyOutcome::Unavailable,
            });
            return refusal.response();
        }
    };
    let token = &found.token;
    if asks_for_another_team(&req, &token.team_id) {
        count(VerifyOutcome::WrongTeam);
        return wrong_team();
    }
    state.meter.record(token, at);
    count(VerifyOutcome::Ok);
    HttpResponse::Ok()
        .insert_header((X_TEAM_ID, found.team_header.clone()))
        .insert_header((X_TOKEN_NAME, found.name_header.clone()))
        .insert_header((X_TOKEN_ID, HeaderValue::from(token.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Verified {
            team_id: &token.team_id,
            token_name: &token.name,
            token_id: token.id,
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageReport {
    quantity: serde_json::Number,
    unit: String,
    idempotency_key: String,
}

fn bad_request(why: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": "invalid_request", "error_description": why }))
}

/// Stores a usage report durably before answering; a repeated idempotency key counts once.
pub async fn usage(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (found, _) = match authenticate(&state, &req) {
        Ok(t) => t,
        Err(refusal) => return refusal.response(),
    };
    let token = &found.token;
    let report: UsageReport = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return bad_request(&format!(
            "expected {{\"quantity\": N, \"unit\": \"...\", \"idempotency_key\": \"...\"}}: {e}"
        ))
        }
    };
    let quantity = match report.quantity.as_i64() {
        Some(q) if q > 0 && q <= 1_000_000_000_000 => q,
        _ => return bad_request("quantity must be a whole number greater than 0"),
    };
    if !valid_unit(&report.unit) {
        return bad_request(
            "unit must be 1-64 characters: lowercase letters, digits, '_', '-', '.'",
        );
    }
    if report.unit == RESERVED_UNIT {
        return bad_request(
            "the unit \"requests\" is reserved: teamportal counts it from GET /api/v1/verify",
        );
    }
    let key = report.idempotency_key;
    if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
        return bad_request("idempotency_key must be 1-200 printable characters");
    }
    let counter = CounterKey {
        team_id: token.team_id.clone(),
        token_id: token.id,
        day: today(),
        unit: report.unit,
    };
    let st = state.store.clone();
    let stored = state
        .store
        .run(move |c| -> Result<Reported, StoreError> {
            // "Stored durably" must mean a file a restart will read.
            st.file_present()?;
            usage::report(c, &counter, &key, quantity)
        })
        .await;
    match stored {
        Ok(Reported::Stored) => {
            HttpResponse::Ok().json(json!({ "stored": true, "duplicate": false }))
        }
        Ok(Reported::Duplicate) => {
            HttpResponse::Ok().json(json!({ "stored": true, "duplicate": true }))
        }
        Ok(Reported::Overflow) => bad_request(
            "quantity would take this unit's total for the month past what teamportal can count",
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not store a usage report");
            unavailable()
        }
    }
}
