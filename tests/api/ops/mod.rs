//! Operations: configuration from the environment, logs, probes and methods, the
//! `healthcheck` command, the systemd unit.

mod binary;
mod env_config;
mod healthcheck;
mod logs;
mod metrics;
mod probes;
mod systemd;
