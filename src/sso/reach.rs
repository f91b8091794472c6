//! Which addresses the portal's own requests to an IdP may reach, and the HTTP clients that
//! keep to it.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::answers::without_query;
use super::SsoError;
use crate::domain::net::is_public_ip;

/// Which addresses the portal's own requests to an IdP may reach. A browser-managed team's
/// admin chose its IdP, and that IdP's discovery document names the token, userinfo and JWKS
/// URLs the server then calls: without a bound, such an admin could make the portal call the
/// machine's loopback services or the private network (and read the answers' status back on
/// /settings/sso). So for those teams every request resolves host names to public addresses
/// only, at connect time (a name that later resolves elsewhere gains nothing), and refuses
/// private IP literals, unless the operator sets `[security] allow_private_issuers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Any,
    PublicOnly,
}

/// A DNS resolver that keeps only public addresses.
struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = tokio::task::spawn_blocking(move || {
                use std::net::ToSocketAddrs;
                (host.as_str(), 0)
                    .to_socket_addrs()
                    .map(|a| a.collect::<Vec<_>>())
            })
            .await??;
            let public: Vec<std::net::SocketAddr> =
                found.into_iter().filter(|a| is_public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err("the host resolves to no public address".into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Refuses a URL whose host is a non-public IP literal when only public addresses may be
/// reached (literals never go through the resolver).
pub fn check_reach(reach: Reach, url: &Url) -> Result<(), SsoError> {
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    match (reach, literal) {
        (Reach::PublicOnly, Some(ip)) if !is_public_ip(ip) => Err(SsoError::misconfigured(
            "the identity provider names an address the portal may not call",
            format!(
                "{} is on a loopback, private or link-local address (allowed only with [security] allow_private_issuers = true)",
                without_query(url)
            ),
        )),
        _ => Ok(()),
    }
}

/// True when the URL's host is `localhost` or a non-public IP literal.
pub fn names_private_address(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => !is_public_ip(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public_ip(std::net::IpAddr::V6(ip)),
        None => false,
    }
}

pub(super) fn http_client(reach: Reach) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("teamportal/", env!("CARGO_PKG_VERSION")));
    let builder = match reach {
        Reach::Any => builder,
        Reach::PublicOnly => builder.dns_resolver(Arc::new(PublicAddressesOnly)),
    };
    builder
        .build()
        .expect("the HTTP client builds with static settings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ip_literals_are_refused_only_when_only_public_addresses_may_be_reached() {
        for url in [
            "http://127.0.0.1:9464/metrics",
            "http://169.254.169.254/latest/meta-data/",
            "https://10.0.0.5/token",
            "https://[::1]/keys",
            "https://[fd00::1]/keys",
        ] {
            let url = Url::parse(url).expect("url");
            assert!(check_reach(Reach::PublicOnly, &url).is_err(), "{url}");
            assert!(check_reach(Reach::Any, &url).is_ok(), "{url}");
        }
        let public = Url::parse("https://8.8.8.8/keys").expect("url");
        assert!(check_reach(Reach::PublicOnly, &public).is_ok());
        assert!(names_private_address(
            &Url::parse("http://127.0.0.1:4000").expect("url")
        ));
        assert!(names_private_address(
            &Url::parse("http://localhost:4000").expect("url")
        ));
        assert!(!names_private_address(
            &Url::parse("https://acme.okta.com").expect("url")
        ));
    }

    /// The public-only client resolves names itself: a name that resolves to loopback (here
    /// `localhost`, served by a real listener) is never connected to, while the operator's
    /// client reaches it.
    #[tokio::test]
    async fn the_public_only_client_never_connects_to_a_name_that_resolves_to_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = s.read(&mut request).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                    )
                    .await;
            }
        });
        let url = format!("http://localhost:{port}/");
        let any = http_client(Reach::Any).get(&url).send().await;
        assert!(any.is_ok(), "the operator's client connects: {any:?}");
        let public = http_client(Reach::PublicOnly).get(&url).send().await;
        assert!(public.is_err(), "the public-only client must not connect");
    }
}
