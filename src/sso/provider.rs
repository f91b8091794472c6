//! Talking to identity providers: discovery and JWKS, cached per issuer, with a JWKS refresh
//! on an unknown `kid` at most once per issuer per ten seconds. Endpoints always come from
//! discovery; nothing is built by hand.
//!
//! An IdP may be chosen by one team's admin and hostile to everyone else, so what it can
//! cost the instance is bounded: every answer is read up to [`MAX_BODY`]; discovery and JWKS
//! fetches are single-flight per issuer (concurrent sign-ins wait for the one fetch under
//! way); a failed fetch is remembered for [`FAILURE_TTL`] so a failing IdP is not asked again
//! by every sign-in; and an expired discovery copy is served while one background refresh
//! runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openidconnect::core::CoreJsonWebKey;
use openidconnect::JsonWebKeySet;
use serde::Deserialize;
use url::Url;

use super::SsoError;
use crate::config::is_loopback_host;
use crate::domain::net::is_public_ip;

pub type Jwks = JsonWebKeySet<CoreJsonWebKey>;

/// How long discovery is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// At most one JWKS refresh per issuer in this interval (the first fetch does not count).
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// How long a failed discovery or JWKS fetch is answered from memory.
pub const FAILURE_TTL: Duration = Duration::from_secs(5);

/// The parts of the OpenID Provider Metadata teamportal uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Option<Url>,
    pub userinfo_endpoint: Option<Url>,
    pub jwks_uri: Url,
    pub end_session_endpoint: Option<Url>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

/// One cached document (discovery or JWKS) of one issuer.
struct Slot<T> {
    /// The last good copy and when it was fetched.
    value: Option<(Arc<T>, Instant)>,
    /// The last failed fetch, answered again until [`FAILURE_TTL`] has passed.
    failure: Option<(SsoError, Instant)>,
    /// A background refresh of an expired copy is under way.
    refreshing: bool,
    /// The last JWKS refresh for an unknown `kid`.
    last_forced: Option<Instant>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            value: None,
            failure: None,
            refreshing: false,
            last_forced: None,
        }
    }
}

impl<T> Slot<T> {
    fn recent_failure(&self) -> Option<&SsoError> {
        self.failure
            .as_ref()
            .filter(|(_, at)| at.elapsed() < FAILURE_TTL)
            .map(|(e, _)| e)
    }

    fn record(&mut self, result: &Result<Arc<T>, SsoError>) {
        match result {
            Ok(v) => {
                self.value = Some((v.clone(), Instant::now()));
                self.failure = None;
            }
            Err(e) => self.failure = Some((e.clone(), Instant::now())),
        }
    }
}

/// What the cache can answer without waiting.
enum Look<T> {
    Fresh(Arc<T>),
    /// An expired copy; `true` when this caller is to start the refresh.
    Stale(Arc<T>, bool),
    Failed(SsoError),
    Miss,
}

fn look<T>(slot: &mut Slot<T>, ttl: Duration) -> Look<T> {
    if let Some((v, at)) = &slot.value {
        if at.elapsed() < ttl {
            return Look::Fresh(v.clone());
        }
        // After a failed refresh the stale copy is served until the failure expires.
        let refresh = !slot.refreshing && slot.recent_failure().is_none();
        let v = v.clone();
        if refresh {
            slot.refreshing = true;
        }
        return Look::Stale(v, refresh);
    }
    match slot.recent_failure() {
        Some(e) => Look::Failed(e.clone()),
        None => Look::Miss,
    }
}

/// Everything cached about one issuer. The `std` mutexes guard the slots only for a few
/// instructions; the `tokio` ones are held across a fetch, making it single-flight.
#[derive(Default)]
struct IssuerCache {
    discovery: Mutex<Slot<Discovery>>,
    discovery_fetch: tokio::sync::Mutex<()>,
    jwks: Mutex<Slot<Jwks>>,
    jwks_fetch: tokio::sync::Mutex<()>,
}

/// A poisoned slot only means a panic elsewhere; its data is still a valid cache state.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

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

fn http_client(reach: Reach) -> reqwest::Client {
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

struct Inner {
    http: reqwest::Client,
    public_http: reqwest::Client,
    discovery_ttl: Duration,
    issuers: Mutex<HashMap<String, Arc<IssuerCache>>>,
}

/// Shared HTTP client and per-issuer caches.
pub struct Providers {
    inner: Arc<Inner>,
}

impl Providers {
    pub fn new() -> Providers {
        Providers::with_discovery_ttl(DISCOVERY_TTL)
    }

    /// With discovery trusted for `ttl` (tests use zero to exercise refreshes).
    pub fn with_discovery_ttl(ttl: Duration) -> Providers {
        Providers {
            inner: Arc::new(Inner {
                http: http_client(Reach::Any),
                public_http: http_client(Reach::PublicOnly),
                discovery_ttl: ttl,
                issuers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The client for requests that may reach what `reach` allows.
    pub fn http(&self, reach: Reach) -> &reqwest::Client {
        self.inner.client(reach)
    }

    fn cache(&self, issuer: &str) -> Arc<IssuerCache> {
        lock(&self.inner.issuers)
            .entry(issuer.to_string())
            .or_default()
            .clone()
    }

    /// Discovery for `issuer`, cached; its `issuer` must equal the configured one exactly.
    pub async fn discovery(&self, issuer: &str, reach: Reach) -> Result<Arc<Discovery>, SsoError> {
        let cache = self.cache(issuer);
        if let Some(answer) = self.discovery_from(&cache, issuer, reach) {
            return answer;
        }
        let _flight = cache.discovery_fetch.lock().await;
        // The fetch this one waited for may have answered already.
        if let Some(answer) = self.discovery_from(&cache, issuer, reach) {
            return answer;
        }
        let result = self.inner.fetch_discovery(issuer, reach).await;
        lock(&cache.discovery).record(&result);
        result
    }

    /// What the cache says about discovery, starting a background refresh of an expired
    /// copy; `None` when a fetch is needed.
    fn discovery_from(
        &self,
        cache: &Arc<IssuerCache>,
        issuer: &str,
        reach: Reach,
    ) -> Option<Result<Arc<Discovery>, SsoError>> {
        let seen = look(&mut lock(&cache.discovery), self.inner.discovery_ttl);
        match seen {
            Look::Fresh(d) => Some(Ok(d)),
            Look::Stale(d, refresh) => {
                if refresh {
                    self.refresh_in_background(cache.clone(), issuer.to_string(), reach);
                }
                Some(Ok(d))
            }
            Look::Failed(e) => Some(Err(e)),
            Look::Miss => None,
        }
    }

    fn refresh_in_background(&self, cache: Arc<IssuerCache>, issuer: String, reach: Reach) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let _flight = cache.discovery_fetch.lock().await;
            let result = inner.fetch_discovery(&issuer, reach).await;
            if let Err(e) = &result {
                tracing::warn!(issuer, error = %e, "discovery refresh failed; using the cached copy");
            }
            let mut slot = lock(&cache.discovery);
            slot.refreshing = false;
            slot.record(&result);
        });
    }

    /// Whatever discovery copy is in memory, however old, without asking the IdP.
    pub fn cached_discovery(&self, issuer: &str) -> Option<Arc<Discovery>> {
        let cache = lock(&self.inner.issuers).get(issuer).cloned()?;
        let slot = lock(&cache.discovery);
        slot.value.as_ref().map(|(d, _)| d.clone())
    }

    /// The cached JWKS, fetched on first use.
    pub async fn jwks(
        &self,
        issuer: &str,
        discovery: &Discovery,
        reach: Reach,
    ) -> Result<Arc<Jwks>, SsoError> {
        let cache = self.cache(issuer);
        if let Some(answer) = jwks_from(&cache) {
            return answer;
        }
        let _flight = cache.jwks_fetch.lock().await;
        if let Some(answer) = jwks_from(&cache) {
            return answer;
        }
        let result = self.inner.fetch_jwks(discovery, reach).await;
        lock(&cache.jwks).record(&result);
        result
    }

    /// Refetches the JWKS after `seen` lacked a token's `kid`, unless one was refetched less
    /// than [`JWKS_REFRESH_INTERVAL`] ago; `None` when the refresh was not allowed. A sign-in
    /// that waited for another one's refresh gets that refresh's keys.
    pub async fn refresh_jwks(
        &self,
        issuer: &str,
        discovery: &Discovery,
        seen: &Arc<Jwks>,
        reach: Reach,
    ) -> Result<Option<Arc<Jwks>>, SsoError> {
        let cache = self.cache(issuer);
        let _flight = cache.jwks_fetch.lock().await;
        {
            let mut slot = lock(&cache.jwks);
            if let Some((current, _)) = &slot.value {
                if !Arc::ptr_eq(current, seen) {
                    return Ok(Some(current.clone()));
                }
            }
            if slot
                .last_forced
                .is_some_and(|t| t.elapsed() < JWKS_REFRESH_INTERVAL)
            {
                return Ok(None);
            }
            slot.last_forced = Some(Instant::now());
        }
        let fresh = self.inner.fetch_jwks(discovery, reach).await?;
        lock(&cache.jwks).record(&Ok(fresh.clone()));
        tracing::info!(issuer, "refreshed the identity provider's signing keys");
        Ok(Some(fresh))
    }

    /// Forgets everything cached about `issuer` (after its settings change).
    pub async fn forget(&self, issuer: &str) {
        lock(&self.inner.issuers).remove(issuer);
    }
}

fn jwks_from(cache: &IssuerCache) -> Option<Result<Arc<Jwks>, SsoError>> {
    // The JWKS does not expire; it is refreshed only for an unknown `kid`.
    match look(&mut lock(&cache.jwks), Duration::MAX) {
        Look::Fresh(j) | Look::Stale(j, _) => Some(Ok(j)),
        Look::Failed(e) => Some(Err(e)),
        Look::Miss => None,
    }
}

impl Inner {
    fn client(&self, reach: Reach) -> &reqwest::Client {
        match reach {
            Reach::Any => &self.http,
            Reach::PublicOnly => &self.public_http,
        }
    }

    async fn fetch_discovery(
        &self,
        issuer: &str,
        reach: Reach,
    ) -> Result<Arc<Discovery>, SsoError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let url = Url::parse(&url)
            .map_err(|e| SsoError::misconfigured("the issuer is not a valid URL", e.to_string()))?;
        let d: Discovery = self.get_json(url, "discovery document", reach).await?;
        if d.issuer != issuer {
            return Err(SsoError::misconfigured(
                "the identity provider's discovery document names another issuer than the one this team is configured with",
                format!(
                    "the discovery document names the issuer {:?}, but this team is configured with {:?}",
                    d.issuer, issuer
                ),
            ));
        }
        Ok(Arc::new(d))
    }

    async fn fetch_jwks(&self, discovery: &Discovery, reach: Reach) -> Result<Arc<Jwks>, SsoError> {
        self.get_json(discovery.jwks_uri.clone(), "signing keys (JWKS)", reach)
            .await
            .map(Arc::new)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        what: &'static str,
        reach: Reach,
    ) -> Result<T, SsoError> {
        check_reach(reach, &url)?;
        let resp = self
            .client(reach)
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(SsoError::from_transport)?;
        json_limited(check_status(resp)?, what).await
    }
}

impl Default for Providers {
    fn default() -> Self {
        Self::new()
    }
}

/// A URL as it may appear in a log line or an admin's page: without its query.
pub fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// Maps an IdP's HTTP status to the error a person should see.
pub fn check_status(resp: reqwest::Response) -> Result<reqwest::Response, SsoError> {
    let status = resp.status();
    if status.is_success() {
        Ok(resp)
    } else if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(SsoError::RateLimited)
    } else if status.is_server_error() {
        Err(SsoError::Unavailable(format!(
            "{} answered {status}",
            without_query(resp.url())
        )))
    } else {
        Err(SsoError::misconfigured(
            "the identity provider refused a request from teamportal",
            format!("{} answered {status}", without_query(resp.url())),
        ))
    }
}

/// The most an IdP answer may weigh; a hostile IdP cannot exhaust memory.
pub const MAX_BODY: usize = 1024 * 1024;

const TOO_LARGE: &str = "the identity provider's answer is too large";

/// Reads a response body of at most [`MAX_BODY`] bytes, chunk by chunk, stopping at the
/// limit (a declared length over it is refused before reading).
pub async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, SsoError> {
    let url = without_query(resp.url());
    let too_large = || SsoError::misconfigured(TOO_LARGE, format!("{url} sent more than 1 MiB"));
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(SsoError::from_transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and parses a JSON answer of bounded size.
pub async fn json_limited<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &'static str,
) -> Result<T, SsoError> {
    let url = without_query(resp.url());
    let body = read_limited(resp).await?;
    serde_json::from_slice(&body).map_err(|e| {
        SsoError::misconfigured(
            "the identity provider's answer could not be read",
            format!("the {what} at {url} is not the expected JSON: {e}"),
        )
    })
}

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
