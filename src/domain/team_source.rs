//! Where a team's settings come from: the config file, `teamportal demo`, or the shell
//! (`admin create-team`, then edited in the browser). Stored in `teams.source`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamSource {
    Config,
    Demo,
    Shell,
}

impl TeamSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamSource::Config => "config",
            TeamSource::Demo => "demo",
            TeamSource::Shell => "shell",
        }
    }

    pub fn parse(s: &str) -> Option<TeamSource> {
        [TeamSource::Config, TeamSource::Demo, TeamSource::Shell]
            .into_iter()
            .find(|t| t.as_str() == s)
    }

    /// Only shell teams have their SSO settings in the database, editable in the browser.
    pub fn browser_managed(self) -> bool {
        self == TeamSource::Shell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_words_round_trip_and_only_shell_teams_are_browser_managed() {
        for t in [TeamSource::Config, TeamSource::Demo, TeamSource::Shell] {
            assert_eq!(TeamSource::parse(t.as_str()), Some(t));
        }
        assert_eq!(TeamSource::parse("Shell"), None);
        assert!(TeamSource::Shell.browser_managed());
        assert!(!TeamSource::Config.browser_managed());
        assert!(!TeamSource::Demo.browser_managed());
    }
}
