//! A second yardstick for the page benchmarks: the bare no-op server of `bare_noop.rs`, but
//! answering a fixed HTML body of a given size, built once at start. A `/team` page of 50
//! rows is about 46 KB; moving that many bytes over loopback costs the kernel and the client
//! far more than a two-byte `ok`, so this says how much of the page's gap to the no-op is the
//! transfer alone and how much is the portal's work. `benches/team_page.sh` runs it with the
//! size of the page it measures.
//!
//!   cargo run --release --example bare_static -- 127.0.0.1:PORT BYTES [WORKERS]
//!
//! `GET /static` answers 200 with BYTES bytes of `text/html`.

use actix_web::web::Bytes;
use actix_web::{web, App, HttpResponse, HttpServer};

// The portal's allocator (src/main.rs), as in bare_noop.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8082".into());
    let number = |what: &str, v: Option<String>| -> std::io::Result<Option<usize>> {
        v.map(|v| {
            v.parse()
                .map_err(|_| std::io::Error::other(format!("{what} must be a number, not {v:?}")))
        })
        .transpose()
    };
    let size = number("BYTES", args.next())?.unwrap_or(46_000);
    let workers = number("WORKERS", args.next())?
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let body = Bytes::from("x".repeat(size));
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let body = body.clone();
            App::new().route(
                "/static",
                web::get().to(move || {
                    let body = body.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .body(body)
                    }
                }),
            )
        })
        .workers(workers)
        .worker_max_blocking_threads(2)
        .shutdown_timeout(10)
        .bind(listen)?
        .run()
        .await
    })
}
