//! The demo's second team, `demo-lab`: browser-managed (as if made with `teamportal admin
//! create-team`), so its admin can edit and test its SSO settings at `/settings/sso`. It
//! signs in through the same demo provider with the same demo accounts.

use crate::crypto::Sealer;
use crate::store::teams::{self, ShellTeam, SsoRecord};
use crate::store::{Store, StoreError};

pub const TEAM_ID: &str = "demo-lab";

/// Creates the team on a new demo database; on an existing one, points it at this run's
/// demo provider when it still uses a demo provider (the admin may have moved it elsewhere).
pub fn seed(
    db: &Store,
    sealer: &Sealer,
    issuer: &str,
    client_id: &str,
    client_secret: &str,
) -> Result<(), StoreError> {
    let sealed = sealer.seal(
        client_secret.as_bytes(),
        &crate::sso::editable::secret_context(TEAM_ID),
    );
    let team = ShellTeam {
        id: TEAM_ID.into(),
        name: "Demo Lab (browser-managed)".into(),
        admin_email: Some(super::ADMIN_EMAIL.into()),
        sso: SsoRecord {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret_enc: sealed.clone(),
            provisioning: "jit".into(),
            email_domains: Vec::new(),
            admin_groups: Vec::new(),
            trust_email: false,
            idp_logout: false,
        },
    };
    db.run_blocking(move |c| -> Result<(), StoreError> {
        if teams::create_shell(c, &team)? {
            return Ok(());
        }
        let stored = teams::shell_teams(c)?.into_iter().find(|t| t.id == TEAM_ID);
        if let Some(t) = stored.filter(|t| t.sso.issuer.ends_with("/demo-idp")) {
            teams::repoint_shell(c, &t.id, &team.sso.issuer, &sealed)?;
        }
        Ok(())
    })
}
