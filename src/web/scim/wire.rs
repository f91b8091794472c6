//! SCIM plumbing: the bearer token that selects the team, request bodies up to 1 MiB read as
//! JSON whatever their content type says, RFC 7644 error bodies, and the per-team record of
//! the last SCIM call shown on `/settings/scim`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::scim::types::ErrorBody;
use crate::scim::Refusal;
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::scim::{self as store, ScimStoreError};
use crate::store::StoreError;

pub const CONTENT_TYPE: &str = "application/scim+json";
/// Largest request body read (DESIGN: bodies up to 1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;

pub fn scim_json(status: u16, body: &impl Serialize) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status)
            .content_type(CONTENT_TYPE)
            .body(bytes),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ScimStoreError> for ScimError {
    fn from(e: ScimStoreError) -> Self {
        match e {
            ScimStoreError::Refused(r) => ScimError::Refused(r),
            ScimStoreError::Store(s) => ScimError::Store(s),
        }
    }
}

impl ScimError {
    fn refusal(&self) -> Refusal {
        match self {
            ScimError::Refused(r) => r.clone(),
            ScimError::Store(_) => Refusal::new(
                503,
                None,
                "The portal's database is not answering; try again shortly.",
            ),
        }
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.refusal().status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        let r = self.refusal();
        if let ScimError::Store(e) = self {
            tracing::error!(error = %e, "SCIM request failed");
        }
        let mut resp = scim_json(r.status, &ErrorBody::of(&r));
        if r.status == 401 {
            resp.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Bearer realm=\"SCIM\""),
            );
        }
        resp
    }
}

/// The team whose SCIM token came with the request, and the caller's address for the audit.
#[derive(Debug, Clone)]
pub struct ScimCaller {
    pub team_id: String,
    pub ip: String,
}

impl ScimCaller {
    pub fn actor(&self) -> Actor {
        store::actor(&self.ip)
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

pub async fn caller_of(req: &HttpRequest) -> Result<ScimCaller, ScimError> {
    if let Some(c) = req.extensions().get::<ScimCaller>() {
        return Ok(c.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| StoreError::Task("app state missing".into()))?
        .clone();
    let unauthorized = || {
        Refusal::new(
            401,
            None,
            "A valid SCIM token is required: Authorization: Bearer <token from /settings/scim>.",
        )
    };
    let token = bearer(req).ok_or_else(unauthorized)?;
    let hash = crate::crypto::sha256(token.as_bytes());
    let team = state
        .store
        .read(move |c| store::team_for_token(c, &hash))
        .await?
        .ok_or_else(unauthorized)?;
    let ip = super::super::client_ip::client_ip(req, &state.settings.server.trusted_proxies);
    let caller = ScimCaller {
        team_id: team,
        ip: ip.to_string(),
    };
    req.extensions_mut().insert(caller.clone());
    Ok(caller)
}

impl FromRequest for ScimCaller {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { caller_of(&req).await })
    }
}

/// A JSON body of at most [`MAX_BODY`] bytes, read whatever the content type (Okta and Entra
/// send `application/scim+json`, sometimes `application/json`).
pub struct ScimBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ScimBody<T> {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let too_large = || Refusal::new(413, None, "The request body is larger than 1 MiB.");
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            // The token first: a caller without one gets 401 whatever it sends, and nothing
            // reads (or parses) its body. The caller is cached for the handler's ScimCaller.
            caller_of(&req).await?;
            if declared.is_some_and(|n| n > MAX_BODY) {
                return Err(too_large().into());
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|_| Refusal::invalid_syntax("The request body could not be read."))?;
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(too_large().into());
                }
                body.extend_from_slice(&chunk);
            }
            serde_json::from_slice(&body).map(ScimBody).map_err(|e| {
                Refusal::invalid_syntax(format!("The body is not valid SCIM JSON: {e}.")).into()
            })
        })
    }
}

/// The last SCIM call each team made, as written to the store: a call is written when the
/// second or the status differs from the last written one, so a burst of provisioning costs
/// a write a second, not a write a request.
#[derive(Default)]
pub struct CallLog(Mutex<HashMap<String, (i64, u16)>>);

impl CallLog {
    fn should_write(&self, team: &str, at: i64, status: u16) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.get(team) == Some(&(at, status)) {
            return false;
        }
        m.insert(team.to_string(), (at, status));
        true
    }
}

/// Short names for the metrics labels: the resource asked for, never the raw path.
fn resource_of(path: &str) -> &'static str {
    let rest = path.trim_start_matches("/scim/v2/");
    match rest.split('/').next().unwrap_or_default() {
        "Users" => "Users",
        "Groups" => "Groups",
        "ServiceProviderConfig" => "ServiceProviderConfig",
        "ResourceTypes" => "ResourceTypes",
        "Schemas" => "Schemas",
        _ => "other",
    }
}

/// Middleware of the SCIM scope: counts the request and notes the team's last call.
pub async fn record_call(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().to_string();
    let path = req.path().to_string();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let request = res.request().clone();
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        if let Some(m) = &state.metrics {
            m.scim(&method, resource_of(&path), status);
        }
        let caller = request.extensions().get::<ScimCaller>().cloned();
        let log = request.app_data::<web::Data<CallLog>>();
        if let Some(caller) = caller {
            let at = crate::store::now();
            if log.is_none_or(|l| l.should_write(&caller.team_id, at, status)) {
                let shown: String = format!("{method} {}", path.trim_start_matches("/scim/v2"))
                    .chars()
                    .take(200)
                    .collect();
                let store = state.store.clone();
                actix_web::rt::spawn(async move {
                    let written = store
                        .run(move |c| store::record_call(c, &caller.team_id, &shown, status))
                        .await;
                    if let Err(e) = written {
                        tracing::warn!(error = %e, "could not note the last SCIM call");
                    }
                });
            }
        }
    }
    Ok(res)
}
