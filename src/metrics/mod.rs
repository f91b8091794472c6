//! Prometheus metrics (`[metrics] listen`): what is recorded, and the small server that
//! shows it at `GET /metrics` on its own address, never on the portal's.
//!
//! Recording is on the request path, verify's included, so it takes no lock and allocates
//! nothing there: counters and histograms are atomics, and the label sets of the hot routes
//! are registered at start with their handles kept (`Hot`). prometheus-client's own
//! `Histogram` takes a mutex per observation, hence [`AtomicHistogram`].

mod histogram;
mod middleware;
mod outcomes;
mod server;

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use histogram::AtomicHistogram;
pub use middleware::record_requests;
pub use outcomes::{SignInOutcome, VerifyOutcome};
use outcomes::{SIGN_IN_OUTCOMES, VERIFY_OUTCOMES};
pub use server::server;

use crate::store::Store;

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

#[cfg(test)]
mod tests {
    use super::*;

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
