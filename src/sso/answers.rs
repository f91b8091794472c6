//! Reading an IdP's answers: its status as the error a person should see, bodies bounded to
//! [`MAX_BODY`], and URLs without their queries for logs and admins' pages.

use url::Url;

use super::SsoError;

/// A URL as it may appear in a log line or an admin's page: without its query.
pub fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// Maps an IdP's HTTP status to the error a person should see.
pub fn check_status(resp: reqwest::Response) -> Result<reqwest::Response, SsoError> {
    let status = resp.status();
    if status.is_success() {
        Ok(resp)
    } else if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(SsoError::RateLimited)
    } else if status.is_server_error() {
        Err(SsoError::Unavailable(format!(
            "{} answered {status}",
            without_query(resp.url())
        )))
    } else {
        Err(SsoError::misconfigured(
            "the identity provider refused a request from teamportal",
            format!("{} answered {status}", without_query(resp.url())),
        ))
    }
}

/// The most an IdP answer may weigh; a hostile IdP cannot exhaust memory.
pub const MAX_BODY: usize = 1024 * 1024;

const TOO_LARGE: &str = "the identity provider's answer is too large";

/// Reads a response body of at most [`MAX_BODY`] bytes, chunk by chunk, stopping at the
/// limit (a declared length over it is refused before reading).
pub async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, SsoError> {
    let url = without_query(resp.url());
    let too_large = || SsoError::misconfigured(TOO_LARGE, format!("{url} sent more than 1 MiB"));
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(SsoError::from_transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and parses a JSON answer of bounded size.
pub async fn json_limited<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &'static str,
) -> Result<T, SsoError> {
    let url = without_query(resp.url());
    let body = read_limited(resp).await?;
    serde_json::from_slice(&body).map_err(|e| {
        SsoError::misconfigured(
            "the identity provider's answer could not be read",
            format!("the {what} at {url} is not the expected JSON: {e}"),
        )
    })
}
