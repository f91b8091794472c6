//! How a team admits people: accounts on first sign-in, or invited emails only.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provisioning {
    /// Just in time: an account is created on first sign-in.
    Jit,
    /// Only emails an admin invited (and the team's `admin_email`) may sign in.
    Invite,
}

impl Provisioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Provisioning::Jit => "jit",
            Provisioning::Invite => "invite",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jit" => Some(Provisioning::Jit),
            "invite" => Some(Provisioning::Invite),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_words_round_trip() {
        for p in [Provisioning::Jit, Provisioning::Invite] {
            assert_eq!(Provisioning::parse(p.as_str()), Some(p));
        }
        assert_eq!(Provisioning::parse("JIT"), None);
    }
}
