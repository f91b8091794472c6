//! The integration and end-to-end test suite: one binary (cargo builds it once). Each test
//! starts the real application on a random loopback port.

mod helpers;
mod support;

mod billing;
mod browser;
mod hostile_idp;
mod logout;
mod ops;
mod pages;
mod scim;
mod settings;
mod shell;
mod sso_e2e;
mod team;
mod tokens;
mod trust;
mod web_basics;
