//! `Server-Timing` on the SSO callback: how long the portal itself worked on a sign-in
//! (`app`, session write included) apart from the time it waited on the identity provider
//! (`idp`: token endpoint, userinfo, discovery and JWKS when not cached). The handler leaves
//! the IdP's share in the request's extensions ([`IdpTime`]); this middleware, outside the
//! session middleware, adds the header only to responses that carry it, so other pages pay one
//! clock read. `benches/signin.sh` reads it; browsers' developer tools show it.

use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpMessage;

use crate::timed::{Timed, WhenAnswered};

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

/// The middleware, outside the session middleware.
pub fn server_timing() -> Timed<AddHeader> {
    Timed(Some(AddHeader))
}

/// Adds the header to the responses whose request carries an [`IdpTime`].
#[derive(Clone, Copy)]
pub struct AddHeader;

impl WhenAnswered for AddHeader {
    fn answered<B>(&self, res: &mut ServiceResponse<B>, elapsed: Duration) {
        let idp = res.request().extensions().get::<IdpTime>().copied();
        if let Some(IdpTime(idp)) = idp {
            res.headers_mut()
                .insert(SERVER_TIMING, header_value(elapsed, idp));
        }
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
