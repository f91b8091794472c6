//! The request metric, recorded outermost so that it sees the status the client gets; verify's,
//! answered before the application, is recorded by `web::forward_auth` under the same route.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServiceResponse;

use super::Metrics;
use crate::timed::{Timed, WhenAnswered};

/// The middleware that records every answered request; with `None` (metrics off) it passes
/// requests through untouched.
pub fn record_requests(metrics: Option<Arc<Metrics>>) -> Timed<Arc<Metrics>> {
    Timed(metrics)
}

impl WhenAnswered for Arc<Metrics> {
    fn answered<B>(&self, res: &mut ServiceResponse<B>, elapsed: Duration) {
        let request = res.request();
        self.request(request.path(), res.status().as_u16(), elapsed, || {
            request.match_pattern()
        });
    }
}
