//! Prometheus metrics (`[metrics] listen`): what is recorded, and the small server that
//! shows it at `GET /metrics` on its own address, never on the portal's.
//!
//! Recording is on the request path, verify's included, so it takes no lock and allocates
//! nothing there: counters and histograms are atomics, and the label sets of the hot routes
//! are registered at start with their handles kept (`Hot`). prometheus-client's own
//! `Histogram` takes a mutex per observation, hence [`AtomicHistogram`].

use std::borrow::Cow;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::dev::{forward_ready, Server, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{web, App, HttpResponse, HttpServer};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::error::AppError;
use crate::sso::SsoError;
use crate::store::Store;

/// Upper bounds in seconds: verify answers in tens of microseconds, a page in milliseconds,
/// a stuck database in seconds.
const BOUNDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// A histogram of durations kept in atomics: one counter per bucket (plus +Inf), the sum in
/// nanoseconds. Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct AtomicHistogram(Arc<HistogramCounts>);

#[derive(Debug, Default)]
pub struct HistogramCounts {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

impl AtomicHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.0.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.0.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // Per bucket (the encoder makes them cumulative); the count is the buckets' total so
        // that the two agree even while requests land during the scrape.
        let mut total = 0;
        let mut buckets = Vec::with_capacity(BOUNDS.len() + 1);
        for (i, count) in self.0.buckets.iter().enumerate() {
            let count = count.load(Ordering::Relaxed);
            total += count;
            buckets.push((BOUNDS.get(i).copied().unwrap_or(f64::INFINITY), count));
        }
        let sum = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, total, &buckets, None)
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: Cow<'static, str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: Cow<'static, str>,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Routes whose requests are counted through kept handles, with the statuses they answer:
/// forward-auth and the probes are nearly all of the traffic. Their patterns have no
/// parameters, so the path is the pattern. Other statuses (405) take the general way.
const HOT_ROUTES: [(&str, &[u16]); 3] = [
    ("/api/v1/verify", &[200, 401, 403, 503]),
    ("/healthz", &[200, 503]),
    ("/livez", &[200]),
];
/// The route label of a request no route matched (its path is anyone's to choose).
const UNMATCHED: &str = "unmatched";

struct Hot {
    pattern: &'static str,
    duration: AtomicHistogram,
    by_status: Vec<(u16, Counter)>,
}

/// How a verify request ended.
#[derive(Debug, Clone, Copy)]
pub enum VerifyOutcome {
    Ok,
    Unauthorized,
    WrongTeam,
    Unavailable,
}

const VERIFY_OUTCOMES: [&str; 4] = ["ok", "unauthorized", "wrong_team", "unavailable"];

/// How an SSO or password sign-in ended.
#[derive(Debug, Clone, Copy)]
pub enum SignInOutcome {
    Ok,
    /// A check said no (the IdP's answer, the admission rules, a wrong password).
    Refused,
    /// The identity provider could not be reached or answered nonsense.
    IdpError,
    /// Anything else (the database, a throttle).
    Error,
}

impl SignInOutcome {
    /// The outcome of a sign-in that ended in `e`.
    pub fn of(e: &AppError) -> Self {
        match e {
            AppError::Sso(
                SsoError::Unreachable(_)
                | SsoError::Timeout
                | SsoError::Unavailable(_)
                | SsoError::RateLimited
                | SsoError::Misconfigured { .. },
            ) => SignInOutcome::IdpError,
            AppError::Sso(SsoError::TooManyStarts) | AppError::Store(_) | AppError::Internal(_) => {
                SignInOutcome::Error
            }
            _ => SignInOutcome::Refused,
        }
    }
}

const SIGN_IN_OUTCOMES: [&str; 4] = ["ok", "refused", "idp_error", "error"];

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, AtomicHistogram>,
    hot: [Hot; HOT_ROUTES.len()],
    verify: [Counter; VERIFY_OUTCOMES.len()],
    sign_ins: [Counter; SIGN_IN_OUTCOMES.len()],
    flush_duration: AtomicHistogram,
    flush_failures: Counter,
    pool_connections: Gauge,
    pool_idle: Gauge,
    active_sessions: Gauge,
    scim: Family<ScimLabels, Counter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ScimLabels {
    method: String,
    resource: &'static str,
    status: u16,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("teamportal");
        registry.register(
            "build",
            "The running build",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route pattern and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, AtomicHistogram>::default();
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response, by route pattern",
            durations.clone(),
        );
        let hot = HOT_ROUTES.map(|(pattern, statuses)| Hot {
            pattern,
            duration: durations
                .get_or_create(&RouteLabels {
                    route: Cow::Borrowed(pattern),
                })
                .clone(),
            by_status: statuses
                .iter()
                .map(|&status| {
                    let labels = RequestLabels {
                        route: Cow::Borrowed(pattern),
                        status,
                    };
                    (status, requests.get_or_create(&labels).clone())
                })
                .collect(),
        });
        let verify = outcome_counters(
            &mut registry,
            "verify_requests",
            "Forward-auth verifications by outcome",
            VERIFY_OUTCOMES,
        );
        let sign_ins = outcome_counters(
            &mut registry,
            "sign_ins",
            "Sign-ins (SSO callbacks and password sign-ins) by outcome",
            SIGN_IN_OUTCOMES,
        );
        let flush_duration = AtomicHistogram::default();
        registry.register(
            "usage_flush_duration_seconds",
            "Time to write the usage counters to the database",
            flush_duration.clone(),
        );
        let flush_failures = Counter::default();
        registry.register(
            "usage_flush_failures",
            "Usage flushes that failed (retried a second later)",
            flush_failures.clone(),
        );
        let pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Database connections open (idle and in use)",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Database connections idle; zero while requests wait for one",
            pool_idle.clone(),
        );
        let active_sessions = Gauge::default();
        registry.register(
            "active_sessions",
            "Browser sessions not yet expired (refreshed every few seconds)",
            active_sessions.clone(),
        );
        let scim = Family::<ScimLabels, Counter>::default();
        registry.register(
            "scim_requests",
            "SCIM provisioning requests by method, resource and status",
            scim.clone(),
        );
        Metrics {
            scim,
            registry,
            requests,
            durations,
            hot,
            verify,
            sign_ins,
            flush_duration,
            flush_failures,
            pool_connections,
            pool_idle,
            active_sessions,
        }
    }

    /// One answered request. `pattern` is only asked for off the hot routes (it allocates).
    pub fn request(
        &self,
        path: &str,
        status: u16,
        elapsed: Duration,
        pattern: impl FnOnce() -> Option<String>,
    ) {
        if let Some(hot) = self.hot.iter().find(|h| h.pattern == path) {
            hot.duration.observe(elapsed);
            match hot.by_status.iter().find(|(s, _)| *s == status) {
                Some((_, counter)) => {
                    counter.inc();
                }
                None => {
                    self.requests
                        .get_or_create(&RequestLabels {
                            route: Cow::Borrowed(hot.pattern),
                            status,
                        })
                        .inc();
                }
            }
            return;
        }
        let route: Cow<'static, str> = match pattern() {
            Some(p) => Cow::Owned(p),
            None => Cow::Borrowed(UNMATCHED),
        };
        self.durations
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed);
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    /// One SCIM request; `resource` is one of a fixed few names, never a raw path.
    pub fn scim(&self, method: &str, resource: &'static str, status: u16) {
        let method = match method {
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => method.to_string(),
            _ => "other".to_string(),
        };
        self.scim
            .get_or_create(&ScimLabels {
                method,
                resource,
                status,
            })
            .inc();
    }

    pub fn verify(&self, outcome: VerifyOutcome) {
        self.verify[outcome as usize].inc();
    }

    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.sign_ins[outcome as usize].inc();
    }

    pub fn flushed(&self, elapsed: Duration, ok: bool) {
        self.flush_duration.observe(elapsed);
        if !ok {
            self.flush_failures.inc();
        }
    }

    pub fn set_active_sessions(&self, n: i64) {
        self.active_sessions.set(n);
    }

    /// The Prometheus text, with the pool's state as of now (reading it is a mutex the pool
    /// takes anyway, once per scrape).
    pub fn render(&self, store: &Store) -> String {
        let state = store.pool().state();
        self.pool_connections.set(i64::from(state.connections));
        self.pool_idle.set(i64::from(state.idle_connections));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "could not encode the metrics");
        }
        out
    }
}

fn outcome_counters<const N: usize>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    outcomes: [&'static str; N],
) -> [Counter; N] {
    let family = Family::<OutcomeLabels, Counter>::default();
    registry.register(name, help, family.clone());
    // Every outcome shows from the start (at zero), so a rate() has a series to begin with.
    outcomes.map(|outcome| family.get_or_create(&OutcomeLabels { outcome }).clone())
}

/// The request metric, outermost, so that it sees the status the client gets. A hand-made
/// middleware rather than `from_fn`, whose `Next` boxes every request's future; with `None`
/// (metrics off) it passes requests through untouched.
pub struct RecordRequests(pub Option<Arc<Metrics>>);

impl<S, B> Transform<S, ServiceRequest> for RecordRequests
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RecordRequestsService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(RecordRequestsService {
            service,
            metrics: self.0.clone(),
        }))
    }
}

pub struct RecordRequestsService<S> {
    service: S,
    metrics: Option<Arc<Metrics>>,
}

impl<S, B> Service<ServiceRequest> for RecordRequestsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Recorded<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        Recorded {
            inner: self.service.call(req),
            // An Arc clone (one atomic add), not a copy of anything.
            metrics: self.metrics.clone().map(|m| (m, Instant::now())),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, timed.
    pub struct Recorded<F> {
        #[pin]
        inner: F,
        metrics: Option<(Arc<Metrics>, Instant)>,
    }
}

impl<F, B> Future for Recorded<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        if let (Ok(res), Some((metrics, start))) = (&out, this.metrics.as_ref()) {
            let request = res.request();
            metrics.request(
                request.path(),
                res.status().as_u16(),
                start.elapsed(),
                || request.match_pattern(),
            );
        }
        Poll::Ready(out)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_or_misconfigured_idp_is_an_idp_error_and_a_refusal_is_refused() {
        let of = |e: SsoError| SignInOutcome::of(&AppError::Sso(e)) as usize;
        assert_eq!(of(SsoError::Timeout), SignInOutcome::IdpError as usize);
        assert_eq!(
            of(SsoError::Unreachable("dns".into())),
            SignInOutcome::IdpError as usize
        );
        assert_eq!(
            of(SsoError::AccessDenied(None)),
            SignInOutcome::Refused as usize
        );
        assert_eq!(
            of(SsoError::EmailNotVerified),
            SignInOutcome::Refused as usize
        );
        assert_eq!(of(SsoError::TooManyStarts), SignInOutcome::Error as usize);
        assert_eq!(
            SignInOutcome::of(&AppError::SignIn(
                crate::domain::admission::Refusal::Removed
            )) as usize,
            SignInOutcome::Refused as usize
        );
    }

    #[test]
    fn a_hot_route_with_an_unusual_status_and_a_slow_request_still_count() {
        let m = Metrics::new();
        m.request("/livez", 405, Duration::from_secs(20), || None);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &m.registry).expect("encodes");
        assert!(
            out.contains("teamportal_http_requests_total{route=\"/livez\",status=\"405\"} 1"),
            "{out}"
        );
        assert!(
            out.contains(
                "teamportal_http_request_duration_seconds_bucket{le=\"10.0\",route=\"/livez\"} 0"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "teamportal_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/livez\"} 1"
            ),
            "{out}"
        );
    }
}
