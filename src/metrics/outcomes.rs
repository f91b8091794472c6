//! How a verify request or a sign-in ended: the `outcome` label of their counters.

use crate::error::AppError;
use crate::sso::SsoError;

/// How a verify request ended.
#[derive(Debug, Clone, Copy)]
pub enum VerifyOutcome {
    Ok,
    Unauthorized,
    WrongTeam,
    Unavailable,
}

pub(super) const VERIFY_OUTCOMES: [&str; 4] = ["ok", "unauthorized", "wrong_team", "unavailable"];

/// How an SSO or password sign-in ended.
#[derive(Debug, Clone, Copy)]
pub enum SignInOutcome {
    Ok,
    /// A check said no (the IdP's answer, the admission rules, a wrong password).
    Refused,
    /// The identity provider could not be reached or answered nonsense.
    IdpError,
    /// Anything else (the database, a throttle).
    Error,
}

impl SignInOutcome {
    /// The outcome of a sign-in that ended in `e`.
    pub fn of(e: &AppError) -> Self {
        match e {
            AppError::Sso(
                SsoError::Unreachable(_)
                | SsoError::Timeout
                | SsoError::Unavailable(_)
                | SsoError::RateLimited
                | SsoError::Misconfigured { .. },
            ) => SignInOutcome::IdpError,
            AppError::Sso(SsoError::TooManyStarts) | AppError::Store(_) | AppError::Internal(_) => {
                SignInOutcome::Error
            }
            _ => SignInOutcome::Refused,
        }
    }
}

pub(super) const SIGN_IN_OUTCOMES: [&str; 4] = ["ok", "refused", "idp_error", "error"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_or_misconfigured_idp_is_an_idp_error_and_a_refusal_is_refused() {
        let of = |e: SsoError| SignInOutcome::of(&AppError::Sso(e)) as usize;
        assert_eq!(of(SsoError::Timeout), SignInOutcome::IdpError as usize);
        assert_eq!(
            of(SsoError::Unreachable("dns".into())),
            SignInOutcome::IdpError as usize
        );
        assert_eq!(
            of(SsoError::AccessDenied(None)),
            SignInOutcome::Refused as usize
        );
        assert_eq!(
            of(SsoError::EmailNotVerified),
            SignInOutcome::Refused as usize
        );
        assert_eq!(of(SsoError::TooManyStarts), SignInOutcome::Error as usize);
        assert_eq!(
            SignInOutcome::of(&AppError::SignIn(
                crate::domain::admission::Refusal::Removed
            )) as usize,
            SignInOutcome::Refused as usize
        );
    }
}
