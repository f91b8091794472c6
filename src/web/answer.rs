//! How a page answers a successful form: post/redirect/get back to the list it came from
//! (its search and page kept), with a one-time confirmation said there.

use actix_session::Session;
use actix_web::http::header::LOCATION;
use actix_web::HttpResponse;
use serde::Deserialize;

use crate::session::TypedSession;

/// Where a list's forms send the browser back to: the hidden `back_q` and `back_page`
/// fields every row's form carries. Anything else a form sends is ignored here.
#[derive(Deserialize, Default)]
pub struct Back {
    #[serde(default)]
    back_q: String,
    #[serde(default)]
    back_page: String,
}

impl AsRef<Back> for Back {
    fn as_ref(&self) -> &Back {
        self
    }
}

impl Back {
    /// The list's search and page, as the list reads its own query.
    pub fn list(&self) -> (String, i64) {
        let q = crate::domain::text::strip_unsafe(&self.back_q)
            .chars()
            .take(100)
            .collect();
        let page = self.back_page.trim().parse().unwrap_or(1);
        (q, page.clamp(1, 1_000_000))
    }

    /// `base` with the list's search and page; built here from the two values, never taken
    /// whole from the form, so it cannot point anywhere but `base`.
    pub fn to(&self, base: &str) -> String {
        list_url(
            base,
            &self.back_q,
            self.back_page.trim().parse().unwrap_or(1),
        )
    }
}

/// `/team?q=ada&page=2`, leaving out what is the default.
pub fn list_url(base: &str, q: &str, page: i64) -> String {
    let query = crate::views::list_query(q, page);
    if query.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{query}")
    }
}

/// 303 to `location`, saying `message` once on the page it lands on.
pub fn done(session: &Session, location: &str, message: impl Into<String>) -> HttpResponse {
    TypedSession(session).flash(message);
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_keeps_search_and_page_and_stays_on_the_list() {
        assert_eq!(list_url("/team", "", 1), "/team");
        assert_eq!(list_url("/team", "ada lo", 3), "/team?q=ada+lo&page=3");
        assert_eq!(
            list_url("/team", "&page=//evil", 0),
            "/team?q=%26page%3D%2F%2Fevil"
        );
        let back = Back {
            back_q: "x".into(),
            back_page: "https://evil.test".into(),
        };
        assert_eq!(back.to("/team"), "/team?q=x");
    }
}
