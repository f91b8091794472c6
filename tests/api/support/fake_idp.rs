//! A misbehaving identity provider for hostile tests: the test decides exactly which ID
//! token, userinfo and discovery document the portal receives, how large its answers are,
//! whether discovery and JWKS fail or wait, and counts every call.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Client, Response, StatusCode};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

use crate::helpers::{location, query_param, TestApp};

pub const CLIENT_ID: &str = "portal-client";
pub const CLIENT_SECRET: &str = "portal-secret";

#[derive(Default)]
pub struct State {
    pub discovery_issuer: Option<String>,
    pub iss_param_supported: bool,
    /// code -> token endpoint JSON answer.
    pub codes: HashMap<String, Value>,
    /// access token -> userinfo JSON.
    pub userinfo: HashMap<String, Value>,
    pub jwks: Vec<Value>,
    pub token_calls: usize,
    pub userinfo_calls: usize,
    pub jwks_calls: usize,
    pub token_status: Option<u16>,
    /// When set, the token endpoint demands this client secret (HTTP Basic).
    pub client_secret: Option<String>,
    pub discovery_calls: usize,
    /// Discovery answers with this status (and no body) instead of the document.
    pub discovery_status: Option<u16>,
    /// The JWKS answers with this status (and no body) instead of the keys.
    pub jwks_status: Option<u16>,
    /// Fields replacing or adding to the discovery document (off-host endpoints,
    /// `end_session_endpoint`...).
    pub discovery_overrides: serde_json::Map<String, Value>,
    /// "discovery", "jwks", "token" or "userinfo" -> pad that JSON answer with a string of
    /// this many bytes, streamed in chunks without a Content-Length.
    pub padding: HashMap<&'static str, usize>,
    /// While set and closed, discovery requests wait (see [`FakeIdp::hold_discovery`]).
    pub discovery_gate: Option<Arc<tokio::sync::Semaphore>>,
}

pub struct FakeIdp {
    pub issuer: String,
    pub kid: String,
    key: RsaPrivateKey,
    other_key: RsaPrivateKey,
    pub state: Arc<Mutex<State>>,
}

pub fn rsa_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa key")
}

pub fn jwk(key: &RsaPrivateKey, kid: &str) -> Value {
    json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    })
}

impl FakeIdp {
    pub async fn start() -> FakeIdp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let issuer = format!("http://127.0.0.1:{port}");
        let key = rsa_key();
        let kid = "k1".to_string();
        let state = Arc::new(Mutex::new(State {
            iss_param_supported: true,
            jwks: vec![jwk(&key, &kid)],
            ..State::default()
        }));
        let (st, iss) = (state.clone(), issuer.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(st.clone()))
                .app_data(web::Data::new(iss.clone()))
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        FakeIdp {
            issuer,
            kid,
            key,
            other_key: rsa_key(),
            state,
        }
    }

    /// Valid claims for this IdP and client.
    pub fn claims(&self, nonce: &str, sub: &str, email: &str) -> Value {
        let now = time_now();
        json!({
            "iss": self.issuer, "aud": CLIENT_ID, "sub": sub, "nonce": nonce,
            "iat": now, "exp": now + 300, "email": email, "email_verified": true, "name": "Test Person"
        })
    }

    pub fn sign(&self, claims: &Value) -> String {
        sign_with(&self.key, &self.kid, claims)
    }

    /// Signed with a key the JWKS does not hold, under the published kid.
    pub fn sign_with_other_key(&self, claims: &Value) -> String {
        sign_with(&self.other_key, &self.kid, claims)
    }

    /// Signed with the published key, the header's `typ` set to `typ`.
    pub fn sign_typed(&self, claims: &Value, typ: &str) -> String {
        let der = self.key.to_pkcs1_der().expect("der");
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes()))
            .expect("sign")
    }

    /// The algorithm-confusion forgery: HS256 with the IdP's public RSA key (as PEM, as a
    /// verifier that mixes up key types would read it) as the HMAC secret.
    pub fn hs256_with_public_key(&self, claims: &Value) -> String {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let pem = self
            .key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(pem.as_bytes()))
            .expect("sign")
    }

    pub fn unsigned(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{body}.")
    }

    /// The token endpoint will answer `code` with this ID token (and access token "at-<code>").
    pub fn set_code(&self, code: &str, id_token: &str) {
        self.state.lock().expect("lock").codes.insert(
            code.into(),
            json!({"access_token": format!("at-{code}"), "token_type": "Bearer", "expires_in": 300, "id_token": id_token}),
        );
    }

    pub fn set_userinfo(&self, code: &str, info: Value) {
        self.state
            .lock()
            .expect("lock")
            .userinfo
            .insert(format!("at-{code}"), info);
    }

    /// Rotates to a new signing key (new kid); returns it for signing.
    pub fn rotate(&mut self) {
        let key = rsa_key();
        self.kid = format!("k{}", time_now());
        self.state.lock().expect("lock").jwks = vec![jwk(&key, &self.kid)];
        self.key = key;
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().expect("lock"))
    }

    /// From now on discovery requests are counted but not answered until
    /// [`FakeIdp::release_discovery`].
    pub fn hold_discovery(&self) {
        self.with(|s| s.discovery_gate = Some(Arc::new(tokio::sync::Semaphore::new(0))));
    }

    /// Answers every held and later discovery request.
    pub fn release_discovery(&self) {
        if let Some(gate) = self.with(|s| s.discovery_gate.take()) {
            gate.close();
        }
    }

    /// Plays the IdP's part of a sign-in the portal started at `authorize`: a fresh code for
    /// an ID token with valid claims for `sub` and `email` (changed by `adjust`), then the
    /// browser's trip to the team's callback. The portal's answer.
    pub async fn finish(
        &self,
        app: &TestApp,
        client: &Client,
        team: &str,
        authorize: &str,
        (sub, email): (&str, &str),
        adjust: impl FnOnce(&mut Value),
    ) -> Response {
        let state = query_param(authorize, "state").expect("state");
        let nonce = query_param(authorize, "nonce").expect("nonce");
        let mut claims = self.claims(&nonce, sub, email);
        adjust(&mut claims);
        let code = format!("c-{}", teamportal::crypto::random_string(8));
        self.set_code(&code, &self.sign(&claims));
        client
            .get(app.url(&format!("/sso/{team}/callback")))
            .query(&[
                ("code", code.as_str()),
                ("state", &state),
                ("iss", &self.issuer),
            ])
            .send()
            .await
            .expect("callback")
    }

    /// A whole sign-in from `/sso/{team}/login` in `client`; the portal's answer to the
    /// callback.
    pub async fn sign_in(
        &self,
        app: &TestApp,
        client: &Client,
        team: &str,
        sub: &str,
        email: &str,
    ) -> Response {
        self.sign_in_with(app, client, team, (sub, email), |_| {})
            .await
    }

    /// `sign_in` with the ID token's claims changed by `adjust`.
    pub async fn sign_in_with(
        &self,
        app: &TestApp,
        client: &Client,
        team: &str,
        who: (&str, &str),
        adjust: impl FnOnce(&mut Value),
    ) -> Response {
        let start = app.get(client, &format!("/sso/{team}/login")).await;
        assert_eq!(start.status(), StatusCode::SEE_OTHER, "sign-in starts");
        self.finish(app, client, team, &location(&start), who, adjust)
            .await
    }

    /// Team config TOML for a team using this IdP.
    pub fn team_toml(&self, id: &str, extra: &str) -> String {
        format!(
            "[[teams]]\nid = \"{id}\"\nname = \"Team {id}\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret = \"{CLIENT_SECRET}\"\n{extra}\n",
            self.issuer
        )
    }
}

pub fn sign_with(key: &RsaPrivateKey, kid: &str, claims: &Value) -> String {
    let der = key.to_pkcs1_der().expect("der");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).expect("sign")
}

pub fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A JSON answer, padded and streamed in chunks (no Content-Length) when the test asked for
/// a large one from this endpoint.
fn answer(s: &State, endpoint: &str, mut v: Value) -> HttpResponse {
    let Some(n) = s.padding.get(endpoint).copied() else {
        return HttpResponse::Ok().json(v);
    };
    v["padding"] = Value::String("x".repeat(n));
    let body = v.to_string().into_bytes();
    let chunks: Vec<Result<web::Bytes, actix_web::Error>> = body
        .chunks(64 * 1024)
        .map(|c| Ok(web::Bytes::copy_from_slice(c)))
        .collect();
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(futures_util::stream::iter(chunks))
}

fn status(code: u16) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).expect("status")).finish()
}

async fn discovery(st: web::Data<Mutex<State>>, iss: web::Data<String>) -> HttpResponse {
    let gate = {
        let mut s = st.lock().expect("lock");
        s.discovery_calls += 1;
        s.discovery_gate.clone()
    };
    if let Some(gate) = gate {
        // Closed by release_discovery: acquiring then fails at once, for everyone.
        let _ = gate.acquire().await;
    }
    let s = st.lock().expect("lock");
    if let Some(code) = s.discovery_status {
        return status(code);
    }
    let i = iss.get_ref();
    let mut doc = json!({
        "issuer": s.discovery_issuer.clone().unwrap_or_else(|| i.clone()),
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "authorization_response_iss_parameter_supported": s.iss_param_supported
    });
    for (k, v) in &s.discovery_overrides {
        doc[k] = v.clone();
    }
    answer(&s, "discovery", doc)
}

async fn jwks(st: web::Data<Mutex<State>>) -> HttpResponse {
    let mut s = st.lock().expect("lock");
    s.jwks_calls += 1;
    if let Some(code) = s.jwks_status {
        return status(code);
    }
    answer(&s, "jwks", json!({"keys": s.jwks}))
}

async fn token(
    st: web::Data<Mutex<State>>,
    req: actix_web::HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let mut s = st.lock().expect("lock");
    s.token_calls += 1;
    if let Some(expected) = &s.client_secret {
        let given = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).to_string())
            .unwrap_or_default();
        if given.split_once(':').map(|(_, secret)| secret) != Some(expected.as_str()) {
            return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
        }
    }
    if let Some(code) = s.token_status {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(code).expect("status"))
            .finish();
    }
    let code = form.get("code").cloned().unwrap_or_default();
    match s.codes.remove(&code) {
        Some(v) => answer(&s, "token", v),
        None => HttpResponse::BadRequest().json(json!({"error": "invalid_grant"})),
    }
}

async fn userinfo(st: web::Data<Mutex<State>>, req: actix_web::HttpRequest) -> HttpResponse {
    let mut s = st.lock().expect("lock");
    s.userinfo_calls += 1;
    let at = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    match s.userinfo.get(&at).cloned() {
        Some(v) => answer(&s, "userinfo", v),
        None => HttpResponse::Unauthorized().finish(),
    }
}
