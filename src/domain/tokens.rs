//! Rules for API tokens: what a name may be, how many a member and a team may hold, how the
//! tokens page is cut into pages. No I/O here.

use super::text::strip_unsafe;

/// Active (not revoked, not expired) tokens one member may hold.
pub const MAX_ACTIVE_PER_MEMBER: i64 = 100;
/// Active tokens one team may hold, all members together.
pub const MAX_ACTIVE_PER_TEAM: i64 = 1_000;
/// Tokens shown on one page of `/tokens`.
pub const PAGE_SIZE: i64 = 50;

/// A token name as typed, made safe (no control or bidi-format characters, trimmed), if it
/// is then 1 to 64 characters.
pub fn clean_name(raw: &str) -> Option<String> {
    let name = strip_unsafe(raw);
    (1..=64).contains(&name.chars().count()).then_some(name)
}

/// Where a token stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    /// Revoked wins over expired: a revoked token never verifies again.
    pub fn of(revoked_at: Option<i64>, expires_at: Option<i64>, at: i64) -> TokenStatus {
        if revoked_at.is_some() {
            TokenStatus::Revoked
        } else if expires_at.is_some_and(|e| e <= at) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

impl std::fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one more token may not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum LimitError {
    Member,
    Team,
}

impl LimitError {
    pub fn message(self) -> &'static str {
        match self {
            LimitError::Member => "You already hold 100 active tokens, the most one member may have. Revoke tokens you no longer use, then create this one.",
            LimitError::Team => "This team already has 1,000 active tokens, the most a team may have. Revoke tokens the team no longer uses, then create this one.",
        }
    }
}

/// Whether a member holding `member_active` active tokens, in a team holding `team_active`,
/// may create one more.
pub fn check_token_limits(member_active: i64, team_active: i64) -> Result<(), LimitError> {
    if member_active >= MAX_ACTIVE_PER_MEMBER {
        return Err(LimitError::Member);
    }
    if team_active >= MAX_ACTIVE_PER_TEAM {
        return Err(LimitError::Team);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_controls_and_bidi_formats_and_must_keep_one_to_64_characters() {
        assert_eq!(
            clean_name("  ci\u{202E}-deploy\u{0}\n").as_deref(),
            Some("ci-deploy")
        );
        assert_eq!(clean_name("Zoë 李").as_deref(), Some("Zoë 李"));
        assert_eq!(clean_name("\u{2066}\t "), None);
        assert_eq!(clean_name(&"x".repeat(65)), None);
        assert!(clean_name(&"é".repeat(64)).is_some());
    }

    #[test]
    fn a_token_is_revoked_before_it_is_expired_and_expires_at_its_second() {
        assert_eq!(TokenStatus::of(None, None, 100), TokenStatus::Active);
        assert_eq!(TokenStatus::of(None, Some(101), 100), TokenStatus::Active);
        assert_eq!(TokenStatus::of(None, Some(100), 100), TokenStatus::Expired);
        assert_eq!(
            TokenStatus::of(Some(50), Some(10), 100),
            TokenStatus::Revoked
        );
        assert_eq!(TokenStatus::Expired.to_string(), "expired");
    }

    #[test]
    fn limits_count_the_member_first_then_the_team() {
        assert_eq!(check_token_limits(99, 999), Ok(()));
        assert_eq!(check_token_limits(100, 0), Err(LimitError::Member));
        assert_eq!(check_token_limits(0, 1_000), Err(LimitError::Team));
        assert_eq!(check_token_limits(100, 1_000), Err(LimitError::Member));
    }
}
