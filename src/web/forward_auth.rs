//! Forward-auth answered before the application's router: `GET` or `HEAD /api/v1/verify`
//! is asked on every request of every service behind the proxy, and what the application
//! does for any request before its handler runs (an `HttpRequest` from its pool, the
//! middleware chain, the router, the method guards, the boxed handler future and the
//! extractors) cost verify about as much as its own work. This wraps the application's
//! service: the exact path with either method is answered here by [`api::check`], the one
//! function the routed handler calls too; everything else, `/api/v1/verify` with another method
//! (405) or written another way (`%76erify`) included, goes to the application unchanged.
//!
//! The shortcut is off while the access log is on: that log is the application's middleware,
//! and an operator who asked for a line per request gets verify's too. The request metric,
//! which the application's outermost middleware records for every other request, is recorded
//! here under the same route.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_http::Request;
use actix_web::body::EitherBody;
use actix_web::dev::{
    forward_ready, AppConfig, Response, Service, ServiceFactory, ServiceResponse,
};
use actix_web::http::Method;
use actix_web::web::{self, Bytes};
use futures_util::future::LocalBoxFuture;

use super::api;
use crate::state::AppState;

pub const VERIFY_PATH: &str = "/api/v1/verify";

/// The application's service factory with the shortcut in front. Without a state the
/// shortcut is off: every request goes to the application (its answers still wrapped in the
/// same body type).
pub struct ForwardAuth<A> {
    app: A,
    state: Option<web::Data<AppState>>,
}

impl<A> ForwardAuth<A> {
    pub fn new(app: A, state: Option<web::Data<AppState>>) -> Self {
        ForwardAuth { app, state }
    }
}

/// The requests the shortcut answers: the exact path, as the router would match it without
/// decoding anything, with a method verify answers. The rest (other methods' 405, an encoded
/// or trailing-slash path) is the router's to answer.
fn takes(method: &Method, path: &str) -> bool {
    path == VERIFY_PATH && matches!(*method, Method::GET | Method::HEAD)
}

impl<A, B> ServiceFactory<Request> for ForwardAuth<A>
where
    A: ServiceFactory<
        Request,
        Config = AppConfig,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
        InitError = (),
    >,
    A::Future: 'static,
{
    type Response = Response<EitherBody<B, Bytes>>;
    type Error = actix_web::Error;
    type Config = AppConfig;
    type Service = ForwardAuthService<A::Service>;
    type InitError = ();
    // Once per worker at start: boxing it costs nothing per request.
    type Future = LocalBoxFuture<'static, Result<Self::Service, ()>>;

    fn new_service(&self, config: AppConfig) -> Self::Future {
        let app = self.app.new_service(config);
        let state = self.state.clone();
        Box::pin(async move {
            Ok(ForwardAuthService {
                app: app.await?,
                state,
            })
        })
    }
}

pub struct ForwardAuthService<S> {
    app: S,
    /// `None` while the shortcut is off.
    state: Option<web::Data<AppState>>,
}

impl<S> ForwardAuthService<S> {
    fn answer(&self, req: &Request) -> Option<Response<Bytes>> {
        let state = self.state.as_ref()?;
        let head = req.head();
        if !takes(&head.method, head.uri.path()) {
            return None;
        }
        let check = || api::check(state, &head.headers, head.uri.query().unwrap_or_default());
        let Some(metrics) = &state.metrics else {
            return Some(check());
        };
        let start = Instant::now();
        let res = check();
        metrics.request(VERIFY_PATH, res.status().as_u16(), start.elapsed(), || {
            Some(VERIFY_PATH.to_owned())
        });
        Some(res)
    }
}

impl<S, B> Service<Request> for ForwardAuthService<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = Response<EitherBody<B, Bytes>>;
    type Error = actix_web::Error;
    type Future = Answer<S::Future>;

    forward_ready!(app);

    fn call(&self, req: Request) -> Self::Future {
        match self.answer(&req) {
            Some(res) => Answer::Here {
                res: std::future::ready(res),
            },
            None => Answer::App {
                fut: self.app.call(req),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// Answered here at once, or the application's future.
    #[project = AnswerProj]
    pub enum Answer<F> {
        Here { res: std::future::Ready<Response<Bytes>> },
        App { #[pin] fut: F },
    }
}

impl<F, B> Future for Answer<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = Result<Response<EitherBody<B, Bytes>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProj::Here { res } => Pin::new(res)
                .poll(cx)
                .map(|res| Ok(res.map_body(|_, body| EitherBody::right(body)))),
            AnswerProj::App { fut } => fut.poll(cx).map_ok(|res| {
                let res: Response<B> = res.into();
                res.map_body(|_, body| EitherBody::left(body))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_and_head_of_the_exact_path_are_answered_before_the_router() {
        assert!(takes(&Method::GET, "/api/v1/verify"));
        assert!(takes(&Method::HEAD, "/api/v1/verify"));
        for method in [Method::POST, Method::PUT, Method::OPTIONS, Method::DELETE] {
            assert!(!takes(&method, "/api/v1/verify"), "{method}");
        }
        for path in [
            "/api/v1/verify/",
            "/api/v1/%76erify",
            "//api/v1/verify",
            "/API/v1/verify",
            "/api/v1/verify;x",
            "/api/v1/usage",
        ] {
            assert!(!takes(&Method::GET, path), "{path}");
        }
    }
}
