//! The answers handlers give: a page of HTML, or 303 See Other to where the browser goes
//! next (after a form's POST, so a reload does not post again).

use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::Markup;

/// A page, 200.
pub fn html(page: Markup) -> HttpResponse {
    html_status(StatusCode::OK, page)
}

/// A page with another status (201 after creating, for one).
pub fn html_status(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.into_string())
}

/// 303 to `location` (a path of ours or an IdP's URL).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}
