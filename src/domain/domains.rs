//! Email domains route a work email to one team. A domain belongs to at most one team across
//! the config file's and the browser-managed teams: a second claim is a collision, and a
//! lookup that finds two owners refuses rather than picks one.

/// One team's claim on email domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainClaim {
    pub team: String,
    pub domains: Vec<String>,
}

/// Where a work email's domain leads.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    NoTeam,
    Team(&'a str),
    /// More than one team claims the domain (only possible in a store written behind the
    /// portal's back): nobody is sent to either IdP.
    Ambiguous(Vec<&'a str>),
}

/// The rule a listed email domain breaks when it is not a domain name.
pub const DOMAIN_RULE: &str = "must be a domain name such as \"acme.com\"";

/// Email domains as an operator lists them (config file, `create-team`, `set-domains`):
/// trimmed and lowercased, repeats dropped; or every entry that is not a domain name, as
/// given.
pub fn normalise_list<S: AsRef<str>>(given: &[S]) -> Result<Vec<String>, Vec<String>> {
    let mut domains = Vec::new();
    let mut bad = Vec::new();
    for raw in given {
        let d = raw.as_ref().trim().to_ascii_lowercase();
        if !super::valid_domain(&d) {
            bad.push(raw.as_ref().to_string());
        } else if !domains.contains(&d) {
            domains.push(d);
        }
    }
    if bad.is_empty() {
        Ok(domains)
    } else {
        Err(bad)
    }
}

/// The team that owns `domain` (already lowercase).
pub fn route<'a>(claims: &'a [DomainClaim], domain: &str) -> Route<'a> {
    let owners: Vec<&str> = claims
        .iter()
        .filter(|c| c.domains.iter().any(|d| d == domain))
        .map(|c| c.team.as_str())
        .collect();
    match owners.as_slice() {
        [] => Route::NoTeam,
        [one] => Route::Team(one),
        _ => Route::Ambiguous(owners),
    }
}

/// A domain claimed by two teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub domain: String,
    pub first: String,
    pub second: String,
}

impl std::fmt::Display for Collision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "email domain {:?} is claimed by team {:?} and by team {:?}; a domain may belong to one team only",
            self.domain, self.first, self.second
        )
    }
}

/// Every domain claimed by more than one team, in claim order.
pub fn collisions(claims: &[DomainClaim]) -> Vec<Collision> {
    let mut seen: std::collections::BTreeMap<&str, &str> = Default::default();
    let mut out = Vec::new();
    for c in claims {
        for d in &c.domains {
            match seen.get(d.as_str()) {
                Some(first) if *first != c.team => out.push(Collision {
                    domain: d.clone(),
                    first: first.to_string(),
                    second: c.team.clone(),
                }),
                Some(_) => {}
                None => {
                    seen.insert(d, &c.team);
                }
            }
        }
    }
    out
}

/// Checks that `team` may take `wanted` given the other teams' claims: the domains other
/// teams already own, each with its owner.
pub fn taken_by_others<'a>(
    claims: &'a [DomainClaim],
    team: &str,
    wanted: &[String],
) -> Vec<(String, &'a str)> {
    wanted
        .iter()
        .filter_map(|d| {
            claims
                .iter()
                .find(|c| c.team != team && c.domains.contains(d))
                .map(|c| (d.clone(), c.team.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn listed_domains_are_lowercased_and_deduplicated_and_every_bad_one_named() {
        assert_eq!(
            normalise_list(&[" Acme.COM", "acme.com", "eng.acme.com"]),
            Ok(vec!["acme.com".to_string(), "eng.acme.com".to_string()])
        );
        assert_eq!(
            normalise_list(&["acme.com", "not a domain", "-x.com"]),
            Err(vec!["not a domain".to_string(), "-x.com".to_string()])
        );
        assert_eq!(normalise_list::<&str>(&[]), Ok(Vec::new()));
    }

    use super::*;

    fn claim(team: &str, domains: &[&str]) -> DomainClaim {
        DomainClaim {
            team: team.into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn a_domain_routes_to_its_one_owner_and_an_ambiguous_one_to_nobody() {
        let claims = [claim("acme", &["acme.com"]), claim("beta", &["beta.io"])];
        assert_eq!(route(&claims, "acme.com"), Route::Team("acme"));
        assert_eq!(route(&claims, "other.org"), Route::NoTeam);
        let clash = [claim("acme", &["acme.com"]), claim("evil", &["acme.com"])];
        assert_eq!(
            route(&clash, "acme.com"),
            Route::Ambiguous(vec!["acme", "evil"])
        );
    }

    #[test]
    fn collisions_name_both_teams_once_per_domain_claim() {
        let claims = [
            claim("acme", &["acme.com", "acme.org"]),
            claim("evil", &["acme.com"]),
            claim("beta", &["beta.io"]),
        ];
        let found = collisions(&claims);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].first, "acme");
        assert_eq!(found[0].second, "evil");
        assert!(found[0].to_string().contains("\"acme\""));
        assert!(found[0].to_string().contains("\"evil\""));
        // A team repeating its own domain is no collision.
        assert!(collisions(&[claim("acme", &["a.com", "a.com"])]).is_empty());
    }

    #[test]
    fn a_team_may_keep_its_own_domains_but_not_take_anothers() {
        let claims = [claim("acme", &["acme.com"]), claim("beta", &["beta.io"])];
        assert!(taken_by_others(&claims, "acme", &["acme.com".into()]).is_empty());
        assert_eq!(
            taken_by_others(&claims, "beta", &["acme.com".into(), "new.io".into()]),
            vec![("acme.com".to_string(), "acme")]
        );
    }
}
