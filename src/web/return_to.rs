//! Deep links survive sign-in: a page asked for without a session remembers where it was
//! (a short-lived cookie scoped to `/login`, so `GET /login` still answers at exactly
//! `/login`), the sign-in form carries it as `return_to`, and `POST /login/sso` hands it to
//! the flow as `/sso/{team}/login` does. Every use goes through [`redirect::same_origin`].

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::Method;
use actix_web::HttpRequest;

use crate::sso::redirect;

const COOKIE: &str = "teamportal-return";

/// What a cookie value may not hold as it is: a `;` or `,` would end it (or start an
/// attribute), and `%` is the escape itself. A request's path and query has no spaces or
/// controls, but the set leaves nothing to chance.
const NOT_IN_A_COOKIE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

/// The path and query to come back to after sign-in, for a page (GET) asked for without a
/// session; other methods have nothing to come back to.
pub fn wanted(req: &HttpRequest) -> Option<String> {
    if req.method() != Method::GET {
        return None;
    }
    let to = req.uri().path_and_query()?.as_str();
    (to.len() <= 2048 && to.starts_with('/') && !to.starts_with("//")).then(|| to.to_string())
}

/// The cookie that remembers `to` on the way to `/login`: not a secret (it is checked as an
/// own-origin path when used), and never state on the server.
pub fn remember(to: &str, https: bool) -> Cookie<'static> {
    for_login(
        COOKIE,
        percent_encoding::utf8_percent_encode(to, NOT_IN_A_COOKIE).to_string(),
        https,
        Duration::minutes(10),
    )
}

/// A short-lived cookie only the sign-in page reads: scoped to `/login` (so it cannot take
/// the `__Host-` prefix), HttpOnly, Lax so that the IdP's redirect back carries it, and
/// Secure under https.
pub fn for_login(name: &'static str, value: String, https: bool, age: Duration) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(age)
        .finish()
}

/// The cookie's removal, once a sign-in starts with it.
pub fn forget() -> Cookie<'static> {
    removal_at_login(COOKIE)
}

/// The removal of a cookie made by [`for_login`].
pub fn removal_at_login(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build(name, "").path("/login").finish();
    c.make_removal();
    c
}

/// Where the sign-in page should send the browser afterwards: `?return_to=` first, else the
/// remembered page; only paths on this portal's own origin, as the path and query.
pub fn for_login_page(
    public_url: &url::Url,
    req: &HttpRequest,
    given: Option<&str>,
) -> Option<String> {
    // actix reads request cookies percent-decoded already.
    let remembered = req.cookie(COOKIE).map(|c| c.value().to_string());
    let value = given.map(str::to_string).or(remembered)?;
    own_path(public_url, &value)
}

/// `value` as a path and query on `public_url`'s origin, or `None`: only a path (`/...`),
/// never an absolute or scheme-relative URL nor anything with a backslash, which browsers
/// read as a slash.
pub fn own_path(public_url: &url::Url, value: &str) -> Option<String> {
    if !value.starts_with('/') || value.starts_with("//") || value.contains('\\') {
        return None;
    }
    let url = redirect::same_origin(public_url, value)?;
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    // A sign-in that ends on the sign-in page again would be a loop.
    (!path.starts_with("/login") && !path.starts_with("/logout")).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_own_paths_come_back() {
        let base = url::Url::parse("https://portal.example.com").expect("url");
        assert_eq!(
            own_path(&base, "/billing?month=2026-11").as_deref(),
            Some("/billing?month=2026-11")
        );
        for evil in [
            "//evil.test",
            "https://evil.test/x",
            "https://portal.example.com/team",
            "/\\evil.test",
            "/team\\x",
            "\\\\evil",
            "/login",
            "",
        ] {
            assert_eq!(own_path(&base, evil), None, "{evil}");
        }
    }

    #[test]
    fn a_remembered_page_with_a_semicolon_comes_back_whole_and_sets_no_attribute() {
        let base = url::Url::parse("https://portal.example.com").expect("url");
        let to = "/team?q=a%26b;Domain=example.com,x=100%25&y=%23z";
        let cookie = remember(to, true);
        let header = cookie.to_string();
        let value = header
            .strip_prefix("teamportal-return=")
            .and_then(|rest| rest.split(';').next())
            .expect("value");
        assert!(!value.contains([';', ',']), "{header}");
        assert!(header.split("; ").any(|a| a == "Secure"), "{header}");
        assert!(
            !header.split("; ").any(|a| a.starts_with("Domain")),
            "{header}"
        );
        // The header exactly as the browser sends the cookie back.
        let req = actix_web::test::TestRequest::default()
            .insert_header(("cookie", format!("{COOKIE}={value}")))
            .to_http_request();
        assert_eq!(for_login_page(&base, &req, None).as_deref(), Some(to));
    }
}
