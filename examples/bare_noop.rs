//! The yardstick of the benchmarks: a bare actix-web server with one no-op handler, built
//! from this repository so it has the portal's actix version, allocator, runtime and worker
//! settings, and nothing else (no middleware, no state, no logging). `benches/verify.sh` and
//! `benches/team_page.sh` run it beside the portal and report the portal as a share of it.
//!
//!   cargo run --release --example bare_noop -- 127.0.0.1:PORT [WORKERS]
//!
//! `GET /noop` (and HEAD) answers 200 `ok`; without WORKERS it runs one worker per CPU it
//! may use, as `teamportal serve` does.

use actix_web::{web, App, HttpResponse, HttpServer};

// The portal's allocator (src/main.rs), so the ratio measures the portal, not malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn noop() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let workers = match args.next() {
        Some(w) => w
            .parse()
            .map_err(|_| std::io::Error::other(format!("WORKERS must be a number, not {w:?}")))?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().service(web::resource("/noop").get(noop).head(noop)))
            .workers(workers)
            // As the portal (`app.rs`): two blocking threads per worker.
            .worker_max_blocking_threads(2)
            .shutdown_timeout(10)
            .bind(listen)?
            .run()
            .await
    })
}
