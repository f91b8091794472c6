//! Who may see, reveal and revoke which API token: the one place that says it. The store
//! asks this inside the transaction that reads or changes the token; the list query takes
//! its filter from [`Viewer::sees_personal_of_others`].

use super::{TokenId, UserId};

/// The signed-in member asking, with whether they are an admin of the token's team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub id: UserId,
    pub admin: bool,
}

/// What the policy needs to know about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenFacts {
    pub id: TokenId,
    pub creator: UserId,
    pub personal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAction {
    /// Listed on `/tokens`.
    See,
    /// Its secret shown again.
    Reveal,
    Revoke,
}

/// Why the action is refused. `NotFound` where the token must not even seem to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    Forbidden(&'static str),
}

pub const ONLY_CREATOR_OR_ADMIN_REVOKES: &str =
    "Only the token's creator or a team admin may revoke it.";

impl Viewer {
    /// Personal tokens of other members: admins see that they exist (to revoke them).
    pub fn sees_personal_of_others(self) -> bool {
        self.admin
    }

    /// A shared token is the team's: every member sees and reveals it, its creator and admins
    /// revoke it. A personal token exists only for its creator, except that admins see and
    /// revoke it (never reveal it).
    pub fn may(self, action: TokenAction, token: TokenFacts) -> Result<(), Refusal> {
        let own = token.creator == self.id;
        let visible = !token.personal || own || self.sees_personal_of_others();
        match action {
            TokenAction::See if visible => Ok(()),
            TokenAction::Reveal if !token.personal || own => Ok(()),
            TokenAction::Revoke if visible && (own || self.admin) => Ok(()),
            TokenAction::Revoke if visible => {
                Err(Refusal::Forbidden(ONLY_CREATOR_OR_ADMIN_REVOKES))
            }
            _ => Err(Refusal::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenAction::*;

    const CREATOR: UserId = UserId(1);

    fn creator() -> Viewer {
        Viewer {
            id: CREATOR,
            admin: false,
        }
    }
    fn member() -> Viewer {
        Viewer {
            id: UserId(2),
            admin: false,
        }
    }
    fn admin() -> Viewer {
        Viewer {
            id: UserId(3),
            admin: true,
        }
    }
    fn token(personal: bool) -> TokenFacts {
        TokenFacts {
            id: TokenId(7),
            creator: CREATOR,
            personal,
        }
    }

    #[test]
    fn a_shared_token_is_seen_and_revealed_by_every_member() {
        for who in [creator(), member(), admin()] {
            assert_eq!(who.may(See, token(false)), Ok(()));
            assert_eq!(who.may(Reveal, token(false)), Ok(()));
        }
    }

    #[test]
    fn a_shared_token_is_revoked_by_its_creator_or_an_admin_and_refused_to_other_members() {
        assert_eq!(creator().may(Revoke, token(false)), Ok(()));
        assert_eq!(admin().may(Revoke, token(false)), Ok(()));
        assert_eq!(
            member().may(Revoke, token(false)),
            Err(Refusal::Forbidden(ONLY_CREATOR_OR_ADMIN_REVOKES))
        );
    }

    #[test]
    fn a_personal_token_exists_only_for_its_creator_and_for_admins_to_revoke() {
        let t = token(true);
        assert_eq!(creator().may(See, t), Ok(()));
        assert_eq!(creator().may(Reveal, t), Ok(()));
        assert_eq!(creator().may(Revoke, t), Ok(()));
        for action in [See, Reveal, Revoke] {
            assert_eq!(
                member().may(action, t),
                Err(Refusal::NotFound),
                "{action:?}"
            );
        }
        assert_eq!(admin().may(See, t), Ok(()));
        assert_eq!(admin().may(Reveal, t), Err(Refusal::NotFound));
        assert_eq!(admin().may(Revoke, t), Ok(()));
    }

    #[test]
    fn an_admin_creator_holds_every_right_on_their_own_personal_token() {
        let own = Viewer {
            id: CREATOR,
            admin: true,
        };
        for action in [See, Reveal, Revoke] {
            assert_eq!(own.may(action, token(true)), Ok(()));
        }
        assert!(own.sees_personal_of_others());
        assert!(!member().sees_personal_of_others());
    }
}
