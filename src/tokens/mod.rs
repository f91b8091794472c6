//! API tokens outside the store: issuing secrets ([`issue`]), the in-memory verification
//! index ([`index`]), the usage meter ([`meter`]) and the thread that flushes it
//! ([`flush`]). The forward-auth handler itself is `web::api`.

pub mod flush;
pub mod index;
pub mod issue;
pub mod meter;

pub use issue::{issue, sealed_context, unseal, Issued, Request};
