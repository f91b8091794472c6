//! What an audit row says happened: one name per kind of event. `as_str` is the word stored
//! in `audit.action` (and offered by the `/audit` filter), so it never changes once shipped.

use std::fmt;

/// One row of the audit log as people read it: what the store lists and the page shows.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Unix seconds.
    pub at: i64,
    pub actor: String,
    /// The stored word ([`AuditAction::as_str`]); rows written by older versions keep theirs.
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip: String,
    /// How many times this happened in the row's minute (anonymous repeats), else 1.
    pub repeats: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    AccountCreated,
    SignIn,
    SignInRefused,
    PasswordSignIn,
    PasswordSignInFailed,
    PasswordSignInThrottled,
    PasswordSet,
    PasswordCleared,
    RoleChanged,
    MemberRemoved,
    MemberRestored,
    InviteCreated,
    InviteCancelled,
    TokenCreated,
    TokenRevealed,
    TokenRevoked,
    TeamCreated,
    EmailDomainsSet,
    SsoSettingsSaved,
    SsoSettingsTestPassed,
    SsoSettingsTestFailed,
    SsoSettingsApplied,
    SsoSettingsDiscarded,
    SessionsEnded,
    SessionRevoked,
    OtherSessionsRevoked,
    BackchannelLogout,
    BackchannelLogoutRefused,
    ScimTokenCreated,
    ScimTokenRotated,
    ScimTokenRevoked,
    ScimUserCreated,
    ScimUserUpdated,
    ScimUserDeleted,
    ScimUserLinked,
    ScimGroupCreated,
    ScimGroupUpdated,
    ScimGroupDeleted,
}

impl AuditAction {
    pub const ALL: [AuditAction; 38] = [
        AuditAction::AccountCreated,
        AuditAction::SignIn,
        AuditAction::SignInRefused,
        AuditAction::PasswordSignIn,
        AuditAction::PasswordSignInFailed,
        AuditAction::PasswordSignInThrottled,
        AuditAction::PasswordSet,
        AuditAction::PasswordCleared,
        AuditAction::RoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::MemberRestored,
        AuditAction::InviteCreated,
        AuditAction::InviteCancelled,
        AuditAction::TokenCreated,
        AuditAction::TokenRevealed,
        AuditAction::TokenRevoked,
        AuditAction::TeamCreated,
        AuditAction::EmailDomainsSet,
        AuditAction::SsoSettingsSaved,
        AuditAction::SsoSettingsTestPassed,
        AuditAction::SsoSettingsTestFailed,
        AuditAction::SsoSettingsApplied,
        AuditAction::SsoSettingsDiscarded,
        AuditAction::SessionsEnded,
        AuditAction::SessionRevoked,
        AuditAction::OtherSessionsRevoked,
        AuditAction::BackchannelLogout,
        AuditAction::BackchannelLogoutRefused,
        AuditAction::ScimTokenCreated,
        AuditAction::ScimTokenRotated,
        AuditAction::ScimTokenRevoked,
        AuditAction::ScimUserCreated,
        AuditAction::ScimUserUpdated,
        AuditAction::ScimUserDeleted,
        AuditAction::ScimUserLinked,
        AuditAction::ScimGroupCreated,
        AuditAction::ScimGroupUpdated,
        AuditAction::ScimGroupDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::AccountCreated => "account_created",
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInRefused => "sign_in_refused",
            AuditAction::PasswordSignIn => "password_sign_in",
            AuditAction::PasswordSignInFailed => "password_sign_in_failed",
            AuditAction::PasswordSignInThrottled => "password_sign_in_throttled",
            AuditAction::PasswordSet => "password_set",
            AuditAction::PasswordCleared => "password_cleared",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::MemberRemoved => "member_removed",
            AuditAction::MemberRestored => "member_restored",
            AuditAction::InviteCreated => "invite_created",
            AuditAction::InviteCancelled => "invite_cancelled",
            AuditAction::TokenCreated => "token_created",
            AuditAction::TokenRevealed => "token_revealed",
            AuditAction::TokenRevoked => "token_revoked",
            AuditAction::TeamCreated => "team_created",
            AuditAction::EmailDomainsSet => "email_domains_set",
            AuditAction::SsoSettingsSaved => "sso_settings_saved",
            AuditAction::SsoSettingsTestPassed => "sso_settings_test_passed",
            AuditAction::SsoSettingsTestFailed => "sso_settings_test_failed",
            AuditAction::SsoSettingsApplied => "sso_settings_applied",
            AuditAction::SsoSettingsDiscarded => "sso_settings_discarded",
            AuditAction::SessionsEnded => "sessions_ended",
            AuditAction::SessionRevoked => "session_revoked",
            AuditAction::OtherSessionsRevoked => "other_sessions_revoked",
            AuditAction::BackchannelLogout => "backchannel_logout",
            AuditAction::BackchannelLogoutRefused => "backchannel_logout_refused",
            AuditAction::ScimTokenCreated => "scim_token_created",
            AuditAction::ScimTokenRotated => "scim_token_rotated",
            AuditAction::ScimTokenRevoked => "scim_token_revoked",
            AuditAction::ScimUserCreated => "scim_user_created",
            AuditAction::ScimUserUpdated => "scim_user_updated",
            AuditAction::ScimUserDeleted => "scim_user_deleted",
            AuditAction::ScimUserLinked => "scim_user_linked",
            AuditAction::ScimGroupCreated => "scim_group_created",
            AuditAction::ScimGroupUpdated => "scim_group_updated",
            AuditAction::ScimGroupDeleted => "scim_group_deleted",
        }
    }

    /// What people read for it: the audit page's cells and filter.
    pub fn label(self) -> &'static str {
        match self {
            AuditAction::AccountCreated => "Account created",
            AuditAction::SignIn => "Signed in",
            AuditAction::SignInRefused => "Sign-in refused",
            AuditAction::PasswordSignIn => "Break-glass sign-in",
            AuditAction::PasswordSignInFailed => "Break-glass sign-in failed",
            AuditAction::PasswordSignInThrottled => "Break-glass sign-in throttled",
            AuditAction::PasswordSet => "Break-glass password set",
            AuditAction::PasswordCleared => "Break-glass password cleared",
            AuditAction::RoleChanged => "Role changed",
            AuditAction::MemberRemoved => "Member removed",
            AuditAction::MemberRestored => "Member restored",
            AuditAction::InviteCreated => "Invitation sent",
            AuditAction::InviteCancelled => "Invitation cancelled",
            AuditAction::TokenCreated => "Token created",
            AuditAction::TokenRevealed => "Token revealed",
            AuditAction::TokenRevoked => "Token revoked",
            AuditAction::TeamCreated => "Team created",
            AuditAction::EmailDomainsSet => "Email domains set",
            AuditAction::SsoSettingsSaved => "SSO settings saved",
            AuditAction::SsoSettingsTestPassed => "SSO settings test passed",
            AuditAction::SsoSettingsTestFailed => "SSO settings test failed",
            AuditAction::SsoSettingsApplied => "SSO settings applied",
            AuditAction::SsoSettingsDiscarded => "SSO settings discarded",
            AuditAction::SessionsEnded => "Sessions ended by an admin",
            AuditAction::SessionRevoked => "Session ended",
            AuditAction::OtherSessionsRevoked => "Other sessions ended",
            AuditAction::BackchannelLogout => "Signed out by the identity provider",
            AuditAction::BackchannelLogoutRefused => "Identity provider sign-out refused",
            AuditAction::ScimTokenCreated => "SCIM token created",
            AuditAction::ScimTokenRotated => "SCIM token rotated",
            AuditAction::ScimTokenRevoked => "SCIM token revoked",
            AuditAction::ScimUserCreated => "Provisioned by SCIM",
            AuditAction::ScimUserUpdated => "Updated by SCIM",
            AuditAction::ScimUserDeleted => "Deleted by SCIM",
            AuditAction::ScimUserLinked => "Provisioned account signed in",
            AuditAction::ScimGroupCreated => "SCIM group created",
            AuditAction::ScimGroupUpdated => "SCIM group updated",
            AuditAction::ScimGroupDeleted => "SCIM group deleted",
        }
    }

    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_its_own_stored_word_and_parses_back() {
        let words: std::collections::HashSet<_> =
            AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(words.len(), AuditAction::ALL.len());
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::TokenRevealed.as_str(), "token_revealed");
        assert_eq!(AuditAction::parse("nonsense"), None);
    }

    #[test]
    fn every_action_has_its_own_words_for_people_and_none_is_a_code() {
        let labels: std::collections::HashSet<_> =
            AuditAction::ALL.iter().map(|a| a.label()).collect();
        assert_eq!(labels.len(), AuditAction::ALL.len());
        for a in AuditAction::ALL {
            assert!(!a.label().contains('_'), "{a}: {}", a.label());
            assert!(a.label().starts_with(char::is_uppercase), "{a}");
        }
        assert_eq!(AuditAction::AccountCreated.label(), "Account created");
    }
}
