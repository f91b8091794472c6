//! The yardstick of the benchmarks: a bare actix-web server with one no-op handler, built
//! from this repository so it has the portal's actix version, allocator, runtime and worker
//! settings, and nothing else (no middleware, no state, no logging). `benches/verify.sh` and
//! `benches/team_page.sh` run it beside the portal and report the portal as a share of it.
//!
//!   cargo run --release --example bare_noop -- 127.0.0.1:PORT [WORKERS [BYTES]]
//!
//! `GET /noop` (and HEAD) answers 200 `ok`; without WORKERS it runs one worker per CPU it
//! may use, as `teamportal serve` does. With BYTES it also answers `GET /static` with a fixed
//! HTML body of that many bytes, built once at start: a `/team` page is about 46 KB, and
//! moving that over loopback costs the kernel and the client far more than a two-byte `ok`,
//! so `team_page.sh` tells the transfer's share of a page's gap to the no-op from the
//! portal's own work. Without BYTES there is no such route.

use actix_web::web::Bytes;
use actix_web::{web, App, HttpResponse, HttpServer};

// The portal's allocator (src/main.rs), so the ratio measures the portal, not malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn noop() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn page(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let number = |what: &str, v: Option<String>| -> std::io::Result<Option<usize>> {
        v.map(|v| {
            v.parse()
                .map_err(|_| std::io::Error::other(format!("{what} must be a number, not {v:?}")))
        })
        .transpose()
    };
    let workers = number("WORKERS", args.next())?
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let body = number("BYTES", args.next())?.map(|n| Bytes::from("x".repeat(n)));
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let mut app = App::new().service(web::resource("/noop").get(noop).head(noop));
            if let Some(body) = body.clone() {
                app = app.route("/static", web::get().to(move || page(body.clone())));
            }
            app
        })
        .workers(workers)
        // As the portal (`app.rs`): two blocking threads per worker.
        .worker_max_blocking_threads(2)
        .shutdown_timeout(10)
        .bind(listen)?
        .run()
        .await
    })
}
