//! The authorization code flow: building the authorize redirect (state, nonce and PKCE kept
//! server-side) and finishing it at the callback (OIDC Core 3.1.3.7 validation, RFC 9207
//! `iss`, userinfo only for missing claims, email trust).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use url::Url;

use super::id_token::{verify_id_token, OidcIdToken};
use super::idp_calls::{exchange_code, userinfo};
use super::provider::check_browser_endpoints;
use super::{redirect_uri, scopes, Registry, SsoError};
use crate::config::TeamConfig;
use crate::crypto;
use crate::domain::Email;
use crate::store::logins::{self, PendingLogin};
use crate::store::users::Identity;
use crate::store::{now, Store, StoreError};

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
    /// The verified ID token as the IdP sent it (RP-initiated logout's `id_token_hint`).
    pub id_token: String,
    /// Its `sid` claim, when the IdP sent one (back-channel logout names sessions by it).
    pub sid: Option<String>,
    /// How long the checks waited on the identity provider (its token endpoint, userinfo,
    /// and discovery or JWKS when they were not cached): the callback's `Server-Timing`.
    pub idp_time: std::time::Duration,
}

/// Awaits `f`, adding the time it took to `idp`.
pub(super) async fn waiting<T>(
    idp: &mut std::time::Duration,
    f: impl std::future::Future<Output = T>,
) -> T {
    let start = std::time::Instant::now();
    let out = f.await;
    *idp += start.elapsed();
    out
}

pub(super) fn invalid(why: &str) -> SsoError {
    SsoError::Invalid(why.to_string())
}

pub(super) fn no_token_endpoint() -> SsoError {
    SsoError::misconfigured("the discovery document has no token_endpoint", "")
}

/// An OAuth error code as a page may quote it: the IdP (or whoever crafted the redirect)
/// chooses it, so only the characters such codes use (RFC 6749 names like
/// `invalid_grant`) and no more than 64 of them.
pub(super) fn error_code(code: &str) -> String {
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

    let mut idp_time = std::time::Duration::ZERO;
    let discovery = waiting(
        &mut idp_time,
        registry.providers.discovery(&issuer, registry.reach(team)),
    )
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

    let tokens = waiting(
        &mut idp_time,
        exchange_code(
            registry,
            &discovery,
            team,
            base,
            code,
            &pending.pkce_verifier,
        ),
    )
    .await?;
    let raw_id_token = tokens
        .id_token
        .clone()
        .ok_or_else(|| invalid("The identity provider returned no ID token."))?;
    let id_token: OidcIdToken = raw_id_token
        .parse()
        .map_err(|_| invalid("The identity provider returned a malformed ID token."))?;

    let claims = verify_id_token(
        registry,
        &discovery,
        team,
        &issuer,
        &id_token,
        &pending.nonce,
        &mut idp_time,
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
    let sid = claims
        .additional_claims()
        .sid
        .clone()
        .filter(|s| !s.is_empty() && s.len() <= 256);

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
            let info = waiting(
                &mut idp_time,
                userinfo(registry, registry.reach(team), endpoint, access),
            )
            .await;
            match info {
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
        id_token: raw_id_token,
        idp_time,
        sid,
    })
}
