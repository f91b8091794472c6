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

/// How the portal resolves an IdP's host name. Never on the blocking pool: that pool runs the
/// database's work, and a slow or silent DNS server (a browser-managed team's admin picks the
/// names) would otherwise hold its threads and stall every page.
#[derive(Clone)]
enum Lookup {
    /// The system's resolver configuration (`/etc/resolv.conf`, `/etc/hosts`) read by an
    /// asynchronous stub resolver on the executor.
    Async(Arc<hickory_resolver::TokioResolver>),
    /// Without a readable resolver configuration: getaddrinfo on a thread of its own.
    Thread,
}

/// A lookup gives up after this (twice), well inside the client's 5 s connect timeout.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);

impl Lookup {
    fn system() -> Lookup {
        match hickory_resolver::TokioResolver::builder_tokio() {
            Ok(builder) => Lookup::from_builder(builder, DNS_TIMEOUT),
            Err(e) => {
                tracing::warn!(error = %e, "the system's DNS configuration could not be read; IdP host names are resolved with getaddrinfo");
                Lookup::Thread
            }
        }
    }

    fn from_builder(
        mut builder: hickory_resolver::ResolverBuilder<
            hickory_resolver::name_server::TokioConnectionProvider,
        >,
        timeout: Duration,
    ) -> Lookup {
        let opts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = 2;
        // A and AAAA asked at once, not one after the other.
        opts.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6;
        Lookup::Async(Arc::new(builder.build()))
    }

    async fn ips(&self, host: String) -> Result<Vec<std::net::IpAddr>, BoxError> {
        match self {
            Lookup::Async(resolver) => Ok(resolver.lookup_ip(host).await?.iter().collect()),
            Lookup::Thread => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                std::thread::Builder::new()
                    .name("idp-dns".into())
                    .spawn(move || {
                        use std::net::ToSocketAddrs;
                        let found = (host.as_str(), 0)
                            .to_socket_addrs()
                            .map(|a| a.map(|a| a.ip()).collect::<Vec<_>>());
                        let _ = tx.send(found);
                    })?;
                Ok(rx.await??)
            }
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One resolver (and its cache) for the process.
fn shared_lookup() -> &'static Lookup {
    static LOOKUP: std::sync::OnceLock<Lookup> = std::sync::OnceLock::new();
    LOOKUP.get_or_init(Lookup::system)
}

/// The addresses `host` resolves to, as the IdP clients would resolve it.
pub async fn resolve(host: &str) -> Result<Vec<std::net::IpAddr>, BoxError> {
    shared_lookup().ips(host.to_string()).await
}

/// A DNS resolver for the IdP clients: every address for [`Reach::Any`], only public ones
/// for [`Reach::PublicOnly`].
struct IdpResolver {
    lookup: Lookup,
    reach: Reach,
}

impl reqwest::dns::Resolve for IdpResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (lookup, reach) = (self.lookup.clone(), self.reach);
        Box::pin(async move {
            let found = lookup.ips(name.as_str().to_string()).await?;
            let kept: Vec<std::net::SocketAddr> = found
                .into_iter()
                .filter(|ip| reach == Reach::Any || is_public_ip(*ip))
                .map(|ip| std::net::SocketAddr::new(ip, 0))
                .collect();
            if kept.is_empty() {
                return Err(match reach {
                    Reach::Any => "the host resolves to no address".into(),
                    Reach::PublicOnly => "the host resolves to no public address".into(),
                });
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
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

/// The IdP clients for the operator's teams ([`Reach::Any`]) and for browser-managed ones
/// ([`Reach::PublicOnly`]), sharing one resolver and its cache.
pub(super) fn http_clients() -> (reqwest::Client, reqwest::Client) {
    let lookup = shared_lookup().clone();
    (
        http_client(Reach::Any, lookup.clone()),
        http_client(Reach::PublicOnly, lookup),
    )
}

fn http_client(reach: Reach, lookup: Lookup) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("teamportal/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(IdpResolver { lookup, reach }))
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
        for lookup in [Lookup::system(), Lookup::Thread] {
            let any = http_client(Reach::Any, lookup.clone())
                .get(&url)
                .send()
                .await;
            assert!(any.is_ok(), "the operator's client connects: {any:?}");
            let public = http_client(Reach::PublicOnly, lookup)
                .get(&url)
                .send()
                .await;
            assert!(public.is_err(), "the public-only client must not connect");
        }
    }

    /// Lookups wait on the executor: a DNS server that never answers holds no thread of the
    /// blocking pool, which the database's work needs (here a pool of one thread).
    #[test]
    fn a_silent_dns_server_holds_no_blocking_thread() {
        use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let at = silent.local_addr().expect("addr");
        let lookup = Lookup::from_builder(
            hickory_resolver::TokioResolver::builder_with_config(
                ResolverConfig::from_parts(
                    None,
                    vec![],
                    NameServerConfigGroup::from_ips_clear(&[at.ip()], at.port(), true),
                ),
                Default::default(),
            ),
            Duration::from_millis(200),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(1)
            .build()
            .expect("runtime");
        rt.block_on(async {
            let lookups: Vec<_> = (0..4)
                .map(|i| {
                    let l = lookup.clone();
                    tokio::spawn(async move { l.ips(format!("idp{i}.example.")).await })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(100)).await;
            let database_work =
                tokio::time::timeout(Duration::from_secs(1), tokio::task::spawn_blocking(|| 42))
                    .await;
            assert_eq!(
                database_work.ok().and_then(Result::ok),
                Some(42),
                "the blocking pool is free while four lookups wait"
            );
            for l in lookups {
                assert!(l.await.expect("joined").is_err(), "no answer is an error");
            }
        });
        drop(silent);
    }
}
