//! Probes: `GET /healthz` (ready: 200 `ok` when the database answers, else 503) and
//! `GET /livez` (alive: the process serves requests; no database work). Both answer HEAD
//! too (the URL table routes it here; actix sends the head without the body), as load
//! balancers and uptime checkers often probe with HEAD.

use actix_web::{web, HttpResponse};

use crate::state::AppState;
use crate::store::{self, StoreError};

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let st = state.store.clone();
    let result = state
        .store
        .run(move |c| -> Result<(), StoreError> {
            st.file_present()?;
            store::ping(c)
        })
        .await;
    match result {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable")
        }
    }
}

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}
