//! teamportal: a self-hosted team portal with corporate SSO, shared API tokens and billing.
//!
//! The binary in `main.rs` is a thin shell over [`cli::run`]; tests start the same
//! application in-process through [`app::Application`].
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod access;
pub mod app;
pub mod assets;
pub mod break_glass;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod healthcheck;
pub mod keyguard;
pub mod logging;
pub mod metrics;
pub mod retention;
pub mod scim;
pub mod session;
pub mod sso;
pub mod state;
pub mod store;
pub mod timed;
pub mod tokens;
pub mod views;
pub mod web;
