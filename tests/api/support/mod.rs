//! Real components the API tests drive: the test identity provider and a headless browser.
pub mod browser;
pub mod idp;
