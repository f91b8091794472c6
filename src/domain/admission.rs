//! Admitting a person at sign-in, as a value: what the IdP said, the team's rules, the
//! account the identity already has and a pending invitation go in; what the store must
//! write (or the refusal) comes out. No I/O here: the store gathers the facts and applies
//! the outcome in one transaction.

use super::{Email, Provisioning, Role, RoleSource};

/// The team's rules for sign-in.
#[derive(Debug, Clone, Copy)]
pub struct TeamRules<'a> {
    pub admin_email: Option<&'a Email>,
    pub provisioning: Provisioning,
    pub admin_groups: &'a [String],
}

/// What the IdP said about the person.
#[derive(Debug, Clone, Copy)]
pub struct Claims<'a> {
    pub email: &'a Email,
    /// The IdP itself said `email_verified: true` (not merely trusted by `trust_email`).
    pub email_verified: bool,
    /// `None` when the IdP sent no `groups` claim: group-managed roles are left alone.
    pub groups: Option<&'a [String]>,
}

/// The account this issuer + subject already has in the team.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    pub role: Role,
    pub source: RoleSource,
    pub active: bool,
}

/// Everything the decision depends on, read by the store in the sign-in's transaction.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub rules: TeamRules<'a>,
    pub claims: Claims<'a>,
    pub account: Option<Account>,
    /// Some account in the team (any state) already has this email.
    pub email_in_team: bool,
    /// Some removed account in the team has this email.
    pub email_removed_in_team: bool,
    /// The pending invitation for this email, by id.
    pub invitation: Option<i64>,
    /// Active admins in the team before this sign-in.
    pub active_admins: i64,
    /// With no account for this identity: the account SCIM provisioned with this email that
    /// has no IdP identity yet (the sign-in links to it).
    pub provisioned: Option<Provisioned>,
}

/// An account SCIM created before its first sign-in.
#[derive(Debug, Clone, Copy)]
pub struct Provisioned {
    pub role: Role,
    pub active: bool,
    /// Another account in the team (any state) has the same email.
    pub email_shared: bool,
    /// SCIM pushed it into a group named in `admin_groups`.
    pub scim_admin_group: bool,
}

/// Why a sign-in is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not invited")]
    NotInvited,
    #[error("removed from the team")]
    Removed,
}

/// How a new account came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinedVia {
    Jit,
    Invite,
}

impl JoinedVia {
    /// The `users.joined_via` value.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinedVia::Jit => "jit",
            JoinedVia::Invite => "invite",
        }
    }
    /// The audit row's words.
    pub fn describe(self) -> &'static str {
        match self {
            JoinedVia::Jit => "joined via JIT",
            JoinedVia::Invite => "joined via invitation",
        }
    }
}

/// A change `admin_groups` makes to a returning account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupChange {
    Grant,
    TakeBack,
}

impl GroupChange {
    pub fn role(self) -> (Role, RoleSource) {
        match self {
            GroupChange::Grant => (Role::Admin, RoleSource::Groups),
            GroupChange::TakeBack => (Role::Member, RoleSource::Default),
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            GroupChange::Grant => "member -> admin (admin_groups)",
            GroupChange::TakeBack => "admin -> member (left admin_groups)",
        }
    }
}

/// What the store writes for an admitted sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A first sign-in: a new account, accepting `invitation` when there is one.
    Create {
        role: Role,
        source: RoleSource,
        via: JoinedVia,
        invitation: Option<i64>,
    },
    /// The first sign-in of a SCIM-provisioned account: it takes this identity, and `role`
    /// when the link changes the role it was provisioned with.
    Link { role: Option<(Role, RoleSource)> },
    /// A returning account: reactivated through `restore_with` (an invitation) when it was
    /// removed; its role changed by `admin_groups` when `groups` says so.
    Return {
        restore_with: Option<i64>,
        groups: Option<GroupChange>,
    },
}

/// Whether the claimed groups make an admin: `None` when the team has no `admin_groups` or
/// the IdP sent no `groups` claim (then roles are left alone).
pub fn in_admin_groups(rules: &TeamRules<'_>, claims: &Claims<'_>) -> Option<bool> {
    if rules.admin_groups.is_empty() {
        return None;
    }
    let groups = claims.groups?;
    Some(groups.iter().any(|g| rules.admin_groups.contains(g)))
}

/// Whether a new account gets what the team's `admin_email` grants (the admin role, and on an
/// invite-only team entry without an invitation). Only the first account with that email in
/// the team, and only when the IdP itself says the email is verified: `trust_email` lets an
/// unverified email in as a member, never as the admin. Once any account with that email
/// exists (active, removed or demoted), another IdP account claiming it is an ordinary one.
pub fn admin_email_applies(
    admin_email: Option<&Email>,
    email: &Email,
    email_verified: bool,
    email_already_in_team: bool,
) -> bool {
    admin_email == Some(email) && email_verified && !email_already_in_team
}

/// Linking a provisioned account. A member SCIM deactivated stays refused. The link is by
/// email, so it carries admin (from `admin_email`, the `groups` claim or a SCIM admin group)
/// only when the IdP itself says the email is verified: `trust_email` links a member. That
/// holds for a role an admin (or the shell) gave the account before its first sign-in too:
/// an unverified email takes it as a member. No admin who can sign in is lost by that: an
/// account nobody has signed in to never counts as one.
fn link(f: &Facts<'_>, p: Provisioned, group_admin: Option<bool>) -> Result<Admission, Refusal> {
    if !p.active {
        return Err(Refusal::Removed);
    }
    if !f.claims.email_verified {
        let role = (p.role == Role::Admin).then_some((Role::Member, RoleSource::Default));
        return Ok(Admission::Link { role });
    }
    let admin = if p.role != Role::Member {
        None
    } else if admin_email_applies(
        f.rules.admin_email,
        f.claims.email,
        f.claims.email_verified,
        p.email_shared,
    ) {
        Some(RoleSource::AdminEmail)
    } else if group_admin == Some(true) || p.scim_admin_group {
        Some(RoleSource::Groups)
    } else {
        None
    };
    Ok(Admission::Link {
        role: admin.map(|source| (Role::Admin, source)),
    })
}

/// The sign-in decision.
pub fn decide(f: &Facts<'_>) -> Result<Admission, Refusal> {
    let group_admin = in_admin_groups(&f.rules, &f.claims);
    if let (None, Some(p)) = (f.account, f.provisioned) {
        return link(f, p, group_admin);
    }
    let Some(account) = f.account else {
        let admin_email = admin_email_applies(
            f.rules.admin_email,
            f.claims.email,
            f.claims.email_verified,
            f.email_in_team,
        );
        // On an invite-only team the `admin_email` may always sign in (verified by the IdP):
        // a second account with it comes in as a member, as on a JIT team. Not past a
        // removal, though: a removed account's email needs an invitation, whatever the `sub`.
        let admin_email_enters = f.rules.admin_email == Some(f.claims.email)
            && f.claims.email_verified
            && !f.email_removed_in_team;
        let invitation = match (f.rules.provisioning, f.invitation) {
            (Provisioning::Invite, Some(i)) if !admin_email => Some(i),
            (Provisioning::Invite, None) if !admin_email_enters => return Err(Refusal::NotInvited),
            _ => None,
        };
        let (role, source) = if admin_email {
            (Role::Admin, RoleSource::AdminEmail)
        } else if group_admin == Some(true) {
            (Role::Admin, RoleSource::Groups)
        } else {
            (Role::Member, RoleSource::Default)
        };
        let via = match invitation {
            Some(_) => JoinedVia::Invite,
            None => JoinedVia::Jit,
        };
        return Ok(Admission::Create {
            role,
            source,
            via,
            invitation,
        });
    };
    // A removed member comes back only through a new invitation on an invite-only team.
    let restore_with = match (account.active, f.rules.provisioning) {
        (true, _) => None,
        (false, Provisioning::Invite) => Some(f.invitation.ok_or(Refusal::Removed)?),
        (false, Provisioning::Jit) => return Err(Refusal::Removed),
    };
    // A member restored through an invitation comes back as a member, as one an admin
    // restores does: removal ended their admin rights (the groups may grant them again).
    let role_now = match restore_with {
        Some(_) => Role::Member,
        None => account.role,
    };
    let groups = match group_admin {
        Some(true) if role_now == Role::Member => Some(GroupChange::Grant),
        // Take back only what the groups granted, and never the last admin.
        Some(false)
            if role_now == Role::Admin
                && account.source == RoleSource::Groups
                && f.active_admins > 1 =>
        {
            Some(GroupChange::TakeBack)
        }
        _ => None,
    };
    Ok(Admission::Return {
        restore_with,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> Email {
        Email::parse(s).expect("test email")
    }

    struct World {
        admin_email: Email,
        email: Email,
        admin_groups: Vec<String>,
        groups: Option<Vec<String>>,
    }

    fn world(email: &str) -> World {
        World {
            admin_email: e("alice@acme.com"),
            email: e(email),
            admin_groups: Vec::new(),
            groups: None,
        }
    }

    fn facts(w: &World, provisioning: Provisioning) -> Facts<'_> {
        Facts {
            rules: TeamRules {
                admin_email: Some(&w.admin_email),
                provisioning,
                admin_groups: &w.admin_groups,
            },
            claims: Claims {
                email: &w.email,
                email_verified: true,
                groups: w.groups.as_deref(),
            },
            account: None,
            email_in_team: false,
            email_removed_in_team: false,
            invitation: None,
            active_admins: 1,
            provisioned: None,
        }
    }

    fn account(role: Role, source: RoleSource, active: bool) -> Option<Account> {
        Some(Account {
            role,
            source,
            active,
        })
    }

    /// A new plain member who joined just in time.
    const JIT_MEMBER: Admission = Admission::Create {
        role: Role::Member,
        source: RoleSource::Default,
        via: JoinedVia::Jit,
        invitation: None,
    };

    fn created(
        role: Role,
        source: RoleSource,
        via: JoinedVia,
        invitation: Option<i64>,
    ) -> Admission {
        Admission::Create {
            role,
            source,
            via,
            invitation,
        }
    }

    #[test]
    fn only_the_first_verified_account_with_the_admin_email_gets_it() {
        let admin = e("alice@acme.com");
        assert!(admin_email_applies(Some(&admin), &admin, true, false));
        assert!(!admin_email_applies(Some(&admin), &admin, false, false));
        assert!(!admin_email_applies(Some(&admin), &admin, true, true));
        assert!(!admin_email_applies(
            Some(&admin),
            &e("bob@acme.com"),
            true,
            false
        ));
        assert!(!admin_email_applies(None, &admin, true, false));
    }

    #[test]
    fn a_first_sign_in_on_a_jit_team_creates_a_member() {
        let w = world("bob@acme.com");
        assert_eq!(decide(&facts(&w, Provisioning::Jit)), Ok(JIT_MEMBER));
    }

    #[test]
    fn the_admin_email_becomes_admin_and_needs_no_invitation() {
        let w = world("alice@acme.com");
        for p in [Provisioning::Jit, Provisioning::Invite] {
            assert_eq!(
                decide(&facts(&w, p)),
                Ok(created(
                    Role::Admin,
                    RoleSource::AdminEmail,
                    JoinedVia::Jit,
                    None
                ))
            );
        }
        // Unverified (let in by trust_email) or already taken: an ordinary member.
        let mut f = facts(&w, Provisioning::Jit);
        f.claims.email_verified = false;
        assert_eq!(decide(&f), Ok(JIT_MEMBER));
        // On an invite-only team the admin_email still enters without an invitation (as a
        // member once the email is taken: after an issuer change, say), but only verified.
        let mut f = facts(&w, Provisioning::Invite);
        f.email_in_team = true;
        assert_eq!(decide(&f), Ok(JIT_MEMBER));
        f.email_removed_in_team = true;
        assert_eq!(decide(&f), Err(Refusal::NotInvited), "not past a removal");
        f.email_removed_in_team = false;
        f.claims.email_verified = false;
        assert_eq!(decide(&f), Err(Refusal::NotInvited));
    }

    #[test]
    fn an_invite_only_team_admits_a_newcomer_only_with_an_invitation() {
        let w = world("bob@acme.com");
        assert_eq!(
            decide(&facts(&w, Provisioning::Invite)),
            Err(Refusal::NotInvited)
        );
        let mut f = facts(&w, Provisioning::Invite);
        f.invitation = Some(9);
        assert_eq!(
            decide(&f),
            Ok(created(
                Role::Member,
                RoleSource::Default,
                JoinedVia::Invite,
                Some(9)
            ))
        );
        // A JIT team ignores invitations: the account joins JIT.
        let mut f = facts(&w, Provisioning::Jit);
        f.invitation = Some(9);
        assert_eq!(decide(&f), Ok(JIT_MEMBER));
    }

    #[test]
    fn a_newcomer_in_the_admin_groups_becomes_a_group_admin() {
        let mut w = world("bob@acme.com");
        w.admin_groups = vec!["portal-admins".into()];
        w.groups = Some(vec!["staff".into(), "portal-admins".into()]);
        assert_eq!(
            decide(&facts(&w, Provisioning::Jit)),
            Ok(created(
                Role::Admin,
                RoleSource::Groups,
                JoinedVia::Jit,
                None
            ))
        );
        w.groups = Some(vec!["staff".into()]);
        assert_eq!(decide(&facts(&w, Provisioning::Jit)), Ok(JIT_MEMBER));
    }

    #[test]
    fn a_returning_member_signs_in_unchanged() {
        let w = world("bob@acme.com");
        let mut f = facts(&w, Provisioning::Invite);
        f.account = account(Role::Member, RoleSource::Default, true);
        assert_eq!(
            decide(&f),
            Ok(Admission::Return {
                restore_with: None,
                groups: None
            })
        );
    }

    #[test]
    fn a_removed_member_returns_only_through_an_invitation_on_an_invite_only_team() {
        let w = world("bob@acme.com");
        let mut f = facts(&w, Provisioning::Jit);
        f.account = account(Role::Member, RoleSource::Default, false);
        f.invitation = Some(4);
        assert_eq!(decide(&f), Err(Refusal::Removed));
        f.rules.provisioning = Provisioning::Invite;
        assert_eq!(
            decide(&f),
            Ok(Admission::Return {
                restore_with: Some(4),
                groups: None
            })
        );
        f.invitation = None;
        assert_eq!(decide(&f), Err(Refusal::Removed));
    }

    #[test]
    fn a_removed_admin_invited_back_returns_as_a_member_unless_the_groups_grant_admin() {
        let mut w = world("bob@acme.com");
        let mut f = facts(&w, Provisioning::Invite);
        f.account = account(Role::Admin, RoleSource::Manual, false);
        f.invitation = Some(4);
        // The store writes the restored row as a member; no group change on top of that.
        assert_eq!(
            decide(&f),
            Ok(Admission::Return {
                restore_with: Some(4),
                groups: None
            })
        );
        w.admin_groups = vec!["portal-admins".into()];
        w.groups = Some(vec!["portal-admins".into()]);
        let mut f = facts(&w, Provisioning::Invite);
        f.account = account(Role::Admin, RoleSource::Groups, false);
        f.invitation = Some(4);
        assert_eq!(
            decide(&f),
            Ok(Admission::Return {
                restore_with: Some(4),
                groups: Some(GroupChange::Grant)
            })
        );
    }

    #[test]
    fn admin_groups_grant_and_take_back_only_their_own_grant_never_the_last_admin() {
        let mut w = world("bob@acme.com");
        w.admin_groups = vec!["portal-admins".into()];
        w.groups = Some(vec!["portal-admins".into()]);
        let mut f = facts(&w, Provisioning::Jit);
        f.account = account(Role::Member, RoleSource::Default, true);
        let returned = |groups| {
            Ok(Admission::Return {
                restore_with: None,
                groups,
            })
        };
        assert_eq!(decide(&f), returned(Some(GroupChange::Grant)));

        w.groups = Some(vec!["staff".into()]);
        let mut f = facts(&w, Provisioning::Jit);
        f.account = account(Role::Admin, RoleSource::Groups, true);
        f.active_admins = 2;
        assert_eq!(decide(&f), returned(Some(GroupChange::TakeBack)));
        f.active_admins = 1;
        assert_eq!(decide(&f), returned(None), "the last admin stays");
        f.active_admins = 2;
        f.account = account(Role::Admin, RoleSource::Manual, true);
        assert_eq!(decide(&f), returned(None), "a manual admin stays");
        f.claims.groups = None;
        f.account = account(Role::Admin, RoleSource::Groups, true);
        assert_eq!(decide(&f), returned(None), "no groups claim: left alone");
    }

    #[test]
    fn a_group_admin_restored_by_invitation_out_of_the_group_needs_no_take_back() {
        let mut w = world("bob@acme.com");
        w.admin_groups = vec!["portal-admins".into()];
        w.groups = Some(Vec::new());
        let mut f = facts(&w, Provisioning::Invite);
        f.account = account(Role::Admin, RoleSource::Groups, false);
        f.invitation = Some(3);
        f.active_admins = 1;
        // Back as a member already: there is nothing for the groups to take back.
        assert_eq!(
            decide(&f),
            Ok(Admission::Return {
                restore_with: Some(3),
                groups: None
            })
        );
    }

    #[test]
    fn a_provisioned_account_links_and_carries_admin_only_with_a_verified_email() {
        let mut w = world("alice@acme.com");
        w.admin_groups = vec!["portal-admins".into()];
        let p = Provisioned {
            role: Role::Member,
            active: true,
            email_shared: false,
            scim_admin_group: false,
        };
        let mut f = facts(&w, Provisioning::Invite);
        f.provisioned = Some(p);
        assert_eq!(
            decide(&f),
            Ok(Admission::Link {
                role: Some((Role::Admin, RoleSource::AdminEmail))
            })
        );
        f.claims.email_verified = false;
        assert_eq!(decide(&f), Ok(Admission::Link { role: None }));
        let w = world("bob@acme.com");
        let mut f = facts(&w, Provisioning::Jit);
        f.provisioned = Some(Provisioned {
            scim_admin_group: true,
            ..p
        });
        assert_eq!(
            decide(&f),
            Ok(Admission::Link {
                role: Some((Role::Admin, RoleSource::Groups))
            })
        );
        f.claims.email_verified = false;
        assert_eq!(decide(&f), Ok(Admission::Link { role: None }));
        f.provisioned = Some(Provisioned { active: false, ..p });
        assert_eq!(decide(&f), Err(Refusal::Removed));
    }

    #[test]
    fn an_unverified_email_never_takes_the_admin_role_an_account_was_given_before_it_signed_in() {
        let w = world("cfo@acme.com");
        let made_admin = Provisioned {
            role: Role::Admin,
            active: true,
            email_shared: false,
            scim_admin_group: false,
        };
        let mut f = facts(&w, Provisioning::Jit);
        f.provisioned = Some(made_admin);
        assert_eq!(decide(&f), Ok(Admission::Link { role: None }), "verified");
        f.claims.email_verified = false;
        for admins in [1, 0] {
            f.active_admins = admins;
            assert_eq!(
                decide(&f),
                Ok(Admission::Link {
                    role: Some((Role::Member, RoleSource::Default))
                }),
                "{admins} signed-in admins"
            );
        }
    }

    #[test]
    fn refusals_read_as_the_audit_log_has_them() {
        assert_eq!(Refusal::NotInvited.to_string(), "not invited");
        assert_eq!(Refusal::Removed.to_string(), "removed from the team");
    }
}
