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

/// How the portal resolves an IdP's host name: on a runtime thread of its own. Not on the
/// blocking pool, which runs the database's work: a slow or silent DNS server (a
/// browser-managed team's admin picks the names) would hold its threads and stall every page.
/// And not on the actix workers' runtimes either: each is a single thread, and the resolver's
/// background work would run on whichever worker asked first, waiting whenever that worker is
/// busy.
#[derive(Clone)]
struct Lookup {
    /// `None` only when no thread or runtime could be made at all: every lookup then fails
    /// (and says so) rather than the portal not starting.
    dns: Option<tokio::runtime::Handle>,
    /// The system's resolver configuration (`/etc/resolv.conf`, `/etc/hosts`) read by an
    /// asynchronous stub resolver; `None` without a readable configuration: getaddrinfo on the
    /// DNS runtime's own few blocking threads.
    resolver: Option<Arc<hickory_resolver::TokioResolver>>,
}

/// A lookup gives up after this (twice), well inside the client's 5 s connect timeout.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);
/// However the resolver fares, a lookup is answered within this.
const LOOKUP_LIMIT: Duration = Duration::from_secs(5);
/// getaddrinfo lookups at once, when there is no resolver configuration to read.
const GETADDRINFO_THREADS: usize = 4;

type Resolver = hickory_resolver::TokioResolver;

impl Lookup {
    fn system() -> Lookup {
        Lookup::start(|| match Resolver::builder_tokio() {
            Ok(builder) => Some(configured(builder, DNS_TIMEOUT)),
            Err(e) => {
                tracing::warn!(error = %e, "the system's DNS configuration could not be read; IdP host names are resolved with getaddrinfo");
                None
            }
        })
    }

    /// Starts the DNS thread and its runtime, and builds the resolver there.
    fn start(build: impl FnOnce() -> Option<Resolver> + Send + 'static) -> Lookup {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("idp-dns".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .max_blocking_threads(GETADDRINFO_THREADS)
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "the DNS runtime could not start");
                        return;
                    }
                };
                let resolver = rt.block_on(async { build() }).map(Arc::new);
                if tx.send((rt.handle().clone(), resolver)).is_ok() {
                    rt.block_on(std::future::pending::<()>());
                }
            });
        match spawned.ok().and_then(|_| rx.recv().ok()) {
            Some((dns, resolver)) => Lookup {
                dns: Some(dns),
                resolver,
            },
            None => Lookup {
                dns: None,
                resolver: None,
            },
        }
    }

    async fn ips(&self, host: String) -> Result<Vec<std::net::IpAddr>, BoxError> {
        let Some(dns) = &self.dns else {
            return Err("the DNS runtime did not start".into());
        };
        let resolver = self.resolver.clone();
        let task = dns.spawn(async move {
            match resolver {
                Some(r) => Ok(r.lookup_ip(host).await?.iter().collect()),
                None => tokio::task::spawn_blocking(move || {
                    use std::net::ToSocketAddrs;
                    (host.as_str(), 0)
                        .to_socket_addrs()
                        .map(|a| a.map(|a| a.ip()).collect::<Vec<_>>())
                })
                .await?
                .map_err(BoxError::from),
            }
        });
        match tokio::time::timeout(LOOKUP_LIMIT, task).await {
            Ok(joined) => joined?,
            Err(_) => Err("the host name did not resolve in time".into()),
        }
    }
}

fn configured(
    mut builder: hickory_resolver::ResolverBuilder<
        hickory_resolver::name_server::TokioConnectionProvider,
    >,
    timeout: Duration,
) -> Resolver {
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 2;
    // A and AAAA asked at once, not one after the other.
    opts.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6;
    builder.build()
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
        for lookup in [Lookup::system(), Lookup::start(|| None)] {
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

    /// A resolver asking only the DNS server at `at`, with a short timeout.
    fn asking(at: std::net::SocketAddr) -> Lookup {
        use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
        Lookup::start(move || {
            Some(configured(
                Resolver::builder_with_config(
                    ResolverConfig::from_parts(
                        None,
                        vec![],
                        NameServerConfigGroup::from_ips_clear(&[at.ip()], at.port(), true),
                    ),
                    Default::default(),
                ),
                Duration::from_millis(200),
            ))
        })
    }

    /// A DNS server on loopback that answers every A question with 192.0.2.7 (and AAAA
    /// questions with nothing), until the socket is dropped.
    fn answering_dns() -> std::net::SocketAddr {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let at = socket.local_addr().expect("addr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                // Header, then the question: name labels up to the 0 byte, type, class.
                let Some(end) = buf[12..n].iter().position(|b| *b == 0).map(|p| 12 + p + 5) else {
                    continue;
                };
                let is_a = buf[end - 4..end - 2] == [0, 1];
                let mut answer = buf[..end].to_vec();
                answer[2] = 0x81; // a response, recursion desired
                answer[3] = 0x80; // recursion available, no error
                answer[6..8].copy_from_slice(&[0, u8::from(is_a)]);
                answer[8..12].fill(0);
                if is_a {
                    // The name by pointer to the question, A, IN, TTL 60, 4 bytes.
                    answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                    answer.extend_from_slice(&[192, 0, 2, 7]);
                }
                let _ = socket.send_to(&answer, from);
            }
        });
        at
    }

    /// Each actix worker is a single-threaded runtime. A lookup asked from one must not
    /// depend on another being free: the worker that asked first is busy here for two
    /// seconds, and a second worker's lookup is answered all the same.
    #[test]
    fn a_lookup_does_not_wait_for_the_worker_that_asked_first() {
        let lookup = asking(answering_dns());
        let first = lookup.clone();
        let busy = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let ips = first.ips("idp.example.".into()).await.expect("answered");
                assert_eq!(ips, vec![std::net::IpAddr::from([192, 0, 2, 7])]);
                // Busy, as a worker rendering a large page or blocked on a lock is.
                std::thread::sleep(Duration::from_secs(2));
            });
        });
        std::thread::sleep(Duration::from_millis(200));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let started = std::time::Instant::now();
        let ips = rt
            .block_on(lookup.ips("other.example.".into()))
            .expect("answered");
        assert_eq!(ips, vec![std::net::IpAddr::from([192, 0, 2, 7])]);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "answered in {:?}, not after the first worker's two seconds",
            started.elapsed()
        );
        busy.join().expect("first worker");
    }

    /// Lookups wait on the executor: a DNS server that never answers holds no thread of the
    /// blocking pool, which the database's work needs (here a pool of one thread).
    #[test]
    fn a_silent_dns_server_holds_no_blocking_thread() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let lookup = asking(silent.local_addr().expect("addr"));
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
