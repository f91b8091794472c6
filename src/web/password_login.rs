//! Break-glass password sign-in (`POST /login/password`), off unless
//! `[security] password_login = true`. A refusal is the sign-in page again with this form
//! open.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::{Email, TeamId};
use crate::error::{AppError, Result};
use crate::metrics::SignInOutcome;
use crate::session::TypedSession;
use crate::state::AppState;
use crate::views;
use crate::views::login::PasswordField;

use super::client_ip::client_ip;
use super::extract::AnonCsrfForm;
use super::login::{login_form_page, see_other, LoginForm};

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Break-glass sign-in for admins given a password from the shell; off unless
/// `[security] password_login = true`.
pub async fn login_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: AnonCsrfForm<PasswordForm>,
) -> Result<HttpResponse> {
    if !state.settings.security.password_login {
        return Err(AppError::NotFound);
    }
    let ip = client_ip(&req, &state.settings.server.trusted_proxies);
    let f = form.0;
    // A refusal is the form again: the Team ID and email kept (no longer than an email can
    // be), never the password.
    let clip = |s: &str| s.chars().take(320).collect::<String>();
    let (typed_team, typed_email) = (clip(&f.team_id), clip(&f.email));
    let refuse = |field, error: &str, status| {
        let password = views::login::PasswordRefused {
            team_id: &typed_team,
            email: &typed_email,
            refusal: views::form::Refusal { field, error },
        };
        let form = LoginForm {
            status,
            value: "",
            error: None,
            return_to: None,
            password: Some(password),
        };
        login_form_page(&req, &state, form, false, None)
    };
    // Checked before anything is counted or audited: what is typed here is stored.
    let team = match TeamId::parse(&f.team_id.trim().to_ascii_lowercase()) {
        Ok(team) => team,
        Err(rule) => {
            let why = format!("The Team ID is not valid: {rule}.");
            return Ok(refuse(PasswordField::TeamId, &why, StatusCode::BAD_REQUEST));
        }
    };
    let Some(email) = Email::parse(&f.email) else {
        let why = "The email does not look like an email address.";
        return Ok(refuse(PasswordField::Email, why, StatusCode::BAD_REQUEST));
    };
    let (team, email) = (team.as_str(), email.as_str());
    let outcome = crate::break_glass::attempt(&state.store, team, email, f.password, ip).await?;
    if let crate::break_glass::Outcome::Throttled = outcome {
        super::audit::record_refusal(
            &state,
            team,
            ip,
            email,
            crate::domain::AuditAction::PasswordSignInThrottled,
            email,
            "",
        )
        .await;
    }
    super::callback::count_sign_in(
        &state,
        match outcome {
            crate::break_glass::Outcome::SignedIn(_) => SignInOutcome::Ok,
            _ => SignInOutcome::Refused,
        },
    );
    match outcome {
        crate::break_glass::Outcome::SignedIn(user_id) => {
            TypedSession(&session)
                .sign_in(user_id, &super::sessions::origin(&req, &state, None, None));
            Ok(see_other("/team"))
        }
        crate::break_glass::Outcome::Refused => Ok(refuse(
            PasswordField::Password,
            "The Team ID, email or password is not right.",
            StatusCode::FORBIDDEN,
        )),
        crate::break_glass::Outcome::Throttled => {
            let mut page = refuse(
                PasswordField::Password,
                "Too many sign-in attempts came from your address. Wait a minute and try again.",
                StatusCode::TOO_MANY_REQUESTS,
            );
            page.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("60"),
            );
            Ok(page)
        }
    }
}
