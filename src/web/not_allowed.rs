//! 405 answers that say what the path allows. actix answers a known path asked with another
//! method with an empty 405 and an `Allow` header filled from the resource's method guards;
//! a client (or an operator with curl) reading only the body learned nothing. The pages get a
//! short plain-text body from [`FillBody`]; the token API, served outside the pages' middleware,
//! gets a JSON one from [`api`] as its resources' default service. SCIM answers its own 405s
//! with SCIM error bodies (`web::scim`), which `FillBody` leaves as they are.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

/// The sentence both bodies carry, e.g. "/tokens allows GET, POST." The path is the one asked
/// for, cut short and stripped of anything unsafe: it is the client's own text.
fn sentence(path: &str, allow: &str) -> String {
    let path: String = crate::domain::text::strip_unsafe(path)
        .chars()
        .take(200)
        .collect();
    if allow.is_empty() {
        format!("{path} does not answer this method.")
    } else {
        format!("{path} allows {allow}.")
    }
}

/// The default service of an API resource: 405 with `Allow` and a JSON body in the API's own
/// error shape and headers (`web::api`).
pub fn api(
    allow: &'static str,
) -> impl Fn(ServiceRequest) -> std::future::Ready<Result<ServiceResponse, actix_web::Error>> + Clone
{
    move |req: ServiceRequest| {
        let body = json!({
            "error": "method_not_allowed",
            "error_description": sentence(req.path(), allow),
        });
        let res = HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, HeaderValue::from_static(allow)))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .content_type("application/json")
            .body(serde_json::to_vec(&body).unwrap_or_default());
        std::future::ready(Ok(req.into_response(res)))
    }
}

/// Fills the body of an empty 405 on the pages: "`path` allows `Allow`." in plain text, the
/// `Allow` header and every other header kept. Any other answer passes untouched (one status
/// comparison per request).
pub struct FillBody;

impl<S, B> Transform<S, ServiceRequest> for FillBody
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = FillBodyService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(FillBodyService { service }))
    }
}

pub struct FillBodyService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for FillBodyService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Filled<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        Filled {
            inner: self.service.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct Filled<F> {
        #[pin]
        inner: F,
    }
}

impl<F, B> Future for Filled<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let res = std::task::ready!(self.project().inner.poll(cx))?;
        let empty = matches!(
            res.response().body().size(),
            BodySize::None | BodySize::Sized(0)
        );
        if res.status() != StatusCode::METHOD_NOT_ALLOWED || !empty {
            return Poll::Ready(Ok(res.map_into_left_body()));
        }
        let allow = res
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = sentence(res.request().path(), &allow);
        Poll::Ready(Ok(res.map_body(|head, _| {
            head.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            EitherBody::right(actix_web::body::BoxBody::new(text))
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn the_sentence_names_the_path_and_its_methods() {
        assert_eq!(
            sentence("/tokens", "GET, POST"),
            "/tokens allows GET, POST."
        );
        assert_eq!(
            sentence("/x\u{202e}y", ""),
            "/xy does not answer this method."
        );
    }
}
