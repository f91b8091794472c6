//! One hand-made actix middleware that times a request and hands its answer, with the time it
//! took, to a [`WhenAnswered`]: the request metric (`metrics`) and the SSO callback's
//! `Server-Timing` header (`web::server_timing`) are both this. Hand-made rather than
//! `from_fn`, whose `Next` boxes every request's future; it imports nothing of ours.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};

/// What to do with a response once the inner service has answered.
pub trait WhenAnswered: Clone {
    fn answered<B>(&self, res: &mut ServiceResponse<B>, elapsed: Duration);
}

/// The middleware; with `None` it passes requests through untouched (no clock read).
pub struct Timed<H>(pub Option<H>);

impl<S, B, H> Transform<S, ServiceRequest> for Timed<H>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    H: WhenAnswered,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = TimedService<S, H>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(TimedService {
            service,
            then: self.0.clone(),
        }))
    }
}

pub struct TimedService<S, H> {
    service: S,
    then: Option<H>,
}

impl<S, B, H> Service<ServiceRequest> for TimedService<S, H>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    H: WhenAnswered,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = TimedFuture<S::Future, H>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        TimedFuture {
            inner: self.service.call(req),
            // A clone of the handler (an Arc's atomic add at most), not a copy of anything.
            then: self.then.clone().map(|h| (h, Instant::now())),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, timed.
    pub struct TimedFuture<F, H> {
        #[pin]
        inner: F,
        then: Option<(H, Instant)>,
    }
}

impl<F, B, H> Future for TimedFuture<F, H>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    H: WhenAnswered,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut out = std::task::ready!(this.inner.poll(cx));
        if let (Ok(res), Some((then, start))) = (&mut out, this.then.as_ref()) {
            then.answered(res, start.elapsed());
        }
        Poll::Ready(out)
    }
}
