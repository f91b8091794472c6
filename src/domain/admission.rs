//! Rules for admitting a person at sign-in.

use super::Email;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> Email {
        Email::parse(s).expect("test email")
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
}
