//! `Server-Timing` on the SSO callback: how long the portal itself worked on a sign-in
//! (`app`, session write included) apart from the time it waited on the identity provider
//! (`idp`: token endpoint, userinfo, discovery and JWKS when not cached). The handler leaves
//! the IdP's share in the request's extensions ([`IdpTime`]); this middleware, outside the
//! session middleware, adds the header only to responses that carry it, so other pages pay one
//! clock read. `benches/signin.sh` reads it; browsers' developer tools show it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpMessage;

/// The time a request spent waiting on its team's identity provider.
#[derive(Clone, Copy, Debug)]
pub struct IdpTime(pub Duration);

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// `app;dur=…, idp;dur=…` in milliseconds (the header's unit).
pub fn header_value(total: Duration, idp: Duration) -> HeaderValue {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let value = format!(
        "app;dur={:.3}, idp;dur={:.3}",
        ms(total.saturating_sub(idp)),
        ms(idp)
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("app"))
}

pub struct ServerTiming;

impl<S, B> Transform<S, ServiceRequest> for ServerTiming
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = ServerTimingService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(ServerTimingService { service }))
    }
}

pub struct ServerTimingService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for ServerTimingService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Timed<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        Timed {
            inner: self.service.call(req),
            start: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct Timed<F> {
        #[pin]
        inner: F,
        start: Instant,
    }
}

impl<F, B> Future for Timed<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut out = std::task::ready!(this.inner.poll(cx));
        if let Ok(res) = &mut out {
            let idp = res.request().extensions().get::<IdpTime>().copied();
            if let Some(IdpTime(idp)) = idp {
                let value = header_value(this.start.elapsed(), idp);
                res.headers_mut().insert(SERVER_TIMING, value);
            }
        }
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_splits_the_portals_time_from_the_idps() {
        let v = header_value(Duration::from_micros(5_250), Duration::from_micros(4_000));
        assert_eq!(v, "app;dur=1.250, idp;dur=4.000");
        // A clock that disagrees never makes the portal's share negative.
        let v = header_value(Duration::from_micros(1), Duration::from_micros(2));
        assert_eq!(v, "app;dur=0.000, idp;dur=0.002");
    }
}
