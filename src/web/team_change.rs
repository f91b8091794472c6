//! An admin's POST about one thing of their team that the path names by `{id}` (a member on
//! `/team/members/{id}/...`, an invitation on `/team/invites/{id}/cancel`): one extractor for
//! what every such handler needs, checked in the order the page's rules say — the admin
//! first (303 to sign in, 403 for members), then the id (404), then the form's CSRF token.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::store::audit::Actor;

use super::answer::{self, Back};
use super::extract::{Admin, CsrfForm, CurrentUser};

pub struct TeamChange<F> {
    pub admin: CurrentUser,
    /// The `{id}` of the path.
    pub target: i64,
    pub form: F,
    session: Session,
}

impl<F> TeamChange<F> {
    pub fn team(&self) -> String {
        self.admin.team().to_string()
    }

    pub fn actor(&self) -> Actor {
        self.admin.actor()
    }

    /// 303 to `location`, saying `message` once there.
    pub fn done_at(&self, location: &str, message: impl Into<String>) -> HttpResponse {
        answer::done(&self.session, location, message)
    }
}

impl<F: AsRef<Back>> TeamChange<F> {
    /// 303 back to the team list the form came from (its search and page), saying `message`.
    pub fn done(&self, message: impl Into<String>) -> HttpResponse {
        self.done_at(&self.form.as_ref().to("/team"), message)
    }
}

impl<F: DeserializeOwned + 'static> FromRequest for TeamChange<F> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let admin = Admin::from_request(req, payload);
        let target = req.match_info().get("id").and_then(|id| id.parse().ok());
        let form = CsrfForm::<F>::from_request(req, payload);
        let session = req.get_session();
        Box::pin(async move {
            let Admin(admin) = admin.await?;
            let target = target.ok_or(AppError::NotFound)?;
            let CsrfForm(form) = form.await?;
            Ok(TeamChange {
                admin,
                target,
                form,
                session,
            })
        })
    }
}
