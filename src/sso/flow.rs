//! The authorization code flow: building the authorize redirect (state, nonce and PKCE kept
//! server-side) and finishing it at the callback (OIDC Core 3.1.3.7 validation, RFC 9207
//! `iss`, userinfo only for missing claims, email trust).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, ClientSecret, IdToken, IdTokenVerifier,
    IssuerUrl, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::provider::{check_browser_endpoints, check_status, Discovery, Jwks};
use super::{redirect_uri, scopes, Registry, SsoError};
use crate::config::{ClientAuth, TeamConfig};
use crate::crypto;
use crate::domain::Email;
use crate::store::logins::{self, PendingLogin};
use crate::store::users::Identity;
use crate::store::{now, Store, StoreError};

/// The `groups` claim, the one non-standard claim teamportal reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupsClaim {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "groups_lenient"
    )]
    pub groups: Option<Vec<String>>,
}
impl AdditionalClaims for GroupsClaim {}

/// Some IdPs send a single group as a string.
fn groups_lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum G {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<G>::deserialize(d)?.map(|g| match g {
        G::One(s) => vec![s],
        G::Many(v) => v,
    }))
}

pub type OidcIdToken = IdToken<
    GroupsClaim,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

impl From<StoreError> for SsoError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error during sign-in");
        SsoError::Unavailable("the portal's database did not answer".into())
    }
}

pub struct StartRequest {
    pub team: Arc<TeamConfig>,
    /// Binds the pending login to the browser that starts it (its sign-in binding cookie).
    pub browser: String,
    pub purpose: crate::store::logins::LoginPurpose,
    /// Started from one of the portal's own CSRF-protected forms (`POST /login/sso`, the
    /// admin's test on `/settings/sso`); false for `/sso/{team}/login` and `initiate`, which
    /// another site can make a browser follow.
    pub from_form: bool,
    pub return_to: Option<String>,
    pub login_hint: Option<String>,
}

/// Prepares a sign-in and returns the IdP's authorize URL to redirect the browser to.
/// Discovery (and its issuer check) happens before any redirect, and so does, for a team
/// whose admin chose its IdP, the check that the browser stays on the IdP's own host.
pub async fn start(
    registry: &Registry,
    store: &Store,
    base: &str,
    req: StartRequest,
) -> Result<Url, SsoError> {
    let team = &req.team;
    let issuer = team.issuer_str();
    let discovery = registry
        .providers
        .discovery(&issuer, registry.reach(team))
        .await?;
    if discovery.token_endpoint.is_none() {
        return Err(no_token_endpoint());
    }
    if team.browser_managed {
        check_browser_endpoints(&team.issuer, &discovery)?;
    }

    let state = crypto::random_string(32);
    let nonce = crypto::random_string(32);
    let verifier = crypto::random_string(32);
    let challenge = URL_SAFE_NO_PAD.encode(crypto::sha256(verifier.as_bytes()));

    let mut url = discovery.authorization_endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &team.client_id)
            .append_pair("redirect_uri", &redirect_uri(base, team.id.as_str()))
            .append_pair("scope", &scopes(team).join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = req
            .login_hint
            .as_deref()
            .filter(|h| !h.is_empty() && h.len() <= 256)
        {
            q.append_pair("login_hint", hint);
        }
    }

    let pending = PendingLogin {
        state,
        team_id: team.id.as_str().to_string(),
        browser: req.browser,
        nonce,
        pkce_verifier: verifier,
        return_to: req.return_to,
        created_at: now(),
        purpose: req.purpose,
        from_form: req.from_form,
    };
    store
        .run(move |c| {
            logins::purge_expired(c)?;
            logins::insert(c, &pending)
        })
        .await?;
    Ok(url)
}

/// Query parameters of the redirect back from the IdP.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

pub struct Finished {
    pub identity: Identity,
    pub return_to: Option<String>,
    /// The pending sign-in was started from a portal form (see [`StartRequest::from_form`]).
    pub from_form: bool,
}

fn invalid(why: &str) -> SsoError {
    SsoError::Invalid(why.to_string())
}

fn no_token_endpoint() -> SsoError {
    SsoError::misconfigured("the discovery document has no token_endpoint", "")
}

/// An OAuth error code as a page may quote it: the IdP (or whoever crafted the redirect)
/// chooses it, so only the characters such codes use (RFC 6749 names like
/// `invalid_grant`) and no more than 64 of them.
fn error_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
        .take(64)
        .collect()
}

/// Takes the pending login named by the response's `state`: started in this browser (checked
/// before anything is removed, so another browser presenting the state cannot burn it), then
/// single use (removed whether or not what follows succeeds), unexpired and for this team.
pub async fn take_pending(
    store: &Store,
    team_id: &str,
    browser: Option<String>,
    params: &CallbackParams,
) -> Result<PendingLogin, SsoError> {
    let state = params
        .state
        .clone()
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| {
            invalid("The sign-in response has no state. Start the sign-in again from the portal.")
        })?;
    let taken = store
        .run(move |c| {
            logins::take(c, &state, |started_in| {
                browser
                    .as_deref()
                    .is_some_and(|b| crypto::same(b, started_in))
            })
        })
        .await?;
    let pending =
        match taken {
            logins::Taken::Login(p) => p,
            logins::Taken::Unknown => return Err(invalid(
                "This sign-in link has already been used or is unknown. Start the sign-in again.",
            )),
            logins::Taken::OtherBrowser => {
                return Err(invalid(
                    "This sign-in was started in another browser. Start it again here.",
                ))
            }
        };
    if now() - pending.created_at > logins::LIFETIME_SECS {
        return Err(invalid(
            "This sign-in took longer than 10 minutes and has expired. Start it again.",
        ));
    }
    if pending.team_id != team_id {
        return Err(invalid(
            "This sign-in was started for another team. Start it again.",
        ));
    }
    Ok(pending)
}

/// Validates the IdP's answer for a taken pending login and returns the verified identity.
/// Nothing is created here: admission is the store's job once this succeeds.
pub async fn finish(
    registry: &Registry,
    base: &str,
    team: &TeamConfig,
    pending: PendingLogin,
    params: CallbackParams,
) -> Result<Finished, SsoError> {
    let issuer = team.issuer_str();
    if let Some(error) = params.error.as_deref() {
        if error == "access_denied" {
            return Err(SsoError::AccessDenied(params.error_description.clone()));
        }
        return Err(SsoError::Invalid(format!(
            "The identity provider refused the sign-in ({}).",
            error_code(error)
        )));
    }

    let discovery = registry
        .providers
        .discovery(&issuer, registry.reach(team))
        .await?;
    // RFC 9207: the authorization response names its issuer (mix-up attack defence).
    match params.iss.as_deref() {
        Some(iss) if iss != issuer => {
            return Err(invalid(
                "The sign-in response came from another identity provider (iss mismatch).",
            ))
        }
        None if discovery.authorization_response_iss_parameter_supported => {
            return Err(invalid(
                "The sign-in response lacks the iss parameter its identity provider promises.",
            ))
        }
        _ => {}
    }
    let code = params
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| invalid("The sign-in response has no authorization code."))?;

    let tokens = exchange_code(
        registry,
        &discovery,
        team,
        base,
        code,
        &pending.pkce_verifier,
    )
    .await?;
    let id_token: OidcIdToken = tokens
        .id_token
        .as_deref()
        .ok_or_else(|| invalid("The identity provider returned no ID token."))?
        .parse()
        .map_err(|_| invalid("The identity provider returned a malformed ID token."))?;

    let claims = verify_id_token(
        registry,
        &discovery,
        team,
        &issuer,
        &id_token,
        &pending.nonce,
    )
    .await?;
    let subject = claims.subject().as_str().to_string();
    if subject.is_empty() {
        return Err(invalid("The ID token has an empty subject."));
    }

    let mut email = claims.email().map(|e| e.as_str().to_string());
    let mut email_verified = claims.email_verified();
    let mut name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_string());
    let mut groups = claims.additional_claims().groups.clone();

    let wants_groups = !team.admin_groups.is_empty();
    let needed = email.is_none()
        || (email_verified.is_none() && !team.trust_email)
        || name.is_none()
        || (wants_groups && groups.is_none());
    // `admin_email` needs the IdP's own word that the email is verified, trust_email or not:
    // worth asking userinfo for, but a sign-in that needs nothing else goes on without it.
    let for_admin_email = email_verified.is_none()
        && email
            .as_deref()
            .and_then(Email::parse)
            .is_some_and(|e| team.admin_email.as_ref() == Some(&e));
    if needed || for_admin_email {
        if let (Some(endpoint), Some(access)) =
            (&discovery.userinfo_endpoint, tokens.access_token.as_deref())
        {
            match userinfo(registry, registry.reach(team), endpoint, access).await {
                Ok(info) => {
                    if info.sub != subject {
                        return Err(invalid(
                            "The identity provider's userinfo is about another person (sub mismatch).",
                        ));
                    }
                    email = email.or(info.email);
                    email_verified =
                        email_verified.or(info.email_verified.and_then(|v| v.as_bool()));
                    name = name.or(info.name);
                    groups = groups.or(info.groups.groups);
                }
                Err(e) if needed => return Err(e),
                Err(e) => {
                    tracing::info!(team = %team.id, error = %e, "userinfo did not answer; the admin_email account is not treated as verified")
                }
            }
        }
    }

    let email = email.ok_or(SsoError::NoEmail)?;
    let email = Email::parse(&email).ok_or(SsoError::NoEmail)?;
    if email_verified != Some(true) && !team.trust_email {
        return Err(SsoError::EmailNotVerified);
    }
    Ok(Finished {
        identity: Identity {
            issuer,
            subject,
            email,
            email_verified: email_verified == Some(true),
            name: crate::domain::text::strip_unsafe(&name.unwrap_or_default())
                .chars()
                .take(200)
                .collect(),
            groups,
        },
        return_to: pending.return_to,
        from_form: pending.from_form,
    })
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    id_token: Option<String>,
}

async fn exchange_code(
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

async fn verify_id_token<'t>(
    registry: &Registry,
    discovery: &Discovery,
    team: &TeamConfig,
    issuer: &str,
    token: &'t OidcIdToken,
    nonce: &str,
) -> Result<&'t openidconnect::IdTokenClaims<GroupsClaim, CoreGenderClaim>, SsoError> {
    let reach = registry.reach(team);
    let jwks = registry.providers.jwks(issuer, discovery, reach).await?;
    let claims = match check_claims(team, issuer, jwks.clone(), token, nonce) {
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            // Unknown kid: the IdP may have rotated its keys. Refresh once (rate limited).
            match registry
                .providers
                .refresh_jwks(issuer, discovery, &jwks, reach)
                .await?
            {
                Some(fresh) => check_claims(team, issuer, fresh, token, nonce).map_err(refusal)?,
                None => return Err(invalid("The ID token is signed with an unknown key.")),
            }
        }
        other => other.map_err(refusal)?,
    };
    check_authorized_party(claims, &team.client_id)?;
    Ok(claims)
}

/// OIDC Core 3.1.3.7 step 5, which the openidconnect crate leaves out: an `azp` claim, when
/// present, must name this client. Otherwise the token was issued to another application
/// of the same IdP (the audience alone does not prove it was meant for us).
fn check_authorized_party(
    claims: &openidconnect::IdTokenClaims<GroupsClaim, CoreGenderClaim>,
    client_id: &str,
) -> Result<(), SsoError> {
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != client_id => {
            tracing::warn!(azp = ?azp.as_str(), "ID token refused: azp is another client");
            Err(invalid(
                "The ID token was issued to another application (azp is not this portal's client ID).",
            ))
        }
        _ => Ok(()),
    }
}

fn refusal(e: ClaimsVerificationError) -> SsoError {
    tracing::warn!(error = %e, "ID token refused");
    let why = match e {
        ClaimsVerificationError::Expired(_) => "The ID token has expired.",
        ClaimsVerificationError::InvalidAudience(_) => {
            "The ID token was issued for another application."
        }
        ClaimsVerificationError::InvalidIssuer(_) => {
            "The ID token was issued by another identity provider."
        }
        ClaimsVerificationError::InvalidNonce(_) => {
            "The ID token does not belong to this sign-in (nonce)."
        }
        ClaimsVerificationError::SignatureVerification(_) => {
            "The ID token's signature is not valid."
        }
        _ => "The ID token is not valid.",
    };
    invalid(why)
}

fn check_claims<'t>(
    team: &TeamConfig,
    issuer: &str,
    jwks: Arc<Jwks>,
    token: &'t OidcIdToken,
    nonce: &str,
) -> Result<&'t openidconnect::IdTokenClaims<GroupsClaim, CoreGenderClaim>, ClaimsVerificationError>
{
    let issuer_url = IssuerUrl::new(issuer.to_string())
        .map_err(|e| ClaimsVerificationError::Other(e.to_string()))?;
    let verifier = IdTokenVerifier::new_confidential_client(
        ClientId::new(team.client_id.clone()),
        ClientSecret::new(team.client_secret.expose().to_string()),
        issuer_url,
        (*jwks).clone(),
    )
    // Asymmetric signatures only: never `none`, never the client secret as an HMAC key.
    .set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha384,
        CoreJwsSigningAlgorithm::RsaSsaPssSha512,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EcdsaP384Sha384,
        CoreJwsSigningAlgorithm::EdDsa,
    ])
    .set_issue_time_verifier_fn(|iat| {
        // Allow small clock skew, refuse tokens "issued" in the future.
        if iat > chrono_now_plus(300) {
            Err("issued in the future".into())
        } else {
            Ok(())
        }
    });
    token.claims(&verifier, &Nonce::new(nonce.to_string()))
}

fn chrono_now_plus(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::seconds(secs)
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    email_verified: Option<serde_json::Value>,
    name: Option<String>,
    #[serde(flatten)]
    groups: GroupsClaim,
}

async fn userinfo(
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
