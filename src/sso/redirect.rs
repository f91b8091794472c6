//! Where a browser may be sent after sign-in: only to this portal's own origin. Parsing
//! follows the WHATWG URL rules (as browsers do), so `//host`, `/\host`, `https:host`,
//! userinfo tricks and other schemes all resolve to another origin and are dropped.

use url::Url;

/// Turns a `return_to` / `target_link_uri` value into an absolute URL on `public_url`'s
/// origin, or `None` when it points anywhere else.
pub fn same_origin(public_url: &Url, value: &str) -> Option<Url> {
    if value.is_empty() || value.len() > 2048 || value.chars().any(|c| c.is_control()) {
        return None;
    }
    let target = public_url.join(value).ok()?;
    if target.origin() != public_url.origin()
        || !target.username().is_empty()
        || target.password().is_some()
        || target.path().starts_with("//")
    {
        return None;
    }
    let mut clean = target;
    clean.set_fragment(None);
    Some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://portal.example.com").expect("url")
    }

    #[test]
    fn own_paths_are_kept() {
        assert_eq!(
            same_origin(&base(), "/tokens").map(String::from),
            Some("https://portal.example.com/tokens".into())
        );
        assert_eq!(
            same_origin(&base(), "https://portal.example.com/team?q=a").map(String::from),
            Some("https://portal.example.com/team?q=a".into())
        );
    }

    #[test]
    fn other_origins_are_dropped() {
        for evil in [
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "\\\\evil.test",
            "javascript:alert(1)",
            "https://portal.example.com@evil.test/",
            "https://user@portal.example.com/",
            "http://portal.example.com/",
            "/.//evil.test",
            "/\t/evil.test",
            "data:text/html,hi",
        ] {
            assert_eq!(same_origin(&base(), evil), None, "{evil}");
        }
        // WHATWG resolves a scheme-relative `https:evil.test` against our own origin (a path),
        // exactly as a browser would; the absolute URL we emit keeps it there.
        let kept = same_origin(&base(), "https:evil.test").expect("same origin");
        assert_eq!(kept.host_str(), Some("portal.example.com"));
        // Encoded tab stays an inert path segment on our own origin.
        let kept = same_origin(&base(), "/%09/evil.test").expect("same origin");
        assert_eq!(kept.host_str(), Some("portal.example.com"));
    }
}
