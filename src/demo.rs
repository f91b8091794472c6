//! `teamportal demo`: the full portal with a demo team and a small built-in identity
//! provider under `/demo-idp` (loopback only, clearly labelled, in-memory, its own database
//! file), so a newcomer can sign in as the admin or the member without any Okta.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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

use crate::app::{Application, BuildError, Extras};
use crate::config::{self, ClientAuth, Provisioning, Secret, Settings, TeamConfig};
use crate::crypto;
use crate::domain::{Email, TeamId, TeamSource};
use crate::sso::GroupsClaim;
use crate::web::extract::AnonCsrfForm;

pub const TEAM_ID: &str = "demo";
pub const CLIENT_ID: &str = "teamportal-demo";
pub const ADMIN_EMAIL: &str = "admin@demo.test";
pub const MEMBER_EMAIL: &str = "member@demo.test";

struct Account {
    sub: &'static str,
    email: &'static str,
    name: &'static str,
}

const ACCOUNTS: [Account; 2] = [
    Account {
        sub: "demo-admin",
        email: ADMIN_EMAIL,
        name: "Ada Admin",
    },
    Account {
        sub: "demo-member",
        email: MEMBER_EMAIL,
        name: "Max Member",
    },
];

struct Grant {
    sub: &'static str,
    nonce: String,
    challenge: String,
    redirect_uri: String,
    expires: i64,
}

/// The demo provider's state: its signing key, client secret and live codes/tokens.
pub struct DemoIdp {
    issuer: String,
    client_secret: String,
    redirect_uri: String,
    key: CoreRsaPrivateSigningKey,
    codes: Mutex<HashMap<String, Grant>>,
    access_tokens: Mutex<HashMap<String, &'static str>>,
}

pub struct DemoOptions {
    pub listen: SocketAddr,
    pub database: PathBuf,
}

/// Builds the demo application: settings for the `demo` team pointing at the built-in
/// provider, served by the same process.
pub fn build(opts: DemoOptions) -> Result<(Application, String), BuildError> {
    let listener =
        std::net::TcpListener::bind(opts.listen).map_err(|source| BuildError::Listen {
            addr: opts.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| BuildError::Listen {
        addr: opts.listen.to_string(),
        source,
    })?;
    if !addr.ip().is_loopback() {
        return Err(BuildError::Listen {
            addr: addr.to_string(),
            source: std::io::Error::other("the demo serves on loopback only"),
        });
    }
    let base = format!("http://{addr}");
    let issuer = format!("{base}/demo-idp");
    let client_secret = crypto::random_string(32);

    let mut settings: Settings = config::validate(
        config::RawConfig::default(),
        std::path::Path::new("."),
        &|_| None,
    )
    .expect("the embedded defaults are valid");
    settings.server.listen = addr;
    settings.server.public_url = url::Url::parse(&base).expect("loopback URL parses");
    settings.database = opts.database;
    settings.billing.seat_price = "10.00".parse().expect("decimal");
    settings
        .billing
        .unit_prices
        .insert("requests".into(), "0.0001".parse().expect("decimal"));
    settings.teams = vec![TeamConfig {
        id: TeamId::parse(TEAM_ID).expect("valid Team ID"),
        name: "Demo Team".into(),
        issuer: url::Url::parse(&issuer).expect("issuer parses"),
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(client_secret.clone()),
        client_auth: ClientAuth::Basic,
        admin_email: Email::parse(ADMIN_EMAIL),
        email_domains: vec!["demo.test".into()],
        provisioning: Provisioning::Jit,
        admin_groups: Vec::new(),
        trust_email: false,
        browser_managed: false,
    }];

    seed(&settings).map_err(|source| BuildError::Store {
        path: settings.database.display().to_string(),
        source,
    })?;

    let idp = Arc::new(DemoIdp {
        redirect_uri: crate::sso::redirect_uri(&base, TEAM_ID),
        issuer,
        client_secret,
        key: signing_key(),
        codes: Mutex::new(HashMap::new()),
        access_tokens: Mutex::new(HashMap::new()),
    });
    let routes = {
        let idp = idp.clone();
        Arc::new(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(web::Data::from(idp.clone()))
                .route(
                    "/demo-idp/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/demo-idp/jwks", web::get().to(jwks))
                .route("/demo-idp/authorize", web::get().to(authorize_page))
                .route("/demo-idp/authorize", web::post().to(authorize))
                .route("/demo-idp/token", web::post().to(token))
                .route("/demo-idp/userinfo", web::get().to(userinfo));
        })
    };
    let app = Application::build_with(
        settings,
        Extras {
            demo_accounts: Some(vec![
                ("admin".to_string(), ADMIN_EMAIL.to_string()),
                ("member".to_string(), MEMBER_EMAIL.to_string()),
            ]),
            extra_routes: Some(routes),
            team_source: TeamSource::Demo,
            listener: Some(listener),
            discovery_ttl: None,
        },
    )?;
    Ok((app, base))
}

fn signing_key() -> CoreRsaPrivateSigningKey {
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
    if p.client_id != CLIENT_ID || p.redirect_uri != idp.redirect_uri {
        return Err("demo identity provider: unknown client or redirect_uri");
    }
    if p.code_challenge.is_empty() || p.code_challenge_method != "S256" || p.nonce.is_empty() {
        return Err("demo identity provider: PKCE S256 and a nonce are required");
    }
    Ok(())
}

async fn authorize_page(
    req: HttpRequest,
    state: web::Data<crate::app::AppState>,
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

/// Fills a new demo database with a few colleagues, a shared token and a month of usage, so
/// every page has something to show. Runs once: an existing demo team is left alone.
fn seed(settings: &Settings) -> Result<(), crate::store::StoreError> {
    use crate::store::{self, audit::Actor, teams, usage};
    let db = store::Store::open(&settings.database, 2)?;
    db.run_blocking(|c| teams::sync_from_config(c, &settings.teams, TeamSource::Demo))?;
    let key = db
        .run_blocking(|c| crate::keyguard::open(c, &settings.database))
        .map_err(|e| crate::store::StoreError::Task(e.to_string()))?;
    let colleagues = [
        ("demo-grace", "grace@demo.test", "Grace Hopper"),
        ("demo-alan", "alan@demo.test", "Alan Turing"),
        ("demo-katherine", "katherine@demo.test", "Katherine Johnson"),
        ("demo-edsger", "edsger@demo.test", "Edsger Dijkstra"),
        ("demo-barbara", "barbara@demo.test", "Barbara Liskov"),
    ];
    db.run_blocking(|c| -> Result<(), crate::store::StoreError> {
        if crate::store::members::counts(c, TEAM_ID)?.members
            + crate::store::members::counts(c, TEAM_ID)?.removed
            > 0
        {
            return Ok(());
        }
        let now = store::now();
        let mut creator = None;
        for (i, (sub, email, name)) in colleagues.iter().enumerate() {
            let id = crate::store::users::insert_seeded(
                c,
                TEAM_ID,
                "demo-seed",
                sub,
                email,
                name,
                now - (i as i64 + 1) * 86_400,
            )?;
            creator.get_or_insert(id);
        }
        let Some(creator) = creator else {
            return Ok(());
        };
        let issued = crate::tokens::issue(
            c,
            &key.sealer(),
            &Actor::shell(),
            &crate::tokens::Request {
                team_id: TEAM_ID,
                creator,
                name: "ci-deploy",
                personal: false,
                expires_at: None,
            },
        )
        .map_err(|e| match e {
            crate::store::users::ChangeError::Store(s) => s,
            other => crate::store::StoreError::Task(other.to_string()),
        })?;
        for days_ago in 0..30i64 {
            let day = crate::metering::day_string((now - days_ago * 86_400).div_euclid(86_400));
            let key = usage::CounterKey {
                team_id: TEAM_ID.into(),
                token_id: issued.id,
                day,
                unit: "requests".into(),
            };
            usage::flush(c, &[(key, 1_000 + (days_ago * 7919) % 4_000)], &[])?;
        }
        Ok(())
    })
}
