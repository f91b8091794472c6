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

use super::reach::http_clients;
use super::SsoError;

pub use super::answers::{check_status, json_limited, read_limited, without_query, MAX_BODY};
pub use super::endpoints::check_browser_endpoints;
pub use super::reach::{check_reach, names_private_address, Reach};

pub type Jwks = JsonWebKeySet<CoreJsonWebKey>;

/// How long discovery is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// At most one JWKS refresh per issuer in this interval (the first fetch does not count).
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// How long a failed discovery or JWKS fetch is answered from memory.
pub const FAILURE_TTL: Duration = Duration::from_secs(5);
/// Issuers cached at most beside the live teams' own. Browser-managed teams' admins can have
/// any number of issuers tested on `/settings/sso`; past this the least recently used of
/// those is forgotten (and fetched again if it is still needed), so what they cost stays
/// bounded. A live team's issuer is never forgotten for them (see [`Providers::pin`]).
pub const MAX_ISSUERS: usize = 128;
/// Signing keys kept from one JWKS at most (Okta, Entra ID and Google publish a handful). With
/// [`MAX_ISSUERS`] this bounds what the keys hold in memory.
pub const MAX_KEYS: usize = 64;

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

/// Each issuer's cache and the tick it was last asked for at.
#[derive(Default)]
struct Issuers {
    map: HashMap<String, (Arc<IssuerCache>, u64)>,
    tick: u64,
    /// The live teams' issuers: kept whatever else is asked for.
    pinned: std::collections::HashSet<String>,
}

/// A poisoned slot only means a panic elsewhere; its data is still a valid cache state.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Inner {
    http: reqwest::Client,
    public_http: reqwest::Client,
    discovery_ttl: Duration,
    issuers: Mutex<Issuers>,
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
        let (http, public_http) = http_clients();
        Providers {
            inner: Arc::new(Inner {
                http,
                public_http,
                discovery_ttl: ttl,
                issuers: Mutex::default(),
            }),
        }
    }

    /// The client for requests that may reach what `reach` allows.
    pub fn http(&self, reach: Reach) -> &reqwest::Client {
        self.inner.client(reach)
    }

    fn cache(&self, issuer: &str) -> Arc<IssuerCache> {
        let mut issuers = lock(&self.inner.issuers);
        issuers.tick += 1;
        let now = issuers.tick;
        if let Some((cache, used)) = issuers.map.get_mut(issuer) {
            *used = now;
            return cache.clone();
        }
        let unpinned = issuers
            .map
            .keys()
            .filter(|k| !issuers.pinned.contains(*k))
            .count();
        if unpinned >= MAX_ISSUERS {
            // A fetch under way for the forgotten one finishes into its own copy, unharmed.
            let oldest = issuers
                .map
                .iter()
                .filter(|(k, _)| !issuers.pinned.contains(*k))
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                issuers.map.remove(&k);
            }
        }
        let cache = Arc::new(IssuerCache::default());
        issuers.map.insert(issuer.to_string(), (cache.clone(), now));
        cache
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
        let cache = lock(&self.inner.issuers).map.get(issuer)?.0.clone();
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

    /// The live teams' issuers, whose caches are never forgotten to make room (the registry
    /// says so whenever its teams change).
    pub fn pin(&self, issuers: impl IntoIterator<Item = String>) {
        lock(&self.inner.issuers).pinned = issuers.into_iter().collect();
    }

    /// Forgets everything cached about `issuer` (after its settings change).
    pub async fn forget(&self, issuer: &str) {
        lock(&self.inner.issuers).map.remove(issuer);
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
        let jwks: Jwks = self
            .get_json(discovery.jwks_uri.clone(), "signing keys (JWKS)", reach)
            .await?;
        if jwks.keys().len() > MAX_KEYS {
            return Err(SsoError::misconfigured(
                "the identity provider publishes too many signing keys",
                format!(
                    "{} lists {} keys; at most {MAX_KEYS} are accepted",
                    without_query(&discovery.jwks_uri),
                    jwks.keys().len()
                ),
            ));
        }
        Ok(Arc::new(jwks))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_max_issuers_the_least_recently_asked_for_is_forgotten() {
        let p = Providers::new();
        let name = |i: usize| format!("https://idp-{i}.example");
        let kept = p.cache(&name(0));
        for i in 1..MAX_ISSUERS {
            p.cache(&name(i));
        }
        assert!(Arc::ptr_eq(&kept, &p.cache(&name(0))), "asked for again");
        p.cache("https://one-more.example");
        {
            let issuers = lock(&p.inner.issuers);
            assert_eq!(issuers.map.len(), MAX_ISSUERS);
            assert!(issuers.map.contains_key(&name(0)));
            assert!(!issuers.map.contains_key(&name(1)), "the oldest is gone");
            assert!(issuers.map.contains_key(&name(2)));
        }
        // A live team's issuer stays however many others are tested after it.
        p.pin([name(2)]);
        for i in 0..2 * MAX_ISSUERS {
            p.cache(&format!("https://tested-{i}.example"));
        }
        let issuers = lock(&p.inner.issuers);
        assert!(issuers.map.contains_key(&name(2)), "pinned");
        assert!(!issuers.map.contains_key(&name(3)));
        assert_eq!(issuers.map.len(), MAX_ISSUERS + 1);
    }
}
