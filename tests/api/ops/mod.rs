//! Operations: configuration from the environment, logs, probes and methods, the
//! `healthcheck` command, the systemd unit, disaster recovery on Litestream.

mod binary;
mod env_config;
mod healthcheck;
mod litestream;
mod logs;
mod probes;
mod systemd;
