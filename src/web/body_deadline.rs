//! A deadline for request bodies: the whole body must arrive within a set time of the
//! headers, or the request answers 408 and the connection is closed. actix's
//! `client_request_timeout` covers only the head, so without this a client trickling a body
//! (or never sending the bytes its `Content-Length` promised) holds a connection and a
//! worker's attention for as long as it likes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, ResponseError};
use futures_util::{Stream, StreamExt};

use crate::error::AppError;

/// The request's payload, ending in an error once `deadline` has passed.
struct Deadline {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    late: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.late.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        // Data already here is taken even at the deadline; only waiting is cut short.
        if let Poll::Ready(item) = self.inner.poll_next_unpin(cx) {
            return Poll::Ready(item);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.late.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body did not arrive in time",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn has_body(req: &ServiceRequest) -> bool {
    let length = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || req.headers().contains_key(TRANSFER_ENCODING)
}

/// Middleware (for `from_fn`): runs the request with its body under a `limit` deadline
/// counted from now, just after the headers were read. A handler that waited for a body
/// that came too late answers 408 with `Connection: close`, whatever its extractor said.
pub async fn body_deadline(
    limit: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !has_body(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let late = Arc::new(AtomicBool::new(false));
    let payload = Deadline {
        inner: req.take_payload(),
        deadline: Box::pin(tokio::time::sleep(limit)),
        late: late.clone(),
    };
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(payload);
    req.set_payload(Payload::from(boxed));
    let res = next.call(req).await?;
    if !late.load(Ordering::Relaxed) {
        return Ok(res.map_into_left_body());
    }
    let (req, _) = res.into_parts();
    let mut timed_out = AppError::SlowBody.error_response();
    // The rest of the body may still be on its way: this connection is not reused.
    timed_out
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    Ok(ServiceResponse::new(req, timed_out).map_into_right_body())
}
