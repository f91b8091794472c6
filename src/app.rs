//! Building and running the application: store, instance key, SSO registry, metering, the
//! HTTP server with its middleware. Tests build the same [`Application`] on port 0.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_service::IntoServiceFactory;
use actix_session::config::{PersistentSession, TtlExtensionPolicy};
use actix_session::SessionMiddleware;
use actix_web::cookie::SameSite;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::domain::TeamSource;
use crate::metrics::Metrics;
use crate::session::{BrowserCookies, SqliteSessionStore};
use crate::sso::ratelimit::RateLimiter;
use crate::sso::Registry;
use crate::store::{teams, Store};
use crate::tokens::flush::spawn_flusher;
use crate::tokens::index::TokenIndex;
use crate::tokens::meter::Meter;
use crate::web::{self as routes, middleware};

// Kept under its old name for callers outside `web` (the demo); handlers use `crate::state`.
pub use crate::state::AppState;

/// Routes added to the URL table (the demo identity provider).
pub type ExtraRoutes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// Extra wiring for `teamportal demo`: routes of the built-in identity provider.
pub struct Extras {
    pub demo_accounts: Option<Vec<(String, String)>>,
    pub extra_routes: Option<ExtraRoutes>,
    /// Team source recorded in the store (config or demo).
    pub team_source: TeamSource,
    /// An already bound listener (the demo needs its port before building settings).
    pub listener: Option<TcpListener>,
    /// How long IdP discovery is trusted (tests use zero to exercise refreshes).
    pub discovery_ttl: Option<std::time::Duration>,
}

impl Default for Extras {
    fn default() -> Self {
        Extras {
            demo_accounts: None,
            extra_routes: None,
            team_source: TeamSource::Config,
            listener: None,
            discovery_ttl: None,
        }
    }
}

/// See `worker_max_blocking_threads` below.
const BLOCKING_THREADS_PER_WORKER: usize = 2;

pub struct Application {
    port: u16,
    addr: std::net::SocketAddr,
    database: std::path::PathBuf,
    server: Server,
    meter: Arc<Meter>,
    store: Store,
    stop: Arc<AtomicBool>,
    flusher: std::thread::JoinHandle<()>,
    audit_retention_days: i64,
    metrics_server: Option<Server>,
    metrics_port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot open the database {path}: {source}")]
    Store {
        path: String,
        source: crate::store::StoreError,
    },
    #[error(transparent)]
    Key(#[from] crate::crypto::KeyError),
    #[error("{0}")]
    Domains(String),
    #[error("{path} is not a demo database: it holds the team(s) {teams}. teamportal demo keeps a database of its own and never writes into an instance's; pass --database with a new file")]
    NotDemo { path: String, teams: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, BuildError> {
        Self::build_with(settings, Extras::default())
    }

    pub fn build_with(settings: Settings, extras: Extras) -> Result<Application, BuildError> {
        let store_err = |source| BuildError::Store {
            path: settings.database.display().to_string(),
            source,
        };
        if let Some(dir) = settings
            .database
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| store_err(crate::store::StoreError::Task(e.to_string())))?;
        }
        // Connections: each worker's requests plus the flush thread and headroom.
        let pool_size = (settings.server.workers as u32 * 4 + 4).min(32);
        // The key is checked on the connection that opens the file, before the pool exists:
        // a refused start leaves nothing behind.
        let (store, key) = Store::open_checked(&settings.database, pool_size, true, |c| {
            crate::keyguard::open(c, &settings.database)
        })
        .map_err(store_err)??;
        store
            .run_blocking(|c| teams::sync_from_config(c, &settings.teams, extras.team_source))
            .map_err(store_err)?;
        let claims = store
            .run_blocking(|c| teams::live_domain_claims(c, &settings.teams))
            .map_err(store_err)?;
        let collisions = crate::domain::domains::collisions(&claims);
        if !collisions.is_empty() {
            let lines: Vec<String> = collisions.iter().map(|c| c.to_string()).collect();
            return Err(BuildError::Domains(lines.join("\n")));
        }
        let audit_retention_days = settings.security.audit_retention_days;
        store
            .run_blocking(|c| crate::retention::purge(c, audit_retention_days))
            .map_err(store_err)?;

        let tokens = Arc::new(TokenIndex::default());
        store
            .run_blocking(|c| tokens.catch_up(c))
            .map_err(store_err)?;
        let meter = Arc::new(Meter::new(settings.billing.metering));
        let stop = Arc::new(AtomicBool::new(false));
        let metrics = settings.metrics.map(|_| Arc::new(Metrics::new()));
        let flusher = spawn_flusher(
            meter.clone(),
            tokens.clone(),
            store.clone(),
            stop.clone(),
            metrics.clone(),
        );

        // Teams made from the shell keep their SSO settings (secret sealed) in the store.
        let mut registry = Registry::new(
            settings.teams.clone(),
            settings.security.allow_private_issuers,
        );
        if let Some(ttl) = extras.discovery_ttl {
            registry.providers = crate::sso::Providers::with_discovery_ttl(ttl);
            registry.pin_issuers();
        }
        let sealer = key.sealer();
        for t in store
            .run_blocking(|c| teams::shell_teams(c))
            .map_err(store_err)?
        {
            if settings.teams.iter().any(|c| c.id.as_str() == t.id) {
                continue;
            }
            match crate::sso::editable::shell_team_config(&sealer, &t) {
                Some(cfg) => registry.insert(cfg),
                None => {
                    tracing::error!(team = %t.id, "cannot open this team's client secret with this instance key; its sign-in is off")
                }
            }
        }
        let settings = Arc::new(settings);
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            store: store.clone(),
            sso: Arc::new(registry),
            sealer,
            meter: meter.clone(),
            tokens,
            metrics: metrics.clone(),
            login_limiter: RateLimiter::new(100, 100),
            browser_cookies: BrowserCookies::new(&key, settings.server.is_https()),
            refusal_limiter: RateLimiter::new(
                routes::audit::REFUSALS_PER_MINUTE,
                routes::audit::REFUSALS_PER_MINUTE,
            ),
            team_pages: Arc::default(),
            team_rows: Arc::default(),
            demo_accounts: extras.demo_accounts,
        });

        let listener = match extras.listener {
            Some(l) => l,
            None => {
                TcpListener::bind(settings.server.listen).map_err(|source| BuildError::Listen {
                    addr: settings.server.listen.to_string(),
                    source,
                })?
            }
        };
        let addr = listener.local_addr().unwrap_or(settings.server.listen);
        let port = addr.port();
        let database = settings.database.clone();
        let https = settings.server.is_https();
        let cookie_name = if https {
            "__Host-teamportal"
        } else {
            "teamportal"
        };
        let cookie_key = key.cookie_key();
        let session_store = SqliteSessionStore::new(
            store.clone(),
            settings.security.session_idle,
            settings.security.session_max,
        );
        let idle = settings.security.session_idle.whole_seconds();
        let extra_routes = extras.extra_routes;
        let body_timeout = settings.server.body_timeout;
        let access_log = settings.log.access;
        let (metrics_server, metrics_port) = match (settings.metrics, &metrics) {
            (Some(addr), Some(m)) => {
                let listen_err = |source| BuildError::Listen {
                    addr: addr.to_string(),
                    source,
                };
                let listener = TcpListener::bind(addr).map_err(listen_err)?;
                let bound = listener.local_addr().map_err(listen_err)?;
                let server = crate::metrics::server(listener, m.clone(), store.clone())
                    .map_err(listen_err)?;
                tracing::info!(address = %bound, "metrics are served at http://{bound}/metrics");
                (Some(server), Some(bound.port()))
            }
            _ => (None, None),
        };
        let request_metrics = metrics.clone();

        let server = HttpServer::new(move || {
            let session = SessionMiddleware::builder(session_store.clone(), cookie_key.clone())
                .cookie_name(cookie_name.to_string())
                .cookie_secure(https)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_path("/".into())
                .session_lifecycle(
                    PersistentSession::default()
                        .session_ttl(actix_web::cookie::time::Duration::seconds(idle))
                        // Sent again only when the state changes; signed-in requests change it
                        // often enough to keep it alive (`TypedSession::keep_alive`).
                        .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
                )
                .build();
            let extra = extra_routes.clone();
            let app = App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .app_data(web::JsonConfig::default().limit(16 * 1024))
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    crate::error::AppError::BadRequest(format!("The address is not valid: {e}."))
                        .into()
                }))
                .wrap(actix_web::middleware::Condition::new(
                    access_log,
                    actix_web::middleware::from_fn(middleware::log_requests),
                ))
                .wrap(crate::metrics::record_requests(request_metrics.clone()))
                // The token API first and outside the pages' middleware: forward-auth is asked
                // on every request of every service behind the proxy, carries no session, and
                // sets its own headers (`web::api`).
                .configure(|cfg| routes::configure_api(cfg, body_timeout))
                // An empty prefix: every other path, with the session, the body deadline, the
                // pages' security headers and the 404 page.
                .service(
                    web::scope("")
                        .wrap(routes::not_allowed::FillBody)
                        .wrap(session)
                        .wrap(actix_web::middleware::from_fn(move |req, next| {
                            routes::body_deadline::body_deadline(body_timeout, req, next)
                        }))
                        .wrap(middleware::security_headers(https))
                        .wrap(routes::server_timing::server_timing())
                        .configure(routes::configure_pages)
                        .configure(move |cfg| {
                            if let Some(f) = &extra {
                                f(cfg)
                            }
                        })
                        .default_service(web::to(routes::not_found)),
                );
            // Verify before all of the above, unless the operator asked for the access log.
            let shortcut = (!access_log).then(|| state.clone());
            routes::forward_auth::ForwardAuth::new(app.into_factory(), shortcut)
        })
        .workers(settings.server.workers)
        // Blocking work is short, CPU-bound database work. Two threads per worker keep the
        // store busy without time-slicing the worker itself away: with eight, the team page
        // of `benches/team_page.sh` served about 15% fewer requests, with a longer tail.
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
        .shutdown_timeout(10)
        .listen(listener)
        .map_err(|source| BuildError::Listen {
            addr: settings.server.listen.to_string(),
            source,
        })?
        .run();

        Ok(Application {
            port,
            addr,
            database,
            server,
            meter,
            store,
            stop,
            flusher,
            audit_retention_days,
            metrics_server,
            metrics_port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on (its real port when the config said 0).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The database file; its instance key is `crypto::key_path` of it.
    pub fn database(&self) -> &std::path::Path {
        &self.database
    }

    /// The port `GET /metrics` is served on, when `[metrics] listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Serves until SIGTERM/Ctrl-C (actix handles both gracefully), then writes the last
    /// usage counters. Counters that could not be written are an error, so the process exits
    /// non-zero and a supervisor or operator sees that metered usage was lost.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let purger = actix_web::rt::spawn(crate::retention::daily(
            self.store.clone(),
            self.audit_retention_days,
        ));
        let metrics = self.metrics_server.map(|server| {
            let handle = server.handle();
            (handle, actix_web::rt::spawn(server))
        });
        let result = self.server.await;
        purger.abort();
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        self.stop.store(true, Ordering::Relaxed);
        self.flusher.thread().unpark();
        let (meter, store) = (self.meter.clone(), self.store.clone());
        let flushed = tokio::task::spawn_blocking(move || meter.flush(&store)).await;
        let flushed = match flushed {
            Ok(Ok(())) => {
                tracing::info!("usage counters written; stopped");
                Ok(())
            }
            Ok(Err(e)) => Err(std::io::Error::other(format!(
                "could not write the last usage counters: {e}"
            ))),
            Err(e) => Err(std::io::Error::other(format!(
                "the last usage counters were not written: {e}"
            ))),
        };
        let _ = self.flusher.join();
        result.and(flushed)
    }
}
