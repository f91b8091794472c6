//! `teamportal demo`: the full portal with a demo team and a small built-in identity
//! provider under `/demo-idp` (loopback only, clearly labelled, in-memory, its own database
//! file), so a newcomer can sign in as the admin or the member without any Okta. It lives
//! beside the SSO code it imitates, and is the one part of `sso` that builds the whole
//! application (`app`) and serves pages (`web::extract`, `views`): `endpoints` is the
//! provider, `seed` the demo database, `lab` its browser-managed second team.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use actix_web::web;
use openidconnect::core::CoreRsaPrivateSigningKey;

use crate::app::{Application, BuildError, Extras};
use crate::config::{self, ClientAuth, Provisioning, Secret, Settings, TeamConfig};
use crate::domain::{Email, TeamId, TeamSource};
use endpoints::signing_key;

mod endpoints;
mod lab;
mod seed;

pub const TEAM_ID: &str = "demo";
pub const CLIENT_ID: &str = "teamportal-demo";
pub const ADMIN_EMAIL: &str = "admin@demo.test";
pub const MEMBER_EMAIL: &str = "member@demo.test";
pub use lab::TEAM_ID as LAB_TEAM_ID;

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
    /// The callbacks of the demo's two teams.
    redirect_uris: Vec<String>,
    key: CoreRsaPrivateSigningKey,
    codes: Mutex<HashMap<String, Grant>>,
    access_tokens: Mutex<HashMap<String, &'static str>>,
}

/// The demo seeds its own teams and data: into a file that holds any other team (a real
/// instance's database passed by mistake) it writes nothing.
fn refuse_a_non_demo_database(path: &std::path::Path) -> Result<(), BuildError> {
    if !path.exists() {
        return Ok(());
    }
    let ids = crate::store::open_read_only(path)
        .and_then(|c| crate::store::teams::ids(&c))
        .map_err(|source| BuildError::Store {
            path: path.display().to_string(),
            source,
        })?;
    let others: Vec<String> = ids
        .into_iter()
        .filter(|id| id != TEAM_ID && id != LAB_TEAM_ID)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    Err(BuildError::NotDemo {
        path: path.display().to_string(),
        teams: others.join(", "),
    })
}

pub struct DemoOptions {
    pub listen: SocketAddr,
    pub database: PathBuf,
}

/// Builds the demo application: settings for the `demo` team pointing at the built-in
/// provider, served by the same process.
pub fn build(opts: DemoOptions) -> Result<(Application, String), BuildError> {
    if !opts.listen.ip().is_loopback() {
        return Err(BuildError::Listen {
            addr: opts.listen.to_string(),
            source: std::io::Error::other("the demo serves on loopback only"),
        });
    }
    refuse_a_non_demo_database(&opts.database)?;
    let listener =
        std::net::TcpListener::bind(opts.listen).map_err(|source| BuildError::Listen {
            addr: opts.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| BuildError::Listen {
        addr: opts.listen.to_string(),
        source,
    })?;
    let base = format!("http://{addr}");
    let issuer = format!("{base}/demo-idp");

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
    // The browser-managed demo team's provider is this loopback one.
    settings.security.allow_private_issuers = true;
    settings
        .billing
        .unit_prices
        .insert("builds".into(), "0.01".parse().expect("decimal"));
    settings
        .billing
        .unit_prices
        .insert("requests".into(), "0.0001".parse().expect("decimal"));
    settings.teams = vec![TeamConfig {
        id: TeamId::parse(TEAM_ID).expect("valid Team ID"),
        name: "Demo Team".into(),
        issuer: url::Url::parse(&issuer).expect("issuer parses"),
        client_id: CLIENT_ID.into(),
        // Set once the instance key is open (see `seed`).
        client_secret: Secret::new(String::new()),
        client_auth: ClientAuth::Basic,
        admin_email: Email::parse(ADMIN_EMAIL),
        email_domains: vec!["demo.test".into()],
        provisioning: Provisioning::Jit,
        admin_groups: Vec::new(),
        trust_email: false,
        idp_logout: false,
        browser_managed: false,
    }];

    let client_secret = seed::seed(&settings, &issuer).map_err(|source| BuildError::Store {
        path: settings.database.display().to_string(),
        source,
    })?;
    settings.teams[0].client_secret = Secret::new(client_secret.clone());

    let idp = Arc::new(DemoIdp {
        redirect_uris: vec![
            crate::sso::redirect_uri(&base, TEAM_ID),
            crate::sso::redirect_uri(&base, lab::TEAM_ID),
        ],
        issuer,
        client_secret,
        key: signing_key(),
        codes: Mutex::new(HashMap::new()),
        access_tokens: Mutex::new(HashMap::new()),
    });
    let routes = Arc::new(move |cfg: &mut web::ServiceConfig| {
        endpoints::configure(cfg, idp.clone());
    });
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
