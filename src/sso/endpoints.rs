//! Where an IdP's metadata may send a browser, for a team whose admin chose the IdP.

use url::Url;

use super::answers::without_query;
use super::provider::Discovery;
use super::SsoError;
use crate::config::is_loopback_host;

/// For a team whose admin chose its IdP (made with `admin create-team`): the endpoints a
/// browser is sent to must be https on the issuer's host (http only when the issuer itself
/// is on loopback), so that IdP's metadata cannot send people anywhere else.
pub fn check_browser_endpoints(issuer: &Url, d: &Discovery) -> Result<(), SsoError> {
    let endpoints = [
        ("authorization_endpoint", Some(&d.authorization_endpoint)),
        ("end_session_endpoint", d.end_session_endpoint.as_ref()),
    ];
    for (name, endpoint) in endpoints {
        let Some(endpoint) = endpoint else { continue };
        let scheme_ok = match endpoint.scheme() {
            "https" => true,
            "http" => is_loopback_host(issuer),
            _ => false,
        };
        if !scheme_ok || endpoint.host() != issuer.host() {
            return Err(SsoError::misconfigured(
                "the identity provider's metadata would send your browser to another site than the identity provider itself",
                format!(
                    "{name} {} is not {} on the issuer's host {}",
                    without_query(endpoint),
                    if is_loopback_host(issuer) { "http(s)" } else { "https" },
                    issuer.host_str().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovery(authorize: &str, end_session: Option<&str>) -> Discovery {
        Discovery {
            issuer: String::new(),
            authorization_endpoint: Url::parse(authorize).expect("url"),
            token_endpoint: None,
            userinfo_endpoint: None,
            jwks_uri: Url::parse("https://elsewhere.test/keys").expect("url"),
            end_session_endpoint: end_session.map(|u| Url::parse(u).expect("url")),
            id_token_signing_alg_values_supported: Vec::new(),
            authorization_response_iss_parameter_supported: false,
            scopes_supported: None,
        }
    }

    fn ok(issuer: &str, authorize: &str, end_session: Option<&str>) -> bool {
        check_browser_endpoints(
            &Url::parse(issuer).expect("issuer"),
            &discovery(authorize, end_session),
        )
        .is_ok()
    }

    #[test]
    fn browser_endpoints_must_be_https_on_the_issuers_host() {
        let okta = "https://acme.okta.com";
        assert!(ok(okta, "https://acme.okta.com/oauth2/v1/authorize", None));
        assert!(ok(
            okta,
            "https://acme.okta.com/oauth2/v1/authorize",
            Some("https://acme.okta.com/oauth2/v1/logout")
        ));
        assert!(!ok(okta, "https://evil.test/authorize", None));
        assert!(!ok(okta, "http://acme.okta.com/authorize", None));
        assert!(!ok(okta, "https://acme.okta.com.evil.test/authorize", None));
        assert!(!ok(okta, "https://acme.okta.com@evil.test/authorize", None));
        assert!(!ok(
            okta,
            "https://acme.okta.com/authorize",
            Some("https://evil.test/logout")
        ));
        assert!(!ok(okta, "javascript:alert(1)", None));
    }

    #[test]
    fn http_endpoints_only_for_a_loopback_issuer_and_only_on_its_host() {
        assert!(ok(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9/authorize",
            None
        ));
        assert!(ok(
            "http://localhost:9",
            "http://localhost:9/authorize",
            None
        ));
        assert!(!ok(
            "http://127.0.0.1:9",
            "http://127.0.0.2:9/authorize",
            None
        ));
        assert!(!ok(
            "http://127.0.0.1:9",
            "http://evil.test/authorize",
            None
        ));
    }
}
