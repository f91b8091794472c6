//! The state every handler reaches through `web::Data`: settings, the store, the SSO
//! registry, the token index and meter, limiters and caches. Built by `app`, read by `web`,
//! so neither has to import the other's internals.

use std::sync::Arc;

use crate::config::Settings;
use crate::crypto::Sealer;
use crate::metrics::Metrics;
use crate::session::BrowserCookies;
use crate::sso::ratelimit::RateLimiter;
use crate::sso::Registry;
use crate::store::members::PageCache;
use crate::store::Store;
use crate::tokens::index::TokenIndex;
use crate::tokens::meter::Meter;
use crate::views::team::RowCache;

/// Shared state every handler can reach.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub sso: Arc<Registry>,
    pub sealer: Sealer,
    pub meter: Arc<Meter>,
    pub tokens: Arc<TokenIndex>,
    /// `None` when `[metrics] listen` is not set: nothing is recorded.
    pub metrics: Option<Arc<Metrics>>,
    pub login_limiter: RateLimiter,
    /// The cookies of browsers that are not signed in (anonymous CSRF, sign-in binding).
    pub browser_cookies: BrowserCookies,
    /// Anonymous refusals written to the audit log, per address (`web::audit::record_refusal`).
    pub refusal_limiter: RateLimiter,
    /// Pages of team lists, valid while their team's list version stands.
    pub team_pages: Arc<PageCache>,
    /// Those pages' rows as rendered HTML, valid while the page above is the same.
    pub team_rows: Arc<RowCache>,
    /// In `teamportal demo`: the demo accounts to show on the login page.
    pub demo_accounts: Option<Vec<(String, String)>>,
}
