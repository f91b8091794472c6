//! The metrics server, on its own address (`[metrics] listen`), never on the portal's.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};

use super::Metrics;
use crate::store::Store;

/// The metrics server: one worker, `GET /metrics` and nothing else; it stops when told to
/// (`Application::run_until_stopped`), not on signals of its own.
pub fn server(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Store,
) -> std::io::Result<Server> {
    let data = web::Data::new((metrics, store));
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(scrape))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}

async fn scrape(data: web::Data<(Arc<Metrics>, Store)>) -> HttpResponse {
    let (metrics, store) = (data.0.clone(), data.1.clone());
    let text = web::block(move || metrics.render(&store))
        .await
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text)
}
