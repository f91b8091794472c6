//! What a browser that is not signed in carries instead of a session: a signed
//! double-submit CSRF token for the anonymous forms and the binding of its pending sign-ins.
//! Both live in cookies only, so an anonymous visitor costs the server no state at all (a
//! session row is written once a sign-in completes, a pending-login row once one starts).

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use actix_web::HttpRequest;

use crate::crypto::{self, InstanceKey};

/// 128 bits, as for the session's token.
const CSRF_BYTES: usize = 16;
/// 192 bits: whoever knows a browser's binding can finish sign-ins in its place.
const BINDING_BYTES: usize = 24;

/// Signs and reads the anonymous cookies, each with its own key derived from the instance
/// key (the signature covers only the value, so one key per cookie keeps a value signed for
/// one use from verifying for the other, and neither is the session's key).
#[derive(Clone)]
pub struct BrowserCookies {
    csrf_key: Key,
    binding_key: Key,
    secure: bool,
    csrf_name: &'static str,
    binding_name: &'static str,
}

impl BrowserCookies {
    /// `secure` under https, where the names take the `__Host-` prefix so that no sibling
    /// subdomain can plant them.
    pub fn new(instance: &InstanceKey, secure: bool) -> Self {
        Self::with_keys(
            &instance.derive_bytes("teamportal anonymous csrf"),
            &instance.derive_bytes("teamportal sign-in binding"),
            secure,
        )
    }

    fn with_keys(csrf: &[u8; 64], binding: &[u8; 64], secure: bool) -> Self {
        let (csrf_name, binding_name) = if secure {
            ("__Host-teamportal-csrf", "__Host-teamportal-login")
        } else {
            ("teamportal-csrf", "teamportal-login")
        };
        BrowserCookies {
            csrf_key: Key::from(csrf),
            binding_key: Key::from(binding),
            secure,
            csrf_name,
            binding_name,
        }
    }

    /// The anonymous CSRF token for a form: this browser's, or a new one with the cookie that
    /// carries it (to be set on the response).
    pub fn csrf_for_form(&self, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
        match self.verified(req, self.csrf_name, &self.csrf_key) {
            Some(token) => (token, None),
            None => {
                let token = crypto::random_string(CSRF_BYTES);
                let cookie = self.signed(self.csrf_name, &self.csrf_key, &token, None);
                (token, Some(cookie))
            }
        }
    }

    /// Double submit: the form's token equals the cookie's, and the cookie is one this
    /// instance signed.
    pub fn csrf_matches(&self, req: &HttpRequest, given: &str) -> bool {
        match self.verified(req, self.csrf_name, &self.csrf_key) {
            Some(token) => !given.is_empty() && crypto::same(&token, given),
            None => false,
        }
    }

    /// The binding of this browser's pending sign-ins, when it has one.
    pub fn binding(&self, req: &HttpRequest) -> Option<String> {
        self.verified(req, self.binding_name, &self.binding_key)
    }

    /// The binding for a sign-in that starts now: the browser's own (so sign-ins started in
    /// two tabs both finish), or a new one, with its cookie renewed for the pending sign-in's
    /// lifetime.
    pub fn binding_for_start(
        &self,
        req: &HttpRequest,
        lifetime_secs: i64,
    ) -> (String, Cookie<'static>) {
        let value = self
            .binding(req)
            .unwrap_or_else(|| crypto::random_string(BINDING_BYTES));
        let cookie = self.signed(
            self.binding_name,
            &self.binding_key,
            &value,
            Some(Duration::seconds(lifetime_secs)),
        );
        (value, cookie)
    }

    fn verified(&self, req: &HttpRequest, name: &str, key: &Key) -> Option<String> {
        let raw = req.cookie(name)?;
        let mut jar = CookieJar::new();
        jar.add_original(raw);
        jar.signed(key)
            .get(name)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    }

    fn signed(
        &self,
        name: &'static str,
        key: &Key,
        value: &str,
        max_age: Option<Duration>,
    ) -> Cookie<'static> {
        let mut builder = Cookie::build(name, value.to_string())
            .path("/")
            .http_only(true)
            // Lax: the IdP's redirect back to the callback is a top-level navigation from
            // another site, which must carry the binding.
            .same_site(SameSite::Lax)
            .secure(self.secure);
        if let Some(age) = max_age {
            builder = builder.max_age(age);
        }
        let mut jar = CookieJar::new();
        jar.signed_mut(key).add(builder.finish());
        jar.get(name)
            .cloned()
            .unwrap_or_else(|| Cookie::new(name, String::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn cookies() -> BrowserCookies {
        BrowserCookies::with_keys(&[7u8; 64], &[9u8; 64], false)
    }

    #[test]
    fn a_form_token_matches_only_with_its_signed_cookie() {
        let c = cookies();
        let (token, cookie) = c.csrf_for_form(&TestRequest::default().to_http_request());
        let cookie = cookie.expect("a new browser gets a cookie");
        assert_ne!(cookie.value(), token, "the cookie carries a signature");

        let req = TestRequest::default()
            .cookie(cookie.clone())
            .to_http_request();
        assert!(c.csrf_matches(&req, &token));
        assert!(!c.csrf_matches(&req, "other"));
        assert!(!c.csrf_matches(&req, ""));
        assert_eq!(c.csrf_for_form(&req), (token.clone(), None), "kept");

        // The bare token as the cookie, or a cookie signed by another key: refused.
        let bare = TestRequest::default()
            .cookie(Cookie::new("teamportal-csrf", token.clone()))
            .to_http_request();
        assert!(!c.csrf_matches(&bare, &token));
        let other = BrowserCookies::with_keys(&[8u8; 64], &[9u8; 64], false);
        let req = TestRequest::default().cookie(cookie).to_http_request();
        assert!(!other.csrf_matches(&req, &token));
    }

    #[test]
    fn the_binding_is_kept_across_starts_and_not_read_as_a_csrf_token() {
        let c = cookies();
        let (first, cookie) = c.binding_for_start(&TestRequest::default().to_http_request(), 600);
        assert_eq!(cookie.max_age(), Some(Duration::seconds(600)));
        let req = TestRequest::default()
            .cookie(cookie.clone())
            .to_http_request();
        assert_eq!(c.binding(&req).as_deref(), Some(first.as_str()));
        assert_eq!(c.binding_for_start(&req, 600).0, first);

        let swapped = TestRequest::default()
            .cookie(Cookie::new("teamportal-csrf", cookie.value().to_string()))
            .to_http_request();
        assert!(!c.csrf_matches(&swapped, &first), "one key per cookie");
    }
}
