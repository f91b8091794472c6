//! OpenID Connect RP-Initiated Logout 1.0: where `POST /logout` sends the browser when its
//! team ends the IdP session too, and the URIs to register at the IdP for logout.

use url::Url;

use super::provider::check_browser_endpoints;
use super::{Registry, SsoError};
use crate::config::TeamConfig;
use crate::crypto;

/// Where the IdP sends the browser back after its logout.
pub fn post_logout_redirect_uri(base: &str) -> String {
    format!("{base}/login")
}

/// The back-channel logout URI to register at the IdP.
pub fn backchannel_logout_uri(base: &str, team: &str) -> String {
    format!("{base}/sso/{team}/backchannel-logout")
}

/// The IdP's end-session URL for a signing-out browser, or `None` when its discovery has
/// no `end_session_endpoint`. For a browser-managed team the endpoint must be on the
/// issuer's host (as the authorize endpoint must), checked before any browser goes there.
pub async fn end_session_url(
    registry: &Registry,
    team: &TeamConfig,
    base: &str,
    id_token_hint: Option<&str>,
) -> Result<Option<Url>, SsoError> {
    let discovery = registry
        .providers
        .discovery(&team.issuer_str(), registry.reach(team))
        .await?;
    if team.browser_managed {
        check_browser_endpoints(&team.issuer, &discovery)?;
    }
    let Some(mut url) = discovery.end_session_endpoint.clone() else {
        return Ok(None);
    };
    {
        let mut q = url.query_pairs_mut();
        if let Some(hint) = id_token_hint {
            q.append_pair("id_token_hint", hint);
        }
        q.append_pair("client_id", &team.client_id)
            .append_pair("post_logout_redirect_uri", &post_logout_redirect_uri(base))
            // Nothing is kept to check it against: the way back is the anonymous sign-in
            // page, which acts on nothing the IdP passes. It is sent because the IdP echoes
            // it and RP-Initiated Logout recommends it.
            .append_pair("state", &crypto::random_string(16));
    }
    Ok(Some(url))
}
