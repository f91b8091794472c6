//! Every error a page can end in, mapped to a status and a page in one place. The person
//! sees what happened and what to do; the log gets the cause.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::domain::admission::Refusal;
use crate::sso::SsoError;
use crate::store::users::{ChangeError, SignInError};
use crate::store::StoreError;
use crate::views;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("sign-in required")]
    SignInRequired,
    /// No session on a page: 303 to `/login`, remembering the page (path and query) to
    /// come back to after sign-in.
    #[error("sign-in required")]
    SignInToReach { to: String, https: bool },
    #[error("request body too large")]
    TooLarge,
    #[error("request body did not arrive in time")]
    SlowBody,
    #[error(transparent)]
    Sso(#[from] SsoError),
    #[error("sign-in refused: {0}")]
    SignIn(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A fault of ours: the person sees a generic page, the log the whole cause chain.
    #[error(transparent)]
    Internal(anyhow::Error),
}

pub type Result<T> = std::result::Result<T, AppError>;

impl From<ChangeError> for AppError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::NotFound => AppError::NotFound,
            ChangeError::Forbidden(why) => AppError::Forbidden(why),
            ChangeError::Rule(r) => AppError::Conflict(r.to_string()),
            ChangeError::Conflict(m) => AppError::Conflict(m.to_string()),
            ChangeError::Store(s) => AppError::Store(s),
        }
    }
}

impl From<SignInError> for AppError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Refused(r) => AppError::SignIn(r),
            SignInError::Store(s) => AppError::Store(s),
        }
    }
}

impl AppError {
    /// An internal fault with no error value behind it (a missing piece, a failed unseal).
    pub fn internal(what: &'static str) -> AppError {
        AppError::Internal(anyhow::Error::msg(what))
    }
}

/// `error: cause: cause ...`, for the log.
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        // `transparent` wrappers repeat their source's words; say them once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

impl AppError {
    fn title_and_message(&self) -> (&'static str, String) {
        match self {
            AppError::NotFound => ("Not found", "There is nothing here. Check the address, or go back to your team.".into()),
            AppError::Forbidden(why) => ("Not allowed", (*why).to_string()),
            AppError::BadRequest(why) => ("Bad request", why.clone()),
            AppError::Conflict(why) => ("Not possible", why.clone()),
            AppError::Csrf => (
                "Form expired",
                "This form was not accepted because its security token is missing or out of date. Go back, reload the page and try again.".into(),
            ),
            AppError::SignIn(Refusal::NotInvited) => (
                "Invitation needed",
                "This team admits only people an admin has invited. Ask a team admin to invite your work email, then sign in again.".into(),
            ),
            AppError::SignIn(Refusal::Removed) => (
                "Access removed",
                "Your access to this team was removed by an admin. Ask a team admin to restore it.".into(),
            ),
            AppError::Sso(e) => sso_message(e),
            AppError::SignInRequired | AppError::SignInToReach { .. } => ("Sign in", "Sign in to continue.".into()),
            AppError::TooLarge => ("Too large", "The request was larger than teamportal accepts.".into()),
            AppError::SlowBody => ("Too slow", "The request's body did not arrive in time. Nothing was changed; try again.".into()),
            AppError::Store(_) | AppError::Internal(_) => (
                "Something went wrong",
                "teamportal could not complete this request. Nothing was changed. Try again in a moment; if it keeps happening, tell your administrator.".into(),
            ),
        }
    }
}

fn sso_message(e: &SsoError) -> (&'static str, String) {
    match e {
        SsoError::UnknownTeam => ("Unknown team", "There is no team with this Team ID on this portal.".into()),
        SsoError::Unreachable(_) | SsoError::Unavailable(_) => (
            "Identity provider unavailable",
            "Your company's identity provider could not be reached, so sign-in is not possible right now. Try again in a few minutes.".into(),
        ),
        SsoError::Timeout => (
            "Identity provider too slow",
            "Your company's identity provider did not answer in time. Try again in a few minutes.".into(),
        ),
        SsoError::RateLimited => (
            "Try again shortly",
            "Your company's identity provider is receiving too many sign-ins right now. Wait a minute and try again.".into(),
        ),
        SsoError::TooManyStarts => (
            "Try again shortly",
            "Too many sign-in attempts came from your address. Wait a minute and try again.".into(),
        ),
        // Only the reason teamportal wrote: the detail (IdP URLs, upstream statuses) goes to
        // the log and to admins on /settings/sso.
        SsoError::Misconfigured { public, .. } => (
            "Single sign-on is misconfigured",
            format!("Sign-in cannot work until an administrator fixes the SSO settings: {public}."),
        ),
        SsoError::Invalid(why) => ("Sign-in failed", why.clone()),
        SsoError::AccessDenied(_) => (
            "Access denied by your identity provider",
            "Your identity provider did not let you into teamportal. If you use Okta, ask your Okta admin to assign you the teamportal app, then try again.".into(),
        ),
        SsoError::EmailNotVerified => (
            "Email not verified",
            "Your identity provider did not confirm that your email address is verified, so teamportal cannot admit you. An administrator can set trust_email = true for this team if the identity provider never sends email_verified (for example Entra ID).".into(),
        ),
        SsoError::NoEmail => (
            "No email address",
            "Your identity provider did not send an email address. Ask your administrator to release the email claim (email scope) to teamportal.".into(),
        ),
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::Csrf | AppError::SignIn(_) => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::SignInRequired | AppError::SignInToReach { .. } => StatusCode::SEE_OTHER,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::SlowBody => StatusCode::REQUEST_TIMEOUT,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Sso(e) => match e {
                SsoError::UnknownTeam => StatusCode::NOT_FOUND,
                SsoError::Unreachable(_) | SsoError::Misconfigured { .. } => {
                    StatusCode::BAD_GATEWAY
                }
                SsoError::Unavailable(_) | SsoError::RateLimited => StatusCode::SERVICE_UNAVAILABLE,
                SsoError::Timeout => StatusCode::GATEWAY_TIMEOUT,
                SsoError::TooManyStarts => StatusCode::TOO_MANY_REQUESTS,
                SsoError::Invalid(_) => StatusCode::BAD_REQUEST,
                SsoError::AccessDenied(_) | SsoError::EmailNotVerified | SsoError::NoEmail => {
                    StatusCode::FORBIDDEN
                }
            },
            AppError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::SignInRequired = self {
            return HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, "/login"))
                .finish();
        }
        if let AppError::SignInToReach { to, https } = self {
            return HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, "/login"))
                .cookie(crate::web::return_to::remember(to, *https))
                .finish();
        }
        if status.is_server_error() {
            // Every visitor meets the same failure (an IdP or the database down): a few
            // lines a second say so, and how many more there were.
            static FAILURES: crate::logging::Throttle = crate::logging::Throttle::new();
            let now = u64::try_from(crate::store::now()).unwrap_or(0);
            if let Some(left_out) = FAILURES.allow(5, now) {
                // `left_out`: failures since the last line that were not logged.
                tracing::error!(error = %cause_chain(self), left_out, "request failed");
            }
        } else {
            // A refusal is an ordinary answer, one per request: at info it would be the
            // per-request line `[log] access = false` promises not to write.
            tracing::debug!(error = %cause_chain(self), status = status.as_u16(), "request refused");
        }
        let (title, message) = self.title_and_message();
        let mut resp = HttpResponse::build(status);
        if matches!(
            self,
            AppError::Sso(SsoError::RateLimited | SsoError::TooManyStarts)
        ) {
            resp.insert_header(("Retry-After", "60"));
        }
        resp.content_type("text/html; charset=utf-8")
            .body(views::error::page(status.as_u16(), title, &message).into_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_carries_every_cause_once() {
        let io = std::io::Error::other("disk on fire");
        let e = AppError::Internal(
            anyhow::Error::new(io).context("the token secret could not be read"),
        );
        assert_eq!(
            cause_chain(&e),
            "the token secret could not be read: disk on fire"
        );
        let store = AppError::Store(StoreError::Sqlite(rusqlite::Error::InvalidQuery));
        assert!(
            cause_chain(&store).contains("Query is not read-only"),
            "{}",
            cause_chain(&store)
        );
        assert_eq!(
            AppError::internal("app state missing").to_string(),
            "app state missing"
        );
    }
}
