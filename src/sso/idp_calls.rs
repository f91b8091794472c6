//! The portal's own calls to the IdP during a sign-in: the code exchange at the token
//! endpoint (client authentication as configured) and userinfo, each bounded in size.

use serde::Deserialize;
use url::Url;

use super::flow::{error_code, no_token_endpoint};
use super::id_token::GroupsClaim;
use super::provider::{check_status, Discovery};
use super::{redirect_uri, Registry, SsoError};
use crate::config::{ClientAuth, TeamConfig};

#[derive(Deserialize)]
pub(super) struct TokenResponse {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
}

pub(super) async fn exchange_code(
    registry: &Registry,
    discovery: &Discovery,
    team: &TeamConfig,
    base: &str,
    code: &str,
    verifier: &str,
) -> Result<TokenResponse, SsoError> {
    let endpoint = discovery
        .token_endpoint
        .clone()
        .ok_or_else(no_token_endpoint)?;
    let redirect = redirect_uri(base, team.id.as_str());
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier),
    ];
    let reach = registry.reach(team);
    super::provider::check_reach(reach, &endpoint)?;
    let mut req = registry
        .providers
        .http(reach)
        .post(endpoint)
        .header("Accept", "application/json");
    match team.client_auth {
        ClientAuth::Basic => {
            // RFC 6749 2.3.1: both parts form-urlencoded before base64.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.basic_auth(enc(&team.client_id), Some(enc(team.client_secret.expose())));
        }
        ClientAuth::Post => {
            form.push(("client_id", team.client_id.as_str()));
            form.push(("client_secret", team.client_secret.expose()));
        }
    }
    let resp = req
        .form(&form)
        .send()
        .await
        .map_err(SsoError::from_transport)?;
    let status = resp.status();
    if status == reqwest::StatusCode::BAD_REQUEST || status == reqwest::StatusCode::UNAUTHORIZED {
        #[derive(Deserialize)]
        struct OauthError {
            error: Option<String>,
        }
        let body: Option<OauthError> = super::provider::read_limited(resp)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        // The page quotes the OAuth error code, never the upstream status.
        let error = body
            .and_then(|b| b.error)
            .map(|e| error_code(&e))
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "no error code".into());
        return Err(match error.as_str() {
            "invalid_client" | "unauthorized_client" => SsoError::misconfigured(
                "the identity provider refused teamportal's client credentials (invalid_client): check client_id and the client secret",
                format!("the token endpoint answered {status} {error}"),
            ),
            _ => SsoError::Invalid(format!(
                "The identity provider did not accept the sign-in code ({error}). Start the sign-in again."
            )),
        });
    }
    let resp = check_status(resp)?;
    super::provider::json_limited::<TokenResponse>(resp, "token endpoint").await
}

#[derive(Deserialize)]
pub(super) struct UserInfo {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: Option<serde_json::Value>,
    pub name: Option<String>,
    #[serde(flatten)]
    pub groups: GroupsClaim,
}

pub(super) async fn userinfo(
    registry: &Registry,
    reach: super::provider::Reach,
    endpoint: &Url,
    access_token: &str,
) -> Result<UserInfo, SsoError> {
    super::provider::check_reach(reach, endpoint)?;
    let resp = registry
        .providers
        .http(reach)
        .get(endpoint.clone())
        .bearer_auth(access_token)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(SsoError::from_transport)?;
    let resp = check_status(resp)?;
    super::provider::json_limited::<UserInfo>(resp, "userinfo endpoint").await
}
