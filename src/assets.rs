//! Static assets compiled into the binary, served with an ETag and long cache lifetimes
//! (links carry the content hash, so a new release busts the cache).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rust_embed::RustEmbed;

use crate::error::AppError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

fn etags() -> &'static HashMap<String, String> {
    static ETAGS: OnceLock<HashMap<String, String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        Static::iter()
            .filter_map(|name| {
                let file = Static::get(&name)?;
                let tag = URL_SAFE_NO_PAD.encode(&file.metadata.sha256_hash()[..12]);
                Some((name.to_string(), tag))
            })
            .collect()
    })
}

/// `/static/app.css?v=<hash>`; written once per file, as every page links three.
pub fn url(name: &str) -> Cow<'static, str> {
    static URLS: OnceLock<HashMap<String, String>> = OnceLock::new();
    let urls = URLS.get_or_init(|| {
        etags()
            .iter()
            .map(|(name, tag)| (name.clone(), format!("/static/{name}?v={tag}")))
            .collect()
    });
    match urls.get(name) {
        Some(url) => Cow::Borrowed(url),
        None => Cow::Owned(format!("/static/{name}")),
    }
}

pub async fn serve(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let file = Static::get(&name).ok_or(AppError::NotFound)?;
    let etag = format!("\"{}\"", etags().get(&name).cloned().unwrap_or_default());
    let cache = "public, max-age=31536000, immutable";
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type(file.metadata.mimetype())
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(file.data.into_owned()))
}
