//! The token-authenticated API: forward-auth verification (the hot path: one SHA-256, one
//! in-memory lookup, one counter bump; no database work) and usage reports.

use std::sync::{Arc, LazyLock};

use actix_web::dev::Response;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::crypto;
use crate::domain::valid_unit;
use crate::metrics::VerifyOutcome;
use crate::state::AppState;
use crate::store::usage::{self, CounterKey, Reported};
use crate::store::{now, StoreError};
use crate::tokens::index::Indexed;
use crate::tokens::meter::today;

/// The unit verify meters; reports may not add to it.
const RESERVED_UNIT: &str = "requests";

const X_TEAM_ID: HeaderName = HeaderName::from_static("x-team-id");
const X_TOKEN_NAME: HeaderName = HeaderName::from_static("x-token-name");
const X_TOKEN_ID: HeaderName = HeaderName::from_static("x-token-id");

/// An API answer: JSON, never cached, never sniffed. The API is served outside the pages'
/// middleware (see `app.rs`), so these are its security headers: nothing here is rendered, so
/// a CSP or frame rules would be bytes on every forward-auth check for nothing. Built as the
/// HTTP layer's response, not through `HttpResponse`'s builder, because forward-auth is also
/// answered before the application exists for a request ([`super::forward_auth`]).
fn answer(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut res = Response::with_body(status, body);
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn json_body(value: serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
}

/// Why a bearer token was not accepted, as the 401's `error_description` says it.
#[derive(Clone, Copy)]
enum Why {
    Missing,
    Several,
    NotAscii,
    NotTwoParts,
    NotBearer,
    Malformed,
    Unknown,
}

impl Why {
    const ALL: [Why; 7] = [
        Why::Missing,
        Why::Several,
        Why::NotAscii,
        Why::NotTwoParts,
        Why::NotBearer,
        Why::Malformed,
        Why::Unknown,
    ];

    fn text(self) -> &'static str {
        match self {
            Why::Missing => "missing Authorization header",
            Why::Several => "more than one Authorization header",
            Why::NotAscii => "Authorization header is not ASCII",
            Why::NotTwoParts => "Authorization must be \"Bearer <token>\"",
            Why::NotBearer => "Authorization must use the Bearer scheme",
            Why::Malformed => "malformed token",
            Why::Unknown => "unknown, revoked or expired token",
        }
    }

    /// The 401's body, serialized once per process rather than once per refusal.
    fn body(self) -> Bytes {
        static BODIES: LazyLock<Vec<Bytes>> = LazyLock::new(|| {
            Why::ALL
                .iter()
                .map(|w| {
                    json_body(json!({ "error": "invalid_token", "error_description": w.text() }))
                })
                .collect()
        });
        BODIES.get(self as usize).cloned().unwrap_or_default()
    }
}

fn unauthorized(why: Why) -> Response<Bytes> {
    // RFC 6750 3.1: a request that sent no bearer credentials (no header, or another
    // scheme) gets the challenge without an error code.
    let challenge = match why {
        Why::Missing | Why::NotBearer => HeaderValue::from_static("Bearer realm=\"teamportal\""),
        _ => HeaderValue::from_static("Bearer realm=\"teamportal\", error=\"invalid_token\""),
    };
    let mut res = answer(StatusCode::UNAUTHORIZED, why.body());
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge);
    res
}

fn unavailable() -> Response<Bytes> {
    static BODY: LazyLock<Bytes> = LazyLock::new(|| {
        json_body(
            json!({ "error": "unavailable", "error_description": "the token store is not answering" }),
        )
    });
    let mut res = answer(StatusCode::SERVICE_UNAVAILABLE, BODY.clone());
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

/// 403 for a valid token of another team than the proxy asked for with `?team=`.
fn wrong_team() -> Response<Bytes> {
    static BODY: LazyLock<Bytes> = LazyLock::new(|| {
        json_body(json!({
            "error": "wrong_team",
            "error_description": "this token does not belong to the team this service is for"
        }))
    });
    answer(StatusCode::FORBIDDEN, BODY.clone())
}

/// The bearer token from `Authorization`, if well-formed.
fn bearer(headers: &HeaderMap) -> Result<&str, Why> {
    let mut values = headers.get_all(header::AUTHORIZATION);
    let value = values.next().ok_or(Why::Missing)?;
    if values.next().is_some() {
        return Err(Why::Several);
    }
    let value = value.to_str().map_err(|_| Why::NotAscii)?;
    let (scheme, token) = value.split_once(' ').ok_or(Why::NotTwoParts)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Why::NotBearer);
    }
    let token = token.trim();
    if !token.starts_with(crypto::TOKEN_PREFIX)
        || token.len() > 128
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Why::Malformed);
    }
    Ok(token)
}

/// The token behind the request's bearer secret, and the time it was checked at. The
/// in-memory index is authoritative (tokens made elsewhere reach it within a fifth of a second,
/// see [`crate::tokens::index`]): a miss is a 401 without any database work, so a flood of
/// made-up tokens costs one hash each. A known token is refused with 503 while usage cannot be
/// written (fail closed).
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<(Arc<Indexed>, i64), Refusal> {
    let token = bearer(headers).map_err(Refusal::Unauthorized)?;
    let hash = crypto::sha256(token.as_bytes());
    let at = now();
    let found = state
        .tokens
        .lookup(&hash, at)
        .ok_or(Refusal::Unauthorized(Why::Unknown))?;
    if !state.meter.healthy() {
        return Err(Refusal::Unavailable);
    }
    Ok((found, at))
}

/// Why a request's token was not accepted.
enum Refusal {
    Unauthorized(Why),
    Unavailable,
}

impl Refusal {
    fn response(self) -> Response<Bytes> {
        match self {
            Refusal::Unauthorized(why) => unauthorized(why),
            Refusal::Unavailable => unavailable(),
        }
    }
}

/// True when the query names a team (`?team=ID`, every occurrence counts) other than
/// `team_id`; an unknown or empty ID is simply another team.
fn asks_for_another_team(query: &str, team_id: &str) -> bool {
    !query.is_empty()
        && url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "team" && v != team_id)
}

/// `GET /api/v1/verify` through the application's router: taken only when the access log is
/// on or the path is not written as the shortcut expects (see [`super::forward_auth`]).
pub async fn verify(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse<Bytes> {
    check(&state, req.headers(), req.query_string()).into()
}

/// Forward-auth's answer to a request's headers and query: everything it answers with was
/// built when the token entered the index, and nothing is logged; the meter's count goes to
/// this worker's own shard.
pub fn check(state: &AppState, headers: &HeaderMap, query: &str) -> Response<Bytes> {
    let count = |outcome| {
        if let Some(m) = &state.metrics {
            m.verify(outcome)
        }
    };
    let (found, at) = match authenticate(state, headers) {
        Ok(t) => t,
        Err(refusal) => {
            count(match refusal {
                Refusal::Unauthorized(_) => VerifyOutcome::Unauthorized,
                Refusal::Unavailable => VerifyOutcome::Unavailable,
            });
            return refusal.response();
        }
    };
    if asks_for_another_team(query, &found.token.team_id) {
        count(VerifyOutcome::WrongTeam);
        return wrong_team();
    }
    state.meter.record(found.token.id, &found.team, at);
    count(VerifyOutcome::Ok);
    let mut res = answer(StatusCode::OK, found.body.clone());
    let headers = res.headers_mut();
    headers.insert(X_TEAM_ID, found.team_header.clone());
    headers.insert(X_TOKEN_NAME, found.name_header.clone());
    headers.insert(X_TOKEN_ID, found.id_header.clone());
    res
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageReport {
    quantity: serde_json::Number,
    unit: String,
    idempotency_key: String,
}

fn bad_request(why: &str) -> Response<Bytes> {
    answer(
        StatusCode::BAD_REQUEST,
        json_body(json!({ "error": "invalid_request", "error_description": why })),
    )
}

/// A usage report is a small JSON object: this is ample, and anything larger is refused
/// without reading the rest.
const USAGE_BODY_LIMIT: usize = 16 * 1024;

fn too_large() -> Response<Bytes> {
    static BODY: LazyLock<Bytes> = LazyLock::new(|| {
        json_body(json!({
            "error": "invalid_request",
            "error_description": format!("a usage report is at most {USAGE_BODY_LIMIT} bytes")
        }))
    });
    answer(StatusCode::PAYLOAD_TOO_LARGE, BODY.clone())
}

/// Stores a usage report durably before answering; a repeated idempotency key counts once.
/// The token is checked before the body is read: an anonymous request reads nothing. (The
/// answers are built as [`answer`] builds them; actix takes an `HttpResponse` from a handler.)
pub async fn usage(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse<Bytes> {
    report_usage(&state, &req, payload).await.into()
}

async fn report_usage(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Response<Bytes> {
    let (found, _) = match authenticate(state, req.headers()) {
        Ok(t) => t,
        Err(refusal) => return refusal.response(),
    };
    let body = match payload.to_bytes_limited(USAGE_BODY_LIMIT).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => return bad_request(&format!("the body could not be read: {e}")),
        Err(_) => return too_large(),
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
        Ok(Reported::Stored) => answer(
            StatusCode::OK,
            json_body(json!({ "stored": true, "duplicate": false })),
        ),
        Ok(Reported::Duplicate) => answer(
            StatusCode::OK,
            json_body(json!({ "stored": true, "duplicate": true })),
        ),
        Ok(Reported::Overflow) => bad_request(
            "quantity would take this unit's total for the month past what teamportal can count",
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not store a usage report");
            unavailable()
        }
    }
}
