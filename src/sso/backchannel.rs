//! OpenID Connect Back-Channel Logout 1.0: validating a logout token (section 2.6) from a
//! team's IdP. Anyone can post to the receiver, so nothing here writes anything: the
//! caller records the `jti` (and ends sessions) only for a token that passed every check.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, SignatureVerificationError};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::id_token::ALLOWED_ALGS;
use super::provider::Jwks;
use super::{Registry, SsoError};
use crate::config::TeamConfig;

pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// `iat` may be this far from now, either way.
pub const IAT_WINDOW_SECS: i64 = 300;
/// A logout token is a few hundred bytes; this bounds what is decoded and verified.
pub const MAX_TOKEN: usize = 16 * 1024;
const MAX_CLAIM: usize = 256;

/// What a valid logout token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutToken {
    pub sub: Option<String>,
    pub sid: Option<String>,
    pub jti: String,
    pub iat: i64,
}

fn invalid(why: &str) -> SsoError {
    SsoError::Invalid(why.to_string())
}

#[derive(Deserialize)]
struct Header {
    alg: Value,
    kid: Option<String>,
    crit: Option<Value>,
    typ: Option<Value>,
}

/// The JWT `typ` header values a logout token may carry: the one section 2.4 recommends
/// (`logout+jwt`, with or without `application/`) and the generic `JWT`, case-insensitive
/// as media types are. Absent is fine; anything else (an access token's `at+jwt`, an ID
/// token replayed under another type) is refused, as section 2.6 lets explicit typing do.
fn typ_ok(typ: &Value) -> bool {
    let Some(t) = typ.as_str() else {
        return false;
    };
    let t = t.to_ascii_lowercase();
    let t = t.strip_prefix("application/").unwrap_or(&t);
    t == "logout+jwt" || t == "jwt"
}

/// The header checks: no critical extensions, an explicit type (when given) that is a
/// logout token's, and an accepted asymmetric algorithm.
fn check_header(head_json: &[u8]) -> Result<(CoreJwsSigningAlgorithm, Option<String>), SsoError> {
    let header: Header = serde_json::from_slice(head_json)
        .map_err(|_| invalid("The logout_token's header is not valid."))?;
    if header.crit.is_some() {
        return Err(invalid(
            "The logout_token names critical header extensions.",
        ));
    }
    if header.typ.as_ref().is_some_and(|t| !typ_ok(t)) {
        return Err(invalid(
            "The logout_token's header typ is not logout+jwt or JWT.",
        ));
    }
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(header.alg)
        .ok()
        .filter(|a| ALLOWED_ALGS.contains(a))
        .ok_or_else(|| invalid("The logout_token's signature algorithm is not accepted."))?;
    Ok((alg, header.kid))
}

/// A NumericDate claim: integral or fractional seconds (RFC 7519 allows both), floored;
/// none for anything else, including a number too large to be a date.
fn numeric_date(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.floor() as i64)
    })
}

/// Validates `token` for `team` at unix time `now`: signature with a key of the team's JWKS
/// (refreshed once, rate limited, for an unknown `kid`), then the claims. `Invalid` says why
/// a token is refused; other errors mean the IdP's keys could not be fetched.
pub async fn verify(
    registry: &Registry,
    team: &TeamConfig,
    token: &str,
    now: i64,
) -> Result<LogoutToken, SsoError> {
    if token.is_empty() {
        return Err(invalid("The request has no logout_token."));
    }
    if token.len() > MAX_TOKEN {
        return Err(invalid("The logout_token is too large."));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [head, body, signature] = parts[..] else {
        return Err(invalid("The logout_token is not a signed JWT."));
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let (Some(head_json), Some(body_json), Some(signature)) =
        (decode(head), decode(body), decode(signature))
    else {
        return Err(invalid("The logout_token is not valid base64url."));
    };
    let (alg, kid) = check_header(&head_json)?;
    let message = &token.as_bytes()[..head.len() + 1 + body.len()];

    let issuer = team.issuer_str();
    let reach = registry.reach(team);
    let discovery = registry.providers.discovery(&issuer, reach).await?;
    let jwks = registry.providers.jwks(&issuer, &discovery, reach).await?;
    let kid = kid.as_deref();
    match check_signature(&jwks, &alg, kid, message, &signature) {
        Err(SignatureVerificationError::NoMatchingKey) => {
            match registry
                .providers
                .refresh_jwks(&issuer, &discovery, &jwks, reach)
                .await?
            {
                Some(fresh) => check_signature(&fresh, &alg, kid, message, &signature)
                    .map_err(|_| invalid("The logout_token's signature is not valid."))?,
                None => return Err(invalid("The logout_token is signed with an unknown key.")),
            }
        }
        Err(_) => return Err(invalid("The logout_token's signature is not valid.")),
        Ok(()) => {}
    }

    let claims: Map<String, Value> = serde_json::from_slice(&body_json)
        .map_err(|_| invalid("The logout_token's claims are not a JSON object."))?;
    check_claims(&claims, &issuer, &team.client_id, now)
}

fn check_signature(
    jwks: &Jwks,
    alg: &CoreJwsSigningAlgorithm,
    kid: Option<&str>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureVerificationError> {
    let mut candidates = jwks.keys().iter().filter(|k| {
        kid.is_none_or(|kid| k.key_id().is_some_and(|id| id.as_str() == kid))
            && matches!(k.key_use(), None | Some(CoreJsonWebKeyUse::Signature))
            && match k.signing_alg() {
                JsonWebKeyAlgorithm::Algorithm(a) => a == alg,
                JsonWebKeyAlgorithm::Unspecified => true,
                JsonWebKeyAlgorithm::Unsupported => false,
            }
    });
    let mut any = false;
    let verified = candidates.any(|k| {
        any = true;
        k.verify_signature(alg, message, signature).is_ok()
    });
    match (verified, any) {
        (true, _) => Ok(()),
        (false, false) => Err(SignatureVerificationError::NoMatchingKey),
        (false, true) => Err(SignatureVerificationError::CryptoError(
            "no key verifies the signature".into(),
        )),
    }
}

fn short_string(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, SsoError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_CLAIM => Ok(Some(s.clone())),
        Some(_) => Err(SsoError::Invalid(format!(
            "The logout_token's {name} claim is not a short string."
        ))),
    }
}

/// Section 2.6 steps 3 to 8 but the `jti` lookup (the caller's, in the store).
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<LogoutToken, SsoError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(invalid(
            "The logout_token was issued by another identity provider (iss).",
        ));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid(
            "The logout_token is meant for another application (aud).",
        ));
    }
    let iat = claims
        .get("iat")
        .and_then(numeric_date)
        .ok_or_else(|| invalid("The logout_token has no iat."))?;
    if now.abs_diff(iat) > IAT_WINDOW_SECS.unsigned_abs() {
        return Err(invalid(
            "The logout_token was not issued within the last 5 minutes (iat).",
        ));
    }
    // Back-Channel Logout 1.0 section 2.4 lists exp as required; a minute of clock skew.
    let exp = claims
        .get("exp")
        .and_then(numeric_date)
        .ok_or_else(|| invalid("The logout_token has no exp."))?;
    if exp <= now.saturating_sub(60) {
        return Err(invalid("The logout_token has expired (exp)."));
    }
    let events_ok = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|e| e.get(EVENT))
        .is_some_and(Value::is_object);
    if !events_ok {
        return Err(invalid(
            "The logout_token's events claim lacks the back-channel logout event.",
        ));
    }
    if claims.contains_key("nonce") {
        return Err(invalid(
            "The logout_token carries a nonce, which a logout token must not.",
        ));
    }
    let jti =
        short_string(claims, "jti")?.ok_or_else(|| invalid("The logout_token has no jti."))?;
    let sub = short_string(claims, "sub")?;
    let sid = short_string(claims, "sid")?;
    if sub.is_none() && sid.is_none() {
        return Err(invalid("The logout_token names neither sid nor sub."));
    }
    Ok(LogoutToken { sub, sid, jti, iat })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISS: &str = "https://acme.okta.com";

    fn valid(now: i64) -> Value {
        json!({"iss": ISS, "aud": ["other", "portal"], "iat": now, "exp": now + 120, "jti": "j1",
               "sub": "u1", "sid": "s1", "events": {EVENT: {}}})
    }

    fn check(v: &Value, now: i64) -> Result<LogoutToken, SsoError> {
        check_claims(v.as_object().expect("object"), ISS, "portal", now)
    }

    #[test]
    fn a_valid_token_names_its_sid_and_sub() {
        let t = check(&valid(1000), 1000).expect("valid");
        assert_eq!(t.sid.as_deref(), Some("s1"));
        assert_eq!(t.sub.as_deref(), Some("u1"));
        assert_eq!(t.jti, "j1");
    }

    #[test]
    fn fractional_numeric_dates_are_accepted() {
        let mut v = valid(1000);
        v["iat"] = json!(999.5);
        v["exp"] = json!(1120.25);
        assert_eq!(check(&v, 1000).expect("valid").iat, 999);
    }

    #[test]
    fn an_explicit_typ_must_be_a_logout_tokens() {
        let head = |h: Value| check_header(h.to_string().as_bytes());
        for ok in [
            json!({"alg": "RS256"}),
            json!({"alg": "RS256", "typ": "logout+jwt"}),
            json!({"alg": "RS256", "typ": "application/logout+jwt"}),
            json!({"alg": "RS256", "typ": "JWT"}),
        ] {
            assert!(head(ok.clone()).is_ok(), "{ok}");
        }
        for bad in [
            json!({"alg": "RS256", "typ": "at+jwt"}),
            json!({"alg": "RS256", "typ": "secevent+jwt"}),
            json!({"alg": "RS256", "typ": 1}),
            json!({"alg": "HS256", "typ": "JWT"}),
            json!({"alg": "none"}),
            json!({"alg": "RS256", "crit": ["exp"]}),
        ] {
            assert!(head(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_section_2_6_check_refuses() {
        let now = 10_000;
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Change)> = vec![
            ("iss", Box::new(|v| v["iss"] = json!("https://evil.test"))),
            ("aud", Box::new(|v| v["aud"] = json!("other"))),
            ("stale iat", Box::new(move |v| v["iat"] = json!(now - 301))),
            ("future iat", Box::new(move |v| v["iat"] = json!(now + 301))),
            (
                "no iat",
                Box::new(|v| drop(v.as_object_mut().map(|o| o.remove("iat")))),
            ),
            ("exp", Box::new(move |v| v["exp"] = json!(now - 61))),
            (
                "no exp",
                Box::new(|v| drop(v.as_object_mut().map(|o| o.remove("exp")))),
            ),
            ("exp not a date", Box::new(|v| v["exp"] = json!("soon"))),
            (
                "event not an object",
                Box::new(|v| v["events"] = json!({EVENT: "logout"})),
            ),
            (
                "events not an object",
                Box::new(|v| v["events"] = json!([EVENT])),
            ),
            ("iat far past", Box::new(|v| v["iat"] = json!(i64::MIN))),
            ("iat far future", Box::new(|v| v["iat"] = json!(i64::MAX))),
            ("iat too large", Box::new(|v| v["iat"] = json!(u64::MAX))),
            (
                "no events",
                Box::new(|v| drop(v.as_object_mut().map(|o| o.remove("events")))),
            ),
            (
                "other event",
                Box::new(|v| v["events"] = json!({"urn:other": {}})),
            ),
            ("nonce", Box::new(|v| v["nonce"] = json!("n"))),
            (
                "no jti",
                Box::new(|v| drop(v.as_object_mut().map(|o| o.remove("jti")))),
            ),
            (
                "neither",
                Box::new(|v| {
                    let o = v.as_object_mut().expect("object");
                    o.remove("sid");
                    o.remove("sub");
                }),
            ),
            ("long sid", Box::new(|v| v["sid"] = json!("x".repeat(300)))),
        ];
        for (name, change) in cases {
            let mut v = valid(now);
            change(&mut v);
            assert!(check(&v, now).is_err(), "{name} must be refused");
        }
    }
}
