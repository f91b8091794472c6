//! Talking to identity providers: discovery and JWKS, cached per issuer, with a JWKS refresh
//! on an unknown `kid` at most once per issuer per ten seconds. Endpoints always come from
//! discovery; nothing is built by hand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::CoreJsonWebKey;
use openidconnect::JsonWebKeySet;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::SsoError;

pub type Jwks = JsonWebKeySet<CoreJsonWebKey>;

/// How long discovery is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// At most one JWKS refresh per issuer in this interval (the first fetch does not count).
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

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

#[derive(Default)]
struct Entry {
    discovery: Option<(Arc<Discovery>, Instant)>,
    jwks: Option<Arc<Jwks>>,
    last_refresh: Option<Instant>,
}

/// Shared HTTP client and per-issuer caches.
pub struct Providers {
    http: reqwest::Client,
    entries: Mutex<HashMap<String, Arc<Mutex<Entry>>>>,
}

impl Providers {
    pub fn new() -> Providers {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("teamportal/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds with static settings");
        Providers {
            http,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    async fn entry(&self, issuer: &str) -> Arc<Mutex<Entry>> {
        self.entries
            .lock()
            .await
            .entry(issuer.to_string())
            .or_default()
            .clone()
    }

    /// Discovery for `issuer`, cached; its `issuer` must equal the configured one exactly.
    pub async fn discovery(&self, issuer: &str) -> Result<Arc<Discovery>, SsoError> {
        let entry = self.entry(issuer).await;
        let mut e = entry.lock().await;
        if let Some((d, at)) = &e.discovery {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(d.clone());
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        match self.get_json::<Discovery>(&url).await {
            Ok(d) => {
                if d.issuer != issuer {
                    return Err(SsoError::Misconfigured(format!(
                        "the identity provider's discovery document names the issuer {:?}, but this team is configured with {:?}",
                        d.issuer, issuer
                    )));
                }
                let d = Arc::new(d);
                e.discovery = Some((d.clone(), Instant::now()));
                Ok(d)
            }
            // A stale copy beats an outage: keys and endpoints rarely move.
            Err(err) => match &e.discovery {
                Some((d, _)) => {
                    tracing::warn!(issuer, error = %err, "discovery refresh failed; using the cached copy");
                    Ok(d.clone())
                }
                None => Err(err),
            },
        }
    }

    /// The cached JWKS, fetched on first use.
    pub async fn jwks(&self, issuer: &str, discovery: &Discovery) -> Result<Arc<Jwks>, SsoError> {
        let entry = self.entry(issuer).await;
        let mut e = entry.lock().await;
        if let Some(j) = &e.jwks {
            return Ok(j.clone());
        }
        let j = Arc::new(self.get_json::<Jwks>(discovery.jwks_uri.as_str()).await?);
        e.jwks = Some(j.clone());
        Ok(j)
    }

    /// Refetches the JWKS after an unknown `kid`, unless one was refetched less than
    /// [`JWKS_REFRESH_INTERVAL`] ago; `None` when the refresh was not allowed.
    pub async fn refresh_jwks(
        &self,
        issuer: &str,
        discovery: &Discovery,
    ) -> Result<Option<Arc<Jwks>>, SsoError> {
        let entry = self.entry(issuer).await;
        let mut e = entry.lock().await;
        if e.last_refresh
            .is_some_and(|t| t.elapsed() < JWKS_REFRESH_INTERVAL)
        {
            return Ok(None);
        }
        e.last_refresh = Some(Instant::now());
        let j = Arc::new(self.get_json::<Jwks>(discovery.jwks_uri.as_str()).await?);
        e.jwks = Some(j.clone());
        tracing::info!(issuer, "refreshed the identity provider's signing keys");
        Ok(Some(j))
    }

    /// Forgets everything cached about `issuer` (after its settings change).
    pub async fn forget(&self, issuer: &str) {
        self.entries.lock().await.remove(issuer);
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, SsoError> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(SsoError::from_transport)?;
        let resp = check_status(resp)?;
        let bytes = resp.bytes().await.map_err(SsoError::from_transport)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            SsoError::Misconfigured(format!("{url} did not answer with the expected JSON: {e}"))
        })
    }
}

impl Default for Providers {
    fn default() -> Self {
        Self::new()
    }
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
            "the identity provider answered {status}"
        )))
    } else {
        Err(SsoError::Misconfigured(format!(
            "{} answered {status}",
            resp.url().as_str().split('?').next().unwrap_or_default()
        )))
    }
}

/// The most an IdP answer may weigh; a hostile IdP cannot exhaust memory.
pub const MAX_BODY: usize = 1024 * 1024;

/// Reads a response body of at most [`MAX_BODY`] bytes.
pub async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, SsoError> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(SsoError::Misconfigured(
            "the identity provider's answer is too large".into(),
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(SsoError::from_transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(SsoError::Misconfigured(
                "the identity provider's answer is too large".into(),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and parses a JSON answer of bounded size.
pub async fn json_limited<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &str,
) -> Result<T, SsoError> {
    let body = read_limited(resp).await?;
    serde_json::from_slice(&body).map_err(|_| {
        SsoError::Misconfigured(format!("the {what} did not answer with the expected JSON"))
    })
}
