//! The demo database: the demo team from its settings, a few colleagues, two shared tokens
//! with a month of usage, and the browser-managed second team.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{lab, CLIENT_ID, TEAM_ID};
use crate::config::Settings;
use crate::domain::TeamSource;

/// Fills a new demo database with a few colleagues, two shared tokens and a month of usage
/// on both, so every page has something to show, and the browser-managed second team.
/// Colleagues and usage are added once: an existing demo team is left alone. Returns the
/// demo provider's client secret, derived from the demo database's instance key so that
/// the second team's stored (sealed) copy stays right across restarts.
pub(super) fn seed(settings: &Settings, issuer: &str) -> Result<String, crate::store::StoreError> {
    use crate::store::{self, audit::Actor, teams, usage};
    let db = store::Store::open(&settings.database, 2)?;
    db.run_blocking(|c| teams::sync_from_config(c, &settings.teams, TeamSource::Demo))?;
    let key = db
        .run_blocking(|c| crate::keyguard::open(c, &settings.database))
        .map_err(|e| crate::store::StoreError::Task(e.to_string()))?;
    let client_secret = URL_SAFE_NO_PAD.encode(&key.derive_bytes("teamportal demo client")[..32]);
    lab::seed(&db, &key.sealer(), issuer, CLIENT_ID, &client_secret)?;
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
        // Two shared tokens, a month of daily usage on each: verified requests on both,
        // and builds reported by the second.
        let mut tokens = Vec::new();
        for name in ["ci-deploy", "nightly-reports"] {
            let issued = crate::tokens::issue(
                c,
                &key.sealer(),
                &Actor::shell(),
                &crate::tokens::Request {
                    team_id: TEAM_ID,
                    creator,
                    name,
                    personal: false,
                    expires_at: None,
                },
            )
            .map_err(|e| match e {
                crate::store::users::ChangeError::Store(s) => s,
                other => crate::store::StoreError::Task(other.to_string()),
            })?;
            tokens.push(issued.id);
        }
        for days_ago in 0..31i64 {
            let day =
                crate::tokens::meter::day_string((now - days_ago * 86_400).div_euclid(86_400));
            let key = |token_id: i64, unit: &str| usage::CounterKey {
                team_id: TEAM_ID.into(),
                token_id,
                day: day.clone(),
                unit: unit.into(),
            };
            let counts = [
                (
                    key(tokens[0], "requests"),
                    1_000 + (days_ago * 7919) % 4_000,
                ),
                (key(tokens[1], "requests"), 200 + (days_ago * 104_729) % 900),
                (key(tokens[1], "builds"), 3 + days_ago % 7),
            ];
            usage::flush(c, &counts, &[])?;
        }
        Ok(())
    })?;
    Ok(client_secret)
}
