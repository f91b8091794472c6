//! One-time answers after a post/redirect/get: what the last action did, said once on the
//! page it lands on, and a new token's secret, shown once after the redirect. Both live in
//! the signed-in user's session (anonymous visitors never get one) and are taken, not read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::TypedSession;
use crate::crypto::Sealer;
use crate::store::now;

const FLASH: &str = "flash";

/// Which new secret waits for its page: each page takes only its own, so an API token's
/// never shows on the SCIM page or the other way round.
#[derive(Clone, Copy)]
pub enum Once {
    /// A shared API token, shown on `/tokens`.
    ApiToken,
    /// The team's SCIM token, shown on `/settings/scim`.
    ScimToken,
}

impl Once {
    fn key(self) -> &'static str {
        match self {
            Once::ApiToken => "shown_token",
            Once::ScimToken => "shown_scim_token",
        }
    }
}
/// The sealing context of a secret kept in a session, followed by its key: it opens nowhere
/// else, and one kind of token never opens as the other.
const SHOWN_CONTEXT: &str = "teamportal session: token shown once: ";

/// How long a new secret waits for its page. The redirect follows at once; a secret still
/// waiting later (the redirect not followed, the admin demoted meanwhile) is stale, perhaps
/// already rotated, and must not be shown as new.
const SHOWN_FOR_SECONDS: i64 = 300;

/// Whether a secret made at `at` may still be shown at `now` (both Unix seconds); one from
/// the future (a clock stepped back) is shown, as the redirect would have been.
fn fresh(at: i64, now: i64) -> bool {
    now.saturating_sub(at) <= SHOWN_FOR_SECONDS
}

/// A created token waiting for the page that shows it: sealed with the instance key, so the
/// session row in the database never holds the plaintext.
#[derive(Serialize, Deserialize)]
struct Shown {
    id: i64,
    sealed: String,
    /// When it was made (Unix seconds).
    at: i64,
}

impl TypedSession<'_> {
    /// Says `message` once, on the next page this session opens.
    pub fn flash(&self, message: impl Into<String>) {
        let _ = self.0.insert(FLASH, message.into());
    }

    /// The message left by the last action, removed as it is read.
    pub fn take_flash(&self) -> Option<String> {
        let message = self.0.get::<String>(FLASH).ok().flatten()?;
        self.0.remove(FLASH);
        Some(message)
    }

    /// Keeps a new token's secret for the one page that shows it after the redirect.
    pub fn show_token_once(&self, sealer: &Sealer, once: Once, id: i64, secret: &str) {
        let context = format!("{SHOWN_CONTEXT}{}", once.key());
        let sealed = URL_SAFE_NO_PAD.encode(sealer.seal(secret.as_bytes(), &context));
        let at = now();
        let _ = self.0.insert(once.key(), Shown { id, sealed, at });
    }

    /// The token secret to show now, if one waits and is fresh; a reload finds nothing.
    pub fn take_shown_token(&self, sealer: &Sealer, once: Once) -> Option<(i64, String)> {
        let shown = self.0.remove_as::<Shown>(once.key())?.ok()?;
        if !fresh(shown.at, now()) {
            return None;
        }
        let context = format!("{SHOWN_CONTEXT}{}", once.key());
        let sealed = URL_SAFE_NO_PAD.decode(shown.sealed).ok()?;
        let secret = String::from_utf8(sealer.open(&sealed, &context)?).ok()?;
        Some((shown.id, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_shown_only_within_its_minutes() {
        assert!(fresh(1_000, 1_000));
        assert!(fresh(1_000, 1_000 + SHOWN_FOR_SECONDS));
        assert!(!fresh(1_000, 1_001 + SHOWN_FOR_SECONDS));
        assert!(fresh(1_000, 990));
    }
}
