//! The demo provider's endpoints: discovery, keys, the account chooser, token and userinfo.

use std::sync::Arc;

use actix_web::http::header::LOCATION;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use maud::html;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{
    AccessToken, Audience, EndUserEmail, EndUserName, IdTokenClaims, IssuerUrl, JsonWebKeyId,
    LocalizedClaim, Nonce, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::Deserialize;
use serde_json::json;

use super::{DemoIdp, Grant, ACCOUNTS, CLIENT_ID};
use crate::crypto;
use crate::sso::GroupsClaim;
use crate::web::extract::AnonCsrfForm;

/// The provider's routes under `/demo-idp`, on the portal's own server.
pub(super) fn configure(cfg: &mut web::ServiceConfig, idp: Arc<DemoIdp>) {
    cfg.app_data(web::Data::from(idp))
        .route(
            "/demo-idp/.well-known/openid-configuration",
            web::get().to(discovery),
        )
        .route("/demo-idp/jwks", web::get().to(jwks))
        .route("/demo-idp/authorize", web::get().to(authorize_page))
        .route("/demo-idp/authorize", web::post().to(authorize))
        .route("/demo-idp/token", web::post().to(token))
        .route("/demo-idp/userinfo", web::get().to(userinfo));
}

pub(super) fn signing_key() -> CoreRsaPrivateSigningKey {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key generation");
    let pem = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .expect("PEM encoding");
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(crypto::random_string(8))))
        .expect("PEM parses")
}

async fn discovery(idp: web::Data<DemoIdp>) -> HttpResponse {
    let i = &idp.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "authorization_response_iss_parameter_supported": true
    }))
}

async fn jwks(idp: web::Data<DemoIdp>) -> HttpResponse {
    HttpResponse::Ok().json(CoreJsonWebKeySet::new(vec![idp.key.as_verification_key()]))
}

#[derive(Deserialize, Default)]
struct AuthorizeParams {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
    #[serde(default)]
    account: String,
}

fn check_request(idp: &DemoIdp, p: &AuthorizeParams) -> Result<(), &'static str> {
    if p.client_id != CLIENT_ID || !idp.redirect_uris.contains(&p.redirect_uri) {
        return Err("demo identity provider: unknown client or redirect_uri");
    }
    if p.code_challenge.is_empty() || p.code_challenge_method != "S256" || p.nonce.is_empty() {
        return Err("demo identity provider: PKCE S256 and a nonce are required");
    }
    Ok(())
}

async fn authorize_page(
    req: HttpRequest,
    state: web::Data<crate::state::AppState>,
    idp: web::Data<DemoIdp>,
    q: web::Query<AuthorizeParams>,
) -> HttpResponse {
    if let Err(resp) = check_request(&idp, &q) {
        return HttpResponse::BadRequest().body(resp);
    }
    // A visitor of the demo IdP is not signed in: the same sessionless CSRF as /login.
    let (csrf, cookie) = state.browser_cookies.csrf_for_form(&req);
    let body = crate::views::page(
        "Demo identity provider",
        None,
        html! {
            section.demo-idp {
                p.banner.warn { "DEMO identity provider — for trying teamportal only. Real teams sign in with their company's Okta or other OpenID Connect provider." }
                h1 { "Choose a demo account" }
                @for a in &ACCOUNTS {
                    form method="post" action="/demo-idp/authorize" {
                        (crate::views::csrf_field(&csrf))
                        @for (k, v) in [("client_id", &q.client_id), ("redirect_uri", &q.redirect_uri), ("state", &q.state),
                                        ("nonce", &q.nonce), ("code_challenge", &q.code_challenge), ("code_challenge_method", &q.code_challenge_method)] {
                            input type="hidden" name=(k) value=(v);
                        }
                        input type="hidden" name="account" value=(a.email);
                        button type="submit" id=(format!("as-{}", a.sub)) { "Sign in as " (a.name) " (" (a.email) ")" }
                    }
                }
            }
        },
    );
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/html; charset=utf-8");
    if let Some(c) = cookie {
        resp.cookie(c);
    }
    resp.body(body.into_string())
}

async fn authorize(idp: web::Data<DemoIdp>, form: AnonCsrfForm<AuthorizeParams>) -> HttpResponse {
    let p = form.0;
    if let Err(resp) = check_request(&idp, &p) {
        return HttpResponse::BadRequest().body(resp);
    }
    let Some(account) = ACCOUNTS.iter().find(|a| a.email == p.account) else {
        return HttpResponse::BadRequest().body("demo identity provider: unknown account");
    };
    let code = crypto::random_string(24);
    if let Ok(mut codes) = idp.codes.lock() {
        codes.insert(
            code.clone(),
            Grant {
                sub: account.sub,
                nonce: p.nonce,
                challenge: p.code_challenge,
                redirect_uri: p.redirect_uri.clone(),
                expires: crate::store::now() + 60,
            },
        );
    }
    let mut to = match url::Url::parse(&p.redirect_uri) {
        Ok(u) => u,
        Err(_) => return HttpResponse::BadRequest().finish(),
    };
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &p.state)
        .append_pair("iss", &idp.issuer);
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_string()))
        .finish()
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    code_verifier: String,
    #[serde(default)]
    redirect_uri: String,
}

fn client_authenticated(req: &HttpRequest, idp: &DemoIdp) -> bool {
    let Some(value) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(b64) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else {
        return false;
    };
    let expected = format!("{CLIENT_ID}:{}", idp.client_secret);
    crypto::same(&String::from_utf8_lossy(&raw), &expected)
}

async fn token(
    req: HttpRequest,
    idp: web::Data<DemoIdp>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    if !client_authenticated(&req, &idp) {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let grant = idp.codes.lock().ok().and_then(|mut c| c.remove(&form.code));
    let Some(grant) = grant else {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    };
    let challenge = URL_SAFE_NO_PAD.encode(crypto::sha256(form.code_verifier.as_bytes()));
    if grant.expires < crate::store::now()
        || grant.redirect_uri != form.redirect_uri
        || !crypto::same(&challenge, &grant.challenge)
    {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    }
    let Some(account) = ACCOUNTS.iter().find(|a| a.sub == grant.sub) else {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    };
    let access = crypto::random_string(24);
    if let Ok(mut t) = idp.access_tokens.lock() {
        t.insert(access.clone(), account.sub);
    }
    let now = chrono::Utc::now();
    let claims = IdTokenClaims::new(
        IssuerUrl::new(idp.issuer.clone()).expect("issuer URL"),
        vec![Audience::new(CLIENT_ID.into())],
        now + chrono::Duration::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new(account.sub.into()))
            .set_email(Some(EndUserEmail::new(account.email.into())))
            .set_email_verified(Some(true))
            .set_name(Some(LocalizedClaim::from(EndUserName::new(
                account.name.into(),
            )))),
        GroupsClaim::default(),
    )
    .set_nonce(Some(Nonce::new(grant.nonce)));
    let id_token = crate::sso::OidcIdToken::new(
        claims,
        &idp.key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&AccessToken::new(access.clone())),
        None,
    );
    match id_token {
        Ok(t) => HttpResponse::Ok().json(json!({
            "access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": t.to_string()
        })),
        Err(e) => HttpResponse::InternalServerError().json(json!({"error": "server_error", "error_description": e.to_string()})),
    }
}

async fn userinfo(req: HttpRequest, idp: web::Data<DemoIdp>) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let sub = idp
        .access_tokens
        .lock()
        .ok()
        .and_then(|t| t.get(token).copied());
    match sub.and_then(|s| ACCOUNTS.iter().find(|a| a.sub == s)) {
        Some(a) => HttpResponse::Ok()
            .json(json!({"sub": a.sub, "email": a.email, "email_verified": true, "name": a.name})),
        None => HttpResponse::Unauthorized().finish(),
    }
}
