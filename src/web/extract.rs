//! Extractors that put identity and intent into handler signatures: [`CurrentUser`] for
//! any signed-in member ([`SignedIn`] when the page loads its data with the user), [`Admin`]
//! built on it, [`CsrfForm`] for every POST form of a signed-in page and [`AnonCsrfForm`]
//! for the sign-in forms, [`Query`] for a page's query and [`LateQuery`] for a query read only
//! once the sign-in is confirmed.

use std::future::{ready, Future, Ready};
use std::net::IpAddr;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{web, FromRequest, HttpRequest};
use rusqlite::Connection;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::AppError;
use crate::session::TypedSession;
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::users::{self, User};
use crate::store::{Memo, StoreError};
use crate::views::Chrome;

use super::client_ip::client_ip;

/// The signed-in user, loaded from the store on every request so role changes and removals
/// take effect at once.
pub struct CurrentUser {
    pub user: User,
    pub team_name: String,
    pub csrf: String,
    pub break_glass: bool,
    /// Formatted only for an action's audit row: most requests are pages, which never show it.
    pub ip: IpAddr,
    /// What the last action did, taken from the session: said once, on this page.
    pub flash: Option<String>,
}

impl CurrentUser {
    pub fn team(&self) -> &str {
        &self.user.team_id
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            label: self.user.email.clone(),
            ip: self.ip.to_string(),
        }
    }

    pub fn chrome<'a>(&'a self, current: &'a str) -> Chrome<'a> {
        Chrome {
            team_name: &self.team_name,
            user_name: self.user.display_name(),
            user_email: &self.user.email,
            is_admin: self.user.is_admin(),
            csrf: &self.csrf,
            current,
            break_glass: self.break_glass,
            flash: self.flash.as_deref(),
            refusal: None,
        }
    }
}

/// Who the session says is signed in, not yet confirmed by the store. [`SignedIn::load_with`]
/// confirms it in the same trip to the store as the page's own data, so a signed-in page
/// costs one trip (the session's state is usually cached); handlers with no data to read
/// take [`CurrentUser`].
pub struct SignedIn {
    uid: i64,
    row: Vec<u8>,
    session: Session,
    state: web::Data<AppState>,
    ip: IpAddr,
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let signed_in = || {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::internal("app state missing"))?
                .clone();
            let session = req.get_session();
            let typed = TypedSession(&session);
            let (uid, row) = typed.user_id().zip(typed.row()).ok_or_else(|| {
                match super::return_to::wanted(req) {
                    Some(to) => AppError::SignInToReach {
                        to,
                        https: state.settings.server.is_https(),
                    },
                    None => AppError::SignInRequired,
                }
            })?;
            // A tenth of the idle timeout: the cookie outlives any pause shorter than 90% of it.
            typed.keep_alive((state.settings.security.session_idle.whole_seconds() / 10).max(1));
            let ip = client_ip(req, &state.settings.server.trusted_proxies);
            Ok(SignedIn {
                uid,
                row,
                session,
                state,
                ip,
            })
        };
        ready(signed_in())
    }
}

impl SignedIn {
    /// Confirms the session (its row is live: a revoked one stops here even when the session
    /// middleware had it cached) and loads the user (who must still exist and be active:
    /// removal takes effect at once); then, in the same read transaction, runs `f` for what
    /// the page shows them.
    pub async fn load_with<T, F>(mut self, f: F) -> Result<(CurrentUser, T), AppError>
    where
        F: FnOnce(&Connection, &User) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (uid, row) = (self.uid, std::mem::take(&mut self.row));
        let loaded = self
            .state
            .store
            .read(move |c| -> Result<_, StoreError> {
                let Some((user, break_glass)) = users::for_live_session(c, uid, &row)? else {
                    return Ok(None);
                };
                let data = f(c, &user)?;
                Ok(Some((user, break_glass, data)))
            })
            .await?;
        self.finish(loaded)
    }

    /// [`SignedIn::load_with`] on this thread when it can be (`Store::read_inline`): the
    /// session is confirmed and `quick` runs there; `quick` answers `None` when what the page
    /// needs is not a short read this time (not cached, a search), and then the whole load is
    /// done as `load_with(slow)` in the blocking pool. So is it when the store would wait.
    /// Inline, the session's read and `quick`'s may come from the connection's memo, which
    /// holds them only while the database is unchanged (`store::memo`).
    pub async fn load_quick_or<T, Q, F>(
        self,
        quick: Q,
        slow: F,
    ) -> Result<(CurrentUser, T), AppError>
    where
        Q: FnOnce(&Connection, &Memo, &User) -> Result<Option<T>, StoreError>,
        F: FnOnce(&Connection, &User) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (uid, row) = (self.uid, &self.row);
        let inline = self.state.store.read_inline(|c, memo| {
            let Some((user, break_glass)) = users::for_live_session_remembered(c, memo, uid, row)?
            else {
                return Ok(Some(None));
            };
            Ok(quick(c, memo, &user)?.map(|data| Some((user, break_glass, data))))
        });
        match inline {
            Some(Ok(Some(loaded))) => self.finish(loaded),
            Some(Err(e)) => Err(e.into()),
            None | Some(Ok(None)) => self.load_with(slow).await,
        }
    }

    /// The session confirmed and the user loaded, with nothing else to read.
    pub async fn confirm(self) -> Result<CurrentUser, AppError> {
        let nothing_else = |_: &Connection, _: &User| Ok(());
        Ok(self
            .load_quick_or(|c, _, u| nothing_else(c, u).map(Some), nothing_else)
            .await?
            .0)
    }

    /// The confirmed user's page context, or the sign-in page when the store no longer has
    /// the session or the user (the session is ended here too).
    fn finish<T>(self, loaded: Option<(User, bool, T)>) -> Result<(CurrentUser, T), AppError> {
        let typed = TypedSession(&self.session);
        let Some((user, break_glass, data)) = loaded else {
            typed.sign_out();
            return Err(AppError::SignInRequired);
        };
        let team_name = self
            .state
            .sso
            .get(&user.team_id)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| user.team_id.clone());
        let me = CurrentUser {
            csrf: typed.csrf_token(),
            user,
            team_name,
            break_glass,
            ip: self.ip,
            flash: typed.take_flash(),
        };
        Ok((me, data))
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move { signed_in.await?.confirm().await })
    }
}

/// A signed-in admin of their team; members get 403 before the handler runs.
pub struct Admin(pub CurrentUser);

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let current = CurrentUser::from_request(req, payload);
        Box::pin(async move { admin_only(current.await?) })
    }
}

/// The one check an [`Admin`] adds to a [`CurrentUser`]: the role, as stored now.
fn admin_only(current: CurrentUser) -> Result<Admin, AppError> {
    if current.user.is_admin() {
        Ok(Admin(current))
    } else {
        Err(AppError::Forbidden(
            "Only team admins may open this page or do this.",
        ))
    }
}

/// A query string whose mistake is told only when the handler asks, after the extractors
/// before it passed: actix answers with whichever extractor fails first, and a plain
/// `web::Query` fails at once, so a member's malformed `?page=` on an admin page would get
/// 400 where every other request of theirs gets 403.
pub struct LateQuery<T>(Result<T, String>);

impl<T> LateQuery<T> {
    /// The query, or the 400 its mistake answers.
    pub fn checked(self) -> Result<T, AppError> {
        self.0.map_err(AppError::BadRequest)
    }
}

impl<T: DeserializeOwned> FromRequest for LateQuery<T> {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(LateQuery(parse_query(req.query_string()))))
    }
}

/// A page's query, as `web::Query` but refusing text that is not UTF-8 once percent-decoded
/// (serde_urlencoded would search for, or show, U+FFFD instead). It fails before the other
/// extractors finish: beside one that still asks the store who is signed in, take
/// [`LateQuery`].
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(
            parse_query(req.query_string())
                .map(Query)
                .map_err(AppError::BadRequest),
        )
    }
}

fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    if !is_utf8_form(query.as_bytes()) {
        return Err("The address is not valid: it holds text that is not UTF-8.".into());
    }
    serde_urlencoded::from_str(query).map_err(|e| format!("The address is not valid: {e}."))
}

#[derive(Deserialize)]
struct CsrfField {
    csrf_token: Option<String>,
}

/// A urlencoded form whose `csrf_token` field matched the session's token. The token is
/// checked before the form is parsed, so a forged request learns nothing.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        checked_form(req, payload, |req, token| {
            TypedSession(&req.get_session()).csrf_matches(token)
        })
    }
}

/// A urlencoded form of a page for visitors who are not signed in (the sign-in forms): its
/// `csrf_token` must equal the browser's signed CSRF cookie (signed double submit), so the
/// form needs no session. Checked before the form is parsed, as for [`CsrfForm`].
pub struct AnonCsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for AnonCsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let fut = checked_form(req, payload, |req, token| {
            req.app_data::<web::Data<AppState>>()
                .is_some_and(|s| s.browser_cookies.csrf_matches(req, token))
        });
        Box::pin(async move { fut.await.map(|CsrfForm(t)| AnonCsrfForm(t)) })
    }
}

/// Every name and value of a urlencoded body or query is UTF-8 once percent-decoded.
pub(super) fn is_utf8_form(body: &[u8]) -> bool {
    body.split(|&b| b == b'&')
        .all(|pair| percent_encoding::percent_decode(pair).decode_utf8().is_ok())
}

fn checked_form<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
    token_ok: fn(&HttpRequest, &str) -> bool,
) -> Pin<Box<dyn Future<Output = Result<CsrfForm<T>, AppError>>>> {
    let req = req.clone();
    let body = web::Bytes::from_request(&req, payload);
    Box::pin(async move {
        let body = body.await.map_err(|e| {
            if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
            {
                AppError::TooLarge
            } else {
                AppError::BadRequest("The form could not be read.".into())
            }
        })?;
        let field: CsrfField =
            serde_urlencoded::from_bytes(&body).unwrap_or(CsrfField { csrf_token: None });
        if !token_ok(&req, field.csrf_token.as_deref().unwrap_or_default()) {
            return Err(AppError::Csrf);
        }
        // serde_urlencoded would turn bytes that are not UTF-8 into U+FFFD and store them.
        if !is_utf8_form(&body) {
            return Err(AppError::BadRequest(
                "The form is not valid: it holds text that is not UTF-8.".into(),
            ));
        }
        serde_urlencoded::from_bytes::<T>(&body)
            .map(CsrfForm)
            .map_err(|e| AppError::BadRequest(format!("The form is not valid: {e}.")))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_form_with_bytes_that_are_not_utf8_is_told_apart() {
        assert!(super::is_utf8_form(
            b"csrf_token=x&name=Zo%C3%AB+and+%E2%9C%93"
        ));
        assert!(super::is_utf8_form(b"q=%ZZ&empty="));
        assert!(!super::is_utf8_form(b"csrf_token=x&name=%ff%fe"));
        assert!(!super::is_utf8_form(b"name=\xff"));
        assert!(!super::is_utf8_form(b"%C3=x"));
    }
}
