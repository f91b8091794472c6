//! Validated identifiers: Team IDs, email addresses, and the store's row ids as types (a
//! user's id cannot be passed where a token's is meant).

use std::fmt;

/// A user's row id: one person in one team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

/// An API token's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Team ID: lowercase ASCII letters and digits in dash-separated parts (the Okta
/// convention `subdomain` or `subdomain-group`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TeamId(String);

impl TeamId {
    pub fn parse(value: &str) -> Result<TeamId, &'static str> {
        const RULE: &str = "a Team ID is lowercase letters and digits in dash-separated parts, e.g. \"acme\" or \"acme-eng\" (at most 63 characters)";
        if value.is_empty() || value.len() > 63 {
            return Err(RULE);
        }
        let ok = value.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if ok {
            Ok(TeamId(value.to_string()))
        } else {
            Err(RULE)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, normalised to lowercase. Deliberately permissive: the IdP owns
/// addresses; we only need one `@` with something on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Option<Email> {
        let v = value.trim().to_lowercase();
        let (local, domain) = v.split_once('@')?;
        if local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || v.len() > 254
            || v.chars()
                .any(|c| c.is_whitespace() || super::text::is_unsafe_char(c))
        {
            return None;
        }
        Some(Email(v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A usage unit name, e.g. `requests` or `gpu.seconds`.
pub fn valid_unit(u: &str) -> bool {
    (1..=64).contains(&u.len())
        && u.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_ids() {
        for ok in ["acme", "acme-eng", "a1-b2-c3", "x"] {
            assert!(TeamId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Acme",
            "acme_eng",
            "-a",
            "a-",
            "a--b",
            "ac me",
            "acmé",
            &"a".repeat(64),
        ] {
            assert!(TeamId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Alice@ACME.com ").map(|e| e.0),
            Some("alice@acme.com".into())
        );
        assert_eq!(Email::parse("a@b@c"), None);
        assert_eq!(Email::parse("@acme.com"), None);
        assert_eq!(Email::parse("alice@"), None);
        assert_eq!(Email::parse("al ice@acme.com"), None);
        assert_eq!(
            Email::parse("bob@acme.com").map(|e| e.domain().to_string()),
            Some("acme.com".into())
        );
    }

    #[test]
    fn units() {
        assert!(valid_unit("requests"));
        assert!(valid_unit("gpu.seconds"));
        assert!(!valid_unit(""));
        assert!(!valid_unit("Requests"));
        assert!(!valid_unit("=cmd"));
    }
}
