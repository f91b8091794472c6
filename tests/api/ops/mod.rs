//! Operations: configuration from the environment, logs, probes and methods, the
//! `healthcheck` command, the systemd unit, the instance key, backups, the schema guard,
//! start and stop, disaster recovery on Litestream.

mod binary;
mod env_config;
mod healthcheck;
mod instance;
mod litestream;
mod logs;
mod metrics;
mod not_allowed;
mod probes;
mod server_timing;
mod systemd;
