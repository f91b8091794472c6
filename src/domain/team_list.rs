//! What the team page shows, as plain data: the store reads it, the views render it (so
//! the views never reach into the store). No I/O here.

use std::sync::Arc;

use super::{Role, RoleSource};

#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub members: i64,
    pub admins: i64,
    pub removed: i64,
    /// Raised by every change to what the team list shows (triggers of migration 6).
    pub list_version: i64,
}

/// A row of the team list: what the page shows of a member, nothing more (a full
/// [`crate::store::users::User`] would read the table row beside the index).
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub role_source: RoleSource,
    pub joined_via: String,
    pub active: bool,
    pub last_login_at: Option<i64>,
}

impl Member {
    pub fn display_name(&self) -> &str {
        super::display_name(&self.name, &self.email)
    }

    /// Created by SCIM and not signed in yet.
    pub fn provisioned_not_signed_in(&self) -> bool {
        self.joined_via == "scim" && self.last_login_at.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct Invite {
    pub id: i64,
    pub email: String,
    pub invited_by: String,
    pub created_at: i64,
}

/// What the team page shows: the counts, one page of the list and its total, and (for an
/// admin) the pending invitations; read in the caller's one transaction.
pub struct TeamPage {
    pub counts: Counts,
    pub rows: Arc<Vec<Member>>,
    pub total: i64,
    pub invites: Vec<Invite>,
}
