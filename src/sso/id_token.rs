//! The ID token: the claims teamportal reads beyond the standard ones, and its validation
//! per OIDC Core 3.1.3.7 (signature from the JWKS with one rate-limited refresh for an
//! unknown `kid`, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`; asymmetric algorithms only).

use std::sync::Arc;

use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, ClientSecret, IdToken, IdTokenVerifier,
    IssuerUrl, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};

use super::flow::{invalid, waiting};
use super::provider::{Discovery, Jwks};
use super::{Registry, SsoError};
use crate::config::TeamConfig;

/// The claims beyond OIDC Core's standard ones that teamportal reads: `groups`, and the
/// session id `sid` (OIDC Front- and Back-Channel Logout) that back-channel logout names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupsClaim {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "groups_lenient"
    )]
    pub groups: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sid_lenient"
    )]
    pub sid: Option<String>,
}

/// The longest `sid` kept: a logout token's longer one would be refused anyway.
const SID_MAX: usize = 256;

/// `sid` is optional to the sign-in: one that is not a short string is ignored (the session
/// is kept without it, as with an IdP that sends none) rather than failing the ID token.
fn sid_lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) if !s.is_empty() && s.len() <= SID_MAX => Some(s),
        _ => None,
    })
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

pub(super) async fn verify_id_token<'t>(
    registry: &Registry,
    discovery: &Discovery,
    team: &TeamConfig,
    issuer: &str,
    token: &'t OidcIdToken,
    nonce: &str,
    idp_time: &mut std::time::Duration,
) -> Result<&'t openidconnect::IdTokenClaims<GroupsClaim, CoreGenderClaim>, SsoError> {
    let reach = registry.reach(team);
    let jwks = waiting(idp_time, registry.providers.jwks(issuer, discovery, reach)).await?;
    let claims = match check_claims(team, issuer, jwks.clone(), token, nonce) {
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            // Unknown kid: the IdP may have rotated its keys. Refresh once (rate limited).
            let fresh = waiting(
                idp_time,
                registry
                    .providers
                    .refresh_jwks(issuer, discovery, &jwks, reach),
            );
            match fresh.await? {
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

/// Asymmetric signatures only, for ID tokens and logout tokens alike: never `none`, never the
/// client secret as an HMAC key.
pub(super) const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

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
    .set_allowed_algs(ALLOWED_ALGS)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: serde_json::Value) -> GroupsClaim {
        serde_json::from_value(v).expect("the claims still parse")
    }

    #[test]
    fn a_sid_that_is_not_a_short_string_is_ignored_not_fatal() {
        let ok = claims(serde_json::json!({"sid": "s-1", "groups": "eng"}));
        assert_eq!(ok.sid.as_deref(), Some("s-1"));
        assert_eq!(ok.groups, Some(vec!["eng".to_string()]));
        for bad in [
            serde_json::json!(123),
            serde_json::json!({"a": 1}),
            serde_json::json!(["s"]),
            serde_json::json!(null),
            serde_json::json!(""),
            serde_json::json!("x".repeat(SID_MAX + 1)),
        ] {
            let c = claims(serde_json::json!({"sid": bad, "groups": ["eng"]}));
            assert_eq!(c.sid, None, "{bad}");
            assert_eq!(c.groups, Some(vec!["eng".to_string()]), "the rest is kept");
        }
        assert_eq!(claims(serde_json::json!({})).sid, None);
    }
}
