//! The middleware that records every answered request into [`Metrics`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};

use super::Metrics;

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
